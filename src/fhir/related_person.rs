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

pub(crate) const MAIN_CARER: &str = "main-carer";
pub(crate) const NOMINATED_CONTACT: &str = "nominated-contact";
pub(crate) const INVOLVE_IN_DECISIONS: &str = "involve-in-decisions";
pub(crate) const HPOWATT: &str = "HPOWATT";
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

/// The ids of [`related_persons`], in the same order, without building the resources.
pub(crate) fn related_person_ids(record: &PlanRecord, ids: &PlanIds) -> Vec<String> {
    let plan = &record.plan;
    (0..plan.contacts.len())
        .map(|index| ids.contact(index))
        .chain((0..plan.lpas.len()).map(|index| ids.lpa(index)))
        .collect()
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
#[path = "related_person_tests.rs"]
mod tests;
