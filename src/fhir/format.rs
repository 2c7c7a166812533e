//! Content negotiation for `/fhir`: JSON (`application/fhir+json`, the default) or XML
//! (`application/fhir+xml`), chosen by `_format` or `Accept`, with `_pretty`; anything else is
//! 406. Serialisation goes through fhirbolt, which writes elements in FHIR order.

use fhirbolt::model::r4::Resource;

use crate::error::Error;

/// A wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/fhir+json`.
    Json,
    /// `application/fhir+xml`.
    Xml,
}

/// How to write a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendering {
    /// JSON or XML.
    pub format: Format,
    /// Indented output.
    pub pretty: bool,
}

impl Default for Rendering {
    fn default() -> Self {
        Self {
            format: Format::Json,
            pretty: false,
        }
    }
}

impl Format {
    /// The media type sent back.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/fhir+json; charset=utf-8",
            Self::Xml => "application/fhir+xml; charset=utf-8",
        }
    }

    /// The format a `_format` value or an `Accept` media range names, if supported.
    fn named(value: &str) -> Option<Option<Self>> {
        let essence = value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "json" | "application/fhir+json" | "application/json" | "application/json+fhir" => {
                Some(Some(Self::Json))
            }
            "xml"
            | "application/fhir+xml"
            | "application/xml"
            | "text/xml"
            | "application/xml+fhir" => Some(Some(Self::Xml)),
            "*/*" | "application/*" | "" => Some(None),
            _ => None,
        }
    }
}

fn not_acceptable(what: &str) -> Error {
    Error::NotAcceptable(format!(
        "{what}: this server speaks application/fhir+json and application/fhir+xml"
    ))
}

/// Chooses the rendering from the query (`_format`, `_pretty`) and the `Accept` header.
pub fn negotiate(query: &[(String, String)], accept: Option<&str>) -> Result<Rendering, Error> {
    let mut rendering = Rendering::default();
    let mut chosen = None;
    for (name, value) in query {
        match name.as_str() {
            "_format" => match Format::named(value) {
                Some(format) => chosen = Some(format.unwrap_or(Format::Json)),
                None => return Err(not_acceptable(&format!("_format={value}"))),
            },
            "_pretty" => rendering.pretty = value == "true",
            _ => {}
        }
    }
    if chosen.is_none() {
        if let Some(accept) = accept.filter(|a| !a.trim().is_empty()) {
            let mut any = false;
            for range in accept.split(',') {
                match Format::named(range) {
                    Some(Some(format)) => {
                        chosen = Some(format);
                        break;
                    }
                    Some(None) => any = true,
                    None => {}
                }
            }
            if chosen.is_none() && !any {
                return Err(not_acceptable(&format!("Accept: {accept}")));
            }
        }
    }
    rendering.format = chosen.unwrap_or(Format::Json);
    Ok(rendering)
}

/// The response buffer's starting size: most single resources fit.
const RENDER_CAPACITY: usize = 16 * 1024;

/// What a Bundle entry adds to the response, about: an emergency summary's 15 to 25 entries
/// come to 30 to 50 KB (BENCHMARKS.md, fifteenth round).
const RENDER_PER_ENTRY: usize = 3 * 1024;

/// The buffer to start with for `resource`: a Bundle's is sized by its entries, so that a
/// summary document is written without the buffer being copied as it grows (16 KiB doubled
/// twice copied 48 KiB for every summary).
fn render_capacity(resource: &Resource) -> usize {
    let capacity = match resource {
        Resource::Bundle(bundle) => RENDER_CAPACITY.max(
            bundle
                .entry
                .len()
                .saturating_mul(RENDER_PER_ENTRY)
                .saturating_add(RENDER_PER_ENTRY),
        ),
        _ => RENDER_CAPACITY,
    };
    // Never more than 1 MiB up front, however many entries: the buffer still grows past it.
    capacity.min(1024 * 1024)
}

/// Serialises `resource` as `rendering` asks.
pub fn render(resource: &Resource, rendering: Rendering) -> Result<Vec<u8>, Error> {
    let failed =
        |e: &dyn std::fmt::Display| Error::Internal(format!("FHIR serialisation failed: {e}"));
    match (rendering.format, rendering.pretty) {
        (Format::Json, false) => {
            // fhirbolt's `to_vec` starts at 128 bytes and grows by doubling: a summary document
            // (tens of kilobytes) was copied eight times over.
            let mut body = Vec::with_capacity(render_capacity(resource));
            fhirbolt::json::to_writer(&mut body, resource, None).map_err(|e| failed(&e))?;
            Ok(body)
        }
        (Format::Json, true) => {
            fhirbolt::json::to_vec_pretty(resource, None).map_err(|e| failed(&e))
        }
        (Format::Xml, _) => fhirbolt::xml::to_vec(resource, None).map_err(|e| failed(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    /// Every fixture's emergency summary (the richest plans we have) is written into the
    /// buffer it starts with: the estimate per entry is not too small. Fails if
    /// `RENDER_PER_ENTRY` is cut below what a summary's entries take.
    #[test]
    fn a_summary_document_fits_the_buffer_it_starts_with() {
        let now = "2026-11-23T12:00:00Z".parse().unwrap();
        let rendering = negotiate(&[], None).unwrap();
        let mut largest = 0;
        for (name, record) in crate::fhir::tests::fixture_records() {
            let summary = crate::fhir::summary::summary(&record, "https://example.org/fhir", now);
            let resource = Resource::Bundle(Box::new(summary));
            let capacity = render_capacity(&resource);
            let body = render(&resource, rendering).unwrap();
            assert!(
                body.len() <= capacity,
                "{name}: {} bytes rendered, {capacity} reserved",
                body.len()
            );
            // Not grossly over: at most three times what the document needs.
            assert!(
                capacity <= 3 * body.len().max(RENDER_CAPACITY),
                "{name}: {} bytes rendered, {capacity} reserved",
                body.len()
            );
            largest = largest.max(body.len());
        }
        assert!(
            largest > RENDER_CAPACITY,
            "no fixture's summary outgrew 16 KiB"
        );
    }

    #[test]
    fn json_is_the_default() {
        assert_eq!(negotiate(&[], None).unwrap().format, Format::Json);
        assert_eq!(negotiate(&[], Some("*/*")).unwrap().format, Format::Json);
    }

    #[test]
    fn accept_and_format_choose_xml_and_format_wins() {
        assert_eq!(
            negotiate(&[], Some("application/fhir+xml")).unwrap().format,
            Format::Xml
        );
        assert_eq!(
            negotiate(&pairs(&[("_format", "json")]), Some("application/fhir+xml"))
                .unwrap()
                .format,
            Format::Json
        );
        assert_eq!(
            negotiate(&pairs(&[("_format", "application/fhir+xml")]), None)
                .unwrap()
                .format,
            Format::Xml
        );
        assert!(
            negotiate(&pairs(&[("_pretty", "true")]), None)
                .unwrap()
                .pretty
        );
    }

    #[test]
    fn anything_else_is_not_acceptable() {
        assert!(matches!(
            negotiate(&[], Some("text/html")),
            Err(Error::NotAcceptable(_))
        ));
        assert!(matches!(
            negotiate(&pairs(&[("_format", "turtle")]), None),
            Err(Error::NotAcceptable(_))
        ));
        assert!(negotiate(&[], Some("text/html, application/fhir+json;q=0.9")).is_ok());
    }
}
