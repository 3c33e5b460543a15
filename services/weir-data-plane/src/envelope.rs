//! What Kinesis answers before an operation runs: CORS, the HTTP method, the content
//! type, an empty or non-object body, and an unknown target. These answers are AWS's,
//! as recorded by kinesalite against the live service (`mhart/kinesalite`, `index.js`):
//!
//! - a browser's preflight (`OPTIONS` with `Origin`) gets the CORS headers and an empty
//!   200; every answer to a request with `Origin` allows any origin;
//! - any method but POST: 403 with an XML `AccessDeniedException`;
//! - an empty body: `{"__type": "SerializationException"}` (or UnknownOperation for an
//!   unknown target), in JSON for `application/x-amz-json-1.1` and in CBOR otherwise;
//! - an unknown content type: 404 `<UnknownOperationException/>`, or the 403 above when
//!   the target names no service and operation;
//! - `application/json` (JSON 1.0): a 200 wrapper `{"Output": {"__type": ...}, "Version":
//!   "1.0"}` naming SerializationException or UnknownOperationException;
//! - a JSON body that is not an object, or an unknown target: 400 with `__type` only.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::protocol::Format;

/// The `X-Amz-Target` prefix of Kinesis operations.
pub const TARGET_PREFIX: &str = "Kinesis_20131202.";

/// Headers a browser may read from an answer.
const EXPOSED: &str =
    "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";

/// The three content types Kinesis understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json11,
    Json10,
    Cbor,
    Other,
}

fn kind(headers: &HeaderMap) -> Kind {
    let value = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match value.split(';').next().unwrap_or("").trim() {
        "application/x-amz-json-1.1" => Kind::Json11,
        "application/json" => Kind::Json10,
        "application/x-amz-cbor-1.1" => Kind::Cbor,
        _ => Kind::Other,
    }
}

/// Answers a CORS preflight, or `None` for any other request.
pub fn preflight(method: &Method, headers: &HeaderMap) -> Option<Response> {
    if method != Method::OPTIONS || !headers.contains_key("origin") {
        return None;
    }
    let mut response = StatusCode::OK.into_response();
    let out = response.headers_mut();
    out.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    for (asked, allowed) in [
        (
            "access-control-request-headers",
            "access-control-allow-headers",
        ),
        (
            "access-control-request-method",
            "access-control-allow-methods",
        ),
    ] {
        if let Some(value) = headers.get(asked) {
            out.insert(allowed, value.clone());
        }
    }
    out.insert("access-control-max-age", HeaderValue::from_static("172800"));
    stamp(&mut response);
    Some(response)
}

/// Adds what every answer carries: a request id, and the CORS headers when the request
/// came from a browser (`Origin`).
pub fn finish(request: &HeaderMap, mut response: Response) -> Response {
    if request.contains_key("origin") {
        let out = response.headers_mut();
        out.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        out.insert(
            "access-control-expose-headers",
            HeaderValue::from_static(EXPOSED),
        );
    }
    if !response.headers().contains_key("x-amzn-requestid") {
        stamp(&mut response);
    }
    // Every answer but a CORS preflight carries AWS's x-amz-id-2 too, the XML ones included.
    if !response.headers().contains_key("x-amz-id-2") {
        if let Ok(id) = HeaderValue::from_str(&crate::protocol::amz_id_2()) {
            response.headers_mut().insert("x-amz-id-2", id);
        }
    }
    response
}

/// A fresh request id (a UUID, as AWS sends) on an answer.
pub fn stamp(response: &mut Response) {
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-RequestId", id);
    }
}

/// The 403 Kinesis gives a request it cannot attribute to an operation.
pub fn access_denied() -> Response {
    xml(
        StatusCode::FORBIDDEN,
        "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n",
    )
}

/// Kinesis's XML answers carry no Content-Type header (kinesalite recorded it so).
fn xml(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().remove("content-type");
    response
}

/// Checks the envelope of a POST: `Err` is the answer to send instead of running the
/// operation, `Ok` the format to decode and answer in. `known` says whether an operation
/// name is one this server serves.
pub fn check(
    headers: &HeaderMap,
    body: &[u8],
    known: impl Fn(&str) -> bool,
) -> Result<Format, Box<Response>> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = target.strip_prefix(TARGET_PREFIX);
    let target_valid = operation.is_some_and(&known);
    let names_something = target
        .split_once('.')
        .is_some_and(|(s, o)| !s.is_empty() && !o.is_empty());
    let kind = kind(headers);
    if body.is_empty() {
        let type_name = if target_valid {
            "SerializationException"
        } else {
            "UnknownOperationException"
        };
        let format = if kind == Kind::Json11 {
            Format::Json
        } else {
            Format::Cbor
        };
        return Err(Box::new(format.bare_error(type_name)));
    }
    match kind {
        Kind::Other if !names_something => return Err(Box::new(access_denied())),
        Kind::Other => {
            return Err(Box::new(xml(
                StatusCode::NOT_FOUND,
                "<UnknownOperationException/>\n",
            )))
        }
        Kind::Json10 => {
            // As kinesalite recorded Kinesis: a 404 for any JSON object (the JSON 1.0
            // protocol reaches no operation), a 400 for anything else, `__type` alone.
            let (status, type_name) = if is_json_object(body) {
                (
                    StatusCode::NOT_FOUND,
                    "com.amazon.coral.service#UnknownOperationException",
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    "com.amazon.coral.service#SerializationException",
                )
            };
            let wrapper = serde_json::json!({"Output": {"__type": type_name}, "Version": "1.0"});
            let mut response = (status, wrapper.to_string()).into_response();
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            return Err(Box::new(response));
        }
        Kind::Json11 if !is_json_object(body) => {
            return Err(Box::new(Format::Json.bare_error("SerializationException")));
        }
        _ => {}
    }
    let format = if kind == Kind::Cbor {
        Format::Cbor
    } else {
        Format::Json
    };
    if !target_valid {
        return Err(Box::new(format.bare_error("UnknownOperationException")));
    }
    Ok(format)
}

/// Whether a body starts like a JSON object (the full parse is the operation's).
fn is_json_object(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}
