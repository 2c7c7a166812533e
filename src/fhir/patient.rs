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
#[path = "patient_tests.rs"]
mod tests;
