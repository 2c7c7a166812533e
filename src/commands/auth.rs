//! The authorisation jobs: build the authority `serve` runs with (keys, registry, external
//! provider, the demo client), `clients add`, `token` and `keygen`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use serde_json::json;

use crate::auth::registry::{read_file, write_file};
use crate::auth::{
    AuthSettings, Authority, Client, ClientRegistration, ExternalIssuer, PrivateKey, Registry,
    RegistryFile, RegistryHandle, ScopeSet,
};
use crate::clock::{Clock, SystemClock};
use crate::config::{ClientsAddArgs, KeygenArgs, ServeArgs, TokenArgs};
use crate::store::PlanStore;

/// The demo client's id.
pub const DEMO_CLIENT: &str = "demo";
/// What the demo client may read: every clinical type, and the audit trail.
pub const DEMO_SCOPES: &str = "system/*.rs system/AuditEvent.rs";
/// The demo's writer, for the README's write examples.
pub const DEMO_WRITER: &str = "demo-writer";
/// What the demo writer may do.
pub const DEMO_WRITER_SCOPES: &str = "system/*.cruds";
/// How long the token `serve --demo` prints lasts (a local demo, on a key made at start).
const DEMO_TOKEN_SECS: i64 = 8 * 3600;

/// What `serve --demo` tells the user about its client.
pub struct DemoClient {
    /// Where its private key was written.
    pub key_path: PathBuf,
    /// Where the demo writer's private key was written.
    pub writer_key_path: PathBuf,
    /// A token for it.
    pub token: String,
}

/// Writes a private key readable by its owner only; refuses to overwrite.
fn write_private_key(path: &Path, pem: &str) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(pem.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read_key(path: &Path) -> Result<PrivateKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the key {}: {e}", path.display()))?;
    PrivateKey::from_pem(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The base URL clients reach the service at.
pub fn public_url(args: &ServeArgs, address: SocketAddr) -> String {
    if let Some(url) = &args.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let host = if address.ip().is_unspecified() {
        SocketAddr::new([127, 0, 0, 1].into(), address.port())
    } else {
        address
    };
    format!("{scheme}://{host}")
}

/// The authority `serve` runs with, and the demo client if it registered one.
pub fn build_authority(
    args: &ServeArgs,
    address: SocketAddr,
    store: Arc<dyn PlanStore>,
) -> Result<(Arc<Authority>, Option<DemoClient>), String> {
    let mut signing_keys = args
        .signing_keys
        .iter()
        .map(|path| read_key(path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("ACP_AUTH_SIGNING_KEYS: {e}"))?;
    if signing_keys.is_empty() {
        tracing::warn!(
            "no ACP_AUTH_SIGNING_KEYS: signing tokens with a key made at start; tokens will not \
             survive a restart or be accepted by other instances"
        );
        signing_keys.push(PrivateKey::generate_es384().map_err(|e| e.to_string())?);
    }
    let mut demo_key = None;
    let registry = match (&args.clients, args.demo) {
        (Some(path), _) => {
            RegistryHandle::open(path).map_err(|e| format!("ACP_AUTH_CLIENTS: {e}"))?
        }
        (None, true) => {
            let key = PrivateKey::generate_es384().map_err(|e| e.to_string())?;
            let writer = PrivateKey::generate_es384().map_err(|e| e.to_string())?;
            let mut registry = Registry::default();
            registry.insert(demo_client(DEMO_CLIENT, "Demo reader", DEMO_SCOPES, &key)?);
            registry.insert(demo_client(
                DEMO_WRITER,
                "Demo writer",
                DEMO_WRITER_SCOPES,
                &writer,
            )?);
            demo_key = Some((key, writer));
            RegistryHandle::fixed(registry)
        }
        (None, false) => {
            tracing::warn!("no ACP_AUTH_CLIENTS: no client can obtain a token from this service");
            RegistryHandle::fixed(Registry::default())
        }
    };
    let external = match (
        &args.external_issuer,
        &args.external_audience,
        &args.external_jwks_uri,
    ) {
        (Some(issuer), Some(audience), Some(jwks_uri)) => Some(ExternalIssuer {
            issuer: issuer.clone(),
            audience: audience.clone(),
            jwks_uri: jwks_uri.clone(),
        }),
        _ => None,
    };
    let settings = AuthSettings {
        public_url: public_url(args, address),
        signing_keys,
        registry,
        token_lifetime_secs: args.token_lifetime,
        external,
        jwks_cache_lifetime: Duration::from_secs(args.jwks_cache),
    };
    let authority = Arc::new(Authority::new(settings, store, Arc::new(SystemClock))?);
    let demo = match demo_key {
        Some((key, writer)) => {
            let directory = std::env::temp_dir().join("acp-fhir-demo");
            std::fs::create_dir_all(&directory)
                .map_err(|e| format!("cannot create {}: {e}", directory.display()))?;
            // One file per client and listening port, so that demos running side by side never
            // share one.
            let key_path = directory.join(format!("{DEMO_CLIENT}-{}.key.pem", address.port()));
            let writer_key_path =
                directory.join(format!("{DEMO_WRITER}-{}.key.pem", address.port()));
            for (path, key) in [(&key_path, &key), (&writer_key_path, &writer)] {
                let _ = std::fs::remove_file(path);
                write_private_key(path, key.to_pem())?;
            }
            let scopes = ScopeSet::parse(DEMO_SCOPES).map_err(|e| e.to_string())?;
            let token = authority
                .issue_for(DEMO_CLIENT, &scopes, DEMO_TOKEN_SECS)
                .map_err(|e| e.to_string())?
                .access_token;
            Some(DemoClient {
                key_path,
                writer_key_path,
                token,
            })
        }
        None => None,
    };
    Ok((authority, demo))
}

fn demo_client(id: &str, name: &str, scopes: &str, key: &PrivateKey) -> Result<Client, String> {
    let registration = ClientRegistration {
        id: id.into(),
        name: format!("{name} (serve --demo)"),
        organisation: "Y09870".into(),
        scopes: scopes.split(' ').map(str::to_owned).collect(),
        jwks: Some(JwkSet {
            keys: vec![key.public_jwk().clone()],
        }),
        jwks_uri: None,
        emergency_override: false,
        trusted_user_headers: false,
        rate_limit_per_second: None,
    };
    let scopes = ScopeSet::parse_all(&registration.scopes).map_err(|e| e.to_string())?;
    Ok(Client {
        registration,
        scopes,
    })
}

/// `clients add`.
pub fn clients_add(args: &ClientsAddArgs) -> Result<ExitCode, String> {
    let mut file = if args.clients.exists() {
        read_file(&args.clients).map_err(|e| e.to_string())?
    } else {
        RegistryFile::default()
    };
    if file.clients.iter().any(|c| c.id == args.id) {
        return Err(format!("client `{}` is already registered", args.id));
    }
    let key = PrivateKey::generate_es384().map_err(|e| e.to_string())?;
    let scopes: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|s| s.split_ascii_whitespace())
        .map(str::to_owned)
        .collect();
    file.clients.push(ClientRegistration {
        id: args.id.clone(),
        name: args.name.clone(),
        organisation: args.organisation.clone(),
        scopes,
        jwks: Some(JwkSet {
            keys: vec![key.public_jwk().clone()],
        }),
        jwks_uri: None,
        emergency_override: args.emergency_override,
        trusted_user_headers: args.trusted_user_headers,
        rate_limit_per_second: None,
    });
    // Check the whole registry as the service will, before writing anything.
    Registry::from_file(file.clone()).map_err(|e| e.to_string())?;
    let key_path = args.key_out.clone().unwrap_or_else(|| {
        args.clients
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(format!("{}.key.pem", args.id))
    });
    write_private_key(&key_path, key.to_pem())?;
    write_file(&args.clients, &file).map_err(|e| e.to_string())?;
    println!(
        "registered client `{}` (key id {}) in {}; its private key is in {} (keep it secret)",
        args.id,
        key.kid(),
        args.clients.display(),
        key_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `keygen`.
pub fn keygen(args: &KeygenArgs) -> Result<ExitCode, String> {
    let key = PrivateKey::generate_es384().map_err(|e| e.to_string())?;
    write_private_key(&args.out, key.to_pem())?;
    println!(
        "wrote an ES384 private key (key id {}) to {}",
        key.kid(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A signed client assertion for `client` to present at `token_url`.
pub fn client_assertion(
    key: &PrivateKey,
    client: &str,
    token_url: &str,
    now: i64,
) -> Result<String, String> {
    let mut header = jsonwebtoken::Header::new(key.algorithm());
    header.kid = Some(key.kid().to_owned());
    header.typ = Some("JWT".into());
    let claims = json!({
        "iss": client,
        "sub": client,
        "aud": token_url,
        "exp": now + 240,
        "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    jsonwebtoken::encode(&header, &claims, key.encoding_key()).map_err(|e| e.to_string())
}

/// `token`.
pub async fn token(args: &TokenArgs) -> Result<ExitCode, String> {
    let key = read_key(&args.key)?;
    let base = args.url.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let discovered = http
        .get(format!("{base}/.well-known/smart-configuration"))
        .send()
        .await
        .map_err(|e| format!("cannot reach {base}: {e}"))?
        .json::<serde_json::Value>()
        .await
        .map_err(|e| format!("{base}/.well-known/smart-configuration: {e}"))?;
    let token_url = discovered["token_endpoint"]
        .as_str()
        .map_or_else(|| format!("{base}/auth/token"), str::to_owned);
    let assertion = client_assertion(
        &key,
        &args.client,
        &token_url,
        SystemClock.now().timestamp(),
    )?;
    let response = http
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", args.scope.as_str()),
            (
                "client_assertion_type",
                crate::auth::authority::ASSERTION_TYPE,
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("cannot reach {token_url}: {e}"))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| format!("{token_url}: {e}"))?;
    match body["access_token"].as_str() {
        Some(token) if status.is_success() => {
            eprintln!(
                "access token for `{}`, scope `{}`, expires in {} s:",
                args.client,
                body["scope"].as_str().unwrap_or_default(),
                body["expires_in"]
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!(
            "the token request was refused ({status}): {} {}",
            body["error"].as_str().unwrap_or_default(),
            body["error_description"].as_str().unwrap_or_default()
        )),
    }
}
