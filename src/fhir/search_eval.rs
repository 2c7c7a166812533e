//! Evaluating parsed criteria against a resource's JSON, sort values, the patient hint and the
//! element filter of `_summary` / `_elements`.

use std::cmp::Ordering;

use serde_json::{json, Map, Value};

use super::params::{self, ParamDef, Shape, TokenShape};
use super::values::{fold, value_range, RefValue, SystemMatch, TokenValue};
use super::{
    CriterionKind, PatientHint, Resolver, SearchQuery, SortKey, StringMode, SummaryMode,
    SUBSETTED_SYSTEM,
};
use crate::fhir::codes;

/// Every non-null value at `path` below `value`, walking through arrays at every step.
fn collect<'a>(value: &'a Value, path: &[&str], out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect(item, path, out)),
        Value::Null => {}
        _ => match path.split_first() {
            None => out.push(value),
            Some((head, rest)) => {
                if let Some(child) = value.get(*head) {
                    collect(child, rest, out);
                }
            }
        },
    }
}

/// The values `param` reads in `resource`.
pub(crate) fn leaves<'a>(param: &ParamDef, resource: &'a Value) -> Vec<&'a Value> {
    if let Shape::Reference(_) = param.shape {
        return reference_leaves(param, resource);
    }
    let mut out = Vec::new();
    for path in param.paths {
        collect(resource, path, &mut out);
    }
    out
}

/// The Reference objects `param` reads, without those pointing at a type it does not cover
/// (`CarePlan.subject` read as `patient` skips a Group).
pub(crate) fn reference_leaves<'a>(param: &ParamDef, resource: &'a Value) -> Vec<&'a Value> {
    let Shape::Reference(targets) = param.shape else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for path in param.paths {
        collect(resource, path, &mut out);
    }
    out.retain(|leaf| {
        let parsed = leaf
            .get("reference")
            .and_then(Value::as_str)
            .and_then(RefValue::parse);
        match parsed.as_ref().and_then(|r| r.resource_type.as_deref()) {
            Some(found) => targets.contains(&found),
            None => parsed.is_some() || leaf.get("identifier").is_some(),
        }
    });
    out
}

fn token_matches(shape: TokenShape, value: &TokenValue, leaf: &Value) -> bool {
    match shape {
        TokenShape::Code => value.matches_code(leaf),
        TokenShape::CodeableConcept => value.matches_concept(leaf),
        TokenShape::Identifier => value.matches_pair(leaf, "value"),
    }
}

fn concept_text_matches(concept: &Value, wanted: &[String]) -> bool {
    let mut texts: Vec<&str> = concept
        .get("text")
        .and_then(Value::as_str)
        .into_iter()
        .collect();
    if let Some(Value::Array(codings)) = concept.get("coding") {
        texts.extend(
            codings
                .iter()
                .filter_map(|c| c.get("display").and_then(Value::as_str)),
        );
    }
    texts.iter().any(|text| {
        let text = fold(text);
        wanted.iter().any(|w| text.contains(w.as_str()))
    })
}

fn string_matches(mode: StringMode, wanted: &str, found: &str) -> bool {
    match mode {
        StringMode::Exact => wanted == found,
        StringMode::StartsWith => fold(found).starts_with(wanted),
        StringMode::Contains => fold(found).contains(wanted),
    }
}

/// Whether a Reference (its own `identifier`, or the resource it resolves to) carries one of
/// the identifiers.
fn identifier_matches(
    leaf: &Value,
    target_type: Option<&str>,
    wanted: &[TokenValue],
    resolver: &dyn Resolver,
) -> bool {
    let reference = leaf.get("reference").and_then(Value::as_str);
    let declared = leaf.get("type").and_then(Value::as_str);
    let parsed_type = reference
        .and_then(RefValue::parse)
        .and_then(|r| r.resource_type);
    if let Some(wanted_type) = target_type {
        if let Some(found) = parsed_type.as_deref().or(declared) {
            if found != wanted_type {
                return false;
            }
        }
    }
    if let Some(own) = leaf.get("identifier") {
        if wanted.iter().any(|w| w.matches_pair(own, "value")) {
            return true;
        }
    }
    let Some(target) = reference.and_then(|r| resolver.resolve(r)) else {
        return false;
    };
    if let Some(wanted_type) = target_type {
        if target.get("resourceType").and_then(Value::as_str) != Some(wanted_type) {
            return false;
        }
    }
    let mut identifiers = Vec::new();
    collect(target, &["identifier"], &mut identifiers);
    identifiers
        .iter()
        .any(|id| wanted.iter().any(|w| w.matches_pair(id, "value")))
}

/// Whether `resource` meets one criterion.
pub(crate) fn criterion_matches(
    kind: &CriterionKind,
    resource: &Value,
    resolver: &dyn Resolver,
) -> bool {
    match kind {
        CriterionKind::Missing { param, missing } => leaves(param, resource).is_empty() == *missing,
        CriterionKind::Token {
            param,
            values,
            negate,
        } => {
            let Shape::Token(shape) = param.shape else {
                return false;
            };
            let found = leaves(param, resource)
                .iter()
                .any(|leaf| values.iter().any(|v| token_matches(shape, v, leaf)));
            found != *negate
        }
        CriterionKind::Text { param, values } => leaves(param, resource)
            .iter()
            .any(|leaf| concept_text_matches(leaf, values)),
        CriterionKind::Str {
            param,
            values,
            mode,
        } => leaves(param, resource).iter().any(|leaf| {
            leaf.as_str()
                .is_some_and(|found| values.iter().any(|v| string_matches(*mode, v, found)))
        }),
        CriterionKind::Date { param, values } => leaves(param, resource).iter().any(|leaf| {
            value_range(leaf).is_some_and(|range| values.iter().any(|v| v.matches(range)))
        }),
        CriterionKind::Reference { param, values } => {
            reference_leaves(param, resource).iter().any(|leaf| {
                let found = leaf
                    .get("reference")
                    .and_then(Value::as_str)
                    .and_then(RefValue::parse);
                found.is_some_and(|found| values.iter().any(|v| v.matches(&found)))
            })
        }
        CriterionKind::Identifier {
            param,
            target_type,
            values,
        } => reference_leaves(param, resource)
            .iter()
            .any(|leaf| identifier_matches(leaf, target_type.as_deref(), values, resolver)),
    }
}

/// The one NHS number a list of identifier tokens names, if it names exactly one (the values
/// were checked and normalised by the parser).
fn single_nhs_number(values: &[TokenValue]) -> Option<String> {
    let [TokenValue {
        system,
        code: Some(code),
    }] = values
    else {
        return None;
    };
    let nhs_system = match system {
        SystemMatch::Any => true,
        SystemMatch::Is(system) => system == codes::NHS_NUMBER,
        SystemMatch::Absent => false,
    };
    (nhs_system && code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit()))
        .then(|| code.clone())
}

/// The patient one criterion limits the search to, if it names exactly one.
pub(crate) fn patient_hint(resource_type: &str, kind: &CriterionKind) -> Option<PatientHint> {
    if resource_type == "Provenance" {
        if let Some(hint) = provenance_hint(kind) {
            return Some(hint);
        }
    }
    match kind {
        CriterionKind::Reference { param, values } => {
            let Shape::Reference(targets) = param.shape else {
                return None;
            };
            match values.as_slice() {
                [value] if targets.contains(&"Patient") => (value.resource_type.as_deref()
                    == Some("Patient"))
                .then(|| PatientHint::PatientId(value.id.clone())),
                _ => None,
            }
        }
        CriterionKind::Identifier {
            param,
            target_type,
            values,
        } => {
            let Shape::Reference(targets) = param.shape else {
                return None;
            };
            let about_patient = targets.contains(&"Patient")
                && target_type.as_deref().is_none_or(|t| t == "Patient");
            if about_patient {
                single_nhs_number(values).map(PatientHint::NhsNumber)
            } else {
                None
            }
        }
        CriterionKind::Token {
            param,
            values,
            negate: false,
        } if resource_type == "Patient" => match (param.name, values.as_slice()) {
            ("identifier", _) => single_nhs_number(values).map(PatientHint::NhsNumber),
            ("_id", [TokenValue { code: Some(id), .. }]) => {
                Some(PatientHint::PatientId(id.clone()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The value a resource sorts by under `key`: the start of its range (a Period's start), the
/// earliest when there are several, in either direction, so that `-date` puts the plans begun
/// most recently first (ranking by the end would tie every open-ended plan).
fn sort_value(resource_type: &str, key: &SortKey, resource: &Value) -> Option<i64> {
    let param = params::find(resource_type, &key.parameter)?;
    leaves(param, resource)
        .into_iter()
        .filter_map(value_range)
        .map(|r| r.start)
        .min()
}

/// Orders two resources by one key; a resource without the value sorts last either way.
pub(crate) fn compare_by(resource_type: &str, key: &SortKey, a: &Value, b: &Value) -> Ordering {
    match (
        sort_value(resource_type, key, a),
        sort_value(resource_type, key, b),
    ) {
        (Some(x), Some(y)) if key.descending => y.cmp(&x),
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Whether a top-level element (by name) stays.
pub(crate) type Keep = Box<dyn Fn(&str) -> bool>;

/// Which top-level elements (by name, `_` of primitive extensions removed) the query keeps;
/// `None` when it keeps the whole resource.
pub(crate) fn kept_elements(query: &SearchQuery, resource_type: &str) -> Option<Keep> {
    const BASE: [&str; 3] = ["resourceType", "id", "meta"];
    if let (Some(elements), false) = (&query.elements, query.summary == SummaryMode::Count) {
        let mut keep: Vec<String> = BASE.iter().map(|s| (*s).to_owned()).collect();
        for element in elements {
            keep.push(element.clone());
            let choices = params::choice_names(resource_type, element);
            keep.extend(choices.iter().map(|s| (*s).to_owned()));
        }
        return Some(Box::new(move |name: &str| keep.iter().any(|k| k == name)));
    }
    let listed = |extra: &'static [&'static str], also: &'static [&'static str]| {
        let keep: Vec<&'static str> = BASE
            .iter()
            .chain(extra.iter())
            .chain(also.iter())
            .copied()
            .collect();
        Some(Box::new(move |name: &str| keep.contains(&name)) as Keep)
    };
    match query.summary {
        SummaryMode::Full | SummaryMode::Count => None,
        SummaryMode::True => listed(params::summary_elements(resource_type), &["implicitRules"]),
        SummaryMode::Text => listed(params::mandatory_elements(resource_type), &["text"]),
        SummaryMode::Data => Some(Box::new(|name: &str| name != "text")),
    }
}

/// Adds the SUBSETTED tag to `meta.tag` (once).
pub(crate) fn tag_subsetted(resource: &mut Map<String, Value>) {
    let meta = resource
        .entry("meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    let Value::Object(meta) = meta else {
        return;
    };
    let tags = meta
        .entry("tag")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !tags.is_array() {
        *tags = Value::Array(Vec::new());
    }
    let Value::Array(tags) = tags else {
        return;
    };
    let present = tags.iter().any(|t| {
        t.get("system").and_then(Value::as_str) == Some(SUBSETTED_SYSTEM)
            && t.get("code").and_then(Value::as_str) == Some("SUBSETTED")
    });
    if !present {
        tags.push(json!({"system": SUBSETTED_SYSTEM, "code": "SUBSETTED"}));
    }
}

/// A Provenance search is narrowed by the one resource it names: its `target` (or `entity`,
/// `patient`) or its own `_id`.
fn provenance_hint(kind: &CriterionKind) -> Option<PatientHint> {
    match kind {
        CriterionKind::Reference { values, .. } => match values.as_slice() {
            [RefValue {
                resource_type: Some(resource_type),
                id,
                ..
            }] => Some(PatientHint::Resource {
                resource_type: resource_type.clone(),
                id: id.clone(),
            }),
            _ => None,
        },
        CriterionKind::Token {
            param,
            values,
            negate: false,
        } if param.name == "_id" => match values.as_slice() {
            [TokenValue { code: Some(id), .. }] => Some(PatientHint::Resource {
                resource_type: "Provenance".to_owned(),
                id: id.clone(),
            }),
            _ => None,
        },
        _ => None,
    }
}
