//! Patient back into the plan's person and usual GP: the NHS number (verified check digit, H3),
//! the official and the preferred name, birth date, gender, home address, phones, preferred
//! language, interpreter needed, and `generalPractitioner` (the practice Organization and the
//! named GP). `active` and `deceased` restate the plan's status and death, which the CarePlan
//! carries; they are checked against it, not read twice.

use chrono::NaiveDate;
use fhirbolt::model::r4::resources::{Patient, PatientCommunication, PatientDeceased};

use super::practitioner::{no_extensions_on, Set};
use super::read::{
    absent, absent_list, address as address_of, at, at_index, concept, extensions, human_name,
    identifier, logical_id, no_element_id, no_modifiers, no_resource_extras, phones, prim,
    reference, server_managed, single, text, Cx,
};
use super::FhirIssue;
use crate::domain::{Gender, IdError, NhsNumber, Person};
use crate::fhir::codes;

/// What the Patient says.
#[derive(Debug, Default)]
pub(super) struct PatientRead {
    pub person: Option<Person>,
    /// The GP practice Organization's id.
    pub practice: Option<String>,
    /// The named GP.
    pub gp_name: Option<String>,
    /// `deceasedDateTime`, for the check against the CarePlan's death.
    pub deceased: Option<NaiveDate>,
    /// `active`, for the check against the plan's status.
    pub active: Option<bool>,
}

fn gender(code: &str) -> Option<Gender> {
    match code {
        "male" => Some(Gender::Male),
        "female" => Some(Gender::Female),
        "other" => Some(Gender::Other),
        "unknown" => Some(Gender::Unknown),
        _ => None,
    }
}

/// Reads the plan's Patient.
pub(super) fn read(issues: &mut Vec<FhirIssue>, set: &Set<'_>, resource: &Patient) -> PatientRead {
    let Patient {
        id,
        meta,
        implicit_rules,
        language,
        text: narrative,
        contained,
        extension,
        modifier_extension,
        identifier: identifiers,
        active,
        name,
        telecom,
        gender: gender_code,
        birth_date,
        deceased,
        address: addresses,
        marital_status,
        multiple_birth,
        photo,
        contact,
        communication,
        general_practitioner,
        managing_organization,
        link,
    } = resource;
    let mut cx = Cx::new(issues, "Patient", logical_id(id));
    let cx = &mut cx;
    let root = "Patient";
    server_managed(meta, narrative);
    no_resource_extras(cx, implicit_rules, language);
    absent_list(cx, root, "contained", contained);
    no_modifiers(cx, root, modifier_extension);
    absent(cx, at(root, "maritalStatus"), marital_status);
    absent(cx, at(root, "multipleBirth"), multiple_birth);
    absent_list(cx, root, "photo", photo);
    absent_list(cx, root, "contact", contact);
    absent(cx, at(root, "managingOrganization"), managing_organization);
    absent_list(cx, root, "link", link);
    if id.is_none() {
        cx.required(
            at(root, "id"),
            "the Patient needs an id for the plan's references to it",
        );
    }

    let exts = extensions(
        cx,
        root,
        extension,
        &[codes::extension::INTERPRETER_REQUIRED],
    );
    let interpreter_needed = single(cx, &exts, codes::extension::INTERPRETER_REQUIRED)
        .and_then(|e| e.boolean(cx))
        .unwrap_or(false);

    let nhs_number = nhs_number(cx, identifiers);

    let mut family_name = None;
    let mut given_names = Vec::new();
    let mut preferred_name = None;
    for (index, item) in name.iter().enumerate() {
        let path = at_index(root, "name", index);
        let read = human_name(cx, &path, item);
        match read.r#use.as_deref() {
            Some("official") if family_name.is_none() => {
                if read.family.is_none() {
                    cx.required(at(&path, "family"), "the family name is missing");
                }
                if read.given.is_empty() {
                    cx.required(at(&path, "given"), "at least one given name is needed");
                }
                family_name = read.family;
                given_names = read.given;
            }
            Some("usual") if preferred_name.is_none() => {
                if read.family.is_some() {
                    cx.not_supported(at(&path, "family"));
                }
                if read.text.is_none() {
                    cx.required(at(&path, "text"), "the preferred name is kept as text");
                }
                preferred_name = read.text;
            }
            _ => cx.not_supported(path),
        }
    }
    if name.is_empty() || (family_name.is_none() && given_names.is_empty()) {
        cx.required(
            at(root, "name"),
            "the official name (use `official`) is missing",
        );
    }

    let gender_path = at(root, "gender");
    let gender = match text(cx, &gender_path, gender_code.as_ref()) {
        Some(code) => gender(&code).or_else(|| {
            cx.error(
                "code-invalid",
                &gender_path,
                format!("`{code}` is not an administrative gender"),
            );
            None
        }),
        None => {
            cx.required(&gender_path, "the gender is missing");
            None
        }
    };
    let birth_path = at(root, "birthDate");
    let birth_date = match birth_date {
        Some(value) => super::read::date(cx, &birth_path, value),
        None => {
            cx.required(&birth_path, "the date of birth is missing");
            None
        }
    };
    let mut address = None;
    for (index, item) in addresses.iter().enumerate() {
        let path = at_index(root, "address", index);
        if index > 0 {
            cx.not_supported(path);
            continue;
        }
        address = address_of(cx, &path, item, Some("home"));
    }

    let preferred_language = preferred_language(cx, communication);

    let mut read_out = PatientRead {
        active: active
            .as_ref()
            .and_then(|a| prim(cx, &at(root, "active"), a))
            .copied(),
        deceased: match deceased {
            None => None,
            Some(PatientDeceased::DateTime(value)) => {
                super::read::date(cx, &at(root, "deceased"), value)
            }
            Some(_) => {
                cx.error(
                    "not-supported",
                    at(root, "deceased"),
                    "the date of death is needed, not only whether the person has died",
                );
                None
            }
        },
        ..PatientRead::default()
    };

    for (index, item) in general_practitioner.iter().enumerate() {
        let read = reference(cx, &at_index(root, "generalPractitioner", index), item);
        no_extensions_on(cx, &read);
        match set.resolve(cx, &read, &["Organization", "Practitioner"]) {
            Some(("Organization", id)) if read_out.practice.is_none() => {
                read_out.practice = Some(id.to_owned());
            }
            Some(("Practitioner", _)) if read_out.gp_name.is_none() => {
                read_out.gp_name = set.practitioner_name(cx, &read);
            }
            Some(_) => cx.not_supported(&read.path),
            None => {}
        }
    }
    if read_out.practice.is_none() {
        cx.required(
            at(root, "generalPractitioner"),
            "the registered GP practice (an Organization of this plan) is missing",
        );
    }

    if let (Some(nhs_number), Some(family_name), Some(birth_date), Some(gender)) =
        (nhs_number, family_name, birth_date, gender)
    {
        read_out.person = Some(Person {
            nhs_number,
            family_name,
            given_names,
            preferred_name,
            birth_date,
            gender,
            address,
            phones: phones(cx, root, telecom),
            interpreter_needed,
            preferred_language,
        });
    } else {
        let _ = phones(cx, root, telecom);
    }
    read_out
}

/// The NHS number: exactly one, with a valid check digit (H3).
fn nhs_number(
    cx: &mut Cx<'_>,
    identifiers: &[fhirbolt::model::r4::types::Identifier],
) -> Option<NhsNumber> {
    let root = "Patient";
    let mut found: Option<NhsNumber> = None;
    let mut seen = false;
    for (index, item) in identifiers.iter().enumerate() {
        let path = at_index(root, "identifier", index);
        let (system, value) = identifier(cx, &path, item);
        if system.as_deref() != Some(codes::NHS_NUMBER) {
            cx.error(
                "not-supported",
                at(&path, "system"),
                format!(
                    "only the NHS number ({}) identifies the person here",
                    codes::NHS_NUMBER
                ),
            );
            continue;
        }
        seen = true;
        let value_path = at(&path, "value");
        let Some(value) = value else {
            cx.required(value_path, "the NHS number is missing");
            continue;
        };
        match NhsNumber::parse(&value) {
            Ok(number) => match &found {
                Some(first) if *first != number => cx.error(
                    "invariant",
                    value_path,
                    "two different NHS numbers: which person the plan is about is ambiguous",
                ),
                _ => found = Some(number),
            },
            Err(IdError::NhsNumberCheckDigit) => cx.error(
                "value",
                value_path,
                "the NHS number's check digit is wrong (Modulus 11): check the number",
            ),
            Err(e) => cx.error("value", value_path, e.to_string()),
        }
    }
    if !seen {
        cx.required(
            at(root, "identifier"),
            format!(
                "the NHS number identifier ({}) is missing",
                codes::NHS_NUMBER
            ),
        );
    }
    found
}

/// The preferred language: one communication, a BCP 47 coding (or its text).
fn preferred_language(cx: &mut Cx<'_>, list: &[PatientCommunication]) -> Option<String> {
    let root = "Patient";
    let mut tag = None;
    for (index, item) in list.iter().enumerate() {
        let path = at_index(root, "communication", index);
        let PatientCommunication {
            id,
            extension,
            modifier_extension,
            language,
            preferred,
        } = item;
        no_element_id(cx, &path, id);
        super::read::no_extensions(cx, &path, extension);
        no_modifiers(cx, &path, modifier_extension);
        let preferred_path = at(&path, "preferred");
        let is_preferred = preferred
            .as_ref()
            .and_then(|p| prim(cx, &preferred_path, p))
            .copied();
        if index > 0 || is_preferred != Some(true) {
            cx.error(
                "not-supported",
                &path,
                "only the one preferred language (preferred = true) is kept",
            );
            continue;
        }
        let read = concept(cx, &at(&path, "language"), language);
        super::read::only_systems(cx, &read, &[codes::BCP47]);
        let coded = read
            .of_system(codes::BCP47)
            .first()
            .and_then(|(_, code)| code.map(str::to_owned));
        if let (Some(code), Some(words)) = (&coded, &read.text) {
            if code != words {
                cx.error(
                    "invariant",
                    at(&read.path, "text"),
                    "the language's text differs from its code; send the BCP 47 tag in both",
                );
            }
        }
        tag = coded.or(read.text);
        if tag.is_none() {
            cx.required(at(&path, "language"), "the language tag is missing");
        }
    }
    tag
}
