//! Tests of `care_plan_parts.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::super::tests::{dnacpr, now, record};
use super::*;
use crate::domain::PlanEnd;

fn div(record: &PlanRecord) -> String {
    narrative_of(record).div.value
}

#[test]
fn no_decision_is_said_never_defaulted_h2() {
    let text = div(&record(json!({})));
    assert!(
        text.contains("CPR decision: No decision recorded"),
        "{text}"
    );
    assert!(!text.contains("for attempted CPR"), "{text}");
}

#[test]
fn dnacpr_is_stated_with_its_details() {
    let text = div(&record(json!({ "resuscitation_decisions": [dnacpr()] })));
    assert!(
        text.contains(
            "CPR decision: NOT for attempted CPR (DNACPR), decided 2026-10-15 by Dr Amara \
             Okafor (GP, GMC 7654321), review 2027-01-15, original form: Purple form on the \
             fridge; person aware: yes"
        ),
        "{text}"
    );
    assert!(!text.contains("No decision recorded"));
}

#[test]
fn revoked_or_wrong_plan_says_none_of_its_decisions_stand_h1() {
    let active = record(json!({ "resuscitation_decisions": [dnacpr()] }));
    let revoked = active
        .end(PlanEnd::Revoke, "moved away", now(), "t")
        .unwrap();
    let text = div(&revoked);
    assert!(
        text.contains("This plan is revoked: none of its decisions stand"),
        "{text}"
    );
    assert!(text.contains("moved away"));
    assert!(!text.contains("for attempted CPR"), "{text}");
    let wrong = active
        .end(PlanEnd::EnteredInError, "wrong person", now(), "t")
        .unwrap();
    let text = div(&wrong);
    assert!(text.contains("This plan is entered in error: none of its decisions stand"));
    assert!(!text.contains("for attempted CPR"), "{text}");
}

#[test]
fn an_ended_decision_never_appears_as_current_h1() {
    let record = record(json!({ "resuscitation_decisions": [
        { "status": "superseded", "decision": "not-for-cpr", "decision_date": "2026-01-10",
          "review": "indefinite", "decided_by": { "name": "Dr Old" },
          "form_location": "Old purple form",
          "ended": { "by": "Dr New", "reason": "reviewed with the family" } },
        { "decision": "for-cpr", "decision_date": "2026-06-01", "review": "2027-06-01",
          "decided_by": { "name": "Dr New" } }
    ] }));
    let text = div(&record);
    assert!(text.contains("CPR decision: for attempted CPR, decided 2026-06-01 by Dr New"));
    assert!(!text.contains("NOT for attempted CPR"), "{text}");
    assert!(
        !text.contains("Dr Old") && !text.contains("Old purple form"),
        "{text}"
    );
    assert!(text.contains("1 no longer in force"), "{text}");
    // Only ended decisions: no decision recorded, not the last one ended.
    let only_ended = super::super::tests::record(json!({ "resuscitation_decisions": [
        { "status": "revoked", "decision": "not-for-cpr", "decision_date": "2026-01-10",
          "review": "indefinite", "decided_by": { "name": "Dr Old" },
          "ended": { "by": "Dr New", "reason": "person regained capacity" } }
    ] }));
    let text = div(&only_ended);
    assert!(
        text.contains("CPR decision: No decision recorded"),
        "{text}"
    );
    assert!(!text.contains("for attempted CPR"), "{text}");
}

#[test]
fn narrative_lists_the_rest_escaped_and_whole() {
    let long = "x".repeat(5_000);
    let text = div(&record(json!({
        "lpas": [{ "name": "Anne Whitfield", "life_sustaining_authority": true }],
        "adrts": [{ "refused_treatments": [{ "text": "Mechanical ventilation" }],
                    "refuses_life_sustaining_treatment": false,
                    "witnessed_and_signed": false, "date": "2025-03-02" }],
        "preferred_place_of_death": { "status": "stated",
            "first": { "kind": "home", "is_usual_residence": true } },
        "anticipatory_medicines": { "box_issued": true, "location": "Kitchen cupboard" },
        "special_note": format!("Dog <bites> & {long}"),
        "access_information": "Key safe 1234 by the back door"
    })));
    for expected in [
        "Anne Whitfield (authority over life-sustaining treatment: yes",
        "<th>ADRT</th><td>yes: made 2025-03-02, refuses: Mechanical ventilation",
        "<th>ReSPECT</th><td>none recorded",
        "1st choice: Own home (usual residence)",
        "just-in-case box issued; kept: Kitchen cupboard",
        "Special note for out-of-hours staff</th><td>Dog &lt;bites&gt; &amp; ",
        "Key safe 1234 by the back door",
        "<th>Preferred place of care</th><td>none recorded",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    assert!(text.contains(&long), "never truncated (H6)");
}

#[test]
fn every_fixture_states_its_cpr_position() {
    for (name, record) in crate::fhir::tests::fixture_records() {
        let text = div(&record);
        let expected = match record.resuscitation_status() {
            ResuscitationStatus::Decided(d) => match d.decision {
                crate::domain::CprDecision::ForCpr => "CPR decision: for attempted CPR,",
                crate::domain::CprDecision::NotForCpr => {
                    "CPR decision: NOT for attempted CPR (DNACPR),"
                }
            },
            ResuscitationStatus::NoDecisionRecorded => "CPR decision: No decision recorded",
            ResuscitationStatus::PlanNotCurrent(_) => "none of its decisions stand",
        };
        assert!(text.contains(expected), "{name}: {text}");
        let statements = ["CPR decision: for", "CPR decision: NOT", "CPR decision: No"];
        let found = statements.iter().filter(|s| text.contains(*s)).count();
        assert!(found <= 1, "{name}: more than one CPR position");
    }
}
