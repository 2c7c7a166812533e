//! Tests of `provenance.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};

use super::*;
use crate::domain::PlanEnd;
use crate::fhir::tests::fixture_records;
use crate::fhir::to_json;

fn rich() -> PlanRecord {
    fixture_records()
        .into_iter()
        .find(|(name, _)| name == "01-dnacpr-active")
        .map(|(_, record)| record)
        .unwrap()
}

fn later(record: &PlanRecord, minutes: i64) -> DateTime<Utc> {
    record.last_updated + chrono::Duration::minutes(minutes)
}

fn targets(provenance: &Provenance) -> Vec<String> {
    provenance
        .target
        .iter()
        .map(|r| r.reference.as_ref().unwrap().value.clone().unwrap())
        .collect()
}

fn entities(provenance: &Provenance) -> Vec<(String, String)> {
    provenance
        .entity
        .iter()
        .map(|e| {
            (
                e.role.value.clone().unwrap(),
                e.what.reference.as_ref().unwrap().value.clone().unwrap(),
            )
        })
        .collect()
}

fn activity(provenance: &Provenance) -> String {
    provenance.activity.as_ref().unwrap().coding[0]
        .code
        .as_ref()
        .unwrap()
        .value
        .clone()
        .unwrap()
}

fn every_resource(record: &PlanRecord) -> Vec<String> {
    project(record)
        .resources()
        .iter()
        .map(|r| {
            let json = to_json(r).unwrap();
            format!(
                "{}/{}",
                json["resourceType"].as_str().unwrap(),
                json["id"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn ids_name_the_plan_version_and_nothing_else() {
    let plan = PlanId::new_random();
    let id = provenance_id(plan, 7);
    assert_eq!(id, format!("{plan}-v7"));
    assert_eq!(parse_provenance_id(&id), Some((plan, 7)));
    assert!(id.len() <= 64, "FHIR ids are at most 64 characters");
    for bad in [
        format!("{plan}-v0"),
        format!("{plan}-v07"),
        format!("{plan}-v"),
        format!("{plan}-v-1"),
        format!("{plan}-vx"),
        format!("{}-v1", plan.to_string().to_uppercase()),
        format!("{plan}v1"),
        "v1".to_owned(),
        "not-a-plan-v1".to_owned(),
    ] {
        assert_eq!(parse_provenance_id(&bad), None, "{bad}");
    }
}

#[test]
fn the_first_version_creates_every_resource_of_the_plan() {
    let record = rich();
    let provenance = provenance(&record, None);
    assert_eq!(
        provenance.id.as_ref().unwrap().value.as_deref(),
        Some(provenance_id(record.id, 1).as_str())
    );
    assert_eq!(activity(&provenance), "CREATE");
    let mut expected: Vec<String> = every_resource(&record)
        .into_iter()
        .map(|key| format!("{key}/_history/1"))
        .collect();
    expected.sort();
    let mut found = targets(&provenance);
    found.sort();
    assert_eq!(found, expected);
    assert!(provenance.entity.is_empty());
    assert_eq!(
        provenance.recorded.value.as_deref(),
        Some(instant(&record.last_updated).as_str())
    );
    let who = &provenance.agent[0].who;
    assert_eq!(
        who.display.as_ref().unwrap().value.as_deref(),
        Some(record.last_updated_by.as_str())
    );
    assert_eq!(
        provenance.meta.as_ref().unwrap().profile[0]
            .value
            .as_deref(),
        Some(codes::profile::PROVENANCE)
    );
}

#[test]
fn an_update_targets_only_what_it_changed_with_the_versions_it_replaced() {
    let first = rich();
    let mut content = first.plan.clone();
    content.what_matters_most = Some("Being at home with the dog, and no more admissions".into());
    let second = first.revise(content, later(&first, 5), "fixture").unwrap();
    let provenance = provenance(&second, Some(&first));
    assert_eq!(activity(&provenance), "UPDATE");
    let found = targets(&provenance);
    let goal = crate::fhir::ids::PlanIds::new(first.id).what_matters_goal();
    // The Goal, and the CarePlan that lists its text; nothing else of the plan.
    assert_eq!(
        found,
        vec![
            format!("CarePlan/{}/_history/2", first.id),
            format!("Goal/{goal}/_history/2")
        ]
    );
    assert_eq!(
        entities(&provenance),
        vec![
            (
                "revision".to_owned(),
                format!("CarePlan/{}/_history/1", first.id)
            ),
            ("revision".to_owned(), format!("Goal/{goal}/_history/1"))
        ]
    );
    assert_eq!(
        provenance.agent[0]
            .who
            .display
            .as_ref()
            .unwrap()
            .value
            .as_deref(),
        Some("fixture")
    );
}

#[test]
fn the_writer_of_each_version_is_its_agent() {
    let first = rich();
    let second = first
        .revise(first.plan.clone(), later(&first, 1), "Dr B via gp-system")
        .unwrap();
    let provenance = provenance(&second, Some(&first));
    assert_eq!(
        provenance.agent[0]
            .who
            .display
            .as_ref()
            .unwrap()
            .value
            .as_deref(),
        Some("Dr B via gp-system")
    );
    assert_eq!(
        provenance.recorded.value.as_deref(),
        Some(instant(&second.last_updated).as_str())
    );
    // The CarePlan names who last updated it, so it is what changed.
    assert_eq!(
        targets(&provenance),
        vec![format!("CarePlan/{}/_history/2", first.id)]
    );
}

#[test]
fn a_version_that_changes_nothing_shown_still_targets_the_plan() {
    let first = rich();
    let second = first
        .revise(
            first.plan.clone(),
            first.last_updated,
            &first.last_updated_by,
        )
        .unwrap();
    assert_eq!(
        Change::between(Some(&Snapshot::of(&first)), &Snapshot::of(&second)),
        Change::default()
    );
    let provenance = provenance(&second, Some(&first));
    assert_eq!(
        targets(&provenance),
        vec![format!("CarePlan/{}/_history/2", first.id)]
    );
    assert!(provenance.entity.is_empty());
}

#[test]
fn resources_taken_out_of_the_plan_are_removals() {
    let first = rich();
    assert!(!first.plan.contacts.is_empty());
    let before = every_resource(&first);
    let mut content = first.plan.clone();
    content.contacts.clear();
    let second = first.revise(content, later(&first, 5), "fixture").unwrap();
    let after = every_resource(&second);
    let gone: Vec<&String> = before.iter().filter(|k| !after.contains(k)).collect();
    assert!(!gone.is_empty(), "clearing contacts removes RelatedPersons");
    let provenance = provenance(&second, Some(&first));
    let removals: Vec<String> = entities(&provenance)
        .into_iter()
        .filter(|(role, _)| role == "removal")
        .map(|(_, what)| what)
        .collect();
    let expected: Vec<String> = gone.iter().map(|key| format!("{key}/_history/1")).collect();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(removals, sorted);
    for target in targets(&provenance) {
        assert!(
            !gone.iter().any(|g| target.starts_with(g.as_str())),
            "{target} was removed, not written"
        );
    }
}

#[test]
fn a_plan_entered_in_error_is_nullified_and_a_revoked_one_updated() {
    let first = rich();
    let wrong = first
        .end(
            PlanEnd::EnteredInError,
            "wrong person",
            later(&first, 1),
            "fixture",
        )
        .unwrap();
    let provenance_wrong = provenance(&wrong, Some(&first));
    assert_eq!(activity(&provenance_wrong), "NULLIFY");
    assert!(targets(&provenance_wrong).contains(&format!("CarePlan/{}/_history/2", first.id)));
    let revoked = first
        .end(
            PlanEnd::Revoke,
            "left the register",
            later(&first, 1),
            "fixture",
        )
        .unwrap();
    assert_eq!(activity(&provenance(&revoked, Some(&first))), "UPDATE");
}

#[test]
fn a_history_gives_one_provenance_per_version_newest_first() {
    let first = rich();
    let mut content = first.plan.clone();
    content.what_matters_most = Some("Staying at home".into());
    let second = first.revise(content, later(&first, 1), "a").unwrap();
    let third = second
        .end(PlanEnd::Revoke, "moved away", later(&first, 2), "b")
        .unwrap();
    // Any order in, newest first out, each the same as made one by one.
    let all = provenances(&[second.clone(), third.clone(), first.clone()]);
    assert_eq!(
        all,
        vec![
            provenance(&third, Some(&second)),
            provenance(&second, Some(&first)),
            provenance(&first, None),
        ]
    );
}

#[test]
fn every_fixture_gives_a_valid_provenance() {
    for (name, record) in fixture_records() {
        let provenance = provenance(&record, None);
        let json = to_json(&Resource::Provenance(Box::new(provenance))).unwrap();
        assert_eq!(json["resourceType"], "Provenance", "{name}");
        assert!(!json["target"].as_array().unwrap().is_empty(), "{name}");
        assert!(json["agent"][0]["who"]["display"].is_string(), "{name}");
        assert!(json["recorded"].is_string(), "{name}");
    }
}
