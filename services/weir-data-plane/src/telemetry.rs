//! A node's Prometheus metrics at `GET /metrics` (OpenMetrics text).
//!
//! Kinesis's own stream metrics, per stream and shard, from the same meters that enforce
//! the shard limits and feed the autoscaler (so the numbers cannot disagree):
//!
//! | Kinesis (CloudWatch) | Prometheus |
//! |---|---|
//! | IncomingBytes / IncomingRecords | `weir_incoming_bytes_total` / `weir_incoming_records_total` |
//! | OutgoingBytes / OutgoingRecords | `weir_outgoing_bytes_total` / `weir_outgoing_records_total` |
//! | GetRecords.Success (calls) | `weir_get_records_calls_total` |
//! | WriteProvisionedThroughputExceeded | `weir_write_provisioned_throughput_exceeded_total` |
//! | ReadProvisionedThroughputExceeded | `weir_read_provisioned_throughput_exceeded_total` |
//! | GetRecords.IteratorAgeMilliseconds | `weir_get_records_iterator_age_milliseconds` |
//! | PutRecord.Latency, PutRecords.Latency, GetRecords.Latency, ... | `weir_request_duration_seconds{operation}` |
//! | SubscribeToShardEvent.Records / .Bytes | `weir_subscribe_to_shard_event_records_total` / `..._bytes_total` (per node) |
//!
//! Shard series exist while this node leads the shard: they are built from the open
//! shards at each scrape, so a shard that moves away or is deleted leaves no series
//! behind. As in Kinesis, a shard-level metric is exported only while the stream has it
//! on (EnableEnhancedMonitoring); stream-level totals are the control plane's. Node gauges: shards led and followed, requests in flight, the lease, the
//! replication lag of each follower of a led shard, and the cold tier's queue.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::DataPlane;

/// The content type of the answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    operation: &'static str,
    /// `ok`, `client_error`, `throttled` or `server_error`.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShardLabels {
    stream: String,
    shard: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FollowerLabels {
    stream: String,
    shard: String,
    follower: String,
}

/// Request latencies and outcomes, kept for the life of the process (one series per
/// Kinesis operation: a bounded set).
pub(crate) struct RequestMetrics {
    latency: Family<OperationLabel, Histogram>,
    outcomes: Family<OutcomeLabels, Counter>,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self {
            latency: Family::new_with_constructor(|| {
                // 0.25 ms to about 8 s.
                Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
            }),
            outcomes: Family::default(),
        }
    }
}

impl RequestMetrics {
    /// Records one answered request of a known Kinesis `operation`.
    /// `operation` is one of [`crate::ops::OPERATIONS`]: labels cost no allocation.
    pub(crate) fn observe(
        &self,
        operation: &'static str,
        seconds: f64,
        status: u16,
        throttled: bool,
    ) {
        self.latency
            .get_or_create(&OperationLabel { operation })
            .observe(seconds);
        let outcome = match status {
            _ if throttled => "throttled",
            200..=299 => "ok",
            400..=499 => "client_error",
            _ => "server_error",
        };
        self.outcomes
            .get_or_create(&OutcomeLabels { operation, outcome })
            .inc();
    }
}

impl DataPlane {
    /// The node's metrics in OpenMetrics text.
    pub fn render_metrics(&self) -> String {
        let mut registry = Registry::with_prefix("weir");
        registry.register(
            "request_duration_seconds",
            "Kinesis API latency by operation, as Kinesis's <Operation>.Latency",
            self.request_metrics.latency.clone(),
        );
        registry.register(
            "requests",
            "Kinesis API requests by operation and outcome",
            self.request_metrics.outcomes.clone(),
        );
        self.register_shard_metrics(&mut registry);
        self.register_subscription_metrics(&mut registry);
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            tracing::warn!(%error, "could not encode metrics");
        }
        text
    }

    /// SubscribeToShard: Kinesis's SubscribeToShardEvent.Records and .Bytes, events sent,
    /// and the subscriptions open on this node.
    fn register_subscription_metrics(&self, registry: &mut Registry) {
        use std::sync::atomic::Ordering::Relaxed;
        let subscriptions = &self.subscriptions;
        for (name, help, value) in [
            (
                "subscribe_to_shard_events",
                "SubscribeToShard events sent",
                &subscriptions.events_sent,
            ),
            (
                "subscribe_to_shard_event_records",
                "Records pushed by SubscribeToShard (Kinesis SubscribeToShardEvent.Records)",
                &subscriptions.records_sent,
            ),
            (
                "subscribe_to_shard_event_bytes",
                "Bytes pushed by SubscribeToShard (Kinesis SubscribeToShardEvent.Bytes)",
                &subscriptions.bytes_sent,
            ),
        ] {
            let counter = Counter::<u64>::default();
            counter.inc_by(value.load(Relaxed));
            registry.register(name, help, counter);
        }
        let open = Gauge::<i64>::default();
        open.set(i64::try_from(subscriptions.open_count()).unwrap_or(i64::MAX));
        registry.register(
            "subscriptions_open",
            "SubscribeToShard streams this node serves or proxies",
            open,
        );
        let hubs = Gauge::<i64>::default();
        hubs.set(i64::try_from(subscriptions.hubs.len()).unwrap_or(i64::MAX));
        registry.register(
            "subscription_hubs",
            "Shards with a shared tail reader for their subscribers",
            hubs,
        );
    }

    fn register_shard_metrics(&self, registry: &mut Registry) {
        // Each stream's name and the shard-level metrics it has on (EnableEnhancedMonitoring).
        let streams: std::collections::HashMap<i64, (String, Vec<String>)> = self
            .catalog
            .list_streams(None, usize::MAX)
            .0
            .iter()
            .map(|s| (s.uid, (s.name.clone(), s.shard_level_metrics.clone())))
            .collect();
        // (name, help, the Kinesis shard-level metric that turns it on, family).
        // GetRecords.Success is a stream-level metric in Kinesis; it is always exported.
        #[allow(clippy::type_complexity)]
        let counters: [(&str, &str, Option<&str>, Family<ShardLabels, Counter>); 7] = [
            ("incoming_bytes", "Bytes written (Kinesis IncomingBytes)", Some("IncomingBytes"), Family::default()),
            ("incoming_records", "Records written (Kinesis IncomingRecords)", Some("IncomingRecords"), Family::default()),
            ("outgoing_bytes", "Bytes read by GetRecords (Kinesis OutgoingBytes)", Some("OutgoingBytes"), Family::default()),
            ("outgoing_records", "Records read by GetRecords (Kinesis OutgoingRecords)", Some("OutgoingRecords"), Family::default()),
            ("get_records_calls", "GetRecords calls served (Kinesis GetRecords.Success)", None, Family::default()),
            ("write_provisioned_throughput_exceeded", "Records refused over the shard's write limit (Kinesis WriteProvisionedThroughputExceeded)", Some("WriteProvisionedThroughputExceeded"), Family::default()),
            ("read_provisioned_throughput_exceeded", "GetRecords calls refused over the shard's read limit (Kinesis ReadProvisionedThroughputExceeded)", Some("ReadProvisionedThroughputExceeded"), Family::default()),
        ];
        let iterator_age: Family<ShardLabels, Gauge> = Family::default();
        let follower_lag: Family<FollowerLabels, Gauge> = Family::default();
        let (mut led, mut followed) = (0i64, 0i64);
        for ((uid, ordinal), shard) in self.shards.open_shards() {
            if !shard.leads() {
                followed += 1;
                continue;
            }
            led += 1;
            let Some((stream, enabled)) = streams.get(&uid) else {
                continue;
            };
            let on = |metric: &str| enabled.iter().any(|m| m == metric);
            let labels = ShardLabels {
                stream: stream.clone(),
                shard: weir_core::shard_id(ordinal),
            };
            let t = shard.meter.traffic();
            let values = t.counters();
            for ((_, _, metric, family), value) in counters.iter().zip(values) {
                if metric.is_none_or(on) {
                    family.get_or_create(&labels).inc_by(value);
                }
            }
            if on("IteratorAgeMilliseconds") {
                iterator_age
                    .get_or_create(&labels)
                    .set(i64::try_from(t.iterator_age_ms).unwrap_or(i64::MAX));
            }
            if let Some(session) = shard.session() {
                let commit = shard.commit_point();
                for (node, progress) in session.progress() {
                    follower_lag
                        .get_or_create(&FollowerLabels {
                            stream: labels.stream.clone(),
                            shard: labels.shard.clone(),
                            follower: node,
                        })
                        .set(
                            i64::try_from(commit.saturating_sub(progress.end)).unwrap_or(i64::MAX),
                        );
                }
            }
        }
        for (name, help, _, family) in counters {
            registry.register(name, help, family);
        }
        registry.register(
            "get_records_iterator_age_milliseconds",
            "Age of the last record returned by the shard's latest GetRecords when it was behind the tip, else 0 (Kinesis GetRecords.IteratorAgeMilliseconds)",
            iterator_age,
        );
        registry.register(
            "replication_follower_lag_records",
            "Records a follower of a shard this node leads is behind the commit point",
            follower_lag,
        );
        let gauge = |value: i64| {
            let g: Gauge = Gauge::default();
            g.set(value);
            g
        };
        registry.register("node_shards_led", "Shards this node leads", gauge(led));
        registry.register(
            "node_shards_followed",
            "Shards this node follows",
            gauge(followed),
        );
        let in_flight = self.config.max_in_flight.max(1)
            - self
                .in_flight
                .available_permits()
                .min(self.config.max_in_flight.max(1));
        registry.register(
            "node_requests_in_flight",
            "Kinesis requests being served now (bounded by --max-in-flight)",
            gauge(i64::try_from(in_flight).unwrap_or(i64::MAX)),
        );
        if let Some(cluster) = &self.cluster {
            registry.register(
                "node_lease_valid",
                "1 while this node holds a lease from the control plane",
                gauge(i64::from(cluster.lease_valid())),
            );
        }
        if let Some(tier) = self.tier_status() {
            let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            for (name, help, value) in [
                (
                    "tier_local_bytes",
                    "Bytes of shard logs on this node's disk",
                    tier.local_bytes,
                ),
                (
                    "tier_pending_upload_bytes",
                    "Bytes of sealed segments waiting for the cold tier",
                    tier.pending_upload_bytes,
                ),
                (
                    "disk_free_bytes",
                    "Free bytes on the data folder's file system",
                    tier.disk_free_bytes,
                ),
                (
                    "disk_total_bytes",
                    "Size of the data folder's file system",
                    tier.disk_total_bytes,
                ),
                (
                    "tier_uploaded_segments",
                    "Segments uploaded to the cold tier since start",
                    tier.uploaded_segments,
                ),
            ] {
                registry.register(name, help, gauge(as_i64(value)));
            }
            registry.register(
                "tier_upload_failing",
                "1 while the last cold-tier upload failed",
                gauge(i64::from(tier.last_error.is_some())),
            );
        }
    }
}
