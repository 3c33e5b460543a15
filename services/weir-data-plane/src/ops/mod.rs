//! One function per Kinesis operation, and what they share.

/// Every stream-scoped request has `StreamName` and `StreamARN` members; this builds the
/// selector from them.
macro_rules! stream_ref {
    ($req:expr) => {
        $crate::ops::StreamRef {
            stream_name: $req.stream_name.clone(),
            stream_arn: $req.stream_arn.clone(),
        }
    };
}

mod account;
mod capacity;
pub(crate) mod consumers;
mod distribution;
mod encryption;
mod monitoring;
mod policies;
pub(crate) mod reads;
pub(crate) mod records;
mod reshard;
mod routing;
mod streams;
mod tags;

use std::sync::Arc;

use axum::response::Response;
use weir_contracts::StreamRecord;
use weir_core::{stream_name_from_arn, Violations};

use crate::error::KinesisError;
use crate::gateway::DataPlane;
use crate::protocol::Format;

/// Every operation a node serves: [`dispatch`]'s, and SubscribeToShard (the gateway
/// serves it itself, as its answer is a stream).
pub const OPERATIONS: &[&str] = &[
    "CreateStream",
    "DeleteStream",
    "DescribeStream",
    "DescribeStreamSummary",
    "ListStreams",
    "ListShards",
    "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod",
    "AddTagsToStream",
    "ListTagsForStream",
    "RemoveTagsFromStream",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "PutResourcePolicy",
    "GetResourcePolicy",
    "DeleteResourcePolicy",
    "DescribeLimits",
    "UpdateStreamMode",
    "UpdateStreamWarmThroughput",
    "UpdateMaxRecordSize",
    "StartStreamEncryption",
    "StopStreamEncryption",
    "EnableEnhancedMonitoring",
    "DisableEnhancedMonitoring",
    "DescribeAccountSettings",
    "UpdateAccountSettings",
    "UpdateStreamRecordDistributionStrategy",
    "PutRecord",
    "PutRecords",
    "GetShardIterator",
    "GetRecords",
    "SplitShard",
    "MergeShards",
    "UpdateShardCount",
    "RegisterStreamConsumer",
    "DescribeStreamConsumer",
    "ListStreamConsumers",
    "DeregisterStreamConsumer",
    "SubscribeToShard",
];

/// Whether `name` is an operation this server serves.
pub fn is_operation(name: &str) -> bool {
    OPERATIONS.contains(&name)
}

/// Runs `operation` on `body`, answering in `format`.
pub async fn dispatch(
    plane: &DataPlane,
    operation: &str,
    format: Format,
    body: &[u8],
) -> Result<Response, KinesisError> {
    let first = dispatch_once(plane, operation, format, body).await;
    // A node learns of new streams from its heartbeats, so one created a moment ago
    // (through REST or another node) may not be in its copy yet. Before answering "not
    // found", refresh once and try again: a request that found no stream did nothing.
    match first {
        Err(KinesisError::ResourceNotFound(_)) if plane.may_refresh_metadata() => {
            if let Some(cluster) = plane.cluster() {
                let _ = cluster.heartbeat(&plane.metadata()).await;
            }
            dispatch_once(plane, operation, format, body).await
        }
        other => other,
    }
}

async fn dispatch_once(
    plane: &DataPlane,
    operation: &str,
    format: Format,
    body: &[u8],
) -> Result<Response, KinesisError> {
    macro_rules! op {
        ($handler:path) => {{
            let request = format.decode(body)?;
            let answer = $handler(plane, request).await?;
            Ok(format.ok(&answer))
        }};
    }
    match operation {
        "CreateStream" => op!(streams::create_stream),
        "DeleteStream" => op!(streams::delete_stream),
        "DescribeStream" => op!(streams::describe_stream),
        "DescribeStreamSummary" => op!(streams::describe_stream_summary),
        "ListStreams" => op!(streams::list_streams),
        "ListShards" => op!(streams::list_shards),
        "IncreaseStreamRetentionPeriod" => op!(streams::increase_retention),
        "DecreaseStreamRetentionPeriod" => op!(streams::decrease_retention),
        "AddTagsToStream" => op!(tags::add_tags),
        "ListTagsForStream" => op!(tags::list_tags),
        "RemoveTagsFromStream" => op!(tags::remove_tags),
        "TagResource" => op!(tags::tag_resource),
        "UntagResource" => op!(tags::untag_resource),
        "ListTagsForResource" => op!(tags::list_tags_for_resource),
        "PutResourcePolicy" => op!(policies::put),
        "GetResourcePolicy" => op!(policies::get),
        "DeleteResourcePolicy" => op!(policies::delete),
        "DescribeLimits" => op!(streams::describe_limits),
        "UpdateStreamMode" => op!(capacity::update_stream_mode),
        "UpdateStreamWarmThroughput" => op!(capacity::update_warm_throughput),
        "UpdateMaxRecordSize" => op!(capacity::update_max_record_size),
        "StartStreamEncryption" => op!(encryption::start),
        "StopStreamEncryption" => op!(encryption::stop),
        "EnableEnhancedMonitoring" => op!(monitoring::enable),
        "DisableEnhancedMonitoring" => op!(monitoring::disable),
        "DescribeAccountSettings" => op!(account::describe),
        "UpdateAccountSettings" => op!(account::update),
        "UpdateStreamRecordDistributionStrategy" => op!(distribution::update),
        "PutRecord" => op!(records::put_record),
        "PutRecords" => op!(records::put_records),
        "GetShardIterator" => op!(reads::get_shard_iterator),
        "GetRecords" => {
            let answer = reads::get_records(plane, format.decode(body)?).await?;
            // Encoding up to 10 MiB of payload is CPU work: keep it off the runtime threads.
            let body = tokio::task::spawn_blocking(move || match format {
                Format::Json => Ok(answer.to_json()),
                Format::Cbor => format.encode(&answer),
            })
            .await
            .map_err(|e| KinesisError::Internal(format!("encode task failed: {e}")))??;
            Ok(format.ok_raw(body))
        }
        "SplitShard" => op!(reshard::split_shard),
        "MergeShards" => op!(reshard::merge_shards),
        "UpdateShardCount" => op!(reshard::update_shard_count),
        "RegisterStreamConsumer" => op!(consumers::register),
        "DescribeStreamConsumer" => op!(consumers::describe),
        "ListStreamConsumers" => op!(consumers::list),
        "DeregisterStreamConsumer" => op!(consumers::deregister),
        _ => Err(KinesisError::UnknownOperation(format!(
            "Operation '{operation}' is not supported by this Weir endpoint."
        ))),
    }
}

/// The answer of operations that return nothing: AWS sends no body at all for them.
pub use crate::protocol::NoBody as Empty;

/// The stream selector every stream-scoped request carries.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamRef {
    /// Stream name.
    pub stream_name: Option<String>,
    /// Stream ARN, accepted wherever the name is.
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}

impl StreamRef {
    /// Validates the name or ARN into `violations` (the caller reports them together with
    /// its own checks) and returns the stream name if one could be determined.
    pub fn check(&self, violations: &mut Violations) -> Option<String> {
        if let Some(name) = &self.stream_name {
            violations.stream_name(name, "streamName");
        }
        if let Some(arn) = &self.stream_arn {
            // As for names: the pattern first, so an empty ARN breaks both.
            violations.pattern(
                arn,
                "streamARN",
                stream_name_from_arn(arn).is_some(),
                "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
            );
            violations.length(arn, "streamARN", 1, 2048);
        }
        match (&self.stream_name, &self.stream_arn) {
            (Some(name), _) => Some(name.clone()),
            (None, Some(arn)) => stream_name_from_arn(arn).map(str::to_string),
            (None, None) => None,
        }
    }

    /// Resolves to a stream name after validation: exactly one of name and ARN must say
    /// which stream, and they must agree when both are given.
    pub fn resolve(&self, name: Option<String>) -> Result<String, KinesisError> {
        let Some(name) = name else {
            return Err(KinesisError::InvalidArgument(
                "Either StreamName or StreamARN should be provided.".into(),
            ));
        };
        if let (Some(_), Some(arn)) = (&self.stream_name, &self.stream_arn) {
            if stream_name_from_arn(arn) != Some(name.as_str()) {
                return Err(KinesisError::InvalidArgument(format!(
                    "StreamARN {arn} does not match StreamName {name}."
                )));
            }
        }
        Ok(name)
    }
}

/// Validates a request's stream selector plus `extra` checks, then looks the stream up.
pub fn stream_for(
    plane: &DataPlane,
    selector: &StreamRef,
    mut violations: Violations,
) -> Result<Arc<StreamRecord>, KinesisError> {
    let name = selector.check(&mut violations);
    KinesisError::validation(violations)?;
    let name = selector.resolve(name)?;
    Ok(plane.catalog.stream(&name)?)
}
