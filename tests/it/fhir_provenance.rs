//! Provenance: every write (FHIR, internal API, delete) is readable as a Provenance naming who
//! wrote it, when, and the versioned resources it changed; `Provenance?target=` and
//! `_revinclude=Provenance:target` find them.

use std::collections::BTreeSet;

use reqwest::header::CONTENT_TYPE;
use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::{minimal_plan, spawn_app, test_nhs_numbers, test_now, TestApp};
use acp_fhir::domain::{ImportRecord, PlanRecord};
use acp_fhir::fhir::project;

const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn fixture(name: &str) -> ImportRecord {
    let path = format!("{}/fixtures/plans/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn import_fixture(app: &TestApp, name: &str) -> PlanRecord {
    let record = fixture(name).into_record(test_now(), "importer").unwrap();
    app.store
        .create(&record, &project(&record).keys())
        .await
        .unwrap();
    record
}

async fn json_of(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn strings(value: &Value, pointer: &str) -> BTreeSet<String> {
    value[pointer]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reference"].as_str().map(str::to_owned))
        .collect()
}

fn targets(provenance: &Value) -> BTreeSet<String> {
    strings(provenance, "target")
}

fn entities(provenance: &Value) -> BTreeSet<(String, String)> {
    provenance["entity"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["role"].as_str().unwrap().to_owned(),
                e["what"]["reference"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn activity(provenance: &Value) -> &str {
    provenance["activity"]["coding"][0]["code"]
        .as_str()
        .unwrap()
}

fn ids(bundle: &Value, mode: &str, kind: &str) -> BTreeSet<String> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == mode && e["resource"]["resourceType"] == kind)
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect()
}

fn cpr_consents(record: &PlanRecord) -> Vec<String> {
    project(record)
        .consents
        .iter()
        .filter(|c| {
            c.scope.coding.iter().any(|coding| {
                coding.code.as_ref().and_then(|c| c.value.as_deref()) == Some("treatment")
            })
        })
        .map(|c| c.id.clone().unwrap().value.unwrap())
        .collect()
}

/// A new CPR decision for the plan of `record`, as an EHR sends it.
fn new_dnacpr(record: &PlanRecord) -> Value {
    let golden: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/fixtures/fhir/01-dnacpr-active.resources.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let mut consent = golden
        .into_iter()
        .find(|r| r["resourceType"] == "Consent" && r["scope"]["coding"][0]["code"] == "treatment")
        .unwrap();
    let object = consent.as_object_mut().unwrap();
    object.remove("id");
    object.remove("meta");
    object.remove("text");
    let patient = project(record).patient.id.unwrap().value.unwrap();
    consent["patient"] = json!({ "reference": format!("Patient/{patient}") });
    consent["dateTime"] = json!("2026-11-20");
    consent
}

/// Fixture 01, then a new DNACPR written through FHIR by a named clinician: (record, the new
/// Consent's id, the superseded Consent's id).
async fn written_through_fhir(app: &TestApp) -> (PlanRecord, String, String) {
    let record = import_fixture(app, "01-dnacpr-active").await;
    let old = cpr_consents(&record)[0].clone();
    let response = app
        .client
        .post(app.url("/fhir/Consent"))
        .header(CONTENT_TYPE, "application/fhir+json")
        .header("X-Request-User", "Dr Rowan Ashby")
        .body(serde_json::to_vec(&new_dnacpr(&record)).unwrap())
        .send()
        .await
        .unwrap();
    let created = json_of(response, 201).await;
    let new = created["id"].as_str().unwrap().to_owned();
    (record, new, old)
}

#[tokio::test]
async fn a_fhir_write_is_a_provenance_naming_who_when_and_the_versioned_resources_it_changed() {
    let app = spawn_app().await;
    let (record, new, old) = written_through_fhir(&app).await;
    let plan = record.id;

    let provenance = json_of(app.get(&format!("/fhir/Provenance/{plan}-v2")).await, 200).await;
    assert_eq!(provenance["resourceType"], "Provenance");
    assert_eq!(provenance["id"], format!("{plan}-v2"));
    assert_eq!(activity(&provenance), "UPDATE");
    assert_eq!(
        provenance["agent"][0]["who"]["display"],
        "Dr Rowan Ashby via test-full"
    );
    assert_eq!(
        provenance["agent"][0]["type"]["coding"][0]["code"],
        "author"
    );
    assert_eq!(provenance["recorded"], "2026-11-23T12:00:00Z");
    // What changed: the new decision, and the old one (now superseded), at version 2.
    let written = targets(&provenance);
    assert!(
        written.contains(&format!("Consent/{new}/_history/2")),
        "{written:?}"
    );
    assert!(
        written.contains(&format!("Consent/{old}/_history/2")),
        "{written:?}"
    );
    // What did not change is not claimed: the GP practice, the Patient.
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    assert!(
        !written.iter().any(|t| t.starts_with("Organization/")),
        "{written:?}"
    );
    assert!(!written.contains(&format!("Patient/{patient}/_history/2")));
    // The version the old decision had before.
    assert!(entities(&provenance)
        .contains(&("revision".to_owned(), format!("Consent/{old}/_history/1"))));
    // Every target is readable at exactly that version.
    for target in &written {
        let resource = json_of(app.get(&format!("/fhir/{target}")).await, 200).await;
        assert_eq!(resource["meta"]["versionId"], "2", "{target}");
    }
    let superseded = json_of(
        app.get(&format!("/fhir/Consent/{old}/_history/2")).await,
        200,
    )
    .await;
    assert_eq!(superseded["status"], "inactive");

    // Version 1: the import, by whoever imported it, creating every resource.
    let first = json_of(app.get(&format!("/fhir/Provenance/{plan}-v1")).await, 200).await;
    assert_eq!(activity(&first), "CREATE");
    // (The fixture names who last updated it; an import keeps that.)
    assert_eq!(
        first["agent"][0]["who"]["display"],
        record.last_updated_by.as_str()
    );
    assert_eq!(targets(&first).len(), project(&record).resources().len());
    assert!(first.get("entity").is_none());
}

#[tokio::test]
async fn internal_api_writes_and_deletes_have_provenance_too() {
    let app = spawn_app().await;
    let nhs_number = test_nhs_numbers().next().unwrap();
    let (id, created) = app.create_plan(&minimal_plan(&nhs_number)).await;
    let mut plan = created["plan"].clone();
    plan["what_matters_most"] = json!("To stay at home with my cat");
    let response = app.put_plan(&id, Some("\"1\""), &plan).await;
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.text().await.unwrap()
    );

    let first = json_of(app.get(&format!("/fhir/Provenance/{id}-v1")).await, 200).await;
    assert_eq!(activity(&first), "CREATE");
    assert_eq!(first["agent"][0]["who"]["display"], "test-full");
    let second = json_of(app.get(&format!("/fhir/Provenance/{id}-v2")).await, 200).await;
    assert_eq!(activity(&second), "UPDATE");
    let written = targets(&second);
    assert!(
        written
            .iter()
            .all(|t| t.starts_with("Goal/") || t.starts_with("CarePlan/")),
        "only the new goal (and the plan listing it) changed: {written:?}"
    );
    assert!(
        written.iter().any(|t| t.starts_with("Goal/")),
        "{written:?}"
    );

    // DELETE of the CarePlan: the plan is entered in error; its Provenance says nullify.
    let response = app
        .client
        .delete(app.url(&format!("/fhir/CarePlan/{id}")))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let third = json_of(app.get(&format!("/fhir/Provenance/{id}-v3")).await, 200).await;
    assert_eq!(activity(&third), "NULLIFY");
    assert!(targets(&third).contains(&format!("CarePlan/{id}/_history/3")));
}

#[tokio::test]
async fn provenance_is_found_by_target_and_revincluded_by_the_searches() {
    let app = spawn_app().await;
    let (record, new, old) = written_through_fhir(&app).await;
    let plan = record.id;
    let search = |query: String| {
        let app = &app;
        async move { json_of(app.get(&format!("/fhir/{query}")).await, 200).await }
    };
    let provenances = |bundle: &Value| ids(bundle, "match", "Provenance");
    let v1 = format!("{plan}-v1");
    let v2 = format!("{plan}-v2");
    let both: BTreeSet<String> = [v1.clone(), v2.clone()].into();

    // Any version of the old decision: created in v1, superseded in v2.
    let bundle = search(format!("Provenance?target=Consent/{old}")).await;
    assert_eq!(provenances(&bundle), both);
    assert_eq!(bundle["total"], 2);
    // One version only.
    let bundle = search(format!("Provenance?target=Consent/{old}/_history/1")).await;
    assert_eq!(provenances(&bundle), [v1.clone()].into());
    // The new decision exists from v2.
    let bundle = search(format!("Provenance?target=Consent/{new}")).await;
    assert_eq!(provenances(&bundle), [v2.clone()].into());
    // By its own id, by what it replaced, by when, by the patient it targets.
    let bundle = search(format!("Provenance?_id={v2}")).await;
    assert_eq!(provenances(&bundle), [v2.clone()].into());
    let bundle = search(format!("Provenance?entity=Consent/{old}")).await;
    assert_eq!(provenances(&bundle), [v2.clone()].into());
    let bundle = search(format!(
        "Provenance?target=Consent/{old}&recorded=gt2026-11-24"
    ))
    .await;
    assert!(provenances(&bundle).is_empty());
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let bundle = search(format!("Provenance?patient=Patient/{patient}")).await;
    assert_eq!(provenances(&bundle), [v1.clone()].into());
    let nhs = record.plan.person.nhs_number.to_string();
    let bundle = search(format!(
        "Provenance?patient:identifier={NHS_SYSTEM}|{nhs}&_sort=-recorded"
    ))
    .await;
    assert_eq!(provenances(&bundle), [v1.clone()].into());
    // Another resource's id finds nothing.
    let bundle = search(format!("Provenance?target=Consent/{plan}")).await;
    assert!(provenances(&bundle).is_empty());

    // _revinclude on the read searches: the Provenance of every version that wrote each match.
    let bundle = search(format!("Consent?_id={old}&_revinclude=Provenance:target")).await;
    assert_eq!(ids(&bundle, "match", "Consent"), [old.clone()].into());
    assert_eq!(ids(&bundle, "include", "Provenance"), both);
    let bundle = search(format!(
        "Consent?patient:identifier={NHS_SYSTEM}|{nhs}&status=active&_revinclude=Provenance:target"
    ))
    .await;
    assert_eq!(
        ids(&bundle, "match", "Consent").len(),
        2,
        "share + new decision"
    );
    assert_eq!(ids(&bundle, "include", "Provenance"), both);
    let bundle = search(format!(
        "Patient?_id={patient}&_revinclude=Provenance:target"
    ))
    .await;
    assert_eq!(ids(&bundle, "include", "Provenance"), [v1.clone()].into());
    let bundle = search(format!("CarePlan?_id={plan}&_revinclude=Provenance:target")).await;
    assert!(ids(&bundle, "include", "Provenance").contains(&v1));
    // Without the parameter, no Provenance.
    let bundle = search(format!("Consent?_id={old}")).await;
    assert!(ids(&bundle, "include", "Provenance").is_empty());
}

#[tokio::test]
async fn provenance_refuses_what_it_cannot_answer() {
    let app = spawn_app().await;
    let (record, _, _) = written_through_fhir(&app).await;
    let plan = record.id;
    let outcome = |value: &Value| {
        assert_eq!(value["resourceType"], "OperationOutcome", "{value}");
    };
    // Ids this server never made, and versions the plan does not have.
    for id in [
        format!("{plan}-v3"),
        format!("{plan}-v0"),
        format!("{plan}-v01"),
        format!("{plan}"),
        "00000000-0000-4000-8000-000000000000-v1".to_owned(),
        "nonsense".to_owned(),
    ] {
        outcome(&json_of(app.get(&format!("/fhir/Provenance/{id}")).await, 404).await);
    }
    // A Provenance has one version.
    let history = json_of(
        app.get(&format!("/fhir/Provenance/{plan}-v2/_history"))
            .await,
        200,
    )
    .await;
    assert_eq!(history["type"], "history");
    assert_eq!(history["total"], 1);
    let vread = json_of(
        app.get(&format!("/fhir/Provenance/{plan}-v2/_history/1"))
            .await,
        200,
    )
    .await;
    assert_eq!(vread["id"], format!("{plan}-v2"));
    outcome(
        &json_of(
            app.get(&format!("/fhir/Provenance/{plan}-v2/_history/2"))
                .await,
            404,
        )
        .await,
    );
    // A search must say what it is about.
    let refused = json_of(app.get("/fhir/Provenance?recorded=ge2026-01-01").await, 400).await;
    outcome(&refused);
    assert_eq!(refused["issue"][0]["expression"][0], "target");
    // _include from a Provenance would give current versions, not the versions it names.
    outcome(
        &json_of(
            app.get(&format!(
                "/fhir/Provenance?target=CarePlan/{plan}&_include=Provenance:target"
            ))
            .await,
            400,
        )
        .await,
    );
    // Provenance is written by the server, never by a client.
    let before = json_of(app.get(&format!("/api/v1/plans/{plan}")).await, 200).await;
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let path = match method {
            reqwest::Method::POST => "/fhir/Provenance".to_owned(),
            _ => format!("/fhir/Provenance/{plan}-v2"),
        };
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .header(CONTENT_TYPE, "application/fhir+json")
            .header("If-Match", "W/\"1\"")
            .body(r#"{"resourceType":"Provenance"}"#)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{method} {path}: {status}");
    }
    let after = json_of(app.get(&format!("/api/v1/plans/{plan}")).await, 200).await;
    assert_eq!(before["version"], after["version"]);
}

#[tokio::test]
async fn provenance_needs_its_scope_and_follows_the_consent_to_share() {
    let app = spawn_app().await;
    let (record, _, old) = written_through_fhir(&app).await;
    let plan = record.id;
    let path = format!("/fhir/Provenance/{plan}-v2");

    let consent_only = app.client_for("test-limited", "system/Consent.rs");
    let response = consent_only.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 403);
    // Nor can a revinclude bring it in without the scope.
    let response = consent_only
        .get(app.url(&format!(
            "/fhir/Consent?_id={old}&_revinclude=Provenance:target"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let provenance_only = app.client_for("test-limited", "system/Provenance.rs");
    let response = provenance_only.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);

    // A withdrawn consent to share hides the plan's Provenance as it hides the plan.
    let withdrawn = import_fixture(&app, "10-consent-withdrawn").await;
    let hidden = json_of(
        app.get(&format!("/fhir/Provenance/{}-v1", withdrawn.id))
            .await,
        404,
    )
    .await;
    assert_eq!(hidden["issue"][0]["code"], "suppressed");
    let bundle = json_of(
        app.get(&format!(
            "/fhir/Provenance?target=CarePlan/{}",
            withdrawn.id
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(bundle["total"], 0);
}

#[tokio::test]
async fn provenance_reads_are_audited_and_served_as_xml() {
    let app = spawn_app().await;
    let (record, _, _) = written_through_fhir(&app).await;
    let response = app
        .client
        .get(app.url(&format!("/fhir/Provenance/{}-v2", record.id)))
        .header("Accept", "application/fhir+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("<Provenance xmlns=\"http://hl7.org/fhir\">"),
        "{body}"
    );
    assert!(body.contains("_history/2"), "{body}");
    // The read is in the audit trail, against the plan's patient.
    let patient = project(&record).patient.id.unwrap().value.unwrap();
    let audit = json_of(
        app.get(&format!("/fhir/AuditEvent?patient=Patient/{patient}"))
            .await,
        200,
    )
    .await;
    let read_provenance = audit["entry"].as_array().unwrap().iter().any(|e| {
        e["resource"]["entity"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|entity| {
                entity["what"]["reference"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("Provenance/"))
            })
    });
    assert!(read_provenance, "{audit}");
}
