//! Decisions with identity and a lifecycle inside the plan: CPR decisions (at most one current,
//! a new one supersedes the old, H1) and advance decisions to refuse treatment (withdrawn, never
//! deleted). A recorded decision's clinical content never changes; only its status moves on, and
//! every ended decision says when, by whom and why (H5).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::DecisionId;
use super::plan::{Clinician, CodedText};
use super::validation::Problems;

/// One CPR decision as recorded on a DNACPR (or "for CPR") form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResuscitationDecision {
    /// Assigned by the service when the decision is first recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<DecisionId>,
    /// `current` unless superseded, revoked or entered in error.
    #[serde(default)]
    pub status: DecisionStatus,
    /// For or not for attempted CPR.
    pub decision: CprDecision,
    /// When the decision was made.
    pub decision_date: NaiveDate,
    /// Review date, or `indefinite`.
    pub review: ReviewDue,
    /// Who made the decision.
    pub decided_by: Clinician,
    /// Where the original form is, e.g. "purple form on the fridge".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_location: Option<String>,
    /// Whether the person is aware of the decision (unknown when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_aware: Option<bool>,
    /// Whether the family has been informed (unknown when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_informed: Option<bool>,
    /// The clinical reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the person had capacity for this decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub had_capacity: Option<bool>,
    /// Whether the person was involved in the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_involved: Option<bool>,
    /// When, by whom and why the decision stopped being current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ending>,
}

/// For or not for attempted CPR. "No decision recorded" is not a value: it is the absence of a
/// current decision (H2), see [`super::PlanRecord::resuscitation_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CprDecision {
    /// For attempted CPR (SCT 450475007).
    ForCpr,
    /// Not for attempted CPR, DNACPR (SCT 450476008).
    NotForCpr,
}

/// Lifecycle of a CPR decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionStatus {
    /// The decision in force (at most one per plan).
    #[default]
    Current,
    /// Replaced by a later decision.
    Superseded,
    /// Cancelled without replacement.
    Revoked,
    /// Recorded by mistake.
    EnteredInError,
}

/// Lifecycle of an ADRT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AdrtStatus {
    /// In force.
    #[default]
    Active,
    /// Withdrawn by the person.
    Withdrawn,
    /// Recorded by mistake.
    EnteredInError,
}

/// When a decision is next due for review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDue {
    /// No review date: the decision stands until changed.
    Indefinite,
    /// Review by this date.
    On(NaiveDate),
}

impl fmt::Display for ReviewDue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Indefinite => f.write_str("indefinite"),
            Self::On(date) => write!(f, "{}", date.format("%Y-%m-%d")),
        }
    }
}

impl Serialize for ReviewDue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReviewDue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Cow::<str>::deserialize(deserializer)?;
        if raw == "indefinite" {
            return Ok(Self::Indefinite);
        }
        NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
            .map(Self::On)
            .map_err(|_| serde::de::Error::custom("expected a date YYYY-MM-DD or \"indefinite\""))
    }
}

impl JsonSchema for ReviewDue {
    fn schema_name() -> Cow<'static, str> {
        "ReviewDue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Review date (YYYY-MM-DD) or \"indefinite\"",
            "oneOf": [
                { "type": "string", "format": "date" },
                { "type": "string", "const": "indefinite" }
            ]
        })
    }
}

/// Why, when and by whom a decision ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ending {
    /// When it ended; the service fills in the time of the change when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<FixedOffset>>,
    /// Who ended it.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// An advance decision to refuse treatment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Adrt {
    /// Assigned by the service when first recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<DecisionId>,
    /// `active` unless withdrawn or entered in error.
    #[serde(default)]
    pub status: AdrtStatus,
    /// The treatments refused (at least one).
    pub refused_treatments: Vec<CodedText>,
    /// Whether it refuses life-sustaining treatment (then it must be witnessed and signed).
    pub refuses_life_sustaining_treatment: bool,
    /// Whether the document is signed and witnessed.
    pub witnessed_and_signed: bool,
    /// The circumstances in which the refusals apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circumstances: Option<String>,
    /// Where the document is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_location: Option<String>,
    /// When it was made.
    pub date: NaiveDate,
    /// When, by whom and why it was withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ending>,
}

/// What the merge of decisions needs to know about the change being made.
pub(crate) struct ChangeContext<'a> {
    pub now: DateTime<FixedOffset>,
    pub previous: Option<&'a [ResuscitationDecision]>,
    pub previous_adrts: Option<&'a [Adrt]>,
}

/// The lifecycle operations a decision list needs, shared by CPR decisions and ADRTs.
trait Lifecycle: Clone + PartialEq {
    const FIELD: &'static str;
    fn id(&self) -> Option<DecisionId>;
    fn set_id(&mut self, id: DecisionId);
    fn ended_mut(&mut self) -> &mut Option<Ending>;
    fn ending(&self) -> Option<&Ending>;
    fn same_status(&self, other: &Self) -> bool;
    /// May the status move from `self` (as stored) to `next` (as sent)?
    fn allowed_transition(&self, next: &Self) -> bool;
    /// The decision without its lifecycle fields, for "content unchanged" checks.
    fn clinical_content(&self) -> Self;
}

impl Lifecycle for ResuscitationDecision {
    const FIELD: &'static str = "resuscitation_decisions";
    fn id(&self) -> Option<DecisionId> {
        self.id
    }
    fn set_id(&mut self, id: DecisionId) {
        self.id = Some(id);
    }
    fn ended_mut(&mut self) -> &mut Option<Ending> {
        &mut self.ended
    }
    fn ending(&self) -> Option<&Ending> {
        self.ended.as_ref()
    }
    fn same_status(&self, other: &Self) -> bool {
        self.status == other.status
    }
    fn allowed_transition(&self, next: &Self) -> bool {
        use DecisionStatus::*;
        self.status == next.status
            || matches!(
                (self.status, next.status),
                (Current, Superseded | Revoked | EnteredInError)
                    | (Superseded | Revoked, EnteredInError)
            )
    }
    fn clinical_content(&self) -> Self {
        Self {
            status: DecisionStatus::Current,
            ended: None,
            ..self.clone()
        }
    }
}

impl Lifecycle for Adrt {
    const FIELD: &'static str = "adrts";
    fn id(&self) -> Option<DecisionId> {
        self.id
    }
    fn set_id(&mut self, id: DecisionId) {
        self.id = Some(id);
    }
    fn ended_mut(&mut self) -> &mut Option<Ending> {
        &mut self.ended
    }
    fn ending(&self) -> Option<&Ending> {
        self.ended.as_ref()
    }
    fn same_status(&self, other: &Self) -> bool {
        self.status == other.status
    }
    fn allowed_transition(&self, next: &Self) -> bool {
        use AdrtStatus::*;
        self.status == next.status
            || matches!(
                (self.status, next.status),
                (Active, Withdrawn | EnteredInError) | (Withdrawn, EnteredInError)
            )
    }
    fn clinical_content(&self) -> Self {
        Self {
            status: AdrtStatus::Active,
            ended: None,
            ..self.clone()
        }
    }
}

/// Carries the stored decisions into the incoming list: every stored decision must still be
/// there (matched by id) with unchanged clinical content and a permitted status change; new
/// decisions get ids; ended decisions get their ending time.
fn merge_list<T: Lifecycle>(
    incoming: &mut [T],
    previous: Option<&[T]>,
    now: DateTime<FixedOffset>,
    problems: &mut Problems,
) {
    let previous = previous.unwrap_or(&[]);
    let mut seen: HashMap<DecisionId, usize> = HashMap::new();
    for (index, item) in incoming.iter().enumerate() {
        if let Some(id) = item.id() {
            if let Some(first) = seen.insert(id, index) {
                problems.push(
                    format!("{}[{index}].id", T::FIELD),
                    format!("duplicates the id of {}[{first}]", T::FIELD),
                );
            }
        }
    }
    for (stored_index, stored) in previous.iter().enumerate() {
        let Some(id) = stored.id() else { continue };
        match seen.get(&id) {
            None => problems.push(
                T::FIELD,
                format!(
                    "the recorded decision {id} (was {}[{stored_index}]) is missing: decisions \
                     are never deleted; change its status instead",
                    T::FIELD
                ),
            ),
            Some(&index) => {
                let next = &mut incoming[index];
                if next.clinical_content() != stored.clinical_content() {
                    problems.push(
                        format!("{}[{index}]", T::FIELD),
                        "a recorded decision cannot be changed: end it and record a new one",
                    );
                } else if !stored.allowed_transition(next) {
                    problems.push(
                        format!("{}[{index}].status", T::FIELD),
                        "this status change is not allowed for a recorded decision",
                    );
                } else if stored.same_status(next) {
                    // The status did not move: the stored ending stands (a client may omit it,
                    // or send it back as read) and cannot be rewritten.
                    let stored_ending = stored.ending().cloned();
                    if let Some(sent) = next.ended_mut() {
                        if sent.at.is_none() {
                            sent.at = stored_ending.as_ref().and_then(|e| e.at);
                        }
                    }
                    match (next.ended_mut().clone(), stored_ending) {
                        (None, stored_ending) => *next.ended_mut() = stored_ending,
                        (Some(sent), Some(kept)) if sent == kept => {}
                        (Some(_), _) => problems.push(
                            format!("{}[{index}].ended", T::FIELD),
                            "the ending of a recorded decision cannot be changed",
                        ),
                    }
                }
            }
        }
    }
    for item in incoming.iter_mut() {
        if item.id().is_none() {
            item.set_id(DecisionId::new_random());
        }
        if let Some(ending) = item.ended_mut() {
            if ending.at.is_none() {
                ending.at = Some(now);
            }
        }
    }
}

/// Applies the lifecycle rules to the decisions of an incoming plan, against the stored ones
/// (none on create). A new current CPR decision supersedes the one it replaces.
pub(crate) fn merge_decisions(
    resuscitation: &mut [ResuscitationDecision],
    adrts: &mut [Adrt],
    context: &ChangeContext<'_>,
    problems: &mut Problems,
) {
    let new_current: Vec<usize> = resuscitation
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.status == DecisionStatus::Current
                && d.id.is_none_or(|id| {
                    !context
                        .previous
                        .unwrap_or(&[])
                        .iter()
                        .any(|p| p.id == Some(id))
                })
        })
        .map(|(index, _)| index)
        .collect();
    if let [newest] = new_current.as_slice() {
        // A single newly recorded current decision supersedes every stored one still current,
        // unless it is older than the decision it would replace: an older form typed in late
        // must not silently override a newer decision (H1). The author must end the newer one
        // explicitly, or record the older form as already superseded.
        let replacement = resuscitation[*newest].clone();
        let previous_ids: Vec<DecisionId> = context
            .previous
            .unwrap_or(&[])
            .iter()
            .filter_map(|d| d.id)
            .collect();
        let still_current: Vec<usize> = resuscitation
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                d.status == DecisionStatus::Current
                    && d.id.is_some_and(|id| previous_ids.contains(&id))
            })
            .map(|(index, _)| index)
            .collect();
        for index in still_current {
            let decision = &mut resuscitation[index];
            if decision.decision_date > replacement.decision_date {
                problems.push(
                    format!("resuscitation_decisions[{newest}].decision_date"),
                    format!(
                        "is before the current decision's date ({}); end that decision \
                         explicitly, or record this one as superseded",
                        decision.decision_date.format("%Y-%m-%d")
                    ),
                );
                continue;
            }
            decision.status = DecisionStatus::Superseded;
            decision.ended = Some(Ending {
                at: Some(context.now),
                by: replacement.decided_by.name.clone(),
                reason: format!(
                    "superseded by the CPR decision of {}",
                    replacement.decision_date.format("%Y-%m-%d")
                ),
            });
        }
    }
    merge_list(resuscitation, context.previous, context.now, problems);
    merge_list(adrts, context.previous_adrts, context.now, problems);
}
