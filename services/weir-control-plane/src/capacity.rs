//! A stream's capacity settings: its own per-shard throughput limits, its capacity mode
//! (UpdateStreamMode), the throughput an on-demand stream keeps warm, and the largest
//! record it accepts.

use std::sync::Arc;

use weir_contracts::{ControlPlaneError, ShardLimits, StreamMode, StreamRecord, StreamStatus};
use weir_meta::CapacitySetting;

use crate::service::now_ms;
use crate::ControlPlane;

/// Capacity-mode changes Kinesis allows per stream in a rolling 24 hours.
pub const MODE_CHANGES_PER_DAY: usize = 2;
/// Smallest and largest MaxRecordSizeInKiB.
pub const MAX_RECORD_SIZE_KIB_RANGE: std::ops::RangeInclusive<u32> = 1024..=10240;

/// Highest value any one limit may take (per second): beyond it, turn the limit off.
pub const MAX_LIMIT_PER_SEC: u64 = 1 << 40;

impl ControlPlane {
    /// Sets a stream's own per-shard limits, or with `None` returns it to the
    /// deployment's default. Nodes apply the change from their next heartbeat.
    pub async fn set_shard_limits(
        &self,
        name: &str,
        limits: Option<ShardLimits>,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        if let Some(limits) = &limits {
            let values = [
                ("write_bytes_per_sec", limits.write_bytes_per_sec),
                ("write_records_per_sec", limits.write_records_per_sec),
                ("read_calls_per_sec", limits.read_calls_per_sec),
                ("read_bytes_per_sec", limits.read_bytes_per_sec),
            ];
            if let Some((field, value)) = values.iter().find(|(_, v)| *v > MAX_LIMIT_PER_SEC) {
                return Err(ControlPlaneError::InvalidArgument(format!(
                    "{field} {value} is too large: use at most {MAX_LIMIT_PER_SEC}, or 0 for no limit."
                )));
            }
        }
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        if !self.store().set_shard_limits(name, limits).await? {
            return Err(self.not_found(name));
        }
        self.replace(&stream, |s| s.shard_limits = limits)
    }
}

impl ControlPlane {
    /// UpdateStreamMode: the stream turns UPDATING, then ACTIVE in its new mode (after
    /// `--reshard-delay-ms`, as reshards do). Its shards stay as they are; an on-demand
    /// stream's autoscaler takes over from there.
    pub async fn update_stream_mode(
        self: &Arc<Self>,
        name: &str,
        mode: StreamMode,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        let guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        let account = &self.config().account_id;
        self.require_active(&stream)?;
        if stream.mode == mode {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Stream {name} under account {account} is already in {} capacity mode.",
                mode.as_str()
            )));
        }
        let now = now_ms();
        let mut changes: Vec<i64> = stream
            .mode_changes_ms
            .iter()
            .copied()
            .filter(|t| *t > now - 24 * 3_600_000)
            .collect();
        if changes.len() >= MODE_CHANGES_PER_DAY {
            return Err(ControlPlaneError::LimitExceeded(format!(
                "Stream {name} under account {account} has changed its capacity mode {} times in the last 24 \
                 hours, the most allowed. Try again after {} ms since the epoch.",
                changes.len(),
                changes[0] + 24 * 3_600_000
            )));
        }
        let limits = self.limits();
        if mode == StreamMode::OnDemand
            && limits.on_demand_stream_count >= limits.on_demand_stream_limit
        {
            return Err(ControlPlaneError::LimitExceeded(format!(
                "This request would exceed the on-demand stream limit of {} for the account {account}.",
                limits.on_demand_stream_limit
            )));
        }
        changes.push(now);
        self.store()
            .set_stream_mode(name, mode, StreamStatus::Updating, &changes)
            .await?;
        let updated = self.replace(&stream, |s| {
            s.mode = mode;
            s.status = StreamStatus::Updating;
            s.mode_changes_ms = changes;
        })?;
        drop(guard);
        tracing::info!(stream = %name, mode = mode.as_str(), "capacity mode changing");
        let cp = Arc::clone(self);
        let stream_name = name.to_string();
        tokio::spawn(async move {
            let name = stream_name;
            tokio::time::sleep(cp.config().reshard_delay).await;
            let _guard = cp.mutation.lock().await;
            let Ok(current) = cp.stream(&name) else {
                return;
            };
            if current.uid != updated.uid || current.status != StreamStatus::Updating {
                return;
            }
            match cp.store().set_status(&name, StreamStatus::Active).await {
                Ok(_) => {
                    let _ = cp.replace(&current, |s| s.status = StreamStatus::Active);
                }
                Err(error) => {
                    tracing::error!(stream = %name, %error, "could not finish a capacity-mode change")
                }
            }
        });
        self.stream(name)
    }

    /// UpdateStreamWarmThroughput: the write throughput (MiB/s) an on-demand stream keeps
    /// ready; the autoscaler keeps at least that many shards' worth open.
    pub async fn update_warm_throughput(
        &self,
        name: &str,
        mibps: u32,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        let account = &self.config().account_id;
        if stream.mode != StreamMode::OnDemand {
            return Err(ControlPlaneError::NotSupported(format!(
                "Warm throughput is not supported for stream {name} under account {account} because it is in \
                 PROVISIONED capacity mode; switch it to ON_DEMAND first."
            )));
        }
        let needed = self.shards_for_throughput(&stream, mibps);
        let limit = self.config().shard_limit;
        if needed > limit {
            return Err(ControlPlaneError::LimitExceeded(format!(
                "Warm throughput of {mibps} MiB/s needs {needed} shards, more than the account's shard limit of \
                 {limit}."
            )));
        }
        self.store()
            .set_stream_capacity(name, CapacitySetting::WarmThroughputMibps, mibps)
            .await?;
        self.autoscale_wake();
        self.replace(&stream, |s| s.warm_throughput_mibps = mibps)
    }

    /// UpdateMaxRecordSize: the largest record the stream accepts, in KiB.
    pub async fn update_max_record_size(
        &self,
        name: &str,
        kib: u32,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        if !MAX_RECORD_SIZE_KIB_RANGE.contains(&kib) {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "MaxRecordSizeInKiB {kib} is out of range: use {} to {}.",
                MAX_RECORD_SIZE_KIB_RANGE.start(),
                MAX_RECORD_SIZE_KIB_RANGE.end()
            )));
        }
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        self.store()
            .set_stream_capacity(name, CapacitySetting::MaxRecordSizeKib, kib)
            .await?;
        self.replace(&stream, |s| s.max_record_size_kib = kib)
    }

    /// Open shards needed to take `mibps` of writes under the stream's limits.
    pub fn shards_for_throughput(&self, stream: &StreamRecord, mibps: u32) -> u32 {
        let per_shard = self.catalog().shard_limits(stream).write_bytes_capacity();
        let wanted = u64::from(mibps) * 1024 * 1024;
        wanted.div_ceil(per_shard).min(u64::from(u32::MAX)) as u32
    }
}
