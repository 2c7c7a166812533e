//! Liveness (the process answers) and readiness (the database answers).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::Error;
use crate::service::PlanService;

/// Routes under `/health`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/health")
            .route("/live", web::get().to(live))
            .route("/ready", web::get().to(ready)),
    );
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "live" }))
}

async fn ready(service: web::Data<PlanService>) -> Result<HttpResponse, Error> {
    service.ready().await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}
