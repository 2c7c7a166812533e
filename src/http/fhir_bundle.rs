//! `POST /fhir` with a `transaction` or `batch` Bundle. A transaction changes one person's plan
//! all or nothing: its entries (POST, PUT with `ifMatch`, DELETE) are laid over the plan together,
//! `urn:uuid:` references between entries are resolved to the ids the server gives, and one new
//! version is stored, or nothing is. A batch runs each entry on its own, as the single
//! interactions would, and reports each entry's outcome.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use fhirbolt::model::r4::Resource;
use serde_json::{json, Value};

use super::access;
use super::body::FhirBody;
use super::fhir::{fail, rendering};
use super::fhir_write::{
    create_part, deletion, if_match, patient_reference, plan_of_patient, prefer, refused, Return,
};
use crate::auth::Permission;
use crate::domain::PlanId;
use crate::error::{Error, FhirError};
use crate::fhir::format::{render, Format};
use crate::fhir::inverse::FhirIssue;
use crate::fhir::outcome::{operation_outcome, outcome_of};
use crate::fhir::parse::{parse_resource, resource_from_value, unreadable};
use crate::fhir::write::{error_issue, id_of, set_id, type_name, writable_type};
use crate::fhir::{project, to_json};
use crate::service::{PlanService, WriteContext};
use crate::writes::{PlanChange, Written};

/// One entry of the request Bundle, read.
struct Entry {
    method: String,
    resource_type: &'static str,
    /// The id in the URL (PUT, DELETE) or given by the server (POST of a Consent).
    id: Option<String>,
    if_match: Option<u32>,
    resource: Option<Resource>,
}

fn entry_issue(
    index: usize,
    code: &'static str,
    element: &str,
    message: impl Into<String>,
) -> FhirIssue {
    error_issue(
        code,
        "Bundle",
        None,
        format!("Bundle.entry[{index}].{element}"),
        message,
    )
}

fn permission(method: &str) -> Permission {
    match method {
        "POST" => Permission::Create,
        "PUT" => Permission::Update,
        "DELETE" => Permission::Delete,
        _ => Permission::Read,
    }
}

fn read_bundle(body: &FhirBody) -> Result<Value, Error> {
    let value = match body.format {
        Format::Json => serde_json::from_slice::<Value>(&body.bytes)
            .map_err(|e| unreadable(format!("malformed JSON: {e}")))?,
        Format::Xml => {
            let resource = parse_resource(&body.bytes, Format::Xml)?;
            to_json(&resource).map_err(Error::Internal)?
        }
    };
    if value["resourceType"] != "Bundle" {
        return Err(unreadable(
            "POST /fhir takes a Bundle of type transaction or batch",
        ));
    }
    Ok(value)
}

/// Replaces every `reference` that names a key of `ids` (a `urn:uuid:` fullUrl).
fn rewrite_references(value: &mut Value, ids: &HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "reference" {
                    if let Some(target) = child.as_str().and_then(|r| ids.get(r)) {
                        *child = Value::String(target.clone());
                    }
                } else {
                    rewrite_references(child, ids);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_references(item, ids)),
        _ => {}
    }
}

/// `POST /fhir`.
pub async fn bundle(
    service: web::Data<PlanService>,
    request: HttpRequest,
    body: FhirBody,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(&request)?;
    let fail = fail(rendering);
    let value = read_bundle(&body).map_err(&fail)?;
    let response = match value["type"].as_str() {
        Some("transaction") => transaction(&service, &request, value).await,
        Some("batch") => batch(&service, &request, value).await,
        _ => Err(refused(vec![error_issue(
            "not-supported",
            "Bundle",
            None,
            "Bundle.type",
            "POST /fhir takes a Bundle of type transaction or batch",
        )])
        .into_unreadable()),
    }
    .map_err(&fail)?;
    let resource = resource_from_value(&response, "").map_err(&fail)?;
    let bytes = render(&resource, rendering).map_err(&fail)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, rendering.format.content_type()))
        .body(bytes))
}

trait Unreadable {
    fn into_unreadable(self) -> Self;
}

impl Unreadable for Error {
    fn into_unreadable(self) -> Self {
        match self {
            Error::FhirInvalid { issues, .. } => Error::FhirInvalid {
                unreadable: true,
                issues,
            },
            other => other,
        }
    }
}

/// Reads the entries: request method and URL, If-Match, the resource with `urn:uuid:`
/// references resolved to server ids.
fn read_entries(value: &Value) -> Result<Vec<Entry>, Error> {
    let raw = value["entry"].as_array().cloned().unwrap_or_default();
    let mut issues = Vec::new();
    // Server ids for the entries created here.
    let mut ids: HashMap<String, String> = HashMap::new();
    for entry in &raw {
        let full_url = entry["fullUrl"].as_str().unwrap_or_default();
        let method = entry["request"]["method"].as_str().unwrap_or_default();
        let resource_type = entry["resource"]["resourceType"]
            .as_str()
            .unwrap_or_default();
        if method == "POST" && full_url.starts_with("urn:uuid:") {
            let id = if resource_type == "Consent" {
                uuid::Uuid::new_v4().to_string()
            } else {
                format!("new-{}", uuid::Uuid::new_v4())
            };
            ids.insert(full_url.to_owned(), format!("{resource_type}/{id}"));
        }
    }
    let mut entries = Vec::new();
    for (index, entry) in raw.iter().enumerate() {
        let method = entry["request"]["method"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let url = entry["request"]["url"].as_str().unwrap_or_default();
        let path = url.split('?').next().unwrap_or_default().trim_matches('/');
        let mut parts = path.split('/');
        let type_part = parts.next().unwrap_or_default();
        let id_part = parts.next().map(str::to_owned);
        let Some(resource_type) = writable_type(type_part) else {
            issues.push(entry_issue(
                index,
                "not-supported",
                "request.url",
                format!("`{url}` is not a plan resource this server writes"),
            ));
            continue;
        };
        let if_match = match if_match(entry["request"]["ifMatch"].as_str()) {
            Ok(v) => v,
            Err(_) => {
                issues.push(entry_issue(
                    index,
                    "value",
                    "request.ifMatch",
                    "must be an ETag such as W/\"3\"",
                ));
                continue;
            }
        };
        let mut id = id_part;
        let resource = match method.as_str() {
            "POST" | "PUT" => {
                let mut resource_value = entry["resource"].clone();
                if resource_value.is_null() {
                    issues.push(entry_issue(
                        index,
                        "required",
                        "resource",
                        "a POST or PUT entry needs its resource",
                    ));
                    continue;
                }
                rewrite_references(&mut resource_value, &ids);
                let parsed = match resource_from_value(
                    &resource_value,
                    &format!("Bundle.entry[{index}].resource"),
                ) {
                    Ok(r) => r,
                    Err(Error::FhirInvalid { issues: found, .. }) => {
                        issues.extend(found);
                        continue;
                    }
                    Err(other) => return Err(other),
                };
                if type_name(&parsed) != resource_type {
                    issues.push(entry_issue(
                        index,
                        "invalid",
                        "resource.resourceType",
                        format!(
                            "the resource is a {}, the URL names {resource_type}",
                            type_name(&parsed)
                        ),
                    ));
                    continue;
                }
                let mut parsed = parsed;
                if method == "POST" {
                    let full_url = entry["fullUrl"].as_str().unwrap_or_default();
                    let assigned = ids
                        .get(full_url)
                        .and_then(|r| r.split_once('/'))
                        .map(|(_, id)| id.to_owned())
                        .unwrap_or_else(|| {
                            if resource_type == "Consent" {
                                uuid::Uuid::new_v4().to_string()
                            } else {
                                format!("new-{}", uuid::Uuid::new_v4())
                            }
                        });
                    set_id(&mut parsed, &assigned);
                    id = Some(assigned);
                } else if id_of(&parsed) != id {
                    issues.push(entry_issue(
                        index,
                        "invalid",
                        "resource.id",
                        "the resource's id must be the id in request.url",
                    ));
                    continue;
                }
                Some(parsed)
            }
            "DELETE" => None,
            other => {
                issues.push(entry_issue(
                    index,
                    "not-supported",
                    "request.method",
                    format!("`{other}` entries are not supported here (POST, PUT, DELETE)"),
                ));
                continue;
            }
        };
        if method != "POST" && id.is_none() {
            issues.push(entry_issue(
                index,
                "required",
                "request.url",
                "PUT and DELETE name Type/id",
            ));
            continue;
        }
        entries.push(Entry {
            method,
            resource_type,
            id,
            if_match,
            resource,
        });
    }
    if issues.is_empty() {
        Ok(entries)
    } else {
        Err(refused(issues))
    }
}

fn rebase(issues: Vec<FhirIssue>, entries: &[Entry]) -> Vec<FhirIssue> {
    issues
        .into_iter()
        .map(|mut issue| {
            let index = entries.iter().position(|e| {
                e.resource_type == issue.resource_type
                    && issue.resource_id.is_some()
                    && e.id == issue.resource_id
            });
            let index = index.or_else(|| {
                let of_type: Vec<usize> = entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.resource_type == issue.resource_type)
                    .map(|(i, _)| i)
                    .collect();
                (of_type.len() == 1).then(|| of_type[0])
            });
            if let Some(index) = index {
                if let Some(rest) = issue.expression.strip_prefix(issue.resource_type) {
                    issue.expression = format!("Bundle.entry[{index}].resource{rest}");
                }
            }
            issue
        })
        .collect()
}

/// The plan a transaction entry changes: Some(plan), or None for the plan it creates.
async fn target_of(
    service: &PlanService,
    entry: &Entry,
    index: usize,
) -> Result<Option<PlanId>, Error> {
    if entry.method != "POST" {
        let id = entry.id.as_deref().unwrap_or_default();
        return service
            .locate(entry.resource_type, id)
            .await?
            .map(Some)
            .ok_or_else(|| {
                refused(vec![entry_issue(
                    index,
                    "not-found",
                    "request.url",
                    format!("{}/{id} is not known", entry.resource_type),
                )])
            });
    }
    let Some(resource) = &entry.resource else {
        return Ok(None);
    };
    match patient_reference(resource) {
        Some((reference, element)) => {
            let points_new = reference
                .and_then(|r| r.reference.as_ref())
                .and_then(|r| r.value.as_deref())
                .is_some_and(|r| r.starts_with("Patient/new-"));
            if points_new {
                Ok(None)
            } else {
                plan_of_patient(service, reference, entry.resource_type, element)
                    .await
                    .map(Some)
            }
        }
        None => Ok(None),
    }
}

async fn transaction(
    service: &PlanService,
    request: &HttpRequest,
    value: Value,
) -> Result<Value, Error> {
    let principal = access::principal(request)?;
    let entries = read_entries(&value)?;
    if entries.is_empty() {
        return Err(refused(vec![error_issue(
            "required",
            "Bundle",
            None,
            "Bundle.entry",
            "the transaction has no entries",
        )]));
    }
    for entry in &entries {
        principal.require(entry.resource_type, permission(&entry.method))?;
    }
    // One plan per transaction: every entry must land in the same one.
    let mut plan: Option<Option<PlanId>> = None;
    let mut standalone = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let defines = entry.method != "POST"
            || entry
                .resource
                .as_ref()
                .is_some_and(|r| patient_reference(r).is_some())
            || entry.resource_type == "Patient";
        if !defines {
            standalone.push(index);
            continue;
        }
        let target = target_of(service, entry, index).await?;
        match plan {
            None => plan = Some(target),
            Some(chosen) if chosen == target => {}
            Some(_) => {
                return Err(refused(vec![entry_issue(index, "business-rule", "request", "a transaction changes one person's plan; send other people's plans in their own transactions (or use a batch)")]))
            }
        }
    }
    let plan = plan.flatten();
    let mut expected = None;
    let mut change = PlanChange {
        plan,
        ..Default::default()
    };
    for (index, entry) in entries.iter().enumerate() {
        match entry.method.as_str() {
            "PUT" if entry.if_match.is_none() => return Err(Error::PreconditionRequired),
            "DELETE" => {
                let id = entry.id.clone().unwrap_or_default();
                let Some(plan) = plan else { continue };
                let deleted = deletion(entry.resource_type, &id, plan)?;
                change.delete_plan |= deleted.delete_plan;
                change.entered_in_error.extend(deleted.entered_in_error);
            }
            _ => {}
        }
        if let Some(version) = entry.if_match {
            match expected {
                None => expected = Some(version),
                Some(v) if v == version => {}
                Some(_) => {
                    return Err(refused(vec![entry_issue(
                        index,
                        "conflict",
                        "request.ifMatch",
                        "every entry of one transaction must name the same plan version",
                    )]))
                }
            }
        }
        if let Some(resource) = &entry.resource {
            change.resources.push(resource.clone());
        }
    }
    change.expected_version = expected;
    let context = access::write_context(request)?;
    let written = service
        .write(&context, change)
        .await
        .map_err(|error| match error {
            Error::FhirInvalid { unreadable, issues } => Error::FhirInvalid {
                unreadable,
                issues: rebase(issues, &entries),
            },
            other => other,
        })?;
    access::committed(request);
    let _ = standalone;
    response_bundle("transaction-response", request, &entries, &written)
}

fn response_bundle(
    kind: &str,
    request: &HttpRequest,
    entries: &[Entry],
    written: &Written,
) -> Result<Value, Error> {
    let after = project(&written.record);
    let version = written.record.version;
    let last_modified = crate::fhir::support::instant(&written.record.last_updated);
    // New parts of each type, in the order the projection lists them, for POST entries whose
    // id the server derives.
    let mut fresh: HashMap<&str, Vec<String>> = HashMap::new();
    let before: Vec<(String, String)> = written
        .before
        .as_ref()
        .map(|b| {
            project(b)
                .keys()
                .into_iter()
                .map(|k| (k.resource_type.to_owned(), k.id))
                .collect()
        })
        .unwrap_or_default();
    for key in after.keys() {
        if !before
            .iter()
            .any(|(t, id)| t == key.resource_type && id == &key.id)
        {
            fresh.entry(key.resource_type).or_default().push(key.id);
        }
    }
    let representation = prefer(request) != Return::Minimal;
    let mut out = Vec::new();
    for entry in entries {
        let id = match entry.method.as_str() {
            "POST" => match entry.resource_type {
                "CarePlan" => Some(after_id(&after.care_plan.id)),
                "Patient" => Some(after_id(&after.patient.id)),
                other => entry
                    .id
                    .clone()
                    .filter(|id| after.find(other, id).is_some())
                    .or_else(|| {
                        let list = fresh.get_mut(other)?;
                        (!list.is_empty()).then(|| list.remove(0))
                    }),
            },
            _ => entry.id.clone(),
        };
        let status = match entry.method.as_str() {
            "POST" => "201 Created",
            "DELETE" => "204 No Content",
            _ => "200 OK",
        };
        let mut response = json!({
            "status": status,
            "etag": format!("W/\"{version}\""),
            "lastModified": last_modified,
        });
        let mut item = json!({});
        if let Some(id) = &id {
            response["location"] =
                json!(format!("{}/{id}/_history/{version}", entry.resource_type));
            item["fullUrl"] = json!(format!(
                "{}/{}/{id}",
                super::fhir::base_url(request),
                entry.resource_type
            ));
            if representation && entry.method != "DELETE" {
                if let Some(resource) = after.find(entry.resource_type, id) {
                    item["resource"] = to_json(&resource).map_err(Error::Internal)?;
                }
            }
        }
        item["response"] = response;
        out.push(item);
    }
    Ok(json!({
        "resourceType": "Bundle",
        "type": kind,
        "entry": out,
    }))
}

fn after_id(id: &Option<fhirbolt::model::r4::types::Id>) -> String {
    id.as_ref()
        .and_then(|i| i.value.clone())
        .unwrap_or_default()
}

fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
}

async fn batch_entry(
    service: &PlanService,
    request: &HttpRequest,
    context: &WriteContext,
    entry: Entry,
) -> Result<(StatusCode, Option<String>, Written), Error> {
    access::principal(request)?.require(entry.resource_type, permission(&entry.method))?;
    match entry.method.as_str() {
        "POST" => {
            let resource = entry
                .resource
                .ok_or_else(|| Error::bad_field("resource", "missing"))?;
            let sent = if entry.resource_type == "Consent" {
                entry.id.clone()
            } else {
                None
            };
            let mut resource = resource;
            if let Some(id) = &sent {
                set_id(&mut resource, id);
            }
            let (written, id) = create_part(service, context, resource).await?;
            Ok((StatusCode::CREATED, id, written))
        }
        "PUT" => {
            let id = entry.id.clone().unwrap_or_default();
            let expected = entry.if_match.ok_or(Error::PreconditionRequired)?;
            let plan = service
                .locate(entry.resource_type, &id)
                .await?
                .ok_or_else(|| {
                    Error::NotFound(format!("{}/{id} is not known", entry.resource_type))
                })?;
            let written = service
                .write(
                    context,
                    PlanChange {
                        plan: Some(plan),
                        expected_version: Some(expected),
                        resources: entry.resource.into_iter().collect(),
                        ..Default::default()
                    },
                )
                .await?;
            Ok((StatusCode::OK, Some(id), written))
        }
        _ => {
            let id = entry.id.clone().unwrap_or_default();
            let plan = service
                .locate(entry.resource_type, &id)
                .await?
                .ok_or_else(|| {
                    Error::NotFound(format!("{}/{id} is not known", entry.resource_type))
                })?;
            let mut change = deletion(entry.resource_type, &id, plan)?;
            change.expected_version = entry.if_match;
            let written = service.write(context, change).await?;
            Ok((StatusCode::NO_CONTENT, Some(id), written))
        }
    }
}

/// The batch-response entry of an entry that failed: its status and OperationOutcome, with
/// FHIRPaths pointing into the request Bundle.
fn error_entry(error: Error, index: usize) -> Result<Value, Error> {
    let error = match error {
        Error::FhirInvalid { unreadable, issues } => Error::FhirInvalid {
            unreadable,
            issues: issues
                .into_iter()
                .map(|mut issue| {
                    let rest = issue
                        .expression
                        .strip_prefix("Bundle.entry[0]")
                        .map(str::to_owned)
                        .or_else(|| {
                            issue
                                .expression
                                .strip_prefix(issue.resource_type)
                                .map(|r| format!(".resource{r}"))
                        });
                    if let Some(rest) = rest {
                        issue.expression = format!("Bundle.entry[{index}]{rest}");
                    }
                    issue
                })
                .collect(),
        },
        other => other,
    };
    let status = actix_web::ResponseError::status_code(&error);
    let outcome = Resource::OperationOutcome(Box::new(operation_outcome(&error)));
    Ok(json!({
        "response": {
            "status": status_line(status),
            "outcome": to_json(&outcome).map_err(Error::Internal)?,
        }
    }))
}

/// A batch's GET entry: a read (`Type/id`), a vread (`Type/id/_history/n`) or a search
/// (`Type?…`) of the plan resources, each under the client's read or search scope and the
/// plan's consent to share, as the single interactions are.
async fn batch_get(
    service: &PlanService,
    request: &HttpRequest,
    url: &str,
) -> Result<Value, Error> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let principal = access::principal(request)?;
    let entry_of =
        |resource: &Resource, record: &crate::domain::PlanRecord| -> Result<Value, Error> {
            Ok(json!({
                "resource": to_json(resource).map_err(Error::Internal)?,
                "response": {
                    "status": status_line(StatusCode::OK),
                    "etag": format!("W/\"{}\"", record.version),
                    "lastModified": crate::fhir::support::instant(&record.last_updated),
                }
            }))
        };
    match parts.as_slice() {
        [resource_type] if !resource_type.is_empty() => {
            principal.require(resource_type, Permission::Search)?;
            let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let bundle =
                super::fhir_search::searchset(service, request, resource_type, params).await?;
            Ok(json!({
                "resource": bundle,
                "response": { "status": status_line(StatusCode::OK) }
            }))
        }
        [resource_type, id] if query.is_empty() => {
            principal.require(resource_type, Permission::Read)?;
            let (resource, record) =
                super::fhir::read_resource(service, request, resource_type, id).await?;
            entry_of(&resource, &record)
        }
        [resource_type, id, "_history", version] if query.is_empty() => {
            principal.require(resource_type, Permission::Read)?;
            let (resource, record) =
                super::fhir::vread_resource(service, request, resource_type, id, version).await?;
            entry_of(&resource, &record)
        }
        _ => Err(Error::bad_field(
            "request.url",
            format!(
                "`{url}`: a batch GET reads (Type/id, Type/id/_history/n) or searches (Type?…) \
                 the plan resources"
            ),
        )),
    }
}

async fn batch(service: &PlanService, request: &HttpRequest, value: Value) -> Result<Value, Error> {
    let raw = value["entry"].as_array().cloned().unwrap_or_default();
    let mut context = access::write_context(request)?;
    // Each entry is its own change; the request's one audit record is written by the guard
    // with every patient the entries touched.
    context.audit = None;
    let representation = prefer(request) != Return::Minimal;
    let mut out = Vec::new();
    for (index, item) in raw.into_iter().enumerate() {
        if item["request"]["method"] == "GET" {
            let url = item["request"]["url"].as_str().unwrap_or_default();
            let response = match batch_get(service, request, url).await {
                Ok(entry) => entry,
                Err(error) => error_entry(error, index)?,
            };
            out.push(response);
            continue;
        }
        let single = json!({ "resourceType": "Bundle", "type": "batch", "entry": [item] });
        let result = match read_entries(&single) {
            Ok(mut entries) if entries.len() == 1 => {
                let entry = entries.remove(0);
                let resource_type = entry.resource_type;
                batch_entry(service, request, &context, entry)
                    .await
                    .map(|r| (resource_type, r))
            }
            Ok(_) => Err(Error::bad_field("entry", "unreadable entry")),
            Err(error) => Err(error),
        };
        let response = match result {
            Ok((resource_type, (status, id, written))) => {
                access::note_shown(request, &written.record);
                let version = written.record.version;
                let mut entry = json!({
                    "response": {
                        "status": status_line(status),
                        "etag": format!("W/\"{version}\""),
                        "lastModified": crate::fhir::support::instant(&written.record.last_updated),
                    }
                });
                if let Some(id) = id {
                    if status != StatusCode::NO_CONTENT {
                        entry["response"]["location"] =
                            json!(format!("{resource_type}/{id}/_history/{version}"));
                    }
                    if representation && status != StatusCode::NO_CONTENT {
                        if let Some(resource) = project(&written.record).find(resource_type, &id) {
                            entry["resource"] = to_json(&resource).map_err(Error::Internal)?;
                        }
                    }
                }
                entry
            }
            Err(error) => error_entry(error, index)?,
        };
        out.push(response);
    }
    let _ = outcome_of;
    Ok(json!({ "resourceType": "Bundle", "type": "batch-response", "entry": out }))
}
