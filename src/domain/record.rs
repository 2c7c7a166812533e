//! The stored plan: identity, version and dates around the content, and the lifecycle that moves
//! it from one version to the next (create, revise, revoke, entered-in-error, completed at
//! death). Each operation returns a new record; nothing is changed in place (H5). The answer to
//! "what is the current CPR decision" lives here and nowhere else (H1, H2), as does the overdue
//! review flag (H7).

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::decisions::{
    merge_decisions, ChangeContext, CprDecision, DecisionStatus, ResuscitationDecision, ReviewDue,
};
use super::ids::PlanId;
use super::plan::PlanContent;
use super::validation::{validate_content, FieldError, Problems};

/// Lifecycle of a whole plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PlanStatus {
    /// In force.
    Active,
    /// The person has died; the plan is kept for the record.
    Completed,
    /// Withdrawn (e.g. the person left the register); a new plan may be created.
    Revoked,
    /// Created by mistake (e.g. the wrong person); a new plan may be created.
    EnteredInError,
}

impl PlanStatus {
    /// Whether this plan is the person's plan of record (one per NHS number).
    pub fn is_current(self) -> bool {
        matches!(self, Self::Active | Self::Completed)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Revoked => "revoked",
            Self::EnteredInError => "entered-in-error",
        }
    }

    /// Parses the wire name.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Active,
            Self::Completed,
            Self::Revoked,
            Self::EnteredInError,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// How a plan can be ended by an explicit operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanEnd {
    /// `$revoke`.
    Revoke,
    /// `$entered-in-error`.
    EnteredInError,
}

/// One version of one person's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRecord {
    /// The plan's id, stable across versions.
    pub id: PlanId,
    /// 1 for the first version, one more for every change.
    pub version: u32,
    /// Lifecycle status.
    pub status: PlanStatus,
    /// Why the plan was revoked or entered in error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When the plan was first created.
    pub created: DateTime<Utc>,
    /// When this version was written.
    pub last_updated: DateTime<Utc>,
    /// Who wrote this version.
    pub last_updated_by: String,
    /// The clinical content.
    pub plan: PlanContent,
}

/// Why a change to a plan was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeError {
    /// The content breaks domain rules.
    Invalid(Vec<FieldError>),
    /// The plan has been revoked or entered in error and can no longer change.
    PlanEnded(PlanStatus),
}

/// The answer to "is there a CPR decision, and what is it?" (H1, H2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResuscitationStatus<'a> {
    /// The one current decision.
    Decided(&'a ResuscitationDecision),
    /// No current decision: say so, never assume "for CPR".
    NoDecisionRecorded,
    /// The plan itself is revoked or entered in error: none of its decisions stand.
    PlanNotCurrent(PlanStatus),
}

impl ResuscitationStatus<'_> {
    /// The wire name used in summaries.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Decided(d) => match d.decision {
                CprDecision::ForCpr => "for-cpr",
                CprDecision::NotForCpr => "not-for-cpr",
            },
            Self::NoDecisionRecorded => "no-decision-recorded",
            Self::PlanNotCurrent(_) => "plan-not-current",
        }
    }
}

/// Something past its review date (H7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct OverdueReview {
    /// `plan` or `resuscitation_decisions[i]`.
    pub item: String,
    /// The review date that has passed.
    pub due: NaiveDate,
}

fn status_for(content: &PlanContent) -> PlanStatus {
    if content.death.is_some() {
        PlanStatus::Completed
    } else {
        PlanStatus::Active
    }
}

fn checked(
    mut content: PlanContent,
    previous: Option<&PlanContent>,
    now: DateTime<Utc>,
) -> Result<PlanContent, Vec<FieldError>> {
    let mut problems = Problems::default();
    let context = ChangeContext {
        now: now.fixed_offset(),
        previous: previous.map(|p| p.resuscitation_decisions.as_slice()),
        previous_adrts: previous.map(|p| p.adrts.as_slice()),
    };
    merge_decisions(
        &mut content.resuscitation_decisions,
        &mut content.adrts,
        &context,
        &mut problems,
    );
    validate_content(&content, now.date_naive(), &mut problems);
    problems.into_result().map(|()| content)
}

impl PlanRecord {
    /// Version 1 of a new plan. Decisions without ids get them; an incoming decision list may
    /// already hold ended decisions (a plan transferred from another system).
    pub fn create(
        id: PlanId,
        content: PlanContent,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<Self, Vec<FieldError>> {
        let content = checked(content, None, now)?;
        Ok(Self {
            id,
            version: 1,
            status: status_for(&content),
            status_reason: None,
            created: now,
            last_updated: now,
            last_updated_by: actor.to_owned(),
            plan: content,
        })
    }

    /// The next version with new content (a full replacement, as a PUT). Recorded decisions
    /// must all still be there; a new current CPR decision supersedes the old one.
    pub fn revise(
        &self,
        content: PlanContent,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<Self, ChangeError> {
        if !self.status.is_current() {
            return Err(ChangeError::PlanEnded(self.status));
        }
        let mut problems = Vec::new();
        if content.person.nhs_number != self.plan.person.nhs_number {
            problems.push(FieldError {
                path: "person.nhs_number".into(),
                message: "a plan belongs to one person: the NHS number cannot change (mark the \
                          plan entered-in-error and create one for the right person)"
                    .into(),
            });
        }
        let content = match checked(content, Some(&self.plan), now) {
            Ok(content) if problems.is_empty() => content,
            Ok(_) => return Err(ChangeError::Invalid(problems)),
            Err(mut more) => {
                problems.append(&mut more);
                return Err(ChangeError::Invalid(problems));
            }
        };
        Ok(Self {
            id: self.id,
            version: self.version + 1,
            status: status_for(&content),
            status_reason: None,
            created: self.created,
            last_updated: now,
            last_updated_by: actor.to_owned(),
            plan: content,
        })
    }

    /// The next version, revoked or entered in error, with the reason. The content is kept as
    /// it was, so the history shows exactly what was withdrawn.
    pub fn end(
        &self,
        how: PlanEnd,
        reason: &str,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<Self, ChangeError> {
        if reason.trim().is_empty() {
            return Err(ChangeError::Invalid(vec![FieldError {
                path: "reason".into(),
                message: "must not be empty".into(),
            }]));
        }
        let status = match how {
            PlanEnd::Revoke => PlanStatus::Revoked,
            PlanEnd::EnteredInError => PlanStatus::EnteredInError,
        };
        let allowed = match how {
            PlanEnd::Revoke => self.status.is_current(),
            PlanEnd::EnteredInError => self.status != PlanStatus::EnteredInError,
        };
        if !allowed {
            return Err(ChangeError::PlanEnded(self.status));
        }
        Ok(Self {
            id: self.id,
            version: self.version + 1,
            status,
            status_reason: Some(reason.to_owned()),
            created: self.created,
            last_updated: now,
            last_updated_by: actor.to_owned(),
            plan: self.plan.clone(),
        })
    }

    /// The current CPR decision, or an explicit "no decision recorded" (H1, H2).
    pub fn resuscitation_status(&self) -> ResuscitationStatus<'_> {
        if !self.status.is_current() {
            return ResuscitationStatus::PlanNotCurrent(self.status);
        }
        let mut current = self
            .plan
            .resuscitation_decisions
            .iter()
            .filter(|d| d.status == DecisionStatus::Current);
        match (current.next(), current.next()) {
            (Some(decision), None) => ResuscitationStatus::Decided(decision),
            // Validation keeps this from being stored; should it ever be, say nothing rather
            // than pick one.
            (Some(_), Some(_)) | (None, _) => ResuscitationStatus::NoDecisionRecorded,
        }
    }

    /// Reviews that are past due on `today`: the plan's own and the current CPR decision's
    /// (H7). Only for a plan in force.
    pub fn overdue_reviews(&self, today: NaiveDate) -> Vec<OverdueReview> {
        let mut overdue = Vec::new();
        if self.status != PlanStatus::Active {
            return overdue;
        }
        if let Some(due) = self.plan.review_date {
            if due < today {
                overdue.push(OverdueReview {
                    item: "plan".into(),
                    due,
                });
            }
        }
        for (index, decision) in self.plan.resuscitation_decisions.iter().enumerate() {
            if let (DecisionStatus::Current, ReviewDue::On(due)) =
                (decision.status, decision.review)
            {
                if due < today {
                    overdue.push(OverdueReview {
                        item: format!("resuscitation_decisions[{index}]"),
                        due,
                    });
                }
            }
        }
        overdue
    }
}
