//! Account settings (DescribeAccountSettings / UpdateAccountSettings) and the record
//! distribution strategy of on-demand streams (UpdateStreamRecordDistributionStrategy).
//!
//! The minimum throughput billing commitment bills nothing here: it is stored in the
//! metadata store and reported with Kinesis's rules (a 24-hour minimum window; disabling
//! inside it schedules the end). The record distribution strategy is stored and reported
//! by DescribeStreamSummary; see docs/COMPATIBILITY.md for what placement does with it.

use weir_contracts::{BillingCommitment, ControlPlaneError, StreamMode, RECORD_DISTRIBUTIONS};

use crate::service::now_ms;
use crate::ControlPlane;

impl ControlPlane {
    /// The account's minimum throughput billing commitment as it stands now (DISABLED
    /// when none was ever set).
    pub async fn account_settings(&self) -> Result<BillingCommitment, ControlPlaneError> {
        let stored = self
            .store()
            .billing_commitment(&self.config().account_id)
            .await?;
        Ok(stored.unwrap_or_default().as_of(now_ms()))
    }

    /// UpdateAccountSettings: asks to enable (`true`) or disable the commitment; answers
    /// it as it stands afterwards.
    pub async fn update_billing_commitment(
        &self,
        enable: bool,
    ) -> Result<BillingCommitment, ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let account = &self.config().account_id;
        let current = self
            .store()
            .billing_commitment(account)
            .await?
            .unwrap_or_default();
        let now = now_ms();
        let next = if enable {
            current.enable(now)
        } else {
            current.disable(now)
        };
        if next != current {
            self.store().set_billing_commitment(account, &next).await?;
        }
        tracing::info!(
            status = next.status.as_str(),
            "minimum throughput billing commitment"
        );
        Ok(next)
    }

    /// UpdateStreamRecordDistributionStrategy: sets how an on-demand stream spreads its
    /// records (`AUTO` or `USER_PARTITION_KEY`).
    pub async fn update_record_distribution(
        &self,
        name: &str,
        strategy: &str,
    ) -> Result<(), ControlPlaneError> {
        if !RECORD_DISTRIBUTIONS.contains(&strategy) {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "{strategy} is not a record distribution strategy: use {}.",
                RECORD_DISTRIBUTIONS.join(" or ")
            )));
        }
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        let account = &self.config().account_id;
        self.require_active(&stream)?;
        if stream.mode != StreamMode::OnDemand {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Record distribution strategy is not supported for stream {name} under account \
                 {account} because it is in PROVISIONED capacity mode; switch it to ON_DEMAND first."
            )));
        }
        if stream.record_distribution == strategy {
            return Ok(());
        }
        self.store().set_record_distribution(name, strategy).await?;
        let kept = strategy.to_string();
        self.replace(&stream, |s| s.record_distribution = kept)?;
        tracing::info!(stream = %name, strategy, "record distribution strategy changed");
        Ok(())
    }
}
