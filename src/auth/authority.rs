//! The authority: checks SMART Backend Services client assertions and issues access tokens
//! (signed by the service's own key), and verifies the access tokens every request carries,
//! ours or an external identity provider's. Time comes from the injected clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jwks::JwksCache;
use super::keys::{key_fits, PrivateKey};
use super::registry::{Client, RegistryHandle};
use super::scopes::ScopeSet;
use super::{AuthFailure, OAuthError, Principal};
use crate::clock::Clock;
use crate::store::PlanStore;

/// The client assertion type SMART Backend Services uses.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How far ahead a client assertion may expire (SMART: no more than five minutes).
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated between the client and us.
const SKEW_SECS: i64 = 30;

/// An identity provider whose tokens are accepted beside our own.
#[derive(Debug, Clone)]
pub struct ExternalIssuer {
    /// Its `iss`.
    pub issuer: String,
    /// The `aud` its tokens must carry for us.
    pub audience: String,
    /// Where its public keys are.
    pub jwks_uri: String,
}

/// How the authority is set up.
pub struct AuthSettings {
    /// The service's public base URL (issuer of our tokens; the token URL is under it).
    pub public_url: String,
    /// Our signing keys: the first signs, all verify (rotation).
    pub signing_keys: Vec<PrivateKey>,
    /// The client registry.
    pub registry: RegistryHandle,
    /// Lifetime of the access tokens we issue.
    pub token_lifetime_secs: i64,
    /// An external identity provider, if any.
    pub external: Option<ExternalIssuer>,
    /// How long fetched key sets are kept.
    pub jwks_cache_lifetime: Duration,
}

/// What we put in an access token.
#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    jti: String,
    scope: String,
    client_id: String,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The token.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// What was granted.
    pub scope: String,
}

/// The token endpoint's form.
#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: Option<String>,
    /// The requested scopes, space-separated.
    pub scope: Option<String>,
    /// Must be [`ASSERTION_TYPE`].
    pub client_assertion_type: Option<String>,
    /// The signed JWT.
    pub client_assertion: Option<String>,
}

/// The authority.
pub struct Authority {
    settings: AuthSettings,
    own_keys: HashMap<String, Jwk>,
    jwks: JwksCache,
    verified: VerifiedTokens,
    store: Arc<dyn PlanStore>,
    clock: Arc<dyn Clock>,
}

/// What a token whose signature, issuer and audience verified says.
#[derive(Debug)]
struct VerifiedToken {
    /// Issued by this service (else by the external provider).
    own: bool,
    client_id: String,
    scopes: ScopeSet,
    exp: i64,
    nbf: Option<i64>,
}

/// Most tokens [`VerifiedTokens`] keeps.
const VERIFIED_TOKENS_KEPT: usize = 10_000;

/// Tokens already verified, by the SHA-256 of the token (the token itself is not kept), each
/// usable until its `exp` (an external provider's: at most as long as its key set is cached).
/// Checking an ES384 signature costs far more than the rest of a small request; a client sends
/// the same token for its lifetime, so each is checked once. Bounded: when full, the expired
/// entries go, and if that is not enough, all of them.
#[derive(Default)]
struct VerifiedTokens {
    entries: Mutex<HashMap<Vec<u8>, Remembered>>,
}

/// A verified token and the Unix time until which it may be used without a new check.
type Remembered = (Arc<VerifiedToken>, i64);

impl VerifiedTokens {
    fn get(&self, digest: &[u8], now: i64) -> Option<Arc<VerifiedToken>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(digest)
            .filter(|(_, usable_until)| *usable_until > now)
            .map(|(token, _)| token.clone())
    }

    fn insert(&self, digest: &[u8], token: Arc<VerifiedToken>, usable_until: i64, now: i64) {
        if usable_until <= now {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= VERIFIED_TOKENS_KEPT {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= VERIFIED_TOKENS_KEPT {
                entries.clear();
            }
        }
        entries.insert(digest.to_vec(), (token, usable_until));
    }
}

/// The unverified payload of a JWT, to find who claims to have signed it.
fn peek_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn string_claim<'a>(claims: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// Whether an external provider's key may verify `algorithm`.
fn external_key_fits(jwk: &Jwk, algorithm: Algorithm) -> bool {
    match (&jwk.algorithm, algorithm) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(_), Algorithm::ES384) => key_fits(jwk, algorithm),
        _ => false,
    }
}

/// Keys of `set` that may verify a token with `kid` and `algorithm`.
fn candidates<'a>(
    set: &'a JwkSet,
    kid: Option<&str>,
    algorithm: Algorithm,
    fits: fn(&Jwk, Algorithm) -> bool,
) -> Vec<&'a Jwk> {
    set.keys
        .iter()
        .filter(|k| kid.is_none_or(|kid| k.common.key_id.as_deref() == Some(kid)))
        .filter(|k| fits(k, algorithm))
        .collect()
}

/// Verifies `token` against each candidate key; the claims of the first that verifies.
fn verify_with<T: serde::de::DeserializeOwned>(
    token: &str,
    keys: &[&Jwk],
    validation: &Validation,
) -> Option<T> {
    keys.iter().find_map(|jwk| {
        let key = DecodingKey::from_jwk(jwk).ok()?;
        jsonwebtoken::decode::<T>(token, &key, validation)
            .ok()
            .map(|data| data.claims)
    })
}

fn validation(algorithm: Algorithm, audience: &str, issuer: &str) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    // Time is checked against our clock below, not the library's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    validation
}

impl Authority {
    /// An authority over `settings`; `store` remembers assertion ids (replay) across instances.
    pub fn new(
        settings: AuthSettings,
        store: Arc<dyn PlanStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        if settings.signing_keys.is_empty() {
            return Err("no signing key".into());
        }
        let own_keys = settings
            .signing_keys
            .iter()
            .map(|k| (k.kid().to_owned(), k.public_jwk().clone()))
            .collect();
        let jwks = JwksCache::new(settings.jwks_cache_lifetime);
        Ok(Self {
            settings,
            own_keys,
            jwks,
            verified: VerifiedTokens::default(),
            store,
            clock,
        })
    }

    /// The issuer of our tokens (the public base URL).
    pub fn issuer(&self) -> &str {
        &self.settings.public_url
    }

    /// The token endpoint's URL: the `aud` client assertions must carry.
    pub fn token_url(&self) -> String {
        format!("{}/auth/token", self.settings.public_url)
    }

    /// The client registry.
    pub fn registry(&self) -> &RegistryHandle {
        &self.settings.registry
    }

    /// Our public keys, every one that verifies (the signing key first).
    pub fn public_keys(&self) -> JwkSet {
        JwkSet {
            keys: self
                .settings
                .signing_keys
                .iter()
                .map(|k| k.public_jwk().clone())
                .collect(),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Signs an access token for `client` with `scopes`, valid for `lifetime_secs`.
    pub fn issue_for(
        &self,
        client_id: &str,
        scopes: &ScopeSet,
        lifetime_secs: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let key = self
            .settings
            .signing_keys
            .first()
            .ok_or_else(|| OAuthError::server("no signing key"))?;
        let now = self.now().timestamp();
        let claims = AccessClaims {
            iss: self.settings.public_url.clone(),
            sub: client_id.to_owned(),
            aud: self.settings.public_url.clone(),
            exp: now + lifetime_secs,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            scope: scopes.to_string(),
            client_id: client_id.to_owned(),
        };
        let mut header = Header::new(key.algorithm());
        header.kid = Some(key.kid().to_owned());
        let access_token = jsonwebtoken::encode(&header, &claims, key.encoding_key())
            .map_err(|_| OAuthError::server("signing failed"))?;
        Ok(TokenResponse {
            access_token,
            token_type: "bearer",
            expires_in: lifetime_secs,
            scope: claims.scope,
        })
    }

    async fn client_keys(
        &self,
        client: &Client,
        kid: Option<&str>,
    ) -> Result<Arc<JwkSet>, OAuthError> {
        match (&client.registration.jwks, &client.registration.jwks_uri) {
            (Some(set), _) => Ok(Arc::new(set.clone())),
            (None, Some(uri)) => self
                .jwks
                .get(uri, kid)
                .await
                .map_err(|reason| OAuthError::invalid_client(&format!("client keys: {reason}"))),
            (None, None) => Err(OAuthError::invalid_client("the client has no keys")),
        }
    }

    /// The token endpoint: checks the client assertion and issues a token
    /// (SMART Backend Services; RFC 7523).
    pub async fn exchange(&self, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        if request.grant_type.as_deref() != Some("client_credentials") {
            return Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                "grant_type must be client_credentials",
            ));
        }
        if request.client_assertion_type.as_deref() != Some(ASSERTION_TYPE) {
            return Err(OAuthError::invalid_request(&format!(
                "client_assertion_type must be {ASSERTION_TYPE}"
            )));
        }
        let assertion = request
            .client_assertion
            .as_deref()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("client_assertion is required"))?;
        let requested = request
            .scope
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| OAuthError::invalid_request("scope is required"))?;
        let requested = ScopeSet::parse(requested)
            .map_err(|e| OAuthError::new(400, "invalid_scope", &e.to_string()))?;

        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|_| OAuthError::invalid_client("the client assertion is not a JWT"))?;
        if !matches!(header.alg, Algorithm::RS384 | Algorithm::ES384) {
            return Err(OAuthError::invalid_client(
                "the client assertion must be signed with RS384 or ES384",
            ));
        }
        let peeked = peek_claims(assertion)
            .ok_or_else(|| OAuthError::invalid_client("the client assertion is not a JWT"))?;
        let client_id = string_claim(&peeked, "iss")
            .ok_or_else(|| OAuthError::invalid_client("the client assertion has no iss"))?;
        let client = self
            .settings
            .registry
            .current(true)
            .get(client_id)
            .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
        let keys = self.client_keys(&client, header.kid.as_deref()).await?;
        let usable = candidates(&keys, header.kid.as_deref(), header.alg, key_fits);
        let mut rules = validation(header.alg, &self.token_url(), client_id);
        rules.sub = Some(client_id.to_owned());
        let claims: serde_json::Map<String, Value> = verify_with(assertion, &usable, &rules)
            .ok_or_else(|| {
                OAuthError::invalid_client(
                    "the client assertion does not verify: signature, iss = sub = client id and \
                     aud = the token URL are required",
                )
            })?;

        let now = self.now();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| OAuthError::invalid_client("the client assertion has no exp"))?;
        if exp <= now.timestamp() - SKEW_SECS {
            return Err(OAuthError::invalid_client(
                "the client assertion has expired",
            ));
        }
        if exp > now.timestamp() + MAX_ASSERTION_LIFETIME_SECS + SKEW_SECS {
            return Err(OAuthError::invalid_client(
                "the client assertion's exp is more than five minutes ahead",
            ));
        }
        let jti = string_claim(&claims, "jti")
            .filter(|j| (1..=256).contains(&j.len()))
            .ok_or_else(|| OAuthError::invalid_client("the client assertion needs a jti"))?;
        let expires = DateTime::<Utc>::from_timestamp(exp, 0).ok_or_else(|| {
            OAuthError::invalid_client("the client assertion's exp is not a time")
        })?;
        let first_use = self
            .store
            .remember_assertion(client_id, jti, expires, now)
            .await
            .map_err(|_| OAuthError::unavailable())?;
        if !first_use {
            return Err(OAuthError::invalid_client(
                "this client assertion has been used before (jti replay)",
            ));
        }

        let granted = requested.intersect(&client.scopes);
        if granted.is_empty() {
            return Err(OAuthError::new(
                400,
                "invalid_scope",
                "none of the requested scopes is registered for this client",
            ));
        }
        self.issue_for(client_id, &granted, self.settings.token_lifetime_secs)
    }

    /// Verifies an access token (ours or the external provider's) and says who holds it.
    ///
    /// A token's signature, issuer and audience are checked once and the outcome is kept (see
    /// [`VerifiedTokens`]); its expiry, `nbf` and the client's registration are checked on every
    /// call, so a token that expires or whose client is removed is refused at once.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthFailure> {
        let now = self.now().timestamp();
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let verified = match self.verified.get(digest.as_ref(), now) {
            Some(verified) => verified,
            None => {
                let verified = Arc::new(self.verify_signature(token).await?);
                let usable_until = if verified.own {
                    verified.exp
                } else {
                    // An external provider may withdraw a key: trust a verification no longer
                    // than its key set is cached.
                    let lifetime =
                        i64::try_from(self.settings.jwks_cache_lifetime.as_secs()).unwrap_or(0);
                    verified.exp.min(now.saturating_add(lifetime))
                };
                self.verified
                    .insert(digest.as_ref(), verified.clone(), usable_until, now);
                verified
            }
        };
        if verified.exp <= now {
            return Err(AuthFailure::Expired);
        }
        if let Some(nbf) = verified.nbf {
            if nbf > now + SKEW_SECS {
                return Err(AuthFailure::Invalid("not valid yet"));
            }
        }
        let registry = self.settings.registry.current(false);
        let client = registry.get(&verified.client_id);
        if client.is_none() && verified.own {
            // A client removed from the registry loses its tokens at once.
            return Err(AuthFailure::Invalid("the client is no longer registered"));
        }
        Ok(Principal::new(
            verified.client_id.clone(),
            client.as_deref(),
            verified.scopes.clone(),
        ))
    }

    /// Checks a token's signature, issuer and audience, and reads what it grants.
    async fn verify_signature(&self, token: &str) -> Result<VerifiedToken, AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::Malformed)?;
        let peeked = peek_claims(token).ok_or(AuthFailure::Malformed)?;
        let issuer = string_claim(&peeked, "iss").ok_or(AuthFailure::Invalid("no issuer"))?;
        let kid = header.kid.as_deref();
        let own = issuer == self.settings.public_url;
        let claims: serde_json::Map<String, Value> = if own {
            let keys: Vec<&Jwk> = match kid.and_then(|kid| self.own_keys.get(kid)) {
                Some(jwk) if key_fits(jwk, header.alg) => vec![jwk],
                _ => return Err(AuthFailure::Invalid("not signed by a key of this service")),
            };
            let rules = validation(header.alg, &self.settings.public_url, issuer);
            verify_with(token, &keys, &rules).ok_or(AuthFailure::Invalid(
                "the signature, audience or issuer is wrong",
            ))?
        } else if let Some(external) = self
            .settings
            .external
            .as_ref()
            .filter(|e| e.issuer == issuer)
        {
            let set = self
                .jwks
                .get(&external.jwks_uri, kid)
                .await
                .map_err(|_| AuthFailure::Unverifiable)?;
            let keys = candidates(&set, kid, header.alg, external_key_fits);
            let rules = validation(header.alg, &external.audience, &external.issuer);
            verify_with(token, &keys, &rules).ok_or(AuthFailure::Invalid(
                "the signature, audience or issuer is wrong",
            ))?
        } else {
            return Err(AuthFailure::Invalid("the issuer is not trusted here"));
        };

        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(AuthFailure::Invalid("no exp"))?;
        let nbf = claims.get("nbf").and_then(Value::as_i64);
        let client_id = ["client_id", "azp", "sub"]
            .iter()
            .find_map(|name| string_claim(&claims, name))
            .ok_or(AuthFailure::Invalid("no client id"))?
            .to_owned();
        let scopes = match claims.get("scope").or_else(|| claims.get("scp")) {
            Some(Value::String(text)) => ScopeSet::parse_lenient(text),
            Some(Value::Array(items)) => ScopeSet::parse_lenient(
                &items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => ScopeSet::default(),
        };
        Ok(VerifiedToken {
            own,
            client_id,
            scopes,
            exp,
            nbf,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::auth::Registry;

    /// A clock the test moves.
    struct MovableClock(Mutex<DateTime<Utc>>);

    impl Clock for MovableClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    #[tokio::test]
    async fn a_token_verified_once_is_still_refused_once_it_expires() {
        let start: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().unwrap();
        let clock = Arc::new(MovableClock(Mutex::new(start)));
        let scopes = ScopeSet::parse("system/*.rs").unwrap();
        let mut registry = Registry::default();
        registry.insert(Client {
            registration: crate::auth::ClientRegistration {
                id: "cad".into(),
                name: "CAD".into(),
                organisation: "Y09870".into(),
                scopes: vec!["system/*.rs".into()],
                jwks: None,
                jwks_uri: None,
                emergency_override: false,
                trusted_user_headers: false,
                rate_limit_per_second: None,
            },
            scopes: scopes.clone(),
        });
        let settings = AuthSettings {
            public_url: "http://acp.test".into(),
            signing_keys: vec![PrivateKey::generate_es384().unwrap()],
            registry: RegistryHandle::fixed(registry),
            token_lifetime_secs: 60,
            external: None,
            jwks_cache_lifetime: Duration::from_secs(300),
        };
        let store = crate::store::connect("sqlite::memory:").await.unwrap();
        let authority = Authority::new(settings, store, clock.clone()).unwrap();
        let token = authority
            .issue_for("cad", &scopes, 60)
            .unwrap()
            .access_token;
        let stranger = authority
            .issue_for("stranger", &scopes, 60)
            .unwrap()
            .access_token;
        // Verified the first time, remembered the second: the same answer.
        for _ in 0..2 {
            let principal = authority.verify(&token).await.unwrap();
            assert_eq!(principal.client_id, "cad");
            assert_eq!(principal.scopes, scopes);
            // A client of ours that is not registered is refused, cached or not.
            assert!(matches!(
                authority.verify(&stranger).await,
                Err(AuthFailure::Invalid(_))
            ));
        }
        *clock.0.lock().unwrap() = start + chrono::Duration::seconds(61);
        assert_eq!(
            authority.verify(&token).await.unwrap_err(),
            AuthFailure::Expired
        );
        let mut tampered = token.clone();
        tampered.push('x');
        assert!(authority.verify(&tampered).await.is_err());
    }
}
