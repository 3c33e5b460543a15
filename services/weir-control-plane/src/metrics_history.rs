//! A short in-memory history of every stream's Kinesis metrics, for the console and
//! `GET /v1/streams/{name}/metrics`.
//!
//! A sampler reads the shard counters leaders report (heartbeats, or the in-process data
//! plane) every `metrics_sample_every` and keeps what went through each shard and each
//! stream in that interval. Counters restart from zero when a shard's leader changes; a
//! decrease is read as a restart, so totals stay monotonic. Memory is bounded: at most
//! [`STREAM_SAMPLES`] samples per stream and [`SHARD_SAMPLES`] per shard, and a stream's
//! or shard's history goes when it does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use weir_contracts::ShardTraffic;

use crate::ControlPlane;

/// Samples kept per stream (an hour at the default 5 s).
pub const STREAM_SAMPLES: usize = 720;
/// Samples kept per shard (half an hour at the default 5 s).
pub const SHARD_SAMPLES: usize = 360;

/// The counted metrics, in Kinesis's names, in the order of [`Sample::counts`] (and of
/// [`ShardTraffic::counters`]).
pub const COUNTED: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "GetRecords.Success",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
];

/// The gauge kept beside them (the maximum over shards, and over a period).
pub const ITERATOR_AGE: &str = "GetRecords.IteratorAgeMilliseconds";

/// What went through in one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// End of the interval (ms since the epoch).
    pub at_ms: i64,
    /// Counts in the order of [`COUNTED`].
    pub counts: [u64; 7],
    /// GetRecords.IteratorAgeMilliseconds at the end of the interval.
    pub iterator_age_ms: u64,
}

#[derive(Default)]
struct ShardHistory {
    last: Option<[u64; 7]>,
    samples: VecDeque<Sample>,
}

#[derive(Default)]
struct StreamHistory {
    uid: i64,
    /// Everything counted since this control plane started watching the stream.
    totals: [u64; 7],
    samples: VecDeque<Sample>,
    shards: BTreeMap<u64, ShardHistory>,
}

/// Every stream's recent metrics.
#[derive(Default)]
pub struct MetricsHistory {
    streams: parking_lot::Mutex<HashMap<String, StreamHistory>>,
}

/// A stream's history as read.
#[derive(Debug, Clone, Default)]
pub struct StreamSeries {
    /// The stream's samples, oldest first.
    pub samples: Vec<Sample>,
    /// Each shard's samples, by ordinal.
    pub shards: BTreeMap<u64, Vec<Sample>>,
}

fn push(queue: &mut VecDeque<Sample>, sample: Sample, cap: usize) {
    if queue.len() >= cap {
        queue.pop_front();
    }
    queue.push_back(sample);
}

impl MetricsHistory {
    /// Takes one sample of every stream from `traffic` (current counters by shard).
    pub fn sample(
        &self,
        now_ms: i64,
        streams: &[(String, i64, Vec<u64>)],
        traffic: &HashMap<(i64, u64), ShardTraffic>,
    ) {
        let mut histories = self.streams.lock();
        histories.retain(|name, h| streams.iter().any(|(n, uid, _)| n == name && *uid == h.uid));
        for (name, uid, ordinals) in streams {
            let history = histories
                .entry(name.clone())
                .or_insert_with(|| StreamHistory {
                    uid: *uid,
                    ..StreamHistory::default()
                });
            history.shards.retain(|o, _| ordinals.contains(o));
            let mut stream_sample = Sample {
                at_ms: now_ms,
                ..Sample::default()
            };
            for ordinal in ordinals {
                let shard = history.shards.entry(*ordinal).or_default();
                let current = traffic.get(&(*uid, *ordinal));
                let now = current.map(ShardTraffic::counters);
                let mut sample = Sample {
                    at_ms: now_ms,
                    iterator_age_ms: current.map_or(0, |t| t.iterator_age_ms),
                    ..Sample::default()
                };
                if let Some(now) = now {
                    for i in 0..7 {
                        let before = shard.last.map_or(0, |l| l[i]);
                        // A smaller counter is a new leader counting from zero.
                        sample.counts[i] = if now[i] >= before {
                            now[i] - before
                        } else {
                            now[i]
                        };
                    }
                    shard.last = Some(now);
                }
                for i in 0..7 {
                    stream_sample.counts[i] += sample.counts[i];
                }
                stream_sample.iterator_age_ms =
                    stream_sample.iterator_age_ms.max(sample.iterator_age_ms);
                push(&mut shard.samples, sample, SHARD_SAMPLES);
            }
            for i in 0..7 {
                history.totals[i] += stream_sample.counts[i];
            }
            push(&mut history.samples, stream_sample, STREAM_SAMPLES);
        }
    }

    /// A stream's samples since `since_ms`.
    pub fn series(&self, stream: &str, since_ms: i64) -> Option<StreamSeries> {
        let histories = self.streams.lock();
        let history = histories.get(stream)?;
        let recent =
            |q: &VecDeque<Sample>| q.iter().filter(|s| s.at_ms > since_ms).copied().collect();
        Some(StreamSeries {
            samples: recent(&history.samples),
            shards: history
                .shards
                .iter()
                .map(|(o, h)| (*o, recent(&h.samples)))
                .collect(),
        })
    }

    /// Bytes written per second to each shard over the latest sampling interval, by
    /// (stream uid, ordinal).
    pub fn shard_write_rates(&self) -> HashMap<(i64, u64), u64> {
        let histories = self.streams.lock();
        let mut rates = HashMap::new();
        for history in histories.values() {
            for (ordinal, shard) in &history.shards {
                let mut recent = shard.samples.iter().rev();
                if let (Some(last), Some(before)) = (recent.next(), recent.next()) {
                    let ms = (last.at_ms - before.at_ms).max(1) as u64;
                    rates.insert((history.uid, *ordinal), last.counts[0] * 1000 / ms);
                }
            }
        }
        rates
    }

    /// Every stream's totals since it was first sampled, and its latest iterator age.
    pub fn totals(&self) -> Vec<(String, [u64; 7], u64)> {
        let histories = self.streams.lock();
        let mut out: Vec<_> = histories
            .iter()
            .map(|(name, h)| {
                let age = h.samples.back().map_or(0, |s| s.iterator_age_ms);
                (name.clone(), h.totals, age)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Adds up samples into periods of `period_ms`: counts are summed, the iterator age is
/// the maximum (CloudWatch's Sum and Maximum statistics).
pub fn by_period(samples: &[Sample], period_ms: i64) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    for s in samples {
        let bucket = s.at_ms - s.at_ms.rem_euclid(period_ms.max(1));
        match out.last_mut() {
            Some(last) if last.at_ms == bucket => {
                for i in 0..7 {
                    last.counts[i] += s.counts[i];
                }
                last.iterator_age_ms = last.iterator_age_ms.max(s.iterator_age_ms);
            }
            _ => out.push(Sample {
                at_ms: bucket,
                ..*s
            }),
        }
    }
    out
}

/// Starts sampling every `every`; stops when the control plane is dropped.
pub fn spawn_sampler(control_plane: &Arc<ControlPlane>, every: std::time::Duration) {
    let weak = Arc::downgrade(control_plane);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(cp) = weak.upgrade() else { return };
            cp.sample_metrics();
        }
    });
}

impl ControlPlane {
    /// Takes one sample of every stream now.
    pub fn sample_metrics(&self) {
        let streams: Vec<(String, i64, Vec<u64>)> = self
            .list_streams(None, usize::MAX)
            .0
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.uid,
                    s.shards.iter().map(|x| x.ordinal).collect(),
                )
            })
            .collect();
        let traffic = self.shard_traffic();
        self.metrics_history
            .sample(crate::service::now_ms(), &streams, &traffic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(records: u64, age: u64) -> ShardTraffic {
        ShardTraffic {
            records_in: records,
            bytes_in: records * 10,
            iterator_age_ms: age,
            ..ShardTraffic::default()
        }
    }

    #[test]
    fn samples_are_deltas_a_leader_change_restarts_the_count_and_gone_streams_go() {
        let history = MetricsHistory::default();
        let streams = vec![("s".to_string(), 7, vec![0, 1])];
        let mut t = HashMap::from([((7, 0), traffic(5, 0)), ((7, 1), traffic(2, 30))]);
        history.sample(1_000, &streams, &t);
        t.insert((7, 0), traffic(12, 0));
        // Shard 1 moved: its new leader counts from zero.
        t.insert((7, 1), traffic(1, 10));
        history.sample(2_000, &streams, &t);
        let series = history.series("s", 0).expect("sampled");
        let records: Vec<u64> = series.samples.iter().map(|s| s.counts[1]).collect();
        assert_eq!(records, [7, 8], "5+2, then 7+1");
        assert_eq!(
            series.shards[&1]
                .iter()
                .map(|s| s.counts[1])
                .collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(
            series.samples[0].iterator_age_ms, 30,
            "the maximum over shards"
        );
        assert_eq!(history.totals()[0].1[1], 15);
        // Shard 0 took 70 bytes (12 - 5 records of 10) in the last second.
        assert_eq!(history.shard_write_rates()[&(7, 0)], 70);
        // Recreated under a new uid: a fresh history.
        history.sample(3_000, &[("s".to_string(), 8, vec![0])], &HashMap::new());
        assert_eq!(history.totals()[0].1[1], 0);
        history.sample(4_000, &[], &HashMap::new());
        assert!(
            history.series("s", 0).is_none(),
            "deleted streams leave nothing"
        );
    }

    #[test]
    fn periods_sum_counts_and_keep_the_largest_age() {
        let s = |at_ms, records, age| Sample {
            at_ms,
            counts: [0, records, 0, 0, 0, 0, 0],
            iterator_age_ms: age,
        };
        let out = by_period(
            &[s(60_000, 1, 5), s(65_000, 2, 9), s(120_000, 4, 1)],
            60_000,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].at_ms, out[0].counts[1], out[0].iterator_age_ms),
            (60_000, 3, 9)
        );
        assert_eq!((out[1].at_ms, out[1].counts[1]), (120_000, 4));
    }
}
