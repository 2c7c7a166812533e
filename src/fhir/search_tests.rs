//! Search: the parameter table, refusals, result parameters, shaping, includes; the matching
//! of each parameter is in `search_match_tests.rs`. Built on small resources and the golden
//! files.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::*;

#[path = "search_match_tests.rs"]
mod matching;

/// Resolves references among a set of resources by `Type/id`.
pub(super) struct Resources(HashMap<String, Value>);

impl Resources {
    fn of(resources: &[Value]) -> Self {
        Self(
            resources
                .iter()
                .map(|r| {
                    let key = format!(
                        "{}/{}",
                        r["resourceType"].as_str().unwrap(),
                        r["id"].as_str().unwrap()
                    );
                    (key, r.clone())
                })
                .collect(),
        )
    }
}

impl Resolver for Resources {
    fn resolve(&self, reference: &str) -> Option<&Value> {
        self.0.get(reference)
    }
}

pub(super) fn nothing() -> Resources {
    Resources(HashMap::new())
}

pub(super) fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

pub(super) fn q(resource_type: &str, query: &str) -> SearchQuery {
    parse(resource_type, &pairs(query), false)
        .unwrap_or_else(|e| panic!("{resource_type}?{query}: {e:?}"))
}

pub(super) fn refused(resource_type: &str, query: &str) -> (String, String) {
    match parse(resource_type, &pairs(query), false) {
        Err(Error::BadRequest { message, errors }) => (errors[0].path.clone(), message),
        other => panic!("{resource_type}?{query} should be refused, got {other:?}"),
    }
}

pub(super) fn hit(resource_type: &str, query: &str, resource: &Value) -> bool {
    q(resource_type, query).matches(resource, &nothing())
}

pub(super) fn fixture(name: &str) -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fhir");
    let text = std::fs::read_to_string(dir.join(format!("{name}.resources.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub(super) fn first(resources: &[Value], resource_type: &str) -> Value {
    of_type(resources, resource_type)[0].clone()
}

pub(super) fn of_type(resources: &[Value], resource_type: &str) -> Vec<Value> {
    resources
        .iter()
        .filter(|r| r["resourceType"] == resource_type)
        .cloned()
        .collect()
}

pub(super) const NHS: &str = "https://fhir.nhs.uk/Id/nhs-number";
pub(super) const SCT: &str = "http://snomed.info/sct";

pub(super) fn consent(date_time: &str) -> Value {
    json!({
        "resourceType": "Consent", "id": "c1",
        "meta": {"lastUpdated": "2026-10-20T15:40:00Z"},
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "treatment"}]},
        "category": [
            {"coding": [{"system": SCT, "code": "450476008", "display": "Not for cardiopulmonary resuscitation"}],
             "text": "Not for attempted CPR (DNACPR)"},
            {"coding": [{"code": "local-no-system"}]}
        ],
        "patient": {"reference": "Patient/p1"},
        "dateTime": date_time,
        "provision": {"type": "deny", "actor": [
            {"role": {"text": "decider"}, "reference": {"reference": "Practitioner/pr1"}},
            {"role": {"text": "lpa"}, "reference": {"reference": "RelatedPerson/rp1"}}
        ]}
    })
}

pub(super) fn patient() -> Value {
    json!({
        "resourceType": "Patient", "id": "p1",
        "meta": {"lastUpdated": "2026-10-20T15:40:00Z"},
        "identifier": [{"system": NHS, "value": "9990000018"}],
        "name": [{"text": "Zofia Anna Wójcik", "family": "Wójcik", "given": ["Zofia", "Anna"], "prefix": ["Mrs"]}],
        "birthDate": "1948-06-14"
    })
}

pub(super) fn care_plan(id: &str, updated: &str, start: &str) -> Value {
    json!({
        "resourceType": "CarePlan", "id": id,
        "meta": {"lastUpdated": updated},
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
        "identifier": [{"system": "https://example.org/plans", "value": "P-1"}],
        "status": "active", "intent": "plan",
        "category": [{"coding": [{"system": SCT, "code": "736373009", "display": "End of life care plan"}]}],
        "subject": {"reference": "Patient/p1"},
        "period": {"start": start},
        "goal": [{"reference": "Goal/g1"}, {"reference": "Goal/g2"}],
        "activity": [{"detail": {"status": "scheduled"}}]
    })
}

// ---- the parameter table -------------------------------------------------------------------

#[test]
fn parameters_are_listed_with_their_types() {
    let care_plan = parameters("CarePlan");
    assert_eq!(care_plan[0], ("_id", "token"));
    assert_eq!(care_plan[1], ("_lastUpdated", "date"));
    for expected in [
        ("patient", "reference"),
        ("subject", "reference"),
        ("identifier", "token"),
        ("status", "token"),
        ("category", "token"),
        ("date", "date"),
        ("intent", "token"),
        ("goal", "reference"),
    ] {
        assert!(care_plan.contains(&expected), "{expected:?}");
    }
    assert!(parameters("Consent").contains(&("scope", "token")));
    assert!(parameters("Consent").contains(&("actor", "reference")));
    assert!(parameters("Goal").contains(&("lifecycle-status", "token")));
    assert!(parameters("Patient").contains(&("family", "string")));
    assert!(parameters("Patient").contains(&("birthdate", "date")));
    assert_eq!(parameters("RelatedPerson").len(), 3);
    assert_eq!(parameters("Practitioner").len(), 3);
    assert_eq!(parameters("Organization")[2], ("identifier", "token"));
    assert!(parameters("Observation").is_empty());
}

#[test]
fn unknown_types_and_parameters_are_refused_by_name() {
    assert!(parse("Observation", &[], false).is_err());
    let (path, message) = refused("Consent", "foo=bar");
    assert_eq!(path, "foo");
    assert_eq!(message, "unknown search parameter `foo` for Consent");
    let (path, message) = refused("Consent", "category:below=x");
    assert_eq!(path, "category:below");
    assert!(message.contains("not supported"), "{message}");
    // A parameter of another type is unknown here.
    assert_eq!(refused("Goal", "scope=adr").0, "scope");
    assert_eq!(refused("Patient", "patient.name=x").0, "patient.name");
    assert_eq!(refused("CarePlan", "patient.name=x").0, "patient.name");
    assert_eq!(refused("CarePlan", "status:exact=active").0, "status:exact");
    assert_eq!(refused("Patient", "family:not=x").0, "family:not");
    assert_eq!(refused("CarePlan", "date:exact=2025").0, "date:exact");
    assert_eq!(refused("CarePlan", "status:text=active").0, "status:text");
    assert_eq!(refused("Patient", "identifier:text=x").0, "identifier:text");
    assert_eq!(refused("CarePlan", "_count:x=1").0, "_count:x");
    assert_eq!(
        refused("CarePlan", "_include:iterate=CarePlan:goal").0,
        "_include:iterate"
    );
}

#[test]
fn lenient_handling_lists_what_it_ignored() {
    let query = parse(
        "Consent",
        &pairs("foo=bar&status=active&category:below=x"),
        true,
    )
    .unwrap();
    assert_eq!(query.ignored, vec!["foo", "category:below"]);
    assert_eq!(query.criteria.len(), 1);
    assert!(query.matches(&consent("2025-11-04"), &nothing()));
    // Bad values are refused even so.
    assert!(parse("Consent", &pairs("date=yesterday"), true).is_err());
    assert!(parse("Consent", &pairs("_count=lots"), true).is_err());
}

// ---- result parameters ---------------------------------------------------------------------

#[test]
fn count_offset_and_links() {
    let query = q("Consent", "");
    assert_eq!((query.count, query.offset), (50, 0));
    assert_eq!(query.summary, SummaryMode::Full);
    assert_eq!(q("Consent", "_count=0").count, 0);
    assert_eq!(q("Consent", "_count=500").count, 500);
    for bad in [
        "_count=501",
        "_count=-1",
        "_count=ten",
        "_count=1.5",
        "_offset=-3",
        "_offset=x",
    ] {
        assert_eq!(refused("Consent", bad).0, bad.split('=').next().unwrap());
    }
    let query = q(
        "Consent",
        "status=active&_count=10&_offset=20&_format=json&_pretty=true&_total=accurate",
    );
    assert_eq!((query.count, query.offset), (10, 20));
    let names: Vec<&str> = query
        .link_parameters
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["status", "_count", "_format", "_pretty", "_total"]);
    assert_eq!(query.link_parameters[0].1, "active");
}

#[test]
fn lenient_handling_never_drops_a_criterion_about_the_person_h3() {
    // A mistyped or unsupported patient filter must not widen the search to everyone.
    for query in [
        "patient:idenitfier=https://fhir.nhs.uk/Id/nhs-number|9990000018",
        "patient.name=y",
        "subject:below=Patient/x",
        "patientt=Patient/x",
    ] {
        let refused = parse("Consent", &pairs(query), true);
        assert!(
            refused.is_err(),
            "{query} must be refused even when lenient"
        );
    }
}

#[test]
fn empty_values_are_ignored() {
    let query = q("Consent", "status=&date=&_count=");
    assert!(query.criteria.is_empty());
    assert_eq!(query.count, 50);
    assert!(query.matches(&consent("2025-11-04"), &nothing()));
    assert_eq!(refused("Consent", "bogus=").0, "bogus");
}

#[test]
fn matches_only_the_searched_type() {
    assert!(!q("Patient", "").matches(&consent("2025-11-04"), &nothing()));
    assert!(q("Consent", "").matches(&consent("2025-11-04"), &nothing()));
}

#[test]
fn sort_order_and_tie_break_by_id() {
    let a = care_plan("b", "2026-01-02T00:00:00Z", "2025-01-01");
    let b = care_plan("a", "2026-01-02T00:00:00Z", "2024-01-01");
    let c = care_plan("c", "2026-01-03T00:00:00Z", "2026-01-01");
    let sorted = |query: &SearchQuery| {
        let mut all = [a.clone(), b.clone(), c.clone()];
        all.sort_by(|x, y| query.compare(x, y));
        all.iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let default = q("CarePlan", "");
    assert_eq!(
        default.sort,
        vec![SortKey {
            parameter: "_lastUpdated".into(),
            descending: true
        }]
    );
    assert_eq!(sorted(&default), ["c", "a", "b"], "newest first, then id");
    assert_eq!(
        sorted(&q("CarePlan", "_sort=_lastUpdated")),
        ["a", "b", "c"]
    );
    assert_eq!(sorted(&q("CarePlan", "_sort=date")), ["a", "b", "c"]);
    assert_eq!(sorted(&q("CarePlan", "_sort=-date")), ["c", "b", "a"]);
    assert_eq!(
        sorted(&q("CarePlan", "_sort=-_lastUpdated,date")),
        ["c", "a", "b"]
    );
    let query = q("CarePlan", "_sort=-_lastUpdated,-date");
    assert_eq!(query.sort.len(), 2);
    assert_eq!(sorted(&query), ["c", "b", "a"]);
    let undated = json!({"resourceType": "CarePlan", "id": "0"});
    assert_eq!(
        q("CarePlan", "_sort=date").compare(&undated, &a),
        std::cmp::Ordering::Greater,
        "missing values sort last"
    );
    assert_eq!(refused("CarePlan", "_sort=status").0, "_sort");
    assert_eq!(refused("Patient", "_sort=date").0, "_sort");
    assert!(parse("Patient", &pairs("_sort=-birthdate"), false).is_ok());
    assert!(parse("Provenance", &pairs("_sort=-recorded"), false).is_ok());
    assert_eq!(refused("Provenance", "_sort=date").0, "_sort");
    assert_eq!(refused("Consent", "_sort=_id").0, "_sort");
    assert!(parse("Consent", &pairs("_sort=-date"), false).is_ok());
}

#[test]
fn summary_modes_parse() {
    assert_eq!(q("Goal", "_summary=true").summary, SummaryMode::True);
    assert_eq!(q("Goal", "_summary=text").summary, SummaryMode::Text);
    assert_eq!(q("Goal", "_summary=data").summary, SummaryMode::Data);
    assert_eq!(q("Goal", "_summary=count").summary, SummaryMode::Count);
    assert_eq!(q("Goal", "_summary=false").summary, SummaryMode::Full);
    assert_eq!(refused("Goal", "_summary=yes").0, "_summary");
    assert_eq!(
        q("Goal", "_elements=description, subject").elements,
        Some(vec!["description".to_owned(), "subject".to_owned()])
    );
    assert_eq!(
        refused("Goal", "_elements=subject.reference").0,
        "_elements"
    );
}

fn subsetted(resource: &Value) -> bool {
    resource["meta"]["tag"].as_array().is_some_and(|tags| {
        tags.iter().any(|t| {
            t == &json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"})
        })
    })
}

fn keys(resource: &Value) -> Vec<String> {
    resource.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn shapes_by_summary_and_elements() {
    let all = fixture("01-dnacpr-active");
    let plan = first(&all, "CarePlan");
    let full = q("CarePlan", "").shape(plan.clone());
    assert_eq!(full, plan, "no change, no tag");
    let summary = q("CarePlan", "_summary=true").shape(plan.clone());
    for kept in [
        "resourceType",
        "id",
        "meta",
        "status",
        "intent",
        "category",
        "title",
        "subject",
        "period",
        "created",
        "author",
        "description",
    ] {
        assert!(summary.get(kept).is_some(), "{kept}");
    }
    for dropped in [
        "text",
        "contained",
        "extension",
        "activity",
        "goal",
        "note",
        "careTeam",
        "supportingInfo",
    ] {
        assert!(summary.get(dropped).is_none(), "{dropped}");
    }
    assert!(subsetted(&summary));
    assert_eq!(summary["meta"]["versionId"], plan["meta"]["versionId"]);
    let consent = &of_type(&all, "Consent")[1];
    let summary = q("Consent", "_summary=true").shape(consent.clone());
    for kept in [
        "status",
        "scope",
        "category",
        "patient",
        "dateTime",
        "performer",
        "sourceAttachment",
        "provision",
    ] {
        assert!(summary.get(kept).is_some(), "{kept}");
    }
    assert!(
        summary.get("policy").is_none(),
        "policy is not a summary element in R4"
    );
    let goal = of_type(&all, "Goal")[4].clone();
    let summary = q("Goal", "_summary=true").shape(goal.clone());
    assert!(summary.get("startDate").is_some());
    assert!(summary.get("expressedBy").is_some());
    let text = q("CarePlan", "_summary=text").shape(plan.clone());
    assert_eq!(
        keys(&text),
        [
            "resourceType",
            "id",
            "meta",
            "text",
            "status",
            "intent",
            "subject"
        ]
    );
    assert!(subsetted(&text));
    let data = q("CarePlan", "_summary=data").shape(plan.clone());
    assert!(data.get("text").is_none() && data.get("activity").is_some());
    assert!(subsetted(&data));
    let elements = q("CarePlan", "_elements=status,goal").shape(plan.clone());
    assert_eq!(
        keys(&elements),
        ["resourceType", "id", "meta", "status", "goal"]
    );
    assert!(subsetted(&elements));
    let source = q("Consent", "_elements=source").shape(consent.clone());
    assert!(source.get("sourceAttachment").is_some());
    // Nothing removed: no tag. No meta: one is made for the tag.
    let small = json!({"resourceType": "Goal", "id": "g", "lifecycleStatus": "active", "_lifecycleStatus": {"id": "x"}});
    assert_eq!(q("Goal", "_summary=data").shape(small.clone()), small);
    let shaped = q("Goal", "_elements=subject").shape(small.clone());
    assert_eq!(keys(&shaped), ["resourceType", "id", "meta"]);
    assert!(subsetted(&shaped));
    let kept = q("Goal", "_elements=lifecycleStatus").shape(small.clone());
    assert!(
        kept.get("_lifecycleStatus").is_some(),
        "primitive extension follows its element"
    );
    // Shaping twice tags once.
    let twice = q("Goal", "_elements=subject").shape(shaped);
    assert_eq!(twice["meta"]["tag"].as_array().unwrap().len(), 1);
}

#[test]
fn includes_and_revincludes() {
    let query = q(
        "CarePlan",
        "_include=CarePlan:goal&_include=CarePlan:subject:Patient",
    );
    assert_eq!(
        query.include,
        vec![
            Include {
                source_type: "CarePlan".into(),
                parameter: "goal".into(),
                target_type: None
            },
            Include {
                source_type: "CarePlan".into(),
                parameter: "subject".into(),
                target_type: Some("Patient".into())
            },
        ]
    );
    let query = q(
        "Patient",
        "_revinclude=Consent:patient&_revinclude=CarePlan:subject",
    );
    assert_eq!(query.revinclude.len(), 2);
    assert_eq!(query.revinclude[0].source_type, "Consent");
    assert!(
        q("Consent", "_include=Consent:actor:RelatedPerson")
            .include
            .len()
            == 1
    );
    for bad in [
        "_include=*",
        "_include=CarePlan:*",
        "_include=CarePlan:status",
        "_include=CarePlan:goal:Patient",
        "_include=Consent:patient",
        "_include=Observation:subject",
        "_include=CarePlan",
        "_revinclude=CarePlan:goal",
    ] {
        let (path, _) = refused("CarePlan", bad);
        assert_eq!(path, bad.split('=').next().unwrap(), "{bad}");
    }
    assert!(parse("Goal", &pairs("_revinclude=CarePlan:goal"), false).is_ok());
}

#[test]
fn references_read_by_parameters() {
    let all = fixture("01-dnacpr-active");
    let plan = first(&all, "CarePlan");
    let goals = SearchQuery::references("CarePlan", "goal", &plan);
    assert_eq!(goals.len(), plan["goal"].as_array().unwrap().len());
    assert!(goals.iter().all(|g| g.starts_with("Goal/")));
    let person = format!("Patient/{}", first(&all, "Patient")["id"].as_str().unwrap());
    assert_eq!(
        SearchQuery::references("CarePlan", "subject", &plan),
        [person.as_str()]
    );
    assert_eq!(
        SearchQuery::references("CarePlan", "patient", &plan),
        [person.as_str()]
    );
    let share = first(&all, "Consent");
    assert_eq!(
        SearchQuery::references("Consent", "patient", &share),
        [person.as_str()]
    );
    let goal = first(&all, "Goal");
    assert_eq!(
        SearchQuery::references("Goal", "patient", &goal),
        [person.as_str()]
    );
    assert_eq!(
        SearchQuery::references("Goal", "subject", &goal),
        [person.as_str()]
    );
    let related = first(&all, "RelatedPerson");
    assert_eq!(
        SearchQuery::references("RelatedPerson", "patient", &related),
        [person]
    );
    assert_eq!(
        SearchQuery::references("Consent", "actor", &consent("2025-11-04")),
        ["Practitioner/pr1", "RelatedPerson/rp1"]
    );
    assert!(SearchQuery::references("CarePlan", "status", &plan).is_empty());
    assert!(SearchQuery::references("CarePlan", "nonsense", &plan).is_empty());
    let mut group = care_plan("x", "2026-01-01T00:00:00Z", "2025-01-01");
    group["subject"] = json!({"reference": "Group/g"});
    assert!(SearchQuery::references("CarePlan", "patient", &group).is_empty());
    assert_eq!(
        SearchQuery::references("CarePlan", "subject", &group),
        ["Group/g"]
    );
}

#[test]
fn golden_searches_pick_the_right_resources() {
    let all = fixture("02-dnacpr-revoked-remade");
    let query = q("Consent", "scope=treatment&status=active");
    let found: Vec<_> = of_type(&all, "Consent")
        .into_iter()
        .filter(|c| query.matches(c, &nothing()))
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["dateTime"], "2025-10-20");
    let query = q(
        "Consent",
        "category=http://terminology.hl7.org/CodeSystem/consentcategorycodes|dnr&date=ge2025-10",
    );
    let found = of_type(&all, "Consent")
        .into_iter()
        .filter(|c| query.matches(c, &nothing()))
        .count();
    assert_eq!(found, 1);
    let revoked = first(&fixture("14-plan-revoked"), "CarePlan");
    assert!(hit("CarePlan", "status=revoked", &revoked));
    assert!(!hit("CarePlan", "status=active,draft", &revoked));
}
