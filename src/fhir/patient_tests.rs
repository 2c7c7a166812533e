//! Tests of `patient.rs`.

use chrono::{DateTime, Utc};
use fhirbolt::model::r4::Resource;
use serde_json::{json, Value};

use super::*;
use crate::domain::{PlanContent, PlanEnd, PlanId};
use crate::fhir::{organization, practitioner, to_json};

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

fn content() -> Value {
    json!({
        "consent_to_share": {
            "status": "given",
            "date": "2026-11-01",
            "recorded_by": {"name": "Dr Amy Patel", "registration_number": "GMC 1234567"}
        },
        "person": {
            "nhs_number": "9434765919",
            "family_name": "Kowalski",
            "given_names": ["Jan", "Piotr"],
            "preferred_name": "Janek",
            "birth_date": "1941-03-05",
            "gender": "male",
            "address": {
                "lines": ["3 Mill Lane"],
                "city": "Felpersham",
                "district": "Borsetshire",
                "postcode": "BC1 2AB"
            },
            "phones": [
                {"number": "01632 960001", "kind": "home"},
                {"number": "07700 900001", "kind": "mobile"},
                {"number": "01632 960002"}
            ],
            "interpreter_needed": true,
            "preferred_language": "pl"
        },
        "usual_gp": {
            "gp_name": "Dr Amy Patel",
            "practice_name": "Mill Lane Surgery",
            "practice_ods_code": "Y01234",
            "phone": "01632 960100"
        },
        "diagnosis": {"primary": {"text": "Lung cancer"}}
    })
}

fn record(value: Value) -> PlanRecord {
    let content: PlanContent = serde_json::from_value(value).unwrap();
    PlanRecord::create(PlanId::new_random(), content, now(), "t").unwrap()
}

fn json_of(patient: &Patient) -> Value {
    to_json(&Resource::Patient(Box::new(patient.clone()))).unwrap()
}

fn no_empty_arrays(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty() && items.iter().all(no_empty_arrays),
        Value::Object(map) => map.values().all(no_empty_arrays),
        _ => true,
    }
}

#[test]
fn identity_names_and_demographics() {
    let record = record(content());
    let ids = PlanIds::new(record.id);
    let json = json_of(&patient(&record, &ids));
    assert!(no_empty_arrays(&json), "{json}");
    assert_eq!(json["id"], ids.patient());
    assert_eq!(json["meta"]["profile"][0], profile::PATIENT);
    assert_eq!(json["meta"]["versionId"], "1");
    assert_eq!(
        json["identifier"][0]["system"],
        "https://fhir.nhs.uk/Id/nhs-number"
    );
    assert_eq!(json["identifier"][0]["value"], "9434765919");
    assert_eq!(json["active"], true);
    assert_eq!(json["name"][0]["use"], "official");
    assert_eq!(json["name"][0]["family"], "Kowalski");
    assert_eq!(json["name"][0]["given"], json!(["Jan", "Piotr"]));
    assert_eq!(json["name"][1]["use"], "usual");
    assert_eq!(json["name"][1]["text"], "Janek");
    assert_eq!(json["gender"], "male");
    assert_eq!(json["birthDate"], "1941-03-05");
    assert_eq!(
        json["address"][0],
        json!({
            "use": "home",
            "line": ["3 Mill Lane"],
            "city": "Felpersham",
            "district": "Borsetshire",
            "postalCode": "BC1 2AB"
        })
    );
    assert_eq!(
        json["telecom"],
        json!([
            {"system": "phone", "value": "01632 960001", "use": "home"},
            {"system": "phone", "value": "07700 900001", "use": "mobile"},
            {"system": "phone", "value": "01632 960002"}
        ])
    );
    assert!(json.get("deceasedDateTime").is_none());
    let div = json["text"]["div"].as_str().unwrap();
    assert!(div.contains("943 476 5919"), "{div}");
    assert!(div.contains("Janek"));
    assert!(div.contains("Mill Lane Surgery (ODS Y01234)"));
}

#[test]
fn language_and_interpreter() {
    let record = record(content());
    let json = json_of(&patient(&record, &PlanIds::new(record.id)));
    assert_eq!(
        json["communication"],
        json!([{
            "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "pl"}], "text": "pl"},
            "preferred": true
        }])
    );
    assert_eq!(
        json["extension"],
        json!([{"url": extension::INTERPRETER_REQUIRED, "valueBoolean": true}])
    );

    let mut value = content();
    value["person"]["interpreter_needed"] = json!(false);
    value["person"]
        .as_object_mut()
        .unwrap()
        .remove("preferred_language");
    value["person"]
        .as_object_mut()
        .unwrap()
        .remove("preferred_name");
    let record = self::record(value);
    let json = json_of(&patient(&record, &PlanIds::new(record.id)));
    assert!(json.get("communication").is_none());
    assert_eq!(json["extension"][0]["valueBoolean"], false, "always stated");
    assert_eq!(json["name"].as_array().unwrap().len(), 1);
}

#[test]
fn general_practitioner_references_resolve() {
    let record = record(content());
    let ids = PlanIds::new(record.id);
    let patient = patient(&record, &ids);
    let json = json_of(&patient);
    let organizations = organization::organizations(&record, &ids);
    let practitioners = practitioner::practitioners(&record, &ids);
    let gp = &json["generalPractitioner"];
    assert_eq!(gp.as_array().unwrap().len(), 2);
    assert_eq!(
        gp[0]["reference"],
        format!(
            "Organization/{}",
            organizations[0]
                .id
                .as_ref()
                .unwrap()
                .value
                .as_ref()
                .unwrap()
        )
    );
    assert_eq!(gp[0]["display"], "Mill Lane Surgery");
    let practitioner_ids: Vec<String> = practitioners
        .iter()
        .map(|p| {
            format!(
                "Practitioner/{}",
                p.id.as_ref().unwrap().value.as_ref().unwrap()
            )
        })
        .collect();
    assert!(practitioner_ids.contains(&gp[1]["reference"].as_str().unwrap().to_owned()));
    assert_eq!(gp[1]["display"], "Dr Amy Patel");

    let mut value = content();
    value["usual_gp"].as_object_mut().unwrap().remove("gp_name");
    let record = self::record(value);
    let json = json_of(&super::patient(&record, &PlanIds::new(record.id)));
    assert_eq!(json["generalPractitioner"].as_array().unwrap().len(), 1);
}

#[test]
fn deceased_and_not_current_plans() {
    let mut value = content();
    value["death"] = json!({"date": "2026-11-20", "place": "home"});
    let record = record(value);
    let json = json_of(&patient(&record, &PlanIds::new(record.id)));
    assert_eq!(json["deceasedDateTime"], "2026-11-20");
    assert_eq!(
        json["active"], true,
        "a completed plan is still the plan of record"
    );
    assert!(json["text"]["div"].as_str().unwrap().contains("2026-11-20"));

    let live = self::record(content());
    let revoked = live
        .end(PlanEnd::Revoke, "left the area", now(), "t")
        .unwrap();
    let json = json_of(&patient(&revoked, &PlanIds::new(revoked.id)));
    assert_eq!(json["active"], false);
    assert_eq!(json["meta"]["versionId"], "2");
    assert!(json["text"]["div"].as_str().unwrap().contains("revoked"));
}

#[test]
fn every_fixture_projects_a_patient_without_empty_arrays() {
    for (name, record) in crate::fhir::tests::fixture_records() {
        let json = json_of(&patient(&record, &PlanIds::new(record.id)));
        assert!(no_empty_arrays(&json), "{name}");
        assert_eq!(
            json["identifier"][0]["value"],
            record.plan.person.nhs_number.as_str(),
            "{name}"
        );
        assert_eq!(json["active"], record.status.is_current(), "{name}");
        assert_eq!(
            json.get("deceasedDateTime").and_then(Value::as_str),
            record
                .plan
                .death
                .as_ref()
                .map(|d| support::date(d.date))
                .as_deref(),
            "{name}"
        );
    }
}
