//! The autoscaler of on-demand streams: it splits shards whose writes stay high and
//! merges adjacent shards that stay cold, following Kinesis's documented behaviour.
//!
//! - A shard is hot at `split_at` of its write capacity (Kinesis splits at about
//!   500 KB/s of a 1 MiB/s shard), or whenever it throttles. One that stays hot for
//!   `scale_out_after` is split at the middle of its hash range.
//! - Two adjacent shards that both stay under `merge_below` for `scale_in_after` are
//!   merged, but only if the merged shard would not be hot, the stream keeps room for
//!   twice its peak write rate of the last `peak_window` (Kinesis: on-demand capacity
//!   follows up to twice the previous peak), and it keeps at least `min_shards` and what
//!   its warm throughput needs.
//! - After any change to a stream nothing else is decided for it for `cooldown`, and no
//!   stream grows beyond `max_shards`.
//!
//! [`Scaler`] holds what it measured and decides; it reads time from its caller, so the
//! decisions are tested against an injected clock. The task that feeds it and applies
//! its decisions is in `autoscale/task.rs`.

pub(crate) mod task;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde::Serialize;
use weir_contracts::{ShardLimits, ShardTraffic, StreamRecord};

pub use task::spawn_autoscaler;

/// How the autoscaler behaves. The defaults suit a local stack (a stream scales out
/// within about 20 s of a sustained overload); production raises the windows.
#[derive(Debug, Clone)]
pub struct ScalingPolicy {
    /// How often traffic is sampled and decisions made.
    pub interval: Duration,
    /// How long a shard must stay hot before it is split.
    pub scale_out_after: Duration,
    /// How long a pair must stay cold before it is merged.
    pub scale_in_after: Duration,
    /// Quiet time for a stream after each change.
    pub cooldown: Duration,
    /// Share of a shard's write capacity at which it counts as hot.
    pub split_at: f64,
    /// Share of a shard's write capacity under which it counts as cold.
    pub merge_below: f64,
    /// Fewest open shards of an on-demand stream (Kinesis starts them at 4).
    pub min_shards: u32,
    /// Most open shards of an on-demand stream.
    pub max_shards: u32,
    /// Capacity is kept for twice the peak write rate of this window.
    pub peak_window: Duration,
}

impl Default for ScalingPolicy {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            scale_out_after: Duration::from_secs(10),
            scale_in_after: Duration::from_secs(60),
            cooldown: Duration::from_secs(10),
            split_at: 0.5,
            merge_below: 0.1,
            min_shards: 4,
            max_shards: 200,
            peak_window: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Measured write rates of one shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ShardRate {
    /// Bytes written per second.
    pub bytes_per_sec: f64,
    /// Records written per second.
    pub records_per_sec: f64,
    /// Records refused per second.
    pub throttled_per_sec: f64,
    /// Share of the shard's write capacity in use (1.0 or more when throttling).
    pub utilisation: f64,
}

#[derive(Debug, Default)]
struct ShardState {
    last: Option<(i64, ShardTraffic)>,
    rate: Option<ShardRate>,
    hot_since: Option<i64>,
    cold_since: Option<i64>,
}

/// Peak samples are kept per bucket of this length, so a 30-day window stays small.
const PEAK_BUCKET_MS: i64 = 60_000;

#[derive(Debug, Default)]
struct StreamState {
    last_change_ms: Option<i64>,
    shards: HashMap<u64, ShardState>,
    /// `(bucket start, highest stream write rate in it)`, oldest first.
    peaks: VecDeque<(i64, f64)>,
}

/// What the scaler decided for one stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// `split`, `merge` or `warm`.
    pub action: &'static str,
    /// Shards to split at the middle of their range.
    pub splits: Vec<u64>,
    /// Adjacent pairs to merge (lower range first).
    pub merges: Vec<(u64, u64)>,
    /// Open shards before.
    pub from_shards: u32,
    /// Open shards after.
    pub to_shards: u32,
    /// Why, in words.
    pub reason: String,
    /// The rates behind it, per shard id.
    pub rates: BTreeMap<String, ShardRate>,
}

/// The scaler's memory of every on-demand stream, keyed by stream incarnation.
#[derive(Debug, Default)]
pub struct Scaler {
    streams: HashMap<i64, StreamState>,
}

impl Scaler {
    /// Forgets streams that are gone (or no longer on-demand).
    pub fn retain(&mut self, live: &[i64]) {
        self.streams.retain(|uid, _| live.contains(uid));
    }

    /// Records that a change was applied to a stream at `now_ms` (starts its cooldown and
    /// clears what was measured of shards that closed).
    pub fn changed(&mut self, uid: i64, now_ms: i64) {
        let state = self.streams.entry(uid).or_default();
        state.last_change_ms = Some(now_ms);
        for shard in state.shards.values_mut() {
            shard.hot_since = None;
            shard.cold_since = None;
        }
    }

    /// Takes a traffic sample of `stream`'s open shards and decides. `warm_shards` is the
    /// shard count its warm throughput needs.
    pub fn observe(
        &mut self,
        policy: &ScalingPolicy,
        stream: &StreamRecord,
        limits: &ShardLimits,
        traffic: &HashMap<u64, ShardTraffic>,
        warm_shards: u32,
        now_ms: i64,
    ) -> Option<Decision> {
        let state = self.streams.entry(stream.uid).or_default();
        let open: Vec<_> = stream.open_shards().collect();
        state
            .shards
            .retain(|ordinal, _| open.iter().any(|s| s.ordinal == *ordinal));
        let capacity_bytes = limits.write_bytes_capacity();
        let capacity_records = limits.write_records_capacity();
        let mut stream_bytes = 0.0;
        for shard in &open {
            let entry = state.shards.entry(shard.ordinal).or_default();
            if let Some(now) = traffic.get(&shard.ordinal) {
                entry.rate = rate(entry.last, (now_ms, *now), capacity_bytes, capacity_records)
                    .or(entry.rate);
                entry.last = Some((now_ms, *now));
            }
            let u = entry.rate.map_or(0.0, |r| r.utilisation);
            stream_bytes += entry.rate.map_or(0.0, |r| r.bytes_per_sec);
            if u >= policy.split_at {
                entry.hot_since.get_or_insert(now_ms);
            } else {
                entry.hot_since = None;
            }
            if u < policy.merge_below {
                entry.cold_since.get_or_insert(now_ms);
            } else {
                entry.cold_since = None;
            }
        }
        record_peak(&mut state.peaks, now_ms, stream_bytes, policy.peak_window);
        if state
            .last_change_ms
            .is_some_and(|t| now_ms - t < policy.cooldown.as_millis() as i64)
        {
            return None;
        }
        let count = open.len() as u32;
        let rates: BTreeMap<String, ShardRate> = open
            .iter()
            .map(|s| {
                let r = state
                    .shards
                    .get(&s.ordinal)
                    .and_then(|e| e.rate)
                    .unwrap_or_default();
                (weir_core::shard_id(s.ordinal), r)
            })
            .collect();
        let room = policy.max_shards.saturating_sub(count) as usize;
        let floor = policy.min_shards.max(warm_shards).min(policy.max_shards);
        // Warm throughput (or the on-demand minimum) first: split the widest shards.
        if count < floor {
            let mut widest = open.clone();
            widest.sort_by_key(|s| std::cmp::Reverse(s.hash_range.end - s.hash_range.start));
            let splits: Vec<u64> = widest
                .iter()
                .take(((floor - count) as usize).min(count as usize).min(room))
                .map(|s| s.ordinal)
                .collect();
            return Some(Decision {
                action: "warm",
                to_shards: count + splits.len() as u32,
                splits,
                merges: Vec::new(),
                from_shards: count,
                reason: format!(
                    "{count} open shards are fewer than the {floor} the stream keeps (minimum {}, warm throughput {} MiB/s needs {warm_shards})",
                    policy.min_shards, stream.warm_throughput_mibps
                ),
                rates,
            });
        }
        let sustain_out = policy.scale_out_after.as_millis() as i64;
        let hot: Vec<u64> = open
            .iter()
            .filter(|s| {
                state.shards[&s.ordinal]
                    .hot_since
                    .is_some_and(|t| now_ms - t >= sustain_out)
            })
            .map(|s| s.ordinal)
            .take(room)
            .collect();
        if !hot.is_empty() {
            let ids: Vec<String> = hot.iter().map(|o| weir_core::shard_id(*o)).collect();
            return Some(Decision {
                action: "split",
                to_shards: count + hot.len() as u32,
                from_shards: count,
                reason: format!(
                    "{} stayed at or above {:.0}% of write capacity (or throttled) for {} s",
                    ids.join(", "),
                    policy.split_at * 100.0,
                    policy.scale_out_after.as_secs()
                ),
                splits: hot,
                merges: Vec::new(),
                rates,
            });
        }
        if open
            .iter()
            .any(|s| state.shards[&s.ordinal].hot_since.is_some())
        {
            return None; // never shrink while any shard is heating up
        }
        // Scale in: adjacent cold pairs, as long as capacity stays above twice the peak.
        let peak = state.peaks.iter().map(|(_, b)| *b).fold(0.0, f64::max);
        let needed_for_peak = ((2.0 * peak) / capacity_bytes as f64).ceil() as u32;
        let keep = floor.max(needed_for_peak);
        let sustain_in = policy.scale_in_after.as_millis() as i64;
        let mut sorted = open.clone();
        sorted.sort_by_key(|s| s.hash_range.start);
        let mut merges = Vec::new();
        let mut after = count;
        let mut i = 0;
        while i + 1 < sorted.len() && after > keep {
            let (a, b) = (sorted[i], sorted[i + 1]);
            let cold_long = |o: u64| {
                state.shards[&o]
                    .cold_since
                    .is_some_and(|t| now_ms - t >= sustain_in)
            };
            let combined = state.shards[&a.ordinal].rate.map_or(0.0, |r| r.utilisation)
                + state.shards[&b.ordinal].rate.map_or(0.0, |r| r.utilisation);
            let adjacent = a.hash_range.end.checked_add(1) == Some(b.hash_range.start);
            if adjacent
                && cold_long(a.ordinal)
                && cold_long(b.ordinal)
                && combined < policy.split_at / 2.0
            {
                merges.push((a.ordinal, b.ordinal));
                after -= 1;
                i += 2;
            } else {
                i += 1;
            }
        }
        if merges.is_empty() {
            return None;
        }
        Some(Decision {
            action: "merge",
            reason: format!(
                "{} adjacent pair(s) stayed under {:.0}% of write capacity for {} s; {after} shards keep room for twice the peak of {:.0} B/s",
                merges.len(),
                policy.merge_below * 100.0,
                policy.scale_in_after.as_secs(),
                peak
            ),
            to_shards: after,
            from_shards: count,
            splits: Vec::new(),
            merges,
            rates,
        })
    }
}

/// The rate between two samples; `None` for the first sample or after the counters went
/// back (a new leader started them again).
fn rate(
    before: Option<(i64, ShardTraffic)>,
    now: (i64, ShardTraffic),
    capacity_bytes: u64,
    capacity_records: u64,
) -> Option<ShardRate> {
    let (t0, a) = before?;
    let (t1, b) = now;
    let seconds = (t1 - t0) as f64 / 1000.0;
    if seconds <= 0.0
        || b.bytes_in < a.bytes_in
        || b.records_in < a.records_in
        || b.write_throttled < a.write_throttled
    {
        return None;
    }
    let bytes_per_sec = (b.bytes_in - a.bytes_in) as f64 / seconds;
    let records_per_sec = (b.records_in - a.records_in) as f64 / seconds;
    let throttled_per_sec = (b.write_throttled - a.write_throttled) as f64 / seconds;
    let mut utilisation =
        (bytes_per_sec / capacity_bytes as f64).max(records_per_sec / capacity_records as f64);
    if throttled_per_sec > 0.0 {
        utilisation = utilisation.max(1.0);
    }
    Some(ShardRate {
        bytes_per_sec,
        records_per_sec,
        throttled_per_sec,
        utilisation,
    })
}

fn record_peak(
    peaks: &mut VecDeque<(i64, f64)>,
    now_ms: i64,
    bytes_per_sec: f64,
    window: Duration,
) {
    let bucket = now_ms - now_ms.rem_euclid(PEAK_BUCKET_MS);
    match peaks.back_mut() {
        Some((start, peak)) if *start == bucket => *peak = peak.max(bytes_per_sec),
        _ => peaks.push_back((bucket, bytes_per_sec)),
    }
    let oldest = now_ms - window.as_millis() as i64;
    while peaks
        .front()
        .is_some_and(|(start, _)| *start + PEAK_BUCKET_MS < oldest)
    {
        peaks.pop_front();
    }
}
