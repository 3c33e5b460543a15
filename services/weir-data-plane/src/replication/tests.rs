//! The rules that keep replicas from forking: where a follower's log stops agreeing with
//! its leader's, and what a majority holds.

use proptest::prelude::*;

use super::{common_prefix, majority_end};
use crate::shards::compact_table;

#[test]
fn a_follower_keeps_what_it_shares_and_cuts_an_older_generations_tail() {
    // Generation 2 wrote offsets 0..10 everywhere; its leader then wrote 10..14 on this
    // follower only and died. Generation 3 started at 10 on the new leader.
    let follower = [(1, 0), (2, 0)];
    let leader = [(1, 0), (2, 0), (3, 10)];
    assert_eq!(common_prefix(&follower, 14, &leader, 25), 10);
    // The same follower, already on generation 3 and behind: nothing to cut.
    assert_eq!(common_prefix(&leader, 12, &leader, 25), 12);
    // A follower ahead of its leader within one generation keeps only the shared part.
    assert_eq!(common_prefix(&leader, 30, &leader, 25), 25);
}

#[test]
fn a_generation_the_leader_never_saw_is_cut_at_its_first_offset() {
    // Generation 3's leader wrote 10..12 on this follower only; the leader of generation
    // 4 never held generation 3 and continued generation 2 up to 11 before taking over.
    let follower = [(1, 0), (2, 0), (3, 10)];
    let leader = [(1, 0), (2, 0), (4, 11)];
    assert_eq!(common_prefix(&follower, 12, &leader, 20), 10);
}

#[test]
fn the_majority_end_is_the_highest_offset_most_replicas_hold() {
    assert_eq!(majority_end(&[10]), Some(10));
    assert_eq!(majority_end(&[10, 4, 7]), Some(7));
    assert_eq!(majority_end(&[10, 0, 0]), Some(0));
    assert_eq!(majority_end(&[10, 9]), Some(9));
    assert_eq!(majority_end(&[5, 9, 9, 1, 3]), Some(5));
    assert_eq!(majority_end(&[]), None);
}

/// A log as a sequence of generation runs: `(generation, records)` with increasing
/// generations; returns its table and end.
fn build(runs: &[(u64, u64)]) -> (Vec<(u64, u64)>, u64) {
    let mut table = Vec::new();
    let mut end = 0;
    for (g, n) in runs {
        table.push((*g, end));
        end += n;
    }
    (table, end)
}

fn runs() -> impl Strategy<Value = Vec<(u64, u64)>> {
    proptest::collection::vec((1u64..4, 0u64..6), 1..5).prop_map(|steps| {
        let mut g = 0;
        steps
            .into_iter()
            .map(|(dg, n)| {
                g += dg;
                (g, n)
            })
            .collect()
    })
}

proptest! {
    /// Whatever two logs hold, the prefix they keep is exactly the offsets at which both
    /// have a record of the same generation, from 0 up to the first disagreement.
    #[test]
    fn the_common_prefix_is_the_longest_run_of_agreeing_offsets(a in runs(), b in runs()) {
        let (ta, ea) = build(&a);
        let (tb, eb) = build(&b);
        let cut = common_prefix(&ta, ea, &tb, eb);
        let gen = |t: &[(u64, u64)], o: u64| t.iter().rev().find(|(_, f)| *f <= o).map(|(g, _)| *g);
        let mut expected = 0;
        while expected < ea.min(eb) && gen(&ta, expected) == gen(&tb, expected) {
            expected += 1;
        }
        prop_assert_eq!(cut, expected);
    }

    /// The majority end is held by at least a majority and no higher offset is.
    #[test]
    fn the_majority_end_is_held_by_a_majority(ends in proptest::collection::vec(0u64..50, 1..7)) {
        let m = majority_end(&ends).unwrap();
        let majority = ends.len() / 2 + 1;
        prop_assert!(ends.iter().filter(|e| **e >= m).count() >= majority);
        prop_assert!(ends.iter().filter(|e| **e > m).count() < majority);
    }
}

#[test]
fn generations_without_records_leave_the_table_but_the_adopted_one_stays() {
    let mut table = vec![(1, 0), (2, 10), (3, 10), (4, 10), (5, 20), (6, 20)];
    compact_table(&mut table);
    assert_eq!(table, vec![(1, 0), (4, 10), (6, 20)]);
    let mut single = vec![(7, 0)];
    compact_table(&mut single);
    assert_eq!(single, vec![(7, 0)]);
}
