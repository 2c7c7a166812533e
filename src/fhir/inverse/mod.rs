//! The inverse mapping: FHIR R4 resources describing one plan (CarePlan, Patient, Consents,
//! Goals, RelatedPersons, Practitioners, Organizations) back into the internal plan. It reads
//! every element the projection writes and refuses, with an issue naming the element, anything it
//! cannot keep, so that nothing a sender wrote is silently lost.
//!
//! One file per resource (`care_plan`, `consent`, `goal`, `patient`, `related_person`,
//! `practitioner` with the reference resolution), the shared readers in `read`, and
//! [`fhir_location`] in `location`. Narrative `text` and `meta` are server-managed and ignored;
//! elements that only restate what another element carries (displays, `Consent.status`,
//! `Goal.lifecycleStatus`, `Patient.active`/`deceased`) are checked against it.

use chrono::{DateTime, Utc};

use super::Projection;
use crate::domain::{PlanContent, PlanStatus, UsualGp};

mod care_plan;
mod consent;
mod goal;
mod location;
mod patient;
mod practitioner;
mod read;
mod related_person;

pub use location::fhir_location;

/// How bad an issue is (OperationOutcome.issue.severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The resource is refused.
    Error,
    /// Accepted, but the sender should know (e.g. a synonym code was normalised).
    Warning,
}

impl Severity {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// One problem with what a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirIssue {
    /// Error or warning.
    pub severity: Severity,
    /// The FHIR issue type (http://hl7.org/fhir/issue-type): `structure`, `required`, `value`,
    /// `code-invalid`, `invariant`, `business-rule`, `not-supported`, `not-found`; warnings use
    /// `informational`.
    pub code: &'static str,
    /// The resource type the issue is in (`Consent`).
    pub resource_type: &'static str,
    /// The resource's id as sent, if any.
    pub resource_id: Option<String>,
    /// FHIRPath of the element from the resource root, e.g. `Consent.provision.type` or
    /// `CarePlan.extension[2].extension[0].value`.
    pub expression: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// What the resources say about the plan record.
#[derive(Debug, Clone, PartialEq)]
pub struct InversePlan {
    /// CarePlan.status.
    pub status: PlanStatus,
    /// Why the plan was revoked or entered in error.
    pub status_reason: Option<String>,
    /// CarePlan.created.
    pub created: Option<DateTime<Utc>>,
    /// CarePlan.author.display.
    pub last_updated_by: Option<String>,
    /// The clinical content.
    pub content: PlanContent,
    /// Accepted with a note to the sender (e.g. a synonym code normalised).
    pub warnings: Vec<FhirIssue>,
}

/// Reads one plan from its resources. References between them are `Type/id` relative
/// references resolved within `resources`. Every issue found is reported, not only the first;
/// the plan is returned only when none of them is an error (warnings travel with it).
pub fn plan_from_fhir(resources: &Projection) -> Result<InversePlan, Vec<FhirIssue>> {
    let mut issues = Vec::new();
    let set = practitioner::Set::read(resources, &mut issues);
    let plan = care_plan::read(&mut issues, &set, &resources.care_plan);
    let person = patient::read(&mut issues, &set, &resources.patient);
    let consents = consent::read_all(&mut issues, &set, &resources.consents, plan.status);
    let goals = goal::read_all(&mut issues, &set, &resources.goals, plan.status);
    let people = related_person::read_all(&mut issues, &set, &resources.related_persons);

    let care_plan_id = read::logical_id(&resources.care_plan.id);
    let patient_id = read::logical_id(&resources.patient.id);
    let mut on_care_plan = read::Cx::new(&mut issues, "CarePlan", care_plan_id);
    if consents.share.is_none() && !resources.consents.iter().any(is_share) {
        on_care_plan.required(
            "CarePlan.supportingInfo",
            "the consent to share (a Consent with scope patient-privacy) is missing: a plan is not kept without it",
        );
    }
    match (plan.status, &plan.death) {
        (Some(PlanStatus::Completed), None) => on_care_plan.error(
            "business-rule",
            "CarePlan.status",
            "a completed plan records the person's death (the plan-death extension)",
        ),
        (Some(PlanStatus::Active), Some(_)) => on_care_plan.error(
            "business-rule",
            "CarePlan.status",
            "a plan that records the person's death is completed, not active",
        ),
        _ => {}
    }
    let mut on_patient = read::Cx::new(&mut issues, "Patient", patient_id);
    let gp_name = match (person.gp_name.clone(), plan.gp_name.clone()) {
        (Some(a), Some(b)) if a != b => {
            on_patient.error(
                "invariant",
                "Patient.generalPractitioner",
                "the named GP differs from the usual GP of the CarePlan's care team",
            );
            None
        }
        (a, b) => a.or(b),
    };
    if let (Some(active), Some(status)) = (person.active, plan.status) {
        if active != status.is_current() {
            on_patient.error(
                "invariant",
                "Patient.active",
                "contradicts the plan's status (active while the plan is active or completed)",
            );
        }
    }
    if person.deceased != plan.death.as_ref().map(|d| d.date) {
        on_patient.error(
            "invariant",
            "Patient.deceased",
            "the date of death must be the one the CarePlan records (plan-death extension)",
        );
    }
    let practice = person
        .practice
        .as_deref()
        .and_then(|id| set.organizations.get(id).map(|o| (id, o)));
    let usual_gp = practice.and_then(|(id, practice)| {
        let mut on_practice = read::Cx::new(&mut issues, "Organization", Some(id));
        if practice.name.is_none() {
            on_practice.required("Organization.name", "the practice's name is missing");
        }
        Some(UsualGp {
            gp_name,
            practice_name: practice.name.clone()?,
            practice_ods_code: practice.ods_code.clone()?,
            phone: practice.phone.clone(),
        })
    });

    if issues.iter().any(|i| i.severity == Severity::Error) {
        return Err(issues);
    }
    let assembled = (|| {
        Some(InversePlan {
            status: plan.status?,
            status_reason: plan.status_reason,
            created: plan.created,
            last_updated_by: plan.last_updated_by,
            content: PlanContent {
                consent_to_share: consents.share?,
                review_date: plan.review_date,
                person: person.person?,
                usual_gp: usual_gp?,
                care_team: plan.care_team,
                contacts: people.contacts,
                lpas: people.lpas,
                diagnosis: plan.diagnosis?,
                prognosis: plan.prognosis,
                resuscitation_decisions: consents.decisions,
                respect: plan.respect,
                adrts: consents.adrts,
                advance_statements: goals.advance_statements,
                what_matters_most: goals.what_matters_most,
                preferred_place_of_care: goals.preferred_place_of_care,
                preferred_place_of_death: goals.preferred_place_of_death,
                anticipatory_medicines: plan.anticipatory_medicines,
                special_note: plan.notes.special_note,
                access_information: plan.notes.access_information,
                religious_or_cultural_needs: plan.notes.religious_or_cultural_needs,
                organ_donation_wishes: plan.notes.organ_donation_wishes,
                lives_alone: plan.notes.lives_alone,
                death: plan.death,
            },
            warnings: Vec::new(),
        })
    })();
    match assembled {
        Some(mut inverse) => {
            inverse.warnings = issues;
            Ok(inverse)
        }
        // Every missing piece above is reported where it is read; this is a safety net.
        None => {
            issues.push(FhirIssue {
                severity: Severity::Error,
                code: "required",
                resource_type: "CarePlan",
                resource_id: care_plan_id.map(str::to_owned),
                expression: "CarePlan".to_owned(),
                message: "the plan is incomplete".to_owned(),
            });
            Err(issues)
        }
    }
}

/// Whether a Consent's scope is patient-privacy (it was read, with its issues, as the consent
/// to share).
fn is_share(consent: &fhirbolt::model::r4::resources::Consent) -> bool {
    consent.scope.coding.iter().any(|c| {
        c.code.as_ref().and_then(|v| v.value.as_deref())
            == Some(super::codes::scope::PATIENT_PRIVACY)
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_issues;
