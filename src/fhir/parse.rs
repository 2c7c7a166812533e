//! Reading a FHIR resource from a request body, JSON or XML, on our terms: syntax errors are
//! "unreadable" (400), a well-formed document that is not valid R4 (an unknown element, a
//! string where a boolean belongs) is "unprocessable" (422, issue `structure`) with the FHIRPath
//! of the element where it can be found. XML with a DTD is refused before any parser sees it,
//! so no external entity is ever resolved.

use fhirbolt::model::r4::Resource;
use fhirbolt::serde::{DeserializationConfig, DeserializationMode};
use serde_json::Value;

use super::format::Format;
use super::inverse::{FhirIssue, Severity};
use crate::error::Error;

fn issue(
    code: &'static str,
    resource_type: &'static str,
    expression: String,
    message: String,
) -> FhirIssue {
    FhirIssue {
        severity: Severity::Error,
        code,
        resource_type,
        resource_id: None,
        expression,
        message,
    }
}

/// A 400: the body cannot be read as FHIR at all.
pub fn unreadable(message: impl Into<String>) -> Error {
    Error::FhirInvalid {
        unreadable: true,
        issues: vec![issue(
            "structure",
            "Resource",
            String::new(),
            message.into(),
        )],
    }
}

fn config() -> Option<DeserializationConfig> {
    Some(DeserializationConfig {
        mode: DeserializationMode::Strict,
    })
}

/// Parses a body into a resource.
pub fn parse_resource(bytes: &[u8], format: Format) -> Result<Resource, Error> {
    match format {
        Format::Json => parse_json(bytes),
        Format::Xml => parse_xml(bytes),
    }
}

/// Parses a JSON value (e.g. a Bundle entry's resource) into a resource; `base` is the FHIRPath
/// of the value in its document (`Bundle.entry[2].resource`), or empty for a whole body.
pub fn resource_from_value(value: &Value, base: &str) -> Result<Resource, Error> {
    let Some(resource_type) = value.get("resourceType").and_then(Value::as_str) else {
        return Err(Error::FhirInvalid {
            unreadable: true,
            issues: vec![issue(
                "required",
                "Resource",
                join(base, "resourceType"),
                "a FHIR resource needs a resourceType".into(),
            )],
        });
    };
    if !is_known_type(resource_type) {
        return Err(Error::FhirInvalid {
            unreadable: true,
            issues: vec![issue(
                "not-supported",
                "Resource",
                join(base, "resourceType"),
                format!("`{resource_type}` is not an R4 resource type"),
            )],
        });
    }
    let parsed =
        fhirbolt::json::from_json_value::<Resource>(value.clone(), config()).map_err(|error| {
            let message = error.to_string();
            let expression = locate(value, &message, resource_type);
            let root = if base.is_empty() {
                resource_type.to_owned()
            } else {
                base.to_owned()
            };
            let expression = match expression {
                Some(path) => format!("{root}{path}"),
                None => root,
            };
            Error::FhirInvalid {
                unreadable: false,
                issues: vec![issue(
                    "structure",
                    "Resource",
                    expression,
                    format!("not a valid R4 {resource_type}: {message}"),
                )],
            }
        })?;
    // fhirbolt reads a JSON string where R4 wants a boolean or a number ("true", "7"); R4 JSON
    // does not allow that, so the types of what was sent are checked against what was read.
    let root = if base.is_empty() {
        resource_type.to_owned()
    } else {
        base.to_owned()
    };
    let read = fhirbolt::json::to_json_value(parsed.clone(), None)
        .map_err(|e| Error::Internal(format!("re-encoding a parsed resource: {e}")))?;
    let mut wrong = Vec::new();
    wrong_types(value, &read, &root, &mut wrong);
    if !wrong.is_empty() {
        return Err(Error::FhirInvalid {
            unreadable: false,
            issues: wrong
                .into_iter()
                .map(|(path, expected)| {
                    issue(
                        "structure",
                        "Resource",
                        path,
                        format!("wrong JSON type: R4 wants a {expected} here, not a string"),
                    )
                })
                .collect(),
        });
    }
    Ok(parsed)
}

/// Where `sent` has a string and `read` a boolean or number: (FHIRPath, wanted type).
fn wrong_types(sent: &Value, read: &Value, path: &str, found: &mut Vec<(String, &'static str)>) {
    match (sent, read) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, child) in a {
                if key.starts_with('_') {
                    continue;
                }
                if let Some(other) = b.get(key) {
                    wrong_types(child, other, &format!("{path}.{key}"), found);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                wrong_types(x, y, &format!("{path}[{index}]"), found);
            }
        }
        (Value::String(_), Value::Bool(_)) => found.push((path.to_owned(), "boolean")),
        (Value::String(_), Value::Number(_)) => found.push((path.to_owned(), "number")),
        _ => {}
    }
}

fn join(base: &str, element: &str) -> String {
    if base.is_empty() {
        element.to_owned()
    } else {
        format!("{base}.{element}")
    }
}

fn parse_json(bytes: &[u8]) -> Result<Resource, Error> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| unreadable(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(unreadable(
            "the body must be a JSON object holding one resource",
        ));
    }
    resource_from_value(&value, "")
}

fn parse_xml(bytes: &[u8]) -> Result<Resource, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| unreadable("the XML body is not UTF-8"))?;
    if text.contains("<!DOCTYPE") || text.contains("<!ENTITY") || text.contains("<!doctype") {
        return Err(unreadable(
            "XML with a document type declaration or entities is not accepted (FHIR XML has no \
             DTD, and entities are never expanded here)",
        ));
    }
    fhirbolt::xml::from_str::<Resource>(text, config())
        .map_err(|e| unreadable(format!("not a readable FHIR R4 XML resource: {e}")))
}

/// The resource type a body says it is (JSON `resourceType`, or the XML root element), read
/// without parsing the resource.
pub fn declared_type(bytes: &[u8], format: Format) -> Option<String> {
    match format {
        Format::Json => serde_json::from_slice::<Value>(bytes)
            .ok()?
            .get("resourceType")?
            .as_str()
            .map(str::to_owned),
        Format::Xml => {
            let text = std::str::from_utf8(bytes).ok()?;
            let mut rest = text;
            loop {
                let start = rest.find('<')?;
                rest = &rest[start + 1..];
                if rest.starts_with('?') || rest.starts_with('!') {
                    continue;
                }
                let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
                return Some(rest[..end].to_owned());
            }
        }
    }
}

/// Whether `name` is an R4 resource type.
pub fn is_known_type(name: &str) -> bool {
    // fhirbolt names an unknown type as such; a known one fails, if at all, on a missing
    // element.
    match fhirbolt::json::from_json_value::<Resource>(
        serde_json::json!({ "resourceType": name }),
        config(),
    ) {
        Ok(_) => true,
        Err(error) => !error.to_string().contains("expected valid resourceType"),
    }
}

/// Finds where fhirbolt's complaint points: the element of an `unknown field` message, else
/// the first element holding the value an `invalid type` message quotes. A relative FHIRPath
/// (`.provision.foo`), or None.
fn locate(value: &Value, message: &str, _resource_type: &str) -> Option<String> {
    if let Some(name) = between(message, "unknown field `", "`") {
        return find_key(value, name, "");
    }
    if let Some(field) = between(message, "missing field `", "`") {
        return Some(format!(".{field}"));
    }
    None
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

fn find_key(value: &Value, key: &str, path: &str) -> Option<String> {
    match value {
        Value::Object(map) => {
            if map.contains_key(key) {
                return Some(format!("{path}.{}", key.trim_start_matches('_')));
            }
            map.iter()
                .filter(|(name, _)| name.as_str() != "resourceType")
                .find_map(|(name, child)| find_key(child, key, &format!("{path}.{name}")))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, child)| find_key(child, key, &format!("{path}[{index}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(error: Error) -> (bool, Vec<FhirIssue>) {
        match error {
            Error::FhirInvalid { unreadable, issues } => (unreadable, issues),
            other => panic!("not a FHIR input error: {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_unreadable() {
        let (unreadable, found) =
            issues(parse_resource(b"{\"resourceType\": ", Format::Json).unwrap_err());
        assert!(unreadable);
        assert!(found[0].message.starts_with("malformed JSON"));
    }

    #[test]
    fn unknown_type_and_missing_type_are_unreadable() {
        let (unreadable, found) =
            issues(parse_resource(br#"{"resourceType": "Banana"}"#, Format::Json).unwrap_err());
        assert!(unreadable);
        assert_eq!(found[0].expression, "resourceType");
        let (unreadable, found) =
            issues(parse_resource(br#"{"id": "x"}"#, Format::Json).unwrap_err());
        assert!(unreadable);
        assert_eq!(found[0].code, "required");
    }

    #[test]
    fn an_unknown_element_is_named_by_its_path() {
        let body = br#"{"resourceType": "Consent", "status": "active",
            "provision": {"type": "deny", "colour": "purple"}}"#;
        let (unreadable, found) = issues(parse_resource(body, Format::Json).unwrap_err());
        assert!(!unreadable);
        assert_eq!(found[0].code, "structure");
        assert_eq!(found[0].expression, "Consent.provision.colour");
    }

    #[test]
    fn a_wrong_type_is_unprocessable() {
        let body = br#"{"resourceType": "Goal", "lifecycleStatus": 7}"#;
        let (unreadable, found) = issues(parse_resource(body, Format::Json).unwrap_err());
        assert!(!unreadable);
        assert!(found[0].expression.starts_with("Goal"));
    }

    #[test]
    fn a_string_where_a_boolean_belongs_is_unprocessable() {
        let body = br#"{"resourceType": "Patient", "active": "true"}"#;
        let (unreadable, found) = issues(parse_resource(body, Format::Json).unwrap_err());
        assert!(!unreadable);
        assert_eq!(found[0].expression, "Patient.active");
        let body = br#"{"resourceType": "Patient", "active": true}"#;
        assert!(parse_resource(body, Format::Json).is_ok());
    }

    #[test]
    fn xml_with_an_external_entity_is_refused_unread() {
        let body = br#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<Patient xmlns="http://hl7.org/fhir"><id value="&xxe;"/></Patient>"#;
        let (unreadable, found) = issues(parse_resource(body, Format::Xml).unwrap_err());
        assert!(unreadable);
        assert!(found[0].message.contains("entities"));
    }

    #[test]
    fn well_formed_resources_parse_in_both_formats() {
        let json = br#"{"resourceType": "Patient", "id": "p1", "gender": "female"}"#;
        assert!(matches!(
            parse_resource(json, Format::Json),
            Ok(Resource::Patient(_))
        ));
        let xml = br#"<Patient xmlns="http://hl7.org/fhir"><id value="p1"/><gender value="female"/></Patient>"#;
        assert!(matches!(
            parse_resource(xml, Format::Xml),
            Ok(Resource::Patient(_))
        ));
    }
}
