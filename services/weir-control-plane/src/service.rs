//! Stream lifecycle: validation, persistence, and the in-memory snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, oneshot, Mutex};
use weir_core::Violations;
use weir_meta::{ConsumerRecord, MetaError, MetaStore, StreamMode, StreamRecord, StreamStatus};

use crate::reshard;
use weir_contracts::{
    CatalogSettings, ControlPlaneError, CreateStream, Limits, RetentionChange, ShardFence,
    ShardLimits, StreamCatalog, StreamEvent,
};

/// Most UpdateShardCount calls per stream in a rolling 24 hours (Kinesis: 10).
pub const MAX_SCALINGS_PER_DAY: usize = 10;

/// Resolves when a reshard has finished (the stream is ACTIVE again) or failed.
pub struct ReshardTicket(
    pub(crate) oneshot::Receiver<Result<Arc<StreamRecord>, ControlPlaneError>>,
);

impl ReshardTicket {
    /// Waits for the reshard to finish.
    pub async fn wait(self) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        self.0.await.unwrap_or_else(|_| {
            Err(ControlPlaneError::InvalidArgument(
                "The reshard was abandoned.".into(),
            ))
        })
    }
}

/// Shortest retention Kinesis allows, in hours.
pub const MIN_RETENTION_HOURS: u32 = 24;
/// Longest retention Kinesis allows, in hours.
pub const MAX_RETENTION_HOURS: u32 = 8760;
/// Shards an on-demand stream starts with (Kinesis: 4 MB/s write).
pub const ON_DEMAND_INITIAL_SHARDS: u32 = 4;
/// Tags one stream may carry.
pub const MAX_TAGS_PER_STREAM: usize = 50;
/// Registered consumers one stream may have (Kinesis: 20).
pub const MAX_CONSUMERS_PER_STREAM: usize = 20;

/// Account-level settings the control plane reports and enforces.
#[derive(Debug, Clone)]
pub struct ControlPlaneConfig {
    /// Region used in ARNs.
    pub region: String,
    /// Twelve-digit account id used in ARNs and error messages.
    pub account_id: String,
    /// Most open shards across all streams (DescribeLimits ShardLimit).
    pub shard_limit: u32,
    /// Most on-demand streams.
    pub on_demand_stream_limit: u32,
    /// How long a stream stays UPDATING before a reshard takes effect. Zero in production
    /// (the reshard itself takes milliseconds); tests raise it to observe UPDATING, as
    /// kinesalite's `--updateStreamMs` does.
    pub reshard_delay: Duration,
    /// How long a new stream stays CREATING before it turns ACTIVE, and a deleted one
    /// DELETING before it is gone (consumers likewise). Zero in production (there is
    /// nothing slow to wait for); tests raise it to exercise clients that wait, as
    /// kinesalite's `--createStreamMs` and `--deleteStreamMs` do.
    pub create_delay: Duration,
    /// How long a data-plane node's lease lasts after a heartbeat (cluster mode).
    pub lease_timeout: Duration,
    /// Replicas per shard for streams that do not set their own (capped by the number of
    /// live nodes when a shard is placed).
    pub replication_factor: u32,
    /// How long a replica's node may stay away before the replica is re-created on
    /// another node.
    pub replace_after: Duration,
    /// Per-shard throughput limits of streams that set none.
    pub shard_limits: ShardLimits,
    /// Least time between two rebalancing steps (moving a replica or a leadership onto a
    /// node that holds too few); zero turns rebalancing off.
    pub rebalance_every: Duration,
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: weir_core::ACCOUNT_ID_DEFAULT.into(),
            shard_limit: 500,
            on_demand_stream_limit: 50,
            reshard_delay: Duration::ZERO,
            create_delay: Duration::ZERO,
            lease_timeout: Duration::from_secs(3),
            replication_factor: 3,
            replace_after: Duration::from_secs(60),
            shard_limits: ShardLimits::KINESIS,
            rebalance_every: Duration::from_secs(5),
        }
    }
}

/// The control plane's stream service.
pub struct ControlPlane {
    store: MetaStore,
    pub(crate) config: ControlPlaneConfig,
    /// Every stream, written after the store has each change; what readers use.
    catalog: Arc<StreamCatalog>,
    /// Serialises mutations so checks (limits, existence) and writes cannot interleave.
    pub(crate) mutation: Mutex<()>,
    pub(crate) fence: OnceLock<Arc<dyn ShardFence>>,
    /// Times of recent UpdateShardCount calls per stream, for the 10-per-24-hours limit.
    /// Kept in memory: a restart forgets them, which only makes the limit more lenient.
    pub(crate) scalings: parking_lot::Mutex<HashMap<String, Vec<i64>>>,
    /// Which node holds which shard (cluster mode).
    pub(crate) placement: crate::placement::Placement,
    /// The cold tier's bucket, for the reaper (set when tiering is on).
    pub(crate) tier_store: OnceLock<Arc<dyn weir_tier::ObjectStore>>,
    /// Principals, keys and tokens, when authentication is on.
    security: OnceLock<Arc<crate::security::Security>>,
    /// The autoscaler's wake-up and traffic source.
    pub(crate) autoscale: crate::autoscale::task::Hooks,
    /// The node pool, when an orchestrator runs the nodes.
    pub(crate) pool: crate::node_pool::PoolState,
    /// Every stream's recent Kinesis metrics.
    pub(crate) metrics_history: crate::metrics_history::MetricsHistory,
    /// How the record browser reaches the data plane, once the binary attached it.
    pub(crate) record_reader: OnceLock<Arc<crate::rest_browse::RecordReader>>,
    /// The master key ring that seals streams' data keys, once the binary attached it.
    pub(crate) master_key: OnceLock<weir_auth::MasterKey>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl ControlPlane {
    /// Loads the desired state from `store`.
    pub async fn new(
        store: MetaStore,
        config: ControlPlaneConfig,
    ) -> Result<Arc<Self>, ControlPlaneError> {
        let mut streams = store.load_streams().await?;
        // A reshard interrupted by a crash never committed its layout (that is one
        // transaction), and seals live only in memory: rolling back means only setting
        // the stream ACTIVE again.
        // A stream left CREATING by a start with --create-delay-ms is simply ACTIVE when
        // this start has no delay (its creation was committed).
        for stream in streams
            .iter_mut()
            .filter(|s| s.status == StreamStatus::Creating && config.create_delay.is_zero())
        {
            store.set_status(&stream.name, StreamStatus::Active).await?;
            stream.status = StreamStatus::Active;
        }
        for stream in streams
            .iter_mut()
            .filter(|s| s.status == StreamStatus::Updating)
        {
            tracing::warn!(stream = %stream.name, "rolling back a reshard interrupted by a restart");
            store.set_status(&stream.name, StreamStatus::Active).await?;
            stream.status = StreamStatus::Active;
        }
        let catalog = Arc::new(StreamCatalog::new(CatalogSettings {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            shard_limit: config.shard_limit,
            on_demand_stream_limit: config.on_demand_stream_limit,
            shard_limits: config.shard_limits,
            consumer_activation_ms: i64::try_from(config.create_delay.as_millis())
                .unwrap_or(i64::MAX),
        }));
        for stream in streams {
            catalog.put(Arc::new(stream));
        }
        let control_plane = Arc::new(Self {
            store,
            config,
            catalog,
            mutation: Mutex::new(()),
            fence: OnceLock::new(),
            scalings: parking_lot::Mutex::new(HashMap::new()),
            placement: crate::placement::Placement::default(),
            tier_store: OnceLock::new(),
            security: OnceLock::new(),
            autoscale: Default::default(),
            pool: Default::default(),
            metrics_history: Default::default(),
            record_reader: OnceLock::new(),
            master_key: OnceLock::new(),
        });
        crate::lifecycle::spawn_activation(&control_plane);
        Ok(control_plane)
    }

    /// The stream catalog readers use (the in-process data plane serves from it).
    pub fn catalog(&self) -> &Arc<StreamCatalog> {
        &self.catalog
    }

    /// Turns authentication on for every API served from this control plane.
    pub fn attach_security(&self, security: Arc<crate::security::Security>) {
        let _ = self.security.set(security);
    }

    /// Lets `GET /v1/streams/{name}/shards/{id}/records` read through the data plane.
    pub fn attach_record_reader(&self, reader: crate::rest_browse::RecordReader) {
        let _ = self.record_reader.set(Arc::new(reader));
    }

    /// The security state, when authentication is on.
    pub fn security(&self) -> Option<Arc<crate::security::Security>> {
        self.security.get().cloned()
    }

    /// The fence, if a data plane attached one.
    pub(crate) fn fence_ref(&self) -> Option<Arc<dyn ShardFence>> {
        self.fence.get().cloned()
    }

    pub(crate) fn store(&self) -> &MetaStore {
        &self.store
    }

    /// Account settings.
    pub fn config(&self) -> &ControlPlaneConfig {
        &self.config
    }

    /// The ARN of a stream.
    pub fn arn(&self, name: &str) -> String {
        self.catalog.arn(name)
    }

    /// Receives deletions so data planes can drop local data.
    pub fn subscribe(&self) -> broadcast::Receiver<StreamEvent> {
        self.catalog.subscribe()
    }

    /// The Kinesis "not found" error for `name`.
    pub fn not_found(&self, name: &str) -> ControlPlaneError {
        self.catalog.not_found(name)
    }

    /// The current state of a stream.
    pub fn stream(&self, name: &str) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        self.catalog.stream(name)
    }

    /// Whether a stream incarnation exists.
    pub fn has_stream_uid(&self, uid: i64) -> bool {
        self.catalog.has_stream_uid(uid)
    }

    /// Streams in name order after `exclusive_start`, at most `limit`; also says whether
    /// more follow.
    pub fn list_streams(
        &self,
        exclusive_start: Option<&str>,
        limit: usize,
    ) -> (Vec<Arc<StreamRecord>>, bool) {
        self.catalog.list_streams(exclusive_start, limit)
    }

    /// Account limits and usage.
    pub fn limits(&self) -> Limits {
        self.catalog.limits()
    }

    /// Creates a stream with evenly split shards.
    pub async fn create_stream(
        &self,
        request: CreateStream,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        let mut violations = Violations::new();
        violations.stream_name(&request.name, "streamName");
        if let Some(count) = request.shard_count {
            violations.range(i64::from(count), "shardCount", Some(1), None);
        }
        validate_tags(&mut violations, &request.tags);
        violations
            .into_result()
            .map_err(ControlPlaneError::Validation)?;
        let mode = request.mode.unwrap_or(if request.shard_count.is_some() {
            StreamMode::Provisioned
        } else {
            StreamMode::OnDemand
        });
        let shard_count = match (mode, request.shard_count) {
            (StreamMode::Provisioned, Some(count)) => count,
            (StreamMode::Provisioned, None) => {
                return Err(ControlPlaneError::InvalidArgument(
                    "ShardCount is required for a stream in PROVISIONED mode.".into(),
                ))
            }
            (StreamMode::OnDemand, _) => ON_DEMAND_INITIAL_SHARDS,
        };
        let retention_hours = request.retention_hours.unwrap_or(MIN_RETENTION_HOURS);
        self.check_retention_bounds(retention_hours)?;
        if request.tags.len() > MAX_TAGS_PER_STREAM {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "A stream cannot have more than {MAX_TAGS_PER_STREAM} tags."
            )));
        }

        let _guard = self.mutation.lock().await;
        if self.catalog.contains(&request.name) {
            return Err(ControlPlaneError::InUse(format!(
                "Stream {} under account {} already exists.",
                request.name, self.config.account_id
            )));
        }
        let limits = self.limits();
        if limits.open_shard_count.saturating_add(shard_count) > limits.shard_limit {
            return Err(ControlPlaneError::LimitExceeded(
                crate::resharding::shard_limit_message(
                    &self.config.account_id,
                    &self.config.region,
                    limits.open_shard_count,
                    limits.shard_limit,
                    shard_count,
                ),
            ));
        }
        if mode == StreamMode::OnDemand
            && limits.on_demand_stream_count >= limits.on_demand_stream_limit
        {
            return Err(ControlPlaneError::LimitExceeded(format!(
                "This request would exceed the on-demand stream limit of {} for the account {}.",
                limits.on_demand_stream_limit, self.config.account_id
            )));
        }
        if request.warm_throughput_mibps.is_some_and(|m| m > 0) && mode != StreamMode::OnDemand {
            return Err(ControlPlaneError::NotSupported(format!(
                "Warm throughput is not supported for stream {} under account {} because it is in PROVISIONED \
                 capacity mode.",
                request.name, self.config.account_id
            )));
        }
        if let Some(kib) = request.max_record_size_kib {
            if !crate::capacity::MAX_RECORD_SIZE_KIB_RANGE.contains(&kib) {
                return Err(ControlPlaneError::InvalidArgument(format!(
                    "MaxRecordSizeInKiB {kib} is out of range: use 1024 to 10240."
                )));
            }
        }
        if let Some(rf) = request.replication_factor {
            if !(1..=5).contains(&rf) {
                return Err(ControlPlaneError::InvalidArgument(format!(
                    "replication_factor {rf} is out of range: use 1 to 5."
                )));
            }
        }
        let created_at_ms = now_ms();
        let shards = reshard::initial_layout(shard_count, created_at_ms);
        let stream = StreamRecord {
            name: request.name.clone(),
            uid: rand::random::<i64>().abs().max(1),
            mode,
            status: if self.config.create_delay.is_zero() {
                StreamStatus::Active
            } else {
                StreamStatus::Creating
            },
            retention_hours,
            created_at_ms,
            next_shard_ordinal: u64::from(shard_count),
            version: 1,
            shards,
            tags: request.tags,
            consumers: BTreeMap::new(),
            tiering: Default::default(),
            replication_factor: request.replication_factor.unwrap_or(0),
            shard_limits: request.shard_limits,
            max_record_size_kib: request
                .max_record_size_kib
                .unwrap_or(weir_contracts::DEFAULT_MAX_RECORD_SIZE_KIB),
            warm_throughput_mibps: request.warm_throughput_mibps.unwrap_or(0),
            mode_changes_ms: Vec::new(),
            shard_level_metrics: Vec::new(),
            resource_policy: None,
            encryption: None,
            data_keys: Vec::new(),
            record_distribution: weir_contracts::DEFAULT_RECORD_DISTRIBUTION.to_string(),
            deleting_since_ms: None,
        };
        match self.store().insert_stream(&stream).await {
            Ok(()) => {}
            Err(MetaError::AlreadyExists(name)) => {
                return Err(ControlPlaneError::InUse(format!(
                    "Stream {name} under account {} already exists.",
                    self.config.account_id
                )))
            }
            Err(e) => return Err(e.into()),
        }
        let stream = Arc::new(stream);
        self.catalog.put(Arc::clone(&stream));
        tracing::info!(stream = %stream.name, shards = shard_count, mode = mode.as_str(), "stream created");
        Ok(stream)
    }

    /// Deletes a stream: at once, or under a lifecycle delay (`--create-delay-ms`) it turns
    /// DELETING (still described and listed, refusing records, as Kinesis does for a while)
    /// and the lifecycle reconciler removes it the delay later. Deleting a stream that is
    /// already DELETING changes nothing.
    pub async fn delete_stream(&self, name: &str) -> Result<(), ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        if self.config.create_delay.is_zero() {
            return self.remove_stream(&stream).await;
        }
        if stream.status == StreamStatus::Deleting {
            return Ok(());
        }
        let at = now_ms();
        if !self.store().start_deleting(name, stream.uid, at).await? {
            // Gone from the store under our feet: forget it, and answer not found as
            // the catalog words it.
            self.catalog.remove(name);
            return self.stream(name).map(drop);
        }
        self.replace(&stream, |s| {
            s.status = StreamStatus::Deleting;
            s.deleting_since_ms = Some(at);
        })?;
        tracing::info!(stream = %name, "stream DELETING");
        Ok(())
    }

    /// Removes a stream and tells data planes to drop its data. The caller holds the
    /// mutation lock.
    pub(crate) async fn remove_stream(
        &self,
        stream: &StreamRecord,
    ) -> Result<(), ControlPlaneError> {
        let name = stream.name.as_str();
        self.store().delete_stream(name).await?;
        self.catalog.remove(name);
        if let Err(error) = self.store().delete_scaling_events(stream.uid).await {
            tracing::warn!(stream = %name, %error, "could not forget the stream's scaling events");
        }
        // The reaper deletes the objects; if this marking fails it finds them anyway, as
        // segments of a stream that no longer exists.
        if let Err(error) = self
            .store()
            .mark_stream_deleting(stream.uid, now_ms())
            .await
        {
            tracing::warn!(stream = %name, %error, "could not mark cold-tier segments for deletion");
        }
        tracing::info!(stream = %name, "stream deleted");
        Ok(())
    }

    fn check_retention_bounds(&self, hours: u32) -> Result<(), ControlPlaneError> {
        if hours < MIN_RETENTION_HOURS {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period \
                 ({hours} hours) is too short."
            )));
        }
        if hours > MAX_RETENTION_HOURS {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period \
                 ({hours} hours) is too long."
            )));
        }
        Ok(())
    }

    /// Changes retention, refusing the wrong direction for the Kinesis increase/decrease calls.
    pub async fn update_retention(
        &self,
        name: &str,
        hours: u32,
        change: RetentionChange,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        self.check_retention_bounds(hours)?;
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        let current = stream.retention_hours;
        if change == RetentionChange::Increase && hours < current {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing \
                 retention period ({current} hours). Use DecreaseRetentionPeriod API."
            )));
        }
        if change == RetentionChange::Decrease && hours > current {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be longer than existing \
                 retention period ({current} hours). Use IncreaseRetentionPeriod API."
            )));
        }
        self.store().update_retention(name, hours).await?;
        self.replace(&stream, |s| s.retention_hours = hours)
    }

    /// Adds or overwrites tags.
    pub async fn add_tags(
        &self,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        let mut violations = Violations::new();
        validate_tags(&mut violations, &tags);
        violations
            .into_result()
            .map_err(ControlPlaneError::Validation)?;
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        if exceeds_tag_limit(&stream.tags, &tags) {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Failed to add tags to stream {name} under account {} because a given stream cannot have more \
                 than {MAX_TAGS_PER_STREAM} tags.",
                self.config.account_id
            )));
        }
        self.store().put_tags(name, &tags).await?;
        self.replace(&stream, |s| s.tags.extend(tags))
    }

    /// Removes tags; keys that are not set are ignored.
    pub async fn remove_tags(
        &self,
        name: &str,
        keys: Vec<String>,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        self.store().remove_tags(name, &keys).await?;
        self.replace(&stream, |s| {
            for key in &keys {
                s.tags.remove(key);
            }
        })
    }

    /// The ARN of a registered consumer (`<stream arn>/consumer/<name>:<creation seconds>`).
    pub fn consumer_arn(&self, stream: &str, consumer: &ConsumerRecord) -> String {
        self.catalog.consumer_arn(stream, consumer)
    }

    /// Registers a consumer of a stream.
    pub async fn register_consumer(
        &self,
        stream: &str,
        name: &str,
    ) -> Result<ConsumerRecord, ControlPlaneError> {
        let mut violations = Violations::new();
        violations.stream_name(name, "consumerName");
        violations
            .into_result()
            .map_err(ControlPlaneError::Validation)?;
        let _guard = self.mutation.lock().await;
        let record = self.stream(stream)?;
        if record.consumers.len() >= MAX_CONSUMERS_PER_STREAM {
            return Err(ControlPlaneError::LimitExceeded(format!(
                "Stream {stream} already has {MAX_CONSUMERS_PER_STREAM} registered consumers, the most allowed."
            )));
        }
        let consumer = ConsumerRecord {
            name: name.to_string(),
            created_at_ms: now_ms(),
            tags: BTreeMap::new(),
            resource_policy: None,
            deleting_since_ms: None,
        };
        match self.store().insert_consumer(stream, &consumer).await {
            Ok(()) => {}
            Err(MetaError::AlreadyExists(_)) => {
                return Err(ControlPlaneError::InUse(format!(
                    "Consumer {name} under stream {stream} already exists for account {}.",
                    self.config.account_id
                )))
            }
            Err(e) => return Err(e.into()),
        }
        let registered = consumer.clone();
        self.replace(&record, |s| {
            s.consumers.insert(registered.name.clone(), registered);
        })?;
        Ok(consumer)
    }

    /// Deregisters a consumer: at once, or, with a lifecycle delay (`--create-delay-ms`),
    /// DELETING first and removed by the lifecycle reconciler once the delay has passed.
    pub async fn deregister_consumer(
        &self,
        stream: &str,
        name: &str,
    ) -> Result<(), ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let record = self.stream(stream)?;
        if record
            .consumers
            .get(name)
            .is_some_and(|c| c.deleting_since_ms.is_some())
        {
            return Err(ControlPlaneError::InUse(format!(
                "Consumer {name} under stream {stream} is already DELETING."
            )));
        }
        if !self.config.create_delay.is_zero() {
            let at = now_ms();
            if self
                .store()
                .mark_consumer_deleting(stream, name, at)
                .await?
            {
                self.replace(&record, |s| {
                    if let Some(c) = s.consumers.get_mut(name) {
                        c.deleting_since_ms = Some(at);
                    }
                })?;
                return Ok(());
            }
        }
        if !self.store().delete_consumer(stream, name).await? {
            return Err(ControlPlaneError::NotFound(format!(
                "Consumer {name} under stream {stream} not found for account {}.",
                self.config.account_id
            )));
        }
        self.replace(&record, |s| {
            s.consumers.remove(name);
        })?;
        Ok(())
    }

    /// Applies `change` to a copy of `stream` and publishes it (after the store accepted it).
    /// Kinesis's ResourceInUseException for a change to a stream that is not ACTIVE.
    pub(crate) fn require_active(&self, stream: &StreamRecord) -> Result<(), ControlPlaneError> {
        if stream.status == StreamStatus::Active {
            return Ok(());
        }
        Err(ControlPlaneError::InUse(format!(
            "Stream {} under account {} not ACTIVE, instead in state {}",
            stream.name,
            self.config.account_id,
            stream.status.as_str()
        )))
    }

    pub(crate) fn replace(
        &self,
        stream: &StreamRecord,
        change: impl FnOnce(&mut StreamRecord),
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        let mut next = stream.clone();
        change(&mut next);
        next.version += 1;
        let next = Arc::new(next);
        self.catalog.put(Arc::clone(&next));
        Ok(next)
    }
}

/// Whether adding `adding` to `current` would leave more than [`MAX_TAGS_PER_STREAM`]
/// distinct keys (the limit of a stream and of a consumer alike).
pub(crate) fn exceeds_tag_limit(
    current: &BTreeMap<String, String>,
    adding: &BTreeMap<String, String>,
) -> bool {
    let added = adding.keys().filter(|k| !current.contains_key(*k)).count();
    current.len() + added > MAX_TAGS_PER_STREAM
}

pub(crate) fn validate_tags(violations: &mut Violations, tags: &BTreeMap<String, String>) {
    for (key, value) in tags {
        violations.length(key, "tags.key", 1, 128);
        violations.length(value, "tags.value", 0, 256);
    }
}
