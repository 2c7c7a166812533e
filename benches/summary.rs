//! The emergency summary's hot path: plan version → FHIR document Bundle → JSON bytes, for the
//! fullest fixture and for a plan with many superseded CPR decisions. Run with
//! `cargo bench --bench summary`.

use acp_fhir::domain::{ImportRecord, PlanRecord};
use acp_fhir::fhir::summary::summary;
use chrono::{DateTime, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use fhirbolt::model::r4::Resource;

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap_or_default()
}

fn fixture(name: &str) -> Option<PlanRecord> {
    let path = format!("{}/fixtures/plans/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).ok()?;
    let line: ImportRecord = serde_json::from_str(&text).ok()?;
    line.into_record(now(), "bench").ok()
}

fn summary_bytes(record: &PlanRecord) -> usize {
    let bundle = summary(record, "https://acp-fhir.example.org/fhir", now());
    fhirbolt::json::to_vec(&Resource::Bundle(Box::new(bundle)), None)
        .map(|bytes| bytes.len())
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    for name in [
        "01-dnacpr-active",
        "02-dnacpr-revoked-remade",
        "05-no-decision-recorded",
    ] {
        let Some(record) = fixture(name) else {
            continue;
        };
        c.bench_function(&format!("summary_json/{name}"), |b| {
            b.iter(|| summary_bytes(black_box(&record)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
