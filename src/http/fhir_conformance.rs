//! `/fhir/StructureDefinition`, `/fhir/ValueSet`, `/fhir/CodeSystem` and
//! `/fhir/OperationDefinition`: the project's conformance resources (`profiles/`), read-only,
//! read by id and searched by `url`, `name` and `version`. They hold no patient data, so they are
//! open like `/fhir/metadata` (`auth::policy`).

use actix_web::{web, HttpRequest, HttpResponse};
use fhirbolt::model::r4::resources::{
    Bundle, BundleEntry, BundleEntrySearch, BundleLink, CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction, CapabilityStatementRestResourceSearchParam,
};
use fhirbolt::model::r4::Resource;

use super::fhir::{base_url, fail, query_pairs, rendering, respond};
use crate::error::{Error, FhirError};
use crate::fhir::conformance::{self, SEARCH_PARAMETERS, TYPES};
use crate::fhir::support::code;

/// Routes inside the `/fhir` scope, ahead of the generic `/{type}` ones.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for resource_type in TYPES {
        cfg.route(&format!("/{resource_type}"), web::get().to(search))
            .route(&format!("/{resource_type}/{{id}}"), web::get().to(read));
    }
}

/// The CapabilityStatement entries of the conformance types: read and search-type, with their
/// search parameters.
pub fn capability_resources() -> Vec<CapabilityStatementRestResource> {
    TYPES
        .iter()
        .map(|resource_type| CapabilityStatementRestResource {
            r#type: code(resource_type),
            interaction: ["read", "search-type"]
                .iter()
                .map(|i| CapabilityStatementRestResourceInteraction {
                    code: code(i),
                    ..Default::default()
                })
                .collect(),
            search_param: SEARCH_PARAMETERS
                .iter()
                .map(|(name, kind)| CapabilityStatementRestResourceSearchParam {
                    name: (*name).into(),
                    r#type: code(kind),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

/// The resource type a request is about: the first path segment after `/fhir`.
fn resource_type_of(request: &HttpRequest) -> &str {
    request
        .path()
        .trim_start_matches("/fhir/")
        .split('/')
        .next()
        .unwrap_or_default()
}

/// `GET /fhir/{type}/{id}`.
async fn read(request: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let resource_type = resource_type_of(&request);
    let catalogue = conformance::catalogue().map_err(fail(rendering))?;
    let artifact = catalogue
        .read(resource_type, &id)
        .ok_or_else(|| Error::NotFound(format!("{resource_type}/{id} is not known")))
        .map_err(fail(rendering))?;
    respond(&request, rendering, &artifact.resource, None)
}

/// `GET /fhir/{type}?url=…&name=…&version=…`: a searchset Bundle.
async fn search(request: HttpRequest) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let resource_type = resource_type_of(&request);
    let catalogue = conformance::catalogue().map_err(fail(rendering))?;
    let found = catalogue
        .search(resource_type, &query_pairs(&request))
        .map_err(fail(rendering))?;
    let base = base_url(&request);
    let query = request.query_string();
    let self_url = if query.is_empty() {
        format!("{base}/{resource_type}")
    } else {
        format!("{base}/{resource_type}?{query}")
    };
    let bundle = Bundle {
        r#type: code("searchset"),
        total: Some(u32::try_from(found.len()).unwrap_or(u32::MAX).into()),
        link: vec![BundleLink {
            relation: "self".into(),
            url: self_url.into(),
            ..Default::default()
        }],
        entry: found
            .into_iter()
            .map(|artifact| BundleEntry {
                full_url: Some(format!("{base}/{}/{}", artifact.resource_type, artifact.id).into()),
                resource: Some(artifact.resource.clone()),
                search: Some(BundleEntrySearch {
                    mode: Some(code("match")),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    respond(
        &request,
        rendering,
        &Resource::Bundle(Box::new(bundle)),
        None,
    )
}
