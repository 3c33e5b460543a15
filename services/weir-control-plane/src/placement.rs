//! Shard placement across data-plane nodes: leases, replica sets and generations.
//!
//! Nodes register and keep a lease by heartbeat; each heartbeat also reports what the
//! node holds (per shard: generation, durable end, commit point, and for a leader its
//! followers' progress). Desired placement lives in the metadata store
//! (`shard_assignments`): for every shard a leader, its replica set and the replicas
//! still rebuilding, under a generation that grows with every change. One reconciler
//! task ([`crate::reconcile`]) drives placement toward it; request handlers only record
//! what they learn and wake it.
//!
//! A node serves a shard only as its leader, only under the current generation, and
//! only while its own lease is valid; followers accept batches only from a leader whose
//! generation is at least the one they promised. Before a new leader is chosen, a
//! majority of the replicas promise the new generation, so the old leader can never
//! reach a majority (and acknowledge) again.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use weir_contracts::{
    Assignment, FenceReply, FenceRequest, FollowerReport, HeartbeatReply, HeartbeatRequest,
    NodeInfo, ShardReport,
};
use weir_meta::AssignmentRow;

use crate::{ControlPlane, ControlPlaneError};

/// A node as the control plane tracks it.
pub(crate) struct NodeState {
    pub(crate) url: String,
    /// When its lease runs out (in the past: not live).
    pub(crate) expires: Instant,
    /// A new disk id the reconciler has not dealt with yet; no lease until it has.
    pub(crate) new_disk: Option<String>,
    /// What it last reported.
    pub(crate) reports: Vec<ShardReport>,
    /// Since when it has been live without a break (the rebalancer waits for nodes to
    /// settle before it gives them work).
    pub(crate) live_since: Instant,
    /// Its data disk, as last reported.
    pub(crate) disk: Option<weir_contracts::DiskUsage>,
}

/// Placement state held by the control plane.
#[derive(Default)]
pub struct Placement {
    pub(crate) nodes: parking_lot::Mutex<BTreeMap<String, NodeState>>,
    pub(crate) assignments: parking_lot::RwLock<HashMap<(i64, u64), AssignmentRow>>,
    pub(crate) disks: parking_lot::Mutex<HashMap<String, String>>,
    /// Nodes being drained.
    pub(crate) draining: parking_lot::Mutex<std::collections::BTreeSet<String>>,
    loaded: AtomicBool,
    /// Wakes the reconciler.
    pub(crate) wake: tokio::sync::Notify,
    /// Serialises reconciler passes and moves (they write the same rows).
    pub(crate) serial: tokio::sync::Mutex<()>,
    /// Since when a live leader has reported not leading its shard (it cannot: it was
    /// fenced by an election that did not finish); long enough, and it is replaced.
    pub(crate) not_leading: parking_lot::Mutex<HashMap<(i64, u64), Instant>>,
    /// When placement was loaded (this control plane's start): for one lease after it,
    /// nodes that have not heartbeated yet are not presumed dead.
    pub(crate) loaded_at: std::sync::OnceLock<Instant>,
    /// How the control plane calls nodes (set when it runs a cluster).
    pub(crate) client: std::sync::OnceLock<crate::node_client::NodeClient>,
    /// When the rebalancer last changed a placement.
    pub(crate) last_rebalance: parking_lot::Mutex<Option<Instant>>,
    /// When an operator last moved a shard (the rebalancer holds off after it).
    pub(crate) operator_moved_at: parking_lot::Mutex<Option<Instant>>,
}

impl ControlPlane {
    pub(crate) async fn load_placement(&self) -> Result<(), ControlPlaneError> {
        if self.placement.loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        let store = self.store();
        let rows = store.load_assignments().await?;
        let nodes = store.load_nodes().await?;
        let mut map = self.placement.assignments.write();
        for row in rows {
            map.insert((row.stream_uid, row.ordinal), row);
        }
        for (node, disk, draining) in nodes {
            if draining {
                self.placement.draining.lock().insert(node.clone());
            }
            self.placement.disks.lock().insert(node, disk);
        }
        let _ = self.placement.loaded_at.set(Instant::now());
        self.placement.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Renews a node's lease, records what it holds, and tells it the cluster state. A
    /// node back on a new disk gets no lease until the reconciler has marked its
    /// replicas as rebuilding.
    pub async fn heartbeat(
        &self,
        request: HeartbeatRequest,
    ) -> Result<HeartbeatReply, ControlPlaneError> {
        self.load_placement().await?;
        let lease = self.config().lease_timeout;
        let known_disk = self.placement.disks.lock().get(&request.node_id).cloned();
        let first_disk = known_disk.is_none() && !request.disk_id.is_empty();
        if first_disk {
            self.store()
                .put_node_disk(&request.node_id, &request.disk_id)
                .await?;
            self.placement
                .disks
                .lock()
                .insert(request.node_id.clone(), request.disk_id.clone());
        }
        let disk_changed = known_disk
            .as_ref()
            .is_some_and(|d| !request.disk_id.is_empty() && *d != request.disk_id);
        let granted = {
            let mut nodes = self.placement.nodes.lock();
            let fresh = !nodes.contains_key(&request.node_id);
            let node = nodes
                .entry(request.node_id.clone())
                .or_insert_with(|| NodeState {
                    url: request.url.clone(),
                    expires: Instant::now(),
                    new_disk: None,
                    reports: Vec::new(),
                    live_since: Instant::now(),
                    disk: None,
                });
            node.url = request.url.clone();
            node.reports = request.reports;
            node.disk = request.disk;
            if disk_changed {
                if node.new_disk.is_none() {
                    tracing::warn!(node = %request.node_id, "node is back on a new (empty) disk: its replicas rebuild before they vote or lead");
                }
                node.new_disk = Some(request.disk_id.clone());
                // Not live until its replicas are marked rebuilding: it neither counts in
                // an election nor gets anything new.
                node.expires = Instant::now();
                false
            } else {
                let now = Instant::now();
                if node.expires <= now {
                    node.live_since = now;
                }
                node.expires = now + lease;
                if fresh {
                    tracing::info!(node = %request.node_id, url = %request.url, "node registered");
                }
                true
            }
        };
        if !granted || first_disk {
            self.placement.wake.notify_one();
        }
        let mut assignments = self.assignments();
        assignments.sort_by_key(|a| (a.stream_uid, a.ordinal));
        let mut reply = HeartbeatReply {
            auth: self.security().map(|s| s.snapshot()),
            settings: Some(self.catalog().settings()),
            lease_ms: if granted { lease.as_millis() as u64 } else { 0 },
            nodes: self.live_nodes(),
            assignments,
            streams: self
                .list_streams(None, usize::MAX)
                .0
                .iter()
                .map(|s| (**s).clone())
                .collect(),
            state: 0,
            unchanged: false,
        };
        reply.state = state_digest(&reply);
        if reply.state == request.known_state {
            reply.nodes.clear();
            reply.assignments.clear();
            reply.streams.clear();
            reply.auth = None;
            reply.settings = None;
            reply.unchanged = true;
        }
        Ok(reply)
    }

    /// Nodes whose lease is valid.
    pub fn live_nodes(&self) -> Vec<NodeInfo> {
        let now = Instant::now();
        self.placement
            .nodes
            .lock()
            .iter()
            .filter(|(_, n)| n.expires > now)
            .map(|(id, n)| NodeInfo {
                id: id.clone(),
                url: n.url.clone(),
            })
            .collect()
    }

    /// Every assignment.
    pub fn assignments(&self) -> Vec<Assignment> {
        self.placement
            .assignments
            .read()
            .values()
            .map(Assignment::from)
            .collect()
    }

    /// The node leading a shard and its generation, if that node is live.
    pub fn owner(&self, uid: i64, ordinal: u64) -> Option<(NodeInfo, u64)> {
        let (node, generation) = {
            let map = self.placement.assignments.read();
            let row = map.get(&(uid, ordinal))?;
            (row.leader.clone(), row.generation)
        };
        let url = self
            .placement
            .nodes
            .lock()
            .get(&node)
            .map(|n| n.url.clone())?;
        Some((NodeInfo { id: node, url }, generation))
    }

    /// Marks a node as being drained (or not); the reconciler moves its leaderships and
    /// replicas away.
    pub async fn set_draining(&self, node: &str, draining: bool) -> Result<(), ControlPlaneError> {
        self.load_placement().await?;
        self.store().set_node_draining(node, draining).await?;
        let mut set = self.placement.draining.lock();
        if draining {
            set.insert(node.to_string());
        } else {
            set.remove(node);
        }
        drop(set);
        tracing::info!(%node, draining, "node drain changed");
        self.placement.wake.notify_one();
        Ok(())
    }

    /// What `node` last reported about a shard.
    pub(crate) fn report(&self, node: &str, uid: i64, ordinal: u64) -> Option<ShardReport> {
        self.placement
            .nodes
            .lock()
            .get(node)?
            .reports
            .iter()
            .find(|r| r.stream_uid == uid && r.ordinal == ordinal)
            .cloned()
    }
}

impl Placement {
    /// Every report of a shard from the node leading it (live nodes only).
    pub(crate) fn leader_reports(&self) -> Vec<ShardReport> {
        let now = Instant::now();
        self.nodes
            .lock()
            .values()
            .filter(|n| n.expires > now)
            .flat_map(|n| n.reports.iter().filter(|r| r.leading).cloned())
            .collect()
    }
}

/// A digest of what a heartbeat answer tells a node (everything but the lease), so an
/// answer can say "unchanged" instead of repeating the whole cluster every 500 ms.
fn state_digest(reply: &HeartbeatReply) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let parts = (
        &reply.nodes,
        &reply.assignments,
        &reply.streams,
        &reply.auth,
        &reply.settings,
    );
    serde_json::to_vec(&parts)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish().max(1)
}
