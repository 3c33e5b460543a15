//! The Weir control plane.
//!
//! It owns the desired state: streams, shards with lineage, tags. [`ControlPlane`] is the
//! one place stream management happens; the REST API in [`rest`] and the data plane's
//! Kinesis management operations both call it (the latter through the interfaces in
//! `weir-contracts`, see [`ControlPlane::ports`]), so there is one source of truth. State is
//! written to the metadata store first and then to an in-memory snapshot that readers use,
//! so the hot path never waits on the database.

mod account;
pub mod autoscale;
mod capacity;
pub mod console;
mod encryption;
pub mod internal;
mod lifecycle;
pub mod metrics_history;
mod monitoring;
mod moves;
pub mod node_client;
pub mod node_pool;
pub mod placement;
mod policies;
mod ports;
mod rebalance;
pub mod reconcile;
pub mod reshard;
mod resharding;
mod service;
mod tagging;
pub mod telemetry;
pub mod tiering;

pub mod rest;
pub mod rest_browse;
mod rest_capacity;
mod rest_cluster;
mod rest_envelope;
pub mod rest_security;
mod rest_tiering;
pub mod security;
mod sigv4_sign;

pub use service::{
    ControlPlane, ControlPlaneConfig, ReshardTicket, MAX_RETENTION_HOURS, MIN_RETENTION_HOURS,
};
pub use weir_contracts::{
    ConsumerRecord, ControlPlaneError, CreateStream, FenceFuture, Limits, RetentionChange,
    ShardFence, ShardLimits, ShardRecord, StreamEvent, StreamMode, StreamRecord, StreamStatus,
    TierSegment, TierState, TierTransition, TieringSettings,
};
pub use weir_meta::MetaStore;
