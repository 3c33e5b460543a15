//! The Weir data plane: the Kinesis wire API over the storage engine.
//!
//! A request arrives at `POST /` with `X-Amz-Target: Kinesis_20131202.<Operation>` and a
//! JSON 1.1 or CBOR 1.1 body ([`protocol`]). Stream management operations are forwarded to
//! the control plane (the one source of truth); record operations route each record by
//! hash key to its shard's [`weir_storage::ShardLog`] ([`shards`]) and answer only after
//! the group-committed fsync. Shard iterators are self-contained signed tokens
//! ([`iterator`]), so any node can serve a GetRecords without session state.

mod auth;
pub mod clock;
pub mod cluster;
mod encryption;
pub mod envelope;
pub mod error;
pub mod iterator;
pub mod meter;
pub mod protocol;
pub mod replication;
mod seal;
pub mod shards;
pub mod subscribe;
pub mod telemetry;
pub mod tiering;

mod gateway;
mod ops;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::KinesisError;
pub use gateway::{
    router, router_at, DataPlane, DataPlaneConfig, TierSetup, DEFAULT_MAX_IN_FLIGHT,
};
