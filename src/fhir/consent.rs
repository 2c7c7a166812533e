//! Consent: the consent to share, every CPR decision and every ADRT of the plan (domain.md §4).
//!
//! Order: consent to share, then CPR decisions in plan order, then ADRTs in plan order. Ended
//! decisions stay in the projection as history, never as current (H1): a Consent is `active`
//! only when the decision itself is in force and the plan is the person's plan of record (and,
//! for a CPR decision, it is the one current decision). Every field of a recorded decision is
//! carried by an element or an extension, so the inverse mapping can rebuild it exactly; the
//! decision's own status is kept in an extension because `Consent.status` also reflects the plan.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use fhirbolt::model::r4::resources::{Consent, ConsentPolicy, ConsentProvision, ConsentSource};
use fhirbolt::model::r4::types::{
    Attachment, CodeableConcept, Coding, Extension, ExtensionValue, Reference,
};

use super::codes::{self, extension as ext, profile, Concept};
use super::ids::PlanIds;
use super::support;
use crate::domain::{
    Adrt, AdrtStatus, Clinician, ConsentToShareStatus, CprDecision, DecisionStatus, Ending,
    PlanRecord, PlanStatus, ResuscitationDecision, ResuscitationStatus, ReviewDue,
};

const SCOPE_TREATMENT_DISPLAY: &str = "Treatment";
const SCOPE_ADR_DISPLAY: &str = "Advanced Care Directive";
const SCOPE_PRIVACY_DISPLAY: &str = "Privacy Consent";
const CATEGORY_DNR_DISPLAY: &str = "Do Not Resuscitate";
const CATEGORY_ACD_DISPLAY: &str = "Advance Directive";
const PATIENT_CONSENT_DISPLAY: &str = "Patient consent";

/// Projects the plan's Consent resources: consent to share, CPR decisions, ADRTs.
pub fn consents(record: &PlanRecord, ids: &PlanIds) -> Vec<Consent> {
    let plan = &record.plan;
    let mut all = Vec::with_capacity(1 + plan.resuscitation_decisions.len() + plan.adrts.len());
    all.push(share_consent(record, ids));
    all.extend(
        plan.resuscitation_decisions
            .iter()
            .filter_map(|decision| cpr_consent(record, ids, decision)),
    );
    all.extend(
        plan.adrts
            .iter()
            .filter_map(|adrt| adrt_consent(record, ids, adrt)),
    );
    all
}

/// The ids of [`consents`], in the same order, without building the resources: consent to
/// share, then each CPR decision and ADRT that has an id.
pub(crate) fn consent_ids(record: &PlanRecord, ids: &PlanIds) -> Vec<String> {
    let plan = &record.plan;
    std::iter::once(ids.consent_to_share())
        .chain(
            plan.resuscitation_decisions
                .iter()
                .filter_map(|decision| decision.id.map(|id| ids.cpr_decision(id))),
        )
        .chain(
            plan.adrts
                .iter()
                .filter_map(|adrt| adrt.id.map(|id| ids.adrt(id))),
        )
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

fn patient_name(record: &PlanRecord) -> String {
    let person = &record.plan.person;
    let mut parts: Vec<&str> = person.given_names.iter().map(String::as_str).collect();
    parts.push(&person.family_name);
    parts.join(" ")
}

fn patient_reference(record: &PlanRecord, ids: &PlanIds) -> Box<Reference> {
    Box::new(support::reference(
        "Patient",
        &ids.patient(),
        Some(&patient_name(record)),
    ))
}

fn policy(uri: &str) -> Vec<ConsentPolicy> {
    vec![ConsentPolicy {
        uri: Some(uri.into()),
        ..Default::default()
    }]
}

fn scope(code: &str, display: &str) -> Box<CodeableConcept> {
    Box::new(support::concept_of(
        vec![support::coding_of(
            codes::CONSENT_SCOPE,
            code,
            Some(display),
        )],
        None,
    ))
}

fn category_code(code: &str, display: &str) -> CodeableConcept {
    support::concept_of(
        vec![support::coding_of(
            codes::CONSENT_CATEGORY,
            code,
            Some(display),
        )],
        None,
    )
}

fn sct_category(concept: Concept, text: &str) -> CodeableConcept {
    support::concept_of(vec![support::coding(concept)], Some(text))
}

fn string_ext(url: &str, value: &str) -> Extension {
    support::extension(url, ExtensionValue::String(value.into()))
}

fn bool_ext(url: &str, value: bool) -> Extension {
    support::extension(url, ExtensionValue::Boolean(value.into()))
}

fn code_ext(url: &str, value: &str) -> Extension {
    support::extension(url, ExtensionValue::Code(value.into()))
}

/// A complex extension, or nothing when no part is known (ext-1: never an empty extension).
fn complex_if_any(url: &str, parts: Vec<Extension>) -> Option<Extension> {
    (!parts.is_empty()).then(|| support::complex_extension(url, parts))
}

/// Sub-extensions for the known booleans among `parts`.
fn known_booleans(parts: &[(&str, Option<bool>)]) -> Vec<Extension> {
    parts
        .iter()
        .filter_map(|(url, value)| value.map(|v| bool_ext(url, v)))
        .collect()
}

/// A date-time keeping its precision and its offset (H6).
fn date_time(value: &DateTime<FixedOffset>) -> String {
    value.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

fn ended_extension(ending: &Ending) -> Extension {
    let mut parts = vec![
        string_ext("by", &ending.by),
        string_ext("reason", &ending.reason),
    ];
    if let Some(at) = &ending.at {
        parts.push(support::extension(
            "at",
            ExtensionValue::DateTime(date_time(at).into()),
        ));
    }
    support::complex_extension(ext::DECISION_ENDED, parts)
}

fn ended_rows(ending: &Ending, rows: &mut Vec<(&str, String)>) {
    rows.push(("Ended by", ending.by.clone()));
    rows.push((
        "Ended at",
        ending
            .at
            .as_ref()
            .map_or_else(|| "not recorded".to_owned(), date_time),
    ));
    rows.push(("Why it ended", ending.reason.clone()));
}

/// The Practitioner reference for a clinician, with the role, registration number and
/// organisation as recorded here (the Practitioner is shared by every role the person has).
fn clinician_reference(ids: &PlanIds, clinician: &Clinician) -> Reference {
    let mut reference = support::reference(
        "Practitioner",
        &ids.practitioner(&clinician.name, clinician.registration_number.as_deref()),
        Some(&clinician.name),
    );
    let details: Vec<Extension> = [
        ("role", clinician.role.as_deref()),
        (
            "registration-number",
            clinician.registration_number.as_deref(),
        ),
        ("organisation", clinician.organisation.as_deref()),
    ]
    .into_iter()
    .filter_map(|(url, value)| value.map(|v| string_ext(url, v)))
    .collect();
    reference.extension = complex_if_any(codes::CLINICIAN_DETAILS_EXTENSION, details)
        .into_iter()
        .collect();
    reference
}

/// "Dr A (GP), registration GMC 1, Some Practice".
fn clinician_text(clinician: &Clinician) -> String {
    let mut text = clinician.name.clone();
    if let Some(role) = &clinician.role {
        text.push_str(&format!(" ({role})"));
    }
    match &clinician.registration_number {
        Some(number) => text.push_str(&format!(", registration {number}")),
        None => text.push_str(", registration number not recorded"),
    }
    if let Some(organisation) = &clinician.organisation {
        text.push_str(&format!(", {organisation}"));
    }
    text
}

fn or_not_recorded(value: Option<&str>) -> String {
    value.map_or_else(|| "not recorded".to_owned(), str::to_owned)
}

fn source_attachment(title: Option<&str>) -> Option<ConsentSource> {
    title.map(|title| {
        ConsentSource::Attachment(Box::new(Attachment {
            title: Some(title.into()),
            ..Default::default()
        }))
    })
}

/// The plan's status as a narrative row, when it is not simply active.
fn plan_status_row(record: &PlanRecord, rows: &mut Vec<(&str, String)>) {
    let text = match record.status {
        PlanStatus::Active => return,
        PlanStatus::Completed => "completed (the person has died)".to_owned(),
        PlanStatus::Revoked => "REVOKED: nothing in this plan is current".to_owned(),
        PlanStatus::EnteredInError => {
            "ENTERED IN ERROR: nothing in this plan applies to this person".to_owned()
        }
    };
    rows.push(("Plan status", text));
    if let Some(reason) = &record.status_reason {
        rows.push(("Why the plan ended", reason.clone()));
    }
}

// ---------------------------------------------------------------------------------------------
// Consent to share

fn share_consent(record: &PlanRecord, ids: &PlanIds) -> Consent {
    let share = &record.plan.consent_to_share;
    let (concept, label, permit) = match share.status {
        ConsentToShareStatus::Given => (codes::SHARE_GIVEN, "Consent to share GIVEN", true),
        ConsentToShareStatus::Withdrawn => (
            codes::SHARE_WITHDRAWN,
            "Consent to share WITHDRAWN: do not share this record",
            false,
        ),
        ConsentToShareStatus::GivenInBestInterests => (
            codes::SHARE_BEST_INTERESTS,
            "Shared in the person's best interests (Mental Capacity Act 2005)",
            true,
        ),
        ConsentToShareStatus::GivenByLpa => (
            codes::SHARE_BY_LPA,
            "Consent to share given by a personal welfare lasting power of attorney",
            true,
        ),
    };
    let status = match record.status {
        PlanStatus::Active | PlanStatus::Completed => "active",
        PlanStatus::Revoked => "inactive",
        PlanStatus::EnteredInError => "entered-in-error",
    };
    let heading = match record.status {
        PlanStatus::Active | PlanStatus::Completed => label.to_owned(),
        PlanStatus::Revoked => format!("{label} (PLAN REVOKED, not current)"),
        PlanStatus::EnteredInError => format!("{label} (PLAN ENTERED IN ERROR)"),
    };
    let mut rows = vec![
        ("Consent status", concept.display.to_owned()),
        ("Date", support::date(share.date)),
        ("Recorded by", clinician_text(&share.recorded_by)),
    ];
    plan_status_row(record, &mut rows);
    Consent {
        id: Some(ids.consent_to_share().into()),
        meta: Some(support::meta(record, profile::SHARE_CONSENT)),
        text: Some(support::narrative(&heading, &rows)),
        status: status.into(),
        scope: scope(codes::scope::PATIENT_PRIVACY, SCOPE_PRIVACY_DISPLAY),
        category: vec![
            support::concept_of(
                vec![support::coding_of(
                    codes::LOINC,
                    codes::loinc::PATIENT_CONSENT,
                    Some(PATIENT_CONSENT_DISPLAY),
                )],
                None,
            ),
            sct_category(concept, label),
        ],
        patient: Some(patient_reference(record, ids)),
        date_time: Some(support::date(share.date).into()),
        performer: vec![clinician_reference(ids, &share.recorded_by)],
        policy: policy(codes::policy::DATA_PROTECTION_ACT),
        provision: Some(ConsentProvision {
            r#type: Some(if permit { "permit" } else { "deny" }.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// CPR decisions

fn decision_status_code(status: DecisionStatus) -> &'static str {
    match status {
        DecisionStatus::Current => "current",
        DecisionStatus::Superseded => "superseded",
        DecisionStatus::Revoked => "revoked",
        DecisionStatus::EnteredInError => "entered-in-error",
    }
}

/// `Consent.status` and the narrative's state for one CPR decision (H1): the decision's own
/// status first, then the plan's, then "is it the one current decision".
fn cpr_state(
    record: &PlanRecord,
    decision: &ResuscitationDecision,
) -> (&'static str, &'static str) {
    match (decision.status, record.status) {
        (DecisionStatus::EnteredInError, _) => {
            ("entered-in-error", "ENTERED IN ERROR, not a valid decision")
        }
        (_, PlanStatus::EnteredInError) => (
            "entered-in-error",
            "PLAN ENTERED IN ERROR, not a valid decision",
        ),
        (DecisionStatus::Superseded, _) => ("inactive", "SUPERSEDED, not current"),
        (DecisionStatus::Revoked, _) => ("inactive", "REVOKED, not current"),
        (DecisionStatus::Current, PlanStatus::Revoked) => ("inactive", "PLAN REVOKED, not current"),
        (DecisionStatus::Current, PlanStatus::Active | PlanStatus::Completed) => {
            match record.resuscitation_status() {
                ResuscitationStatus::Decided(current) if current.id == decision.id => {
                    ("active", "current decision")
                }
                // More than one decision marked current (validation keeps this from being
                // stored): present none of them as current.
                _ => (
                    "inactive",
                    "NOT CONFIRMED as current: more than one decision is marked current; check the original forms",
                ),
            }
        }
    }
}

fn cpr_consent(
    record: &PlanRecord,
    ids: &PlanIds,
    decision: &ResuscitationDecision,
) -> Option<Consent> {
    let id = decision.id?;
    let (status, state) = cpr_state(record, decision);
    let (label, category, provision_type) = match decision.decision {
        CprDecision::NotForCpr => (
            "NOT for attempted CPR (DNACPR)",
            vec![
                sct_category(codes::NOT_FOR_CPR, "Not for attempted CPR (DNACPR)"),
                category_code(codes::category::DNR, CATEGORY_DNR_DISPLAY),
            ],
            "deny",
        ),
        CprDecision::ForCpr => (
            "FOR attempted CPR",
            vec![sct_category(codes::FOR_CPR, "For attempted CPR")],
            "permit",
        ),
    };

    let mut extension = vec![code_ext(
        codes::DECISION_STATUS_EXTENSION,
        decision_status_code(decision.status),
    )];
    extension.push(match decision.review {
        ReviewDue::On(due) => support::extension(
            ext::REVIEW_DATE,
            ExtensionValue::Date(support::date(due).into()),
        ),
        ReviewDue::Indefinite => bool_ext(ext::REVIEW_INDEFINITE, true),
    });
    extension.extend(complex_if_any(
        ext::DECISION_AWARENESS,
        known_booleans(&[
            ("person-aware", decision.person_aware),
            ("family-informed", decision.family_informed),
        ]),
    ));
    extension.extend(complex_if_any(
        ext::DECISION_CAPACITY,
        known_booleans(&[
            ("had-capacity", decision.had_capacity),
            ("person-involved", decision.person_involved),
        ]),
    ));
    if let Some(reason) = &decision.reason {
        extension.push(string_ext(codes::DECISION_REASON_EXTENSION, reason));
    }
    if let Some(ending) = &decision.ended {
        extension.push(ended_extension(ending));
    }

    let mut rows = vec![
        ("Decision", label.to_owned()),
        ("Status", state.to_owned()),
        ("Decision date", support::date(decision.decision_date)),
        (
            "Review date",
            match decision.review {
                ReviewDue::On(due) => support::date(due),
                ReviewDue::Indefinite => "indefinite (stands until changed)".to_owned(),
            },
        ),
        ("Decided by", clinician_text(&decision.decided_by)),
        (
            "Original form",
            or_not_recorded(decision.form_location.as_deref()),
        ),
        ("Person aware", support::yes_no(decision.person_aware)),
        ("Family informed", support::yes_no(decision.family_informed)),
        ("Reason", or_not_recorded(decision.reason.as_deref())),
        (
            "Person had capacity",
            support::yes_no(decision.had_capacity),
        ),
        ("Person involved", support::yes_no(decision.person_involved)),
    ];
    if let Some(ending) = &decision.ended {
        ended_rows(ending, &mut rows);
    }
    plan_status_row(record, &mut rows);

    Some(Consent {
        id: Some(ids.cpr_decision(id).into()),
        meta: Some(support::meta(record, profile::CPR_CONSENT)),
        text: Some(support::narrative(&format!("{label} — {state}"), &rows)),
        extension,
        status: status.into(),
        scope: scope(codes::scope::TREATMENT, SCOPE_TREATMENT_DISPLAY),
        category,
        patient: Some(patient_reference(record, ids)),
        date_time: Some(support::date(decision.decision_date).into()),
        performer: vec![clinician_reference(ids, &decision.decided_by)],
        source: source_attachment(decision.form_location.as_deref()),
        policy: policy(codes::policy::MENTAL_CAPACITY_ACT),
        provision: Some(ConsentProvision {
            r#type: Some(provision_type.into()),
            code: vec![support::concept(codes::CPR_PROCEDURE)],
            ..Default::default()
        }),
        ..Default::default()
    })
}

// ---------------------------------------------------------------------------------------------
// ADRTs

fn adrt_status_code(status: AdrtStatus) -> &'static str {
    match status {
        AdrtStatus::Active => "active",
        AdrtStatus::Withdrawn => "withdrawn",
        AdrtStatus::EnteredInError => "entered-in-error",
    }
}

fn adrt_state(record: &PlanRecord, adrt: &Adrt) -> (&'static str, &'static str) {
    match (adrt.status, record.status) {
        (AdrtStatus::EnteredInError, _) => ("entered-in-error", "ENTERED IN ERROR, not valid"),
        (_, PlanStatus::EnteredInError) => ("entered-in-error", "PLAN ENTERED IN ERROR, not valid"),
        (AdrtStatus::Withdrawn, _) => ("inactive", "WITHDRAWN, not in force"),
        (AdrtStatus::Active, PlanStatus::Revoked) => ("inactive", "PLAN REVOKED, not current"),
        (AdrtStatus::Active, PlanStatus::Active | PlanStatus::Completed) => ("active", "in force"),
    }
}

fn adrt_consent(record: &PlanRecord, ids: &PlanIds, adrt: &Adrt) -> Option<Consent> {
    let id = adrt.id?;
    let (status, state) = adrt_state(record, adrt);
    let label = if adrt.refuses_life_sustaining_treatment {
        "Advance decision to refuse treatment (ADRT), including LIFE-SUSTAINING treatment"
    } else {
        "Advance decision to refuse treatment (ADRT)"
    };

    let mut category = vec![
        category_code(codes::category::ACD, CATEGORY_ACD_DISPLAY),
        sct_category(
            codes::HAS_ADRT,
            "Has an advance decision to refuse treatment",
        ),
    ];
    if adrt.refuses_life_sustaining_treatment {
        category.push(sct_category(
            codes::ADRT_REFUSES_LST,
            "Advance decision refuses life-sustaining treatment",
        ));
    }

    let mut extension = vec![
        code_ext(
            codes::DECISION_STATUS_EXTENSION,
            adrt_status_code(adrt.status),
        ),
        bool_ext(
            codes::ADRT_REFUSES_LST_EXTENSION,
            adrt.refuses_life_sustaining_treatment,
        ),
        bool_ext(
            codes::ADRT_WITNESSED_AND_SIGNED_EXTENSION,
            adrt.witnessed_and_signed,
        ),
    ];
    if let Some(circumstances) = &adrt.circumstances {
        extension.push(string_ext(
            codes::ADRT_CIRCUMSTANCES_EXTENSION,
            circumstances,
        ));
    }
    if let Some(ending) = &adrt.ended {
        extension.push(ended_extension(ending));
    }

    let refusals: Vec<ConsentProvision> = adrt
        .refused_treatments
        .iter()
        .map(|treatment| {
            let codings: Vec<Coding> = treatment
                .snomed
                .iter()
                .map(|code| support::coding_of(codes::SCT, code.as_str(), None))
                .collect();
            ConsentProvision {
                r#type: Some("deny".into()),
                code: vec![support::concept_of(codings, Some(&treatment.text))],
                ..Default::default()
            }
        })
        .collect();

    let mut rows: Vec<(&str, String)> = adrt
        .refused_treatments
        .iter()
        .map(|treatment| {
            let text = match &treatment.snomed {
                Some(code) => format!("{} (SNOMED CT {})", treatment.text, code.as_str()),
                None => treatment.text.clone(),
            };
            ("Refuses", text)
        })
        .collect();
    rows.extend([
        ("Status", state.to_owned()),
        (
            "Refuses life-sustaining treatment",
            support::yes_no(Some(adrt.refuses_life_sustaining_treatment)),
        ),
        (
            "Witnessed and signed",
            support::yes_no(Some(adrt.witnessed_and_signed)),
        ),
        (
            "Circumstances",
            or_not_recorded(adrt.circumstances.as_deref()),
        ),
        (
            "Where the document is",
            or_not_recorded(adrt.document_location.as_deref()),
        ),
        ("Date made", support::date(adrt.date)),
    ]);
    if adrt.refuses_life_sustaining_treatment && !adrt.witnessed_and_signed {
        rows.push((
            "Warning",
            "refuses life-sustaining treatment but is not recorded as witnessed and signed"
                .to_owned(),
        ));
    }
    if let Some(ending) = &adrt.ended {
        ended_rows(ending, &mut rows);
    }
    plan_status_row(record, &mut rows);

    Some(Consent {
        id: Some(ids.adrt(id).into()),
        meta: Some(support::meta(record, profile::ADRT_CONSENT)),
        text: Some(support::narrative(&format!("{label} — {state}"), &rows)),
        extension,
        status: status.into(),
        scope: scope(codes::scope::ADR, SCOPE_ADR_DISPLAY),
        category,
        patient: Some(patient_reference(record, ids)),
        date_time: Some(support::date(adrt.date).into()),
        source: source_attachment(adrt.document_location.as_deref()),
        policy: policy(codes::policy::MENTAL_CAPACITY_ACT),
        provision: Some(ConsentProvision {
            r#type: Some("deny".into()),
            provision: refusals,
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[cfg(test)]
#[path = "consent_tests.rs"]
mod tests;
