//! Kinesis wire errors: one enum, one `__type` each, encoded in the request's format.

use weir_contracts::ControlPlaneError;
use weir_core::Violations;

/// Every error the Kinesis API answers with.
#[derive(Debug, thiserror::Error)]
pub enum KinesisError {
    /// The body could not be parsed.
    #[error("{0}")]
    Serialization(String),
    /// The `X-Amz-Target` names no operation we serve.
    #[error("{0}")]
    UnknownOperation(String),
    /// A member broke a model constraint.
    #[error("{}", .0.message())]
    Validation(Violations),
    /// Stream or shard missing.
    #[error("{0}")]
    ResourceNotFound(String),
    /// Stream exists or is busy.
    #[error("{0}")]
    ResourceInUse(String),
    /// Valid shape, unacceptable value.
    #[error("{0}")]
    InvalidArgument(String),
    /// Iterator older than five minutes.
    #[error("{0}")]
    ExpiredIterator(String),
    /// ListShards/ListStreams token expired.
    #[error("{0}")]
    ExpiredNextToken(String),
    /// Quota exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// The operation does not apply to the stream's capacity mode (ValidationException
    /// with a message, as Kinesis sends it).
    #[error("{0}")]
    NotSupported(String),
    /// The shard's throughput limit was reached; the caller should back off and retry.
    #[error("{0}")]
    Throttled(String),
    /// Something broke on our side; the request may be retried.
    #[error("{0}")]
    Internal(String),
    /// The shard is between leaders, or its replicas did not confirm in time: retry
    /// (AWS's InternalFailure on the wire; typed so routing code retries without
    /// reading messages).
    #[error("{0}")]
    Unavailable(String),
    /// Authentication or authorization refused the request; the `__type` is AWS's
    /// (MissingAuthenticationTokenException, InvalidSignatureException, ...).
    #[error("{1}")]
    Auth(&'static str, String),
    /// The stream's encryption keys are unusable here; the `__type` is AWS's KMS one
    /// (KMSAccessDeniedException, ...). Refuse: retrying does not help until an operator
    /// fixes the key.
    #[error("{1}")]
    Kms(&'static str, String),
}

impl KinesisError {
    /// The `__type` AWS sends.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::Validation(_) => "ValidationException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::ResourceInUse(_) => "ResourceInUseException",
            Self::InvalidArgument(_) => "InvalidArgumentException",
            Self::ExpiredIterator(_) => "ExpiredIteratorException",
            Self::ExpiredNextToken(_) => "ExpiredNextTokenException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::Throttled(_) => "ProvisionedThroughputExceededException",
            Self::NotSupported(_) => "ValidationException",
            Self::Internal(_) | Self::Unavailable(_) => "InternalFailure",
            Self::Auth(type_name, _) | Self::Kms(type_name, _) => type_name,
        }
    }

    /// HTTP status: 500 for our failures, 400 for the caller's.
    pub fn status(&self) -> u16 {
        match self {
            Self::Internal(_) | Self::Unavailable(_) => 500,
            _ => 400,
        }
    }

    /// The message member's name: AWS capitalises it for SerializationException only.
    pub fn message_key(&self) -> &'static str {
        match self {
            Self::Serialization(_) => "Message",
            _ => "message",
        }
    }

    /// Kinesis's ProvisionedThroughputExceededException for a shard.
    pub fn throttled(shard: &str, stream: &str, account_id: &str) -> Self {
        Self::Throttled(format!(
            "Rate exceeded for shard {shard} in stream {stream} under account {account_id}."
        ))
    }

    /// Shorthand for a validation error with one violation list.
    pub fn validation(violations: Violations) -> Result<(), Self> {
        violations.into_result().map_err(Self::Validation)
    }
}

impl From<ControlPlaneError> for KinesisError {
    fn from(error: ControlPlaneError) -> Self {
        match error {
            ControlPlaneError::Validation(v) => Self::Validation(v),
            ControlPlaneError::NotFound(m) => Self::ResourceNotFound(m),
            ControlPlaneError::InUse(m) => Self::ResourceInUse(m),
            ControlPlaneError::InvalidArgument(m) => Self::InvalidArgument(m),
            ControlPlaneError::LimitExceeded(m) => Self::LimitExceeded(m),
            ControlPlaneError::NotSupported(m) => Self::NotSupported(m),
            ControlPlaneError::Unavailable(m) => Self::Unavailable(m),
            ControlPlaneError::Store(e) => {
                tracing::error!(error = %e, "metadata store failure");
                Self::Internal("Internal service failure.".into())
            }
        }
    }
}

/// The answer when too many writes wait on one shard.
pub const SHARD_QUEUE_FULL: &str =
    "Rate exceeded: too many writes are waiting on this shard. Slow down and retry.";

impl From<weir_storage::StorageError> for KinesisError {
    fn from(error: weir_storage::StorageError) -> Self {
        if matches!(error, weir_storage::StorageError::QueueFull) {
            return Self::Throttled(SHARD_QUEUE_FULL.into());
        }
        tracing::error!(%error, "storage failure");
        Self::Internal("Internal service failure.".into())
    }
}
