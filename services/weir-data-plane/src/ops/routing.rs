//! Which shard a record goes to: its hash key (the MD5 of the partition key, an
//! ExplicitHashKey, or a random one under the `AUTO` record distribution), then the open
//! shard whose range holds it.

use weir_contracts::{ShardRecord, StreamRecord};
use weir_core::hash::parse_hash_key;
use weir_core::partition_key_hash;

use crate::error::KinesisError;
use crate::gateway::DataPlane;

/// The hash key a record is placed by. Under the `AUTO` record distribution
/// (UpdateStreamRecordDistributionStrategy) records spread evenly: a uniformly random hash
/// key, ignoring the partition key and ExplicitHashKey, as Kinesis documents. A forwarded
/// request keeps the hash the entry node chose, so it lands on the shard it was sent to.
pub(super) fn placement_hash(
    plane: &DataPlane,
    stream: &StreamRecord,
    partition_key: &str,
    explicit: Option<&str>,
) -> Result<u128, KinesisError> {
    let hash = hash_key(partition_key, explicit)?;
    if stream.record_distribution == "AUTO" && !plane.is_forwarded() {
        return Ok(rand::random::<u128>());
    }
    Ok(hash)
}

/// The hash key a record routes by under `USER_PARTITION_KEY`.
fn hash_key(partition_key: &str, explicit: Option<&str>) -> Result<u128, KinesisError> {
    match explicit {
        None => Ok(partition_key_hash(partition_key)),
        Some(text) => parse_hash_key(text).ok_or_else(|| {
            KinesisError::InvalidArgument(format!(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value \
                 was {text}"
            ))
        }),
    }
}

/// The open shard owning `hash`; open shards tile the hash space, so one always exists.
pub(super) fn route(stream: &StreamRecord, hash: u128) -> Result<&ShardRecord, KinesisError> {
    stream
        .open_shards()
        .find(|s| s.hash_range.contains(hash))
        .ok_or_else(|| {
            KinesisError::Internal(format!(
                "no open shard of {} owns hash key {hash}",
                stream.name
            ))
        })
}
