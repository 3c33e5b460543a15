//! The metadata store: the durable desired state of streams, shards, tags and resource
//! policies.
//!
//! One [`MetaStore`] type speaks to SQLite (the embedded default of `weir up`) or Postgres
//! (production) through sqlx's `Any` driver, with one set of portable migrations from
//! `migrations/`. Every multi-row change runs in one transaction, so a failed request never
//! leaves a half-created stream behind.

mod account;
mod placement;
mod policies;
mod scaling;
mod security;
mod store;
mod tiering;

pub use placement::{AssignmentRow, ShardEvent};
pub use scaling::ScalingEventRow;
pub use security::{AccessKeyRecord, AuditEvent, AuditQuery, PrincipalRecord};
pub use store::{CapacitySetting, MetaError, MetaStore};
pub use weir_contracts::{
    ConsumerRecord, ShardRecord, StreamMode, StreamRecord, StreamStatus, TierSegment, TierState,
    TierTransition, TieringSettings,
};
