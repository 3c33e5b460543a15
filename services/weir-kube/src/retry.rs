//! Retrying calls the API server could not answer (5xx, 429, dropped connections).

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::KubeError;

/// How calls are retried: exponential backoff with jitter between `first_delay` and
/// `max_delay`, at most `max_attempts` tries in all.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub first_delay: Duration,
    /// Longest delay between tries.
    pub max_delay: Duration,
    /// Tries in all, the first included.
    pub max_attempts: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails with an error that is not retryable, or the
    /// attempts run out (the last error is returned).
    pub async fn run<T, F, Fut>(&self, what: &str, call: F) -> Result<T, KubeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, KubeError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1))
            .with_jitter();
        call.retry(backoff)
            .when(KubeError::is_retryable)
            .notify(|error, delay| {
                tracing::warn!(what, %error, ?delay, "Kubernetes call failed; retrying");
            })
            .await
    }
}
