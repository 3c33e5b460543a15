//! REST for operators of a cluster: nodes (and draining them), a stream's placement, and
//! a shard's history.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::shard_id;

use crate::rest::{ApiError, ErrorBody};
use crate::{ControlPlane, ControlPlaneError};

/// A data-plane node.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeView {
    /// Node id.
    pub id: String,
    /// Its Kinesis endpoint.
    pub url: String,
    /// Whether its lease is valid.
    pub live: bool,
    /// Milliseconds left on its lease (0 when not live).
    pub lease_ms_left: u64,
    /// Being drained: its leaderships and replicas are moving away.
    pub draining: bool,
    /// Drained: it holds no replica any more and can be stopped.
    pub drained: bool,
    /// Shards it leads.
    pub leads: usize,
    /// Shards it holds a replica of (led or followed).
    pub replicas: usize,
    /// Of those, replicas still rebuilding.
    pub rebuilding: usize,
    /// Free bytes on its data disk, as it last reported.
    pub disk_free_bytes: Option<u64>,
    /// Size of its data disk.
    pub disk_total_bytes: Option<u64>,
    /// Bytes per second written to the shards it leads (the latest sampling interval).
    pub write_bytes_per_sec: u64,
}

/// Every node the control plane has heard from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeList {
    /// Nodes by id.
    pub nodes: Vec<NodeView>,
}

/// Where one shard lives.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShardPlacementView {
    /// The shard.
    pub shard_id: String,
    /// Its leader.
    pub leader: String,
    /// Every replica, the leader first.
    pub replicas: Vec<String>,
    /// Replicas still copying the log (they neither vote nor lead).
    pub rebuilding: Vec<String>,
    /// Placement generation.
    pub generation: u64,
}

/// A stream's placement.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlacementView {
    /// The stream.
    pub stream: String,
    /// Each shard with an assignment, in shard order.
    pub shards: Vec<ShardPlacementView>,
}

/// Something that happened to a shard.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShardEventView {
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    /// `forced-move`, ...
    pub kind: String,
    /// What happened, in words.
    pub detail: String,
}

/// A shard's history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShardEventList {
    /// The shard.
    pub shard_id: String,
    /// Oldest first.
    pub events: Vec<ShardEventView>,
}

impl ControlPlane {
    /// Every node the control plane has heard from, with what it holds.
    pub fn nodes_view(&self) -> Vec<NodeView> {
        let now = Instant::now();
        let rates = self.metrics_history.shard_write_rates();
        let assignments = self.placement.assignments.read();
        let draining = self.placement.draining.lock().clone();
        self.placement
            .nodes
            .lock()
            .iter()
            .map(|(id, n)| {
                let replicas = assignments
                    .values()
                    .filter(|a| a.replicas.contains(id))
                    .count();
                NodeView {
                    id: id.clone(),
                    url: n.url.clone(),
                    live: n.expires > now,
                    lease_ms_left: n.expires.saturating_duration_since(now).as_millis() as u64,
                    draining: draining.contains(id),
                    drained: draining.contains(id) && replicas == 0,
                    leads: assignments.values().filter(|a| a.leader == *id).count(),
                    replicas,
                    rebuilding: assignments
                        .values()
                        .filter(|a| a.rebuilding.contains(id))
                        .count(),
                    disk_free_bytes: n.disk.map(|d| d.free_bytes),
                    disk_total_bytes: n.disk.map(|d| d.total_bytes),
                    write_bytes_per_sec: assignments
                        .iter()
                        .filter(|(_, a)| a.leader == *id)
                        .filter_map(|(key, _)| rates.get(key))
                        .sum(),
                }
            })
            .collect()
    }
}

/// Nodes, their leases and what they hold.
#[utoipa::path(get, path = "/v1/nodes", responses((status = 200, body = NodeList)))]
pub async fn list_nodes(State(cp): State<Arc<ControlPlane>>) -> Json<NodeList> {
    Json(NodeList {
        nodes: cp.nodes_view(),
    })
}

fn node_view(cp: &ControlPlane, id: &str) -> Result<NodeView, ApiError> {
    cp.nodes_view()
        .into_iter()
        .find(|n| n.id == id)
        .ok_or_else(|| {
            ApiError(ControlPlaneError::NotFound(format!(
                "Node {id} is unknown."
            )))
        })
}

/// Drain a node: its leaderships move to other replicas and its replicas are re-created
/// elsewhere; `drained` turns true once it holds nothing.
#[utoipa::path(post, path = "/v1/nodes/{id}/drain", params(("id" = String, Path)),
    responses((status = 200, body = NodeView), (status = 404, body = ErrorBody)))]
pub async fn drain_node(
    State(cp): State<Arc<ControlPlane>>,
    Path(id): Path<String>,
) -> Result<Json<NodeView>, ApiError> {
    node_view(&cp, &id)?;
    cp.set_draining(&id, true).await?;
    node_view(&cp, &id).map(Json)
}

/// Stop draining a node (it may receive replicas again).
#[utoipa::path(delete, path = "/v1/nodes/{id}/drain", params(("id" = String, Path)),
    responses((status = 200, body = NodeView), (status = 404, body = ErrorBody)))]
pub async fn undrain_node(
    State(cp): State<Arc<ControlPlane>>,
    Path(id): Path<String>,
) -> Result<Json<NodeView>, ApiError> {
    node_view(&cp, &id)?;
    cp.set_draining(&id, false).await?;
    node_view(&cp, &id).map(Json)
}

/// A stream's placement: leader, replicas and generation of each shard.
#[utoipa::path(get, path = "/v1/streams/{name}/placement", params(("name" = String, Path)),
    responses((status = 200, body = PlacementView), (status = 404, body = ErrorBody)))]
pub async fn placement(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<Json<PlacementView>, ApiError> {
    let record = cp.stream(&name)?;
    let assignments = cp.placement.assignments.read();
    let shards = record
        .shards
        .iter()
        .filter_map(|s| assignments.get(&(record.uid, s.ordinal)))
        .map(|a| ShardPlacementView {
            shard_id: shard_id(a.ordinal),
            leader: a.leader.clone(),
            replicas: a.replicas.clone(),
            rebuilding: a.rebuilding.clone(),
            generation: a.generation,
        })
        .collect();
    Ok(Json(PlacementView {
        stream: record.name.clone(),
        shards,
    }))
}

/// A shard's history (forced moves and their losses).
#[utoipa::path(get, path = "/v1/streams/{name}/shards/{shard_id}/events",
    params(("name" = String, Path), ("shard_id" = String, Path)),
    responses((status = 200, body = ShardEventList), (status = 404, body = ErrorBody)))]
pub async fn shard_events(
    State(cp): State<Arc<ControlPlane>>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<ShardEventList>, ApiError> {
    let (uid, ordinal) = crate::rest_tiering::parse_shard(&cp, &name, &id)?;
    let events = cp
        .store()
        .shard_events(uid, ordinal)
        .await
        .map_err(ControlPlaneError::from)?;
    Ok(Json(ShardEventList {
        shard_id: shard_id(ordinal),
        events: events
            .into_iter()
            .map(|e| ShardEventView {
                at_ms: e.at_ms,
                kind: e.kind,
                detail: e.detail,
            })
            .collect(),
    }))
}

/// The node pool: who runs the nodes, how many the load needs, and recent changes
/// (only when an orchestrator runs them, as with `weir up --nodes auto`).
#[utoipa::path(get, path = "/v1/nodes/pool",
    responses((status = 200, body = crate::node_pool::PoolView), (status = 404, body = ErrorBody)))]
pub async fn node_pool(
    State(cp): State<Arc<ControlPlane>>,
) -> Result<Json<crate::node_pool::PoolView>, ApiError> {
    cp.pool_view().map(Json).ok_or_else(|| {
        ApiError(crate::ControlPlaneError::NotFound(
            "This deployment's nodes are not run by an orchestrator: nodes are added and removed by hand (weir up --nodes auto runs a pool).".into(),
        ))
    })
}
