//! SubscribeToShard (enhanced fan-out): records pushed to a registered consumer as AWS
//! event-stream events, within milliseconds of being committed.
//!
//! The node a client calls validates the request and either serves it (it leads the
//! shard) or proxies it as a stream to the leader. Either way the subscription follows
//! the shard when its leader changes, resuming from the position after the last event,
//! so the client sees one unbroken stream. See `session` for the serving loop and `hub`
//! for the shared read at the tail.

pub mod events;
pub mod hub;
mod registry;
mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use weir_core::{shard_id, shard_ordinal, Violations};

use crate::error::KinesisError;
use crate::gateway::DataPlane;
use crate::protocol::{Format, Timestamp};

pub use registry::Subscriptions;

/// How long one subscription lasts unless configured otherwise (AWS: 5 minutes).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// A second subscription of the same consumer to the same shard within this long of the
/// first is refused with ResourceInUseException; after it, the new one replaces the old.
pub const RESUBSCRIBE_GUARD: Duration = Duration::from_secs(5);

/// Subscriptions one node serves or proxies at once; beyond it LimitExceededException.
/// Each holds at most a few events in memory (see `session::EVENT_QUEUE`).
pub const MAX_SUBSCRIPTIONS_PER_NODE: usize = 2_000;

/// A consumer's subscription is limited to this many bytes a second per shard.
pub const SUBSCRIPTION_BYTES_PER_SEC: f64 = 2.0 * 1024.0 * 1024.0;

/// A SubscribeToShard request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeInput {
    #[serde(rename = "ConsumerARN")]
    consumer_arn: Option<String>,
    shard_id: Option<String>,
    starting_position: Option<StartingPosition>,
}

/// Where a subscription starts.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartingPosition {
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Timestamp>,
}

/// The request a node sends the shard's leader to serve a subscription it proxies.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ForwardedSubscribe<'a> {
    #[serde(rename = "ConsumerARN")]
    consumer_arn: &'a str,
    shard_id: String,
    starting_position: &'a StartingPosition,
}

/// A validated subscription: which consumer reads which shard, from where.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub consumer_arn: String,
    pub consumer_name: String,
    pub consumer_created_ms: i64,
    pub stream_name: String,
    pub stream_uid: i64,
    pub ordinal: u64,
    pub start: StartingPosition,
}

impl Target {
    /// The body of the request that serves this subscription on another node, starting
    /// at `start`.
    fn forwarded_body(&self, format: Format, start: &StartingPosition) -> Vec<u8> {
        format
            .encode(&ForwardedSubscribe {
                consumer_arn: &self.consumer_arn,
                shard_id: shard_id(self.ordinal),
                starting_position: start,
            })
            .unwrap_or_default()
    }
}

/// How a request reached this node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Routing {
    /// From another node of the cluster: serve it here or end (the caller re-routes).
    pub internal: bool,
    /// The generation the calling node routed it under.
    pub generation: Option<u64>,
    /// It continues a subscription that began elsewhere.
    pub resume: bool,
}

/// Serves a SubscribeToShard: an error answer, or a 200 whose body is the event stream.
pub async fn subscribe(
    plane: Arc<DataPlane>,
    format: Format,
    body: &[u8],
    headers: &HeaderMap,
    internal: bool,
    generation: Option<u64>,
) -> Result<Response, KinesisError> {
    let input: SubscribeInput = format.decode(body)?;
    let routing = Routing {
        internal,
        generation,
        resume: internal && headers.contains_key(crate::cluster::RESUME_HEADER),
    };
    let target = match resolve(&plane, &input) {
        Err(KinesisError::ResourceNotFound(_)) if plane.may_refresh_metadata() => {
            if let Some(cluster) = plane.cluster() {
                let _ = cluster.heartbeat(&plane.metadata()).await;
            }
            resolve(&plane, &input)?
        }
        other => other?,
    };
    let body = session::open(plane, format, target, routing).await?;
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static(events::EVENT_STREAM_CONTENT_TYPE),
    );
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-RequestId", id);
    }
    Ok(response)
}

/// Validates the request as the model says, then finds its consumer and shard.
fn resolve(plane: &DataPlane, input: &SubscribeInput) -> Result<Target, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&input.consumer_arn, "consumerARN");
    violations.required(&input.shard_id, "shardId");
    violations.required(&input.starting_position, "startingPosition");
    let parsed = input.consumer_arn.as_ref().and_then(|arn| {
        violations.length(arn, "consumerARN", 1, 2048);
        let parsed = crate::ops::consumers::parse_consumer_arn(arn)
            .filter(|(_, _, second)| second.is_some());
        violations.pattern(
            arn,
            "consumerARN",
            parsed.is_some() || arn.is_empty(),
            "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+",
        );
        parsed
    });
    if let Some(id) = &input.shard_id {
        violations.stream_name(id, "shardId");
    }
    if let Some(start) = &input.starting_position {
        violations.required(&start.kind, "startingPosition.type");
        crate::ops::reads::check_start(
            &mut violations,
            start.kind.as_deref(),
            "startingPosition.type",
            start.sequence_number.as_deref(),
            "startingPosition.sequenceNumber",
        );
    }
    KinesisError::validation(violations)?;
    let (stream_name, consumer_name, second) = parsed.unwrap_or_default();
    let start = input.starting_position.clone().unwrap_or_default();
    let kind = start.kind.as_deref().unwrap_or_default();
    let needs_sequence = matches!(kind, "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER");
    if needs_sequence != start.sequence_number.is_some() {
        return Err(KinesisError::InvalidArgument(if needs_sequence {
            format!("StartingPosition.SequenceNumber is required for StartingPosition.Type {kind}.")
        } else {
            format!(
                "StartingPosition.SequenceNumber must not be set for StartingPosition.Type {kind}."
            )
        }));
    }
    let account = plane.catalog.settings().account_id;
    let stream = plane.catalog.stream(&stream_name)?;
    let consumer = stream
        .consumers
        .get(&consumer_name)
        .filter(|c| second == Some(c.created_at_ms / 1000))
        .ok_or_else(|| {
            KinesisError::ResourceNotFound(format!(
                "Consumer {} not found.",
                input.consumer_arn.as_deref().unwrap_or_default()
            ))
        })?;
    if crate::ops::consumers::status(plane, consumer) != "ACTIVE" {
        return Err(KinesisError::ResourceInUse(format!(
            "Consumer {} is {}, not ACTIVE; subscribe once DescribeStreamConsumer reports it ACTIVE.",
            input.consumer_arn.as_deref().unwrap_or_default(),
            crate::ops::consumers::status(plane, consumer)
        )));
    }
    let id = input.shard_id.clone().unwrap_or_default();
    let shard = shard_ordinal(&id)
        .and_then(|ordinal| stream.shard(ordinal))
        .ok_or_else(|| {
            KinesisError::ResourceNotFound(format!(
                "Shard {id} in stream {stream_name} under account {account} does not exist"
            ))
        })?;
    Ok(Target {
        consumer_arn: input.consumer_arn.clone().unwrap_or_default(),
        consumer_name: consumer.name.clone(),
        consumer_created_ms: consumer.created_at_ms,
        stream_name: stream.name.clone(),
        stream_uid: stream.uid,
        ordinal: shard.ordinal,
        start,
    })
}
