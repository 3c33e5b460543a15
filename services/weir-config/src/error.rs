//! The crate's one error type. Each variant maps to one REST status and code, so the CLI
//! and the console can react to the kind of failure, not its wording.

use weir_control_plane::ControlPlaneError;

use crate::source::Diagnostic;

/// Why a config could not be validated, planned or applied.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config is wrong: each diagnostic names file, line and column. Nothing was changed.
    #[error("{}", summarize(.0))]
    Invalid(Vec<Diagnostic>),
    /// The request itself is malformed (not the config in it).
    #[error("{0}")]
    BadRequest(String),
    /// A saved plan no longer matches the live state; the message says what changed.
    #[error("{0}")]
    StalePlan(String),
    /// The plan destroys or replaces something and the caller did not approve that.
    #[error("{0}")]
    ApprovalRequired(String),
    /// A step of an apply failed; earlier steps stay applied.
    #[error("{address}: {source}")]
    Apply {
        /// The resource whose step failed, e.g. `stream.orders`.
        address: String,
        /// The control plane's refusal.
        #[source]
        source: ControlPlaneError,
    },
    /// Someone else changed a stream while the apply was running; the apply stopped.
    #[error("{0}")]
    Concurrent(String),
}

impl ConfigError {
    /// A stable code for the REST error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "InvalidConfig",
            Self::BadRequest(_) => "InvalidArgument",
            Self::StalePlan(_) => "StalePlan",
            Self::ApprovalRequired(_) => "ApprovalRequired",
            Self::Apply { source, .. } => source.kinesis_type().trim_end_matches("Exception"),
            Self::Concurrent(_) => "ConcurrentModification",
        }
    }

    /// The located problems, for [`ConfigError::Invalid`]; empty otherwise.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Invalid(diagnostics) => diagnostics,
            _ => &[],
        }
    }
}

fn summarize(diagnostics: &[Diagnostic]) -> String {
    match diagnostics {
        [] => "the config is invalid".to_string(),
        [only] => only.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more problems)", rest.len()),
    }
}
