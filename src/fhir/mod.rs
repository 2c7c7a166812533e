//! The FHIR R4 projection of the internal plan (domain.md §4): CarePlan, Consent, Goal,
//! Patient, RelatedPerson, Practitioner and Organization, one file per resource, built with
//! fhirbolt's typed R4 model. A projection is a pure function of one plan version: the same
//! version always gives the same resources, so `vread` and golden files are exact.

pub mod audit_event;
pub mod care_plan;
pub mod codes;
pub mod conformance;
pub mod consent;
pub mod format;
pub mod goal;
pub mod ids;
pub mod inverse;
pub mod organization;
pub mod outcome;
pub mod parse;
pub mod patient;
pub mod practitioner;
pub mod provenance;
pub mod related_person;
pub mod search;
pub mod summary;
pub mod support;
pub mod write;

use fhirbolt::model::r4::resources::{
    CarePlan, Consent, Goal, Organization, Patient, Practitioner, RelatedPerson,
};
use fhirbolt::model::r4::Resource;

use crate::domain::PlanRecord;
use ids::PlanIds;

/// The resource types the projection serves, in the order the CapabilityStatement lists them.
pub const RESOURCE_TYPES: [&str; 7] = [
    "CarePlan",
    "Consent",
    "Goal",
    "Patient",
    "RelatedPerson",
    "Practitioner",
    "Organization",
];

/// Every resource of one plan version.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// The plan.
    pub care_plan: CarePlan,
    /// The person.
    pub patient: Patient,
    /// Consent to share, then CPR decisions, then ADRTs, in plan order.
    pub consents: Vec<Consent>,
    /// Preferred places, what matters most, advance statements.
    pub goals: Vec<Goal>,
    /// Contacts, then LPAs.
    pub related_persons: Vec<RelatedPerson>,
    /// Everyone the plan names as a clinician, once each.
    pub practitioners: Vec<Practitioner>,
    /// The GP practice.
    pub organizations: Vec<Organization>,
}

/// Projects one plan version.
pub fn project(record: &PlanRecord) -> Projection {
    let ids = PlanIds::new(record.id);
    Projection {
        care_plan: care_plan::care_plan(record, &ids),
        patient: patient::patient(record, &ids),
        consents: consent::consents(record, &ids),
        goals: goal::goals(record, &ids),
        related_persons: related_person::related_persons(record, &ids),
        practitioners: practitioner::practitioners(record, &ids),
        organizations: organization::organizations(record, &ids),
    }
}

/// The type and id of every resource [`project`] gives for `record`, in the same order, without
/// building the resources (an import indexes every version it stores, and building the FHIR
/// resources only to read their ids was most of its CPU time). Each resource module says which
/// of its resources exist with the same code its projection uses; a test holds the two equal.
pub fn resource_keys(record: &PlanRecord) -> Vec<crate::store::ResourceKey> {
    let ids = PlanIds::new(record.id);
    let key = |resource_type: &'static str| {
        move |id: String| crate::store::ResourceKey { resource_type, id }
    };
    let mut keys = vec![
        key("CarePlan")(ids.care_plan()),
        key("Patient")(ids.patient()),
    ];
    keys.extend(
        consent::consent_ids(record, &ids)
            .into_iter()
            .map(key("Consent")),
    );
    keys.extend(goal::goal_ids(record, &ids).into_iter().map(key("Goal")));
    keys.extend(
        related_person::related_person_ids(record, &ids)
            .into_iter()
            .map(key("RelatedPerson")),
    );
    keys.extend(
        practitioner::practitioner_ids(record, &ids)
            .into_iter()
            .map(key("Practitioner")),
    );
    keys.push(key("Organization")(ids.gp_practice()));
    keys
}

/// The resource keys of `next` that `before` (the version it follows) does not project to:
/// what storing `next` adds to the resource index. Every stored version had its resources
/// indexed when it was stored, so the rest are there already. `None` is a new plan: all of them.
pub fn new_resource_keys(
    before: Option<&PlanRecord>,
    next: &PlanRecord,
) -> Vec<crate::store::ResourceKey> {
    let keys = resource_keys(next);
    match before {
        Some(before) if before.id == next.id => {
            let known: std::collections::HashSet<_> = resource_keys(before).into_iter().collect();
            keys.into_iter()
                .filter(|key| !known.contains(key))
                .collect()
        }
        _ => keys,
    }
}

fn id_of(id: &Option<fhirbolt::model::r4::types::Id>) -> Option<&str> {
    id.as_ref().and_then(|i| i.value.as_deref())
}

impl Projection {
    /// Every resource, in a fixed order: CarePlan, Patient, Consents, Goals, RelatedPersons,
    /// Practitioners, Organizations.
    pub fn resources(&self) -> Vec<Resource> {
        self.clone().into_resources()
    }

    /// As [`Projection::resources`], without copying them.
    pub fn into_resources(self) -> Vec<Resource> {
        let mut all = Vec::with_capacity(
            2 + self.consents.len()
                + self.goals.len()
                + self.related_persons.len()
                + self.practitioners.len()
                + self.organizations.len(),
        );
        all.push(Resource::CarePlan(Box::new(self.care_plan)));
        all.push(Resource::Patient(Box::new(self.patient)));
        all.extend(
            self.consents
                .into_iter()
                .map(|r| Resource::Consent(Box::new(r))),
        );
        all.extend(self.goals.into_iter().map(|r| Resource::Goal(Box::new(r))));
        all.extend(
            self.related_persons
                .into_iter()
                .map(|r| Resource::RelatedPerson(Box::new(r))),
        );
        all.extend(
            self.practitioners
                .into_iter()
                .map(|r| Resource::Practitioner(Box::new(r))),
        );
        all.extend(
            self.organizations
                .into_iter()
                .map(|r| Resource::Organization(Box::new(r))),
        );
        all
    }

    /// The resource of `resource_type` with `id`, if this plan version has it.
    pub fn find(&self, resource_type: &str, id: &str) -> Option<Resource> {
        let matches =
            |candidate: &Option<fhirbolt::model::r4::types::Id>| id_of(candidate) == Some(id);
        match resource_type {
            "CarePlan" => matches(&self.care_plan.id)
                .then(|| Resource::CarePlan(Box::new(self.care_plan.clone()))),
            "Patient" => {
                matches(&self.patient.id).then(|| Resource::Patient(Box::new(self.patient.clone())))
            }
            "Consent" => self
                .consents
                .iter()
                .find(|r| matches(&r.id))
                .map(|r| Resource::Consent(Box::new(r.clone()))),
            "Goal" => self
                .goals
                .iter()
                .find(|r| matches(&r.id))
                .map(|r| Resource::Goal(Box::new(r.clone()))),
            "RelatedPerson" => self
                .related_persons
                .iter()
                .find(|r| matches(&r.id))
                .map(|r| Resource::RelatedPerson(Box::new(r.clone()))),
            "Practitioner" => self
                .practitioners
                .iter()
                .find(|r| matches(&r.id))
                .map(|r| Resource::Practitioner(Box::new(r.clone()))),
            "Organization" => self
                .organizations
                .iter()
                .find(|r| matches(&r.id))
                .map(|r| Resource::Organization(Box::new(r.clone()))),
            _ => None,
        }
    }
}

impl Projection {
    /// The type and id of every resource, for the store's resource index.
    pub fn keys(&self) -> Vec<crate::store::ResourceKey> {
        self.resources()
            .iter()
            .filter_map(|resource| {
                let (resource_type, id) = type_and_id(resource)?;
                Some(crate::store::ResourceKey {
                    resource_type,
                    id: id.to_owned(),
                })
            })
            .collect()
    }
}

/// The type name and logical id of a projected resource.
pub fn type_and_id(resource: &Resource) -> Option<(&'static str, &str)> {
    let (name, id) = match resource {
        Resource::CarePlan(r) => ("CarePlan", &r.id),
        Resource::Patient(r) => ("Patient", &r.id),
        Resource::Consent(r) => ("Consent", &r.id),
        Resource::Goal(r) => ("Goal", &r.id),
        Resource::RelatedPerson(r) => ("RelatedPerson", &r.id),
        Resource::Practitioner(r) => ("Practitioner", &r.id),
        Resource::Organization(r) => ("Organization", &r.id),
        _ => return None,
    };
    id_of(id).map(|id| (name, id))
}

/// The JSON form of a resource (fhirbolt orders elements as FHIR does).
pub fn to_json(resource: &Resource) -> Result<serde_json::Value, String> {
    fhirbolt::json::to_json_value(resource.clone(), None).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
