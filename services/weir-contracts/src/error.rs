//! Control-plane errors, named after the Kinesis exceptions they become on the wire.

use weir_core::Violations;

/// Why a control-plane operation was refused or failed. `Store` and `Unavailable` changed
/// nothing and may be retried; the others are refusals.
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    /// Input broke a documented constraint (Kinesis ValidationException).
    #[error("{}", .0.message())]
    Validation(Violations),
    /// The stream (or shard) does not exist (ResourceNotFoundException).
    #[error("{0}")]
    NotFound(String),
    /// The resource exists or is busy (ResourceInUseException).
    #[error("{0}")]
    InUse(String),
    /// The request is well-formed but not acceptable (InvalidArgumentException).
    #[error("{0}")]
    InvalidArgument(String),
    /// The operation does not apply to the stream's capacity mode (Kinesis answers
    /// ValidationException, "not supported for the stream's capacity mode").
    #[error("{0}")]
    NotSupported(String),
    /// A quota would be exceeded (LimitExceededException).
    #[error("{0}")]
    LimitExceeded(String),
    /// The metadata store failed; nothing was changed (InternalFailure).
    #[error("{0}")]
    Store(String),
    /// The control plane could not be reached from a node; nothing was changed.
    #[error("{0}")]
    Unavailable(String),
}

impl ControlPlaneError {
    /// The Kinesis exception name for this error.
    pub fn kinesis_type(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::NotFound(_) => "ResourceNotFoundException",
            Self::InUse(_) => "ResourceInUseException",
            Self::InvalidArgument(_) => "InvalidArgumentException",
            Self::NotSupported(_) => "ValidationException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::Store(_) => "InternalFailure",
            Self::Unavailable(_) => "ServiceUnavailable",
        }
    }

    /// Whether the same request may succeed if sent again unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Store(_) | Self::Unavailable(_))
    }
}
