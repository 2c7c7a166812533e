//! FHIR writes as changes to one plan: the resources a client sends are laid over the plan's
//! current projection (same type and id replaces, anything else is added), the whole set is read
//! back into the internal plan (see [`super::inverse`]), and the plan's own lifecycle rules
//! decide the next version. One request, or one transaction Bundle, makes at most one new
//! version of one plan, so a write through FHIR and a write through the internal API are the
//! same kind of change with the same version counter.

use fhirbolt::model::r4::Resource;

use super::codes;
use super::inverse::{self, FhirIssue, InversePlan, Severity};
use super::{type_and_id, Projection};
use crate::domain::FieldError;

/// An error issue.
pub fn error_issue(
    code: &'static str,
    resource_type: &'static str,
    resource_id: Option<String>,
    expression: impl Into<String>,
    message: impl Into<String>,
) -> FhirIssue {
    FhirIssue {
        severity: Severity::Error,
        code,
        resource_type,
        resource_id,
        expression: expression.into(),
        message: message.into(),
    }
}

/// The static name of a resource type this server writes, or None.
pub fn writable_type(name: &str) -> Option<&'static str> {
    WRITABLE.iter().copied().find(|t| *t == name)
}

/// The resource types a client may send as part of a plan.
pub const WRITABLE: [&str; 7] = [
    "CarePlan",
    "Consent",
    "Goal",
    "Patient",
    "RelatedPerson",
    "Practitioner",
    "Organization",
];

/// The type name of any resource.
pub fn type_name(resource: &Resource) -> &'static str {
    match resource {
        Resource::CarePlan(_) => "CarePlan",
        Resource::Consent(_) => "Consent",
        Resource::Goal(_) => "Goal",
        Resource::Patient(_) => "Patient",
        Resource::RelatedPerson(_) => "RelatedPerson",
        Resource::Practitioner(_) => "Practitioner",
        Resource::Organization(_) => "Organization",
        Resource::Bundle(_) => "Bundle",
        Resource::Parameters(_) => "Parameters",
        Resource::OperationOutcome(_) => "OperationOutcome",
        _ => "Resource",
    }
}

/// The logical id a resource carries, if any.
pub fn id_of(resource: &Resource) -> Option<String> {
    type_and_id(resource).map(|(_, id)| id.to_owned())
}

/// Gives `resource` the id `id`.
pub fn set_id(resource: &mut Resource, id: &str) {
    let value = Some(id.into());
    match resource {
        Resource::CarePlan(r) => r.id = value,
        Resource::Consent(r) => r.id = value,
        Resource::Goal(r) => r.id = value,
        Resource::Patient(r) => r.id = value,
        Resource::RelatedPerson(r) => r.id = value,
        Resource::Practitioner(r) => r.id = value,
        Resource::Organization(r) => r.id = value,
        _ => {}
    }
}

fn replace_or_push<T>(
    list: &mut Vec<T>,
    item: T,
    id: Option<&str>,
    id_of: impl Fn(&T) -> Option<String>,
) {
    if let Some(id) = id {
        if let Some(slot) = list.iter_mut().find(|r| id_of(r).as_deref() == Some(id)) {
            *slot = item;
            return;
        }
    }
    list.push(item);
}

fn id_value(id: &Option<fhirbolt::model::r4::types::Id>) -> Option<String> {
    id.as_ref().and_then(|i| i.value.clone())
}

/// Lays `incoming` over `base` (the plan's current projection; None for a new plan). A
/// CarePlan or Patient replaces the plan's; other resources replace the one with the same id,
/// or are added.
pub fn overlay(
    base: Option<Projection>,
    incoming: Vec<Resource>,
) -> Result<Projection, Vec<FhirIssue>> {
    let mut care_plan = base.as_ref().map(|b| b.care_plan.clone());
    let mut patient = base.as_ref().map(|b| b.patient.clone());
    let mut set = base.unwrap_or_else(|| Projection {
        care_plan: Default::default(),
        patient: Default::default(),
        consents: Vec::new(),
        goals: Vec::new(),
        related_persons: Vec::new(),
        practitioners: Vec::new(),
        organizations: Vec::new(),
    });
    let mut issues = Vec::new();
    for mut resource in incoming {
        if let Some(patient) = &patient {
            name_the_patient(&mut resource, patient);
        }
        let id = id_of(&resource);
        let id = id.as_deref();
        match resource {
            Resource::CarePlan(r) => care_plan = Some(*r),
            Resource::Patient(r) => patient = Some(*r),
            Resource::Consent(r) => replace_or_push(&mut set.consents, *r, id, |r| id_value(&r.id)),
            Resource::Goal(r) => replace_or_push(&mut set.goals, *r, id, |r| id_value(&r.id)),
            Resource::RelatedPerson(r) => {
                replace_or_push(&mut set.related_persons, *r, id, |r| id_value(&r.id))
            }
            Resource::Practitioner(r) => {
                replace_or_push(&mut set.practitioners, *r, id, |r| id_value(&r.id))
            }
            Resource::Organization(r) => {
                replace_or_push(&mut set.organizations, *r, id, |r| id_value(&r.id))
            }
            other => issues.push(error_issue(
                "not-supported",
                type_name(&other),
                id_of(&other),
                type_name(&other),
                "this server keeps CarePlan, Consent, Goal, Patient, RelatedPerson, \
                 Practitioner and Organization resources of end-of-life plans only",
            )),
        }
    }
    match care_plan {
        Some(plan) => set.care_plan = plan,
        None => issues.push(error_issue(
            "required",
            "CarePlan",
            None,
            "CarePlan",
            "a new plan needs its CarePlan (send the plan as a transaction Bundle with the \
             CarePlan, the Patient and their Consents)",
        )),
    }
    match patient {
        Some(person) => set.patient = person,
        None => issues.push(error_issue(
            "required",
            "Patient",
            None,
            "Patient",
            "a new plan needs its Patient in the same transaction Bundle",
        )),
    }
    if issues.is_empty() {
        Ok(set)
    } else {
        Err(issues)
    }
}

/// A plan part sent with its patient named by NHS number (a logical reference with the NHS
/// number identifier, or the conditional reference `Patient?identifier=…|N`) is about the
/// plan's Patient when the number is the plan's: the reference becomes `Patient/{id}`, as the
/// projection writes it. Any other number is left as sent, for the checks to refuse (H3).
fn name_the_patient(resource: &mut Resource, patient: &fhirbolt::model::r4::resources::Patient) {
    let (Some(id), Some(number)) = (
        id_value(&patient.id),
        patient
            .identifier
            .iter()
            .find(|i| i.system.as_ref().and_then(|s| s.value.as_deref()) == Some(codes::NHS_NUMBER))
            .and_then(|i| i.value.as_ref().and_then(|v| v.value.clone())),
    ) else {
        return;
    };
    let reference = match resource {
        Resource::Consent(r) => r.patient.as_deref_mut(),
        Resource::Goal(r) => Some(&mut *r.subject),
        Resource::RelatedPerson(r) => Some(&mut *r.patient),
        Resource::CarePlan(r) => Some(&mut *r.subject),
        _ => None,
    };
    let Some(reference) = reference else {
        return;
    };
    let literal = reference
        .reference
        .as_ref()
        .and_then(|r| r.value.as_deref());
    let names_this_person = match literal {
        Some(text) => conditional_patient_criteria(text)
            .and_then(|criteria| conditional_nhs_number(criteria).ok())
            .is_some_and(|sent| sent == number),
        None => reference.identifier.as_ref().is_some_and(|i| {
            i.system.as_ref().and_then(|s| s.value.as_deref()) == Some(codes::NHS_NUMBER)
                && i.value.as_ref().and_then(|v| v.value.as_deref()) == Some(number.as_str())
        }),
    };
    if names_this_person {
        reference.reference = Some(format!("Patient/{id}").into());
        reference.identifier = None;
    }
}

/// The criteria of a conditional reference to a Patient (`Patient?…`, relative or under a
/// base), if `reference` is one.
pub fn conditional_patient_criteria(reference: &str) -> Option<&str> {
    let (before, criteria) = reference.split_once('?')?;
    (before == "Patient" || before.ends_with("/Patient")).then_some(criteria)
}

/// The NHS number (as sent) that conditional criteria name. Only
/// `identifier=https://fhir.nhs.uk/Id/nhs-number|N` is taken: a person is never found by
/// anything less (H3); anything else is the message saying so.
pub fn conditional_nhs_number(criteria: &str) -> Result<String, String> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(criteria.as_bytes())
        .into_owned()
        .collect();
    let named = match pairs.as_slice() {
        [(name, value)] if name == "identifier" => value
            .split_once('|')
            .filter(|(system, _)| *system == codes::NHS_NUMBER)
            .map(|(_, number)| number.to_owned()),
        _ => None,
    };
    named.ok_or_else(|| {
        format!(
            "a conditional reference names the patient by NHS number only: \
             Patient?identifier={}|NNNNNNNNNN",
            codes::NHS_NUMBER
        )
    })
}

/// Reads the plan back from the overlaid resources.
pub fn read_back(set: &Projection) -> Result<InversePlan, Vec<FhirIssue>> {
    inverse::plan_from_fhir(set)
}

/// The domain's complaints about a plan, told as FHIR issues on the elements that carried the
/// offending items (best effort: the CarePlan when no element can be named).
pub fn domain_issues(errors: &[FieldError], set: &Projection) -> Vec<FhirIssue> {
    errors
        .iter()
        .map(|error| {
            let (resource_type, resource_id, expression) =
                match inverse::fhir_location(&error.path, set) {
                    Some(found) => found,
                    None => (
                        "CarePlan",
                        id_value(&set.care_plan.id),
                        "CarePlan".to_owned(),
                    ),
                };
            error_issue(
                "business-rule",
                resource_type,
                resource_id,
                expression,
                format!("{} (plan item `{}`)", error.message, error.path),
            )
        })
        .collect()
}

/// Whether the set of issues refuses the request.
pub fn has_errors(issues: &[FhirIssue]) -> bool {
    issues.iter().any(|i| i.severity == Severity::Error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhirbolt::model::r4::resources::{Consent, Goal};

    fn consent(id: &str) -> Resource {
        Resource::Consent(Box::new(Consent {
            id: Some(id.into()),
            ..Default::default()
        }))
    }

    #[test]
    fn a_new_plan_needs_its_care_plan_and_patient() {
        let issues = overlay(None, vec![consent("c1")]).unwrap_err();
        let named: Vec<&str> = issues.iter().map(|i| i.expression.as_str()).collect();
        assert_eq!(named, ["CarePlan", "Patient"]);
    }

    #[test]
    fn same_id_replaces_and_a_new_id_is_added() {
        let base = overlay(
            None,
            vec![
                Resource::CarePlan(Box::default()),
                Resource::Patient(Box::default()),
                consent("c1"),
            ],
        )
        .unwrap();
        let mut changed = Consent {
            id: Some("c1".into()),
            ..Default::default()
        };
        changed.status = "inactive".into();
        let set = overlay(
            Some(base),
            vec![Resource::Consent(Box::new(changed)), consent("c2")],
        )
        .unwrap();
        assert_eq!(set.consents.len(), 2);
        assert_eq!(set.consents[0].status.value.as_deref(), Some("inactive"));
    }

    #[test]
    fn other_resource_types_are_refused() {
        let issues = overlay(
            None,
            vec![
                Resource::CarePlan(Box::default()),
                Resource::Patient(Box::default()),
                Resource::Goal(Box::<Goal>::default()),
                Resource::Bundle(Box::default()),
            ],
        )
        .unwrap_err();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].code, "not-supported");
        assert_eq!(issues[0].resource_type, "Bundle");
    }
}
