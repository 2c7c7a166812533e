//! The synthetic fixtures parse, validate and cover every safety scenario.
//!
//! `fixtures/plans/NN-name.json` hold one import record each (pretty-printed, for people to
//! read); `fixtures/plans.ndjson` holds the same records one per line (for `acp-fhir import`
//! and `serve --demo`). `UPDATE_GOLDEN=1 cargo test --test it fixtures` rewrites the NDJSON.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use acp_fhir::domain::{
    AdrtStatus, ConsentToShareStatus, CprDecision, DecisionStatus, FocusOfCare, ImportRecord,
    PlacePreference, PlanRecord, PlanStatus, ResuscitationStatus,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

type TestResult = Result<(), Box<dyn Error>>;

/// The day the fixtures were written for: nothing in them may be later.
const NOW: &str = "2026-11-23T12:00:00Z";

/// The ReSPECT / ADRT treatment codes of domain.md §3.
const TREATMENT_CODES: [&str; 5] = ["89666000", "40617009", "305351004", "32485007", "281789004"];

fn now() -> Result<DateTime<Utc>, Box<dyn Error>> {
    Ok(NOW.parse::<DateTime<Utc>>()?)
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn ndjson_path() -> PathBuf {
    fixtures_dir().join("plans.ndjson")
}

/// One fixture file: its name (without `.json`), text, JSON value, and the record it imports as.
struct Fixture {
    name: String,
    text: String,
    value: Value,
    import: ImportRecord,
    record: PlanRecord,
}

/// The plan files, in file-name order.
fn fixture_files() -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let dir = fixtures_dir().join("plans");
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn load_fixtures() -> Result<Vec<Fixture>, Box<dyn Error>> {
    let now = now()?;
    let mut fixtures = Vec::new();
    for path in fixture_files()? {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: not a UTF-8 file name", path.display()))?
            .to_owned();
        let text = fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{name}.json: not JSON: {e}"))?;
        let import: ImportRecord =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
                .map_err(|e| format!("{name}.json: not an import record: {e}"))?;
        let record = import
            .clone()
            .into_record(now, "fixture-test")
            .map_err(|problems| {
                let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
                format!("{name}.json: refused: {}", problems.join("; "))
            })?;
        fixtures.push(Fixture {
            name,
            text,
            value,
            import,
            record,
        });
    }
    Ok(fixtures)
}

/// The JSON text without the whitespace between tokens, keys kept in the file's order.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}

/// Every string in a JSON value with the path of the key it sits under.
fn strings<'v>(value: &'v Value, path: &str, out: &mut Vec<(String, &'v str)>) {
    match value {
        Value::String(s) => out.push((path.to_owned(), s)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                strings(item, &format!("{path}.{key}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_fixture_imports_and_is_synthetic() -> TestResult {
    let fixtures = load_fixtures()?;
    assert!(
        fixtures.len() >= 12,
        "expected at least 12 fixtures, found {}",
        fixtures.len()
    );
    let now = now()?;
    let today = now.date_naive();
    let mut problems = Vec::new();
    let mut nhs_numbers: BTreeMap<String, &str> = BTreeMap::new();
    let mut plan_ids = BTreeMap::new();
    let mut decision_ids = BTreeMap::new();

    for fixture in &fixtures {
        let name = fixture.name.as_str();
        let record = &fixture.record;
        let plan = &record.plan;

        let prefix_ok = name.len() > 3
            && name.as_bytes()[..2].iter().all(u8::is_ascii_digit)
            && name.as_bytes()[2] == b'-';
        if !prefix_ok {
            problems.push(format!("{name}: file names are NN-short-name.json"));
        }

        // Fixed identities, so importing twice changes nothing.
        match fixture.import.id {
            Some(id) if id == record.id => {
                if let Some(other) = plan_ids.insert(id, name) {
                    problems.push(format!("{name}: plan id {id} is also used by {other}"));
                }
            }
            _ => problems.push(format!(
                "{name}: needs a fixed plan id that the import keeps"
            )),
        }
        for (what, id, ending) in fixture
            .import
            .plan
            .resuscitation_decisions
            .iter()
            .map(|d| ("CPR decision", d.id, d.ended.as_ref()))
            .chain(
                fixture
                    .import
                    .plan
                    .adrts
                    .iter()
                    .map(|a| ("ADRT", a.id, a.ended.as_ref())),
            )
        {
            match id {
                Some(id) => {
                    if let Some(other) = decision_ids.insert(id, name) {
                        problems.push(format!("{name}: {what} id {id} is also used by {other}"));
                    }
                }
                None => problems.push(format!("{name}: every {what} needs a fixed id")),
            }
            if ending.is_some_and(|e| e.at.is_none()) {
                problems.push(format!(
                    "{name}: every ended {what} needs a fixed `ended.at`"
                ));
            }
        }
        for (what, present) in [
            ("created", fixture.import.created.is_some()),
            ("last_updated", fixture.import.last_updated.is_some()),
            ("last_updated_by", fixture.import.last_updated_by.is_some()),
        ] {
            if !present {
                problems.push(format!("{name}: needs a fixed `{what}`"));
            }
        }
        if record.created > record.last_updated || record.last_updated > now {
            problems.push(format!(
                "{name}: created ({}) <= last_updated ({}) <= now ({NOW}) does not hold",
                record.created, record.last_updated
            ));
        }

        // Synthetic people only.
        let nhs = plan.person.nhs_number.as_str();
        if !nhs.starts_with("999") {
            problems.push(format!(
                "{name}: NHS number {nhs} is not in the 999 test range"
            ));
        }
        if let Some(other) = nhs_numbers.insert(nhs.to_owned(), name) {
            problems.push(format!("{name}: NHS number {nhs} is also used by {other}"));
        }
        let born = plan.person.birth_date;
        let earliest = NaiveDate::from_ymd_opt(1930, 1, 1).ok_or("date")?;
        let latest = NaiveDate::from_ymd_opt(1970, 12, 31).ok_or("date")?;
        if born < earliest || born > latest {
            problems.push(format!("{name}: birth date {born} is outside 1930–1970"));
        }

        let mut texts = Vec::new();
        strings(&fixture.value, "", &mut texts);
        for (path, text) in texts {
            // Only Ofcom's drama numbers: 01632 960xxx and 07700 900xxx.
            if path.ends_with(".number") || path.ends_with(".phone") {
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                let drama = digits.len() == 11
                    && (digits.starts_with("01632960") || digits.starts_with("07700900"));
                if !drama {
                    problems.push(format!(
                        "{name}{path}: {text} is not an Ofcom drama number (01632 960xxx, 07700 900xxx)"
                    ));
                }
            }
            // Nothing after today but review dates (validation allows a day ahead; the
            // fixtures do not need it).
            let review = path.ends_with(".review") || path.ends_with(".review_date");
            if review {
                continue;
            }
            if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                if date > today {
                    problems.push(format!("{name}{path}: {date} is after {today}"));
                }
            } else if let Ok(at) = DateTime::parse_from_rfc3339(text) {
                if at > now {
                    problems.push(format!("{name}{path}: {at} is after {NOW}"));
                }
            }
        }

        // Pretty-printed with two spaces, one record per file.
        if !fixture.text.starts_with("{\n  \"") || !fixture.text.ends_with("}\n") {
            problems.push(format!(
                "{name}: pretty-print the record with a 2-space indent and end the file with a newline"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "fixture problems:\n{}",
        problems.join("\n")
    );
    Ok(())
}

#[test]
fn ndjson_holds_the_same_records_in_file_order() -> TestResult {
    let fixtures = load_fixtures()?;
    let path = ndjson_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        let mut out = String::new();
        for fixture in &fixtures {
            let line = compact(&fixture.text);
            let reparsed: Value = serde_json::from_str(&line)?;
            assert_eq!(
                reparsed, fixture.value,
                "{}: compacting changed it",
                fixture.name
            );
            out.push_str(&line);
            out.push('\n');
        }
        fs::write(&path, out)?;
        return Ok(());
    }
    let hint =
        "run `UPDATE_GOLDEN=1 cargo test --test it fixtures` to rewrite it from fixtures/plans";
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}; {hint}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        fixtures.len(),
        "plans.ndjson has {} lines but there are {} fixture files; {hint}",
        lines.len(),
        fixtures.len()
    );
    for (number, (line, fixture)) in lines.iter().zip(&fixtures).enumerate() {
        let value: Value = serde_json::from_str(line)
            .map_err(|e| format!("plans.ndjson line {}: {e}; {hint}", number + 1))?;
        assert!(
            value == fixture.value,
            "plans.ndjson line {} is not the same record as {}.json; {hint}",
            number + 1,
            fixture.name
        );
    }
    Ok(())
}

type Scenario = (&'static str, fn(&PlanRecord, NaiveDate) -> bool);

/// The scenarios the fixtures exist for; each must hold for at least one fixture.
const SCENARIOS: &[Scenario] = &[
    ("active plan with a current DNACPR decision", |r, _| {
        r.status == PlanStatus::Active
            && matches!(r.resuscitation_status(), ResuscitationStatus::Decided(d) if d.decision == CprDecision::NotForCpr)
    }),
    ("active plan with a current 'for CPR' decision", |r, _| {
        r.status == PlanStatus::Active
            && matches!(r.resuscitation_status(), ResuscitationStatus::Decided(d) if d.decision == CprDecision::ForCpr)
    }),
    ("CPR decision revoked (with ending) then re-made", |r, _| {
        let ResuscitationStatus::Decided(current) = r.resuscitation_status() else {
            return false;
        };
        r.plan.resuscitation_decisions.iter().any(|d| {
            d.status == DecisionStatus::Revoked
                && d.ended.as_ref().is_some_and(|e| e.at.is_some())
                && d.decision_date < current.decision_date
        })
    }),
    (
        "superseded CPR decision (with ending) and a newer current one",
        |r, _| {
            let ResuscitationStatus::Decided(current) = r.resuscitation_status() else {
                return false;
            };
            r.plan.resuscitation_decisions.iter().any(|d| {
                d.status == DecisionStatus::Superseded
                    && d.ended.is_some()
                    && d.decision_date < current.decision_date
            })
        },
    ),
    (
        "CPR decision entered in error next to a current one",
        |r, _| {
            matches!(r.resuscitation_status(), ResuscitationStatus::Decided(_))
                && r.plan
                    .resuscitation_decisions
                    .iter()
                    .any(|d| d.status == DecisionStatus::EnteredInError && d.ended.is_some())
        },
    ),
    ("active plan with no CPR decision recorded", |r, _| {
        r.status == PlanStatus::Active
            && r.plan.resuscitation_decisions.is_empty()
            && r.resuscitation_status() == ResuscitationStatus::NoDecisionRecorded
    }),
    (
        "active ADRT refusing life-sustaining treatment, witnessed and signed",
        |r, _| {
            r.plan.adrts.iter().any(|a| {
                a.status == AdrtStatus::Active
                    && a.refuses_life_sustaining_treatment
                    && a.witnessed_and_signed
            })
        },
    ),
    ("withdrawn ADRT (with ending)", |r, _| {
        r.plan
            .adrts
            .iter()
            .any(|a| a.status == AdrtStatus::Withdrawn && a.ended.is_some())
    }),
    ("ADRT entered in error", |r, _| {
        r.plan
            .adrts
            .iter()
            .any(|a| a.status == AdrtStatus::EnteredInError && a.ended.is_some())
    }),
    (
        "LPA with authority over life-sustaining treatment",
        |r, _| r.plan.lpas.iter().any(|l| l.life_sustaining_authority),
    ),
    (
        "LPA without authority over life-sustaining treatment",
        |r, _| r.plan.lpas.iter().any(|l| !l.life_sustaining_authority),
    ),
    (
        "ReSPECT comfort focus with recommendations for and against",
        |r, _| {
            r.plan.respect.as_ref().is_some_and(|p| {
                p.focus_of_care == FocusOfCare::Comfort
                    && p.recommendations.iter().any(|x| x.recommended)
                    && p.recommendations.iter().any(|x| !x.recommended)
            })
        },
    ),
    (
        "ReSPECT comfort recommendations use all five treatment codes",
        |r, _| {
            r.plan.respect.as_ref().is_some_and(|p| {
                p.focus_of_care == FocusOfCare::Comfort
                    && TREATMENT_CODES.iter().all(|code| {
                        p.recommendations.iter().any(|x| {
                            x.treatment
                                .snomed
                                .as_ref()
                                .is_some_and(|s| s.as_str() == *code)
                        })
                    })
            })
        },
    ),
    ("preferred place undecided", |r, _| {
        [
            &r.plan.preferred_place_of_care,
            &r.plan.preferred_place_of_death,
        ]
        .iter()
        .any(|p| matches!(p, Some(PlacePreference::Undecided {})))
    }),
    ("preferred place with a second choice", |r, _| {
        [
            &r.plan.preferred_place_of_care,
            &r.plan.preferred_place_of_death,
        ]
        .iter()
        .any(|p| {
            matches!(
                p,
                Some(PlacePreference::Stated {
                    second: Some(_),
                    ..
                })
            )
        })
    }),
    ("consent to share withdrawn", |r, _| {
        r.plan.consent_to_share.status == ConsentToShareStatus::Withdrawn
    }),
    ("deceased: death recorded and plan completed", |r, _| {
        r.status == PlanStatus::Completed && r.plan.death.is_some()
    }),
    (
        "plan entered in error, with a reason, none of its decisions standing",
        |r, _| {
            r.status == PlanStatus::EnteredInError
                && r.status_reason
                    .as_deref()
                    .is_some_and(|s| !s.trim().is_empty())
                && r.resuscitation_status()
                    == ResuscitationStatus::PlanNotCurrent(PlanStatus::EnteredInError)
                && !r.plan.resuscitation_decisions.is_empty()
        },
    ),
    ("plan revoked, with a reason", |r, _| {
        r.status == PlanStatus::Revoked
            && r.status_reason
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty())
            && r.resuscitation_status() == ResuscitationStatus::PlanNotCurrent(PlanStatus::Revoked)
    }),
    ("interpreter needed, with a preferred language", |r, _| {
        r.plan.person.interpreter_needed && r.plan.person.preferred_language.is_some()
    }),
    (
        "plan review and current CPR decision review both overdue",
        |r, today| {
            let overdue = r.overdue_reviews(today);
            overdue.iter().any(|o| o.item == "plan")
                && overdue
                    .iter()
                    .any(|o| o.item.starts_with("resuscitation_decisions["))
        },
    ),
    (
        "current CPR decision reviewed 'indefinite'",
        |r, _| matches!(r.resuscitation_status(), ResuscitationStatus::Decided(d) if d.review.to_string() == "indefinite"),
    ),
];

#[test]
fn fixtures_cover_every_scenario() -> TestResult {
    let fixtures = load_fixtures()?;
    let today = now()?.date_naive();
    let missing: Vec<&str> = SCENARIOS
        .iter()
        .filter(|(_, holds)| !fixtures.iter().any(|f| holds(&f.record, today)))
        .map(|(scenario, _)| *scenario)
        .collect();
    assert!(
        missing.is_empty(),
        "no fixture exercises these scenarios:\n- {}",
        missing.join("\n- ")
    );

    // Overdue reviews are flagged where meant, and nowhere else (the others are due later,
    // or are not current).
    let overdue: Vec<String> = fixtures
        .iter()
        .filter(|f| !f.record.overdue_reviews(today).is_empty())
        .map(|f| f.name.clone())
        .collect();
    assert!(
        overdue.iter().all(|name| name.contains("overdue")),
        "only the review-overdue fixture should have overdue reviews on {today}: {overdue:?}"
    );
    Ok(())
}

/// What the schema of [`ImportRecord`] says could be set, against what the fixtures set.
struct Coverage<'s> {
    defs: &'s Map<String, Value>,
    seen: BTreeSet<String>,
}

impl<'s> Coverage<'s> {
    fn resolve(&self, schema: &'s Value, context: &str) -> (String, &'s Value) {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        {
            Some(name) => match self.defs.get(name) {
                Some(def) => (name.to_owned(), def),
                None => (context.to_owned(), schema),
            },
            None => (context.to_owned(), schema),
        }
    }

    fn walk(&mut self, value: &Value, schema: &'s Value, context: &str) {
        let (context, schema) = self.resolve(schema, context);
        if value.is_null() {
            return;
        }
        if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
            if let Some(branch) = branches
                .iter()
                .find(|b| b.get("type").and_then(Value::as_str) != Some("null"))
            {
                self.walk(value, branch, &context);
            }
            return;
        }
        if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
            for branch in branches {
                match (branch.get("const"), tag_of(branch)) {
                    (Some(constant), _) if constant == value => {
                        self.seen.insert(format!("{context}={}", text_of(constant)));
                        return;
                    }
                    (None, Some((key, tag))) if value.get(key) == Some(tag) => {
                        let tag = text_of(tag);
                        self.seen.insert(format!("{context}={tag}"));
                        self.walk(value, branch, &format!("{context}::{tag}"));
                        return;
                    }
                    _ => {}
                }
            }
            self.seen.insert(format!("{context}=<other>"));
            return;
        }
        match value {
            Value::Object(map) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                for (key, item) in map {
                    self.seen.insert(format!("{context}.{key}"));
                    if let Some(property) = properties.and_then(|p| p.get(key)) {
                        self.walk(item, property, &context);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for item in items {
                        self.walk(item, item_schema, &context);
                    }
                }
            }
            _ => {}
        }
    }

    /// Every property of every definition, every enum value, every tagged variant's fields.
    fn expected(&self) -> BTreeSet<String> {
        let mut expected = BTreeSet::new();
        for (name, def) in self.defs {
            if let Some(properties) = def.get("properties").and_then(Value::as_object) {
                expected.extend(properties.keys().map(|key| format!("{name}.{key}")));
            }
            for branch in def
                .get("oneOf")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match (branch.get("const"), tag_of(branch)) {
                    (Some(constant), _) => {
                        expected.insert(format!("{name}={}", text_of(constant)));
                    }
                    (None, Some((_, tag))) => {
                        let tag = text_of(tag);
                        expected.insert(format!("{name}={tag}"));
                        if let Some(properties) =
                            branch.get("properties").and_then(Value::as_object)
                        {
                            expected.extend(
                                properties.keys().map(|key| format!("{name}::{tag}.{key}")),
                            );
                        }
                    }
                    (None, None) => {
                        expected.insert(format!("{name}=<other>"));
                    }
                }
            }
        }
        expected
    }
}

/// The discriminating property of a tagged-enum branch (`"status": {"const": "stated"}`).
fn tag_of(branch: &Value) -> Option<(&str, &Value)> {
    branch
        .get("properties")
        .and_then(Value::as_object)?
        .iter()
        .find_map(|(key, property)| property.get("const").map(|c| (key.as_str(), c)))
}

fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

#[test]
fn fixtures_set_every_field_and_use_every_enum_value() -> TestResult {
    let fixtures = load_fixtures()?;
    let schema = serde_json::to_value(schemars::schema_for!(ImportRecord))?;
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .ok_or("the ImportRecord schema has no $defs")?;
    let mut coverage = Coverage {
        defs,
        seen: BTreeSet::new(),
    };
    for fixture in &fixtures {
        coverage.walk(&fixture.value, &schema, "ImportRecord");
    }
    let expected = coverage.expected();
    let missing: Vec<&String> = expected.difference(&coverage.seen).collect();
    assert!(
        missing.is_empty(),
        "no fixture sets these fields or uses these values (Type.field, Type=value):\n- {}",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n- ")
    );
    // The walk must have understood the schema, or the check above proves nothing.
    for sure in [
        "PlanContent.person",
        "Gender=other",
        "PlacePreference=undecided",
        "ReviewDue=indefinite",
    ] {
        assert!(
            coverage.seen.contains(sure),
            "the schema walk missed {sure}"
        );
    }
    Ok(())
}
