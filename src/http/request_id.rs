//! A request id on every request and response (`X-Request-ID`: the caller's if it is sane, else
//! a new UUID), and one access-log line per request with the route pattern, never the URL: a
//! query string can hold an NHS number, and nothing clinical is logged (H8).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing::Instrument;
use uuid::Uuid;

/// The request's id, in the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The header carrying the id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

fn acceptable(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The middleware.
pub async fn request_context(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %request.method());
    let started = Instant::now();
    let mut response = next.call(request).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    span.in_scope(|| {
        tracing::info!(
            route = %route,
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "handled"
        );
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn request_ids_are_bounded_and_plain() {
        assert!(acceptable("abc-123_X.y"));
        assert!(!acceptable(""));
        assert!(!acceptable(&"a".repeat(65)));
        assert!(!acceptable("a b"));
        assert!(!acceptable("a\u{7f}"));
    }
}
