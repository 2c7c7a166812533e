//! The inverse mapping: FHIR R4 resources describing one plan (CarePlan, Patient, Consents,
//! Goals, RelatedPersons, Practitioners, Organizations) back into the internal plan. It reads
//! every element the projection writes and refuses, with an issue naming the element, anything it
//! cannot keep, so that nothing a sender wrote is silently lost.

use chrono::{DateTime, Utc};

use super::Projection;
use crate::domain::{PlanContent, PlanStatus};

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
    /// `code-invalid`, `invariant`, `business-rule`, `not-supported`, `not-found`.
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
}

/// Reads one plan from its resources. References between them are `Type/id` relative
/// references resolved within `resources`.
pub fn plan_from_fhir(resources: &Projection) -> Result<InversePlan, Vec<FhirIssue>> {
    Err(vec![FhirIssue {
        severity: Severity::Error,
        code: "not-supported",
        resource_type: "CarePlan",
        resource_id: resources
            .care_plan
            .id
            .as_ref()
            .and_then(|i| i.value.clone()),
        expression: "CarePlan".to_owned(),
        message: "reading plans from FHIR is not built yet".to_owned(),
    }])
}
