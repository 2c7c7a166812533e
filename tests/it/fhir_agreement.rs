//! Our own validation agrees with the independent validator (tools/fhir-validate, @medplum/core
//! against the profiles in profiles/) on the agreement set in fixtures/fhir-conformance: what
//! it accepts, `$validate` accepts; what it rejects, `$validate` rejects. CI runs the
//! independent validator on the same files, so a disagreement fails one side or the other.

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::helpers::{spawn_app, test_now, TestApp};
use acp_fhir::domain::ImportRecord;
use acp_fhir::fhir::project;

/// The fixtures the accepted resources were copied from (ids unchanged).
const SOURCES: [&str; 5] = [
    "01-dnacpr-active",
    "03-dnacpr-superseded-lpa",
    "06-adrt-refusing-lst",
    "08-respect-comfort",
    "09-interpreter-needed",
];

async fn seed(app: &TestApp) {
    for name in SOURCES {
        let path = format!("{}/fixtures/plans/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let line: ImportRecord =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let record = line.into_record(test_now(), "t").unwrap();
        app.store
            .create(&record, &project(&record).keys())
            .await
            .unwrap();
    }
}

fn files(kind: &str) -> Vec<(String, Value)> {
    let dir = format!(
        "{}/fixtures/fhir-conformance/{kind}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut found: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                value,
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The error issues `$validate` reports for `resource`.
async fn errors(app: &TestApp, resource: &Value) -> Vec<Value> {
    let kind = resource["resourceType"].as_str().unwrap();
    let response = app
        .client
        .post(app.url(&format!("/fhir/{kind}/$validate")))
        .header(CONTENT_TYPE, "application/fhir+json")
        .body(serde_json::to_vec(resource).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let outcome: Value = response.json().await.unwrap();
    assert!(status == 200 || status == 400, "{kind}: {status} {outcome}");
    outcome["issue"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "error" || i["severity"] == "fatal")
        .cloned()
        .collect()
}

/// Summary Bundles and Compositions are outputs only: nothing accepts them as input.
fn is_output_only(resource: &Value) -> bool {
    matches!(
        resource["resourceType"].as_str(),
        Some("Bundle" | "Composition")
    )
}

#[tokio::test]
async fn what_the_independent_validator_accepts_we_accept() {
    let app = spawn_app().await;
    seed(&app).await;
    let accepted = files("accept");
    assert!(accepted.len() >= 9, "the agreement set is missing");
    for (name, resource) in accepted.iter().filter(|(_, r)| !is_output_only(r)) {
        let found = errors(&app, resource).await;
        assert!(
            found.is_empty(),
            "{name} is conformant but we reject it: {found:?}"
        );
    }
}

#[tokio::test]
async fn what_the_independent_validator_rejects_we_reject() {
    let app = spawn_app().await;
    seed(&app).await;
    let rejected = files("reject");
    assert!(rejected.len() >= 10, "the agreement set is missing");
    for (name, resource) in &rejected {
        let found = errors(&app, resource).await;
        assert!(
            !found.is_empty(),
            "{name} does not conform but we accept it"
        );
    }
}
