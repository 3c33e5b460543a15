//! The stream catalog every process serves reads from: an in-memory copy of every stream,
//! so the hot path never waits on the database or the network.
//!
//! The control plane writes to its own catalog after each change reaches the metadata
//! store. A node of a cluster holds a second one, replaced from every heartbeat answer.
//! Both publish [`StreamEvent::Deleted`] when a stream incarnation goes, so data planes
//! can drop its data.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::{
    ConsumerRecord, ControlPlaneError, Limits, ShardLimits, StreamEvent, StreamMode, StreamRecord,
};

/// Deletion events a slow subscriber may fall behind by before it must rescan.
const EVENT_BUFFER: usize = 1024;

/// Account-level facts the catalog reports (in ARNs, messages and DescribeLimits), and
/// the defaults streams take. The control plane's are sent to nodes with heartbeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSettings {
    /// Region used in ARNs.
    pub region: String,
    /// Twelve-digit account id used in ARNs and error messages.
    pub account_id: String,
    /// Most open shards across all streams (DescribeLimits ShardLimit).
    pub shard_limit: u32,
    /// Most on-demand streams.
    pub on_demand_stream_limit: u32,
    /// Per-shard limits of streams that do not set their own.
    #[serde(default)]
    pub shard_limits: ShardLimits,
    /// How long a newly registered consumer is CREATING before it is ACTIVE (the control
    /// plane's `--create-delay-ms`, which does the same for streams); 0: ACTIVE at once.
    #[serde(default)]
    pub consumer_activation_ms: i64,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: weir_core::ACCOUNT_ID_DEFAULT.into(),
            shard_limit: 500,
            on_demand_stream_limit: 50,
            shard_limits: ShardLimits::KINESIS,
            consumer_activation_ms: 0,
        }
    }
}

/// Every stream by name, and the deletions since a subscriber started listening.
pub struct StreamCatalog {
    settings: RwLock<CatalogSettings>,
    streams: RwLock<BTreeMap<String, Arc<StreamRecord>>>,
    events: broadcast::Sender<StreamEvent>,
}

impl std::fmt::Debug for StreamCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamCatalog")
            .field("streams", &self.streams.read().len())
            .finish_non_exhaustive()
    }
}

impl StreamCatalog {
    /// An empty catalog.
    pub fn new(settings: CatalogSettings) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            settings: RwLock::new(settings),
            streams: RwLock::new(BTreeMap::new()),
            events,
        }
    }

    /// Account settings.
    pub fn settings(&self) -> CatalogSettings {
        self.settings.read().clone()
    }

    /// Replaces the settings (a node adopts the control plane's from a heartbeat).
    pub fn set_settings(&self, settings: CatalogSettings) {
        *self.settings.write() = settings;
    }

    /// The per-shard limits that apply to `stream`.
    pub fn shard_limits(&self, stream: &StreamRecord) -> ShardLimits {
        stream
            .shard_limits
            .unwrap_or_else(|| self.settings.read().shard_limits)
    }

    /// The ARN of a stream.
    pub fn arn(&self, name: &str) -> String {
        let settings = self.settings.read();
        weir_core::stream_arn(&settings.region, &settings.account_id, name)
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

    /// The Kinesis "not found" error for `name`.
    pub fn not_found(&self, name: &str) -> ControlPlaneError {
        ControlPlaneError::NotFound(format!(
            "Stream {name} under account {} not found.",
            self.settings.read().account_id
        ))
    }

    /// The current state of a stream.
    pub fn stream(&self, name: &str) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        self.get(name).ok_or_else(|| self.not_found(name))
    }

    /// The current state of a stream, if it exists.
    pub fn get(&self, name: &str) -> Option<Arc<StreamRecord>> {
        self.streams.read().get(name).cloned()
    }

    /// Whether a stream of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.streams.read().contains_key(name)
    }

    /// Whether a stream incarnation exists (a scan, without copying the catalog).
    pub fn has_stream_uid(&self, uid: i64) -> bool {
        self.streams.read().values().any(|s| s.uid == uid)
    }

    /// Streams in name order after `exclusive_start`, at most `limit`; also says whether
    /// more follow.
    pub fn list_streams(
        &self,
        exclusive_start: Option<&str>,
        limit: usize,
    ) -> (Vec<Arc<StreamRecord>>, bool) {
        let streams = self.streams.read();
        let mut iter = streams
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
        let settings = self.settings.read();
        let streams = self.streams.read();
        Limits {
            shard_limit: settings.shard_limit,
            open_shard_count: streams
                .values()
                .map(|s| s.open_shards().count() as u32)
                .sum(),
            on_demand_stream_count: streams
                .values()
                .filter(|s| s.mode == StreamMode::OnDemand)
                .count() as u32,
            on_demand_stream_limit: settings.on_demand_stream_limit,
        }
    }

    /// Receives deletions so data planes can drop local data.
    pub fn subscribe(&self) -> broadcast::Receiver<StreamEvent> {
        self.events.subscribe()
    }

    /// Records a stream's new state (after the metadata store has it).
    pub fn put(&self, stream: Arc<StreamRecord>) {
        self.streams.write().insert(stream.name.clone(), stream);
    }

    /// Forgets a deleted stream and tells subscribers its data may go.
    pub fn remove(&self, name: &str) -> Option<Arc<StreamRecord>> {
        let removed = self.streams.write().remove(name);
        if let Some(stream) = &removed {
            self.deleted(name, stream.uid);
        }
        removed
    }

    /// Replaces every stream (a node's heartbeat copy); publishes deletions of streams
    /// that disappeared or were recreated under a new incarnation.
    pub fn replace(&self, streams: Vec<StreamRecord>) {
        let next: BTreeMap<String, Arc<StreamRecord>> = streams
            .into_iter()
            .map(|s| (s.name.clone(), Arc::new(s)))
            .collect();
        let mut current = self.streams.write();
        for (name, old) in current.iter() {
            if next.get(name).is_none_or(|n| n.uid != old.uid) {
                self.deleted(name, old.uid);
            }
        }
        *current = next;
    }

    fn deleted(&self, name: &str, uid: i64) {
        // No subscriber is fine: nothing holds data to drop.
        let _ = self.events.send(StreamEvent::Deleted {
            name: name.to_string(),
            uid,
        });
    }
}
