//! Tests of `goal.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use fhirbolt::model::r4::Resource;
use serde_json::{json, Value};

use super::*;
use crate::domain::{PlanContent, PlanEnd, PlanId};
use crate::fhir::to_json;

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

fn content(extra: Value) -> PlanContent {
    let mut base = json!({
        "consent_to_share": {
            "status": "given", "date": "2026-11-01",
            "recorded_by": { "name": "Dr Amara Okafor" }
        },
        "person": {
            "nhs_number": "9990000018", "family_name": "Whitfield",
            "given_names": ["Margaret", "Rose"], "birth_date": "1938-04-12", "gender": "female"
        },
        "usual_gp": { "practice_name": "Riverside Surgery", "practice_ods_code": "A81001" },
        "diagnosis": { "primary": { "text": "Metastatic carcinoma of lung" } }
    });
    for (key, value) in extra.as_object().unwrap() {
        base[key] = value.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn record(extra: Value) -> PlanRecord {
    PlanRecord::create(PlanId::new_random(), content(extra), now(), "t").unwrap()
}

fn json_of(goal: &Goal) -> Value {
    to_json(&Resource::Goal(Box::new(goal.clone()))).unwrap()
}

fn stated() -> Value {
    json!({
        "preferred_place_of_death": {
            "status": "stated",
            "first": { "kind": "home", "is_usual_residence": true },
            "second": { "kind": "hospice", "organisation": "St Luke's Hospice",
                        "address": { "lines": ["1 Hospice Way"], "city": "Leeds", "postcode": "LS2 1AA" } }
        },
        "preferred_place_of_care": {
            "status": "stated",
            "first": { "kind": "care-home", "organisation": "Lavender House" }
        },
        "what_matters_most": "Being at home with my cat",
        "advance_statements": [ { "text": "I would like music playing", "date": "2026-10-01" } ]
    })
}

#[test]
fn first_and_second_choice_have_priorities_and_codes() {
    let record = record(stated());
    let ids = PlanIds::new(record.id);
    let goals: Vec<Value> = goals(&record, &ids).iter().map(json_of).collect();
    assert_eq!(goals.len(), 5);
    let first = goals
        .iter()
        .find(|g| g["id"] == ids.place_goal("place-of-death", 1))
        .unwrap();
    assert_eq!(first["resourceType"], "Goal");
    assert_eq!(first["lifecycleStatus"], "active");
    assert_eq!(
        first["priority"]["coding"][0]["system"],
        codes::GOAL_PRIORITY
    );
    assert_eq!(first["priority"]["coding"][0]["code"], "high-priority");
    assert_eq!(first["category"][0]["coding"][0]["code"], "395091006");
    assert_eq!(
        first["description"]["coding"][0]["code"],
        codes::PLACE_HOME.code
    );
    assert_eq!(
        first["description"]["coding"][1]["system"],
        codes::DEATH_LOCATION
    );
    assert_eq!(first["description"]["coding"][1]["code"], "21");
    assert!(first["description"]["text"]
        .as_str()
        .unwrap()
        .contains("usual residence"));
    assert_eq!(
        first["subject"]["reference"],
        format!("Patient/{}", ids.patient())
    );
    assert_eq!(
        first["expressedBy"]["reference"],
        format!("Patient/{}", ids.patient())
    );
    assert_eq!(first["meta"]["profile"][0], codes::profile::GOAL);

    let second = goals
        .iter()
        .find(|g| g["id"] == ids.place_goal("place-of-death", 2))
        .unwrap();
    assert_eq!(second["priority"]["coding"][0]["code"], "medium-priority");
    assert_eq!(
        second["description"]["coding"][0]["code"],
        codes::PLACE_HOSPICE.code
    );
    assert_eq!(second["description"]["coding"][1]["code"], "30");
    let text = second["description"]["text"].as_str().unwrap();
    assert!(
        text.contains("St Luke's Hospice") && text.contains("LS2 1AA"),
        "{text}"
    );
    let place = &second["extension"][0];
    assert_eq!(place["url"], PREFERRED_PLACE_EXTENSION);
    assert_eq!(
        place["extension"][1]["valueAddress"]["postalCode"],
        "LS2 1AA"
    );

    let care = goals
        .iter()
        .find(|g| g["id"] == ids.place_goal("place-of-care", 1))
        .unwrap();
    assert_eq!(
        care["category"][0]["coding"][0]["code"],
        "preferred-place-of-care"
    );
    assert_eq!(care["category"][0]["coding"][0]["system"], codes::LOCAL);
    // Care home: no national SNOMED code, only the Data Dictionary one.
    assert_eq!(care["description"]["coding"].as_array().unwrap().len(), 1);
    assert_eq!(care["description"]["coding"][0]["code"], "40");

    let matters = goals
        .iter()
        .find(|g| g["id"] == ids.what_matters_goal())
        .unwrap();
    assert_eq!(matters["description"]["text"], "Being at home with my cat");
    assert_eq!(
        matters["category"][0]["coding"][0]["code"],
        "what-matters-most"
    );

    let statement = goals
        .iter()
        .find(|g| g["id"] == ids.advance_statement_goal(0))
        .unwrap();
    assert_eq!(statement["startDate"], "2026-10-01");
    assert_eq!(
        statement["category"][0]["coding"][0]["code"],
        "816281000000101"
    );
    assert_eq!(
        statement["description"]["text"],
        "I would like music playing"
    );
}

#[test]
fn undecided_is_one_goal_with_the_snomed_code() {
    let record = record(json!({
        "preferred_place_of_death": { "status": "undecided" },
        "preferred_place_of_care": { "status": "declined-to-discuss" }
    }));
    let ids = PlanIds::new(record.id);
    let goals: Vec<Value> = goals(&record, &ids).iter().map(json_of).collect();
    assert_eq!(goals.len(), 2);
    let death = goals
        .iter()
        .find(|g| g["id"] == ids.place_goal("place-of-death", 0))
        .unwrap();
    assert_eq!(death["description"]["coding"][0]["system"], codes::SCT);
    assert_eq!(death["description"]["coding"][0]["code"], "517161000000101");
    assert!(death.get("priority").is_none());
    let care = goals
        .iter()
        .find(|g| g["id"] == ids.place_goal("place-of-care", 0))
        .unwrap();
    assert_eq!(care["description"]["coding"][0]["system"], codes::LOCAL);
    assert!(care["description"]["text"]
        .as_str()
        .unwrap()
        .contains("declined"));
}

#[test]
fn goals_follow_the_plan_lifecycle() {
    let active = record(stated());
    let ids = PlanIds::new(active.id);
    let revoked = active
        .end(PlanEnd::Revoke, "left the area", now(), "t")
        .unwrap();
    for goal in goals(&revoked, &ids) {
        let goal = json_of(&goal);
        assert_eq!(goal["lifecycleStatus"], "cancelled");
        assert_eq!(goal["meta"]["versionId"], "2");
        assert!(goal["text"]["div"]
            .as_str()
            .unwrap()
            .contains("no longer stands"));
    }
    let wrong = active
        .end(PlanEnd::EnteredInError, "wrong person", now(), "t")
        .unwrap();
    assert!(goals(&wrong, &ids)
        .iter()
        .all(|g| g.lifecycle_status.value.as_deref() == Some("entered-in-error")));
    assert_eq!(lifecycle(PlanStatus::Completed), "completed");
}

#[test]
fn no_preferences_no_goals_and_fixtures_serialise() {
    let record = record(json!({}));
    assert!(goals(&record, &PlanIds::new(record.id)).is_empty());
    for (name, record) in crate::fhir::tests::fixture_records() {
        let ids = PlanIds::new(record.id);
        let referenced: Vec<String> = goal_references(&record, &ids)
            .into_iter()
            .map(|r| r.reference.unwrap().value.unwrap())
            .collect();
        let projected: Vec<String> = goals(&record, &ids)
            .into_iter()
            .map(|g| format!("Goal/{}", g.id.unwrap().value.unwrap()))
            .collect();
        assert_eq!(referenced, projected, "{name}");
        for goal in goals(&record, &ids) {
            let value = json_of(&goal);
            assert!(value["description"].is_object(), "{name}");
            assert!(value["lifecycleStatus"].is_string(), "{name}");
        }
    }
}
