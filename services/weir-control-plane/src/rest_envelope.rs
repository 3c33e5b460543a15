//! What every REST request and answer goes through, whatever the endpoint: bodies are
//! JSON objects, every error is an [`ErrorBody`], and the OpenAPI document says so.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use crate::rest::{ApiError, ErrorBody, ErrorDetail};
use crate::ControlPlaneError;

/// A tag map: keys of 1-128 characters, values of 0-256, at most 50 per stream.
pub(crate) fn tag_map() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(128)),
        ))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(256)),
        ))
        .max_properties(Some(50))
        .description(Some("Tag key to value"))
        .build()
}

/// Request bodies are JSON objects: anything else (an array, a bare value) is refused
/// before it reaches a handler, and numbers written as integral floats (`24.0`) are
/// read as the integers they are, as JSON Schema counts them.
pub async fn object_bodies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let json = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_REST_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError(ControlPlaneError::InvalidArgument(format!(
                "The request body exceeds {MAX_REST_BODY} bytes."
            )))
            .into_response()
        }
    };
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        bytes
    } else {
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(map)) => {
                let mut value = serde_json::Value::Object(map);
                integral_floats_as_integers(&mut value);
                axum::body::Bytes::from(value.to_string())
            }
            Ok(_) => {
                return ApiError(ControlPlaneError::InvalidArgument(
                    "Invalid request body: it must be a JSON object.".into(),
                ))
                .into_response()
            }
            // Left to the handler, which names what is wrong.
            Err(_) => bytes,
        }
    };
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// The largest REST request body.
const MAX_REST_BODY: usize = 2 * 1024 * 1024;

fn integral_floats_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0) {
                if f >= 0.0 && f < u64::MAX as f64 {
                    *value = serde_json::Value::from(f as u64);
                } else if f < 0.0 && f >= i64::MIN as f64 {
                    *value = serde_json::Value::from(f as i64);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// Every operation can answer an error in [`ErrorBody`]'s shape (400 for bad input, 401
/// and 403 with `--auth`, 404, 409, 429 for limits, 5xx): declared once, as each
/// operation's `default` response.
pub(crate) fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let error = ResponseBuilder::new()
        .description(
            "An error: 400 bad input, 401/403 authentication and permissions (with --auth), \
             404 not found, 409 in use, 429 a limit, 5xx the server. The code is the Kinesis \
             exception name without `Exception`.",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            operation
                .responses
                .responses
                .entry("default".to_string())
                .or_insert_with(|| error.clone().into());
        }
    }
}

/// Turns the framework's plain-text rejections (a query or path that does not parse, an
/// unknown route, a wrong method) into the API's JSON error shape, so every error a
/// client sees is an [`ErrorBody`].
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (_, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
        StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLarge",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaType",
        s if s.is_server_error() => "InternalFailure",
        _ => "InvalidArgument",
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_string()
    } else {
        text
    };
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
            },
        }),
    )
        .into_response()
}
