//! Account-level settings (UpdateAccountSettings) and the record distribution strategy
//! of a stream (UpdateStreamRecordDistributionStrategy).

use sqlx::Row;
use weir_contracts::{BillingCommitment, CommitmentStatus};

use crate::{MetaError, MetaStore};

impl MetaStore {
    /// The stored minimum throughput billing commitment of `account_id`; `None` when the
    /// account never set one.
    pub async fn billing_commitment(
        &self,
        account_id: &str,
    ) -> Result<Option<BillingCommitment>, MetaError> {
        let row = sqlx::query(
            "SELECT commitment_status, commitment_started_at_ms, commitment_ended_at_ms, \
             commitment_earliest_end_ms FROM account_settings WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let text: String = row.try_get("commitment_status")?;
        let status = CommitmentStatus::parse(&text).ok_or_else(|| {
            MetaError::Invalid(format!("account {account_id}'s commitment status {text}"))
        })?;
        Ok(Some(BillingCommitment {
            status,
            started_at_ms: row.try_get("commitment_started_at_ms")?,
            ended_at_ms: row.try_get("commitment_ended_at_ms")?,
            earliest_allowed_end_ms: row.try_get("commitment_earliest_end_ms")?,
        }))
    }

    /// Stores the minimum throughput billing commitment of `account_id`.
    pub async fn set_billing_commitment(
        &self,
        account_id: &str,
        commitment: &BillingCommitment,
    ) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO account_settings (account_id, commitment_status, commitment_started_at_ms, \
             commitment_ended_at_ms, commitment_earliest_end_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account_id) DO UPDATE SET commitment_status = excluded.commitment_status, \
             commitment_started_at_ms = excluded.commitment_started_at_ms, \
             commitment_ended_at_ms = excluded.commitment_ended_at_ms, \
             commitment_earliest_end_ms = excluded.commitment_earliest_end_ms",
        )
        .bind(account_id)
        .bind(commitment.status.as_str())
        .bind(commitment.started_at_ms)
        .bind(commitment.ended_at_ms)
        .bind(commitment.earliest_allowed_end_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets a stream's record distribution strategy; `false` if the stream does not exist.
    pub async fn set_record_distribution(
        &self,
        name: &str,
        strategy: &str,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE streams SET record_distribution = $1, version = version + 1 WHERE name = $2",
        )
        .bind(strategy)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
