//! Shared Kinesis domain types for every Weir crate.
//!
//! These are the rules that must agree between the control plane, the data plane and the
//! storage engine: how a partition key becomes a hash key, how shards tile the hash space,
//! how shard ids and sequence numbers are spelled, and what a valid stream name is. Keeping
//! them in one dependency-light crate means the wire layer and the metadata layer cannot drift.

pub mod hash;
pub mod names;
pub mod sequence;
pub mod validation;

pub use hash::{partition_key_hash, split_hash_space, HashRange, MAX_HASH_KEY};
pub use names::{shard_id, shard_ordinal, stream_arn, stream_name_from_arn, ACCOUNT_ID_DEFAULT};
pub use sequence::{
    position, position_generation, position_offset, SequenceNumber, GENERATION_SHIFT,
};
pub use validation::Violations;
