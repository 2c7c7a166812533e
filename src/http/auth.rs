//! The open authorisation endpoints: `POST /auth/token` (SMART Backend Services client
//! credentials with a signed JWT assertion), `GET /auth/jwks.json` (the service's public keys,
//! every one that still verifies) and `GET /.well-known/smart-configuration`.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::auth::{Authority, OAuthError, TokenRequest};

/// Routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/auth/token")
            .route(web::post().to(token))
            .default_service(super::not_allowed("POST")),
    )
    .service(
        web::resource("/auth/jwks.json")
            .route(web::get().to(jwks))
            .default_service(super::not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/.well-known/smart-configuration")
            .route(web::get().to(smart_configuration))
            .default_service(super::not_allowed("GET, HEAD")),
    );
}

fn form_request(request: &HttpRequest, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|e| {
            e.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(OAuthError::invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    let mut parsed = TokenRequest::default();
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "grant_type" => &mut parsed.grant_type,
            "scope" => &mut parsed.scope,
            "client_assertion_type" => &mut parsed.client_assertion_type,
            "client_assertion" => &mut parsed.client_assertion,
            _ => continue,
        };
        if slot.is_some() {
            return Err(OAuthError::invalid_request(&format!(
                "{name} is given more than once"
            )));
        }
        *slot = Some(value.into_owned());
    }
    Ok(parsed)
}

async fn token(
    authority: web::Data<Authority>,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, OAuthError> {
    let form = form_request(&request, &body)?;
    match authority.exchange(&form).await {
        Ok(issued) => {
            tracing::info!(scope = %issued.scope, "access token issued");
            Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"))
                .json(issued))
        }
        Err(error) => {
            tracing::info!(error = error.error, "token request refused");
            Err(error)
        }
    }
}

async fn jwks(authority: web::Data<Authority>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(authority.public_keys())
}

async fn smart_configuration(authority: web::Data<Authority>) -> HttpResponse {
    let issuer = authority.issuer();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/auth/jwks.json"),
        "token_endpoint": authority.token_url(),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": [
            "system/*.rs", "system/*.cruds", "system/*.read", "system/*.write",
            "system/CarePlan.rs", "system/Consent.rs", "system/Goal.rs",
            "system/AuditEvent.rs"
        ],
        "capabilities": [
            "client-confidential-asymmetric",
            "permission-v1",
            "permission-v2"
        ]
    }))
}
