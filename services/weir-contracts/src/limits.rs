//! Per-shard throughput limits, as Kinesis enforces them on provisioned streams.

use serde::{Deserialize, Serialize};

/// How much one shard accepts per second. Kinesis's numbers are the default; zero in a
/// field means that dimension is not limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShardLimits {
    /// Bytes written per second (data plus partition key), Kinesis: 1 MiB.
    pub write_bytes_per_sec: u64,
    /// Records written per second, Kinesis: 1,000.
    pub write_records_per_sec: u64,
    /// GetRecords calls per second, Kinesis: 5.
    pub read_calls_per_sec: u64,
    /// Bytes read per second, Kinesis: 2 MiB. A single GetRecords may return up to
    /// 10 MiB; the calls in the following seconds are then throttled until the shard's
    /// read allowance has paid for it (Kinesis: the next 5 s).
    pub read_bytes_per_sec: u64,
}

impl ShardLimits {
    /// Kinesis's per-shard limits.
    pub const KINESIS: Self = Self {
        write_bytes_per_sec: 1024 * 1024,
        write_records_per_sec: 1000,
        read_calls_per_sec: 5,
        read_bytes_per_sec: 2 * 1024 * 1024,
    };

    /// No limit at all (benchmarks, and `--shard-limits off`).
    pub const UNLIMITED: Self = Self {
        write_bytes_per_sec: 0,
        write_records_per_sec: 0,
        read_calls_per_sec: 0,
        read_bytes_per_sec: 0,
    };

    /// Bytes per second one shard is sized for: its write limit, or Kinesis's when writes
    /// are not limited. The unit of capacity for warm throughput and the autoscaler.
    pub fn write_bytes_capacity(&self) -> u64 {
        match self.write_bytes_per_sec {
            0 => Self::KINESIS.write_bytes_per_sec,
            bytes => bytes,
        }
    }

    /// Records per second one shard is sized for, in the same way.
    pub fn write_records_capacity(&self) -> u64 {
        match self.write_records_per_sec {
            0 => Self::KINESIS.write_records_per_sec,
            records => records,
        }
    }

    /// Whether any dimension is limited.
    pub fn is_limited(&self) -> bool {
        *self != Self::UNLIMITED
    }
}

impl Default for ShardLimits {
    fn default() -> Self {
        Self::KINESIS
    }
}

/// What went through one shard, and what was refused, since its leader opened it.
/// Counters only grow; a new leader starts again from zero, so a reader taking rates
/// treats a decrease as a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardTraffic {
    /// Bytes written (data plus partition keys).
    pub bytes_in: u64,
    /// Records written.
    pub records_in: u64,
    /// Bytes returned by GetRecords.
    pub bytes_out: u64,
    /// Records returned by GetRecords.
    pub records_out: u64,
    /// GetRecords calls admitted.
    pub read_calls: u64,
    /// Records refused with ProvisionedThroughputExceededException.
    pub write_throttled: u64,
    /// GetRecords calls refused with ProvisionedThroughputExceededException.
    pub read_throttled: u64,
    /// Milliseconds the latest GetRecords was behind the tip (0 at the tip): Kinesis's
    /// GetRecords.IteratorAgeMilliseconds. A gauge, not a counter.
    #[serde(default)]
    pub iterator_age_ms: u64,
}

impl ShardTraffic {
    /// The counters in Kinesis's metric order: IncomingBytes, IncomingRecords,
    /// OutgoingBytes, OutgoingRecords, GetRecords.Success,
    /// WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded.
    pub fn counters(&self) -> [u64; 7] {
        [
            self.bytes_in,
            self.records_in,
            self.bytes_out,
            self.records_out,
            self.read_calls,
            self.write_throttled,
            self.read_throttled,
        ]
    }
}
