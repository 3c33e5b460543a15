//! Moving a shard's leadership on purpose: an operator's move (gracefully through a
//! complete follower, or through the cold tier for a single replica), a drain's, and a
//! forced move of a shard whose replicas are gone, with its loss recorded.

use std::time::{Duration, Instant};

use weir_meta::{AssignmentRow, ShardEvent};

use crate::node_client::NodeClient;
use crate::placement::{Assignment, FenceRequest};
use crate::reconcile::{choose_leader, fence_all};
use crate::{ControlPlane, ControlPlaneError};

impl ControlPlane {
    /// Moves a shard's leadership to another node under a new generation. With replicas,
    /// the shard is sealed on its leader (everything before the seal committed), a
    /// complete follower is given time to hold all of it, and it is elected. A shard with
    /// one replica is handed off through the cold tier. `force` moves a shard whose only
    /// replica is gone: records held only there are lost, which the shard's history and
    /// the audit log record.
    pub async fn reassign(
        &self,
        stream: &str,
        ordinal: u64,
        force: bool,
    ) -> Result<Assignment, ControlPlaneError> {
        let nodes = self.placement.client.get().cloned().ok_or_else(|| {
            ControlPlaneError::InvalidArgument(
                "Shards move only in cluster mode (weir up --nodes, or weir control-plane with data-plane nodes).".into(),
            )
        })?;
        let nodes = &nodes;
        let record = self.stream(stream)?;
        // An operator chose this placement: the rebalancer leaves it for a while.
        *self.placement.operator_moved_at.lock() = Some(Instant::now());
        self.load_placement().await?;
        let _serial = self.placement.serial.lock().await;
        let row = self
            .placement
            .assignments
            .read()
            .get(&(record.uid, ordinal))
            .cloned()
            .ok_or_else(|| {
                ControlPlaneError::NotFound(format!("Shard {ordinal} of {stream} has no node."))
            })?;
        let live = self.live_nodes();
        let leader_live = live.iter().any(|n| n.id == row.leader);
        if force {
            return self.force_move(&record.name, row, &live, nodes).await;
        }
        if !leader_live {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "The shard's leader {} is not live; it moves on its own once a majority of its replicas answer. To move it without its leader (losing what only it holds), pass force.",
                row.leader
            )));
        }
        let followers: Vec<String> = row
            .replicas
            .iter()
            .filter(|n| **n != row.leader && !row.rebuilding.contains(n))
            .filter(|n| live.iter().any(|l| l.id == **n))
            .cloned()
            .collect();
        let fence = self.fence_ref();
        if let Some(target) = followers.first() {
            return self
                .move_leadership(&row, target, Duration::from_secs(10), nodes)
                .await?
                .ok_or_else(|| {
                    ControlPlaneError::InvalidArgument(
                        "Not enough replicas answered to move the shard; it stays where it is. Retry.".into(),
                    )
                });
        }
        // One replica: hand the shard off through the cold tier to another node.
        let mut snapshot = self.snapshot();
        let target = snapshot.pick(1, &row.replicas).pop().ok_or_else(|| {
            ControlPlaneError::InvalidArgument("No other live node to move the shard to.".into())
        })?;
        if let Some(fence) = &fence {
            if let Err(e) = fence.hand_off(record.uid, ordinal).await {
                let _ = fence.unseal(record.uid, ordinal).await;
                return Err(ControlPlaneError::InvalidArgument(format!(
                    "Could not hand the shard off from {}: {e}. It stays there; retry.",
                    row.leader
                )));
            }
        }
        let next = AssignmentRow {
            leader: target.clone(),
            generation: row.generation + 1,
            replicas: vec![target],
            rebuilding: Vec::new(),
            ..row.clone()
        };
        if !self.put_row(next.clone(), Some(row.generation)).await? {
            return Err(ControlPlaneError::InvalidArgument(
                "The shard's placement changed meanwhile; retry.".into(),
            ));
        }
        Ok(Assignment::from(&next))
    }

    /// Hands a shard's leadership to `target`, a complete follower: the leader seals the
    /// shard (everything before the seal committed), `target` is given up to `patience`
    /// to hold all of it, and is elected under a new generation. If it is not elected
    /// the shard is unsealed where it is.
    pub(crate) async fn move_leadership(
        &self,
        row: &AssignmentRow,
        target: &str,
        patience: Duration,
        nodes: &NodeClient,
    ) -> Result<Option<Assignment>, ControlPlaneError> {
        let fence = self.fence_ref();
        let end = match &fence {
            Some(fence) => fence.seal(row.stream_uid, row.ordinal).await.map_err(|e| {
                ControlPlaneError::InvalidArgument(format!(
                    "Could not seal the shard on {}: {e}. It stays there; retry.",
                    row.leader
                ))
            })?,
            None => 0,
        };
        let end = weir_core::position_offset(end);
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            let caught_up = self
                .report(target, row.stream_uid, row.ordinal)
                .is_some_and(|r| r.end >= end);
            if caught_up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let elected = self.elect(row, Some(target), nodes).await?;
        if let Some(fence) = &fence {
            if elected.as_ref().is_none_or(|a| a.node == row.leader) {
                let _ = fence.unseal(row.stream_uid, row.ordinal).await;
            }
        }
        if let Some(a) = &elected {
            tracing::info!(stream_uid = row.stream_uid, shard = row.ordinal, from = %row.leader,
                to = %a.node, generation = a.generation, "shard leadership moved");
        }
        Ok(elected)
    }

    async fn force_move(
        &self,
        stream: &str,
        row: AssignmentRow,
        live: &[crate::placement::NodeInfo],
        nodes: &NodeClient,
    ) -> Result<Assignment, ControlPlaneError> {
        if live.iter().any(|n| n.id == row.leader) && !row.rebuilding.contains(&row.leader) {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "The shard's leader {} is live; move it without force.",
                row.leader
            )));
        }
        // The most complete live replica, or failing that any live node.
        let generation = row.generation + 1;
        let request = FenceRequest {
            stream_uid: row.stream_uid,
            ordinal: row.ordinal,
            generation,
        };
        let mut candidates: Vec<(String, String)> = row
            .replicas
            .iter()
            .filter_map(|n| {
                live.iter()
                    .find(|l| l.id == *n)
                    .map(|l| (n.clone(), l.url.clone()))
            })
            .collect();
        if candidates.is_empty() {
            candidates = live.iter().map(|l| (l.id.clone(), l.url.clone())).collect();
        }
        let answers = fence_all(nodes, &candidates, &request).await;
        let target = choose_leader(&answers, None)
            .or_else(|| candidates.first().map(|(n, _)| n.clone()))
            .ok_or_else(|| {
                ControlPlaneError::InvalidArgument("No live node to move the shard to.".into())
            })?;
        let end = answers
            .iter()
            .find(|(n, _)| *n == target)
            .map_or(0, |(_, a)| a.end);
        let mut replicas: Vec<String> = row
            .replicas
            .iter()
            .filter(|n| **n != target && live.iter().any(|l| l.id == **n))
            .cloned()
            .collect();
        replicas.insert(0, target.clone());
        let next = AssignmentRow {
            leader: target.clone(),
            generation,
            rebuilding: Vec::new(),
            replicas,
            ..row.clone()
        };
        if !self.put_row(next.clone(), Some(row.generation)).await? {
            return Err(ControlPlaneError::InvalidArgument(
                "The shard's placement changed meanwhile; retry.".into(),
            ));
        }
        let detail = format!(
            "forced move of {} shard {} from {} to {target} under generation {generation}: records held only by {} (beyond offset {end} on {target}) are lost",
            stream, row.ordinal, row.leader, row.leader
        );
        tracing::warn!("{detail}");
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let store = self.store();
        store
            .add_shard_event(&ShardEvent {
                stream_uid: row.stream_uid,
                ordinal: row.ordinal,
                at_ms,
                kind: "forced-move".into(),
                detail: detail.clone(),
            })
            .await?;
        // Written to the audit log whether or not authentication is on: a forced loss
        // must be findable.
        store
            .append_audit(&weir_meta::AuditEvent {
                at_ms,
                principal: "operator".into(),
                action: "weir:ForceMoveShard".into(),
                resource: format!("stream/{stream}"),
                source: "control-plane".into(),
                result: "allowed".into(),
                detail,
            })
            .await?;
        Ok(Assignment::from(&next))
    }
}
