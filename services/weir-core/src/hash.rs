//! Partition keys, hash keys and hash ranges.
//!
//! Kinesis routes a record by the MD5 of its partition key read as an unsigned 128-bit
//! big-endian integer, or by an explicit decimal hash key. Open shards tile `[0, 2^128 - 1]`.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// The largest hash key, `2^128 - 1`.
pub const MAX_HASH_KEY: u128 = u128::MAX;

/// Maps a partition key to its hash key exactly as Kinesis does, so records land on the
/// same shard as they would in AWS and clients that compute routing locally agree with us.
pub fn partition_key_hash(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// Parses an `ExplicitHashKey`: a decimal in `[0, 2^128 - 1]`. `None` means out of range or
/// not a number, which Kinesis reports as InvalidArgumentException.
pub fn parse_hash_key(text: &str) -> Option<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u128>().ok()
}

/// An inclusive range of hash keys owned by one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashRange {
    /// First hash key of the range.
    pub start: u128,
    /// Last hash key of the range (inclusive).
    pub end: u128,
}

impl HashRange {
    /// Whether `key` routes to this range.
    pub fn contains(&self, key: u128) -> bool {
        self.start <= key && key <= self.end
    }
}

/// Splits the hash space into `count` contiguous ranges of equal width (the last takes the
/// remainder), the way Kinesis lays out a new stream's shards.
pub fn split_hash_space(count: u32) -> Vec<HashRange> {
    assert!(count > 0, "a stream has at least one shard");
    let count = u128::from(count);
    // Width of each range: floor(2^128 / count), computed without overflowing u128.
    let width = if count == 1 {
        0
    } else {
        (MAX_HASH_KEY / count) + u128::from(MAX_HASH_KEY % count == count - 1)
    };
    (0..count)
        .map(|i| {
            let start = i * width;
            let end = if i + 1 == count {
                MAX_HASH_KEY
            } else {
                (i + 1) * width - 1
            };
            HashRange { start, end }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn md5_routing_matches_kinesis() {
        // MD5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(
            partition_key_hash("a"),
            0x0cc175b9c0f1b6a831c399e269772661u128
        );
    }

    #[test]
    fn four_shards_match_aws_layout() {
        let ranges = split_hash_space(4);
        assert_eq!(ranges[0].start, 0);
        assert_eq!(ranges[1].start, 85070591730234615865843651857942052864);
        assert_eq!(ranges[3].end, MAX_HASH_KEY);
    }

    #[test]
    fn parse_hash_key_bounds() {
        assert_eq!(parse_hash_key("0"), Some(0));
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211455"),
            Some(MAX_HASH_KEY)
        );
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(parse_hash_key("-1"), None);
        assert_eq!(parse_hash_key(""), None);
    }

    proptest! {
        #[test]
        fn ranges_tile_the_space(count in 1u32..2000) {
            let ranges = split_hash_space(count);
            prop_assert_eq!(ranges.len() as u32, count);
            prop_assert_eq!(ranges[0].start, 0);
            prop_assert_eq!(ranges.last().unwrap().end, MAX_HASH_KEY);
            for pair in ranges.windows(2) {
                prop_assert!(pair[0].start <= pair[0].end);
                prop_assert_eq!(pair[0].end + 1, pair[1].start);
            }
        }

        #[test]
        fn every_key_has_exactly_one_shard(count in 1u32..64, key in any::<u128>()) {
            let ranges = split_hash_space(count);
            prop_assert_eq!(ranges.iter().filter(|r| r.contains(key)).count(), 1);
        }
    }
}
