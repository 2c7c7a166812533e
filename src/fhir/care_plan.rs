//! CarePlan: the plan itself (domain.md §4). It points at everything the other resources hold
//! (Goals, Consents, LPA RelatedPersons, a contained CareTeam) and carries every item of the
//! plan that no other resource holds — review date, diagnoses, prognosis, ReSPECT, anticipatory
//! medicines, notes, death — as elements, extensions or labelled annotations, so an inverse
//! mapping can rebuild the plan. Its narrative reads alone and states the CPR position from
//! [`PlanRecord::resuscitation_status`] only: the current decision, "No decision recorded"
//! (H2), or that a revoked plan's decisions do not stand (H1).

use fhirbolt::model::r4::resources::{
    CarePlan, CarePlanActivity, CarePlanActivityDetail, CareTeam, CareTeamParticipant,
};
use fhirbolt::model::r4::types::{
    Annotation, CodeableConcept, ContactPoint, ExtensionValue, Period, Reference,
};
use fhirbolt::model::r4::Resource;

use super::codes::{self, Concept};
use super::goal::{goal_references, patient_reference};
use super::ids::PlanIds;
use super::support::{
    code, coding, coding_of, complex_extension, concept, concept_of, date, extension, instant,
    meta, reference, yes_no,
};
use crate::domain::{
    AdrtStatus, CodedText, CprDecision, DecisionStatus, FocusOfCare, PlanRecord, PlanStatus,
    PrognosisPeriod,
};
use parts::{extensions, medicines_text, narrative_of};

/// The narrative and the CarePlan-level extensions, in their own file for size (a child
/// module: no line in `fhir/mod.rs`).
#[path = "care_plan_parts.rs"]
mod parts;

/// Diagnoses (complex: `primary`, `other`*, `disability`*, `allergy`* valueCodeableConcept;
/// `functional-status` valueString).
pub const DIAGNOSES_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/plan-diagnoses";
/// Prognosis (complex: `expected` valueCodeableConcept, `person-aware`, `carer-aware`
/// valueBoolean).
pub const PROGNOSIS_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/plan-prognosis";
/// The ReSPECT form (complex: `completed` valueDate, `location` valueString, `clinician`
/// valueReference to the Practitioner, with the clinician-details extension on it).
pub const RESPECT_FORM_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/respect-form";
/// On the anticipatory-medicines activity detail (complex: `box-issued`, `syringe-driver`
/// valueBoolean; `issued-date` valueDate; `location`, `equipment` valueString).
pub const ANTICIPATORY_MEDICINES_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/anticipatory-medicines";
/// The person's death (complex: `date` valueDate, `place` valueCodeableConcept with the
/// death-location code, `place-detail` valueString).
pub const DEATH_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/plan-death";
/// Why the plan was revoked or entered in error, valueString.
pub const STATUS_REASON_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/plan-status-reason";
/// On a CareTeam participant: the professional's phone, valueContactPoint.
pub const PARTICIPANT_PHONE_EXTENSION: &str =
    "https://acp-fhir.example.org/fhir/StructureDefinition/care-team-participant-phone";

/// The contained CareTeam's id.
pub(crate) const CARE_TEAM_ID: &str = "careteam";
/// Text of the anticipatory-medicines activity's code.
pub(crate) const ANTICIPATORY_MEDICINES: &str = "Anticipatory medicines";
/// Annotation labels; each note's text is `"{label}: {value}"`.
pub const NOTE_SPECIAL: &str = "Special note for out-of-hours staff";
/// Access information label.
pub const NOTE_ACCESS: &str = "Access information";
/// Religious or cultural needs label.
pub const NOTE_RELIGIOUS: &str = "Religious or cultural needs";
/// Organ donation wishes label.
pub const NOTE_ORGAN_DONATION: &str = "Organ donation wishes";
/// Lives alone label (value `yes` or `no`).
pub const NOTE_LIVES_ALONE: &str = "Lives alone";

const fn local(code: &'static str, display: &'static str) -> Concept {
    Concept {
        system: codes::LOCAL,
        code,
        display,
    }
}

pub(crate) const KEY_WORKER: Concept = local("key-worker", "Key worker");
pub(crate) const USUAL_GP: Concept = local("usual-gp", "Usual GP");
pub(crate) const GP_PRACTICE: Concept = local("gp-practice", "Registered GP practice");

pub(crate) fn focus_concept(focus: FocusOfCare) -> Concept {
    match focus {
        FocusOfCare::LifeSustaining => local(
            "focus-life-sustaining-treatment",
            "Focus of care: life-sustaining treatment",
        ),
        FocusOfCare::Selective => local(
            "focus-selective-treatment",
            "Focus of care: selective treatment",
        ),
        FocusOfCare::Comfort => local("focus-comfort-care", "Focus of care: comfort care"),
    }
}

pub(crate) fn prognosis_concepts(period: PrognosisPeriod) -> (Concept, Option<Concept>) {
    match period {
        PrognosisPeriod::LastDays => (
            local("prognosis-last-days", "Last days of life"),
            Some(codes::LAST_DAYS),
        ),
        PrognosisPeriod::LastWeeks => (
            local("prognosis-last-weeks", "Last weeks of life"),
            Some(codes::LAST_WEEKS),
        ),
        PrognosisPeriod::LastMonths => {
            (local("prognosis-last-months", "Last months of life"), None)
        }
        PrognosisPeriod::Unknown => (local("prognosis-unknown", "Prognosis unknown"), None),
    }
}

fn coded(value: &CodedText) -> CodeableConcept {
    let codings = value
        .snomed
        .iter()
        .map(|c| coding_of(codes::SCT, c.as_str(), None))
        .collect();
    concept_of(codings, Some(&value.text))
}

fn string(value: &str) -> ExtensionValue {
    ExtensionValue::String(value.into())
}

fn boolean(value: bool) -> ExtensionValue {
    ExtensionValue::Boolean(value.into())
}

fn codeable(value: CodeableConcept) -> ExtensionValue {
    ExtensionValue::CodeableConcept(Box::new(value))
}

fn cpr_words(decision: CprDecision) -> &'static str {
    match decision {
        CprDecision::ForCpr => "for attempted CPR",
        CprDecision::NotForCpr => "NOT for attempted CPR (DNACPR)",
    }
}

fn plan_status(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::Active => "active",
        PlanStatus::Completed => "completed",
        PlanStatus::Revoked => "revoked",
        PlanStatus::EnteredInError => "entered-in-error",
    }
}

fn not_current_words(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::Revoked => "revoked",
        PlanStatus::EnteredInError => "entered in error",
        PlanStatus::Active | PlanStatus::Completed => "not current",
    }
}

fn participant(
    role: Vec<CodeableConcept>,
    member: Reference,
    organisation: Option<&str>,
    phone: Option<&str>,
) -> CareTeamParticipant {
    CareTeamParticipant {
        extension: phone
            .map(|p| {
                extension(
                    PARTICIPANT_PHONE_EXTENSION,
                    ExtensionValue::ContactPoint(Box::new(ContactPoint {
                        system: Some(code("phone")),
                        value: Some(p.into()),
                        ..Default::default()
                    })),
                )
            })
            .into_iter()
            .collect(),
        role,
        member: Some(Box::new(member)),
        on_behalf_of: organisation.map(|o| {
            Box::new(Reference {
                display: Some(o.into()),
                ..Default::default()
            })
        }),
        ..Default::default()
    }
}

fn care_team(record: &PlanRecord, ids: &PlanIds) -> CareTeam {
    let plan = &record.plan;
    let practitioner =
        |name: &str| reference("Practitioner", &ids.practitioner(name, None), Some(name));
    let mut participants = Vec::new();
    if let Some(k) = &plan.care_team.key_worker {
        participants.push(participant(
            vec![concept_of(Vec::new(), Some(&k.role)), concept(KEY_WORKER)],
            practitioner(&k.name),
            k.organisation.as_deref(),
            k.phone.as_deref(),
        ));
    }
    for p in &plan.care_team.professionals {
        participants.push(participant(
            vec![concept_of(Vec::new(), Some(&p.role))],
            practitioner(&p.name),
            p.organisation.as_deref(),
            p.phone.as_deref(),
        ));
    }
    let practice = reference(
        "Organization",
        &ids.gp_practice(),
        Some(&plan.usual_gp.practice_name),
    );
    if let Some(gp) = &plan.usual_gp.gp_name {
        let mut member = participant(vec![concept(USUAL_GP)], practitioner(gp), None, None);
        member.on_behalf_of = Some(Box::new(practice.clone()));
        participants.push(member);
    }
    participants.push(participant(
        vec![concept(GP_PRACTICE)],
        practice,
        None,
        None,
    ));
    CareTeam {
        id: Some(CARE_TEAM_ID.into()),
        status: Some(code(match record.status {
            PlanStatus::Active => "active",
            PlanStatus::Completed | PlanStatus::Revoked => "inactive",
            PlanStatus::EnteredInError => "entered-in-error",
        })),
        name: Some("End of life care team".into()),
        subject: Some(Box::new(patient_reference(record, ids))),
        participant: participants,
        ..Default::default()
    }
}

fn supporting_info(record: &PlanRecord, ids: &PlanIds) -> Vec<Reference> {
    let plan = &record.plan;
    // In a revoked plan nothing is in force, whatever a decision's own status says (H1).
    let ended = (!record.status.is_current())
        .then(|| format!("not in force: plan {}", not_current_words(record.status)));
    let mut refs = vec![reference(
        "Consent",
        &ids.consent_to_share(),
        Some(&match &ended {
            Some(ended) => format!("Consent to share ({ended})"),
            None => "Consent to share".to_owned(),
        }),
    )];
    for d in &plan.resuscitation_decisions {
        if let Some(id) = d.id {
            let status = match d.status {
                DecisionStatus::Current => "current",
                DecisionStatus::Superseded => "superseded",
                DecisionStatus::Revoked => "revoked",
                DecisionStatus::EnteredInError => "entered in error",
            };
            let display = format!(
                "CPR decision of {}: {} ({})",
                date(d.decision_date),
                cpr_words(d.decision),
                ended.as_deref().unwrap_or(status)
            );
            refs.push(reference("Consent", &ids.cpr_decision(id), Some(&display)));
        }
    }
    for a in &plan.adrts {
        if let Some(id) = a.id {
            let status = match a.status {
                AdrtStatus::Active => "active",
                AdrtStatus::Withdrawn => "withdrawn",
                AdrtStatus::EnteredInError => "entered in error",
            };
            let display = format!(
                "ADRT of {} ({})",
                date(a.date),
                ended.as_deref().unwrap_or(status)
            );
            refs.push(reference("Consent", &ids.adrt(id), Some(&display)));
        }
    }
    for (index, lpa) in plan.lpas.iter().enumerate() {
        let display = format!("LPA for health and welfare: {}", lpa.name);
        refs.push(reference("RelatedPerson", &ids.lpa(index), Some(&display)));
    }
    refs
}

fn activities(record: &PlanRecord) -> Vec<CarePlanActivity> {
    let plan = &record.plan;
    let mut activities = Vec::new();
    if let Some(m) = &plan.anticipatory_medicines {
        let mut parts = vec![extension("box-issued", boolean(m.box_issued))];
        if let Some(day) = m.issued_date {
            parts.push(extension(
                "issued-date",
                ExtensionValue::Date(date(day).into()),
            ));
        }
        if let Some(location) = &m.location {
            parts.push(extension("location", string(location)));
        }
        if let Some(driver) = m.syringe_driver {
            parts.push(extension("syringe-driver", boolean(driver)));
        }
        if let Some(equipment) = &m.equipment {
            parts.push(extension("equipment", string(equipment)));
        }
        let codings = if m.box_issued {
            vec![coding(codes::JUST_IN_CASE_BOX)]
        } else {
            Vec::new()
        };
        activities.push(CarePlanActivity {
            detail: Some(CarePlanActivityDetail {
                extension: vec![complex_extension(ANTICIPATORY_MEDICINES_EXTENSION, parts)],
                code: Some(Box::new(concept_of(codings, Some(ANTICIPATORY_MEDICINES)))),
                status: code(if m.box_issued {
                    "completed"
                } else {
                    "not-started"
                }),
                description: Some(medicines_text(m).into()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    // A revoked plan's recommendations no longer stand (H1).
    let recommendation_status = match record.status {
        PlanStatus::Active | PlanStatus::Completed => "not-started",
        PlanStatus::Revoked => "cancelled",
        PlanStatus::EnteredInError => "entered-in-error",
    };
    for rec in plan.respect.iter().flat_map(|r| &r.recommendations) {
        activities.push(CarePlanActivity {
            detail: Some(CarePlanActivityDetail {
                code: Some(Box::new(coded(&rec.treatment))),
                reason_code: vec![concept(codes::RESPECT_FORM)],
                status: code(recommendation_status),
                do_not_perform: Some((!rec.recommended).into()),
                description: rec.note.as_deref().map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    activities
}

fn notes(record: &PlanRecord) -> Vec<Annotation> {
    let plan = &record.plan;
    let lives_alone = plan.lives_alone.map(|v| yes_no(Some(v)));
    [
        (NOTE_SPECIAL, plan.special_note.as_ref()),
        (NOTE_ACCESS, plan.access_information.as_ref()),
        (NOTE_RELIGIOUS, plan.religious_or_cultural_needs.as_ref()),
        (NOTE_ORGAN_DONATION, plan.organ_donation_wishes.as_ref()),
        (NOTE_LIVES_ALONE, lives_alone.as_ref()),
    ]
    .into_iter()
    .filter_map(|(label, value)| {
        value.map(|v| Annotation {
            text: format!("{label}: {v}").into(),
            ..Default::default()
        })
    })
    .collect()
}

/// Projects the plan's CarePlan resource.
pub fn care_plan(record: &PlanRecord, ids: &PlanIds) -> CarePlan {
    let plan = &record.plan;
    let mut description = format!("Primary diagnosis: {}", plan.diagnosis.primary.text);
    if let Some(p) = &plan.prognosis {
        description.push_str(&format!(
            "; prognosis: {}",
            prognosis_concepts(p.expected).0.display
        ));
    }
    CarePlan {
        id: Some(ids.care_plan().into()),
        meta: Some(meta(record, codes::profile::CARE_PLAN)),
        text: Some(narrative_of(record)),
        contained: vec![Resource::CareTeam(Box::new(care_team(record, ids)))],
        extension: extensions(record, ids),
        status: code(plan_status(record.status)),
        intent: code("plan"),
        category: vec![
            concept(codes::END_OF_LIFE_CARE_PLAN),
            concept(codes::ADVANCE_CARE_PLAN),
        ],
        title: Some("End of life care plan".into()),
        description: Some(description.into()),
        subject: Box::new(patient_reference(record, ids)),
        period: Some(Box::new(Period {
            start: Some(date(record.created.date_naive()).into()),
            end: plan.death.as_ref().map(|d| date(d.date).into()),
            ..Default::default()
        })),
        created: Some(instant(&record.created).into()),
        author: Some(Box::new(Reference {
            display: Some(record.last_updated_by.as_str().into()),
            ..Default::default()
        })),
        care_team: vec![Reference {
            reference: Some(format!("#{CARE_TEAM_ID}").into()),
            display: Some("End of life care team".into()),
            ..Default::default()
        }],
        supporting_info: supporting_info(record, ids),
        goal: goal_references(record, ids),
        activity: activities(record),
        note: notes(record),
        ..Default::default()
    }
}

#[cfg(test)]
#[path = "care_plan_tests.rs"]
mod tests;
