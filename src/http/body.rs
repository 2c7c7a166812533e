//! Reading a JSON request body on our terms: the content type must be JSON (415), the body must
//! fit the configured limit (413, checked before and while reading), and a parse failure names
//! the offending field's path (400). Nothing is stored from a body that fails here.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{BytesMut, Data};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The largest body accepted, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The default body limit: 1 MiB, far above any real plan.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body parsed into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

fn is_json(request: &HttpRequest) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses JSON bytes into `T`, naming the path of the first offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        // serde_json files some shape errors (a number where an enum belongs) as syntax, so ask
        // the bytes themselves: not JSON at all → no path (line and column are in the
        // message); well-formed JSON of the wrong shape → the offending field's path.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Error::bad_field("", format!("malformed JSON: {syntax}"));
        }
        let path = error.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Error::bad_field(path, error.into_inner().to_string())
    })?;
    deserializer
        .end()
        .map_err(|e| Error::bad_field("", format!("malformed JSON: {e}")))?;
    Ok(value)
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = request
            .app_data::<Data<BodyLimit>>()
            .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let json = is_json(request);
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(Error::UnsupportedMediaType);
            }
            if declared.is_some_and(|length| length > limit) {
                return Err(Error::PayloadTooLarge { limit });
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|e| Error::bad_field("", format!("unreadable body: {e}")))?;
                if body.len() + chunk.len() > limit {
                    return Err(Error::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            if body.is_empty() {
                return Err(Error::bad_field("", "the body is empty"));
            }
            parse_json(&body).map(JsonBody)
        })
    }
}

/// A FHIR request body, raw, with the format its `Content-Type` names (JSON or XML; 415 for
/// anything else), read within the configured limit (413).
#[derive(Debug)]
pub struct FhirBody {
    /// The bytes.
    pub bytes: actix_web::web::Bytes,
    /// The format the body is in.
    pub format: crate::fhir::format::Format,
}

fn fhir_format(request: &HttpRequest) -> Option<crate::fhir::format::Format> {
    use crate::fhir::format::Format;
    let value = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/fhir+json" | "application/json" | "application/json+fhir" => {
            Some(Format::Json)
        }
        "application/fhir+xml" | "application/xml" | "text/xml" | "application/xml+fhir" => {
            Some(Format::Xml)
        }
        _ => None,
    }
}

impl FromRequest for FhirBody {
    type Error = crate::error::FhirError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = request
            .app_data::<Data<BodyLimit>>()
            .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let format = fhir_format(request);
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let Some(format) = format else {
                return Err(Error::UnsupportedMediaType.into());
            };
            if declared.is_some_and(|length| length > limit) {
                return Err(Error::PayloadTooLarge { limit }.into());
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|e| Error::bad_field("", format!("unreadable body: {e}")))?;
                if body.len() + chunk.len() > limit {
                    return Err(Error::PayloadTooLarge { limit }.into());
                }
                body.extend_from_slice(&chunk);
            }
            if body.is_empty() {
                return Err(Error::bad_field("", "the body is empty").into());
            }
            Ok(FhirBody {
                bytes: body.freeze(),
                format,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PlanContent;

    fn path_of(error: Error) -> String {
        match error {
            Error::BadRequest { errors, .. } => errors[0].path.clone(),
            other => format!("not a bad request: {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let error = parse_json::<PlanContent>(b"{\"person\": ").err();
        assert!(
            matches!(error, Some(Error::BadRequest { message, .. }) if message.starts_with("malformed JSON"))
        );
    }

    #[test]
    fn trailing_content_is_refused() {
        assert!(parse_json::<serde_json::Value>(b"{} {}").is_err());
        assert!(parse_json::<serde_json::Value>(b"{}").is_ok());
    }

    #[test]
    fn wrong_type_names_the_nested_path() {
        let error = parse_json::<PlanContent>(br#"{"consent_to_share": {"status": 7}}"#);
        assert_eq!(path_of(error.err().unwrap()), "consent_to_share.status");
    }
}
