//! The guard in front of every `/fhir` and `/api` request: decides what the request needs
//! ([`policy::requirement`]), authenticates the bearer token, checks its scopes, applies the
//! client's rate limit, and writes the audit record before the response leaves: allowed or
//! refused, every request is recorded, and if the record cannot be written the caller gets a
//! 503 instead of the data (no unaudited access). Writes record it in their own transaction
//! (the handler marks the draft committed).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use governor::clock::{Clock as _, DefaultClock};
use governor::{Quota, RateLimiter};

use super::request_id::RequestId;
use crate::audit::AuditRecord;
use crate::auth::policy::{self, Requirement};
use crate::auth::{AuthFailure, Authority, Principal};
use crate::error::{Error, FhirError};
use crate::service::PlanService;

/// The header a permitted client states an emergency override reason in.
pub const OVERRIDE_HEADER: &str = "x-emergency-override";
/// The header a trusted client names its end user in.
pub const USER_HEADER: &str = "x-request-user";
/// The header a trusted client names its end user's organisation in.
pub const USER_ORGANISATION_HEADER: &str = "x-request-user-organisation";

/// The audit record being built for this request.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    /// The record.
    pub record: AuditRecord,
    /// Already written (in a write's transaction).
    pub committed: bool,
}

/// The reason of an emergency override the guard accepted for this request.
#[derive(Debug, Clone)]
pub struct EmergencyOverride(pub String);

/// Per-client request rates.
pub struct RateLimits {
    default_per_second: NonZeroU32,
    burst_factor: u32,
    limiters: Mutex<HashMap<String, Arc<governor::DefaultDirectRateLimiter>>>,
}

impl RateLimits {
    /// `per_second` by default, with bursts up to `burst_factor` seconds' worth.
    pub fn new(per_second: u32, burst_factor: u32) -> Self {
        Self {
            default_per_second: NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN),
            burst_factor: burst_factor.max(1),
            limiters: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` if the client may make a request now, else the seconds to wait.
    pub fn check(&self, principal: &Principal) -> Result<(), u64> {
        let rate = principal
            .rate_limit_per_second
            .and_then(NonZeroU32::new)
            .unwrap_or(self.default_per_second);
        let limiter = {
            let Ok(mut limiters) = self.limiters.lock() else {
                return Ok(());
            };
            match limiters.get(&principal.client_id) {
                Some(limiter) => limiter.clone(),
                None => {
                    let burst = rate.saturating_mul(
                        NonZeroU32::new(self.burst_factor).unwrap_or(NonZeroU32::MIN),
                    );
                    let limiter = Arc::new(RateLimiter::direct(
                        Quota::per_second(rate).allow_burst(burst),
                    ));
                    limiters.insert(principal.client_id.clone(), limiter.clone());
                    limiter
                }
            }
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

fn error_response(request: &HttpRequest, error: Error) -> HttpResponse {
    if request.path().starts_with("/fhir") {
        let rendering = super::fhir::rendering(request).unwrap_or_default();
        FhirError { error, rendering }.error_response()
    } else {
        error.error_response()
    }
}

fn header_text(request: &ServiceRequest, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 500 && !v.chars().any(char::is_control))
        .map(str::to_owned)
}

fn draft(
    request: &ServiceRequest,
    path: &str,
    requirement: &Requirement,
    service: &PlanService,
) -> AuditRecord {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let resource_id = match requirement.interaction {
        "read" | "vread" | "history-instance" | "update" | "delete" => {
            segments.get(if path.starts_with("/api") { 3 } else { 2 })
        }
        "summary" if segments.len() == 4 => segments.get(2),
        _ => None,
    }
    .map(|s| (*s).to_owned());
    let query = (!request.query_string().is_empty()).then(|| request.query_string().to_owned());
    AuditRecord {
        id: crate::audit::new_id(),
        recorded: service.clock().now(),
        interaction: requirement.interaction.to_owned(),
        action: requirement.action.code().to_owned(),
        status: 0,
        client_id: None,
        client_name: None,
        organisation: None,
        end_user: None,
        end_user_organisation: None,
        resource_type: requirement.resource_type.clone(),
        resource_id,
        patients: Vec::new(),
        query,
        request_id: request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        emergency_override: None,
        detail: None,
    }
}

fn bearer(request: &ServiceRequest) -> Result<&str, AuthFailure> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(AuthFailure::Missing)?
        .to_str()
        .map_err(|_| AuthFailure::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthFailure::Malformed);
    }
    Ok(token.trim())
}

/// Who the request is from and whether it may proceed; the record says what happened.
async fn admit(
    request: &ServiceRequest,
    requirement: &Requirement,
    authority: &Authority,
    limits: &RateLimits,
    record: &mut AuditRecord,
) -> Result<Principal, Error> {
    let token = bearer(request)?;
    let principal = authority.verify(token).await?;
    record.client_id = Some(principal.client_id.clone());
    record.client_name.clone_from(&principal.client_name);
    record.organisation.clone_from(&principal.organisation);
    if principal.trusted_user_headers {
        record.end_user = header_text(request, USER_HEADER);
        record.end_user_organisation = header_text(request, USER_ORGANISATION_HEADER);
    }
    for (resource_type, permission) in &requirement.needs {
        principal.require(resource_type, *permission)?;
    }
    limits
        .check(&principal)
        .map_err(|retry_after_secs| Error::TooManyRequests { retry_after_secs })?;
    if request.headers().contains_key(OVERRIDE_HEADER) {
        // Recorded whether or not it is allowed: an attempted override is worth auditing.
        record.emergency_override = header_text(request, OVERRIDE_HEADER);
        if !principal.emergency_override {
            return Err(Error::Forbidden {
                detail: "this client is not registered to override a withdrawn consent to share"
                    .into(),
                scope: "emergency_override".into(),
            });
        }
        let reason = header_text(request, OVERRIDE_HEADER).ok_or_else(|| {
            Error::bad_field(
                OVERRIDE_HEADER,
                "state the reason for the override (1 to 500 printable characters)",
            )
        })?;
        record.emergency_override = Some(reason);
    }
    Ok(principal)
}

/// The middleware.
pub async fn guard(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // The path as the router matches it (percent-decoded), so `%24summary` is `$summary` here
    // too.
    let path = request.match_info().as_str().to_owned();
    let requirement = policy::requirement(request.method().as_str(), &path);
    if requirement.open {
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    let (Some(authority), Some(limits), Some(service)) = (
        request.app_data::<web::Data<Authority>>().cloned(),
        request.app_data::<web::Data<RateLimits>>().cloned(),
        request.app_data::<web::Data<PlanService>>().cloned(),
    ) else {
        let response = error_response(
            request.request(),
            Error::Internal("the guard is not configured".into()),
        );
        return Ok(request.into_response(response));
    };
    let mut record = draft(&request, &path, &requirement, &service);
    let response = match admit(&request, &requirement, &authority, &limits, &mut record).await {
        Ok(principal) => {
            if let Some(reason) = &record.emergency_override {
                request
                    .extensions_mut()
                    .insert(EmergencyOverride(reason.clone()));
            }
            request.extensions_mut().insert(principal);
            request.extensions_mut().insert(AuditDraft {
                record,
                committed: false,
            });
            let response = next.call(request).await?.map_into_boxed_body();
            let status = response.status().as_u16();
            let draft = response.request().extensions_mut().remove::<AuditDraft>();
            match draft {
                Some(draft) if draft.committed => return Ok(response),
                Some(mut draft) => {
                    draft.record.status = status;
                    record_or_refuse(&service, draft.record, response).await
                }
                None => response,
            }
        }
        Err(error) => {
            record.status = error.status_code().as_u16();
            record.detail = Some(error.problem().detail);
            let refusal = error_response(request.request(), error);
            record_or_refuse(&service, record, request.into_response(refusal)).await
        }
    };
    Ok(response)
}

/// Writes the record; if that fails, the caller gets a 503 instead of the response.
async fn record_or_refuse(
    service: &PlanService,
    record: AuditRecord,
    response: ServiceResponse<BoxBody>,
) -> ServiceResponse<BoxBody> {
    match service.record_audit(record).await {
        Ok(()) => response,
        Err(error) => {
            tracing::error!(%error, "audit record not written; response withheld");
            let (request, _) = response.into_parts();
            let refusal = error_response(
                &request,
                Error::Unavailable("the audit trail could not be written".into()),
            );
            ServiceResponse::new(request, refusal)
        }
    }
}
