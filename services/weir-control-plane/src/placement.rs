//! Shard placement across data-plane nodes, with leases and generations.
//!
//! Nodes register and keep a lease by heartbeat. Desired placement lives in the metadata
//! store (`shard_assignments`); the reconciler gives every shard of every stream a live
//! node, spreading shards evenly and moving only shards whose node lost its lease. Every
//! assignment carries a generation that only grows. A node serves a shard only under its
//! current generation and only while its own lease is valid, and the control plane
//! reassigns a shard only after the old node's lease has run out, so two nodes never
//! accept writes for one shard at the same time.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use weir_meta::StreamRecord;

use crate::{ControlPlane, ControlPlaneError};

/// A data-plane node as other nodes see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Stable node id.
    pub id: String,
    /// Base URL of its Kinesis endpoint (which also serves `/internal/v1`).
    pub url: String,
}

/// Who holds a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Stream incarnation.
    pub stream_uid: i64,
    /// Shard ordinal.
    pub ordinal: u64,
    /// Node id.
    pub node: String,
    /// Assignment generation.
    pub generation: u64,
}

/// A node's heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// Node id.
    pub node_id: String,
    /// Base URL others reach it at.
    pub url: String,
}

/// What a node learns from each heartbeat: its lease, the cluster, and the metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// How long the lease lasts from when the heartbeat was sent.
    pub lease_ms: u64,
    /// Live nodes.
    pub nodes: Vec<NodeInfo>,
    /// Every assignment.
    pub assignments: Vec<Assignment>,
    /// Every stream (the node's replica of the metadata).
    pub streams: Vec<StreamRecord>,
    /// Principals and sealed keys, when authentication is on.
    #[serde(default)]
    pub auth: Option<crate::security::AuthSnapshot>,
}

struct Lease {
    url: String,
    expires: Instant,
}

/// Placement state held by the control plane.
#[derive(Default)]
pub struct Placement {
    nodes: parking_lot::Mutex<BTreeMap<String, Lease>>,
    assignments: parking_lot::RwLock<HashMap<(i64, u64), (String, u64)>>,
    loaded: AtomicBool,
}

impl ControlPlane {
    async fn load_placement(&self) -> Result<(), ControlPlaneError> {
        if self.placement.loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        let rows = self.store_ref()?.load_assignments().await?;
        let mut map = self.placement.assignments.write();
        for (uid, ordinal, node, generation) in rows {
            map.insert((uid, ordinal), (node, generation));
        }
        self.placement.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Renews a node's lease and tells it the cluster state.
    pub async fn heartbeat(
        &self,
        request: HeartbeatRequest,
    ) -> Result<HeartbeatReply, ControlPlaneError> {
        self.load_placement().await?;
        let lease = self.config().lease_timeout;
        {
            let mut nodes = self.placement.nodes.lock();
            let fresh = !nodes.contains_key(&request.node_id);
            nodes.insert(
                request.node_id.clone(),
                Lease {
                    url: request.url.clone(),
                    expires: Instant::now() + lease,
                },
            );
            if fresh {
                tracing::info!(node = %request.node_id, url = %request.url, "node registered");
            }
        }
        self.reconcile_placement().await?;
        Ok(HeartbeatReply {
            auth: self.security().map(|s| s.snapshot()),
            lease_ms: lease.as_millis() as u64,
            nodes: self.live_nodes(),
            assignments: self.assignments(),
            streams: self
                .list_streams(None, usize::MAX)
                .0
                .iter()
                .map(|s| (**s).clone())
                .collect(),
        })
    }

    /// Nodes whose lease is valid.
    pub fn live_nodes(&self) -> Vec<NodeInfo> {
        let now = Instant::now();
        self.placement
            .nodes
            .lock()
            .iter()
            .filter(|(_, l)| l.expires > now)
            .map(|(id, l)| NodeInfo {
                id: id.clone(),
                url: l.url.clone(),
            })
            .collect()
    }

    /// Every assignment.
    pub fn assignments(&self) -> Vec<Assignment> {
        self.placement
            .assignments
            .read()
            .iter()
            .map(|((uid, ordinal), (node, generation))| Assignment {
                stream_uid: *uid,
                ordinal: *ordinal,
                node: node.clone(),
                generation: *generation,
            })
            .collect()
    }

    /// The node holding a shard and its generation, if any.
    pub fn owner(&self, uid: i64, ordinal: u64) -> Option<(NodeInfo, u64)> {
        let (node, generation) = self
            .placement
            .assignments
            .read()
            .get(&(uid, ordinal))
            .cloned()?;
        let url = self
            .placement
            .nodes
            .lock()
            .get(&node)
            .map(|l| l.url.clone())?;
        Some((NodeInfo { id: node, url }, generation))
    }

    /// Gives every shard a live node; returns how many shards were (re)assigned. Shards
    /// move only when their node's lease has expired; new shards go to the least-loaded node.
    pub async fn reconcile_placement(&self) -> Result<usize, ControlPlaneError> {
        self.load_placement().await?;
        let live: Vec<String> = self.live_nodes().into_iter().map(|n| n.id).collect();
        if live.is_empty() {
            return Ok(0);
        }
        let streams = self.list_streams(None, usize::MAX).0;
        let mut load: BTreeMap<String, usize> = live.iter().map(|n| (n.clone(), 0)).collect();
        let mut wanted = Vec::new();
        {
            let map = self.placement.assignments.read();
            for (node, _) in map.values() {
                if let Some(count) = load.get_mut(node) {
                    *count += 1;
                }
            }
            for stream in &streams {
                for shard in &stream.shards {
                    match map.get(&(stream.uid, shard.ordinal)) {
                        Some((node, _)) if live.contains(node) => {}
                        other => {
                            wanted.push((stream.uid, shard.ordinal, other.map_or(0, |(_, g)| *g)))
                        }
                    }
                }
            }
        }
        for (uid, ordinal, old_generation) in &wanted {
            let Some(node) = load
                .iter()
                .min_by_key(|(id, count)| (**count, (*id).clone()))
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            let generation = old_generation + 1;
            self.store_ref()?
                .put_assignment(*uid, *ordinal, &node, generation)
                .await?;
            self.placement
                .assignments
                .write()
                .insert((*uid, *ordinal), (node.clone(), generation));
            *load.entry(node.clone()).or_default() += 1;
            tracing::info!(stream_uid = uid, shard = ordinal, %node, generation, "shard assigned");
        }
        // Forget assignments of deleted streams.
        let live_uids: Vec<i64> = streams.iter().map(|s| s.uid).collect();
        let stale: Vec<i64> = {
            let map = self.placement.assignments.read();
            let mut uids: Vec<i64> = map
                .keys()
                .map(|(u, _)| *u)
                .filter(|u| !live_uids.contains(u))
                .collect();
            uids.dedup();
            uids
        };
        for uid in stale {
            self.store_ref()?.delete_assignments(uid).await?;
            self.placement
                .assignments
                .write()
                .retain(|(u, _), _| *u != uid);
        }
        Ok(wanted.len())
    }

    /// Moves a shard to another live node under a new generation, after handing it off on
    /// its current node (sealed so it accepts no further writes; with tiering, its tail
    /// uploaded so the new node serves the full history from the cold tier).
    pub async fn reassign(
        &self,
        stream: &str,
        ordinal: u64,
    ) -> Result<Assignment, ControlPlaneError> {
        let record = self.stream(stream)?;
        let (current, generation) = self.owner(record.uid, ordinal).ok_or_else(|| {
            ControlPlaneError::NotFound(format!("Shard {ordinal} of {stream} has no node."))
        })?;
        let target = self
            .live_nodes()
            .into_iter()
            .filter(|n| n.id != current.id)
            .min_by_key(|n| self.assignments().iter().filter(|a| a.node == n.id).count())
            .ok_or_else(|| {
                ControlPlaneError::InvalidArgument(
                    "No other live node to move the shard to.".into(),
                )
            })?;
        if let Some(fence) = self.fence_ref() {
            // Seal, roll and upload the tail on the current node; if that fails the shard
            // stays where it is, open again.
            if let Err(e) = fence.hand_off(record.uid, ordinal).await {
                let _ = fence.unseal(record.uid, ordinal).await;
                return Err(ControlPlaneError::InvalidArgument(format!(
                    "Could not hand the shard off from {}: {e}. It stays there; retry.",
                    current.id
                )));
            }
        }
        let next = generation + 1;
        self.store_ref()?
            .put_assignment(record.uid, ordinal, &target.id, next)
            .await?;
        self.placement
            .assignments
            .write()
            .insert((record.uid, ordinal), (target.id.clone(), next));
        tracing::info!(%stream, shard = ordinal, from = %current.id, to = %target.id, generation = next, "shard moved");
        Ok(Assignment {
            stream_uid: record.uid,
            ordinal,
            node: target.id,
            generation: next,
        })
    }
}

/// How often the control plane reconciles placement on its own (besides on heartbeats).
pub const RECONCILE_INTERVAL: Duration = Duration::from_millis(500);
