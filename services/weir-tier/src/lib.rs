//! The cold tier: where sealed segments go once they leave a node's disk.
//!
//! One [`ObjectStore`] trait with two backends, [`S3Store`] (aws-sdk-s3: AWS, MinIO,
//! moto, any S3-compatible server) and [`LocalFolderStore`] (the embedded default of
//! `weir up`). [`layout`] fixes the object keys: they carry stream, shard, generation
//! and base offset, so a fenced node's uploads can never collide with its successor's.
//! [`BlockCache`] bounds what cold reads keep in memory. The tier-state bookkeeping
//! (uploading → uploaded → deleting → deleted) lives in the metadata store; this crate
//! only moves bytes.

mod cache;
mod error;
pub mod layout;
mod local;
mod retry;
mod s3;
mod store;

pub use cache::BlockCache;
pub use error::TierError;
pub use local::LocalFolderStore;
pub use retry::Backoff;
pub use s3::{S3Settings, S3Store};
pub use store::{ObjectStore, StoreFuture};
