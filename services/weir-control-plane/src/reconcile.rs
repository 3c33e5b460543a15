//! The placement reconciler: one task that drives every shard's placement toward what it
//! should be, one conditional write at a time.
//!
//! Per shard, in order:
//! 1. no assignment: choose a leader and replicas on the least-loaded live nodes;
//! 2. a node back on an empty disk: mark its replicas rebuilding;
//! 3. the leader is gone (lease lapsed) or rebuilding: elect a new one. Every live,
//!    complete replica promises the next generation and says what it holds; with a
//!    majority of the replica set answering, the one with the highest
//!    `(last generation, end)` leads. It holds every committed record: a commit needs a
//!    majority that adopted the committing leader's generation, and that majority meets
//!    the one that answered;
//! 4. a rebuilding replica its leader reports caught up (to the commit point) counts
//!    again;
//! 5. a replica gone longer than `replace_after`, or a replica set below its replication
//!    factor: add a rebuilding replica on a spare live node.
//!
//! Every write is a compare-and-set on the generation and bumps it, so two decisions
//! from the same snapshot can never both land and no generation is given twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_meta::AssignmentRow;

use crate::node_client::NodeClient;
use crate::placement::{Assignment, FenceReply, FenceRequest};
use crate::{ControlPlane, ControlPlaneError};

/// How often the reconciler runs when nothing wakes it.
pub const RECONCILE_INTERVAL: Duration = Duration::from_millis(250);

/// Makes `control_plane` run a cluster: it calls nodes with `nodes`, and its reconciler
/// runs until it is dropped.
pub fn spawn_reconciler(control_plane: &Arc<ControlPlane>, nodes: NodeClient) {
    let _ = control_plane.placement.client.set(nodes.clone());
    let weak = Arc::downgrade(control_plane);
    tokio::spawn(async move {
        loop {
            let Some(cp) = weak.upgrade() else { return };
            let _ = tokio::time::timeout(RECONCILE_INTERVAL, cp.placement.wake.notified()).await;
            if let Err(error) = cp.reconcile_placement(&nodes).await {
                tracing::warn!(%error, "placement reconcile failed");
            }
        }
    });
}

/// Who is live, and how busy each live node is.
pub(crate) struct Snapshot {
    pub(crate) live: Vec<String>,
    /// Replicas held per live node.
    load: BTreeMap<String, usize>,
    /// Leaderships held per live node.
    leaders: BTreeMap<String, usize>,
    /// Nodes gone longer than `replace_after`.
    long_gone: Vec<String>,
    /// Nodes being drained.
    pub(crate) draining: std::collections::BTreeSet<String>,
}

impl Snapshot {
    /// Up to `count` least-loaded live nodes not in `exclude`.
    pub(crate) fn pick(&mut self, count: usize, exclude: &[String]) -> Vec<String> {
        let mut picked = Vec::new();
        for _ in 0..count {
            let Some(node) = self
                .load
                .iter()
                .filter(|(n, _)| !exclude.contains(n) && !picked.contains(*n))
                .min_by_key(|(n, c)| (**c, (*n).clone()))
                .map(|(n, _)| n.clone())
            else {
                break;
            };
            *self.load.entry(node.clone()).or_default() += 1;
            picked.push(node);
        }
        picked
    }

    /// Puts the replica leading the fewest shards first: it leads.
    fn lead_with_least_loaded(&mut self, replicas: &mut [String]) {
        let Some(i) = (0..replicas.len()).min_by_key(|i| {
            (
                self.leaders.get(&replicas[*i]).copied().unwrap_or(0),
                replicas[*i].clone(),
            )
        }) else {
            return;
        };
        replicas.swap(0, i);
        *self.leaders.entry(replicas[0].clone()).or_default() += 1;
    }
}

impl ControlPlane {
    pub(crate) fn snapshot(&self) -> Snapshot {
        let now = Instant::now();
        let replace_after = self.config().replace_after;
        let nodes = self.placement.nodes.lock();
        let live: Vec<String> = nodes
            .iter()
            .filter(|(_, n)| n.expires > now)
            .map(|(id, _)| id.clone())
            .collect();
        let long_gone = nodes
            .iter()
            .filter(|(_, n)| n.expires + replace_after < now)
            .map(|(id, _)| id.clone())
            .collect();
        drop(nodes);
        let draining = self.placement.draining.lock().clone();
        // Draining nodes get nothing new.
        let mut load: BTreeMap<String, usize> = live
            .iter()
            .filter(|n| !draining.contains(*n))
            .map(|n| (n.clone(), 0))
            .collect();
        let mut leaders = load.clone();
        for row in self.placement.assignments.read().values() {
            for replica in &row.replicas {
                if let Some(count) = load.get_mut(replica) {
                    *count += 1;
                }
            }
            if let Some(count) = leaders.get_mut(&row.leader) {
                *count += 1;
            }
        }
        Snapshot {
            live,
            load,
            leaders,
            long_gone,
            draining,
        }
    }

    /// Writes `row` if the shard is still at `expected`; updates the in-memory copy.
    pub(crate) async fn put_row(
        &self,
        row: AssignmentRow,
        expected: Option<u64>,
    ) -> Result<bool, ControlPlaneError> {
        let written = self.store().cas_assignment(&row, expected).await?;
        if written {
            tracing::info!(stream_uid = row.stream_uid, shard = row.ordinal, leader = %row.leader,
                replicas = ?row.replicas, rebuilding = ?row.rebuilding, generation = row.generation,
                "shard placement changed");
            self.placement
                .assignments
                .write()
                .insert((row.stream_uid, row.ordinal), row);
        } else {
            // Someone else changed it: reload the truth before deciding again (swapped in
            // whole, so nobody reads a half-loaded placement meanwhile).
            let fresh: std::collections::HashMap<(i64, u64), AssignmentRow> = self
                .store()
                .load_assignments()
                .await?
                .into_iter()
                .map(|r| ((r.stream_uid, r.ordinal), r))
                .collect();
            *self.placement.assignments.write() = fresh;
        }
        Ok(written)
    }

    /// One reconciler pass over every shard; returns how many placements changed.
    pub async fn reconcile_placement(
        &self,
        nodes: &NodeClient,
    ) -> Result<usize, ControlPlaneError> {
        let _serial = self.placement.serial.lock().await;
        self.load_placement().await?;
        let mut changed = self.rebuild_new_disks().await?;
        let streams = self.list_streams(None, usize::MAX).0;
        let mut snapshot = self.snapshot();
        if snapshot.live.is_empty() {
            return Ok(changed);
        }
        let default_rf = self.config().replication_factor.max(1) as usize;
        for stream in &streams {
            let rf = match stream.replication_factor {
                0 => default_rf,
                n => n as usize,
            };
            for shard in &stream.shards {
                let key = (stream.uid, shard.ordinal);
                let current = self.placement.assignments.read().get(&key).cloned();
                let done = match current {
                    None => {
                        let mut replicas = snapshot.pick(rf.min(snapshot.live.len()), &[]);
                        snapshot.lead_with_least_loaded(&mut replicas);
                        let Some(leader) = replicas.first().cloned() else {
                            continue;
                        };
                        let row = AssignmentRow {
                            stream_uid: stream.uid,
                            ordinal: shard.ordinal,
                            leader,
                            generation: 1,
                            replicas,
                            rebuilding: Vec::new(),
                        };
                        match self.put_row(row, None).await {
                            Ok(done) => done,
                            Err(error) => {
                                tracing::warn!(%error, stream = %stream.name, shard = shard.ordinal, "could not place a shard");
                                false
                            }
                        }
                    }
                    Some(row) => {
                        // A seal on an open shard of an ACTIVE stream belongs to no
                        // reshard or move in progress (both keep the stream UPDATING or
                        // hold the reconciler's lock): one the control plane lost in a
                        // restart. Lift it.
                        let now_active = self.stream(&stream.name).is_ok_and(|s| {
                            s.status == weir_meta::StreamStatus::Active
                                && s.shard(shard.ordinal).is_some_and(|x| x.is_open())
                        });
                        let stale_seal = now_active
                            && self
                                .report(&row.leader, row.stream_uid, row.ordinal)
                                .is_some_and(|r| r.leading && r.sealed);
                        if stale_seal {
                            if let Some(fence) = self.fence_ref() {
                                tracing::warn!(stream = %stream.name, shard = shard.ordinal,
                                    "lifting a seal no reshard or move holds (control plane restarted mid-way)");
                                if let Err(error) = fence.unseal(row.stream_uid, row.ordinal).await
                                {
                                    tracing::warn!(%error, "could not lift a stale seal");
                                }
                            }
                        }
                        // One shard's failure (a seal that times out, a store hiccup)
                        // must not hold up every other shard's elections.
                        match self.reconcile_shard(row, rf, &mut snapshot, nodes).await {
                            Ok(done) => done,
                            Err(error) => {
                                tracing::warn!(%error, stream = %stream.name, shard = shard.ordinal, "reconciling a shard failed; next pass retries");
                                false
                            }
                        }
                    }
                };
                changed += usize::from(done);
            }
        }
        if changed == 0 {
            changed += usize::from(self.rebalance_step(&streams, &snapshot, nodes).await?);
        }
        // Forget nodes gone longer than `replace_after` that hold nothing any more (their
        // disk id stays in the store, so one that comes back is still recognised).
        let held: std::collections::HashSet<String> = self
            .placement
            .assignments
            .read()
            .values()
            .flat_map(|a| a.replicas.clone())
            .collect();
        let draining = self.placement.draining.lock().clone();
        self.placement.nodes.lock().retain(|id, _| {
            !snapshot.long_gone.contains(id) || held.contains(id) || draining.contains(id)
        });
        // Forget assignments of deleted streams.
        let live_uids: Vec<i64> = streams.iter().map(|s| s.uid).collect();
        let mut stale: Vec<i64> = self
            .placement
            .assignments
            .read()
            .keys()
            .map(|(u, _)| *u)
            .filter(|u| !live_uids.contains(u))
            .collect();
        stale.sort_unstable();
        stale.dedup();
        for uid in stale {
            self.store().delete_assignments(uid).await?;
            self.placement
                .assignments
                .write()
                .retain(|(u, _), _| *u != uid);
            self.placement
                .not_leading
                .lock()
                .retain(|(u, _), _| *u != uid);
        }
        Ok(changed)
    }

    /// Marks every replica on a node that came back on a new disk as rebuilding, then
    /// records the new disk and lets the node have its lease.
    async fn rebuild_new_disks(&self) -> Result<usize, ControlPlaneError> {
        let pending: Vec<(String, String)> = self
            .placement
            .nodes
            .lock()
            .iter()
            .filter_map(|(id, n)| n.new_disk.clone().map(|d| (id.clone(), d)))
            .collect();
        let mut changed = 0;
        for (node, disk) in pending {
            let rows: Vec<AssignmentRow> = self
                .placement
                .assignments
                .read()
                .values()
                .filter(|r| r.replicas.contains(&node) && !r.rebuilding.contains(&node))
                .cloned()
                .collect();
            for row in rows {
                let expected = row.generation;
                let mut next = row;
                next.rebuilding.push(node.clone());
                next.generation += 1;
                if !self.put_row(next, Some(expected)).await? {
                    return Ok(changed);
                }
                changed += 1;
            }
            self.store().put_node_disk(&node, &disk).await?;
            self.placement.disks.lock().insert(node.clone(), disk);
            if let Some(state) = self.placement.nodes.lock().get_mut(&node) {
                state.new_disk = None;
            }
        }
        Ok(changed)
    }

    async fn reconcile_shard(
        &self,
        row: AssignmentRow,
        rf: usize,
        snapshot: &mut Snapshot,
        nodes: &NodeClient,
    ) -> Result<bool, ControlPlaneError> {
        let leader_ok =
            snapshot.live.contains(&row.leader) && !row.rebuilding.contains(&row.leader);
        // Right after this control plane started, a leader that has not heartbeated yet
        // is not presumed dead: its lease may well still be running.
        let just_started = self
            .placement
            .loaded_at
            .get()
            .is_some_and(|t| t.elapsed() < self.config().lease_timeout);
        let unheard = !self.placement.nodes.lock().contains_key(&row.leader);
        if just_started && unheard {
            return Ok(false);
        }
        if !leader_ok || self.leader_stuck(&row) {
            return Ok(self.elect(&row, None, nodes).await?.is_some());
        }
        let expected = row.generation;
        let mut next = row.clone();
        let report = self
            .report(&row.leader, row.stream_uid, row.ordinal)
            .filter(|r| r.leading && r.generation == row.generation);
        let caught_up = |n: &String| {
            report.as_ref().is_some_and(|r| {
                r.followers
                    .iter()
                    .any(|f| f.node == *n && f.adopted && f.end >= r.commit)
            })
        };
        // Rebuilding replicas the leader reports caught up count again.
        next.rebuilding.retain(|n| !caught_up(n));
        // A draining leader hands its leadership to a complete, caught-up follower; with
        // none, one is added first.
        if snapshot.draining.contains(&row.leader) {
            let target = row.replicas.iter().find(|n| {
                **n != row.leader
                    && snapshot.live.contains(n)
                    && !snapshot.draining.contains(*n)
                    && !row.rebuilding.contains(n)
                    && caught_up(n)
            });
            if let Some(target) = target.cloned() {
                return Ok(self
                    .move_leadership(&row, &target, Duration::from_secs(3), nodes)
                    .await?
                    .is_some_and(|a| a.node == target));
            }
            let helper_coming = row
                .replicas
                .iter()
                .any(|n| *n != row.leader && !snapshot.draining.contains(n));
            if !helper_coming {
                if let Some(spare) = snapshot.pick(1, &next.replicas).pop() {
                    next.replicas.push(spare.clone());
                    next.rebuilding.push(spare);
                }
            }
        } else {
            // Followers on draining nodes leave (replaced below when a spare exists).
            let leaving: Vec<String> = row
                .replicas
                .iter()
                .filter(|n| **n != row.leader && snapshot.draining.contains(*n))
                .cloned()
                .collect();
            for gone in &leaving {
                next.replicas.retain(|n| n != gone);
                next.rebuilding.retain(|n| n != gone);
            }
        }
        // Replace replicas gone too long, then grow to the replication factor.
        let gone: Vec<String> = row
            .replicas
            .iter()
            .filter(|n| snapshot.long_gone.contains(n))
            .cloned()
            .collect();
        for gone in &gone {
            if let Some(spare) = snapshot.pick(1, &next.replicas).pop() {
                tracing::warn!(stream_uid = row.stream_uid, shard = row.ordinal, %gone, replacement = %spare,
                    "replacing a replica whose node stayed away");
                next.replicas.retain(|n| n != gone);
                next.rebuilding.retain(|n| n != gone);
                next.replicas.push(spare.clone());
                next.rebuilding.push(spare);
            }
        }
        if next.replicas.len() < rf {
            let missing = rf - next.replicas.len();
            for spare in snapshot.pick(missing, &next.replicas) {
                next.replicas.push(spare.clone());
                next.rebuilding.push(spare);
            }
        }
        if next == row {
            return Ok(false);
        }
        next.generation += 1;
        self.put_row(next, Some(expected)).await
    }

    /// Whether a live leader has reported, for longer than two leases, that it does not
    /// lead its shard (it was fenced by an election that never finished, or it cannot
    /// open the shard): then a new election runs.
    fn leader_stuck(&self, row: &AssignmentRow) -> bool {
        let key = (row.stream_uid, row.ordinal);
        let not_leading = self
            .report(&row.leader, row.stream_uid, row.ordinal)
            .is_some_and(|r| !r.leading);
        let mut since = self.placement.not_leading.lock();
        if !not_leading {
            since.remove(&key);
            return false;
        }
        let first = *since.entry(key).or_insert_with(Instant::now);
        if first.elapsed() > self.config().lease_timeout * 2 {
            since.remove(&key);
            tracing::warn!(stream_uid = row.stream_uid, shard = row.ordinal, leader = %row.leader,
                "the leader has not been leading its shard; choosing again");
            return true;
        }
        false
    }

    /// Chooses a new leader for `row` under the next generation: every live, complete
    /// replica promises it; with a majority of the replica set answering, the most
    /// complete one leads (`prefer` when it is among the most complete). `None` when no
    /// majority answered: the shard waits.
    pub(crate) async fn elect(
        &self,
        row: &AssignmentRow,
        prefer: Option<&str>,
        nodes: &NodeClient,
    ) -> Result<Option<Assignment>, ControlPlaneError> {
        let live = self.live_nodes();
        let majority = row.replicas.len() / 2 + 1;
        let candidates: Vec<(String, String)> = row
            .replicas
            .iter()
            .filter(|n| !row.rebuilding.contains(n))
            .filter_map(|n| {
                live.iter()
                    .find(|l| l.id == *n)
                    .map(|l| (n.clone(), l.url.clone()))
            })
            .collect();
        if candidates.len() < majority {
            return Ok(None);
        }
        let generation = row.generation + 1;
        let request = FenceRequest {
            stream_uid: row.stream_uid,
            ordinal: row.ordinal,
            generation,
        };
        let answers = fence_all(nodes, &candidates, &request).await;
        if answers.len() < majority {
            tracing::info!(
                stream_uid = row.stream_uid,
                shard = row.ordinal,
                answered = answers.len(),
                majority,
                "not enough replicas answered to choose a leader; waiting"
            );
            return Ok(None);
        }
        let Some(chosen) = choose_leader(&answers, prefer) else {
            return Ok(None);
        };
        let mut next = row.clone();
        next.leader = chosen.clone();
        next.replicas.retain(|n| *n != chosen);
        next.replicas.insert(0, chosen);
        next.generation = generation;
        if self.put_row(next.clone(), Some(row.generation)).await? {
            return Ok(Some(Assignment::from(&next)));
        }
        Ok(None)
    }
}

/// Fences every candidate concurrently; the answers that came back.
pub(crate) async fn fence_all(
    nodes: &NodeClient,
    candidates: &[(String, String)],
    request: &FenceRequest,
) -> Vec<(String, FenceReply)> {
    let mut tasks = tokio::task::JoinSet::new();
    for (node, url) in candidates {
        let (node, url, request, client) =
            (node.clone(), url.clone(), request.clone(), nodes.clone());
        tasks.spawn(async move { (node, client.fence(&url, &request).await) });
    }
    let mut answers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((node, Ok(answer))) => answers.push((node, answer)),
            Ok((node, Err(error))) => {
                tracing::debug!(%node, %error, "replica did not answer the fence");
            }
            Err(_) => {}
        }
    }
    answers
}

/// The most complete replica among the answers: highest `(last generation, end)`,
/// `prefer` among equals, then the lowest node id.
pub fn choose_leader(answers: &[(String, FenceReply)], prefer: Option<&str>) -> Option<String> {
    let best = answers
        .iter()
        .map(|(_, a)| (a.last_generation, a.end))
        .max()?;
    let complete: Vec<&String> = answers
        .iter()
        .filter(|(_, a)| (a.last_generation, a.end) == best)
        .map(|(n, _)| n)
        .collect();
    if let Some(p) = prefer {
        if complete.iter().any(|n| *n == p) {
            return Some(p.to_string());
        }
    }
    complete.into_iter().min().cloned()
}

#[cfg(test)]
mod tests;
