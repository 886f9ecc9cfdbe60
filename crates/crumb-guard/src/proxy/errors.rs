//! What the proxy answers itself: hop-by-hop header removal and JSON error responses.

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

use crate::inject::BoxError;

/// Response bodies the proxy sends.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Remove hop-by-hop headers, including those the `Connection` header names. Returns the
/// `Upgrade` value when the message asks for a protocol upgrade (kept for the next hop).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let mut upgrade = false;
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| {
            let t = t.trim();
            if t.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
            HeaderName::try_from(t).ok()
        })
        .collect();
    let proto = if upgrade { headers.get(header::UPGRADE).cloned() } else { None };
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    proto
}

/// The JSON body of an error: `{"error": {"code": "...", "message": "..."}}`.
pub(crate) fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": message}}).to_string()
}

/// What the visitor is told when the upstream does not answer in time (504).
pub(crate) const TIMEOUT_MESSAGE: &str =
    "the upstream server did not answer in time; check that it is healthy or raise --timeout";
/// What the visitor is told when the upstream cannot be reached (502).
pub(crate) const UNREACHABLE_MESSAGE: &str =
    "the upstream server cannot be reached; check that it is running at the --upstream address";
/// What the visitor is told when the upstream broke the exchange (502).
pub(crate) const BROKEN_MESSAGE: &str = "the upstream server closed the connection or sent an invalid response";

/// A JSON error response: `{"error": {"code": "...", "message": "..."}}`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response<ProxyBody> {
    let body = error_body(code, message);
    let mut res = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync());
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
