//! The one error type of this crate, typed enough to tell "retry" from "refuse".

/// What a Kubernetes call can end in.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// Another field manager owns a field we applied (server-side apply 409), or an update
    /// lost a race on resourceVersion. Retrying the same call gives the same answer.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The object is not there.
    #[error("{0} not found")]
    NotFound(String),
    /// The API server refused the call (4xx other than 404/409/429): permissions,
    /// validation. Not retried.
    #[error("the Kubernetes API refused the call ({code}): {message}")]
    Refused {
        /// HTTP status.
        code: u16,
        /// The server's message.
        message: String,
    },
    /// The API server failed or could not be reached (5xx, 429, connection errors):
    /// worth retrying, and retried with backoff until the policy gives up.
    #[error("the Kubernetes API is unavailable: {0}")]
    Unavailable(String),
    /// No usable configuration (not in a pod, no kubeconfig, bad URL).
    #[error("{0}")]
    Config(String),
}

impl KubeError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, KubeError::Unavailable(_))
    }

    /// Classifies a kube client error.
    pub(crate) fn from_kube(error: kube::Error, what: &str) -> Self {
        match error {
            kube::Error::Api(status) => {
                let code = status.code;
                let message = status.message.clone();
                match code {
                    404 => KubeError::NotFound(what.to_string()),
                    409 => KubeError::Conflict(message),
                    429 | 500..=599 => KubeError::Unavailable(format!("{code}: {message}")),
                    _ => KubeError::Refused { code, message },
                }
            }
            other => KubeError::Unavailable(other.to_string()),
        }
    }
}
