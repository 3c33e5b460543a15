use super::*;

fn nodes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("node-{i}")).collect()
}

fn shard(ordinal: u64, replicas: &[&str], rf: usize) -> ShardView {
    let replicas: Vec<String> = replicas.iter().map(|s| s.to_string()).collect();
    ShardView {
        row: AssignmentRow {
            stream_uid: 1,
            ordinal,
            leader: replicas[0].clone(),
            generation: 1,
            replicas: replicas.clone(),
            rebuilding: Vec::new(),
        },
        rf,
        caught_up: replicas[1..].to_vec(),
    }
}

/// Applies a step as the control plane would (a new replica catches up at once).
fn apply(shards: &mut [ShardView], step: &Step) {
    let (key, node) = match step {
        Step::DropReplica(k, n) | Step::AddReplica(k, n) | Step::MoveLeader(k, n) => (k, n),
    };
    let s = shards
        .iter_mut()
        .find(|s| (s.row.stream_uid, s.row.ordinal) == *key)
        .expect("the step names a shard");
    match step {
        Step::DropReplica(..) => {
            s.row.replicas.retain(|n| n != node);
            s.caught_up.retain(|n| n != node);
        }
        Step::AddReplica(..) => {
            s.row.replicas.push(node.clone());
            s.caught_up.push(node.clone());
        }
        Step::MoveLeader(..) => {
            let old = std::mem::replace(&mut s.row.leader, node.clone());
            s.caught_up.retain(|n| n != node);
            s.caught_up.push(old);
        }
    }
}

fn counts(shards: &[ShardView], nodes: &[String]) -> (Vec<usize>, Vec<usize>) {
    let replicas = nodes
        .iter()
        .map(|n| shards.iter().filter(|s| s.row.replicas.contains(n)).count())
        .collect();
    let leaders = nodes
        .iter()
        .map(|n| shards.iter().filter(|s| s.row.leader == *n).count())
        .collect();
    (replicas, leaders)
}

#[test]
fn a_new_node_receives_replicas_and_leaderships_until_the_spread_is_at_most_one() {
    // Six shards, three replicas each, all on three nodes; two empty nodes join.
    let mut shards: Vec<ShardView> = (0..6)
        .map(|i| {
            let mut r = ["node-0", "node-1", "node-2"];
            r.rotate_left(i % 3);
            shard(i as u64, &r, 3)
        })
        .collect();
    let all = nodes(5);
    let mut steps = 0;
    while let Some(step) = decide(&shards, &all) {
        apply(&mut shards, &step);
        steps += 1;
        assert!(steps < 100, "rebalancing must converge");
        for s in &shards {
            assert!(
                s.row.replicas.len() >= s.rf,
                "never below the replication factor"
            );
        }
    }
    let (replicas, leaders) = counts(&shards, &all);
    let spread = |v: &[usize]| v.iter().max().unwrap_or(&0) - v.iter().min().unwrap_or(&0);
    assert!(spread(&replicas) <= 1, "replicas {replicas:?}");
    assert!(spread(&leaders) <= 1, "leaders {leaders:?}");
    assert!(
        shards.iter().all(|s| s.row.replicas.len() == 3),
        "back to rf"
    );
    assert!(
        replicas[3] > 0 && replicas[4] > 0,
        "the new nodes got replicas"
    );
    assert!(leaders[3] > 0 || leaders[4] > 0, "and leaderships");
}

#[test]
fn single_replica_shards_move_through_a_temporary_second_replica() {
    let mut shards: Vec<ShardView> = (0..4).map(|i| shard(i, &["node-0"], 1)).collect();
    let all = nodes(2);
    let mut steps = 0;
    while let Some(step) = decide(&shards, &all) {
        apply(&mut shards, &step);
        steps += 1;
        assert!(steps < 50, "rebalancing must converge");
    }
    let (replicas, leaders) = counts(&shards, &all);
    assert_eq!(replicas, [2, 2], "{replicas:?}");
    assert_eq!(leaders, [2, 2], "{leaders:?}");
    assert!(shards
        .iter()
        .all(|s| s.row.replicas == [s.row.leader.clone()]));
}

#[test]
fn a_spread_of_one_is_left_alone() {
    let shards = vec![
        shard(0, &["node-0", "node-1"], 2),
        shard(1, &["node-1", "node-2"], 2),
        shard(2, &["node-2", "node-0"], 2),
        shard(3, &["node-0", "node-1"], 2),
    ];
    assert_eq!(decide(&shards, &nodes(3)), None);
}

#[test]
fn nothing_moves_while_a_replica_rebuilds_or_sits_on_a_dead_node() {
    let mut shards = vec![shard(0, &["node-0"], 1), shard(1, &["node-0"], 1)];
    shards.push(shard(2, &["node-0"], 1));
    assert!(
        decide(&shards, &nodes(2)).is_some(),
        "imbalanced and settled"
    );
    shards[0].row.rebuilding.push("node-0".into());
    assert_eq!(decide(&shards, &nodes(2)), None, "a replica is rebuilding");
    shards[0].row.rebuilding.clear();
    shards[1].row.replicas = vec!["node-9".into()];
    shards[1].row.leader = "node-9".into();
    assert_eq!(decide(&shards, &nodes(2)), None, "node-9 is not live");
}

#[test]
fn a_leadership_moves_only_to_a_caught_up_follower() {
    let mut shards = vec![
        shard(0, &["node-0", "node-1"], 2),
        shard(1, &["node-0", "node-1"], 2),
    ];
    for s in &mut shards {
        s.caught_up.clear();
    }
    assert_eq!(decide(&shards, &nodes(2)), None, "node-1 is behind");
    shards[1].caught_up.push("node-1".into());
    assert_eq!(
        decide(&shards, &nodes(2)),
        Some(Step::MoveLeader((1, 1), "node-1".into()))
    );
}
