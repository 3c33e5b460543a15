//! SplitShard, MergeShards and UpdateShardCount: validated here, carried out by the
//! control plane (which seals closing shards through this node).

use serde::{Deserialize, Serialize};
use weir_core::Violations;

use super::{stream_for, Empty};
use crate::error::KinesisError;
use crate::gateway::DataPlane;

const HASH_KEY_PATTERN: &str = "0|([1-9]\\d{0,38})";

fn is_hash_key_text(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 39
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SplitShardInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_to_split: Option<String>,
    new_starting_hash_key: Option<String>,
}

pub async fn split_shard(plane: &DataPlane, req: SplitShardInput) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.shard_to_split, "shardToSplit");
    violations.required(&req.new_starting_hash_key, "newStartingHashKey");
    if let Some(id) = &req.shard_to_split {
        violations.stream_name(id, "shardToSplit");
    }
    if let Some(key) = &req.new_starting_hash_key {
        violations.pattern(
            key,
            "newStartingHashKey",
            is_hash_key_text(key),
            HASH_KEY_PATTERN,
        );
    }
    let selector = stream_ref!(req);
    shards_parse(plane, &selector, violations, &[&req.shard_to_split])?;
    let stream = stream_for(plane, &selector, Violations::new())?;
    plane
        .admin()?
        .split_shard(
            &stream.name,
            req.shard_to_split.as_deref().unwrap_or_default(),
            req.new_starting_hash_key.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok(Empty {})
}

/// Validates the whole request, then refuses a shard id Kinesis cannot read as a shard
/// number before looking the stream up, as Kinesis does: "Could not find shard ..." names
/// the id as given, even when the stream does not exist either.
fn shards_parse(
    plane: &DataPlane,
    selector: &super::StreamRef,
    mut violations: Violations,
    ids: &[&Option<String>],
) -> Result<(), KinesisError> {
    let name = selector.check(&mut violations);
    KinesisError::validation(violations)?;
    let name = selector.resolve(name)?;
    if let Some(id) = ids
        .iter()
        .filter_map(|id| id.as_deref())
        .find(|id| weir_core::shard_ordinal(id).is_none())
    {
        return Err(KinesisError::ResourceNotFound(format!(
            "Could not find shard {id} in stream {name} under account {}.",
            plane.catalog.settings().account_id
        )));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MergeShardsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_to_merge: Option<String>,
    adjacent_shard_to_merge: Option<String>,
}

pub async fn merge_shards(plane: &DataPlane, req: MergeShardsInput) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.shard_to_merge, "shardToMerge");
    violations.required(&req.adjacent_shard_to_merge, "adjacentShardToMerge");
    if let Some(id) = &req.shard_to_merge {
        violations.stream_name(id, "shardToMerge");
    }
    if let Some(id) = &req.adjacent_shard_to_merge {
        violations.stream_name(id, "adjacentShardToMerge");
    }
    let selector = stream_ref!(req);
    shards_parse(
        plane,
        &selector,
        violations,
        &[&req.shard_to_merge, &req.adjacent_shard_to_merge],
    )?;
    let stream = stream_for(plane, &selector, Violations::new())?;
    plane
        .admin()?
        .merge_shards(
            &stream.name,
            req.shard_to_merge.as_deref().unwrap_or_default(),
            req.adjacent_shard_to_merge.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateShardCountInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    target_shard_count: Option<i64>,
    scaling_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateShardCountOutput {
    stream_name: String,
    current_shard_count: usize,
    target_shard_count: i64,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
}

pub async fn update_shard_count(
    plane: &DataPlane,
    req: UpdateShardCountInput,
) -> Result<UpdateShardCountOutput, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.target_shard_count, "targetShardCount");
    violations.required(&req.scaling_type, "scalingType");
    if let Some(target) = req.target_shard_count {
        violations.range(target, "targetShardCount", Some(1), None);
    }
    if let Some(kind) = &req.scaling_type {
        if kind != "UNIFORM_SCALING" {
            violations.push(
                Some(kind),
                "scalingType",
                "satisfy enum value set: [UNIFORM_SCALING]",
            );
        }
    }
    let stream = stream_for(plane, &stream_ref!(req), violations)?;
    let target = req.target_shard_count.unwrap_or_default();
    let current = stream.open_shards().count();
    plane
        .admin()?
        .update_shard_count(&stream.name, target.clamp(0, i64::from(u32::MAX)) as u32)
        .await?;
    Ok(UpdateShardCountOutput {
        stream_arn: plane.catalog.arn(&stream.name),
        stream_name: stream.name.clone(),
        current_shard_count: current,
        target_shard_count: target,
    })
}
