//! OperationOutcome: how every `/fhir` error is told, with an issue per problem carrying its
//! severity, code and, for a field, the FHIRPath-style expression of the element.

use fhirbolt::model::r4::resources::{OperationOutcome, OperationOutcomeIssue};

use super::support::{code, narrative};
use crate::error::Error;

/// The FHIR issue type of an error (http://hl7.org/fhir/issue-type).
pub fn issue_code(error: &Error) -> &'static str {
    match error {
        Error::BadRequest { .. } => "invalid",
        Error::Invalid(_) => "business-rule",
        Error::NotFound(_) => "not-found",
        Error::Gone(_) => "deleted",
        Error::VersionConflict { .. } | Error::Conflict { .. } => "conflict",
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
    let issues: Vec<OperationOutcomeIssue> = if problem.errors.is_empty() {
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
