//! Cluster mode: this node's view of placement, its lease, and forwarding to other nodes.
//!
//! A node heartbeats the control plane every [`HEARTBEAT_INTERVAL`]. Each answer renews
//! its lease, replaces its read-only copy of the stream metadata, and lists every shard's
//! node and generation. A record request for a shard held elsewhere is forwarded to that
//! node with the generation the forwarder believes in (`x-weir-generation`); the owner
//! refuses it if the generation is not its current one, or if its own lease has run
//! out. Management calls are forwarded to the control plane as they came.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use weir_auth::AccessTable;
use weir_contracts::{
    Assignment, AuditEvent, AuditFuture, AuditLog, HeartbeatReply, HeartbeatRequest, ShardReport,
    StreamCatalog,
};

use crate::error::KinesisError;

/// How often a node heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
/// A node stops serving this long before the lease the control plane granted runs out,
/// so it has stopped before the control plane can hand its shards to another node.
const LEASE_SAFETY: Duration = Duration::from_millis(500);
/// Longest wait for a forwarded request, well under the default 3 s lease.
const FORWARD_TIMEOUT: Duration = Duration::from_millis(2000);
/// Marks a forwarded SubscribeToShard that continues one begun on another leader.
pub const RESUME_HEADER: &str = "x-weir-resume";
/// Header carrying the generation a forwarded request was routed under.
pub const GENERATION_HEADER: &str = "x-weir-generation";

/// Where a shard is served from, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This node, under this generation.
    Local(u64),
    /// Another node at this base URL, under this generation.
    Remote(String, u64),
}

#[derive(Default)]
struct View {
    nodes: HashMap<String, String>,
    assignments: HashMap<(i64, u64), Assignment>,
    lease_until: Option<Instant>,
}

/// This node's membership in a cluster.
pub struct Cluster {
    /// Node id.
    pub node_id: String,
    /// URL other nodes and the control plane reach this node at.
    pub url: String,
    control_plane_url: String,
    http: reqwest::Client,
    view: RwLock<View>,
    secret: Vec<u8>,
    /// The id of this node's data disk (see `HeartbeatRequest::disk_id`).
    disk_id: RwLock<String>,
    /// What this node holds, sent with the next heartbeat.
    reports: parking_lot::Mutex<Vec<ShardReport>>,
    /// The data disk's space as last measured.
    disk: parking_lot::Mutex<Option<weir_contracts::DiskUsage>>,
    /// Bumped after every heartbeat that changed the view.
    changes: tokio::sync::watch::Sender<u64>,
    /// The `state` of the last full heartbeat answer applied.
    known_state: std::sync::atomic::AtomicU64,
}

impl Cluster {
    /// A node that will register with the control plane at `control_plane_url`. With
    /// `ca_pem`, calls to the control plane and other nodes go over TLS trusting only
    /// that CA (they carry the internal token either way).
    pub fn new(
        node_id: String,
        url: String,
        control_plane_url: String,
        secret: &str,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, KinesisError> {
        Ok(Self {
            secret: secret.as_bytes().to_vec(),
            node_id,
            url,
            control_plane_url: control_plane_url.trim_end_matches('/').to_string(),
            http: internal_client(ca_pem)?,
            view: RwLock::new(View::default()),
            disk_id: RwLock::new(String::new()),
            reports: parking_lot::Mutex::new(Vec::new()),
            disk: parking_lot::Mutex::new(None),
            changes: tokio::sync::watch::channel(0).0,
            known_state: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Sets the id of this node's data disk before the first heartbeat.
    pub fn set_disk_id(&self, disk_id: String) {
        *self.disk_id.write() = disk_id;
    }

    /// Replaces what the next heartbeat reports.
    pub fn set_reports(&self, reports: Vec<ShardReport>) {
        *self.reports.lock() = reports;
    }

    /// Records the data disk's space, sent with the next heartbeat.
    pub fn set_disk(&self, disk: Option<weir_contracts::DiskUsage>) {
        *self.disk.lock() = disk;
    }

    /// Watches for heartbeats (the view may have changed).
    pub fn watch_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The URL of a live node.
    pub fn node_url(&self, node: &str) -> Option<String> {
        self.view.read().nodes.get(node).cloned()
    }

    /// Every assignment in which this node holds a replica.
    pub fn my_assignments(&self) -> Vec<Assignment> {
        self.view
            .read()
            .assignments
            .values()
            .filter(|a| a.replicas.contains(&self.node_id) || a.node == self.node_id)
            .cloned()
            .collect()
    }

    /// Whether the control plane's view says this node holds no replica of a shard it
    /// knows about (the shard's data here can go).
    pub fn dropped(&self, uid: i64, ordinal: u64) -> bool {
        self.view
            .read()
            .assignments
            .get(&(uid, ordinal))
            .is_some_and(|a| a.node != self.node_id && !a.replicas.contains(&self.node_id))
    }

    /// One heartbeat: renews the lease and refreshes metadata and placement.
    pub async fn heartbeat(&self, replica: &NodeMetadata) -> Result<(), KinesisError> {
        let sent = Instant::now();
        let disk_id = self.disk_id.read().clone();
        let reports = self.reports.lock().clone();
        let request = HeartbeatRequest {
            node_id: self.node_id.clone(),
            url: self.url.clone(),
            disk_id,
            reports,
            known_state: self.known_state.load(std::sync::atomic::Ordering::Acquire),
            disk: *self.disk.lock(),
        };
        let reply: HeartbeatReply = self
            .http
            .post(format!("{}/internal/v1/heartbeat", self.control_plane_url))
            .header(weir_auth::INTERNAL_HEADER, self.internal_token())
            .json(&request)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| KinesisError::Internal(format!("heartbeat failed: {e}")))?
            .json()
            .await
            .map_err(|e| KinesisError::Internal(format!("heartbeat answer unreadable: {e}")))?;
        let lease_until = (reply.lease_ms > 0)
            .then(|| sent + Duration::from_millis(reply.lease_ms).saturating_sub(LEASE_SAFETY));
        if reply.unchanged {
            self.view.write().lease_until = lease_until;
            return Ok(());
        }
        self.known_state
            .store(reply.state, std::sync::atomic::Ordering::Release);
        if let Some(settings) = reply.settings {
            replica.catalog.set_settings(settings);
        }
        replica.catalog.replace(reply.streams);
        if let (Some(auth), Some(access)) = (reply.auth, &replica.access) {
            access.apply(auth);
        }
        let mut view = self.view.write();
        view.nodes = reply.nodes.into_iter().map(|n| (n.id, n.url)).collect();
        view.assignments = reply
            .assignments
            .into_iter()
            .map(|a| ((a.stream_uid, a.ordinal), a))
            .collect();
        view.lease_until = lease_until;
        drop(view);
        self.changes.send_modify(|n| *n += 1);
        Ok(())
    }

    /// The control plane's base URL.
    pub fn control_plane_url(&self) -> &str {
        &self.control_plane_url
    }

    /// The HTTP client nodes use among themselves.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A fresh internal token for a request to the control plane or another node.
    pub fn internal_token(&self) -> String {
        weir_auth::internal_token(&self.secret, std::time::SystemTime::now())
    }

    /// Whether this node may serve its shards now.
    pub fn lease_valid(&self) -> bool {
        self.view
            .read()
            .lease_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// Who serves a shard (its leader), or `None` while it has none. A leader still
    /// rebuilding its copy serves nothing: the control plane is choosing another.
    pub fn owner(&self, uid: i64, ordinal: u64) -> Option<Owner> {
        let view = self.view.read();
        let a = view.assignments.get(&(uid, ordinal))?;
        if a.rebuilding.contains(&a.node) {
            return None;
        }
        if a.node == self.node_id {
            return Some(Owner::Local(a.generation));
        }
        Some(Owner::Remote(
            view.nodes.get(&a.node)?.clone(),
            a.generation,
        ))
    }

    /// The generation of a shard's assignment, as this node last heard it.
    pub fn assignment_generation(&self, uid: i64, ordinal: u64) -> Option<u64> {
        self.view
            .read()
            .assignments
            .get(&(uid, ordinal))
            .map(|a| a.generation)
    }

    /// The replica set of a shard (the leader first).
    pub fn replicas(&self, uid: i64, ordinal: u64) -> Vec<String> {
        self.view
            .read()
            .assignments
            .get(&(uid, ordinal))
            .map(|a| {
                if a.replicas.is_empty() {
                    vec![a.node.clone()]
                } else {
                    a.replicas.clone()
                }
            })
            .unwrap_or_default()
    }

    /// Sends a JSON Kinesis request to another node, routed under `generation`.
    #[tracing::instrument(name = "forward", skip_all, fields(operation = %operation, leader = %url, generation = generation))]
    pub async fn forward<T: DeserializeOwned>(
        &self,
        url: &str,
        operation: &str,
        body: &serde_json::Value,
        generation: u64,
    ) -> Result<T, KinesisError> {
        let response = self
            .http
            .post(format!("{url}/"))
            .header(weir_auth::INTERNAL_HEADER, self.internal_token())
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("Kinesis_20131202.{operation}"))
            .header(GENERATION_HEADER, generation.to_string())
            .headers(weir_trace::inject())
            // Well under the lease: a node that stopped answering loses its shards within a
            // lease, and the caller should re-route by then rather than wait on it.
            .timeout(FORWARD_TIMEOUT)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                let message = format!("forwarding {operation} to {url} failed: {e}");
                if e.is_connect() {
                    // Never delivered: routing again cannot store the record twice.
                    KinesisError::Unavailable(message)
                } else {
                    // It may have been applied before the connection broke.
                    KinesisError::Internal(message)
                }
            })?;
        let status = response.status();
        let retry_safe = response
            .headers()
            .contains_key(crate::protocol::RETRY_SAFE_HEADER);
        let bytes = response.bytes().await.map_err(|e| {
            KinesisError::Internal(format!("forwarding {operation} to {url} failed: {e}"))
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| KinesisError::Internal(format!("unreadable answer from {url}: {e}")));
        }
        Err(match remote_error(&bytes) {
            KinesisError::Internal(message) if retry_safe => KinesisError::Unavailable(message),
            other => other,
        })
    }

    /// Opens a SubscribeToShard on the shard's leader, routed under `generation`, and
    /// returns its answer once the leader accepted it (the event stream follows in the
    /// body). `resume` tells the leader this continues a subscription that already began
    /// elsewhere (no ResourceInUse check). The request may last `lifetime`.
    pub async fn open_subscription(
        &self,
        url: &str,
        generation: u64,
        format: crate::protocol::Format,
        body: Vec<u8>,
        resume: bool,
        lifetime: Duration,
    ) -> Result<reqwest::Response, KinesisError> {
        let mut request = self
            .http
            .post(format!("{url}/"))
            .header(weir_auth::INTERNAL_HEADER, self.internal_token())
            .header("content-type", format.content_type())
            .header("x-amz-target", "Kinesis_20131202.SubscribeToShard")
            .header(GENERATION_HEADER, generation.to_string())
            .headers(weir_trace::inject())
            // Replaces the client's 10 s default: the answer streams for minutes.
            .timeout(lifetime + FORWARD_TIMEOUT)
            .body(body);
        if resume {
            request = request.header(RESUME_HEADER, "1");
        }
        let response = request
            .send()
            .await
            .map_err(|e| KinesisError::Unavailable(format!("subscribing at {url} failed: {e}")))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let bytes = response.bytes().await.unwrap_or_default();
        let error = match format {
            crate::protocol::Format::Json => remote_error(&bytes),
            crate::protocol::Format::Cbor => {
                let value: serde_json::Value =
                    ciborium::from_reader(&bytes[..]).unwrap_or_default();
                remote_error(&serde_json::to_vec(&value).unwrap_or_default())
            }
        };
        // Subscribing stores nothing: a failure on the leader's side (it no longer leads,
        // or is still taking over) is always safe to route again.
        Err(match error {
            KinesisError::Internal(message) => KinesisError::Unavailable(message),
            other => other,
        })
    }

    /// Passes a management call to the control plane unchanged.
    pub async fn to_control_plane(
        &self,
        target: &str,
        content_type: &str,
        body: bytes::Bytes,
    ) -> Response {
        let sent = self
            .http
            .post(format!("{}/internal/v1/kinesis", self.control_plane_url))
            .header(weir_auth::INTERNAL_HEADER, self.internal_token())
            .header("content-type", content_type)
            .header("x-amz-target", target)
            .headers(weir_trace::inject())
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/x-amz-json-1.1")
                    .to_string();
                let body = response.bytes().await.unwrap_or_default();
                (status, [("content-type", content_type)], body).into_response()
            }
            Err(e) => crate::protocol::Format::from_content_type(Some(content_type)).error(
                &KinesisError::Internal(format!("The control plane is unreachable: {e}")),
            ),
        }
    }
}

/// The HTTP client for calls inside a cluster: HTTP/2 where the peer offers it, and with
/// `ca_pem` TLS trusting only that CA.
pub fn internal_client(ca_pem: Option<&[u8]>) -> Result<reqwest::Client, KinesisError> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| KinesisError::Internal(format!("unreadable cluster CA: {e}")))?;
        builder = builder.use_rustls_tls().tls_built_in_root_certs(false);
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| KinesisError::Internal(format!("cannot build the internal HTTP client: {e}")))
}

/// Rebuilds the error another node answered with.
fn remote_error(bytes: &[u8]) -> KinesisError {
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let message = value["message"]
        .as_str()
        .or(value["Message"].as_str())
        .unwrap_or("forwarded request failed")
        .to_string();
    match value["__type"].as_str().unwrap_or_default() {
        "ValidationException" => KinesisError::InvalidArgument(message),
        // The forwarding node found the stream, so the holder's copy of the metadata is
        // behind by up to a heartbeat: retryable. A stream that really is gone fails on the
        // forwarding node's own lookup when it routes again.
        "ResourceNotFoundException" => KinesisError::Unavailable(message),
        "ResourceInUseException" => KinesisError::ResourceInUse(message),
        "InvalidArgumentException" => KinesisError::InvalidArgument(message),
        "ExpiredIteratorException" => KinesisError::ExpiredIterator(message),
        "LimitExceededException" => KinesisError::LimitExceeded(message),
        "ProvisionedThroughputExceededException" => KinesisError::Throttled(message),
        _ => KinesisError::Internal(message),
    }
}

/// A node's copy of the metadata, replaced from every heartbeat answer.
pub struct NodeMetadata {
    /// Every stream.
    pub catalog: Arc<StreamCatalog>,
    /// Principals and keys, when authentication is on.
    pub access: Option<Arc<AccessTable>>,
}

/// Starts the heartbeat loop; it stops when the node's catalog is dropped.
pub fn spawn_heartbeats(
    cluster: Arc<Cluster>,
    catalog: Weak<StreamCatalog>,
    access: Option<Arc<AccessTable>>,
) {
    tokio::spawn(async move {
        loop {
            let Some(catalog) = catalog.upgrade() else {
                return;
            };
            let replica = NodeMetadata {
                catalog,
                access: access.clone(),
            };
            if let Err(error) = cluster.heartbeat(&replica).await {
                tracing::warn!(%error, "heartbeat failed; this node stops serving when its lease runs out");
            }
            drop(replica);
            tokio::time::sleep(HEARTBEAT_INTERVAL).await;
        }
    });
}

/// Events waiting to be forwarded; beyond this the oldest caller waits (backpressure).
const AUDIT_QUEUE: usize = 4096;

/// This node's audit events, forwarded to the control plane (which writes the log)
/// through a bounded queue.
pub struct ForwardingAudit {
    sender: mpsc::Sender<AuditEvent>,
}

impl ForwardingAudit {
    /// Starts the forwarding task of `cluster`'s node.
    pub fn spawn(cluster: Arc<Cluster>) -> Self {
        let (sender, mut receiver) = mpsc::channel::<AuditEvent>(AUDIT_QUEUE);
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                let sent = cluster
                    .http
                    .post(format!("{}/internal/v1/audit", cluster.control_plane_url))
                    .header(weir_auth::INTERNAL_HEADER, cluster.internal_token())
                    .json(&event)
                    .send()
                    .await;
                if let Err(error) = sent {
                    tracing::warn!(%error, action = %event.action, "could not forward an audit event");
                }
            }
        });
        Self { sender }
    }
}

impl AuditLog for ForwardingAudit {
    fn record_event(&self, event: AuditEvent) -> AuditFuture<'_> {
        Box::pin(async move {
            if self.sender.send(event).await.is_err() {
                tracing::error!("audit forwarding stopped");
            }
        })
    }
}
