//! HTTP: one `configure` function per area, the request-id middleware, the JSON body reader,
//! and the server itself. Handlers are short: extract, call the service, map, respond.

mod api;
mod body;
pub mod fhir;
mod fhir_search;
mod health;
mod request_id;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

pub use api::PlanSchema;
pub use body::{parse_json, BodyLimit, JsonBody, DEFAULT_BODY_LIMIT};
pub use request_id::{RequestId, REQUEST_ID_HEADER};

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
    settings: &ServerSettings,
) -> std::io::Result<Server> {
    let service = web::Data::new(service);
    let limit = web::Data::new(BodyLimit(settings.body_limit));
    let schema = web::Data::new(PlanSchema::generate());
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(request_id::request_context))
            .app_data(service.clone())
            .app_data(limit.clone())
            .app_data(schema.clone())
            .configure(health::configure)
            .configure(api::configure)
            .configure(fhir::configure)
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(settings.shutdown_timeout_secs)
    .shutdown_signal(stop_signal()?)
    .listen(listener)?;
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}
