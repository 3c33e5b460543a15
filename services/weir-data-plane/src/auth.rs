//! SigV4 authentication and per-operation authorization of Kinesis requests.
//!
//! Runs before dispatch when authentication is on. The signature covers
//! method, path, query, signed headers and the body's SHA-256, so a tampered body fails
//! like a wrong secret. The stream an operation touches comes from its body (StreamName,
//! StreamARN, ConsumerARN or ResourceARN) or, for GetRecords, from the signed shard
//! iterator. Resource policies of that stream, and of the consumer a consumer operation
//! names, are enforced together with roles: an explicit Deny wins, then a role or a
//! policy Allow grants.

use axum::http::{HeaderMap, Method, Uri};
use weir_auth::{
    kinesis_action, Action, Payload, PolicyDecision, ResourcePolicy, SigV4Verifier, SignedRequest,
};
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
    let (stream, consumer) = resource_of(plane, format, body);
    let role = guard
        .access
        .authorize(&verified.principal, action, stream.as_deref());
    let policy = policy_decision(
        plane,
        &verified.principal,
        action,
        stream.as_deref(),
        consumer.as_ref(),
    );
    // An explicit Deny in a resource policy beats every role; otherwise a role or a
    // policy's Allow grants the action (roles are Weir's identity policies).
    let refusal = match (policy, role) {
        (PolicyDecision::Deny, _) => Some((
            " with an explicit deny in a resource-based policy",
            "explicit deny in a resource policy".to_string(),
        )),
        (_, Ok(())) | (PolicyDecision::Allow, Err(_)) => None,
        (PolicyDecision::NotApplicable, Err(denied)) => Some(("", denied.to_string())),
    };
    if let Some((suffix, detail)) = refusal {
        let resource = match &stream {
            Some(name) => plane.catalog.arn(name),
            None => "*".to_string(),
        };
        let message = format!(
            "User: {} is not authorized to perform: {} on resource: {resource}{suffix}",
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
                &detail,
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
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamMembers {
    #[serde(default)]
    stream_name: Option<String>,
    #[serde(default, rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(default, rename = "ConsumerARN")]
    consumer_arn: Option<String>,
    /// DescribeStreamConsumer and DeregisterStreamConsumer by stream and name.
    #[serde(default)]
    consumer_name: Option<String>,
    /// TagResource and friends: a stream's or a consumer's ARN.
    #[serde(default, rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(default)]
    shard_iterator: Option<String>,
}

/// A consumer a request names: its name and, from an ARN, its registration second.
type ConsumerRef = (String, Option<i64>);

/// The stream a request is about, if it names one, and the consumer, if it names one.
fn resource_of(
    plane: &DataPlane,
    format: Format,
    body: &[u8],
) -> (Option<String>, Option<ConsumerRef>) {
    let members: StreamMembers = match format {
        Format::Json => serde_json::from_slice(body).ok(),
        Format::Cbor => ciborium::from_reader(body).ok(),
    }
    .unwrap_or_default();
    for arn in [&members.consumer_arn, &members.resource_arn] {
        if let Some((stream, name, seconds)) = arn
            .as_deref()
            .filter(|a| a.contains("/consumer/"))
            .and_then(crate::ops::consumers::parse_consumer_arn)
        {
            return (Some(stream), Some((name, seconds)));
        }
    }
    let consumer = members.consumer_name.clone().map(|name| (name, None));
    (stream_of(plane, members), consumer)
}

/// The stream a request is about, if it names one.
fn stream_of(plane: &DataPlane, members: StreamMembers) -> Option<String> {
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

/// What the resource policies of the stream (and of the consumer, for consumer
/// operations) say about `principal` performing `action`. A stored policy that no longer
/// parses (it was valid when stored) counts as a Deny: a policy fails closed.
fn policy_decision(
    plane: &DataPlane,
    principal: &str,
    action: Action,
    stream: Option<&str>,
    consumer: Option<&ConsumerRef>,
) -> PolicyDecision {
    let Some(record) = stream.and_then(|name| plane.catalog.stream(name).ok()) else {
        return PolicyDecision::NotApplicable;
    };
    let mut policies: Vec<(String, &str)> = Vec::new();
    if let Some(text) = &record.resource_policy {
        policies.push((plane.catalog.arn(&record.name), text));
    }
    if let Some((name, seconds)) = consumer {
        let found = record
            .consumers
            .get(name)
            .filter(|c| seconds.is_none_or(|s| s == c.created_at_ms / 1000));
        if let Some((c, text)) = found.and_then(|c| Some((c, c.resource_policy.as_deref()?))) {
            policies.push((plane.catalog.consumer_arn(&record.name, c), text));
        }
    }
    if policies.is_empty() {
        return PolicyDecision::NotApplicable;
    }
    let account = plane.catalog.settings().account_id.clone();
    let mut decision = PolicyDecision::NotApplicable;
    for (arn, text) in policies {
        match ResourcePolicy::parse(text, &arn) {
            Ok(policy) => match policy.evaluate(&account, principal, action, &arn) {
                PolicyDecision::Deny => return PolicyDecision::Deny,
                PolicyDecision::Allow => decision = PolicyDecision::Allow,
                PolicyDecision::NotApplicable => {}
            },
            Err(error) => {
                tracing::error!(%arn, %error, "a stored resource policy does not parse; refusing");
                return PolicyDecision::Deny;
            }
        }
    }
    decision
}
