//! The persisted model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weir_core::HashRange;

/// Capacity mode of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamMode {
    /// A fixed shard count chosen by the user.
    Provisioned,
    /// Shards managed by Weir from measured load.
    OnDemand,
}

impl StreamMode {
    /// The Kinesis spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioned => "PROVISIONED",
            Self::OnDemand => "ON_DEMAND",
        }
    }

    /// Parses the Kinesis spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "PROVISIONED" => Some(Self::Provisioned),
            "ON_DEMAND" => Some(Self::OnDemand),
            _ => None,
        }
    }
}

/// Lifecycle status of a stream, as Kinesis reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamStatus {
    /// Being created.
    Creating,
    /// Being deleted.
    Deleting,
    /// Serving reads and writes.
    Active,
    /// Resharding or changing mode; still serving.
    Updating,
}

impl StreamStatus {
    /// The Kinesis spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Deleting => "DELETING",
            Self::Active => "ACTIVE",
            Self::Updating => "UPDATING",
        }
    }

    /// Parses the Kinesis spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CREATING" => Some(Self::Creating),
            "DELETING" => Some(Self::Deleting),
            "ACTIVE" => Some(Self::Active),
            "UPDATING" => Some(Self::Updating),
            _ => None,
        }
    }
}

/// One shard of a stream, with its lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Position in the stream's creation order; the shard id is `shardId-<ordinal>`.
    pub ordinal: u64,
    /// The shard this one was split from or merged into.
    pub parent: Option<u64>,
    /// The other parent of a merge.
    pub adjacent_parent: Option<u64>,
    /// Hash keys this shard owns.
    pub hash_range: HashRange,
    /// When the shard was created.
    pub created_at_ms: i64,
    /// When the shard was closed by a reshard, if it was.
    pub closed_at_ms: Option<i64>,
    /// Offset one past the last record of a closed shard.
    pub ending_offset: Option<u64>,
}

impl ShardRecord {
    /// Whether the shard still takes writes.
    pub fn is_open(&self) -> bool {
        self.closed_at_ms.is_none()
    }
}

/// A stream and everything that hangs off it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// The stream name, unique.
    pub name: String,
    /// A unique id for this incarnation: a stream deleted and created again under the same
    /// name gets a new uid, so old data on disk can never be served for the new stream.
    pub uid: i64,
    /// Capacity mode.
    pub mode: StreamMode,
    /// Lifecycle status.
    pub status: StreamStatus,
    /// Retention in hours.
    pub retention_hours: u32,
    /// Creation time.
    pub created_at_ms: i64,
    /// Ordinal the next new shard gets.
    pub next_shard_ordinal: u64,
    /// Bumped on every change; lets callers detect concurrent modification.
    pub version: i64,
    /// Every shard, open and closed, in ordinal order.
    pub shards: Vec<ShardRecord>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Registered consumers, by name.
    pub consumers: BTreeMap<String, ConsumerRecord>,
}

/// A registered (enhanced fan-out) consumer of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerRecord {
    /// Consumer name, unique within the stream.
    pub name: String,
    /// Registration time; also part of the consumer ARN, as in Kinesis.
    pub created_at_ms: i64,
}

impl StreamRecord {
    /// Shards that take writes.
    pub fn open_shards(&self) -> impl Iterator<Item = &ShardRecord> {
        self.shards.iter().filter(|s| s.is_open())
    }

    /// The shard with `ordinal`.
    pub fn shard(&self, ordinal: u64) -> Option<&ShardRecord> {
        self.shards.iter().find(|s| s.ordinal == ordinal)
    }
}
