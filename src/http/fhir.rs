//! The FHIR R4 REST API under `/fhir`: `metadata`, and for every projected resource type
//! `read`, `vread` and instance `_history`; the `Patient/$summary` operation. What is served is
//! one table ([`CAPABILITIES`]) from which both the routes and the CapabilityStatement are made,
//! so the two cannot drift. Errors are OperationOutcomes in the negotiated format.

use std::time::SystemTime;

use actix_web::http::header::{self, HttpDate};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use fhirbolt::model::r4::resources::{
    Bundle, BundleEntry, BundleEntryRequest, BundleEntryResponse, BundleLink, CapabilityStatement,
    CapabilityStatementImplementation, CapabilityStatementRest, CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction, CapabilityStatementRestResourceOperation,
    CapabilityStatementRestResourceSearchParam, CapabilityStatementRestSecurity,
};
use fhirbolt::model::r4::Resource;

use super::access;
use crate::domain::{NhsNumber, PlanId, PlanRecord};
use crate::error::{Error, FhirError};
use crate::fhir::format::{negotiate, render, Rendering};
use crate::fhir::support::{code, instant};
use crate::fhir::{codes, project, RESOURCE_TYPES};
use crate::service::PlanService;

/// The read interactions served for every resource type.
pub const INTERACTIONS: [&str; 4] = ["read", "vread", "history-instance", "search-type"];

const WITH_CREATE_UPDATE_DELETE: [&str; 7] = [
    "read",
    "vread",
    "history-instance",
    "search-type",
    "create",
    "update",
    "delete",
];
const WITH_CREATE_UPDATE: [&str; 6] = [
    "read",
    "vread",
    "history-instance",
    "search-type",
    "create",
    "update",
];
const WITH_CREATE: [&str; 5] = ["read", "vread", "history-instance", "search-type", "create"];

/// The standard `$validate` operation.
pub const VALIDATE_OPERATION: &str = "http://hl7.org/fhir/OperationDefinition/Resource-validate";

/// System-level interactions (`POST /fhir` with a Bundle).
pub const SYSTEM_INTERACTIONS: [&str; 2] = ["transaction", "batch"];

/// One resource type's capabilities.
#[derive(Debug, Clone, Copy)]
pub struct TypeCapability {
    /// The resource type.
    pub resource_type: &'static str,
    /// Interactions.
    pub interactions: &'static [&'static str],
    /// Operations: (name, canonical URL of the definition).
    pub operations: &'static [(&'static str, &'static str)],
    /// `_include` values.
    pub includes: &'static [&'static str],
    /// `_revinclude` values.
    pub revincludes: &'static [&'static str],
}

const fn capability(
    resource_type: &'static str,
    interactions: &'static [&'static str],
    operations: &'static [(&'static str, &'static str)],
    includes: &'static [&'static str],
    revincludes: &'static [&'static str],
) -> TypeCapability {
    TypeCapability {
        resource_type,
        interactions,
        operations,
        includes,
        revincludes,
    }
}

const VALIDATE: (&str, &str) = ("validate", VALIDATE_OPERATION);

/// What the server does, per resource type. The router serves exactly this. Creates of a
/// Patient, Practitioner or Organization (and of a CarePlan for a new person) come inside a
/// transaction Bundle with the rest of the plan; a CarePlan or a CPR-decision / ADRT Consent is
/// deleted by becoming entered-in-error.
pub const CAPABILITIES: [TypeCapability; 7] = [
    capability(
        "CarePlan",
        &WITH_CREATE_UPDATE_DELETE,
        &[VALIDATE],
        &["CarePlan:goal", "CarePlan:subject", "CarePlan:patient"],
        &[PROVENANCE_TARGET],
    ),
    capability(
        "Consent",
        &WITH_CREATE_UPDATE_DELETE,
        &[VALIDATE],
        &["Consent:patient", "Consent:actor"],
        &[PROVENANCE_TARGET],
    ),
    capability(
        "Goal",
        &WITH_CREATE_UPDATE,
        &[VALIDATE],
        &["Goal:patient", "Goal:subject"],
        &[PROVENANCE_TARGET],
    ),
    capability(
        "Patient",
        &WITH_CREATE_UPDATE,
        &[("summary", SUMMARY_OPERATION), VALIDATE],
        &[],
        &[
            "CarePlan:patient",
            "Consent:patient",
            "Goal:patient",
            "RelatedPerson:patient",
            PROVENANCE_TARGET,
        ],
    ),
    capability(
        "RelatedPerson",
        &WITH_CREATE_UPDATE,
        &[VALIDATE],
        &["RelatedPerson:patient"],
        &[PROVENANCE_TARGET],
    ),
    capability("Practitioner", &WITH_CREATE, &[], &[], &[PROVENANCE_TARGET]),
    capability("Organization", &WITH_CREATE, &[], &[], &[PROVENANCE_TARGET]),
];

/// `_revinclude=Provenance:target`: who changed what was found, and when.
const PROVENANCE_TARGET: &str = "Provenance:target";

/// `Provenance`: one per plan version, derived from the history (read-only).
pub const PROVENANCE_CAPABILITY: TypeCapability =
    capability("Provenance", &INTERACTIONS, &[], &[], &[]);

/// The audit trail's interactions (`AuditEvent`, read with an audit scope).
pub const AUDIT_INTERACTIONS: [&str; 2] = ["read", "search-type"];

/// A conformance resource that is always served: (type, id). All of `profiles/` is served
/// read-only, read and searched (`fhir_conformance`).
pub const CONFORMANCE: [(&str, &str); 1] = [("OperationDefinition", "Patient-summary")];

/// The canonical URL of the `$summary` OperationDefinition.
pub const SUMMARY_OPERATION: &str =
    "https://acp-fhir.example.org/fhir/OperationDefinition/Patient-summary";

/// Routes under `/fhir`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/fhir")
            .route("", web::post().to(super::fhir_bundle::bundle))
            .route("/", web::post().to(super::fhir_bundle::bundle))
            .route("/metadata", web::get().to(metadata))
            .route("/Patient/$summary", web::get().to(summary_by_identifier))
            .route("/Patient/{id}/$summary", web::get().to(summary_by_id))
            .configure(super::fhir_conformance::configure)
            .route("/AuditEvent", web::get().to(super::fhir_audit::search))
            .route("/AuditEvent/{id}", web::get().to(super::fhir_audit::read))
            .configure(super::fhir_provenance::configure)
            .route(
                "/{type}/_search",
                web::post().to(super::fhir_search::search_post),
            )
            .route(
                "/{type}/$validate",
                web::post().to(super::fhir_write::validate),
            )
            .route("/{type}", web::get().to(super::fhir_search::search_get))
            .route("/{type}", web::post().to(super::fhir_write::create))
            .route("/{type}/{id}", web::get().to(read))
            .route("/{type}/{id}", web::put().to(super::fhir_write::update))
            .route("/{type}/{id}", web::delete().to(super::fhir_write::delete))
            .route("/{type}/{id}/_history", web::get().to(history))
            .route("/{type}/{id}/_history/{version}", web::get().to(vread))
            .default_service(web::to(unknown)),
    );
}

pub(crate) fn query_pairs(request: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// The rendering the request asks for; a 406 is itself told in JSON.
pub(crate) fn rendering(request: &HttpRequest) -> Result<Rendering, FhirError> {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    negotiate(&query_pairs(request), accept).map_err(FhirError::from)
}

pub(crate) fn fail(rendering: Rendering) -> impl Fn(Error) -> FhirError {
    move |error| FhirError { error, rendering }
}

/// `https://host/fhir`, as the client reached us (honouring Forwarded / X-Forwarded-*).
pub(crate) fn base_url(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}/fhir", info.scheme(), info.host())
}

pub(crate) fn respond(
    request: &HttpRequest,
    rendering: Rendering,
    resource: &Resource,
    version: Option<(u32, DateTime<Utc>)>,
) -> Result<HttpResponse, FhirError> {
    if let Some((version, _)) = version {
        let tag = format!("W/\"{version}\"");
        let unchanged = request
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
        if unchanged {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, tag))
                .finish());
        }
    }
    let body = render(resource, rendering).map_err(fail(rendering))?;
    let mut response = HttpResponse::build(StatusCode::OK);
    response.insert_header((header::CONTENT_TYPE, rendering.format.content_type()));
    if let Some((version, modified)) = version {
        response.insert_header((header::ETAG, format!("W/\"{version}\"")));
        response.insert_header((
            header::LAST_MODIFIED,
            HttpDate::from(SystemTime::from(modified)),
        ));
    }
    Ok(response.body(body))
}

pub(crate) fn known_type(resource_type: &str) -> Result<(), Error> {
    if RESOURCE_TYPES.contains(&resource_type) {
        Ok(())
    } else {
        Err(Error::NotFound(format!(
            "resource type `{resource_type}` is not served here (see /fhir/metadata)"
        )))
    }
}

async fn locate(service: &PlanService, resource_type: &str, id: &str) -> Result<PlanId, Error> {
    known_type(resource_type)?;
    service
        .locate(resource_type, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("{resource_type}/{id} is not known")))
}

/// The current version of `resource_type`/`id`, as the request's client may see it, with the
/// plan version it is part of.
pub(crate) async fn read_resource(
    service: &PlanService,
    request: &HttpRequest,
    resource_type: &str,
    id: &str,
) -> Result<(Resource, PlanRecord), Error> {
    let plan = locate(service, resource_type, id).await?;
    let record = service.get(plan).await?;
    access::disclose(request, &record)?;
    let resource = project(&record).find(resource_type, id).ok_or_else(|| {
        Error::Gone(format!(
            "{resource_type}/{id} is no longer part of the plan (its history remains)"
        ))
    })?;
    Ok((resource, record))
}

/// Version `version` of `resource_type`/`id`, as the request's client may see it.
pub(crate) async fn vread_resource(
    service: &PlanService,
    request: &HttpRequest,
    resource_type: &str,
    id: &str,
    version: &str,
) -> Result<(Resource, PlanRecord), Error> {
    let missing = || Error::NotFound(format!("{resource_type}/{id} has no version {version}"));
    let plan = locate(service, resource_type, id).await?;
    let current = service.get(plan).await?;
    access::disclose(request, &current)?;
    let number = version.parse::<u32>().map_err(|_| missing())?;
    let record = service
        .get_version(plan, number)
        .await
        .map_err(|_| missing())?;
    let resource = project(&record)
        .find(resource_type, id)
        .ok_or_else(missing)?;
    Ok((resource, record))
}

async fn read(
    service: web::Data<PlanService>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let (resource_type, id) = path.into_inner();
    let (resource, record) = read_resource(&service, &request, &resource_type, &id)
        .await
        .map_err(fail(rendering))?;
    respond(
        &request,
        rendering,
        &resource,
        Some((record.version, record.last_updated)),
    )
}

async fn vread(
    service: web::Data<PlanService>,
    request: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let (resource_type, id, version) = path.into_inner();
    let (resource, record) = vread_resource(&service, &request, &resource_type, &id, &version)
        .await
        .map_err(fail(rendering))?;
    respond(
        &request,
        rendering,
        &resource,
        Some((record.version, record.last_updated)),
    )
}

async fn history(
    service: web::Data<PlanService>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let (resource_type, id) = path.into_inner();
    let plan = locate(&service, &resource_type, &id)
        .await
        .map_err(fail(rendering))?;
    let versions = service.history(plan).await.map_err(fail(rendering))?;
    if let Some(current) = versions.first() {
        access::disclose(&request, current).map_err(fail(rendering))?;
    }
    let base = base_url(&request);
    // Oldest first to know where the resource first appears (its create), then newest first.
    let mut entries: Vec<BundleEntry> = Vec::new();
    for record in versions.iter().rev() {
        if let Some(resource) = project(record).find(&resource_type, &id) {
            let created = entries.is_empty();
            entries.push(history_entry(
                &base,
                &resource_type,
                &id,
                record,
                resource,
                created,
            ));
        }
    }
    entries.reverse();
    let bundle = Bundle {
        r#type: code("history"),
        total: Some(u32::try_from(entries.len()).unwrap_or(u32::MAX).into()),
        link: vec![BundleLink {
            relation: "self".into(),
            url: format!("{base}/{resource_type}/{id}/_history").into(),
            ..Default::default()
        }],
        entry: entries,
        ..Default::default()
    };
    respond(
        &request,
        rendering,
        &Resource::Bundle(Box::new(bundle)),
        None,
    )
}

fn history_entry(
    base: &str,
    resource_type: &str,
    id: &str,
    record: &PlanRecord,
    resource: Resource,
    created: bool,
) -> BundleEntry {
    let (method, url) = if created {
        ("POST", resource_type.to_owned())
    } else {
        ("PUT", format!("{resource_type}/{id}"))
    };
    BundleEntry {
        full_url: Some(format!("{base}/{resource_type}/{id}").into()),
        resource: Some(resource),
        request: Some(BundleEntryRequest {
            method: code(method),
            url: url.into(),
            ..Default::default()
        }),
        response: Some(BundleEntryResponse {
            status: if created { "201" } else { "200" }.into(),
            etag: Some(format!("W/\"{}\"", record.version).into()),
            last_modified: Some(instant(&record.last_updated).into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `Patient/$summary?identifier=https://fhir.nhs.uk/Id/nhs-number|NNNNNNNNNN`.
async fn summary_by_identifier(
    service: web::Data<PlanService>,
    request: HttpRequest,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let mut identifier = None;
    for (name, value) in query_pairs(&request) {
        match name.as_str() {
            "identifier" if identifier.is_none() => identifier = Some(value),
            "identifier" => {
                return Err(fail(rendering)(Error::bad_field(
                    "identifier",
                    "give exactly one identifier",
                )))
            }
            "_format" | "_pretty" => {}
            other => {
                return Err(fail(rendering)(Error::bad_field(
                    other,
                    "unknown parameter for $summary (only identifier)",
                )))
            }
        }
    }
    let identifier = identifier.ok_or_else(|| {
        fail(rendering)(Error::bad_field(
            "identifier",
            format!("required: identifier={}|NNNNNNNNNN", codes::NHS_NUMBER),
        ))
    })?;
    let number = match identifier.split_once('|') {
        Some((system, value)) if system == codes::NHS_NUMBER => value,
        Some((system, _)) => {
            return Err(fail(rendering)(Error::bad_field(
                "identifier",
                format!(
                    "unknown identifier system `{system}`; use {}",
                    codes::NHS_NUMBER
                ),
            )))
        }
        None => {
            return Err(fail(rendering)(Error::bad_field(
                "identifier",
                format!("give the system: {}|NNNNNNNNNN", codes::NHS_NUMBER),
            )))
        }
    };
    let nhs_number = NhsNumber::parse(number)
        .map_err(|e| fail(rendering)(Error::bad_field("identifier", e.to_string())))?;
    let record = service
        .find_current(&nhs_number)
        .await
        .map_err(fail(rendering))?;
    summary_response(&service, &request, rendering, &record)
}

/// `Patient/{id}/$summary`.
async fn summary_by_id(
    service: web::Data<PlanService>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let plan = locate(&service, "Patient", &id)
        .await
        .map_err(fail(rendering))?;
    let record = service.get(plan).await.map_err(fail(rendering))?;
    if !record.status.is_current() {
        return Err(fail(rendering)(Error::NotFound(
            "this Patient's plan is no longer the plan of record".into(),
        )));
    }
    summary_response(&service, &request, rendering, &record)
}

fn summary_response(
    service: &PlanService,
    request: &HttpRequest,
    rendering: Rendering,
    record: &PlanRecord,
) -> Result<HttpResponse, FhirError> {
    access::disclose(request, record).map_err(fail(rendering))?;
    let bundle = crate::fhir::summary::summary(record, &base_url(request), service.clock().now());
    respond(
        request,
        rendering,
        &Resource::Bundle(Box::new(bundle)),
        None,
    )
}

/// The CapabilityStatement, made from [`CAPABILITIES`].
pub fn capability_statement(software_version: &str) -> CapabilityStatement {
    let catalogue = crate::fhir::conformance::catalogue().ok();
    let resources: Vec<CapabilityStatementRestResource> = CAPABILITIES
        .iter()
        .chain(std::iter::once(&PROVENANCE_CAPABILITY))
        .map(|capability| CapabilityStatementRestResource {
            r#type: code(capability.resource_type),
            // The acp-fhir profiles each served resource conforms to (profiles/).
            supported_profile: catalogue
                .map(|c| c.profiles_of(capability.resource_type))
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            interaction: capability
                .interactions
                .iter()
                .map(|i| CapabilityStatementRestResourceInteraction {
                    code: code(i),
                    ..Default::default()
                })
                .collect(),
            versioning: Some(code("versioned")),
            read_history: Some(true.into()),
            search_include: capability.includes.iter().map(|i| (*i).into()).collect(),
            search_rev_include: capability.revincludes.iter().map(|i| (*i).into()).collect(),
            search_param: crate::fhir::search::parameters(capability.resource_type)
                .into_iter()
                .map(|(name, kind)| CapabilityStatementRestResourceSearchParam {
                    name: name.into(),
                    r#type: code(kind),
                    ..Default::default()
                })
                .collect(),
            operation: capability
                .operations
                .iter()
                .map(
                    |(name, definition)| CapabilityStatementRestResourceOperation {
                        name: (*name).into(),
                        definition: (*definition).into(),
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        })
        .collect();
    CapabilityStatement {
        status: code("active"),
        date: "2026-11-23".into(),
        kind: code("instance"),
        name: Some("AcpFhir".into()),
        title: Some("acp-fhir: end-of-life care plans".into()),
        software: Some(
            fhirbolt::model::r4::resources::CapabilityStatementSoftware {
                name: "acp-fhir".into(),
                version: Some(software_version.into()),
                ..Default::default()
            },
        ),
        // cpb-14: an instance's statement describes the implementation.
        implementation: Some(CapabilityStatementImplementation {
            description: "acp-fhir: end-of-life care plans, DNACPR decisions and preferences"
                .into(),
            ..Default::default()
        }),
        fhir_version: code("4.0.1"),
        format: vec![code("application/fhir+json"), code("application/fhir+xml")],
        rest: vec![CapabilityStatementRest {
            mode: code("server"),
            // CapabilityStatement.rest.security: SMART Backend Services (discovery at
            // /.well-known/smart-configuration).
            security: Some(CapabilityStatementRestSecurity {
                service: vec![crate::fhir::support::concept_of(
                    vec![crate::fhir::support::coding_of(
                        "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "SMART-on-FHIR",
                        Some("SMART-on-FHIR"),
                    )],
                    None,
                )],
                description: Some(
                    "SMART on FHIR Backend Services: client credentials with a signed JWT \
                     (RS384 or ES384) at /auth/token, see /.well-known/smart-configuration. \
                     Every interaction needs its SMART v2 (or v1) system scope; AuditEvent \
                     needs a scope that names it. A withdrawn consent to share hides a plan \
                     (404, issue code suppressed) unless a permitted client states an \
                     X-Emergency-Override reason."
                        .into(),
                ),
                ..Default::default()
            }),
            resource: resources
                .into_iter()
                .chain(std::iter::once(CapabilityStatementRestResource {
                    r#type: code("AuditEvent"),
                    supported_profile: vec![codes::profile::AUDIT_EVENT.into()],
                    interaction: AUDIT_INTERACTIONS
                        .iter()
                        .map(|i| CapabilityStatementRestResourceInteraction {
                            code: code(i),
                            ..Default::default()
                        })
                        .collect(),
                    search_param: [
                        ("patient", "reference"),
                        ("agent", "reference"),
                        ("entity", "reference"),
                        ("date", "date"),
                    ]
                    .iter()
                    .map(|(name, kind)| CapabilityStatementRestResourceSearchParam {
                        name: (*name).into(),
                        r#type: code(kind),
                        ..Default::default()
                    })
                    .collect(),
                    ..Default::default()
                }))
                .chain(super::fhir_conformance::capability_resources())
                .collect(),
            interaction: SYSTEM_INTERACTIONS
                .iter()
                .map(
                    |i| fhirbolt::model::r4::resources::CapabilityStatementRestInteraction {
                        code: code(i),
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The CapabilityStatement is static: made once per process.
static STATEMENT: std::sync::OnceLock<Resource> = std::sync::OnceLock::new();

async fn metadata(request: HttpRequest) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let statement = STATEMENT.get_or_init(|| {
        Resource::CapabilityStatement(Box::new(capability_statement(env!("CARGO_PKG_VERSION"))))
    });
    respond(&request, rendering, statement, None)
}

async fn unknown(request: HttpRequest) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    Err(fail(rendering)(Error::NotFound(
        "no such FHIR endpoint (see /fhir/metadata)".into(),
    )))
}
