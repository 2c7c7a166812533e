//! RelatedPerson back into contacts and lasting powers of attorney. An LPA is told by its
//! relationship (v3-RoleCode `HPOWATT`), never by its id; everything else is a contact. Both must
//! be about the plan's Patient (H3). `active` restates the plan's status and is not read.

use fhirbolt::model::r4::resources::RelatedPerson;
use fhirbolt::model::r4::types::CodeableConcept;

use super::practitioner::Set;
use super::read::{
    absent, absent_list, all, at, at_index, concept, extensions, logical_id, name_text,
    no_modifiers, no_resource_extras, only_systems, phones, prim, reference, server_managed,
    single, ConceptRead, Cx,
};
use super::FhirIssue;
use crate::domain::{Contact, LastingPowerOfAttorney};
use crate::fhir::codes::{self, extension as ext};
use crate::fhir::related_person::{HPOWATT, INVOLVE_IN_DECISIONS, MAIN_CARER, NOMINATED_CONTACT};

/// Contacts and LPAs, each in the order sent.
#[derive(Debug, Default)]
pub(super) struct People {
    pub contacts: Vec<Contact>,
    pub lpas: Vec<LastingPowerOfAttorney>,
}

/// Reads every RelatedPerson.
pub(super) fn read_all(
    issues: &mut Vec<FhirIssue>,
    set: &Set<'_>,
    resources: &[RelatedPerson],
) -> People {
    let mut people = People::default();
    for resource in resources {
        read(issues, set, resource, &mut people);
    }
    people
}

fn is_lpa(relationship: &[CodeableConcept]) -> bool {
    relationship.iter().any(|r| {
        r.coding.iter().any(|c| {
            c.system.as_ref().and_then(|s| s.value.as_deref()) == Some(codes::V3_ROLE_CODE)
                && c.code.as_ref().and_then(|s| s.value.as_deref()) == Some(HPOWATT)
        })
    })
}

fn read(issues: &mut Vec<FhirIssue>, set: &Set<'_>, resource: &RelatedPerson, people: &mut People) {
    let RelatedPerson {
        id,
        meta,
        implicit_rules,
        language,
        text,
        contained,
        extension,
        modifier_extension,
        identifier,
        active,
        patient,
        relationship,
        name,
        telecom,
        gender,
        birth_date,
        address,
        photo,
        period,
        communication,
    } = resource;
    let mut cx = Cx::new(issues, "RelatedPerson", logical_id(id));
    let cx = &mut cx;
    let root = "RelatedPerson";
    server_managed(meta, text);
    no_resource_extras(cx, implicit_rules, language);
    absent_list(cx, root, "contained", contained);
    no_modifiers(cx, root, modifier_extension);
    absent_list(cx, root, "identifier", identifier);
    absent(cx, at(root, "gender"), gender);
    absent(cx, at(root, "birthDate"), birth_date);
    absent_list(cx, root, "address", address);
    absent_list(cx, root, "photo", photo);
    absent(cx, at(root, "period"), period);
    absent_list(cx, root, "communication", communication);
    // `active` restates whether the plan is the plan of record.
    let _active = active
        .as_ref()
        .and_then(|a| prim(cx, &at(root, "active"), a));
    let patient = reference(cx, &at(root, "patient"), patient);
    set.patient(cx, &patient);
    let name = name_text(cx, name);
    let phones = phones(cx, root, telecom);
    let concepts: Vec<ConceptRead<'_>> = relationship
        .iter()
        .enumerate()
        .map(|(index, r)| concept(cx, &at_index(root, "relationship", index), r))
        .collect();

    if is_lpa(relationship) {
        let exts = extensions(
            cx,
            root,
            extension,
            &[ext::LPA_LIFE_SUSTAINING, ext::DOCUMENT_LOCATION],
        );
        let from_extension =
            single(cx, &exts, ext::LPA_LIFE_SUSTAINING).and_then(|e| e.boolean(cx));
        let mut from_code = None;
        for (index, read) in concepts.iter().enumerate() {
            only_systems(cx, read, &[codes::V3_ROLE_CODE, codes::SCT]);
            let _ = read.pick(cx, codes::V3_ROLE_CODE, &[(HPOWATT, ())]);
            let coded = read.pick(
                cx,
                codes::SCT,
                &[
                    (codes::LPA_WITH_LST.code, true),
                    (codes::LPA_WITHOUT_LST.code, false),
                ],
            );
            if index > 1 {
                cx.not_supported(&read.path);
            }
            from_code = from_code.or(coded);
        }
        let life_sustaining_authority = match (from_extension, from_code) {
            (Some(a), Some(b)) if a != b => {
                cx.error(
                    "invariant",
                    root.to_owned() + ".relationship",
                    "the LPA's SNOMED CT code and its life-sustaining-authority extension disagree",
                );
                None
            }
            (Some(value), _) | (None, Some(value)) => Some(value),
            (None, None) => {
                cx.required(
                    at(root, "extension"),
                    format!(
                        "whether the attorney has authority over life-sustaining treatment ({}) is missing",
                        ext::LPA_LIFE_SUSTAINING
                    ),
                );
                None
            }
        };
        let document_location =
            single(cx, &exts, ext::DOCUMENT_LOCATION).and_then(|e| e.string(cx));
        if let (Some(name), Some(life_sustaining_authority)) = (name, life_sustaining_authority) {
            people.lpas.push(LastingPowerOfAttorney {
                name,
                phones,
                life_sustaining_authority,
                document_location,
            });
        }
        return;
    }

    let exts = extensions(
        cx,
        root,
        extension,
        &[ext::CONTACT_ROLE, ext::AWARE_OF_PROGNOSIS],
    );
    let mut contact = Contact {
        name: String::new(),
        relationship: String::new(),
        phones,
        main_carer: false,
        nominated_contact: false,
        involve_in_decisions: false,
        aware_of_prognosis: single(cx, &exts, ext::AWARE_OF_PROGNOSIS).and_then(|e| e.boolean(cx)),
    };
    for role in all(&exts, ext::CONTACT_ROLE) {
        let Some(code) = role.code(cx) else { continue };
        match code.as_str() {
            MAIN_CARER => contact.main_carer = true,
            NOMINATED_CONTACT => contact.nominated_contact = true,
            INVOLVE_IN_DECISIONS => contact.involve_in_decisions = true,
            other => cx.error(
                "code-invalid",
                at(&role.path, "value"),
                format!("`{other}` is not a contact role ({MAIN_CARER}, {NOMINATED_CONTACT}, {INVOLVE_IN_DECISIONS})"),
            ),
        }
    }
    let mut relationship_text = None;
    for (index, read) in concepts.iter().enumerate() {
        if index > 0 {
            cx.not_supported(&read.path);
            continue;
        }
        for (path, _) in &read.codings {
            cx.error(
                "not-supported",
                path,
                "a contact's relationship is kept as text only; send it in `text`",
            );
        }
        relationship_text = read.text.clone();
    }
    match relationship_text {
        Some(text) => contact.relationship = text,
        None => cx.required(
            at(root, "relationship"),
            "the contact's relationship to the person (as text) is missing",
        ),
    }
    if let Some(name) = name {
        if !contact.relationship.is_empty() {
            contact.name = name;
            people.contacts.push(contact);
        }
    }
}
