//! The FHIR R4 REST API under `/fhir` end to end: the CapabilityStatement says exactly what the
//! router answers; read, vread and instance history with ETags and conditional reads; JSON and
//! XML content negotiation; errors as OperationOutcomes; and the emergency summary
//! (`Patient/$summary`) held to the hazards H1, H2, H3 and H7 of domain.md §6.

use std::collections::{BTreeMap, BTreeSet};

use acp_fhir::domain::ImportRecord;
use acp_fhir::fhir::project;
use acp_fhir::fhir::summary::SECTIONS;
use acp_fhir::http::fhir::{AUDIT_INTERACTIONS, CAPABILITIES, CONFORMANCE, PROVENANCE_CAPABILITY};
use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::{minimal_plan, spawn_app, test_nhs_numbers, test_now, TestApp};

const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const SNOMED: &str = "http://snomed.info/sct";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn nhs(n: usize) -> String {
    test_nhs_numbers().nth(n).unwrap()
}

/// GETs a `/fhir` path with optional extra headers.
async fn fhir_get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn header(response: &Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Asserts the status and a FHIR JSON body, and returns the body.
async fn fhir_json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let kind = content_type(&response);
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
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

/// The plan of fixture `name` (`fixtures/plans/{name}.json`) as an import line.
fn fixture(name: &str) -> ImportRecord {
    let path = format!("{}/fixtures/plans/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Stores fixture `name` as it is (id, dates, version 1) and returns its record.
async fn import_fixture(app: &TestApp, name: &str) -> acp_fhir::domain::PlanRecord {
    let record = fixture(name).into_record(test_now(), "t").unwrap();
    app.store
        .create(&record, &project(&record).keys())
        .await
        .unwrap();
    record
}

/// PUTs `plan` over `version` and returns the internal API's view.
async fn revise(app: &TestApp, id: &str, version: u32, plan: &Value) -> Value {
    let response = app
        .put_plan(id, Some(&format!("\"{version}\"")), plan)
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "revise failed: {body}");
    body
}

/// Adds a new CPR decision (which supersedes the current one) at `version`.
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
    revise(app, id, version, &plan).await
}

fn summary_path(nhs_number: &str) -> String {
    format!("/fhir/Patient/$summary?identifier={NHS_SYSTEM}|{nhs_number}")
}

async fn summary(app: &TestApp, nhs_number: &str) -> Value {
    let bundle = fhir_json(fhir_get(app, &summary_path(nhs_number), &[]).await, 200).await;
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "document");
    bundle
}

fn entries(bundle: &Value) -> &Vec<Value> {
    bundle["entry"].as_array().unwrap()
}

/// The resources of a Bundle.
fn resources(bundle: &Value) -> Vec<&Value> {
    entries(bundle).iter().map(|e| &e["resource"]).collect()
}

/// The first resource of `resource_type` with `id` in a Bundle.
fn resource<'a>(bundle: &'a Value, resource_type: &str, id: &str) -> &'a Value {
    resources(bundle)
        .into_iter()
        .find(|r| r["resourceType"] == resource_type && r["id"] == id)
        .unwrap_or_else(|| panic!("no {resource_type}/{id} in the Bundle"))
}

fn composition(bundle: &Value) -> &Value {
    let first = &entries(bundle)[0]["resource"];
    assert_eq!(first["resourceType"], "Composition");
    first
}

fn sections(bundle: &Value) -> &Vec<Value> {
    composition(bundle)["section"].as_array().unwrap()
}

fn section_code(section: &Value) -> &str {
    section["code"]["coding"][0]["code"].as_str().unwrap()
}

fn section<'a>(bundle: &'a Value, code: &str) -> &'a Value {
    sections(bundle)
        .iter()
        .find(|s| section_code(s) == code)
        .unwrap_or_else(|| panic!("no section {code}"))
}

fn section_text(bundle: &Value, code: &str) -> String {
    section(bundle, code)["text"]["div"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn section_references(bundle: &Value, code: &str) -> Vec<String> {
    section(bundle, code)["entry"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| r["reference"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// One id per resource type among a Bundle's resources (the Composition aside).
fn ids_by_type(bundle: &Value) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for r in resources(bundle) {
        let kind = r["resourceType"].as_str().unwrap();
        if kind != "Composition" {
            ids.entry(kind.to_owned())
                .or_insert_with(|| r["id"].as_str().unwrap().to_owned());
        }
    }
    ids
}

/// Every `reference` string anywhere in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if key == "reference" {
                    if let Some(text) = item.as_str() {
                        found.push(text.to_owned());
                    }
                }
                references(item, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| references(i, found)),
        _ => {}
    }
}

/// The Patient's NHS number identifiers.
fn nhs_identifiers(patient: &Value) -> Vec<String> {
    patient["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["system"] == NHS_SYSTEM)
        .map(|i| i["value"].as_str().unwrap().to_owned())
        .collect()
}

fn consents_with_scope<'a>(bundle: &'a Value, scope: &str) -> Vec<&'a Value> {
    resources(bundle)
        .into_iter()
        .filter(|r| r["resourceType"] == "Consent" && r["scope"]["coding"][0]["code"] == scope)
        .collect()
}

fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Creates a minimal plan and returns (plan id, its content, the Patient id).
async fn minimal_with_patient(app: &TestApp, nhs_number: &str) -> (String, Value, String) {
    let (id, created) = app.create_plan(&minimal_plan(nhs_number)).await;
    let bundle = summary(app, nhs_number).await;
    let patient = ids_by_type(&bundle)["Patient"].clone();
    (id, created["plan"].clone(), patient)
}

// ---------------------------------------------------------------------------------------------
// metadata and the router
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn metadata_is_a_capability_statement_of_exactly_what_is_served() {
    let app = spawn_app().await;
    let statement = fhir_json(fhir_get(&app, "/fhir/metadata", &[]).await, 200).await;
    assert_eq!(statement["resourceType"], "CapabilityStatement");
    assert_eq!(statement["fhirVersion"], "4.0.1");
    assert_eq!(statement["kind"], "instance");
    let formats: BTreeSet<&str> = statement["format"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        formats,
        BTreeSet::from(["application/fhir+json", "application/fhir+xml"])
    );

    let rest = statement["rest"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["mode"], "server");
    let mut listed = BTreeSet::new();
    let mut operations = BTreeSet::new();
    for resource in rest[0]["resource"].as_array().unwrap() {
        let kind = resource["type"].as_str().unwrap().to_owned();
        for interaction in resource["interaction"].as_array().unwrap() {
            listed.insert((
                kind.clone(),
                interaction["code"].as_str().unwrap().to_owned(),
            ));
        }
        for operation in resource["operation"].as_array().into_iter().flatten() {
            assert!(operation["definition"]
                .as_str()
                .is_some_and(|d| !d.is_empty()));
            operations.insert((kind.clone(), operation["name"].as_str().unwrap().to_owned()));
        }
    }
    let expected: BTreeSet<(String, String)> =
        CAPABILITIES
            .iter()
            .chain(std::iter::once(&PROVENANCE_CAPABILITY))
            .flat_map(|c| {
                c.interactions
                    .iter()
                    .map(|i| (c.resource_type.to_owned(), (*i).to_owned()))
            })
            .chain(acp_fhir::fhir::conformance::TYPES.iter().flat_map(|kind| {
                ["read", "search-type"].map(|i| ((*kind).to_owned(), i.to_owned()))
            }))
            .chain(
                AUDIT_INTERACTIONS
                    .iter()
                    .map(|i| ("AuditEvent".to_owned(), (*i).to_owned())),
            )
            .collect();
    assert_eq!(listed, expected);
    assert_eq!(
        rest[0]["security"]["service"][0]["coding"][0]["code"],
        "SMART-on-FHIR"
    );
    let expected_operations: BTreeSet<(String, String)> = CAPABILITIES
        .iter()
        .flat_map(|c| {
            c.operations
                .iter()
                .map(|(name, _)| (c.resource_type.to_owned(), (*name).to_owned()))
        })
        .collect();
    assert_eq!(operations, expected_operations);
    assert!(operations.contains(&("Patient".to_owned(), "summary".to_owned())));
    let system: Vec<&str> = rest[0]["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(system, ["transaction", "batch"]);
}

#[tokio::test]
async fn every_listed_interaction_is_answered_and_an_unlisted_one_is_not() {
    let app = spawn_app().await;
    // Fixture 01 has every resource type: goals, contacts and an LPA, clinicians, a GP practice.
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let bundle = summary(&app, &record.plan.person.nhs_number.to_string()).await;
    let ids = ids_by_type(&bundle);

    for capability in CAPABILITIES {
        let (kind, interactions) = (capability.resource_type, capability.interactions);
        let id = ids
            .get(kind)
            .unwrap_or_else(|| panic!("the summary has no {kind} to try"));
        for interaction in interactions {
            if ["create", "update", "delete"].contains(interaction) {
                // Writes are answered (tests/it/fhir_write.rs); here: not a 404 or 405.
                let (method, path) = match *interaction {
                    "create" => (reqwest::Method::POST, format!("/fhir/{kind}")),
                    "update" => (reqwest::Method::PUT, format!("/fhir/{kind}/{id}")),
                    _ => (
                        reqwest::Method::DELETE,
                        format!("/fhir/{kind}/no-such-{kind}"),
                    ),
                };
                let response = app
                    .client
                    .request(method, app.url(&path))
                    .header(CONTENT_TYPE, "application/fhir+json")
                    .body(format!("{{\"resourceType\": \"{kind}\"}}"))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                assert!(
                    status != 405 && (400..500).contains(&status),
                    "{interaction} {path}: {status}"
                );
                continue;
            }
            let path = match *interaction {
                "read" => format!("/fhir/{kind}/{id}"),
                "vread" => format!("/fhir/{kind}/{id}/_history/1"),
                "history-instance" => format!("/fhir/{kind}/{id}/_history"),
                "search-type" => format!("/fhir/{kind}?_id={id}"),
                other => panic!("no request known for interaction {other}: add one here"),
            };
            let body = fhir_json(fhir_get(&app, &path, &[]).await, 200).await;
            if *interaction == "search-type" {
                assert_eq!(body["type"], "searchset", "{path}");
                assert_eq!(body["entry"][0]["resource"]["id"], id.as_str(), "{path}");
            } else if *interaction == "history-instance" {
                assert_eq!(body["resourceType"], "Bundle", "{path}");
                assert_eq!(body["entry"][0]["resource"]["resourceType"], kind, "{path}");
            } else {
                assert_eq!(body["resourceType"], kind, "{path}");
                assert_eq!(body["id"], id.as_str(), "{path}");
            }
        }
    }

    // Conformance resources are read as listed.
    for (kind, id) in CONFORMANCE {
        let body = fhir_json(
            fhir_get(&app, &format!("/fhir/{kind}/{id}"), &[]).await,
            200,
        )
        .await;
        assert_eq!(body["resourceType"], kind);
        assert_eq!(body["id"], id);
    }
    let summary_operation = fhir_get(&app, "/fhir/OperationDefinition/Patient-summary", &[]).await;
    let summary_operation = fhir_json(summary_operation, 200).await;
    assert_eq!(summary_operation["code"], "summary");
    assert_eq!(
        summary_operation["url"],
        acp_fhir::http::fhir::SUMMARY_OPERATION
    );

    // delete is not listed for a Practitioner, so not answered.
    let practitioner = &ids["Practitioner"];
    let update = app
        .client
        .delete(app.url(&format!("/fhir/Practitioner/{practitioner}")))
        .header(CONTENT_TYPE, "application/fhir+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(
        !update.status().is_success(),
        "delete is not in the CapabilityStatement but answered {}",
        update.status()
    );
}

// ---------------------------------------------------------------------------------------------
// read
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn read_gives_the_version_as_etag_and_honours_if_none_match() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (plan_id, plan, patient) = minimal_with_patient(&app, &nhs_number).await;
    let path = format!("/fhir/Patient/{patient}");

    let response = fhir_get(&app, &path, &[]).await;
    assert_eq!(header(&response, ETAG).as_deref(), Some("W/\"1\""));
    assert_eq!(
        header(&response, LAST_MODIFIED).as_deref(),
        Some(http_date(test_now()).as_str())
    );
    let body = fhir_json(response, 200).await;
    assert_eq!(body["resourceType"], "Patient");
    assert_eq!(body["id"], patient.as_str());
    assert_eq!(body["meta"]["versionId"], "1");
    assert_eq!(nhs_identifiers(&body), vec![nhs_number.clone()]);

    // Unchanged: 304 with no body.
    let unchanged = fhir_get(&app, &path, &[("If-None-Match", "W/\"1\"")]).await;
    assert_eq!(unchanged.status().as_u16(), 304);
    assert_eq!(header(&unchanged, ETAG).as_deref(), Some("W/\"1\""));
    assert!(unchanged.bytes().await.unwrap().is_empty());

    // After a change the same read is version 2, and the old tag no longer matches.
    let mut changed = plan.clone();
    changed["person"]["given_names"] = json!(["Alma", "June"]);
    revise(&app, &plan_id, 1, &changed).await;
    let response = fhir_get(&app, &path, &[]).await;
    assert_eq!(header(&response, ETAG).as_deref(), Some("W/\"2\""));
    let body = fhir_json(response, 200).await;
    assert_eq!(body["meta"]["versionId"], "2");
    let stale = fhir_get(&app, &path, &[("If-None-Match", "W/\"1\"")]).await;
    assert_eq!(header(&stale, ETAG).as_deref(), Some("W/\"2\""));
    let body = fhir_json(stale, 200).await;
    assert_eq!(body["meta"]["versionId"], "2");
    let current = fhir_get(&app, &path, &[(IF_NONE_MATCH.as_str(), "W/\"2\"")]).await;
    assert_eq!(current.status().as_u16(), 304);
}

#[tokio::test]
async fn read_of_an_unknown_id_or_type_is_a_404_operation_outcome() {
    let app = spawn_app().await;
    let (_, _, patient) = minimal_with_patient(&app, &nhs(0)).await;
    for path in [
        "/fhir/Patient/no-such-id".to_owned(),
        format!("/fhir/Patient/{}", uuid::Uuid::new_v4()),
        // A real id under the wrong type.
        format!("/fhir/Consent/{patient}"),
        format!("/fhir/Observation/{patient}"),
        "/fhir/Observation/x".to_owned(),
    ] {
        let outcome = expect_outcome(fhir_get(&app, &path, &[]).await, 404, "not-found").await;
        assert!(
            outcome["issue"][0]["diagnostics"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{path}: {outcome}"
        );
    }
}

#[tokio::test]
async fn a_resource_no_longer_in_the_plan_is_gone_but_its_history_remains() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let id = record.id.to_string();
    let nhs_number = record.plan.person.nhs_number.to_string();
    let bundle = summary(&app, &nhs_number).await;
    let ids = ids_by_type(&bundle);
    let related = &ids["RelatedPerson"];

    let current: Value = app
        .get(&format!("/api/v1/plans/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let mut plan = current["plan"].clone();
    plan["contacts"] = json!([]);
    plan["lpas"] = json!([]);
    revise(&app, &id, 1, &plan).await;

    expect_outcome(
        fhir_get(&app, &format!("/fhir/RelatedPerson/{related}"), &[]).await,
        410,
        "deleted",
    )
    .await;
    let old = fhir_json(
        fhir_get(
            &app,
            &format!("/fhir/RelatedPerson/{related}/_history/1"),
            &[],
        )
        .await,
        200,
    )
    .await;
    assert_eq!(old["id"], related.as_str());
    let history = fhir_json(
        fhir_get(
            &app,
            &format!("/fhir/RelatedPerson/{related}/_history"),
            &[],
        )
        .await,
        200,
    )
    .await;
    assert_eq!(history["total"], 1);
}

// ---------------------------------------------------------------------------------------------
// vread and _history
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn vread_shows_each_version_as_it_was_h1_h5() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (plan_id, created) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let old = created["plan"]["resuscitation_decisions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let updated = add_decision(&app, &plan_id, 1, &created["plan"]).await;
    let new = updated["derived"]["current_resuscitation_decision"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);

    let v1 = fhir_get(&app, &format!("/fhir/Consent/{old}/_history/1"), &[]).await;
    assert_eq!(header(&v1, ETAG).as_deref(), Some("W/\"1\""));
    let v1 = fhir_json(v1, 200).await;
    assert_eq!(v1["resourceType"], "Consent");
    assert_eq!(v1["id"], old.as_str());
    assert_eq!(v1["meta"]["versionId"], "1");
    assert_eq!(v1["status"], "active");

    let v2 = fhir_get(&app, &format!("/fhir/Consent/{old}/_history/2"), &[]).await;
    assert_eq!(header(&v2, ETAG).as_deref(), Some("W/\"2\""));
    let v2 = fhir_json(v2, 200).await;
    assert_eq!(v2["meta"]["versionId"], "2");
    assert_eq!(
        v2["status"], "inactive",
        "a superseded decision is not active"
    );
    // The read is the newest version.
    let read = fhir_json(
        fhir_get(&app, &format!("/fhir/Consent/{old}"), &[]).await,
        200,
    )
    .await;
    assert_eq!(read, v2);

    let current = fhir_json(
        fhir_get(&app, &format!("/fhir/Consent/{new}/_history/2"), &[]).await,
        200,
    )
    .await;
    assert_eq!(current["status"], "active");

    // No such version: not before the resource existed, not beyond the newest, not a number.
    for path in [
        format!("/fhir/Consent/{new}/_history/1"),
        format!("/fhir/Consent/{old}/_history/99"),
        format!("/fhir/Consent/{old}/_history/0"),
        format!("/fhir/Consent/{old}/_history/abc"),
        "/fhir/Consent/unknown/_history/1".to_owned(),
    ] {
        expect_outcome(fhir_get(&app, &path, &[]).await, 404, "not-found").await;
    }
}

#[tokio::test]
async fn instance_history_lists_every_version_with_the_resource_newest_first() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (plan_id, created) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let old = created["plan"]["resuscitation_decisions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let updated = add_decision(&app, &plan_id, 1, &created["plan"]).await;
    let new = updated["derived"]["current_resuscitation_decision"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut plan = updated["plan"].clone();
    plan["special_note"] = json!("Dog in the house");
    revise(&app, &plan_id, 2, &plan).await;

    let history = fhir_json(
        fhir_get(&app, &format!("/fhir/Consent/{old}/_history"), &[]).await,
        200,
    )
    .await;
    assert_eq!(history["resourceType"], "Bundle");
    assert_eq!(history["type"], "history");
    assert_eq!(history["total"], 3);
    let list = entries(&history);
    assert_eq!(list.len(), 3);
    let versions: Vec<&str> = list
        .iter()
        .map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["3", "2", "1"], "newest first");
    let statuses: Vec<&str> = list
        .iter()
        .map(|e| e["resource"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["inactive", "inactive", "active"]);
    for (entry, version) in list.iter().zip(["3", "2", "1"]) {
        assert_eq!(entry["resource"]["id"], old.as_str());
        assert!(entry["fullUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/fhir/Consent/{old}")));
        assert!(entry["request"]["method"].as_str().is_some(), "{entry}");
        assert!(entry["request"]["url"].as_str().is_some(), "{entry}");
        assert_eq!(entry["response"]["etag"], format!("W/\"{version}\""));
        assert!(entry["response"]["status"].as_str().is_some(), "{entry}");
        assert!(entry["response"]["lastModified"].as_str().is_some());
    }
    assert_eq!(list[2]["request"]["method"], "POST");
    assert_eq!(list[2]["response"]["status"], "201");
    assert_eq!(list[0]["request"]["method"], "PUT");
    assert_eq!(list[0]["request"]["url"], format!("Consent/{old}"));
    assert_eq!(list[0]["response"]["status"], "200");

    // The new decision is in versions 2 and 3 only.
    let history = fhir_json(
        fhir_get(&app, &format!("/fhir/Consent/{new}/_history"), &[]).await,
        200,
    )
    .await;
    assert_eq!(history["total"], 2);
    let versions: Vec<&str> = entries(&history)
        .iter()
        .map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["3", "2"]);

    expect_outcome(
        fhir_get(&app, "/fhir/Consent/unknown/_history", &[]).await,
        404,
        "not-found",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// formats
// ---------------------------------------------------------------------------------------------

async fn expect_xml(response: Response, status: u16, root: &str) -> String {
    let actual = response.status().as_u16();
    let kind = content_type(&response);
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    assert!(kind.starts_with("application/fhir+xml"), "{kind:?}");
    assert!(text.trim_start().starts_with('<'), "{text}");
    assert!(text.contains(&format!("<{root}")), "{text}");
    assert!(text.contains("http://hl7.org/fhir"), "{text}");
    text
}

#[tokio::test]
async fn xml_is_served_when_asked_by_accept_or_format() {
    let app = spawn_app().await;
    let (_, _, patient) = minimal_with_patient(&app, &nhs(0)).await;
    let path = format!("/fhir/Patient/{patient}");

    for accept in ["application/fhir+xml", "application/xml", "text/xml"] {
        let text = expect_xml(
            fhir_get(&app, &path, &[(ACCEPT.as_str(), accept)]).await,
            200,
            "Patient",
        )
        .await;
        assert!(text.contains(&patient), "{text}");
    }
    expect_xml(
        fhir_get(&app, &format!("{path}?_format=xml"), &[]).await,
        200,
        "Patient",
    )
    .await;
    expect_xml(
        fhir_get(&app, &format!("{path}?_format=application/fhir%2Bxml"), &[]).await,
        200,
        "Patient",
    )
    .await;
    expect_xml(
        fhir_get(&app, "/fhir/metadata?_format=xml", &[]).await,
        200,
        "CapabilityStatement",
    )
    .await;
    expect_xml(
        fhir_get(&app, &format!("{}&_format=xml", summary_path(&nhs(0))), &[]).await,
        200,
        "Bundle",
    )
    .await;

    // _format wins over Accept.
    let body = fhir_json(
        fhir_get(
            &app,
            &format!("{path}?_format=json"),
            &[(ACCEPT.as_str(), "application/fhir+xml")],
        )
        .await,
        200,
    )
    .await;
    assert_eq!(body["resourceType"], "Patient");
    // JSON by default and for a wildcard.
    for accept in ["*/*", "application/fhir+json", "application/json"] {
        let body = fhir_json(
            fhir_get(&app, &path, &[(ACCEPT.as_str(), accept)]).await,
            200,
        )
        .await;
        assert_eq!(body["id"], patient.as_str());
    }
}

#[tokio::test]
async fn pretty_json_is_indented() {
    let app = spawn_app().await;
    let (_, _, patient) = minimal_with_patient(&app, &nhs(0)).await;
    let path = format!("/fhir/Patient/{patient}");
    let compact = fhir_get(&app, &path, &[]).await.text().await.unwrap();
    let pretty = fhir_get(&app, &format!("{path}?_pretty=true"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(pretty.contains('\n'), "{pretty}");
    assert!(pretty.contains("\n  \"resourceType\""), "{pretty}");
    assert!(!compact.contains("\n  \""), "{compact}");
    let a: Value = serde_json::from_str(&compact).unwrap();
    let b: Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(a, b, "the same resource either way");
}

#[tokio::test]
async fn an_unsupported_format_is_406() {
    let app = spawn_app().await;
    let (_, _, patient) = minimal_with_patient(&app, &nhs(0)).await;
    let path = format!("/fhir/Patient/{patient}");
    expect_outcome(
        fhir_get(&app, &path, &[(ACCEPT.as_str(), "text/html")]).await,
        406,
        "not-supported",
    )
    .await;
    expect_outcome(
        fhir_get(&app, &format!("{path}?_format=turtle"), &[]).await,
        406,
        "not-supported",
    )
    .await;
    expect_outcome(
        fhir_get(&app, "/fhir/metadata", &[(ACCEPT.as_str(), "text/html")]).await,
        406,
        "not-supported",
    )
    .await;
}

#[tokio::test]
async fn an_error_on_an_xml_request_is_an_xml_operation_outcome() {
    let app = spawn_app().await;
    let xml = [(ACCEPT.as_str(), "application/fhir+xml")];
    let text = expect_xml(
        fhir_get(&app, "/fhir/Patient/no-such-id", &xml).await,
        404,
        "OperationOutcome",
    )
    .await;
    assert!(text.contains("not-found"), "{text}");
    let text = expect_xml(
        fhir_get(
            &app,
            "/fhir/Patient/$summary?identifier=123&_format=xml",
            &[],
        )
        .await,
        400,
        "OperationOutcome",
    )
    .await;
    assert!(text.contains("invalid"), "{text}");
    expect_xml(
        fhir_get(&app, "/fhir/Observation/x", &xml).await,
        404,
        "OperationOutcome",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// $summary
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn summary_never_returns_another_persons_data() {
    let app = spawn_app().await;
    let (alma, bert) = (nhs(0), nhs(1));
    app.create_plan(&minimal_plan(&alma)).await;
    let mut plan = minimal_plan(&bert);
    plan["person"]["family_name"] = json!("Otherperson");
    plan["person"]["given_names"] = json!(["Bert"]);
    app.create_plan(&plan).await;

    for (asked, other, other_name) in [(&alma, &bert, "Otherperson"), (&bert, &alma, "Testperson")]
    {
        let bundle = summary(&app, asked).await;
        let patients: Vec<&Value> = resources(&bundle)
            .into_iter()
            .filter(|r| r["resourceType"] == "Patient")
            .collect();
        assert_eq!(patients.len(), 1, "one Patient in a summary");
        assert_eq!(nhs_identifiers(patients[0]), vec![asked.clone()]);
        let patient_ref = format!("Patient/{}", patients[0]["id"].as_str().unwrap());
        assert_eq!(composition(&bundle)["subject"]["reference"], patient_ref);
        for entry in entries(&bundle) {
            let text = entry.to_string();
            assert!(
                !text.contains(other.as_str()),
                "{asked}'s summary mentions {other}: {text}"
            );
            assert!(
                !text.contains(other_name),
                "{asked}'s summary names the other person"
            );
        }
    }
}

#[tokio::test]
async fn summary_of_an_unknown_nhs_number_is_404() {
    let app = spawn_app().await;
    app.create_plan(&minimal_plan(&nhs(0))).await;
    expect_outcome(
        fhir_get(&app, &summary_path(&nhs(1)), &[]).await,
        404,
        "not-found",
    )
    .await;
    expect_outcome(
        fhir_get(
            &app,
            &format!("/fhir/Patient/{}/$summary", uuid::Uuid::new_v4()),
            &[],
        )
        .await,
        404,
        "not-found",
    )
    .await;
}

#[tokio::test]
async fn summary_with_an_invalid_nhs_number_is_400() {
    let app = spawn_app().await;
    let good = nhs(0);
    app.create_plan(&minimal_plan(&good)).await;
    let last = good.chars().last().unwrap().to_digit(10).unwrap();
    let bad_check = format!("{}{}", &good[..9], (last + 1) % 10);
    let cases = [
        ("bad check digit", summary_path(&bad_check)),
        ("too short", summary_path(&good[..9])),
        (
            "missing system",
            format!("/fhir/Patient/$summary?identifier={good}"),
        ),
        (
            "wrong system",
            format!("/fhir/Patient/$summary?identifier=http://example.org/mrn|{good}"),
        ),
        ("missing identifier", "/fhir/Patient/$summary".to_owned()),
        (
            "two identifiers",
            format!("{}&identifier={NHS_SYSTEM}|{}", summary_path(&good), nhs(1)),
        ),
        (
            "the same identifier twice",
            format!("{}&identifier={NHS_SYSTEM}|{good}", summary_path(&good)),
        ),
        (
            "an unknown parameter",
            format!("{}&name=Testperson", summary_path(&good)),
        ),
    ];
    for (what, path) in cases {
        let response = fhir_get(&app, &path, &[]).await;
        assert_eq!(response.status().as_u16(), 400, "{what}: {path}");
        let outcome = expect_outcome(response, 400, "invalid").await;
        assert!(
            outcome["issue"][0]["diagnostics"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}: {outcome}"
        );
        let text = outcome.to_string();
        assert!(!text.contains("Testperson"), "{what}: no patient data");
    }
    // The well-formed request for the same person works.
    summary(&app, &good).await;
}

#[tokio::test]
async fn summary_sections_follow_the_reading_order() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let bundle = summary(&app, &record.plan.person.nhs_number.to_string()).await;

    assert_eq!(bundle["type"], "document");
    assert!(bundle["timestamp"].as_str().is_some());
    assert!(bundle["identifier"]["value"].as_str().is_some());
    let composition = composition(&bundle);
    assert_eq!(composition["status"], "final");
    let coding = &composition["type"]["coding"][0];
    assert_eq!(coding["system"], SNOMED);
    assert_eq!(coding["code"], "861421000000109");

    let codes: Vec<&str> = sections(&bundle).iter().map(section_code).collect();
    let expected: Vec<&str> = SECTIONS.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, expected);
    for (section, (_, title)) in sections(&bundle).iter().zip(SECTIONS) {
        assert_eq!(section["title"], title);
        assert_eq!(section["text"]["status"], "generated");
    }

    // Every entry has a fullUrl naming it; fullUrls are unique. (Checked last, so that the
    // other checks still run when an entry lacks one.)
    let mut full_urls = BTreeSet::new();
    let mut without_full_url = Vec::new();
    for entry in entries(&bundle) {
        let kind = entry["resource"]["resourceType"].as_str().unwrap();
        let id = entry["resource"]["id"].as_str().unwrap_or_default();
        let Some(full_url) = entry["fullUrl"].as_str() else {
            without_full_url.push(format!("{kind}/{id}"));
            continue;
        };
        assert!(
            full_url.ends_with(&format!("/{kind}/{id}")) || full_url == format!("urn:uuid:{id}"),
            "{full_url} does not name {kind}/{id}"
        );
        assert!(
            full_urls.insert(full_url.to_owned()),
            "duplicate {full_url}"
        );
    }

    // Every relative reference resolves to an entry of the document.
    let present: BTreeSet<String> = resources(&bundle)
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let mut found = Vec::new();
    references(&bundle, &mut found);
    assert!(!found.is_empty());
    for reference in found {
        if reference.starts_with('#') || reference.contains(':') {
            continue;
        }
        assert!(
            present.contains(&reference),
            "{reference} does not resolve within the document"
        );
    }
    // The types of §4 are all there for this plan.
    let kinds: BTreeSet<String> = ids_by_type(&bundle).into_keys().collect();
    let served: BTreeSet<String> = CAPABILITIES
        .iter()
        .map(|c| c.resource_type.to_owned())
        .collect();
    assert_eq!(kinds, served);

    assert!(
        without_full_url.is_empty(),
        "every entry of a document needs a fullUrl; these have none: {without_full_url:?}"
    );
}

#[tokio::test]
async fn summary_says_no_decision_recorded_when_there_is_none_h2() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let mut plan = minimal_plan(&nhs_number);
    plan["resuscitation_decisions"] = json!([]);
    app.create_plan(&plan).await;
    let bundle = summary(&app, &nhs_number).await;

    let cpr = section(&bundle, "cpr-decision");
    assert!(cpr["emptyReason"].is_object(), "{cpr}");
    assert!(section_references(&bundle, "cpr-decision").is_empty());
    let text = section_text(&bundle, "cpr-decision");
    assert!(text.contains("No decision recorded"), "{text}");
    assert!(!text.contains("For attempted CPR"), "{text}");
    assert!(
        consents_with_scope(&bundle, "treatment")
            .iter()
            .all(|c| c["status"] != "active"),
        "no CPR Consent is active"
    );
}

#[tokio::test]
async fn summary_shows_only_the_current_cpr_decision_h1() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (plan_id, created) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let old = created["plan"]["resuscitation_decisions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = summary(&app, &nhs_number).await;
    assert_eq!(
        section_references(&before, "cpr-decision"),
        vec![format!("Consent/{old}")]
    );
    assert!(section_text(&before, "cpr-decision").contains("NOT for attempted CPR"));

    let updated = add_decision(&app, &plan_id, 1, &created["plan"]).await;
    let new = updated["derived"]["current_resuscitation_decision"]
        .as_str()
        .unwrap()
        .to_owned();
    let bundle = summary(&app, &nhs_number).await;
    assert_eq!(
        section_references(&bundle, "cpr-decision"),
        vec![format!("Consent/{new}")],
        "one entry: the current decision"
    );
    assert_eq!(resource(&bundle, "Consent", &old)["status"], "inactive");
    assert_eq!(resource(&bundle, "Consent", &new)["status"], "active");
    let active: Vec<&Value> = consents_with_scope(&bundle, "treatment")
        .into_iter()
        .filter(|c| c["status"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "exactly one active CPR Consent");
    let text = section_text(&bundle, "cpr-decision");
    assert!(text.contains("2026-11-20"), "{text}");
    assert!(text.contains("For attempted CPR"), "{text}");
    assert!(!text.contains("NOT for attempted CPR"), "{text}");
    assert!(!text.contains("2026-10-01"), "{text}");
}

#[tokio::test]
async fn summary_of_a_revoked_plan_is_404_h1() {
    let app = spawn_app().await;
    let nhs_number = nhs(0);
    let (plan_id, _, patient) = minimal_with_patient(&app, &nhs_number).await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/plans/{plan_id}/$revoke")))
        .header("If-Match", "\"1\"")
        .json(&json!({ "reason": "Patient withdrew the plan" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    expect_outcome(
        fhir_get(&app, &summary_path(&nhs_number), &[]).await,
        404,
        "not-found",
    )
    .await;
    expect_outcome(
        fhir_get(&app, &format!("/fhir/Patient/{patient}/$summary"), &[]).await,
        404,
        "not-found",
    )
    .await;
}

#[tokio::test]
async fn summary_flags_an_overdue_review_h7() {
    let app = spawn_app().await;
    let overdue = nhs(0);
    let mut plan = minimal_plan(&overdue);
    plan["review_date"] = json!("2026-06-01");
    plan["resuscitation_decisions"][0]["review"] = json!("2026-11-01");
    app.create_plan(&plan).await;
    let bundle = summary(&app, &overdue).await;
    let text = section_text(&bundle, "provenance");
    assert!(text.contains("REVIEW OVERDUE"), "{text}");
    assert!(text.contains("2026-06-01"), "{text}");
    assert!(text.contains("2026-11-01"), "{text}");
    assert!(!text.contains("not overdue"), "{text}");
    let cpr = section_text(&bundle, "cpr-decision");
    assert!(cpr.contains("REVIEW OVERDUE"), "{cpr}");
    assert!(cpr.contains("2026-11-01"), "{cpr}");

    let in_time = nhs(1);
    let mut plan = minimal_plan(&in_time);
    plan["review_date"] = json!("2027-01-05");
    plan["resuscitation_decisions"][0]["review"] = json!("2027-03-01");
    app.create_plan(&plan).await;
    let bundle = summary(&app, &in_time).await;
    let text = section_text(&bundle, "provenance");
    assert!(text.contains("not overdue"), "{text}");
    assert!(!text.contains("REVIEW OVERDUE"), "{text}");
    assert!(!section_text(&bundle, "cpr-decision").contains("OVERDUE"));
}

#[tokio::test]
async fn summary_by_patient_id_is_the_same_as_by_identifier() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let nhs_number = record.plan.person.nhs_number.to_string();
    let by_identifier = summary(&app, &nhs_number).await;
    let patient = &ids_by_type(&by_identifier)["Patient"];
    let by_id = fhir_json(
        fhir_get(&app, &format!("/fhir/Patient/{patient}/$summary"), &[]).await,
        200,
    )
    .await;
    assert_eq!(by_id["type"], "document");
    assert_eq!(sections(&by_id), sections(&by_identifier));
    assert_eq!(entries(&by_id), entries(&by_identifier));
}

#[tokio::test]
async fn summary_composition_date_is_when_the_plan_last_changed() {
    let app = spawn_app().await;
    // Imported as it is: last changed 2026-10-20T15:40:00Z, summarised at the test clock's now.
    let record = import_fixture(&app, "01-dnacpr-active").await;
    assert_ne!(record.last_updated, test_now());
    let bundle = summary(&app, &record.plan.person.nhs_number.to_string()).await;
    let date: DateTime<Utc> = composition(&bundle)["date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(date, record.last_updated);
    let timestamp: DateTime<Utc> = bundle["timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(timestamp, test_now());

    // A plan written through the API: its last_updated.
    let nhs_number = nhs(0);
    let (_, created) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let last_updated: DateTime<Utc> = created["last_updated"].as_str().unwrap().parse().unwrap();
    let bundle = summary(&app, &nhs_number).await;
    let date: DateTime<Utc> = composition(&bundle)["date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(date, last_updated);
}
