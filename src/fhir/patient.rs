//! Patient: the person the plan is about (domain.md §2 "person"), UK Core style: the NHS number
//! identifier, the official name and the preferred name, the preferred language and whether an
//! interpreter is needed, the registered GP practice and named GP, and the date of death.
//!
//! Also the telephone helpers the RelatedPerson projection shares: a [`Phone`]'s kind is the
//! ContactPoint's `use` (absent when the kind is not recorded), so the mapping is reversible.

use fhirbolt::model::r4::resources::{Patient, PatientCommunication, PatientDeceased};
use fhirbolt::model::r4::types::{Address as FhirAddress, ContactPoint, ExtensionValue, HumanName};

use super::codes::{self, extension, profile};
use super::ids::PlanIds;
use super::support;
use crate::domain::{Address, Gender, Person, Phone, PhoneKind, PlanRecord};

/// The Patient of a plan version.
pub fn patient(record: &PlanRecord, ids: &PlanIds) -> Patient {
    let plan = &record.plan;
    let person = &plan.person;
    let gp = &plan.usual_gp;

    let mut general_practitioner = vec![support::reference(
        "Organization",
        &ids.gp_practice(),
        Some(&gp.practice_name),
    )];
    if let Some(name) = &gp.gp_name {
        general_practitioner.push(support::reference(
            "Practitioner",
            &ids.practitioner(name, None),
            Some(name),
        ));
    }

    let communication = person
        .preferred_language
        .as_deref()
        .map(|tag| {
            vec![PatientCommunication {
                language: Box::new(support::concept_of(
                    vec![support::coding_of(codes::BCP47, tag, None)],
                    Some(tag),
                )),
                preferred: Some(true.into()),
                ..Default::default()
            }]
        })
        .unwrap_or_default();

    Patient {
        id: Some(ids.patient().into()),
        meta: Some(support::meta(record, profile::PATIENT)),
        text: Some(narrative(record)),
        extension: vec![support::extension(
            extension::INTERPRETER_REQUIRED,
            ExtensionValue::Boolean(person.interpreter_needed.into()),
        )],
        identifier: vec![support::nhs_number(person.nhs_number.as_str())],
        active: Some(record.status.is_current().into()),
        name: names(person),
        telecom: telecom(&person.phones),
        gender: Some(support::code(gender_code(person.gender))),
        birth_date: Some(support::date(person.birth_date).into()),
        deceased: plan
            .death
            .as_ref()
            .map(|death| PatientDeceased::DateTime(support::date(death.date).into())),
        address: person.address.iter().map(address).collect(),
        communication,
        general_practitioner,
        ..Default::default()
    }
}

/// The official name (family, given names in order) and, when recorded, the preferred name as
/// a `usual` name whose `text` is exactly the preferred name.
fn names(person: &Person) -> Vec<HumanName> {
    let mut names = vec![HumanName {
        r#use: Some(support::code("official")),
        text: Some(full_name(person).into()),
        family: Some(person.family_name.as_str().into()),
        given: person
            .given_names
            .iter()
            .map(|g| g.as_str().into())
            .collect(),
        ..Default::default()
    }];
    if let Some(preferred) = &person.preferred_name {
        names.push(HumanName {
            r#use: Some(support::code("usual")),
            text: Some(preferred.as_str().into()),
            given: vec![preferred.as_str().into()],
            ..Default::default()
        });
    }
    names
}

fn full_name(person: &Person) -> String {
    let mut parts: Vec<&str> = person.given_names.iter().map(String::as_str).collect();
    parts.push(&person.family_name);
    parts.join(" ")
}

fn gender_code(gender: Gender) -> &'static str {
    match gender {
        Gender::Male => "male",
        Gender::Female => "female",
        Gender::Other => "other",
        Gender::Unknown => "unknown",
    }
}

/// The home address: lines, city, district, postcode, as written.
fn address(value: &Address) -> FhirAddress {
    FhirAddress {
        r#use: Some(support::code("home")),
        line: value.lines.iter().map(|l| l.as_str().into()).collect(),
        city: value.city.as_deref().map(Into::into),
        district: value.district.as_deref().map(Into::into),
        postal_code: value.postcode.as_deref().map(Into::into),
        ..Default::default()
    }
}

/// The ContactPoint `use` of a phone kind.
pub(super) fn phone_use(kind: PhoneKind) -> &'static str {
    match kind {
        PhoneKind::Home => "home",
        PhoneKind::Work => "work",
        PhoneKind::Mobile => "mobile",
        PhoneKind::Temp => "temp",
    }
}

/// Telephone numbers as ContactPoints (system `phone`, `use` from the kind), in order.
pub(super) fn telecom(phones: &[Phone]) -> Vec<ContactPoint> {
    phones
        .iter()
        .map(|phone| ContactPoint {
            system: Some(support::code("phone")),
            value: Some(phone.number.as_str().into()),
            r#use: phone.kind.map(|k| support::code(phone_use(k))),
            ..Default::default()
        })
        .collect()
}

/// Phones for a narrative: "01632 960313 (home); 07700 900313 (mobile)".
pub(super) fn phones_text(phones: &[Phone]) -> String {
    phones
        .iter()
        .map(|phone| match phone.kind {
            Some(kind) => format!("{} ({})", phone.number, phone_use(kind)),
            None => phone.number.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An NHS number as people read it: 3-3-4 digits.
fn nhs_number_text(digits: &str) -> String {
    if digits.len() == 10 && digits.is_ascii() {
        format!("{} {} {}", &digits[..3], &digits[3..6], &digits[6..])
    } else {
        digits.to_owned()
    }
}

fn address_text(value: &Address) -> String {
    value
        .lines
        .iter()
        .map(String::as_str)
        .chain(value.city.as_deref())
        .chain(value.district.as_deref())
        .chain(value.postcode.as_deref())
        .collect::<Vec<_>>()
        .join(", ")
}

fn narrative(record: &PlanRecord) -> Box<fhirbolt::model::r4::types::Narrative> {
    let plan = &record.plan;
    let person = &plan.person;
    let gp = &plan.usual_gp;
    let mut rows: Vec<(&str, String)> = Vec::new();
    if !record.status.is_current() {
        rows.push((
            "Plan status",
            format!(
                "this plan is {}: it is not this person's plan of record",
                record.status.as_str()
            ),
        ));
    }
    rows.push(("Name", full_name(person)));
    if let Some(preferred) = &person.preferred_name {
        rows.push(("Preferred name", preferred.clone()));
    }
    rows.push(("NHS number", nhs_number_text(person.nhs_number.as_str())));
    rows.push(("Date of birth", support::date(person.birth_date)));
    rows.push(("Gender", gender_code(person.gender).to_owned()));
    rows.push((
        "Address",
        person
            .address
            .as_ref()
            .map(address_text)
            .unwrap_or_else(|| "not recorded".into()),
    ));
    if !person.phones.is_empty() {
        rows.push(("Phone", phones_text(&person.phones)));
    }
    rows.push((
        "Preferred language",
        person
            .preferred_language
            .clone()
            .unwrap_or_else(|| "not recorded".into()),
    ));
    rows.push((
        "Interpreter needed",
        support::yes_no(Some(person.interpreter_needed)),
    ));
    let mut practice = format!(
        "{} (ODS {})",
        gp.practice_name,
        gp.practice_ods_code.as_str()
    );
    if let Some(phone) = &gp.phone {
        practice.push_str(&format!(", {phone}"));
    }
    rows.push(("GP practice", practice));
    if let Some(name) = &gp.gp_name {
        rows.push(("Named GP", name.clone()));
    }
    if let Some(death) = &plan.death {
        rows.push(("Date of death", support::date(death.date)));
    }
    support::narrative("Patient", &rows)
}

#[cfg(test)]
mod tests {
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
}
