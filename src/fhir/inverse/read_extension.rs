//! Extensions as the inverse mapping reads them (a child module of `read`): only known URLs are
//! accepted, each value read as the one type the projection writes, complex extensions part by
//! part.

use chrono::{DateTime, FixedOffset, NaiveDate};
use fhirbolt::model::r4::types::{Extension, ExtensionValue};

use super::{
    address, at, at_index, concept, date, no_element_id, no_extensions, parse_date_time, phone,
    prim, reference, ConceptRead, Cx, RefRead,
};
use crate::domain::Phone;

/// One extension as read.
#[derive(Debug, Clone)]
pub(in crate::fhir::inverse) struct ExtRead<'a> {
    pub path: String,
    pub url: &'a str,
    value: Option<&'a ExtensionValue>,
    parts: &'a [Extension],
}

/// Reads the extensions of an element, refusing any whose URL is not in `known`.
pub(in crate::fhir::inverse) fn extensions<'a>(
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
pub(in crate::fhir::inverse) fn single<'e, 'a>(
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
pub(in crate::fhir::inverse) fn all<'e, 'a>(
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
    pub(in crate::fhir::inverse) fn string(&self, cx: &mut Cx<'_>) -> Option<String> {
        match self.simple(cx)? {
            ExtensionValue::String(value) => prim(cx, &self.value_path(), value).cloned(),
            _ => {
                self.wrong_type(cx, "string");
                None
            }
        }
    }

    /// A valueCode.
    pub(in crate::fhir::inverse) fn code(&self, cx: &mut Cx<'_>) -> Option<String> {
        match self.simple(cx)? {
            ExtensionValue::Code(value) => prim(cx, &self.value_path(), value).cloned(),
            _ => {
                self.wrong_type(cx, "code");
                None
            }
        }
    }

    /// A valueBoolean.
    pub(in crate::fhir::inverse) fn boolean(&self, cx: &mut Cx<'_>) -> Option<bool> {
        match self.simple(cx)? {
            ExtensionValue::Boolean(value) => prim(cx, &self.value_path(), value).copied(),
            _ => {
                self.wrong_type(cx, "boolean");
                None
            }
        }
    }

    /// A valueInteger.
    pub(in crate::fhir::inverse) fn integer(&self, cx: &mut Cx<'_>) -> Option<i32> {
        match self.simple(cx)? {
            ExtensionValue::Integer(value) => prim(cx, &self.value_path(), value).copied(),
            _ => {
                self.wrong_type(cx, "integer");
                None
            }
        }
    }

    /// A valueDate.
    pub(in crate::fhir::inverse) fn date(&self, cx: &mut Cx<'_>) -> Option<NaiveDate> {
        match self.simple(cx)? {
            ExtensionValue::Date(value) => date(cx, &self.value_path(), value),
            _ => {
                self.wrong_type(cx, "date");
                None
            }
        }
    }

    /// A valueDateTime with seconds and offset.
    pub(in crate::fhir::inverse) fn date_time(
        &self,
        cx: &mut Cx<'_>,
    ) -> Option<DateTime<FixedOffset>> {
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
    pub(in crate::fhir::inverse) fn concept(&self, cx: &mut Cx<'_>) -> Option<ConceptRead<'a>> {
        match self.simple(cx)? {
            ExtensionValue::CodeableConcept(value) => Some(concept(cx, &self.value_path(), value)),
            _ => {
                self.wrong_type(cx, "CodeableConcept");
                None
            }
        }
    }

    /// A valueReference.
    pub(in crate::fhir::inverse) fn reference(&self, cx: &mut Cx<'_>) -> Option<RefRead<'a>> {
        match self.simple(cx)? {
            ExtensionValue::Reference(value) => Some(reference(cx, &self.value_path(), value)),
            _ => {
                self.wrong_type(cx, "Reference");
                None
            }
        }
    }

    /// A valueAddress.
    pub(in crate::fhir::inverse) fn address(
        &self,
        cx: &mut Cx<'_>,
    ) -> Option<crate::domain::Address> {
        match self.simple(cx)? {
            ExtensionValue::Address(value) => address(cx, &self.value_path(), value, None),
            _ => {
                self.wrong_type(cx, "Address");
                None
            }
        }
    }

    /// A valueContactPoint that is a phone number.
    pub(in crate::fhir::inverse) fn phone(&self, cx: &mut Cx<'_>) -> Option<Phone> {
        match self.simple(cx)? {
            ExtensionValue::ContactPoint(value) => phone(cx, &self.value_path(), value),
            _ => {
                self.wrong_type(cx, "ContactPoint");
                None
            }
        }
    }

    /// The sub-extensions of a complex extension, refusing a value and unknown parts.
    pub(in crate::fhir::inverse) fn complex(
        &self,
        cx: &mut Cx<'_>,
        known: &[&str],
    ) -> Vec<ExtRead<'a>> {
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
