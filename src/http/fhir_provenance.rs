//! `Provenance` under `/fhir`: read, vread and instance history (a Provenance has one version:
//! it never changes). Search (`Provenance?target=`) and `_revinclude=Provenance:target` are
//! served by the search (`fhir_search`). A Provenance is made from the plan version it
//! describes and the one before it ([`crate::fhir::provenance`]); it is shown under the same
//! rules as the plan (a withdrawn consent to share hides it).

use actix_web::{web, HttpRequest, HttpResponse};
use fhirbolt::model::r4::resources::{Bundle, BundleEntry, BundleEntryResponse, BundleLink};
use fhirbolt::model::r4::Resource;

use super::access;
use super::fhir::{base_url, fail, rendering, respond};
use crate::domain::PlanRecord;
use crate::error::{Error, FhirError};
use crate::fhir::provenance::{parse_provenance_id, provenance, PROVENANCE};
use crate::fhir::support::{code, instant};
use crate::service::PlanService;

/// Routes for `Provenance` (before the generic `/{type}/{id}` routes; its search is the generic
/// `/{type}` search).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/Provenance/{id}", web::get().to(read))
        .route("/Provenance/{id}/_history", web::get().to(history))
        .route("/Provenance/{id}/_history/{version}", web::get().to(vread));
}

/// The plan version a Provenance id names, disclosed under the plan's rules, and the version
/// before it.
async fn load(
    service: &PlanService,
    request: &HttpRequest,
    id: &str,
) -> Result<(PlanRecord, Option<PlanRecord>), Error> {
    let missing = || Error::NotFound(format!("{PROVENANCE}/{id} is not known"));
    let (plan, version) = parse_provenance_id(id).ok_or_else(missing)?;
    let current = match service.get(plan).await {
        Ok(record) => record,
        Err(Error::NotFound(_)) => return Err(missing()),
        Err(other) => return Err(other),
    };
    access::disclose(request, &current)?;
    if version > current.version {
        return Err(missing());
    }
    let record = if version == current.version {
        current
    } else {
        service.get_version(plan, version).await?
    };
    let previous = match version {
        1 => None,
        _ => Some(service.get_version(plan, version - 1).await?),
    };
    Ok((record, previous))
}

async fn read(
    service: web::Data<PlanService>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let (record, previous) = load(&service, &request, &id)
        .await
        .map_err(fail(rendering))?;
    let resource = Resource::Provenance(Box::new(provenance(&record, previous.as_ref())));
    respond(
        &request,
        rendering,
        &resource,
        Some((1, record.last_updated)),
    )
}

async fn vread(
    service: web::Data<PlanService>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let (id, version) = path.into_inner();
    let (record, previous) = load(&service, &request, &id)
        .await
        .map_err(fail(rendering))?;
    if version != "1" {
        return Err(fail(rendering)(Error::NotFound(format!(
            "{PROVENANCE}/{id} has no version {version} (a Provenance has only version 1)"
        ))));
    }
    let resource = Resource::Provenance(Box::new(provenance(&record, previous.as_ref())));
    respond(
        &request,
        rendering,
        &resource,
        Some((1, record.last_updated)),
    )
}

async fn history(
    service: web::Data<PlanService>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let (record, previous) = load(&service, &request, &id)
        .await
        .map_err(fail(rendering))?;
    let base = base_url(&request);
    let resource = Resource::Provenance(Box::new(provenance(&record, previous.as_ref())));
    let bundle = Bundle {
        r#type: code("history"),
        total: Some(1_u32.into()),
        link: vec![BundleLink {
            relation: "self".into(),
            url: format!("{base}/{PROVENANCE}/{id}/_history").into(),
            ..Default::default()
        }],
        entry: vec![BundleEntry {
            full_url: Some(format!("{base}/{PROVENANCE}/{id}").into()),
            resource: Some(resource),
            request: Some(fhirbolt::model::r4::resources::BundleEntryRequest {
                method: code("POST"),
                url: PROVENANCE.into(),
                ..Default::default()
            }),
            response: Some(BundleEntryResponse {
                status: "201".into(),
                etag: Some("W/\"1\"".into()),
                last_modified: Some(instant(&record.last_updated).into()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    respond(
        &request,
        rendering,
        &Resource::Bundle(Box::new(bundle)),
        None,
    )
}
