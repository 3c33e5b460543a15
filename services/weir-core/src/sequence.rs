//! Sequence numbers.
//!
//! A Weir sequence number is `(shard_ordinal + 1) * 2^64 + position`, printed in decimal,
//! where the position is `generation << 40 | offset` ([`position`]).
//! Offsets grow per shard, so numbers are strictly increasing within a shard; a child shard
//! always has a larger ordinal than its parents, so every child number exceeds every
//! parent number, as Kinesis promises. Parsing recovers the shard and the offset, so a
//! number from another shard is recognised and refused.

use std::fmt;

/// Bits of a position that hold the log offset; the bits above hold the placement
/// generation the record was written under.
pub const GENERATION_SHIFT: u32 = 40;
const OFFSET_MASK: u64 = (1 << GENERATION_SHIFT) - 1;

/// A record's position within its shard: `generation << 40 | offset`. The generation only
/// grows when a shard moves, so positions (and the sequence numbers built from them) keep
/// growing across owners.
pub fn position(generation: u64, offset: u64) -> u64 {
    generation << GENERATION_SHIFT | (offset & OFFSET_MASK)
}

/// The placement generation a position was written under.
pub fn position_generation(position: u64) -> u64 {
    position >> GENERATION_SHIFT
}

/// The log offset of a position.
pub fn position_offset(position: u64) -> u64 {
    position & OFFSET_MASK
}

/// A decoded sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SequenceNumber(pub u128);

impl SequenceNumber {
    /// The sequence number of `offset` in the shard with `shard_ordinal`.
    pub fn new(shard_ordinal: u64, offset: u64) -> Self {
        Self((u128::from(shard_ordinal) + 1) << 64 | u128::from(offset))
    }

    /// Parses the decimal form; `None` for anything that is not one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 39 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u128 = text.parse().ok()?;
        (value >> 64 != 0).then_some(Self(value))
    }

    /// The shard this number belongs to.
    pub fn shard_ordinal(self) -> u64 {
        ((self.0 >> 64) as u64) - 1
    }

    /// The record offset within its shard.
    pub fn offset(self) -> u64 {
        self.0 as u64
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // itoa: core's u128 formatting showed up in the PutRecords/GetRecords profile.
        f.write_str(itoa::Buffer::new().format(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(ordinal in 0u64..u64::MAX - 1, offset in any::<u64>()) {
            let seq = SequenceNumber::new(ordinal, offset);
            let parsed = SequenceNumber::parse(&seq.to_string()).unwrap();
            prop_assert_eq!(parsed.shard_ordinal(), ordinal);
            prop_assert_eq!(parsed.offset(), offset);
        }

        #[test]
        fn children_exceed_parents(parent in 0u64..1000, gap in 1u64..1000, a in any::<u64>(), b in any::<u64>()) {
            prop_assert!(SequenceNumber::new(parent + gap, b) > SequenceNumber::new(parent, a));
        }

        #[test]
        fn increasing_within_shard(ordinal in 0u64..1000, a in 0u64..u64::MAX) {
            prop_assert!(SequenceNumber::new(ordinal, a + 1) > SequenceNumber::new(ordinal, a));
        }
    }

    #[test]
    fn rejects_foreign_numbers() {
        assert_eq!(SequenceNumber::parse("0"), None);
        assert_eq!(SequenceNumber::parse("12a"), None);
        assert_eq!(SequenceNumber::parse(""), None);
    }
}
