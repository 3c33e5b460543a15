//! The node pool: how many data-plane nodes a cluster runs, following its load.
//!
//! An [`Orchestrator`] creates and removes nodes: local processes (`weir up --nodes
//! auto`), or a Kubernetes StatefulSet (crate weir-kube). Nodes are numbered like a StatefulSet's
//! pods: the pool grows by adding the next number and shrinks by removing the highest,
//! so the node to remove is always known in advance and drained first.
//!
//! One task decides ([`desired_nodes`], pure) and acts: it grows at once when the load
//! needs more nodes; it shrinks only after the load has stayed low for
//! `scale_down_after`, and only once the highest node holds no replica (the placement
//! reconciler moves everything off a draining node). Nothing acknowledged is lost: a
//! node is stopped only when it holds nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ControlPlane;

pub use weir_contracts::{Orchestrator, OrchestratorFuture, PoolMember};

/// How the pool follows load.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PoolPolicy {
    /// How often the pool is looked at.
    #[serde(skip)]
    #[schema(ignore)]
    pub interval: Duration,
    /// Fewest nodes.
    pub min_nodes: u32,
    /// Most nodes.
    pub max_nodes: u32,
    /// Shard replicas one node is meant to hold.
    pub replicas_per_node: u32,
    /// Bytes per second of writes one node is meant to take.
    pub write_bytes_per_node: u64,
    /// How long the load must stay low before a node is removed.
    #[serde(skip)]
    #[schema(ignore)]
    pub scale_down_after: Duration,
}

/// The nodes `replicas` shard replicas and `write_bytes_per_sec` of writes need, within
/// the policy's bounds.
pub fn desired_nodes(policy: &PoolPolicy, replicas: u64, write_bytes_per_sec: f64) -> u32 {
    let by_replicas = replicas.div_ceil(u64::from(policy.replicas_per_node.max(1)));
    let by_writes = (write_bytes_per_sec / policy.write_bytes_per_node.max(1) as f64).ceil() as u64;
    let wanted = by_replicas.max(by_writes).min(u64::from(u32::MAX)) as u32;
    wanted.clamp(
        policy.min_nodes.max(1),
        policy.max_nodes.max(policy.min_nodes.max(1)),
    )
}

/// One change of the pool, as the REST view lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PoolEvent {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// `grow`, `drain`, `shrink` or `cancel`.
    pub action: &'static str,
    /// Nodes before and after.
    pub from_nodes: u32,
    /// Nodes after.
    pub to_nodes: u32,
    /// Why.
    pub reason: String,
}

/// Events kept for the REST view.
const POOL_EVENTS: usize = 100;

/// What the control plane keeps of its node pool.
#[derive(Default)]
pub struct PoolState {
    pub(crate) orchestrator: std::sync::OnceLock<Arc<dyn Orchestrator>>,
    pub(crate) policy: std::sync::OnceLock<PoolPolicy>,
    pub(crate) events: parking_lot::Mutex<std::collections::VecDeque<PoolEvent>>,
}

/// The pool as `GET /v1/nodes/pool` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PoolView {
    /// Who runs the nodes.
    pub orchestrator: String,
    /// The policy.
    pub policy: PoolPolicy,
    /// The nodes as the orchestrator sees them, and whether each has registered.
    pub members: Vec<PoolMemberView>,
    /// Recent changes, newest last.
    pub events: Vec<PoolEvent>,
}

/// One node of the pool: the orchestrator's view (pod or process) beside the control
/// plane's (registered, lease live).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PoolMemberView {
    /// The node id (a pod's name on Kubernetes).
    pub node_id: String,
    /// Ready as the orchestrator reports it.
    pub ready: bool,
    /// Being removed by the orchestrator.
    pub terminating: bool,
    /// Registered with the control plane and holding a live lease.
    pub registered: bool,
}

/// Starts the pool task of `control_plane`: `orchestrator` runs the nodes, `policy` says
/// how many. It stops when the control plane is dropped.
pub fn spawn_node_pool(
    control_plane: &Arc<ControlPlane>,
    orchestrator: Arc<dyn Orchestrator>,
    policy: PoolPolicy,
) {
    let _ = control_plane
        .pool
        .orchestrator
        .set(Arc::clone(&orchestrator));
    let _ = control_plane.pool.policy.set(policy.clone());
    let weak = Arc::downgrade(control_plane);
    tokio::spawn(async move {
        let mut task = PoolTask::default();
        loop {
            tokio::time::sleep(policy.interval).await;
            let Some(cp) = weak.upgrade() else { return };
            if let Err(error) = task.pass(&cp, orchestrator.as_ref(), &policy).await {
                tracing::warn!(%error, "node pool pass failed; will retry");
            }
        }
    });
}

#[derive(Default)]
struct PoolTask {
    low_since: Option<Instant>,
    draining: Option<String>,
    last_bytes: Option<(Instant, u64)>,
}

impl PoolTask {
    async fn pass(
        &mut self,
        cp: &ControlPlane,
        orchestrator: &dyn Orchestrator,
        policy: &PoolPolicy,
    ) -> Result<(), String> {
        let count = orchestrator.node_count().await?;
        let assignments = cp.assignments();
        // Open shards times their replication factor set the size: closed shards take
        // no writes, and replica sets grow for a moment during moves and drains, which
        // must not read as load.
        let default_rf = cp.config().replication_factor.max(1);
        let replicas: u64 = cp
            .list_streams(None, usize::MAX)
            .0
            .iter()
            .map(|s| {
                let rf = if s.replication_factor == 0 {
                    default_rf
                } else {
                    s.replication_factor
                };
                s.open_shards().count() as u64 * u64::from(rf)
            })
            .sum();
        let write_rate = self.write_rate(cp);
        let desired = desired_nodes(policy, replicas, write_rate);
        let why = format!(
            "{replicas} replicas of open shards ({} per node) and {:.0} B/s of writes ({} per node) need {desired} nodes",
            policy.replicas_per_node, write_rate, policy.write_bytes_per_node
        );
        if let Some(victim) = self.draining.clone() {
            if desired >= count {
                cp.set_draining(&victim, false)
                    .await
                    .map_err(|e| e.to_string())?;
                self.draining = None;
                cp.pool_event("cancel", count, count, format!("{victim} kept: {why}"));
                return Ok(());
            }
            let holds = assignments
                .iter()
                .any(|a| a.node == victim || a.replicas.contains(&victim));
            if !holds {
                orchestrator.scale_to(count - 1).await?;
                cp.set_draining(&victim, false)
                    .await
                    .map_err(|e| e.to_string())?;
                self.draining = None;
                self.low_since = None;
                cp.pool_event(
                    "shrink",
                    count,
                    count - 1,
                    format!("{victim} drained and removed: {why}"),
                );
            }
            return Ok(());
        }
        if desired > count {
            orchestrator.scale_to(desired).await?;
            self.low_since = None;
            cp.pool_event("grow", count, desired, why);
            return Ok(());
        }
        if desired == count {
            self.low_since = None;
            return Ok(());
        }
        let since = *self.low_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= policy.scale_down_after && count > 1 {
            let victim = orchestrator.node_id(count - 1);
            cp.set_draining(&victim, true)
                .await
                .map_err(|e| e.to_string())?;
            cp.pool_event(
                "drain",
                count,
                count,
                format!("draining {victim} before removing it: {why}"),
            );
            self.draining = Some(victim);
        }
        Ok(())
    }

    /// Bytes per second written across the cluster since the last pass (leaders'
    /// counters; a leader change restarts a counter, which reads as a dip).
    fn write_rate(&mut self, cp: &ControlPlane) -> f64 {
        let total: u64 = cp.shard_traffic().values().map(|t| t.bytes_in).sum();
        let now = Instant::now();
        let rate = match self.last_bytes {
            Some((then, before)) if total >= before => {
                (total - before) as f64 / now.duration_since(then).as_secs_f64().max(0.001)
            }
            _ => 0.0,
        };
        self.last_bytes = Some((now, total));
        rate
    }
}

impl ControlPlane {
    fn pool_event(&self, action: &'static str, from_nodes: u32, to_nodes: u32, reason: String) {
        tracing::info!(action, from_nodes, to_nodes, %reason, "node pool");
        let mut events = self.pool.events.lock();
        if events.len() >= POOL_EVENTS {
            events.pop_front();
        }
        events.push_back(PoolEvent {
            at_ms: crate::service::now_ms(),
            action,
            from_nodes,
            to_nodes,
            reason,
        });
    }

    /// The node pool, when an orchestrator runs this cluster's nodes.
    pub fn pool_view(&self) -> Option<PoolView> {
        let orchestrator = self.pool.orchestrator.get()?;
        let live: std::collections::BTreeSet<String> = self
            .nodes_view()
            .into_iter()
            .filter(|n| n.live)
            .map(|n| n.id)
            .collect();
        let members = orchestrator
            .members()
            .into_iter()
            .map(|m| PoolMemberView {
                registered: live.contains(&m.node_id),
                node_id: m.node_id,
                ready: m.ready,
                terminating: m.terminating,
            })
            .collect();
        Some(PoolView {
            orchestrator: orchestrator.describe(),
            members,
            policy: self.pool.policy.get()?.clone(),
            events: self.pool.events.lock().iter().cloned().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PoolPolicy {
        PoolPolicy {
            interval: Duration::from_secs(1),
            min_nodes: 1,
            max_nodes: 5,
            replicas_per_node: 10,
            write_bytes_per_node: 1_000_000,
            scale_down_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn nodes_follow_the_larger_of_replica_count_and_write_rate_within_bounds() {
        let p = policy();
        assert_eq!(desired_nodes(&p, 0, 0.0), 1, "never below the minimum");
        assert_eq!(desired_nodes(&p, 10, 0.0), 1);
        assert_eq!(desired_nodes(&p, 11, 0.0), 2);
        assert_eq!(desired_nodes(&p, 12, 2_500_000.0), 3, "writes need three");
        assert_eq!(desired_nodes(&p, 400, 0.0), 5, "never above the maximum");
    }
}
