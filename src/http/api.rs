//! The internal JSON API under `/api/v1`: plans created, read, revised with `If-Match`, ended,
//! and their history; the JSON Schema of a plan. Errors are problem+json (see `error.rs`).

use std::time::SystemTime;

use actix_web::http::header::{self, HttpDate};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::access;
use super::body::JsonBody;
use super::not_allowed;
use crate::domain::{
    DecisionId, NhsNumber, OverdueReview, PlanContent, PlanEnd, PlanId, PlanRecord,
    ResuscitationStatus,
};
use crate::error::Error;
use crate::service::PlanService;

/// The JSON Schema of a plan's content, generated once from the Rust types.
pub struct PlanSchema(pub Vec<u8>);

impl PlanSchema {
    /// Generates the schema.
    pub fn generate() -> Self {
        let mut schema = schemars::schema_for!(PlanContent);
        schema.insert(
            "title".into(),
            "acp-fhir end-of-life care plan (internal API, POST and PUT body)".into(),
        );
        Self(serde_json::to_vec_pretty(&schema).unwrap_or_default())
    }
}

/// Routes under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .service(
                web::resource("/plans")
                    .route(web::post().to(create_plan))
                    .route(web::get().to(find_plan))
                    .default_service(not_allowed("GET, POST")),
            )
            .service(
                web::resource("/plans/{id}")
                    .route(web::get().to(read_plan))
                    .route(web::put().to(update_plan))
                    .default_service(not_allowed("GET, PUT")),
            )
            .service(
                web::resource("/plans/{id}/history")
                    .route(web::get().to(plan_history))
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/plans/{id}/history/{version}")
                    .route(web::get().to(plan_version))
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/plans/{id}/$revoke")
                    .route(web::post().to(revoke_plan))
                    .default_service(not_allowed("POST")),
            )
            .service(
                web::resource("/plans/{id}/$entered-in-error")
                    .route(web::post().to(plan_entered_in_error))
                    .default_service(not_allowed("POST")),
            )
            .service(
                web::resource("/schema")
                    .route(web::get().to(schema))
                    .default_service(not_allowed("GET")),
            ),
    );
}

/// What the service works out from the current version, so no reader has to (H1, H2, H7).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Derived {
    /// `for-cpr`, `not-for-cpr`, `no-decision-recorded` or `plan-not-current`.
    pub resuscitation: &'static str,
    /// The current CPR decision's id, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_resuscitation_decision: Option<DecisionId>,
    /// Reviews past their date.
    pub review_overdue: Vec<OverdueReview>,
}

#[derive(Serialize)]
struct PlanView<'a> {
    #[serde(flatten)]
    record: &'a PlanRecord,
    derived: Derived,
}

#[derive(Serialize)]
struct HistoryView<'a> {
    plan_id: PlanId,
    versions: &'a [PlanRecord],
}

/// Body of `$revoke` and `$entered-in-error`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndRequest {
    reason: String,
}

fn derived(record: &PlanRecord, service: &PlanService) -> Derived {
    let status = record.resuscitation_status();
    Derived {
        resuscitation: status.as_str(),
        current_resuscitation_decision: match status {
            ResuscitationStatus::Decided(decision) => decision.id,
            _ => None,
        },
        review_overdue: record.overdue_reviews(service.clock().now().date_naive()),
    }
}

fn etag(version: u32) -> String {
    format!("\"{version}\"")
}

fn respond<T: Serialize>(status: StatusCode, record: &PlanRecord, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(record.version)))
        .insert_header((
            header::LAST_MODIFIED,
            HttpDate::from(SystemTime::from(record.last_updated)),
        ))
        .json(body)
}

fn current_view(status: StatusCode, record: &PlanRecord, service: &PlanService) -> HttpResponse {
    respond(
        status,
        record,
        &PlanView {
            record,
            derived: derived(record, service),
        },
    )
}

fn plan_id(raw: &str) -> Result<PlanId, Error> {
    PlanId::parse(raw).map_err(|_| Error::NotFound("no such plan".into()))
}

/// The version named by `If-Match` (`"3"`, or `W/"3"` as FHIR clients send it).
fn if_match(request: &HttpRequest) -> Result<Option<u32>, Error> {
    let value = request.headers().get(header::IF_MATCH);
    super::fhir_write::if_match(value.map(|v| v.to_str().unwrap_or("?")))
}

async fn create_plan(
    service: web::Data<PlanService>,
    request: HttpRequest,
    body: JsonBody<PlanContent>,
) -> Result<HttpResponse, Error> {
    let record = service
        .create_in(&access::write_context(&request)?, body.0)
        .await?;
    access::committed(&request);
    let mut response = current_view(StatusCode::CREATED, &record, &service);
    if let Ok(location) = header::HeaderValue::from_str(&format!("/api/v1/plans/{}", record.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn find_plan(
    service: web::Data<PlanService>,
    request: HttpRequest,
) -> Result<HttpResponse, Error> {
    let mut nhs_number = None;
    for (name, value) in url::form_urlencoded::parse(request.query_string().as_bytes()) {
        match name.as_ref() {
            "nhs_number" if nhs_number.is_none() => nhs_number = Some(value.into_owned()),
            "nhs_number" => return Err(Error::bad_field("nhs_number", "give it once")),
            other => {
                return Err(Error::bad_field(
                    other,
                    "unknown query parameter (only nhs_number is supported)",
                ))
            }
        }
    }
    let raw = nhs_number.ok_or_else(|| {
        Error::bad_field(
            "nhs_number",
            "required: GET /api/v1/plans?nhs_number=NNNNNNNNNN",
        )
    })?;
    let nhs_number =
        NhsNumber::parse(&raw).map_err(|e| Error::bad_field("nhs_number", e.to_string()))?;
    let record = service.find_current(&nhs_number).await?;
    access::disclose(&request, &record)?;
    Ok(current_view(StatusCode::OK, &record, &service))
}

async fn read_plan(
    service: web::Data<PlanService>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let record = service.get(plan_id(&id)?).await?;
    access::disclose(&request, &record)?;
    Ok(current_view(StatusCode::OK, &record, &service))
}

async fn update_plan(
    service: web::Data<PlanService>,
    id: web::Path<String>,
    request: HttpRequest,
    body: JsonBody<PlanContent>,
) -> Result<HttpResponse, Error> {
    let id = plan_id(&id)?;
    let expected = if_match(&request)?.ok_or(Error::PreconditionRequired)?;
    let record = service
        .revise_in(&access::write_context(&request)?, id, expected, body.0)
        .await?;
    access::committed(&request);
    Ok(current_view(StatusCode::OK, &record, &service))
}

async fn plan_history(
    service: web::Data<PlanService>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let id = plan_id(&id)?;
    let versions = service.history(id).await?;
    if let Some(current) = versions.first() {
        access::disclose(&request, current)?;
    }
    Ok(HttpResponse::Ok().json(HistoryView {
        plan_id: id,
        versions: &versions,
    }))
}

async fn plan_version(
    service: web::Data<PlanService>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Error> {
    let (id, version) = path.into_inner();
    let id = plan_id(&id)?;
    access::disclose(&request, &service.get(id).await?)?;
    let version = version
        .parse::<u32>()
        .map_err(|_| Error::NotFound("no such version".into()))?;
    let record = service.get_version(id, version).await?;
    Ok(respond(StatusCode::OK, &record, &record))
}

async fn end_plan(
    service: &PlanService,
    id: &str,
    request: &HttpRequest,
    body: EndRequest,
    how: PlanEnd,
) -> Result<HttpResponse, Error> {
    let record = service
        .end_in(
            &access::write_context(request)?,
            plan_id(id)?,
            if_match(request)?,
            how,
            &body.reason,
        )
        .await?;
    access::committed(request);
    Ok(current_view(StatusCode::OK, &record, service))
}

async fn revoke_plan(
    service: web::Data<PlanService>,
    id: web::Path<String>,
    request: HttpRequest,
    body: JsonBody<EndRequest>,
) -> Result<HttpResponse, Error> {
    end_plan(&service, &id, &request, body.0, PlanEnd::Revoke).await
}

async fn plan_entered_in_error(
    service: web::Data<PlanService>,
    id: web::Path<String>,
    request: HttpRequest,
    body: JsonBody<EndRequest>,
) -> Result<HttpResponse, Error> {
    end_plan(&service, &id, &request, body.0, PlanEnd::EnteredInError).await
}

async fn schema(schema: web::Data<PlanSchema>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/schema+json")
        .body(schema.0.clone())
}
