//! Per-shard meters: token buckets that enforce a shard's throughput limits, and the
//! counters of what went through (and what was refused), which feed metrics and the
//! autoscaler. One meter per shard this node leads; it goes with the shard.
//!
//! Time comes from the caller (the node's [`crate::Clock`]), so tests drive it exactly.

use parking_lot::Mutex;
use weir_contracts::{ShardLimits, ShardTraffic};

/// A token bucket holding at most one second of its rate.
#[derive(Debug, Default)]
struct Bucket {
    tokens: f64,
    last_ms: i64,
    started: bool,
}

impl Bucket {
    fn refill(&mut self, rate: u64, capacity: f64, now_ms: i64) {
        if !self.started {
            self.started = true;
            self.tokens = capacity;
            self.last_ms = now_ms;
            return;
        }
        let elapsed = (now_ms - self.last_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + rate as f64 * elapsed).min(capacity);
        self.last_ms = now_ms.max(self.last_ms);
    }
}

#[derive(Debug, Default)]
struct MeterState {
    write_bytes: Bucket,
    write_records: Bucket,
    read_calls: Bucket,
    /// Read bytes are paid after the fact: a GetRecords is admitted while the balance is
    /// not negative and then charged what it returned, so one 10 MiB answer at 2 MiB/s
    /// throttles the shard's reads for the next 5 s, as in Kinesis.
    read_bytes: Bucket,
    traffic: ShardTraffic,
}

/// The meter of one shard.
#[derive(Debug, Default)]
pub struct ShardMeter {
    state: Mutex<MeterState>,
}

impl ShardMeter {
    /// Admits each record (by its size in bytes, data plus partition key) in order while
    /// the shard's write allowance lasts; returns which were admitted. A refused record
    /// takes nothing, so a smaller one after it may still fit.
    pub fn admit_writes(&self, limits: &ShardLimits, sizes: &[usize], now_ms: i64) -> Vec<bool> {
        let mut state = self.state.lock();
        let bytes_rate = limits.write_bytes_per_sec;
        let records_rate = limits.write_records_per_sec;
        state
            .write_bytes
            .refill(bytes_rate, bytes_rate as f64, now_ms);
        state
            .write_records
            .refill(records_rate, records_rate as f64, now_ms);
        let mut admitted = Vec::with_capacity(sizes.len());
        for &size in sizes {
            // A record bigger than a second's allowance (UpdateMaxRecordSize allows up to
            // 10 MiB) goes through on a full allowance and leaves the shard in debt for as
            // many seconds as it is big, as Kinesis meters large records.
            let needed = (size as f64).min(bytes_rate as f64);
            let bytes_ok = bytes_rate == 0 || state.write_bytes.tokens >= needed;
            let record_ok = records_rate == 0 || state.write_records.tokens >= 1.0;
            let ok = bytes_ok && record_ok;
            if ok {
                if bytes_rate > 0 {
                    state.write_bytes.tokens -= size as f64;
                }
                if records_rate > 0 {
                    state.write_records.tokens -= 1.0;
                }
            } else {
                state.traffic.write_throttled += 1;
            }
            admitted.push(ok);
        }
        admitted
    }

    /// Records what was written (after the append was acknowledged).
    pub fn wrote(&self, records: u64, bytes: u64) {
        let mut state = self.state.lock();
        state.traffic.records_in += records;
        state.traffic.bytes_in += bytes;
    }

    /// Admits one GetRecords call, or refuses it (the caller answers
    /// ProvisionedThroughputExceededException).
    pub fn admit_read(&self, limits: &ShardLimits, now_ms: i64) -> bool {
        let mut state = self.state.lock();
        let calls_rate = limits.read_calls_per_sec;
        let bytes_rate = limits.read_bytes_per_sec;
        state
            .read_calls
            .refill(calls_rate, calls_rate as f64, now_ms);
        // No credit is saved up for reads: the balance tops out at zero.
        state.read_bytes.refill(bytes_rate, 0.0, now_ms);
        let calls_ok = calls_rate == 0 || state.read_calls.tokens >= 1.0;
        let bytes_ok = bytes_rate == 0 || state.read_bytes.tokens >= 0.0;
        if calls_ok && bytes_ok {
            if calls_rate > 0 {
                state.read_calls.tokens -= 1.0;
            }
            state.traffic.read_calls += 1;
            true
        } else {
            state.traffic.read_throttled += 1;
            false
        }
    }

    /// Charges an admitted GetRecords for what it returned.
    pub fn read(&self, limits: &ShardLimits, records: u64, bytes: u64) {
        let mut state = self.state.lock();
        if limits.read_bytes_per_sec > 0 {
            state.read_bytes.tokens -= bytes as f64;
        }
        state.traffic.records_out += records;
        state.traffic.bytes_out += bytes;
    }

    /// Records how far behind the tip the latest GetRecords was.
    pub fn iterator_age(&self, millis: u64) {
        self.state.lock().traffic.iterator_age_ms = millis;
    }

    /// The counters so far (monotonic while this node leads the shard).
    pub fn traffic(&self) -> ShardTraffic {
        self.state.lock().traffic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: ShardLimits = ShardLimits {
        write_bytes_per_sec: 1000,
        write_records_per_sec: 10,
        read_calls_per_sec: 5,
        read_bytes_per_sec: 2000,
    };

    #[test]
    fn writes_are_admitted_up_to_the_record_rate_then_refill_with_time() {
        let meter = ShardMeter::default();
        let first = meter.admit_writes(&SMALL, &[1; 15], 0);
        assert_eq!(first.iter().filter(|ok| **ok).count(), 10);
        assert!(first[..10].iter().all(|ok| *ok) && first[10..].iter().all(|ok| !*ok));
        // 100 ms later one more record's worth has come back, and no more.
        let later = meter.admit_writes(&SMALL, &[1; 3], 100);
        assert_eq!(later, vec![true, false, false]);
        assert_eq!(meter.traffic().write_throttled, 7);
    }

    #[test]
    fn the_byte_limit_refuses_a_big_record_but_admits_a_smaller_one_after_it() {
        let meter = ShardMeter::default();
        assert_eq!(
            meter.admit_writes(&SMALL, &[600, 600, 300], 0),
            vec![true, false, true]
        );
        // The full second's allowance is back after a second, not before.
        assert_eq!(meter.admit_writes(&SMALL, &[1000], 500), vec![false]);
        assert_eq!(meter.admit_writes(&SMALL, &[1000], 1_900), vec![true]);
    }

    #[test]
    fn a_record_bigger_than_a_second_of_allowance_goes_through_and_leaves_debt() {
        let meter = ShardMeter::default();
        assert_eq!(meter.admit_writes(&SMALL, &[2500], 0), vec![true]);
        // 1,500 bytes of debt: nothing fits until 1.5 s later, and a full second after.
        assert_eq!(meter.admit_writes(&SMALL, &[1], 1_000), vec![false]);
        assert_eq!(meter.admit_writes(&SMALL, &[1], 1_600), vec![true]);
    }

    #[test]
    fn unlimited_admits_everything() {
        let meter = ShardMeter::default();
        let all = meter.admit_writes(&ShardLimits::UNLIMITED, &[10 << 20; 100], 0);
        assert!(all.iter().all(|ok| *ok));
        assert!((0..100).all(|_| meter.admit_read(&ShardLimits::UNLIMITED, 0)));
    }

    #[test]
    fn five_reads_a_second() {
        let meter = ShardMeter::default();
        let admitted = (0..8).filter(|_| meter.admit_read(&SMALL, 0)).count();
        assert_eq!(admitted, 5);
        assert!(
            meter.admit_read(&SMALL, 200),
            "a fifth of a second brings one call back"
        );
        assert!(!meter.admit_read(&SMALL, 200));
    }

    #[test]
    fn a_big_read_throttles_reads_until_it_is_paid_for() {
        let meter = ShardMeter::default();
        assert!(meter.admit_read(&SMALL, 0));
        // Five seconds' worth of bytes in one answer.
        meter.read(&SMALL, 1, 10_000);
        for t in [1_000, 2_000, 4_000, 4_999] {
            assert!(
                !meter.admit_read(&SMALL, t),
                "read at {t} ms should be throttled"
            );
        }
        assert!(meter.admit_read(&SMALL, 5_000));
        assert_eq!(meter.traffic().read_throttled, 4);
        assert_eq!(meter.traffic().bytes_out, 10_000);
    }
}
