//! The static tables of search: the parameters each resource type serves (name, type, element
//! paths, reference targets, as the R4 SearchParameter definitions give them) and the element
//! lists `_summary` needs (R4 `isSummary` and `min > 0`, top level only).

use super::Include;

/// How the values of a token parameter sit in the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenShape {
    /// A plain `code` (or `id`) string.
    Code,
    /// A CodeableConcept (`coding[]` and `text`).
    CodeableConcept,
    /// An Identifier (`system`, `value`).
    Identifier,
}

/// A parameter's FHIR search type, with what matching needs to know of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `token`.
    Token(TokenShape),
    /// `date` (date, dateTime, instant or Period).
    Date,
    /// `reference`: the paths lead to Reference objects; the types it may point at.
    Reference(&'static [&'static str]),
    /// `string`.
    String,
}

impl Shape {
    /// The FHIR search parameter type name.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Self::Token(_) => "token",
            Self::Date => "date",
            Self::Reference(_) => "reference",
            Self::String => "string",
        }
    }
}

/// One search parameter of one resource type.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParamDef {
    /// The parameter name.
    pub(crate) name: &'static str,
    /// Its type.
    pub(crate) shape: Shape,
    /// The element paths it reads (arrays are walked through at every step).
    pub(crate) paths: &'static [&'static [&'static str]],
}

const PATIENT: &[&str] = &["Patient"];
const SUBJECT_CARE_PLAN: &[&str] = &["Group", "Patient"];
const SUBJECT_GOAL: &[&str] = &["Group", "Organization", "Patient"];
const GOAL: &[&str] = &["Goal"];
const CONSENT_ACTOR: &[&str] = &[
    "CareTeam",
    "Device",
    "Group",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "RelatedPerson",
];

const fn def(
    name: &'static str,
    shape: Shape,
    paths: &'static [&'static [&'static str]],
) -> ParamDef {
    ParamDef { name, shape, paths }
}

const CODE: Shape = Shape::Token(TokenShape::Code);
const CONCEPT: Shape = Shape::Token(TokenShape::CodeableConcept);
const IDENT: Shape = Shape::Token(TokenShape::Identifier);

static COMMON: [ParamDef; 2] = [
    def("_id", CODE, &[&["id"]]),
    def("_lastUpdated", Shape::Date, &[&["meta", "lastUpdated"]]),
];

static CARE_PLAN: [ParamDef; 8] = [
    def("category", CONCEPT, &[&["category"]]),
    def("date", Shape::Date, &[&["period"]]),
    def("goal", Shape::Reference(GOAL), &[&["goal"]]),
    def("identifier", IDENT, &[&["identifier"]]),
    def("intent", CODE, &[&["intent"]]),
    def("patient", Shape::Reference(PATIENT), &[&["subject"]]),
    def("status", CODE, &[&["status"]]),
    def(
        "subject",
        Shape::Reference(SUBJECT_CARE_PLAN),
        &[&["subject"]],
    ),
];

static CONSENT: [ParamDef; 6] = [
    def(
        "actor",
        Shape::Reference(CONSENT_ACTOR),
        &[&["provision", "actor", "reference"]],
    ),
    def("category", CONCEPT, &[&["category"]]),
    def("date", Shape::Date, &[&["dateTime"]]),
    def("patient", Shape::Reference(PATIENT), &[&["patient"]]),
    def("scope", CONCEPT, &[&["scope"]]),
    def("status", CODE, &[&["status"]]),
];

static GOAL_PARAMS: [ParamDef; 4] = [
    def("category", CONCEPT, &[&["category"]]),
    def("lifecycle-status", CODE, &[&["lifecycleStatus"]]),
    def("patient", Shape::Reference(PATIENT), &[&["subject"]]),
    def("subject", Shape::Reference(SUBJECT_GOAL), &[&["subject"]]),
];

static PATIENT_PARAMS: [ParamDef; 4] = [
    def("birthdate", Shape::Date, &[&["birthDate"]]),
    def("family", Shape::String, &[&["name", "family"]]),
    def("identifier", IDENT, &[&["identifier"]]),
    def(
        "name",
        Shape::String,
        &[
            &["name", "family"],
            &["name", "given"],
            &["name", "text"],
            &["name", "prefix"],
            &["name", "suffix"],
        ],
    ),
];

static RELATED_PERSON: [ParamDef; 1] = [def("patient", Shape::Reference(PATIENT), &[&["patient"]])];

static IDENTIFIER_ONLY: [ParamDef; 1] = [def("identifier", IDENT, &[&["identifier"]])];

/// What a Provenance here may point at: the plan's resources.
const PLAN_RESOURCES: &[&str] = &[
    "CarePlan",
    "Consent",
    "Goal",
    "Organization",
    "Patient",
    "Practitioner",
    "RelatedPerson",
];

static PROVENANCE: [ParamDef; 5] = [
    def("agent-type", CONCEPT, &[&["agent", "type"]]),
    def(
        "entity",
        Shape::Reference(PLAN_RESOURCES),
        &[&["entity", "what"]],
    ),
    def("patient", Shape::Reference(PATIENT), &[&["target"]]),
    def("recorded", Shape::Date, &[&["recorded"]]),
    def("target", Shape::Reference(PLAN_RESOURCES), &[&["target"]]),
];

/// The type's own parameters (without `_id` and `_lastUpdated`), or `None` for a type not served.
fn own(resource_type: &str) -> Option<&'static [ParamDef]> {
    Some(match resource_type {
        "CarePlan" => &CARE_PLAN,
        "Consent" => &CONSENT,
        "Goal" => &GOAL_PARAMS,
        "Patient" => &PATIENT_PARAMS,
        "RelatedPerson" => &RELATED_PERSON,
        "Practitioner" | "Organization" => &IDENTIFIER_ONLY,
        "Provenance" => &PROVENANCE,
        _ => return None,
    })
}

/// Every parameter of `resource_type`, `_id` and `_lastUpdated` first; empty for a type not served.
pub(crate) fn all(resource_type: &str) -> Vec<&'static ParamDef> {
    match own(resource_type) {
        Some(params) => COMMON.iter().chain(params.iter()).collect(),
        None => Vec::new(),
    }
}

/// Whether the type is one the search serves.
pub(crate) fn is_served(resource_type: &str) -> bool {
    own(resource_type).is_some()
}

/// The parameter `name` of `resource_type`.
pub(crate) fn find(resource_type: &str, name: &str) -> Option<&'static ParamDef> {
    all(resource_type).into_iter().find(|p| p.name == name)
}

/// The result parameters (R4 "search result parameters" and `_format`/`_pretty`).
pub(crate) const RESULT_PARAMETERS: [&str; 10] = [
    "_count",
    "_offset",
    "_sort",
    "_summary",
    "_elements",
    "_include",
    "_revinclude",
    "_format",
    "_pretty",
    "_total",
];

/// The top-level elements R4 marks `isSummary` for the type (besides `id`, `meta`,
/// `implicitRules`), with choice elements spelled as JSON names.
pub(crate) fn summary_elements(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "CarePlan" => &[
            "identifier",
            "instantiatesCanonical",
            "instantiatesUri",
            "basedOn",
            "replaces",
            "partOf",
            "status",
            "intent",
            "category",
            "title",
            "description",
            "subject",
            "encounter",
            "period",
            "created",
            "author",
            "addresses",
        ],
        "Consent" => &[
            "identifier",
            "status",
            "scope",
            "category",
            "patient",
            "dateTime",
            "performer",
            "organization",
            "sourceAttachment",
            "sourceReference",
            "policyRule",
            "verification",
            "provision",
        ],
        "Goal" => &[
            "lifecycleStatus",
            "achievementStatus",
            "category",
            "priority",
            "description",
            "subject",
            "startDate",
            "startCodeableConcept",
            "statusDate",
            "expressedBy",
        ],
        "Patient" => &[
            "identifier",
            "active",
            "name",
            "telecom",
            "gender",
            "birthDate",
            "deceasedBoolean",
            "deceasedDateTime",
            "address",
            "managingOrganization",
            "link",
        ],
        "RelatedPerson" => &[
            "identifier",
            "active",
            "patient",
            "relationship",
            "name",
            "telecom",
            "gender",
            "birthDate",
            "address",
        ],
        "Practitioner" => &[
            "identifier",
            "active",
            "name",
            "telecom",
            "address",
            "gender",
            "birthDate",
        ],
        "Organization" => &["identifier", "active", "type", "name", "partOf"],
        "Provenance" => &["target", "recorded", "agent"],
        _ => &[],
    }
}

/// The top-level elements R4 makes mandatory (`min > 0`) for the type.
pub(crate) fn mandatory_elements(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "CarePlan" => &["status", "intent", "subject"],
        "Consent" => &["status", "scope", "category"],
        "Goal" => &["lifecycleStatus", "description", "subject"],
        "RelatedPerson" => &["patient"],
        "Provenance" => &["target", "recorded", "agent"],
        _ => &[],
    }
}

/// The JSON names of the type's top-level choice elements (`source[x]` → `sourceAttachment`…),
/// so that `_elements=source` keeps whichever is present.
pub(crate) fn choice_names(resource_type: &str, element: &str) -> &'static [&'static str] {
    match (resource_type, element) {
        ("Consent", "source") => &["sourceAttachment", "sourceReference"],
        ("Goal", "start") => &["startDate", "startCodeableConcept"],
        ("Patient", "deceased") => &["deceasedBoolean", "deceasedDateTime"],
        ("Patient", "multipleBirth") => &["multipleBirthBoolean", "multipleBirthInteger"],
        _ => &[],
    }
}

/// Parses `Type:parameter[:Target]` for `_include` (`reverse` false) or `_revinclude`.
pub(crate) fn include(searched: &str, value: &str, reverse: bool) -> Result<Include, String> {
    if value.contains('*') {
        return Err("`*` is not supported; name the reference parameter".to_owned());
    }
    let parts: Vec<&str> = value.split(':').collect();
    let (source, parameter, target) = match parts.as_slice() {
        [source, parameter] => (*source, *parameter, None),
        [source, parameter, target] => (*source, *parameter, Some(*target)),
        _ => {
            return Err(format!(
                "`{value}` is not SourceType:parameter[:TargetType]"
            ))
        }
    };
    if !is_served(source) {
        return Err(format!("`{source}` is not a resource type served here"));
    }
    if !reverse && source == "Provenance" {
        // Its targets are version-specific; an include would give the current versions.
        return Err(
            "`_include` from Provenance is not supported: read each versioned target (vread)"
                .to_owned(),
        );
    }
    let targets = match find(source, parameter).map(|p| p.shape) {
        Some(Shape::Reference(targets)) => targets,
        _ => {
            return Err(format!(
                "`{parameter}` is not a reference search parameter of {source}"
            ))
        }
    };
    if let Some(target) = target {
        if !targets.contains(&target) {
            return Err(format!("{source}:{parameter} cannot refer to `{target}`"));
        }
    }
    if !reverse && source != searched {
        return Err(format!(
            "includes for a {searched} search start with `{searched}:`"
        ));
    }
    if reverse && !target.map_or(targets.contains(&searched), |t| t == searched) {
        return Err(format!("{source}:{parameter} does not refer to {searched}"));
    }
    Ok(Include {
        source_type: source.to_owned(),
        parameter: parameter.to_owned(),
        target_type: target.map(str::to_owned),
    })
}
