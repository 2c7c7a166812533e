//! What each interaction needs, decided from the method and path alone, in one table-like
//! function, so that no route can be reached without a decision: the open endpoints, and for
//! every other `/fhir` and `/api` request the interaction (for the audit trail) and the SMART
//! permissions it requires. Handlers add what only they know (`_include` targets).

use super::scopes::{Permission, AUDIT_EVENT};
use crate::fhir::RESOURCE_TYPES;

/// The resource types the `$summary` document returns: the Bundle's Composition and every
/// projected type.
pub const SUMMARY_TYPES: [&str; 8] = [
    "Composition",
    "CarePlan",
    "Consent",
    "Goal",
    "Patient",
    "RelatedPerson",
    "Practitioner",
    "Organization",
];

/// The audit trail's verb for an interaction (AuditEvent.action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// C
    Create,
    /// R
    Read,
    /// U
    Update,
    /// D
    Delete,
    /// E (searches and operations)
    Execute,
}

impl Action {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Create => "C",
            Self::Read => "R",
            Self::Update => "U",
            Self::Delete => "D",
            Self::Execute => "E",
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Open to anyone (no token, no audit).
    pub open: bool,
    /// The interaction, as the audit trail names it (restful-interaction codes, or the
    /// operation).
    pub interaction: &'static str,
    /// The audit verb.
    pub action: Action,
    /// The resource type addressed, if any.
    pub resource_type: Option<String>,
    /// The permissions required: every one must be granted.
    pub needs: Vec<(String, Permission)>,
}

impl Requirement {
    fn open() -> Self {
        Self {
            open: true,
            interaction: "open",
            action: Action::Read,
            resource_type: None,
            needs: Vec::new(),
        }
    }

    fn on(
        interaction: &'static str,
        action: Action,
        resource_type: &str,
        needs: Vec<(String, Permission)>,
    ) -> Self {
        Self {
            open: false,
            interaction,
            action,
            resource_type: Some(resource_type.to_owned()),
            needs,
        }
    }

    fn authenticated(interaction: &'static str) -> Self {
        Self {
            open: false,
            interaction,
            action: Action::Execute,
            resource_type: None,
            needs: Vec::new(),
        }
    }
}

fn each(types: &[&str], permissions: &[Permission]) -> Vec<(String, Permission)> {
    types
        .iter()
        .flat_map(|t| permissions.iter().map(move |p| ((*t).to_owned(), *p)))
        .collect()
}

fn one(resource_type: &str, permission: Permission) -> Vec<(String, Permission)> {
    vec![(resource_type.to_owned(), permission)]
}

/// The requirement of a request.
pub fn requirement(method: &str, path: &str) -> Requirement {
    use Permission::*;
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segments.as_slice() {
        ["health", ..] | [".well-known", ..] | ["auth", ..] => Requirement::open(),
        ["fhir", "metadata"] => Requirement::open(),
        // Conformance resources (profiles/): definitions, no patient data, open like metadata.
        ["fhir", "StructureDefinition" | "ValueSet" | "CodeSystem" | "OperationDefinition"]
        | ["fhir", "StructureDefinition" | "ValueSet" | "CodeSystem" | "OperationDefinition", _]
            if method == "GET" || method == "HEAD" =>
        {
            Requirement::open()
        }
        ["fhir", "Patient", "$summary"] | ["fhir", "Patient", _, "$summary"] => Requirement::on(
            "summary",
            Action::Read,
            "Patient",
            each(&SUMMARY_TYPES, &[Read]),
        ),
        ["fhir", resource_type, "_search"] if method == "POST" => Requirement::on(
            "search-type",
            Action::Execute,
            resource_type,
            one(resource_type, Search),
        ),
        ["fhir", resource_type] if method == "GET" || method == "HEAD" => Requirement::on(
            "search-type",
            Action::Execute,
            resource_type,
            one(resource_type, Search),
        ),
        ["fhir", resource_type, _] if method == "GET" || method == "HEAD" => Requirement::on(
            "read",
            Action::Read,
            resource_type,
            one(resource_type, Read),
        ),
        ["fhir", resource_type, _, "_history"] if method == "GET" || method == "HEAD" => {
            Requirement::on(
                "history-instance",
                Action::Read,
                resource_type,
                one(resource_type, Read),
            )
        }
        ["fhir", resource_type, _, "_history", _] if method == "GET" || method == "HEAD" => {
            Requirement::on(
                "vread",
                Action::Read,
                resource_type,
                one(resource_type, Read),
            )
        }
        ["fhir", resource_type, "$validate"] if method == "POST" => Requirement::on(
            "validate",
            Action::Execute,
            resource_type,
            one(resource_type, Read),
        ),
        ["fhir", resource_type] if method == "POST" => Requirement::on(
            "create",
            Action::Create,
            resource_type,
            one(resource_type, Create),
        ),
        ["fhir", resource_type, _] if method == "PUT" => Requirement::on(
            "update",
            Action::Update,
            resource_type,
            one(resource_type, Update),
        ),
        ["fhir", resource_type, _] if method == "DELETE" => Requirement::on(
            "delete",
            Action::Delete,
            resource_type,
            one(resource_type, Delete),
        ),
        // A transaction or batch: each entry's scope is checked by the handler.
        ["fhir"] if method == "POST" => Requirement::authenticated("transaction"),
        ["fhir", ..] => Requirement::authenticated("other"),
        ["api", "v1", "plans"] if method == "POST" => Requirement::on(
            "create",
            Action::Create,
            "CarePlan",
            each(&RESOURCE_TYPES, &[Create]),
        ),
        ["api", "v1", "plans"] => Requirement::on(
            "search-type",
            Action::Execute,
            "CarePlan",
            each(&RESOURCE_TYPES, &[Read, Search]),
        ),
        ["api", "v1", "plans", _] if method == "PUT" => Requirement::on(
            "update",
            Action::Update,
            "CarePlan",
            each(&RESOURCE_TYPES, &[Update]),
        ),
        ["api", "v1", "plans", _, "$revoke"] => Requirement::on(
            "update",
            Action::Update,
            "CarePlan",
            each(&RESOURCE_TYPES, &[Update]),
        ),
        ["api", "v1", "plans", _, "$entered-in-error"] => Requirement::on(
            "delete",
            Action::Delete,
            "CarePlan",
            each(&RESOURCE_TYPES, &[Delete]),
        ),
        ["api", "v1", "plans", _] => Requirement::on(
            "read",
            Action::Read,
            "CarePlan",
            each(&RESOURCE_TYPES, &[Read]),
        ),
        ["api", "v1", "plans", _, "history"] => Requirement::on(
            "history-instance",
            Action::Read,
            "CarePlan",
            each(&RESOURCE_TYPES, &[Read]),
        ),
        ["api", "v1", "plans", _, "history", _] => Requirement::on(
            "vread",
            Action::Read,
            "CarePlan",
            each(&RESOURCE_TYPES, &[Read]),
        ),
        ["api", ..] => Requirement::authenticated("other"),
        _ => Requirement::open(),
    }
}

/// Whether a request reads the audit trail.
pub fn reads_audit(requirement: &Requirement) -> bool {
    requirement.resource_type.as_deref() == Some(AUDIT_EVENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    type Row = (
        &'static str,
        &'static str,
        &'static str,
        Vec<(String, Permission)>,
    );

    fn needs(method: &str, path: &str) -> Vec<(String, Permission)> {
        requirement(method, path).needs
    }

    #[test]
    fn only_the_documented_endpoints_are_open() {
        for path in [
            "/health/live",
            "/health/ready",
            "/.well-known/smart-configuration",
            "/auth/token",
            "/auth/jwks.json",
            "/fhir/metadata",
            "/fhir/OperationDefinition/Patient-summary",
            "/fhir/StructureDefinition",
            "/fhir/StructureDefinition/acp-patient",
            "/fhir/ValueSet/cpr-decision",
            "/fhir/CodeSystem",
        ] {
            assert!(requirement("GET", path).open, "{path}");
        }
        for path in [
            "/fhir",
            "/fhir/",
            "/fhir/Consent",
            "/fhir/Consent/x",
            "/fhir/unknown/a/b/c/d/e",
            "/fhir/StructureDefinition/acp-patient/_history",
            "/api/v1/plans",
            "/api/v1/schema",
            "/api/v2/anything",
        ] {
            assert!(!requirement("GET", path).open, "{path}");
        }
    }

    #[test]
    fn each_fhir_interaction_needs_its_permission() {
        let table: [Row; 7] = [
            (
                "GET",
                "/fhir/Consent",
                "search-type",
                one("Consent", Search),
            ),
            (
                "POST",
                "/fhir/Goal/_search",
                "search-type",
                one("Goal", Search),
            ),
            ("GET", "/fhir/CarePlan/1", "read", one("CarePlan", Read)),
            (
                "GET",
                "/fhir/CarePlan/1/_history",
                "history-instance",
                one("CarePlan", Read),
            ),
            (
                "GET",
                "/fhir/CarePlan/1/_history/2",
                "vread",
                one("CarePlan", Read),
            ),
            (
                "GET",
                "/fhir/AuditEvent",
                "search-type",
                one("AuditEvent", Search),
            ),
            (
                "GET",
                "/fhir/Patient/$summary",
                "summary",
                each(&SUMMARY_TYPES, &[Read]),
            ),
        ];
        for (method, path, interaction, expected) in table {
            let found = requirement(method, path);
            assert_eq!(found.interaction, interaction, "{method} {path}");
            assert_eq!(found.needs, expected, "{method} {path}");
        }
        assert_eq!(
            needs("GET", "/fhir/Patient/abc/$summary"),
            each(&SUMMARY_TYPES, &[Read])
        );
        assert!(reads_audit(&requirement("GET", "/fhir/AuditEvent/1")));
    }

    #[test]
    fn the_internal_api_needs_the_permission_on_every_plan_type() {
        assert_eq!(
            needs("POST", "/api/v1/plans"),
            each(&RESOURCE_TYPES, &[Create])
        );
        assert_eq!(
            needs("GET", "/api/v1/plans"),
            each(&RESOURCE_TYPES, &[Read, Search])
        );
        assert_eq!(
            needs("PUT", "/api/v1/plans/x"),
            each(&RESOURCE_TYPES, &[Update])
        );
        assert_eq!(
            needs("GET", "/api/v1/plans/x"),
            each(&RESOURCE_TYPES, &[Read])
        );
        assert_eq!(
            needs("POST", "/api/v1/plans/x/$revoke"),
            each(&RESOURCE_TYPES, &[Update])
        );
        assert_eq!(
            needs("POST", "/api/v1/plans/x/$entered-in-error"),
            each(&RESOURCE_TYPES, &[Delete])
        );
        assert_eq!(
            needs("GET", "/api/v1/plans/x/history/3"),
            each(&RESOURCE_TYPES, &[Read])
        );
        assert!(needs("GET", "/api/v1/schema").is_empty());
        assert!(!requirement("GET", "/api/v1/schema").open);
    }
}
