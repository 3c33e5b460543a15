//! `weir control-plane --kubernetes`: several replicas, one active.
//!
//! Every replica campaigns for a coordination.k8s.io Lease. Until it wins, a replica
//! stands by: it opens no metadata store and runs no reconciler, and its REST port
//! answers only `/healthz` (200, so Deployment rollouts proceed) and 503 elsewhere. The
//! winner labels its own pod `weir.dev/active=true` (the control-plane Service selects
//! that label), opens the store, and runs the whole control plane with a node pool that
//! scales the data-plane StatefulSet. A replica that loses the Lease exits, so
//! Kubernetes restarts it as a standby; on SIGTERM the active replica releases the Lease
//! so a standby takes over at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use clap::Args;
use tokio::sync::watch;
use weir_kube::{KubeOrchestrator, KubeSettings, Leadership, LeaseElector, LeaseSettings};

use crate::serve::{bind, serve_on, shutdown_signal, Stack};

/// Options of `weir control-plane` on Kubernetes.
#[derive(Debug, Clone, Args)]
pub struct KubeArgs {
    /// Run on Kubernetes: replicas elect one active control plane with a
    /// coordination.k8s.io Lease (the others stand by), and the active one scales the
    /// data-plane StatefulSet with the load (--min-nodes .. --max-nodes).
    #[arg(long, env = "WEIR_KUBERNETES")]
    kubernetes: bool,
    /// Namespace of the Lease, the StatefulSet and this pod (downward API:
    /// metadata.namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    kube_namespace: Option<String>,
    /// This replica's name in the election: its pod's name (downward API: metadata.name).
    #[arg(long, env = "POD_NAME")]
    kube_identity: Option<String>,
    /// The data-plane StatefulSet the node pool scales; its pods are the nodes.
    #[arg(long, env = "WEIR_KUBE_STATEFULSET")]
    kube_statefulset: Option<String>,
    /// Label selector of the data-plane pods (`key=value,...`).
    #[arg(long, env = "WEIR_KUBE_POD_SELECTOR")]
    kube_pod_selector: Option<String>,
    /// Name of the election's Lease.
    #[arg(long, default_value = "weir-control-plane")]
    kube_lease: String,
    /// How long a Lease that is not renewed stays its holder's (milliseconds); a standby
    /// takes over after it. The holder renews every fifth of it and steps down at two
    /// thirds.
    #[arg(long, default_value_t = 15_000)]
    kube_lease_duration_ms: u64,
    /// API server URL to use without credentials (a `kubectl proxy`, a test server).
    /// Default: the pod's service account, else the kubeconfig.
    #[arg(long, env = "WEIR_KUBE_API_URL")]
    kube_api_url: Option<String>,
    #[command(flatten)]
    pool: crate::pool_args::PoolArgs,
}

impl KubeArgs {
    /// Whether `--kubernetes` is on.
    pub fn enabled(&self) -> bool {
        self.kubernetes
    }

    fn required<'a>(value: &'a Option<String>, flag: &str, env: &str) -> anyhow::Result<&'a str> {
        value.as_deref().filter(|v| !v.is_empty()).with_context(|| {
            format!("--kubernetes needs {flag} (or {env}); the chart sets it from the pod")
        })
    }

    fn settings(&self) -> anyhow::Result<(LeaseSettings, KubeSettings)> {
        let namespace = Self::required(&self.kube_namespace, "--kube-namespace", "POD_NAMESPACE")?;
        let identity = Self::required(&self.kube_identity, "--kube-identity", "POD_NAME")?;
        let statefulset = Self::required(
            &self.kube_statefulset,
            "--kube-statefulset",
            "WEIR_KUBE_STATEFULSET",
        )?;
        let selector = Self::required(
            &self.kube_pod_selector,
            "--kube-pod-selector",
            "WEIR_KUBE_POD_SELECTOR",
        )?;
        if self.kube_lease_duration_ms < 1_000 {
            bail!("--kube-lease-duration-ms must be at least 1000");
        }
        let mut lease = LeaseSettings::new(namespace, &self.kube_lease, identity);
        lease.lease_duration = Duration::from_millis(self.kube_lease_duration_ms);
        lease.renew_deadline = lease.lease_duration * 2 / 3;
        lease.retry_period = lease.lease_duration / 5;
        let pool = KubeSettings {
            namespace: namespace.to_string(),
            statefulset: statefulset.to_string(),
            pod_selector: selector.to_string(),
            retry: Default::default(),
        };
        Ok((lease, pool))
    }
}

/// Stands by until this replica holds the Lease, then runs the control plane that
/// `start` opens, until SIGTERM (released) or until the Lease is lost (an error: the
/// process exits and Kubernetes restarts it as a standby).
pub async fn run_elected<F, Fut>(
    args: &KubeArgs,
    rest_addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    start: F,
) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<Stack>>,
{
    let (lease_settings, pool_settings) = args.settings()?;
    let client = match &args.kube_api_url {
        Some(url) => weir_kube::client_for_url(url)?,
        None => weir_kube::client_from_environment().await?,
    };
    let identity = lease_settings.identity.clone();
    let elector = Arc::new(LeaseElector::new(client.clone(), lease_settings));
    // A restarted container keeps its pod's labels: clear ours before standing by.
    if let Err(error) = elector.label_own_pod(false).await {
        tracing::warn!(%error, "could not clear this pod's active label");
    }
    let (mut leadership, election) = Arc::clone(&elector).run();

    let (stop_tx, stop_rx) = watch::channel(false);
    let standby = tokio::spawn(serve_on(
        bind(rest_addr, "REST API").await?,
        standby_router(leadership.clone()),
        tls.clone(),
        async move {
            let mut rx = stop_rx;
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    println!("Standing by as {identity}: waiting for the control-plane Lease.");
    let elected = tokio::select! {
        r = leadership.wait_for(|l| *l == Leadership::Active) => r.is_ok(),
        _ = shutdown_signal() => false,
    };
    let _ = stop_tx.send(true);
    standby.await??;
    if !elected {
        election.abort();
        return Ok(());
    }
    println!("Active: {identity} holds the control-plane Lease.");
    if let Err(error) = elector.label_own_pod(true).await {
        election.abort();
        let _ = elector.release().await;
        bail!("elected, but could not label this pod active ({error}); released the Lease so another replica can serve");
    }
    let mut stack = start().await?;
    if let Some(bootstrap) = stack.bootstrap.take() {
        crate::security_args::print_bootstrap(&bootstrap);
    }
    let orchestrator = Arc::new(KubeOrchestrator::new(client, pool_settings));
    weir_control_plane::node_pool::spawn_node_pool(
        &stack.control_plane,
        orchestrator,
        args.pool.policy(),
    );
    let rest = bind(rest_addr, "REST API").await?;
    let mut watch_leadership = leadership.clone();
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let until = {
        let lost = Arc::clone(&lost);
        async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = watch_leadership.wait_for(|l| *l != Leadership::Active) => {
                    lost.store(true, std::sync::atomic::Ordering::Release);
                }
            }
        }
    };
    println!("Ready.");
    stack
        .serve(None, rest, tls, async { Ok(None) }, |_| {}, until)
        .await?;
    election.abort();
    let grace = Duration::from_secs(5);
    let _ = tokio::time::timeout(grace, elector.label_own_pod(false)).await;
    if lost.load(std::sync::atomic::Ordering::Acquire) {
        bail!("lost the control-plane Lease; exiting so Kubernetes restarts this replica as a standby");
    }
    match tokio::time::timeout(grace, elector.release()).await {
        Ok(Ok(())) => tracing::info!("released the control-plane Lease"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not release the control-plane Lease; a standby takes over when it runs out")
        }
        Err(_) => tracing::warn!("releasing the control-plane Lease timed out"),
    }
    Ok(())
}

/// A standby's REST port: alive, not ready, and every other path refused with the name of
/// the active replica.
fn standby_router(leadership: watch::Receiver<Leadership>) -> axum::Router {
    let refuse = move || {
        let holder = match &*leadership.borrow() {
            Leadership::Standby { holder: Some(h) } => format!("the active one is {h}"),
            _ => "no replica is active yet".to_string(),
        };
        let body = serde_json::json!({ "error": {
            "code": "Standby",
            "message": format!("this control-plane replica is standing by ({holder}); use the control-plane Service, which routes to the active replica"),
        }});
        async move { (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response() }
    };
    axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "standby" }))
        .fallback(refuse)
}
