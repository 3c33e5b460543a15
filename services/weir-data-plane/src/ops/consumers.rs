//! Registered consumers: RegisterStreamConsumer, DescribeStreamConsumer,
//! ListStreamConsumers, DeregisterStreamConsumer. Consumers take ARNs, as in Kinesis.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_contracts::{ConsumerRecord, StreamRecord};
use weir_core::{stream_name_from_arn, Violations};

use super::Empty;
use crate::error::KinesisError;
use crate::gateway::DataPlane;
use crate::protocol::Timestamp;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Consumer {
    consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: String,
    consumer_status: &'static str,
    consumer_creation_timestamp: Timestamp,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    stream_arn: Option<String>,
}

/// A consumer's status: CREATING for the catalog's activation delay after registration,
/// then ACTIVE; DELETING once deregistered, until the control plane removes it.
pub(crate) fn status(plane: &DataPlane, consumer: &ConsumerRecord) -> &'static str {
    let activation = plane.catalog.settings().consumer_activation_ms;
    if consumer.deleting_since_ms.is_some() {
        "DELETING"
    } else if plane.clock.now_ms() - consumer.created_at_ms < activation {
        "CREATING"
    } else {
        "ACTIVE"
    }
}

fn shape(
    plane: &DataPlane,
    stream: &StreamRecord,
    consumer: &ConsumerRecord,
    with_stream: bool,
) -> Consumer {
    Consumer {
        consumer_name: consumer.name.clone(),
        consumer_arn: plane.catalog.consumer_arn(&stream.name, consumer),
        consumer_status: status(plane, consumer),
        consumer_creation_timestamp: Timestamp(consumer.created_at_ms),
        stream_arn: with_stream.then(|| plane.catalog.arn(&stream.name)),
    }
}

/// The model's pattern for a consumer ARN, quoted in validation messages.
pub(crate) const CONSUMER_ARN_PATTERN: &str =
    "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+";

/// Checks a StreamARN member and returns the stream's name.
fn stream_from_arn(
    violations: &mut Violations,
    arn: &Option<String>,
    required: bool,
) -> Option<String> {
    match arn {
        None => {
            if required {
                violations.required::<String>(&None, "streamARN");
            }
            None
        }
        Some(arn) => {
            let name = stream_name_from_arn(arn).map(str::to_string);
            violations.pattern(
                arn,
                "streamARN",
                name.is_some(),
                "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
            );
            name
        }
    }
}

/// Splits a consumer ARN `<stream arn>/consumer/<name>:<seconds>` into stream, name and
/// registration second. The second tells a consumer apart from an earlier registration
/// under the same name, whose ARN must name nothing.
pub(crate) fn parse_consumer_arn(arn: &str) -> Option<(String, String, Option<i64>)> {
    let (stream_arn, rest) = arn.split_once("/consumer/")?;
    let stream = stream_name_from_arn(stream_arn)?.to_string();
    match rest.rsplit_once(':') {
        Some((name, seconds)) => Some((stream, name.to_string(), Some(seconds.parse().ok()?))),
        None => Some((stream, rest.to_string(), None)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    consumer_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterOutput {
    consumer: Consumer,
}

pub async fn register(
    plane: &DataPlane,
    req: RegisterInput,
) -> Result<RegisterOutput, KinesisError> {
    let mut violations = Violations::new();
    let stream = stream_from_arn(&mut violations, &req.stream_arn, true);
    violations.required(&req.consumer_name, "consumerName");
    if let Some(name) = &req.consumer_name {
        violations.stream_name(name, "consumerName");
    }
    KinesisError::validation(violations)?;
    let stream = plane.catalog.stream(&stream.unwrap_or_default())?;
    let consumer = plane
        .admin()?
        .register_consumer(
            &stream.name,
            req.consumer_name.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok(RegisterOutput {
        consumer: shape(plane, &stream, &consumer, false),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumerRef {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    consumer_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: Option<String>,
}

impl ConsumerRef {
    /// Either a consumer ARN, or a stream ARN plus a consumer name; the registration second
    /// when an ARN names one.
    fn resolve(&self) -> Result<(String, String, Option<i64>), KinesisError> {
        // Every member is checked before anything is looked up, as AWS does.
        let mut violations = Violations::new();
        let stream = stream_from_arn(&mut violations, &self.stream_arn, false);
        if let Some(name) = &self.consumer_name {
            violations.stream_name(name, "consumerName");
        }
        if let Some(arn) = &self.consumer_arn {
            violations.pattern(
                arn,
                "consumerARN",
                parse_consumer_arn(arn).is_some(),
                CONSUMER_ARN_PATTERN,
            );
            violations.length(arn, "consumerARN", 1, 2048);
        }
        KinesisError::validation(violations)?;
        if let Some(arn) = &self.consumer_arn {
            // Checked against the pattern above.
            return parse_consumer_arn(arn).ok_or_else(|| {
                KinesisError::InvalidArgument(format!(
                    "ConsumerARN {arn} is not a valid consumer ARN."
                ))
            });
        }
        match (stream, &self.consumer_name) {
            (Some(stream), Some(name)) => Ok((stream, name.clone(), None)),
            _ => Err(KinesisError::InvalidArgument(
                "Either ConsumerARN, or both StreamARN and ConsumerName, must be provided.".into(),
            )),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeOutput {
    consumer_description: Consumer,
}

/// Finds the consumer a request names, refusing ARNs of earlier registrations.
fn find(
    plane: &DataPlane,
    req: &ConsumerRef,
) -> Result<(Arc<StreamRecord>, ConsumerRecord), KinesisError> {
    let (stream_name, name, second) = req.resolve()?;
    let stream = plane.catalog.stream(&stream_name)?;
    let consumer = stream
        .consumers
        .get(&name)
        .filter(|c| second.is_none_or(|s| s == c.created_at_ms / 1000))
        .cloned()
        .ok_or_else(|| {
            KinesisError::ResourceNotFound(format!(
                "Consumer {name} under stream {stream_name} not found for account {}.",
                plane.catalog.settings().account_id
            ))
        })?;
    Ok((stream, consumer))
}

pub async fn describe(plane: &DataPlane, req: ConsumerRef) -> Result<DescribeOutput, KinesisError> {
    let (stream, consumer) = find(plane, &req)?;
    Ok(DescribeOutput {
        consumer_description: shape(plane, &stream, &consumer, true),
    })
}

pub async fn deregister(plane: &DataPlane, req: ConsumerRef) -> Result<Empty, KinesisError> {
    let (stream, consumer) = find(plane, &req)?;
    plane
        .admin()?
        .deregister_consumer(&stream.name, &consumer.name)
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    consumers: Vec<Consumer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub async fn list(plane: &DataPlane, req: ListInput) -> Result<ListOutput, KinesisError> {
    let mut violations = Violations::new();
    let stream = stream_from_arn(&mut violations, &req.stream_arn, true);
    if let Some(max) = req.max_results {
        violations.range(max, "maxResults", Some(1), Some(10000));
    }
    KinesisError::validation(violations)?;
    let stream = plane.catalog.stream(&stream.unwrap_or_default())?;
    let after = req.next_token.clone();
    let limit = req.max_results.unwrap_or(100) as usize;
    let mut iter = stream
        .consumers
        .values()
        .filter(|c| after.as_ref().is_none_or(|a| c.name > *a));
    let page: Vec<&ConsumerRecord> = iter.by_ref().take(limit).collect();
    let next_token = if iter.next().is_some() {
        page.last().map(|c| c.name.clone())
    } else {
        None
    };
    Ok(ListOutput {
        consumers: page
            .into_iter()
            .map(|c| shape(plane, &stream, c, false))
            .collect(),
        next_token,
    })
}
