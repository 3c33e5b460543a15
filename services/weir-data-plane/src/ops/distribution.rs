//! UpdateStreamRecordDistributionStrategy: how an on-demand stream spreads records over
//! its shards (`AUTO` or `USER_PARTITION_KEY`). The control plane stores it and refuses
//! provisioned streams; DescribeStreamSummary reports it for on-demand streams.

use serde::Deserialize;
use weir_contracts::RECORD_DISTRIBUTIONS;
use weir_core::Violations;

use super::{stream_for, Empty, StreamRef};
use crate::error::KinesisError;
use crate::gateway::DataPlane;

/// The model's pattern of a StreamId.
const STREAM_ID_PATTERN: &str = "[a-z0-9]{20}-[a-z0-9]{3}";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateDistributionInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    record_distribution_strategy: Option<String>,
}

/// Whether `id` matches [`STREAM_ID_PATTERN`].
fn is_stream_id(id: &str) -> bool {
    let Some((head, tail)) = id.split_once('-') else {
        return false;
    };
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    head.len() == 20 && tail.len() == 3 && head.chars().chain(tail.chars()).all(allowed)
}

/// UpdateStreamRecordDistributionStrategy.
pub async fn update(
    plane: &DataPlane,
    req: UpdateDistributionInput,
) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.stream_arn, "streamARN");
    // StreamId is "reserved for future use": checked against the model, otherwise unused.
    if let Some(id) = &req.stream_id {
        violations.length(id, "streamId", 1, 24);
        if !id.is_empty() {
            violations.pattern(id, "streamId", is_stream_id(id), STREAM_ID_PATTERN);
        }
    }
    let field = "recordDistributionStrategy";
    violations.required(&req.record_distribution_strategy, field);
    if let Some(strategy) = &req.record_distribution_strategy {
        if !RECORD_DISTRIBUTIONS.contains(&strategy.as_str()) {
            violations.push(
                Some(strategy),
                field,
                &format!(
                    "satisfy enum value set: [{}]",
                    RECORD_DISTRIBUTIONS.join(", ")
                ),
            );
        }
    }
    let selector = StreamRef {
        stream_name: None,
        stream_arn: req.stream_arn.clone(),
    };
    let stream = stream_for(plane, &selector, violations)?;
    let strategy = req.record_distribution_strategy.unwrap_or_default();
    plane
        .admin()?
        .update_record_distribution(&stream.name, &strategy)
        .await?;
    Ok(Empty {})
}

#[cfg(test)]
mod tests {
    use super::is_stream_id;

    #[test]
    fn stream_ids_follow_the_model_pattern() {
        assert!(is_stream_id("abcdefghij0123456789-a1b"));
        assert!(!is_stream_id("ABCDEFGHIJ0123456789-a1b"));
        assert!(!is_stream_id("abcdefghij0123456789a1b"));
        assert!(!is_stream_id("abcdefghij012345678-a1b"));
        assert!(!is_stream_id("abcdefghij0123456789-a1"));
    }
}
