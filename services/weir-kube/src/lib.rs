//! Weir on Kubernetes: the control plane's node pool scales the data-plane StatefulSet,
//! and one of several control-plane replicas is elected active.
//!
//! - [`KubeOrchestrator`] implements the node pool's [`weir_contracts::Orchestrator`]: it
//!   server-side-applies `spec.replicas` of the data-plane StatefulSet under its own field
//!   manager, and watches the StatefulSet's pods (ready, terminating; a watch that
//!   expires with 410 Gone is relisted) so the pool view maps pods to registered nodes.
//! - [`LeaseElector`] holds a `coordination.k8s.io/v1` Lease: one control plane is active,
//!   the others stand by and take over when the holder stops renewing.
//!
//! Every call is retried with backoff ([`RetryPolicy`]) when the API server answers 429
//! or 5xx or the connection drops; conflicts (409) are not retried blindly but answered
//! from what the server says. kube's own retry layer is off: it would retry 503 for up
//! to 15 times with delays of up to 1000 s, which a Lease renewal cannot wait for, and
//! it does not cover 500 or dropped connections. The election retries by its own rounds. The calls made here are exactly [`REQUIRED_ACCESS`], which the chart's
//! Role grants and tests compare with what the code does.

mod error;
mod lease;
mod orchestrator;
mod pods;
mod retry;

pub use error::KubeError;
pub use lease::{Leadership, LeaseElector, LeaseSettings, ACTIVE_LABEL};
pub use orchestrator::{KubeOrchestrator, KubeSettings, FIELD_MANAGER};
pub use pods::PodWatch;
pub use retry::RetryPolicy;

/// The Kubernetes API calls the control plane makes: (API group, resource, verbs). The
/// chart's Role (`controlPlane.rbac.rules`) must grant exactly these.
pub const REQUIRED_ACCESS: &[(&str, &str, &[&str])] = &[
    // get: the StatefulSet's replicas; patch: server-side apply of them.
    ("apps", "statefulsets", &["get", "patch"]),
    // list + watch: the data-plane pods; patch: the active control plane labels its own
    // pod so the control-plane Service routes to it alone.
    ("", "pods", &["list", "watch", "patch"]),
    // The election: read, create once, then renew and take over by update.
    (
        "coordination.k8s.io",
        "leases",
        &["get", "create", "update"],
    ),
];

/// A client from the environment: in a pod, its service account; elsewhere the
/// kubeconfig (`KUBECONFIG`, `~/.kube/config`).
pub async fn client_from_environment() -> Result<kube::Client, KubeError> {
    choose_tls_provider();
    let mut config = kube::Config::infer()
        .await
        .map_err(|e| KubeError::Config(format!("no Kubernetes configuration found: {e}")))?;
    config.default_retry = false;
    kube::Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))
}

/// A client for an API server at `url` (plain HTTP or trusted HTTPS), with no
/// credentials: for tests against a fake API server and for `kubectl proxy`.
pub fn client_for_url(url: &str) -> Result<kube::Client, KubeError> {
    choose_tls_provider();
    let uri = url
        .parse()
        .map_err(|e| KubeError::Config(format!("bad API server URL {url}: {e}")))?;
    let mut config = kube::Config::new(uri);
    config.default_retry = false;
    kube::Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))
}

/// Makes ring the process's rustls provider unless one is chosen already: kube's client
/// asks for the process default, and a binary that links both ring and aws-lc-rs has
/// none until one is installed.
fn choose_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
