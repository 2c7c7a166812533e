//! The one error type of the service and the one place that turns it into an HTTP response:
//! `application/problem+json` (RFC 9457) with the list of offending field paths. Internal detail
//! is logged, never sent; nothing clinical is logged (H8).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::{ChangeError, FieldError, PlanId};
use crate::store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unparsable input: malformed JSON, unknown fields, wrong types, bad identifiers.
    #[error("bad request: {message}")]
    BadRequest {
        /// What is wrong.
        message: String,
        /// The offending fields.
        errors: Vec<FieldError>,
    },
    /// Well-formed input that breaks the domain rules.
    #[error("the plan breaks {} rule(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// FHIR input that cannot be read (400) or does not conform (422), with an issue per
    /// problem naming the element by FHIRPath.
    #[error("FHIR input refused: {} issue(s)", .issues.len())]
    FhirInvalid {
        /// 400 (unreadable) or 422 (unprocessable).
        unreadable: bool,
        /// What is wrong.
        issues: Vec<crate::fhir::inverse::FhirIssue>,
    },
    /// No such thing.
    #[error("not found: {0}")]
    NotFound(String),
    /// The thing existed but is no longer part of the plan (its history remains).
    #[error("gone: {0}")]
    Gone(String),
    /// The caller's version is not the current one (H4).
    #[error("version conflict: current is {current}")]
    VersionConflict {
        /// The version now stored.
        current: u32,
    },
    /// An update came without `If-Match`.
    /// A conditional request's criteria matched more than one resource (412).
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("If-Match required")]
    PreconditionRequired,
    /// The change conflicts with what is stored (a second plan for a person, an ended plan).
    #[error("conflict: {message}")]
    Conflict {
        /// What conflicts.
        message: String,
        /// The plan already standing for the person, if that is the conflict.
        existing_plan: Option<PlanId>,
    },
    /// The body is over the configured limit.
    #[error("body over {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The endpoint does not support the method; `allow` lists those it does.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The `Allow` header value.
        allow: &'static str,
    },
    /// The body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// No representation the caller accepts (FHIR: JSON or XML).
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// The database is down or saturated.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A fault of ours.
    #[error("internal error: {0}")]
    Internal(String),
    /// No access token, or one that is not valid (RFC 6750).
    #[error("unauthorized: {detail}")]
    Unauthorized {
        /// Why.
        detail: String,
        /// The token has expired.
        expired: bool,
        /// No token was sent.
        missing: bool,
    },
    /// The token does not grant what the request needs.
    #[error("forbidden: {detail}")]
    Forbidden {
        /// Why.
        detail: String,
        /// A scope that would grant it.
        scope: String,
    },
    /// The person withdrew consent to share: nothing of the plan is shown.
    #[error("suppressed: {0}")]
    Suppressed(String),
    /// The client is over its request rate.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds until a request would be accepted.
        retry_after_secs: u64,
    },
}

impl Error {
    /// A bad request about one field.
    pub fn bad_field(path: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::BadRequest {
            message: message.clone(),
            errors: vec![FieldError {
                path: path.into(),
                message,
            }],
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("no such plan or version".into()),
            StoreError::VersionConflict { current } => Self::VersionConflict { current },
            StoreError::DuplicatePerson { existing } => Self::Conflict {
                message: format!("this person already has a plan ({existing}); update it instead"),
                existing_plan: Some(existing),
            },
            StoreError::DuplicateId => Self::Conflict {
                message: "a plan with this id already exists".into(),
                existing_plan: None,
            },
            StoreError::Unavailable(detail) => Self::Unavailable(detail),
            StoreError::Backend(detail) => Self::Internal(detail),
        }
    }
}

impl From<ChangeError> for Error {
    fn from(error: ChangeError) -> Self {
        match error {
            ChangeError::Invalid(errors) => Self::Invalid(errors),
            ChangeError::PlanEnded(status) => Self::Conflict {
                message: format!("the plan is {} and can no longer change", status.as_str()),
                existing_plan: None,
            },
        }
    }
}

/// The problem+json body.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// `about:blank`: the status says it all.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The HTTP reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened, for a person.
    pub detail: String,
    /// Every offending field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The standing plan, for a duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_plan: Option<PlanId>,
    /// The version now stored, for a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u32>,
}

impl Error {
    /// The body a caller sees.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let mut problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: String::new(),
            errors: Vec::new(),
            existing_plan: None,
            current_version: None,
        };
        problem.detail = match self {
            Self::BadRequest { message, errors } => {
                problem.errors = errors.clone();
                message.clone()
            }
            Self::FhirInvalid { issues, .. } => {
                problem.errors = issues
                    .iter()
                    .map(|issue| FieldError {
                        path: issue.expression.clone(),
                        message: issue.message.clone(),
                    })
                    .collect();
                format!(
                    "the FHIR input has {} problem(s); each issue names the element",
                    issues.len()
                )
            }
            Self::Invalid(errors) => {
                problem.errors = errors.clone();
                format!(
                    "the plan breaks {} rule(s); see `errors` for each field",
                    errors.len()
                )
            }
            Self::NotFound(what) | Self::Gone(what) => what.clone(),
            Self::VersionConflict { current } => {
                problem.current_version = Some(*current);
                format!(
                    "the plan has changed since you read it (now version {current}); read it \
                     again and re-apply your change"
                )
            }
            Self::PreconditionFailed(detail) => detail.clone(),
            Self::PreconditionRequired => {
                "send If-Match with the ETag of the version you read, so that no one else's \
                 change is overwritten"
                    .into()
            }
            Self::Conflict {
                message,
                existing_plan,
            } => {
                problem.existing_plan = *existing_plan;
                message.clone()
            }
            Self::PayloadTooLarge { limit } => {
                format!("the body is over the limit of {limit} bytes")
            }
            Self::UnsupportedMediaType => {
                "unsupported body type: the internal API takes application/json, FHIR search \
                 takes application/x-www-form-urlencoded"
                    .into()
            }
            Self::MethodNotAllowed { allow } => {
                format!("this endpoint does not support this method; it allows {allow}")
            }
            Self::NotAcceptable(detail) => detail.clone(),
            Self::Unavailable(_) => "the database is unavailable; try again shortly".into(),
            Self::Internal(_) => "an internal error occurred; it has been logged".into(),
            Self::Unauthorized { detail, .. } | Self::Forbidden { detail, .. } => detail.clone(),
            Self::Suppressed(detail) => detail.clone(),
            Self::TooManyRequests { retry_after_secs } => {
                format!("this client is over its request rate; try again in {retry_after_secs} s")
            }
        };
        problem
    }
}

impl Error {
    fn headers(&self, response: &mut actix_web::HttpResponseBuilder) {
        match self {
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, *allow));
            }
            Self::Unauthorized {
                missing, expired, ..
            } => {
                let value = if *missing {
                    "Bearer realm=\"acp-fhir\"".to_owned()
                } else if *expired {
                    "Bearer realm=\"acp-fhir\", error=\"invalid_token\", error_description=\"the access token expired\"".to_owned()
                } else {
                    "Bearer realm=\"acp-fhir\", error=\"invalid_token\"".to_owned()
                };
                response.insert_header((header::WWW_AUTHENTICATE, value));
            }
            Self::Forbidden { scope, .. } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"acp-fhir\", error=\"insufficient_scope\", scope=\"{scope}\""),
                ));
            }
            Self::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
    }

    fn log(&self) {
        // Detail of our own faults goes to the log (never clinical: store and encoding
        // messages carry no bound values), not to the caller.
        match self {
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            Self::Unavailable(detail) => tracing::warn!(%detail, "database unavailable"),
            _ => {}
        }
    }
}

/// An error on `/fhir`: told as an OperationOutcome, in the format the request negotiated.
#[derive(Debug)]
pub struct FhirError {
    /// What went wrong.
    pub error: Error,
    /// How to write it.
    pub rendering: crate::fhir::format::Rendering,
}

impl From<Error> for FhirError {
    fn from(error: Error) -> Self {
        Self {
            error,
            rendering: crate::fhir::format::Rendering::default(),
        }
    }
}

impl std::fmt::Display for FhirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for FhirError {
    fn status_code(&self) -> StatusCode {
        self.error.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.error.log();
        let outcome = fhirbolt::model::r4::Resource::OperationOutcome(Box::new(
            crate::fhir::outcome::operation_outcome(&self.error),
        ));
        let (body, content_type) = match crate::fhir::format::render(&outcome, self.rendering) {
            Ok(body) => (body, self.rendering.format.content_type()),
            Err(_) => (
                self.error.problem().detail.into_bytes(),
                "text/plain; charset=utf-8",
            ),
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, content_type));
        self.error.headers(&mut response);
        response.body(body)
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::FhirInvalid {
                unreadable: true, ..
            } => StatusCode::BAD_REQUEST,
            Self::FhirInvalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Gone(_) => StatusCode::GONE,
            Self::VersionConflict { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Suppressed(_) => StatusCode::NOT_FOUND,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        self.headers(&mut response);
        response.body(serde_json::to_vec(&self.problem()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status() {
        let table: Vec<(Error, u16)> = vec![
            (Error::bad_field("person.nhs_number", "bad"), 400),
            (Error::Invalid(vec![]), 422),
            (Error::NotFound("x".into()), 404),
            (Error::Gone("x".into()), 410),
            (Error::VersionConflict { current: 2 }, 412),
            (Error::PreconditionRequired, 428),
            (
                Error::Conflict {
                    message: "x".into(),
                    existing_plan: None,
                },
                409,
            ),
            (Error::PayloadTooLarge { limit: 1 }, 413),
            (Error::UnsupportedMediaType, 415),
            (Error::MethodNotAllowed { allow: "GET" }, 405),
            (Error::NotAcceptable("x".into()), 406),
            (Error::Unavailable("down".into()), 503),
            (Error::Internal("boom".into()), 500),
        ];
        for (error, status) in table {
            assert_eq!(error.status_code().as_u16(), status, "{error:?}");
            assert_eq!(error.problem().status, status);
        }
    }

    #[test]
    fn internal_detail_is_not_sent() {
        let problem = Error::Internal("SELECT secret FROM x".into()).problem();
        assert!(!problem.detail.contains("secret"));
        let problem = Error::from(StoreError::Backend("disk I/O error at page 7".into())).problem();
        assert!(!problem.detail.contains("page 7"));
    }

    #[test]
    fn store_errors_convert() {
        let existing = PlanId::new_random();
        match Error::from(StoreError::DuplicatePerson { existing }) {
            Error::Conflict { existing_plan, .. } => assert_eq!(existing_plan, Some(existing)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            Error::from(StoreError::VersionConflict { current: 4 }),
            Error::VersionConflict { current: 4 }
        ));
    }
}
