//! What a handler may show of a plan, and what it tells the audit trail: a plan whose person
//! withdrew consent to share is not shown (a 404 that says sharing is withdrawn, nothing of the
//! content) unless the guard accepted an emergency override for this request; every plan
//! shown, or withheld, names its patient in the request's audit record.

use actix_web::{HttpMessage, HttpRequest};

use super::guard::{AuditDraft, EmergencyOverride};
use crate::auth::{Permission, Principal};
use crate::domain::{ConsentToShareStatus, PlanRecord};
use crate::error::Error;
use crate::service::{patient_of, WriteContext};

fn note(request: &HttpRequest, record: &PlanRecord, detail: Option<&str>) {
    if let Some(draft) = request.extensions_mut().get_mut::<AuditDraft>() {
        draft.record.add_patient(patient_of(record));
        if let Some(detail) = detail {
            draft.record.detail = Some(detail.to_owned());
        }
    }
}

/// The message a reader gets for a plan whose person withdrew consent to share.
pub const WITHHELD: &str = "this person has withdrawn consent to share their care plan, so no \
     part of it is shared; a client registered for emergency override may state a reason in \
     X-Emergency-Override";

/// Whether the person has withdrawn their consent to share (the plan is withheld).
pub fn withdrawn(record: &PlanRecord) -> bool {
    record.plan.consent_to_share.status == ConsentToShareStatus::Withdrawn
}

fn overridden(request: &HttpRequest) -> bool {
    request.extensions().get::<EmergencyOverride>().is_some()
}

/// Succeeds if `record` may be shown to this request, noting its patient in the audit record.
pub fn disclose(request: &HttpRequest, record: &PlanRecord) -> Result<(), Error> {
    if withdrawn(record) && !overridden(request) {
        note(
            request,
            record,
            Some("withheld: consent to share withdrawn"),
        );
        return Err(Error::Suppressed(WITHHELD.into()));
    }
    note(request, record, None);
    Ok(())
}

/// Of `records`, those that may be shown, and how many were withheld. Only the patients of
/// what is returned are noted (`note_shown`).
pub fn shareable(request: &HttpRequest, records: Vec<PlanRecord>) -> (Vec<PlanRecord>, usize) {
    let through = overridden(request);
    let before = records.len();
    let kept: Vec<PlanRecord> = records
        .into_iter()
        .filter(|r| through || !withdrawn(r))
        .collect();
    let withheld = before - kept.len();
    if withheld > 0 {
        if let Some(draft) = request.extensions_mut().get_mut::<AuditDraft>() {
            draft.record.detail = Some(format!(
                "withheld: {withheld} plan(s) whose consent to share is withdrawn"
            ));
        }
    }
    (kept, withheld)
}

/// Records the parameters of a search sent in a form body (`POST _search`), which the guard
/// cannot see in the URL.
pub fn note_query(request: &HttpRequest, query: String) {
    if let Some(draft) = request.extensions_mut().get_mut::<AuditDraft>() {
        draft.record.query = Some(query);
    }
}

/// Notes a plan whose data a search returned.
pub fn note_shown(request: &HttpRequest, record: &PlanRecord) {
    note(request, record, None);
}

/// The caller, as the guard authenticated it.
pub fn principal(request: &HttpRequest) -> Result<Principal, Error> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Error::Internal("no principal on a guarded route".into()))
}

/// Succeeds if the caller may read `resource_type` (for `_include`d resources).
pub fn require_read(request: &HttpRequest, resource_type: &str) -> Result<(), Error> {
    principal(request)?.require(resource_type, Permission::Read)
}

/// Who makes a change through this request, with the audit record to write in its
/// transaction. The handler calls [`committed`] once the change is stored.
pub fn write_context(request: &HttpRequest) -> Result<WriteContext, Error> {
    let principal = principal(request)?;
    let extensions = request.extensions();
    let draft = extensions.get::<AuditDraft>();
    let end_user = draft.and_then(|d| d.record.end_user.clone());
    let actor = match end_user {
        Some(user) => format!("{user} via {}", principal.client_id),
        None => principal.client_id.clone(),
    };
    Ok(WriteContext {
        actor,
        audit: draft.map(|d| d.record.clone()),
    })
}

/// Marks the request's audit record as written (with the change it records).
pub fn committed(request: &HttpRequest) {
    if let Some(draft) = request.extensions_mut().get_mut::<AuditDraft>() {
        draft.committed = true;
    }
}
