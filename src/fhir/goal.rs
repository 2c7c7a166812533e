//! Goal: the person's preferences as goals of care (domain.md §4). Preferred place of care and
//! of death become one Goal per stated choice (first choice high priority, second medium), or
//! one Goal saying the preference is undecided, declined, not appropriate or unable to be
//! expressed; "what matters most" and every advance statement are a Goal each. Every Goal is
//! the patient's own (`expressedBy`), and its lifecycle follows the plan's status: the goals of
//! a revoked plan are cancelled (H1).

use fhirbolt::model::r4::resources::{Goal, GoalStart};
use fhirbolt::model::r4::types::{
    Address as FhirAddress, CodeableConcept, Extension, ExtensionValue, Reference,
};

use super::codes::{self, Concept};
use super::ids::PlanIds;
use super::support::{
    code, coding, coding_of, complex_extension, concept, concept_of, date, extension, meta,
    narrative, reference,
};
use crate::domain::{Address, PlaceKind, PlacePreference, PlanRecord, PlanStatus, PreferredPlace};

/// On a preferred-place Goal: the place as recorded (complex: `organisation` valueString,
/// `address` valueAddress, `usual-residence` valueBoolean), so the inverse mapping can rebuild
/// it exactly; the kind of place is the `DEATH_LOCATION` coding of `Goal.description`.
pub const PREFERRED_PLACE_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/preferred-place";

/// The SNOMED CT "preferred place of death …" codes are about death only; a place-of-care
/// preference without a place uses these local codes of the same meaning.
pub(crate) const CARE_UNDECIDED: Concept = local(
    "place-of-care-undecided",
    "Preferred place of care undecided",
);
pub(crate) const CARE_DECLINED: Concept = local(
    "place-of-care-declined-to-discuss",
    "Declined to discuss preferred place of care",
);
pub(crate) const CARE_NOT_APPROPRIATE: Concept = local(
    "place-of-care-not-appropriate",
    "Discussion about preferred place of care not appropriate",
);
pub(crate) const CARE_UNABLE: Concept = local(
    "place-of-care-unable-to-express",
    "Unable to express preferred place of care",
);

const fn local(code: &'static str, display: &'static str) -> Concept {
    Concept {
        system: codes::LOCAL,
        code,
        display,
    }
}

/// Which preference a place Goal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlaceOf {
    Care,
    Death,
}

impl PlaceOf {
    fn id_kind(self) -> &'static str {
        match self {
            Self::Care => "place-of-care",
            Self::Death => "place-of-death",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Care => "Preferred place of care",
            Self::Death => "Preferred place of death",
        }
    }

    fn category(self) -> Concept {
        match self {
            Self::Care => codes::PREFERRED_PLACE_OF_CARE,
            Self::Death => codes::PREFERRED_PLACE_OF_DEATH,
        }
    }
}

/// The person's name as a reference display: given names then family name.
pub(crate) fn person_name(record: &PlanRecord) -> String {
    let person = &record.plan.person;
    let mut parts: Vec<&str> = person.given_names.iter().map(String::as_str).collect();
    parts.push(&person.family_name);
    parts.join(" ")
}

/// The reference to the plan's Patient, with the person's name.
pub(crate) fn patient_reference(record: &PlanRecord, ids: &PlanIds) -> Reference {
    reference("Patient", &ids.patient(), Some(&person_name(record)))
}

/// The words for a kind of place (the NHS Data Dictionary death-location categories).
pub(crate) fn place_kind_label(kind: PlaceKind) -> &'static str {
    match kind {
        PlaceKind::Home => "Own home",
        PlaceKind::OtherPrivateResidence => "Other private residence",
        PlaceKind::Hospice => "Hospice",
        PlaceKind::Hospital => "Hospital",
        PlaceKind::CareHome => "Care home",
        PlaceKind::Other => "Other place",
    }
}

/// An address on one line, every part kept.
pub(crate) fn address_text(address: &Address) -> String {
    address
        .lines
        .iter()
        .chain(address.city.iter())
        .chain(address.district.iter())
        .chain(address.postcode.iter())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A preferred place in words: kind, organisation, address, "usual residence".
pub(crate) fn place_text(place: &PreferredPlace) -> String {
    let mut text = place_kind_label(place.kind).to_owned();
    if let Some(organisation) = &place.organisation {
        text.push_str(": ");
        text.push_str(organisation);
    }
    if let Some(address) = &place.address {
        text.push_str(if place.organisation.is_some() {
            ", "
        } else {
            ": "
        });
        text.push_str(&address_text(address));
    }
    if place.is_usual_residence {
        text.push_str(" (usual residence)");
    }
    text
}

/// A whole preference in words, for narratives.
pub(crate) fn preference_text(preference: &PlacePreference) -> String {
    match preference {
        PlacePreference::Stated { first, second } => match second {
            Some(second) => format!(
                "1st choice: {}; 2nd choice: {}",
                place_text(first),
                place_text(second)
            ),
            None => format!("1st choice: {}", place_text(first)),
        },
        PlacePreference::Undecided {} => "undecided".into(),
        PlacePreference::DeclinedToDiscuss {} => "declined to discuss".into(),
        PlacePreference::NotAppropriate {} => "discussion not appropriate".into(),
        PlacePreference::UnableToExpress {} => "unable to express a preference".into(),
    }
}

fn place_description(place: &PreferredPlace) -> CodeableConcept {
    let mut codings = Vec::new();
    let national = match place.kind {
        PlaceKind::Home => Some(codes::PLACE_HOME),
        PlaceKind::Hospice => Some(codes::PLACE_HOSPICE),
        PlaceKind::Hospital => Some(codes::PLACE_HOSPITAL),
        PlaceKind::OtherPrivateResidence | PlaceKind::CareHome | PlaceKind::Other => None,
    };
    codings.extend(national.map(coding));
    codings.push(coding_of(
        codes::DEATH_LOCATION,
        place.kind.data_dictionary_code(),
        Some(place_kind_label(place.kind)),
    ));
    concept_of(codings, Some(&place_text(place)))
}

fn place_extension(place: &PreferredPlace) -> Extension {
    let mut parts = Vec::new();
    if let Some(organisation) = &place.organisation {
        parts.push(extension(
            "organisation",
            ExtensionValue::String(organisation.as_str().into()),
        ));
    }
    if let Some(address) = &place.address {
        parts.push(extension(
            "address",
            ExtensionValue::Address(Box::new(FhirAddress {
                line: address.lines.iter().map(|l| l.as_str().into()).collect(),
                city: address.city.as_deref().map(Into::into),
                district: address.district.as_deref().map(Into::into),
                postal_code: address.postcode.as_deref().map(Into::into),
                ..Default::default()
            })),
        ));
    }
    parts.push(extension(
        "usual-residence",
        ExtensionValue::Boolean(place.is_usual_residence.into()),
    ));
    complex_extension(PREFERRED_PLACE_EXTENSION, parts)
}

fn lifecycle(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::Active => "active",
        PlanStatus::Completed => "completed",
        PlanStatus::Revoked => "cancelled",
        PlanStatus::EnteredInError => "entered-in-error",
    }
}

fn plan_status_text(status: PlanStatus) -> String {
    match status {
        PlanStatus::Active => "active".into(),
        PlanStatus::Completed => "completed (the person has died)".into(),
        PlanStatus::Revoked => "revoked: this preference no longer stands".into(),
        PlanStatus::EnteredInError => "entered in error: this preference no longer stands".into(),
    }
}

/// What differs between the Goals; `build` adds what they share.
struct GoalParts {
    id: String,
    category: Concept,
    priority: Option<(&'static str, &'static str)>,
    description: CodeableConcept,
    start: Option<chrono::NaiveDate>,
    extension: Vec<Extension>,
    heading: String,
    rows: Vec<(&'static str, String)>,
    /// How the CarePlan's `goal` reference names it.
    display: String,
}

fn build(record: &PlanRecord, ids: &PlanIds, parts: GoalParts) -> Goal {
    let mut rows = vec![("Person", person_name(record))];
    rows.extend(parts.rows);
    rows.push(("Plan status", plan_status_text(record.status)));
    Goal {
        id: Some(parts.id.into()),
        meta: Some(meta(record, codes::profile::GOAL)),
        text: Some(narrative(&parts.heading, &rows)),
        extension: parts.extension,
        lifecycle_status: code(lifecycle(record.status)),
        category: vec![concept(parts.category)],
        priority: parts.priority.map(|(value, display)| {
            Box::new(concept_of(
                vec![coding_of(codes::GOAL_PRIORITY, value, Some(display))],
                None,
            ))
        }),
        description: Box::new(parts.description),
        subject: Box::new(patient_reference(record, ids)),
        start: parts.start.map(|d| GoalStart::Date(date(d).into())),
        expressed_by: Some(Box::new(patient_reference(record, ids))),
        ..Default::default()
    }
}

fn place_goals(ids: &PlanIds, of: PlaceOf, preference: &PlacePreference) -> Vec<GoalParts> {
    let choice = |rank: u8, place: &PreferredPlace| {
        let (priority, short, choice) = if rank == 1 {
            (
                ("high-priority", "High Priority"),
                "1st choice",
                "1st choice (high priority)",
            )
        } else {
            (
                ("medium-priority", "Medium Priority"),
                "2nd choice",
                "2nd choice (medium priority)",
            )
        };
        GoalParts {
            id: ids.place_goal(of.id_kind(), rank),
            category: of.category(),
            priority: Some(priority),
            description: place_description(place),
            start: None,
            extension: vec![place_extension(place)],
            heading: format!("{}: {}", of.label(), choice),
            rows: vec![(of.label(), place_text(place)), ("Choice", choice.into())],
            display: format!("{}, {short}: {}", of.label(), place_text(place)),
        }
    };
    let without_place = |sct: Concept, care: Concept| {
        let concept = match of {
            PlaceOf::Death => sct,
            PlaceOf::Care => care,
        };
        let text = format!("{}: {}", of.label(), preference_text(preference));
        GoalParts {
            id: ids.place_goal(of.id_kind(), 0),
            category: of.category(),
            priority: None,
            description: concept_of(vec![coding(concept)], Some(&text)),
            start: None,
            extension: Vec::new(),
            heading: of.label().into(),
            rows: vec![(of.label(), preference_text(preference))],
            display: text,
        }
    };
    match preference {
        PlacePreference::Stated { first, second } => {
            let mut parts = vec![choice(1, first)];
            parts.extend(second.iter().map(|s| choice(2, s)));
            parts
        }
        PlacePreference::Undecided {} => {
            vec![without_place(codes::PLACE_UNDECIDED, CARE_UNDECIDED)]
        }
        PlacePreference::DeclinedToDiscuss {} => {
            vec![without_place(codes::PLACE_DECLINED, CARE_DECLINED)]
        }
        PlacePreference::NotAppropriate {} => {
            vec![without_place(
                codes::PLACE_NOT_APPROPRIATE,
                CARE_NOT_APPROPRIATE,
            )]
        }
        PlacePreference::UnableToExpress {} => {
            vec![without_place(codes::PLACE_UNABLE, CARE_UNABLE)]
        }
    }
}

fn all_parts(record: &PlanRecord, ids: &PlanIds) -> Vec<GoalParts> {
    let plan = &record.plan;
    let mut parts = Vec::new();
    if let Some(preference) = &plan.preferred_place_of_care {
        parts.extend(place_goals(ids, PlaceOf::Care, preference));
    }
    if let Some(preference) = &plan.preferred_place_of_death {
        parts.extend(place_goals(ids, PlaceOf::Death, preference));
    }
    if let Some(text) = &plan.what_matters_most {
        parts.push(GoalParts {
            id: ids.what_matters_goal(),
            category: codes::WHAT_MATTERS_MOST,
            priority: None,
            description: concept_of(Vec::new(), Some(text)),
            start: None,
            extension: Vec::new(),
            heading: "What matters most".into(),
            rows: vec![("What matters most", text.clone())],
            display: format!("What matters most: {text}"),
        });
    }
    for (index, statement) in plan.advance_statements.iter().enumerate() {
        parts.push(GoalParts {
            id: ids.advance_statement_goal(index),
            category: codes::HAS_ADVANCE_STATEMENT,
            priority: None,
            description: concept_of(Vec::new(), Some(&statement.text)),
            start: Some(statement.date),
            extension: Vec::new(),
            heading: "Advance statement of wishes and preferences".into(),
            rows: vec![
                ("Statement", statement.text.clone()),
                ("Made on", date(statement.date)),
            ],
            display: format!(
                "Advance statement of {}: {}",
                date(statement.date),
                statement.text
            ),
        });
    }
    parts
}

/// Projects the plan's Goal resources: preferred place of care, preferred place of death, what
/// matters most, then advance statements in plan order.
pub fn goals(record: &PlanRecord, ids: &PlanIds) -> Vec<Goal> {
    all_parts(record, ids)
        .into_iter()
        .map(|parts| build(record, ids, parts))
        .collect()
}

/// The ids of [`goals`], in the same order, without building the resources.
pub(crate) fn goal_ids(record: &PlanRecord, ids: &PlanIds) -> Vec<String> {
    all_parts(record, ids)
        .into_iter()
        .map(|parts| parts.id)
        .collect()
}

/// References to every Goal of [`goals`], in the same order, each with a display that names
/// the preference (for `CarePlan.goal`).
pub(crate) fn goal_references(record: &PlanRecord, ids: &PlanIds) -> Vec<Reference> {
    all_parts(record, ids)
        .into_iter()
        .map(|parts| reference("Goal", &parts.id, Some(&parts.display)))
        .collect()
}

#[cfg(test)]
#[path = "goal_tests.rs"]
mod tests;
