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
    /// How much of the stream stays on node disks once it is in the cold tier.
    #[serde(default)]
    pub tiering: TieringSettings,
    /// Replicas per shard; 0 takes the cluster's default (min(3, nodes)).
    #[serde(default)]
    pub replication_factor: u32,
    /// This stream's own per-shard limits; `None` takes the deployment's default.
    #[serde(default)]
    pub shard_limits: Option<crate::ShardLimits>,
    /// Largest record accepted, in KiB (UpdateMaxRecordSize: 1024-10240).
    #[serde(default = "default_max_record_size_kib")]
    pub max_record_size_kib: u32,
    /// Write throughput an on-demand stream keeps ready, in MiB/s (0: none).
    #[serde(default)]
    pub warm_throughput_mibps: u32,
    /// When the capacity mode was last changed (ms since the epoch), newest last; Kinesis
    /// allows two changes in a rolling 24 hours.
    #[serde(default)]
    pub mode_changes_ms: Vec<i64>,
    /// Shard-level metrics turned on by EnableEnhancedMonitoring, in
    /// [`SHARD_LEVEL_METRICS`] order.
    #[serde(default)]
    pub shard_level_metrics: Vec<String>,
    /// The stream's resource policy (PutResourcePolicy), as the JSON text it was given;
    /// validated by `weir_auth::ResourcePolicy` before it is stored.
    #[serde(default)]
    pub resource_policy: Option<String>,
    /// Server-side encryption of new records (StartStreamEncryption); `None` while
    /// records are written in the clear.
    #[serde(default)]
    pub encryption: Option<StreamEncryption>,
    /// Every data key this stream has had, oldest first, each sealed by the master key.
    /// Kept for the stream's life: records written under any of them stay readable.
    #[serde(default)]
    pub data_keys: Vec<SealedDataKey>,
    /// How an on-demand stream spreads records over its shards
    /// (UpdateStreamRecordDistributionStrategy): `USER_PARTITION_KEY` or `AUTO`.
    #[serde(default = "default_record_distribution")]
    pub record_distribution: String,
    /// When DeleteStream made the stream DELETING (ms since the epoch), under a lifecycle
    /// delay (`--create-delay-ms`); the lifecycle reconciler removes it the delay later.
    #[serde(default)]
    pub deleting_since_ms: Option<i64>,
}

/// Server-side encryption in force on a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEncryption {
    /// The KeyId the caller named (a KMS key id, ARN or alias), reported back as is.
    pub key_id: String,
    /// The [`SealedDataKey::version`] that new records are encrypted with.
    pub data_key_version: u32,
}

/// A stream's data key, sealed by the master key; records name the version they were
/// encrypted under, so rotating the master key only re-seals these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedDataKey {
    /// 1 for the stream's first key, then counting up.
    pub version: u32,
    /// The KeyId the key was made for.
    pub key_id: String,
    /// The key, sealed by the master key (weir-auth's text form).
    pub sealed: String,
}

/// Kinesis's default record distribution: by the caller's partition key.
pub const DEFAULT_RECORD_DISTRIBUTION: &str = "USER_PARTITION_KEY";

fn default_record_distribution() -> String {
    DEFAULT_RECORD_DISTRIBUTION.to_string()
}

/// Every shard-level metric EnableEnhancedMonitoring can turn on, in the order Kinesis
/// lists them ("ALL" stands for all of them).
pub const SHARD_LEVEL_METRICS: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
];

/// Kinesis's default largest record: 1 MiB.
pub const DEFAULT_MAX_RECORD_SIZE_KIB: u32 = 1024;

fn default_max_record_size_kib() -> u32 {
    DEFAULT_MAX_RECORD_SIZE_KIB
}

/// Per-stream local retention: a sealed segment already in the cold tier is dropped from
/// the node's disk once the shard's local bytes exceed `local_retention_bytes` or the
/// segment is older than `local_retention_ms`. `None` takes the node's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TieringSettings {
    /// Local bytes kept per shard.
    pub local_retention_bytes: Option<u64>,
    /// Age after which an uploaded segment leaves local disk.
    pub local_retention_ms: Option<u64>,
}

/// Where a segment is in its tiering life (KIP-405 style). Persisted as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TierState {
    /// A row exists and the upload is in flight (or was, before a crash).
    Uploading,
    /// Both objects are in the bucket; the local copy may be dropped.
    Uploaded,
    /// Expired or its stream deleted: objects are being removed.
    Deleting,
    /// Objects removed; the row is kept as a tombstone for operators.
    Deleted,
}

impl TierState {
    /// The persisted spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "uploading",
            Self::Uploaded => "uploaded",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
        }
    }

    /// Parses the persisted spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "uploading" => Self::Uploading,
            "uploaded" => Self::Uploaded,
            "deleting" => Self::Deleting,
            "deleted" => Self::Deleted,
            _ => return None,
        })
    }
}

/// One segment of a shard as the cold tier knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierSegment {
    /// The stream incarnation.
    pub stream_uid: i64,
    /// The shard.
    pub ordinal: u64,
    /// Offset of the first record.
    pub base_offset: u64,
    /// Offset one past the last record.
    pub end_offset: u64,
    /// Placement generation the segment was written under.
    pub generation: u64,
    /// Arrival time of the first record.
    pub first_timestamp_ms: i64,
    /// Arrival time of the last record.
    pub last_timestamp_ms: i64,
    /// Bytes of the `.log` object.
    pub size_bytes: u64,
    /// Key of the `.log` object (the `.idx` sits beside it).
    pub object_key: String,
    /// Tier state.
    pub state: TierState,
    /// When the state last changed.
    pub updated_at_ms: i64,
    /// The uploading node's leadership generation, checked by the control plane's fence
    /// (not stored; 0 from nodes that predate replication).
    #[serde(default)]
    pub leader_generation: u64,
}

/// A guarded state change of one cold-tier segment: it happens only if the segment is
/// still in `from`, so racing steps (an upload, the reaper) cannot undo each other. It is
/// also the body a node sends to `/internal/v1/tier/transition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierTransition {
    /// The stream incarnation.
    pub stream_uid: i64,
    /// The shard.
    pub ordinal: u64,
    /// Offset of the segment's first record.
    pub base_offset: u64,
    /// The state the segment must be in.
    pub from: TierState,
    /// The state it moves to.
    pub to: TierState,
}

impl TierSegment {
    /// This segment's move from `from` to `to`.
    pub fn transition(&self, from: TierState, to: TierState) -> TierTransition {
        TierTransition {
            stream_uid: self.stream_uid,
            ordinal: self.ordinal,
            base_offset: self.base_offset,
            from,
            to,
        }
    }
}

/// A registered (enhanced fan-out) consumer of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerRecord {
    /// Consumer name, unique within the stream.
    pub name: String,
    /// Registration time; also part of the consumer ARN, as in Kinesis.
    pub created_at_ms: i64,
    /// Tags (TagResource on the consumer's ARN).
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    /// The consumer's resource policy (PutResourcePolicy on its ARN), as given.
    #[serde(default)]
    pub resource_policy: Option<String>,
    /// When DeregisterStreamConsumer began removing it (DELETING until the lifecycle
    /// delay has passed); `None` while it is registered.
    #[serde(default)]
    pub deleting_since_ms: Option<i64>,
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
