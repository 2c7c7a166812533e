//! Shared readers of the inverse mapping: where issues are collected (with the resource they are
//! in and the FHIRPath of the element), and one reader per FHIR data type the projection writes
//! (primitives, Coding, CodeableConcept, Reference, Extension, ContactPoint, Address, HumanName,
//! Identifier). Every reader destructures its type without `..`, so a field the projection never
//! writes cannot be overlooked: it is refused as `not-supported` with its path.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use fhirbolt::model::r4::types::{
    Boolean, Canonical, Code, CodeableConcept, Coding, Date, DateTime as FhirDateTime, Extension,
    Id, Instant, Integer, Markdown, Meta, Narrative, PositiveInt, Reference, String as FhirString,
    Uri,
};

use super::{FhirIssue, Severity};
use crate::domain::{CodedText, SnomedCode};

#[path = "read_datatypes.rs"]
mod datatypes;
#[path = "read_extension.rs"]
mod extension;

pub(super) use datatypes::{address, human_name, identifier, name_text, phone, phones};
pub(super) use extension::{all, extensions, single, ExtRead};

/// Collects the issues of one resource.
pub(super) struct Cx<'a> {
    issues: &'a mut Vec<FhirIssue>,
    resource_type: &'static str,
    resource_id: Option<String>,
}

impl<'a> Cx<'a> {
    /// Issues about the resource of `resource_type` with `id`.
    pub(super) fn new(
        issues: &'a mut Vec<FhirIssue>,
        resource_type: &'static str,
        id: Option<&str>,
    ) -> Self {
        Self {
            issues,
            resource_type,
            resource_id: id.map(str::to_owned),
        }
    }

    /// The resource type, which is also the root of every expression.
    pub(super) fn root(&self) -> &'static str {
        self.resource_type
    }

    /// Records an error.
    pub(super) fn error(
        &mut self,
        code: &'static str,
        expression: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, code, expression.into(), message.into());
    }

    /// Records a warning: accepted, but the sender should know.
    pub(super) fn warning(
        &mut self,
        code: &'static str,
        expression: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, code, expression.into(), message.into());
    }

    fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        expression: String,
        message: String,
    ) {
        self.issues.push(FhirIssue {
            severity,
            code,
            resource_type: self.resource_type,
            resource_id: self.resource_id.clone(),
            expression,
            message,
        });
    }

    /// An element the plan has no place for: it would be lost, so it is refused.
    pub(super) fn not_supported(&mut self, expression: impl Into<String>) {
        self.error(
            "not-supported",
            expression,
            "the care plan has no place for this element; it would be lost, so it is refused",
        );
    }

    /// A required element is missing.
    pub(super) fn required(&mut self, expression: impl Into<String>, message: impl Into<String>) {
        self.error("required", expression, message);
    }
}

/// `base.name`.
pub(super) fn at(base: &str, name: &str) -> String {
    format!("{base}.{name}")
}

/// `base.name[index]`.
pub(super) fn at_index(base: &str, name: &str, index: usize) -> String {
    format!("{base}.{name}[{index}]")
}

/// Refuses an optional element the projection never writes.
pub(super) fn absent<T>(cx: &mut Cx<'_>, path: String, value: &Option<T>) {
    if value.is_some() {
        cx.not_supported(path);
    }
}

/// Refuses every item of a repeating element the projection never writes.
pub(super) fn absent_list<T>(cx: &mut Cx<'_>, base: &str, name: &str, values: &[T]) {
    for index in 0..values.len() {
        cx.not_supported(at_index(base, name, index));
    }
}

/// Refuses an element id (`Element.id`): the plan keeps no element ids.
pub(super) fn no_element_id(cx: &mut Cx<'_>, path: &str, id: &Option<String>) {
    absent(cx, at(path, "id"), id);
}

/// Refuses extensions where the projection writes none.
pub(super) fn no_extensions(cx: &mut Cx<'_>, path: &str, extensions: &[Extension]) {
    absent_list(cx, path, "extension", extensions);
}

/// Refuses modifier extensions: a modifier the plan cannot keep changes the meaning of what is
/// kept.
pub(super) fn no_modifiers(cx: &mut Cx<'_>, path: &str, modifiers: &[Extension]) {
    for index in 0..modifiers.len() {
        cx.error(
            "not-supported",
            at_index(path, "modifierExtension", index),
            "modifier extensions are not supported: the plan cannot keep what they change",
        );
    }
}

/// `meta` and the narrative are managed by the server: accepted and ignored.
pub(super) fn server_managed(_meta: &Option<Box<Meta>>, _text: &Option<Box<Narrative>>) {}

/// The resource-level elements no projected resource carries: `implicitRules`, `language`,
/// `contained` (CarePlan reads its own), `identifier` (Patient, Organization and Practitioner
/// read theirs).
pub(super) fn no_resource_extras(
    cx: &mut Cx<'_>,
    implicit_rules: &Option<Uri>,
    language: &Option<Code>,
) {
    let root = cx.root();
    absent(cx, at(root, "implicitRules"), implicit_rules);
    absent(cx, at(root, "language"), language);
}

/// The logical id of a resource, as sent.
pub(super) fn logical_id(id: &Option<Id>) -> Option<&str> {
    id.as_ref().and_then(|i| i.value.as_deref())
}

/// A FHIR primitive: element id, extensions, value.
pub(super) trait Primitive {
    /// The Rust type of the value.
    type Value;
    /// The parts, destructured.
    fn parts(&self) -> (&Option<String>, &[Extension], Option<&Self::Value>);
}

macro_rules! primitive {
    ($($ty:ident => $value:ty),* $(,)?) => {
        $(impl Primitive for $ty {
            type Value = $value;
            fn parts(&self) -> (&Option<String>, &[Extension], Option<&$value>) {
                let $ty { id, extension, value } = self;
                (id, extension, value.as_ref())
            }
        })*
    };
}

primitive!(
    FhirString => String,
    Code => String,
    Uri => String,
    Canonical => String,
    Date => String,
    FhirDateTime => String,
    Instant => String,
    Markdown => String,
    Id => String,
    Boolean => bool,
    Integer => i32,
    PositiveInt => u32,
);

/// The value of a primitive; its element id and extensions are refused.
pub(super) fn prim<'p, P: Primitive>(
    cx: &mut Cx<'_>,
    path: &str,
    primitive: &'p P,
) -> Option<&'p P::Value> {
    let (id, extension, value) = primitive.parts();
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    if value.is_none() {
        cx.required(path, "the element has no value");
    }
    value
}

/// The text of an optional string-like primitive.
pub(super) fn text<P: Primitive<Value = String>>(
    cx: &mut Cx<'_>,
    path: &str,
    primitive: Option<&P>,
) -> Option<String> {
    primitive.and_then(|p| prim(cx, path, p)).cloned()
}

/// A full date `YYYY-MM-DD` (partial dates and date-times would lose or invent precision, H6).
pub(super) fn parse_date(cx: &mut Cx<'_>, path: &str, value: &str) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(date) if value.len() == 10 => Some(date),
        _ => {
            cx.error(
                "value",
                path,
                format!("`{value}` is not a full date YYYY-MM-DD (the plan keeps a date here, nothing more or less precise)"),
            );
            None
        }
    }
}

/// A date-time with its offset, kept as written.
pub(super) fn parse_date_time(
    cx: &mut Cx<'_>,
    path: &str,
    value: &str,
) -> Option<DateTime<FixedOffset>> {
    match DateTime::parse_from_rfc3339(value) {
        Ok(at) => Some(at),
        Err(_) => {
            cx.error(
                "value",
                path,
                format!("`{value}` is not a date-time with seconds and a time zone"),
            );
            None
        }
    }
}

/// An instant in UTC.
pub(super) fn parse_instant(cx: &mut Cx<'_>, path: &str, value: &str) -> Option<DateTime<Utc>> {
    parse_date_time(cx, path, value).map(|at| at.with_timezone(&Utc))
}

/// A date element.
pub(super) fn date<P: Primitive<Value = String>>(
    cx: &mut Cx<'_>,
    path: &str,
    primitive: &P,
) -> Option<NaiveDate> {
    let value = prim(cx, path, primitive)?.clone();
    parse_date(cx, path, &value)
}

// ---------------------------------------------------------------------------------------------
// Codes

/// One Coding as read.
#[derive(Debug, Clone, Copy)]
pub(super) struct CodingRead<'a> {
    pub system: Option<&'a str>,
    pub code: Option<&'a str>,
}

/// Reads a Coding: system, code and display (the display is the projection's words, not kept).
pub(super) fn coding<'a>(cx: &mut Cx<'_>, path: &str, value: &'a Coding) -> CodingRead<'a> {
    let Coding {
        id,
        extension,
        system,
        version,
        code,
        display,
        user_selected,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    absent(cx, at(path, "version"), version);
    absent(cx, at(path, "userSelected"), user_selected);
    let _display = text(cx, &at(path, "display"), display.as_ref());
    CodingRead {
        system: system
            .as_ref()
            .and_then(|s| prim(cx, &at(path, "system"), s))
            .map(String::as_str),
        code: code
            .as_ref()
            .and_then(|c| prim(cx, &at(path, "code"), c))
            .map(String::as_str),
    }
}

/// One CodeableConcept as read: each coding with its path, and the text.
#[derive(Debug, Clone)]
pub(super) struct ConceptRead<'a> {
    pub path: String,
    pub codings: Vec<(String, CodingRead<'a>)>,
    pub text: Option<String>,
}

impl ConceptRead<'_> {
    /// Whether the concept has `system|code`.
    pub(super) fn has(&self, system: &str, code: &str) -> bool {
        self.codings
            .iter()
            .any(|(_, c)| c.system == Some(system) && c.code == Some(code))
    }

    /// The codings of `system`, with their paths.
    pub(super) fn of_system(&self, system: &str) -> Vec<(&str, Option<&str>)> {
        self.codings
            .iter()
            .filter(|(_, c)| c.system == Some(system))
            .map(|(path, c)| (path.as_str(), c.code))
            .collect()
    }

    /// Picks the one value named by a coding of `system`, from `table` (code, value). A coding of
    /// that system with another code is `code-invalid`; `None` when no coding of the system is
    /// there.
    pub(super) fn pick<T: Copy + PartialEq>(
        &self,
        cx: &mut Cx<'_>,
        system: &str,
        table: &[(&str, T)],
    ) -> Option<T> {
        let mut found: Option<(T, &str)> = None;
        for (path, code) in self.of_system(system) {
            let code_path = at(path, "code");
            let Some(code) = code else {
                cx.required(code_path, "the coding has no code");
                continue;
            };
            match table.iter().find(|(known, _)| *known == code) {
                Some((_, value)) => match found {
                    Some((first, _)) if first != *value => cx.error(
                        "invariant",
                        code_path,
                        "contradicts an earlier coding of the same concept",
                    ),
                    _ => found = Some((*value, path)),
                },
                None => cx.error(
                    "code-invalid",
                    code_path,
                    format!("`{code}` is not a code this element accepts from {system}"),
                ),
            }
        }
        found.map(|(value, _)| value)
    }
}

/// Reads a CodeableConcept.
pub(super) fn concept<'a>(
    cx: &mut Cx<'_>,
    path: &str,
    value: &'a CodeableConcept,
) -> ConceptRead<'a> {
    let CodeableConcept {
        id,
        extension,
        coding: codings,
        text: words,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    let codings = codings
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let coding_path = at_index(path, "coding", index);
            let read = coding(cx, &coding_path, c);
            (coding_path, read)
        })
        .collect();
    ConceptRead {
        path: path.to_owned(),
        codings,
        text: text(cx, &at(path, "text"), words.as_ref()),
    }
}

/// Refuses every coding of a concept whose system is not one of `systems`.
pub(super) fn only_systems(cx: &mut Cx<'_>, concept: &ConceptRead<'_>, systems: &[&str]) {
    for (path, coding) in &concept.codings {
        if !coding.system.is_some_and(|s| systems.contains(&s)) {
            cx.error(
                "code-invalid",
                at(path, "system"),
                format!(
                    "codes from {} are not accepted here (expected {})",
                    coding.system.unwrap_or("no system"),
                    systems.join(" or ")
                ),
            );
        }
    }
}

/// A coded or free-text concept: text required, at most one SNOMED CT coding.
pub(super) fn coded_text(cx: &mut Cx<'_>, read: &ConceptRead<'_>) -> Option<CodedText> {
    only_systems(cx, read, &[crate::fhir::codes::SCT]);
    let mut snomed = None;
    for (index, (path, coding)) in read.codings.iter().enumerate() {
        if index > 0 {
            cx.not_supported(path);
            continue;
        }
        let code_path = at(path, "code");
        match coding.code.map(SnomedCode::parse) {
            Some(Ok(code)) => snomed = Some(code),
            Some(Err(e)) => cx.error("code-invalid", code_path, e.to_string()),
            None => cx.required(code_path, "the coding has no code"),
        }
    }
    if read.text.is_none() {
        cx.required(
            at(&read.path, "text"),
            "the words are kept with the code: `text` is missing",
        );
    }
    Some(CodedText {
        text: read.text.clone()?,
        snomed,
    })
}

// ---------------------------------------------------------------------------------------------
// References

/// A Reference as read.
#[derive(Debug, Clone)]
pub(super) struct RefRead<'a> {
    pub path: String,
    /// `(type, id)` of a relative reference.
    pub target: Option<(&'a str, &'a str)>,
    pub display: Option<String>,
    pub extension: &'a [Extension],
}

/// Reads a Reference. Only relative `Type/id` references are accepted; `type` and
/// `identifier` are refused (a logical reference would have to be guessed, H3). The caller
/// decides about the extensions.
pub(super) fn reference<'a>(cx: &mut Cx<'_>, path: &str, value: &'a Reference) -> RefRead<'a> {
    let Reference {
        id,
        extension,
        reference: target,
        r#type,
        identifier,
        display,
    } = value;
    no_element_id(cx, path, id);
    absent(cx, at(path, "type"), r#type);
    absent(cx, at(path, "identifier"), identifier);
    let target = target
        .as_ref()
        .and_then(|t| prim(cx, &at(path, "reference"), t))
        .and_then(|t| match t.split_once('/') {
            Some((kind, id))
                if !kind.is_empty()
                    && kind.bytes().all(|b| b.is_ascii_alphabetic())
                    && !id.is_empty()
                    && !id.contains('/') =>
            {
                Some((kind, id))
            }
            _ => {
                cx.error(
                    "value",
                    at(path, "reference"),
                    format!(
                        "`{t}` is not a relative reference `Type/id` to a resource of this plan"
                    ),
                );
                None
            }
        });
    RefRead {
        path: path.to_owned(),
        target,
        display: text(cx, &at(path, "display"), display.as_ref()),
        extension,
    }
}
