//! Tests of `practitioner.rs`.

use chrono::{DateTime, Utc};
use fhirbolt::model::r4::Resource;
use serde_json::{json, Value};

use super::*;
use crate::domain::{PlanContent, PlanId};
use crate::fhir::to_json;

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

fn dr_patel() -> Value {
    json!({
        "name": "Dr Amy Patel",
        "role": "GP",
        "registration_number": "GMC 1234567",
        "organisation": "Mill Lane Surgery"
    })
}

fn content() -> Value {
    json!({
        "consent_to_share": {"status": "given", "date": "2026-11-01", "recorded_by": dr_patel()},
        "person": {
            "nhs_number": "9434765919",
            "family_name": "Kowalski",
            "given_names": ["Jan"],
            "birth_date": "1941-03-05",
            "gender": "male"
        },
        "usual_gp": {
            "gp_name": "Dr Amy Patel",
            "practice_name": "Mill Lane Surgery",
            "practice_ods_code": "Y01234"
        },
        "care_team": {
            "key_worker": {
                "name": "Sam Jones",
                "role": "District nurse",
                "organisation": "Borsetshire Community Trust",
                "phone": "01632 960200"
            },
            "professionals": [
                {"name": "Dr Lee Chan", "role": "Palliative care consultant", "phone": "01632 960300"},
                {"name": "Sam Jones", "role": "Continence nurse", "phone": "07700 900200"}
            ]
        },
        "resuscitation_decisions": [{
            "decision": "not-for-cpr",
            "decision_date": "2026-11-01",
            "review": "indefinite",
            "decided_by": dr_patel()
        }],
        "diagnosis": {"primary": {"text": "Lung cancer"}}
    })
}

fn record(value: Value) -> PlanRecord {
    let content: PlanContent = serde_json::from_value(value).unwrap();
    PlanRecord::create(PlanId::new_random(), content, now(), "t").unwrap()
}

fn json_of(practitioner: &Practitioner) -> Value {
    to_json(&Resource::Practitioner(Box::new(practitioner.clone()))).unwrap()
}

fn involvements(json: &Value) -> Vec<Value> {
    json["extension"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["url"] == codes::PRACTITIONER_INVOLVEMENT_EXTENSION)
        .map(|e| {
            let mut parts = serde_json::Map::new();
            for part in e["extension"].as_array().unwrap() {
                let value = part
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(k, _)| k.starts_with("value"))
                    .unwrap()
                    .1
                    .clone();
                parts.insert(part["url"].as_str().unwrap().to_owned(), value);
            }
            Value::Object(parts)
        })
        .collect()
}

#[test]
fn one_practitioner_per_person_with_every_role() {
    let record = record(content());
    let ids = PlanIds::new(record.id);
    let all = practitioners(&record, &ids);
    let json: Vec<Value> = all.iter().map(json_of).collect();
    // Dr Patel (registered: consent + decision), Dr Patel as the named GP (no registration
    // number, so a different id), Sam Jones (key worker + professional), Dr Chan.
    assert_eq!(json.len(), 4, "{json:#?}");
    let patel = &json[0];
    assert_eq!(
        patel["id"],
        ids.practitioner("Dr Amy Patel", Some("GMC 1234567"))
    );
    assert_eq!(patel["meta"]["profile"][0], profile::PRACTITIONER);
    assert_eq!(patel["name"], json!([{"text": "Dr Amy Patel"}]));
    assert_eq!(
        patel["identifier"],
        json!([{"system": codes::PROFESSIONAL_REGISTRATION, "value": "GMC 1234567"}])
    );
    let decision = record.plan.resuscitation_decisions[0].id.unwrap();
    assert_eq!(
        involvements(patel),
        vec![
            json!({"context": "consent-to-share-recorder", "role": "GP", "organisation": "Mill Lane Surgery"}),
            json!({
                "context": "cpr-decision-maker", "role": "GP", "organisation": "Mill Lane Surgery",
                "decision": {"reference": format!("Consent/{}", ids.cpr_decision(decision))}
            }),
        ]
    );
    let div = patel["text"]["div"].as_str().unwrap();
    assert!(
        div.contains("Recorded consent to share: GP, Mill Lane Surgery"),
        "{div}"
    );
    assert!(div.contains("Made a CPR decision (2026-11-01)"), "{div}");

    let gp = &json[1];
    assert_eq!(gp["id"], ids.practitioner("Dr Amy Patel", None));
    assert!(gp.get("identifier").is_none());
    assert_eq!(
        involvements(gp),
        vec![json!({"context": "usual-gp", "organisation": "Mill Lane Surgery"})]
    );

    let sam = &json[2];
    assert_eq!(sam["id"], ids.practitioner("Sam Jones", None));
    assert_eq!(
        sam["telecom"],
        json!([
            {"system": "phone", "value": "01632 960200", "use": "work"},
            {"system": "phone", "value": "07700 900200", "use": "work"}
        ])
    );
    assert_eq!(
        involvements(sam),
        vec![
            json!({"context": "key-worker", "role": "District nurse",
                   "organisation": "Borsetshire Community Trust", "phone": "01632 960200"}),
            json!({"context": "care-team-professional", "role": "Continence nurse",
                   "phone": "07700 900200", "position": 1}),
        ]
    );
    assert_eq!(json[3]["name"][0]["text"], "Dr Lee Chan");
    assert_eq!(involvements(&json[3])[0]["position"], 0);
}

#[test]
fn respect_clinician_and_ended_decisions_are_included() {
    let mut value = content();
    value["resuscitation_decisions"] = json!([
        {
            "status": "superseded",
            "decision": "for-cpr",
            "decision_date": "2026-06-01",
            "review": "2026-09-01",
            "decided_by": {"name": "Dr Old", "registration_number": "GMC 7654321"},
            "ended": {"at": "2026-11-01T10:00:00Z", "by": "Dr Amy Patel", "reason": "superseded"}
        },
        {
            "decision": "not-for-cpr",
            "decision_date": "2026-11-01",
            "review": "indefinite",
            "decided_by": dr_patel()
        }
    ]);
    value["respect"] = json!({
        "priority": 80,
        "focus_of_care": "comfort",
        "completed_date": "2026-11-02",
        "clinician": {"name": "Dr Lee Chan", "role": "Consultant"}
    });
    let record = record(value);
    let ids = PlanIds::new(record.id);
    let json: Vec<Value> = practitioners(&record, &ids).iter().map(json_of).collect();
    let names: Vec<&str> = json
        .iter()
        .map(|p| p["name"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Dr Amy Patel",
            "Dr Old",
            "Dr Lee Chan",
            "Dr Amy Patel",
            "Sam Jones"
        ]
    );
    let chan = involvements(&json[2]);
    assert_eq!(
        chan[0],
        json!({"context": "respect-clinician", "role": "Consultant"})
    );
    assert_eq!(chan[1]["context"], "care-team-professional");
}

#[test]
fn fixtures_have_unique_practitioners_without_empty_arrays() {
    for (name, record) in crate::fhir::tests::fixture_records() {
        let ids = PlanIds::new(record.id);
        let all = practitioners(&record, &ids);
        let mut seen: Vec<String> = all
            .iter()
            .map(|p| p.id.as_ref().unwrap().value.clone().unwrap())
            .collect();
        let count = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), count, "{name}");
        let recorder = &record.plan.consent_to_share.recorded_by;
        assert_eq!(
            seen.iter()
                .filter(|id| **id
                    == ids.practitioner(&recorder.name, recorder.registration_number.as_deref()))
                .count(),
            1,
            "{name}"
        );
        for p in &all {
            let json = json_of(p);
            assert!(!json.to_string().contains("[]"), "{name}: {json}");
        }
    }
}
