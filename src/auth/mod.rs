//! Who is calling and what they may do: SMART on FHIR Backend Services. Registered clients
//! ([`registry`]) sign a JWT with their private key and exchange it at `/auth/token` for a
//! short-lived access token signed by the service ([`authority`]); every `/fhir` and `/api`
//! request carries one, and [`policy`] says which SMART scope ([`scopes`]) each interaction
//! needs. Tokens of an external identity provider are accepted beside our own when configured.

pub mod authority;
pub mod jwks;
pub mod keys;
pub mod policy;
pub mod registry;
pub mod scopes;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub use authority::{AuthSettings, Authority, ExternalIssuer, TokenRequest, TokenResponse};
pub use keys::PrivateKey;
pub use registry::{Client, ClientRegistration, Registry, RegistryFile, RegistryHandle};
pub use scopes::{Permission, Scope, ScopeSet};

use crate::error::Error;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The client id.
    pub client_id: String,
    /// The client's name, when registered.
    pub client_name: Option<String>,
    /// The ODS code of the client's organisation, when registered.
    pub organisation: Option<String>,
    /// What the token grants.
    pub scopes: ScopeSet,
    /// Whether it may override a withdrawn consent to share, stating a reason.
    pub emergency_override: bool,
    /// Whether its end-user headers are believed.
    pub trusted_user_headers: bool,
    /// Its own rate limit, if it has one.
    pub rate_limit_per_second: Option<u32>,
}

impl Principal {
    /// The principal for `client_id`, with what the registry says of it, if anything.
    pub fn new(client_id: String, client: Option<&Client>, scopes: ScopeSet) -> Self {
        let registration = client.map(|c| &c.registration);
        Self {
            client_id,
            client_name: registration.map(|r| r.name.clone()),
            organisation: registration.map(|r| r.organisation.clone()),
            scopes,
            emergency_override: registration.is_some_and(|r| r.emergency_override),
            trusted_user_headers: registration.is_some_and(|r| r.trusted_user_headers),
            rate_limit_per_second: registration.and_then(|r| r.rate_limit_per_second),
        }
    }

    /// Succeeds if the token grants `permission` on `resource_type`; 403 otherwise.
    pub fn require(&self, resource_type: &str, permission: Permission) -> Result<(), Error> {
        if self.scopes.allows(resource_type, permission) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                detail: format!(
                    "the access token does not grant {} on {resource_type}",
                    permission.name()
                ),
                scope: format!("system/{resource_type}.{}", permission.letter()),
            })
        }
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a JWT, or an algorithm we never accept (`none`, HMAC…).
    Malformed,
    /// Expired.
    Expired,
    /// A bad signature, audience, issuer or claim.
    Invalid(&'static str),
    /// The issuer's keys could not be fetched.
    Unverifiable,
}

impl From<AuthFailure> for Error {
    fn from(failure: AuthFailure) -> Self {
        let (detail, expired, missing) = match failure {
            AuthFailure::Missing => (
                "an access token is required: Authorization: Bearer <token> (see \
                 /.well-known/smart-configuration)"
                    .to_owned(),
                false,
                true,
            ),
            AuthFailure::Malformed => (
                "the access token is not a JWT signed with an accepted algorithm".to_owned(),
                false,
                false,
            ),
            AuthFailure::Expired => ("the access token has expired".to_owned(), true, false),
            AuthFailure::Invalid(why) => (
                format!("the access token is not valid: {why}"),
                false,
                false,
            ),
            AuthFailure::Unverifiable => (
                "the access token's issuer keys could not be fetched; try again".to_owned(),
                false,
                false,
            ),
        };
        Error::Unauthorized {
            detail,
            expired,
            missing,
        }
    }
}

/// An OAuth 2.0 error from the token endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, Serialize)]
pub struct OAuthError {
    #[serde(skip)]
    status: u16,
    /// The error code.
    pub error: &'static str,
    /// What is wrong, for a developer.
    pub error_description: String,
}

impl OAuthError {
    /// An error with a status and code.
    pub fn new(status: u16, error: &'static str, description: &str) -> Self {
        Self {
            status,
            error,
            error_description: description.to_owned(),
        }
    }

    /// `invalid_request` (400).
    pub fn invalid_request(description: &str) -> Self {
        Self::new(400, "invalid_request", description)
    }

    /// `invalid_client` (401): the assertion did not authenticate the client.
    pub fn invalid_client(description: &str) -> Self {
        Self::new(401, "invalid_client", description)
    }

    /// A fault of ours.
    pub fn server(description: &str) -> Self {
        Self::new(500, "server_error", description)
    }

    /// The database could not be reached (replay check).
    pub fn unavailable() -> Self {
        Self::new(503, "temporarily_unavailable", "try again shortly")
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.error_description)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"));
        if self.status == 401 {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"acp-fhir\""));
        }
        response.json(self)
    }
}
