//! The Weir control plane.
//!
//! It owns the desired state: streams, shards with lineage, tags. [`ControlPlane`] is the
//! one place stream management happens; the REST API in [`rest`] and the data plane's
//! Kinesis management operations both call it, so there is one source of truth. State is
//! written to the metadata store first and then to an in-memory snapshot that readers use,
//! so the hot path never waits on the database.

mod error;
pub mod internal;
mod moves;
pub mod node_client;
pub mod placement;
pub mod reconcile;
pub mod reshard;
mod service;
pub mod tiering;

pub mod rest;
mod rest_cluster;
pub mod rest_security;
mod rest_tiering;
pub mod security;

pub use error::ControlPlaneError;
pub use service::{
    ControlPlane, ControlPlaneConfig, CreateStream, FenceFuture, Limits, ReshardTicket,
    RetentionChange, ShardFence, StreamEvent, MAX_RETENTION_HOURS, MIN_RETENTION_HOURS,
};
pub use weir_meta::{
    ConsumerRecord, MetaStore, ShardRecord, StreamMode, StreamRecord, StreamStatus, TierSegment,
    TierState, TierTransition, TieringSettings,
};
