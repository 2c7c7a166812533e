//! Matching: one matching and one non-matching case per parameter, every modifier and prefix,
//! date precision, references, NHS numbers and the patient hint.

use serde_json::json;

use super::*;

// ---- tokens --------------------------------------------------------------------------------

#[test]
fn token_forms_on_a_codeable_concept() {
    let c = consent("2025-11-04");
    assert!(hit("Consent", "category=450476008", &c));
    assert!(hit("Consent", &format!("category={SCT}|450476008"), &c));
    assert!(!hit("Consent", "category=http://loinc.org|450476008", &c));
    assert!(hit("Consent", &format!("category={SCT}|"), &c));
    assert!(!hit("Consent", "category=http://loinc.org|", &c));
    assert!(!hit("Consent", "category=|450476008", &c));
    assert!(hit("Consent", "category=|local-no-system", &c));
    assert!(!hit("Consent", "category=450475007", &c));
    assert!(
        hit("Consent", "category=450475007,450476008", &c),
        "comma is OR"
    );
    // Codes are case-sensitive.
    assert!(!hit("Consent", "scope=TREATMENT", &c));
    assert!(hit("Consent", "scope=treatment", &c));
    assert!(!hit("Consent", "scope=adr", &c));
    assert_eq!(refused("Consent", "scope=|").0, "scope");
}

#[test]
fn token_not_text_and_missing() {
    let c = consent("2025-11-04");
    assert!(!hit("Consent", "category:not=450476008", &c));
    assert!(hit("Consent", "category:not=450475007", &c));
    assert!(
        !hit("Consent", "status:not=inactive,active", &c),
        "none may match"
    );
    assert!(hit("Consent", "status:not=inactive,entered-in-error", &c));
    assert!(
        hit("Consent", "category:text=dnacpr", &c),
        "CodeableConcept.text"
    );
    assert!(
        hit("Consent", "category:text=CARDIOPULMONARY", &c),
        "coding display"
    );
    assert!(!hit("Consent", "category:text=advance directive", &c));
    assert!(hit("Consent", "category:missing=false", &c));
    assert!(!hit("Consent", "category:missing=true", &c));
    let plan = care_plan("a", "2026-01-01T00:00:00Z", "2025-11-04");
    let goals = fixture("01-dnacpr-active");
    let golden_plan = first(&goals, "CarePlan");
    assert!(hit("CarePlan", "identifier:missing=true", &golden_plan));
    assert!(!hit("CarePlan", "identifier:missing=true", &plan));
    assert!(hit("CarePlan", "identifier:missing=false", &plan));
    assert!(hit("Patient", "family:missing=false", &patient()));
    assert!(hit("Consent", "date:missing=false", &c));
    assert!(hit(
        "RelatedPerson",
        "patient:missing=true",
        &json!({"resourceType": "RelatedPerson", "id": "r"})
    ));
    assert_eq!(
        refused("Consent", "status:missing=maybe").0,
        "status:missing"
    );
    // `:not` also matches a resource without the element.
    assert!(hit("CarePlan", "identifier:not=x|y", &golden_plan));
}

#[test]
fn every_token_parameter_matches_and_refuses() {
    let all = fixture("01-dnacpr-active");
    let plan = care_plan("cp1", "2026-01-01T00:00:00Z", "2025-11-04");
    let id = all[0]["id"].as_str().unwrap().to_owned();
    assert!(hit("CarePlan", &format!("_id={id}"), &all[0]));
    assert!(!hit("CarePlan", "_id=other", &all[0]));
    assert!(hit(
        "CarePlan",
        "identifier=https://example.org/plans|P-1",
        &plan
    ));
    assert!(hit("CarePlan", "identifier=P-1", &plan));
    assert!(!hit(
        "CarePlan",
        "identifier=https://example.org/other|P-1",
        &plan
    ));
    assert!(hit("CarePlan", "status=active", &all[0]));
    assert!(!hit("CarePlan", "status=revoked", &all[0]));
    assert!(hit(
        "CarePlan",
        "category=http://snomed.info/sct|736373009",
        &all[0]
    ));
    assert!(!hit(
        "CarePlan",
        "category=http://snomed.info/sct|734163000",
        &all[0]
    ));
    assert!(hit("CarePlan", "intent=plan", &all[0]));
    assert!(!hit("CarePlan", "intent=order", &all[0]));
    let consents = of_type(&all, "Consent");
    let cpr = &consents[1];
    assert!(hit(
        "Consent",
        "scope=http://terminology.hl7.org/CodeSystem/consentscope|treatment",
        cpr
    ));
    assert!(!hit("Consent", "scope=patient-privacy", cpr));
    assert!(hit(
        "Consent",
        "category=http://terminology.hl7.org/CodeSystem/consentcategorycodes|dnr",
        cpr
    ));
    assert!(!hit("Consent", "category=acd", cpr));
    assert!(hit("Consent", "status=active", cpr));
    assert!(!hit("Consent", "status=inactive", cpr));
    let goal = first(&all, "Goal");
    assert!(hit("Goal", "lifecycle-status=active", &goal));
    assert!(!hit("Goal", "lifecycle-status=cancelled", &goal));
    assert!(hit("Goal", "category=preferred-place-of-care", &goal));
    assert!(!hit(
        "Goal",
        "category=http://snomed.info/sct|395091006",
        &goal
    ));
    let person = first(&all, "Patient");
    assert!(hit(
        "Patient",
        &format!("identifier={NHS}|9994010077"),
        &person
    ));
    assert!(!hit(
        "Patient",
        &format!("identifier={NHS}|9990000018"),
        &person
    ));
    let practitioner = first(&all, "Practitioner");
    let registration = "https://acp-fhir.example.org/fhir/Id/professional-registration";
    assert!(hit(
        "Practitioner",
        &format!("identifier={registration}|GMC 7123456"),
        &practitioner
    ));
    assert!(!hit(
        "Practitioner",
        "identifier=GMC 7000000",
        &practitioner
    ));
    let organization = first(&all, "Organization");
    assert!(hit(
        "Organization",
        "identifier=https://fhir.nhs.uk/Id/ods-organization-code|Y09871",
        &organization
    ));
    assert!(!hit("Organization", "identifier=Y09872", &organization));
}

#[test]
fn token_escapes() {
    let thing = json!({"resourceType": "Organization", "id": "o",
        "identifier": [{"system": "urn:x", "value": "a,b|c"}]});
    assert!(hit("Organization", r"identifier=urn:x|a\,b\|c", &thing));
    assert!(!hit("Organization", r"identifier=urn:x|a", &thing));
}

// ---- strings -------------------------------------------------------------------------------

#[test]
fn strings_start_with_exact_and_contains_ignoring_case_and_accents() {
    let p = patient();
    assert!(hit("Patient", "family=wojcik", &p));
    assert!(hit("Patient", "family=WÓJ", &p));
    assert!(!hit("Patient", "family=jcik", &p));
    assert!(hit("Patient", "family:contains=jcik", &p));
    assert!(!hit("Patient", "family:contains=xyz", &p));
    assert!(hit("Patient", "family:exact=Wójcik", &p));
    assert!(!hit("Patient", "family:exact=wojcik", &p));
    assert!(!hit("Patient", "family:exact=Wójci", &p));
    assert!(hit("Patient", "name=zof", &p), "given");
    assert!(hit("Patient", "name=mrs", &p), "prefix");
    assert!(hit("Patient", "name:contains=anna w", &p), "text");
    assert!(!hit("Patient", "name=anna w", &p));
    assert!(!hit("Patient", "family=zofia", &p), "family only");
    assert!(hit("Patient", "family=smith,woj", &p));
    let golden = first(&fixture("09-interpreter-needed"), "Patient");
    assert!(hit("Patient", "family=wojcik", &golden));
    assert!(hit("Patient", "name=Wójcik", &golden));
}

// ---- dates ---------------------------------------------------------------------------------

#[test]
fn date_precision_and_prefixes() {
    let c = consent("2026-10-15T10:00:00Z");
    assert!(hit("Consent", "date=2026-10", &c));
    assert!(hit("Consent", "date=2026", &c));
    assert!(hit("Consent", "date=2026-10-15", &c));
    assert!(!hit("Consent", "date=2026-11", &c));
    assert!(hit("Consent", "date=2026-10-15T10:00:00Z", &c));
    assert!(
        hit("Consent", "date=2026-10-15T11:00:00+01:00", &c),
        "offset"
    );
    assert!(
        hit("Consent", "date=2026-10-15T11:00:00 01:00", &c),
        "unencoded +"
    );
    assert!(!hit("Consent", "date=2026-10-15T10:00:01Z", &c));
    let day = consent("2026-10-15");
    assert!(!hit("Consent", "date=gt2026-10-15", &day));
    assert!(hit("Consent", "date=gt2026-10-14", &day));
    assert!(hit("Consent", "date=ge2026-10-15", &day));
    assert!(!hit("Consent", "date=ge2026-10-16", &day));
    assert!(!hit("Consent", "date=lt2026-10-15", &day));
    assert!(hit("Consent", "date=lt2026-10-16", &day));
    assert!(hit("Consent", "date=le2026-10-15", &day));
    assert!(!hit("Consent", "date=le2026-10-14", &day));
    assert!(hit("Consent", "date=eq2026-10-15", &day));
    assert!(!hit("Consent", "date=ne2026-10-15", &day));
    assert!(hit("Consent", "date=ne2026-10-16", &day));
    assert!(
        !hit("Consent", "date=2026-10-15T12:00:00Z", &day),
        "a day is not within a second"
    );
    assert!(hit("Consent", "date=sa2026-10-14", &day));
    assert!(!hit("Consent", "date=sa2026-10-15", &day));
    assert!(hit("Consent", "date=eb2026-10-16", &day));
    assert!(!hit("Consent", "date=eb2026-10-15", &day));
    assert!(hit("Consent", "date=ap2026-10-16", &day), "within a day");
    assert!(hit("Consent", "date=ap2026-10-14", &day));
    assert!(!hit("Consent", "date=ap2026-10-18", &day));
    // A time in a month, against a month.
    assert!(hit("Consent", "date=gt2026-09", &c));
    assert!(!hit("Consent", "date=gt2026-10", &c));
}

#[test]
fn periods_and_open_ends() {
    let open = care_plan("a", "2026-01-01T00:00:00Z", "2025-11-04");
    assert!(
        !hit("CarePlan", "date=2025", &open),
        "open end is not within 2025"
    );
    assert!(hit("CarePlan", "date=ge2025-11-04", &open));
    assert!(hit("CarePlan", "date=gt2030", &open), "still going");
    assert!(!hit("CarePlan", "date=lt2025-11-04", &open));
    assert!(hit("CarePlan", "date=sa2025-11-03", &open));
    assert!(!hit("CarePlan", "date=eb2030", &open));
    let ended = first(&fixture("11-deceased"), "CarePlan");
    assert!(hit("CarePlan", "date=2026", &ended));
    assert!(hit("CarePlan", "date=eb2026-10-18", &ended));
    assert!(!hit("CarePlan", "date=eb2026-10-17", &ended));
    assert!(!hit("CarePlan", "date=gt2026-10-17", &ended));
    assert!(
        hit("CarePlan", "date=ge2026-08&date=le2026-10", &ended),
        "AND"
    );
    assert!(!hit("CarePlan", "date=ge2026-11&date=le2026-12", &ended));
}

#[test]
fn birthdate_and_last_updated() {
    let p = patient();
    assert!(hit("Patient", "birthdate=1948-06-14", &p));
    assert!(hit("Patient", "birthdate=1948", &p));
    assert!(!hit("Patient", "birthdate=1948-06-15", &p));
    assert!(hit("Patient", "_lastUpdated=gt2026-10-20T15:39:59Z", &p));
    assert!(!hit("Patient", "_lastUpdated=gt2026-10-20T15:40:00Z", &p));
    assert!(hit("Patient", "_lastUpdated=2026-10-20", &p));
}

#[test]
fn malformed_dates_are_refused_naming_the_parameter() {
    for bad in [
        "yesterday",
        "2026-13",
        "2026-02-30",
        "26-10-15",
        "2026-10-15T10:00",
        "2026-10-15T10:00:00+25:00",
        "xx2026",
        "2026-10-15T10:00:00.Z",
    ] {
        let (path, message) = refused("Consent", &format!("date={bad}"));
        assert_eq!(path, "date", "{bad}");
        assert!(message.contains("`date`"), "{message}");
    }
    assert_eq!(refused("Patient", "birthdate=1948-6-14").0, "birthdate");
    // Milliseconds: a range of one millisecond, which a whole second is not within.
    let precise = consent("2026-10-15T10:00:00.250+00:00");
    assert!(hit("Consent", "date=2026-10-15T10:00:00.250Z", &precise));
    assert!(!hit("Consent", "date=2026-10-15T10:00:00.251Z", &precise));
    assert!(!hit(
        "Consent",
        "date=2026-10-15T10:00:00.250Z",
        &consent("2026-10-15T10:00:00Z")
    ));
    assert!(hit("Consent", "date=2026-10-15T10:00:00Z", &precise));
}

// ---- references ----------------------------------------------------------------------------

#[test]
fn reference_forms() {
    let c = consent("2025-11-04");
    assert!(hit("Consent", "patient=Patient/p1", &c));
    assert!(hit("Consent", "patient=p1", &c));
    assert!(hit(
        "Consent",
        "patient=https://fhir.example.org/fhir/Patient/p1",
        &c
    ));
    assert!(hit("Consent", "patient:Patient=p1", &c));
    assert!(!hit("Consent", "patient=p2", &c));
    assert!(!hit("Consent", "patient=Patient/p2,Patient/p3", &c));
    assert!(hit("Consent", "patient=Patient/p2,Patient/p1", &c));
    assert_eq!(refused("Consent", "patient=Group/g1").0, "patient");
    assert_eq!(refused("Consent", "patient:Group=g1").0, "patient:Group");
    assert!(hit("Consent", "actor=Practitioner/pr1", &c));
    assert!(hit("Consent", "actor=RelatedPerson/rp1", &c));
    assert!(!hit("Consent", "actor=Practitioner/rp1", &c));
    let plan = care_plan("a", "2026-01-01T00:00:00Z", "2025-11-04");
    assert!(hit("CarePlan", "subject=Patient/p1", &plan));
    assert!(hit("CarePlan", "subject=p1", &plan));
    assert!(!hit("CarePlan", "subject=Group/p1", &plan));
    assert!(hit("CarePlan", "goal=Goal/g2", &plan));
    assert!(!hit("CarePlan", "goal=g3", &plan));
    let mut group_plan = plan.clone();
    group_plan["subject"] = json!({"reference": "Group/p1"});
    assert!(
        !hit("CarePlan", "patient=p1", &group_plan),
        "patient reads Patient subjects only"
    );
    assert!(hit("CarePlan", "subject=Group/p1", &group_plan));
}

#[test]
fn every_reference_parameter_on_the_golden_files() {
    for name in [
        "01-dnacpr-active",
        "03-dnacpr-superseded-lpa",
        "09-interpreter-needed",
    ] {
        let all = fixture(name);
        let person = first(&all, "Patient");
        let id = person["id"].as_str().unwrap();
        let nhs = person["identifier"][0]["value"].as_str().unwrap();
        let resolver = Resources::of(&all);
        let other = "Patient/00000000-0000-4000-8000-000000000000";
        for (resource_type, params) in [
            ("CarePlan", &["patient", "subject"][..]),
            ("Consent", &["patient"][..]),
            ("Goal", &["patient", "subject"][..]),
            ("RelatedPerson", &["patient"][..]),
        ] {
            for resource in of_type(&all, resource_type) {
                for param in params {
                    let yes = q(resource_type, &format!("{param}=Patient/{id}"));
                    assert!(
                        yes.matches(&resource, &resolver),
                        "{name} {resource_type} {param}"
                    );
                    let no = q(resource_type, &format!("{param}={other}"));
                    assert!(!no.matches(&resource, &resolver));
                    let by_nhs = q(resource_type, &format!("{param}:identifier={NHS}|{nhs}"));
                    assert!(by_nhs.matches(&resource, &resolver));
                    let chained = q(resource_type, &format!("{param}.identifier={nhs}"));
                    assert!(chained.matches(&resource, &resolver));
                    let wrong = q(resource_type, &format!("{param}.identifier=9990000018"));
                    assert!(!wrong.matches(&resource, &resolver));
                }
            }
        }
    }
}

#[test]
fn identifier_modifier_chain_and_nhs_numbers() {
    let c = consent("2025-11-04");
    let resolver = Resources::of(&[patient()]);
    let query = |text: &str| q("Consent", text);
    assert!(query(&format!("patient:identifier={NHS}|9990000018")).matches(&c, &resolver));
    assert!(
        query("patient:identifier=999 000 0018").matches(&c, &resolver),
        "3-3-4 form"
    );
    assert!(query(&format!("patient.identifier={NHS}|9990000018")).matches(&c, &resolver));
    assert!(query(&format!("patient:Patient.identifier={NHS}|")).matches(&c, &resolver));
    assert!(!query(&format!("patient:identifier={NHS}|9994010077")).matches(&c, &resolver));
    assert!(!query("patient:identifier=urn:other|9990000018").matches(&c, &resolver));
    // Unresolvable reference: no match.
    assert!(!query("patient:identifier=9990000018").matches(&c, &nothing()));
    // The reference's own identifier counts.
    let mut logical = c.clone();
    logical["patient"] = json!({"identifier": {"system": NHS, "value": "9994010077"}});
    assert!(query("patient:identifier=9994010077").matches(&logical, &nothing()));
    // A bad check digit is refused, never guessed at (H3).
    for bad in [
        format!("patient:identifier={NHS}|9990000019"),
        "patient:identifier=9990000019".to_owned(),
        format!("patient.identifier={NHS}|999000001"),
        format!("patient:identifier={NHS}|99900 00018"),
    ] {
        let (path, message) = refused("Consent", &bad);
        assert!(bad.starts_with(&path), "{path}");
        assert!(message.contains("NHS number"), "{message}");
    }
    assert_eq!(refused("Patient", "identifier=9990000019").0, "identifier");
    assert_eq!(
        refused("Patient", &format!("identifier={NHS}|12")).0,
        "identifier"
    );
    // Other systems are not NHS numbers.
    assert!(parse("Patient", &pairs("identifier=urn:x|9990000019"), false).is_ok());
    assert!(parse("Patient", &pairs("identifier=ABC123"), false).is_ok());
    assert_eq!(
        refused("Consent", "patient:Group.identifier=x").0,
        "patient:Group.identifier"
    );
}

#[test]
fn patient_hints() {
    let hint = |rt: &str, text: &str| q(rt, text).patient_hint();
    let id = |s: &str| Some(PatientHint::PatientId(s.to_owned()));
    let nhs = |s: &str| Some(PatientHint::NhsNumber(s.to_owned()));
    assert_eq!(hint("Consent", "patient=Patient/p1"), id("p1"));
    assert_eq!(hint("Consent", "patient=p1"), id("p1"));
    assert_eq!(hint("CarePlan", "subject=Patient/p1"), id("p1"));
    assert_eq!(hint("CarePlan", "subject:Patient=p1"), id("p1"));
    assert_eq!(hint("CarePlan", "subject=p1"), None, "could be a Group");
    assert_eq!(hint("CarePlan", "subject=Group/g"), None);
    assert_eq!(hint("Goal", "patient=https://h/fhir/Patient/p9"), id("p9"));
    assert_eq!(hint("Consent", "patient=p1,p2"), None);
    assert_eq!(
        hint("Consent", &format!("patient:identifier={NHS}|9990000018")),
        nhs("9990000018")
    );
    assert_eq!(
        hint("Consent", "patient:identifier=999 000 0018"),
        nhs("9990000018")
    );
    assert_eq!(
        hint("Consent", "patient.identifier=9990000018"),
        nhs("9990000018")
    );
    assert_eq!(
        hint("CarePlan", "subject:Patient.identifier=9990000018"),
        nhs("9990000018")
    );
    assert_eq!(hint("Consent", "patient:identifier=urn:x|9990000018"), None);
    assert_eq!(
        hint("Patient", &format!("identifier={NHS}|9994010077")),
        nhs("9994010077")
    );
    assert_eq!(hint("Patient", "identifier=9994010077"), nhs("9994010077"));
    assert_eq!(hint("Patient", "identifier:not=9994010077"), None);
    assert_eq!(hint("Patient", "_id=p1"), id("p1"));
    assert_eq!(hint("Patient", "_id=p1,p2"), None);
    assert_eq!(hint("Consent", "_id=c1"), None);
    assert_eq!(hint("Consent", "status=active"), None);
    assert_eq!(hint("Consent", "status=active&patient=p3"), id("p3"));
}

#[test]
fn value_syntaxes() {
    use super::super::values::{fold, parse_range, split_raw, unescape, RefValue};
    assert_eq!(split_raw(r"a\,b,c", ','), [r"a\,b", "c"]);
    assert_eq!(unescape(r"a\,b\|c\$d\\e\x"), r"a,b|c$d\e\x");
    assert_eq!(fold("Łukasz Straße ÉLÈVE Ñ"), "lukasz strasse eleve n");
    assert_eq!(fold("Wo\u{301}jcik"), "wojcik", "combining accent");
    let parsed = RefValue::parse("https://h/fhir/Patient/p1/_history/2").unwrap();
    assert_eq!(parsed.resource_type.as_deref(), Some("Patient"));
    assert_eq!(parsed.id, "p1");
    assert!(RefValue::parse("#contained").is_none());
    assert!(
        RefValue::parse("patient/p1").is_none(),
        "a type starts with a capital"
    );
    assert!(hit(
        "Consent",
        "patient=Patient/p1/_history/2",
        &consent("2025-11-04")
    ));
    let v2 = RefValue::parse("Patient/p1/_history/2").unwrap();
    assert_eq!(v2.version.as_deref(), Some("2"));
    assert!(v2.matches(&RefValue::parse("Patient/p1/_history/2").unwrap()));
    assert!(!v2.matches(&RefValue::parse("Patient/p1/_history/1").unwrap()));
    assert!(v2.matches(&RefValue::parse("Patient/p1").unwrap()));
    assert!(RefValue::parse("Patient/p1")
        .unwrap()
        .matches(&RefValue::parse("Patient/p1/_history/1").unwrap()));
    let year = parse_range("9999", true).unwrap();
    assert!(year.start < year.end);
    assert!(parse_range("0000", true).is_none());
    assert!(
        parse_range("2026-10-15T10:00:00", false).is_none(),
        "a resource dateTime has a zone"
    );
    assert!(
        parse_range("2026-10-15T10:00:00", true).is_some(),
        "a search one may not"
    );
}
