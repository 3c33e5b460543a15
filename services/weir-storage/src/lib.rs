//! The Weir storage engine: one append-only log per shard.
//!
//! A shard's log is a folder of segment files. Each `NNNN.log` holds record batches, each
//! framed with its length and a CRC32C; each sealed segment has a dense `NNNN.idx` with one
//! `(offset, arrival timestamp, file position)` entry per record. A single writer thread per
//! shard takes appends from a bounded queue, writes every queued batch, and acknowledges them
//! all after one shared fsync (group commit). On open, the tail segment is scanned and a torn
//! or corrupt tail is truncated, keeping every batch before it. Retention deletes whole
//! sealed segments by age. This crate has no network code: the data plane drives it.

mod error;
mod format;
mod log;
mod replica;
mod sealed;
mod segment;

pub use error::StorageError;
pub use log::{AppendAck, LogConfig, ShardLog, StoredRecord};
pub use replica::RawBatches;
pub use sealed::{decode_range, parse_index, SealedSegment};
pub use segment::IndexEntry;

/// One record to append: the partition key and the payload, as the client sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// The partition key (kept so GetRecords can return it).
    pub partition_key: String,
    /// The payload bytes.
    pub data: bytes::Bytes,
}
