//! Account-level settings (DescribeAccountSettings / UpdateAccountSettings) and the record
//! distribution strategies of on-demand streams (UpdateStreamRecordDistributionStrategy).
//!
//! The minimum throughput billing commitment is a billing arrangement: a self-hosted
//! server bills nothing, so Weir only stores it and reports it with Kinesis's rules.

/// How long a commitment must stay enabled before it can end: 24 hours, as Kinesis
/// documents for `MinimumThroughputBillingCommitmentInput`.
pub const MIN_COMMITMENT_MS: i64 = 24 * 60 * 60 * 1000;

/// The record distribution strategies an on-demand stream can have, in the model's order.
pub const RECORD_DISTRIBUTIONS: [&str; 2] = ["AUTO", "USER_PARTITION_KEY"];

/// The status of an account's minimum throughput billing commitment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitmentStatus {
    /// The commitment is in force.
    Enabled,
    /// No commitment (the default of an account that never enabled one).
    #[default]
    Disabled,
    /// Disabling was asked before the minimum window ended: the commitment stays in force
    /// until its earliest allowed end, then ends by itself.
    EnabledUntilEarliestAllowedEnd,
}

impl CommitmentStatus {
    /// The Kinesis name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
            Self::EnabledUntilEarliestAllowedEnd => "ENABLED_UNTIL_EARLIEST_ALLOWED_END",
        }
    }

    /// Parses a Kinesis name; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ENABLED" => Some(Self::Enabled),
            "DISABLED" => Some(Self::Disabled),
            "ENABLED_UNTIL_EARLIEST_ALLOWED_END" => Some(Self::EnabledUntilEarliestAllowedEnd),
            _ => None,
        }
    }
}

/// An account's minimum throughput billing commitment, times in milliseconds since the
/// epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BillingCommitment {
    /// Where the commitment stands.
    pub status: CommitmentStatus,
    /// When the current (or last) commitment started.
    pub started_at_ms: Option<i64>,
    /// When it ended, or, while a disable is pending, when it will end.
    pub ended_at_ms: Option<i64>,
    /// The earliest time it may end: its start plus [`MIN_COMMITMENT_MS`].
    pub earliest_allowed_end_ms: Option<i64>,
}

impl BillingCommitment {
    /// The commitment as it stands at `now_ms`: a pending disable whose time has come has
    /// taken effect.
    pub fn as_of(self, now_ms: i64) -> Self {
        match (self.status, self.earliest_allowed_end_ms) {
            (CommitmentStatus::EnabledUntilEarliestAllowedEnd, Some(end)) if now_ms >= end => {
                Self {
                    status: CommitmentStatus::Disabled,
                    ended_at_ms: Some(end),
                    ..self
                }
            }
            _ => self,
        }
    }

    /// The commitment after asking to enable it at `now_ms`: a new commitment when none is
    /// in force; a pending disable is cancelled; an enabled one is unchanged.
    pub fn enable(self, now_ms: i64) -> Self {
        let current = self.as_of(now_ms);
        match current.status {
            CommitmentStatus::Enabled => current,
            CommitmentStatus::EnabledUntilEarliestAllowedEnd => Self {
                status: CommitmentStatus::Enabled,
                ended_at_ms: None,
                ..current
            },
            CommitmentStatus::Disabled => Self {
                status: CommitmentStatus::Enabled,
                started_at_ms: Some(now_ms),
                ended_at_ms: None,
                earliest_allowed_end_ms: Some(now_ms.saturating_add(MIN_COMMITMENT_MS)),
            },
        }
    }

    /// The commitment after asking to disable it at `now_ms`: it ends now once its minimum
    /// window is over, else it is scheduled to end at its earliest allowed end.
    pub fn disable(self, now_ms: i64) -> Self {
        let current = self.as_of(now_ms);
        match current.status {
            CommitmentStatus::Disabled | CommitmentStatus::EnabledUntilEarliestAllowedEnd => {
                current
            }
            CommitmentStatus::Enabled => match current.earliest_allowed_end_ms {
                Some(end) if now_ms < end => Self {
                    status: CommitmentStatus::EnabledUntilEarliestAllowedEnd,
                    ended_at_ms: Some(end),
                    ..current
                },
                _ => Self {
                    status: CommitmentStatus::Disabled,
                    ended_at_ms: Some(now_ms),
                    ..current
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn statuses_round_trip() {
        for status in [
            CommitmentStatus::Enabled,
            CommitmentStatus::Disabled,
            CommitmentStatus::EnabledUntilEarliestAllowedEnd,
        ] {
            assert_eq!(CommitmentStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(CommitmentStatus::parse("enabled"), None);
    }

    #[test]
    fn enabling_starts_a_24_hour_commitment() {
        let on = BillingCommitment::default().enable(T0);
        assert_eq!(on.status, CommitmentStatus::Enabled);
        assert_eq!(on.started_at_ms, Some(T0));
        assert_eq!(on.earliest_allowed_end_ms, Some(T0 + MIN_COMMITMENT_MS));
        assert_eq!(on.ended_at_ms, None);
        // Enabling again changes nothing.
        assert_eq!(on.enable(T0 + 5), on);
    }

    #[test]
    fn disabling_early_waits_for_the_earliest_end_and_can_be_cancelled() {
        let on = BillingCommitment::default().enable(T0);
        let pending = on.disable(T0 + 1000);
        assert_eq!(
            pending.status,
            CommitmentStatus::EnabledUntilEarliestAllowedEnd
        );
        assert_eq!(pending.ended_at_ms, Some(T0 + MIN_COMMITMENT_MS));
        assert_eq!(pending.as_of(T0 + MIN_COMMITMENT_MS - 1), pending);
        let ended = pending.as_of(T0 + MIN_COMMITMENT_MS);
        assert_eq!(ended.status, CommitmentStatus::Disabled);
        assert_eq!(ended.ended_at_ms, Some(T0 + MIN_COMMITMENT_MS));
        assert_eq!(ended.started_at_ms, Some(T0));
        // Enabling before the end cancels the pending disable and keeps the start.
        let again = pending.enable(T0 + 2000);
        assert_eq!(again, on);
        // Enabling after it ended starts a new commitment.
        let later = T0 + MIN_COMMITMENT_MS + 10;
        let renewed = pending.enable(later);
        assert_eq!(renewed.started_at_ms, Some(later));
        assert_eq!(renewed.status, CommitmentStatus::Enabled);
    }

    #[test]
    fn disabling_after_the_window_ends_at_once() {
        let on = BillingCommitment::default().enable(T0);
        let at = T0 + MIN_COMMITMENT_MS + 1;
        let off = on.disable(at);
        assert_eq!(off.status, CommitmentStatus::Disabled);
        assert_eq!(off.ended_at_ms, Some(at));
        assert_eq!(off.disable(at + 1), off);
        assert_eq!(
            BillingCommitment::default().disable(T0),
            BillingCommitment::default()
        );
    }
}
