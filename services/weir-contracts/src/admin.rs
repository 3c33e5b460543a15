//! Stream administration as the data plane asks for it: the requests, the events it
//! reacts to, and the interfaces the control plane implements (in-process when Weir runs
//! as one process).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{ConsumerRecord, ControlPlaneError, StreamMode, StreamRecord};
use crate::{TierSegment, TierTransition};

/// A request to create a stream.
#[derive(Debug, Clone, Default)]
pub struct CreateStream {
    /// Stream name.
    pub name: String,
    /// Shard count for provisioned streams.
    pub shard_count: Option<u32>,
    /// Capacity mode; on-demand when neither mode nor shard count is given.
    pub mode: Option<StreamMode>,
    /// Retention; 24 h when absent.
    pub retention_hours: Option<u32>,
    /// Initial tags.
    pub tags: BTreeMap<String, String>,
    /// Replicas per shard (cluster mode); `None` takes the cluster default.
    pub replication_factor: Option<u32>,
    /// The stream's own per-shard limits; `None` takes the deployment's default.
    pub shard_limits: Option<crate::ShardLimits>,
    /// Largest record accepted, in KiB (1024-10240); 1024 when absent.
    pub max_record_size_kib: Option<u32>,
    /// Write throughput (MiB/s) an on-demand stream keeps ready.
    pub warm_throughput_mibps: Option<u32>,
}

/// How a retention change relates to the current value (Kinesis has separate increase and
/// decrease calls that refuse the wrong direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionChange {
    /// IncreaseStreamRetentionPeriod.
    Increase,
    /// DecreaseStreamRetentionPeriod.
    Decrease,
    /// REST: set to any valid value.
    Set,
}

/// Something data planes must react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A stream was deleted; its data may be removed.
    Deleted {
        /// Stream name.
        name: String,
        /// Incarnation that was deleted.
        uid: i64,
    },
}

/// Account limits and usage (DescribeLimits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most open shards.
    pub shard_limit: u32,
    /// Open shards now.
    pub open_shard_count: u32,
    /// On-demand streams now.
    pub on_demand_stream_count: u32,
    /// Most on-demand streams.
    pub on_demand_stream_limit: u32,
}

/// A boxed future, so [`ShardFence`] can be a trait object.
pub type FenceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// The data plane's side of a reshard: stop writes to a shard that is closing and report
/// where it ends. The control plane calls it before it records a shard as closed, so no
/// acknowledged write can land beyond a closed shard's EndingSequenceNumber.
pub trait ShardFence: Send + Sync + 'static {
    /// Seals the shard's log; returns the offset one past its last record.
    fn seal(&self, stream_uid: i64, ordinal: u64) -> FenceFuture<'_, u64>;
    /// Reopens a shard whose reshard was abandoned.
    fn unseal(&self, stream_uid: i64, ordinal: u64) -> FenceFuture<'_, ()>;
    /// Prepares a shard to move to another node: seals it and, when tiering is on, rolls
    /// and uploads its tail so the next owner can serve the whole history from the cold
    /// tier. Returns the offset one past its last record.
    fn hand_off(&self, stream_uid: i64, ordinal: u64) -> FenceFuture<'_, u64> {
        self.seal(stream_uid, ordinal)
    }
}

/// A boxed future of an administration or catalog call.
pub type AdminFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ControlPlaneError>> + Send + 'a>>;

/// Changes to streams, as the Kinesis management operations make them. The control plane
/// validates, persists and applies each one; the data plane only decodes the request and
/// encodes the answer. A node of a cluster has none of these: it forwards the call.
pub trait StreamAdmin: Send + Sync + 'static {
    /// CreateStream.
    fn create_stream(&self, request: CreateStream) -> AdminFuture<'_, Arc<StreamRecord>>;
    /// DeleteStream.
    fn delete_stream<'a>(&'a self, name: &'a str) -> AdminFuture<'a, ()>;
    /// Increase/DecreaseStreamRetentionPeriod.
    fn update_retention<'a>(
        &'a self,
        name: &'a str,
        hours: u32,
        change: RetentionChange,
    ) -> AdminFuture<'a, Arc<StreamRecord>>;
    /// AddTagsToStream / TagResource.
    fn add_tags<'a>(
        &'a self,
        name: &'a str,
        tags: BTreeMap<String, String>,
    ) -> AdminFuture<'a, Arc<StreamRecord>>;
    /// RemoveTagsFromStream / UntagResource.
    fn remove_tags<'a>(
        &'a self,
        name: &'a str,
        keys: Vec<String>,
    ) -> AdminFuture<'a, Arc<StreamRecord>>;
    /// RegisterStreamConsumer.
    fn register_consumer<'a>(
        &'a self,
        stream: &'a str,
        name: &'a str,
    ) -> AdminFuture<'a, ConsumerRecord>;
    /// DeregisterStreamConsumer.
    fn deregister_consumer<'a>(&'a self, stream: &'a str, name: &'a str) -> AdminFuture<'a, ()>;
    /// TagResource on a consumer ARN.
    fn tag_consumer<'a>(
        &'a self,
        stream: &'a str,
        name: &'a str,
        tags: BTreeMap<String, String>,
    ) -> AdminFuture<'a, ConsumerRecord>;
    /// UntagResource on a consumer ARN.
    fn untag_consumer<'a>(
        &'a self,
        stream: &'a str,
        name: &'a str,
        keys: Vec<String>,
    ) -> AdminFuture<'a, ConsumerRecord>;
    /// SplitShard: starts the reshard (the stream is UPDATING until it is done).
    fn split_shard<'a>(
        &'a self,
        name: &'a str,
        shard: &'a str,
        new_starting_hash_key: &'a str,
    ) -> AdminFuture<'a, ()>;
    /// MergeShards: starts the reshard.
    fn merge_shards<'a>(
        &'a self,
        name: &'a str,
        shard: &'a str,
        adjacent: &'a str,
    ) -> AdminFuture<'a, ()>;
    /// UpdateShardCount: starts the reshard.
    fn update_shard_count<'a>(&'a self, name: &'a str, target: u32) -> AdminFuture<'a, ()>;
    /// UpdateStreamMode: the stream turns UPDATING, then ACTIVE in the new mode.
    fn update_stream_mode<'a>(&'a self, name: &'a str, mode: StreamMode) -> AdminFuture<'a, ()>;
    /// UpdateStreamWarmThroughput (on-demand streams).
    fn update_warm_throughput<'a>(
        &'a self,
        name: &'a str,
        mibps: u32,
    ) -> AdminFuture<'a, Arc<StreamRecord>>;
    /// UpdateMaxRecordSize.
    fn update_max_record_size<'a>(&'a self, name: &'a str, kib: u32) -> AdminFuture<'a, ()>;
    /// Enable/DisableEnhancedMonitoring: turns shard-level metrics on (`enable`) or off;
    /// answers the metrics on before and after.
    fn update_enhanced_monitoring<'a>(
        &'a self,
        name: &'a str,
        metrics: Vec<String>,
        enable: bool,
    ) -> AdminFuture<'a, (Vec<String>, Vec<String>)>;
    /// UpdateStreamRecordDistributionStrategy (on-demand streams): `AUTO` or
    /// `USER_PARTITION_KEY`.
    fn update_record_distribution<'a>(
        &'a self,
        name: &'a str,
        strategy: &'a str,
    ) -> AdminFuture<'a, ()>;
    /// DescribeAccountSettings: the account's minimum throughput billing commitment.
    fn account_settings(&self) -> AdminFuture<'_, crate::BillingCommitment>;
    /// UpdateAccountSettings: asks to enable (`true`) or disable the commitment; answers
    /// it as it stands afterwards.
    fn update_billing_commitment(&self, enable: bool) -> AdminFuture<'_, crate::BillingCommitment>;
    /// Put/DeleteResourcePolicy: sets (`Some`) or removes (`None`) the resource policy of
    /// a stream or, with `consumer`, of one of its consumers.
    fn set_resource_policy<'a>(
        &'a self,
        stream: &'a str,
        consumer: Option<&'a str>,
        policy: Option<String>,
    ) -> AdminFuture<'a, ()>;
    /// StartStreamEncryption (`Some(key_id)`) or StopStreamEncryption (`None`).
    fn update_encryption<'a>(
        &'a self,
        name: &'a str,
        key_id: Option<String>,
    ) -> AdminFuture<'a, ()>;
    /// Gives the control plane the data plane's side of reshards (sealing shard logs).
    fn attach_fence(&self, fence: Arc<dyn ShardFence>);
    /// Gives the control plane the traffic of the shards this process serves (the
    /// autoscaler's input when there is no cluster to report it).
    fn attach_traffic(&self, source: Arc<dyn TrafficSource>);
}

/// One shard's traffic counters, as the process serving it reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardTrafficReport {
    /// Stream incarnation.
    pub stream_uid: i64,
    /// Shard ordinal.
    pub ordinal: u64,
    /// Counters since this process started serving it.
    pub traffic: crate::ShardTraffic,
}

/// The shards a process serves and their traffic so far.
pub trait TrafficSource: Send + Sync + 'static {
    /// Every shard this process leads, with its counters.
    fn shard_traffic(&self) -> Vec<ShardTrafficReport>;
}

/// The tier-state records a node reads and writes. The control plane owns them (they
/// live in the metadata store); a node in a cluster reaches them over the internal API.
pub trait TierCatalog: Send + Sync + 'static {
    /// Records an upload's start; answers the row now stored for that offset.
    fn begin_upload(&self, segment: TierSegment) -> AdminFuture<'_, TierSegment>;
    /// Moves a segment between states; false when it was not in `from`.
    fn transition(&self, change: TierTransition) -> AdminFuture<'_, bool>;
    /// A shard's segments in offset order.
    fn shard_segments(&self, stream_uid: i64, ordinal: u64) -> AdminFuture<'_, Vec<TierSegment>>;
}
