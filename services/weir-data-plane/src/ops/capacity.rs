//! Capacity operations: UpdateStreamMode, UpdateStreamWarmThroughput,
//! UpdateMaxRecordSize, and the capacity-mode member several operations share.

use serde::{Deserialize, Serialize};
use weir_contracts::StreamMode;
use weir_core::Violations;

use super::{stream_for, Empty, StreamRef};
use crate::error::KinesisError;
use crate::gateway::DataPlane;

/// `StreamModeDetails` as requests carry it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamModeDetails {
    stream_mode: Option<String>,
}

/// Reads a `StreamModeDetails` member, recording what the model refuses.
pub(super) fn parse_mode(
    details: Option<&StreamModeDetails>,
    violations: &mut Violations,
    field: &str,
) -> Option<StreamMode> {
    let details = details?;
    let member = format!("{field}.streamMode");
    match details.stream_mode.as_deref() {
        None => {
            violations.required::<String>(&None, &member);
            None
        }
        Some(text) => {
            let mode = StreamMode::parse(text);
            if mode.is_none() {
                violations.push(
                    Some(text),
                    &member,
                    "satisfy enum value set: [PROVISIONED, ON_DEMAND]",
                );
            }
            mode
        }
    }
}

/// The model's bounds of MaxRecordSizeInKiB.
const MAX_RECORD_SIZE_KIB: (i64, i64) = (1024, 10240);

/// Records a MaxRecordSizeInKiB outside the model's range.
pub(super) fn check_max_record_size(value: Option<i64>, violations: &mut Violations) {
    if let Some(kib) = value {
        let (min, max) = MAX_RECORD_SIZE_KIB;
        violations.range(kib, "maxRecordSizeInKiB", Some(min), Some(max));
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStreamModeInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_mode_details: Option<StreamModeDetails>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    warm_throughput_mi_bps: Option<i64>,
}

pub async fn update_stream_mode(
    plane: &DataPlane,
    req: UpdateStreamModeInput,
) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.stream_arn, "streamARN");
    violations.required(&req.stream_mode_details, "streamModeDetails");
    let mode = parse_mode(
        req.stream_mode_details.as_ref(),
        &mut violations,
        "streamModeDetails",
    );
    if let Some(mibps) = req.warm_throughput_mi_bps {
        violations.range(mibps, "warmThroughputMiBps", Some(0), None);
    }
    let selector = StreamRef {
        stream_name: None,
        stream_arn: req.stream_arn.clone(),
    };
    let stream = stream_for(plane, &selector, violations)?;
    let Some(mode) = mode else {
        return Err(KinesisError::InvalidArgument(
            "StreamModeDetails is missing.".into(),
        ));
    };
    let admin = plane.admin()?;
    admin.update_stream_mode(&stream.name, mode).await?;
    if let Some(mibps) = req.warm_throughput_mi_bps.filter(|m| *m > 0) {
        admin
            .update_warm_throughput(&stream.name, mibps.min(i64::from(u32::MAX)) as u32)
            .await?;
    }
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateWarmThroughputInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    warm_throughput_mi_bps: Option<i64>,
}

/// `WarmThroughput` as answers carry it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WarmThroughputOut {
    /// What the stream was asked to keep ready.
    pub target_mi_bps: u32,
    /// What its open shards take now.
    pub current_mi_bps: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateWarmThroughputOutput {
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_name: String,
    warm_throughput: WarmThroughputOut,
}

pub async fn update_warm_throughput(
    plane: &DataPlane,
    req: UpdateWarmThroughputInput,
) -> Result<UpdateWarmThroughputOutput, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.warm_throughput_mi_bps, "warmThroughputMiBps");
    if let Some(mibps) = req.warm_throughput_mi_bps {
        violations.range(mibps, "warmThroughputMiBps", Some(0), None);
    }
    let selector = StreamRef {
        stream_name: req.stream_name.clone(),
        stream_arn: req.stream_arn.clone(),
    };
    let stream = stream_for(plane, &selector, violations)?;
    let mibps = req
        .warm_throughput_mi_bps
        .unwrap_or_default()
        .clamp(0, i64::from(u32::MAX)) as u32;
    let updated = plane
        .admin()?
        .update_warm_throughput(&stream.name, mibps)
        .await?;
    Ok(UpdateWarmThroughputOutput {
        stream_arn: plane.catalog.arn(&updated.name),
        stream_name: updated.name.clone(),
        warm_throughput: warm_throughput(plane, &updated),
    })
}

/// A stream's warm throughput as DescribeStreamSummary and UpdateStreamWarmThroughput
/// show it: the target, and what its open shards take now.
pub(super) fn warm_throughput(
    plane: &DataPlane,
    stream: &weir_contracts::StreamRecord,
) -> WarmThroughputOut {
    let per_shard = plane.catalog.shard_limits(stream).write_bytes_capacity();
    let current = stream.open_shards().count() as u64 * per_shard / (1024 * 1024);
    WarmThroughputOut {
        target_mi_bps: stream.warm_throughput_mibps,
        current_mi_bps: current.min(u64::from(u32::MAX)) as u32,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateMaxRecordSizeInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    max_record_size_in_ki_b: Option<i64>,
}

pub async fn update_max_record_size(
    plane: &DataPlane,
    req: UpdateMaxRecordSizeInput,
) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.max_record_size_in_ki_b, "maxRecordSizeInKiB");
    check_max_record_size(req.max_record_size_in_ki_b, &mut violations);
    let selector = StreamRef {
        stream_name: None,
        stream_arn: req.stream_arn.clone(),
    };
    let stream = stream_for(plane, &selector, violations)?;
    let kib = req.max_record_size_in_ki_b.unwrap_or_default() as u32;
    plane
        .admin()?
        .update_max_record_size(&stream.name, kib)
        .await?;
    Ok(Empty {})
}
