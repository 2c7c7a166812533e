//! Practitioner and Organization as the inverse mapping reads them, and the resolution of
//! references between the resources of one plan. A Practitioner names a clinician (`name.text`,
//! the registration identifier); its `practitioner-involvement` extensions restate roles that
//! the CarePlan, Consents and Patient already carry, so they are checked (known parts, the
//! decision they point at exists) but not read twice. The Organization is the GP practice: ODS
//! code, name, telephone number.

use std::collections::HashMap;

use fhirbolt::model::r4::resources::{Organization, Practitioner};

use super::read::{
    absent, absent_list, at, at_index, concept, extensions, identifier, logical_id, name_text,
    no_modifiers, no_resource_extras, only_systems, phones, server_managed, single, Cx, RefRead,
};
use super::FhirIssue;
use crate::domain::{Clinician, OdsCode};
use crate::fhir::{codes, Projection};

/// A Practitioner of the set.
#[derive(Debug, Clone, Default)]
pub(super) struct PractitionerInfo {
    pub name: Option<String>,
    pub registration: Option<String>,
}

/// The GP practice.
#[derive(Debug, Clone)]
pub(super) struct OrganizationInfo {
    pub name: Option<String>,
    pub ods_code: Option<OdsCode>,
    pub phone: Option<String>,
}

/// The resources of one plan, for resolving references.
pub(super) struct Set<'a> {
    resources: &'a Projection,
    pub practitioners: HashMap<&'a str, PractitionerInfo>,
    pub organizations: HashMap<&'a str, OrganizationInfo>,
}

impl<'a> Set<'a> {
    /// Reads the Practitioners and Organizations and indexes the set.
    pub(super) fn read(resources: &'a Projection, issues: &mut Vec<FhirIssue>) -> Self {
        let mut set = Self {
            resources,
            practitioners: HashMap::new(),
            organizations: HashMap::new(),
        };
        for practitioner in &resources.practitioners {
            let info = read_practitioner(issues, &set, practitioner);
            if let Some(id) = logical_id(&practitioner.id) {
                set.practitioners.insert(id, info);
            }
        }
        for organization in &resources.organizations {
            let info = read_organization(issues, organization);
            if let Some(id) = logical_id(&organization.id) {
                set.organizations.insert(id, info);
            }
        }
        set
    }

    /// The id of the set's Patient.
    pub(super) fn patient_id(&self) -> Option<&'a str> {
        logical_id(&self.resources.patient.id)
    }

    fn has(&self, kind: &str, id: &str) -> bool {
        let is =
            |candidate: &Option<fhirbolt::model::r4::types::Id>| logical_id(candidate) == Some(id);
        let r = self.resources;
        match kind {
            "Patient" => is(&r.patient.id),
            "CarePlan" => is(&r.care_plan.id),
            "Consent" => r.consents.iter().any(|c| is(&c.id)),
            "Goal" => r.goals.iter().any(|g| is(&g.id)),
            "RelatedPerson" => r.related_persons.iter().any(|p| is(&p.id)),
            "Practitioner" => r.practitioners.iter().any(|p| is(&p.id)),
            "Organization" => r.organizations.iter().any(|o| is(&o.id)),
            _ => false,
        }
    }

    /// Resolves a reference to one of `kinds` inside the set: `(type, id)`, or an issue
    /// (`not-found` when the target is not in the set, `invariant` for a wrong type).
    pub(super) fn resolve(
        &self,
        cx: &mut Cx<'_>,
        read: &RefRead<'a>,
        kinds: &[&str],
    ) -> Option<(&'a str, &'a str)> {
        let Some((kind, id)) = read.target else {
            cx.required(
                at(&read.path, "reference"),
                format!(
                    "a reference to a {} of this plan is needed",
                    kinds.join(" or ")
                ),
            );
            return None;
        };
        if !kinds.contains(&kind) {
            cx.error(
                "invariant",
                &read.path,
                format!("must refer to a {}, not a {kind}", kinds.join(" or ")),
            );
            return None;
        }
        if !self.has(kind, id) {
            cx.error(
                "not-found",
                &read.path,
                format!("{kind}/{id} is not among the resources sent with this plan"),
            );
            return None;
        }
        Some((kind, id))
    }

    /// Checks that a reference is to the set's own Patient (H3: never guess a patient).
    pub(super) fn patient(&self, cx: &mut Cx<'_>, read: &RefRead<'a>) -> bool {
        let ok = match (read.target, self.patient_id()) {
            (Some(("Patient", id)), Some(patient)) => id == patient,
            _ => false,
        };
        if !ok {
            cx.error(
                "invariant",
                &read.path,
                "must refer to the Patient sent with this plan (Patient/id): a plan is about one person only",
            );
        }
        no_extensions_on(cx, read);
        ok
    }

    /// The name of a Practitioner reference: the Practitioner's `name.text`, else the display.
    pub(super) fn practitioner_name(&self, cx: &mut Cx<'_>, read: &RefRead<'a>) -> Option<String> {
        let name = match read.target {
            None => read.display.clone(),
            Some(_) => {
                let (_, id) = self.resolve(cx, read, &["Practitioner"])?;
                self.practitioners
                    .get(id)
                    .and_then(|p| p.name.clone())
                    .or_else(|| read.display.clone())
            }
        };
        if name.is_none() {
            cx.required(&read.path, "the clinician's name is missing");
        }
        name
    }

    /// A clinician from a Practitioner reference and its `clinician-details` extension.
    pub(super) fn clinician(&self, cx: &mut Cx<'_>, read: &RefRead<'a>) -> Option<Clinician> {
        let name = self.practitioner_name(cx, read);
        let details = extensions(
            cx,
            &read.path,
            read.extension,
            &[codes::CLINICIAN_DETAILS_EXTENSION],
        );
        let mut clinician = Clinician {
            name: name?,
            role: None,
            registration_number: None,
            organisation: None,
        };
        if let Some(ext) = single(cx, &details, codes::CLINICIAN_DETAILS_EXTENSION) {
            let parts = ext.complex(cx, &["role", "registration-number", "organisation"]);
            clinician.role = single(cx, &parts, "role").and_then(|p| p.string(cx));
            clinician.registration_number =
                single(cx, &parts, "registration-number").and_then(|p| p.string(cx));
            clinician.organisation = single(cx, &parts, "organisation").and_then(|p| p.string(cx));
        }
        if clinician.registration_number.is_none() {
            clinician.registration_number = read
                .target
                .and_then(|(_, id)| self.practitioners.get(id))
                .and_then(|p| p.registration.clone());
        }
        Some(clinician)
    }
}

/// Refuses extensions on a reference that carries none.
pub(super) fn no_extensions_on(cx: &mut Cx<'_>, read: &RefRead<'_>) {
    super::read::no_extensions(cx, &read.path, read.extension);
}

/// The involvement contexts the projection writes.
const CONTEXTS: [&str; 6] = [
    "consent-to-share-recorder",
    "cpr-decision-maker",
    "respect-clinician",
    "usual-gp",
    "key-worker",
    "care-team-professional",
];

fn read_practitioner(
    issues: &mut Vec<FhirIssue>,
    set: &Set<'_>,
    resource: &Practitioner,
) -> PractitionerInfo {
    let Practitioner {
        id,
        meta,
        implicit_rules,
        language,
        text,
        contained,
        extension,
        modifier_extension,
        identifier: identifiers,
        active,
        name,
        telecom,
        address,
        gender,
        birth_date,
        photo,
        qualification,
        communication,
    } = resource;
    let mut cx = Cx::new(issues, "Practitioner", logical_id(id));
    let cx = &mut cx;
    let root = "Practitioner";
    server_managed(meta, text);
    no_resource_extras(cx, implicit_rules, language);
    absent_list(cx, root, "contained", contained);
    no_modifiers(cx, root, modifier_extension);
    absent(cx, at(root, "active"), active);
    absent_list(cx, root, "address", address);
    absent(cx, at(root, "gender"), gender);
    absent(cx, at(root, "birthDate"), birth_date);
    absent_list(cx, root, "photo", photo);
    absent_list(cx, root, "qualification", qualification);
    absent_list(cx, root, "communication", communication);
    // Practitioner.telecom restates the care team's phones, which the CareTeam carries.
    let _phones = phones(cx, root, telecom);
    let mut registration = None;
    for (index, item) in identifiers.iter().enumerate() {
        let path = at_index(root, "identifier", index);
        let (system, value) = identifier(cx, &path, item);
        if system.as_deref() != Some(codes::PROFESSIONAL_REGISTRATION) || index > 0 {
            cx.not_supported(path);
            continue;
        }
        registration = value;
    }
    for ext in extensions(
        cx,
        root,
        extension,
        &[codes::PRACTITIONER_INVOLVEMENT_EXTENSION],
    ) {
        let parts = ext.complex(
            cx,
            &[
                "context",
                "role",
                "organisation",
                "phone",
                "decision",
                "position",
            ],
        );
        match single(cx, &parts, "context") {
            Some(context) => {
                if let Some(code) = context.code(cx) {
                    if !CONTEXTS.contains(&code.as_str()) {
                        cx.error(
                            "code-invalid",
                            at(&context.path, "value"),
                            format!(
                                "`{code}` is not a known involvement ({})",
                                CONTEXTS.join(", ")
                            ),
                        );
                    }
                }
            }
            None => cx.required(
                at(&ext.path, "extension"),
                "the involvement needs a context",
            ),
        }
        for name in ["role", "organisation", "phone"] {
            let _ = single(cx, &parts, name).and_then(|p| p.string(cx));
        }
        let _ = single(cx, &parts, "position").and_then(|p| p.integer(cx));
        if let Some(decision) = single(cx, &parts, "decision").and_then(|p| p.reference(cx)) {
            no_extensions_on(cx, &decision);
            let _ = set.resolve(cx, &decision, &["Consent"]);
        }
    }
    PractitionerInfo {
        name: name_text(cx, name),
        registration,
    }
}

fn read_organization(issues: &mut Vec<FhirIssue>, resource: &Organization) -> OrganizationInfo {
    let Organization {
        id,
        meta,
        implicit_rules,
        language,
        text,
        contained,
        extension,
        modifier_extension,
        identifier: identifiers,
        active,
        r#type,
        name,
        alias,
        telecom,
        address,
        part_of,
        contact,
        endpoint,
    } = resource;
    let mut cx = Cx::new(issues, "Organization", logical_id(id));
    let cx = &mut cx;
    let root = "Organization";
    server_managed(meta, text);
    no_resource_extras(cx, implicit_rules, language);
    absent_list(cx, root, "contained", contained);
    let _ = extensions(cx, root, extension, &[]);
    no_modifiers(cx, root, modifier_extension);
    absent(cx, at(root, "active"), active);
    absent_list(cx, root, "alias", alias);
    absent_list(cx, root, "address", address);
    absent(cx, at(root, "partOf"), part_of);
    absent_list(cx, root, "contact", contact);
    absent_list(cx, root, "endpoint", endpoint);
    for (index, kind) in r#type.iter().enumerate() {
        let read = concept(cx, &at_index(root, "type", index), kind);
        only_systems(cx, &read, &[codes::ORGANIZATION_TYPE]);
        let _ = read.pick(cx, codes::ORGANIZATION_TYPE, &[("prov", ())]);
    }
    let mut ods_code = None;
    for (index, item) in identifiers.iter().enumerate() {
        let path = at_index(root, "identifier", index);
        let (system, value) = identifier(cx, &path, item);
        if system.as_deref() != Some(codes::ODS_CODE) || ods_code.is_some() {
            cx.not_supported(path);
            continue;
        }
        let value_path = at(&path, "value");
        match value.as_deref().map(OdsCode::parse) {
            Some(Ok(code)) => ods_code = Some(code),
            Some(Err(e)) => cx.error("value", value_path, e.to_string()),
            None => cx.required(value_path, "the ODS code is missing"),
        }
    }
    if ods_code.is_none() && identifiers.is_empty() {
        cx.required(at(root, "identifier"), "the practice's ODS code is missing");
    }
    let phones = phones(cx, root, telecom);
    for index in 1..phones.len() {
        cx.not_supported(at_index(root, "telecom", index));
    }
    OrganizationInfo {
        name: super::read::text(cx, &at(root, "name"), name.as_ref()),
        ods_code,
        phone: phones.into_iter().next().map(|p| p.number),
    }
}
