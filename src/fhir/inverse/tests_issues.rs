//! Error paths of the inverse mapping, each on a golden fixture with one edit: the exact issue
//! code, resource and FHIRPath expression; and `fhir_location` for the common domain paths.

use serde_json::{json, Value};

use super::tests::{golden, projection_from_json};
use super::{fhir_location, plan_from_fhir, FhirIssue, InversePlan, Severity};
use crate::domain::{CprDecision, DecisionStatus};
use crate::fhir::project;
use crate::fhir::tests::fixture_records;

const FIXTURE: &str = "01-dnacpr-active";
const CPR: usize = 3;
const SHARE: usize = 2;
const PATIENT: usize = 1;
const CARE_PLAN: usize = 0;
const GOAL_STATEMENT: usize = 8;
const CONTACT: usize = 9;

fn read(edit: impl FnOnce(&mut Vec<Value>)) -> Result<InversePlan, Vec<FhirIssue>> {
    let mut resources = golden(FIXTURE);
    edit(&mut resources);
    plan_from_fhir(&projection_from_json(&resources))
}

fn issues(edit: impl FnOnce(&mut Vec<Value>)) -> Vec<FhirIssue> {
    match read(edit) {
        Err(issues) => issues,
        Ok(plan) => panic!(
            "expected issues, got a plan with warnings {:?}",
            plan.warnings
        ),
    }
}

#[track_caller]
fn assert_issue(issues: &[FhirIssue], code: &str, resource_type: &str, expression: &str) {
    assert!(
        issues.iter().any(|i| i.code == code
            && i.resource_type == resource_type
            && i.expression == expression
            && i.severity == Severity::Error),
        "no {code} issue on {resource_type} at {expression} in {issues:#?}"
    );
}

#[test]
fn the_unedited_fixture_reads_without_issues() {
    let plan = read(|_| {}).unwrap();
    assert!(plan.warnings.is_empty());
    assert_eq!(plan.content.resuscitation_decisions.len(), 1);
}

#[test]
fn an_unresolvable_reference_is_not_found() {
    let found = issues(|r| {
        r[CPR]["performer"][0]["reference"] = json!("Practitioner/not-in-this-plan");
        r[CARE_PLAN]["goal"][0]["reference"] = json!("Goal/not-in-this-plan");
    });
    assert_issue(&found, "not-found", "Consent", "Consent.performer[0]");
    assert_issue(&found, "not-found", "CarePlan", "CarePlan.goal[0]");
    let consent = found.iter().find(|i| i.resource_type == "Consent").unwrap();
    assert_eq!(
        consent.resource_id.as_deref(),
        Some("00000000-0000-4000-8000-000000010201")
    );
}

#[test]
fn a_reference_to_another_patient_is_refused_h3() {
    let other = json!("Patient/someone-else");
    let found = issues(|r| {
        r[CPR]["patient"]["reference"] = other.clone();
        r[GOAL_STATEMENT]["subject"]["reference"] = other.clone();
        r[GOAL_STATEMENT]["expressedBy"]["reference"] = other.clone();
        r[CONTACT]["patient"]["reference"] = other.clone();
        r[CARE_PLAN]["subject"]["reference"] = other.clone();
    });
    assert_issue(&found, "invariant", "Consent", "Consent.patient");
    assert_issue(&found, "invariant", "Goal", "Goal.subject");
    assert_issue(&found, "invariant", "Goal", "Goal.expressedBy");
    assert_issue(
        &found,
        "invariant",
        "RelatedPerson",
        "RelatedPerson.patient",
    );
    assert_issue(&found, "invariant", "CarePlan", "CarePlan.subject");
}

#[test]
fn resources_are_classified_by_content_and_ids_only_name_decisions() {
    let plan = read(|r| {
        // A CPR decision Consent sent first, without an id: a new decision.
        let mut decision = r.remove(CPR);
        decision.as_object_mut().unwrap().remove("id");
        r.insert(2, decision);
        r[CARE_PLAN]["supportingInfo"]
            .as_array_mut()
            .unwrap()
            .retain(|s| s["reference"] != "Consent/00000000-0000-4000-8000-000000010201");
        // Another Goal id does not change what it is.
        r[GOAL_STATEMENT]["id"] = json!("statement-1");
        let goals = r[CARE_PLAN]["goal"].as_array_mut().unwrap();
        goals.retain(|g| g["reference"] != "Goal/b065d23a-53cb-523a-a9db-8bb33cdbfc7b");
        for p in r.iter_mut().filter(|p| p["resourceType"] == "Practitioner") {
            p["extension"]
                .as_array_mut()
                .unwrap()
                .retain(|e| !e.to_string().contains("000000010201"));
            if p["extension"].as_array().unwrap().is_empty() {
                p.as_object_mut().unwrap().remove("extension");
            }
        }
    })
    .unwrap();
    let decisions = &plan.content.resuscitation_decisions;
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].id, None);
    assert_eq!(decisions[0].decision, CprDecision::NotForCpr);
    assert_eq!(decisions[0].status, DecisionStatus::Current);
    assert_eq!(plan.content.advance_statements.len(), 1);
    assert!(plan
        .content
        .consent_to_share
        .recorded_by
        .name
        .starts_with("Dr"));
}

#[test]
fn the_older_resuscitation_codes_are_normalised_with_a_warning() {
    let plan = read(|r| {
        r[CPR]["category"][0]["coding"][0]["code"] = json!("304253006");
    })
    .unwrap();
    assert_eq!(
        plan.content.resuscitation_decisions[0].decision,
        CprDecision::NotForCpr
    );
    let warning = &plan.warnings[0];
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!(warning.expression, "Consent.category[0].coding[0].code");

    let for_cpr = read(|r| {
        r[CPR]["category"] =
            json!([{"coding": [{"system": "http://snomed.info/sct", "code": "304252001"}]}]);
        r[CPR]["provision"]["type"] = json!("permit");
    })
    .unwrap();
    assert_eq!(
        for_cpr.content.resuscitation_decisions[0].decision,
        CprDecision::ForCpr
    );
}

#[test]
fn an_unknown_code_where_one_of_ours_is_needed_is_code_invalid() {
    let found = issues(|r| {
        r[CPR]["category"][0]["coding"][0]["code"] = json!("22298006");
        r[SHARE]["scope"]["coding"][0]["code"] = json!("research");
        r[GOAL_STATEMENT]["category"][0]["coding"][0]["code"] = json!("1234567");
    });
    assert_issue(
        &found,
        "code-invalid",
        "Consent",
        "Consent.category[0].coding[0].code",
    );
    assert_issue(
        &found,
        "code-invalid",
        "Consent",
        "Consent.scope.coding[0].code",
    );
    assert_issue(
        &found,
        "code-invalid",
        "Goal",
        "Goal.category[0].coding[0].code",
    );
}

#[test]
fn elements_the_projection_never_writes_are_refused() {
    let found = issues(|r| {
        r[CPR]["verification"] = json!([{"verified": true}]);
        r[GOAL_STATEMENT]["target"] = json!([{"dueDate": "2027-01-01"}]);
        r[PATIENT]["modifierExtension"] =
            json!([{"url": "https://example.org/x", "valueBoolean": true}]);
        r[CARE_PLAN]["extension"]
            .as_array_mut()
            .unwrap()
            .push(json!({"url": "https://example.org/unknown", "valueString": "kept?"}));
        r[CPR]["_status"] =
            json!({"extension": [{"url": "https://example.org/y", "valueString": "z"}]});
        r[PATIENT]["maritalStatus"] = json!({"text": "widowed"});
    });
    assert_issue(
        &found,
        "not-supported",
        "Consent",
        "Consent.verification[0]",
    );
    assert_issue(&found, "not-supported", "Goal", "Goal.target[0]");
    assert_issue(
        &found,
        "not-supported",
        "Patient",
        "Patient.modifierExtension[0]",
    );
    assert_issue(&found, "not-supported", "CarePlan", "CarePlan.extension[6]");
    assert_issue(
        &found,
        "not-supported",
        "Consent",
        "Consent.status.extension[0]",
    );
    assert_issue(&found, "not-supported", "Patient", "Patient.maritalStatus");
}

#[test]
fn missing_required_things_are_reported_where_they_belong() {
    let found = issues(|r| {
        r[CPR]["provision"].as_object_mut().unwrap().remove("type");
        r[PATIENT].as_object_mut().unwrap().remove("identifier");
    });
    assert_issue(&found, "required", "Consent", "Consent.provision.type");
    assert_issue(&found, "required", "Patient", "Patient.identifier");

    let without_share = issues(|r| {
        r.remove(SHARE);
    });
    assert_issue(
        &without_share,
        "required",
        "CarePlan",
        "CarePlan.supportingInfo",
    );
    assert_issue(
        &without_share,
        "not-found",
        "CarePlan",
        "CarePlan.supportingInfo[0]",
    );
}

#[test]
fn an_nhs_number_with_a_bad_check_digit_is_a_value_issue() {
    let found = issues(|r| {
        let number = r[PATIENT]["identifier"][0]["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let last = number.as_bytes()[9] - b'0';
        let wrong = format!("{}{}", &number[..9], (last + 1) % 10);
        r[PATIENT]["identifier"][0]["value"] = json!(wrong);
    });
    assert_issue(&found, "value", "Patient", "Patient.identifier[0].value");
}

#[test]
fn every_issue_is_reported_not_only_the_first() {
    let found = issues(|r| {
        r[CPR]["provision"].as_object_mut().unwrap().remove("type");
        r[GOAL_STATEMENT]["target"] = json!([{"dueDate": "2027-01-01"}]);
        r[PATIENT]["gender"] = json!("mail");
    });
    assert_issue(&found, "required", "Consent", "Consent.provision.type");
    assert_issue(&found, "not-supported", "Goal", "Goal.target[0]");
    assert_issue(&found, "code-invalid", "Patient", "Patient.gender");
}

#[test]
fn contradictions_are_invariants_h1_h2() {
    // Not for CPR by its category, permit by its provision.
    let found = issues(|r| r[CPR]["provision"]["type"] = json!("permit"));
    assert_issue(&found, "invariant", "Consent", "Consent.provision.type");
    // Marked superseded, yet presented as active (H1).
    let found = issues(|r| {
        r[CPR]["extension"][0]["valueCode"] = json!("superseded");
        r[CPR]["extension"].as_array_mut().unwrap().push(json!({
            "url": "https://acp-fhir.example.org/fhir/StructureDefinition/decision-ended",
            "extension": [{"url": "by", "valueString": "Dr A"}, {"url": "reason", "valueString": "new form"}]
        }));
    });
    assert_issue(&found, "invariant", "Consent", "Consent.status");
}

#[test]
fn a_partial_or_zoned_decision_date_is_refused_h6() {
    let found = issues(|r| {
        r[CPR]["dateTime"] = json!("2025-11");
        r[SHARE]["dateTime"] = json!("2025-11-03T10:00:00+00:00");
    });
    let cpr = found
        .iter()
        .find(|i| i.expression == "Consent.dateTime" && i.code == "value");
    assert!(cpr.is_some(), "{found:#?}");
    assert_eq!(
        found
            .iter()
            .filter(|i| i.expression == "Consent.dateTime" && i.code == "value")
            .count(),
        2
    );
}

#[test]
fn fhir_location_places_the_common_domain_paths() {
    let records = fixture_records();
    let record = |stem: &str| {
        records
            .iter()
            .find(|(s, _)| s == stem)
            .map(|(_, r)| r.clone())
            .unwrap()
    };
    let lpa_plan = record("03-dnacpr-superseded-lpa");
    let projection = project(&lpa_plan);
    let second = lpa_plan.plan.resuscitation_decisions[1]
        .id
        .unwrap()
        .to_string();
    assert_eq!(
        fhir_location("resuscitation_decisions[1].review", &projection),
        Some((
            "Consent",
            Some(second.clone()),
            "Consent.extension[1]".to_owned()
        ))
    );
    assert_eq!(
        fhir_location(
            "plan.resuscitation_decisions[1].decided_by.name",
            &projection
        ),
        Some(("Consent", Some(second), "Consent.performer[0]".to_owned()))
    );
    let patient_id = projection.patient.id.as_ref().and_then(|i| i.value.clone());
    assert_eq!(
        fhir_location("person.nhs_number", &projection),
        Some((
            "Patient",
            patient_id.clone(),
            "Patient.identifier[0].value".to_owned()
        ))
    );
    assert_eq!(
        fhir_location("person.given_names[1]", &projection),
        Some(("Patient", patient_id, "Patient.name[0].given[1]".to_owned()))
    );
    let share = projection.consents[0]
        .id
        .as_ref()
        .and_then(|i| i.value.clone());
    assert_eq!(
        fhir_location("consent_to_share.status", &projection),
        Some(("Consent", share, "Consent.category[1]".to_owned()))
    );
    let lpa = projection.related_persons[2]
        .id
        .as_ref()
        .and_then(|i| i.value.clone());
    assert_eq!(
        fhir_location("lpas[0].life_sustaining_authority", &projection),
        Some((
            "RelatedPerson",
            lpa,
            "RelatedPerson.extension[0]".to_owned()
        ))
    );
    let contact = projection.related_persons[1]
        .id
        .as_ref()
        .and_then(|i| i.value.clone());
    assert_eq!(
        fhir_location("contacts[1].phones[0].number", &projection),
        Some((
            "RelatedPerson",
            contact,
            "RelatedPerson.telecom[0].value".to_owned()
        ))
    );
    let care_plan = Some(lpa_plan.id.to_string());
    assert_eq!(
        fhir_location("review_date", &projection),
        Some((
            "CarePlan",
            care_plan.clone(),
            "CarePlan.extension[0]".to_owned()
        ))
    );
    assert_eq!(
        fhir_location("diagnosis.primary.text", &projection),
        Some(("CarePlan", care_plan, "CarePlan.extension[1]".to_owned()))
    );
    let organization = projection.organizations[0]
        .id
        .as_ref()
        .and_then(|i| i.value.clone());
    assert_eq!(
        fhir_location("usual_gp.practice_ods_code", &projection),
        Some((
            "Organization",
            organization,
            "Organization.identifier[0].value".to_owned()
        ))
    );

    let active = record("01-dnacpr-active");
    let projection = project(&active);
    let care_plan = Some(active.id.to_string());
    assert_eq!(
        fhir_location("care_team.professionals[0].role", &projection),
        Some((
            "CarePlan",
            care_plan.clone(),
            "CarePlan.contained[0].participant[1].role[0].text".to_owned()
        ))
    );
    assert_eq!(
        fhir_location("care_team.key_worker.phone", &projection),
        Some((
            "CarePlan",
            care_plan,
            "CarePlan.contained[0].participant[0].extension[0].value".to_owned()
        ))
    );

    let adrt_plan = record("06-adrt-refusing-lst");
    let projection = project(&adrt_plan);
    let adrt = adrt_plan.plan.adrts[0].id.unwrap().to_string();
    assert_eq!(
        fhir_location("adrts[0].refused_treatments[1].text", &projection),
        Some((
            "Consent",
            Some(adrt),
            "Consent.provision.provision[1].code[0]".to_owned()
        ))
    );
    let second_choice = projection.goals[1]
        .id
        .as_ref()
        .and_then(|i| i.value.clone());
    assert_eq!(
        fhir_location("preferred_place_of_care.second.kind", &projection),
        Some(("Goal", second_choice, "Goal.description".to_owned()))
    );
    assert_eq!(
        fhir_location("resuscitation_decisions[7].review", &projection),
        None
    );
}
