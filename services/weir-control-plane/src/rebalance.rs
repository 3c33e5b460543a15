//! Rebalancing: nodes that hold too little (new ones above all, after the node pool
//! grows) receive replicas and leaderships through the same paths drains use.
//!
//! One step at a time, at most every `rebalance_every`, and only while the cluster is
//! settled (no replica rebuilding, none on a dead node, no drain running), so a step
//! never stacks on a repair. A step is one of:
//! - **add a replica** of a shard on the least-loaded node, when the most-loaded node
//!   holds at least two replicas more. The new replica rebuilds from the leader; the
//!   shard is briefly over-replicated, so durability never dips;
//! - **drop the extra replica** once it has caught up: the replica on the most-loaded
//!   node leaves (a leader there first hands its leadership to a caught-up follower),
//!   which also moves single-replica shards;
//! - **move a leadership** to a complete, caught-up follower on the node leading the
//!   fewest shards, when the busiest leads at least two more (the graceful move: seal,
//!   catch up, elect).
//!
//! Only open shards count: closed ones take no writes and serve only reads of their
//! history. A node counts only once it has been live without a break for six intervals
//! (30 s by default), so a node that just came back, or flaps, is not handed work
//! straight away and a failover is not reversed while it settles. The two-apart thresholds keep it from flapping. After an operator moves a
//! shard (`POST .../move`), the rebalancer holds off for [`OPERATOR_HOLD`], so it does not
//! undo a placement someone chose on purpose moments ago.

use std::collections::BTreeMap;
use std::time::Instant;

use weir_meta::{AssignmentRow, StreamRecord};

use crate::node_client::NodeClient;
use crate::reconcile::Snapshot;
use crate::{ControlPlane, ControlPlaneError};

/// How long the rebalancer leaves placements alone after an operator's move.
pub(crate) const OPERATOR_HOLD: std::time::Duration = std::time::Duration::from_secs(120);

/// A shard as the rebalancer sees it.
#[derive(Debug, Clone)]
pub(crate) struct ShardView {
    pub(crate) row: AssignmentRow,
    /// The stream's replication factor.
    pub(crate) rf: usize,
    /// Followers the leader reports complete and caught up.
    pub(crate) caught_up: Vec<String>,
}

/// One rebalancing step on the shard `(stream_uid, ordinal)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Drop this node's replica (the shard is over its replication factor).
    DropReplica((i64, u64), String),
    /// Add a replica on this node.
    AddReplica((i64, u64), String),
    /// Move the leadership to this node.
    MoveLeader((i64, u64), String),
}

/// The next step for `shards` over `nodes` (live and not draining), if any.
pub(crate) fn decide(shards: &[ShardView], nodes: &[String]) -> Option<Step> {
    if nodes.len() < 2 {
        return None;
    }
    let settled = shards
        .iter()
        .all(|s| s.row.rebuilding.is_empty() && s.row.replicas.iter().all(|n| nodes.contains(n)));
    if !settled {
        return None;
    }
    let key = |s: &ShardView| (s.row.stream_uid, s.row.ordinal);
    let mut replicas: BTreeMap<&str, usize> = nodes.iter().map(|n| (n.as_str(), 0)).collect();
    let mut leaders = replicas.clone();
    for s in shards {
        for n in &s.row.replicas {
            *replicas.entry(n).or_default() += 1;
        }
        *leaders.entry(&s.row.leader).or_default() += 1;
    }
    let busiest = |counts: &BTreeMap<&str, usize>, among: &[String]| {
        among
            .iter()
            .filter(|n| counts.contains_key(n.as_str()))
            .max_by_key(|n| (counts[n.as_str()], std::cmp::Reverse((*n).clone())))
            .cloned()
    };
    // Finish an earlier step first: an over-replicated shard whose new replica caught up
    // sheds its replica on the busiest node. When that is the leader's, the leadership
    // first moves to the least-loaded caught-up follower.
    for s in shards.iter().filter(|s| s.row.replicas.len() > s.rf) {
        let Some(node) = busiest(&replicas, &s.row.replicas) else {
            continue;
        };
        if node != s.row.leader {
            return Some(Step::DropReplica(key(s), node));
        }
        let target = s
            .caught_up
            .iter()
            .filter(|n| leaders.contains_key(n.as_str()))
            .min_by_key(|n| (replicas[n.as_str()], (*n).clone()));
        if let Some(target) = target {
            return Some(Step::MoveLeader(key(s), target.clone()));
        }
    }
    let spread = |counts: &BTreeMap<&str, usize>| {
        let (max_node, max) = counts
            .iter()
            .max_by_key(|(n, c)| (**c, std::cmp::Reverse(**n)))?;
        let (min_node, min) = counts.iter().min_by_key(|(n, c)| (**c, **n))?;
        (*max >= *min + 2).then(|| (max_node.to_string(), min_node.to_string()))
    };
    if let Some((from, to)) = spread(&replicas) {
        // Prefer a shard the busiest node follows; a shard it leads hands its leadership
        // over first (above) before its replica there is dropped.
        let holds =
            |s: &&ShardView| s.row.replicas.contains(&from) && !s.row.replicas.contains(&to);
        let candidate = shards
            .iter()
            .filter(holds)
            .find(|s| s.row.leader != from)
            .or_else(|| shards.iter().find(holds));
        if let Some(s) = candidate {
            return Some(Step::AddReplica(key(s), to));
        }
    }
    if let Some((from, to)) = spread(&leaders) {
        let candidate = shards
            .iter()
            .find(|s| s.row.leader == from && s.caught_up.contains(&to));
        if let Some(s) = candidate {
            return Some(Step::MoveLeader(key(s), to));
        }
    }
    None
}

impl ControlPlane {
    /// Takes one rebalancing step when one is due; true when a placement changed.
    pub(crate) async fn rebalance_step(
        &self,
        streams: &[std::sync::Arc<StreamRecord>],
        snapshot: &Snapshot,
        nodes: &NodeClient,
    ) -> Result<bool, ControlPlaneError> {
        let every = self.config().rebalance_every;
        if every.is_zero() || !snapshot.draining.is_empty() {
            return Ok(false);
        }
        if self
            .placement
            .last_rebalance
            .lock()
            .is_some_and(|t| t.elapsed() < every)
            || self
                .placement
                .operator_moved_at
                .lock()
                .is_some_and(|t| t.elapsed() < OPERATOR_HOLD)
        {
            return Ok(false);
        }
        let default_rf = self.config().replication_factor.max(1) as usize;
        let assignments = self.placement.assignments.read().clone();
        let shards: Vec<ShardView> = streams
            .iter()
            .flat_map(|stream| {
                let rf = match stream.replication_factor {
                    0 => default_rf,
                    n => n as usize,
                };
                stream
                    .open_shards()
                    .filter_map(|shard| assignments.get(&(stream.uid, shard.ordinal)))
                    .map(|row| ShardView {
                        row: row.clone(),
                        rf,
                        caught_up: self.caught_up_followers(row),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let settle = every * 6;
        let settled: Vec<String> = {
            let now = Instant::now();
            let known = self.placement.nodes.lock();
            snapshot
                .live
                .iter()
                .filter(|n| {
                    known
                        .get(*n)
                        .is_some_and(|s| now.duration_since(s.live_since) >= settle)
                })
                .cloned()
                .collect()
        };
        let Some(step) = decide(&shards, &settled) else {
            return Ok(false);
        };
        *self.placement.last_rebalance.lock() = Some(Instant::now());
        tracing::info!(?step, "rebalancing");
        let row_of = |key: &(i64, u64)| assignments.get(key).cloned();
        match step {
            Step::DropReplica(key, node) => {
                let Some(row) = row_of(&key) else {
                    return Ok(false);
                };
                let mut next = row.clone();
                next.replicas.retain(|n| *n != node);
                next.generation += 1;
                self.put_row(next, Some(row.generation)).await
            }
            Step::AddReplica(key, node) => {
                let Some(row) = row_of(&key) else {
                    return Ok(false);
                };
                let mut next = row.clone();
                next.replicas.push(node.clone());
                next.rebuilding.push(node);
                next.generation += 1;
                self.put_row(next, Some(row.generation)).await
            }
            Step::MoveLeader(key, node) => {
                let Some(row) = row_of(&key) else {
                    return Ok(false);
                };
                let patience = std::time::Duration::from_secs(3);
                Ok(self
                    .move_leadership(&row, &node, patience, nodes)
                    .await?
                    .is_some_and(|a| a.node == node))
            }
        }
    }

    /// Followers of `row` its leader reports complete and caught up.
    fn caught_up_followers(&self, row: &AssignmentRow) -> Vec<String> {
        self.report(&row.leader, row.stream_uid, row.ordinal)
            .filter(|r| r.leading && r.generation == row.generation)
            .map(|r| {
                r.followers
                    .iter()
                    .filter(|f| f.adopted && f.end >= r.commit && !row.rebuilding.contains(&f.node))
                    .map(|f| f.node.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
