//! The messages of the cluster protocol: heartbeats between nodes and the control plane,
//! and the fence requests of an election. Both sides serialise exactly these types, so a
//! field cannot be added on one side only.

use serde::{Deserialize, Serialize};

use crate::StreamRecord;

/// A data-plane node as other nodes see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Stable node id.
    pub id: String,
    /// Base URL of its Kinesis endpoint (which also serves `/internal/v1`).
    pub url: String,
}

/// Who holds a shard: its leader, replica set and generation (sent to every node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Stream incarnation.
    pub stream_uid: i64,
    /// Shard ordinal.
    pub ordinal: u64,
    /// The leader's node id.
    pub node: String,
    /// Assignment generation.
    pub generation: u64,
    /// Every replica, the leader first.
    #[serde(default)]
    pub replicas: Vec<String>,
    /// Replicas still rebuilding their copy.
    #[serde(default)]
    pub rebuilding: Vec<String>,
}

/// A follower's progress as its leader reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowerReport {
    /// The follower's node id.
    pub node: String,
    /// Its durable end.
    pub end: u64,
    /// Whether it adopted the leader's generation.
    pub adopted: bool,
}

/// What a node holds of one shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardReport {
    /// Stream incarnation.
    pub stream_uid: i64,
    /// Shard ordinal.
    pub ordinal: u64,
    /// The last generation of the node's table (its leadership generation when leading).
    pub generation: u64,
    /// Durable end of the node's log.
    pub end: u64,
    /// The commit point as the node knows it.
    pub commit: u64,
    /// Whether the node leads the shard now.
    pub leading: bool,
    /// Whether the shard's log refuses appends (sealed by a reshard or a move).
    #[serde(default)]
    pub sealed: bool,
    /// A leader's followers.
    #[serde(default)]
    pub followers: Vec<FollowerReport>,
    /// A leader's traffic counters (the autoscaler's input).
    #[serde(default)]
    pub traffic: Option<crate::ShardTraffic>,
}

/// A node's heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// Node id.
    pub node_id: String,
    /// Base URL others reach it at.
    pub url: String,
    /// Random id of the node's data disk, made when the disk was first used: a new id
    /// under an old node id means the node came back on an empty disk.
    #[serde(default)]
    pub disk_id: String,
    /// What the node holds.
    #[serde(default)]
    pub reports: Vec<ShardReport>,
    /// The `state` of the last full answer the node applied: when the cluster state is
    /// still that, the answer carries only the lease.
    #[serde(default)]
    pub known_state: u64,
    /// The node's data disk, for operators (`GET /v1/nodes`).
    #[serde(default)]
    pub disk: Option<DiskUsage>,
}

/// Space on a node's data disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskUsage {
    /// Free bytes.
    pub free_bytes: u64,
    /// Size of the file system.
    pub total_bytes: u64,
}

/// What a node learns from each heartbeat: its lease, the cluster, and the metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// How long the lease lasts from when the heartbeat was sent (0: no lease yet).
    pub lease_ms: u64,
    /// Live nodes.
    pub nodes: Vec<NodeInfo>,
    /// Every assignment.
    pub assignments: Vec<Assignment>,
    /// Every stream (the node's replica of the metadata).
    pub streams: Vec<StreamRecord>,
    /// The control plane's account settings and stream defaults (absent from older
    /// control planes: the node keeps its own).
    #[serde(default)]
    pub settings: Option<crate::CatalogSettings>,
    /// Principals and sealed keys, when authentication is on.
    #[serde(default)]
    pub auth: Option<weir_auth::AuthSnapshot>,
    /// A digest of nodes, assignments, streams and principals.
    #[serde(default)]
    pub state: u64,
    /// Nothing changed since `known_state`: the lists above are empty, keep yours.
    #[serde(default)]
    pub unchanged: bool,
}

/// The control plane's request before it chooses a new leader: promise to follow no
/// leader older than `generation`, and say what you hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FenceRequest {
    /// Stream incarnation.
    pub stream_uid: i64,
    /// Shard ordinal.
    pub ordinal: u64,
    /// The generation about to be assigned.
    pub generation: u64,
}

/// What a replica holds, once it has promised.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct FenceReply {
    /// The last generation in its table.
    pub last_generation: u64,
    /// Its durable end.
    pub end: u64,
}
