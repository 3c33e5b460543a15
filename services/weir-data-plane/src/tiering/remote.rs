//! The tier catalog over the control plane's internal API, for nodes of a cluster.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use weir_contracts::{AdminFuture, ControlPlaneError, TierCatalog, TierSegment, TierTransition};

use crate::cluster::Cluster;

/// Calls `/internal/v1/tier/*` on the control plane this node heartbeats to.
pub struct RemoteCatalog(pub Arc<Cluster>);

impl RemoteCatalog {
    async fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, ControlPlaneError> {
        let url = format!("{}/internal/v1/tier/{path}", self.0.control_plane_url());
        let response = self
            .0
            .http()
            .post(&url)
            .header(weir_auth::INTERNAL_HEADER, self.0.internal_token())
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                ControlPlaneError::Unavailable(format!("tier catalog unreachable: {e}"))
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ControlPlaneError::Unavailable(format!("tier catalog answer: {e}")))?;
        if !status.is_success() {
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let message = value["message"].as_str().unwrap_or("tier catalog refused");
            return Err(ControlPlaneError::Unavailable(message.to_string()));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ControlPlaneError::Unavailable(format!("unreadable tier catalog answer: {e}"))
        })
    }
}

impl TierCatalog for RemoteCatalog {
    fn begin_upload(&self, segment: TierSegment) -> AdminFuture<'_, TierSegment> {
        Box::pin(async move {
            let body = serde_json::to_value(&segment)
                .map_err(|e| ControlPlaneError::Store(e.to_string()))?;
            self.call("begin", body).await
        })
    }

    fn transition(&self, change: TierTransition) -> AdminFuture<'_, bool> {
        Box::pin(async move {
            let body = serde_json::to_value(change)
                .map_err(|e| ControlPlaneError::Store(e.to_string()))?;
            let answer: serde_json::Value = self.call("transition", body).await?;
            Ok(answer["changed"].as_bool().unwrap_or(false))
        })
    }

    fn shard_segments(&self, stream_uid: i64, ordinal: u64) -> AdminFuture<'_, Vec<TierSegment>> {
        Box::pin(async move {
            self.call(
                "segments",
                serde_json::json!({"stream_uid": stream_uid, "ordinal": ordinal}),
            )
            .await
        })
    }
}
