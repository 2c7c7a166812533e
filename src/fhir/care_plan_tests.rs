//! Tests of `care_plan.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::domain::{PlanContent, PlanEnd, PlanId};
use crate::fhir::to_json;

pub(super) fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

/// The mandatory items plus `extra` (top-level keys replace the base's).
pub(super) fn record(extra: Value) -> PlanRecord {
    let mut base = json!({
        "consent_to_share": {
            "status": "given", "date": "2026-11-01",
            "recorded_by": { "name": "Dr Amara Okafor" }
        },
        "person": {
            "nhs_number": "9990000018", "family_name": "Whitfield",
            "given_names": ["Margaret", "Rose"], "birth_date": "1938-04-12", "gender": "female"
        },
        "usual_gp": { "gp_name": "Dr Amara Okafor", "practice_name": "Riverside Surgery",
                      "practice_ods_code": "A81001" },
        "diagnosis": { "primary": { "text": "Metastatic carcinoma of lung", "snomed": "254637007" } }
    });
    for (key, value) in extra.as_object().unwrap() {
        base[key] = value.clone();
    }
    let content: PlanContent = serde_json::from_value(base).unwrap();
    PlanRecord::create(PlanId::new_random(), content, now(), "t").unwrap()
}

pub(super) fn dnacpr() -> Value {
    json!({
        "decision": "not-for-cpr", "decision_date": "2026-10-15", "review": "2027-01-15",
        "decided_by": { "name": "Dr Amara Okafor", "role": "GP", "registration_number": "GMC 7654321" },
        "form_location": "Purple form on the fridge", "person_aware": true
    })
}

fn rich() -> Value {
    json!({
        "review_date": "2027-02-01",
        "care_team": {
            "key_worker": { "name": "Jo Bell", "role": "District nurse", "phone": "0113 496 0002" },
            "professionals": [{ "name": "Dr Sam Patel", "role": "Palliative care consultant",
                                "organisation": "St Luke's Hospice" }]
        },
        "lpas": [{ "name": "Anne Whitfield", "life_sustaining_authority": true }],
        "diagnosis": {
            "primary": { "text": "Metastatic carcinoma of lung", "snomed": "254637007" },
            "other": [{ "text": "COPD" }], "allergies": [{ "text": "Penicillin" }],
            "functional_status": "Bed-bound"
        },
        "prognosis": { "expected": "last-weeks", "person_aware": true },
        "resuscitation_decisions": [dnacpr()],
        "respect": {
            "priority": 85, "focus_of_care": "comfort",
            "recommendations": [
                { "treatment": { "text": "Hospital admission", "snomed": "32485007" },
                  "recommended": false, "note": "Only if symptoms cannot be controlled at home" },
                { "treatment": { "text": "Antibiotics by mouth" }, "recommended": true }
            ],
            "form_location": "With the DNACPR form", "completed_date": "2026-10-15",
            "clinician": { "name": "Dr Amara Okafor", "registration_number": "GMC 7654321" }
        },
        "adrts": [{
            "refused_treatments": [{ "text": "Mechanical ventilation", "snomed": "40617009" }],
            "refuses_life_sustaining_treatment": true, "witnessed_and_signed": true,
            "date": "2025-03-02"
        }],
        "what_matters_most": "Being at home with my cat",
        "preferred_place_of_death": { "status": "undecided" },
        "anticipatory_medicines": { "box_issued": true, "issued_date": "2026-11-02",
                                    "location": "Kitchen cupboard", "syringe_driver": false },
        "special_note": "Daughter lives next door",
        "access_information": "Key safe by the back door",
        "lives_alone": false
    })
}

fn json_of(record: &PlanRecord) -> Value {
    let plan = care_plan(record, &PlanIds::new(record.id));
    to_json(&Resource::CarePlan(Box::new(plan))).unwrap()
}

fn ext<'a>(value: &'a Value, url: &str) -> &'a Value {
    value["extension"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["url"] == url))
        .unwrap_or(&Value::Null)
}

#[test]
fn status_intent_category_subject_and_dates() {
    let record = record(rich());
    let ids = PlanIds::new(record.id);
    let plan = json_of(&record);
    assert_eq!(plan["resourceType"], "CarePlan");
    assert_eq!(plan["id"], ids.care_plan());
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["intent"], "plan");
    assert_eq!(plan["meta"]["profile"][0], codes::profile::CARE_PLAN);
    assert_eq!(plan["meta"]["versionId"], "1");
    assert_eq!(plan["category"][0]["coding"][0]["code"], "736373009");
    assert_eq!(plan["category"][1]["coding"][0]["code"], "736366004");
    assert_eq!(plan["title"], "End of life care plan");
    assert_eq!(
        plan["subject"]["reference"],
        format!("Patient/{}", ids.patient())
    );
    assert_eq!(plan["subject"]["display"], "Margaret Rose Whitfield");
    assert_eq!(plan["period"]["start"], "2026-11-23");
    assert!(plan["period"].get("end").is_none());
    assert_eq!(plan["created"], "2026-11-23T12:00:00Z");
    assert_eq!(plan["author"], json!({ "display": "t" }));
    assert_eq!(
        ext(&plan, codes::extension::REVIEW_DATE)["valueDate"],
        "2027-02-01"
    );
}

#[test]
fn status_follows_the_plan_lifecycle() {
    let active = record(rich());
    let revoked = active
        .end(PlanEnd::Revoke, "moved away", now(), "t")
        .unwrap();
    let plan = json_of(&revoked);
    assert_eq!(plan["status"], "revoked");
    assert_eq!(
        ext(&plan, STATUS_REASON_EXTENSION)["valueString"],
        "moved away"
    );
    assert_eq!(plan["contained"][0]["status"], "inactive");
    let decision = &plan["supportingInfo"][1]["display"];
    assert_eq!(
        decision,
        "CPR decision of 2026-10-15: NOT for attempted CPR (DNACPR) (not in force: plan revoked)"
    );
    for activity in plan["activity"].as_array().unwrap().iter().skip(1) {
        assert_eq!(activity["detail"]["status"], "cancelled");
    }
    let wrong = active
        .end(PlanEnd::EnteredInError, "wrong person", now(), "t")
        .unwrap();
    assert_eq!(json_of(&wrong)["status"], "entered-in-error");
    let dead = record(json!({ "death": { "date": "2026-11-20", "place": "hospice",
                                         "place_detail": "St Luke's" } }));
    let plan = json_of(&dead);
    assert_eq!(plan["status"], "completed");
    assert_eq!(plan["period"]["end"], "2026-11-20");
    let death = ext(&plan, DEATH_EXTENSION);
    assert_eq!(
        death["extension"][1]["valueCodeableConcept"]["coding"][0]["code"],
        "30"
    );
    assert_eq!(death["extension"][2]["valueString"], "St Luke's");
}

#[test]
fn respect_recommendations_are_activities_with_do_not_perform() {
    let plan = json_of(&record(rich()));
    let activities = plan["activity"].as_array().unwrap();
    assert_eq!(activities.len(), 3);
    let against = &activities[1]["detail"];
    assert_eq!(against["doNotPerform"], true);
    assert_eq!(against["status"], "not-started");
    assert_eq!(against["code"]["coding"][0]["code"], "32485007");
    assert_eq!(against["code"]["text"], "Hospital admission");
    assert_eq!(
        against["reasonCode"][0]["coding"][0]["code"],
        codes::RESPECT_FORM.code
    );
    assert_eq!(
        against["description"],
        "Only if symptoms cannot be controlled at home"
    );
    let for_it = &activities[2]["detail"];
    assert_eq!(for_it["doNotPerform"], false);
    assert!(for_it["code"].get("coding").is_none());
    assert_eq!(
        ext(&plan, codes::extension::RESPECT_PRIORITY)["valueInteger"],
        85
    );
    let focus = ext(&plan, codes::extension::RESPECT_FOCUS);
    assert_eq!(
        focus["valueCodeableConcept"]["coding"][0]["code"],
        "focus-comfort-care"
    );
    let form = ext(&plan, RESPECT_FORM_EXTENSION);
    assert_eq!(form["extension"][0]["valueDate"], "2026-10-15");
    assert_eq!(form["extension"][1]["valueString"], "With the DNACPR form");
}

#[test]
fn anticipatory_medicines_activity() {
    let plan = json_of(&record(rich()));
    let detail = &plan["activity"][0]["detail"];
    assert_eq!(detail["status"], "completed");
    assert_eq!(detail["code"]["text"], "Anticipatory medicines");
    assert_eq!(
        detail["code"]["coding"][0]["code"],
        codes::JUST_IN_CASE_BOX.code
    );
    let text = detail["description"].as_str().unwrap();
    assert!(
        text.contains("Kitchen cupboard") && text.contains("syringe driver: no"),
        "{text}"
    );
    let parts = &ext(detail, ANTICIPATORY_MEDICINES_EXTENSION)["extension"];
    assert_eq!(parts[1]["valueDate"], "2026-11-02");
    let none = json_of(&record(
        json!({ "anticipatory_medicines": { "box_issued": false } }),
    ));
    let detail = &none["activity"][0]["detail"];
    assert_eq!(detail["status"], "not-started");
    assert!(detail["code"].get("coding").is_none());
}

#[test]
fn references_care_team_goals_and_supporting_info() {
    let record = record(rich());
    let ids = PlanIds::new(record.id);
    let plan = json_of(&record);
    assert_eq!(plan["careTeam"][0]["reference"], "#careteam");
    let team = &plan["contained"][0];
    assert_eq!(team["resourceType"], "CareTeam");
    assert_eq!(team["id"], "careteam");
    let members: Vec<&str> = team["participant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["member"]["reference"].as_str().unwrap())
        .collect();
    let practitioner = |name| format!("Practitioner/{}", ids.practitioner(name, None));
    assert_eq!(
        members,
        [
            practitioner("Jo Bell"),
            practitioner("Dr Sam Patel"),
            practitioner("Dr Amara Okafor"),
            format!("Organization/{}", ids.gp_practice()),
        ]
    );
    let key_worker = &team["participant"][0];
    assert_eq!(key_worker["role"][0]["text"], "District nurse");
    assert_eq!(key_worker["role"][1]["coding"][0]["code"], "key-worker");
    assert_eq!(
        key_worker["extension"][0]["valueContactPoint"]["value"],
        "0113 496 0002"
    );
    assert_eq!(
        team["participant"][1]["onBehalfOf"]["display"],
        "St Luke's Hospice"
    );

    let goals: Vec<&str> = plan["goal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["reference"].as_str().unwrap())
        .collect();
    assert_eq!(
        goals,
        [
            format!("Goal/{}", ids.place_goal("place-of-death", 0)),
            format!("Goal/{}", ids.what_matters_goal()),
        ]
    );
    assert_eq!(
        plan["goal"][0]["display"],
        "Preferred place of death: undecided"
    );
    assert_eq!(
        plan["goal"][1]["display"],
        "What matters most: Being at home with my cat"
    );
    let info: Vec<&str> = plan["supportingInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap())
        .collect();
    let decision = record.plan.resuscitation_decisions[0].id.unwrap();
    let adrt = record.plan.adrts[0].id.unwrap();
    assert_eq!(
        info,
        [
            format!("Consent/{}", ids.consent_to_share()),
            format!("Consent/{}", ids.cpr_decision(decision)),
            format!("Consent/{}", ids.adrt(adrt)),
            format!("RelatedPerson/{}", ids.lpa(0)),
        ]
    );
    let clinician = &ext(&plan, RESPECT_FORM_EXTENSION)["extension"][2]["valueReference"];
    assert_eq!(
        clinician["reference"],
        format!(
            "Practitioner/{}",
            ids.practitioner("Dr Amara Okafor", Some("GMC 7654321"))
        )
    );
}

#[test]
fn every_other_item_is_in_an_extension_or_note() {
    let plan = json_of(&record(rich()));
    let notes: Vec<&str> = plan["note"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            "Special note for out-of-hours staff: Daughter lives next door",
            "Access information: Key safe by the back door",
            "Lives alone: no",
        ]
    );
    let diagnoses = &ext(&plan, DIAGNOSES_EXTENSION)["extension"];
    assert_eq!(diagnoses[0]["url"], "primary");
    assert_eq!(
        diagnoses[0]["valueCodeableConcept"]["coding"][0]["code"],
        "254637007"
    );
    assert_eq!(diagnoses[1]["url"], "other");
    assert_eq!(diagnoses[2]["url"], "allergy");
    assert_eq!(diagnoses[3]["valueString"], "Bed-bound");
    let prognosis = &ext(&plan, PROGNOSIS_EXTENSION)["extension"];
    let expected = &prognosis[0]["valueCodeableConcept"]["coding"];
    assert_eq!(expected[0]["code"], "prognosis-last-weeks");
    assert_eq!(expected[1]["code"], codes::LAST_WEEKS.code);
    assert_eq!(
        prognosis[1],
        json!({ "url": "person-aware", "valueBoolean": true })
    );
    assert_eq!(
        prognosis.as_array().unwrap().len(),
        2,
        "carer awareness unknown: absent"
    );
    let description = plan["description"].as_str().unwrap();
    assert!(description.contains("Metastatic carcinoma of lung"));
}

#[test]
fn every_fixture_serialises() {
    for (name, record) in crate::fhir::tests::fixture_records() {
        let plan = json_of(&record);
        assert_eq!(plan["resourceType"], "CarePlan", "{name}");
        assert_eq!(plan["intent"], "plan", "{name}");
        assert_eq!(plan["status"], record.status.as_str(), "{name}");
    }
}
