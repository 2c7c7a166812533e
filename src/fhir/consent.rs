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
mod tests {
    use chrono::{DateTime, NaiveDate, Utc};
    use fhirbolt::model::r4::Resource;
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::{PlanContent, PlanEnd, PlanId};
    use crate::fhir::tests::fixture_records;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn clinician(name: &str, registration: &str) -> Value {
        json!({
            "name": name,
            "role": "GP",
            "registration_number": registration,
            "organisation": "Felpersham Medical Centre"
        })
    }

    fn dnacpr(status: &str, date: &str) -> Value {
        let mut decision = json!({
            "status": status,
            "decision": "not-for-cpr",
            "decision_date": date,
            "review": "2027-03-01",
            "decided_by": clinician("Dr Ada Quist", "GMC 7000001"),
            "form_location": "Purple form on the fridge",
            "person_aware": true,
            "family_informed": false,
            "reason": "CPR would not succeed",
            "had_capacity": true,
            "person_involved": true
        });
        if status != "current" {
            decision["ended"] = json!({
                "at": "2026-06-01T10:00:00+01:00",
                "by": "Dr Ben Rowe",
                "reason": format!("{status} for the test")
            });
        }
        decision
    }

    fn content(extra: Value) -> PlanContent {
        let mut plan = json!({
            "consent_to_share": {
                "status": "given",
                "date": "2026-01-10",
                "recorded_by": clinician("Dr Ada Quist", "GMC 7000001")
            },
            "person": {
                "nhs_number": "9994020145",
                "family_name": "Penhaligon",
                "given_names": ["Arthur", "James"],
                "birth_date": "1944-08-30",
                "gender": "male"
            },
            "usual_gp": {
                "practice_name": "Felpersham Medical Centre",
                "practice_ods_code": "Y09872"
            },
            "diagnosis": { "primary": { "text": "Severe heart failure" } }
        });
        if let (Some(plan), Some(extra)) = (plan.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                plan.insert(key.clone(), value.clone());
            }
        }
        serde_json::from_value(plan).unwrap()
    }

    fn record(extra: Value) -> PlanRecord {
        PlanRecord::create(PlanId::new_random(), content(extra), now(), "t").unwrap()
    }

    fn project(record: &PlanRecord) -> (PlanIds, Vec<Consent>) {
        let ids = PlanIds::new(record.id);
        let consents = consents(record, &ids);
        (ids, consents)
    }

    fn status(consent: &Consent) -> &str {
        consent.status.value.as_deref().unwrap_or_default()
    }

    fn scope_code(consent: &Consent) -> &str {
        consent.scope.coding[0]
            .code
            .as_ref()
            .and_then(|c| c.value.as_deref())
            .unwrap_or_default()
    }

    fn category_codes(consent: &Consent) -> Vec<String> {
        consent
            .category
            .iter()
            .flat_map(|c| c.coding.iter())
            .filter_map(|c| c.code.as_ref().and_then(|c| c.value.clone()))
            .collect()
    }

    fn provision_type(consent: &Consent) -> &str {
        consent
            .provision
            .as_ref()
            .and_then(|p| p.r#type.as_ref())
            .and_then(|t| t.value.as_deref())
            .unwrap_or_default()
    }

    fn ext<'a>(extensions: &'a [Extension], url: &str) -> Option<&'a Extension> {
        extensions.iter().find(|e| e.url == url)
    }

    fn div(consent: &Consent) -> String {
        consent.text.as_ref().unwrap().div.value.clone()
    }

    fn treatment_consents(consents: &[Consent]) -> Vec<&Consent> {
        consents
            .iter()
            .filter(|c| scope_code(c) == "treatment")
            .collect()
    }

    #[test]
    fn current_dnacpr_is_active_deny_with_dnr_and_its_decider() {
        let record =
            record(json!({ "resuscitation_decisions": [dnacpr("current", "2026-01-10")] }));
        let (ids, consents) = project(&record);
        assert_eq!(consents.len(), 2);
        let cpr = treatment_consents(&consents);
        assert_eq!(cpr.len(), 1);
        let cpr = cpr[0];
        let decision = &record.plan.resuscitation_decisions[0];
        assert_eq!(
            cpr.id.as_ref().unwrap().value.as_deref(),
            Some(ids.cpr_decision(decision.id.unwrap()).as_str())
        );
        assert_eq!(status(cpr), "active");
        assert_eq!(provision_type(cpr), "deny");
        let provision = cpr.provision.as_ref().unwrap();
        assert_eq!(
            provision.code[0].coding[0]
                .code
                .as_ref()
                .unwrap()
                .value
                .as_deref(),
            Some("89666000")
        );
        let categories = category_codes(cpr);
        assert!(categories.contains(&"450476008".to_owned()));
        assert!(categories.contains(&"dnr".to_owned()));
        assert!(!categories.contains(&"450475007".to_owned()));
        let performer = &cpr.performer[0];
        let expected = format!(
            "Practitioner/{}",
            ids.practitioner("Dr Ada Quist", Some("GMC 7000001"))
        );
        assert_eq!(
            performer.reference.as_ref().unwrap().value.as_deref(),
            Some(expected.as_str())
        );
        assert_eq!(
            performer.display.as_ref().unwrap().value.as_deref(),
            Some("Dr Ada Quist")
        );
        assert_eq!(
            cpr.date_time.as_ref().unwrap().value.as_deref(),
            Some("2026-01-10")
        );
        match &cpr.source {
            Some(ConsentSource::Attachment(a)) => {
                assert_eq!(
                    a.title.as_ref().unwrap().value.as_deref(),
                    Some("Purple form on the fridge")
                )
            }
            other => panic!("no source attachment: {other:?}"),
        }
        assert!(ext(&cpr.extension, ext::REVIEW_DATE).is_some());
        assert!(ext(&cpr.extension, ext::DECISION_ENDED).is_none());
        let text = div(cpr);
        assert!(
            text.contains("NOT for attempted CPR (DNACPR) — current decision"),
            "{text}"
        );
        for needle in [
            "2026-01-10",
            "2027-03-01",
            "Dr Ada Quist",
            "GMC 7000001",
            "Purple form on the fridge",
            "CPR would not succeed",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn for_cpr_is_permit_without_dnr() {
        let mut decision = dnacpr("current", "2026-01-10");
        decision["decision"] = json!("for-cpr");
        decision["review"] = json!("indefinite");
        let record = record(json!({ "resuscitation_decisions": [decision] }));
        let (_, consents) = project(&record);
        let cpr = treatment_consents(&consents)[0];
        assert_eq!(status(cpr), "active");
        assert_eq!(provision_type(cpr), "permit");
        let categories = category_codes(cpr);
        assert!(categories.contains(&"450475007".to_owned()));
        assert!(!categories.contains(&"450476008".to_owned()));
        assert!(!categories.contains(&"dnr".to_owned()));
        assert!(ext(&cpr.extension, ext::REVIEW_DATE).is_none());
        assert!(ext(&cpr.extension, ext::REVIEW_INDEFINITE).is_some());
        assert!(div(cpr).contains("FOR attempted CPR — current decision"));
        assert!(div(cpr).contains("indefinite"));
    }

    #[test]
    fn superseded_and_revoked_decisions_are_inactive_history_h1() {
        let record = record(json!({ "resuscitation_decisions": [
            dnacpr("superseded", "2025-01-10"),
            dnacpr("revoked", "2025-06-10"),
            dnacpr("current", "2026-01-10"),
        ] }));
        let (_, consents) = project(&record);
        let cpr = treatment_consents(&consents);
        assert_eq!(cpr.len(), 3, "ended decisions stay visible, in plan order");
        assert_eq!(
            cpr.iter().map(|c| status(c)).collect::<Vec<_>>(),
            ["inactive", "inactive", "active"]
        );
        for (consent, word) in cpr[..2]
            .iter()
            .zip(["SUPERSEDED, not current", "REVOKED, not current"])
        {
            let ended = ext(&consent.extension, ext::DECISION_ENDED).expect("ended extension");
            let parts: Vec<&str> = ended.extension.iter().map(|e| e.url.as_str()).collect();
            assert_eq!(parts, ["by", "reason", "at"]);
            assert!(div(consent).contains(word), "{}", div(consent));
            assert!(div(consent).contains("Dr Ben Rowe"));
            assert!(!div(consent).contains("current decision"));
        }
    }

    #[test]
    fn a_revoked_plan_makes_its_current_decisions_inactive_h1() {
        let adrt = json!({
            "refused_treatments": [{ "text": "Antibiotics", "snomed": "281789004" }],
            "refuses_life_sustaining_treatment": false,
            "witnessed_and_signed": false,
            "date": "2026-01-10"
        });
        let active = record(
            json!({ "resuscitation_decisions": [dnacpr("current", "2026-01-10")], "adrts": [adrt] }),
        );
        let revoked = active
            .end(PlanEnd::Revoke, "moved away", now(), "t")
            .unwrap();
        let (_, consents) = project(&revoked);
        assert_eq!(consents.len(), 3);
        assert!(
            consents.iter().all(|c| status(c) == "inactive"),
            "{consents:?}"
        );
        let cpr = treatment_consents(&consents)[0];
        assert!(div(cpr).contains("PLAN REVOKED, not current"));
        assert!(div(cpr).contains("moved away"));
        let status_ext = ext(&cpr.extension, codes::DECISION_STATUS_EXTENSION).unwrap();
        assert!(
            matches!(&status_ext.value, Some(ExtensionValue::Code(c)) if c.value.as_deref() == Some("current"))
        );
    }

    #[test]
    fn entered_in_error_decision_or_plan_is_entered_in_error() {
        let record1 = record(json!({ "resuscitation_decisions": [
            dnacpr("entered-in-error", "2025-01-10"),
            dnacpr("current", "2026-01-10"),
        ] }));
        let (_, consents) = project(&record1);
        let cpr = treatment_consents(&consents);
        assert_eq!(status(cpr[0]), "entered-in-error");
        assert!(div(cpr[0]).contains("ENTERED IN ERROR"));
        assert_eq!(status(cpr[1]), "active");

        let wrong = record1
            .end(PlanEnd::EnteredInError, "wrong person", now(), "t")
            .unwrap();
        let (_, consents) = project(&wrong);
        assert!(
            consents.iter().all(|c| status(c) == "entered-in-error"),
            "{consents:?}"
        );
    }

    #[test]
    fn no_decisions_no_treatment_consent_h2() {
        let record = record(json!({}));
        let (ids, consents) = project(&record);
        assert_eq!(consents.len(), 1);
        assert!(treatment_consents(&consents).is_empty());
        let share = &consents[0];
        assert_eq!(
            share.id.as_ref().unwrap().value.as_deref(),
            Some(ids.consent_to_share().as_str())
        );
        assert_eq!(scope_code(share), "patient-privacy");
        assert_eq!(status(share), "active");
        assert_eq!(provision_type(share), "permit");
        let categories = category_codes(share);
        assert_eq!(categories, ["59284-0", "882921000000109"]);
    }

    #[test]
    fn share_withdrawn_is_deny() {
        let mut plan = content(json!({}));
        plan.consent_to_share.status = ConsentToShareStatus::Withdrawn;
        let record = PlanRecord::create(PlanId::new_random(), plan, now(), "t").unwrap();
        let (ids, consents) = project(&record);
        let share = &consents[0];
        assert_eq!(provision_type(share), "deny");
        assert!(category_codes(share).contains(&"882941000000102".to_owned()));
        assert!(div(share).contains("WITHDRAWN"));
        let expected = format!(
            "Practitioner/{}",
            ids.practitioner("Dr Ada Quist", Some("GMC 7000001"))
        );
        assert_eq!(
            share.performer[0]
                .reference
                .as_ref()
                .unwrap()
                .value
                .as_deref(),
            Some(expected.as_str())
        );
        assert_eq!(
            share.policy[0].uri.as_ref().unwrap().value.as_deref(),
            Some(codes::policy::DATA_PROTECTION_ACT)
        );
    }

    #[test]
    fn adrt_has_one_nested_refusal_per_treatment_and_withdrawn_is_inactive() {
        let record = record(json!({ "adrts": [
            {
                "refused_treatments": [
                    { "text": "Cardiopulmonary resuscitation", "snomed": "89666000" },
                    { "text": "Tube feeding" }
                ],
                "refuses_life_sustaining_treatment": true,
                "witnessed_and_signed": true,
                "circumstances": "If my cancer progresses",
                "document_location": "Bureau drawer",
                "date": "2026-01-10"
            },
            {
                "status": "withdrawn",
                "refused_treatments": [{ "text": "Antibiotics", "snomed": "281789004" }],
                "refuses_life_sustaining_treatment": false,
                "witnessed_and_signed": false,
                "date": "2025-01-10",
                "ended": { "at": "2026-01-10T09:00:00Z", "by": "Dr Ben Rowe", "reason": "Changed her mind" }
            }
        ] }));
        let (ids, consents) = project(&record);
        assert_eq!(consents.len(), 3);
        let (first, second) = (&consents[1], &consents[2]);
        assert_eq!(
            first.id.as_ref().unwrap().value.as_deref(),
            Some(ids.adrt(record.plan.adrts[0].id.unwrap()).as_str())
        );
        assert_eq!(scope_code(first), "adr");
        assert_eq!(status(first), "active");
        assert_eq!(
            category_codes(first),
            ["acd", "816301000000100", "816321000000109"]
        );
        assert_eq!(provision_type(first), "deny");
        let nested = &first.provision.as_ref().unwrap().provision;
        assert_eq!(nested.len(), 2);
        assert!(nested
            .iter()
            .all(|p| p.r#type.as_ref().unwrap().value.as_deref() == Some("deny")));
        assert_eq!(
            nested[0].code[0].coding[0]
                .code
                .as_ref()
                .unwrap()
                .value
                .as_deref(),
            Some("89666000")
        );
        assert!(nested[1].code[0].coding.is_empty());
        assert_eq!(
            nested[1].code[0].text.as_ref().unwrap().value.as_deref(),
            Some("Tube feeding")
        );
        let text = div(first);
        for needle in [
            "LIFE-SUSTAINING",
            "in force",
            "Cardiopulmonary resuscitation",
            "Tube feeding",
            "If my cancer progresses",
            "Bureau drawer",
            "Witnessed and signed",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        assert_eq!(status(second), "inactive");
        assert_eq!(category_codes(second), ["acd", "816301000000100"]);
        assert!(ext(&second.extension, ext::DECISION_ENDED).is_some());
        assert!(div(second).contains("WITHDRAWN, not in force"));
        assert!(div(second).contains("Changed her mind"));
    }

    fn no_empty_arrays(value: &Value, path: &str) {
        match value {
            Value::Array(items) => {
                assert!(!items.is_empty(), "empty array at {path}");
                for (i, item) in items.iter().enumerate() {
                    no_empty_arrays(item, &format!("{path}[{i}]"));
                }
            }
            Value::Object(map) => {
                assert!(!map.is_empty(), "empty object at {path}");
                for (key, inner) in map {
                    no_empty_arrays(inner, &format!("{path}.{key}"));
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_fixture_consent_is_well_formed() {
        for (name, record) in fixture_records() {
            let (ids, consents) = project(&record);
            let plan = &record.plan;
            assert_eq!(
                consents.len(),
                1 + plan.resuscitation_decisions.len() + plan.adrts.len(),
                "{name}"
            );
            let scopes: Vec<&str> = consents.iter().map(scope_code).collect();
            let mut expected = vec!["patient-privacy"];
            expected.extend(plan.resuscitation_decisions.iter().map(|_| "treatment"));
            expected.extend(plan.adrts.iter().map(|_| "adr"));
            assert_eq!(scopes, expected, "{name}: order");
            let active_cpr = treatment_consents(&consents)
                .iter()
                .filter(|c| status(c) == "active")
                .count();
            let expected_active = usize::from(matches!(
                record.resuscitation_status(),
                ResuscitationStatus::Decided(_)
            ));
            assert_eq!(active_cpr, expected_active, "{name}: H1");
            for consent in consents {
                let at = format!("{name}: {:?}", consent.id);
                assert!(
                    !consent.policy.is_empty() && consent.policy[0].uri.is_some(),
                    "{at}: ppc-1"
                );
                let patient = consent.patient.as_ref().expect("patient");
                assert_eq!(
                    patient.reference.as_ref().unwrap().value,
                    Some(format!("Patient/{}", ids.patient())),
                    "{at}"
                );
                assert!(patient.display.is_some(), "{at}");
                assert!(
                    consent.date_time.is_some() && consent.provision.is_some(),
                    "{at}"
                );
                let json = crate::fhir::to_json(&Resource::Consent(Box::new(consent))).unwrap();
                assert_eq!(json["resourceType"], "Consent", "{at}");
                assert_eq!(
                    json["meta"]["versionId"],
                    record.version.to_string(),
                    "{at}"
                );
                no_empty_arrays(&json, &at);
            }
        }
    }

    // A test-only inverse: every field of a recorded decision can be read back from its Consent.

    fn string_of(e: &Extension) -> Option<String> {
        match &e.value {
            Some(ExtensionValue::String(s)) => s.value.clone(),
            Some(ExtensionValue::Code(s)) => s.value.clone(),
            Some(ExtensionValue::Date(s)) => s.value.clone(),
            Some(ExtensionValue::DateTime(s)) => s.value.clone(),
            _ => None,
        }
    }

    fn bool_of(e: &Extension) -> Option<bool> {
        match &e.value {
            Some(ExtensionValue::Boolean(b)) => b.value,
            _ => None,
        }
    }

    fn sub_bool(parent: Option<&Extension>, url: &str) -> Option<bool> {
        parent
            .and_then(|p| ext(&p.extension, url))
            .and_then(bool_of)
    }

    fn sub_string(parent: Option<&Extension>, url: &str) -> Option<String> {
        parent
            .and_then(|p| ext(&p.extension, url))
            .and_then(string_of)
    }

    fn ending_of(extensions: &[Extension]) -> Option<Ending> {
        let ended = ext(extensions, ext::DECISION_ENDED)?;
        Some(Ending {
            at: sub_string(Some(ended), "at").map(|at| DateTime::parse_from_rfc3339(&at).unwrap()),
            by: sub_string(Some(ended), "by").unwrap(),
            reason: sub_string(Some(ended), "reason").unwrap(),
        })
    }

    fn source_title(consent: &Consent) -> Option<String> {
        match &consent.source {
            Some(ConsentSource::Attachment(a)) => a.title.as_ref().and_then(|t| t.value.clone()),
            _ => None,
        }
    }

    fn date_of(value: Option<String>) -> NaiveDate {
        NaiveDate::parse_from_str(&value.unwrap(), "%Y-%m-%d").unwrap()
    }

    fn rebuild_decision(consent: &Consent) -> ResuscitationDecision {
        let e = &consent.extension;
        let performer = &consent.performer[0];
        let details = ext(&performer.extension, codes::CLINICIAN_DETAILS_EXTENSION);
        let status = match string_of(ext(e, codes::DECISION_STATUS_EXTENSION).unwrap()).as_deref() {
            Some("current") => DecisionStatus::Current,
            Some("superseded") => DecisionStatus::Superseded,
            Some("revoked") => DecisionStatus::Revoked,
            _ => DecisionStatus::EnteredInError,
        };
        let awareness = ext(e, ext::DECISION_AWARENESS);
        let capacity = ext(e, ext::DECISION_CAPACITY);
        ResuscitationDecision {
            id: consent
                .id
                .as_ref()
                .and_then(|i| i.value.as_deref())
                .map(|i| crate::domain::DecisionId::parse(i).unwrap()),
            status,
            decision: if category_codes(consent).contains(&"450476008".to_owned()) {
                CprDecision::NotForCpr
            } else {
                CprDecision::ForCpr
            },
            decision_date: date_of(consent.date_time.as_ref().and_then(|d| d.value.clone())),
            review: match ext(e, ext::REVIEW_DATE) {
                Some(due) => ReviewDue::On(date_of(string_of(due))),
                None => {
                    assert_eq!(ext(e, ext::REVIEW_INDEFINITE).and_then(bool_of), Some(true));
                    ReviewDue::Indefinite
                }
            },
            decided_by: Clinician {
                name: performer
                    .display
                    .as_ref()
                    .and_then(|d| d.value.clone())
                    .unwrap(),
                role: sub_string(details, "role"),
                registration_number: sub_string(details, "registration-number"),
                organisation: sub_string(details, "organisation"),
            },
            form_location: source_title(consent),
            person_aware: sub_bool(awareness, "person-aware"),
            family_informed: sub_bool(awareness, "family-informed"),
            reason: ext(e, codes::DECISION_REASON_EXTENSION).and_then(string_of),
            had_capacity: sub_bool(capacity, "had-capacity"),
            person_involved: sub_bool(capacity, "person-involved"),
            ended: ending_of(e),
        }
    }

    fn rebuild_adrt(consent: &Consent) -> Adrt {
        let e = &consent.extension;
        let status = match string_of(ext(e, codes::DECISION_STATUS_EXTENSION).unwrap()).as_deref() {
            Some("active") => AdrtStatus::Active,
            Some("withdrawn") => AdrtStatus::Withdrawn,
            _ => AdrtStatus::EnteredInError,
        };
        Adrt {
            id: consent
                .id
                .as_ref()
                .and_then(|i| i.value.as_deref())
                .map(|i| crate::domain::DecisionId::parse(i).unwrap()),
            status,
            refused_treatments: consent
                .provision
                .as_ref()
                .unwrap()
                .provision
                .iter()
                .map(|p| crate::domain::CodedText {
                    text: p.code[0]
                        .text
                        .as_ref()
                        .and_then(|t| t.value.clone())
                        .unwrap(),
                    snomed: p.code[0].coding.first().map(|c| {
                        crate::domain::SnomedCode::parse(
                            c.code.as_ref().unwrap().value.as_deref().unwrap(),
                        )
                        .unwrap()
                    }),
                })
                .collect(),
            refuses_life_sustaining_treatment: ext(e, codes::ADRT_REFUSES_LST_EXTENSION)
                .and_then(bool_of)
                .unwrap(),
            witnessed_and_signed: ext(e, codes::ADRT_WITNESSED_AND_SIGNED_EXTENSION)
                .and_then(bool_of)
                .unwrap(),
            circumstances: ext(e, codes::ADRT_CIRCUMSTANCES_EXTENSION).and_then(string_of),
            document_location: source_title(consent),
            date: date_of(consent.date_time.as_ref().and_then(|d| d.value.clone())),
            ended: ending_of(e),
        }
    }

    #[test]
    fn every_decision_field_can_be_read_back() {
        for (name, record) in fixture_records() {
            let (_, consents) = project(&record);
            let plan = &record.plan;
            let cpr = &consents[1..1 + plan.resuscitation_decisions.len()];
            for (consent, decision) in cpr.iter().zip(&plan.resuscitation_decisions) {
                assert_eq!(&rebuild_decision(consent), decision, "{name}");
            }
            let adrts = &consents[1 + plan.resuscitation_decisions.len()..];
            for (consent, adrt) in adrts.iter().zip(&plan.adrts) {
                assert_eq!(&rebuild_adrt(consent), adrt, "{name}");
            }
        }
    }
}
