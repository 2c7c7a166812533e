//! Synthetic plans at scale, for load tests: `count` people with the mix domain.md describes
//! (about 60% with a CPR decision, 30% with ReSPECT, 10% with an ADRT, a quarter with several
//! versions), as NDJSON import lines, the same for the same seed (ChaCha8). NHS numbers are the
//! valid ones of the `999` test range in order, so at most [`MAX_PEOPLE`] people; plans beyond
//! that many are earlier, revoked plans of the first people (a person has one plan of record
//! but may have had others), so a national-scale run of 1,000,000 plans keeps to the test range.

use std::io::Write;

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// How many valid NHS numbers the `999` test range holds (stems with check digit 10 are
/// invalid).
pub const MAX_PEOPLE: usize = 909_091;

/// The valid NHS numbers of the `999` range, in order.
#[derive(Debug, Default)]
pub struct NhsNumbers {
    next_stem: u32,
}

impl Iterator for NhsNumbers {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        while self.next_stem < 1_000_000 {
            let stem = format!("999{:06}", self.next_stem);
            self.next_stem += 1;
            let sum: u32 = stem
                .bytes()
                .zip((2..=10).rev())
                .map(|(b, weight)| u32::from(b - b'0') * weight)
                .sum();
            match 11 - sum % 11 {
                10 => continue,
                11 => return Some(format!("{stem}0")),
                check => return Some(format!("{stem}{check}")),
            }
        }
        None
    }
}

const FAMILY: [&str; 16] = [
    "Archer",
    "Grundy",
    "Aldridge",
    "Carter",
    "Tucker",
    "Snell",
    "Pargetter",
    "Horrobin",
    "Forrest",
    "Larkin",
    "Woolley",
    "Sterling",
    "Fairbrother",
    "Gilpin",
    "Hebden",
    "Madikane",
];
const GIVEN: [&str; 16] = [
    "Alma", "Bert", "Clarrie", "Derek", "Edna", "Fred", "Glenys", "Harold", "Iris", "Jack",
    "Kathy", "Len", "Mabel", "Ned", "Olwen", "Percy",
];
const DIAGNOSES: [(&str, &str); 6] = [
    ("Metastatic lung cancer", "94391008"),
    ("Heart failure", "84114007"),
    ("Chronic obstructive pulmonary disease", "13645005"),
    ("Dementia", "52448006"),
    ("Motor neurone disease", "37340000"),
    ("Chronic kidney disease stage 5", "433146000"),
];
const PRACTICES: [(&str, &str); 4] = [
    ("Riverside Surgery", "Y09871"),
    ("Hollerton Health Centre", "Y09874"),
    ("Borchester Medical Practice", "Y09872"),
    ("Felpersham Road Surgery", "Y09873"),
];

fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn clinician(rng: &mut ChaCha8Rng) -> Value {
    json!({
        "name": format!("Dr {} {}", GIVEN[rng.random_range(0..GIVEN.len())], FAMILY[rng.random_range(0..FAMILY.len())]),
        "role": "GP",
        "registration_number": format!("GMC {}", rng.random_range(7_000_000..7_999_999)),
    })
}

/// One person's plan content (version 1), decided by `rng`.
fn plan(rng: &mut ChaCha8Rng, nhs_number: &str, today: NaiveDate) -> Value {
    let made = today - Duration::days(rng.random_range(7..400));
    let (practice, ods) = PRACTICES[rng.random_range(0..PRACTICES.len())];
    let (diagnosis, snomed) = DIAGNOSES[rng.random_range(0..DIAGNOSES.len())];
    let consent = match rng.random_range(0..100) {
        0..=91 => "given",
        92..=94 => "withdrawn",
        95..=97 => "given-in-best-interests",
        _ => "given-by-lpa",
    };
    let birth = NaiveDate::from_ymd_opt(1925, 1, 1).unwrap_or(today)
        + Duration::days(rng.random_range(0..(40 * 365)));
    let mut plan = json!({
        "consent_to_share": { "status": consent, "date": date(made), "recorded_by": clinician(rng) },
        "review_date": date(today + Duration::days(rng.random_range(30..90))),
        "person": {
            "nhs_number": nhs_number,
            "family_name": FAMILY[rng.random_range(0..FAMILY.len())],
            "given_names": [GIVEN[rng.random_range(0..GIVEN.len())]],
            "birth_date": date(birth),
            "gender": if rng.random_bool(0.5) { "female" } else { "male" },
        },
        "usual_gp": { "practice_name": practice, "practice_ods_code": ods },
        "diagnosis": { "primary": { "text": diagnosis, "snomed": snomed } },
        "preferred_place_of_care": if rng.random_bool(0.7) {
            json!({ "status": "stated", "first": { "kind": "home", "is_usual_residence": true } })
        } else {
            json!({ "status": "undecided" })
        },
        "preferred_place_of_death": if rng.random_bool(0.6) {
            json!({ "status": "stated", "first": { "kind": "home", "is_usual_residence": true }, "second": { "kind": "hospice" } })
        } else {
            json!({ "status": "undecided" })
        },
    });
    if rng.random_bool(0.6) {
        let for_cpr = rng.random_bool(0.1);
        plan["resuscitation_decisions"] = json!([{
            "decision": if for_cpr { "for-cpr" } else { "not-for-cpr" },
            "decision_date": date(made),
            "review": if rng.random_bool(0.7) { json!("indefinite") } else { json!(date(today + Duration::days(rng.random_range(30..180)))) },
            "decided_by": clinician(rng),
            "form_location": "Purple DNACPR form in the folder by the front door",
        }]);
    }
    if rng.random_bool(0.3) {
        plan["respect"] = json!({
            "priority": rng.random_range(50..=100),
            "focus_of_care": if rng.random_bool(0.7) { "comfort" } else { "selective" },
            "recommendations": [
                { "treatment": { "text": "Hospital admission", "snomed": "32485007" }, "recommended": rng.random_bool(0.3) },
            ],
            "form_location": "ReSPECT form in the red folder",
            "completed_date": date(made),
            "clinician": clinician(rng),
        });
    }
    if rng.random_bool(0.1) {
        plan["adrts"] = json!([{
            "status": "active",
            "refused_treatments": [{ "text": "Cardiopulmonary resuscitation", "snomed": "89666000" }],
            "refuses_life_sustaining_treatment": true,
            "witnessed_and_signed": true,
            "circumstances": "If I lose capacity and my illness is progressing",
            "document_location": "Copy scanned to the GP record",
            "date": date(made),
        }]);
    }
    plan
}

/// Writes `count` plans as NDJSON import lines: one plan of record per person (and the extra
/// versions of a quarter of them), then, beyond [`MAX_PEOPLE`], earlier revoked plans of the
/// first people. `today` bounds every date.
pub fn generate(
    count: usize,
    seed: u64,
    today: NaiveDate,
    out: &mut impl Write,
) -> Result<GenerateSummary, String> {
    generate_within(MAX_PEOPLE, count, seed, today, out)
}

/// As [`generate`], with at most `max_people` people.
fn generate_within(
    max_people: usize,
    count: usize,
    seed: u64,
    today: NaiveDate,
    out: &mut impl Write,
) -> Result<GenerateSummary, String> {
    if count > 2 * max_people {
        return Err(format!(
            "the 999 test range holds {max_people} valid NHS numbers, each with at most two \
             plans here; ask for at most {} plans",
            2 * max_people
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut summary = GenerateSummary::default();
    for (index, nhs_number) in NhsNumbers::default()
        .take(count.min(max_people))
        .enumerate()
    {
        let id = uuid::Uuid::from_u64_pair(seed, index as u64);
        let content = plan(&mut rng, &nhs_number, today);
        let versions = if rng.random_bool(0.25) {
            rng.random_range(2..=4)
        } else {
            1
        };
        let mut current = content;
        for version in 1..=versions {
            if version > 1 {
                current["special_note"] =
                    json!(format!("Reviewed at visit {version}: wishes unchanged"));
                current["review_date"] =
                    json!(date(today + Duration::days(rng.random_range(90..180))));
            }
            let line = json!({ "id": id, "version": version, "plan": current });
            serde_json::to_writer(&mut *out, &line).map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(|e| e.to_string())?;
            summary.lines += 1;
        }
        summary.people += 1;
        summary.with_cpr_decision += usize::from(current.get("resuscitation_decisions").is_some());
        summary.with_respect += usize::from(current.get("respect").is_some());
        summary.with_adrt += usize::from(current.get("adrts").is_some());
        summary.with_several_versions += usize::from(versions > 1);
        summary.plans += 1;
    }
    for (index, nhs_number) in (max_people..count).zip(NhsNumbers::default()) {
        let id = uuid::Uuid::from_u64_pair(seed, index as u64);
        let line = json!({
            "id": id,
            "version": 1,
            "status": "revoked",
            "status_reason": "Replaced by a new plan after a change of circumstances",
            "plan": plan(&mut rng, &nhs_number, today),
        });
        serde_json::to_writer(&mut *out, &line).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
        summary.lines += 1;
        summary.plans += 1;
    }
    Ok(summary)
}

/// What was generated.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Plans (current and earlier).
    pub plans: usize,
    /// People (each with a plan of record).
    pub people: usize,
    /// NDJSON lines (versions).
    pub lines: usize,
    /// Plans with a CPR decision.
    pub with_cpr_decision: usize,
    /// Plans with ReSPECT.
    pub with_respect: usize,
    /// Plans with an ADRT.
    pub with_adrt: usize,
    /// Plans with more than one version.
    pub with_several_versions: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ImportRecord, NhsNumber};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_lines_and_another_seed_others() {
        let run = |seed| {
            let mut out = Vec::new();
            generate(50, seed, today(), &mut out).unwrap();
            out
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn every_line_is_a_valid_plan_and_the_mix_is_as_asked() {
        let mut out = Vec::new();
        let summary = generate(2000, 42, today(), &mut out).unwrap();
        let now = "2026-11-23T12:00:00Z".parse().unwrap();
        let mut people = std::collections::BTreeSet::new();
        for line in String::from_utf8(out).unwrap().lines() {
            let record: ImportRecord = serde_json::from_str(line).unwrap();
            NhsNumber::parse(record.plan.person.nhs_number.as_str()).unwrap();
            people.insert(record.plan.person.nhs_number.to_string());
            record.into_record(now, "generator").unwrap();
        }
        assert_eq!(people.len(), 2000);
        assert_eq!(summary.people, 2000);
        let share = |n: usize| n as f64 / 2000.0;
        assert!(
            (0.55..0.65).contains(&share(summary.with_cpr_decision)),
            "{summary:?}"
        );
        assert!(
            (0.25..0.35).contains(&share(summary.with_respect)),
            "{summary:?}"
        );
        assert!(
            (0.07..0.13).contains(&share(summary.with_adrt)),
            "{summary:?}"
        );
        assert!(
            (0.2..0.3).contains(&share(summary.with_several_versions)),
            "{summary:?}"
        );
        assert!(summary.lines > summary.people);
    }

    #[tokio::test]
    async fn every_line_imports_in_order_with_nothing_refused() {
        let store = crate::store::connect("sqlite::memory:").await.unwrap();
        let service = crate::service::PlanService::new(
            store,
            std::sync::Arc::new(crate::clock::FixedClock(
                "2026-11-23T12:00:00Z".parse().unwrap(),
            )),
            "generator",
        );
        let mut out = Vec::new();
        let generated = generate(300, 3, today(), &mut out).unwrap();
        let summary = crate::ndjson::import(&service, out.as_slice(), false, |_, _, _| {})
            .await
            .unwrap();
        assert_eq!(summary.rejected, 0, "{summary:?}");
        assert_eq!(summary.created, 300);
        assert_eq!(
            (summary.created + summary.versions_added) as usize,
            generated.lines,
            "{summary:?}"
        );
    }

    #[test]
    fn nhs_numbers_are_the_valid_ones_of_the_test_range() {
        let first: Vec<String> = NhsNumbers::default().take(3).collect();
        for number in &first {
            assert!(number.starts_with("999"));
            NhsNumber::parse(number).unwrap();
        }
        assert_eq!(NhsNumbers::default().count(), MAX_PEOPLE);
        let mut out = Vec::new();
        assert!(generate(2 * MAX_PEOPLE + 1, 1, today(), &mut out).is_err());
    }

    #[test]
    fn plans_beyond_the_test_range_are_earlier_revoked_plans_of_the_first_people() {
        let mut out = Vec::new();
        let summary = generate_within(10, 12, 5, today(), &mut out).unwrap();
        assert_eq!((summary.people, summary.plans), (10, 12));
        let text = String::from_utf8(out).unwrap();
        let last: Vec<ImportRecord> = text
            .lines()
            .rev()
            .take(2)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let first: Vec<String> = NhsNumbers::default().take(2).collect();
        for (record, nhs_number) in last.iter().rev().zip(&first) {
            assert_eq!(record.plan.person.nhs_number.as_str(), nhs_number);
            assert_eq!(record.status, Some(crate::domain::PlanStatus::Revoked));
            let now = "2026-11-23T12:00:00Z".parse().unwrap();
            record.clone().into_record(now, "generator").unwrap();
        }
    }
}
