//! The messages leaders, followers and the control plane exchange about a shard's
//! replicas (`/internal/v1/replica/*` on every node).

use serde::{Deserialize, Serialize};

/// Header carrying a [`ReplicateHeader`] as JSON; the body is the raw batches.
pub const REPLICATE_HEADER: &str = "x-weir-replicate";

/// What a leader tells a follower along with a run of batches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicateHeader {
    /// Stream incarnation.
    pub stream_uid: i64,
    /// Shard ordinal.
    pub ordinal: u64,
    /// The leader's generation.
    pub generation: u64,
    /// The leader's generation table, `(generation, first offset)`.
    pub table: Vec<(u64, u64)>,
    /// The leader's durable end.
    pub leader_end: u64,
    /// The leader's commit point.
    pub commit: u64,
    /// Offset the batches start at (the follower's end, as the leader believes).
    pub prev: u64,
    /// First offset of the leader's segment the batches come from (the follower starts a
    /// segment there too).
    #[serde(default)]
    pub segment_base: Option<u64>,
    /// The follower must empty its log and restart it at `prev` (it fell behind what the
    /// leader still holds locally; the older records are in the cold tier).
    #[serde(default)]
    pub rebase: bool,
}

/// A follower's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReplicateReply {
    /// Appended (or nothing to append); the follower's durable end and the last
    /// generation of its table.
    Ok {
        /// Durable end after the request.
        end: u64,
        /// Last generation the follower's table holds.
        adopted: u64,
    },
    /// The batches did not start at the follower's end (after it cut any divergent
    /// suffix): resend from `end`.
    Mismatch {
        /// The follower's durable end.
        end: u64,
    },
    /// The follower knows of a newer placement generation than the sender's: it accepts
    /// nothing from it until the sender leads under that generation (or never does).
    Behind {
        /// The generation the follower knows of.
        generation: u64,
    },
    /// The follower promised a newer generation: the sender no longer leads.
    Fenced {
        /// The generation promised.
        promised: u64,
    },
}

pub use weir_contracts::{FenceReply, FenceRequest};
