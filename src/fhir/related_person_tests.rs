//! Tests of `related_person.rs`.

use chrono::{DateTime, Utc};
use fhirbolt::model::r4::Resource;
use serde_json::{json, Value};

use super::*;
use crate::domain::{PlanContent, PlanEnd, PlanId};
use crate::fhir::{patient, to_json};

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

fn content() -> Value {
    json!({
        "consent_to_share": {
            "status": "given",
            "date": "2026-11-01",
            "recorded_by": {"name": "Dr Amy Patel"}
        },
        "person": {
            "nhs_number": "9434765919",
            "family_name": "Kowalski",
            "given_names": ["Jan"],
            "birth_date": "1941-03-05",
            "gender": "male"
        },
        "usual_gp": {"practice_name": "Mill Lane Surgery", "practice_ods_code": "Y01234"},
        "contacts": [
            {
                "name": "Anna Kowalska",
                "relationship": "wife (lives with him)",
                "phones": [{"number": "07700 900010", "kind": "mobile"}],
                "main_carer": true,
                "nominated_contact": true,
                "involve_in_decisions": true,
                "aware_of_prognosis": false
            },
            {"name": "Piotr Kowalski", "relationship": "son"}
        ],
        "lpas": [
            {
                "name": "Piotr Kowalski",
                "phones": [{"number": "07700 900011"}],
                "life_sustaining_authority": true,
                "document_location": "Original with the solicitor; copy in the kitchen drawer"
            },
            {"name": "Ewa Nowak", "life_sustaining_authority": false}
        ],
        "diagnosis": {"primary": {"text": "Lung cancer"}}
    })
}

fn record(value: Value) -> PlanRecord {
    let content: PlanContent = serde_json::from_value(value).unwrap();
    PlanRecord::create(PlanId::new_random(), content, now(), "t").unwrap()
}

fn json_of(person: &RelatedPerson) -> Value {
    to_json(&Resource::RelatedPerson(Box::new(person.clone()))).unwrap()
}

fn extension_values(json: &Value, url: &str) -> Vec<Value> {
    json["extension"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|e| e["url"] == url)
                .map(|e| {
                    e.as_object()
                        .unwrap()
                        .iter()
                        .find(|(k, _)| k.starts_with("value"))
                        .unwrap()
                        .1
                        .clone()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn contacts_with_roles_and_awareness() {
    let record = record(content());
    let ids = PlanIds::new(record.id);
    let all: Vec<Value> = related_persons(&record, &ids).iter().map(json_of).collect();
    assert_eq!(all.len(), 4);
    let anna = &all[0];
    assert_eq!(anna["id"], ids.contact(0));
    assert_eq!(anna["meta"]["profile"][0], profile::RELATED_PERSON);
    assert_eq!(anna["active"], true);
    let patient = patient::patient(&record, &ids);
    assert_eq!(
        anna["patient"]["reference"],
        format!("Patient/{}", patient.id.unwrap().value.unwrap())
    );
    assert_eq!(anna["name"], json!([{"text": "Anna Kowalska"}]));
    assert_eq!(
        anna["relationship"],
        json!([{"text": "wife (lives with him)"}])
    );
    assert_eq!(
        anna["telecom"],
        json!([{"system": "phone", "value": "07700 900010", "use": "mobile"}])
    );
    assert_eq!(
        extension_values(anna, extension::CONTACT_ROLE),
        [
            json!("main-carer"),
            json!("nominated-contact"),
            json!("involve-in-decisions")
        ]
    );
    assert_eq!(
        extension_values(anna, extension::AWARE_OF_PROGNOSIS),
        [json!(false)]
    );
    assert!(anna["text"]["div"]
        .as_str()
        .unwrap()
        .contains("single nominated contact for advice"));

    let piotr = &all[1];
    assert_eq!(piotr["id"], ids.contact(1));
    assert!(
        piotr.get("extension").is_none(),
        "no roles, awareness unknown"
    );
    assert!(piotr.get("telecom").is_none());
    assert!(piotr["text"]["div"]
        .as_str()
        .unwrap()
        .contains("not recorded"));
    for json in &all {
        assert!(!json.to_string().contains("[]"), "{json}");
    }
}

#[test]
fn lpas_with_and_without_life_sustaining_authority() {
    let record = record(content());
    let ids = PlanIds::new(record.id);
    let all: Vec<Value> = related_persons(&record, &ids).iter().map(json_of).collect();
    let with = &all[2];
    assert_eq!(with["id"], ids.lpa(0));
    assert_eq!(
        with["relationship"][0]["coding"],
        json!([{
            "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
            "code": "HPOWATT",
            "display": "healthcare power of attorney"
        }])
    );
    assert_eq!(
        with["relationship"][1]["coding"][0]["system"],
        "http://snomed.info/sct"
    );
    assert_eq!(
        with["relationship"][1]["coding"][0]["code"],
        "816381000000105"
    );
    assert_eq!(
        extension_values(with, extension::LPA_LIFE_SUSTAINING),
        [json!(true)]
    );
    assert_eq!(
        extension_values(with, extension::DOCUMENT_LOCATION),
        [json!(
            "Original with the solicitor; copy in the kitchen drawer"
        )]
    );
    assert_eq!(
        with["telecom"],
        json!([{"system": "phone", "value": "07700 900011"}])
    );
    assert_eq!(with["name"][0]["text"], "Piotr Kowalski");

    let without = &all[3];
    assert_eq!(without["id"], ids.lpa(1));
    assert_eq!(without["relationship"][0]["coding"][0]["code"], "HPOWATT");
    assert_eq!(
        without["relationship"][1]["coding"][0]["code"],
        "816361000000101"
    );
    assert_eq!(
        extension_values(without, extension::LPA_LIFE_SUSTAINING),
        [json!(false)]
    );
    assert!(extension_values(without, extension::DOCUMENT_LOCATION).is_empty());
    assert!(without["text"]["div"]
        .as_str()
        .unwrap()
        .contains("no authority over life-sustaining treatment"));
}

#[test]
fn not_active_when_the_plan_is_revoked() {
    let live = record(content());
    let revoked = live.end(PlanEnd::Revoke, "moved away", now(), "t").unwrap();
    let ids = PlanIds::new(revoked.id);
    for person in related_persons(&revoked, &ids) {
        let json = json_of(&person);
        assert_eq!(json["active"], false);
        assert_eq!(json["meta"]["versionId"], "2");
        assert!(json["text"]["div"].as_str().unwrap().contains("revoked"));
    }
}

#[test]
fn fixtures_project_every_contact_and_lpa() {
    for (name, record) in crate::fhir::tests::fixture_records() {
        let ids = PlanIds::new(record.id);
        let all = related_persons(&record, &ids);
        assert_eq!(
            all.len(),
            record.plan.contacts.len() + record.plan.lpas.len(),
            "{name}"
        );
        for person in &all {
            let json = json_of(person);
            assert!(!json.to_string().contains("[]"), "{name}: {json}");
            assert_eq!(json["active"], record.status.is_current(), "{name}");
        }
    }
}
