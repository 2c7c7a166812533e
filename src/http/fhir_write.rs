//! FHIR writes under `/fhir`: `create` (POST, with `If-None-Exist`), `update` (PUT with
//! `If-Match`), `delete` (a CPR decision, an ADRT or the whole plan becomes entered-in-error; its
//! history stays, H5) and `$validate`. `Prefer: return=` chooses the body. Every write is one new
//! version of one plan, made by [`PlanService::write`]; the transaction and batch Bundles of
//! `POST /fhir` are in `fhir_bundle.rs`.

use std::time::SystemTime;

use actix_web::http::header::{self, HttpDate};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use fhirbolt::model::r4::resources::Parameters;
use fhirbolt::model::r4::types::Reference;
use fhirbolt::model::r4::Resource;

use super::access;
use super::body::FhirBody;
use super::fhir::{base_url, fail, rendering};
use crate::auth::Permission;
use crate::domain::{NhsNumber, PlanId, PlanRecord};
use crate::error::{Error, FhirError};
use crate::fhir::format::{render, Rendering};
use crate::fhir::inverse::FhirIssue;
use crate::fhir::outcome::outcome_of;
use crate::fhir::parse::parse_resource;
use crate::fhir::write::{
    conditional_nhs_number, conditional_patient_criteria, error_issue, id_of, set_id, type_name,
    writable_type,
};
use crate::fhir::{codes, project};
use crate::service::{PlanService, WriteContext};
use crate::writes::{PlanChange, Written};

/// What the client asked to get back (`Prefer: return=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// No body.
    Minimal,
    /// The resource as stored (the default).
    Representation,
    /// An OperationOutcome about the write.
    OperationOutcome,
}

/// Reads `Prefer`.
pub fn prefer(request: &HttpRequest) -> Return {
    let value = request
        .headers()
        .get("Prefer")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    for part in value.split([';', ',']) {
        match part.trim() {
            "return=minimal" => return Return::Minimal,
            "return=OperationOutcome" => return Return::OperationOutcome,
            "return=representation" => return Return::Representation,
            _ => {}
        }
    }
    Return::Representation
}

/// The version an `If-Match` names (`W/"3"` or `"3"`), for FHIR and the internal API alike.
pub fn if_match(value: Option<&str>) -> Result<Option<u32>, Error> {
    let Some(text) = value.map(str::trim) else {
        return Ok(None);
    };
    let bare = text.strip_prefix("W/").unwrap_or(text);
    bare.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<u32>().ok())
        .map(Some)
        .ok_or_else(|| {
            Error::bad_field(
                "If-Match",
                "must be the ETag of the version you read, e.g. W/\"3\" or \"3\" (not *)",
            )
        })
}

fn header_text<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn refused(issues: Vec<FhirIssue>) -> Error {
    Error::FhirInvalid {
        unreadable: false,
        issues,
    }
}

/// The element naming the patient a plan part is about.
pub(crate) fn patient_reference(resource: &Resource) -> Option<(Option<&Reference>, &'static str)> {
    match resource {
        Resource::Consent(r) => Some((r.patient.as_deref(), "Consent.patient")),
        Resource::Goal(r) => Some((Some(&*r.subject), "Goal.subject")),
        Resource::RelatedPerson(r) => Some((Some(&*r.patient), "RelatedPerson.patient")),
        Resource::CarePlan(r) => Some((Some(&*r.subject), "CarePlan.subject")),
        _ => None,
    }
}

/// The plan of the patient a reference names: `Patient/id` (relative or under our base) or an
/// NHS number identifier. Never a guess (H3): anything else is refused.
pub(crate) async fn plan_of_patient(
    service: &PlanService,
    reference: Option<&Reference>,
    resource_type: &'static str,
    element: &str,
) -> Result<PlanId, Error> {
    let missing = |message: &str| {
        refused(vec![error_issue(
            "required",
            resource_type,
            None,
            element,
            message,
        )])
    };
    let Some(reference) = reference else {
        return Err(missing("the patient this belongs to is required"));
    };
    if let Some(text) = reference
        .reference
        .as_ref()
        .and_then(|r| r.value.as_deref())
    {
        if let Some(criteria) = conditional_patient_criteria(text) {
            let number = conditional_nhs_number(criteria).and_then(|sent| {
                NhsNumber::parse(&sent).map_err(|e| format!("the NHS number is not valid ({e})"))
            });
            let number = number.map_err(|message| {
                refused(vec![error_issue(
                    "not-supported",
                    resource_type,
                    None,
                    format!("{element}.reference"),
                    message,
                )])
            })?;
            return plan_of_person(service, &number, resource_type, element).await;
        }
        let id = text
            .rsplit_once("Patient/")
            .map(|(_, id)| id)
            .filter(|id| !id.is_empty() && !id.contains('/'));
        let Some(id) = id else {
            return Err(refused(vec![error_issue(
                "invalid",
                resource_type,
                None,
                format!("{element}.reference"),
                "must reference a Patient (Patient/id)",
            )]));
        };
        return service.locate("Patient", id).await?.ok_or_else(|| {
            refused(vec![error_issue(
                "not-found",
                resource_type,
                None,
                format!("{element}.reference"),
                format!("Patient/{id} is not known here"),
            )])
        });
    }
    if let Some(identifier) = &reference.identifier {
        let system = identifier.system.as_ref().and_then(|s| s.value.as_deref());
        let value = identifier.value.as_ref().and_then(|s| s.value.as_deref());
        if system == Some(codes::NHS_NUMBER) {
            let number = NhsNumber::parse(value.unwrap_or_default()).map_err(|e| {
                refused(vec![error_issue(
                    "value",
                    resource_type,
                    None,
                    format!("{element}.identifier.value"),
                    e.to_string(),
                )])
            })?;
            return plan_of_person(service, &number, resource_type, element).await;
        }
    }
    Err(missing(
        "reference the patient as Patient/id or by NHS number identifier",
    ))
}

/// The plan of record of the person with `number`; none is an issue at `element`.
async fn plan_of_person(
    service: &PlanService,
    number: &NhsNumber,
    resource_type: &'static str,
    element: &str,
) -> Result<PlanId, Error> {
    match service.find_current(number).await {
        Ok(record) => Ok(record.id),
        Err(Error::NotFound(_)) => Err(refused(vec![error_issue(
            "not-found",
            resource_type,
            None,
            element,
            "no plan of record for this NHS number: a new plan is a transaction Bundle",
        )])),
        Err(other) => Err(other),
    }
}

/// Location, ETag, Last-Modified and the body `Prefer` asks for.
pub(crate) fn written_response(
    request: &HttpRequest,
    rendering: Rendering,
    status: StatusCode,
    target: Option<(&str, &str)>,
    record: &PlanRecord,
    warnings: &[FhirIssue],
) -> Result<HttpResponse, FhirError> {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::ETAG, format!("W/\"{}\"", record.version)));
    response.insert_header((
        header::LAST_MODIFIED,
        HttpDate::from(SystemTime::from(record.last_updated)),
    ));
    if let Some((resource_type, id)) = target {
        response.insert_header((
            header::LOCATION,
            format!(
                "{}/{resource_type}/{id}/_history/{}",
                base_url(request),
                record.version
            ),
        ));
    }
    let body = match prefer(request) {
        Return::Minimal => return Ok(response.finish()),
        Return::OperationOutcome => {
            Resource::OperationOutcome(Box::new(outcome_of(warnings, "the change is stored")))
        }
        Return::Representation => match target.and_then(|(t, id)| project(record).find(t, id)) {
            Some(resource) => resource,
            None => {
                Resource::OperationOutcome(Box::new(outcome_of(warnings, "the change is stored")))
            }
        },
    };
    let bytes = render(&body, rendering).map_err(fail(rendering))?;
    response.insert_header((header::CONTENT_TYPE, rendering.format.content_type()));
    Ok(response.body(bytes))
}

fn type_from_path(resource_type: &str) -> Result<&'static str, Error> {
    writable_type(resource_type).ok_or(Error::MethodNotAllowed { allow: "GET" })
}

fn body_resource(body: &FhirBody, resource_type: &str) -> Result<Resource, Error> {
    // A body of another type is told as such, before any complaint about its content.
    let declared = crate::fhir::parse::declared_type(&body.bytes, body.format);
    let resource = match parse_resource(&body.bytes, body.format) {
        Ok(resource) => resource,
        Err(error) => match declared {
            Some(sent) if sent != resource_type => {
                return Err(Error::FhirInvalid {
                    unreadable: true,
                    issues: vec![error_issue(
                        "invalid",
                        "Resource",
                        None,
                        "resourceType",
                        format!("the body is a {sent}, the URL names {resource_type}"),
                    )],
                })
            }
            _ => return Err(error),
        },
    };
    let sent = type_name(&resource);
    if sent != resource_type {
        return Err(Error::FhirInvalid {
            unreadable: true,
            issues: vec![error_issue(
                "invalid",
                "Resource",
                None,
                "resourceType",
                format!("the body is a {sent}, the URL names {resource_type}"),
            )],
        });
    }
    Ok(resource)
}

/// The new id a write gave a part: the one it was sent with, else the one part of this type
/// that the new version has and the old did not.
pub(crate) fn new_id(written: &Written, resource_type: &str, sent: Option<&str>) -> Option<String> {
    let after = project(&written.record);
    if let Some(id) = sent {
        if after.find(resource_type, id).is_some() {
            return Some(id.to_owned());
        }
    }
    let before: Vec<String> = written
        .before
        .as_ref()
        .map(|b| {
            project(b)
                .keys()
                .into_iter()
                .filter(|k| k.resource_type == resource_type)
                .map(|k| k.id)
                .collect()
        })
        .unwrap_or_default();
    let added: Vec<String> = after
        .keys()
        .into_iter()
        .filter(|k| k.resource_type == resource_type && !before.contains(&k.id))
        .map(|k| k.id)
        .collect();
    match added.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Creates a plan part for a known patient (one new version of their plan).
pub(crate) async fn create_part(
    service: &PlanService,
    context: &WriteContext,
    mut resource: Resource,
) -> Result<(Written, Option<String>), Error> {
    let resource_type = type_name(&resource);
    let Some((reference, element)) = patient_reference(&resource) else {
        return Err(refused(vec![error_issue(
            "not-supported",
            resource_type,
            None,
            resource_type,
            "a Patient, Practitioner or Organization is created with the plan that names it: \
             send the plan as a transaction Bundle",
        )]));
    };
    let plan = match plan_of_patient(service, reference, resource_type, element).await {
        Ok(plan) => plan,
        Err(error) if resource_type == "CarePlan" => {
            return Err(match error {
                Error::FhirInvalid { .. } => refused(vec![error_issue(
                    "required",
                    "CarePlan",
                    None,
                    "CarePlan.subject",
                    "a new plan needs its Patient, consent to share and the rest in one \
                     transaction Bundle (POST /fhir)",
                )]),
                other => other,
            })
        }
        Err(error) => return Err(error),
    };
    if resource_type == "CarePlan" {
        return Err(Error::Conflict {
            message: "this person already has a plan of record; update it (PUT CarePlan/id)".into(),
            existing_plan: Some(plan),
        });
    }
    let sent_id = if resource_type == "Consent" {
        let id = uuid::Uuid::new_v4().to_string();
        set_id(&mut resource, &id);
        Some(id)
    } else {
        set_id(&mut resource, &format!("new-{}", uuid::Uuid::new_v4()));
        None
    };
    let written = service
        .write(
            context,
            PlanChange {
                plan: Some(plan),
                resources: vec![resource],
                ..Default::default()
            },
        )
        .await?;
    let id = new_id(&written, resource_type, sent_id.as_deref());
    Ok((written, id))
}

/// `POST /fhir/{type}`.
pub async fn create(
    service: web::Data<PlanService>,
    request: HttpRequest,
    path: web::Path<String>,
    body: FhirBody,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let fail = fail(rendering);
    let resource_type = type_from_path(&path).map_err(&fail)?;
    let resource = body_resource(&body, resource_type).map_err(&fail)?;
    if let Some(criteria) = header_text(&request, "If-None-Exist") {
        let found = super::fhir_search::matching(&service, &request, resource_type, criteria)
            .await
            .map_err(&fail)?;
        match found.as_slice() {
            [] => {}
            [(id, record)] => {
                access::disclose(&request, record).map_err(&fail)?;
                return written_response(
                    &request,
                    rendering,
                    StatusCode::OK,
                    Some((resource_type, id)),
                    record,
                    &[],
                );
            }
            _ => {
                return Err(fail(Error::PreconditionFailed(
                    "If-None-Exist matches more than one resource: make the criteria specific"
                        .into(),
                )))
            }
        }
    }
    let context = access::write_context(&request).map_err(&fail)?;
    let (written, id) = create_part(&service, &context, resource)
        .await
        .map_err(&fail)?;
    access::committed(&request);
    written_response(
        &request,
        rendering,
        StatusCode::CREATED,
        id.as_deref().map(|id| (resource_type, id)),
        &written.record,
        &written.warnings,
    )
}

/// `PUT /fhir/{type}/{id}`.
pub async fn update(
    service: web::Data<PlanService>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: FhirBody,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let fail = fail(rendering);
    let (resource_type, id) = path.into_inner();
    let resource_type = type_from_path(&resource_type).map_err(&fail)?;
    let resource = body_resource(&body, resource_type).map_err(&fail)?;
    if id_of(&resource).as_deref() != Some(id.as_str()) {
        return Err(fail(Error::FhirInvalid {
            unreadable: true,
            issues: vec![error_issue(
                "invalid",
                resource_type,
                id_of(&resource),
                format!("{resource_type}.id"),
                "the resource's id must be the id in the URL",
            )],
        }));
    }
    let expected = if_match(header_text(&request, "If-Match"))
        .map_err(&fail)?
        .ok_or(Error::PreconditionRequired)
        .map_err(&fail)?;
    let plan = service
        .locate(resource_type, &id)
        .await
        .map_err(&fail)?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{resource_type}/{id} is not known; create it with POST /fhir/{resource_type}"
            ))
        })
        .map_err(&fail)?;
    let context = access::write_context(&request).map_err(&fail)?;
    let written = service
        .write(
            &context,
            PlanChange {
                plan: Some(plan),
                expected_version: Some(expected),
                resources: vec![resource],
                ..Default::default()
            },
        )
        .await
        .map_err(&fail)?;
    if project(&written.record).find(resource_type, &id).is_none() {
        return Err(fail(Error::Internal(
            "an update moved a resource to another id".into(),
        )));
    }
    access::committed(&request);
    written_response(
        &request,
        rendering,
        StatusCode::OK,
        Some((resource_type, &id)),
        &written.record,
        &written.warnings,
    )
}

/// What a `DELETE` of `Type/id` changes in its plan.
pub(crate) fn deletion(resource_type: &str, id: &str, plan: PlanId) -> Result<PlanChange, Error> {
    match resource_type {
        "CarePlan" => Ok(PlanChange {
            plan: Some(plan),
            delete_plan: true,
            ..Default::default()
        }),
        "Consent" => Ok(PlanChange {
            plan: Some(plan),
            entered_in_error: vec![id.to_owned()],
            ..Default::default()
        }),
        _ => Err(Error::MethodNotAllowed { allow: "GET, PUT" }),
    }
}

/// `DELETE /fhir/{type}/{id}`: the part becomes entered-in-error in a new version.
pub async fn delete(
    service: web::Data<PlanService>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let fail = fail(rendering);
    let (resource_type, id) = path.into_inner();
    let resource_type = type_from_path(&resource_type).map_err(&fail)?;
    let expected = if_match(header_text(&request, "If-Match")).map_err(&fail)?;
    let plan = service
        .locate(resource_type, &id)
        .await
        .map_err(&fail)?
        .ok_or_else(|| Error::NotFound(format!("{resource_type}/{id} is not known")))
        .map_err(&fail)?;
    let mut change = deletion(resource_type, &id, plan).map_err(&fail)?;
    change.expected_version = expected;
    let context = access::write_context(&request).map_err(&fail)?;
    let written = service.write(&context, change).await.map_err(&fail)?;
    access::committed(&request);
    let mut response = written_response(
        &request,
        rendering,
        StatusCode::OK,
        Some((resource_type, &id)),
        &written.record,
        &written.warnings,
    )?;
    response.headers_mut().remove(header::LOCATION);
    Ok(response)
}

/// The resource of a `$validate` body: the resource itself, or Parameters with `resource`.
fn validate_subject(resource: Resource) -> Result<(Resource, Option<String>), Error> {
    let Resource::Parameters(parameters) = resource else {
        return Ok((resource, None));
    };
    let Parameters { parameter, .. } = *parameters;
    let mut subject = None;
    let mut mode = None;
    for item in parameter {
        match item.name.value.as_deref() {
            Some("resource") => subject = item.resource,
            Some("mode") => {
                mode = match item.value {
                    Some(fhirbolt::model::r4::resources::ParametersParameterValue::Code(c)) => {
                        c.value
                    }
                    _ => None,
                }
            }
            _ => {}
        }
    }
    subject.map(|s| (s, mode)).ok_or_else(|| {
        refused(vec![error_issue(
            "required",
            "Parameters",
            None,
            "Parameters.parameter",
            "a `resource` parameter is required",
        )])
    })
}

/// `POST /fhir/{type}/$validate`: the checks of a write, nothing stored. 200 with an
/// OperationOutcome listing every issue (none: valid); 400 when the body cannot be read.
pub async fn validate(
    service: web::Data<PlanService>,
    request: HttpRequest,
    path: web::Path<String>,
    body: FhirBody,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let fail = fail(rendering);
    let resource_type = type_from_path(&path).map_err(&fail)?;
    let parsed = match parse_resource(&body.bytes, body.format) {
        Ok(parsed) => parsed,
        // A readable document that is not valid R4 is a validation result, not a failure.
        Err(Error::FhirInvalid {
            unreadable: false,
            issues,
        }) => return outcome_response(&issues, rendering),
        Err(other) => return Err(fail(other)),
    };
    let (resource, _mode) = validate_subject(parsed).map_err(&fail)?;
    if type_name(&resource) != resource_type {
        return Err(fail(Error::FhirInvalid {
            unreadable: true,
            issues: vec![error_issue(
                "invalid",
                "Resource",
                None,
                "resourceType",
                format!(
                    "the resource is a {}, the URL names {resource_type}",
                    type_name(&resource)
                ),
            )],
        }));
    }
    access::principal(&request)
        .and_then(|p| p.require(resource_type, Permission::Read))
        .map_err(&fail)?;
    let context = access::write_context(&request).map_err(&fail)?;
    match check(&service, &context, resource).await {
        Ok(warnings) => outcome_response(&warnings, rendering),
        Err(Error::FhirInvalid { issues, .. }) => outcome_response(&issues, rendering),
        Err(other) => Err(fail(other)),
    }
}

fn outcome_response(issues: &[FhirIssue], rendering: Rendering) -> Result<HttpResponse, FhirError> {
    let outcome = outcome_of(issues, "the resource is valid");
    let bytes = render(&Resource::OperationOutcome(Box::new(outcome)), rendering)
        .map_err(fail(rendering))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, rendering.format.content_type()))
        .body(bytes))
}

/// Runs the checks of a write of `resource` without storing it.
async fn check(
    service: &PlanService,
    context: &WriteContext,
    resource: Resource,
) -> Result<Vec<FhirIssue>, Error> {
    let resource_type = type_name(&resource);
    let id = id_of(&resource);
    let plan = match id.as_deref() {
        Some(id) => service.locate(resource_type, id).await?,
        None => None,
    };
    let plan = match plan {
        Some(plan) => plan,
        None => match patient_reference(&resource) {
            Some((reference, element)) => {
                plan_of_patient(service, reference, resource_type, element).await?
            }
            None => {
                return Err(refused(vec![error_issue(
                    "not-supported",
                    resource_type,
                    id,
                    resource_type,
                    "a Patient, Practitioner or Organization is validated with its plan: send \
                     a transaction Bundle",
                )]))
            }
        },
    };
    let written = service
        .prepare(
            context,
            PlanChange {
                plan: Some(plan),
                resources: vec![resource],
                ..Default::default()
            },
        )
        .await?;
    Ok(written.warnings)
}
