//! One line of an NDJSON import: a plan's content with, optionally, the identity and dates it
//! already has elsewhere (an export from another instance, a fixture). Re-importing the same
//! line changes nothing: [`ImportRecord::matches`] tells whether the stored plan already says
//! exactly what the line says.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ids::PlanId;
use super::plan::PlanContent;
use super::record::{PlanRecord, PlanStatus};
use super::validation::FieldError;

/// One import line. Only `plan` is required; an exported [`PlanRecord`] is a valid line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    /// Keep this id (otherwise one is assigned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<PlanId>,
    /// The version number to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The status to keep (otherwise active, or completed when a death is recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PlanStatus>,
    /// Why the plan was revoked or entered in error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When the plan was first created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// When this version was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<DateTime<Utc>>,
    /// Who wrote this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_by: Option<String>,
    /// The content.
    pub plan: PlanContent,
}

/// What importing one line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new plan was stored.
    Created(PlanId),
    /// The stored plan already said the same; nothing was written.
    Unchanged(PlanId),
    /// The line was the next version of a stored plan (an export with history) and was added.
    VersionAdded(PlanId),
}

impl From<PlanRecord> for ImportRecord {
    fn from(record: PlanRecord) -> Self {
        Self {
            id: Some(record.id),
            version: Some(record.version),
            status: Some(record.status),
            status_reason: record.status_reason,
            created: Some(record.created),
            last_updated: Some(record.last_updated),
            last_updated_by: Some(record.last_updated_by),
            plan: record.plan,
        }
    }
}

impl ImportRecord {
    /// The record to store for this line, validated as a new plan would be.
    pub fn into_record(
        self,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<PlanRecord, Vec<FieldError>> {
        let id = self.id.unwrap_or_else(PlanId::new_random);
        // Paths are relative to the line, like those of a parse error: `plan.person.…`.
        let mut record = PlanRecord::create(id, self.plan, now, actor).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| FieldError {
                    path: format!("plan.{}", e.path),
                    message: e.message,
                })
                .collect::<Vec<_>>()
        })?;
        let mut problems = Vec::new();
        if let Some(status) = self.status {
            let problem = match status {
                PlanStatus::Active if record.status == PlanStatus::Completed => {
                    Some("is active but a death is recorded")
                }
                PlanStatus::Completed if record.status == PlanStatus::Active => {
                    Some("is completed but no death is recorded")
                }
                PlanStatus::Revoked | PlanStatus::EnteredInError
                    if self
                        .status_reason
                        .as_deref()
                        .is_none_or(|r| r.trim().is_empty()) =>
                {
                    problems.push(FieldError {
                        path: "status_reason".into(),
                        message: "is required for a revoked or entered-in-error plan".into(),
                    });
                    None
                }
                _ => None,
            };
            if let Some(message) = problem {
                problems.push(FieldError {
                    path: "status".into(),
                    message: message.into(),
                });
            }
            record.status = status;
        }
        if let (Some(created), Some(updated)) = (self.created, self.last_updated) {
            if updated < created {
                problems.push(FieldError {
                    path: "last_updated".into(),
                    message: "is before `created`".into(),
                });
            }
        }
        if self.status_reason.is_some() && self.status.is_none_or(|s| s.is_current()) {
            problems.push(FieldError {
                path: "status_reason".into(),
                message: "is only for a revoked or entered-in-error plan".into(),
            });
        }
        if self.version == Some(0) {
            problems.push(FieldError {
                path: "version".into(),
                message: "versions start at 1".into(),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        record.status_reason = self.status_reason;
        record.version = self.version.unwrap_or(1);
        record.created = self.created.unwrap_or(now);
        record.last_updated = self.last_updated.unwrap_or(record.created);
        if let Some(by) = self.last_updated_by {
            record.last_updated_by = by;
        }
        Ok(record)
    }

    /// Whether `stored` already holds what this line says (ids and ending times the line leaves
    /// out are taken as the stored ones).
    pub fn matches(&self, stored: &PlanRecord) -> bool {
        if self.id.is_some_and(|id| id != stored.id)
            || self.status.is_some_and(|s| s != stored.status)
            || self.version.is_some_and(|v| v != stored.version)
        {
            return false;
        }
        let mut content = self.plan.clone();
        for (sent, kept) in content
            .resuscitation_decisions
            .iter_mut()
            .zip(&stored.plan.resuscitation_decisions)
        {
            sent.id = sent.id.or(kept.id);
            if let (Some(sent_end), Some(kept_end)) = (sent.ended.as_mut(), kept.ended.as_ref()) {
                sent_end.at = sent_end.at.or(kept_end.at);
            }
        }
        for (sent, kept) in content.adrts.iter_mut().zip(&stored.plan.adrts) {
            sent.id = sent.id.or(kept.id);
            if let (Some(sent_end), Some(kept_end)) = (sent.ended.as_mut(), kept.ended.as_ref()) {
                sent_end.at = sent_end.at.or(kept_end.at);
            }
        }
        content == stored.plan
    }
}
