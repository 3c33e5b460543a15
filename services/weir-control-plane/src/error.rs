//! Control-plane errors, named after the Kinesis exceptions they become on the wire.

use weir_core::Violations;
use weir_meta::MetaError;

/// Why a control-plane operation was refused or failed.
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
    /// A quota would be exceeded (LimitExceededException).
    #[error("{0}")]
    LimitExceeded(String),
    /// The metadata store failed; nothing was changed (InternalFailure).
    #[error(transparent)]
    Store(#[from] MetaError),
}

impl ControlPlaneError {
    /// The Kinesis exception name for this error.
    pub fn kinesis_type(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::NotFound(_) => "ResourceNotFoundException",
            Self::InUse(_) => "ResourceInUseException",
            Self::InvalidArgument(_) => "InvalidArgumentException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::Store(_) => "InternalFailure",
        }
    }
}
