//! Small builders over fhirbolt's R4 types, so mapping code reads as the FHIR it fills, and the
//! narrative: XHTML that a clinician can read alone, escaped, never truncated (H6).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use fhirbolt::model::r4::types::{
    Code, CodeableConcept, Coding, Extension, ExtensionValue, Identifier, Meta, Narrative,
    Reference,
};

use super::codes::Concept;
use crate::domain::PlanRecord;

/// A Coding of a known concept.
pub fn coding(concept: Concept) -> Coding {
    Coding {
        system: Some(concept.system.into()),
        code: Some(concept.code.into()),
        display: Some(concept.display.into()),
        ..Default::default()
    }
}

/// A Coding from a system and code without display.
pub fn coding_of(system: &str, code: &str, display: Option<&str>) -> Coding {
    Coding {
        system: Some(system.into()),
        code: Some(code.into()),
        display: display.map(Into::into),
        ..Default::default()
    }
}

/// A CodeableConcept of one known concept.
pub fn concept(concept: Concept) -> CodeableConcept {
    CodeableConcept {
        coding: vec![coding(concept)],
        ..Default::default()
    }
}

/// A CodeableConcept of codings, with text.
pub fn concept_of(codings: Vec<Coding>, text: Option<&str>) -> CodeableConcept {
    CodeableConcept {
        coding: codings,
        text: text.map(Into::into),
        ..Default::default()
    }
}

/// A code.
pub fn code(value: &str) -> Code {
    value.into()
}

/// A reference to `Type/id` with a display.
pub fn reference(resource_type: &str, id: &str, display: Option<&str>) -> Reference {
    Reference {
        reference: Some(format!("{resource_type}/{id}").into()),
        display: display.map(Into::into),
        ..Default::default()
    }
}

/// The NHS number identifier (UK Core style).
pub fn nhs_number(value: &str) -> Identifier {
    Identifier {
        system: Some(super::codes::NHS_NUMBER.into()),
        value: Some(value.into()),
        ..Default::default()
    }
}

/// An extension with a value.
pub fn extension(url: &str, value: ExtensionValue) -> Extension {
    Extension {
        url: url.into(),
        value: Some(value),
        ..Default::default()
    }
}

/// A complex extension of sub-extensions.
pub fn complex_extension(url: &str, parts: Vec<Extension>) -> Extension {
    Extension {
        url: url.into(),
        extension: parts,
        ..Default::default()
    }
}

/// A FHIR date.
pub fn date(value: NaiveDate) -> String {
    value.format("%Y-%m-%d").to_string()
}

/// A FHIR instant (keeps the microseconds the service stores).
pub fn instant(value: &DateTime<Utc>) -> String {
    value.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `meta` of a resource projected from `record`: version and time follow the plan.
pub fn meta(record: &PlanRecord, profile: &str) -> Box<Meta> {
    Box::new(Meta {
        version_id: Some(record.version.to_string().into()),
        last_updated: Some(instant(&record.last_updated).into()),
        profile: vec![profile.into()],
        ..Default::default()
    })
}

/// A generated narrative from a heading and label/value rows; values are escaped and kept whole.
pub fn narrative(heading: &str, rows: &[(&str, String)]) -> Box<Narrative> {
    let size = rows
        .iter()
        .map(|(label, value)| label.len() + value.len() + 32)
        .sum::<usize>();
    let mut div = String::with_capacity(96 + heading.len() + size);
    div.push_str("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p><b>");
    html_escape::encode_safe_to_string(heading, &mut div);
    div.push_str("</b></p>");
    if !rows.is_empty() {
        div.push_str("<table><tbody>");
        for (label, value) in rows {
            div.push_str("<tr><th>");
            html_escape::encode_safe_to_string(label, &mut div);
            div.push_str("</th><td>");
            html_escape::encode_safe_to_string(value, &mut div);
            div.push_str("</td></tr>");
        }
        div.push_str("</tbody></table>");
    }
    div.push_str("</div>");
    Box::new(Narrative {
        status: code("generated"),
        div: div.into(),
        ..Default::default()
    })
}

/// XHTML-escapes text.
pub fn escape(text: &str) -> String {
    html_escape::encode_safe(text).into_owned()
}

/// "yes", "no" or "not recorded".
pub fn yes_no(value: Option<bool>) -> String {
    match value {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "not recorded".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrative_escapes_and_keeps_everything() {
        let long = "x".repeat(20_000);
        let text = narrative("A & B <c>", &[("note", format!("<script>{long}"))]);
        let div = text.div.value;
        assert!(div.starts_with("<div xmlns=\"http://www.w3.org/1999/xhtml\">"));
        assert!(div.contains("A &amp; B &lt;c&gt;"));
        assert!(div.contains("&lt;script&gt;"));
        assert!(div.contains(&long), "never truncated (H6)");
    }
}
