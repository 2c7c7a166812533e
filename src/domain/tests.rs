//! Validation and lifecycle rules, each with a case that passes and one that fails.
//!
//! Every validation test asserts the exact set of field paths reported (so a rule that fires on
//! the wrong field, or a rule that fires when it should not, both fail), and the multi-error
//! tests show that every problem is reported at once. Time is fixed: "now" is
//! 2026-11-23T12:00:00Z and "today" its UTC date.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::{from_value, json, Value};

use super::*;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

/// A later moment on the same day, for revisions (so `ended.at` can be told from `created`).
fn later() -> DateTime<Utc> {
    "2026-11-23T15:30:00Z".parse().unwrap()
}

fn today() -> NaiveDate {
    now().date_naive()
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn tomorrow() -> NaiveDate {
    today().checked_add_days(Days::new(1)).unwrap()
}

fn day_after_tomorrow() -> NaiveDate {
    today().checked_add_days(Days::new(2)).unwrap()
}

/// The smallest plan the rules accept: only the mandatory items.
fn minimal_json() -> Value {
    json!({
        "consent_to_share": {
            "status": "given",
            "date": "2026-11-01",
            "recorded_by": { "name": "Dr Amara Okafor" }
        },
        "person": {
            "nhs_number": "9990000018",
            "family_name": "Whitfield",
            "given_names": ["Margaret"],
            "birth_date": "1938-04-12",
            "gender": "female"
        },
        "usual_gp": { "practice_name": "Riverside Surgery", "practice_ods_code": "A81001" },
        "diagnosis": { "primary": { "text": "Metastatic carcinoma of lung" } }
    })
}

fn plan() -> PlanContent {
    from_value(minimal_json()).unwrap()
}

/// A plan with every section filled in, and valid.
fn full_json() -> Value {
    json!({
        "consent_to_share": {
            "status": "given",
            "date": "2026-11-01",
            "recorded_by": {
                "name": "Dr Amara Okafor",
                "role": "GP",
                "registration_number": "GMC 7654321",
                "organisation": "Riverside Surgery"
            }
        },
        "review_date": "2027-02-01",
        "person": {
            "nhs_number": "9990000018",
            "family_name": "Whitfield",
            "given_names": ["Margaret", "Rose"],
            "preferred_name": "Peggy",
            "birth_date": "1938-04-12",
            "gender": "female",
            "address": { "lines": ["14 Mill Lane"], "city": "Leeds", "postcode": "LS1 4AB" },
            "phones": [
                { "number": "0113 496 0000", "kind": "home" },
                { "number": "+44 (0)7700 900123", "kind": "mobile" }
            ],
            "interpreter_needed": true,
            "preferred_language": "pa-IN"
        },
        "usual_gp": {
            "gp_name": "Dr Amara Okafor",
            "practice_name": "Riverside Surgery",
            "practice_ods_code": "A81001",
            "phone": "0113 496 0001"
        },
        "care_team": {
            "key_worker": { "name": "Jo Bell", "role": "District nurse", "phone": "0113 496 0002" },
            "professionals": [
                { "name": "Dr Sam Patel", "role": "Palliative care consultant",
                  "organisation": "St Luke's Hospice", "phone": "0114 496 0003" }
            ]
        },
        "contacts": [
            { "name": "Anne Whitfield", "relationship": "daughter",
              "phones": [{ "number": "07700 900456", "kind": "mobile" }],
              "main_carer": true, "nominated_contact": true, "aware_of_prognosis": true },
            { "name": "Tom Whitfield", "relationship": "son",
              "phones": [{ "number": "07700 900789" }], "involve_in_decisions": true }
        ],
        "lpas": [
            { "name": "Anne Whitfield", "phones": [{ "number": "07700 900456" }],
              "life_sustaining_authority": true, "document_location": "Bureau, top drawer" }
        ],
        "diagnosis": {
            "primary": { "text": "Metastatic carcinoma of lung" },
            "other": [{ "text": "COPD" }],
            "disabilities": [{ "text": "Registered blind" }],
            "functional_status": "Bed-bound",
            "allergies": [{ "text": "Penicillin" }]
        },
        "prognosis": { "expected": "last-weeks", "person_aware": true, "carer_aware": true },
        "resuscitation_decisions": [{
            "decision": "not-for-cpr",
            "decision_date": "2026-10-15",
            "review": "2027-01-15",
            "decided_by": { "name": "Dr Amara Okafor", "role": "GP", "registration_number": "GMC 7654321" },
            "form_location": "Purple form on the fridge",
            "person_aware": true,
            "family_informed": true,
            "reason": "CPR would not be successful",
            "had_capacity": true,
            "person_involved": true
        }],
        "respect": {
            "priority": 85,
            "focus_of_care": "comfort",
            "recommendations": [{
                "treatment": { "text": "Hospital admission", "snomed": "32485007" },
                "recommended": false,
                "note": "Only if symptoms cannot be controlled at home"
            }],
            "form_location": "With the DNACPR form",
            "completed_date": "2026-10-15",
            "clinician": { "name": "Dr Amara Okafor" }
        },
        "adrts": [{
            "refused_treatments": [{ "text": "Mechanical ventilation", "snomed": "40617009" }],
            "refuses_life_sustaining_treatment": true,
            "witnessed_and_signed": true,
            "circumstances": "Even if my life is at risk",
            "document_location": "Bureau, top drawer",
            "date": "2025-03-02"
        }],
        "advance_statements": [{ "text": "I would like music playing", "date": "2026-09-01" }],
        "what_matters_most": "Being at home with my cat",
        "preferred_place_of_care": {
            "status": "stated",
            "first": { "kind": "home", "is_usual_residence": true }
        },
        "preferred_place_of_death": {
            "status": "stated",
            "first": { "kind": "home", "is_usual_residence": true },
            "second": { "kind": "hospice", "organisation": "St Luke's Hospice",
                        "address": { "lines": ["Little Common Lane"], "city": "Sheffield" } }
        },
        "anticipatory_medicines": {
            "box_issued": true,
            "issued_date": "2026-11-02",
            "location": "Kitchen cupboard",
            "syringe_driver": false,
            "equipment": "Oxygen concentrator"
        },
        "special_note": "Daughter lives next door",
        "access_information": "Key safe by the back door",
        "religious_or_cultural_needs": "Sikh; please remove shoes",
        "organ_donation_wishes": "Corneas",
        "lives_alone": false
    })
}

fn full_plan() -> PlanContent {
    from_value(full_json()).unwrap()
}

/// A DNACPR decision by Dr Okafor, reviewed in January.
fn dnacpr() -> ResuscitationDecision {
    from_value(json!({
        "decision": "not-for-cpr",
        "decision_date": "2026-10-15",
        "review": "2027-01-15",
        "decided_by": { "name": "Dr Amara Okafor", "role": "GP" },
        "form_location": "Purple form on the fridge"
    }))
    .unwrap()
}

/// A "for CPR" decision by Dr Patel, made today, with no review date.
fn for_cpr() -> ResuscitationDecision {
    from_value(json!({
        "decision": "for-cpr",
        "decision_date": "2026-11-23",
        "review": "indefinite",
        "decided_by": { "name": "Dr Sam Patel", "role": "Palliative care consultant" }
    }))
    .unwrap()
}

fn adrt() -> Adrt {
    from_value(json!({
        "refused_treatments": [{ "text": "Mechanical ventilation", "snomed": "40617009" }],
        "refuses_life_sustaining_treatment": true,
        "witnessed_and_signed": true,
        "document_location": "Bureau, top drawer",
        "date": "2025-03-02"
    }))
    .unwrap()
}

fn ending(by: &str, reason: &str) -> Ending {
    Ending {
        at: None,
        by: by.to_owned(),
        reason: reason.to_owned(),
    }
}

fn death(on: NaiveDate) -> Death {
    Death {
        date: on,
        place: Some(PlaceKind::Home),
        place_detail: None,
    }
}

fn nhs(number: &str) -> NhsNumber {
    NhsNumber::parse(number).unwrap()
}

fn respect(p: &mut PlanContent) -> &mut Respect {
    p.respect.as_mut().unwrap()
}

fn medicines(p: &mut PlanContent) -> &mut AnticipatoryMedicines {
    p.anticipatory_medicines.as_mut().unwrap()
}

fn person_address(p: &mut PlanContent) -> &mut Address {
    p.person.address.as_mut().unwrap()
}

fn key_worker(p: &mut PlanContent) -> &mut Professional {
    p.care_team.key_worker.as_mut().unwrap()
}

fn second_place_of_death(p: &mut PlanContent) -> &mut PreferredPlace {
    match p.preferred_place_of_death.as_mut() {
        Some(PlacePreference::Stated {
            second: Some(second),
            ..
        }) => second,
        other => panic!("the full plan states a second place of death, got {other:?}"),
    }
}

/// Version 1 of a plan, created at [`now`].
fn record(content: PlanContent) -> PlanRecord {
    PlanRecord::create(PlanId::new_random(), content, now(), "dr.okafor").expect("a valid plan")
}

/// Version 1 of the minimal plan holding one current DNACPR decision.
fn record_with_dnacpr() -> PlanRecord {
    let mut content = plan();
    content.resuscitation_decisions.push(dnacpr());
    record(content)
}

/// Version 2: the DNACPR of version 1 superseded by a "for CPR" decision.
fn record_with_superseded_dnacpr() -> PlanRecord {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.resuscitation_decisions.push(for_cpr());
    v1.revise(content, later(), "dr.patel")
        .expect("a new decision is accepted")
}

/// Version 1 of the minimal plan holding one active ADRT.
fn record_with_adrt() -> PlanRecord {
    let mut content = plan();
    content.adrts.push(adrt());
    record(content)
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

fn sorted_paths(errors: Vec<FieldError>) -> Vec<String> {
    let mut paths: Vec<String> = errors.into_iter().map(|e| e.path).collect();
    paths.sort();
    paths
}

fn validate(content: &PlanContent) -> Vec<FieldError> {
    let mut problems = Problems::default();
    validate_content(content, today(), &mut problems);
    problems.into_vec()
}

/// Asserts that validation reports exactly these paths (order aside, repeats counted).
#[track_caller]
fn assert_problems(content: &PlanContent, expected: &[&str]) {
    let errors = validate(content);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let mut expected: Vec<String> = expected.iter().map(|p| (*p).to_owned()).collect();
    expected.sort();
    assert_eq!(
        sorted_paths(errors),
        expected,
        "problems reported: {shown:#?}"
    );
}

#[track_caller]
fn assert_valid(content: &PlanContent) {
    assert_problems(content, &[]);
}

/// The paths of a refused change; anything but `ChangeError::Invalid` fails the test.
#[track_caller]
fn refused_paths(result: Result<PlanRecord, ChangeError>) -> Vec<String> {
    match result {
        Err(ChangeError::Invalid(errors)) => sorted_paths(errors),
        Err(other) => panic!("expected ChangeError::Invalid, got {other:?}"),
        Ok(record) => panic!(
            "expected the change to be refused, got version {}",
            record.version
        ),
    }
}

#[track_caller]
fn import_refused_paths(result: Result<PlanRecord, Vec<FieldError>>) -> Vec<String> {
    match result {
        Err(errors) => sorted_paths(errors),
        Ok(record) => panic!("expected the import to be refused, got {:?}", record.status),
    }
}

fn strings(paths: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
    out.sort();
    out
}

type Edit = fn(&mut PlanContent);

/// Applies each edit to a fresh full plan and checks that exactly its path is reported; then
/// applies them all to one plan and checks that every path is reported at once.
#[track_caller]
fn assert_each_and_all(cases: &[(&str, Edit)]) {
    for (path, edit) in cases {
        let mut content = full_plan();
        edit(&mut content);
        let errors = validate(&content);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            sorted_paths(errors),
            vec![(*path).to_owned()],
            "case {path}: {shown:#?}"
        );
    }
    let mut content = full_plan();
    for (_, edit) in cases {
        edit(&mut content);
    }
    let expected: Vec<&str> = cases.iter().map(|(path, _)| *path).collect();
    assert_problems(&content, &expected);
}

// ---------------------------------------------------------------------------------------------
// Baseline
// ---------------------------------------------------------------------------------------------

#[test]
fn minimal_plan_is_valid() {
    assert_valid(&plan());
}

#[test]
fn fully_populated_plan_is_valid() {
    assert_valid(&full_plan());
}

#[test]
fn field_errors_display_as_path_and_message() {
    let mut content = plan();
    content.person.family_name = String::new();
    let errors = validate(&content);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "person.family_name");
    assert!(!errors[0].message.trim().is_empty());
    assert_eq!(
        errors[0].to_string(),
        format!("person.family_name: {}", errors[0].message)
    );
}

#[test]
fn problems_into_result_is_ok_only_when_empty() {
    assert_eq!(Problems::default().into_result(), Ok(()));
    let mut problems = Problems::default();
    problems.push("a.b", "wrong");
    assert!(!problems.is_empty());
    assert_eq!(
        problems.into_result(),
        Err(vec![FieldError {
            path: "a.b".into(),
            message: "wrong".into()
        }])
    );
}

// ---------------------------------------------------------------------------------------------
// Required and optional text
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_family_name_is_refused() {
    let mut content = plan();
    content.person.family_name = String::new();
    assert_problems(&content, &["person.family_name"]);
}

#[test]
fn blank_family_name_is_refused() {
    let mut content = plan();
    content.person.family_name = " \t ".into();
    assert_problems(&content, &["person.family_name"]);
}

#[test]
fn empty_given_names_list_is_refused() {
    let mut content = plan();
    content.person.given_names.clear();
    assert_problems(&content, &["person.given_names"]);
}

#[test]
fn blank_given_name_is_refused_at_its_index() {
    let mut content = plan();
    content.person.given_names = vec!["Margaret".into(), "  ".into(), "Rose".into()];
    assert_problems(&content, &["person.given_names[1]"]);
}

#[test]
fn several_given_names_are_accepted() {
    let mut content = plan();
    content.person.given_names = vec!["Margaret".into(), "Rose".into()];
    assert_valid(&content);
}

#[test]
fn blank_practice_name_is_refused() {
    let mut content = plan();
    content.usual_gp.practice_name = "   ".into();
    assert_problems(&content, &["usual_gp.practice_name"]);
}

#[test]
fn blank_consent_recorder_name_is_refused() {
    let mut content = plan();
    content.consent_to_share.recorded_by.name = String::new();
    assert_problems(&content, &["consent_to_share.recorded_by.name"]);
}

#[test]
fn blank_primary_diagnosis_text_is_refused() {
    let mut content = plan();
    content.diagnosis.primary.text = " ".into();
    assert_problems(&content, &["diagnosis.primary.text"]);
}

#[test]
fn blank_contact_name_and_relationship_are_refused() {
    let mut content = full_plan();
    content.contacts[1].name = String::new();
    content.contacts[1].relationship = "  ".into();
    assert_problems(&content, &["contacts[1].name", "contacts[1].relationship"]);
}

#[test]
fn blank_advance_statement_text_is_refused() {
    let mut content = full_plan();
    content.advance_statements[0].text = "\n".into();
    assert_problems(&content, &["advance_statements[0].text"]);
}

#[test]
fn every_blank_required_text_is_reported_at_its_path() {
    assert_each_and_all(&[
        ("person.family_name", |p| {
            p.person.family_name = String::new()
        }),
        ("person.given_names[1]", |p| {
            p.person.given_names[1] = " ".into()
        }),
        ("person.address.lines[0]", |p| {
            person_address(p).lines[0] = " ".into();
        }),
        ("usual_gp.practice_name", |p| {
            p.usual_gp.practice_name = String::new()
        }),
        ("consent_to_share.recorded_by.name", |p| {
            p.consent_to_share.recorded_by.name = " ".into();
        }),
        ("care_team.key_worker.name", |p| {
            key_worker(p).name = String::new()
        }),
        ("care_team.key_worker.role", |p| {
            key_worker(p).role = " ".into()
        }),
        ("care_team.professionals[0].name", |p| {
            p.care_team.professionals[0].name = String::new();
        }),
        ("care_team.professionals[0].role", |p| {
            p.care_team.professionals[0].role = String::new();
        }),
        ("contacts[0].name", |p| p.contacts[0].name = String::new()),
        ("contacts[1].relationship", |p| {
            p.contacts[1].relationship = " ".into()
        }),
        ("lpas[0].name", |p| p.lpas[0].name = String::new()),
        ("diagnosis.primary.text", |p| {
            p.diagnosis.primary.text = String::new()
        }),
        ("diagnosis.other[0].text", |p| {
            p.diagnosis.other[0].text = " ".into()
        }),
        ("diagnosis.disabilities[0].text", |p| {
            p.diagnosis.disabilities[0].text = String::new();
        }),
        ("diagnosis.allergies[0].text", |p| {
            p.diagnosis.allergies[0].text = String::new()
        }),
        ("resuscitation_decisions[0].decided_by.name", |p| {
            p.resuscitation_decisions[0].decided_by.name = " ".into();
        }),
        ("respect.clinician.name", |p| {
            respect(p).clinician.name = String::new()
        }),
        ("respect.recommendations[0].treatment.text", |p| {
            respect(p).recommendations[0].treatment.text = " ".into();
        }),
        ("adrts[0].refused_treatments[0].text", |p| {
            p.adrts[0].refused_treatments[0].text = String::new();
        }),
        ("advance_statements[0].text", |p| {
            p.advance_statements[0].text = String::new()
        }),
        ("preferred_place_of_death.second.address.lines[0]", |p| {
            second_place_of_death(p).address.as_mut().unwrap().lines[0] = " ".into();
        }),
    ]);
}

#[test]
fn optional_text_present_but_blank_is_refused() {
    assert_each_and_all(&[
        ("person.preferred_name", |p| {
            p.person.preferred_name = Some(" ".into())
        }),
        ("usual_gp.gp_name", |p| {
            p.usual_gp.gp_name = Some(String::new())
        }),
        ("consent_to_share.recorded_by.role", |p| {
            p.consent_to_share.recorded_by.role = Some(" ".into());
        }),
        ("consent_to_share.recorded_by.registration_number", |p| {
            p.consent_to_share.recorded_by.registration_number = Some(String::new());
        }),
        ("resuscitation_decisions[0].form_location", |p| {
            p.resuscitation_decisions[0].form_location = Some(" ".into());
        }),
        ("resuscitation_decisions[0].reason", |p| {
            p.resuscitation_decisions[0].reason = Some(String::new());
        }),
        ("resuscitation_decisions[0].decided_by.role", |p| {
            p.resuscitation_decisions[0].decided_by.role = Some(" ".into());
        }),
        ("lpas[0].document_location", |p| {
            p.lpas[0].document_location = Some(" ".into())
        }),
        ("respect.form_location", |p| {
            respect(p).form_location = Some(String::new())
        }),
        ("what_matters_most", |p| {
            p.what_matters_most = Some("  ".into())
        }),
        ("preferred_place_of_death.second.organisation", |p| {
            second_place_of_death(p).organisation = Some(" ".into());
        }),
        ("anticipatory_medicines.location", |p| {
            medicines(p).location = Some(String::new())
        }),
        ("special_note", |p| p.special_note = Some(" ".into())),
        ("access_information", |p| {
            p.access_information = Some(String::new())
        }),
        ("religious_or_cultural_needs", |p| {
            p.religious_or_cultural_needs = Some("\t".into());
        }),
        ("organ_donation_wishes", |p| {
            p.organ_donation_wishes = Some(String::new())
        }),
    ]);
}

#[test]
fn optional_text_left_out_is_accepted() {
    let mut content = full_plan();
    content.person.preferred_name = None;
    content.usual_gp.gp_name = None;
    content.consent_to_share.recorded_by.role = None;
    content.what_matters_most = None;
    content.special_note = None;
    content.access_information = None;
    content.resuscitation_decisions[0].form_location = None;
    content.resuscitation_decisions[0].reason = None;
    assert_valid(&content);
}

// ---------------------------------------------------------------------------------------------
// Dates in the future (one day of tolerance)
// ---------------------------------------------------------------------------------------------

type DateEdit = fn(&mut PlanContent, NaiveDate);

const DATED_FIELDS: &[(&str, DateEdit)] = &[
    ("consent_to_share.date", |p, d| p.consent_to_share.date = d),
    ("person.birth_date", |p, d| p.person.birth_date = d),
    ("resuscitation_decisions[0].decision_date", |p, d| {
        p.resuscitation_decisions[0].decision_date = d;
    }),
    ("respect.completed_date", |p, d| {
        respect(p).completed_date = d
    }),
    ("adrts[0].date", |p, d| p.adrts[0].date = d),
    ("advance_statements[0].date", |p, d| {
        p.advance_statements[0].date = d
    }),
    ("anticipatory_medicines.issued_date", |p, d| {
        medicines(p).issued_date = Some(d);
    }),
    ("death.date", |p, d| p.death = Some(death(d))),
];

#[test]
fn dates_today_are_accepted() {
    for (path, edit) in DATED_FIELDS {
        let mut content = full_plan();
        edit(&mut content, today());
        assert!(validate(&content).is_empty(), "{path} today");
    }
}

#[test]
fn dates_tomorrow_are_accepted_as_clock_tolerance() {
    for (path, edit) in DATED_FIELDS {
        let mut content = full_plan();
        edit(&mut content, tomorrow());
        let errors = validate(&content);
        assert!(errors.is_empty(), "{path} tomorrow: {errors:?}");
    }
}

#[test]
fn dates_the_day_after_tomorrow_are_refused_as_future() {
    for (path, edit) in DATED_FIELDS {
        let mut content = full_plan();
        edit(&mut content, day_after_tomorrow());
        assert_eq!(
            sorted_paths(validate(&content)),
            vec![(*path).to_owned()],
            "{path} the day after tomorrow"
        );
    }
}

#[test]
fn all_future_dates_are_reported_at_once() {
    let mut content = full_plan();
    for (_, edit) in DATED_FIELDS {
        edit(&mut content, day_after_tomorrow());
    }
    let expected: Vec<&str> = DATED_FIELDS.iter().map(|(path, _)| *path).collect();
    assert_problems(&content, &expected);
}

#[test]
fn plan_review_date_may_be_in_the_future_or_past() {
    let mut content = full_plan();
    content.review_date = Some(date("2030-01-01"));
    assert_valid(&content);
    content.review_date = Some(date("2020-01-01"));
    assert_valid(&content);
}

// ---------------------------------------------------------------------------------------------
// Phones and language
// ---------------------------------------------------------------------------------------------

const GOOD_PHONES: &[&str] = &[
    "0113 496 0000",
    "+44 (0)7700 900123",
    "07700-900123",
    "999",
    "12345678901234567890",
];

const BAD_PHONES: &[&str] = &[
    "",
    "call Anne",
    "12",
    "+44",
    "123456789012345678901",
    "0113 496 0000 ext 2",
    "0113.496.0000",
    "0113/4960000",
];

type PhoneEdit = fn(&mut PlanContent, &str);

const PHONE_FIELDS: &[(&str, PhoneEdit)] = &[
    ("person.phones[1].number", |p, n| {
        p.person.phones[1].number = n.into()
    }),
    ("usual_gp.phone", |p, n| p.usual_gp.phone = Some(n.into())),
    ("care_team.key_worker.phone", |p, n| {
        key_worker(p).phone = Some(n.into())
    }),
    ("care_team.professionals[0].phone", |p, n| {
        p.care_team.professionals[0].phone = Some(n.into());
    }),
    ("contacts[1].phones[0].number", |p, n| {
        p.contacts[1].phones[0].number = n.into()
    }),
    ("lpas[0].phones[0].number", |p, n| {
        p.lpas[0].phones[0].number = n.into()
    }),
];

#[test]
fn well_formed_phone_numbers_are_accepted_everywhere() {
    for (path, edit) in PHONE_FIELDS {
        for number in GOOD_PHONES {
            let mut content = full_plan();
            edit(&mut content, number);
            let errors = validate(&content);
            assert!(errors.is_empty(), "{path} = {number:?}: {errors:?}");
        }
    }
}

#[test]
fn malformed_phone_numbers_are_refused_at_their_path() {
    for (path, edit) in PHONE_FIELDS {
        for number in BAD_PHONES {
            let mut content = full_plan();
            edit(&mut content, number);
            assert_eq!(
                sorted_paths(validate(&content)),
                vec![(*path).to_owned()],
                "{path} = {number:?}"
            );
        }
    }
}

#[test]
fn well_formed_language_tags_are_accepted() {
    for tag in [
        "en",
        "pl",
        "pa",
        "pa-IN",
        "yue",
        "zh-Hant-TW",
        "sgn-GB",
        "en-GB-oxendict",
    ] {
        let mut content = plan();
        content.person.preferred_language = Some(tag.into());
        assert_valid(&content);
    }
}

#[test]
fn malformed_language_tags_are_refused() {
    for tag in [
        "",
        " ",
        "e",
        "english",
        "en_GB",
        "en-",
        "-en",
        "12",
        "en GB",
        "en-abcdefghi",
    ] {
        let mut content = plan();
        content.person.preferred_language = Some(tag.into());
        let errors = validate(&content);
        assert_eq!(
            sorted_paths(errors),
            vec!["person.preferred_language".to_owned()],
            "{tag:?}"
        );
    }
}

#[test]
fn interpreter_needed_without_preferred_language_is_refused() {
    let mut content = plan();
    content.person.interpreter_needed = true;
    assert_problems(&content, &["person.preferred_language"]);
    content.person.preferred_language = Some("pl".into());
    assert_valid(&content);
}

// ---------------------------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------------------------

fn contact(name: &str) -> Contact {
    from_value(json!({ "name": name, "relationship": "friend" })).unwrap()
}

#[test]
fn one_nominated_contact_and_one_main_carer_are_accepted() {
    let mut content = plan();
    content.contacts = vec![contact("A"), contact("B"), contact("C")];
    content.contacts[1].nominated_contact = true;
    content.contacts[2].main_carer = true;
    assert_valid(&content);
    // The same person may be both.
    content.contacts[2].nominated_contact = true;
    content.contacts[1].nominated_contact = false;
    assert_valid(&content);
}

#[test]
fn second_nominated_contact_is_refused_at_its_index() {
    let mut content = plan();
    content.contacts = vec![contact("A"), contact("B"), contact("C")];
    content.contacts[1].nominated_contact = true;
    content.contacts[2].nominated_contact = true;
    assert_problems(&content, &["contacts[2].nominated_contact"]);
}

#[test]
fn every_extra_nominated_contact_is_reported() {
    let mut content = plan();
    content.contacts = vec![contact("A"), contact("B"), contact("C")];
    for c in &mut content.contacts {
        c.nominated_contact = true;
    }
    assert_problems(
        &content,
        &[
            "contacts[1].nominated_contact",
            "contacts[2].nominated_contact",
        ],
    );
}

#[test]
fn second_main_carer_is_refused_at_its_index() {
    let mut content = plan();
    content.contacts = vec![contact("A"), contact("B"), contact("C")];
    content.contacts[0].main_carer = true;
    content.contacts[2].main_carer = true;
    let errors = validate(&content);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "contacts[2].main_carer");
    assert!(errors[0].message.contains("contacts[0]"), "{}", errors[0]);
}

// ---------------------------------------------------------------------------------------------
// CPR decisions
// ---------------------------------------------------------------------------------------------

#[test]
fn review_before_decision_date_is_refused() {
    let mut content = plan();
    let mut decision = dnacpr();
    decision.review = ReviewDue::On(date("2026-10-14"));
    content.resuscitation_decisions.push(decision);
    assert_problems(&content, &["resuscitation_decisions[0].review"]);
}

#[test]
fn review_on_or_after_decision_date_or_indefinite_is_accepted() {
    for review in [
        ReviewDue::On(date("2026-10-15")),
        ReviewDue::On(date("2027-10-15")),
        ReviewDue::On(date("2026-10-16")),
        ReviewDue::Indefinite,
    ] {
        let mut content = plan();
        let mut decision = dnacpr();
        decision.review = review;
        content.resuscitation_decisions.push(decision);
        assert_valid(&content);
    }
}

#[test]
fn review_date_in_the_past_is_accepted_by_validation() {
    // Overdue is flagged, not refused (H7): the decision stands until reviewed.
    let mut content = plan();
    let mut decision = dnacpr();
    decision.decision_date = date("2025-01-10");
    decision.review = ReviewDue::On(date("2025-04-10"));
    content.resuscitation_decisions.push(decision);
    assert_valid(&content);
}

#[test]
fn second_current_cpr_decision_is_refused() {
    let mut content = plan();
    content.resuscitation_decisions = vec![dnacpr(), for_cpr()];
    let errors = validate(&content);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "resuscitation_decisions[1].status");
    assert!(errors[0].message.contains("resuscitation_decisions[0]"));
}

#[test]
fn every_extra_current_cpr_decision_is_reported() {
    let mut content = plan();
    let mut superseded = dnacpr();
    superseded.status = DecisionStatus::Superseded;
    superseded.ended = Some(ending("Dr Sam Patel", "new decision"));
    content.resuscitation_decisions = vec![superseded, dnacpr(), for_cpr(), for_cpr()];
    assert_problems(
        &content,
        &[
            "resuscitation_decisions[2].status",
            "resuscitation_decisions[3].status",
        ],
    );
}

#[test]
fn one_current_among_ended_decisions_is_accepted() {
    let mut content = plan();
    let mut revoked = dnacpr();
    revoked.status = DecisionStatus::Revoked;
    revoked.ended = Some(ending(
        "Dr Amara Okafor",
        "Discussed again with the patient",
    ));
    let mut in_error = dnacpr();
    in_error.status = DecisionStatus::EnteredInError;
    in_error.ended = Some(ending("Dr Amara Okafor", "Wrong patient"));
    content.resuscitation_decisions = vec![revoked, in_error, for_cpr()];
    assert_valid(&content);
}

#[test]
fn ended_decision_without_ending_is_refused() {
    for status in [
        DecisionStatus::Superseded,
        DecisionStatus::Revoked,
        DecisionStatus::EnteredInError,
    ] {
        let mut content = plan();
        let mut decision = dnacpr();
        decision.status = status;
        content.resuscitation_decisions = vec![for_cpr(), decision];
        assert_eq!(
            sorted_paths(validate(&content)),
            vec!["resuscitation_decisions[1].ended".to_owned()],
            "{status:?}"
        );
    }
}

#[test]
fn current_decision_with_ending_is_refused() {
    let mut content = plan();
    let mut decision = dnacpr();
    decision.ended = Some(ending("Dr Amara Okafor", "changed mind"));
    content.resuscitation_decisions.push(decision);
    assert_problems(&content, &["resuscitation_decisions[0].ended"]);
}

#[test]
fn ending_with_blank_by_and_reason_is_refused() {
    let mut content = plan();
    let mut decision = dnacpr();
    decision.status = DecisionStatus::Revoked;
    decision.ended = Some(ending(" ", ""));
    content.resuscitation_decisions.push(decision);
    assert_problems(
        &content,
        &[
            "resuscitation_decisions[0].ended.by",
            "resuscitation_decisions[0].ended.reason",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// ReSPECT
// ---------------------------------------------------------------------------------------------

#[test]
fn respect_priority_bounds_are_accepted() {
    for priority in [0, 1, 50, 99, 100] {
        let mut content = full_plan();
        respect(&mut content).priority = priority;
        assert_valid(&content);
    }
}

#[test]
fn respect_priority_outside_0_to_100_is_refused() {
    for priority in [-1, 101, i64::MIN, i64::MAX] {
        let mut content = full_plan();
        respect(&mut content).priority = priority;
        assert_eq!(
            sorted_paths(validate(&content)),
            vec!["respect.priority".to_owned()],
            "{priority}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// ADRTs
// ---------------------------------------------------------------------------------------------

#[test]
fn adrt_without_refused_treatments_is_refused() {
    let mut content = plan();
    let mut decision = adrt();
    decision.refused_treatments.clear();
    content.adrts.push(decision);
    assert_problems(&content, &["adrts[0].refused_treatments"]);
}

#[test]
fn adrt_refusing_life_sustaining_treatment_must_be_witnessed_and_signed() {
    let mut content = plan();
    let mut decision = adrt();
    decision.witnessed_and_signed = false;
    content.adrts = vec![adrt(), decision];
    assert_problems(&content, &["adrts[1].witnessed_and_signed"]);
}

#[test]
fn adrt_not_refusing_life_sustaining_treatment_need_not_be_witnessed() {
    let mut content = plan();
    let mut decision = adrt();
    decision.refuses_life_sustaining_treatment = false;
    decision.witnessed_and_signed = false;
    content.adrts.push(decision);
    assert_valid(&content);
}

#[test]
fn withdrawn_adrt_without_ending_is_refused() {
    for status in [AdrtStatus::Withdrawn, AdrtStatus::EnteredInError] {
        let mut content = plan();
        let mut decision = adrt();
        decision.status = status;
        content.adrts.push(decision);
        assert_eq!(
            sorted_paths(validate(&content)),
            vec!["adrts[0].ended".to_owned()],
            "{status:?}"
        );
    }
}

#[test]
fn withdrawn_adrt_with_ending_is_accepted() {
    let mut content = plan();
    let mut decision = adrt();
    decision.status = AdrtStatus::Withdrawn;
    decision.ended = Some(ending("Dr Amara Okafor", "Withdrawn by the person"));
    content.adrts.push(decision);
    assert_valid(&content);
}

#[test]
fn active_adrt_with_ending_is_refused() {
    let mut content = plan();
    let mut decision = adrt();
    decision.ended = Some(ending("Dr Amara Okafor", "Withdrawn by the person"));
    content.adrts.push(decision);
    assert_problems(&content, &["adrts[0].ended"]);
}

#[test]
fn withdrawn_adrt_with_blank_ending_is_refused() {
    let mut content = plan();
    let mut decision = adrt();
    decision.status = AdrtStatus::Withdrawn;
    decision.ended = Some(ending("", " "));
    content.adrts.push(decision);
    assert_problems(&content, &["adrts[0].ended.by", "adrts[0].ended.reason"]);
}

// ---------------------------------------------------------------------------------------------
// Places, addresses, medicines, death
// ---------------------------------------------------------------------------------------------

#[test]
fn second_place_equal_to_first_is_refused() {
    let mut content = full_plan();
    content.preferred_place_of_care = Some(
        from_value(json!({
            "status": "stated",
            "first": { "kind": "hospice", "organisation": "St Luke's Hospice" },
            "second": { "kind": "hospice", "organisation": "St Luke's Hospice" }
        }))
        .unwrap(),
    );
    assert_problems(&content, &["preferred_place_of_care.second"]);
}

#[test]
fn second_place_different_from_first_is_accepted() {
    let mut content = full_plan();
    content.preferred_place_of_care = Some(
        from_value(json!({
            "status": "stated",
            "first": { "kind": "hospice", "organisation": "St Luke's Hospice" },
            "second": { "kind": "hospice", "organisation": "St Gemma's Hospice" }
        }))
        .unwrap(),
    );
    assert_valid(&content);
}

#[test]
fn place_preferences_without_a_place_are_accepted() {
    for status in [
        "undecided",
        "declined-to-discuss",
        "not-appropriate",
        "unable-to-express",
    ] {
        let mut content = full_plan();
        content.preferred_place_of_death = Some(from_value(json!({ "status": status })).unwrap());
        assert_valid(&content);
    }
}

#[test]
fn address_without_lines_is_refused() {
    let mut content = full_plan();
    person_address(&mut content).lines.clear();
    second_place_of_death(&mut content)
        .address
        .as_mut()
        .unwrap()
        .lines
        .clear();
    assert_problems(
        &content,
        &[
            "person.address.lines",
            "preferred_place_of_death.second.address.lines",
        ],
    );
}

#[test]
fn issued_date_without_box_issued_is_refused() {
    let mut content = full_plan();
    medicines(&mut content).box_issued = false;
    assert_problems(&content, &["anticipatory_medicines.issued_date"]);
    medicines(&mut content).issued_date = None;
    assert_valid(&content);
}

#[test]
fn death_before_birth_is_refused() {
    let mut content = plan();
    content.death = Some(death(date("1938-04-11")));
    assert_problems(&content, &["death.date"]);
}

#[test]
fn death_on_or_after_birth_is_accepted() {
    for on in ["1938-04-12", "2026-11-20"] {
        let mut content = plan();
        content.death = Some(death(date(on)));
        assert_valid(&content);
    }
}

// ---------------------------------------------------------------------------------------------
// Every problem at once
// ---------------------------------------------------------------------------------------------

#[test]
fn a_plan_with_many_errors_reports_all_of_them() {
    let mut content = full_plan();
    content.person.family_name = String::new();
    content.person.given_names.clear();
    content.person.preferred_language = Some("english".into());
    content.usual_gp.phone = Some("ring the surgery".into());
    content.contacts[1].nominated_contact = true;
    content.resuscitation_decisions[0].review = ReviewDue::On(date("2026-01-01"));
    content.resuscitation_decisions.push(for_cpr());
    respect(&mut content).priority = 101;
    content.adrts[0].witnessed_and_signed = false;
    content.adrts[0].refused_treatments.clear();
    medicines(&mut content).box_issued = false;
    content.what_matters_most = Some(" ".into());
    assert_problems(
        &content,
        &[
            "person.family_name",
            "person.given_names",
            "person.preferred_language",
            "usual_gp.phone",
            "contacts[1].nominated_contact",
            "resuscitation_decisions[0].review",
            "resuscitation_decisions[1].status",
            "respect.priority",
            "adrts[0].refused_treatments",
            "adrts[0].witnessed_and_signed",
            "anticipatory_medicines.issued_date",
            "what_matters_most",
        ],
    );
}

#[test]
fn two_problems_with_one_field_are_both_reported() {
    // Born in the future and dying even later but before birth: every rule speaks.
    let mut content = plan();
    content.person.birth_date = date("2026-12-10");
    content.death = Some(death(date("2026-12-01")));
    assert_problems(&content, &["person.birth_date", "death.date", "death.date"]);
}

// ---------------------------------------------------------------------------------------------
// Serde: the shape is enforced at the edge
// ---------------------------------------------------------------------------------------------

fn plan_from(value: Value) -> Result<PlanContent, serde_json::Error> {
    from_value(value)
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    let mut with_ended = full_json();
    with_ended["resuscitation_decisions"][0]["status"] = json!("revoked");
    with_ended["resuscitation_decisions"][0]["ended"] = json!({ "by": "Dr A", "reason": "r" });
    with_ended["death"] = json!({ "date": "2026-11-20" });
    let pointers = [
        "",
        "/consent_to_share",
        "/consent_to_share/recorded_by",
        "/person",
        "/person/address",
        "/person/phones/0",
        "/usual_gp",
        "/care_team",
        "/care_team/key_worker",
        "/contacts/0",
        "/lpas/0",
        "/diagnosis",
        "/diagnosis/primary",
        "/prognosis",
        "/resuscitation_decisions/0",
        "/resuscitation_decisions/0/decided_by",
        "/resuscitation_decisions/0/ended",
        "/respect",
        "/respect/recommendations/0",
        "/respect/recommendations/0/treatment",
        "/adrts/0",
        "/adrts/0/refused_treatments/0",
        "/advance_statements/0",
        "/preferred_place_of_death",
        "/preferred_place_of_death/first",
        "/preferred_place_of_death/second/address",
        "/anticipatory_medicines",
        "/death",
    ];
    assert!(plan_from(with_ended.clone()).is_ok());
    for pointer in pointers {
        let mut value = with_ended.clone();
        value
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("no object at {pointer}"))
            .insert("nickname".into(), json!("Peggy"));
        let error = plan_from(value).expect_err(pointer);
        assert!(
            error.to_string().contains("unknown field `nickname`"),
            "{pointer}: {error}"
        );
    }
}

#[test]
fn unknown_field_on_a_place_preference_without_a_place_is_refused() {
    // plan.rs: "unknown fields are refused everywhere". A sender who writes `undecided` next to
    // a first choice must be told, not have the choice silently dropped.
    for status in [
        "undecided",
        "declined-to-discuss",
        "not-appropriate",
        "unable-to-express",
    ] {
        let mut value = minimal_json();
        value["preferred_place_of_death"] =
            json!({ "status": status, "first": { "kind": "home" } });
        let result = plan_from(value);
        assert!(
            result.is_err(),
            "{status} with a `first` choice was accepted as {:?}",
            result.map(|p| p.preferred_place_of_death)
        );
    }
}

#[test]
fn nhs_number_with_bad_check_digit_is_refused_when_deserialising() {
    for bad in [
        "9990000017",
        "999000001",
        "99900000180",
        "999-000-0018",
        "999000001X",
        "",
    ] {
        let mut value = minimal_json();
        value["person"]["nhs_number"] = json!(bad);
        assert!(plan_from(value).is_err(), "{bad:?}");
    }
    let mut value = minimal_json();
    value["person"]["nhs_number"] = json!(9990000018_u64);
    assert!(plan_from(value).is_err(), "a number, not a string");
}

#[test]
fn valid_nhs_numbers_deserialise_without_spaces() {
    for (given, kept) in [
        ("9990000018", "9990000018"),
        ("9990000026", "9990000026"),
        ("999 000 0026", "9990000026"),
    ] {
        let mut value = minimal_json();
        value["person"]["nhs_number"] = json!(given);
        let content = plan_from(value).unwrap();
        assert_eq!(content.person.nhs_number.as_str(), kept);
        assert_eq!(
            serde_json::to_value(&content).unwrap()["person"]["nhs_number"],
            json!(kept)
        );
    }
}

fn review_from(raw: Value) -> Result<ReviewDue, serde_json::Error> {
    let mut decision = serde_json::to_value(dnacpr()).unwrap();
    decision["review"] = raw;
    from_value::<ResuscitationDecision>(decision).map(|d| d.review)
}

#[test]
fn review_accepts_indefinite_and_a_date() {
    assert_eq!(
        review_from(json!("indefinite")).unwrap(),
        ReviewDue::Indefinite
    );
    assert_eq!(
        review_from(json!("2027-05-23")).unwrap(),
        ReviewDue::On(date("2027-05-23"))
    );
}

#[test]
fn review_refuses_other_strings_and_non_strings() {
    for raw in [
        json!("Indefinite"),
        json!("never"),
        json!(""),
        json!("2027-02-30"),
        json!("23/05/2027"),
        json!("2027-05-23T00:00:00Z"),
        json!(null),
        json!(20270523),
    ] {
        assert!(review_from(raw.clone()).is_err(), "{raw}");
    }
}

#[test]
fn review_serialises_to_its_wire_form() {
    assert_eq!(
        serde_json::to_value(ReviewDue::Indefinite).unwrap(),
        json!("indefinite")
    );
    assert_eq!(
        serde_json::to_value(ReviewDue::On(date("2027-01-05"))).unwrap(),
        json!("2027-01-05")
    );
}

#[test]
fn invalid_snomed_code_is_refused_when_deserialising() {
    for bad in ["40617008", "0040617009", "12345", "4061700a", ""] {
        let mut value = minimal_json();
        value["diagnosis"]["primary"]["snomed"] = json!(bad);
        assert!(plan_from(value).is_err(), "{bad:?}");
    }
    let mut value = minimal_json();
    value["diagnosis"]["primary"]["snomed"] = json!("40617009");
    assert!(plan_from(value).is_ok());
}

#[test]
fn invalid_ods_code_is_refused_when_deserialising() {
    let mut value = minimal_json();
    value["usual_gp"]["practice_ods_code"] = json!("A81-001");
    assert!(plan_from(value).is_err());
}

#[test]
fn unknown_enum_values_and_missing_mandatory_items_are_refused() {
    let mut value = minimal_json();
    value["consent_to_share"]["status"] = json!("maybe");
    assert!(plan_from(value).is_err());

    let mut decision = serde_json::to_value(dnacpr()).unwrap();
    decision["decision"] = json!("no-decision");
    assert!(from_value::<ResuscitationDecision>(decision).is_err());

    for mandatory in ["consent_to_share", "person", "usual_gp", "diagnosis"] {
        let mut value = minimal_json();
        value.as_object_mut().unwrap().remove(mandatory);
        assert!(plan_from(value).is_err(), "{mandatory}");
    }
}

#[test]
fn decision_status_defaults_to_current_and_adrt_status_to_active() {
    assert_eq!(dnacpr().status, DecisionStatus::Current);
    assert_eq!(adrt().status, AdrtStatus::Active);
}

#[test]
fn full_plan_round_trips_through_json() {
    let content = full_plan();
    let again: PlanContent = from_value(serde_json::to_value(&content).unwrap()).unwrap();
    assert_eq!(again, content);
}

#[test]
fn ending_time_keeps_its_offset() {
    // H6: a time written as UK summer time comes back as it was written.
    let mut decision = serde_json::to_value(dnacpr()).unwrap();
    decision["status"] = json!("revoked");
    decision["ended"] = json!({ "at": "2026-07-01T00:30:00+01:00", "by": "Dr A", "reason": "r" });
    let parsed: ResuscitationDecision = from_value(decision).unwrap();
    let back = serde_json::to_value(&parsed).unwrap();
    assert_eq!(back["ended"]["at"], json!("2026-07-01T00:30:00+01:00"));
}

// ---------------------------------------------------------------------------------------------
// PlanRecord::create
// ---------------------------------------------------------------------------------------------

#[test]
fn create_assigns_ids_to_decisions_without_ids_and_keeps_given_ones() {
    let given = DecisionId::new_random();
    let mut kept = dnacpr();
    kept.status = DecisionStatus::Superseded;
    kept.ended = Some(ending("Dr Sam Patel", "Reviewed"));
    kept.id = Some(given);
    let mut content = plan();
    content.resuscitation_decisions = vec![kept, for_cpr()];
    content.adrts = vec![adrt()];
    let id = PlanId::new_random();
    let v1 = PlanRecord::create(id, content, now(), "dr.okafor").unwrap();

    assert_eq!(v1.id, id);
    assert_eq!(v1.version, 1);
    assert_eq!(v1.status, PlanStatus::Active);
    assert_eq!(v1.status_reason, None);
    assert_eq!(v1.created, now());
    assert_eq!(v1.last_updated, now());
    assert_eq!(v1.last_updated_by, "dr.okafor");
    assert_eq!(v1.plan.resuscitation_decisions[0].id, Some(given));
    let new_id = v1.plan.resuscitation_decisions[1]
        .id
        .expect("an id is assigned");
    assert_ne!(new_id, given);
    assert!(v1.plan.adrts[0].id.is_some());
    // A transferred ending without a time is stamped with the time of the change.
    assert_eq!(
        v1.plan.resuscitation_decisions[0]
            .ended
            .as_ref()
            .unwrap()
            .at,
        Some(now().fixed_offset())
    );
    // The incoming current decision is not superseded by anything on create.
    assert_eq!(
        v1.plan.resuscitation_decisions[1].status,
        DecisionStatus::Current
    );
}

#[test]
fn create_with_a_death_is_completed() {
    let mut content = plan();
    content.death = Some(death(date("2026-11-22")));
    assert_eq!(record(content).status, PlanStatus::Completed);
}

#[test]
fn create_refuses_invalid_content_with_every_problem() {
    let mut content = plan();
    content.person.family_name = String::new();
    content.resuscitation_decisions = vec![dnacpr(), for_cpr()];
    let result = PlanRecord::create(PlanId::new_random(), content, now(), "x");
    assert_eq!(
        import_refused_paths(result),
        strings(&["person.family_name", "resuscitation_decisions[1].status"])
    );
}

#[test]
fn create_uses_the_date_of_now_as_today() {
    // Created just after midnight UTC: tomorrow relative to that date is fine.
    let mut content = plan();
    content.consent_to_share.date = date("2026-11-24");
    let just_after_midnight: DateTime<Utc> = "2026-11-23T00:05:00Z".parse().unwrap();
    assert!(PlanRecord::create(
        PlanId::new_random(),
        content.clone(),
        just_after_midnight,
        "x"
    )
    .is_ok());
    content.consent_to_share.date = date("2026-11-25");
    assert!(PlanRecord::create(PlanId::new_random(), content, just_after_midnight, "x").is_err());
}

#[test]
fn create_refuses_duplicate_decision_ids() {
    let id = DecisionId::new_random();
    let mut first = dnacpr();
    first.id = Some(id);
    first.status = DecisionStatus::Revoked;
    first.ended = Some(ending("Dr A", "r"));
    let mut second = for_cpr();
    second.id = Some(id);
    let mut content = plan();
    content.resuscitation_decisions = vec![first, second];
    let result = PlanRecord::create(PlanId::new_random(), content, now(), "x");
    assert_eq!(
        import_refused_paths(result),
        strings(&["resuscitation_decisions[1].id"])
    );
}

// ---------------------------------------------------------------------------------------------
// PlanRecord::revise: CPR decisions (H1, H5)
// ---------------------------------------------------------------------------------------------

#[test]
fn revise_increments_the_version_and_keeps_identity_and_creation() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.special_note = Some("Dog in the house".into());
    let v2 = v1.revise(content, later(), "nurse.bell").unwrap();
    assert_eq!(v2.id, v1.id);
    assert_eq!(v2.version, 2);
    assert_eq!(v2.status, PlanStatus::Active);
    assert_eq!(v2.created, now());
    assert_eq!(v2.last_updated, later());
    assert_eq!(v2.last_updated_by, "nurse.bell");
    assert_eq!(
        v2.plan.resuscitation_decisions,
        v1.plan.resuscitation_decisions
    );
    let v3 = v2.revise(v2.plan.clone(), later(), "nurse.bell").unwrap();
    assert_eq!(v3.version, 3);
}

#[test]
fn revise_recording_a_death_completes_the_plan() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.death = Some(death(today()));
    let v2 = v1.revise(content, later(), "x").unwrap();
    assert_eq!(v2.status, PlanStatus::Completed);
}

#[test]
fn new_current_cpr_decision_supersedes_the_stored_one() {
    let v1 = record_with_dnacpr();
    let stored_id = v1.plan.resuscitation_decisions[0].id;
    let mut content = v1.plan.clone();
    content.resuscitation_decisions.push(for_cpr());
    let v2 = v1.revise(content, later(), "dr.patel").unwrap();

    assert_eq!(v2.version, 2);
    let old = &v2.plan.resuscitation_decisions[0];
    assert_eq!(old.id, stored_id);
    assert_eq!(old.status, DecisionStatus::Superseded);
    let ended = old.ended.as_ref().expect("a superseded decision says why");
    assert_eq!(ended.by, "Dr Sam Patel");
    assert_eq!(ended.at, Some(later().fixed_offset()));
    assert!(!ended.reason.trim().is_empty());
    // The superseded decision's clinical content is untouched.
    assert_eq!(old.decision, CprDecision::NotForCpr);
    assert_eq!(old.decision_date, date("2026-10-15"));

    let new = &v2.plan.resuscitation_decisions[1];
    assert!(new.id.is_some());
    match v2.resuscitation_status() {
        ResuscitationStatus::Decided(current) => {
            assert_eq!(current.id, new.id);
            assert_eq!(current.decision, CprDecision::ForCpr);
        }
        other => panic!("expected the new decision, got {other:?}"),
    }
    assert_eq!(v2.resuscitation_status().as_str(), "for-cpr");
    // H5: the earlier version is not changed.
    assert_eq!(
        v1.plan.resuscitation_decisions[0].status,
        DecisionStatus::Current
    );
    assert_eq!(v1.resuscitation_status().as_str(), "not-for-cpr");
}

#[test]
fn a_later_decision_supersedes_only_the_current_one() {
    let v2 = record_with_superseded_dnacpr();
    let first_ending = v2.plan.resuscitation_decisions[0].ended.clone();
    let mut content = v2.plan.clone();
    let mut third = dnacpr();
    third.decision_date = today();
    third.decided_by.name = "Dr Lee Chan".into();
    content.resuscitation_decisions.push(third);
    let later_still: DateTime<Utc> = "2026-11-23T18:00:00Z".parse().unwrap();
    let v3 = v2.revise(content, later_still, "dr.chan").unwrap();

    let decisions = &v3.plan.resuscitation_decisions;
    assert_eq!(decisions[0].ended, first_ending);
    assert_eq!(decisions[1].status, DecisionStatus::Superseded);
    let ended = decisions[1].ended.as_ref().unwrap();
    assert_eq!(ended.by, "Dr Lee Chan");
    assert_eq!(ended.at, Some(later_still.fixed_offset()));
    assert_eq!(decisions[2].status, DecisionStatus::Current);
    assert!(matches!(
        v3.resuscitation_status(),
        ResuscitationStatus::Decided(d) if d.id == decisions[2].id
    ));
}

#[test]
fn client_may_supersede_explicitly_with_its_own_ending() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.resuscitation_decisions[0].status = DecisionStatus::Superseded;
    content.resuscitation_decisions[0].ended =
        Some(ending("Dr Sam Patel", "Reviewed at home visit"));
    content.resuscitation_decisions.push(for_cpr());
    let v2 = v1.revise(content, later(), "dr.patel").unwrap();
    let ended = v2.plan.resuscitation_decisions[0].ended.as_ref().unwrap();
    assert_eq!(ended.reason, "Reviewed at home visit");
    assert_eq!(ended.at, Some(later().fixed_offset()));
}

#[test]
fn two_new_current_decisions_are_refused_and_nothing_is_superseded_silently() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.resuscitation_decisions.push(for_cpr());
    content.resuscitation_decisions.push(for_cpr());
    let paths = refused_paths(v1.revise(content, later(), "x"));
    assert!(
        paths.contains(&"resuscitation_decisions[1].status".to_owned())
            || paths.contains(&"resuscitation_decisions[2].status".to_owned()),
        "{paths:?}"
    );
}

#[test]
fn removing_a_stored_decision_is_refused() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.resuscitation_decisions.clear();
    assert_eq!(
        refused_paths(v1.revise(content, later(), "x")),
        strings(&["resuscitation_decisions"])
    );
}

#[test]
fn removing_a_superseded_decision_is_refused() {
    let v2 = record_with_superseded_dnacpr();
    let mut content = v2.plan.clone();
    content.resuscitation_decisions.remove(0);
    assert_eq!(
        refused_paths(v2.revise(content, later(), "x")),
        strings(&["resuscitation_decisions"])
    );
}

#[test]
fn sending_a_stored_decision_without_its_id_is_refused_as_a_removal() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.resuscitation_decisions[0].id = None;
    let paths = refused_paths(v1.revise(content, later(), "x"));
    assert!(
        paths.contains(&"resuscitation_decisions".to_owned()),
        "{paths:?}"
    );
}

#[test]
fn changing_a_stored_decisions_clinical_content_is_refused() {
    let edits: [fn(&mut ResuscitationDecision); 4] = [
        |d| d.decision = CprDecision::ForCpr,
        |d| d.decision_date = date("2026-10-16"),
        |d| d.form_location = Some("Kitchen drawer".into()),
        |d| d.decided_by.name = "Dr Someone Else".into(),
    ];
    for edit in edits {
        let v1 = record_with_dnacpr();
        let mut content = v1.plan.clone();
        edit(&mut content.resuscitation_decisions[0]);
        assert_eq!(
            refused_paths(v1.revise(content, later(), "x")),
            strings(&["resuscitation_decisions[0]"])
        );
    }
}

#[test]
fn changing_content_is_refused_at_the_new_index_after_reordering() {
    let v2 = record_with_superseded_dnacpr();
    let mut content = v2.plan.clone();
    content.resuscitation_decisions.swap(0, 1);
    // Reordering alone is fine: decisions are matched by id.
    assert!(v2.revise(content.clone(), later(), "x").is_ok());
    content.resuscitation_decisions[1].reason = Some("edited".into());
    assert_eq!(
        refused_paths(v2.revise(content, later(), "x")),
        strings(&["resuscitation_decisions[1]"])
    );
}

#[test]
fn superseded_decision_cannot_become_current_again() {
    let v2 = record_with_superseded_dnacpr();
    let mut content = v2.plan.clone();
    content.resuscitation_decisions[0].status = DecisionStatus::Current;
    content.resuscitation_decisions[0].ended = None;
    content.resuscitation_decisions[1].status = DecisionStatus::Revoked;
    content.resuscitation_decisions[1].ended =
        Some(ending("Dr Sam Patel", "Recorded on the wrong day"));
    assert_eq!(
        refused_paths(v2.revise(content, later(), "x")),
        strings(&["resuscitation_decisions[0].status"])
    );
}

#[test]
fn revoked_decision_cannot_become_current_again() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.resuscitation_decisions[0].status = DecisionStatus::Revoked;
    content.resuscitation_decisions[0].ended = Some(ending("Dr A", "r"));
    let v2 = v1.revise(content, later(), "x").unwrap();
    let mut content = v2.plan.clone();
    content.resuscitation_decisions[0].status = DecisionStatus::Current;
    content.resuscitation_decisions[0].ended = None;
    assert_eq!(
        refused_paths(v2.revise(content, later(), "x")),
        strings(&["resuscitation_decisions[0].status"])
    );
}

#[test]
fn superseded_decision_may_be_marked_entered_in_error() {
    let v2 = record_with_superseded_dnacpr();
    let mut content = v2.plan.clone();
    content.resuscitation_decisions[0].status = DecisionStatus::EnteredInError;
    content.resuscitation_decisions[0].ended = Some(ending("Dr A", "Wrong patient"));
    let v3 = v2.revise(content, later(), "x").unwrap();
    assert_eq!(
        v3.plan.resuscitation_decisions[0].status,
        DecisionStatus::EnteredInError
    );
}

#[test]
fn revoking_a_decision_with_an_ending_works() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.resuscitation_decisions[0].status = DecisionStatus::Revoked;
    content.resuscitation_decisions[0].ended = Some(ending(
        "Dr Amara Okafor",
        "Patient regained capacity and wishes CPR",
    ));
    let v2 = v1.revise(content, later(), "dr.okafor").unwrap();
    let decision = &v2.plan.resuscitation_decisions[0];
    assert_eq!(decision.status, DecisionStatus::Revoked);
    assert_eq!(decision.id, v1.plan.resuscitation_decisions[0].id);
    let ended = decision.ended.as_ref().unwrap();
    assert_eq!(ended.at, Some(later().fixed_offset()));
    assert_eq!(ended.by, "Dr Amara Okafor");
    assert_eq!(
        v2.resuscitation_status(),
        ResuscitationStatus::NoDecisionRecorded
    );
}

#[test]
fn revoking_a_decision_without_an_ending_is_refused() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.resuscitation_decisions[0].status = DecisionStatus::Revoked;
    assert_eq!(
        refused_paths(v1.revise(content, later(), "x")),
        strings(&["resuscitation_decisions[0].ended"])
    );
}

#[test]
fn omitting_the_ending_of_an_ended_decision_keeps_the_stored_one() {
    let v2 = record_with_superseded_dnacpr();
    let stored = v2.plan.resuscitation_decisions[0].ended.clone();
    assert!(stored.is_some());
    let mut content = v2.plan.clone();
    content.resuscitation_decisions[0].ended = None;
    let v3 = v2.revise(content, later(), "x").unwrap();
    assert_eq!(v3.plan.resuscitation_decisions[0].ended, stored);
    assert_eq!(
        v3.plan.resuscitation_decisions[0].status,
        DecisionStatus::Superseded
    );
}

#[test]
fn sending_the_ending_back_as_read_or_without_its_time_is_accepted() {
    let v2 = record_with_superseded_dnacpr();
    let stored = v2.plan.resuscitation_decisions[0].ended.clone().unwrap();
    let v3 = v2.revise(v2.plan.clone(), later(), "x").unwrap();
    assert_eq!(
        v3.plan.resuscitation_decisions[0].ended.as_ref(),
        Some(&stored)
    );

    let mut content = v2.plan.clone();
    content.resuscitation_decisions[0]
        .ended
        .as_mut()
        .unwrap()
        .at = None;
    let evening: DateTime<Utc> = "2026-11-23T20:00:00Z".parse().unwrap();
    let v3 = v2.revise(content, evening, "x").unwrap();
    assert_eq!(
        v3.plan.resuscitation_decisions[0].ended.as_ref(),
        Some(&stored)
    );
}

#[test]
fn rewriting_a_stored_ending_is_refused() {
    let edits: [fn(&mut Ending); 3] = [
        |e| e.reason = "A different story".into(),
        |e| e.by = "Dr Someone Else".into(),
        |e| e.at = Some("2026-11-01T09:00:00+00:00".parse().unwrap()),
    ];
    for edit in edits {
        let v2 = record_with_superseded_dnacpr();
        let mut content = v2.plan.clone();
        edit(content.resuscitation_decisions[0].ended.as_mut().unwrap());
        assert_eq!(
            refused_paths(v2.revise(content, later(), "x")),
            strings(&["resuscitation_decisions[0].ended"])
        );
    }
}

// ---------------------------------------------------------------------------------------------
// PlanRecord::revise: ADRTs
// ---------------------------------------------------------------------------------------------

#[test]
fn withdrawing_an_adrt_with_an_ending_works() {
    let v1 = record_with_adrt();
    let mut content = v1.plan.clone();
    content.adrts[0].status = AdrtStatus::Withdrawn;
    content.adrts[0].ended = Some(ending("Dr Amara Okafor", "Withdrawn by the person"));
    let v2 = v1.revise(content, later(), "x").unwrap();
    let withdrawn = &v2.plan.adrts[0];
    assert_eq!(withdrawn.status, AdrtStatus::Withdrawn);
    assert_eq!(withdrawn.id, v1.plan.adrts[0].id);
    assert_eq!(
        withdrawn.ended.as_ref().unwrap().at,
        Some(later().fixed_offset())
    );
}

#[test]
fn withdrawing_an_adrt_without_an_ending_is_refused() {
    let v1 = record_with_adrt();
    let mut content = v1.plan.clone();
    content.adrts[0].status = AdrtStatus::Withdrawn;
    assert_eq!(
        refused_paths(v1.revise(content, later(), "x")),
        strings(&["adrts[0].ended"])
    );
}

#[test]
fn deleting_an_adrt_is_refused() {
    let v1 = record_with_adrt();
    let mut content = v1.plan.clone();
    content.adrts.clear();
    assert_eq!(
        refused_paths(v1.revise(content, later(), "x")),
        strings(&["adrts"])
    );
}

#[test]
fn changing_an_adrts_content_is_refused() {
    let v1 = record_with_adrt();
    let mut content = v1.plan.clone();
    content.adrts[0].refused_treatments[0].text = "Antibiotics".into();
    assert_eq!(
        refused_paths(v1.revise(content, later(), "x")),
        strings(&["adrts[0]"])
    );
}

#[test]
fn withdrawn_adrt_cannot_become_active_again() {
    let v1 = record_with_adrt();
    let mut content = v1.plan.clone();
    content.adrts[0].status = AdrtStatus::Withdrawn;
    content.adrts[0].ended = Some(ending("Dr A", "Withdrawn by the person"));
    let v2 = v1.revise(content, later(), "x").unwrap();
    let mut content = v2.plan.clone();
    content.adrts[0].status = AdrtStatus::Active;
    content.adrts[0].ended = None;
    assert_eq!(
        refused_paths(v2.revise(content, later(), "x")),
        strings(&["adrts[0].status"])
    );
}

#[test]
fn omitting_the_ending_of_a_withdrawn_adrt_keeps_the_stored_one_and_rewriting_is_refused() {
    let v1 = record_with_adrt();
    let mut content = v1.plan.clone();
    content.adrts[0].status = AdrtStatus::Withdrawn;
    content.adrts[0].ended = Some(ending("Dr A", "Withdrawn by the person"));
    let v2 = v1.revise(content, later(), "x").unwrap();
    let stored = v2.plan.adrts[0].ended.clone();

    let mut content = v2.plan.clone();
    content.adrts[0].ended = None;
    let v3 = v2.revise(content, later(), "x").unwrap();
    assert_eq!(v3.plan.adrts[0].ended, stored);

    let mut content = v2.plan.clone();
    content.adrts[0].ended.as_mut().unwrap().reason = "Another reason".into();
    assert_eq!(
        refused_paths(v2.revise(content, later(), "x")),
        strings(&["adrts[0].ended"])
    );
}

#[test]
fn adding_an_adrt_on_revise_assigns_it_an_id() {
    let v1 = record_with_adrt();
    let mut content = v1.plan.clone();
    let mut second = adrt();
    second.refused_treatments[0].text = "Antibiotics".into();
    second.refuses_life_sustaining_treatment = false;
    content.adrts.push(second);
    let v2 = v1.revise(content, later(), "x").unwrap();
    assert_eq!(v2.plan.adrts[0].id, v1.plan.adrts[0].id);
    assert!(v2.plan.adrts[1].id.is_some());
    assert_ne!(v2.plan.adrts[1].id, v2.plan.adrts[0].id);
}

// ---------------------------------------------------------------------------------------------
// PlanRecord::revise: identity
// ---------------------------------------------------------------------------------------------

#[test]
fn changing_the_nhs_number_on_revise_is_refused() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.person.nhs_number = nhs("9990000026");
    assert_eq!(
        refused_paths(v1.revise(content, later(), "x")),
        strings(&["person.nhs_number"])
    );
}

#[test]
fn nhs_number_change_is_reported_with_every_other_problem() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.person.nhs_number = nhs("9990000026");
    content.person.family_name = " ".into();
    content.resuscitation_decisions.clear();
    assert_eq!(
        refused_paths(v1.revise(content, later(), "x")),
        strings(&[
            "person.nhs_number",
            "person.family_name",
            "resuscitation_decisions"
        ])
    );
}

#[test]
fn nhs_number_written_with_spaces_is_the_same_number() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.person.nhs_number = nhs("999 000 0018");
    assert!(v1.revise(content, later(), "x").is_ok());
}

// ---------------------------------------------------------------------------------------------
// PlanRecord::end
// ---------------------------------------------------------------------------------------------

#[test]
fn ending_a_plan_requires_a_reason() {
    let v1 = record_with_dnacpr();
    for how in [PlanEnd::Revoke, PlanEnd::EnteredInError] {
        for reason in ["", "   "] {
            assert_eq!(
                refused_paths(v1.end(how, reason, later(), "x")),
                strings(&["reason"]),
                "{how:?} {reason:?}"
            );
        }
    }
}

#[test]
fn revoking_a_plan_keeps_its_content_and_records_why() {
    let v1 = record_with_dnacpr();
    let v2 = v1
        .end(PlanEnd::Revoke, "Left the area", later(), "admin")
        .unwrap();
    assert_eq!(v2.id, v1.id);
    assert_eq!(v2.version, 2);
    assert_eq!(v2.status, PlanStatus::Revoked);
    assert_eq!(v2.status_reason.as_deref(), Some("Left the area"));
    assert_eq!(v2.plan, v1.plan);
    assert_eq!(v2.created, v1.created);
    assert_eq!(v2.last_updated, later());
    assert_eq!(v2.last_updated_by, "admin");
    assert_eq!(v1.status, PlanStatus::Active);
}

#[test]
fn entering_a_plan_in_error_keeps_its_content() {
    let v1 = record_with_dnacpr();
    let v2 = v1
        .end(PlanEnd::EnteredInError, "Wrong patient", later(), "admin")
        .unwrap();
    assert_eq!(v2.status, PlanStatus::EnteredInError);
    assert_eq!(v2.plan, v1.plan);
}

#[test]
fn revoked_plan_may_still_be_marked_entered_in_error_but_not_revoked_again() {
    let v2 = record_with_dnacpr()
        .end(PlanEnd::Revoke, "Left the area", later(), "admin")
        .unwrap();
    assert!(matches!(
        v2.end(PlanEnd::Revoke, "again", later(), "admin"),
        Err(ChangeError::PlanEnded(PlanStatus::Revoked))
    ));
    let v3 = v2
        .end(PlanEnd::EnteredInError, "Wrong patient", later(), "admin")
        .unwrap();
    assert_eq!(v3.status, PlanStatus::EnteredInError);
    assert_eq!(v3.version, 3);
    assert!(matches!(
        v3.end(PlanEnd::EnteredInError, "again", later(), "admin"),
        Err(ChangeError::PlanEnded(PlanStatus::EnteredInError))
    ));
}

#[test]
fn revising_an_ended_plan_is_refused() {
    let v1 = record_with_dnacpr();
    for (how, status) in [
        (PlanEnd::Revoke, PlanStatus::Revoked),
        (PlanEnd::EnteredInError, PlanStatus::EnteredInError),
    ] {
        let ended = v1.end(how, "reason", later(), "admin").unwrap();
        let result = ended.revise(v1.plan.clone(), later(), "x");
        assert!(
            matches!(result, Err(ChangeError::PlanEnded(s)) if s == status),
            "{how:?}: {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The CPR answer (H1, H2)
// ---------------------------------------------------------------------------------------------

#[test]
fn revoked_plan_holding_a_current_dnacpr_is_not_current() {
    let v1 = record_with_dnacpr();
    let v2 = v1
        .end(PlanEnd::Revoke, "Left the area", later(), "admin")
        .unwrap();
    assert_eq!(
        v2.plan.resuscitation_decisions[0].status,
        DecisionStatus::Current
    );
    assert_eq!(
        v2.resuscitation_status(),
        ResuscitationStatus::PlanNotCurrent(PlanStatus::Revoked)
    );
    assert_eq!(v2.resuscitation_status().as_str(), "plan-not-current");
}

#[test]
fn plan_entered_in_error_has_no_cpr_answer() {
    let v2 = record_with_dnacpr()
        .end(PlanEnd::EnteredInError, "Wrong patient", later(), "admin")
        .unwrap();
    assert_eq!(
        v2.resuscitation_status(),
        ResuscitationStatus::PlanNotCurrent(PlanStatus::EnteredInError)
    );
}

#[test]
fn no_decision_is_no_decision_recorded_never_for_cpr() {
    let v1 = record(plan());
    assert_eq!(
        v1.resuscitation_status(),
        ResuscitationStatus::NoDecisionRecorded
    );
    assert_eq!(v1.resuscitation_status().as_str(), "no-decision-recorded");
    assert_ne!(v1.resuscitation_status().as_str(), "for-cpr");
}

#[test]
fn only_ended_decisions_is_no_decision_recorded() {
    let mut content = plan();
    for status in [
        DecisionStatus::Superseded,
        DecisionStatus::Revoked,
        DecisionStatus::EnteredInError,
    ] {
        let mut decision = for_cpr();
        decision.status = status;
        decision.ended = Some(ending("Dr A", "r"));
        content.resuscitation_decisions.push(decision);
    }
    let v1 = record(content);
    assert_eq!(
        v1.resuscitation_status(),
        ResuscitationStatus::NoDecisionRecorded
    );
}

#[test]
fn the_current_decision_is_the_answer() {
    let v1 = record_with_dnacpr();
    match v1.resuscitation_status() {
        ResuscitationStatus::Decided(decision) => {
            assert_eq!(decision.decision, CprDecision::NotForCpr);
            assert_eq!(decision.id, v1.plan.resuscitation_decisions[0].id);
        }
        other => panic!("expected a decision, got {other:?}"),
    }
    assert_eq!(v1.resuscitation_status().as_str(), "not-for-cpr");
}

#[test]
fn two_current_decisions_that_slipped_past_validation_are_not_answered() {
    // Validation keeps this from being stored; the answer must still not pick one.
    let mut v1 = record_with_dnacpr();
    v1.plan.resuscitation_decisions.push(for_cpr());
    assert_eq!(
        v1.resuscitation_status(),
        ResuscitationStatus::NoDecisionRecorded
    );
}

// ---------------------------------------------------------------------------------------------
// Overdue reviews (H7)
// ---------------------------------------------------------------------------------------------

#[test]
fn plan_review_date_past_is_flagged() {
    let mut content = plan();
    content.review_date = Some(date("2026-11-22"));
    let v1 = record(content);
    assert_eq!(
        v1.overdue_reviews(today()),
        vec![OverdueReview {
            item: "plan".into(),
            due: date("2026-11-22")
        }]
    );
}

#[test]
fn review_due_today_is_not_flagged() {
    let mut content = plan();
    content.review_date = Some(today());
    let mut decision = dnacpr();
    decision.review = ReviewDue::On(today());
    content.resuscitation_decisions.push(decision);
    let v1 = record(content);
    assert!(v1.overdue_reviews(today()).is_empty());
}

#[test]
fn current_decision_review_past_is_flagged() {
    let v1 = record_with_dnacpr(); // review 2027-01-15
    assert!(v1.overdue_reviews(date("2027-01-15")).is_empty());
    assert_eq!(
        v1.overdue_reviews(date("2027-01-16")),
        vec![OverdueReview {
            item: "resuscitation_decisions[0]".into(),
            due: date("2027-01-15")
        }]
    );
}

#[test]
fn plan_and_decision_both_overdue_are_both_flagged() {
    let mut content = plan();
    content.review_date = Some(date("2027-01-01"));
    content.resuscitation_decisions.push(dnacpr());
    let v1 = record(content);
    let items: Vec<String> = v1
        .overdue_reviews(date("2027-06-01"))
        .into_iter()
        .map(|o| o.item)
        .collect();
    assert_eq!(items, vec!["plan", "resuscitation_decisions[0]"]);
}

#[test]
fn indefinite_review_is_never_flagged() {
    let mut content = plan();
    content.resuscitation_decisions.push(for_cpr());
    let v1 = record(content);
    assert!(v1.overdue_reviews(date("2099-12-31")).is_empty());
}

#[test]
fn superseded_decisions_past_review_is_not_flagged() {
    let v2 = record_with_superseded_dnacpr(); // superseded one reviews 2027-01-15; new one indefinite
    assert!(v2.overdue_reviews(date("2027-06-01")).is_empty());
}

#[test]
fn overdue_decision_is_flagged_at_its_own_index() {
    let v2 = record_with_superseded_dnacpr();
    let mut content = v2.plan.clone();
    let mut third = dnacpr();
    third.decision_date = today();
    third.review = ReviewDue::On(date("2027-02-01"));
    content.resuscitation_decisions.push(third);
    let v3 = v2.revise(content, later(), "x").unwrap();
    assert_eq!(
        v3.overdue_reviews(date("2027-03-01")),
        vec![OverdueReview {
            item: "resuscitation_decisions[2]".into(),
            due: date("2027-02-01")
        }]
    );
}

#[test]
fn revoked_plan_is_not_flagged() {
    let mut content = plan();
    content.review_date = Some(date("2026-11-01"));
    content.resuscitation_decisions.push(dnacpr());
    let v1 = record(content);
    assert!(!v1.overdue_reviews(date("2027-06-01")).is_empty());
    let v2 = v1
        .end(PlanEnd::Revoke, "Left the area", later(), "x")
        .unwrap();
    assert!(v2.overdue_reviews(date("2027-06-01")).is_empty());
    let v3 = v1
        .end(PlanEnd::EnteredInError, "Wrong patient", later(), "x")
        .unwrap();
    assert!(v3.overdue_reviews(date("2027-06-01")).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

fn import_line(extra: Value, content: &PlanContent) -> ImportRecord {
    let mut line = extra;
    line["plan"] = serde_json::to_value(content).unwrap();
    from_value(line).unwrap()
}

/// A plan with a current decision, a transferred superseded one (no ids, no ending time) and an
/// ADRT: what another system would send.
fn transferred_plan() -> PlanContent {
    let mut content = plan();
    let mut old = for_cpr();
    old.decision_date = date("2026-01-10");
    old.status = DecisionStatus::Superseded;
    old.ended = Some(ending("Dr Amara Okafor", "Superseded by the DNACPR"));
    content.resuscitation_decisions = vec![old, dnacpr()];
    content.adrts = vec![adrt()];
    content
}

#[test]
fn import_with_only_a_plan_is_a_new_active_plan() {
    let line = import_line(json!({}), &plan());
    let stored = line.into_record(now(), "importer").unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.status, PlanStatus::Active);
    assert_eq!(stored.created, now());
    assert_eq!(stored.last_updated, now());
    assert_eq!(stored.last_updated_by, "importer");
}

#[test]
fn import_matches_the_same_content_without_ids() {
    let content = transferred_plan();
    let stored = import_line(json!({}), &content)
        .into_record(now(), "importer")
        .unwrap();
    assert!(stored
        .plan
        .resuscitation_decisions
        .iter()
        .all(|d| d.id.is_some()));
    // Re-importing the same line, ids and ending times left out, changes nothing.
    let again = import_line(json!({}), &content);
    assert!(again.matches(&stored));
}

#[test]
fn import_does_not_match_different_content() {
    let content = transferred_plan();
    let stored = import_line(json!({}), &content)
        .into_record(now(), "importer")
        .unwrap();
    let edits: [fn(&mut PlanContent); 4] = [
        |p| p.person.family_name = "Whitfeld".into(),
        |p| p.resuscitation_decisions[1].decision = CprDecision::ForCpr,
        |p| p.resuscitation_decisions[0].ended.as_mut().unwrap().reason = "other".into(),
        |p| p.adrts.clear(),
    ];
    for edit in edits {
        let mut changed = content.clone();
        edit(&mut changed);
        assert!(!import_line(json!({}), &changed).matches(&stored));
    }
}

#[test]
fn import_does_not_match_a_different_id_status_or_version() {
    let stored = import_line(json!({}), &plan())
        .into_record(now(), "importer")
        .unwrap();
    let other_id = PlanId::new_random().to_string();
    assert!(!import_line(json!({ "id": other_id }), &plan()).matches(&stored));
    assert!(!import_line(
        json!({ "status": "revoked", "status_reason": "r" }),
        &plan()
    )
    .matches(&stored));
    assert!(!import_line(json!({ "version": 2 }), &plan()).matches(&stored));
    assert!(import_line(
        json!({ "id": stored.id.to_string(), "version": 1 }),
        &plan()
    )
    .matches(&stored));
}

#[test]
fn import_keeps_the_identity_and_dates_it_is_given() {
    let id = PlanId::new_random();
    let line = import_line(
        json!({
            "id": id.to_string(),
            "version": 4,
            "status": "active",
            "created": "2025-01-02T03:04:05Z",
            "last_updated": "2026-06-07T08:09:10Z",
            "last_updated_by": "old-system"
        }),
        &plan(),
    );
    let stored = line.into_record(now(), "importer").unwrap();
    assert_eq!(stored.id, id);
    assert_eq!(stored.version, 4);
    assert_eq!(
        stored.created,
        "2025-01-02T03:04:05Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(
        stored.last_updated,
        "2026-06-07T08:09:10Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(stored.last_updated_by, "old-system");
}

#[test]
fn import_of_a_revoked_plan_needs_a_reason() {
    for status in ["revoked", "entered-in-error"] {
        for extra in [
            json!({ "status": status }),
            json!({ "status": status, "status_reason": " " }),
        ] {
            let result = import_line(extra, &plan()).into_record(now(), "importer");
            assert_eq!(
                import_refused_paths(result),
                strings(&["status_reason"]),
                "{status}"
            );
        }
    }
    let stored = import_line(
        json!({ "status": "revoked", "status_reason": "Left the area" }),
        &plan(),
    )
    .into_record(now(), "importer")
    .unwrap();
    assert_eq!(stored.status, PlanStatus::Revoked);
    assert_eq!(stored.status_reason.as_deref(), Some("Left the area"));
    assert!(matches!(
        stored.resuscitation_status(),
        ResuscitationStatus::PlanNotCurrent(PlanStatus::Revoked)
    ));
}

#[test]
fn import_of_an_active_plan_with_a_death_is_refused() {
    let mut content = plan();
    content.death = Some(death(date("2026-11-20")));
    let result = import_line(json!({ "status": "active" }), &content).into_record(now(), "i");
    assert_eq!(import_refused_paths(result), strings(&["status"]));
    // Without a status, the death makes it completed.
    let stored = import_line(json!({}), &content)
        .into_record(now(), "i")
        .unwrap();
    assert_eq!(stored.status, PlanStatus::Completed);
}

#[test]
fn import_of_a_completed_plan_without_a_death_is_refused() {
    let result = import_line(json!({ "status": "completed" }), &plan()).into_record(now(), "i");
    assert_eq!(import_refused_paths(result), strings(&["status"]));
}

#[test]
fn import_of_version_zero_is_refused() {
    let result = import_line(json!({ "version": 0 }), &plan()).into_record(now(), "i");
    assert_eq!(import_refused_paths(result), strings(&["version"]));
    let result =
        import_line(json!({ "version": 0, "status": "revoked" }), &plan()).into_record(now(), "i");
    assert_eq!(
        import_refused_paths(result),
        strings(&["version", "status_reason"])
    );
}

#[test]
fn import_validates_the_content_like_a_new_plan() {
    let mut content = plan();
    content.resuscitation_decisions = vec![dnacpr(), for_cpr()];
    let result = import_line(json!({}), &content).into_record(now(), "i");
    assert_eq!(
        import_refused_paths(result),
        strings(&["plan.resuscitation_decisions[1].status"])
    );
}

#[test]
fn import_refuses_unknown_fields_on_the_line() {
    let mut line = json!({ "etag": "W/\"1\"" });
    line["plan"] = minimal_json();
    assert!(from_value::<ImportRecord>(line).is_err());
}

#[test]
fn an_exported_record_imports_as_itself_and_matches() {
    let v2 = record_with_superseded_dnacpr();
    let line: ImportRecord = from_value(serde_json::to_value(&v2).unwrap()).unwrap();
    assert_eq!(line, ImportRecord::from(v2.clone()));
    assert!(line.matches(&v2));
    let evening: DateTime<Utc> = "2026-11-23T20:00:00Z".parse().unwrap();
    let again = line.into_record(evening, "importer").unwrap();
    assert_eq!(again, v2);
}

#[test]
fn an_older_form_entered_late_does_not_supersede_a_newer_decision() {
    // H1: a DNACPR of 2026-10-15 is current; a "for CPR" form dated 2026-09-01 arrives late.
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    let mut older = for_cpr();
    older.decision_date = date("2026-09-01");
    content.resuscitation_decisions.push(older);
    let refused = refused_paths(v1.revise(content, later(), "dr.patel"));
    assert_eq!(
        refused,
        vec![
            "resuscitation_decisions[1].decision_date",
            "resuscitation_decisions[1].status"
        ]
    );
    assert_eq!(v1.resuscitation_status().as_str(), "not-for-cpr");
}

#[test]
fn an_older_form_can_be_recorded_once_the_newer_decision_is_ended_explicitly() {
    let v1 = record_with_dnacpr();
    let mut content = v1.plan.clone();
    content.resuscitation_decisions[0].status = DecisionStatus::Revoked;
    content.resuscitation_decisions[0].ended = Some(ending("Dr Sam Patel", "recorded in error"));
    let mut older = for_cpr();
    older.decision_date = date("2026-09-01");
    content.resuscitation_decisions.push(older);
    let v2 = v1.revise(content, later(), "dr.patel").unwrap();
    assert_eq!(v2.resuscitation_status().as_str(), "for-cpr");
}

#[test]
fn import_with_last_updated_before_created_is_refused() {
    let line = import_line(
        json!({ "created": "2026-05-02T10:00:00Z", "last_updated": "2026-05-01T10:00:00Z" }),
        &plan(),
    );
    assert_eq!(
        import_refused_paths(line.into_record(now(), "importer")),
        vec!["last_updated"]
    );
}

#[test]
fn import_with_a_status_reason_on_an_active_plan_is_refused() {
    let line = import_line(json!({ "status_reason": "why?" }), &plan());
    assert_eq!(
        import_refused_paths(line.into_record(now(), "importer")),
        vec!["status_reason"]
    );
}
