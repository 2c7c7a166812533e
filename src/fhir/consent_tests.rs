//! Tests of `consent.rs`.

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
    let record = record(json!({ "resuscitation_decisions": [dnacpr("current", "2026-01-10")] }));
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
