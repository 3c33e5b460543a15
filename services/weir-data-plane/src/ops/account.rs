//! DescribeAccountSettings and UpdateAccountSettings: the account's minimum throughput
//! billing commitment. The control plane stores it and applies Kinesis's rules (a
//! 24-hour minimum window); a self-hosted server bills nothing for it.

use serde::{Deserialize, Serialize};
use weir_contracts::BillingCommitment;
use weir_core::Violations;

use crate::error::KinesisError;
use crate::gateway::DataPlane;
use crate::protocol::Timestamp;

/// The statuses UpdateAccountSettings accepts, as AWS's enum message lists them.
const STATUS_ENUM: &str = "satisfy enum value set: [ENABLED, DISABLED]";

/// DescribeAccountSettings has no members.
#[derive(Debug, Deserialize)]
pub struct DescribeAccountSettingsInput {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommitmentInput {
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAccountSettingsInput {
    minimum_throughput_billing_commitment: Option<CommitmentInput>,
}

/// `MinimumThroughputBillingCommitmentOutput`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommitmentOutput {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    earliest_allowed_end_at: Option<Timestamp>,
}

/// The answer of both operations.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettingsOutput {
    minimum_throughput_billing_commitment: CommitmentOutput,
}

impl From<BillingCommitment> for AccountSettingsOutput {
    fn from(c: BillingCommitment) -> Self {
        Self {
            minimum_throughput_billing_commitment: CommitmentOutput {
                status: c.status.as_str(),
                started_at: c.started_at_ms.map(Timestamp),
                ended_at: c.ended_at_ms.map(Timestamp),
                earliest_allowed_end_at: c.earliest_allowed_end_ms.map(Timestamp),
            },
        }
    }
}

/// DescribeAccountSettings.
pub async fn describe(
    plane: &DataPlane,
    _req: DescribeAccountSettingsInput,
) -> Result<AccountSettingsOutput, KinesisError> {
    Ok(plane.admin()?.account_settings().await?.into())
}

/// UpdateAccountSettings.
pub async fn update(
    plane: &DataPlane,
    req: UpdateAccountSettingsInput,
) -> Result<AccountSettingsOutput, KinesisError> {
    let mut violations = Violations::new();
    let field = "minimumThroughputBillingCommitment";
    violations.required(&req.minimum_throughput_billing_commitment, field);
    let mut enable = None;
    if let Some(commitment) = &req.minimum_throughput_billing_commitment {
        let member = format!("{field}.status");
        violations.required(&commitment.status, &member);
        match commitment.status.as_deref() {
            Some("ENABLED") => enable = Some(true),
            Some("DISABLED") => enable = Some(false),
            Some(other) => violations.push(Some(other), &member, STATUS_ENUM),
            None => {}
        }
    }
    KinesisError::validation(violations)?;
    let Some(enable) = enable else {
        return Err(KinesisError::InvalidArgument(
            "MinimumThroughputBillingCommitment.Status is missing.".into(),
        ));
    };
    Ok(plane
        .admin()?
        .update_billing_commitment(enable)
        .await?
        .into())
}
