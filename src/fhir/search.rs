//! FHIR search, as the R4 specification defines each parameter this server supports: parsing a
//! query into a typed [`SearchQuery`] (unknown parameters are refused by name unless handling is
//! lenient) and evaluating it against a resource's JSON. Parameter tables are static and built
//! once. The HTTP layer chooses candidates, pages, includes and renders.
//!
//! Where this differs from R4 (search.html), on purpose:
//! - `ap` on dates widens the search range by one day either side (R4 suggests 10% of the gap
//!   to now), so results do not depend on the clock.
//! - Dates without a time zone, and search dateTimes without one, are read as UTC.
//! - On plain code elements (`status`, `intent`, `lifecycle-status`, `_id`) the system part of
//!   a token is not compared: the code system is implied by the element's binding.
//! - `:identifier` also resolves the reference (through [`Resolver`]) and matches the target's
//!   identifiers, as the chain `.identifier` does; the chain supports `identifier` only.
//! - A reference given as an absolute URL matches on its `Type/id` tail, whatever the base.
//! - `_summary` and `_elements` filter top-level elements only; `_elements` keeps exactly
//!   `resourceType`, `id`, `meta` and the listed elements (R4 says mandatory ones SHOULD stay).
//! - A parameter with an empty value is ignored (after its name is checked).

use std::cmp::Ordering;

use serde_json::Value;

use crate::error::Error;

#[path = "search_params.rs"]
pub(crate) mod params;
#[path = "search_values.rs"]
pub(crate) mod values;

use params::{ParamDef, Shape, TokenShape};
use values::{
    fold, nhs_checked, reference_value, split_raw, unescape, DateValue, RefValue, TokenValue,
};

/// How the result set is summarised (`_summary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SummaryMode {
    /// Whole resources.
    #[default]
    Full,
    /// `_summary=true`: the elements marked summary in the R4 definitions.
    True,
    /// `_summary=text`: text, id, meta and mandatory top-level elements.
    Text,
    /// `_summary=data`: everything but text.
    Data,
    /// `_summary=count`: only the total.
    Count,
}

/// A sort key (`_sort`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// `_lastUpdated` or `date`.
    pub parameter: String,
    /// `-` prefix.
    pub descending: bool,
}

/// An `_include` or `_revinclude`: `SourceType:parameter[:TargetType]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The resource type holding the reference.
    pub source_type: String,
    /// The reference search parameter.
    pub parameter: String,
    /// The target type, when given.
    pub target_type: Option<String>,
}

/// Who a query is about, when it says: lets the server look at one person's plans only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientHint {
    /// `patient=Patient/{id}` (or `subject`, or `_id` on Patient).
    PatientId(String),
    /// `patient:identifier=…nhs-number|N`, `patient.identifier=…`, `identifier=` on Patient.
    NhsNumber(String),
    /// A Provenance search by `target=Type/id` (or `entity=`, or its own `_id`): the plan that
    /// holds that resource. Every resource of a plan refers only inside its plan.
    Resource {
        /// The resource type.
        resource_type: String,
        /// Its logical id.
        id: String,
    },
}

/// One parsed criterion (opaque to the HTTP layer).
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    /// The parameter name as given (with modifier or chain), for messages.
    pub raw_name: String,
    pub(crate) inner: CriterionKind,
}

/// What a criterion tests (filled in by the parser). Values within one criterion are OR.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CriterionKind {
    /// `:missing=true|false`.
    Missing {
        param: &'static ParamDef,
        missing: bool,
    },
    /// A token; `negate` for `:not` (none of the values match).
    Token {
        param: &'static ParamDef,
        values: Vec<TokenValue>,
        negate: bool,
    },
    /// `:text` on a CodeableConcept: folded substrings of its text or a coding's display.
    Text {
        param: &'static ParamDef,
        values: Vec<String>,
    },
    /// A string (values folded unless `Exact`).
    Str {
        param: &'static ParamDef,
        values: Vec<String>,
        mode: StringMode,
    },
    /// A date with its prefix.
    Date {
        param: &'static ParamDef,
        values: Vec<DateValue>,
    },
    /// A reference by type and id.
    Reference {
        param: &'static ParamDef,
        values: Vec<RefValue>,
    },
    /// `:identifier` or the chain `.identifier`: the reference's own identifier, or the
    /// identifiers of the resource it points at (optionally of one type).
    Identifier {
        param: &'static ParamDef,
        target_type: Option<String>,
        values: Vec<TokenValue>,
    },
}

/// How a string parameter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StringMode {
    /// Case- and accent-insensitive "starts with".
    StartsWith,
    /// `:exact`.
    Exact,
    /// `:contains`: case- and accent-insensitive substring.
    Contains,
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// The type searched.
    pub resource_type: String,
    /// Every criterion must match (AND); values within one are OR.
    pub criteria: Vec<Criterion>,
    /// Page size (`_count`, default 50, at most 500; 0 allowed with `_summary=count` semantics).
    pub count: usize,
    /// Offset of the page (`_offset`, used by our own paging links).
    pub offset: usize,
    /// Sort keys; default `_lastUpdated` descending then id.
    pub sort: Vec<SortKey>,
    /// `_summary`.
    pub summary: SummaryMode,
    /// `_elements` (top-level element names).
    pub elements: Option<Vec<String>>,
    /// `_include`s.
    pub include: Vec<Include>,
    /// `_revinclude`s.
    pub revinclude: Vec<Include>,
    /// Parameters ignored under `Prefer: handling=lenient`, for the OperationOutcome entry.
    pub ignored: Vec<String>,
    /// The parameters to repeat in paging links (everything but `_offset`), in order.
    pub link_parameters: Vec<(String, String)>,
}

/// Resolves a reference found in a resource (e.g. `Patient/123`) to the referenced resource's
/// JSON, for chains and `:identifier`; the candidates are the searched plan's own resources.
pub trait Resolver {
    /// The resource `reference` points at, if known.
    fn resolve(&self, reference: &str) -> Option<&Value>;
}

/// The search parameters served for `resource_type` (for the CapabilityStatement).
pub fn parameters(resource_type: &str) -> Vec<(&'static str, &'static str)> {
    params::all(resource_type)
        .into_iter()
        .map(|p| (p.name, p.shape.type_name()))
        .collect()
}

/// Why one parameter was refused.
enum Refusal {
    /// Unknown parameter or unsupported modifier or chain: ignored under lenient handling.
    Unsupported(String),
    /// A bad value: always a 400.
    Invalid(String),
}

/// Whether a parameter name (whatever its modifier or chain) is about whose data is asked for.
fn names_a_person(name: &str) -> bool {
    let base = name
        .split([':', '.'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(
        base.as_str(),
        "patient" | "subject" | "identifier" | "_id" | "actor" | "beneficiary" | "performer"
    ) || base.starts_with("patient")
        || base.starts_with("subject")
}

/// Parses a query for `resource_type`.
pub fn parse(
    resource_type: &str,
    params: &[(String, String)],
    lenient: bool,
) -> Result<SearchQuery, Error> {
    if !params::is_served(resource_type) {
        return Err(Error::bad_field(
            "",
            format!("search is not supported for `{resource_type}`"),
        ));
    }
    let mut query = SearchQuery {
        resource_type: resource_type.to_owned(),
        criteria: Vec::new(),
        count: DEFAULT_COUNT,
        offset: 0,
        sort: Vec::new(),
        summary: SummaryMode::Full,
        elements: None,
        include: Vec::new(),
        revinclude: Vec::new(),
        ignored: Vec::new(),
        link_parameters: Vec::new(),
    };
    for (name, value) in params {
        if name != "_offset" {
            query.link_parameters.push((name.clone(), value.clone()));
        }
        match query.take(name, value) {
            Ok(()) => {}
            // Never drop a criterion that narrows by person: ignoring a mistyped
            // `patient:idenitfier` would widen the search to everyone (H3).
            Err(Refusal::Unsupported(_)) if lenient && !names_a_person(name) => {
                query.ignored.push(name.clone())
            }
            Err(Refusal::Unsupported(message) | Refusal::Invalid(message)) => {
                return Err(Error::bad_field(name.clone(), message));
            }
        }
    }
    if query.sort.is_empty() {
        query.sort.push(SortKey {
            parameter: "_lastUpdated".to_owned(),
            descending: true,
        });
    }
    Ok(query)
}

/// `_count` when not given.
const DEFAULT_COUNT: usize = 50;
/// The largest `_count`.
const MAX_COUNT: usize = 500;
/// The tag R4 puts on a resource that a search reduced.
const SUBSETTED_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

impl SearchQuery {
    /// Takes one `name=value` pair.
    fn take(&mut self, name: &str, value: &str) -> Result<(), Refusal> {
        let rt = self.resource_type.clone();
        if params::RESULT_PARAMETERS.contains(&name) {
            return self.result_parameter(name, value.trim());
        }
        let (base, chain) = match name.split_once('.') {
            Some((base, chain)) => (base, Some(chain)),
            None => (name, None),
        };
        let (bare, modifier) = match base.split_once(':') {
            Some((bare, modifier)) => (bare, Some(modifier)),
            None => (base, None),
        };
        if params::RESULT_PARAMETERS.contains(&bare) {
            return Err(Refusal::Unsupported(format!(
                "`{name}`: {bare} takes no modifier or chain here"
            )));
        }
        let Some(param) = params::find(&rt, bare) else {
            return Err(Refusal::Unsupported(format!(
                "unknown search parameter `{bare}` for {rt}"
            )));
        };
        if let Some(inner) = criterion(&rt, name, param, modifier, chain, value)? {
            self.criteria.push(Criterion {
                raw_name: name.to_owned(),
                inner,
            });
        }
        Ok(())
    }

    fn result_parameter(&mut self, name: &str, value: &str) -> Result<(), Refusal> {
        let invalid = |what: &str| Err(Refusal::Invalid(format!("`{name}`: {what}")));
        if value.is_empty() {
            return Ok(());
        }
        match name {
            "_count" => match value.parse::<usize>() {
                Ok(count) if count <= MAX_COUNT => self.count = count,
                _ => return invalid(&format!("expected a whole number from 0 to {MAX_COUNT}")),
            },
            "_offset" => match value.parse::<usize>() {
                Ok(offset) => self.offset = offset,
                Err(_) => return invalid("expected a whole number, 0 or more"),
            },
            "_sort" => {
                // `_lastUpdated`, or a date parameter of the type (`date`, `recorded`, …).
                let dates: Vec<&str> = params::all(&self.resource_type)
                    .into_iter()
                    .filter(|p| p.shape == Shape::Date && p.name != "_lastUpdated")
                    .map(|p| p.name)
                    .collect();
                let mut sort = Vec::new();
                for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                    let (descending, key) = match item.strip_prefix('-') {
                        Some(key) => (true, key),
                        None => (false, item),
                    };
                    if !(key == "_lastUpdated" || dates.contains(&key)) {
                        return invalid(&format!(
                            "unknown sort key `{key}` for {}; sort by _lastUpdated{}",
                            self.resource_type,
                            dates.iter().map(|d| format!(" or {d}")).collect::<String>()
                        ));
                    }
                    sort.push(SortKey {
                        parameter: key.to_owned(),
                        descending,
                    });
                }
                self.sort = sort;
            }
            "_summary" => {
                self.summary = match value {
                    "true" => SummaryMode::True,
                    "text" => SummaryMode::Text,
                    "data" => SummaryMode::Data,
                    "count" => SummaryMode::Count,
                    "false" => SummaryMode::Full,
                    _ => return invalid("expected true, text, data, count or false"),
                }
            }
            "_elements" => {
                let names: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = names
                    .iter()
                    .find(|n| !n.chars().all(|c| c.is_ascii_alphanumeric()))
                {
                    return invalid(&format!("`{bad}` is not a top-level element name"));
                }
                self.elements = Some(names);
            }
            "_include" | "_revinclude" => {
                let reverse = name == "_revinclude";
                let include = params::include(&self.resource_type, value, reverse)
                    .map_err(|m| Refusal::Invalid(format!("`{name}`: {m}")))?;
                if reverse {
                    self.revinclude.push(include);
                } else {
                    self.include.push(include);
                }
            }
            // `_format`, `_pretty` (the HTTP layer reads them) and `_total`.
            _ => {}
        }
        Ok(())
    }
}

/// The comma-separated values of a parameter, escapes kept, empty ones dropped.
fn items(value: &str) -> Vec<String> {
    split_raw(value, ',')
        .into_iter()
        .filter(|v| !v.trim().is_empty())
        .collect()
}

/// Builds the criterion for `raw` (`param` with `modifier` and `chain`); `None` when the value
/// is empty.
fn criterion(
    resource_type: &str,
    raw: &str,
    param: &'static ParamDef,
    modifier: Option<&str>,
    chain: Option<&str>,
    value: &str,
) -> Result<Option<CriterionKind>, Refusal> {
    let unsupported = || {
        Err(Refusal::Unsupported(format!(
            "`{raw}`: this modifier or chain is not supported on search parameter `{}` for \
             {resource_type}",
            param.name
        )))
    };
    let invalid = |what: String| Refusal::Invalid(format!("`{raw}`: {what}"));
    let values = items(value);
    if modifier == Some("missing") {
        if chain.is_some() {
            return unsupported();
        }
        return match value.trim() {
            "" => Ok(None),
            "true" | "false" => Ok(Some(CriterionKind::Missing {
                param,
                missing: value.trim() == "true",
            })),
            _ => Err(invalid("expected true or false".to_owned())),
        };
    }
    let patient_identifier = resource_type == "Patient" && param.name == "identifier";
    let tokens = |check_nhs: bool| -> Result<Vec<TokenValue>, Refusal> {
        values
            .iter()
            .map(|v| {
                let token = TokenValue::parse(v)
                    .ok_or_else(|| invalid(format!("`{v}` is not [system]|[code]")))?;
                if check_nhs {
                    nhs_checked(token).map_err(invalid)
                } else {
                    Ok(token)
                }
            })
            .collect()
    };
    let kind = match (param.shape, chain) {
        (Shape::Token(shape), None) => match modifier {
            None | Some("not") => CriterionKind::Token {
                param,
                values: tokens(patient_identifier)?,
                negate: modifier.is_some(),
            },
            Some("text") if shape == TokenShape::CodeableConcept => CriterionKind::Text {
                param,
                values: values.iter().map(|v| fold(&unescape(v))).collect(),
            },
            _ => return unsupported(),
        },
        (Shape::String, None) => {
            let mode = match modifier {
                None => StringMode::StartsWith,
                Some("exact") => StringMode::Exact,
                Some("contains") => StringMode::Contains,
                _ => return unsupported(),
            };
            let values = values
                .iter()
                .map(|v| match mode {
                    StringMode::Exact => unescape(v),
                    _ => fold(&unescape(v)),
                })
                .collect();
            CriterionKind::Str {
                param,
                values,
                mode,
            }
        }
        (Shape::Date, None) if modifier.is_none() => {
            let values = values
                .iter()
                .map(|v| {
                    DateValue::parse(v.trim()).ok_or_else(|| {
                        invalid(format!(
                            "`{v}` is not a date: give [prefix]YYYY, YYYY-MM, YYYY-MM-DD or \
                             YYYY-MM-DDThh:mm:ss[Z|+hh:mm], prefix one of eq ne gt lt ge le sa \
                             eb ap"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            CriterionKind::Date { param, values }
        }
        (Shape::Reference(targets), _) => {
            let type_modifier = modifier.filter(|m| m.starts_with(|c: char| c.is_uppercase()));
            if let Some(t) = type_modifier {
                if !targets.contains(&t) {
                    return unsupported();
                }
            }
            let about_patient =
                targets.contains(&"Patient") && type_modifier.is_none_or(|t| t == "Patient");
            let by_identifier = match (modifier, chain) {
                (Some("identifier"), None) => true,
                (m, Some("identifier")) if m == type_modifier => true,
                (m, None) if m == type_modifier => false,
                _ => return unsupported(),
            };
            if by_identifier {
                CriterionKind::Identifier {
                    param,
                    target_type: type_modifier.map(str::to_owned),
                    values: tokens(about_patient)?,
                }
            } else {
                let implied = type_modifier.or(match targets {
                    [only] => Some(*only),
                    _ => None,
                });
                let values = values
                    .iter()
                    .map(|v| reference_value(&unescape(v), implied, targets))
                    .collect::<Result<_, _>>()
                    .map_err(invalid)?;
                CriterionKind::Reference { param, values }
            }
        }
        _ => return unsupported(),
    };
    // A parameter with an empty value is ignored, once its name and modifier are known good.
    Ok((!values.is_empty()).then_some(kind))
}

impl SearchQuery {
    /// Whether `resource` (JSON) meets every criterion.
    pub fn matches(&self, resource: &Value, resolver: &dyn Resolver) -> bool {
        resource.get("resourceType").and_then(Value::as_str) == Some(self.resource_type.as_str())
            && self
                .criteria
                .iter()
                .all(|c| eval::criterion_matches(&c.inner, resource, resolver))
    }

    /// The patient the query is limited to, if it says.
    pub fn patient_hint(&self) -> Option<PatientHint> {
        self.criteria
            .iter()
            .find_map(|c| eval::patient_hint(&self.resource_type, &c.inner))
    }

    /// Orders two matches by the sort keys (then by id, for stable paging).
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        for key in &self.sort {
            let ordering = eval::compare_by(&self.resource_type, key, a, b);
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        let id = |r: &Value| r.get("id").and_then(Value::as_str).map(str::to_owned);
        id(a).cmp(&id(b))
    }

    /// The references of `resource` that search parameter `parameter` of its type reads (for
    /// `_include` and `_revinclude`).
    pub fn references(resource_type: &str, parameter: &str, resource: &Value) -> Vec<String> {
        let Some(param) = params::find(resource_type, parameter) else {
            return Vec::new();
        };
        let mut found: Vec<String> = Vec::new();
        for leaf in eval::reference_leaves(param, resource) {
            if let Some(reference) = leaf.get("reference").and_then(Value::as_str) {
                if !reference.starts_with('#') && !found.iter().any(|f| f == reference) {
                    found.push(reference.to_owned());
                }
            }
        }
        found
    }

    /// The resource reduced as `_summary` / `_elements` ask (tagged SUBSETTED when reduced).
    pub fn shape(&self, resource: Value) -> Value {
        let Value::Object(mut map) = resource else {
            return resource;
        };
        let resource_type = map
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or(&self.resource_type)
            .to_owned();
        let keep = match eval::kept_elements(self, &resource_type) {
            Some(keep) => keep,
            None => return Value::Object(map),
        };
        let before = map.len();
        map.retain(|key, _| keep(key.strip_prefix('_').unwrap_or(key)));
        if map.len() < before {
            eval::tag_subsetted(&mut map);
        }
        Value::Object(map)
    }
}

#[path = "search_eval.rs"]
mod eval;

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
