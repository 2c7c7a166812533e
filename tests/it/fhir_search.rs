//! FHIR search over HTTP (`GET /fhir/{type}?…`, `POST /fhir/{type}/_search`) end to end: every
//! parameter the CapabilityStatement lists filters, with a value that matches and one that must
//! not; token, reference, date and string forms; paging by links; sorting; `_summary`,
//! `_elements`, `_include` and `_revinclude`; errors (strict and lenient) and XML; and the
//! hazards H1, H2, H3 and H7 of domain.md §6 held against searches.
//!
//! Expectations are computed from the fixtures' own projections (`fixtures/plans/*.json`
//! imported as they are), so the tests say which resources must come back, not merely how many.

use std::collections::{BTreeMap, BTreeSet};

use acp_fhir::domain::{ImportRecord, PlanRecord};
use acp_fhir::fhir::search::parameters;
use acp_fhir::fhir::{project, to_json};
use acp_fhir::http::fhir::CAPABILITIES;
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::{minimal_plan, spawn_app, test_nhs_numbers, test_now, with_override, TestApp};

const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const SNOMED: &str = "http://snomed.info/sct";
const CONSENT_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/consentcategorycodes";
const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const REGISTRATION: &str = "https://acp-fhir.example.org/fhir/Id/professional-registration";
const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const REVIEW_DATE: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/decision-review-date";
const SUBSETTED_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
/// An id no fixture uses.
const NO_SUCH_ID: &str = "00000000-0000-4000-8000-999999999999";
/// An NHS number with a wrong check digit (9990000018 is the valid one).
const BAD_CHECK_DIGIT: &str = "9990000017";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// One imported fixture: its record and the FHIR resources it projects to, as JSON.
struct Loaded {
    name: String,
    record: PlanRecord,
    resources: Vec<Value>,
}

impl Loaded {
    fn nhs(&self) -> String {
        self.record.plan.person.nhs_number.to_string()
    }

    fn of_type(&self, resource_type: &str) -> Vec<&Value> {
        self.resources
            .iter()
            .filter(|r| r["resourceType"] == resource_type)
            .collect()
    }

    fn first(&self, resource_type: &str) -> &Value {
        self.of_type(resource_type)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("fixture {} has no {resource_type}", self.name))
    }

    fn id_of(&self, resource_type: &str) -> String {
        id(self.first(resource_type))
    }

    fn patient_id(&self) -> String {
        self.id_of("Patient")
    }

    fn ids(&self, resource_type: &str) -> BTreeSet<String> {
        self.of_type(resource_type).into_iter().map(id).collect()
    }
}

/// Every fixture of `fixtures/plans/`, in file-name order.
struct Fixtures {
    plans: Vec<Loaded>,
}

impl Fixtures {
    /// The fixture whose file name starts with `prefix` (`"01"`).
    fn plan(&self, prefix: &str) -> &Loaded {
        self.plans
            .iter()
            .find(|p| p.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no fixture {prefix}"))
    }

    fn all(&self, resource_type: &str) -> Vec<&Value> {
        self.plans
            .iter()
            .flat_map(|p| p.of_type(resource_type))
            .collect()
    }

    /// The ids of the fixture resources of `resource_type` that `keep` accepts.
    fn ids_where(&self, resource_type: &str, keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
        self.all(resource_type)
            .into_iter()
            .filter(|r| keep(r))
            .map(id)
            .collect()
    }
}

fn fixture_names() -> Vec<String> {
    let dir = format!("{}/fixtures/plans", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .map(|n| n.trim_end_matches(".json").to_owned())
        .collect();
    names.sort();
    names
}

/// Stores fixture `name` as it is (id, dates, version 1) and returns it with its projection.
async fn import_fixture(app: &TestApp, name: &str) -> Loaded {
    let path = format!("{}/fixtures/plans/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let line: ImportRecord = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let record = line.into_record(test_now(), "t").unwrap();
    app.store
        .create(&record, &project(&record).keys())
        .await
        .unwrap();
    let resources = project(&record)
        .resources()
        .iter()
        .map(|r| to_json(r).unwrap())
        .collect();
    Loaded {
        name: name.to_owned(),
        record,
        resources,
    }
}

/// Imports all the fixtures (14).
async fn load_fixtures(app: &TestApp) -> Fixtures {
    let mut plans = Vec::new();
    for name in fixture_names() {
        plans.push(import_fixture(app, &name).await);
    }
    assert!(plans.len() >= 14, "expected the 14 fixtures");
    Fixtures { plans }
}

// ---------------------------------------------------------------------------------------------
// Resource helpers (on JSON)
// ---------------------------------------------------------------------------------------------

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

fn key(resource: &Value) -> String {
    format!(
        "{}/{}",
        resource["resourceType"].as_str().unwrap(),
        resource["id"].as_str().unwrap()
    )
}

/// The items of `value[field]`, whether it is one object or an array.
fn items<'a>(value: &'a Value, field: &str) -> Vec<&'a Value> {
    match value.get(field) {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(one) => vec![one],
    }
}

/// The (system, code) pairs of a CodeableConcept element (or array of them).
fn codings(resource: &Value, field: &str) -> Vec<(String, String)> {
    items(resource, field)
        .into_iter()
        .flat_map(|concept| items(concept, "coding"))
        .map(|c| {
            (
                c["system"].as_str().unwrap_or_default().to_owned(),
                c["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn has_coding(resource: &Value, field: &str, system: &str, code: &str) -> bool {
    codings(resource, field)
        .iter()
        .any(|(s, c)| s == system && c == code)
}

fn has_code(resource: &Value, field: &str, code: &str) -> bool {
    codings(resource, field).iter().any(|(_, c)| c == code)
}

/// The `reference` strings of a Reference element (or array of them).
fn refs(resource: &Value, field: &str) -> Vec<String> {
    items(resource, field)
        .into_iter()
        .filter_map(|r| r["reference"].as_str().map(str::to_owned))
        .collect()
}

/// Every `reference` string anywhere in `value`.
fn all_references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (name, item) in map {
                if name == "reference" {
                    if let Some(text) = item.as_str() {
                        found.push(text.to_owned());
                    }
                }
                all_references(item, found);
            }
        }
        Value::Array(list) => list.iter().for_each(|i| all_references(i, found)),
        _ => {}
    }
}

/// The Patient references anywhere in a resource.
fn patient_references(resource: &Value) -> BTreeSet<String> {
    let mut found = Vec::new();
    all_references(resource, &mut found);
    found
        .into_iter()
        .filter(|r| r.starts_with("Patient/") || r.contains("/Patient/"))
        .collect()
}

/// Every extension with `url` anywhere in `value`.
fn extensions_with<'a>(value: &'a Value, url: &str, found: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if map.get("url").and_then(Value::as_str) == Some(url) {
                found.push(value);
            }
            map.values().for_each(|v| extensions_with(v, url, found));
        }
        Value::Array(list) => list.iter().for_each(|v| extensions_with(v, url, found)),
        _ => {}
    }
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A Consent's `dateTime` (all fixture Consents carry a plain date).
fn consent_date(consent: &Value) -> NaiveDate {
    let text = consent["dateTime"].as_str().unwrap();
    assert_eq!(text.len(), 10, "fixture Consent dates are dates: {text}");
    day(text)
}

fn last_updated(resource: &Value) -> DateTime<Utc> {
    resource["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn has_subsetted_tag(resource: &Value) -> bool {
    items(&resource["meta"], "tag")
        .iter()
        .any(|t| t["system"] == SUBSETTED_SYSTEM && t["code"] == "SUBSETTED")
}

/// The name parts the `name` parameter reads, lower-cased (fixture names are ASCII but for
/// Wójcik, which the tests name explicitly).
fn name_parts(patient: &Value) -> Vec<String> {
    let mut parts = Vec::new();
    for name in items(patient, "name") {
        for field in ["family", "text", "prefix", "suffix", "given"] {
            for part in items(name, field) {
                if let Some(text) = part.as_str() {
                    parts.push(text.to_lowercase());
                }
            }
        }
    }
    parts
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

fn nhs_token(number: &str) -> String {
    format!("{NHS_SYSTEM}|{number}")
}

/// A valid NHS number that no fixture uses.
fn unknown_nhs() -> String {
    test_nhs_numbers().nth(500).unwrap()
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Asserts the status and a FHIR JSON body, and returns the body.
async fn fhir_json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let kind = content_type(&response);
    let url = response.url().to_string();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status for {url}; body: {text}");
    assert!(
        kind.starts_with("application/fhir+json"),
        "content-type {kind:?}; body: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// Asserts an OperationOutcome in JSON with `status`, whose first issue has `code`.
async fn expect_outcome(response: Response, status: u16, code: &str) -> Value {
    let outcome = fhir_json(response, status).await;
    assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
    let issues = outcome["issue"].as_array().unwrap();
    assert!(!issues.is_empty(), "{outcome}");
    assert!(issues.iter().all(|i| i["severity"] == "error"), "{outcome}");
    assert_eq!(issues[0]["code"], code, "{outcome}");
    outcome
}

/// All the diagnostics and expressions of an OperationOutcome, as one string.
fn outcome_text(outcome: &Value) -> String {
    outcome["issue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{} {}", i["diagnostics"], i["expression"]))
        .collect::<Vec<_>>()
        .join("; ")
}

fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// `GET /fhir/{type}` with the parameters (URL-encoded) and headers.
async fn get_search(
    app: &TestApp,
    resource_type: &str,
    params: &[(String, String)],
    headers: &[(&str, &str)],
) -> Response {
    let mut request = app
        .client
        .get(app.url(&format!("/fhir/{resource_type}")))
        .query(params);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// A successful searchset Bundle.
async fn searchset(response: Response) -> Value {
    let bundle = fhir_json(response, 200).await;
    assert_eq!(bundle["resourceType"], "Bundle", "{bundle}");
    assert_eq!(bundle["type"], "searchset", "{bundle}");
    bundle
}

/// Searches with the given parameters (exactly these: no `_count` added).
async fn search_exact(app: &TestApp, resource_type: &str, params: &[(&str, &str)]) -> Value {
    searchset(get_search(app, resource_type, &pairs(params), &[]).await).await
}

/// Searches with `_count=500` added, so that every match is on the one page.
async fn search(app: &TestApp, resource_type: &str, params: &[(&str, &str)]) -> Value {
    let mut all = pairs(params);
    all.push(("_count".into(), "500".into()));
    let bundle = searchset(get_search(app, resource_type, &all, &[]).await).await;
    assert!(
        !bundle["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next"),
        "one page expected: {bundle}"
    );
    bundle
}

fn entries(bundle: &Value) -> Vec<&Value> {
    bundle["entry"]
        .as_array()
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

fn entries_in_mode<'a>(bundle: &'a Value, mode: &str) -> Vec<&'a Value> {
    entries(bundle)
        .into_iter()
        .filter(|e| e["search"]["mode"] == mode)
        .map(|e| &e["resource"])
        .collect()
}

/// The resources found (search mode `match`).
fn matches(bundle: &Value) -> Vec<&Value> {
    entries_in_mode(bundle, "match")
}

/// The resources included (search mode `include`).
fn included(bundle: &Value) -> Vec<&Value> {
    entries_in_mode(bundle, "include")
}

fn total(bundle: &Value) -> usize {
    usize::try_from(bundle["total"].as_u64().unwrap()).unwrap()
}

/// The ids of the matches (asserting there are no duplicates and that `total` counts them).
fn match_ids(bundle: &Value) -> BTreeSet<String> {
    let found = matches(bundle);
    let ids: BTreeSet<String> = found.iter().map(|r| id(r)).collect();
    assert_eq!(ids.len(), found.len(), "duplicate matches: {bundle}");
    assert_eq!(total(bundle), found.len(), "total vs entries: {bundle}");
    ids
}

/// The ids of the matches in Bundle order.
fn match_order(bundle: &Value) -> Vec<String> {
    matches(bundle).into_iter().map(id).collect()
}

fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == relation)
        .map(|l| l["url"].as_str().unwrap().to_owned())
}

async fn follow(app: &TestApp, url: &str) -> Value {
    searchset(app.client.get(url).send().await.unwrap()).await
}

/// Asserts that a search for `params` finds exactly `expected` (non-empty).
async fn assert_finds(
    app: &TestApp,
    resource_type: &str,
    params: &[(&str, &str)],
    expected: &BTreeSet<String>,
) {
    assert!(
        !expected.is_empty(),
        "{resource_type}?{params:?}: the expectation must name at least one resource"
    );
    let bundle = search(app, resource_type, params).await;
    assert_eq!(
        &match_ids(&bundle),
        expected,
        "{resource_type}?{params:?} found the wrong resources"
    );
    assert!(
        matches(&bundle)
            .iter()
            .all(|r| r["resourceType"] == resource_type),
        "{bundle}"
    );
}

/// Asserts that a search for `params` finds nothing.
async fn assert_finds_nothing(app: &TestApp, resource_type: &str, params: &[(&str, &str)]) {
    let bundle = search(app, resource_type, params).await;
    assert_eq!(
        total(&bundle),
        0,
        "{resource_type}?{params:?} must find nothing: {bundle}"
    );
    assert!(matches(&bundle).is_empty(), "{bundle}");
}

// ---------------------------------------------------------------------------------------------
// Every listed parameter filters
// ---------------------------------------------------------------------------------------------

type Keep = Box<dyn Fn(&Value) -> bool>;

/// One row of the parameter table: a query that matches `expect` among the fixtures (at least
/// one resource) and one that matches nothing.
struct Case {
    resource_type: &'static str,
    parameter: &'static str,
    matching: Vec<(String, String)>,
    expect: Keep,
    non_matching: Vec<(String, String)>,
}

fn case(
    resource_type: &'static str,
    parameter: &'static str,
    matching: &[(&str, &str)],
    expect: Keep,
    non_matching: &[(&str, &str)],
) -> Case {
    Case {
        resource_type,
        parameter,
        matching: pairs(matching),
        expect,
        non_matching: pairs(non_matching),
    }
}

/// The table: a case for every (type, parameter) the server lists.
fn parameter_cases(fx: &Fixtures) -> Vec<Case> {
    let p01 = fx.plan("01");
    let mut cases = Vec::new();
    // `_id` and `_lastUpdated` on every type: a resource of fixture 01.
    for capability in CAPABILITIES {
        let rt = capability.resource_type;
        let known = p01.id_of(rt);
        let wanted = known.clone();
        cases.push(case(
            rt,
            "_id",
            &[("_id", &known)],
            Box::new(move |r| r["id"] == wanted.as_str()),
            &[("_id", NO_SUCH_ID)],
        ));
        let day_of = p01.first(rt)["meta"]["lastUpdated"].as_str().unwrap()[..10].to_owned();
        let prefix = day_of.clone();
        cases.push(case(
            rt,
            "_lastUpdated",
            &[("_lastUpdated", &day_of)],
            Box::new(move |r| {
                r["meta"]["lastUpdated"]
                    .as_str()
                    .unwrap()
                    .starts_with(&prefix)
            }),
            &[("_lastUpdated", "1999-01-01")],
        ));
    }

    // CarePlan.
    let goal = refs(p01.first("CarePlan"), "goal")[0].clone();
    let wanted_goal = goal.clone();
    cases.push(case(
        "CarePlan",
        "category",
        &[("category", &format!("{SNOMED}|736373009"))],
        Box::new(|r| has_coding(r, "category", SNOMED, "736373009")),
        &[("category", &format!("{SNOMED}|736373000"))],
    ));
    cases.push(case(
        "CarePlan",
        "date",
        &[("date", "sa2026-06-01")],
        Box::new(|r| day(r["period"]["start"].as_str().unwrap()) > date(2026, 6, 1)),
        &[("date", "eb1990-01-01")],
    ));
    cases.push(case(
        "CarePlan",
        "goal",
        &[("goal", &goal)],
        Box::new(move |r| refs(r, "goal").contains(&wanted_goal)),
        &[("goal", &format!("Goal/{NO_SUCH_ID}"))],
    ));
    // No plan has a CarePlan.identifier: `:missing` shows the parameter is read.
    cases.push(case(
        "CarePlan",
        "identifier",
        &[("identifier:missing", "true")],
        Box::new(|r| r.get("identifier").is_none()),
        &[("identifier", "https://example.org/plans|none")],
    ));
    cases.push(case(
        "CarePlan",
        "intent",
        &[("intent", "plan")],
        Box::new(|r| r["intent"] == "plan"),
        &[("intent", "order")],
    ));
    let p02 = fx.plan("02").patient_id();
    let subject = format!("Patient/{p02}");
    let wanted = subject.clone();
    cases.push(case(
        "CarePlan",
        "patient",
        &[("patient", &subject)],
        Box::new(move |r| refs(r, "subject").contains(&wanted)),
        &[("patient", &format!("Patient/{NO_SUCH_ID}"))],
    ));
    cases.push(case(
        "CarePlan",
        "status",
        &[("status", "completed")],
        Box::new(|r| r["status"] == "completed"),
        &[("status", "draft")],
    ));
    let wanted = subject.clone();
    cases.push(case(
        "CarePlan",
        "subject",
        &[("subject", &subject)],
        Box::new(move |r| refs(r, "subject").contains(&wanted)),
        &[("subject", &format!("Group/{NO_SUCH_ID}"))],
    ));

    // Consent. No Consent has a provision.actor: `:missing` shows the parameter is read.
    let practitioner = format!("Practitioner/{}", p01.id_of("Practitioner"));
    cases.push(case(
        "Consent",
        "actor",
        &[("actor:missing", "true")],
        Box::new(|r| r["provision"].get("actor").is_none()),
        &[("actor", &practitioner)],
    ));
    cases.push(case(
        "Consent",
        "category",
        &[("category", &format!("{SNOMED}|450475007"))],
        Box::new(|r| has_coding(r, "category", SNOMED, "450475007")),
        &[("category", &format!("{SNOMED}|450475000"))],
    ));
    cases.push(case(
        "Consent",
        "date",
        &[("date", "2026-02-03")],
        Box::new(|r| consent_date(r) == date(2026, 2, 3)),
        &[("date", "1990-01-01")],
    ));
    let p06 = format!("Patient/{}", fx.plan("06").patient_id());
    let wanted = p06.clone();
    cases.push(case(
        "Consent",
        "patient",
        &[("patient", &p06)],
        Box::new(move |r| refs(r, "patient").contains(&wanted)),
        &[("patient", &format!("Patient/{NO_SUCH_ID}"))],
    ));
    cases.push(case(
        "Consent",
        "scope",
        &[("scope", &format!("{CONSENT_SCOPE}|adr"))],
        Box::new(|r| has_coding(r, "scope", CONSENT_SCOPE, "adr")),
        &[("scope", &format!("{CONSENT_SCOPE}|research"))],
    ));
    cases.push(case(
        "Consent",
        "status",
        &[("status", "entered-in-error")],
        Box::new(|r| r["status"] == "entered-in-error"),
        &[("status", "proposed")],
    ));

    // Goal.
    cases.push(case(
        "Goal",
        "category",
        &[("category", &format!("{SNOMED}|395091006"))],
        Box::new(|r| has_coding(r, "category", SNOMED, "395091006")),
        &[("category", &format!("{SNOMED}|395091000"))],
    ));
    cases.push(case(
        "Goal",
        "lifecycle-status",
        &[("lifecycle-status", "cancelled")],
        Box::new(|r| r["lifecycleStatus"] == "cancelled"),
        &[("lifecycle-status", "on-hold")],
    ));
    let p09 = format!("Patient/{}", fx.plan("09").patient_id());
    let wanted = p09.clone();
    cases.push(case(
        "Goal",
        "patient",
        &[("patient", &p09)],
        Box::new(move |r| refs(r, "subject").contains(&wanted)),
        &[("patient", &format!("Patient/{NO_SUCH_ID}"))],
    ));
    let wanted = p09.clone();
    cases.push(case(
        "Goal",
        "subject",
        &[("subject", &p09)],
        Box::new(move |r| refs(r, "subject").contains(&wanted)),
        &[("subject", &format!("Organization/{NO_SUCH_ID}"))],
    ));

    // Patient.
    cases.push(case(
        "Patient",
        "birthdate",
        &[("birthdate", "1939-04-12")],
        Box::new(|r| r["birthDate"] == "1939-04-12"),
        &[("birthdate", "1800-01-01")],
    ));
    cases.push(case(
        "Patient",
        "family",
        &[("family", "Penhal")],
        Box::new(|r| {
            items(r, "name").iter().any(|n| {
                n["family"]
                    .as_str()
                    .is_some_and(|f| f.starts_with("Penhal"))
            })
        }),
        &[("family", "Zzyzx")],
    ));
    let p07 = fx.plan("07").nhs();
    let wanted = p07.clone();
    cases.push(case(
        "Patient",
        "identifier",
        &[("identifier", &nhs_token(&p07))],
        Box::new(move |r| {
            items(r, "identifier")
                .iter()
                .any(|i| i["system"] == NHS_SYSTEM && i["value"] == wanted.as_str())
        }),
        &[("identifier", &nhs_token(&unknown_nhs()))],
    ));
    cases.push(case(
        "Patient",
        "name",
        &[("name", "peggy")],
        Box::new(|r| name_parts(r).iter().any(|p| p.starts_with("peggy"))),
        &[("name", "Zzyzx")],
    ));

    // RelatedPerson.
    let p01_patient = format!("Patient/{}", p01.patient_id());
    let wanted = p01_patient.clone();
    cases.push(case(
        "RelatedPerson",
        "patient",
        &[("patient", &p01_patient)],
        Box::new(move |r| refs(r, "patient").contains(&wanted)),
        &[("patient", &format!("Patient/{NO_SUCH_ID}"))],
    ));

    // Practitioner and Organization.
    cases.push(case(
        "Practitioner",
        "identifier",
        &[("identifier", &format!("{REGISTRATION}|GMC 7345612"))],
        Box::new(|r| {
            items(r, "identifier")
                .iter()
                .any(|i| i["system"] == REGISTRATION && i["value"] == "GMC 7345612")
        }),
        &[("identifier", &format!("{REGISTRATION}|GMC 0000000"))],
    ));
    cases.push(case(
        "Organization",
        "identifier",
        &[("identifier", &format!("{ODS}|Y09873"))],
        Box::new(|r| {
            items(r, "identifier")
                .iter()
                .any(|i| i["system"] == ODS && i["value"] == "Y09873")
        }),
        &[("identifier", &format!("{ODS}|Y00000"))],
    ));
    cases
}

#[tokio::test]
async fn every_listed_search_parameter_is_accepted_and_filters() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let cases = parameter_cases(&fx);

    // The table covers exactly what the server lists, type by type.
    let listed: BTreeSet<(String, String)> = CAPABILITIES
        .iter()
        .flat_map(|c| {
            parameters(c.resource_type)
                .into_iter()
                .map(|(name, _)| (c.resource_type.to_owned(), name.to_owned()))
        })
        .collect();
    let covered: BTreeSet<(String, String)> = cases
        .iter()
        .map(|c| (c.resource_type.to_owned(), c.parameter.to_owned()))
        .collect();
    assert_eq!(
        covered, listed,
        "the table must have a case for every listed parameter"
    );
    assert_eq!(covered.len(), cases.len(), "one case per parameter");

    for c in &cases {
        let rt = c.resource_type;
        let expected = fx.ids_where(rt, &c.expect);
        assert!(
            !expected.is_empty(),
            "{rt} {}: the matching value must match a fixture resource",
            c.parameter
        );
        let mut params = c.matching.clone();
        params.push(("_count".into(), "500".into()));
        let bundle = searchset(get_search(&app, rt, &params, &[]).await).await;
        assert_eq!(
            match_ids(&bundle),
            expected,
            "{rt}?{:?} found the wrong resources",
            c.matching
        );
        assert!(
            matches(&bundle).iter().all(|r| r["resourceType"] == rt),
            "{bundle}"
        );
        // The parameter filters: not every resource of the type comes back, unless it is a
        // `:missing=true` on an element no fixture fills, or a CarePlan's `intent` or `category`
        // (every plan is an end of life care plan; the non-matching value shows they filter).
        let every = fx.all(rt).len();
        let everything_expected = c.matching[0].0.ends_with(":missing")
            || (rt, c.parameter) == ("CarePlan", "intent")
            || (rt, c.parameter) == ("CarePlan", "category");
        if !everything_expected {
            assert!(
                expected.len() < every,
                "{rt} {}: the matching value must not match everything",
                c.parameter
            );
        }

        let mut params = c.non_matching.clone();
        params.push(("_count".into(), "500".into()));
        let bundle = searchset(get_search(&app, rt, &params, &[]).await).await;
        assert_eq!(
            total(&bundle),
            0,
            "{rt}?{:?} must find nothing: {bundle}",
            c.non_matching
        );
        assert!(matches(&bundle).is_empty(), "{bundle}");
    }
}

#[tokio::test]
async fn missing_modifier_splits_the_resources_in_two() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    assert_finds_nothing(&app, "CarePlan", &[("identifier:missing", "false")]).await;
    assert_finds_nothing(&app, "Consent", &[("actor:missing", "false")]).await;
    // Only the deceased person's plan has an end to its period.
    let ended = fx.ids_where("CarePlan", |r| r["period"].get("end").is_some());
    assert_eq!(ended, fx.plan("11").ids("CarePlan"));
    let all: BTreeSet<String> = fx.all("CarePlan").into_iter().map(id).collect();
    assert_finds(&app, "CarePlan", &[("date:missing", "false")], &all).await;
    assert_finds_nothing(&app, "CarePlan", &[("date:missing", "true")]).await;
}

// ---------------------------------------------------------------------------------------------
// Tokens, references, dates, strings
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn token_forms_system_and_code_code_only_system_only_and_not() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let dnacpr = fx.ids_where("Consent", |r| {
        has_coding(r, "category", SNOMED, "450476008")
    });
    let dnr = fx.ids_where("Consent", |r| has_code(r, "category", "dnr"));
    let of_system = fx.ids_where("Consent", |r| {
        codings(r, "category")
            .iter()
            .any(|(s, _)| s == CONSENT_CATEGORY)
    });
    let not_dnr = fx.ids_where("Consent", |r| !has_code(r, "category", "dnr"));
    assert!(of_system.len() > dnr.len(), "dnr and acd are of the system");

    assert_finds(
        &app,
        "Consent",
        &[("category", &format!("{SNOMED}|450476008"))],
        &dnacpr,
    )
    .await;
    assert_finds(&app, "Consent", &[("category", "dnr")], &dnr).await;
    assert_finds(
        &app,
        "Consent",
        &[("category", &format!("{CONSENT_CATEGORY}|"))],
        &of_system,
    )
    .await;
    assert_finds(&app, "Consent", &[("category:not", "dnr")], &not_dnr).await;
    // A comma is OR: DNACPR or for-CPR is every CPR decision.
    let cpr = fx.ids_where("Consent", |r| {
        has_coding(r, "category", SNOMED, "450476008")
            || has_coding(r, "category", SNOMED, "450475007")
    });
    assert_finds(
        &app,
        "Consent",
        &[(
            "category",
            &format!("{SNOMED}|450476008,{SNOMED}|450475007"),
        )],
        &cpr,
    )
    .await;
    // `:text` reads the concept's text and displays.
    let text = fx.ids_where("Consent", |r| {
        items(r, "category").iter().any(|c| {
            c["text"]
                .as_str()
                .is_some_and(|t| t.to_lowercase().contains("dnacpr"))
        })
    });
    assert_finds(&app, "Consent", &[("category:text", "DNACPR")], &text).await;

    // Must not match: the right code in the wrong system, no system, an unknown code.
    assert_finds_nothing(
        &app,
        "Consent",
        &[("category", "http://loinc.org|450476008")],
    )
    .await;
    assert_finds_nothing(&app, "Consent", &[("category", "|dnr")]).await;
    assert_finds_nothing(&app, "Consent", &[("category", "no-such-code")]).await;
    assert_finds_nothing(
        &app,
        "Consent",
        &[("category", "http://example.org/no-such-system|")],
    )
    .await;
    let every: BTreeSet<String> = fx.all("Consent").into_iter().map(id).collect();
    assert_finds(&app, "Consent", &[("category:not", "no-such-code")], &every).await;
}

#[tokio::test]
async fn patient_reference_forms_find_the_persons_resources() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let p01 = fx.plan("01");
    let nhs = p01.nhs();
    let patient = p01.patient_id();
    let consents = p01.ids("Consent");
    assert_eq!(consents.len(), 2);

    let spaced = format!("{} {} {}", &nhs[..3], &nhs[3..6], &nhs[6..]);
    let by_reference = format!("Patient/{patient}");
    let absolute = format!("{}/fhir/Patient/{patient}", app.address);
    for (name, value) in [
        ("patient:identifier", nhs_token(&nhs)),
        ("patient:identifier", nhs.clone()),
        ("patient:identifier", nhs_token(&spaced)),
        ("patient.identifier", nhs_token(&nhs)),
        ("patient:Patient.identifier", nhs_token(&nhs)),
        ("patient", by_reference.clone()),
        ("patient", patient.clone()),
        ("patient", absolute.clone()),
    ] {
        assert_finds(&app, "Consent", &[(name, &value)], &consents).await;
    }

    let care_plan = p01.ids("CarePlan");
    let goals = p01.ids("Goal");
    for (name, value) in [
        ("subject:identifier", nhs_token(&nhs)),
        ("subject.identifier", nhs_token(&nhs)),
        ("subject:Patient", patient.clone()),
        ("subject", by_reference.clone()),
        ("patient:identifier", nhs_token(&nhs)),
        ("patient", by_reference.clone()),
    ] {
        assert_finds(&app, "CarePlan", &[(name, &value)], &care_plan).await;
        assert_finds(&app, "Goal", &[(name, &value)], &goals).await;
    }
    assert_finds(
        &app,
        "RelatedPerson",
        &[("patient:identifier", &nhs_token(&nhs))],
        &p01.ids("RelatedPerson"),
    )
    .await;
    assert_finds(
        &app,
        "Patient",
        &[("identifier", &nhs_token(&nhs))],
        &BTreeSet::from([patient.clone()]),
    )
    .await;
    assert_finds(
        &app,
        "Patient",
        &[("_id", &patient)],
        &BTreeSet::from([patient.clone()]),
    )
    .await;

    // Must not match: an NHS number nobody has, a Patient id nobody has, the person's number in
    // another system, and another person's reference combined with this person's number.
    let other = fx.plan("02").patient_id();
    assert_finds_nothing(
        &app,
        "Consent",
        &[("patient:identifier", &nhs_token(&unknown_nhs()))],
    )
    .await;
    assert_finds_nothing(
        &app,
        "Consent",
        &[("patient.identifier", &nhs_token(&unknown_nhs()))],
    )
    .await;
    assert_finds_nothing(
        &app,
        "Consent",
        &[("patient", &format!("Patient/{NO_SUCH_ID}"))],
    )
    .await;
    assert_finds_nothing(
        &app,
        "Consent",
        &[(
            "patient:identifier",
            &format!("https://example.org/mrn|{nhs}"),
        )],
    )
    .await;
    assert_finds_nothing(
        &app,
        "Consent",
        &[
            ("patient:identifier", &nhs_token(&nhs)),
            ("patient", &format!("Patient/{other}")),
        ],
    )
    .await;
    assert_finds_nothing(
        &app,
        "CarePlan",
        &[("subject:identifier", &nhs_token(&unknown_nhs()))],
    )
    .await;
}

/// `Consent?patient=` (a known failure elsewhere): each person's Consents, and only theirs.
#[tokio::test]
async fn consent_search_by_patient_works_for_every_person() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    for plan in &fx.plans {
        let expected = plan.ids("Consent");
        let patient = plan.patient_id();
        assert_finds(
            &app,
            "Consent",
            &[("patient", &format!("Patient/{patient}"))],
            &expected,
        )
        .await;
        assert_finds(
            &app,
            "Consent",
            &[("patient:identifier", &nhs_token(&plan.nhs()))],
            &expected,
        )
        .await;
    }
}

#[tokio::test]
async fn consent_date_prefixes_at_day_and_month_precision() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    type Test = fn(NaiveDate) -> bool;
    let cases: Vec<(&str, Test)> = vec![
        ("2026-02-03", |d| d == date(2026, 2, 3)),
        ("eq2026-02-03", |d| d == date(2026, 2, 3)),
        ("ne2026-05-20", |d| d != date(2026, 5, 20)),
        ("ge2026-10-01", |d| d >= date(2026, 10, 1)),
        ("le2025-09-18", |d| d <= date(2025, 9, 18)),
        ("gt2026-10-01", |d| d > date(2026, 10, 1)),
        ("lt2025-09-18", |d| d < date(2025, 9, 18)),
        ("sa2026-10-01", |d| d > date(2026, 10, 1)),
        ("eb2025-09-18", |d| d < date(2025, 9, 18)),
        ("2026-05", |d| d >= date(2026, 5, 1) && d < date(2026, 6, 1)),
        ("eq2026-05", |d| {
            d >= date(2026, 5, 1) && d < date(2026, 6, 1)
        }),
        ("ne2026-05", |d| {
            d < date(2026, 5, 1) || d >= date(2026, 6, 1)
        }),
        ("ge2026-10", |d| d >= date(2026, 10, 1)),
        ("le2025-09", |d| d < date(2025, 10, 1)),
        ("gt2026-09", |d| d >= date(2026, 10, 1)),
        ("lt2025-10", |d| d < date(2025, 10, 1)),
        ("sa2026-09", |d| d >= date(2026, 10, 1)),
        ("eb2025-10", |d| d < date(2025, 10, 1)),
        ("2026", |d| d >= date(2026, 1, 1) && d < date(2027, 1, 1)),
    ];
    let consents = fx.all("Consent").len();
    for (value, test) in cases {
        let expected = fx.ids_where("Consent", |r| test(consent_date(r)));
        assert!(
            expected.len() < consents,
            "date={value} must not match everything"
        );
        assert_finds(&app, "Consent", &[("date", value)], &expected).await;
    }
    // Two criteria are AND: a range.
    let january = fx.ids_where("Consent", |r| {
        let d = consent_date(r);
        d >= date(2026, 1, 1) && d < date(2026, 2, 1)
    });
    assert_finds(
        &app,
        "Consent",
        &[("date", "ge2026-01-01"), ("date", "lt2026-02-01")],
        &january,
    )
    .await;
    // A comma is OR.
    let either = fx.ids_where("Consent", |r| {
        let d = consent_date(r);
        d == date(2026, 2, 3) || d == date(2025, 9, 15)
    });
    assert_finds(
        &app,
        "Consent",
        &[("date", "2026-02-03,2025-09-15")],
        &either,
    )
    .await;

    for value in [
        "eb1900-01-01",
        "sa2100-01-01",
        "1990-01",
        "lt1990",
        "gt2099",
    ] {
        assert_finds_nothing(&app, "Consent", &[("date", value)]).await;
    }
    // The range is empty: nothing is after 2026-10 and before 2026-09.
    assert_finds_nothing(
        &app,
        "Consent",
        &[("date", "gt2026-10"), ("date", "lt2026-09")],
    )
    .await;
}

#[tokio::test]
async fn last_updated_prefixes_down_to_the_second_and_time_zone() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
    let edge = at("2026-10-20T15:40:00Z");
    type Test = Box<dyn Fn(DateTime<Utc>) -> bool>;
    let cases: Vec<(&str, Test)> = vec![
        (
            "2026-10-20",
            Box::new(|t: DateTime<Utc>| t.date_naive() == date(2026, 10, 20)),
        ),
        (
            "eq2026-10",
            Box::new(|t: DateTime<Utc>| {
                t.date_naive() >= date(2026, 10, 1) && t.date_naive() < date(2026, 11, 1)
            }),
        ),
        (
            "ge2026-10-01",
            Box::new(|t: DateTime<Utc>| t.date_naive() >= date(2026, 10, 1)),
        ),
        (
            "lt2026-03-01",
            Box::new(|t: DateTime<Utc>| t.date_naive() < date(2026, 3, 1)),
        ),
        ("gt2026-10-20T15:40:00Z", Box::new(move |t| t > edge)),
        ("le2026-10-20T15:40:00Z", Box::new(move |t| t <= edge)),
        ("le2026-10-20T16:40:00+01:00", Box::new(move |t| t <= edge)),
        ("lt2026-10-20T16:40:00+01:00", Box::new(move |t| t < edge)),
        ("2026-10-20T15:40:00Z", Box::new(move |t| t == edge)),
    ];
    for (value, test) in cases {
        let expected = fx.ids_where("CarePlan", |r| test(last_updated(r)));
        assert!(expected.len() < fx.plans.len(), "{value}");
        assert_finds(&app, "CarePlan", &[("_lastUpdated", value)], &expected).await;
    }
    assert_finds_nothing(&app, "CarePlan", &[("_lastUpdated", "gt2027")]).await;
    assert_finds_nothing(
        &app,
        "CarePlan",
        &[("_lastUpdated", "2026-10-20T15:40:01Z")],
    )
    .await;
    assert_finds_nothing(&app, "Patient", &[("_lastUpdated", "lt2025")]).await;
}

#[tokio::test]
async fn patient_birthdate_family_and_name() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let patient = |prefix: &str| BTreeSet::from([fx.plan(prefix).patient_id()]);
    let patients = |prefixes: &[&str]| -> BTreeSet<String> {
        prefixes.iter().map(|p| fx.plan(p).patient_id()).collect()
    };

    // birthdate
    assert_finds(
        &app,
        "Patient",
        &[("birthdate", "1939-04-12")],
        &patient("01"),
    )
    .await;
    assert_finds(&app, "Patient", &[("birthdate", "1948-06")], &patient("09")).await;
    let before_1935 = fx.ids_where("Patient", |r| {
        day(r["birthDate"].as_str().unwrap()) < date(1935, 1, 1)
    });
    assert_eq!(before_1935, patients(&["03", "08"]));
    assert_finds(&app, "Patient", &[("birthdate", "lt1935")], &before_1935).await;
    let from_1960 = fx.ids_where("Patient", |r| {
        day(r["birthDate"].as_str().unwrap()) >= date(1960, 1, 1)
    });
    assert_finds(&app, "Patient", &[("birthdate", "ge1960")], &from_1960).await;
    assert_finds_nothing(&app, "Patient", &[("birthdate", "1939-04-13")]).await;
    assert_finds_nothing(&app, "Patient", &[("birthdate", "1800")]).await;

    // family: case-insensitive "starts with"
    assert_finds(&app, "Patient", &[("family", "Ellison")], &patient("01")).await;
    assert_finds(&app, "Patient", &[("family", "ELLISON")], &patient("01")).await;
    assert_finds(
        &app,
        "Patient",
        &[("family", "ash")],
        &patients(&["06", "11"]),
    )
    .await;
    assert_finds_nothing(&app, "Patient", &[("family", "llison")]).await;
    assert_finds_nothing(&app, "Patient", &[("family", "Peggy")]).await;

    // name: any part, accent-insensitive
    assert_finds(&app, "Patient", &[("name", "peggy")], &patient("01")).await;
    assert_finds(&app, "Patient", &[("name", "Rose")], &patient("01")).await;
    assert_finds(&app, "Patient", &[("name", "robin")], &patient("13")).await;
    assert_finds(&app, "Patient", &[("name", "wojcik")], &patient("09")).await;
    assert_finds(&app, "Patient", &[("name", "WOJCIK")], &patient("09")).await;
    assert_finds(&app, "Patient", &[("name", "Wójcik")], &patient("09")).await;
    assert_finds(&app, "Patient", &[("name", "WÓJCIK")], &patient("09")).await;
    assert_finds(&app, "Patient", &[("family", "wojc")], &patient("09")).await;
    assert_finds(&app, "Patient", &[("name", "halina w")], &patient("09")).await;
    assert_finds_nothing(&app, "Patient", &[("name", "wojcikk")]).await;
    assert_finds_nothing(&app, "Patient", &[("name", "ojcik")]).await;

    // :exact: case and accents count, the whole value
    assert_finds(
        &app,
        "Patient",
        &[("family:exact", "Wójcik")],
        &patient("09"),
    )
    .await;
    assert_finds(&app, "Patient", &[("name:exact", "Peggy")], &patient("01")).await;
    for value in ["wójcik", "Wojcik", "Wójc", "WÓJCIK"] {
        assert_finds_nothing(&app, "Patient", &[("family:exact", value)]).await;
    }
    assert_finds_nothing(&app, "Patient", &[("name:exact", "peggy")]).await;

    // :contains: anywhere in the part, case- and accent-insensitive
    assert_finds(
        &app,
        "Patient",
        &[("family:contains", "ojci")],
        &patient("09"),
    )
    .await;
    assert_finds(
        &app,
        "Patient",
        &[("family:contains", "LLIS")],
        &patient("01"),
    )
    .await;
    assert_finds(&app, "Patient", &[("name:contains", "aud")], &patient("03")).await;
    assert_finds_nothing(&app, "Patient", &[("family:contains", "xyz")]).await;
    // `Maud` is a given name, not a family name.
    assert_finds_nothing(&app, "Patient", &[("family:contains", "aud")]).await;
}

#[tokio::test]
async fn goal_lifecycle_status_care_plan_intent_and_status() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;

    let cancelled = fx.plan("14").ids("Goal");
    assert_finds(
        &app,
        "Goal",
        &[("lifecycle-status", "cancelled")],
        &cancelled,
    )
    .await;
    let completed = fx.plan("11").ids("Goal");
    assert_finds(
        &app,
        "Goal",
        &[("lifecycle-status", "completed")],
        &completed,
    )
    .await;
    let both: BTreeSet<String> = cancelled.union(&completed).cloned().collect();
    assert_finds(
        &app,
        "Goal",
        &[("lifecycle-status", "cancelled,completed")],
        &both,
    )
    .await;
    let active = fx.ids_where("Goal", |r| r["lifecycleStatus"] == "active");
    assert_finds(&app, "Goal", &[("lifecycle-status", "active")], &active).await;
    assert_finds(&app, "Goal", &[("lifecycle-status:not", "active")], &both).await;
    assert_finds_nothing(&app, "Goal", &[("lifecycle-status", "on-hold")]).await;
    assert_finds_nothing(&app, "Goal", &[("lifecycle-status", "proposed")]).await;

    let every: BTreeSet<String> = fx.all("CarePlan").into_iter().map(id).collect();
    assert_eq!(every.len(), fx.plans.len());
    assert_finds(&app, "CarePlan", &[("intent", "plan")], &every).await;
    assert_finds_nothing(&app, "CarePlan", &[("intent", "order")]).await;
    assert_finds_nothing(&app, "CarePlan", &[("intent", "proposal")]).await;

    let plan = |prefix: &str| fx.plan(prefix).ids("CarePlan");
    assert_finds(&app, "CarePlan", &[("status", "revoked")], &plan("14")).await;
    assert_finds(
        &app,
        "CarePlan",
        &[("status", "entered-in-error")],
        &plan("12"),
    )
    .await;
    assert_finds(&app, "CarePlan", &[("status", "completed")], &plan("11")).await;
    let ended: BTreeSet<String> = ["11", "12", "14"].iter().flat_map(|p| plan(p)).collect();
    let current: BTreeSet<String> = every.difference(&ended).cloned().collect();
    assert_finds(&app, "CarePlan", &[("status", "active")], &current).await;
    assert_finds(&app, "CarePlan", &[("status:not", "active")], &ended).await;
    assert_finds(
        &app,
        "CarePlan",
        &[("status", "revoked,entered-in-error,completed")],
        &ended,
    )
    .await;
    assert_finds(
        &app,
        "CarePlan",
        &[("status", "active"), ("intent", "plan")],
        &current,
    )
    .await;
    assert_finds_nothing(&app, "CarePlan", &[("status", "draft")]).await;
    assert_finds_nothing(
        &app,
        "CarePlan",
        &[("status", "active"), ("intent", "order")],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Paging and sorting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn paging_by_next_and_previous_links_returns_every_match_once() {
    let app = with_override(spawn_app().await);
    let count = 26;
    let mut created = BTreeSet::new();
    for nhs in test_nhs_numbers().take(count) {
        let (plan_id, _) = app.create_plan(&minimal_plan(&nhs)).await;
        created.insert(plan_id);
    }

    let first = search_exact(&app, "CarePlan", &[("_count", "7")]).await;
    assert_eq!(total(&first), count, "total counts every match");
    assert!(link(&first, "self").is_some(), "{first}");
    assert!(link(&first, "previous").is_none(), "{first}");
    let mut pages = vec![match_order(&first)];
    let mut bundle = first;
    while let Some(next) = link(&bundle, "next") {
        assert!(next.contains("_count=7"), "{next}");
        bundle = follow(&app, &next).await;
        assert_eq!(total(&bundle), count, "total on every page");
        pages.push(match_order(&bundle));
        assert!(pages.len() <= count, "the next links must end");
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![7, 7, 7, 5]);
    let seen: Vec<String> = pages.iter().flatten().cloned().collect();
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no match twice: {seen:?}");
    assert_eq!(unique, created, "every match once");

    // Back from the last page to the first by the previous links.
    let mut back = vec![match_order(&bundle)];
    while let Some(previous) = link(&bundle, "previous") {
        bundle = follow(&app, &previous).await;
        back.push(match_order(&bundle));
        assert!(back.len() <= count, "the previous links must end");
    }
    back.reverse();
    assert_eq!(back, pages, "previous links go back page by page");
    assert!(link(&bundle, "next").is_some());

    // The same with a filter, so that total is the number of matches, not of resources.
    let mut other = minimal_plan(&test_nhs_numbers().nth(count).unwrap());
    other["person"]["family_name"] = json!("Otherfamily");
    app.create_plan(&other).await;
    let bundle = search_exact(
        &app,
        "Patient",
        &[("family", "Testperson"), ("_count", "10")],
    )
    .await;
    assert_eq!(total(&bundle), count);
    assert_eq!(matches(&bundle).len(), 10);
    let bundle = search_exact(&app, "Patient", &[("family", "Otherfamily")]).await;
    assert_eq!(total(&bundle), 1);
    assert!(link(&bundle, "next").is_none());

    // _count=0: the total only.
    let bundle = search_exact(&app, "CarePlan", &[("_count", "0")]).await;
    assert_eq!(total(&bundle), count + 1);
    assert!(matches(&bundle).is_empty());
    assert!(link(&bundle, "next").is_none());
}

#[tokio::test]
async fn sort_by_last_updated_either_way_and_consents_by_date() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;

    let mut by_update: Vec<(DateTime<Utc>, String)> = fx
        .all("CarePlan")
        .into_iter()
        .map(|r| (last_updated(r), id(r)))
        .collect();
    by_update.sort();
    let distinct: BTreeSet<DateTime<Utc>> = by_update.iter().map(|(t, _)| *t).collect();
    assert_eq!(distinct.len(), by_update.len(), "fixtures differ in time");
    let ascending: Vec<String> = by_update.into_iter().map(|(_, id)| id).collect();
    let descending: Vec<String> = ascending.iter().rev().cloned().collect();

    let bundle = search(&app, "CarePlan", &[("_sort", "_lastUpdated")]).await;
    assert_eq!(match_order(&bundle), ascending);
    let bundle = search(&app, "CarePlan", &[("_sort", "-_lastUpdated")]).await;
    assert_eq!(match_order(&bundle), descending);
    // Newest first when not asked.
    let bundle = search(&app, "CarePlan", &[]).await;
    assert_eq!(match_order(&bundle), descending);

    // Consents by their date; equal dates by id (stable paging).
    let mut by_date: Vec<(NaiveDate, String)> = fx
        .all("Consent")
        .into_iter()
        .map(|r| (consent_date(r), id(r)))
        .collect();
    by_date.sort();
    let up: Vec<String> = by_date.iter().map(|(_, id)| id.clone()).collect();
    by_date.sort_by(|(da, ia), (db, ib)| db.cmp(da).then(ia.cmp(ib)));
    let down: Vec<String> = by_date.iter().map(|(_, id)| id.clone()).collect();
    let bundle = search(&app, "Consent", &[("_sort", "date")]).await;
    assert_eq!(match_order(&bundle), up);
    let bundle = search(&app, "Consent", &[("_sort", "-date")]).await;
    assert_eq!(match_order(&bundle), down);
    let dates: Vec<NaiveDate> = matches(&bundle).into_iter().map(consent_date).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");

    // A sorted search paged by its next links gives the same order.
    let mut bundle = search_exact(&app, "Consent", &[("_sort", "date"), ("_count", "5")]).await;
    let mut paged = match_order(&bundle);
    while let Some(next) = link(&bundle, "next") {
        assert!(next.contains("_sort=date"), "{next}");
        bundle = follow(&app, &next).await;
        paged.extend(match_order(&bundle));
    }
    assert_eq!(paged, up);

    // A sort key that is not served is refused.
    let response = get_search(&app, "Patient", &pairs(&[("_sort", "family")]), &[]).await;
    let outcome = expect_outcome(response, 400, "invalid").await;
    assert!(outcome_text(&outcome).contains("family"), "{outcome}");
}

// ---------------------------------------------------------------------------------------------
// _summary, _elements, _include, _revinclude, POST
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn summary_count_gives_the_total_and_no_entries() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let bundle = search_exact(&app, "Consent", &[("_summary", "count")]).await;
    assert_eq!(total(&bundle), fx.all("Consent").len());
    assert!(bundle.get("entry").is_none(), "{bundle}");
    assert!(link(&bundle, "next").is_none(), "{bundle}");

    let active = fx.ids_where("Consent", |r| r["status"] == "active");
    let bundle = search_exact(
        &app,
        "Consent",
        &[("status", "active"), ("_summary", "count")],
    )
    .await;
    assert_eq!(total(&bundle), active.len());
    assert!(bundle.get("entry").is_none(), "{bundle}");

    let bundle = search_exact(
        &app,
        "Consent",
        &[("status", "proposed"), ("_summary", "count")],
    )
    .await;
    assert_eq!(total(&bundle), 0);
}

#[tokio::test]
async fn summary_true_and_elements_subset_the_resources() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let p01 = fx.plan("01");

    let bundle = search(
        &app,
        "Patient",
        &[("identifier", &nhs_token(&p01.nhs())), ("_summary", "true")],
    )
    .await;
    let found = matches(&bundle);
    assert_eq!(found.len(), 1);
    let patient = found[0];
    assert!(has_subsetted_tag(patient), "{patient}");
    for kept in ["id", "meta", "identifier", "name", "birthDate", "gender"] {
        assert!(patient.get(kept).is_some(), "{kept} kept: {patient}");
    }
    for dropped in ["text", "communication", "extension"] {
        assert!(
            patient.get(dropped).is_none(),
            "{dropped} dropped: {patient}"
        );
    }
    assert_eq!(
        patient["meta"]["lastUpdated"],
        p01.first("Patient")["meta"]["lastUpdated"]
    );

    let bundle = search(
        &app,
        "CarePlan",
        &[
            ("patient:identifier", &nhs_token(&p01.nhs())),
            ("_summary", "true"),
        ],
    )
    .await;
    let plan = matches(&bundle)[0];
    assert!(has_subsetted_tag(plan), "{plan}");
    for kept in ["status", "intent", "subject", "category", "period"] {
        assert!(plan.get(kept).is_some(), "{kept} kept: {plan}");
    }
    for dropped in ["text", "activity", "goal", "supportingInfo", "note"] {
        assert!(plan.get(dropped).is_none(), "{dropped} dropped: {plan}");
    }

    let expected = fx.ids_where("Consent", |r| r["status"] == "active");
    let bundle = search(
        &app,
        "Consent",
        &[("status", "active"), ("_elements", "status,scope")],
    )
    .await;
    assert_eq!(match_ids(&bundle), expected);
    for consent in matches(&bundle) {
        assert!(has_subsetted_tag(consent), "{consent}");
        let names: BTreeSet<&str> = consent
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            names,
            BTreeSet::from(["resourceType", "id", "meta", "status", "scope"]),
            "{consent}"
        );
        assert_eq!(consent["status"], "active");
    }

    // Without _summary or _elements: whole resources, untagged.
    let bundle = search(&app, "Consent", &[("status", "active")]).await;
    for consent in matches(&bundle) {
        assert!(!has_subsetted_tag(consent), "{consent}");
        assert!(consent.get("text").is_some(), "{consent}");
        assert!(consent.get("patient").is_some(), "{consent}");
    }
}

#[tokio::test]
async fn include_consent_patient_and_care_plan_goal_once_each() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;

    // Every CPR decision with its Patient.
    let bundle = search(
        &app,
        "Consent",
        &[
            ("scope", &format!("{CONSENT_SCOPE}|treatment")),
            ("_include", "Consent:patient"),
        ],
    )
    .await;
    let found = matches(&bundle);
    let expected = fx.ids_where("Consent", |r| has_code(r, "scope", "treatment"));
    assert_eq!(match_ids(&bundle), expected);
    let wanted: BTreeSet<String> = found.iter().flat_map(|c| refs(c, "patient")).collect();
    let extra = included(&bundle);
    let keys: Vec<String> = extra.iter().map(|r| key(r)).collect();
    let unique: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(unique.len(), keys.len(), "each included once: {keys:?}");
    assert_eq!(unique, wanted, "the Patients of the matches, no others");
    assert!(extra.iter().all(|r| r["resourceType"] == "Patient"));
    assert_eq!(total(&bundle), expected.len(), "total counts matches only");

    // One person's plan with its Goals.
    let p01 = fx.plan("01");
    let bundle = search(
        &app,
        "CarePlan",
        &[
            ("patient:identifier", &nhs_token(&p01.nhs())),
            ("_include", "CarePlan:goal"),
        ],
    )
    .await;
    assert_eq!(match_ids(&bundle), p01.ids("CarePlan"));
    let goals: Vec<String> = included(&bundle).into_iter().map(id).collect();
    let unique: BTreeSet<String> = goals.iter().cloned().collect();
    assert_eq!(unique.len(), goals.len(), "each Goal once: {goals:?}");
    assert_eq!(unique, p01.ids("Goal"));

    // Every plan with its Goals: still once each, and only the plans' own.
    let bundle = search(&app, "CarePlan", &[("_include", "CarePlan:goal")]).await;
    let goals: Vec<String> = included(&bundle).into_iter().map(key).collect();
    let unique: BTreeSet<String> = goals.iter().cloned().collect();
    assert_eq!(unique.len(), goals.len());
    let referenced: BTreeSet<String> = fx
        .all("CarePlan")
        .into_iter()
        .flat_map(|r| refs(r, "goal"))
        .collect();
    assert_eq!(unique, referenced);

    // Without _include: matches only.
    let bundle = search(&app, "CarePlan", &[]).await;
    assert!(included(&bundle).is_empty());
}

#[tokio::test]
async fn revinclude_consent_patient_brings_only_that_persons_consents() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let p01 = fx.plan("01");
    let bundle = search(
        &app,
        "Patient",
        &[
            ("identifier", &nhs_token(&p01.nhs())),
            ("_revinclude", "Consent:patient"),
        ],
    )
    .await;
    assert_eq!(match_ids(&bundle), BTreeSet::from([p01.patient_id()]));
    let consents: Vec<&Value> = included(&bundle);
    let ids: Vec<String> = consents.iter().map(|r| id(r)).collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "each Consent once");
    assert_eq!(unique, p01.ids("Consent"));
    assert!(consents.iter().all(|c| c["resourceType"] == "Consent"));

    // Two people by family name: each one's Consents, nobody else's.
    let bundle = search(
        &app,
        "Patient",
        &[("family", "ash"), ("_revinclude", "Consent:patient")],
    )
    .await;
    let people = ["06", "11"];
    let patients: BTreeSet<String> = people.iter().map(|p| fx.plan(p).patient_id()).collect();
    assert_eq!(match_ids(&bundle), patients);
    let consents: BTreeSet<String> = people
        .iter()
        .flat_map(|p| fx.plan(p).ids("Consent"))
        .collect();
    let got: BTreeSet<String> = included(&bundle).into_iter().map(id).collect();
    assert_eq!(got, consents);

    // A person with no match brings nothing.
    let bundle = search(
        &app,
        "Patient",
        &[("family", "Zzyzx"), ("_revinclude", "Consent:patient")],
    )
    .await;
    assert!(entries(&bundle).is_empty(), "{bundle}");
}

#[tokio::test]
async fn post_search_with_a_form_body_is_the_same_as_get() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let p03 = fx.plan("03");
    let nhs = p03.nhs();
    let params = pairs(&[
        ("patient:identifier", &nhs_token(&nhs)),
        ("scope", "treatment"),
        ("_include", "Consent:patient"),
    ]);
    let by_get = searchset(get_search(&app, "Consent", &params, &[]).await).await;
    let response = app
        .client
        .post(app.url("/fhir/Consent/_search"))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert!(
        !response.url().as_str().contains(&nhs),
        "the NHS number is in the body, not the URL"
    );
    let by_post = searchset(response).await;
    assert_eq!(total(&by_post), total(&by_get));
    assert_eq!(by_post["entry"], by_get["entry"]);
    let treatment = fx.ids_where("Consent", |r| has_code(r, "scope", "treatment"));
    let expected: BTreeSet<String> = p03
        .ids("Consent")
        .intersection(&treatment)
        .cloned()
        .collect();
    assert_eq!(expected.len(), 2, "the superseded and the current decision");
    assert_eq!(match_ids(&by_post), expected);

    // URL parameters are added to the form's.
    let response = app
        .client
        .post(app.url("/fhir/Consent/_search?status=active"))
        .form(&params)
        .send()
        .await
        .unwrap();
    let bundle = searchset(response).await;
    assert_eq!(total(&bundle), 1);
    assert_eq!(matches(&bundle)[0]["status"], "active");

    // A form that matches nothing.
    let response = app
        .client
        .post(app.url("/fhir/Consent/_search"))
        .form(&[("patient:identifier", nhs_token(&unknown_nhs()))])
        .send()
        .await
        .unwrap();
    assert_eq!(total(&searchset(response).await), 0);
}

/// Media types are case-insensitive (RFC 9110 §8.3.1), and may carry parameters.
#[tokio::test]
async fn post_search_takes_the_form_media_type_in_any_case() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let p03 = fx.plan("03");
    let body = format!("patient:identifier={}", p03.nhs());
    for media_type in [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "Application/X-WWW-Form-Urlencoded",
        "APPLICATION/X-WWW-FORM-URLENCODED;charset=utf-8",
    ] {
        let response = app
            .client
            .post(app.url("/fhir/Consent/_search"))
            .header(CONTENT_TYPE, media_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{media_type}: {text}");
        let bundle: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(match_ids(&bundle), p03.ids("Consent"), "{media_type}");
    }
}

#[tokio::test]
async fn post_search_with_another_content_type_is_415() {
    let app = with_override(spawn_app().await);
    load_fixtures(&app).await;
    let response = app
        .client
        .post(app.url("/fhir/Consent/_search"))
        .json(&json!({ "patient:identifier": nhs_token("9994010077") }))
        .send()
        .await
        .unwrap();
    expect_outcome(response, 415, "not-supported").await;
    let response = app
        .client
        .post(app.url("/fhir/Consent/_search"))
        .header(CONTENT_TYPE, "text/plain")
        .body("status=active")
        .send()
        .await
        .unwrap();
    expect_outcome(response, 415, "not-supported").await;
}

// ---------------------------------------------------------------------------------------------
// Errors and formats
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_parameter_is_400_naming_it_or_ignored_when_lenient() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let params = pairs(&[("colour", "blue"), ("status", "entered-in-error")]);

    let response = get_search(&app, "Consent", &params, &[]).await;
    let outcome = expect_outcome(response, 400, "invalid").await;
    assert!(outcome_text(&outcome).contains("colour"), "{outcome}");

    // A modifier that is not served is refused the same way.
    let response = get_search(&app, "Consent", &pairs(&[("status:below", "active")]), &[]).await;
    let outcome = expect_outcome(response, 400, "invalid").await;
    assert!(outcome_text(&outcome).contains("status:below"), "{outcome}");

    let response = get_search(&app, "Consent", &params, &[("Prefer", "handling=lenient")]).await;
    let bundle = searchset(response).await;
    let expected = fx.ids_where("Consent", |r| r["status"] == "entered-in-error");
    assert_eq!(
        match_ids(&bundle),
        expected,
        "the other criteria still apply"
    );
    let outcomes = entries_in_mode(&bundle, "outcome");
    assert_eq!(outcomes.len(), 1, "{bundle}");
    assert_eq!(outcomes[0]["resourceType"], "OperationOutcome");
    let text = outcome_text(outcomes[0]);
    assert!(text.contains("colour"), "{text}");
    assert!(
        !text.contains("status"),
        "only the ignored one is named: {text}"
    );

    // Prefer: handling=strict is the default.
    let response = get_search(&app, "Consent", &params, &[("Prefer", "handling=strict")]).await;
    expect_outcome(response, 400, "invalid").await;
}

#[tokio::test]
async fn a_bad_count_is_400() {
    let app = with_override(spawn_app().await);
    for value in ["ten", "-1", "501", "1.5"] {
        let response = get_search(&app, "CarePlan", &pairs(&[("_count", value)]), &[]).await;
        let outcome = expect_outcome(response, 400, "invalid").await;
        assert!(outcome_text(&outcome).contains("_count"), "{outcome}");
    }
    // Lenient handling does not excuse a bad value.
    let response = get_search(
        &app,
        "CarePlan",
        &pairs(&[("_count", "ten")]),
        &[("Prefer", "handling=lenient")],
    )
    .await;
    expect_outcome(response, 400, "invalid").await;
    let response = get_search(&app, "CarePlan", &pairs(&[("_count", "500")]), &[]).await;
    searchset(response).await;
}

#[tokio::test]
async fn an_nhs_number_with_a_bad_check_digit_is_400_never_a_guess_h3() {
    let app = with_override(spawn_app().await);
    load_fixtures(&app).await;
    let bad = nhs_token(BAD_CHECK_DIGIT);
    for (resource_type, name, value) in [
        ("Consent", "patient:identifier", bad.clone()),
        ("Consent", "patient:identifier", BAD_CHECK_DIGIT.to_owned()),
        ("Consent", "patient.identifier", bad.clone()),
        ("CarePlan", "subject:identifier", bad.clone()),
        ("Goal", "patient:identifier", bad.clone()),
        ("RelatedPerson", "patient:identifier", bad.clone()),
        ("Patient", "identifier", bad.clone()),
        ("Patient", "identifier", nhs_token("12345")),
    ] {
        for lenient in [false, true] {
            let headers: &[(&str, &str)] = if lenient {
                &[("Prefer", "handling=lenient")]
            } else {
                &[]
            };
            let response =
                get_search(&app, resource_type, &pairs(&[(name, &value)]), headers).await;
            let outcome = expect_outcome(response, 400, "invalid").await;
            assert!(
                outcome_text(&outcome).contains("NHS number"),
                "{resource_type}?{name}={value}: {outcome}"
            );
        }
    }
    // The right check digit is fine (and finds nobody).
    assert_finds_nothing(
        &app,
        "Consent",
        &[("patient:identifier", &nhs_token("9990000018"))],
    )
    .await;
}

#[tokio::test]
async fn an_unknown_type_is_404() {
    let app = with_override(spawn_app().await);
    let response = get_search(&app, "Observation", &pairs(&[("code", "x")]), &[]).await;
    expect_outcome(response, 404, "not-found").await;
    let response = app
        .client
        .post(app.url("/fhir/Observation/_search"))
        .form(&[("code", "x")])
        .send()
        .await
        .unwrap();
    expect_outcome(response, 404, "not-found").await;
}

#[tokio::test]
async fn xml_search_is_a_bundle_in_xml() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let expected = fx.ids_where("Consent", |r| has_code(r, "scope", "treatment"));
    for (params, headers) in [
        (
            pairs(&[("scope", "treatment")]),
            vec![(ACCEPT.as_str(), "application/fhir+xml")],
        ),
        (pairs(&[("scope", "treatment"), ("_format", "xml")]), vec![]),
    ] {
        let response = get_search(&app, "Consent", &params, &headers).await;
        assert_eq!(response.status().as_u16(), 200);
        let kind = content_type(&response);
        assert!(kind.starts_with("application/fhir+xml"), "{kind}");
        let body = response.text().await.unwrap();
        let start = body.trim_start();
        let root = match start.strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>").unwrap().1.trim_start(),
            None => start,
        };
        assert!(root.starts_with("<Bundle"), "{body}");
        assert!(body.contains("searchset"), "{body}");
        assert!(
            body.contains(&format!("<total value=\"{}\"", expected.len())),
            "{body}"
        );
        for consent in &expected {
            assert!(body.contains(consent.as_str()), "{consent} in {body}");
        }
    }

    // Subsetted resources and a lenient outcome render as XML too.
    let response = get_search(
        &app,
        "Consent",
        &pairs(&[("colour", "blue"), ("_elements", "status,scope")]),
        &[
            ("Accept", "application/fhir+xml"),
            ("Prefer", "handling=lenient"),
        ],
    )
    .await;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Bundle"), "{body}");
    assert!(body.contains("SUBSETTED"), "{body}");
    assert!(body.contains("OperationOutcome"), "{body}");
    assert!(body.contains("colour"), "{body}");
}

// ---------------------------------------------------------------------------------------------
// Hazards (domain.md §6)
// ---------------------------------------------------------------------------------------------

/// Adds a new CPR decision (which supersedes the current one) at `version`; returns the
/// internal API's view.
async fn add_decision(app: &TestApp, id: &str, version: u32, plan: &Value) -> Value {
    let mut plan = plan.clone();
    plan["resuscitation_decisions"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "decision": "for-cpr",
            "decision_date": "2026-11-20",
            "review": "2027-02-20",
            "decided_by": { "name": "Dr Ben Okafor", "role": "Consultant in palliative medicine" },
            "reason": "Treatment response; wishes to be for CPR"
        }));
    let response = app
        .put_plan(id, Some(&format!("\"{version}\"")), &plan)
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "revise failed: {body}");
    body
}

fn cpr_query(nhs: &str, status: Option<&str>) -> Vec<(String, String)> {
    let mut params = pairs(&[
        ("patient:identifier", &nhs_token(nhs)),
        ("scope", "treatment"),
    ]);
    if let Some(status) = status {
        params.push(("status".into(), status.into()));
    }
    params
}

async fn cpr_consents(app: &TestApp, nhs: &str, status: Option<&str>) -> BTreeSet<String> {
    let bundle = searchset(get_search(app, "Consent", &cpr_query(nhs, status), &[]).await).await;
    match_ids(&bundle)
}

#[tokio::test]
async fn search_h1_a_superseded_or_revoked_decision_is_never_active() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;

    // The fixtures: superseded (03), revoked and re-made (02), entered in error (04).
    for (prefix, old, current) in [
        (
            "03",
            "00000000-0000-4000-8000-000000030201",
            "00000000-0000-4000-8000-000000030202",
        ),
        (
            "02",
            "00000000-0000-4000-8000-000000020201",
            "00000000-0000-4000-8000-000000020202",
        ),
    ] {
        let nhs = fx.plan(prefix).nhs();
        assert_eq!(
            cpr_consents(&app, &nhs, Some("active")).await,
            BTreeSet::from([current.to_owned()]),
            "{prefix}: exactly the current decision is active"
        );
        assert_eq!(
            cpr_consents(&app, &nhs, Some("inactive")).await,
            BTreeSet::from([old.to_owned()]),
            "{prefix}: the old decision only as inactive"
        );
        assert_eq!(cpr_consents(&app, &nhs, None).await.len(), 2);
    }
    let p04 = fx.plan("04").nhs();
    assert_eq!(
        cpr_consents(&app, &p04, Some("active")).await,
        BTreeSet::from(["00000000-0000-4000-8000-000000040202".to_owned()])
    );
    assert_eq!(
        cpr_consents(&app, &p04, Some("entered-in-error")).await,
        BTreeSet::from(["00000000-0000-4000-8000-000000040201".to_owned()])
    );

    // Across everybody: never two active CPR decisions for one person, and none from a plan
    // that is revoked or entered in error.
    let bundle = search(
        &app,
        "Consent",
        &[("scope", "treatment"), ("status", "active")],
    )
    .await;
    let mut per_person: BTreeMap<String, usize> = BTreeMap::new();
    for consent in matches(&bundle) {
        assert_eq!(consent["status"], "active");
        for patient in refs(consent, "patient") {
            *per_person.entry(patient).or_default() += 1;
        }
    }
    assert!(per_person.values().all(|n| *n == 1), "{per_person:?}");
    for ended in ["12", "14"] {
        let patient = format!("Patient/{}", fx.plan(ended).patient_id());
        assert!(
            !per_person.contains_key(&patient),
            "{ended}: {per_person:?}"
        );
    }

    // Superseded through the API.
    let nhs = test_nhs_numbers().next().unwrap();
    let (plan_id, created) = app.create_plan(&minimal_plan(&nhs)).await;
    let old = created["plan"]["resuscitation_decisions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        cpr_consents(&app, &nhs, Some("active")).await,
        BTreeSet::from([old.clone()])
    );
    let updated = add_decision(&app, &plan_id, 1, &created["plan"]).await;
    let new = updated["derived"]["current_resuscitation_decision"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    assert_eq!(
        cpr_consents(&app, &nhs, Some("active")).await,
        BTreeSet::from([new.clone()]),
        "exactly the current decision"
    );
    assert_eq!(
        cpr_consents(&app, &nhs, Some("inactive")).await,
        BTreeSet::from([old.clone()]),
        "the superseded one only as inactive"
    );
    // The category follows the current decision: for CPR now, no DNACPR active.
    let bundle = search(
        &app,
        "Consent",
        &[
            ("patient:identifier", &nhs_token(&nhs)),
            ("category", "dnr"),
            ("status", "active"),
        ],
    )
    .await;
    assert_eq!(total(&bundle), 0, "{bundle}");
}

#[tokio::test]
async fn search_h1_a_revoked_plans_decisions_are_inactive() {
    let app = with_override(spawn_app().await);
    let mut numbers = test_nhs_numbers();
    let revoked = numbers.next().unwrap();
    let kept = numbers.next().unwrap();
    let (plan_id, created) = app.create_plan(&minimal_plan(&revoked)).await;
    app.create_plan(&minimal_plan(&kept)).await;
    let decision = created["plan"]["resuscitation_decisions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        cpr_consents(&app, &revoked, Some("active")).await,
        BTreeSet::from([decision.clone()])
    );

    let response = app
        .client
        .post(app.url(&format!("/api/v1/plans/{plan_id}/$revoke")))
        .header("If-Match", "\"1\"")
        .json(&json!({ "reason": "Patient withdrew the plan" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    assert!(
        cpr_consents(&app, &revoked, Some("active"))
            .await
            .is_empty(),
        "no active CPR decision from a revoked plan"
    );
    assert_eq!(
        cpr_consents(&app, &revoked, Some("inactive")).await,
        BTreeSet::from([decision.clone()]),
        "still there, as inactive (its history is kept)"
    );
    let bundle = search(
        &app,
        "Consent",
        &[
            ("patient:identifier", &nhs_token(&revoked)),
            ("status", "active"),
        ],
    )
    .await;
    assert_eq!(
        total(&bundle),
        0,
        "no active Consent of any scope: {bundle}"
    );
    let bundle = search(
        &app,
        "CarePlan",
        &[("patient:identifier", &nhs_token(&revoked))],
    )
    .await;
    assert_eq!(matches(&bundle).len(), 1);
    assert_eq!(matches(&bundle)[0]["status"], "revoked");
    // Across everybody, the revoked person's decision is not among the active ones.
    let bundle = search(
        &app,
        "Consent",
        &[("scope", "treatment"), ("status", "active")],
    )
    .await;
    let active = match_ids(&bundle);
    assert!(!active.contains(&decision), "{active:?}");
    assert_eq!(active.len(), 1, "the other person's decision stays active");
    assert_eq!(cpr_consents(&app, &kept, Some("active")).await, active);

    // A new plan for the same person: its decision is the one active one.
    let (_, remade) = app.create_plan(&minimal_plan(&revoked)).await;
    let new = remade["plan"]["resuscitation_decisions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, decision);
    assert_eq!(
        cpr_consents(&app, &revoked, Some("active")).await,
        BTreeSet::from([new.clone()]),
        "exactly the new plan's decision"
    );
    assert_eq!(
        cpr_consents(&app, &revoked, Some("inactive")).await,
        BTreeSet::from([decision.clone()])
    );
    assert_eq!(
        cpr_consents(&app, &revoked, None).await,
        BTreeSet::from([new, decision])
    );
}

#[tokio::test]
async fn search_h2_no_decision_means_no_cpr_consent() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let p05 = fx.plan("05");
    let nhs = p05.nhs();
    let bundle = searchset(get_search(&app, "Consent", &cpr_query(&nhs, None), &[]).await).await;
    assert_eq!(total(&bundle), 0, "{bundle}");
    assert!(matches(&bundle).is_empty());
    // Not for-CPR by default either.
    assert_finds_nothing(
        &app,
        "Consent",
        &[
            ("patient:identifier", &nhs_token(&nhs)),
            ("category", &format!("{SNOMED}|450475007")),
        ],
    )
    .await;
    // The person's only Consent is the consent to share.
    let bundle = search(&app, "Consent", &[("patient:identifier", &nhs_token(&nhs))]).await;
    assert_eq!(match_ids(&bundle), p05.ids("Consent"));
    assert!(matches(&bundle)
        .iter()
        .all(|c| has_code(c, "scope", "patient-privacy")));

    let bundle = search(
        &app,
        "CarePlan",
        &[("patient:identifier", &nhs_token(&nhs))],
    )
    .await;
    let plans = matches(&bundle);
    assert_eq!(plans.len(), 1);
    let div = plans[0]["text"]["div"].as_str().unwrap();
    assert!(div.contains("No decision recorded"), "{div}");
    assert!(!div.contains("For attempted CPR"), "{div}");
    assert!(!div.contains("NOT for attempted CPR"), "{div}");
    // The CarePlan points at no CPR decision.
    let decisions: Vec<String> = refs(plans[0], "supportingInfo");
    assert!(
        decisions.iter().all(|r| p05
            .ids("Consent")
            .contains(r.trim_start_matches("Consent/"))),
        "{decisions:?}"
    );
}

#[tokio::test]
async fn search_h3_never_returns_another_persons_resources() {
    let app = with_override(spawn_app().await);
    // Two people alike in everything but the NHS number (same name, same birth date).
    let mut numbers = test_nhs_numbers();
    let one = numbers.next().unwrap();
    let two = numbers.next().unwrap();
    app.create_plan(&minimal_plan(&one)).await;
    app.create_plan(&minimal_plan(&two)).await;
    let fx = load_fixtures(&app).await;

    let patient_of = |bundle: &Value| -> String {
        let found = matches(bundle);
        assert_eq!(found.len(), 1, "{bundle}");
        key(found[0])
    };
    let mut people = vec![one.clone(), two.clone()];
    people.extend(["01", "03", "09"].iter().map(|p| fx.plan(p).nhs()));
    for nhs in &people {
        let token = nhs_token(nhs);
        let me = patient_of(&search(&app, "Patient", &[("identifier", &token)]).await);
        let patient_id = me.trim_start_matches("Patient/").to_owned();
        let by_id_and_identifier = patient_of(
            &search(
                &app,
                "Patient",
                &[("_id", &patient_id), ("identifier", &token)],
            )
            .await,
        );
        assert_eq!(by_id_and_identifier, me);
        for resource_type in ["CarePlan", "Consent", "Goal", "RelatedPerson"] {
            for name in ["patient:identifier", "patient.identifier"] {
                let bundle = search(&app, resource_type, &[(name, &token)]).await;
                if ["CarePlan", "Consent"].contains(&resource_type) {
                    assert!(!matches(&bundle).is_empty(), "{resource_type}: {bundle}");
                }
                for resource in entries(&bundle).iter().map(|e| &e["resource"]) {
                    let pointing = patient_references(resource);
                    assert!(
                        pointing
                            .iter()
                            .all(|r| r == &me || r.ends_with(&format!("/{me}"))),
                        "{resource_type}?{name}={nhs}: {pointing:?} is not only {me}"
                    );
                }
            }
        }
        // With includes too.
        let bundle = search(
            &app,
            "Consent",
            &[
                ("patient:identifier", &token),
                ("_include", "Consent:patient"),
            ],
        )
        .await;
        let extra: Vec<String> = included(&bundle).into_iter().map(key).collect();
        assert_eq!(extra, vec![me.clone()]);
        let bundle = search(
            &app,
            "Patient",
            &[
                ("identifier", &token),
                ("_revinclude", "Consent:patient"),
                ("_revinclude", "Goal:patient"),
                ("_revinclude", "CarePlan:patient"),
                ("_revinclude", "RelatedPerson:patient"),
            ],
        )
        .await;
        for resource in entries(&bundle).iter().map(|e| &e["resource"]) {
            let pointing = patient_references(resource);
            assert!(
                pointing.iter().all(|r| r == &me),
                "{nhs}: {pointing:?} is not only {me}"
            );
            let nhs_numbers: Vec<&Value> = items(resource, "identifier")
                .into_iter()
                .filter(|i| i["system"] == NHS_SYSTEM)
                .map(|i| &i["value"])
                .collect();
            assert!(nhs_numbers.iter().all(|v| *v == nhs.as_str()), "{resource}");
        }
    }
    // The two alike people are told apart.
    let first = patient_of(&search(&app, "Patient", &[("identifier", &nhs_token(&one))]).await);
    let second = patient_of(&search(&app, "Patient", &[("identifier", &nhs_token(&two))]).await);
    assert_ne!(first, second);
    let both = search(&app, "Patient", &[("family", "Testperson")]).await;
    assert_eq!(total(&both), 2);
    // An unknown (valid) NHS number is nobody, not the nearest match.
    for resource_type in ["Patient", "CarePlan", "Consent", "Goal"] {
        let name = if resource_type == "Patient" {
            "identifier"
        } else {
            "patient:identifier"
        };
        assert_finds_nothing(&app, resource_type, &[(name, &nhs_token(&unknown_nhs()))]).await;
    }
}

#[tokio::test]
async fn search_h7_an_overdue_review_is_visible() {
    let app = with_override(spawn_app().await);
    let fx = load_fixtures(&app).await;
    let p13 = fx.plan("13");
    let nhs = p13.nhs();
    let today = test_now().date_naive();

    let bundle = search(
        &app,
        "CarePlan",
        &[("patient:identifier", &nhs_token(&nhs))],
    )
    .await;
    assert_eq!(match_ids(&bundle), p13.ids("CarePlan"));
    let plan = matches(&bundle)[0];
    assert_eq!(plan["status"], "active", "an overdue plan is not hidden");
    let mut found = Vec::new();
    extensions_with(plan, REVIEW_DATE, &mut found);
    assert!(
        !found.is_empty(),
        "the review date is on the CarePlan: {plan}"
    );
    for extension in &found {
        let review = day(extension["valueDate"].as_str().unwrap());
        assert_eq!(review, date(2026, 6, 1));
        assert!(review < today, "past its review date");
    }
    let div = plan["text"]["div"].as_str().unwrap();
    assert!(div.contains("2026-06-01"), "{div}");

    // The current decision, found as active, carries the past review date too.
    let bundle =
        searchset(get_search(&app, "Consent", &cpr_query(&nhs, Some("active")), &[]).await).await;
    let decisions = matches(&bundle);
    assert_eq!(decisions.len(), 1, "{bundle}");
    let mut found = Vec::new();
    extensions_with(decisions[0], REVIEW_DATE, &mut found);
    assert_eq!(found.len(), 1, "{}", decisions[0]);
    assert_eq!(found[0]["valueDate"], "2026-06-01");

    // Whole-population searches do not drop it either.
    let bundle = search(&app, "CarePlan", &[("status", "active")]).await;
    assert!(match_ids(&bundle).contains(&id(plan)));
    let bundle = search(&app, "CarePlan", &[("date", "ge2026-03-01")]).await;
    assert!(match_ids(&bundle).contains(&id(plan)));
}
