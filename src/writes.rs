//! The FHIR write use case: resources laid over a plan's current projection, read back into the
//! internal plan, checked by the domain's lifecycle rules, and stored as the plan's next version
//! (or as a new plan) with the request's audit record in the same transaction. The same path,
//! stopped before the store, is `$validate`.

use fhirbolt::model::r4::Resource;

use crate::domain::{
    AdrtStatus, ChangeError, DecisionStatus, Ending, PlanContent, PlanEnd, PlanId, PlanRecord,
    PlanStatus,
};
use crate::error::Error;
use crate::fhir::inverse::{FhirIssue, Severity};
use crate::fhir::write::{domain_issues, error_issue, overlay, read_back};
use crate::fhir::{project, Projection};
use crate::service::{PlanService, WriteContext};

/// What a client asks to change in one plan.
#[derive(Debug, Clone, Default)]
pub struct PlanChange {
    /// The plan to change; None makes a new plan.
    pub plan: Option<PlanId>,
    /// The version the client read (`If-Match`), when it sent one.
    pub expected_version: Option<u32>,
    /// Resources to create or update, each with its final id (Consents) or none (parts whose
    /// ids the server derives).
    pub resources: Vec<Resource>,
    /// Parts to mark entered in error: CPR-decision and ADRT Consents, by id.
    pub entered_in_error: Vec<String>,
    /// End the whole plan as entered in error (`DELETE CarePlan/id`).
    pub delete_plan: bool,
}

/// A write that was (or, for `$validate`, would be) stored.
#[derive(Debug, Clone)]
pub struct Written {
    /// The version before the change (None for a new plan).
    pub before: Option<PlanRecord>,
    /// The new version.
    pub record: PlanRecord,
    /// Warnings about what was sent (e.g. a synonym code normalised).
    pub warnings: Vec<FhirIssue>,
}

fn refused(issues: Vec<FhirIssue>) -> Error {
    Error::FhirInvalid {
        unreadable: false,
        issues,
    }
}

fn change_error(error: ChangeError, set: &Projection) -> Error {
    match error {
        ChangeError::Invalid(errors) => refused(domain_issues(&errors, set)),
        other => Error::from(other),
    }
}

fn mark_entered_in_error(
    content: &mut PlanContent,
    ids: &[String],
    actor: &str,
) -> Result<(), Vec<FhirIssue>> {
    let ending = || Ending {
        at: None,
        by: actor.to_owned(),
        reason: "deleted through the FHIR API: entered in error".to_owned(),
    };
    let mut issues = Vec::new();
    for id in ids {
        let decision = content
            .resuscitation_decisions
            .iter_mut()
            .find(|d| d.id.map(|i| i.to_string()).as_deref() == Some(id.as_str()));
        if let Some(decision) = decision {
            if decision.status != DecisionStatus::EnteredInError {
                decision.status = DecisionStatus::EnteredInError;
                decision.ended = Some(ending());
            }
            continue;
        }
        let adrt = content
            .adrts
            .iter_mut()
            .find(|d| d.id.map(|i| i.to_string()).as_deref() == Some(id.as_str()));
        if let Some(adrt) = adrt {
            if adrt.status != AdrtStatus::EnteredInError {
                adrt.status = AdrtStatus::EnteredInError;
                adrt.ended = Some(ending());
            }
            continue;
        }
        issues.push(error_issue(
            "not-supported",
            "Consent",
            Some(id.clone()),
            "Consent",
            "only a CPR decision or an ADRT can be deleted (it becomes entered-in-error and its \
             history stays); consent to share is changed by updating it",
        ));
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

impl PlanService {
    /// Works out the next version `change` makes, without storing it.
    pub async fn prepare(
        &self,
        context: &WriteContext,
        change: PlanChange,
    ) -> Result<Written, Error> {
        let now = self.clock().now();
        let before = match change.plan {
            Some(id) => Some(self.get(id).await?),
            None => None,
        };
        if let (Some(stored), Some(expected)) = (&before, change.expected_version) {
            if stored.version != expected {
                return Err(Error::VersionConflict {
                    current: stored.version,
                });
            }
        }
        if change.delete_plan {
            let stored = before.ok_or_else(|| Error::NotFound("no such plan".into()))?;
            let record = stored
                .end(
                    PlanEnd::EnteredInError,
                    "deleted through the FHIR API: entered in error",
                    now,
                    &context.actor,
                )
                .map_err(Error::from)?;
            return Ok(Written {
                before: Some(stored),
                record,
                warnings: Vec::new(),
            });
        }
        let set = overlay(before.as_ref().map(project), change.resources).map_err(refused)?;
        let read = read_back(&set).map_err(refused)?;
        let mut content = read.content;
        mark_entered_in_error(&mut content, &change.entered_in_error, &context.actor)
            .map_err(refused)?;
        let warnings: Vec<FhirIssue> = Vec::new();
        let record = match &before {
            None => {
                if !read.status.is_current() {
                    return Err(refused(vec![error_issue(
                        "business-rule",
                        "CarePlan",
                        None,
                        "CarePlan.status",
                        "a new plan is active (or completed, when the death is recorded)",
                    )]));
                }
                PlanRecord::create(PlanId::new_random(), content, now, &context.actor)
                    .map_err(|errors| refused(domain_issues(&errors, &set)))?
            }
            Some(stored)
                if read.status == stored.status
                    || (read.status.is_current() && stored.status.is_current()) =>
            {
                stored
                    .revise(content, now, &context.actor)
                    .map_err(|e| change_error(e, &set))?
            }
            Some(stored) => {
                let how = match read.status {
                    PlanStatus::Revoked => PlanEnd::Revoke,
                    PlanStatus::EnteredInError => PlanEnd::EnteredInError,
                    _ => {
                        return Err(Error::Conflict {
                            message: format!(
                                "the plan is {} and can no longer change",
                                stored.status.as_str()
                            ),
                            existing_plan: Some(stored.id),
                        })
                    }
                };
                if content != stored.plan {
                    return Err(refused(vec![error_issue(
                        "business-rule",
                        "CarePlan",
                        Some(stored.id.to_string()),
                        "CarePlan.status",
                        "end a plan (revoked, entered-in-error) on its own, without other \
                         changes in the same request",
                    )]));
                }
                let reason = read
                    .status_reason
                    .clone()
                    .unwrap_or_else(|| format!("{} through the FHIR API", read.status.as_str()));
                stored
                    .end(how, &reason, now, &context.actor)
                    .map_err(|e| change_error(e, &set))?
            }
        };
        Ok(Written {
            before,
            record,
            warnings,
        })
    }

    /// Makes `change` and stores it (retrying on a concurrent change only when the client did
    /// not name a version, as a create does not).
    pub async fn write(
        &self,
        context: &WriteContext,
        change: PlanChange,
    ) -> Result<Written, Error> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let written = self.prepare(context, change.clone()).await?;
            match self.store_written(context, &written).await {
                Err(Error::VersionConflict { .. })
                    if change.expected_version.is_none() && attempts < 3 =>
                {
                    continue
                }
                Err(other) => return Err(other),
                Ok(()) => return Ok(written),
            }
        }
    }

    async fn store_written(&self, context: &WriteContext, written: &Written) -> Result<(), Error> {
        let keys = crate::fhir::new_resource_keys(written.before.as_ref(), &written.record);
        match &written.before {
            None => {
                let audit = context.audit_of(&written.record, 201);
                self.store()
                    .create_audited(&written.record, &keys, audit.as_ref())
                    .await?;
            }
            Some(before) => {
                let audit = context.audit_of(&written.record, 200);
                self.store()
                    .update_audited(before.version, &written.record, &keys, audit.as_ref())
                    .await?;
            }
        }
        Ok(())
    }
}

/// Whether any issue is an error.
pub fn any_error(issues: &[FhirIssue]) -> bool {
    issues.iter().any(|i| i.severity == Severity::Error)
}
