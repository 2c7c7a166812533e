//! CPR-decision and ADRT Consents back into recorded decisions (a child module of the inverse
//! `consent`). The decision is read from `provision.type` and the SNOMED CT category, which must
//! agree; the older "for / not for resuscitation" codes are accepted and normalised with a
//! warning. Absent is never "for CPR" (H2): without `provision.type` the decision is refused.

use super::{provision, Common};
use crate::domain::{
    Adrt, AdrtStatus, CprDecision, DecisionId, DecisionStatus, Ending, PlanStatus,
    ResuscitationDecision, ReviewDue,
};
use crate::fhir::codes::{self, extension as ext};
use crate::fhir::inverse::read::{
    absent_list, at, at_index, coded_text, concept, only_systems, single, Cx, ExtRead,
};

/// The decision id: `Consent.id` when it is a UUID; otherwise a new decision.
fn decision_id(id: Option<&str>) -> Option<DecisionId> {
    id.and_then(|id| DecisionId::parse(id).ok())
}

fn ending(cx: &mut Cx<'_>, extensions: &[ExtRead<'_>]) -> Option<Ending> {
    let ext = single(cx, extensions, ext::DECISION_ENDED)?;
    let parts = ext.complex(cx, &["by", "reason", "at"]);
    let by = single(cx, &parts, "by").and_then(|p| p.string(cx));
    let reason = single(cx, &parts, "reason").and_then(|p| p.string(cx));
    let at_time = single(cx, &parts, "at").and_then(|p| p.date_time(cx));
    if by.is_none() {
        cx.required(
            at(&ext.path, "extension"),
            "who ended the decision (`by`) is missing",
        );
    }
    if reason.is_none() {
        cx.required(
            at(&ext.path, "extension"),
            "why the decision ended (`reason`) is missing",
        );
    }
    Some(Ending {
        at: at_time,
        by: by?,
        reason: reason?,
    })
}

fn booleans(
    cx: &mut Cx<'_>,
    extensions: &[ExtRead<'_>],
    url: &str,
    names: [&str; 2],
) -> [Option<bool>; 2] {
    let Some(ext) = single(cx, extensions, url) else {
        return [None, None];
    };
    let parts = ext.complex(cx, &names);
    names.map(|name| single(cx, &parts, name).and_then(|p| p.boolean(cx)))
}

fn status_code<T: Copy>(
    cx: &mut Cx<'_>,
    extensions: &[ExtRead<'_>],
    table: &[(&str, T)],
) -> Option<Option<T>> {
    let ext = single(cx, extensions, codes::DECISION_STATUS_EXTENSION)?;
    let code = ext.code(cx)?;
    match table.iter().find(|(known, _)| *known == code) {
        Some((_, value)) => Some(Some(*value)),
        None => {
            let known: Vec<&str> = table.iter().map(|(c, _)| *c).collect();
            cx.error(
                "code-invalid",
                at(&ext.path, "value"),
                format!(
                    "`{code}` is not a decision status here ({})",
                    known.join(", ")
                ),
            );
            Some(None)
        }
    }
}

/// Reads a CPR decision Consent.
pub(super) fn read_cpr(
    cx: &mut Cx<'_>,
    id: Option<&str>,
    common: Common<'_>,
) -> Option<ResuscitationDecision> {
    let exts = &common.extensions;
    let mut from_category: Option<CprDecision> = None;
    let mut dnr: Option<String> = None;
    for category in &common.categories {
        only_systems(cx, category, &[codes::SCT, codes::CONSENT_CATEGORY]);
        if category.has(codes::CONSENT_CATEGORY, codes::category::DNR) {
            dnr = Some(category.path.clone());
        }
        let _ = category.pick(cx, codes::CONSENT_CATEGORY, &[(codes::category::DNR, ())]);
        for (path, code) in category.of_system(codes::SCT) {
            let synonym = match code {
                Some(codes::NOT_FOR_RESUSCITATION_OLD) => Some(codes::NOT_FOR_CPR.code),
                Some(codes::FOR_RESUSCITATION_OLD) => Some(codes::FOR_CPR.code),
                _ => None,
            };
            if let (Some(old), Some(new)) = (code, synonym) {
                cx.warning(
                    "informational",
                    at(path, "code"),
                    format!("SNOMED CT {old} is read as its current equivalent {new}"),
                );
            }
        }
        let found = category.pick(
            cx,
            codes::SCT,
            &[
                (codes::NOT_FOR_CPR.code, CprDecision::NotForCpr),
                (codes::NOT_FOR_RESUSCITATION_OLD, CprDecision::NotForCpr),
                (codes::FOR_CPR.code, CprDecision::ForCpr),
                (codes::FOR_RESUSCITATION_OLD, CprDecision::ForCpr),
            ],
        );
        if let (Some(first), Some(found)) = (from_category, found) {
            if first != found {
                cx.error(
                    "invariant",
                    &category.path,
                    "one category says for CPR, another not for CPR",
                );
            }
        }
        from_category = from_category.or(found);
    }

    let mut from_provision = None;
    if let Some(value) = common.provision {
        let read = provision(cx, "Consent.provision", value);
        absent_list(cx, "Consent.provision", "provision", read.nested);
        for (index, code) in read.code.iter().enumerate() {
            let path = at_index("Consent.provision", "code", index);
            let code = concept(cx, &path, code);
            only_systems(cx, &code, &[codes::SCT]);
            let _ = code.pick(cx, codes::SCT, &[(codes::CPR_PROCEDURE.code, ())]);
            if index > 0 {
                cx.not_supported(path);
            }
        }
        match read.r#type.as_deref() {
            Some("deny") => from_provision = Some(CprDecision::NotForCpr),
            Some("permit") => from_provision = Some(CprDecision::ForCpr),
            Some(_) => {}
            None => cx.required(
                "Consent.provision.type",
                "deny (not for attempted CPR) or permit (for attempted CPR) is missing: an absent decision is never read as for CPR",
            ),
        }
    }
    let decision = match (from_provision, from_category) {
        (Some(provision), Some(category)) if provision != category => {
            cx.error(
                "invariant",
                "Consent.provision.type",
                "contradicts the CPR decision code in Consent.category",
            );
            None
        }
        (Some(provision), _) => Some(provision),
        (None, _) => None,
    };
    if let (Some(CprDecision::ForCpr), Some(path)) = (decision, &dnr) {
        cx.error("invariant", path, "`dnr` on a decision for attempted CPR");
    }

    let status = match status_code(
        cx,
        exts,
        &[
            ("current", DecisionStatus::Current),
            ("superseded", DecisionStatus::Superseded),
            ("revoked", DecisionStatus::Revoked),
            ("entered-in-error", DecisionStatus::EnteredInError),
        ],
    ) {
        Some(status) => status,
        None => match common.status.as_deref() {
            Some("active") => Some(DecisionStatus::Current),
            Some("entered-in-error") => Some(DecisionStatus::EnteredInError),
            _ => {
                cx.required(
                    "Consent.extension",
                    format!(
                        "an inactive decision needs its own status ({}: superseded or revoked)",
                        codes::DECISION_STATUS_EXTENSION
                    ),
                );
                None
            }
        },
    };

    let review_date = single(cx, exts, ext::REVIEW_DATE).map(|e| (e.path.clone(), e.date(cx)));
    let indefinite =
        single(cx, exts, ext::REVIEW_INDEFINITE).map(|e| (e.path.clone(), e.boolean(cx)));
    let review = match (review_date, indefinite) {
        (Some((_, date)), None | Some((_, Some(false)))) => date.map(ReviewDue::On),
        (None, Some((_, Some(true)))) => Some(ReviewDue::Indefinite),
        (Some(_), Some((path, Some(true)))) => {
            cx.error(
                "invariant",
                path,
                "a decision has a review date or is indefinite, not both",
            );
            None
        }
        _ => {
            cx.required(
                "Consent.extension",
                format!(
                    "the review date ({}) or `indefinite` ({}) is missing",
                    ext::REVIEW_DATE,
                    ext::REVIEW_INDEFINITE
                ),
            );
            None
        }
    };
    let [person_aware, family_informed] = booleans(
        cx,
        exts,
        ext::DECISION_AWARENESS,
        ["person-aware", "family-informed"],
    );
    let [had_capacity, person_involved] = booleans(
        cx,
        exts,
        ext::DECISION_CAPACITY,
        ["had-capacity", "person-involved"],
    );
    let reason = single(cx, exts, codes::DECISION_REASON_EXTENSION).and_then(|e| e.string(cx));
    let ended = ending(cx, exts);
    Some(ResuscitationDecision {
        id: decision_id(id),
        status: status?,
        decision: decision?,
        decision_date: common.date?,
        review: review?,
        decided_by: common.performer?,
        form_location: common.source_title,
        person_aware,
        family_informed,
        reason,
        had_capacity,
        person_involved,
        ended,
    })
}

/// `Consent.status` as the projection writes it for a CPR decision, and whether the decision
/// counts as current (for the "more than one current" rule).
pub(super) fn cpr_expected_status(
    decision: &ResuscitationDecision,
    plan: PlanStatus,
) -> (&'static str, bool) {
    match (decision.status, plan) {
        (DecisionStatus::EnteredInError, _) | (_, PlanStatus::EnteredInError) => {
            ("entered-in-error", false)
        }
        (DecisionStatus::Superseded | DecisionStatus::Revoked, _)
        | (DecisionStatus::Current, PlanStatus::Revoked) => ("inactive", false),
        (DecisionStatus::Current, PlanStatus::Active | PlanStatus::Completed) => ("active", true),
    }
}

/// `Consent.status` as the projection writes it for an ADRT.
pub(super) fn adrt_expected_status(adrt: &Adrt, plan: PlanStatus) -> &'static str {
    match (adrt.status, plan) {
        (AdrtStatus::EnteredInError, _) | (_, PlanStatus::EnteredInError) => "entered-in-error",
        (AdrtStatus::Withdrawn, _) | (AdrtStatus::Active, PlanStatus::Revoked) => "inactive",
        (AdrtStatus::Active, PlanStatus::Active | PlanStatus::Completed) => "active",
    }
}

/// Reads an ADRT Consent.
pub(super) fn read_adrt(cx: &mut Cx<'_>, id: Option<&str>, common: Common<'_>) -> Option<Adrt> {
    let exts = &common.extensions;
    let mut coded_lst = false;
    for category in &common.categories {
        only_systems(cx, category, &[codes::SCT, codes::CONSENT_CATEGORY]);
        let _ = category.pick(cx, codes::CONSENT_CATEGORY, &[(codes::category::ACD, ())]);
        let found = category.pick(
            cx,
            codes::SCT,
            &[
                (codes::HAS_ADRT.code, false),
                (codes::ADRT_REFUSES_LST.code, true),
            ],
        );
        coded_lst |= found == Some(true);
    }
    let refuses_lst = match single(cx, exts, codes::ADRT_REFUSES_LST_EXTENSION) {
        Some(e) => {
            let value = e.boolean(cx);
            if value == Some(false) && coded_lst {
                cx.error(
                    "invariant",
                    at(&e.path, "value"),
                    "the category says this ADRT refuses life-sustaining treatment; the extension says it does not",
                );
            }
            value
        }
        None => Some(coded_lst),
    };
    let witnessed =
        single(cx, exts, codes::ADRT_WITNESSED_AND_SIGNED_EXTENSION).and_then(|e| e.boolean(cx));
    if !exts
        .iter()
        .any(|e| e.url == codes::ADRT_WITNESSED_AND_SIGNED_EXTENSION)
    {
        cx.required(
            "Consent.extension",
            format!(
                "whether the ADRT is witnessed and signed ({}) is missing",
                codes::ADRT_WITNESSED_AND_SIGNED_EXTENSION
            ),
        );
    }
    let circumstances =
        single(cx, exts, codes::ADRT_CIRCUMSTANCES_EXTENSION).and_then(|e| e.string(cx));
    let status = match status_code(
        cx,
        exts,
        &[
            ("active", AdrtStatus::Active),
            ("withdrawn", AdrtStatus::Withdrawn),
            ("entered-in-error", AdrtStatus::EnteredInError),
        ],
    ) {
        Some(status) => status,
        None => match common.status.as_deref() {
            Some("active") => Some(AdrtStatus::Active),
            Some("inactive") => Some(AdrtStatus::Withdrawn),
            Some("entered-in-error") => Some(AdrtStatus::EnteredInError),
            _ => None,
        },
    };
    let ended = ending(cx, exts);

    let mut refused = Vec::new();
    if let Some(value) = common.provision {
        let base = "Consent.provision";
        let read = provision(cx, base, value);
        absent_list(cx, base, "code", read.code);
        match read.r#type.as_deref() {
            Some("deny") | None => {}
            Some(_) => cx.error(
                "invariant",
                at(base, "type"),
                "an ADRT refuses: its provision is `deny`",
            ),
        }
        for (index, nested) in read.nested.iter().enumerate() {
            let path = at_index(base, "provision", index);
            let inner = provision(cx, &path, nested);
            absent_list(cx, &path, "provision", inner.nested);
            if inner.r#type.as_deref().is_some_and(|t| t != "deny") {
                cx.error(
                    "invariant",
                    at(&path, "type"),
                    "a refused treatment's provision is `deny`",
                );
            }
            if inner.code.is_empty() {
                cx.required(at(&path, "code"), "the refused treatment is missing");
            }
            for (k, code) in inner.code.iter().enumerate() {
                let code_path = at_index(&path, "code", k);
                if k > 0 {
                    cx.not_supported(code_path);
                    continue;
                }
                let concept = concept(cx, &code_path, code);
                refused.extend(coded_text(cx, &concept));
            }
        }
        if read.nested.is_empty() {
            cx.required(
                at(base, "provision"),
                "an ADRT refuses at least one treatment (one nested provision each)",
            );
        }
    }
    Some(Adrt {
        id: decision_id(id),
        status: status?,
        refused_treatments: refused,
        refuses_life_sustaining_treatment: refuses_lst?,
        witnessed_and_signed: witnessed?,
        circumstances,
        document_location: common.source_title,
        date: common.date?,
        ended,
    })
}
