//! Storage errors.

use std::path::PathBuf;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The disk refused a read, write or fsync.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A batch failed its checksum or framing where no torn tail is possible (a sealed
    /// segment), so the data cannot be served.
    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte position of the bad batch.
        position: u64,
        /// What was wrong.
        reason: String,
    },
    /// An earlier fsync failed; after that the page cache cannot be trusted, so the log
    /// refuses further writes until it is reopened (and recovered) from disk.
    #[error("shard log is poisoned by an earlier write failure; restart to recover")]
    Poisoned,
    /// The shard was closed by a reshard; the write belongs to one of its children.
    #[error("shard is sealed by a reshard")]
    Sealed,
    /// The shard's append queue is full: too many writes are waiting for this shard.
    /// Nothing was written; the caller should back off and retry.
    #[error("shard append queue is full")]
    QueueFull,
    /// The log was closed (the shard was deleted or the node is shutting down).
    #[error("shard log is closed")]
    Closed,
    /// A record or batch is too large for the on-disk framing.
    #[error("record too large: {0}")]
    TooLarge(String),
    /// Replicated batches must start where the follower's log ends.
    #[error("replicated batches start at {got}, but the log ends at {expected}")]
    OutOfSequence {
        /// The follower's end.
        expected: u64,
        /// Where the batches start.
        got: u64,
    },
    /// A raw read or truncation must start at a batch boundary.
    #[error("offset {0} is inside a batch")]
    NotBatchStart(u64),
    /// The records asked for are no longer in the local log (tiered or expired).
    #[error("the local log starts at {start}")]
    BelowStart {
        /// The first offset held locally.
        start: u64,
    },
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
