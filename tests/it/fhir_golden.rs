//! Golden files: every fixture's FHIR resources and its emergency summary, compared exactly
//! with `fixtures/fhir/`; `UPDATE_GOLDEN=1` rewrites them. And the same content in XML and JSON:
//! each resource written both ways parses back to the same typed resource.

use std::path::{Path, PathBuf};

use acp_fhir::domain::{ImportRecord, PlanRecord};
use acp_fhir::fhir::{project, summary::summary, to_json};
use fhirbolt::model::r4::Resource;
use serde_json::Value;

use crate::helpers::test_now;

const BASE: &str = "https://acp-fhir.example.org/fhir";

fn fixtures() -> Vec<(String, PlanRecord)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plans");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let line: ImportRecord =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, line.into_record(test_now(), "fixture").unwrap())
        })
        .collect()
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    text
}

/// Compares `actual` with the golden file, or rewrites it under `UPDATE_GOLDEN=1`.
fn check_golden(path: &Path, actual: &str) -> Option<String> {
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Some(format!(
        "{} differs from line {} (run with UPDATE_GOLDEN=1 to accept):\n  golden: {:?}\n  actual: {:?}",
        path.display(),
        line + 1,
        expected.lines().nth(line).unwrap_or("<end>"),
        actual.lines().nth(line).unwrap_or("<end>"),
    ))
}

#[test]
fn every_fixture_projects_to_its_golden_resources_and_summary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fhir");
    let mut failures = Vec::new();
    let records = fixtures();
    assert!(records.len() >= 12);
    for (stem, record) in &records {
        let resources: Vec<Value> = project(record)
            .resources()
            .iter()
            .map(|r| to_json(r).unwrap())
            .collect();
        failures.extend(check_golden(
            &dir.join(format!("{stem}.resources.json")),
            &pretty(&Value::Array(resources)),
        ));
        let document = summary(record, BASE, test_now());
        let document = to_json(&Resource::Bundle(Box::new(document))).unwrap();
        failures.extend(check_golden(
            &dir.join(format!("{stem}.summary.json")),
            &pretty(&document),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn xml_and_json_of_each_resource_carry_the_same_content() {
    for (stem, record) in fixtures() {
        let mut all = project(&record).resources();
        all.push(Resource::Bundle(Box::new(summary(
            &record,
            BASE,
            test_now(),
        ))));
        for resource in all {
            let xml = fhirbolt::xml::to_vec(&resource, None).unwrap();
            let json = fhirbolt::json::to_vec(&resource, None).unwrap();
            let from_xml: Resource = fhirbolt::xml::from_slice(&xml, None)
                .unwrap_or_else(|e| panic!("{stem}: XML does not parse back: {e}"));
            let from_json: Resource = fhirbolt::json::from_slice(&json, None)
                .unwrap_or_else(|e| panic!("{stem}: JSON does not parse back: {e}"));
            assert_eq!(from_xml, resource, "{stem}: XML changes the content");
            assert_eq!(from_json, resource, "{stem}: JSON changes the content");
            assert_eq!(from_xml, from_json, "{stem}");
        }
    }
}
