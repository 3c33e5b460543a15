//! Cold-tier errors.

/// Why an object-store call failed.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// The object does not exist (deleting it again is not an error; reading it is).
    #[error("object {0} not found in the cold tier")]
    NotFound(String),
    /// The store could not be reached or answered with a server error; retry later.
    #[error("cold tier unavailable: {0}")]
    Unavailable(String),
    /// A setting is wrong (missing bucket, refused credentials): retrying will not help,
    /// and the message names the setting to fix.
    #[error("{0}")]
    Misconfigured(String),
    /// The local folder backend could not read or write.
    #[error("cold tier I/O error on {path}: {source}")]
    Io {
        /// File involved.
        path: std::path::PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

impl TierError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Io { .. })
    }
}
