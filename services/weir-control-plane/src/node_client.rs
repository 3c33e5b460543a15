//! The control plane's client for data-plane nodes, with the cluster's internal token on
//! every call: fences before elections (`/internal/v1/replica/fence`), and seals,
//! unseals and hand-offs of shards on their leaders (`/internal/v1/seal`), which is the
//! [`ShardFence`] of a cluster.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::placement::{FenceReply, FenceRequest};
use crate::{ControlPlane, FenceFuture, ShardFence};

/// How long a node may take to promise a generation before the election counts it out.
const FENCE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Calls nodes on the control plane's behalf.
#[derive(Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    secret: Vec<u8>,
}

impl NodeClient {
    /// A client signing its calls with the cluster secret; with `ca_pem`, over TLS
    /// trusting only that CA.
    pub fn new(secret: &str, ca_pem: Option<&[u8]>) -> Result<Self, String> {
        Ok(Self {
            http: http_client(ca_pem)?,
            secret: secret.as_bytes().to_vec(),
        })
    }

    /// Asks the node at `url` to promise `request.generation` and say what it holds.
    pub async fn fence(&self, url: &str, request: &FenceRequest) -> Result<FenceReply, String> {
        let response = self
            .http
            .post(format!("{url}/internal/v1/replica/fence"))
            .header(
                weir_auth::INTERNAL_HEADER,
                weir_auth::internal_token(&self.secret, std::time::SystemTime::now()),
            )
            .headers(weir_trace::inject())
            .timeout(FENCE_TIMEOUT)
            .json(request)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "{status}: {}",
                response.text().await.unwrap_or_default()
            ));
        }
        response.json().await.map_err(|e| e.to_string())
    }
}

/// An HTTP client for calls to nodes (10 s timeout); with `ca_pem`, over TLS trusting
/// only that CA.
pub(crate) fn http_client(ca_pem: Option<&[u8]>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("unreadable cluster CA: {e}"))?;
        builder = builder.use_rustls_tls().tls_built_in_root_certs(false);
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// The control plane's fence in cluster mode: seals a shard on the node leading it.
pub struct RemoteFence {
    control_plane: Weak<ControlPlane>,
    nodes: NodeClient,
}

impl RemoteFence {
    /// A fence that looks leaders up in `control_plane`'s placement.
    pub fn new(control_plane: &Arc<ControlPlane>, nodes: NodeClient) -> Self {
        Self {
            control_plane: Arc::downgrade(control_plane),
            nodes,
        }
    }

    async fn call(
        &self,
        stream_uid: i64,
        ordinal: u64,
        sealed: bool,
        hand_off: bool,
    ) -> Result<u64, String> {
        let cp = self
            .control_plane
            .upgrade()
            .ok_or("control plane stopped")?;
        let (node, generation) = cp
            .owner(stream_uid, ordinal)
            .ok_or_else(|| format!("shard {ordinal} of stream {stream_uid} has no live node"))?;
        let answer: serde_json::Value = self
            .nodes
            .http
            .post(format!("{}/internal/v1/seal", node.url))
            .header(
                weir_auth::INTERNAL_HEADER,
                weir_auth::internal_token(&self.nodes.secret, std::time::SystemTime::now()),
            )
            .headers(weir_trace::inject())
            .timeout(Duration::from_secs(90))
            .json(&serde_json::json!({"stream_uid": stream_uid, "ordinal": ordinal, "generation": generation, "sealed": sealed, "hand_off": hand_off}))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("sealing on {}: {e}", node.id))?
            .json()
            .await
            .map_err(|e| format!("sealing on {}: {e}", node.id))?;
        answer["position"]
            .as_u64()
            .ok_or_else(|| "seal answer without a position".to_string())
    }
}

impl ShardFence for RemoteFence {
    fn seal(&self, stream_uid: i64, ordinal: u64) -> FenceFuture<'_, u64> {
        Box::pin(self.call(stream_uid, ordinal, true, false))
    }

    fn hand_off(&self, stream_uid: i64, ordinal: u64) -> FenceFuture<'_, u64> {
        Box::pin(self.call(stream_uid, ordinal, true, true))
    }

    fn unseal(&self, stream_uid: i64, ordinal: u64) -> FenceFuture<'_, ()> {
        Box::pin(async move {
            self.call(stream_uid, ordinal, false, false)
                .await
                .map(|_| ())
        })
    }
}
