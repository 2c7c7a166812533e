//! RelatedPerson: the people around the patient (domain.md §2 "contacts" and "LPA"), contacts
//! first then lasting powers of attorney, each in plan order.
//!
//! A contact: `name.text`, `relationship[0].text` exactly as written (no coding), `telecom`, one
//! `contact-role` extension (valueCode) per role (`main-carer`, `nominated-contact`,
//! `involve-in-decisions`), `aware-of-prognosis` (valueBoolean) when known.
//!
//! An LPA for health and welfare: `relationship` v3-RoleCode `HPOWATT` and, as a second
//! concept, the SNOMED CT "has LPA with / without life-sustaining treatment authority";
//! `lpa-life-sustaining-authority` (valueBoolean, always) and `document-location`
//! (valueString) when known; `name.text`, `telecom`.
//!
//! `active` is whether the plan is the person's plan of record.

use fhirbolt::model::r4::resources::RelatedPerson;
use fhirbolt::model::r4::types::{
    CodeableConcept, Extension, ExtensionValue, HumanName, Narrative,
};

use super::codes::{self, extension, profile};
use super::ids::PlanIds;
use super::patient::{phones_text, telecom};
use super::support;
use crate::domain::{Contact, LastingPowerOfAttorney, PlanRecord};

const MAIN_CARER: &str = "main-carer";
const NOMINATED_CONTACT: &str = "nominated-contact";
const INVOLVE_IN_DECISIONS: &str = "involve-in-decisions";
const HPOWATT: &str = "HPOWATT";
const HPOWATT_DISPLAY: &str = "healthcare power of attorney";
const LPA_TEXT: &str = "Lasting power of attorney for health and welfare";

/// Contacts, then LPAs, as RelatedPersons of the plan's Patient.
pub fn related_persons(record: &PlanRecord, ids: &PlanIds) -> Vec<RelatedPerson> {
    let plan = &record.plan;
    let contacts = plan
        .contacts
        .iter()
        .enumerate()
        .map(|(index, c)| contact(record, ids, index, c));
    let lpas = plan
        .lpas
        .iter()
        .enumerate()
        .map(|(index, l)| lpa(record, ids, index, l));
    contacts.chain(lpas).collect()
}

fn base(record: &PlanRecord, ids: &PlanIds, id: String, name: &str) -> RelatedPerson {
    let person = &record.plan.person;
    let patient_name = person
        .given_names
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(person.family_name.as_str()))
        .collect::<Vec<_>>()
        .join(" ");
    RelatedPerson {
        id: Some(id.into()),
        meta: Some(support::meta(record, profile::RELATED_PERSON)),
        active: Some(record.status.is_current().into()),
        patient: Box::new(support::reference(
            "Patient",
            &ids.patient(),
            Some(&patient_name),
        )),
        name: vec![HumanName {
            text: Some(name.into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn roles(contact: &Contact) -> Vec<&'static str> {
    [
        (contact.main_carer, MAIN_CARER),
        (contact.nominated_contact, NOMINATED_CONTACT),
        (contact.involve_in_decisions, INVOLVE_IN_DECISIONS),
    ]
    .into_iter()
    .filter_map(|(set, code)| set.then_some(code))
    .collect()
}

fn role_text(code: &str) -> &'static str {
    match code {
        MAIN_CARER => "main carer",
        NOMINATED_CONTACT => "single nominated contact for advice",
        _ => "involve in decisions",
    }
}

fn contact(record: &PlanRecord, ids: &PlanIds, index: usize, contact: &Contact) -> RelatedPerson {
    let roles = roles(contact);
    let mut extensions: Vec<Extension> = roles
        .iter()
        .map(|code| {
            support::extension(
                extension::CONTACT_ROLE,
                ExtensionValue::Code(support::code(code)),
            )
        })
        .collect();
    if let Some(aware) = contact.aware_of_prognosis {
        extensions.push(support::extension(
            extension::AWARE_OF_PROGNOSIS,
            ExtensionValue::Boolean(aware.into()),
        ));
    }

    let mut rows: Vec<(&str, String)> = vec![
        ("Name", contact.name.clone()),
        ("Relationship", contact.relationship.clone()),
    ];
    if !contact.phones.is_empty() {
        rows.push(("Phone", phones_text(&contact.phones)));
    }
    if !roles.is_empty() {
        rows.push((
            "Role",
            roles
                .iter()
                .map(|code| role_text(code))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    rows.push((
        "Aware of prognosis",
        support::yes_no(contact.aware_of_prognosis),
    ));

    RelatedPerson {
        text: Some(narrative(record, "Contact", &rows)),
        extension: extensions,
        relationship: vec![CodeableConcept {
            text: Some(contact.relationship.as_str().into()),
            ..Default::default()
        }],
        telecom: telecom(&contact.phones),
        ..base(record, ids, ids.contact(index), &contact.name)
    }
}

fn lpa(
    record: &PlanRecord,
    ids: &PlanIds,
    index: usize,
    lpa: &LastingPowerOfAttorney,
) -> RelatedPerson {
    let finding = if lpa.life_sustaining_authority {
        codes::LPA_WITH_LST
    } else {
        codes::LPA_WITHOUT_LST
    };
    let mut extensions = vec![support::extension(
        extension::LPA_LIFE_SUSTAINING,
        ExtensionValue::Boolean(lpa.life_sustaining_authority.into()),
    )];
    if let Some(location) = &lpa.document_location {
        extensions.push(support::extension(
            extension::DOCUMENT_LOCATION,
            ExtensionValue::String(location.as_str().into()),
        ));
    }

    let mut rows: Vec<(&str, String)> = vec![
        ("Name", lpa.name.clone()),
        ("Relationship", LPA_TEXT.to_owned()),
    ];
    if !lpa.phones.is_empty() {
        rows.push(("Phone", phones_text(&lpa.phones)));
    }
    rows.push((
        "Life-sustaining treatment",
        if lpa.life_sustaining_authority {
            "has authority to give or refuse consent to life-sustaining treatment".to_owned()
        } else {
            "no authority over life-sustaining treatment".to_owned()
        },
    ));
    rows.push((
        "Where the LPA document is",
        lpa.document_location
            .clone()
            .unwrap_or_else(|| "not recorded".into()),
    ));

    RelatedPerson {
        text: Some(narrative(record, "Lasting power of attorney", &rows)),
        extension: extensions,
        relationship: vec![
            support::concept_of(
                vec![support::coding_of(
                    codes::V3_ROLE_CODE,
                    HPOWATT,
                    Some(HPOWATT_DISPLAY),
                )],
                Some(LPA_TEXT),
            ),
            support::concept(finding),
        ],
        telecom: telecom(&lpa.phones),
        ..base(record, ids, ids.lpa(index), &lpa.name)
    }
}

fn narrative(record: &PlanRecord, heading: &str, rows: &[(&str, String)]) -> Box<Narrative> {
    let mut rows = rows.to_vec();
    if !record.status.is_current() {
        rows.insert(
            0,
            (
                "Plan status",
                format!(
                    "this plan is {}: it is not this person's plan of record",
                    record.status.as_str()
                ),
            ),
        );
    }
    support::narrative(heading, &rows)
}

#[cfg(test)]
mod tests {
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
}
