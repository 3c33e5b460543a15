//! The HTTP entry point: `POST /`, dispatch on `X-Amz-Target`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use sha2::Digest as _;
use weir_contracts::{
    CatalogSettings, FenceFuture, Guard, Ports, ShardFence, StreamAdmin, StreamCatalog, StreamEvent,
};
use weir_storage::LogConfig;

use crate::clock::{Clock, SystemClock};
use crate::cluster::{Cluster, Owner};
use crate::error::KinesisError;
use crate::iterator::IteratorCodec;
use crate::ops;
use crate::protocol::Format;
use crate::shards::{LocalShard, ShardRegistry};
use crate::tiering::{RemoteCatalog, TierCatalog, TierConfig, Tiering};

/// Largest request body accepted: a 10 MiB PutRecords grows by a third in base64.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
use crate::envelope::TARGET_PREFIX;

/// Default of [`DataPlaneConfig::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// Settings of a data-plane node.
#[derive(Debug, Clone)]
pub struct DataPlaneConfig {
    /// Folder holding shard logs.
    pub data_dir: PathBuf,
    /// Storage tuning.
    pub log: LogConfig,
    /// Largest record (data plus partition key) any stream may take, checked before the
    /// stream is looked up: 10 MiB, UpdateMaxRecordSize's ceiling. Each stream's own
    /// limit (1 MiB by default) is checked after.
    pub max_record_bytes: usize,
    /// How often retention runs.
    pub retention_interval: Duration,
    /// Shared secret of a cluster's nodes (signs shard iterators); `None` when alone.
    pub cluster_secret: Option<String>,
    /// The cold tier, when tiering is on.
    pub tier: Option<TierSetup>,
    /// Most Kinesis requests served at once; beyond it requests are refused with a
    /// throttle rather than queued.
    pub max_in_flight: usize,
    /// How long one SubscribeToShard lasts (AWS: five minutes).
    pub subscription_lifetime: Duration,
    /// The deployment's master key ring, which opens encrypted streams' data keys;
    /// without it this node can neither write nor read an encrypted stream.
    pub master_key: Option<weir_auth::MasterKey>,
}

/// The cold tier a node uploads to: the bucket (or folder) and the node's settings.
#[derive(Clone)]
pub struct TierSetup {
    /// Where segments go.
    pub store: Arc<dyn weir_tier::ObjectStore>,
    /// Local retention, upload interval, cache size.
    pub config: TierConfig,
}

impl std::fmt::Debug for TierSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TierSetup")
            .field("store", &self.store.describe())
            .field("config", &self.config)
            .finish()
    }
}

impl DataPlaneConfig {
    /// Defaults for a data folder.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            log: LogConfig::default(),
            max_record_bytes: 10 * 1024 * 1024,
            retention_interval: Duration::from_secs(60),
            cluster_secret: None,
            tier: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            subscription_lifetime: crate::subscribe::DEFAULT_LIFETIME,
            master_key: None,
        }
    }
}

/// A data-plane node: the metadata it serves from, its shard logs, its clock.
pub struct DataPlane {
    /// Every stream (the control plane's own catalog, or a node's heartbeat copy).
    pub(crate) catalog: Arc<StreamCatalog>,
    /// Stream changes, when the control plane is in this process; a node forwards them.
    admin: Option<Arc<dyn StreamAdmin>>,
    /// Authentication, when it is on.
    guard: Option<Guard>,
    pub(crate) shards: Arc<ShardRegistry>,
    /// Data keys of encrypted streams, opened with the master key.
    pub(crate) record_keys: Arc<crate::encryption::RecordKeys>,
    pub(crate) iterators: IteratorCodec,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: DataPlaneConfig,
    /// Set when this node is one of several (cluster mode).
    pub(crate) cluster: Option<Arc<Cluster>>,
    /// The cold tier, when tiering is on.
    pub(crate) tiering: Option<Arc<Tiering>>,
    /// Permits for requests being served ([`DataPlaneConfig::max_in_flight`]).
    pub(crate) in_flight: Arc<tokio::sync::Semaphore>,
    /// Latency and outcome of every Kinesis request (`/metrics`).
    pub(crate) request_metrics: crate::telemetry::RequestMetrics,
    /// When a not-found answer last refreshed the metadata (ms, the node's clock).
    last_refresh_ms: std::sync::atomic::AtomicI64,
    /// SubscribeToShard: who is subscribed, and the per-shard tail readers.
    pub(crate) subscriptions: Arc<crate::subscribe::Subscriptions>,
}

/// Where a shard's records are read and written for a request.
pub(crate) enum Located {
    /// On this node.
    Local(Arc<LocalShard>),
    /// On another node: forward there under this generation.
    Remote(String, u64),
}

tokio::task_local! {
    /// The generation a forwarded request was routed under (`x-weir-generation`).
    pub(crate) static FORWARDED_GENERATION: Option<u64>;
}

/// Operations a node serves itself (or forwards to the shard's node); everything else is
/// stream management and goes to the control plane.
const RECORD_OPERATIONS: [&str; 5] = [
    "PutRecord",
    "PutRecords",
    "GetShardIterator",
    "GetRecords",
    "SubscribeToShard",
];

impl DataPlane {
    /// Builds a node and starts its background work (deletions, retention). The iterator
    /// key lives in the data folder so iterators survive a restart.
    pub async fn start(
        ports: Ports,
        config: DataPlaneConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, KinesisError> {
        Self::start_with(ports, config, clock, None).await
    }

    async fn start_with(
        ports: Ports,
        config: DataPlaneConfig,
        clock: Arc<dyn Clock>,
        cluster: Option<Arc<Cluster>>,
    ) -> Result<Arc<Self>, KinesisError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            KinesisError::Internal(format!(
                "cannot create data folder {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let iterators = match &config.cluster_secret {
            // Every node of a cluster must accept every other node's iterators.
            Some(secret) => IteratorCodec::with_key(sha2::Sha256::digest(secret.as_bytes()).into()),
            None => {
                IteratorCodec::with_key(load_or_create_key(&config.data_dir.join("iterator.key"))?)
            }
        };
        let tier_catalog: Option<Arc<dyn TierCatalog>> = match (&cluster, &ports.tier) {
            (Some(cluster), _) => Some(Arc::new(RemoteCatalog(Arc::clone(cluster)))),
            (None, local) => local.clone(),
        };
        let tiering = match (&config.tier, tier_catalog) {
            (Some(setup), Some(catalog)) => Some(Arc::new(Tiering::new(
                Arc::clone(&setup.store),
                catalog,
                setup.config.clone(),
            ))),
            (Some(_), None) => {
                return Err(KinesisError::Internal(
                    "the cold tier is configured but no tier catalog was given".into(),
                ))
            }
            (None, _) => None,
        };
        let shards = Arc::new(ShardRegistry::new(
            &config.data_dir,
            config.log.clone(),
            tiering.clone(),
            cluster.is_some(),
        ));
        if let Some(admin) = &ports.admin {
            admin.attach_fence(Arc::new(RegistryFence(Arc::clone(&shards))));
            admin.attach_traffic(Arc::new(RegistryTraffic(Arc::downgrade(&shards))));
        }
        let plane = Arc::new(Self {
            in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
            request_metrics: Default::default(),
            last_refresh_ms: std::sync::atomic::AtomicI64::new(i64::MIN / 2),
            subscriptions: Arc::new(crate::subscribe::Subscriptions::new(
                config.subscription_lifetime,
            )),
            record_keys: Arc::new(crate::encryption::RecordKeys::new(
                config.master_key.clone(),
            )),
            shards,
            catalog: ports.catalog,
            admin: ports.admin,
            guard: ports.guard,
            iterators,
            clock,
            config,
            cluster,
            tiering,
        });
        let live = plane.live_uids();
        if let Ok(n) = plane.shards.collect_garbage(&live).await {
            if n > 0 {
                tracing::info!(streams = n, "removed data of deleted streams");
            }
        }
        tokio::spawn(watch_deletions(Arc::clone(&plane)));
        tokio::spawn(enforce_retention(Arc::downgrade(&plane)));
        if plane.tiering.is_some() {
            tokio::spawn(crate::tiering::run_uploader(Arc::downgrade(&plane)));
        }
        if let Some(cluster) = &plane.cluster {
            crate::replication::roles::spawn(Arc::downgrade(&plane), Arc::clone(cluster));
        }
        Ok(plane)
    }

    /// Convenience for tests: the system clock.
    pub async fn start_default(
        ports: Ports,
        config: DataPlaneConfig,
    ) -> Result<Arc<Self>, KinesisError> {
        Self::start(ports, config, Arc::new(SystemClock)).await
    }

    /// Starts a node of a cluster: its metadata is a replica fed by heartbeats to the
    /// control plane at `cluster`, and it waits for its first heartbeat before serving.
    pub async fn start_node(
        config: DataPlaneConfig,
        cluster: Arc<Cluster>,
        clock: Arc<dyn Clock>,
        auth: Option<weir_auth::MasterKey>,
    ) -> Result<Arc<Self>, KinesisError> {
        // Streams, principals and sealed keys arrive with every heartbeat; this node
        // verifies signatures itself and forwards its audit events to the control plane.
        let catalog = Arc::new(StreamCatalog::new(CatalogSettings::default()));
        let guard = auth.map(|master| Guard {
            access: Arc::new(weir_auth::AccessTable::new(master)),
            audit: Arc::new(crate::cluster::ForwardingAudit::spawn(Arc::clone(&cluster))),
        });
        let replica = crate::cluster::NodeMetadata {
            catalog: Arc::clone(&catalog),
            access: guard.as_ref().map(|g| Arc::clone(&g.access)),
        };
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            KinesisError::Internal(format!(
                "cannot create data folder {}: {e}",
                config.data_dir.display()
            ))
        })?;
        cluster.set_disk_id(load_or_create_disk_id(&config.data_dir)?);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while let Err(error) = cluster.heartbeat(&replica).await {
            if std::time::Instant::now() > deadline {
                return Err(error);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let ports = Ports {
            catalog: Arc::clone(&catalog),
            admin: None,
            tier: None,
            guard,
        };
        let plane = Self::start_with(ports, config, clock, Some(Arc::clone(&cluster))).await?;
        crate::cluster::spawn_heartbeats(cluster, Arc::downgrade(&catalog), replica.access);
        Ok(plane)
    }

    /// Where a shard is served. Alone, always here under generation 1. In a cluster, here
    /// only if placement says so, under the assigned generation, while this node's lease
    /// holds, and only for the generation a forwarding node routed the request under.
    pub(crate) async fn locate(&self, uid: i64, ordinal: u64) -> Result<Located, KinesisError> {
        let Some(cluster) = &self.cluster else {
            return Ok(Located::Local(self.shards.get(uid, ordinal, 1).await?));
        };
        let forwarded = FORWARDED_GENERATION.try_with(|g| *g).ok().flatten();
        match cluster.owner(uid, ordinal) {
            Some(Owner::Local(generation)) => {
                if forwarded.is_some_and(|g| g != generation) {
                    return Err(KinesisError::Unavailable(format!(
                        "Refused: routed under a stale generation (this node holds the shard under generation {generation}); retry."
                    )));
                }
                if !cluster.lease_valid() {
                    return Err(KinesisError::Unavailable(
                        "This node's lease has expired; it serves no shard until it renews. Retry."
                            .into(),
                    ));
                }
                Ok(Located::Local(
                    crate::replication::roles::lead(self, cluster, uid, ordinal, generation)
                        .await?,
                ))
            }
            Some(Owner::Remote(url, generation)) if forwarded.is_none() => {
                Ok(Located::Remote(url, generation))
            }
            Some(Owner::Remote(..)) => Err(KinesisError::Unavailable(
                "Refused: this node does not hold the shard (stale routing); retry.".into(),
            )),
            None => Err(KinesisError::Unavailable(
                "The shard has no leader right now (one is being chosen, or its replicas are away); retry shortly.".into(),
            )),
        }
    }

    /// Ends every SubscribeToShard stream this node serves or proxies (at shutdown, before
    /// the HTTP server waits for its connections); their clients subscribe again.
    pub fn end_subscriptions(&self) {
        self.subscriptions.close();
    }

    /// Whether a request carries a valid internal token (always false when alone).
    pub(crate) fn internal_request(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(secret) = &self.config.cluster_secret else {
            return false;
        };
        headers
            .get(weir_auth::INTERNAL_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                weir_auth::verify_internal_token(secret.as_bytes(), t, std::time::SystemTime::now())
            })
    }

    /// Whether this node holds a shard now (always, when alone).
    pub(crate) fn holds(&self, uid: i64, ordinal: u64) -> bool {
        match &self.cluster {
            None => true,
            Some(cluster) => matches!(cluster.owner(uid, ordinal), Some(Owner::Local(_))),
        }
    }

    /// The cold tier's status on this node, when tiering is on.
    pub fn tier_status(&self) -> Option<crate::tiering::TierStatus> {
        self.tiering.as_ref().map(|t| t.status())
    }

    /// Runs one upload pass now (tests and benchmarks); the first failure, if any.
    pub async fn upload_now(&self) -> Option<String> {
        let tiering = self.tiering.clone()?;
        crate::tiering::upload_pass(self, &tiering).await
    }

    /// Whether a stream incarnation exists, as this node's metadata says.
    pub(crate) fn knows_stream(&self, uid: i64) -> bool {
        self.catalog.has_stream_uid(uid)
    }

    /// Who makes stream changes: the control plane in this process. A node of a cluster
    /// forwards management calls before they get here, so reaching this there is a bug
    /// reported as a retryable failure rather than a panic.
    pub(crate) fn admin(&self) -> Result<&dyn StreamAdmin, KinesisError> {
        self.admin.as_deref().ok_or_else(|| {
            KinesisError::Unavailable(
                "This node holds a read-only copy of the metadata; the call must go to the control plane. Retry."
                    .into(),
            )
        })
    }

    /// `/readyz`: a node of a cluster is ready while its lease from the control plane
    /// holds (without one it serves no shard); a single process always is.
    fn readiness(&self) -> (axum::http::StatusCode, &'static str) {
        match &self.cluster {
            Some(cluster) if !cluster.lease_valid() => (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "not ready: no valid lease from the control plane",
            ),
            _ => (axum::http::StatusCode::OK, "ready"),
        }
    }

    /// Whether a request that found no stream may refresh this node's metadata now: in a
    /// cluster, at most every 200 ms, so requests for streams that really are missing
    /// cannot turn into a heartbeat each.
    pub(crate) fn may_refresh_metadata(&self) -> bool {
        if self.cluster.is_none() {
            return false;
        }
        let now = self.clock.now_ms();
        let last = self
            .last_refresh_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        now - last >= 200
            && self
                .last_refresh_ms
                .compare_exchange(
                    last,
                    now,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok()
    }

    /// This node's copy of the metadata, for an immediate heartbeat.
    pub(crate) fn metadata(&self) -> crate::cluster::NodeMetadata {
        crate::cluster::NodeMetadata {
            catalog: Arc::clone(&self.catalog),
            access: self.guard.as_ref().map(|g| Arc::clone(&g.access)),
        }
    }

    /// Incarnations of every existing stream: shard data of any other uid is garbage.
    fn live_uids(&self) -> Vec<i64> {
        self.catalog
            .list_streams(None, usize::MAX)
            .0
            .iter()
            .map(|s| s.uid)
            .collect()
    }

    /// Whether the request being served was forwarded by another node.
    pub(crate) fn is_forwarded(&self) -> bool {
        FORWARDED_GENERATION
            .try_with(|g| g.is_some())
            .unwrap_or(false)
    }

    /// The cluster membership, when in cluster mode.
    pub(crate) fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Closes every shard log (drains queued appends). Call at shutdown.
    pub async fn shutdown(&self) {
        self.end_subscriptions();
        self.shards.close_all().await;
    }
}

/// Seals shard logs for the control plane during reshards.
struct RegistryFence(Arc<ShardRegistry>);

impl ShardFence for RegistryFence {
    fn seal(&self, stream_uid: i64, ordinal: u64) -> FenceFuture<'_, u64> {
        Box::pin(async move {
            let shard = self
                .0
                .get(stream_uid, ordinal, 1)
                .await
                .map_err(|e| e.to_string())?;
            let end = shard
                .seal_committed()
                .await
                .map_err(|e| KinesisError::from(e).to_string())?;
            Ok(shard.position(end))
        })
    }

    fn unseal(&self, stream_uid: i64, ordinal: u64) -> FenceFuture<'_, ()> {
        Box::pin(async move {
            let shard = self
                .0
                .get(stream_uid, ordinal, 1)
                .await
                .map_err(|e| e.to_string())?;
            shard.unseal().await.map(|_| ()).map_err(|e| e.to_string())
        })
    }
}

/// The traffic of the shards this process serves, for the in-process autoscaler. Weak, so
/// the control plane holding it does not keep a stopped data plane's shards alive.
struct RegistryTraffic(std::sync::Weak<ShardRegistry>);

impl weir_contracts::TrafficSource for RegistryTraffic {
    fn shard_traffic(&self) -> Vec<weir_contracts::ShardTrafficReport> {
        let Some(shards) = self.0.upgrade() else {
            return Vec::new();
        };
        shards
            .open_shards()
            .into_iter()
            .map(
                |((stream_uid, ordinal), shard)| weir_contracts::ShardTrafficReport {
                    stream_uid,
                    ordinal,
                    traffic: shard.meter.traffic(),
                },
            )
            .collect()
    }
}

/// The id of this node's data disk, made (and fsynced) the first time the folder is
/// used: a node that comes back with a different id came back on an empty disk.
fn load_or_create_disk_id(dir: &std::path::Path) -> Result<String, KinesisError> {
    let path = dir.join("disk-id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if !text.trim().is_empty() {
            return Ok(text.trim().to_string());
        }
    }
    let id = format!("{:032x}", rand::random::<u128>());
    let tmp = dir.join("disk-id.tmp");
    std::fs::write(&tmp, &id)
        .and_then(|()| std::fs::File::open(&tmp).and_then(|f| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .and_then(|()| std::fs::File::open(dir).and_then(|d| d.sync_all()))
        .map_err(|e| KinesisError::Internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(id)
}

fn load_or_create_key(path: &std::path::Path) -> Result<[u8; 32], KinesisError> {
    if let Ok(bytes) = std::fs::read(path) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(key);
        }
    }
    let key: [u8; 32] = rand::random();
    std::fs::write(path, key)
        .map_err(|e| KinesisError::Internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(key)
}

async fn watch_deletions(plane: Arc<DataPlane>) {
    let mut events = plane.catalog.subscribe();
    loop {
        match events.recv().await {
            Ok(StreamEvent::Deleted { name, uid }) => {
                plane.record_keys.forget(uid);
                if let Err(error) = plane.shards.drop_stream(uid).await {
                    tracing::warn!(stream = %name, %error, "could not delete stream data; will retry at next start");
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                let live = plane.live_uids();
                let _ = plane.shards.collect_garbage(&live).await;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn enforce_retention(plane: std::sync::Weak<DataPlane>) {
    loop {
        let interval = match plane.upgrade() {
            Some(p) => p.config.retention_interval,
            None => return,
        };
        tokio::time::sleep(interval).await;
        let Some(plane) = plane.upgrade() else { return };
        let now = plane.clock.now_ms();
        let retention: std::collections::HashMap<i64, u32> = plane
            .catalog
            .list_streams(None, usize::MAX)
            .0
            .iter()
            .map(|s| (s.uid, s.retention_hours))
            .collect();
        for ((uid, _), log) in plane.shards.open_logs() {
            let Some(hours) = retention.get(&uid) else {
                continue;
            };
            let cutoff = now - i64::from(*hours) * 3_600_000;
            match tokio::task::spawn_blocking(move || log.enforce_retention(cutoff)).await {
                Ok(Ok(n)) if n > 0 => {
                    tracing::info!(stream_uid = uid, segments = n, "retention deleted segments")
                }
                Ok(Err(error)) => tracing::warn!(%error, "retention failed"),
                _ => {}
            }
        }
    }
}

/// The Kinesis API router of a node: `POST /`, `/healthz`, and `/internal/v1/seal` for
/// the control plane.
pub fn router(plane: Arc<DataPlane>) -> Router {
    let mut seal_route = Router::new()
        .route("/internal/v1/seal", axum::routing::post(crate::seal::seal))
        .route(
            "/internal/v1/replica/append",
            axum::routing::post(crate::replication::follower::append),
        )
        .route(
            "/internal/v1/replica/fence",
            axum::routing::post(crate::replication::follower::fence),
        )
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(Arc::clone(&plane));
    if plane.config.cluster_secret.is_some() {
        seal_route = seal_route.layer(axum::middleware::from_fn_with_state(
            Arc::clone(&plane),
            internal_only,
        ));
    }
    router_at(Arc::clone(&plane), "/")
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|State(plane): State<Arc<DataPlane>>| async move {
                (
                    [(axum::http::header::CONTENT_TYPE, crate::telemetry::CONTENT_TYPE)],
                    plane.render_metrics(),
                )
            })
            .with_state(Arc::clone(&plane)),
        )
        .route(
            "/readyz",
            get(|State(plane): State<Arc<DataPlane>>| async move { plane.readiness() })
                .with_state(Arc::clone(&plane)),
        )
        .merge(seal_route)
        .route(
            "/tier/status",
            get(|State(plane): State<Arc<DataPlane>>| async move {
                axum::Json(plane.tier_status())
            })
            .with_state(plane),
        )
}

/// Lets through only calls carrying this cluster's internal token: the replica, seal and
/// fence endpoints change shard state and are for the control plane and leaders alone.
async fn internal_only(
    State(plane): State<Arc<DataPlane>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if plane.internal_request(request.headers()) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "internal call without a valid cluster token refused");
    let mut refused = Response::new(axum::body::Body::from(
        "This endpoint is internal to a Weir cluster: a valid x-weir-internal-auth token is required.",
    ));
    *refused.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    refused
}

/// The Kinesis API alone at `path` (the control plane serves the management calls nodes
/// forward at `/internal/v1/kinesis`).
pub fn router_at(plane: Arc<DataPlane>, path: &str) -> Router {
    Router::new()
        .route(path, any(handle))
        .layer(DefaultBodyLimit::disable())
        .with_state(plane)
}

async fn handle(State(plane): State<Arc<DataPlane>>, request: axum::extract::Request) -> Response {
    let source = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.to_string());
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    if let Some(answer) = crate::envelope::preflight(&method, &headers) {
        return answer;
    }
    if method != Method::POST {
        return crate::envelope::finish(&headers, crate::envelope::access_denied());
    }
    let fallback =
        Format::from_content_type(headers.get("content-type").and_then(|v| v.to_str().ok()));
    // Held until the answer is built: bodies being read count too, so memory stays
    // bounded by the limit times the largest body.
    let Ok(_in_flight) = Arc::clone(&plane.in_flight).try_acquire_owned() else {
        return fallback.error(&KinesisError::Throttled(format!(
            "Rate exceeded: this node is serving its limit of {} requests at once. Slow down and retry.",
            plane.config.max_in_flight
        )));
    };
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return fallback.error(&KinesisError::InvalidArgument(format!(
                "Request body exceeds the limit of {MAX_BODY_BYTES} bytes."
            )))
        }
    };
    let format = match crate::envelope::check(&headers, &body, ops::is_operation) {
        Ok(format) => format,
        Err(answer) => return crate::envelope::finish(&headers, *answer),
    };
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or_default();
    let internal = plane.internal_request(&headers);
    if let Some(guard) = plane.guard.as_ref().filter(|_| !internal) {
        if let Err(error) = crate::auth::check(
            &plane, guard, &method, &uri, &headers, &body, operation, format, &source,
        )
        .await
        {
            tracing::debug!(operation, %error, "request refused by authentication");
            return format.error(&error);
        }
    }
    if let Some(cluster) = plane.cluster() {
        if !RECORD_OPERATIONS.contains(&operation) {
            let response = cluster
                .to_control_plane(target, format.content_type(), body)
                .await;
            // Read-your-writes: refresh this node's metadata before answering.
            if response.status().is_success() {
                let _ = cluster.heartbeat(&plane.metadata()).await;
            }
            return response;
        }
    }
    let forwarded = headers
        .get(crate::cluster::GENERATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if forwarded.is_some() && !internal {
        return format.error(&KinesisError::Auth(
            "AccessDeniedException",
            "x-weir-generation is for requests between nodes and needs a valid x-weir-internal-auth token.".into(),
        ));
    }
    let started = std::time::Instant::now();
    if operation == "SubscribeToShard" {
        let answer = crate::subscribe::subscribe(
            Arc::clone(&plane),
            format,
            &body,
            &headers,
            internal,
            forwarded,
        )
        .await
        .unwrap_or_else(|error| format.error(&error));
        return crate::envelope::finish(&headers, answer);
    }
    let result = FORWARDED_GENERATION
        .scope(forwarded, ops::dispatch(&plane, operation, format, &body))
        .await;
    let throttled = matches!(&result, Err(KinesisError::Throttled(_)));
    let answer = match result {
        Ok(response) => response,
        Err(error) => {
            if error.status() >= 500 {
                tracing::error!(operation, %error, "request failed");
            } else {
                tracing::debug!(operation, %error, "request refused");
            }
            format.error(&error)
        }
    };
    if let Some(operation) = ops::OPERATIONS.iter().copied().find(|o| *o == operation) {
        plane.request_metrics.observe(
            operation,
            started.elapsed().as_secs_f64(),
            answer.status().as_u16(),
            throttled,
        );
    }
    crate::envelope::finish(&headers, answer)
}
