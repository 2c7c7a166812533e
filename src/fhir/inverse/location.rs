//! Where a domain validation problem sits in the FHIR a client sent: a [`FieldError`] path of the
//! internal plan (`resuscitation_decisions[1].review`, `person.nhs_number`) mapped to the
//! resource type, id and FHIRPath of the element that carried it, found by the same content
//! rules as the inverse mapping (scope, relationship, category), best effort: an item it cannot
//! place more precisely is given as its resource, then as the CarePlan.
//!
//! [`FieldError`]: crate::domain::FieldError

use fhirbolt::model::r4::resources::{Consent, Goal, RelatedPerson};
use fhirbolt::model::r4::types::{CodeableConcept, Extension, Id};

use crate::fhir::care_plan::{
    DEATH_EXTENSION, DIAGNOSES_EXTENSION, NOTE_ACCESS, NOTE_LIVES_ALONE, NOTE_ORGAN_DONATION,
    NOTE_RELIGIOUS, NOTE_SPECIAL, PROGNOSIS_EXTENSION, RESPECT_FORM_EXTENSION,
    STATUS_REASON_EXTENSION,
};
use crate::fhir::codes::{self, extension as ext};
use crate::fhir::goal::PREFERRED_PLACE_EXTENSION;
use crate::fhir::Projection;

/// The resource type, its id and the FHIRPath of the element.
pub type Location = (&'static str, Option<String>, String);

/// Maps a domain validation path to the FHIR element that carried it (best effort).
pub fn fhir_location(internal_path: &str, resources: &Projection) -> Option<Location> {
    let path = internal_path.strip_prefix("plan.").unwrap_or(internal_path);
    let segments = segments(path)?;
    let (head, index) = segments.first().copied()?;
    let rest = &segments[1..];
    let field = rest.first().map(|(name, _)| *name);
    match head {
        "consent_to_share" => consent_location(
            resources,
            codes::scope::PATIENT_PRIVACY,
            Some(0),
            field,
            rest,
        ),
        "resuscitation_decisions" => {
            consent_location(resources, codes::scope::TREATMENT, index, field, rest)
        }
        "adrts" => consent_location(resources, codes::scope::ADR, index, field, rest),
        "person" => Some(patient_location(resources, rest)),
        "usual_gp" => Some(usual_gp_location(resources, field)),
        "contacts" | "lpas" => related_location(resources, head == "lpas", index?, rest),
        "preferred_place_of_care" | "preferred_place_of_death" => {
            let (system, code) = if head == "preferred_place_of_care" {
                (codes::LOCAL, codes::PREFERRED_PLACE_OF_CARE.code)
            } else {
                (codes::SCT, codes::PREFERRED_PLACE_OF_DEATH.code)
            };
            let priority = match field {
                Some("second") => Some("medium-priority"),
                Some("first") => Some("high-priority"),
                _ => None,
            };
            let goal = resources.goals.iter().find(|g| {
                g.category.iter().any(|c| has(c, system, code))
                    && (priority.is_none()
                        || g.priority.as_deref().is_some_and(|p| {
                            has(p, codes::GOAL_PRIORITY, priority.unwrap_or_default())
                        }))
            })?;
            let element = match rest.get(1) {
                Some(("organisation" | "address" | "is_usual_residence", _)) => {
                    extension_at("Goal", &goal.extension, &[PREFERRED_PLACE_EXTENSION])
                }
                _ => "Goal.description".to_owned(),
            };
            Some(("Goal", id(&goal.id), element))
        }
        "what_matters_most" => goal_location(
            resources,
            codes::LOCAL,
            codes::WHAT_MATTERS_MOST.code,
            0,
            "Goal.description",
        ),
        "advance_statements" => {
            let element = if field == Some("date") {
                "Goal.start"
            } else {
                "Goal.description"
            };
            goal_location(
                resources,
                codes::SCT,
                codes::HAS_ADVANCE_STATEMENT.code,
                index?,
                element,
            )
        }
        _ => Some(care_plan_location(resources, head, index, rest)),
    }
}

/// `a.b[2].c` as `[("a", None), ("b", Some(2)), ("c", None)]`.
fn segments(path: &str) -> Option<Vec<(&str, Option<usize>)>> {
    path.split('.')
        .map(|part| match part.split_once('[') {
            Some((name, index)) => Some((name, Some(index.strip_suffix(']')?.parse().ok()?))),
            None => Some((part, None)),
        })
        .collect()
}

fn id(id: &Option<Id>) -> Option<String> {
    id.as_ref().and_then(|i| i.value.clone())
}

fn has(concept: &CodeableConcept, system: &str, code: &str) -> bool {
    concept.coding.iter().any(|c| {
        c.system.as_ref().and_then(|s| s.value.as_deref()) == Some(system)
            && c.code.as_ref().and_then(|s| s.value.as_deref()) == Some(code)
    })
}

fn extension_index(list: &[Extension], urls: &[&str]) -> Option<usize> {
    list.iter().position(|e| urls.contains(&e.url.as_str()))
}

fn extension_at(root: &str, list: &[Extension], urls: &[&str]) -> String {
    match extension_index(list, urls) {
        Some(index) => format!("{root}.extension[{index}]"),
        None => format!("{root}.extension"),
    }
}

fn consent_location(
    resources: &Projection,
    scope: &str,
    index: Option<usize>,
    field: Option<&str>,
    rest: &[(&str, Option<usize>)],
) -> Option<Location> {
    let consent: &Consent = resources
        .consents
        .iter()
        .filter(|c| has(&c.scope, codes::CONSENT_SCOPE, scope))
        .nth(index?)?;
    let exts = &consent.extension;
    let element = match field {
        None => "Consent".to_owned(),
        Some("id") => "Consent.id".to_owned(),
        Some("status") if scope == codes::scope::PATIENT_PRIVACY => consent
            .category
            .iter()
            .position(|c| {
                c.coding
                    .iter()
                    .any(|k| k.system.as_ref().and_then(|s| s.value.as_deref()) == Some(codes::SCT))
            })
            .map_or_else(
                || "Consent.category".to_owned(),
                |i| format!("Consent.category[{i}]"),
            ),
        Some("status") => extension_at("Consent", exts, &[codes::DECISION_STATUS_EXTENSION]),
        Some("decision") => "Consent.provision.type".to_owned(),
        Some("date" | "decision_date") => "Consent.dateTime".to_owned(),
        Some("review") => {
            extension_at("Consent", exts, &[ext::REVIEW_DATE, ext::REVIEW_INDEFINITE])
        }
        Some("decided_by" | "recorded_by") => "Consent.performer[0]".to_owned(),
        Some("form_location" | "document_location") => "Consent.source".to_owned(),
        Some("person_aware" | "family_informed") => {
            extension_at("Consent", exts, &[ext::DECISION_AWARENESS])
        }
        Some("had_capacity" | "person_involved") => {
            extension_at("Consent", exts, &[ext::DECISION_CAPACITY])
        }
        Some("reason") => extension_at("Consent", exts, &[codes::DECISION_REASON_EXTENSION]),
        Some("ended") => extension_at("Consent", exts, &[ext::DECISION_ENDED]),
        Some("refuses_life_sustaining_treatment") => {
            extension_at("Consent", exts, &[codes::ADRT_REFUSES_LST_EXTENSION])
        }
        Some("witnessed_and_signed") => extension_at(
            "Consent",
            exts,
            &[codes::ADRT_WITNESSED_AND_SIGNED_EXTENSION],
        ),
        Some("circumstances") => {
            extension_at("Consent", exts, &[codes::ADRT_CIRCUMSTANCES_EXTENSION])
        }
        Some("refused_treatments") => match rest.first().and_then(|(_, i)| *i) {
            Some(i) => format!("Consent.provision.provision[{i}].code[0]"),
            None => "Consent.provision.provision".to_owned(),
        },
        Some(_) => "Consent".to_owned(),
    };
    Some(("Consent", id(&consent.id), element))
}

fn patient_location(resources: &Projection, rest: &[(&str, Option<usize>)]) -> Location {
    let patient = &resources.patient;
    let name_index = |wanted: &str| {
        patient
            .name
            .iter()
            .position(|n| n.r#use.as_ref().and_then(|u| u.value.as_deref()) == Some(wanted))
            .unwrap_or(0)
    };
    let element = match rest.first() {
        Some(("nhs_number", _)) => {
            let index = patient
                .identifier
                .iter()
                .position(|i| {
                    i.system.as_ref().and_then(|s| s.value.as_deref()) == Some(codes::NHS_NUMBER)
                })
                .unwrap_or(0);
            format!("Patient.identifier[{index}].value")
        }
        Some(("family_name", _)) => format!("Patient.name[{}].family", name_index("official")),
        Some(("given_names", Some(i))) => {
            format!("Patient.name[{}].given[{i}]", name_index("official"))
        }
        Some(("given_names", None)) => format!("Patient.name[{}].given", name_index("official")),
        Some(("preferred_name", _)) => format!("Patient.name[{}].text", name_index("usual")),
        Some(("birth_date", _)) => "Patient.birthDate".to_owned(),
        Some(("gender", _)) => "Patient.gender".to_owned(),
        Some(("address", _)) => match rest.get(1) {
            Some(("lines", Some(i))) => format!("Patient.address[0].line[{i}]"),
            Some(("city", _)) => "Patient.address[0].city".to_owned(),
            Some(("district", _)) => "Patient.address[0].district".to_owned(),
            Some(("postcode", _)) => "Patient.address[0].postalCode".to_owned(),
            _ => "Patient.address[0]".to_owned(),
        },
        Some(("phones", Some(i))) => format!("Patient.telecom[{i}].value"),
        Some(("interpreter_needed", _)) => {
            extension_at("Patient", &patient.extension, &[ext::INTERPRETER_REQUIRED])
        }
        Some(("preferred_language", _)) => "Patient.communication[0].language".to_owned(),
        _ => "Patient".to_owned(),
    };
    ("Patient", id(&patient.id), element)
}

fn usual_gp_location(resources: &Projection, field: Option<&str>) -> Location {
    let patient = &resources.patient;
    if field == Some("gp_name") {
        let index = patient.general_practitioner.iter().position(|r| {
            r.reference
                .as_ref()
                .and_then(|v| v.value.as_deref())
                .is_some_and(|v| v.starts_with("Practitioner/"))
        });
        let element = index.map_or_else(
            || "Patient.generalPractitioner".to_owned(),
            |i| format!("Patient.generalPractitioner[{i}]"),
        );
        return ("Patient", id(&patient.id), element);
    }
    let Some(organization) = resources.organizations.first() else {
        return (
            "Patient",
            id(&patient.id),
            "Patient.generalPractitioner".to_owned(),
        );
    };
    let element = match field {
        Some("practice_name") => "Organization.name",
        Some("practice_ods_code") => "Organization.identifier[0].value",
        Some("phone") => "Organization.telecom[0].value",
        _ => "Organization",
    };
    ("Organization", id(&organization.id), element.to_owned())
}

fn is_lpa(person: &RelatedPerson) -> bool {
    person
        .relationship
        .iter()
        .any(|r| has(r, codes::V3_ROLE_CODE, crate::fhir::related_person::HPOWATT))
}

fn related_location(
    resources: &Projection,
    lpa: bool,
    index: usize,
    rest: &[(&str, Option<usize>)],
) -> Option<Location> {
    let person = resources
        .related_persons
        .iter()
        .filter(|p| is_lpa(p) == lpa)
        .nth(index)?;
    let root = "RelatedPerson";
    let element = match rest.first() {
        Some(("name", _)) => "RelatedPerson.name[0].text".to_owned(),
        Some(("relationship", _)) => "RelatedPerson.relationship[0].text".to_owned(),
        Some(("phones", Some(i))) => format!("RelatedPerson.telecom[{i}].value"),
        Some(("life_sustaining_authority", _)) => {
            extension_at(root, &person.extension, &[ext::LPA_LIFE_SUSTAINING])
        }
        Some(("document_location", _)) => {
            extension_at(root, &person.extension, &[ext::DOCUMENT_LOCATION])
        }
        Some(("aware_of_prognosis", _)) => {
            extension_at(root, &person.extension, &[ext::AWARE_OF_PROGNOSIS])
        }
        Some(("main_carer" | "nominated_contact" | "involve_in_decisions", _)) => {
            extension_at(root, &person.extension, &[ext::CONTACT_ROLE])
        }
        _ => root.to_owned(),
    };
    Some((root, id(&person.id), element))
}

fn goal_location(
    resources: &Projection,
    system: &str,
    code: &str,
    index: usize,
    element: &str,
) -> Option<Location> {
    let goal: &Goal = resources
        .goals
        .iter()
        .filter(|g| g.category.iter().any(|c| has(c, system, code)))
        .nth(index)?;
    Some(("Goal", id(&goal.id), element.to_owned()))
}

fn care_plan_location(
    resources: &Projection,
    head: &str,
    index: Option<usize>,
    rest: &[(&str, Option<usize>)],
) -> Location {
    let care_plan = &resources.care_plan;
    let exts = &care_plan.extension;
    let at_ext = |urls: &[&str]| extension_at("CarePlan", exts, urls);
    let note = |label: &str| {
        care_plan
            .note
            .iter()
            .position(|n| {
                n.text
                    .value
                    .as_deref()
                    .is_some_and(|t| t.starts_with(label))
            })
            .map_or_else(
                || "CarePlan.note".to_owned(),
                |i| format!("CarePlan.note[{i}].text"),
            )
    };
    let field = rest.first().map(|(name, _)| *name);
    let element = match head {
        "review_date" => at_ext(&[ext::REVIEW_DATE]),
        "diagnosis" => at_ext(&[DIAGNOSES_EXTENSION]),
        "prognosis" => at_ext(&[PROGNOSIS_EXTENSION]),
        "death" => at_ext(&[DEATH_EXTENSION]),
        "status_reason" => at_ext(&[STATUS_REASON_EXTENSION]),
        "respect" => match (field, rest.first().and_then(|(_, i)| *i)) {
            (Some("priority"), _) => at_ext(&[ext::RESPECT_PRIORITY]),
            (Some("focus_of_care"), _) => at_ext(&[ext::RESPECT_FOCUS]),
            (Some("recommendations"), Some(i)) => care_plan
                .activity
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    a.detail.as_ref().is_some_and(|d| {
                        d.reason_code
                            .iter()
                            .any(|c| has(c, codes::SCT, codes::RESPECT_FORM.code))
                    })
                })
                .nth(i)
                .map_or_else(
                    || "CarePlan.activity".to_owned(),
                    |(k, _)| format!("CarePlan.activity[{k}].detail"),
                ),
            _ => at_ext(&[RESPECT_FORM_EXTENSION]),
        },
        "anticipatory_medicines" => care_plan
            .activity
            .iter()
            .position(|a| {
                a.detail.as_ref().is_some_and(|d| {
                    d.extension
                        .iter()
                        .any(|e| e.url == crate::fhir::care_plan::ANTICIPATORY_MEDICINES_EXTENSION)
                })
            })
            .map_or_else(
                || "CarePlan.activity".to_owned(),
                |k| format!("CarePlan.activity[{k}].detail"),
            ),
        "special_note" => note(NOTE_SPECIAL),
        "access_information" => note(NOTE_ACCESS),
        "religious_or_cultural_needs" => note(NOTE_RELIGIOUS),
        "organ_donation_wishes" => note(NOTE_ORGAN_DONATION),
        "lives_alone" => note(NOTE_LIVES_ALONE),
        "care_team" => care_team_location(care_plan, rest),
        "created" => "CarePlan.created".to_owned(),
        _ => "CarePlan".to_owned(),
    };
    let _ = index;
    ("CarePlan", id(&care_plan.id), element)
}

/// `care_team.key_worker…` or `care_team.professionals[i]…`: the participant of the contained
/// CareTeam (the key worker carries the local key-worker role; professionals carry no coded
/// role).
fn care_team_location(
    care_plan: &fhirbolt::model::r4::resources::CarePlan,
    rest: &[(&str, Option<usize>)],
) -> String {
    let Some(fhirbolt::model::r4::Resource::CareTeam(team)) = care_plan.contained.first() else {
        return "CarePlan.contained".to_owned();
    };
    let coded = |p: &fhirbolt::model::r4::resources::CareTeamParticipant| {
        p.role.iter().any(|r| !r.coding.is_empty())
    };
    let key_worker = |p: &fhirbolt::model::r4::resources::CareTeamParticipant| {
        p.role
            .iter()
            .any(|r| has(r, codes::LOCAL, crate::fhir::care_plan::KEY_WORKER.code))
    };
    let index = match rest.first() {
        Some(("key_worker", _)) => team.participant.iter().position(key_worker),
        Some(("professionals", Some(i))) => team
            .participant
            .iter()
            .enumerate()
            .filter(|(_, p)| !coded(p))
            .nth(*i)
            .map(|(k, _)| k),
        _ => None,
    };
    let Some(index) = index else {
        return "CarePlan.contained[0]".to_owned();
    };
    let base = format!("CarePlan.contained[0].participant[{index}]");
    match rest.get(1) {
        Some(("name", _)) => format!("{base}.member"),
        Some(("role", _)) => format!("{base}.role[0].text"),
        Some(("organisation", _)) => format!("{base}.onBehalfOf.display"),
        Some(("phone", _)) => format!("{base}.extension[0].value"),
        _ => base,
    }
}
