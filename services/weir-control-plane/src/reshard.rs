//! Resharding plans: which shards close and which new shards appear, with lineage.
//!
//! Every operation is expressed as splits and merges, so every new shard has at most two
//! parents (`ParentShardId`, `AdjacentParentShardId`) and consumers that read parents
//! before children see each key's records in order. UNIFORM_SCALING to any count first
//! splits old shards at the new boundaries, then merges the pieces of each new range;
//! shards that only exist between those two steps are created closed and empty, as the
//! short-lived shards Kinesis documents.

use weir_core::{split_hash_space, HashRange};
use weir_meta::{ShardRecord, StreamRecord};

/// The shards of a new stream: `count` equal hash ranges, ordinals from 0.
pub fn initial_layout(count: u32, created_at_ms: i64) -> Vec<ShardRecord> {
    split_hash_space(count)
        .into_iter()
        .enumerate()
        .map(|(i, hash_range)| ShardRecord {
            ordinal: i as u64,
            parent: None,
            adjacent_parent: None,
            hash_range,
            created_at_ms,
            closed_at_ms: None,
            ending_offset: None,
        })
        .collect()
}

/// A planned reshard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReshardPlan {
    /// Open shards that close (their logs must be sealed first).
    pub closing: Vec<u64>,
    /// New shards in creation order. Short-lived intermediates have `ending_offset = Some(0)`.
    pub created: Vec<ShardRecord>,
}

struct Builder {
    next_ordinal: u64,
    now_ms: i64,
    plan: ReshardPlan,
}

impl Builder {
    fn new(stream: &StreamRecord, now_ms: i64) -> Self {
        Self {
            next_ordinal: stream.next_shard_ordinal,
            now_ms,
            plan: ReshardPlan::default(),
        }
    }

    fn create(&mut self, range: HashRange, parent: Option<u64>, adjacent: Option<u64>) -> u64 {
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        self.plan.created.push(ShardRecord {
            ordinal,
            parent,
            adjacent_parent: adjacent,
            hash_range: range,
            created_at_ms: self.now_ms,
            closed_at_ms: None,
            ending_offset: None,
        });
        ordinal
    }

    /// Closes `ordinal`: an existing open shard is sealed; a shard created by this plan
    /// closes empty.
    fn close(&mut self, ordinal: u64) {
        if let Some(shard) = self.plan.created.iter_mut().find(|s| s.ordinal == ordinal) {
            shard.closed_at_ms = Some(self.now_ms);
            shard.ending_offset = Some(0);
        } else {
            self.plan.closing.push(ordinal);
        }
    }
}

/// Splits `shard` at `new_start` (the first hash key of the upper child).
pub fn split(
    stream: &StreamRecord,
    shard: &ShardRecord,
    new_start: u128,
    now_ms: i64,
) -> ReshardPlan {
    let mut b = Builder::new(stream, now_ms);
    let range = shard.hash_range;
    b.create(
        HashRange {
            start: range.start,
            end: new_start - 1,
        },
        Some(shard.ordinal),
        None,
    );
    b.create(
        HashRange {
            start: new_start,
            end: range.end,
        },
        Some(shard.ordinal),
        None,
    );
    b.close(shard.ordinal);
    b.plan
}

/// Merges two adjacent shards; `first` becomes the parent, `second` the adjacent parent.
pub fn merge(
    stream: &StreamRecord,
    first: &ShardRecord,
    second: &ShardRecord,
    now_ms: i64,
) -> ReshardPlan {
    let mut b = Builder::new(stream, now_ms);
    let start = first.hash_range.start.min(second.hash_range.start);
    let end = first.hash_range.end.max(second.hash_range.end);
    b.create(
        HashRange { start, end },
        Some(first.ordinal),
        Some(second.ordinal),
    );
    b.close(first.ordinal);
    b.close(second.ordinal);
    b.plan
}

/// The autoscaler's change: splits each of `splits` at the middle of its range and
/// merges each pair of `merges` (adjacent open shards), in one plan.
pub fn rescale(
    stream: &StreamRecord,
    splits: &[u64],
    merges: &[(u64, u64)],
    now_ms: i64,
) -> ReshardPlan {
    let mut b = Builder::new(stream, now_ms);
    let splittable = splits
        .iter()
        .filter_map(|o| stream.shard(*o))
        .filter(|s| s.hash_range.end > s.hash_range.start);
    for shard in splittable {
        let range = shard.hash_range;
        let middle = range.start + (range.end - range.start) / 2 + 1;
        b.create(
            HashRange {
                start: range.start,
                end: middle - 1,
            },
            Some(shard.ordinal),
            None,
        );
        b.create(
            HashRange {
                start: middle,
                end: range.end,
            },
            Some(shard.ordinal),
            None,
        );
        b.close(shard.ordinal);
    }
    for (first, second) in merges {
        let (Some(a), Some(c)) = (stream.shard(*first), stream.shard(*second)) else {
            continue;
        };
        b.create(
            HashRange {
                start: a.hash_range.start.min(c.hash_range.start),
                end: a.hash_range.end.max(c.hash_range.end),
            },
            Some(a.ordinal),
            Some(c.ordinal),
        );
        b.close(a.ordinal);
        b.close(c.ordinal);
    }
    b.plan
}

/// Moves the stream to `target` open shards of equal width.
pub fn uniform_scaling(stream: &StreamRecord, target: u32, now_ms: i64) -> ReshardPlan {
    let mut b = Builder::new(stream, now_ms);
    let targets = split_hash_space(target);
    let mut open: Vec<&ShardRecord> = stream.open_shards().collect();
    open.sort_by_key(|s| s.hash_range.start);

    // Step 1: split every open shard at each new boundary strictly inside it.
    let mut pieces: Vec<(u64, HashRange)> = Vec::new();
    for shard in open {
        let mut current = (shard.ordinal, shard.hash_range);
        let range = shard.hash_range;
        let inside: Vec<u128> = targets
            .iter()
            .map(|t| t.start)
            .filter(|s| *s > range.start && *s <= range.end)
            .collect();
        for boundary in inside {
            let lower = b.create(
                HashRange {
                    start: current.1.start,
                    end: boundary - 1,
                },
                Some(current.0),
                None,
            );
            let upper_range = HashRange {
                start: boundary,
                end: current.1.end,
            };
            let upper = b.create(upper_range, Some(current.0), None);
            b.close(current.0);
            pieces.push((
                lower,
                HashRange {
                    start: current.1.start,
                    end: boundary - 1,
                },
            ));
            current = (upper, upper_range);
        }
        pieces.push(current);
    }

    // Step 2: merge the pieces of each target range, left to right.
    for target_range in &targets {
        let group: Vec<(u64, HashRange)> = pieces
            .iter()
            .filter(|(_, r)| target_range.start <= r.start && r.end <= target_range.end)
            .copied()
            .collect();
        let mut iter = group.into_iter();
        let Some(mut acc) = iter.next() else { continue };
        for piece in iter {
            let merged_range = HashRange {
                start: acc.1.start,
                end: piece.1.end,
            };
            let merged = b.create(merged_range, Some(acc.0), Some(piece.0));
            b.close(acc.0);
            b.close(piece.0);
            acc = (merged, merged_range);
        }
    }
    b.plan
}

/// The stream after `plan` is applied, with `ending_offsets` for the shards that closed.
pub fn applied(
    stream: &StreamRecord,
    plan: &ReshardPlan,
    ending_offsets: &[(u64, u64)],
    now_ms: i64,
) -> StreamRecord {
    let mut next = stream.clone();
    for shard in &mut next.shards {
        if let Some((_, end)) = ending_offsets.iter().find(|(o, _)| *o == shard.ordinal) {
            shard.closed_at_ms = Some(now_ms);
            shard.ending_offset = Some(*end);
        }
    }
    // Children are born when the reshard takes effect, the moment their parents close.
    next.shards
        .extend(plan.created.iter().cloned().map(|mut shard| {
            shard.created_at_ms = now_ms;
            if shard.closed_at_ms.is_some() {
                shard.closed_at_ms = Some(now_ms);
            }
            shard
        }));
    next.next_shard_ordinal = plan
        .created
        .iter()
        .map(|s| s.ordinal + 1)
        .max()
        .unwrap_or(next.next_shard_ordinal);
    next
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use weir_meta::{StreamMode, StreamStatus};

    fn stream(count: u32) -> StreamRecord {
        StreamRecord {
            name: "s".into(),
            uid: 1,
            mode: StreamMode::Provisioned,
            status: StreamStatus::Active,
            retention_hours: 24,
            created_at_ms: 0,
            next_shard_ordinal: u64::from(count),
            version: 1,
            shards: initial_layout(count, 0),
            tags: BTreeMap::new(),
            consumers: BTreeMap::new(),
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

    fn apply(s: &StreamRecord, plan: &ReshardPlan) -> StreamRecord {
        let ends: Vec<(u64, u64)> = plan.closing.iter().map(|o| (*o, 10)).collect();
        applied(s, plan, &ends, 1)
    }

    /// Open shards tile the hash space, every new shard has ≤ 2 parents that existed
    /// before it, and the open layout is the uniform one.
    fn check(s: &StreamRecord, target: u32) {
        let mut open: Vec<&ShardRecord> = s.open_shards().collect();
        open.sort_by_key(|sh| sh.hash_range.start);
        let ranges: Vec<HashRange> = open.iter().map(|sh| sh.hash_range).collect();
        assert_eq!(ranges, split_hash_space(target));
        for shard in &s.shards {
            for parent in shard.parent.iter().chain(shard.adjacent_parent.iter()) {
                assert!(*parent < shard.ordinal, "parents are older than children");
                let p = s.shard(*parent).unwrap();
                assert!(p.closed_at_ms.is_some(), "a parent is closed");
                assert!(
                    p.hash_range.start >= shard.hash_range.start
                        && p.hash_range.end <= shard.hash_range.end
                        || shard.hash_range.start >= p.hash_range.start
                            && shard.hash_range.end <= p.hash_range.end,
                    "child and parent ranges nest"
                );
            }
        }
    }

    #[test]
    fn doubling_splits_each_shard_once() {
        let s = stream(4);
        let plan = uniform_scaling(&s, 8, 1);
        assert_eq!(plan.closing, vec![0, 1, 2, 3]);
        assert_eq!(plan.created.len(), 8);
        assert!(plan
            .created
            .iter()
            .all(|c| c.adjacent_parent.is_none() && c.ending_offset.is_none()));
        check(&apply(&s, &plan), 8);
    }

    #[test]
    fn halving_merges_pairs() {
        let s = stream(8);
        let plan = uniform_scaling(&s, 4, 1);
        assert_eq!(plan.created.len(), 4);
        assert!(plan.created.iter().all(|c| c.adjacent_parent.is_some()));
        check(&apply(&s, &plan), 4);
    }

    #[test]
    fn any_target_reaches_the_uniform_layout() {
        for from in 1..=12u32 {
            for to in (from.div_ceil(2)).max(1)..=from * 2 {
                let s = stream(from);
                let after = apply(&s, &uniform_scaling(&s, to, 1));
                check(&after, to);
                // Scaling twice in a row also works from a non-initial layout.
                let again = apply(&after, &uniform_scaling(&after, from, 2));
                check(&again, from);
            }
        }
    }

    #[test]
    fn split_and_merge_lineage() {
        let s = stream(2);
        let middle = s.shards[0].hash_range.end / 2;
        let plan = split(&s, &s.shards[0], middle, 1);
        let after = apply(&s, &plan);
        let children: Vec<&ShardRecord> = after
            .shards
            .iter()
            .filter(|c| c.parent == Some(0))
            .collect();
        assert_eq!(children.len(), 2);
        assert_eq!(children[0].hash_range.end + 1, children[1].hash_range.start);
        assert_eq!(children[1].hash_range.start, middle);
        let merged = merge(&after, after.shard(3).unwrap(), after.shard(1).unwrap(), 2);
        let after = apply(&after, &merged);
        let child = after.shards.last().unwrap();
        assert_eq!((child.parent, child.adjacent_parent), (Some(3), Some(1)));
        assert_eq!(after.open_shards().count(), 2);
    }
}
