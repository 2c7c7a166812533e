//! FHIR search over HTTP: `GET /fhir/{type}?…` and `POST /fhir/{type}/_search` (form body, so
//! NHS numbers stay out of URLs and logs). Candidates are the person's plans when the query
//! names a patient, every plan otherwise; each candidate plan is projected and its resources
//! tested with [`SearchQuery::matches`]. Results are sorted, paged with stable `next` and
//! `previous` links, shaped (`_summary`, `_elements`), and `_include`d / `_revinclude`d from
//! the same plan, as a `searchset` Bundle.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use fhirbolt::element::{Element, FhirReleases};
use fhirbolt::serde::{DeserializationConfig, DeserializationMode};
use serde_json::{json, Value};

use super::access;
use super::fhir::{base_url, fail, known_type, query_pairs, rendering};
use crate::domain::{NhsNumber, PlanRecord};
use crate::error::{Error, FhirError};
use crate::fhir::format::{Format, Rendering};
use crate::fhir::provenance::{parse_provenance_id, provenances, PROVENANCE};
use crate::fhir::search::{parse, PatientHint, Resolver, SearchQuery, SummaryMode};
use crate::fhir::{project, to_json, RESOURCE_TYPES};
use crate::service::PlanService;
use fhirbolt::model::r4::Resource;

const PAGE: u32 = 500;

/// One plan's resources as JSON, by `Type/id`, for matching and includes.
struct PlanResources {
    by_reference: BTreeMap<String, Value>,
}

impl Resolver for PlanResources {
    fn resolve(&self, reference: &str) -> Option<&Value> {
        self.by_reference.get(unversioned(reference))
    }
}

/// `Type/id` of a reference (relative, absolute or version-specific).
fn unversioned(reference: &str) -> &str {
    let mut rest = reference;
    if let Some((before, version)) = rest.rsplit_once("/_history/") {
        if !version.is_empty() && !version.contains('/') {
            rest = before;
        }
    }
    let mut cut = rest.len();
    for _ in 0..2 {
        match rest[..cut].rfind('/') {
            Some(slash) => cut = slash,
            None => return rest,
        }
    }
    &rest[cut + 1..]
}

/// Adds the plan's Provenance (one per version, from its history) to its resources.
async fn add_provenance(
    service: &PlanService,
    plan: &mut PlanResources,
    record: &PlanRecord,
) -> Result<(), Error> {
    let history = service.history(record.id).await?;
    for provenance in provenances(&history) {
        let value =
            to_json(&Resource::Provenance(Box::new(provenance))).map_err(Error::Internal)?;
        let key = format!("{PROVENANCE}/{}", value["id"].as_str().unwrap_or_default());
        plan.by_reference.insert(key, value);
    }
    Ok(())
}

fn plan_resources(record: &PlanRecord) -> Result<PlanResources, Error> {
    let mut by_reference = BTreeMap::new();
    for resource in project(record).into_resources() {
        let value = to_json(&resource).map_err(Error::Internal)?;
        let key = format!(
            "{}/{}",
            value["resourceType"].as_str().unwrap_or_default(),
            value["id"].as_str().unwrap_or_default()
        );
        by_reference.insert(key, value);
    }
    Ok(PlanResources { by_reference })
}

fn lenient(request: &HttpRequest) -> bool {
    request
        .headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split([',', ';']).any(|p| p.trim() == "handling=lenient"))
}

async fn candidates(service: &PlanService, query: &SearchQuery) -> Result<Vec<PlanRecord>, Error> {
    match query.patient_hint() {
        Some(PatientHint::NhsNumber(number)) => {
            let nhs = NhsNumber::parse(&number)
                .map_err(|e| Error::bad_field("patient", e.to_string()))?;
            service.plans_for_person(&nhs).await
        }
        Some(PatientHint::PatientId(id)) => match service.locate("Patient", &id).await? {
            Some(plan) => Ok(vec![service.get(plan).await?]),
            None => Ok(Vec::new()),
        },
        Some(PatientHint::Resource { resource_type, id }) => {
            let plan = if resource_type == PROVENANCE {
                parse_provenance_id(&id).map(|(plan, _)| plan)
            } else if RESOURCE_TYPES.contains(&resource_type.as_str()) {
                service.locate(&resource_type, &id).await?
            } else {
                None
            };
            match plan {
                Some(plan) => match service.get(plan).await {
                    Ok(record) => Ok(vec![record]),
                    Err(Error::NotFound(_)) => Ok(Vec::new()),
                    Err(other) => Err(other),
                },
                None => Ok(Vec::new()),
            }
        }
        None if query.resource_type == PROVENANCE => Err(Error::bad_field(
            "target",
            "a Provenance search names what it is about: target=Type/id (or entity=, \
             patient=Patient/id, patient:identifier=, _id=)",
        )),
        None => {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = service.list(after, PAGE, true).await?;
                let full = page.len() == PAGE as usize;
                after = page.last().map(|r| r.id);
                all.extend(page);
                if !full {
                    break;
                }
            }
            Ok(all)
        }
    }
}

struct Found {
    matches: Vec<(usize, Value)>,
    plans: Vec<PlanResources>,
    withheld: usize,
}

async fn run(
    service: &PlanService,
    request: &HttpRequest,
    query: &SearchQuery,
) -> Result<Found, Error> {
    let mut found = candidates(service, query).await?;
    if query.patient_hint().is_none() {
        // A search across everyone says a plan was withheld only when it held a match: that
        // some unrelated person withdrew consent is none of this searcher's business.
        found = found
            .into_iter()
            .map(|record| {
                if !access::withdrawn(&record) {
                    return Ok(Some(record));
                }
                let plan = plan_resources(&record)?;
                let prefix = format!("{}/", query.resource_type);
                let matches = plan.by_reference.iter().any(|(key, resource)| {
                    key.starts_with(&prefix) && query.matches(resource, &plan)
                });
                Ok(matches.then_some(record))
            })
            .filter_map(Result::transpose)
            .collect::<Result<_, Error>>()?;
    }
    let (records, withheld) = access::shareable(request, found);
    let mut plans: Vec<PlanResources> = records
        .iter()
        .map(plan_resources)
        .collect::<Result<_, _>>()?;
    let provenance_search = query.resource_type == PROVENANCE;
    if provenance_search {
        for (plan, record) in plans.iter_mut().zip(&records) {
            add_provenance(service, plan, record).await?;
        }
    }
    let prefix = format!("{}/", query.resource_type);
    let mut matches = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        for (key, resource) in &plan.by_reference {
            if key.starts_with(&prefix) && query.matches(resource, plan) {
                matches.push((index, resource.clone()));
            }
        }
    }
    matches.sort_by(|(_, a), (_, b)| query.compare(a, b));
    // `_revinclude=Provenance:…`: the histories of the plans on this page only.
    let provenance_revinclude = query.revinclude.iter().any(|i| i.source_type == PROVENANCE);
    if provenance_revinclude && !provenance_search && query.summary != SummaryMode::Count {
        let on_page: BTreeSet<usize> = matches
            .iter()
            .skip(query.offset)
            .take(query.count)
            .map(|(index, _)| *index)
            .collect();
        for index in on_page {
            if let (Some(plan), Some(record)) = (plans.get_mut(index), records.get(index)) {
                add_provenance(service, plan, record).await?;
            }
        }
    }
    let shown: BTreeSet<usize> = matches.iter().map(|(index, _)| *index).collect();
    for index in shown {
        access::note_shown(request, &records[index]);
    }
    Ok(Found {
        matches,
        plans,
        withheld,
    })
}

fn link(base: &str, query: &SearchQuery, relation: &str, offset: usize) -> Value {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &query.link_parameters {
        pairs.append_pair(name, value);
    }
    if offset > 0 {
        pairs.append_pair("_offset", &offset.to_string());
    }
    let encoded = pairs.finish();
    let url = if encoded.is_empty() {
        format!("{base}/{}", query.resource_type)
    } else {
        format!("{base}/{}?{encoded}", query.resource_type)
    };
    json!({ "relation": relation, "url": url })
}

fn entry(base: &str, resource: Value, mode: &str) -> Value {
    let full_url = format!(
        "{base}/{}/{}",
        resource["resourceType"].as_str().unwrap_or_default(),
        resource["id"].as_str().unwrap_or_default()
    );
    json!({ "fullUrl": full_url, "resource": resource, "search": { "mode": mode } })
}

/// The searchset Bundle as JSON.
fn bundle(base: &str, query: &SearchQuery, found: Found) -> Value {
    let total = found.matches.len();
    let mut links = vec![link(base, query, "self", query.offset)];
    if query.summary != SummaryMode::Count && query.offset + query.count < total && query.count > 0
    {
        links.push(link(base, query, "next", query.offset + query.count));
    }
    if query.offset > 0 {
        links.push(link(
            base,
            query,
            "previous",
            query.offset.saturating_sub(query.count),
        ));
    }
    let mut entries = Vec::new();
    if query.summary != SummaryMode::Count {
        let page: Vec<&(usize, Value)> = found
            .matches
            .iter()
            .skip(query.offset)
            .take(query.count)
            .collect();
        let mut seen: HashSet<String> = page
            .iter()
            .map(|(_, r)| {
                format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap_or_default(),
                    r["id"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let mut included = Vec::new();
        for (plan_index, resource) in &page {
            let plan = &found.plans[*plan_index];
            for include in &query.include {
                for reference in
                    SearchQuery::references(&include.source_type, &include.parameter, resource)
                {
                    if let Some(target) = plan.resolve(&reference) {
                        let key = format!(
                            "{}/{}",
                            target["resourceType"].as_str().unwrap_or_default(),
                            target["id"].as_str().unwrap_or_default()
                        );
                        let type_ok = include
                            .target_type
                            .as_deref()
                            .is_none_or(|t| target["resourceType"] == t);
                        if type_ok && seen.insert(key) {
                            included.push(target.clone());
                        }
                    }
                }
            }
            let me = format!(
                "{}/{}",
                resource["resourceType"].as_str().unwrap_or_default(),
                resource["id"].as_str().unwrap_or_default()
            );
            for include in &query.revinclude {
                let prefix = format!("{}/", include.source_type);
                for (key, other) in &plan.by_reference {
                    if !key.starts_with(&prefix) || seen.contains(key) {
                        continue;
                    }
                    let points_here =
                        SearchQuery::references(&include.source_type, &include.parameter, other)
                            .iter()
                            .any(|r| unversioned(r) == me);
                    if points_here {
                        seen.insert(key.clone());
                        included.push(other.clone());
                    }
                }
            }
        }
        entries.extend(
            page.into_iter()
                .map(|(_, r)| entry(base, query.shape(r.clone()), "match")),
        );
        entries.extend(included.into_iter().map(|r| entry(base, r, "include")));
    }
    if found.withheld > 0 {
        entries.push(json!({
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{
                    "severity": "information",
                    "code": "suppressed",
                    "diagnostics": format!(
                        "{} plan(s) not returned: {}",
                        found.withheld,
                        access::WITHHELD
                    ),
                }],
            },
            "search": { "mode": "outcome" }
        }));
    }
    if !query.ignored.is_empty() {
        let issues: Vec<Value> = query
            .ignored
            .iter()
            .map(|name| json!({
                "severity": "warning",
                "code": "not-supported",
                "diagnostics": format!("search parameter `{name}` is not supported and was ignored (Prefer: handling=lenient)"),
                "expression": [name],
            }))
            .collect();
        entries.push(json!({
            "resource": { "resourceType": "OperationOutcome", "issue": issues },
            "search": { "mode": "outcome" }
        }));
    }
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    });
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    bundle
}

/// Writes a JSON resource in the negotiated format (XML through fhirbolt's element model, which
/// takes subsetted resources too).
fn write(bundle: &Value, rendering: Rendering) -> Result<Vec<u8>, Error> {
    let encoded = match (rendering.format, rendering.pretty) {
        (Format::Xml, _) => return xml(bundle),
        (Format::Json, true) => serde_json::to_vec_pretty(bundle),
        (Format::Json, false) => serde_json::to_vec(bundle),
    };
    encoded.map_err(|e| Error::Internal(format!("search bundle encoding: {e}")))
}

fn xml(bundle: &Value) -> Result<Vec<u8>, Error> {
    let converted = catch_unwind(AssertUnwindSafe(|| {
        let element: Element<{ FhirReleases::R4 }> = fhirbolt::json::from_json_value(
            bundle.clone(),
            Some(DeserializationConfig {
                mode: DeserializationMode::Lax,
            }),
        )
        .map_err(|e| e.to_string())?;
        fhirbolt::xml::to_vec(&element, None).map_err(|e| e.to_string())
    }));
    match converted {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(message)) => Err(Error::Internal(format!("search bundle as XML: {message}"))),
        Err(_) => Err(Error::Internal(
            "search bundle as XML: the FHIR library failed".into(),
        )),
    }
}

/// The `searchset` Bundle (JSON) of a search of `resource_type` with `params`, as the request's
/// client may see it (also for a batch's GET entries).
pub(crate) async fn searchset(
    service: &PlanService,
    request: &HttpRequest,
    resource_type: &str,
    params: Vec<(String, String)>,
) -> Result<Value, Error> {
    if resource_type != PROVENANCE {
        known_type(resource_type)?;
    }
    let query = parse(resource_type, &params, lenient(request))?;
    let found = run(service, request, &query).await?;
    let bundle = bundle(&base_url(request), &query, found);
    // Everything returned must be readable: `_include` and `_revinclude` can bring in types
    // the search itself does not name.
    for entry in bundle["entry"].as_array().into_iter().flatten() {
        if entry["search"]["mode"] == "include" {
            if let Some(resource_type) = entry["resource"]["resourceType"].as_str() {
                access::require_read(request, resource_type)?;
            }
        }
    }
    Ok(bundle)
}

async fn search(
    service: &PlanService,
    request: &HttpRequest,
    resource_type: &str,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, FhirError> {
    let rendering = rendering(request)?;
    let bundle = searchset(service, request, resource_type, params)
        .await
        .map_err(fail(rendering))?;
    let body = write(&bundle, rendering).map_err(fail(rendering))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, rendering.format.content_type()))
        .body(body))
}

/// `GET /fhir/{type}?…`.
pub async fn search_get(
    service: web::Data<PlanService>,
    request: HttpRequest,
    resource_type: web::Path<String>,
) -> Result<HttpResponse, FhirError> {
    search(&service, &request, &resource_type, query_pairs(&request)).await
}

/// `POST /fhir/{type}/_search` with `application/x-www-form-urlencoded` parameters (URL
/// parameters are added to them).
pub async fn search_post(
    service: web::Data<PlanService>,
    request: HttpRequest,
    resource_type: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, FhirError> {
    let form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form && !body.is_empty() {
        let rendering = rendering(&request)?;
        return Err(fail(rendering)(Error::UnsupportedMediaType));
    }
    let mut params = query_pairs(&request);
    params.extend(url::form_urlencoded::parse(&body).into_owned());
    let mut all = url::form_urlencoded::Serializer::new(String::new());
    all.extend_pairs(&params);
    access::note_query(&request, all.finish());
    search(&service, &request, &resource_type, params).await
}

/// The resources of `resource_type` that `criteria` (a query string, as in `If-None-Exist`)
/// matches, each with its plan's current version. Withdrawn-consent plans count as matches:
/// a conditional create must not make a second plan part because one is hidden.
pub(crate) async fn matching(
    service: &PlanService,
    request: &HttpRequest,
    resource_type: &str,
    criteria: &str,
) -> Result<Vec<(String, PlanRecord)>, Error> {
    let criteria = criteria.split_once('?').map_or(criteria, |(_, q)| q);
    let params: Vec<(String, String)> = url::form_urlencoded::parse(criteria.as_bytes())
        .into_owned()
        .collect();
    if params.is_empty() {
        return Err(Error::bad_field(
            "If-None-Exist",
            "give search criteria, e.g. identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018",
        ));
    }
    let query = parse(resource_type, &params, false)?;
    let _ = request;
    let records = candidates(service, &query).await?;
    let prefix = format!("{resource_type}/");
    let mut found = Vec::new();
    for record in records {
        let plan = plan_resources(&record)?;
        for (key, resource) in &plan.by_reference {
            if key.starts_with(&prefix) && query.matches(resource, &plan) {
                found.push((key[prefix.len()..].to_owned(), record.clone()));
            }
        }
    }
    Ok(found)
}
