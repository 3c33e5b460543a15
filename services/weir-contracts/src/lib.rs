//! The contracts between Weir's control plane and data plane.
//!
//! Neither plane depends on the other: both depend on this crate. It holds
//! - the metadata model ([`StreamRecord`], [`ShardRecord`], tier segments, consumers);
//! - the cluster protocol's messages ([`HeartbeatRequest`], [`HeartbeatReply`], fences);
//! - the interfaces the control plane offers the data plane ([`StreamAdmin`],
//!   [`TierCatalog`]) and the one it needs back ([`ShardFence`]);
//! - the [`StreamCatalog`] every process reads streams from, and the [`Ports`] bundle a
//!   data plane is started with;
//! - audit events and the [`AuditLog`] they go to;
//! - the [`Orchestrator`] that runs data-plane nodes for the control plane's node pool;
//! - [`ControlPlaneError`], the one error type of these calls.

mod account;
mod admin;
mod audit;
mod catalog;
mod cluster;
mod error;
mod limits;
mod model;
mod orchestrator;
mod ports;

pub use account::{BillingCommitment, CommitmentStatus, MIN_COMMITMENT_MS, RECORD_DISTRIBUTIONS};
pub use admin::{
    AdminFuture, CreateStream, FenceFuture, Limits, RetentionChange, ShardFence,
    ShardTrafficReport, StreamAdmin, StreamEvent, TierCatalog, TrafficSource,
};
pub use audit::{AuditEvent, AuditFuture, AuditLog, Outcome};
pub use catalog::{CatalogSettings, StreamCatalog};
pub use cluster::{
    Assignment, DiskUsage, FenceReply, FenceRequest, FollowerReport, HeartbeatReply,
    HeartbeatRequest, NodeInfo, ShardReport,
};
pub use error::ControlPlaneError;
pub use limits::{ShardLimits, ShardTraffic};
pub use model::{
    ConsumerRecord, SealedDataKey, ShardRecord, StreamEncryption, StreamMode, StreamRecord,
    StreamStatus, TierSegment, TierState, TierTransition, TieringSettings,
    DEFAULT_MAX_RECORD_SIZE_KIB, DEFAULT_RECORD_DISTRIBUTION, SHARD_LEVEL_METRICS,
};
pub use orchestrator::{Orchestrator, OrchestratorFuture, PoolMember};
pub use ports::{Guard, Ports};
