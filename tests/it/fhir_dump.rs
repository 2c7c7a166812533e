//! Every kind of FHIR response the API gives for the fixtures — each resource read, its
//! history, searches with includes, the summary — requested over HTTP and checked to succeed.
//! With `ACP_TEST_FHIR_DUMP=DIR` (CI sets it) the bodies are also written to DIR, where the
//! independent validator (`tools/fhir-validate`) checks them.

use std::path::PathBuf;

use acp_fhir::domain::ImportRecord;
use acp_fhir::fhir::project;
use serde_json::Value;

use crate::helpers::{spawn_app, test_now, with_override};

fn fixture_lines() -> Vec<(String, ImportRecord)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/plans");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let line = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (stem, line)
        })
        .collect()
}

#[tokio::test]
async fn every_fhir_response_for_the_fixtures_is_served_and_dumped_for_validation() {
    let app = with_override(spawn_app().await);
    let dump = std::env::var("ACP_TEST_FHIR_DUMP").ok().map(PathBuf::from);
    if let Some(dir) = &dump {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut requests = Vec::new();
    for (stem, line) in fixture_lines() {
        let record = line.into_record(test_now(), "fixture").unwrap();
        let projection = project(&record);
        app.store.create(&record, &projection.keys()).await.unwrap();
        let nhs = record.plan.person.nhs_number.to_string();
        let identifier = format!("https://fhir.nhs.uk/Id/nhs-number|{nhs}");
        for key in projection.keys() {
            let path = format!("/fhir/{}/{}", key.resource_type, key.id);
            requests.push((
                format!("{stem}.read.{}.{}", key.resource_type, key.id),
                path.clone(),
            ));
            requests.push((
                format!("{stem}.history.{}.{}", key.resource_type, key.id),
                format!("{path}/_history"),
            ));
        }
        let encoded =
            url::form_urlencoded::byte_serialize(identifier.as_bytes()).collect::<String>();
        requests.push((format!("{stem}.search.consent"), format!("/fhir/Consent?patient:identifier={encoded}&_include=Consent:patient&_include=Consent:actor")));
        requests.push((format!("{stem}.search.careplan"), format!("/fhir/CarePlan?patient.identifier={encoded}&_include=CarePlan:goal&_include=CarePlan:subject")));
        requests.push((format!("{stem}.search.patient"), format!("/fhir/Patient?identifier={encoded}&_revinclude=Consent:patient&_revinclude=Goal:patient&_revinclude=CarePlan:patient")));
        requests.push((
            format!("{stem}.search.goal"),
            format!("/fhir/Goal?patient:identifier={encoded}&_summary=true"),
        ));
        // Provenance: of version 1 (the import), found by target, and revincluded.
        let plan = record.id;
        requests.push((
            format!("{stem}.provenance.v1"),
            format!("/fhir/Provenance/{plan}-v1"),
        ));
        requests.push((
            format!("{stem}.search.provenance"),
            format!("/fhir/Provenance?target=CarePlan/{plan}"),
        ));
        requests.push((
            format!("{stem}.search.careplan-provenance"),
            format!("/fhir/CarePlan?_id={plan}&_revinclude=Provenance:target"),
        ));
        if stem == "01-dnacpr-active" {
            // A second version, so that a Provenance has revisions.
            let mut content = record.plan.clone();
            content.what_matters_most = Some("Staying at home, with the garden in view".into());
            let next = record
                .revise(content, test_now(), "fixture update")
                .unwrap();
            app.store
                .update(1, &next, &project(&next).keys())
                .await
                .unwrap();
            requests.push((
                format!("{stem}.provenance.v2"),
                format!("/fhir/Provenance/{plan}-v2"),
            ));
        }
        if record.status.is_current() {
            requests.push((
                format!("{stem}.summary"),
                format!("/fhir/Patient/$summary?identifier={encoded}"),
            ));
        }
    }
    requests.push(("metadata".to_owned(), "/fhir/metadata".to_owned()));
    requests.push((
        "search.all-consents".to_owned(),
        "/fhir/Consent?_count=5".to_owned(),
    ));
    let write = |name: &str, body: &Value| {
        if let Some(dir) = &dump {
            let file = dir.join(format!("{}.json", name.replace(['/', '$'], "_")));
            std::fs::write(file, serde_json::to_vec_pretty(body).unwrap()).unwrap();
        }
    };
    for (name, path) in requests {
        let response = app.get(&path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["resourceType"].is_string(), "{path}");
        write(&name, &body);
    }

    // The audit trail those requests left, as AuditEvents (with an end user, an emergency
    // override reason and a refusal among them).
    let refused = reqwest::Client::new()
        .get(app.url("/fhir/CarePlan"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    write("unauthorized", &refused.json::<Value>().await.unwrap());
    let search = app
        .client
        .get(app.url("/fhir/AuditEvent?_count=20"))
        .header("X-Request-User", "crew-member-7")
        .send()
        .await
        .unwrap();
    assert_eq!(search.status().as_u16(), 200);
    let bundle: Value = search.json().await.unwrap();
    let first = bundle["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    write("audit.search", &bundle);
    let read: Value = app
        .get(&format!("/fhir/AuditEvent/{first}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["resourceType"], "AuditEvent");
    write("audit.read", &read);
}
