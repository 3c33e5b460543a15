//! Stream management operations, forwarded to the control plane.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weir_contracts::{
    CreateStream, RetentionChange, ShardRecord, StreamMode, StreamRecord, StreamStatus,
};
use weir_core::{shard_id, shard_ordinal, SequenceNumber, Violations};

use super::{stream_for, Empty};
use crate::error::KinesisError;
use crate::gateway::DataPlane;
use crate::protocol::Timestamp;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamModeOut {
    stream_mode: &'static str,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateStreamInput {
    stream_name: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    shard_count: Option<i64>,
    stream_mode_details: Option<super::capacity::StreamModeDetails>,
    tags: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    warm_throughput_mi_bps: Option<i64>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    max_record_size_in_ki_b: Option<i64>,
}

pub async fn create_stream(
    plane: &DataPlane,
    req: CreateStreamInput,
) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.stream_name, "streamName");
    if let Some(count) = req.shard_count {
        violations.range(count, "shardCount", Some(1), None);
    }
    let mode = super::capacity::parse_mode(
        req.stream_mode_details.as_ref(),
        &mut violations,
        "streamModeDetails",
    );
    super::capacity::check_max_record_size(req.max_record_size_in_ki_b, &mut violations);
    if let Some(mibps) = req.warm_throughput_mi_bps {
        violations.range(mibps, "warmThroughputMiBps", Some(0), None);
    }
    if let Some(tags) = &req.tags {
        if tags.is_empty() {
            violations.push(Some("{}"), "tags", "have length greater than or equal to 1");
        }
    }
    if let Some(name) = &req.stream_name {
        violations.stream_name(name, "streamName");
    }
    KinesisError::validation(violations)?;
    if mode == Some(StreamMode::OnDemand) && req.shard_count.is_some() {
        return Err(KinesisError::InvalidArgument(
            "ShardCount must not be specified for a stream in ON_DEMAND mode.".into(),
        ));
    }
    plane
        .admin()?
        .create_stream(CreateStream {
            name: req.stream_name.unwrap_or_default(),
            shard_count: req.shard_count.map(|c| c.min(i64::from(u32::MAX)) as u32),
            mode,
            retention_hours: None,
            tags: req.tags.unwrap_or_default(),
            replication_factor: None,
            shard_limits: None,
            max_record_size_kib: req.max_record_size_in_ki_b.map(|k| k as u32),
            warm_throughput_mibps: req
                .warm_throughput_mi_bps
                .filter(|m| *m > 0)
                .map(|m| m.min(i64::from(u32::MAX)) as u32),
        })
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

pub async fn delete_stream(
    plane: &DataPlane,
    req: DeleteStreamInput,
) -> Result<Empty, KinesisError> {
    let stream = stream_for(plane, &stream_ref!(req), Violations::new())?;
    plane.admin()?.delete_stream(&stream.name).await?;
    Ok(Empty {})
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HashKeyRangeOut {
    starting_hash_key: String,
    ending_hash_key: String,
}

impl HashKeyRangeOut {
    /// The range of a shard.
    pub fn of(shard: &ShardRecord) -> Self {
        Self {
            starting_hash_key: shard.hash_range.start.to_string(),
            ending_hash_key: shard.hash_range.end.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SequenceNumberRange {
    starting_sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ending_sequence_number: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    shard_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    adjacent_parent_shard_id: Option<String>,
    hash_key_range: HashKeyRangeOut,
    sequence_number_range: SequenceNumberRange,
}

/// The Kinesis `Shard` shape of a shard record.
pub fn shard_shape(shard: &ShardRecord) -> Shard {
    Shard {
        shard_id: shard_id(shard.ordinal),
        parent_shard_id: shard.parent.map(shard_id),
        adjacent_parent_shard_id: shard.adjacent_parent.map(shard_id),
        hash_key_range: HashKeyRangeOut::of(shard),
        sequence_number_range: SequenceNumberRange {
            starting_sequence_number: SequenceNumber::new(shard.ordinal, 0).to_string(),
            ending_sequence_number: shard
                .ending_offset
                .map(|end| SequenceNumber::new(shard.ordinal, end.saturating_sub(1)).to_string()),
        },
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnhancedMetrics {
    shard_level_metrics: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescription {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeOut,
    shards: Vec<Shard>,
    has_more_shards: bool,
    retention_period_hours: u32,
    stream_creation_timestamp: Timestamp,
    enhanced_monitoring: Vec<EnhancedMetrics>,
    encryption_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamOutput {
    stream_description: StreamDescription,
}

pub async fn describe_stream(
    plane: &DataPlane,
    req: DescribeStreamInput,
) -> Result<DescribeStreamOutput, KinesisError> {
    let mut violations = Violations::new();
    if let Some(limit) = req.limit {
        violations.range(limit, "limit", Some(1), Some(10000));
    }
    if let Some(start) = &req.exclusive_start_shard_id {
        violations.stream_name(start, "exclusiveStartShardId");
    }
    let stream = stream_for(plane, &stream_ref!(req), violations)?;
    let limit = req.limit.unwrap_or(100) as usize;
    let after = req
        .exclusive_start_shard_id
        .as_deref()
        .and_then(shard_ordinal);
    // A DELETING stream is described without shards, as Kinesis does (kinesalite).
    let deleting = stream.status == StreamStatus::Deleting;
    let mut shards = stream
        .shards
        .iter()
        .filter(|s| !deleting && after.is_none_or(|a| s.ordinal > a));
    let page: Vec<Shard> = shards.by_ref().take(limit).map(shard_shape).collect();
    let has_more_shards = shards.next().is_some();
    Ok(DescribeStreamOutput {
        stream_description: StreamDescription {
            stream_name: stream.name.clone(),
            stream_arn: plane.catalog.arn(&stream.name),
            stream_status: stream.status.as_str(),
            stream_mode_details: StreamModeOut {
                stream_mode: stream.mode.as_str(),
            },
            shards: page,
            has_more_shards,
            retention_period_hours: stream.retention_hours,
            stream_creation_timestamp: Timestamp(stream.created_at_ms),
            enhanced_monitoring: vec![EnhancedMetrics {
                shard_level_metrics: stream.shard_level_metrics.clone(),
            }],
            encryption_type: if stream.encryption.is_some() {
                "KMS"
            } else {
                "NONE"
            },
            key_id: stream.encryption.as_ref().map(|e| e.key_id.clone()),
        },
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamSummaryInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescriptionSummary {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeOut,
    retention_period_hours: u32,
    stream_creation_timestamp: Timestamp,
    enhanced_monitoring: Vec<EnhancedMetrics>,
    encryption_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    open_shard_count: usize,
    consumer_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    warm_throughput: Option<super::capacity::WarmThroughputOut>,
    max_record_size_in_ki_b: u32,
    /// UpdateStreamRecordDistributionStrategy's setting; on-demand streams only.
    #[serde(skip_serializing_if = "Option::is_none")]
    record_distribution_strategy: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamSummaryOutput {
    stream_description_summary: StreamDescriptionSummary,
}

pub async fn describe_stream_summary(
    plane: &DataPlane,
    req: DescribeStreamSummaryInput,
) -> Result<DescribeStreamSummaryOutput, KinesisError> {
    let stream = stream_for(plane, &stream_ref!(req), Violations::new())?;
    Ok(DescribeStreamSummaryOutput {
        stream_description_summary: StreamDescriptionSummary {
            stream_name: stream.name.clone(),
            stream_arn: plane.catalog.arn(&stream.name),
            stream_status: stream.status.as_str(),
            stream_mode_details: StreamModeOut {
                stream_mode: stream.mode.as_str(),
            },
            retention_period_hours: stream.retention_hours,
            stream_creation_timestamp: Timestamp(stream.created_at_ms),
            enhanced_monitoring: vec![EnhancedMetrics {
                shard_level_metrics: stream.shard_level_metrics.clone(),
            }],
            encryption_type: if stream.encryption.is_some() {
                "KMS"
            } else {
                "NONE"
            },
            key_id: stream.encryption.as_ref().map(|e| e.key_id.clone()),
            open_shard_count: stream.open_shards().count(),
            consumer_count: stream.consumers.len(),
            warm_throughput: (stream.mode == StreamMode::OnDemand)
                .then(|| super::capacity::warm_throughput(plane, &stream)),
            max_record_size_in_ki_b: stream.max_record_size_kib,
            record_distribution_strategy: (stream.mode == StreamMode::OnDemand)
                .then(|| stream.record_distribution.clone()),
        },
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    limit: Option<i64>,
    exclusive_start_stream_name: Option<String>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSummary {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeOut,
    stream_creation_timestamp: Timestamp,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsOutput {
    stream_names: Vec<String>,
    has_more_streams: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    stream_summaries: Vec<StreamSummary>,
}

pub async fn list_streams(
    plane: &DataPlane,
    req: ListStreamsInput,
) -> Result<ListStreamsOutput, KinesisError> {
    let mut violations = Violations::new();
    if let Some(limit) = req.limit {
        violations.range(limit, "limit", Some(1), Some(10000));
    }
    if let Some(start) = &req.exclusive_start_stream_name {
        violations.stream_name(start, "exclusiveStartStreamName");
    }
    if let Some(token) = &req.next_token {
        violations.length(token, "nextToken", 1, 1_048_576);
    }
    KinesisError::validation(violations)?;
    let after = match &req.next_token {
        Some(token) => Some(decode_token(token).ok_or_else(|| {
            KinesisError::InvalidArgument(format!(
                "NextToken {token} is not a valid ListStreams token."
            ))
        })?),
        None => req.exclusive_start_stream_name.clone(),
    };
    let limit = req.limit.unwrap_or(100) as usize;
    let (page, more) = plane.catalog.list_streams(after.as_deref(), limit);
    let next_token = if more {
        page.last().map(|s| encode_token(&s.name))
    } else {
        None
    };
    Ok(ListStreamsOutput {
        stream_names: page.iter().map(|s| s.name.clone()).collect(),
        has_more_streams: more,
        next_token,
        stream_summaries: page
            .iter()
            .map(|s| StreamSummary {
                stream_name: s.name.clone(),
                stream_arn: plane.catalog.arn(&s.name),
                stream_status: s.status.as_str(),
                stream_mode_details: StreamModeOut {
                    stream_mode: s.mode.as_str(),
                },
                stream_creation_timestamp: Timestamp(s.created_at_ms),
            })
            .collect(),
    })
}

fn encode_token(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_token(token: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShardFilter {
    r#type: Option<String>,
    shard_id: Option<String>,
    timestamp: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    next_token: Option<String>,
    exclusive_start_shard_id: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    max_results: Option<i64>,
    shard_filter: Option<ShardFilter>,
    /// Read only so that a value of the wrong type is refused as AWS refuses it (it
    /// tells streams of the same name apart, and Weir's names are unique).
    #[serde(default, rename = "StreamCreationTimestamp")]
    _stream_creation_timestamp: Option<crate::protocol::Timestamp>,
}

/// What a ListShards NextToken carries: where the page ended and the filter in force.
#[derive(Debug, Serialize, Deserialize)]
struct ListShardsToken {
    stream: String,
    after: u64,
    filter: Option<ShardFilter>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsOutput {
    shards: Vec<Shard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub async fn list_shards(
    plane: &DataPlane,
    req: ListShardsInput,
) -> Result<ListShardsOutput, KinesisError> {
    let mut violations = Violations::new();
    if let Some(limit) = req.max_results {
        violations.range(limit, "maxResults", Some(1), Some(10000));
    }
    if let Some(start) = &req.exclusive_start_shard_id {
        violations.stream_name(start, "exclusiveStartShardId");
    }
    let (stream, after, filter) = if let Some(token) = &req.next_token {
        if req.stream_name.is_some() || req.stream_arn.is_some() {
            return Err(KinesisError::InvalidArgument(
                "NextToken and StreamName cannot be provided together.".into(),
            ));
        }
        KinesisError::validation(violations)?;
        let decoded: ListShardsToken = decode_token(token)
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| {
                KinesisError::InvalidArgument(format!(
                    "NextToken {token} is not a valid ListShards token."
                ))
            })?;
        let stream = plane.catalog.stream(&decoded.stream)?;
        // Clients send the filter with the first page only; the token carries it on.
        (
            stream,
            Some(decoded.after),
            req.shard_filter.clone().or(decoded.filter),
        )
    } else {
        let stream = stream_for(plane, &stream_ref!(req), violations)?;
        (
            stream,
            req.exclusive_start_shard_id
                .as_deref()
                .and_then(shard_ordinal),
            req.shard_filter.clone(),
        )
    };
    let filtered = filter_shards(&stream, filter.as_ref(), plane.clock.now_ms())?;
    let limit = req.max_results.unwrap_or(1000) as usize;
    let mut iter = filtered
        .into_iter()
        .filter(|s| after.is_none_or(|a| s.ordinal > a));
    let page: Vec<&ShardRecord> = iter.by_ref().take(limit).collect();
    let next_token = if iter.next().is_some() {
        page.last().map(|s| {
            let token = ListShardsToken {
                stream: stream.name.clone(),
                after: s.ordinal,
                filter: filter.clone(),
            };
            encode_token(&serde_json::to_string(&token).unwrap_or_default())
        })
    } else {
        None
    };
    Ok(ListShardsOutput {
        shards: page.into_iter().map(shard_shape).collect(),
        next_token,
    })
}

fn filter_shards<'a>(
    stream: &'a StreamRecord,
    filter: Option<&ShardFilter>,
    now_ms: i64,
) -> Result<Vec<&'a ShardRecord>, KinesisError> {
    let Some(filter) = filter else {
        return Ok(stream.shards.iter().collect());
    };
    let kind = filter.r#type.as_deref().ok_or_else(|| {
        let mut v = Violations::new();
        v.required::<String>(&None, "shardFilter.type");
        KinesisError::Validation(v)
    })?;
    let horizon = now_ms - i64::from(stream.retention_hours) * 3_600_000;
    let shards = stream.shards.iter();
    Ok(match kind {
        "AT_LATEST" => shards.filter(|s| s.is_open()).collect(),
        "AT_TRIM_HORIZON" => shards
            .filter(|s| {
                s.created_at_ms <= horizon.max(stream.created_at_ms)
                    && s.closed_at_ms.is_none_or(|c| c >= horizon)
            })
            .collect(),
        "FROM_TRIM_HORIZON" => shards
            .filter(|s| s.closed_at_ms.is_none_or(|c| c >= horizon))
            .collect(),
        "AFTER_SHARD_ID" => {
            let after = filter
                .shard_id
                .as_deref()
                .and_then(shard_ordinal)
                .ok_or_else(|| {
                    KinesisError::InvalidArgument(
                        "ShardId is required for the AFTER_SHARD_ID filter.".into(),
                    )
                })?;
            shards.filter(|s| s.ordinal > after).collect()
        }
        "AT_TIMESTAMP" | "FROM_TIMESTAMP" => {
            let at = filter
                .timestamp
                .ok_or_else(|| {
                    KinesisError::InvalidArgument(format!(
                        "Timestamp is required for the {kind} filter."
                    ))
                })?
                .0;
            if kind == "AT_TIMESTAMP" {
                shards
                    .filter(|s| {
                        s.created_at_ms <= at.max(stream.created_at_ms)
                            && s.closed_at_ms.is_none_or(|c| c >= at)
                    })
                    .collect()
            } else {
                shards
                    .filter(|s| s.closed_at_ms.is_none_or(|c| c >= at))
                    .collect()
            }
        }
        other => {
            let mut v = Violations::new();
            v.push(
                Some(other),
                "shardFilter.type",
                "satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]",
            );
            return Err(KinesisError::Validation(v));
        }
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetentionInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    retention_period_hours: Option<i64>,
}

async fn change_retention(
    plane: &DataPlane,
    req: RetentionInput,
    change: RetentionChange,
) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.retention_period_hours, "retentionPeriodHours");
    let stream = stream_for(plane, &stream_ref!(req), violations)?;
    let hours = req
        .retention_period_hours
        .unwrap_or_default()
        .clamp(0, i64::from(u32::MAX)) as u32;
    plane
        .admin()?
        .update_retention(&stream.name, hours, change)
        .await?;
    Ok(Empty {})
}

pub async fn increase_retention(
    plane: &DataPlane,
    req: RetentionInput,
) -> Result<Empty, KinesisError> {
    change_retention(plane, req, RetentionChange::Increase).await
}

pub async fn decrease_retention(
    plane: &DataPlane,
    req: RetentionInput,
) -> Result<Empty, KinesisError> {
    change_retention(plane, req, RetentionChange::Decrease).await
}

#[derive(Debug, Deserialize)]
pub struct DescribeLimitsInput {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLimitsOutput {
    shard_limit: u32,
    open_shard_count: u32,
    on_demand_stream_count: u32,
    on_demand_stream_count_limit: u32,
}

pub async fn describe_limits(
    plane: &DataPlane,
    _req: DescribeLimitsInput,
) -> Result<DescribeLimitsOutput, KinesisError> {
    let limits = plane.catalog.limits();
    Ok(DescribeLimitsOutput {
        shard_limit: limits.shard_limit,
        open_shard_count: limits.open_shard_count,
        on_demand_stream_count: limits.on_demand_stream_count,
        on_demand_stream_count_limit: limits.on_demand_stream_limit,
    })
}
