//! The autoscaler's task: samples shard traffic, asks the [`Scaler`] and applies what it
//! decides as a reshard, recording each decision.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use weir_contracts::{ShardTraffic, StreamMode, StreamStatus, TrafficSource};
use weir_meta::ScalingEventRow;

use super::{Decision, Scaler, ScalingPolicy};
use crate::service::now_ms;
use crate::ControlPlane;

/// What the control plane keeps for its autoscaler.
#[derive(Default)]
pub struct Hooks {
    /// Wakes the autoscaler before its next interval (a warm-throughput change).
    pub(crate) wake: tokio::sync::Notify,
    /// Traffic of the shards the in-process data plane serves (one-process mode).
    pub(crate) traffic: OnceLock<Arc<dyn TrafficSource>>,
}

/// Starts the autoscaler of `control_plane`'s on-demand streams; it stops when the
/// control plane is dropped.
pub fn spawn_autoscaler(control_plane: &Arc<ControlPlane>, policy: ScalingPolicy) {
    let weak = Arc::downgrade(control_plane);
    tokio::spawn(async move {
        let mut scaler = Scaler::default();
        loop {
            let Some(cp) = weak.upgrade() else { return };
            let _ = tokio::time::timeout(policy.interval, cp.autoscale.wake.notified()).await;
            cp.autoscale_pass(&policy, &mut scaler).await;
        }
    });
}

impl ControlPlane {
    /// Wakes the autoscaler now.
    pub(crate) fn autoscale_wake(&self) {
        self.autoscale.wake.notify_one();
    }

    /// The latest traffic counters of every shard, from the in-process data plane and
    /// from the leaders' heartbeat reports.
    pub(crate) fn shard_traffic(&self) -> HashMap<(i64, u64), ShardTraffic> {
        let mut traffic = HashMap::new();
        if let Some(source) = self.autoscale.traffic.get() {
            for report in source.shard_traffic() {
                traffic.insert((report.stream_uid, report.ordinal), report.traffic);
            }
        }
        for report in self.placement.leader_reports() {
            if let Some(t) = report.traffic {
                traffic.insert((report.stream_uid, report.ordinal), t);
            }
        }
        traffic
    }

    async fn autoscale_pass(self: &Arc<Self>, policy: &ScalingPolicy, scaler: &mut Scaler) {
        let streams: Vec<_> = self
            .list_streams(None, usize::MAX)
            .0
            .into_iter()
            .filter(|s| s.mode == StreamMode::OnDemand)
            .collect();
        scaler.retain(&streams.iter().map(|s| s.uid).collect::<Vec<_>>());
        let traffic = self.shard_traffic();
        let now = now_ms();
        for stream in streams.iter().filter(|s| s.status == StreamStatus::Active) {
            let shards: HashMap<u64, ShardTraffic> = traffic
                .iter()
                .filter(|((uid, _), _)| *uid == stream.uid)
                .map(|((_, ordinal), t)| (*ordinal, *t))
                .collect();
            let limits = self.catalog().shard_limits(stream);
            let warm = self.shards_for_throughput(stream, stream.warm_throughput_mibps);
            let Some(decision) = scaler.observe(policy, stream, &limits, &shards, warm, now) else {
                continue;
            };
            let plan = crate::reshard::rescale(stream, &decision.splits, &decision.merges, now);
            if plan.closing.is_empty() {
                continue;
            }
            match self
                .begin_reshard(&stream.name, false, |_, _| Ok(plan))
                .await
            {
                Ok(_ticket) => {
                    scaler.changed(stream.uid, now);
                    tracing::info!(stream = %stream.name, action = decision.action, from = decision.from_shards,
                        to = decision.to_shards, reason = %decision.reason, "autoscaler resharding");
                    self.record_scaling(stream.uid, now, &decision).await;
                }
                Err(error) => {
                    tracing::warn!(stream = %stream.name, %error, "autoscaler could not reshard; will retry")
                }
            }
        }
    }

    async fn record_scaling(&self, uid: i64, now: i64, decision: &Decision) {
        let event = ScalingEventRow {
            stream_uid: uid,
            at_ms: now,
            action: decision.action.to_string(),
            from_shards: decision.from_shards,
            to_shards: decision.to_shards,
            reason: decision.reason.clone(),
            detail: serde_json::to_string(&decision.rates).unwrap_or_default(),
        };
        if let Err(error) = self.store().append_scaling_event(&event).await {
            tracing::warn!(%error, "could not record a scaling event");
        }
    }
}
