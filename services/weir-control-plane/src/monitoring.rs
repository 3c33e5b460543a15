//! Enhanced monitoring: which shard-level metrics a stream has on
//! (EnableEnhancedMonitoring / DisableEnhancedMonitoring). Nodes export a shard's
//! per-shard series only for the metrics its stream has on, as Kinesis publishes
//! shard-level metrics only then; stream-level metrics are always exported.

use weir_contracts::{ControlPlaneError, SHARD_LEVEL_METRICS};

use crate::ControlPlane;

impl ControlPlane {
    /// Turns `metrics` ("ALL" for every one) on (`enable`) or off for a stream; answers
    /// the shard-level metrics that were on before and are on after, in Kinesis's order.
    pub async fn update_enhanced_monitoring(
        &self,
        name: &str,
        metrics: Vec<String>,
        enable: bool,
    ) -> Result<(Vec<String>, Vec<String>), ControlPlaneError> {
        if let Some(unknown) = metrics
            .iter()
            .find(|m| *m != "ALL" && !SHARD_LEVEL_METRICS.contains(&m.as_str()))
        {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "{unknown} is not a shard-level metric: use ALL or any of {}.",
                SHARD_LEVEL_METRICS.join(", ")
            )));
        }
        let named = |m: &str| metrics.iter().any(|x| x == m || x == "ALL");
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        let current = stream.shard_level_metrics.clone();
        let desired: Vec<String> = SHARD_LEVEL_METRICS
            .iter()
            .filter(|m| {
                let on = current.iter().any(|c| c == *m);
                if enable {
                    on || named(m)
                } else {
                    on && !named(m)
                }
            })
            .map(|m| m.to_string())
            .collect();
        if desired != current {
            self.store().set_shard_level_metrics(name, &desired).await?;
            let kept = desired.clone();
            self.replace(&stream, |s| s.shard_level_metrics = kept)?;
        }
        Ok((current, desired))
    }
}
