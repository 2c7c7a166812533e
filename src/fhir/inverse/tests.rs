//! Round trips over every fixture: internal → FHIR → internal gives the same plan, and the
//! golden FHIR → internal → FHIR gives the same JSON, exactly.

use std::path::Path;

use fhirbolt::model::r4::Resource;
use serde_json::Value;

use super::plan_from_fhir;
use crate::domain::PlanRecord;
use crate::fhir::tests::fixture_records;
use crate::fhir::{project, to_json, Projection};

/// A Projection from a JSON array of resources (as in `fixtures/fhir/*.resources.json`).
pub(super) fn projection_from_json(resources: &[Value]) -> Projection {
    let mut care_plan = None;
    let mut patient = None;
    let mut projection = Projection {
        care_plan: Default::default(),
        patient: Default::default(),
        consents: Vec::new(),
        goals: Vec::new(),
        related_persons: Vec::new(),
        practitioners: Vec::new(),
        organizations: Vec::new(),
    };
    for value in resources {
        let resource: Resource = fhirbolt::json::from_json_value(value.clone(), None).unwrap();
        match resource {
            Resource::CarePlan(r) => care_plan = Some(*r),
            Resource::Patient(r) => patient = Some(*r),
            Resource::Consent(r) => projection.consents.push(*r),
            Resource::Goal(r) => projection.goals.push(*r),
            Resource::RelatedPerson(r) => projection.related_persons.push(*r),
            Resource::Practitioner(r) => projection.practitioners.push(*r),
            Resource::Organization(r) => projection.organizations.push(*r),
            other => panic!("unexpected resource {other:?}"),
        }
    }
    projection.care_plan = care_plan.unwrap();
    projection.patient = patient.unwrap();
    projection
}

pub(super) fn golden(stem: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fhir")
        .join(format!("{stem}.resources.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn json_of(projection: &Projection) -> Vec<Value> {
    projection
        .resources()
        .iter()
        .map(|r| to_json(r).unwrap())
        .collect()
}

#[test]
fn internal_to_fhir_to_internal_is_identical_for_every_fixture() {
    let fixtures = fixture_records();
    assert_eq!(fixtures.len(), 14);
    for (stem, record) in fixtures {
        let inverse = plan_from_fhir(&project(&record))
            .unwrap_or_else(|issues| panic!("{stem}: {issues:#?}"));
        assert_eq!(inverse.content, record.plan, "{stem}: content");
        assert_eq!(inverse.status, record.status, "{stem}: status");
        assert_eq!(
            inverse.status_reason, record.status_reason,
            "{stem}: status_reason"
        );
        assert_eq!(inverse.created, Some(record.created), "{stem}: created");
        assert_eq!(
            inverse.last_updated_by.as_deref(),
            Some(record.last_updated_by.as_str()),
            "{stem}: last_updated_by"
        );
        assert!(
            inverse.warnings.is_empty(),
            "{stem}: {:?}",
            inverse.warnings
        );
    }
}

#[test]
fn golden_fhir_to_internal_to_fhir_is_identical_for_every_fixture() {
    let fixtures = fixture_records();
    assert_eq!(fixtures.len(), 14);
    for (stem, record) in fixtures {
        let golden = golden(&stem);
        let inverse = plan_from_fhir(&projection_from_json(&golden))
            .unwrap_or_else(|issues| panic!("{stem}: {issues:#?}"));
        let rebuilt = PlanRecord {
            id: record.id,
            version: record.version,
            status: inverse.status,
            status_reason: inverse.status_reason,
            created: inverse.created.unwrap(),
            last_updated: record.last_updated,
            last_updated_by: inverse.last_updated_by.unwrap(),
            plan: inverse.content,
        };
        let again = json_of(&project(&rebuilt));
        assert_eq!(again.len(), golden.len(), "{stem}: resource count");
        for (actual, expected) in again.iter().zip(&golden) {
            assert_eq!(
                actual, expected,
                "{stem}: {}/{} differs",
                expected["resourceType"], expected["id"]
            );
        }
    }
}
