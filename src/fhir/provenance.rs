//! `Provenance`: who changed a plan, when, and which of its FHIR resources the change touched.
//! Derived, not stored: every plan version is one write (internal API, FHIR interaction,
//! transaction or import) and carries who wrote it and when, so its Provenance is a pure
//! function of that version and the one before it. Nothing can be written without one, and
//! none can drift from the history it describes.
//!
//! One Provenance per plan version, id `{plan id}-v{version}`:
//! - `target`: each resource of the plan whose content (everything but `meta`) this version
//!   changed or added, as a version-specific reference (`Consent/{id}/_history/{version}`);
//!   the CarePlan when a version changed nothing the projection shows;
//! - `entity`: the version each changed resource had before (`revision`), and the last version
//!   of each resource the change took out of the plan (`removal`);
//! - `recorded`: when the version was written; `agent` (author): who wrote it, as the plan
//!   records it (the authenticated client, and the end user it named);
//! - `activity`: create (the first version), nullify (the plan entered in error), otherwise
//!   update (v3 DataOperation).

use std::collections::BTreeMap;

use fhirbolt::model::r4::resources::{Provenance, ProvenanceAgent, ProvenanceEntity};
use fhirbolt::model::r4::types::{Meta, Reference};
use fhirbolt::model::r4::Resource;

use super::support::{code, coding_of, concept_of, instant, narrative};
use super::{codes, project};
use crate::domain::{PlanId, PlanRecord, PlanStatus};

/// The resource type.
pub const PROVENANCE: &str = "Provenance";

/// The v3 DataOperation code system (Provenance.activity).
pub const DATA_OPERATION: &str = "http://terminology.hl7.org/CodeSystem/v3-DataOperation";

/// The provenance participant type code system (Provenance.agent.type).
pub const PARTICIPANT_TYPE: &str =
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type";

/// The Provenance id of one plan version.
pub fn provenance_id(plan: PlanId, version: u32) -> String {
    format!("{plan}-v{version}")
}

/// The plan and version a Provenance id names; `None` for an id this server never made.
pub fn parse_provenance_id(id: &str) -> Option<(PlanId, u32)> {
    let (plan, digits) = id.rsplit_once("-v")?;
    let plan = PlanId::parse(plan).ok()?;
    let version: u32 = digits.parse().ok()?;
    // Only the spelling this server gives (no leading zeros, lower-case hyphenated UUID).
    (version > 0 && provenance_id(plan, version) == id).then_some((plan, version))
}

/// One plan version's resources by `Type/id`, without `meta` (which follows the plan's version
/// on every resource and so says nothing about what changed).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    resources: BTreeMap<String, Resource>,
}

impl Snapshot {
    /// The snapshot of one plan version.
    pub fn of(record: &PlanRecord) -> Self {
        let resources = project(record)
            .into_resources()
            .into_iter()
            .filter_map(|resource| {
                let (key, bare) = without_meta(resource)?;
                Some((key, bare))
            })
            .collect();
        Self { resources }
    }
}

/// `Type/id` and the resource with its `meta` removed (the projection's seven types only).
fn without_meta(resource: Resource) -> Option<(String, Resource)> {
    fn key(resource_type: &str, id: &Option<fhirbolt::model::r4::types::Id>) -> Option<String> {
        let id = id.as_ref()?.value.as_deref()?;
        Some(format!("{resource_type}/{id}"))
    }
    let (key, bare) = match resource {
        Resource::CarePlan(mut r) => {
            r.meta = None;
            (key("CarePlan", &r.id)?, Resource::CarePlan(r))
        }
        Resource::Patient(mut r) => {
            r.meta = None;
            (key("Patient", &r.id)?, Resource::Patient(r))
        }
        Resource::Consent(mut r) => {
            r.meta = None;
            (key("Consent", &r.id)?, Resource::Consent(r))
        }
        Resource::Goal(mut r) => {
            r.meta = None;
            (key("Goal", &r.id)?, Resource::Goal(r))
        }
        Resource::RelatedPerson(mut r) => {
            r.meta = None;
            (key("RelatedPerson", &r.id)?, Resource::RelatedPerson(r))
        }
        Resource::Practitioner(mut r) => {
            r.meta = None;
            (key("Practitioner", &r.id)?, Resource::Practitioner(r))
        }
        Resource::Organization(mut r) => {
            r.meta = None;
            (key("Organization", &r.id)?, Resource::Organization(r))
        }
        _ => return None,
    };
    Some((key, bare))
}

/// What one version did to the plan's resources (each list sorted by `Type/id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// Resources this version added.
    pub added: Vec<String>,
    /// Resources whose content this version changed.
    pub changed: Vec<String>,
    /// Resources this version took out of the plan.
    pub removed: Vec<String>,
}

impl Change {
    /// The difference between two consecutive versions (`before` is `None` for the first).
    pub fn between(before: Option<&Snapshot>, after: &Snapshot) -> Self {
        let mut change = Self::default();
        for (key, resource) in &after.resources {
            match before.and_then(|b| b.resources.get(key)) {
                None => change.added.push(key.clone()),
                Some(previous) if previous != resource => change.changed.push(key.clone()),
                Some(_) => {}
            }
        }
        if let Some(before) = before {
            change.removed = before
                .resources
                .keys()
                .filter(|key| !after.resources.contains_key(*key))
                .cloned()
                .collect();
        }
        change
    }
}

/// The Provenance of `record`, given the version before it (`None` for version 1).
pub fn provenance(record: &PlanRecord, previous: Option<&PlanRecord>) -> Provenance {
    let after = Snapshot::of(record);
    let before = previous.map(Snapshot::of);
    let change = Change::between(before.as_ref(), &after);
    build(record, previous.map(|p| p.version), &change)
}

/// Every Provenance of a plan, newest first, from its history (in any order).
pub fn provenances(history: &[PlanRecord]) -> Vec<Provenance> {
    let mut ordered: Vec<&PlanRecord> = history.iter().collect();
    ordered.sort_by_key(|r| r.version);
    let mut all = Vec::with_capacity(ordered.len());
    let mut before: Option<(u32, Snapshot)> = None;
    for record in ordered {
        let after = Snapshot::of(record);
        let change = Change::between(before.as_ref().map(|(_, s)| s), &after);
        all.push(build(record, before.as_ref().map(|(v, _)| *v), &change));
        before = Some((record.version, after));
    }
    all.reverse();
    all
}

fn versioned(key: &str, version: u32) -> Reference {
    Reference {
        reference: Some(format!("{key}/_history/{version}").into()),
        ..Default::default()
    }
}

fn build(record: &PlanRecord, previous_version: Option<u32>, change: &Change) -> Provenance {
    let version = record.version;
    // Provenance.target: what this version wrote.
    let mut target: Vec<Reference> = change
        .added
        .iter()
        .chain(&change.changed)
        .map(|key| versioned(key, version))
        .collect();
    if target.is_empty() {
        target.push(versioned(&format!("CarePlan/{}", record.id), version));
    }
    // Provenance.entity: the versions the change replaced or took away.
    let mut entity = Vec::new();
    if let Some(previous) = previous_version {
        for (keys, role) in [(&change.changed, "revision"), (&change.removed, "removal")] {
            entity.extend(keys.iter().map(|key| ProvenanceEntity {
                role: code(role),
                what: Box::new(versioned(key, previous)),
                ..Default::default()
            }));
        }
    }
    let (operation, display) = match (previous_version, record.status) {
        (None, _) => ("CREATE", "create"),
        (Some(_), PlanStatus::EnteredInError) => ("NULLIFY", "nullify"),
        (Some(_), _) => ("UPDATE", "revise"),
    };
    let recorded = instant(&record.last_updated);
    let rows = [
        ("Plan version", version.to_string()),
        ("Activity", display.to_owned()),
        ("Recorded", recorded.clone()),
        ("By", record.last_updated_by.clone()),
        (
            "Resources written",
            (change.added.len() + change.changed.len()).to_string(),
        ),
        ("Resources removed", change.removed.len().to_string()),
    ];
    Provenance {
        id: Some(provenance_id(record.id, version).into()),
        // A Provenance never changes: it is always version 1, written with the plan version.
        meta: Some(Box::new(Meta {
            version_id: Some("1".into()),
            last_updated: Some(recorded.clone().into()),
            profile: vec![codes::profile::PROVENANCE.into()],
            ..Default::default()
        })),
        text: Some(narrative("Provenance of a care plan change", &rows)),
        target,
        recorded: recorded.into(),
        activity: Some(Box::new(concept_of(
            vec![coding_of(DATA_OPERATION, operation, Some(display))],
            None,
        ))),
        agent: vec![ProvenanceAgent {
            r#type: Some(Box::new(concept_of(
                vec![coding_of(PARTICIPANT_TYPE, "author", Some("Author"))],
                None,
            ))),
            who: Box::new(Reference {
                display: Some(record.last_updated_by.as_str().into()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        entity,
        ..Default::default()
    }
}

#[cfg(test)]
#[path = "provenance_tests.rs"]
mod tests;
