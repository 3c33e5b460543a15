//! Resource policies of streams and consumers (PutResourcePolicy and
//! DeleteResourcePolicy). The control plane validates each policy again against the ARN
//! it is attached to, stores it with its stream or consumer, and publishes the record, so
//! every data plane (nodes by heartbeat) enforces it.

use weir_auth::ResourcePolicy;

use crate::{ControlPlane, ControlPlaneError};

impl ControlPlane {
    /// Sets (`Some`) or removes (`None`) the resource policy of a stream or, with
    /// `consumer`, of one of its registered consumers. Removing a policy that is not there
    /// is ResourceNotFound, as LocalStack records for DeleteResourcePolicy.
    pub async fn set_resource_policy(
        &self,
        stream: &str,
        consumer: Option<&str>,
        policy: Option<String>,
    ) -> Result<(), ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let record = self.stream(stream)?;
        let (arn, current) = match consumer {
            None => (self.arn(stream), record.resource_policy.clone()),
            Some(name) => {
                let found = record.consumers.get(name).ok_or_else(|| {
                    ControlPlaneError::NotFound(format!(
                        "Consumer {name} under stream {stream} not found for account {}.",
                        self.config.account_id
                    ))
                })?;
                (
                    self.catalog().consumer_arn(stream, found),
                    found.resource_policy.clone(),
                )
            }
        };
        match &policy {
            Some(text) => {
                ResourcePolicy::parse(text, &arn)
                    .map_err(|e| ControlPlaneError::InvalidArgument(e.to_string()))?;
            }
            None if current.is_none() => {
                return Err(ControlPlaneError::NotFound(format!(
                    "No resource policy found for resource ARN {arn}."
                )))
            }
            None => {}
        }
        let stored = match consumer {
            None => {
                self.store()
                    .set_stream_policy(stream, policy.as_deref())
                    .await?
            }
            Some(name) => {
                self.store()
                    .set_consumer_policy(stream, name, policy.as_deref())
                    .await?
            }
        };
        if !stored {
            return Err(self.not_found(stream));
        }
        self.replace(&record, |s| match consumer {
            None => s.resource_policy = policy,
            Some(name) => {
                if let Some(c) = s.consumers.get_mut(name) {
                    c.resource_policy = policy;
                }
            }
        })?;
        Ok(())
    }
}
