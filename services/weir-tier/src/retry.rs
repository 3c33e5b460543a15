//! Exponential backoff with full jitter for uploads and deletions.

use std::time::Duration;

/// Delays between attempts: `base · 2^attempt`, capped, with full jitter so many shards
/// retrying after an outage do not hammer the store in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// Starts at `base`, never waits longer than `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let millis = exp.as_millis().max(1) as u64;
        Duration::from_millis(rand::random::<u64>() % millis + 1)
    }

    /// Back to the first delay after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_but_stay_under_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for _ in 0..50 {
            assert!(b.next_delay() <= Duration::from_secs(2));
        }
        let mut max_late = Duration::ZERO;
        for _ in 0..200 {
            max_late = max_late.max(b.next_delay());
        }
        assert!(
            max_late > Duration::from_millis(200),
            "late delays use the cap"
        );
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
