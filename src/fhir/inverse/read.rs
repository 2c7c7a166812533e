//! Shared readers of the inverse mapping: where issues are collected (with the resource they are
//! in and the FHIRPath of the element), and one reader per FHIR data type the projection writes
//! (primitives, Coding, CodeableConcept, Reference, Extension, ContactPoint, Address, HumanName,
//! Identifier). Every reader destructures its type without `..`, so a field the projection never
//! writes cannot be overlooked: it is refused as `not-supported` with its path.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use fhirbolt::model::r4::types::{
    Address, Boolean, Canonical, Code, CodeableConcept, Coding, ContactPoint, Date,
    DateTime as FhirDateTime, Extension, ExtensionValue, HumanName, Id, Identifier, Instant,
    Integer, Markdown, Meta, Narrative, PositiveInt, Reference, String as FhirString, Uri,
};

use super::{FhirIssue, Severity};
use crate::domain::{CodedText, Phone, PhoneKind, SnomedCode};

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

// ---------------------------------------------------------------------------------------------
// Extensions

/// One extension as read.
#[derive(Debug, Clone)]
pub(super) struct ExtRead<'a> {
    pub path: String,
    pub url: &'a str,
    value: Option<&'a ExtensionValue>,
    parts: &'a [Extension],
}

/// Reads the extensions of an element, refusing any whose URL is not in `known`.
pub(super) fn extensions<'a>(
    cx: &mut Cx<'_>,
    base: &str,
    list: &'a [Extension],
    known: &[&str],
) -> Vec<ExtRead<'a>> {
    let mut read = Vec::new();
    for (index, item) in list.iter().enumerate() {
        let Extension {
            id,
            extension,
            url,
            value,
        } = item;
        let path = at_index(base, "extension", index);
        no_element_id(cx, &path, id);
        if !known.contains(&url.as_str()) {
            cx.error(
                "not-supported",
                path,
                format!("the extension `{url}` is not supported here; it would be lost"),
            );
            continue;
        }
        read.push(ExtRead {
            path,
            url,
            value: value.as_ref(),
            parts: extension,
        });
    }
    read
}

/// The one extension with `url`; a repeat is a `structure` issue.
pub(super) fn single<'e, 'a>(
    cx: &mut Cx<'_>,
    read: &'e [ExtRead<'a>],
    url: &str,
) -> Option<&'e ExtRead<'a>> {
    let mut found = read.iter().filter(|e| e.url == url);
    let first = found.next();
    for repeat in found {
        cx.error(
            "structure",
            &repeat.path,
            "this extension may appear only once here",
        );
    }
    first
}

/// Every extension with `url`.
pub(super) fn all<'e, 'a>(
    read: &'e [ExtRead<'a>],
    url: &'e str,
) -> impl Iterator<Item = &'e ExtRead<'a>> {
    read.iter().filter(move |e| e.url == url)
}

impl<'a> ExtRead<'a> {
    fn value_path(&self) -> String {
        at(&self.path, "value")
    }

    /// The value of a simple extension (sub-extensions refused).
    fn simple(&self, cx: &mut Cx<'_>) -> Option<&'a ExtensionValue> {
        no_extensions(cx, &self.path, self.parts);
        if self.value.is_none() {
            cx.required(self.value_path(), "the extension has no value");
        }
        self.value
    }

    fn wrong_type(&self, cx: &mut Cx<'_>, expected: &str) {
        cx.error(
            "structure",
            self.value_path(),
            format!("this extension's value must be a {expected}"),
        );
    }

    /// A valueString.
    pub(super) fn string(&self, cx: &mut Cx<'_>) -> Option<String> {
        match self.simple(cx)? {
            ExtensionValue::String(value) => prim(cx, &self.value_path(), value).cloned(),
            _ => {
                self.wrong_type(cx, "string");
                None
            }
        }
    }

    /// A valueCode.
    pub(super) fn code(&self, cx: &mut Cx<'_>) -> Option<String> {
        match self.simple(cx)? {
            ExtensionValue::Code(value) => prim(cx, &self.value_path(), value).cloned(),
            _ => {
                self.wrong_type(cx, "code");
                None
            }
        }
    }

    /// A valueBoolean.
    pub(super) fn boolean(&self, cx: &mut Cx<'_>) -> Option<bool> {
        match self.simple(cx)? {
            ExtensionValue::Boolean(value) => prim(cx, &self.value_path(), value).copied(),
            _ => {
                self.wrong_type(cx, "boolean");
                None
            }
        }
    }

    /// A valueInteger.
    pub(super) fn integer(&self, cx: &mut Cx<'_>) -> Option<i32> {
        match self.simple(cx)? {
            ExtensionValue::Integer(value) => prim(cx, &self.value_path(), value).copied(),
            _ => {
                self.wrong_type(cx, "integer");
                None
            }
        }
    }

    /// A valueDate.
    pub(super) fn date(&self, cx: &mut Cx<'_>) -> Option<NaiveDate> {
        match self.simple(cx)? {
            ExtensionValue::Date(value) => date(cx, &self.value_path(), value),
            _ => {
                self.wrong_type(cx, "date");
                None
            }
        }
    }

    /// A valueDateTime with seconds and offset.
    pub(super) fn date_time(&self, cx: &mut Cx<'_>) -> Option<DateTime<FixedOffset>> {
        match self.simple(cx)? {
            ExtensionValue::DateTime(value) => {
                let path = self.value_path();
                let text = prim(cx, &path, value)?.clone();
                parse_date_time(cx, &path, &text)
            }
            _ => {
                self.wrong_type(cx, "dateTime");
                None
            }
        }
    }

    /// A valueCodeableConcept.
    pub(super) fn concept(&self, cx: &mut Cx<'_>) -> Option<ConceptRead<'a>> {
        match self.simple(cx)? {
            ExtensionValue::CodeableConcept(value) => Some(concept(cx, &self.value_path(), value)),
            _ => {
                self.wrong_type(cx, "CodeableConcept");
                None
            }
        }
    }

    /// A valueReference.
    pub(super) fn reference(&self, cx: &mut Cx<'_>) -> Option<RefRead<'a>> {
        match self.simple(cx)? {
            ExtensionValue::Reference(value) => Some(reference(cx, &self.value_path(), value)),
            _ => {
                self.wrong_type(cx, "Reference");
                None
            }
        }
    }

    /// A valueAddress.
    pub(super) fn address(&self, cx: &mut Cx<'_>) -> Option<crate::domain::Address> {
        match self.simple(cx)? {
            ExtensionValue::Address(value) => address(cx, &self.value_path(), value, None),
            _ => {
                self.wrong_type(cx, "Address");
                None
            }
        }
    }

    /// A valueContactPoint that is a phone number.
    pub(super) fn phone(&self, cx: &mut Cx<'_>) -> Option<Phone> {
        match self.simple(cx)? {
            ExtensionValue::ContactPoint(value) => phone(cx, &self.value_path(), value),
            _ => {
                self.wrong_type(cx, "ContactPoint");
                None
            }
        }
    }

    /// The sub-extensions of a complex extension, refusing a value and unknown parts.
    pub(super) fn complex(&self, cx: &mut Cx<'_>, known: &[&str]) -> Vec<ExtRead<'a>> {
        if self.value.is_some() {
            cx.not_supported(self.value_path());
        }
        let parts = extensions(cx, &self.path, self.parts, known);
        if parts.is_empty() && self.parts.is_empty() {
            cx.required(
                at(&self.path, "extension"),
                "a complex extension needs at least one part",
            );
        }
        parts
    }
}

// ---------------------------------------------------------------------------------------------
// Telephone numbers, addresses, names, identifiers

fn phone_kind(code: &str) -> Option<PhoneKind> {
    match code {
        "home" => Some(PhoneKind::Home),
        "work" => Some(PhoneKind::Work),
        "mobile" => Some(PhoneKind::Mobile),
        "temp" => Some(PhoneKind::Temp),
        _ => None,
    }
}

/// A ContactPoint that must be a telephone number (system `phone`); `use` is its kind.
pub(super) fn phone(cx: &mut Cx<'_>, path: &str, value: &ContactPoint) -> Option<Phone> {
    let ContactPoint {
        id,
        extension,
        system,
        value: number,
        r#use,
        rank,
        period,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    absent(cx, at(path, "rank"), rank);
    absent(cx, at(path, "period"), period);
    let system_path = at(path, "system");
    match system.as_ref().and_then(|s| prim(cx, &system_path, s)) {
        Some(system) if system == "phone" => {}
        Some(other) => cx.error(
            "not-supported",
            system_path,
            format!("only telephone numbers are kept here, not `{other}`"),
        ),
        None => cx.required(system_path, "say `phone`"),
    }
    let use_path = at(path, "use");
    let kind = match r#use.as_ref().and_then(|u| prim(cx, &use_path, u)) {
        None => None,
        Some(code) => match phone_kind(code) {
            Some(kind) => Some(kind),
            None => {
                cx.error(
                    "code-invalid",
                    use_path,
                    format!("`{code}` is not a telephone kind the plan keeps (home, work, mobile, temp)"),
                );
                None
            }
        },
    };
    let number_path = at(path, "value");
    let number = text(cx, &number_path, number.as_ref());
    if number.is_none() {
        cx.required(number_path, "the telephone number is missing");
    }
    number.map(|number| Phone { number, kind })
}

/// Telephone numbers of a `telecom` list.
pub(super) fn phones(cx: &mut Cx<'_>, base: &str, list: &[ContactPoint]) -> Vec<Phone> {
    list.iter()
        .enumerate()
        .filter_map(|(index, c)| phone(cx, &at_index(base, "telecom", index), c))
        .collect()
}

/// An Address: lines, city, district, postcode; `use` may only be `expected_use`.
pub(super) fn address(
    cx: &mut Cx<'_>,
    path: &str,
    value: &Address,
    expected_use: Option<&str>,
) -> Option<crate::domain::Address> {
    let Address {
        id,
        extension,
        r#use,
        r#type,
        text: words,
        line,
        city,
        district,
        state,
        postal_code,
        country,
        period,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    absent(cx, at(path, "type"), r#type);
    absent(cx, at(path, "text"), words);
    absent(cx, at(path, "state"), state);
    absent(cx, at(path, "country"), country);
    absent(cx, at(path, "period"), period);
    let use_path = at(path, "use");
    match (
        r#use.as_ref().and_then(|u| prim(cx, &use_path, u)),
        expected_use,
    ) {
        (None, _) => {}
        (Some(found), Some(expected)) if found == expected => {}
        (Some(found), _) => cx.error(
            "code-invalid",
            use_path,
            format!("an address of use `{found}` is not kept here"),
        ),
    }
    let lines = line
        .iter()
        .enumerate()
        .filter_map(|(index, l)| prim(cx, &at_index(path, "line", index), l).cloned())
        .collect();
    Some(crate::domain::Address {
        lines,
        city: text(cx, &at(path, "city"), city.as_ref()),
        district: text(cx, &at(path, "district"), district.as_ref()),
        postcode: text(cx, &at(path, "postalCode"), postal_code.as_ref()),
    })
}

/// A HumanName as read.
#[derive(Debug, Clone, Default)]
pub(super) struct NameRead {
    pub r#use: Option<String>,
    pub text: Option<String>,
    pub family: Option<String>,
    pub given: Vec<String>,
}

/// Reads a HumanName: use, text, family, given; prefix, suffix and period are refused.
pub(super) fn human_name(cx: &mut Cx<'_>, path: &str, value: &HumanName) -> NameRead {
    let HumanName {
        id,
        extension,
        r#use,
        text: words,
        family,
        given,
        prefix,
        suffix,
        period,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    absent_list(cx, path, "prefix", prefix);
    absent_list(cx, path, "suffix", suffix);
    absent(cx, at(path, "period"), period);
    NameRead {
        r#use: text(cx, &at(path, "use"), r#use.as_ref()),
        text: text(cx, &at(path, "text"), words.as_ref()),
        family: text(cx, &at(path, "family"), family.as_ref()),
        given: given
            .iter()
            .enumerate()
            .filter_map(|(index, g)| prim(cx, &at_index(path, "given", index), g).cloned())
            .collect(),
    }
}

/// The one name of a person known only by `name.text` (RelatedPerson, Practitioner).
pub(super) fn name_text(cx: &mut Cx<'_>, names: &[HumanName]) -> Option<String> {
    let root = cx.root();
    let mut found = None;
    for (index, name) in names.iter().enumerate() {
        let path = at_index(root, "name", index);
        if index > 0 {
            cx.not_supported(path);
            continue;
        }
        let read = human_name(cx, &path, name);
        absent(cx, at(&path, "use"), &read.r#use);
        absent(cx, at(&path, "family"), &read.family);
        absent_list(cx, &path, "given", &read.given);
        if read.text.is_none() {
            cx.required(at(&path, "text"), "the person's name is kept as text");
        }
        found = read.text;
    }
    if names.is_empty() {
        cx.required(at(root, "name"), "the person's name is missing");
    }
    found
}

/// An Identifier as read: system and value (use, type, period, assigner refused).
pub(super) fn identifier(
    cx: &mut Cx<'_>,
    path: &str,
    value: &Identifier,
) -> (Option<String>, Option<String>) {
    let Identifier {
        id,
        extension,
        r#use,
        r#type,
        system,
        value: v,
        period,
        assigner,
    } = value;
    no_element_id(cx, path, id);
    no_extensions(cx, path, extension);
    absent(cx, at(path, "use"), r#use);
    absent(cx, at(path, "type"), r#type);
    absent(cx, at(path, "period"), period);
    absent(cx, at(path, "assigner"), assigner);
    (
        text(cx, &at(path, "system"), system.as_ref()),
        text(cx, &at(path, "value"), v.as_ref()),
    )
}
