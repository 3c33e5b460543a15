//! The follower side of a replicated shard: batches from the leader, and the control
//! plane's fence before it chooses a new leader.
//!
//! Both run under the shard's `replica_lock`, so a promise and an append never
//! interleave: once a follower has answered a fence for generation `g`, no batch from a
//! leader older than `g` is ever written, which is what keeps a deposed leader from
//! reaching a majority again.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use bytes::Bytes;

use super::{common_prefix, FenceReply, FenceRequest, ReplicateHeader, ReplicateReply};
use crate::gateway::DataPlane;
use crate::shards::LocalShard;

type Refusal = (StatusCode, String);

fn failed(error: impl std::fmt::Display) -> Refusal {
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

/// Runs blocking file work (promises, tables) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, weir_storage::StorageError> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(failed)?
        .map_err(failed)
}

/// The generation of a shard's placement as this node knows it. A node without a lease
/// (just started, or back on an empty disk and not yet marked rebuilding) takes part in
/// no replication at all: it does not know which generations are current.
fn current_generation(plane: &DataPlane, uid: i64, ordinal: u64) -> Result<u64, Refusal> {
    let cluster = plane
        .cluster()
        .ok_or((StatusCode::CONFLICT, "not a cluster node".to_string()))?;
    if !cluster.lease_valid() {
        return Err((
            StatusCode::CONFLICT,
            "this node holds no lease yet; retry".to_string(),
        ));
    }
    Ok(cluster.assignment_generation(uid, ordinal).unwrap_or(0))
}

/// Refuses work on a stream this node's metadata does not have (yet, or any more): a
/// late batch for a deleted stream must not bring its folder back.
fn known_stream(plane: &DataPlane, uid: i64) -> Result<(), Refusal> {
    if plane.knows_stream(uid) {
        return Ok(());
    }
    Err((
        StatusCode::CONFLICT,
        format!("stream {uid} is unknown here (created or deleted a moment ago); retry"),
    ))
}

/// Records a promise to `generation`, ending this node's own leadership of the shard if
/// it was older.
async fn promise(shard: &Arc<LocalShard>, generation: u64) -> Result<(), Refusal> {
    if generation > shard.promised() {
        let promising = Arc::clone(shard);
        blocking(move || promising.promise(generation)).await?;
    }
    if let Some(session) = shard.session() {
        if session.generation < generation {
            session.fence();
            shard.set_session(None);
        }
    }
    Ok(())
}

/// `POST /internal/v1/replica/append`: batches from the shard's leader.
pub async fn append(
    State(plane): State<Arc<DataPlane>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ReplicateReply>, Refusal> {
    let header: ReplicateHeader = headers
        .get(super::REPLICATE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str(v).ok())
        .ok_or((
            StatusCode::BAD_REQUEST,
            format!("missing or unreadable {} header", super::REPLICATE_HEADER),
        ))?;
    known_stream(&plane, header.stream_uid)?;
    let viewed = current_generation(&plane, header.stream_uid, header.ordinal)?;
    let shard = plane
        .shards
        .open(header.stream_uid, header.ordinal)
        .await
        .map_err(failed)?;
    let _serial = shard.replica_lock.lock().await;
    // Refuse a leader older than what this replica promised or than its own leadership
    // (that leader is deposed), and hold off one older than the placement this node
    // knows of (a deposed leader, or one whose view lags a reconfiguration by a
    // heartbeat: it retries once it knows).
    let newer = shard
        .promised()
        .max(shard.session().map_or(0, |s| s.generation));
    if header.generation < newer {
        return Ok(Json(ReplicateReply::Fenced { promised: newer }));
    }
    if header.generation < viewed {
        return Ok(Json(ReplicateReply::Behind { generation: viewed }));
    }
    promise(&shard, header.generation).await?;
    let log = shard.log();
    let mut end = log.next_offset();
    if header.rebase {
        end = log.truncate(header.prev, true).await.map_err(failed)?;
    } else {
        let shared = common_prefix(&shard.table(), end, &header.table, header.leader_end);
        if shared < end {
            tracing::info!(
                stream_uid = header.stream_uid,
                shard = header.ordinal,
                from = shared,
                to = end,
                generation = header.generation,
                "cutting a suffix the new leader does not have"
            );
            end = log.truncate(shared, false).await.map_err(failed)?;
        }
    }
    if header.prev != end {
        return Ok(Json(ReplicateReply::Mismatch { end }));
    }
    // The table first, durably: it must describe every record before the record is on
    // disk here, or a crash between the two would leave records under an older
    // generation than they were written in (and truncation could not tell them apart).
    // A request carries one generation's records, so the entries up to `prev` do.
    adopt_table(&shard, &header.table, end).await?;
    if !body.is_empty() {
        let start = end;
        end = log
            .append_raw(body, header.prev, header.segment_base)
            .await
            .map_err(failed)?;
        if header
            .table
            .iter()
            .any(|(_, first)| *first > start && *first < end)
        {
            // A leader that mixed generations in one request: undo it and refuse.
            log.truncate(start, false).await.map_err(failed)?;
            return Err((
                StatusCode::BAD_REQUEST,
                "a replication request spans a generation boundary".into(),
            ));
        }
    }
    // Then a marker of the leader's generation starting exactly here, if any.
    let adopted = adopt_table(&shard, &header.table, end).await?;
    shard.advance_commit(header.commit.min(end));
    Ok(Json(ReplicateReply::Ok { end, adopted }))
}

/// Replaces this replica's table with the leader's entries up to `end`; returns the last
/// generation it then holds.
async fn adopt_table(
    shard: &Arc<LocalShard>,
    leader: &[(u64, u64)],
    end: u64,
) -> Result<u64, Refusal> {
    let table: Vec<(u64, u64)> = leader
        .iter()
        .copied()
        .filter(|(_, first)| *first <= end)
        .collect();
    let adopted = table.last().map_or(0, |(g, _)| *g);
    let updating = Arc::clone(shard);
    blocking(move || updating.replace_table(table)).await?;
    Ok(adopted)
}

/// `POST /internal/v1/replica/fence`: the control plane is about to choose a leader
/// under `generation`; promise it and say what this replica holds.
pub async fn fence(
    State(plane): State<Arc<DataPlane>>,
    Json(request): Json<FenceRequest>,
) -> Result<Json<FenceReply>, Refusal> {
    known_stream(&plane, request.stream_uid)?;
    current_generation(&plane, request.stream_uid, request.ordinal)?;
    let shard = plane
        .shards
        .open(request.stream_uid, request.ordinal)
        .await
        .map_err(failed)?;
    let _serial = shard.replica_lock.lock().await;
    if request.generation < shard.promised() {
        return Err((
            StatusCode::CONFLICT,
            format!(
                "already promised generation {}, newer than {}",
                shard.promised(),
                request.generation
            ),
        ));
    }
    promise(&shard, request.generation).await?;
    Ok(Json(FenceReply {
        last_generation: shard.generation(),
        end: shard.log().next_offset(),
    }))
}
