//! Flags of the autoscaler of on-demand streams.

use std::time::Duration;

use clap::Args;
use weir_control_plane::autoscale::ScalingPolicy;

/// How on-demand streams scale. The defaults make a local stack react within about
/// 20 s; production deployments usually raise the windows (Kinesis itself takes minutes).
#[derive(Debug, Clone, Args)]
pub struct ScalingArgs {
    /// How often the autoscaler samples shard traffic (milliseconds).
    #[arg(long, default_value_t = 2_000)]
    autoscale_interval_ms: u64,
    /// How long a shard must stay above half its write capacity (or throttle) before it
    /// is split (milliseconds).
    #[arg(long, default_value_t = 10_000)]
    scale_out_after_ms: u64,
    /// How long two adjacent shards must stay under a tenth of their capacity before they
    /// are merged (milliseconds).
    #[arg(long, default_value_t = 60_000)]
    scale_in_after_ms: u64,
    /// Quiet time for a stream after each scaling change (milliseconds).
    #[arg(long, default_value_t = 10_000)]
    scale_cooldown_ms: u64,
    /// Capacity is kept for twice the peak write rate of this window (milliseconds;
    /// Kinesis: 30 days).
    #[arg(long, default_value_t = 30 * 24 * 3_600_000)]
    scale_peak_window_ms: u64,
    /// Fewest open shards of an on-demand stream.
    #[arg(long, default_value_t = 4)]
    on_demand_min_shards: u32,
    /// Most open shards of an on-demand stream.
    #[arg(long, default_value_t = 200)]
    on_demand_max_shards: u32,
}

impl ScalingArgs {
    /// The policy these flags describe.
    pub fn policy(&self) -> ScalingPolicy {
        ScalingPolicy {
            interval: Duration::from_millis(self.autoscale_interval_ms.max(100)),
            scale_out_after: Duration::from_millis(self.scale_out_after_ms),
            scale_in_after: Duration::from_millis(self.scale_in_after_ms),
            cooldown: Duration::from_millis(self.scale_cooldown_ms),
            peak_window: Duration::from_millis(self.scale_peak_window_ms),
            min_shards: self.on_demand_min_shards.max(1),
            max_shards: self
                .on_demand_max_shards
                .max(self.on_demand_min_shards.max(1)),
            ..ScalingPolicy::default()
        }
    }
}
