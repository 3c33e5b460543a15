//! The control plane's client for data-plane nodes (`/internal/v1/replica/*`), with the
//! cluster's internal token on every call.

use std::time::Duration;

use crate::placement::{FenceReply, FenceRequest};

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
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("unreadable cluster CA: {e}"))?;
            builder = builder.use_rustls_tls().tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(Self {
            http: builder.build().map_err(|e| e.to_string())?,
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
