//! A stream's capacity settings: its own per-shard throughput limits.

use std::sync::Arc;

use weir_contracts::{ControlPlaneError, ShardLimits, StreamRecord};

use crate::ControlPlane;

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
