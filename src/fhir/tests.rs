//! Properties every projection must have, checked on every fixture: ids and versions follow
//! the plan, every reference resolves inside the projection, every resource has a generated
//! narrative and its profile.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{project, to_json};
use crate::domain::{ImportRecord, PlanRecord};

pub(crate) fn fixture_records() -> Vec<(String, PlanRecord)> {
    let now = "2026-11-23T12:00:00Z".parse().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plans");
    let mut files: Vec<_> = std::fs::read_dir(dir)
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
            (stem, line.into_record(now, "fixture").unwrap())
        })
        .collect()
}

fn json_resources(record: &PlanRecord) -> Vec<Value> {
    project(record)
        .resources()
        .iter()
        .map(|r| to_json(r).unwrap())
        .collect()
}

fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "reference" {
                    if let Some(text) = inner.as_str() {
                        found.push(text.to_owned());
                    }
                }
                references(inner, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| references(i, found)),
        _ => {}
    }
}

#[test]
fn every_resource_has_id_version_profile_and_narrative() {
    for (name, record) in fixture_records() {
        for resource in json_resources(&record) {
            let kind = resource["resourceType"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let at = format!("{name}: {kind}/{}", resource["id"]);
            assert!(
                resource["id"].as_str().is_some_and(|id| !id.is_empty()),
                "{at}"
            );
            assert_eq!(
                resource["meta"]["versionId"],
                record.version.to_string(),
                "{at}"
            );
            assert!(resource["meta"]["lastUpdated"].is_string(), "{at}");
            assert!(resource["meta"]["profile"][0].is_string(), "{at}");
            assert_eq!(resource["text"]["status"], "generated", "{at}");
            assert!(
                resource["text"]["div"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("<div xmlns=\"http://www.w3.org/1999/xhtml\">")),
                "{at}"
            );
        }
    }
}

#[test]
fn every_reference_resolves_inside_the_projection() {
    for (name, record) in fixture_records() {
        let resources = json_resources(&record);
        let present: BTreeSet<String> = resources
            .iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                )
            })
            .collect();
        let mut found = Vec::new();
        for resource in &resources {
            references(resource, &mut found);
        }
        for reference in found {
            if reference.starts_with('#') {
                continue;
            }
            assert!(
                present.contains(&reference),
                "{name}: {reference} does not resolve"
            );
        }
    }
}

#[test]
fn ids_are_unique_within_a_type_and_stable_across_versions() {
    for (name, record) in fixture_records() {
        let resources = json_resources(&record);
        let keys: Vec<String> = resources
            .iter()
            .map(|r| format!("{}/{}", r["resourceType"], r["id"]))
            .collect();
        let unique: BTreeSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "{name}: duplicate ids");
        let mut next = record.clone();
        next.version += 1;
        let later: Vec<String> = json_resources(&next)
            .iter()
            .map(|r| format!("{}/{}", r["resourceType"], r["id"]))
            .collect();
        assert_eq!(keys, later, "{name}: ids change with the version");
    }
}

/// The resource index is written from [`super::resource_keys`] (no resources built) and read
/// back against [`project`]: the two must name the same resources, or a stored resource could
/// not be found by its id. Every fixture, and 3,000 generated plan versions (every mix the
/// generator makes: CPR decisions, ReSPECT, ADRTs, LPAs, contacts, care teams, several
/// versions, places undecided or declined).
#[test]
fn resource_keys_name_exactly_the_resources_of_the_projection() {
    let keys = |keys: Vec<crate::store::ResourceKey>| {
        keys.into_iter()
            .map(|k| format!("{}/{}", k.resource_type, k.id))
            .collect::<Vec<_>>()
    };
    let mut records: Vec<PlanRecord> = fixture_records().into_iter().map(|(_, r)| r).collect();
    let mut lines = Vec::new();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    crate::generate::generate(2_000, 7, today, &mut lines).unwrap();
    let now = "2026-11-23T12:00:00Z".parse().unwrap();
    for line in String::from_utf8(lines).unwrap().lines() {
        let line: ImportRecord = serde_json::from_str(line).unwrap();
        records.push(line.into_record(now, "generated").unwrap());
    }
    assert!(records.len() > 2_500, "{}", records.len());
    let mut kinds = std::collections::BTreeSet::new();
    for record in &records {
        let projected = keys(project(record).keys());
        assert_eq!(
            keys(super::resource_keys(record)),
            projected,
            "plan {}",
            record.id
        );
        kinds.extend(
            projected
                .iter()
                .map(|k| k.split('/').next().unwrap().to_owned()),
        );
    }
    assert_eq!(kinds.len(), super::RESOURCE_TYPES.len(), "{kinds:?}");
}

/// What an update adds to the resource index: every key of the new version that the version
/// before did not have, and nothing else; a new plan (or a record of another plan) adds all.
/// Over 2,000 generated plans' successive versions, some of which add resources (a decision,
/// an ADRT, a contact) and some of which add none.
#[test]
fn new_resource_keys_are_the_keys_the_version_before_lacked() {
    use std::collections::HashSet;
    let mut lines = Vec::new();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    crate::generate::generate(2_000, 11, today, &mut lines).unwrap();
    let now = "2026-11-23T12:00:00Z".parse().unwrap();
    let records: Vec<PlanRecord> = String::from_utf8(lines)
        .unwrap()
        .lines()
        .map(|line| {
            let line: ImportRecord = serde_json::from_str(line).unwrap();
            line.into_record(now, "generated").unwrap()
        })
        .collect();
    let (mut adding, mut adding_none) = (0, 0);
    for pair in records.windows(2) {
        let (before, next) = (&pair[0], &pair[1]);
        let all: HashSet<_> = super::resource_keys(next).into_iter().collect();
        if before.id != next.id {
            let added = super::new_resource_keys(Some(before), next);
            assert_eq!(added.len(), all.len());
            continue;
        }
        let known: HashSet<_> = super::resource_keys(before).into_iter().collect();
        let added: HashSet<_> = super::new_resource_keys(Some(before), next)
            .into_iter()
            .collect();
        let expected: HashSet<_> = all.difference(&known).cloned().collect();
        assert_eq!(added, expected, "plan {} v{}", next.id, next.version);
        if added.is_empty() {
            adding_none += 1;
        } else {
            adding += 1;
        }
    }
    assert!(adding > 0 && adding_none > 0, "{adding} / {adding_none}");
    let first = &records[0];
    assert_eq!(
        super::new_resource_keys(None, first),
        super::resource_keys(first)
    );
}
