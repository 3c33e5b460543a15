//! The control plane's `GET /metrics` (OpenMetrics text) and
//! `GET /v1/streams/{name}/metrics` (a stream's recent Kinesis metrics as JSON).
//!
//! Prometheus series: streams by status and their open shards; per stream, Kinesis's
//! metrics summed over its shards from the sampled history (monotonic across leader
//! changes); nodes by state with the leaderships and replicas each holds; shards
//! rebuilding or unplaced; the node pool's members.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::metrics_history::{by_period, Sample, COUNTED, ITERATOR_AGE};
use crate::rest::{ApiError, ErrorBody};
use crate::{ControlPlane, ControlPlaneError};

/// The content type of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prometheus names of [`COUNTED`], in order.
const PROMETHEUS_NAMES: [&str; 7] = [
    "stream_incoming_bytes",
    "stream_incoming_records",
    "stream_outgoing_bytes",
    "stream_outgoing_records",
    "stream_get_records_calls",
    "stream_write_provisioned_throughput_exceeded",
    "stream_read_provisioned_throughput_exceeded",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabel {
    stream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

impl ControlPlane {
    /// The control plane's metrics in OpenMetrics text.
    pub fn render_metrics(&self) -> String {
        let mut registry = Registry::with_prefix("weir");
        let (streams, _) = self.list_streams(None, usize::MAX);
        let by_status: Family<StatusLabel, Gauge> = Family::default();
        let open_shards: Family<StreamLabel, Gauge> = Family::default();
        for stream in &streams {
            by_status
                .get_or_create(&StatusLabel {
                    status: stream.status.as_str().to_string(),
                })
                .inc();
            open_shards
                .get_or_create(&StreamLabel {
                    stream: stream.name.clone(),
                })
                .set(stream.open_shards().count() as i64);
        }
        registry.register("streams", "Streams by status", by_status);
        registry.register(
            "stream_open_shards",
            "Open shards of each stream",
            open_shards,
        );
        let counted: Vec<Family<StreamLabel, Counter>> =
            (0..COUNTED.len()).map(|_| Family::default()).collect();
        let ages: Family<StreamLabel, Gauge> = Family::default();
        for (name, totals, age) in self.metrics_history.totals() {
            let label = StreamLabel { stream: name };
            for (family, value) in counted.iter().zip(totals) {
                family.get_or_create(&label).inc_by(value);
            }
            ages.get_or_create(&label)
                .set(i64::try_from(age).unwrap_or(i64::MAX));
        }
        for ((family, name), kinesis) in counted.into_iter().zip(PROMETHEUS_NAMES).zip(COUNTED) {
            registry.register(
                name,
                format!("Kinesis {kinesis}, summed over the stream's shards"),
                family,
            );
        }
        registry.register(
            "stream_get_records_iterator_age_milliseconds",
            "Kinesis GetRecords.IteratorAgeMilliseconds, the largest over the stream's shards",
            ages,
        );
        self.register_cluster_metrics(&mut registry);
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            tracing::warn!(%error, "could not encode metrics");
        }
        text
    }

    fn register_cluster_metrics(&self, registry: &mut Registry) {
        let nodes = self.nodes_view();
        let by_state: Family<StateLabel, Gauge> = Family::default();
        let leads: Family<NodeLabel, Gauge> = Family::default();
        let replicas: Family<NodeLabel, Gauge> = Family::default();
        for node in &nodes {
            let state = match (node.live, node.draining) {
                (true, false) => "live",
                (true, true) => "draining",
                (false, _) => "down",
            };
            by_state.get_or_create(&StateLabel { state }).inc();
            let label = NodeLabel {
                node: node.id.clone(),
            };
            leads.get_or_create(&label).set(node.leads as i64);
            replicas.get_or_create(&label).set(node.replicas as i64);
        }
        registry.register("cluster_nodes", "Data-plane nodes by state", by_state);
        registry.register("node_leaderships", "Shards each node leads", leads);
        registry.register("node_replicas", "Shard replicas each node holds", replicas);
        let assignments = self.assignments();
        let rebuilding: usize = assignments.iter().map(|a| a.rebuilding.len()).sum();
        let gauge = |value: i64| {
            let g: Gauge = Gauge::default();
            g.set(value);
            g
        };
        registry.register(
            "placement_replicas_rebuilding",
            "Shard replicas catching up from their leader",
            gauge(rebuilding as i64),
        );
        if let Some(pool) = self.pool_view() {
            let ready = pool.members.iter().filter(|m| m.ready).count();
            registry.register(
                "node_pool_members",
                "Nodes the orchestrator runs",
                gauge(pool.members.len() as i64),
            );
            registry.register(
                "node_pool_members_ready",
                "Nodes the orchestrator reports ready",
                gauge(ready as i64),
            );
        }
    }
}

/// `GET /metrics`.
pub async fn metrics(State(cp): State<Arc<ControlPlane>>) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)],
        cp.render_metrics(),
    )
}

/// How much of a stream's history to show, and in what periods.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// Seconds per data point (CloudWatch's period): counts are summed over it, the
    /// iterator age is its maximum. 1-3600; default 60.
    #[param(minimum = 1, maximum = 3600)]
    pub period: Option<u32>,
    /// How far back, in minutes. 1-60; default 30.
    #[param(minimum = 1, maximum = 60)]
    pub minutes: Option<u32>,
}

/// One data point.
#[derive(Debug, Serialize, ToSchema)]
pub struct Datapoint {
    /// Start of the period (ms since the epoch).
    pub timestamp_ms: i64,
    /// Sum over the period (Maximum for GetRecords.IteratorAgeMilliseconds).
    pub value: u64,
}

/// A shard's metrics.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShardMetrics {
    /// The shard.
    pub shard_id: String,
    /// Data points by Kinesis metric name.
    pub metrics: BTreeMap<String, Vec<Datapoint>>,
}

/// A stream's recent Kinesis metrics.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamMetrics {
    /// The stream.
    pub stream: String,
    /// Seconds per data point.
    pub period_seconds: u32,
    /// Data points by Kinesis metric name: IncomingBytes, IncomingRecords, OutgoingBytes,
    /// OutgoingRecords, GetRecords.Success, WriteProvisionedThroughputExceeded,
    /// ReadProvisionedThroughputExceeded, GetRecords.IteratorAgeMilliseconds.
    pub metrics: BTreeMap<String, Vec<Datapoint>>,
    /// The same per shard (Kinesis's shard-level metrics).
    pub shards: Vec<ShardMetrics>,
}

fn datapoints(samples: &[Sample], period_ms: i64) -> BTreeMap<String, Vec<Datapoint>> {
    let periods = by_period(samples, period_ms);
    let mut out: BTreeMap<String, Vec<Datapoint>> = BTreeMap::new();
    for (i, name) in COUNTED.iter().enumerate() {
        out.insert(
            name.to_string(),
            periods
                .iter()
                .map(|p| Datapoint {
                    timestamp_ms: p.at_ms,
                    value: p.counts[i],
                })
                .collect(),
        );
    }
    out.insert(
        ITERATOR_AGE.to_string(),
        periods
            .iter()
            .map(|p| Datapoint {
                timestamp_ms: p.at_ms,
                value: p.iterator_age_ms,
            })
            .collect(),
    );
    out
}

/// A stream's Kinesis metrics over the last minutes, per stream and per shard.
#[utoipa::path(get, path = "/v1/streams/{name}/metrics",
    params(("name" = String, Path, description = "Stream name"), MetricsQuery),
    responses((status = 200, body = StreamMetrics), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn stream_metrics(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
    Query(query): Query<MetricsQuery>,
) -> Result<Json<StreamMetrics>, ApiError> {
    let period = query.period.unwrap_or(60);
    let minutes = query.minutes.unwrap_or(30);
    if !(1..=3600).contains(&period) {
        return Err(ControlPlaneError::InvalidArgument(format!(
            "period must be 1-3600 seconds; got {period}."
        ))
        .into());
    }
    if !(1..=60).contains(&minutes) {
        return Err(ControlPlaneError::InvalidArgument(format!(
            "minutes must be 1-60; got {minutes}."
        ))
        .into());
    }
    cp.stream(&name)?;
    let since = crate::service::now_ms() - i64::from(minutes) * 60_000;
    let series = cp.metrics_history.series(&name, since).unwrap_or_default();
    let period_ms = i64::from(period) * 1000;
    Ok(Json(StreamMetrics {
        stream: name,
        period_seconds: period,
        metrics: datapoints(&series.samples, period_ms),
        shards: series
            .shards
            .iter()
            .map(|(ordinal, samples)| ShardMetrics {
                shard_id: weir_core::shard_id(*ordinal),
                metrics: datapoints(samples, period_ms),
            })
            .collect(),
    }))
}
