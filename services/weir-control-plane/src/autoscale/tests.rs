//! The scaler's decisions against an injected clock and synthetic traffic.

use std::collections::HashMap;
use std::time::Duration;

use weir_contracts::{ShardLimits, ShardTraffic, StreamMode, StreamRecord, StreamStatus};

use super::{Decision, Scaler, ScalingPolicy};
use crate::reshard;

const MIB: u64 = 1024 * 1024;

fn policy() -> ScalingPolicy {
    ScalingPolicy {
        interval: Duration::from_secs(1),
        scale_out_after: Duration::from_secs(10),
        scale_in_after: Duration::from_secs(30),
        cooldown: Duration::from_secs(5),
        split_at: 0.5,
        merge_below: 0.1,
        min_shards: 2,
        max_shards: 8,
        peak_window: Duration::from_secs(120),
    }
}

fn stream(shards: u32) -> StreamRecord {
    StreamRecord {
        name: "s".into(),
        uid: 7,
        mode: StreamMode::OnDemand,
        status: StreamStatus::Active,
        retention_hours: 24,
        created_at_ms: 0,
        next_shard_ordinal: u64::from(shards),
        version: 1,
        shards: reshard::initial_layout(shards, 0),
        tags: Default::default(),
        consumers: Default::default(),
        tiering: Default::default(),
        replication_factor: 0,
        shard_limits: None,
        max_record_size_kib: 1024,
        warm_throughput_mibps: 0,
        mode_changes_ms: Vec::new(),
        shard_level_metrics: Vec::new(),
        resource_policy: None,
        encryption: None,
        data_keys: Vec::new(),
        record_distribution: weir_contracts::DEFAULT_RECORD_DISTRIBUTION.to_string(),
        deleting_since_ms: None,
    }
}

/// Drives a stream second by second: `rate(second, shard)` is the bytes/s each open
/// shard takes. Decisions are applied to the layout as the task would; returns them with
/// the second they were made.
struct Run {
    scaler: Scaler,
    stream: StreamRecord,
    counters: HashMap<u64, ShardTraffic>,
    decisions: Vec<(u64, Decision)>,
}

impl Run {
    fn new(shards: u32) -> Self {
        Self {
            scaler: Scaler::default(),
            stream: stream(shards),
            counters: HashMap::new(),
            decisions: Vec::new(),
        }
    }

    fn run(&mut self, from: u64, to: u64, rate: impl Fn(u64, &weir_contracts::ShardRecord) -> f64) {
        let policy = policy();
        for second in from..to {
            let now = second as i64 * 1000;
            for shard in self.stream.open_shards() {
                let c = self.counters.entry(shard.ordinal).or_default();
                let bytes = rate(second, shard).max(0.0) as u64;
                c.bytes_in += bytes;
                c.records_in += bytes / 1000;
            }
            let decision = self.scaler.observe(
                &policy,
                &self.stream,
                &ShardLimits::KINESIS,
                &self.counters,
                0,
                now,
            );
            if let Some(d) = decision {
                let plan = reshard::rescale(&self.stream, &d.splits, &d.merges, now);
                let ends: Vec<(u64, u64)> = plan.closing.iter().map(|o| (*o, 0)).collect();
                self.stream = reshard::applied(&self.stream, &plan, &ends, now);
                self.scaler.changed(self.stream.uid, now);
                self.decisions.push((second, d));
            }
        }
    }

    fn open(&self) -> usize {
        self.stream.open_shards().count()
    }
}

#[test]
fn a_shard_that_stays_hot_is_split_after_the_sustain_window_and_not_before() {
    let mut run = Run::new(2);
    // Shard 0 at 80% of 1 MiB/s, shard 1 idle.
    let load = |_, s: &weir_contracts::ShardRecord| {
        if s.ordinal == 0 {
            0.8 * MIB as f64
        } else {
            0.0
        }
    };
    run.run(0, 10, load);
    assert!(
        run.decisions.is_empty(),
        "split before the window: {:?}",
        run.decisions
    );
    run.run(10, 13, load);
    assert_eq!(run.decisions.len(), 1, "{:?}", run.decisions);
    let (second, d) = &run.decisions[0];
    assert_eq!(
        (d.action, d.splits.clone(), d.from_shards, d.to_shards),
        ("split", vec![0], 2, 3)
    );
    assert!((11..=12).contains(second), "split at {second}");
    assert!(d.rates["shardId-000000000000"].utilisation > 0.7);
}

#[test]
fn throttling_counts_as_hot_even_when_bytes_are_low() {
    let mut run = Run::new(2);
    let policy = policy();
    for second in 0..15u64 {
        let c = run.counters.entry(1).or_default();
        c.write_throttled += 5;
        c.records_in += 1;
        let d = run.scaler.observe(
            &policy,
            &run.stream,
            &ShardLimits::KINESIS,
            &run.counters,
            0,
            second as i64 * 1000,
        );
        if let Some(d) = d {
            assert_eq!(d.splits, vec![1]);
            return;
        }
    }
    panic!("a throttling shard was never split");
}

#[test]
fn a_noisy_load_around_the_threshold_does_not_flap() {
    let mut run = Run::new(2);
    // Between 30% and 70% of capacity, changing every second, for ten minutes.
    run.run(0, 600, |t, _| {
        if t % 2 == 0 {
            0.3 * MIB as f64
        } else {
            0.7 * MIB as f64
        }
    });
    assert!(
        run.decisions.iter().all(|(_, d)| d.action != "merge"),
        "{:?}",
        run.decisions
    );
    assert!(
        run.decisions.is_empty(),
        "a shard never hot for 10 s in a row was split: {:?}",
        run.decisions
    );
}

/// Bytes/s a shard takes of `total` spread evenly over the key space.
fn spread(total: f64, shard: &weir_contracts::ShardRecord) -> f64 {
    let width = (shard.hash_range.end - shard.hash_range.start) as f64 + 1.0;
    total * width / 2f64.powi(128)
}

#[test]
fn a_split_is_never_followed_by_a_merge_while_the_load_holds() {
    let mut run = Run::new(2);
    // 1.6 MiB/s over the whole key space for ten minutes: 0.8 MiB/s per shard splits
    // both; at 0.4 MiB/s each the four shards are neither hot nor cold, and stay.
    run.run(0, 600, |_, s| spread(1.6 * MIB as f64, s));
    assert_eq!(run.open(), 4, "{:?}", run.decisions);
    assert!(
        run.decisions.iter().all(|(_, d)| d.action == "split"),
        "{:?}",
        run.decisions
    );
}

#[test]
fn cooldown_spaces_changes_and_the_shard_cap_holds() {
    let mut run = Run::new(2);
    // Every shard saturated for five minutes: the stream grows, one step per cooldown
    // at most, and never past max_shards.
    run.run(0, 300, |_, _| 2.0 * MIB as f64);
    assert_eq!(run.open(), 8, "grows to the cap");
    for w in run.decisions.windows(2) {
        assert!(
            w[1].0 - w[0].0 >= 5,
            "changes {} s apart: {:?}",
            w[1].0 - w[0].0,
            run.decisions
        );
    }
    assert!(run.decisions.iter().all(|(_, d)| d.to_shards <= 8));
}

#[test]
fn after_the_load_stops_cold_pairs_merge_but_capacity_stays_above_twice_the_peak() {
    let mut run = Run::new(2);
    // 1.8 MiB/s spread: two shards at 0.9 split into four at 0.45.
    run.run(0, 100, |_, s| spread(1.8 * MIB as f64, s));
    assert_eq!(run.open(), 4, "{:?}", run.decisions);
    // The load stops. Twice the peak (3.6 MiB/s) needs 4 shards while the peak is in
    // the 120 s window: nothing merges.
    run.run(100, 200, |_, _| 0.0);
    assert_eq!(run.open(), 4, "{:?}", run.decisions);
    // Once the peak has left the window, cold pairs merge down to the minimum.
    run.run(200, 600, |_, _| 0.0);
    assert_eq!(run.open(), 2, "{:?}", run.decisions);
    let merges: Vec<_> = run
        .decisions
        .iter()
        .filter(|(_, d)| d.action == "merge")
        .collect();
    assert!(!merges.is_empty());
    assert!(
        merges.iter().all(|(t, _)| *t >= 200),
        "merged inside the peak window: {merges:?}"
    );
}

#[test]
fn warm_throughput_raises_the_floor() {
    let mut scaler = Scaler::default();
    let mut s = stream(2);
    s.warm_throughput_mibps = 5;
    let d = scaler
        .observe(&policy(), &s, &ShardLimits::KINESIS, &HashMap::new(), 5, 0)
        .expect("below the warm floor");
    assert_eq!(
        (d.action, d.from_shards, d.to_shards),
        ("warm", 2, 4),
        "at most doubles per step"
    );
}
