//! HTTP: one `configure` function per area, the request-id middleware, the JSON body reader,
//! and the server itself. Handlers are short: extract, call the service, map, respond.

mod access;
mod api;
mod auth;
mod body;
pub mod fhir;
mod fhir_audit;
mod fhir_bundle;
mod fhir_conformance;
mod fhir_provenance;
mod fhir_search;
mod fhir_write;
pub mod guard;
mod health;
mod request_id;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Condition, DefaultHeaders};
use actix_web::{web, App, HttpServer};

pub use api::PlanSchema;
pub use body::{parse_json, BodyLimit, JsonBody, DEFAULT_BODY_LIMIT};
pub use request_id::{RequestId, REQUEST_ID_HEADER};

pub use guard::{RateLimits, OVERRIDE_HEADER, USER_HEADER, USER_ORGANISATION_HEADER};

use crate::auth::Authority;
use crate::error::Error;
use crate::service::PlanService;

/// How the HTTP server runs.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Seconds to let in-flight requests finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Requests per second a client may make (unless its registration says otherwise).
    pub rate_limit_per_second: u32,
    /// Bursts of up to this many seconds' worth of requests are allowed.
    pub rate_limit_burst_seconds: u32,
    /// Origins allowed cross-origin requests; empty, CORS is off.
    pub cors_origins: Vec<String>,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<TlsFiles>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            workers: None,
            shutdown_timeout_secs: 30,
            rate_limit_per_second: 100,
            rate_limit_burst_seconds: 2,
            cors_origins: Vec::new(),
            tls: None,
        }
    }
}

/// TLS certificate and key files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub certificate: PathBuf,
    /// The private key (PEM).
    pub key: PathBuf,
}

fn tls_config(files: &TlsFiles) -> std::io::Result<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("TLS {what}: {e}"))
    };
    let chain = CertificateDer::pem_file_iter(&files.certificate)
        .map_err(|e| invalid("certificate", &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("certificate", &e))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| invalid("key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("configuration", &e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid("certificate and key", &e))
}

fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            "authorization",
            "content-type",
            "accept",
            "if-match",
            "if-none-match",
            "if-none-exist",
            "prefer",
            "x-request-id",
        ])
        .expose_headers(["etag", "location", "last-modified", "x-request-id"])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

async fn not_found() -> Result<actix_web::HttpResponse, Error> {
    Err(Error::NotFound("no such endpoint".into()))
}

/// A default service for a resource that answers 405 with its `Allow` list.
pub(crate) fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move {
        Err::<actix_web::HttpResponse, Error>(Error::MethodNotAllowed { allow })
    })
}

/// Resolves at the first SIGTERM or SIGINT. The handlers are installed when this is called, so
/// a signal that arrives before the server first runs is remembered rather than fatal.
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("stop signal received: finishing in-flight requests");
    })
}

/// Builds the server on an already bound listener (port 0 in tests). It stops gracefully on
/// SIGTERM or SIGINT, letting in-flight requests finish.
pub fn server(
    listener: TcpListener,
    service: PlanService,
    authority: Arc<Authority>,
    settings: &ServerSettings,
) -> std::io::Result<Server> {
    let service = web::Data::new(service);
    let authority = web::Data::from(authority);
    let limits = web::Data::new(RateLimits::new(
        settings.rate_limit_per_second,
        settings.rate_limit_burst_seconds,
    ));
    let limit = web::Data::new(BodyLimit(settings.body_limit));
    let schema = web::Data::new(PlanSchema::generate());
    let origins = settings.cors_origins.clone();
    let https = settings.tls.is_some();
    let server = HttpServer::new(move || {
        let mut headers = DefaultHeaders::new()
            .add(("X-Content-Type-Options", "nosniff"))
            .add(("X-Frame-Options", "DENY"))
            .add((
                "Content-Security-Policy",
                "default-src 'none'; frame-ancestors 'none'",
            ))
            .add(("Referrer-Policy", "no-referrer"))
            .add(("Cache-Control", "no-store"));
        if https {
            headers = headers.add(("Strict-Transport-Security", "max-age=31536000"));
        }
        App::new()
            .wrap(from_fn(guard::guard))
            .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
            .wrap(headers)
            .wrap(from_fn(request_id::request_context))
            .app_data(service.clone())
            .app_data(authority.clone())
            .app_data(limits.clone())
            .app_data(limit.clone())
            .app_data(schema.clone())
            .configure(health::configure)
            .configure(auth::configure)
            .configure(api::configure)
            .configure(fhir::configure)
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(settings.shutdown_timeout_secs)
    .shutdown_signal(stop_signal()?);
    let mut server = match &settings.tls {
        Some(files) => server.listen_rustls_0_23(listener, tls_config(files)?)?,
        None => server.listen(listener)?,
    };
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}
