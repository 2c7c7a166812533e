//! OperationOutcome: how every `/fhir` error is told, with an issue per problem carrying its
//! severity, code and, for a field, the FHIRPath-style expression of the element.

use fhirbolt::model::r4::resources::{OperationOutcome, OperationOutcomeIssue};

use super::inverse::{FhirIssue, Severity};
use super::support::{code, narrative};
use crate::error::Error;

/// The FHIR issue type of an error (http://hl7.org/fhir/issue-type).
pub fn issue_code(error: &Error) -> &'static str {
    match error {
        Error::BadRequest { .. } => "invalid",
        Error::Invalid(_) => "business-rule",
        Error::FhirInvalid { .. } => "invalid",
        Error::NotFound(_) => "not-found",
        Error::Gone(_) => "deleted",
        Error::VersionConflict { .. } | Error::Conflict { .. } => "conflict",
        Error::PreconditionFailed(_) => "multiple-matches",
        Error::PreconditionRequired => "required",
        Error::PayloadTooLarge { .. } => "too-long",
        Error::UnsupportedMediaType | Error::MethodNotAllowed { .. } | Error::NotAcceptable(_) => {
            "not-supported"
        }
        Error::Unavailable(_) => "transient",
        Error::Internal(_) => "exception",
        Error::Unauthorized { expired: true, .. } => "expired",
        Error::Unauthorized { .. } => "login",
        Error::Forbidden { .. } => "forbidden",
        Error::Suppressed(_) => "suppressed",
        Error::TooManyRequests { .. } => "throttled",
    }
}

/// The OperationOutcome telling `error`.
pub fn operation_outcome(error: &Error) -> OperationOutcome {
    let problem = error.problem();
    let issue_type = issue_code(error);
    let issues: Vec<OperationOutcomeIssue> = if let Error::FhirInvalid { issues, .. } = error {
        issues.iter().map(fhir_issue).collect()
    } else if problem.errors.is_empty() {
        vec![OperationOutcomeIssue {
            severity: code("error"),
            code: code(issue_type),
            diagnostics: Some(problem.detail.clone().into()),
            ..Default::default()
        }]
    } else {
        problem
            .errors
            .iter()
            .map(|field| OperationOutcomeIssue {
                severity: code("error"),
                code: code(issue_type),
                diagnostics: Some(field.message.clone().into()),
                expression: if field.path.is_empty() {
                    Vec::new()
                } else {
                    vec![field.path.clone().into()]
                },
                ..Default::default()
            })
            .collect()
    };
    OperationOutcome {
        text: Some(narrative(&problem.title, &[("detail", problem.detail)])),
        issue: issues,
        ..Default::default()
    }
}

/// One OperationOutcome issue for a problem found in FHIR input.
pub fn fhir_issue(issue: &FhirIssue) -> OperationOutcomeIssue {
    OperationOutcomeIssue {
        severity: code(issue.severity.as_str()),
        code: code(issue.code),
        diagnostics: Some(issue.message.clone().into()),
        expression: if issue.expression.is_empty() {
            Vec::new()
        } else {
            vec![issue.expression.clone().into()]
        },
        ..Default::default()
    }
}

/// An OperationOutcome of `issues`; an `information` issue saying all is well when there are
/// none.
pub fn outcome_of(issues: &[FhirIssue], all_well: &str) -> OperationOutcome {
    let listed: Vec<OperationOutcomeIssue> = if issues.is_empty() {
        vec![OperationOutcomeIssue {
            severity: code("information"),
            code: code("informational"),
            diagnostics: Some(all_well.to_owned().into()),
            ..Default::default()
        }]
    } else {
        issues.iter().map(fhir_issue).collect()
    };
    let errors = issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .count();
    OperationOutcome {
        text: Some(narrative(
            if errors == 0 { "OK" } else { "Not valid" },
            &[(
                "detail",
                format!("{errors} error(s), {} issue(s)", issues.len()),
            )],
        )),
        issue: listed,
        ..Default::default()
    }
}
