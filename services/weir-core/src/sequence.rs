//! Sequence numbers.
//!
//! A Weir sequence number is `(shard_ordinal + 1) * 2^64 + position`, where the position
//! is `generation << 40 | offset` ([`position`]). It is printed as AWS's are: 56 decimal
//! digits, `49` and then the value zero-padded to 54 digits. A fixed width keeps text
//! order equal to numeric order, and clients that check AWS's shape (56 digits) accept
//! it. The shorter form earlier releases printed (the bare decimal value) still parses,
//! so checkpoints a client stored before an upgrade keep working.
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

    /// Parses the printed form (or the earlier bare decimal one); `None` for anything that
    /// is not one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = match text.strip_prefix(PRINTED_PREFIX) {
            Some(rest) if text.len() == PRINTED_DIGITS => rest.trim_start_matches('0'),
            _ if (1..=39).contains(&text.len()) => text,
            _ => return None,
        };
        let value: u128 = digits.parse().ok()?;
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

/// The digits every printed sequence number starts with, as AWS's do.
const PRINTED_PREFIX: &str = "49";
/// The length of a printed sequence number, as AWS's.
const PRINTED_DIGITS: usize = 56;
/// Zeros to pad with, enough for any u128 (at most 39 digits).
const ZEROS: &str = "000000000000000000000000000000000000000000000000000000";

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // itoa: core's u128 formatting showed up in the PutRecords/GetRecords profile.
        let mut buffer = itoa::Buffer::new();
        let value = buffer.format(self.0);
        let padding = PRINTED_DIGITS - PRINTED_PREFIX.len() - value.len();
        f.write_str(PRINTED_PREFIX)?;
        f.write_str(&ZEROS[..padding])?;
        f.write_str(value)
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
        fn text_order_is_numeric_order(a in (1u128 << 64)..u128::MAX, b in (1u128 << 64)..u128::MAX) {
            let (x, y) = (SequenceNumber(a), SequenceNumber(b));
            prop_assert_eq!(x.to_string().cmp(&y.to_string()), x.cmp(&y));
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
        // AWS-shaped but holding no shard (the value is below 2^64).
        assert_eq!(
            SequenceNumber::parse(&format!("49{}", "0".repeat(54))),
            None
        );
        // 56 digits that do not start with 49, and 57 digits that do.
        assert_eq!(
            SequenceNumber::parse(&format!("50{:054}", 1u128 << 64)),
            None
        );
        assert_eq!(
            SequenceNumber::parse(&format!("49{:055}", 1u128 << 64)),
            None
        );
    }

    #[test]
    fn prints_as_aws_does_and_reads_the_earlier_form() {
        let seq = SequenceNumber::new(0, 8);
        let printed = seq.to_string();
        assert_eq!(printed.len(), 56);
        assert_eq!(printed, format!("49{:054}", (1u128 << 64) + 8));
        assert_eq!(SequenceNumber::parse(&printed), Some(seq));
        // What earlier releases printed: the bare value.
        assert_eq!(SequenceNumber::parse("18446744073709551624"), Some(seq));
        let widest = SequenceNumber(u128::MAX);
        assert_eq!(widest.to_string().len(), 56);
        assert_eq!(SequenceNumber::parse(&widest.to_string()), Some(widest));
    }
}
