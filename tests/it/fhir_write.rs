//! FHIR writes: create, conditional create, update with If-Match, delete, Prefer, transaction and
//! batch Bundles, $validate, and the battery of bad inputs, each with its exact status and issue.

use std::collections::HashMap;

use reqwest::header::CONTENT_TYPE;
use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with_limit, test_now, TestApp};
use acp_fhir::domain::ImportRecord;
use acp_fhir::fhir::project;

const FHIR_JSON: &str = "application/fhir+json";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn fixture(name: &str) -> ImportRecord {
    let path = format!("{}/fixtures/plans/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn import_fixture(app: &TestApp, name: &str) -> acp_fhir::domain::PlanRecord {
    let record = fixture(name).into_record(test_now(), "t").unwrap();
    app.store
        .create(&record, &project(&record).keys())
        .await
        .unwrap();
    record
}

/// The golden FHIR resources of fixture `name`.
fn golden(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/fixtures/fhir/{name}.resources.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn of_type<'a>(resources: &'a [Value], kind: &str) -> Vec<&'a Value> {
    resources
        .iter()
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Response {
    let mut request = app.client.request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header(CONTENT_TYPE, FHIR_JSON)
            .body(serde_json::to_vec(body).unwrap());
    }
    request.send().await.unwrap()
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn json_of(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts an OperationOutcome with `status` having an error issue of `code` at `expression`
/// (an exact FHIRPath, or a prefix when it ends with `*`).
async fn expect_issue(response: Response, status: u16, code: &str, expression: &str) -> Value {
    let outcome = json_of(response, status).await;
    assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
    let found = outcome["issue"].as_array().unwrap().iter().any(|issue| {
        let at = issue["expression"][0].as_str().unwrap_or_default();
        let place = match expression.strip_suffix('*') {
            Some(prefix) => at.starts_with(prefix),
            None => at == expression,
        };
        issue["severity"] == "error" && issue["code"] == code && place
    });
    assert!(found, "no {code} issue at {expression}: {outcome}");
    outcome
}

async fn plan_version(app: &TestApp, id: &str) -> u64 {
    let body: Value = app
        .get(&format!("/api/v1/plans/{id}"))
        .await
        .json()
        .await
        .unwrap();
    body["version"].as_u64().unwrap()
}

/// A new CPR decision for the patient of fixture 01, as an EHR would send it.
fn new_dnacpr(patient: &str) -> Value {
    let mut consent = of_type(&golden("01-dnacpr-active"), "Consent")
        .into_iter()
        .find(|c| c["scope"]["coding"][0]["code"] == "treatment")
        .unwrap()
        .clone();
    let object = consent.as_object_mut().unwrap();
    object.remove("id");
    object.remove("meta");
    object.remove("text");
    consent["patient"] = json!({ "reference": format!("Patient/{patient}") });
    consent["dateTime"] = json!("2026-11-20");
    consent
}

#[tokio::test]
async fn create_adds_a_decision_as_the_plans_next_version() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let old = project(&record).consents[1]
        .id
        .clone()
        .unwrap()
        .value
        .unwrap();

    let response = send(
        &app,
        reqwest::Method::POST,
        "/fhir/Consent",
        Some(&new_dnacpr(&patient)),
        &[],
    )
    .await;
    let location = header(&response, "location").unwrap();
    let etag = header(&response, "etag").unwrap();
    let created = json_of(response, 201).await;
    assert_eq!(created["resourceType"], "Consent");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(
        location.ends_with(&format!("/fhir/Consent/{id}/_history/2")),
        "{location}"
    );
    assert_eq!(etag, "W/\"2\"");
    assert_eq!(created["status"], "active");
    // The same version counter as the internal API.
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 2);
    // The earlier decision is superseded, not current (H1), and its first version stays (H5).
    let before = json_of(app.get(&format!("/fhir/Consent/{old}")).await, 200).await;
    assert_eq!(before["status"], "inactive");
    let first = json_of(
        app.get(&format!("/fhir/Consent/{old}/_history/1")).await,
        200,
    )
    .await;
    assert_eq!(first["status"], "active");
}

#[tokio::test]
async fn update_needs_if_match_and_refuses_a_stale_version() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let mut care_plan = of_type(&golden("01-dnacpr-active"), "CarePlan")[0].clone();
    let id = care_plan["id"].as_str().unwrap().to_owned();
    let path = format!("/fhir/CarePlan/{id}");
    // The plan's review date moves (CarePlan.extension decision-review-date).
    for extension in care_plan["extension"].as_array_mut().unwrap() {
        if extension["url"]
            .as_str()
            .unwrap()
            .ends_with("decision-review-date")
        {
            extension["valueDate"] = json!("2027-02-01");
        }
    }
    expect_issue(
        send(&app, reqwest::Method::PUT, &path, Some(&care_plan), &[]).await,
        428,
        "required",
        "*",
    )
    .await;
    let response = send(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(&care_plan),
        &[("If-Match", "W/\"1\"")],
    )
    .await;
    assert_eq!(header(&response, "etag").as_deref(), Some("W/\"2\""));
    let updated = json_of(response, 200).await;
    assert_eq!(updated["meta"]["versionId"], "2");
    let internal: Value = app
        .get(&format!("/api/v1/plans/{}", record.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(internal["plan"]["review_date"], "2027-02-01");
    // A second writer who read version 1 is refused (H4), and nothing changes.
    expect_issue(
        send(
            &app,
            reqwest::Method::PUT,
            &path,
            Some(&care_plan),
            &[("If-Match", "W/\"1\"")],
        )
        .await,
        412,
        "conflict",
        "*",
    )
    .await;
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 2);
}

#[tokio::test]
async fn two_writers_with_the_same_if_match_one_wins_one_gets_412() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let care_plan = of_type(&golden("01-dnacpr-active"), "CarePlan")[0].clone();
    let path = format!("/fhir/CarePlan/{}", care_plan["id"].as_str().unwrap());
    let mut first = care_plan.clone();
    first["note"][0]["text"] = json!("Special note for out-of-hours staff: writer one");
    let mut second = care_plan.clone();
    second["note"][0]["text"] = json!("Special note for out-of-hours staff: writer two");
    let (a, b) = tokio::join!(
        send(
            &app,
            reqwest::Method::PUT,
            &path,
            Some(&first),
            &[("If-Match", "W/\"1\"")]
        ),
        send(
            &app,
            reqwest::Method::PUT,
            &path,
            Some(&second),
            &[("If-Match", "W/\"1\"")]
        ),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 2);
}

#[tokio::test]
async fn delete_makes_a_decision_entered_in_error_and_keeps_its_history() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let decision = record.plan.resuscitation_decisions[0]
        .id
        .unwrap()
        .to_string();
    let response = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/fhir/Consent/{decision}"),
        None,
        &[],
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let now = json_of(app.get(&format!("/fhir/Consent/{decision}")).await, 200).await;
    assert_eq!(now["status"], "entered-in-error");
    let was = json_of(
        app.get(&format!("/fhir/Consent/{decision}/_history/1"))
            .await,
        200,
    )
    .await;
    assert_eq!(was["status"], "active");
    // The summary no longer shows a decision: not "for CPR" (H2), and not the deleted one (H1).
    let internal: Value = app
        .get(&format!("/api/v1/plans/{}", record.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(internal["derived"]["resuscitation"], "no-decision-recorded");
    // Other parts cannot be deleted.
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    assert_eq!(
        send(
            &app,
            reqwest::Method::DELETE,
            &format!("/fhir/Patient/{patient}"),
            None,
            &[]
        )
        .await
        .status()
        .as_u16(),
        405
    );
}

#[tokio::test]
async fn deleting_the_care_plan_ends_the_plan_as_entered_in_error() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "04-for-cpr").await;
    let response = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/fhir/CarePlan/{}", record.id),
        None,
        &[("Prefer", "return=OperationOutcome")],
    )
    .await;
    let outcome = json_of(response, 200).await;
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    let plan = json_of(app.get(&format!("/fhir/CarePlan/{}", record.id)).await, 200).await;
    assert_eq!(plan["status"], "entered-in-error");
}

#[tokio::test]
async fn prefer_chooses_the_body() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let minimal = send(
        &app,
        reqwest::Method::POST,
        "/fhir/Consent",
        Some(&new_dnacpr(&patient)),
        &[("Prefer", "return=minimal")],
    )
    .await;
    assert_eq!(minimal.status().as_u16(), 201);
    assert!(header(&minimal, "location").is_some());
    assert!(minimal.text().await.unwrap().is_empty());
    let outcome = send(
        &app,
        reqwest::Method::POST,
        "/fhir/Consent",
        Some(&new_dnacpr(&patient)),
        &[("Prefer", "return=OperationOutcome")],
    )
    .await;
    let outcome = json_of(outcome, 201).await;
    assert_eq!(outcome["resourceType"], "OperationOutcome");
}

#[tokio::test]
async fn conditional_create_does_nothing_when_the_criteria_match() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let nhs = record.plan.person.nhs_number.to_string();
    let criteria =
        format!("patient:identifier={NHS_SYSTEM}|{nhs}&category=http://snomed.info/sct|450476008");
    let response = send(
        &app,
        reqwest::Method::POST,
        "/fhir/Consent",
        Some(&new_dnacpr(&patient)),
        &[("If-None-Exist", &criteria)],
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 1);
    let none =
        format!("patient:identifier={NHS_SYSTEM}|{nhs}&category=http://snomed.info/sct|450475007");
    let response = send(
        &app,
        reqwest::Method::POST,
        "/fhir/Consent",
        Some(&new_dnacpr(&patient)),
        &[("If-None-Exist", &none)],
    )
    .await;
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 2);
}

/// Fixture `name`'s resources as a transaction creating the plan for `nhs_number`, every
/// reference between them an `urn:uuid:`.
fn transaction_of(name: &str, nhs_number: &str) -> Value {
    let resources = golden(name);
    let mut urns: HashMap<String, String> = HashMap::new();
    for resource in &resources {
        urns.insert(
            format!(
                "{}/{}",
                resource["resourceType"].as_str().unwrap(),
                resource["id"].as_str().unwrap()
            ),
            format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        );
    }
    fn rewrite(value: &mut Value, urns: &HashMap<String, String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if key == "reference" {
                        if let Some(urn) = child.as_str().and_then(|r| urns.get(r)) {
                            *child = json!(urn);
                        }
                    } else {
                        rewrite(child, urns);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| rewrite(i, urns)),
            _ => {}
        }
    }
    let entries: Vec<Value> = resources
        .iter()
        .map(|resource| {
            let key = format!(
                "{}/{}",
                resource["resourceType"].as_str().unwrap(),
                resource["id"].as_str().unwrap()
            );
            let mut resource = resource.clone();
            rewrite(&mut resource, &urns);
            let object = resource.as_object_mut().unwrap();
            object.remove("meta");
            object.remove("id");
            if resource["resourceType"] == "Patient" {
                resource["identifier"][0]["value"] = json!(nhs_number);
            }
            json!({
                "fullUrl": urns[&key],
                "resource": resource,
                "request": { "method": "POST", "url": key.split('/').next().unwrap() },
            })
        })
        .collect();
    json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries })
}

#[tokio::test]
async fn a_transaction_creates_a_whole_plan_that_reads_back_as_sent() {
    let app = spawn_app().await;
    let nhs = "9990000018";
    let bundle = transaction_of("01-dnacpr-active", nhs);
    let response = json_of(
        send(&app, reqwest::Method::POST, "/fhir", Some(&bundle), &[]).await,
        200,
    )
    .await;
    assert_eq!(response["type"], "transaction-response");
    let entries = response["entry"].as_array().unwrap();
    assert_eq!(entries.len(), bundle["entry"].as_array().unwrap().len());
    for entry in entries {
        assert_eq!(entry["response"]["status"], "201 Created", "{entry}");
        assert!(
            entry["response"]["location"]
                .as_str()
                .unwrap()
                .ends_with("/_history/1"),
            "{entry}"
        );
    }
    // The stored plan is the fixture's, for the new person.
    let stored: Value = app
        .get(&format!("/api/v1/plans?nhs_number={nhs}"))
        .await
        .json()
        .await
        .unwrap();
    let mut expected = serde_json::to_value(&fixture("01-dnacpr-active").plan).unwrap();
    expected["person"]["nhs_number"] = json!(nhs);
    let mut got = stored["plan"].clone();
    // Decision ids are the server's own.
    for list in ["resuscitation_decisions", "adrts"] {
        for (e, g) in expected[list]
            .as_array_mut()
            .into_iter()
            .flatten()
            .zip(got[list].as_array_mut().into_iter().flatten())
        {
            e["id"] = g["id"].clone();
        }
    }
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_transaction_that_fails_on_its_last_entry_stores_nothing() {
    let app = spawn_app().await;
    let nhs = "9990000026";
    let mut bundle = transaction_of("01-dnacpr-active", nhs);
    let entries = bundle["entry"].as_array_mut().unwrap();
    let last = entries.len() - 1;
    entries[last]["resource"]["active"] = json!("not a boolean");
    let outcome = json_of(
        send(&app, reqwest::Method::POST, "/fhir", Some(&bundle), &[]).await,
        422,
    )
    .await;
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    let expression = outcome["issue"][0]["expression"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        expression.starts_with(&format!("Bundle.entry[{last}]")),
        "{outcome}"
    );
    assert_eq!(
        app.get(&format!("/api/v1/plans?nhs_number={nhs}"))
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn a_batch_reports_each_entry_on_its_own() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let mut bad = new_dnacpr(&patient);
    bad["patient"] = json!({ "reference": "Patient/no-such-patient" });
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            { "resource": new_dnacpr(&patient), "request": { "method": "POST", "url": "Consent" } },
            { "resource": bad, "request": { "method": "POST", "url": "Consent" } },
        ]
    });
    let response = json_of(
        send(&app, reqwest::Method::POST, "/fhir", Some(&bundle), &[]).await,
        200,
    )
    .await;
    assert_eq!(response["type"], "batch-response");
    assert_eq!(response["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(
        response["entry"][1]["response"]["status"],
        "422 Unprocessable Entity"
    );
    assert_eq!(
        response["entry"][1]["response"]["outcome"]["issue"][0]["code"],
        "not-found"
    );
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 2);
}

#[tokio::test]
async fn validate_checks_without_storing() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let ok = json_of(
        send(
            &app,
            reqwest::Method::POST,
            "/fhir/Consent/$validate",
            Some(&new_dnacpr(&patient)),
            &[],
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ok["issue"][0]["severity"], "information", "{ok}");
    let mut bad = new_dnacpr(&patient);
    bad.as_object_mut().unwrap().remove("patient");
    let outcome = json_of(
        send(
            &app,
            reqwest::Method::POST,
            "/fhir/Consent/$validate",
            Some(&bad),
            &[],
        )
        .await,
        200,
    )
    .await;
    assert!(
        outcome["issue"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["severity"] == "error" && i["expression"][0] == "Consent.patient"),
        "{outcome}"
    );
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 1);
}

#[tokio::test]
async fn bad_inputs_get_their_exact_status_and_issue() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let projection = project(&record);
    let patient_id = projection.patient.id.clone().unwrap().value.unwrap();
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/fhir/Consent"))
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    // Malformed JSON: 400.
    expect_issue(
        post(b"{\"resourceType\": ".to_vec(), FHIR_JSON)
            .await
            .unwrap(),
        400,
        "structure",
        "*",
    )
    .await;
    // A body of another type than the URL: 400.
    let goal = json!({ "resourceType": "Goal", "lifecycleStatus": "active" });
    expect_issue(
        send(
            &app,
            reqwest::Method::POST,
            "/fhir/Consent",
            Some(&goal),
            &[],
        )
        .await,
        400,
        "invalid",
        "resourceType",
    )
    .await;
    // An element R4 does not have: 422 at its path.
    let mut unknown = new_dnacpr(&patient_id);
    unknown["provision"]["colour"] = json!("purple");
    expect_issue(
        send(
            &app,
            reqwest::Method::POST,
            "/fhir/Consent",
            Some(&unknown),
            &[],
        )
        .await,
        422,
        "structure",
        "Consent.provision.colour",
    )
    .await;
    // A required element missing (Consent.status is 1..1).
    let mut no_status = new_dnacpr(&patient_id);
    no_status.as_object_mut().unwrap().remove("status");
    expect_issue(
        send(
            &app,
            reqwest::Method::POST,
            "/fhir/Consent",
            Some(&no_status),
            &[],
        )
        .await,
        422,
        "structure",
        "Consent.status",
    )
    .await;
    // A code outside a required binding.
    let mut bad_code = new_dnacpr(&patient_id);
    bad_code["provision"]["type"] = json!("maybe");
    expect_issue(
        send(
            &app,
            reqwest::Method::POST,
            "/fhir/Consent",
            Some(&bad_code),
            &[],
        )
        .await,
        422,
        "code-invalid",
        "Consent.provision.type",
    )
    .await;
    // A DNACPR Consent without its patient (H3: never guessed).
    let mut no_patient = new_dnacpr(&patient_id);
    no_patient.as_object_mut().unwrap().remove("patient");
    expect_issue(
        send(
            &app,
            reqwest::Method::POST,
            "/fhir/Consent",
            Some(&no_patient),
            &[],
        )
        .await,
        422,
        "required",
        "Consent.patient",
    )
    .await;
    // An NHS number with a bad check digit.
    let mut patient = fhirbolt::json::to_json_value(
        fhirbolt::model::r4::Resource::Patient(Box::new(projection.patient.clone())),
        None,
    )
    .unwrap();
    patient["identifier"][0]["value"] = json!("9990000019");
    expect_issue(
        send(
            &app,
            reqwest::Method::PUT,
            &format!("/fhir/Patient/{patient_id}"),
            Some(&patient),
            &[("If-Match", "W/\"1\"")],
        )
        .await,
        422,
        "value",
        "Patient.identifier[0].value",
    )
    .await;
    // XML with an external entity: refused unread.
    let xml = br#"<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><Consent xmlns="http://hl7.org/fhir"><status value="&x;"/></Consent>"#;
    expect_issue(
        post(xml.to_vec(), "application/fhir+xml").await.unwrap(),
        400,
        "structure",
        "*",
    )
    .await;
    // Nothing above was stored.
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 1);
}

#[tokio::test]
async fn a_ten_megabyte_body_is_refused_before_it_is_read() {
    let app = spawn_app_with_limit(1024 * 1024).await;
    let body = vec![b' '; 10 * 1024 * 1024];
    let response = app
        .client
        .post(app.url("/fhir/Consent"))
        .header(CONTENT_TYPE, FHIR_JSON)
        .body(body)
        .send()
        .await
        .unwrap();
    expect_issue(response, 413, "too-long", "*").await;
}

#[tokio::test]
async fn writes_need_their_scope() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let reader = app.client_for("test-limited", "system/Consent.rs");
    let response = reader
        .post(app.url("/fhir/Consent"))
        .header(CONTENT_TYPE, FHIR_JSON)
        .body(serde_json::to_vec(&new_dnacpr(&patient)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let bundle = json!({ "resourceType": "Bundle", "type": "transaction", "entry": [
        { "resource": new_dnacpr(&patient), "request": { "method": "POST", "url": "Consent" } }
    ]});
    let response = reader
        .post(app.url("/fhir"))
        .header(CONTENT_TYPE, FHIR_JSON)
        .body(serde_json::to_vec(&bundle).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(status, 403, "{}", response.text().await.unwrap());
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 1);
}

/// An EHR knows the person's NHS number, not our Patient id: the patient may be named by a
/// conditional reference or an NHS number identifier, and only that way (H3).
#[tokio::test]
async fn a_plan_part_may_name_its_patient_by_nhs_number() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let nhs = record.plan.person.nhs_number.to_string();
    let conditional = format!("Patient?identifier={NHS_SYSTEM}|{nhs}");

    // A conditional reference (as a transaction would carry it, here on a plain create).
    let mut consent = new_dnacpr(&patient);
    consent["patient"] = json!({ "reference": conditional });
    let created = json_of(
        send(
            &app,
            reqwest::Method::POST,
            "/fhir/Consent",
            Some(&consent),
            &[],
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        created["patient"]["reference"],
        format!("Patient/{patient}")
    );
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 2);

    // A logical reference by identifier.
    let mut consent = new_dnacpr(&patient);
    consent["patient"] = json!({ "identifier": { "system": NHS_SYSTEM, "value": nhs } });
    let created = json_of(
        send(
            &app,
            reqwest::Method::POST,
            "/fhir/Consent",
            Some(&consent),
            &[],
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        created["patient"]["reference"],
        format!("Patient/{patient}")
    );
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 3);

    // In a transaction.
    let mut consent = new_dnacpr(&patient);
    consent["patient"] = json!({ "reference": format!("Patient?identifier={NHS_SYSTEM}%7C{nhs}") });
    let bundle = json!({ "resourceType": "Bundle", "type": "transaction", "entry": [
        { "fullUrl": "urn:uuid:6a1c2f4e-8f0b-4c3e-9d7a-2b5e1f0c9a11", "resource": consent,
          "request": { "method": "POST", "url": "Consent" } }
    ]});
    let response = json_of(
        send(&app, reqwest::Method::POST, "/fhir", Some(&bundle), &[]).await,
        200,
    )
    .await;
    assert_eq!(response["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 4);

    // Anything less than a valid NHS number is refused, and nothing is stored.
    let refusals = [
        (
            json!({ "reference": format!("Patient?family={}", record.plan.person.family_name) }),
            "not-supported",
            "Consent.patient.reference",
        ),
        (
            json!({ "reference": format!("Patient?identifier={NHS_SYSTEM}|9990000019") }),
            "not-supported",
            "Consent.patient.reference",
        ),
        (
            json!({ "reference": format!("Patient?identifier={NHS_SYSTEM}|9990000026") }),
            "not-found",
            "Consent.patient",
        ),
        (
            json!({ "reference": format!("Patient?identifier={nhs}") }),
            "not-supported",
            "Consent.patient.reference",
        ),
    ];
    for (reference, code, expression) in refusals {
        let mut consent = new_dnacpr(&patient);
        consent["patient"] = reference;
        expect_issue(
            send(
                &app,
                reqwest::Method::POST,
                "/fhir/Consent",
                Some(&consent),
                &[],
            )
            .await,
            422,
            code,
            expression,
        )
        .await;
    }
    assert_eq!(plan_version(&app, &record.id.to_string()).await, 4);
}

#[tokio::test]
async fn an_update_cannot_move_a_plan_part_to_another_person_by_nhs_number() {
    let app = spawn_app().await;
    let first = import_fixture(&app, "01-dnacpr-active").await;
    let other = import_fixture(&app, "04-for-cpr").await;
    let golden = golden("01-dnacpr-active");
    let mut consent = of_type(&golden, "Consent")
        .into_iter()
        .find(|c| c["scope"]["coding"][0]["code"] == "treatment")
        .unwrap()
        .clone();
    let id = consent["id"].as_str().unwrap().to_owned();
    consent["patient"] = json!({
        "reference": format!("Patient?identifier={NHS_SYSTEM}|{}", other.plan.person.nhs_number)
    });
    let response = send(
        &app,
        reqwest::Method::PUT,
        &format!("/fhir/Consent/{id}"),
        Some(&consent),
        &[("If-Match", "W/\"1\"")],
    )
    .await;
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(plan_version(&app, &first.id.to_string()).await, 1);
    assert_eq!(plan_version(&app, &other.id.to_string()).await, 1);
}

/// A batch may read and search as well as write, each entry under its own scope and the plan's
/// consent to share.
#[tokio::test]
async fn a_batch_reads_and_searches_entry_by_entry() {
    let app = spawn_app().await;
    let record = import_fixture(&app, "01-dnacpr-active").await;
    let withdrawn = import_fixture(&app, "10-consent-withdrawn").await;
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let care_plan = record.id.to_string();
    let nhs = record.plan.person.nhs_number.to_string();
    let get = |url: String| json!({ "request": { "method": "GET", "url": url } });
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            get(format!("CarePlan/{care_plan}")),
            get(format!("Patient/{patient}/_history/1")),
            get(format!("Consent?patient:identifier={NHS_SYSTEM}%7C{nhs}&_include=Consent:patient")),
            { "resource": new_dnacpr(&patient), "request": { "method": "POST", "url": "Consent" } },
            get(format!("CarePlan/{care_plan}")),
            get("CarePlan/no-such-plan".to_owned()),
            get(format!("CarePlan/{}", withdrawn.id)),
            get("metadata".to_owned() + "/x/y"),
        ]
    });
    let response = json_of(
        send(&app, reqwest::Method::POST, "/fhir", Some(&bundle), &[]).await,
        200,
    )
    .await;
    let entries = response["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 8);
    let status = |i: usize| {
        entries[i]["response"]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status(0), "200 OK");
    assert_eq!(entries[0]["resource"]["id"], care_plan.as_str());
    assert_eq!(entries[0]["response"]["etag"], "W/\"1\"");
    assert_eq!(status(1), "200 OK");
    assert_eq!(entries[1]["resource"]["resourceType"], "Patient");
    assert_eq!(status(2), "200 OK");
    assert_eq!(entries[2]["resource"]["type"], "searchset");
    assert!(entries[2]["resource"]["total"].as_u64().unwrap() >= 2);
    assert!(entries[2]["resource"]["entry"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["search"]["mode"] == "include" && e["resource"]["id"] == patient.as_str()));
    assert_eq!(status(3), "201 Created");
    // Entries run in order: the read after the write sees the new version.
    assert_eq!(status(4), "200 OK");
    assert_eq!(entries[4]["response"]["etag"], "W/\"2\"");
    assert_eq!(status(5), "404 Not Found");
    assert_eq!(status(6), "404 Not Found");
    assert_eq!(
        entries[6]["response"]["outcome"]["issue"][0]["code"],
        "suppressed"
    );
    assert_eq!(status(7), "400 Bad Request");

    // Each GET needs its scope: a Consent reader may not read the CarePlan in a batch.
    let reader = app.client_for("test-limited", "system/Consent.rs");
    let response = reader
        .post(app.url("/fhir"))
        .header(CONTENT_TYPE, FHIR_JSON)
        .body(
            serde_json::to_vec(&json!({
                "resourceType": "Bundle",
                "type": "batch",
                "entry": [get(format!("CarePlan/{care_plan}")), get(format!("Consent?patient=Patient/{patient}"))]
            }))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let body = json_of(response, 200).await;
    assert_eq!(body["entry"][0]["response"]["status"], "403 Forbidden");
    assert_eq!(body["entry"][1]["response"]["status"], "200 OK");
}
