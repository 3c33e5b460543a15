//! Stream lifecycle: validation, persistence, and the in-memory snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use tokio::sync::{broadcast, Mutex};
use weir_core::{split_hash_space, stream_arn, Violations};
use weir_meta::{
    ConsumerRecord, MetaError, MetaStore, ShardRecord, StreamMode, StreamRecord, StreamStatus,
};

use crate::error::ControlPlaneError;

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
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: weir_core::ACCOUNT_ID_DEFAULT.into(),
            shard_limit: 500,
            on_demand_stream_limit: 50,
        }
    }
}

/// A request to create a stream.
#[derive(Debug, Clone, Default)]
pub struct CreateStream {
    /// Stream name.
    pub name: String,
    /// Shard count for provisioned streams.
    pub shard_count: Option<u32>,
    /// Capacity mode; on-demand when neither mode nor shard count is given.
    pub mode: Option<StreamMode>,
    /// Retention; 24 h when absent.
    pub retention_hours: Option<u32>,
    /// Initial tags.
    pub tags: BTreeMap<String, String>,
}

/// How a retention change relates to the current value (Kinesis has separate increase and
/// decrease calls that refuse the wrong direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionChange {
    /// IncreaseStreamRetentionPeriod.
    Increase,
    /// DecreaseStreamRetentionPeriod.
    Decrease,
    /// REST: set to any valid value.
    Set,
}

/// Something data planes must react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A stream was deleted; its data may be removed.
    Deleted {
        /// Stream name.
        name: String,
        /// Incarnation that was deleted.
        uid: i64,
    },
}

/// Account limits and usage (DescribeLimits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most open shards.
    pub shard_limit: u32,
    /// Open shards now.
    pub open_shard_count: u32,
    /// On-demand streams now.
    pub on_demand_stream_count: u32,
    /// Most on-demand streams.
    pub on_demand_stream_limit: u32,
}

/// The control plane's stream service.
pub struct ControlPlane {
    store: MetaStore,
    config: ControlPlaneConfig,
    snapshot: RwLock<BTreeMap<String, Arc<StreamRecord>>>,
    /// Serialises mutations so checks (limits, existence) and writes cannot interleave.
    mutation: Mutex<()>,
    events: broadcast::Sender<StreamEvent>,
}

fn now_ms() -> i64 {
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
        let streams = store.load_streams().await?;
        let snapshot = streams
            .into_iter()
            .map(|s| (s.name.clone(), Arc::new(s)))
            .collect();
        let (events, _) = broadcast::channel(1024);
        Ok(Arc::new(Self {
            store,
            config,
            snapshot: RwLock::new(snapshot),
            mutation: Mutex::new(()),
            events,
        }))
    }

    /// Account settings.
    pub fn config(&self) -> &ControlPlaneConfig {
        &self.config
    }

    /// The ARN of a stream.
    pub fn arn(&self, name: &str) -> String {
        stream_arn(&self.config.region, &self.config.account_id, name)
    }

    /// Receives deletions so data planes can drop local data.
    pub fn subscribe(&self) -> broadcast::Receiver<StreamEvent> {
        self.events.subscribe()
    }

    /// The Kinesis "not found" error for `name`.
    pub fn not_found(&self, name: &str) -> ControlPlaneError {
        ControlPlaneError::NotFound(format!(
            "Stream {name} under account {} not found.",
            self.config.account_id
        ))
    }

    /// The current state of a stream.
    pub fn stream(&self, name: &str) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        self.snapshot
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    /// Streams in name order after `exclusive_start`, at most `limit`; also says whether
    /// more follow.
    pub fn list_streams(
        &self,
        exclusive_start: Option<&str>,
        limit: usize,
    ) -> (Vec<Arc<StreamRecord>>, bool) {
        let snapshot = self.snapshot.read();
        let mut iter = snapshot
            .range::<str, _>((
                exclusive_start.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
                std::ops::Bound::Unbounded,
            ))
            .map(|(_, s)| Arc::clone(s));
        let page: Vec<_> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        (page, more)
    }

    /// Account limits and usage.
    pub fn limits(&self) -> Limits {
        let snapshot = self.snapshot.read();
        Limits {
            shard_limit: self.config.shard_limit,
            open_shard_count: snapshot
                .values()
                .map(|s| s.open_shards().count() as u32)
                .sum(),
            on_demand_stream_count: snapshot
                .values()
                .filter(|s| s.mode == StreamMode::OnDemand)
                .count() as u32,
            on_demand_stream_limit: self.config.on_demand_stream_limit,
        }
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
        if self.snapshot.read().contains_key(&request.name) {
            return Err(ControlPlaneError::InUse(format!(
                "Stream {} under account {} already exists.",
                request.name, self.config.account_id
            )));
        }
        let limits = self.limits();
        if limits.open_shard_count.saturating_add(shard_count) > limits.shard_limit {
            return Err(ControlPlaneError::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in {}. Current shard count for the \
                 account: {}. Limit: {}. Number of additional shards that would have resulted from this request: {}. \
                 Ask your Weir operator to raise --shard-limit.",
                self.config.account_id, self.config.region, limits.open_shard_count, limits.shard_limit, shard_count
            )));
        }
        if mode == StreamMode::OnDemand
            && limits.on_demand_stream_count >= limits.on_demand_stream_limit
        {
            return Err(ControlPlaneError::LimitExceeded(format!(
                "This request would exceed the on-demand stream limit of {} for the account {}.",
                limits.on_demand_stream_limit, self.config.account_id
            )));
        }
        let created_at_ms = now_ms();
        let shards = split_hash_space(shard_count)
            .into_iter()
            .enumerate()
            .map(|(i, hash_range)| ShardRecord {
                ordinal: i as u64,
                parent: None,
                adjacent_parent: None,
                hash_range,
                created_at_ms,
                closed_at_ms: None,
                ending_offset: None,
            })
            .collect();
        let stream = StreamRecord {
            name: request.name.clone(),
            uid: rand::random::<i64>().abs().max(1),
            mode,
            status: StreamStatus::Active,
            retention_hours,
            created_at_ms,
            next_shard_ordinal: u64::from(shard_count),
            version: 1,
            shards,
            tags: request.tags,
            consumers: BTreeMap::new(),
        };
        match self.store.insert_stream(&stream).await {
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
        self.snapshot
            .write()
            .insert(stream.name.clone(), Arc::clone(&stream));
        tracing::info!(stream = %stream.name, shards = shard_count, mode = mode.as_str(), "stream created");
        Ok(stream)
    }

    /// Deletes a stream and tells data planes to drop its data.
    pub async fn delete_stream(&self, name: &str) -> Result<(), ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        self.store.delete_stream(name).await?;
        self.snapshot.write().remove(name);
        let _ = self.events.send(StreamEvent::Deleted {
            name: name.to_string(),
            uid: stream.uid,
        });
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
        self.store.update_retention(name, hours).await?;
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
        let total = stream
            .tags
            .keys()
            .chain(tags.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if total > MAX_TAGS_PER_STREAM {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Failed to add tags to stream {name} under account {} because a given stream cannot have more \
                 than {MAX_TAGS_PER_STREAM} tags.",
                self.config.account_id
            )));
        }
        self.store.put_tags(name, &tags).await?;
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
        self.store.remove_tags(name, &keys).await?;
        self.replace(&stream, |s| {
            for key in &keys {
                s.tags.remove(key);
            }
        })
    }

    /// The ARN of a registered consumer (`<stream arn>/consumer/<name>:<creation seconds>`).
    pub fn consumer_arn(&self, stream: &str, consumer: &ConsumerRecord) -> String {
        format!(
            "{}/consumer/{}:{}",
            self.arn(stream),
            consumer.name,
            consumer.created_at_ms / 1000
        )
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
        };
        match self.store.insert_consumer(stream, &consumer).await {
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

    /// Deregisters a consumer.
    pub async fn deregister_consumer(
        &self,
        stream: &str,
        name: &str,
    ) -> Result<(), ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let record = self.stream(stream)?;
        if !self.store.delete_consumer(stream, name).await? {
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

    /// Changes the number of open shards of a provisioned stream (UNIFORM_SCALING).
    pub async fn update_shard_count(
        &self,
        name: &str,
        target: u32,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        let _ = (name, target);
        Err(ControlPlaneError::InvalidArgument(
            "UpdateShardCount is not available yet in this build.".into(),
        ))
    }

    /// Applies `change` to a copy of `stream` and publishes it (after the store accepted it).
    fn replace(
        &self,
        stream: &StreamRecord,
        change: impl FnOnce(&mut StreamRecord),
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        let mut next = stream.clone();
        change(&mut next);
        next.version += 1;
        let next = Arc::new(next);
        self.snapshot
            .write()
            .insert(next.name.clone(), Arc::clone(&next));
        Ok(next)
    }
}

fn validate_tags(violations: &mut Violations, tags: &BTreeMap<String, String>) {
    for (key, value) in tags {
        violations.length(key, "tags.key", 1, 128);
        violations.length(value, "tags.value", 0, 256);
    }
}
