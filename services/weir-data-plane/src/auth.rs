//! SigV4 authentication and per-operation authorization of Kinesis requests.
//!
//! Runs before dispatch when authentication is on. The signature covers
//! method, path, query, signed headers and the body's SHA-256, so a tampered body fails
//! like a wrong secret. The stream an operation touches comes from its body (StreamName,
//! StreamARN or ConsumerARN) or, for GetRecords, from the signed shard iterator.

use axum::http::{HeaderMap, Method, Uri};
use weir_auth::{kinesis_action, Payload, SigV4Verifier, SignedRequest};
use weir_contracts::{Guard, Outcome};

use crate::gateway::DataPlane;
use crate::protocol::Format;
use crate::KinesisError;

/// Verifies the signature and checks the principal's permission for `operation`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn check(
    plane: &DataPlane,
    guard: &Guard,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    operation: &str,
    format: Format,
    source: &str,
) -> Result<(), KinesisError> {
    let host = uri.authority().map(|a| a.as_str().to_string());
    let mut pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    // HTTP/2 carries the host as the `:authority` pseudo-header, which hyper moves into
    // the URI. The JS v3 SDK signs it under that name; others sign `host`.
    if let Some(host) = host.as_deref() {
        pairs.push((":authority", host));
        if !headers.contains_key("host") {
            pairs.push(("host", host));
        }
    }
    let request = SignedRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &pairs,
        payload: Payload::Bytes(body),
    };
    let verifier = SigV4Verifier::new("kinesis");
    let lookup = |id: &str| guard.access.credential(id);
    let action_name = kinesis_action(operation).map_or("kinesis:Unknown", |a| a.as_str());
    let verified = match verifier.verify(&request, std::time::SystemTime::now(), &lookup) {
        Ok(v) => v,
        Err(error) => {
            guard
                .audit
                .record(
                    "-",
                    action_name,
                    "kinesis",
                    source,
                    Outcome::Unauthenticated,
                    &error.to_string(),
                )
                .await;
            return Err(KinesisError::Auth(
                error.aws_error_type(),
                error.to_string(),
            ));
        }
    };
    let Some(action) = kinesis_action(operation) else {
        // An unknown operation: dispatch answers UnknownOperationException.
        return Ok(());
    };
    let stream = stream_of(plane, format, body);
    if let Err(denied) = guard
        .access
        .authorize(&verified.principal, action, stream.as_deref())
    {
        let resource = match &stream {
            Some(name) => plane.catalog.arn(name),
            None => "*".to_string(),
        };
        let message = format!(
            "User: {} is not authorized to perform: {} on resource: {resource}",
            verified.principal,
            action.as_str()
        );
        guard
            .audit
            .record(
                &verified.principal,
                action.as_str(),
                &resource,
                source,
                Outcome::Denied,
                &denied.to_string(),
            )
            .await;
        return Err(KinesisError::Auth("AccessDeniedException", message));
    }
    if action.class() == weir_auth::OpClass::Manage {
        let resource = stream.as_deref().unwrap_or("*");
        guard
            .audit
            .record(
                &verified.principal,
                action.as_str(),
                &format!("stream/{resource}"),
                source,
                Outcome::Allowed,
                "",
            )
            .await;
    }
    Ok(())
}

/// The members that name the stream an operation touches. Every other member (the
/// records of a large PutRecords) is skipped, not copied.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamMembers {
    #[serde(default)]
    stream_name: Option<String>,
    #[serde(default, rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(default, rename = "ConsumerARN")]
    consumer_arn: Option<String>,
    /// TagResource and friends: a stream's or a consumer's ARN.
    #[serde(default, rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(default)]
    shard_iterator: Option<String>,
}

/// The stream a request is about, if it names one.
fn stream_of(plane: &DataPlane, format: Format, body: &[u8]) -> Option<String> {
    let members: StreamMembers = match format {
        Format::Json => serde_json::from_slice(body).ok()?,
        Format::Cbor => ciborium::from_reader(body).ok()?,
    };
    if members.stream_name.is_some() {
        return members.stream_name;
    }
    if let Some(name) = members
        .stream_arn
        .as_deref()
        .and_then(weir_core::stream_name_from_arn)
    {
        return Some(name.to_string());
    }
    for arn in [&members.consumer_arn, &members.resource_arn] {
        if let Some((stream, _, _)) = arn
            .as_deref()
            .filter(|a| a.contains("/consumer/"))
            .and_then(crate::ops::consumers::parse_consumer_arn)
        {
            return Some(stream);
        }
    }
    if let Some(name) = members
        .resource_arn
        .as_deref()
        .and_then(weir_core::stream_name_from_arn)
    {
        return Some(name.to_string());
    }
    let token = members.shard_iterator?;
    plane.iterators.decode(&token).map(|it| it.stream)
}
