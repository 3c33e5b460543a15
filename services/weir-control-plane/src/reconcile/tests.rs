//! Leader choice and conditional placement writes.

use proptest::prelude::*;
use weir_meta::{AssignmentRow, MetaStore};

use super::choose_leader;
use crate::placement::FenceReply;

fn answer(node: &str, last_generation: u64, end: u64) -> (String, FenceReply) {
    (
        node.to_string(),
        FenceReply {
            last_generation,
            end,
        },
    )
}

#[test]
fn the_replica_of_the_newest_generation_leads_even_when_shorter() {
    // node-a holds a longer log of an older generation: its tail was never committed
    // under the newer one, so it must not lead (Raft's election restriction).
    let answers = [answer("node-a", 3, 120), answer("node-b", 4, 100)];
    assert_eq!(choose_leader(&answers, None).as_deref(), Some("node-b"));
}

#[test]
fn among_equally_complete_replicas_the_preferred_one_leads() {
    let answers = [
        answer("node-a", 4, 100),
        answer("node-b", 4, 100),
        answer("node-c", 4, 90),
    ];
    assert_eq!(
        choose_leader(&answers, Some("node-b")).as_deref(),
        Some("node-b")
    );
    assert_eq!(choose_leader(&answers, None).as_deref(), Some("node-a"));
    // A preferred replica that lacks records is passed over.
    assert_eq!(
        choose_leader(&answers, Some("node-c")).as_deref(),
        Some("node-a")
    );
    assert_eq!(choose_leader(&[], None), None);
}

proptest! {
    /// Whoever is chosen holds at least what every other answering replica holds, by
    /// (generation, end): only a complete replica leads.
    #[test]
    fn only_a_complete_replica_is_chosen(
        replies in proptest::collection::vec((1u64..5, 0u64..50), 1..6),
        prefer in proptest::option::of(0usize..6),
    ) {
        let answers: Vec<(String, FenceReply)> = replies
            .iter()
            .enumerate()
            .map(|(i, (g, e))| answer(&format!("node-{i}"), *g, *e))
            .collect();
        let preferred = prefer.map(|i| format!("node-{i}"));
        let chosen = choose_leader(&answers, preferred.as_deref()).unwrap();
        let (_, mine) = answers.iter().find(|(n, _)| *n == chosen).unwrap();
        for (_, other) in &answers {
            prop_assert!((mine.last_generation, mine.end) >= (other.last_generation, other.end));
        }
    }
}

fn row(leader: &str, generation: u64) -> AssignmentRow {
    AssignmentRow {
        stream_uid: 7,
        ordinal: 0,
        leader: leader.into(),
        generation,
        replicas: vec![leader.into(), "node-z".into()],
        rebuilding: Vec::new(),
    }
}

/// Two placement decisions made from the same snapshot (both expecting generation 1)
/// race to write generation 2: exactly one lands, on SQLite as on any store.
#[tokio::test]
async fn two_concurrent_placement_decisions_never_give_one_generation_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let store = MetaStore::connect(&url).await.unwrap();
    assert!(store.cas_assignment(&row("node-a", 1), None).await.unwrap());
    // A second first assignment of the same shard is refused too.
    assert!(!store.cas_assignment(&row("node-b", 1), None).await.unwrap());
    for round in 1..20u64 {
        let (a, b) = (row("node-a", round + 1), row("node-b", round + 1));
        let (one, two) = tokio::join!(
            store.cas_assignment(&a, Some(round)),
            store.cas_assignment(&b, Some(round)),
        );
        let (one, two) = (one.unwrap(), two.unwrap());
        assert!(
            one ^ two,
            "round {round}: both or neither decision landed ({one}, {two})"
        );
        let stored = store.load_assignments().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].generation, round + 1);
        let winner = if one { "node-a" } else { "node-b" };
        assert_eq!(stored[0].leader, winner);
    }
}
