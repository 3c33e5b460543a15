//! Keeping this node's roles in step with placement: lead the shards assigned to it,
//! stop leading the ones that moved, close the ones it no longer holds, and report what
//! it holds with every heartbeat.

use std::sync::{Arc, Weak};
use std::time::Duration;

use weir_contracts::{FollowerReport, ShardReport};

use super::LeaderSession;
use crate::cluster::Cluster;
use crate::gateway::DataPlane;
use crate::shards::LocalShard;
use crate::KinesisError;

/// How often roles are checked when no heartbeat changed anything.
const SYNC_INTERVAL: Duration = Duration::from_millis(500);

/// Runs until the node is dropped.
pub fn spawn(plane: Weak<DataPlane>, cluster: Arc<Cluster>) {
    tokio::spawn(async move {
        let mut changes = cluster.watch_changes();
        loop {
            let _ = tokio::time::timeout(SYNC_INTERVAL, changes.changed()).await;
            let Some(plane) = plane.upgrade() else { return };
            sync(&plane, &cluster).await;
            cluster.set_reports(reports(&plane));
            // statvfs: one cheap system call.
            cluster.set_disk(crate::tiering::disk_space(&plane.config.data_dir).map(
                |(free, total)| weir_contracts::DiskUsage {
                    free_bytes: free,
                    total_bytes: total,
                },
            ));
        }
    });
}

async fn sync(plane: &Arc<DataPlane>, cluster: &Arc<Cluster>) {
    for a in cluster.my_assignments() {
        if !plane.knows_stream(a.stream_uid) {
            // Deleted (its assignment goes with the next heartbeat) or not known yet.
            continue;
        }
        let leads = a.node == cluster.node_id && !a.rebuilding.contains(&cluster.node_id);
        if leads && cluster.lease_valid() {
            if let Err(error) = lead(plane, cluster, a.stream_uid, a.ordinal, a.generation).await {
                tracing::debug!(%error, stream_uid = a.stream_uid, shard = a.ordinal, "not leading yet");
            }
        } else if let Some(shard) = plane.shards.opened(a.stream_uid, a.ordinal) {
            if let Some(session) = shard.session() {
                tracing::info!(
                    stream_uid = a.stream_uid,
                    shard = a.ordinal,
                    "no longer leading the shard"
                );
                session.fence();
                shard.set_session(None);
            }
        }
    }
    for ((uid, ordinal), _) in plane.shards.open_shards() {
        if cluster.dropped(uid, ordinal) {
            tracing::info!(
                stream_uid = uid,
                shard = ordinal,
                "this node no longer holds a replica; closing it"
            );
            if let Err(error) = plane.shards.forget(uid, ordinal).await {
                tracing::warn!(%error, "could not remove a shard this node no longer holds");
            }
        }
    }
}

/// The shard led here under `generation`, with its leadership session running.
pub(crate) async fn lead(
    plane: &DataPlane,
    cluster: &Arc<Cluster>,
    uid: i64,
    ordinal: u64,
    generation: u64,
) -> Result<Arc<LocalShard>, KinesisError> {
    let shard = plane.shards.get(uid, ordinal, generation).await?;
    if shard.promised() > generation {
        return Err(KinesisError::Unavailable(format!(
            "A newer generation ({}) of the shard exists; this node's view is behind. Retry.",
            shard.promised()
        )));
    }
    let voters = cluster.replicas(uid, ordinal);
    let current = shard.session();
    match current {
        Some(s) if s.matches(generation, &voters) => {
            if s.is_fenced() {
                return Err(KinesisError::Unavailable(
                    "This node's leadership of the shard was fenced; retry.".into(),
                ));
            }
        }
        Some(s) if s.generation > generation => {
            return Err(KinesisError::Unavailable(
                "This node's view of placement is behind; retry.".into(),
            ));
        }
        _ => {
            // Promise our own generation first: no leader older than it, and no stale
            // batch from one, is accepted here while we lead.
            if shard.promised() < generation {
                let promising = Arc::clone(&shard);
                tokio::task::spawn_blocking(move || promising.promise(generation))
                    .await
                    .map_err(|e| KinesisError::Internal(format!("promise task failed: {e}")))??;
            }
            // A move sealed the log while this node last led: a later leadership reopens
            // it (closed shards are never routed to). A lease blip within the same
            // generation does not, or a reshard's recorded end could move.
            if shard.log().is_sealed() && shard.may_unseal_for(generation) {
                shard.unseal().await?;
            }
            shard.start_session(generation, &voters, || {
                tracing::info!(stream_uid = uid, shard = ordinal, generation, replicas = ?voters, "leading the shard");
                LeaderSession::start(&shard, cluster, generation, voters.clone())
            });
        }
    }
    Ok(shard)
}

fn reports(plane: &DataPlane) -> Vec<ShardReport> {
    plane
        .shards
        .open_shards()
        .into_iter()
        .map(|((uid, ordinal), shard)| {
            let session = shard.session().filter(|s| !s.is_fenced());
            let traffic = session.is_some().then(|| shard.meter.traffic());
            ShardReport {
                traffic,
                stream_uid: uid,
                ordinal,
                generation: shard.generation(),
                end: shard.log().next_offset(),
                commit: shard.commit_point(),
                leading: session.is_some(),
                sealed: shard.log().is_sealed(),
                followers: session
                    .map(|s| {
                        s.progress()
                            .into_iter()
                            .map(|(node, p)| FollowerReport {
                                node,
                                end: p.end,
                                adopted: p.adopted,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}
