//! The internal end-of-life care plan and its rules: data items (domain.md §2), validation with
//! field paths, decision and plan lifecycles, and the safety answers ("current CPR decision",
//! "review overdue"). No JSON values, FHIR or SQL here; time is passed in.

mod decisions;
mod ids;
mod import;
mod plan;
mod record;
mod validation;

pub use decisions::{
    Adrt, AdrtStatus, CprDecision, DecisionStatus, Ending, ResuscitationDecision, ReviewDue,
};
pub use ids::{DecisionId, IdError, NhsNumber, OdsCode, PlanId, SnomedCode};
pub use import::{ImportOutcome, ImportRecord};
pub use plan::*;
pub use record::{
    ChangeError, OverdueReview, PlanEnd, PlanRecord, PlanStatus, ResuscitationStatus,
};
pub use validation::{validate_content, FieldError, Problems};

#[cfg(test)]
mod tests;
