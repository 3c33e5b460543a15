//! EnableEnhancedMonitoring and DisableEnhancedMonitoring: a stream's shard-level
//! metrics. The control plane stores them; nodes export per-shard series only for the
//! metrics turned on (`telemetry`).

use serde::{Deserialize, Serialize};
use weir_contracts::SHARD_LEVEL_METRICS;
use weir_core::Violations;

use super::{stream_for, StreamRef};
use crate::error::KinesisError;
use crate::gateway::DataPlane;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MonitoringInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_level_metrics: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MonitoringOutput {
    stream_name: String,
    current_shard_level_metrics: Vec<String>,
    desired_shard_level_metrics: Vec<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
}

/// The model's enum for a ShardLevelMetrics member, in the order AWS's message lists it.
const ENUM_MESSAGE: &str = "Member must satisfy enum value set: [IteratorAgeMilliseconds, ALL, OutgoingBytes, IncomingRecords, ReadProvisionedThroughputExceeded, WriteProvisionedThroughputExceeded, IncomingBytes, OutgoingRecords]";

async fn update(
    plane: &DataPlane,
    req: MonitoringInput,
    enable: bool,
) -> Result<MonitoringOutput, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.shard_level_metrics, "shardLevelMetrics");
    if let Some(metrics) = &req.shard_level_metrics {
        let shown = format!("[{}]", metrics.join(", "));
        if metrics.is_empty() || metrics.len() > 7 {
            violations.push(
                Some(&shown),
                "shardLevelMetrics",
                if metrics.is_empty() {
                    "have length greater than or equal to 1"
                } else {
                    "have length less than or equal to 7"
                },
            );
        }
        if metrics
            .iter()
            .any(|m| m != "ALL" && !SHARD_LEVEL_METRICS.contains(&m.as_str()))
        {
            violations.push(
                Some(&shown),
                "shardLevelMetrics",
                &format!("satisfy constraint: [{ENUM_MESSAGE}]"),
            );
        }
    }
    let selector = StreamRef {
        stream_name: req.stream_name.clone(),
        stream_arn: req.stream_arn.clone(),
    };
    let stream = stream_for(plane, &selector, violations)?;
    let (current, desired) = plane
        .admin()?
        .update_enhanced_monitoring(
            &stream.name,
            req.shard_level_metrics.unwrap_or_default(),
            enable,
        )
        .await?;
    Ok(MonitoringOutput {
        stream_arn: plane.catalog.arn(&stream.name),
        stream_name: stream.name.clone(),
        current_shard_level_metrics: current,
        desired_shard_level_metrics: desired,
    })
}

/// EnableEnhancedMonitoring.
pub async fn enable(
    plane: &DataPlane,
    req: MonitoringInput,
) -> Result<MonitoringOutput, KinesisError> {
    update(plane, req, true).await
}

/// DisableEnhancedMonitoring.
pub async fn disable(
    plane: &DataPlane,
    req: MonitoringInput,
) -> Result<MonitoringOutput, KinesisError> {
    update(plane, req, false).await
}
