//! Goal back into the person's preferences. A Goal is told by its category: preferred place of
//! care (local code) or of death (SCT 395091006), what matters most (local), advance statement
//! (SCT 816281000000101). A place Goal's priority gives the choice (high: 1st, medium: 2nd); a
//! place Goal without a priority says the preference is undecided, declined, not appropriate or
//! unable to be expressed. Every Goal is the patient's own (`subject`, `expressedBy`, H3);
//! `lifecycleStatus` restates the plan's status and is checked against it.

use chrono::NaiveDate;
use fhirbolt::model::r4::resources::{Goal, GoalStart};

use super::practitioner::Set;
use super::read::{
    absent, absent_list, at, concept, extensions, logical_id, no_modifiers, no_resource_extras,
    only_systems, prim, reference, server_managed, single, ConceptRead, Cx,
};
use super::FhirIssue;
use crate::domain::{AdvanceStatement, PlaceKind, PlacePreference, PlanStatus, PreferredPlace};
use crate::fhir::codes;
use crate::fhir::goal::{
    CARE_DECLINED, CARE_NOT_APPROPRIATE, CARE_UNABLE, CARE_UNDECIDED, PREFERRED_PLACE_EXTENSION,
};

/// What a category says a Goal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PlaceOfCare,
    PlaceOfDeath,
    WhatMattersMost,
    AdvanceStatement,
}

/// A preference without a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Without {
    Undecided,
    Declined,
    NotAppropriate,
    Unable,
}

/// The Goals of one preference (care or death), before they are put together.
#[derive(Debug, Default)]
struct PlaceGoals {
    first: Option<PreferredPlace>,
    second: Option<PreferredPlace>,
    without: Option<Without>,
    /// The id of the first Goal seen, for issues about the whole preference.
    id: Option<String>,
    seen: bool,
}

/// What the Goals say.
#[derive(Debug, Default)]
pub(super) struct Goals {
    pub preferred_place_of_care: Option<PlacePreference>,
    pub preferred_place_of_death: Option<PlacePreference>,
    pub what_matters_most: Option<String>,
    pub advance_statements: Vec<AdvanceStatement>,
}

fn lifecycle(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::Active => "active",
        PlanStatus::Completed => "completed",
        PlanStatus::Revoked => "cancelled",
        PlanStatus::EnteredInError => "entered-in-error",
    }
}

/// Reads every Goal.
pub(super) fn read_all(
    issues: &mut Vec<FhirIssue>,
    set: &Set<'_>,
    resources: &[Goal],
    plan_status: Option<PlanStatus>,
) -> Goals {
    let mut goals = Goals::default();
    let mut care = PlaceGoals::default();
    let mut death = PlaceGoals::default();
    for resource in resources {
        read(
            issues,
            set,
            resource,
            plan_status,
            &mut goals,
            &mut care,
            &mut death,
        );
    }
    goals.preferred_place_of_care = preference(issues, care);
    goals.preferred_place_of_death = preference(issues, death);
    goals
}

fn preference(issues: &mut Vec<FhirIssue>, goals: PlaceGoals) -> Option<PlacePreference> {
    if !goals.seen {
        return None;
    }
    let mut cx = Cx::new(issues, "Goal", goals.id.as_deref());
    match (goals.first, goals.second, goals.without) {
        (Some(first), second, None) => Some(PlacePreference::Stated {
            first: Box::new(first),
            second: second.map(Box::new),
        }),
        (None, None, Some(without)) => Some(match without {
            Without::Undecided => PlacePreference::Undecided {},
            Without::Declined => PlacePreference::DeclinedToDiscuss {},
            Without::NotAppropriate => PlacePreference::NotAppropriate {},
            Without::Unable => PlacePreference::UnableToExpress {},
        }),
        (None, Some(_), None) => {
            cx.required(
                "Goal.priority",
                "a 2nd choice (medium priority) without a 1st choice (high priority)",
            );
            None
        }
        (_, _, Some(_)) => {
            cx.error(
                "business-rule",
                "Goal.priority",
                "a preference is either stated (1st and 2nd choice) or undecided, declined, not appropriate or unable to be expressed, not both",
            );
            None
        }
        (None, None, None) => None,
    }
}

fn kind_of(cx: &mut Cx<'_>, category: &ConceptRead<'_>) -> Option<Kind> {
    only_systems(cx, category, &[codes::LOCAL, codes::SCT]);
    let local = category.pick(
        cx,
        codes::LOCAL,
        &[
            (codes::PREFERRED_PLACE_OF_CARE.code, Kind::PlaceOfCare),
            (codes::WHAT_MATTERS_MOST.code, Kind::WhatMattersMost),
        ],
    );
    let sct = category.pick(
        cx,
        codes::SCT,
        &[
            (codes::PREFERRED_PLACE_OF_DEATH.code, Kind::PlaceOfDeath),
            (codes::HAS_ADVANCE_STATEMENT.code, Kind::AdvanceStatement),
        ],
    );
    match (local, sct) {
        (Some(a), Some(b)) if a != b => {
            cx.error(
                "invariant",
                &category.path,
                "the codes name two different kinds of goal",
            );
            None
        }
        (Some(kind), _) | (None, Some(kind)) => Some(kind),
        (None, None) => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn read(
    issues: &mut Vec<FhirIssue>,
    set: &Set<'_>,
    resource: &Goal,
    plan_status: Option<PlanStatus>,
    goals: &mut Goals,
    care: &mut PlaceGoals,
    death: &mut PlaceGoals,
) {
    let Goal {
        id,
        meta,
        implicit_rules,
        language,
        text,
        contained,
        extension,
        modifier_extension,
        identifier,
        lifecycle_status,
        achievement_status,
        category,
        priority,
        description,
        subject,
        start,
        target,
        status_date,
        status_reason,
        expressed_by,
        addresses,
        note,
        outcome_code,
        outcome_reference,
    } = resource;
    let mut cx = Cx::new(issues, "Goal", logical_id(id));
    let cx = &mut cx;
    let root = "Goal";
    server_managed(meta, text);
    no_resource_extras(cx, implicit_rules, language);
    absent_list(cx, root, "contained", contained);
    no_modifiers(cx, root, modifier_extension);
    absent_list(cx, root, "identifier", identifier);
    absent(cx, at(root, "achievementStatus"), achievement_status);
    absent_list(cx, root, "target", target);
    absent(cx, at(root, "statusDate"), status_date);
    absent(cx, at(root, "statusReason"), status_reason);
    absent_list(cx, root, "addresses", addresses);
    absent_list(cx, root, "note", note);
    absent_list(cx, root, "outcomeCode", outcome_code);
    absent_list(cx, root, "outcomeReference", outcome_reference);

    let subject = reference(cx, &at(root, "subject"), subject);
    set.patient(cx, &subject);
    match expressed_by {
        Some(by) => {
            let by = reference(cx, &at(root, "expressedBy"), by);
            set.patient(cx, &by);
        }
        None => cx.required(
            at(root, "expressedBy"),
            "a preference is the person's own: expressedBy the plan's Patient",
        ),
    }
    let lifecycle_path = at(root, "lifecycleStatus");
    if let (Some(sent), Some(plan)) = (prim(cx, &lifecycle_path, lifecycle_status), plan_status) {
        if sent != lifecycle(plan) {
            cx.error(
                "invariant",
                &lifecycle_path,
                format!(
                    "`{sent}` contradicts the plan's status, which gives `{}`",
                    lifecycle(plan)
                ),
            );
        }
    }

    let mut kind = None;
    for (index, item) in category.iter().enumerate() {
        let read = concept(cx, &super::read::at_index(root, "category", index), item);
        if index > 0 {
            cx.not_supported(&read.path);
            continue;
        }
        kind = kind_of(cx, &read);
        if kind.is_none() && read.codings.is_empty() {
            cx.required(&read.path, "the category (a code) says what this Goal is");
        }
    }
    if category.is_empty() {
        cx.required(at(root, "category"), "the category says what this Goal is (preferred place of care or death, what matters most, advance statement)");
    }
    let description = concept(cx, &at(root, "description"), description);
    let Some(kind) = kind else {
        return;
    };

    let places = [Kind::PlaceOfCare, Kind::PlaceOfDeath];
    let known_extensions: &[&str] = if places.contains(&kind) {
        &[PREFERRED_PLACE_EXTENSION]
    } else {
        &[]
    };
    let exts = extensions(cx, root, extension, known_extensions);
    if kind != Kind::AdvanceStatement {
        absent(cx, at(root, "start"), start);
    }
    if !places.contains(&kind) {
        absent(cx, at(root, "priority"), priority);
    }
    match kind {
        Kind::WhatMattersMost => {
            only_text(cx, &description);
            if goals.what_matters_most.is_some() {
                cx.error("business-rule", root, "a second `what matters most` Goal");
            }
            goals.what_matters_most = description.text.clone();
        }
        Kind::AdvanceStatement => {
            only_text(cx, &description);
            let start_path = at(root, "start");
            let date: Option<NaiveDate> = match start {
                Some(GoalStart::Date(value)) => super::read::date(cx, &start_path, value),
                Some(_) => {
                    cx.not_supported(start_path);
                    None
                }
                None => {
                    cx.required(start_path, "the date the statement was made is missing");
                    None
                }
            };
            if let (Some(text), Some(date)) = (description.text.clone(), date) {
                goals
                    .advance_statements
                    .push(AdvanceStatement { text, date });
            }
        }
        Kind::PlaceOfCare | Kind::PlaceOfDeath => {
            let target = if kind == Kind::PlaceOfCare {
                care
            } else {
                death
            };
            target.seen = true;
            if target.id.is_none() {
                target.id = logical_id(id).map(str::to_owned);
            }
            let rank = priority.as_ref().and_then(|p| {
                let read = concept(cx, &at(root, "priority"), p);
                only_systems(cx, &read, &[codes::GOAL_PRIORITY]);
                let rank = read.pick(
                    cx,
                    codes::GOAL_PRIORITY,
                    &[("high-priority", 1u8), ("medium-priority", 2u8)],
                );
                if rank.is_none() && read.of_system(codes::GOAL_PRIORITY).is_empty() {
                    cx.required(
                        at(root, "priority"),
                        "high-priority (1st choice) or medium-priority (2nd choice)",
                    );
                }
                rank
            });
            match (priority.is_some(), rank) {
                (false, _) => {
                    for ext in &exts {
                        cx.not_supported(&ext.path);
                    }
                    let without = without_place(cx, &description);
                    if target.without.is_some() {
                        cx.error(
                            "business-rule",
                            root,
                            "a second Goal saying the preference has no place",
                        );
                    }
                    target.without = target.without.or(without);
                }
                (true, Some(rank)) => {
                    let place = place(cx, &description, &exts);
                    let slot = if rank == 1 {
                        &mut target.first
                    } else {
                        &mut target.second
                    };
                    if slot.is_some() {
                        cx.error(
                            "business-rule",
                            at(root, "priority"),
                            "a second Goal for the same choice of place",
                        );
                    }
                    if place.is_some() {
                        *slot = place;
                    }
                }
                (true, None) => {}
            }
        }
    }
}

/// Free text only: codings would be lost.
fn only_text(cx: &mut Cx<'_>, description: &ConceptRead<'_>) {
    for (path, _) in &description.codings {
        cx.not_supported(path);
    }
    if description.text.is_none() {
        cx.required(at(&description.path, "text"), "the words are missing");
    }
}

fn without_place(cx: &mut Cx<'_>, description: &ConceptRead<'_>) -> Option<Without> {
    only_systems(cx, description, &[codes::SCT, codes::LOCAL]);
    let sct = description.pick(
        cx,
        codes::SCT,
        &[
            (codes::PLACE_UNDECIDED.code, Without::Undecided),
            (codes::PLACE_DECLINED.code, Without::Declined),
            (codes::PLACE_NOT_APPROPRIATE.code, Without::NotAppropriate),
            (codes::PLACE_UNABLE.code, Without::Unable),
        ],
    );
    let local = description.pick(
        cx,
        codes::LOCAL,
        &[
            (CARE_UNDECIDED.code, Without::Undecided),
            (CARE_DECLINED.code, Without::Declined),
            (CARE_NOT_APPROPRIATE.code, Without::NotAppropriate),
            (CARE_UNABLE.code, Without::Unable),
        ],
    );
    let found = sct.or(local);
    if found.is_none() && description.codings.is_empty() {
        cx.required(
            &description.path,
            "a place Goal without priority must say, coded, that the preference is undecided, declined, not appropriate or unable to be expressed",
        );
    }
    found
}

fn place(
    cx: &mut Cx<'_>,
    description: &ConceptRead<'_>,
    exts: &[super::read::ExtRead<'_>],
) -> Option<PreferredPlace> {
    only_systems(cx, description, &[codes::SCT, codes::DEATH_LOCATION]);
    let national = description.pick(
        cx,
        codes::SCT,
        &[
            (codes::PLACE_HOME.code, PlaceKind::Home),
            (codes::PLACE_HOSPICE.code, PlaceKind::Hospice),
            (codes::PLACE_HOSPITAL.code, PlaceKind::Hospital),
        ],
    );
    let kind = super::care_plan::place_kind(cx, description).or(national);
    if let (Some(a), Some(b)) = (kind, national) {
        if a != b {
            cx.error(
                "invariant",
                &description.path,
                "the SNOMED CT place and the death-location code disagree",
            );
        }
    }
    if kind.is_none() && description.of_system(codes::DEATH_LOCATION).is_empty() {
        cx.required(
            &description.path,
            format!(
                "the kind of place (a code of {}) is missing",
                codes::DEATH_LOCATION
            ),
        );
    }
    let mut place = PreferredPlace {
        kind: kind?,
        organisation: None,
        address: None,
        is_usual_residence: false,
    };
    if let Some(ext) = single(cx, exts, PREFERRED_PLACE_EXTENSION) {
        let parts = ext.complex(cx, &["organisation", "address", "usual-residence"]);
        place.organisation = single(cx, &parts, "organisation").and_then(|p| p.string(cx));
        place.address = single(cx, &parts, "address").and_then(|p| p.address(cx));
        place.is_usual_residence = single(cx, &parts, "usual-residence")
            .and_then(|p| p.boolean(cx))
            .unwrap_or(false);
    }
    Some(place)
}
