//! REST for the cold tier: per-stream local retention, a shard's segments with their
//! tier states, and moving a shard to another node.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::{shard_id, shard_ordinal, SequenceNumber};
use weir_meta::{TierSegment, TieringSettings};

use crate::rest::{body, ApiError, ErrorBody};
use crate::{ControlPlane, ControlPlaneError};

/// A stream's local retention; `null` fields take the node's default.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TieringBody {
    /// Bytes of each shard kept on node disks once uploaded.
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    pub local_retention_bytes: Option<u64>,
    /// Age in milliseconds after which an uploaded segment leaves node disks.
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    pub local_retention_ms: Option<u64>,
}

/// One segment of a shard and where it is in its tiering life.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentView {
    /// Offset of the first record within the shard.
    pub base_offset: u64,
    /// Offset one past the last record.
    pub end_offset: u64,
    /// Records in the segment.
    pub records: u64,
    /// Placement generation it was written under.
    pub generation: u64,
    /// Bytes of the segment object.
    pub size_bytes: u64,
    /// Sequence number of the first record.
    pub starting_sequence_number: String,
    /// Sequence number of the last record.
    pub ending_sequence_number: String,
    /// Arrival time of the first record (ms since the epoch).
    pub first_timestamp_ms: i64,
    /// Arrival time of the last record.
    pub last_timestamp_ms: i64,
    /// `uploading`, `uploaded`, `deleting` or `deleted`.
    pub state: String,
    /// Object key in the bucket, relative to the configured prefix.
    pub object_key: String,
}

/// Segments of one shard, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentList {
    /// The shard.
    pub shard_id: String,
    /// Its segments known to the cold tier.
    pub segments: Vec<SegmentView>,
}

/// Where a moved shard now lives.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoveView {
    /// The shard.
    pub shard_id: String,
    /// The node now holding it.
    pub node: String,
    /// Its new placement generation.
    pub generation: u64,
    /// Every replica, the leader first.
    pub replicas: Vec<String>,
}

/// Options of a move.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MoveQuery {
    /// Move a shard whose leader (and every complete replica) is gone, accepting the loss
    /// of records only they held. The loss is recorded in the audit log and the shard's
    /// history.
    #[serde(default)]
    pub force: bool,
}

fn segment_view(ordinal: u64, s: &TierSegment) -> SegmentView {
    let position = |offset: u64| weir_core::position(s.generation, offset);
    SegmentView {
        base_offset: s.base_offset,
        end_offset: s.end_offset,
        records: s.end_offset - s.base_offset,
        generation: s.generation,
        size_bytes: s.size_bytes,
        starting_sequence_number: SequenceNumber::new(ordinal, position(s.base_offset)).to_string(),
        ending_sequence_number: SequenceNumber::new(
            ordinal,
            position(s.end_offset.saturating_sub(1)),
        )
        .to_string(),
        first_timestamp_ms: s.first_timestamp_ms,
        last_timestamp_ms: s.last_timestamp_ms,
        state: s.state.as_str().to_string(),
        object_key: s.object_key.clone(),
    }
}

/// The (stream uid, shard ordinal) a REST path names, or AWS's not-found wording.
pub(crate) fn parse_shard(
    cp: &ControlPlane,
    stream: &str,
    id: &str,
) -> Result<(i64, u64), ApiError> {
    let record = cp.stream(stream)?;
    let ordinal = shard_ordinal(id)
        .filter(|o| record.shard(*o).is_some())
        .ok_or_else(|| {
            ControlPlaneError::NotFound(format!("Shard {id} in stream {stream} does not exist."))
        })?;
    Ok((record.uid, ordinal))
}

fn tiering_view(settings: TieringSettings) -> TieringBody {
    TieringBody {
        local_retention_bytes: settings.local_retention_bytes,
        local_retention_ms: settings.local_retention_ms,
    }
}

/// A stream's local retention.
#[utoipa::path(get, path = "/v1/streams/{name}/tiering", params(("name" = String, Path)),
    responses((status = 200, body = TieringBody), (status = 404, body = ErrorBody)))]
pub async fn get_tiering(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<Json<TieringBody>, ApiError> {
    Ok(Json(tiering_view(cp.stream(&name)?.tiering)))
}

/// Set a stream's local retention.
#[utoipa::path(put, path = "/v1/streams/{name}/tiering", params(("name" = String, Path)),
    request_body = TieringBody,
    responses((status = 200, body = TieringBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_tiering(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
    payload: Result<Json<TieringBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<TieringBody>, ApiError> {
    let request = body(payload)?;
    for (name, value) in [
        ("local_retention_bytes", request.local_retention_bytes),
        ("local_retention_ms", request.local_retention_ms),
    ] {
        if let Some(v) = value.filter(|v| i64::try_from(*v).is_err()) {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "{name} must be at most {}; got {v}.",
                i64::MAX
            ))
            .into());
        }
    }
    if request.local_retention_bytes == Some(0) {
        return Err(ControlPlaneError::InvalidArgument(
            "local_retention_bytes must be positive (or null for the node default).".into(),
        )
        .into());
    }
    let stream = cp
        .set_tiering(
            &name,
            TieringSettings {
                local_retention_bytes: request.local_retention_bytes,
                local_retention_ms: request.local_retention_ms,
            },
        )
        .await?;
    Ok(Json(tiering_view(stream.tiering)))
}

/// A shard's segments known to the cold tier, with tier state, size and offsets.
#[utoipa::path(get, path = "/v1/streams/{name}/shards/{shard_id}/segments",
    params(("name" = String, Path), ("shard_id" = String, Path)),
    responses((status = 200, body = SegmentList), (status = 404, body = ErrorBody)))]
pub async fn list_segments(
    State(cp): State<Arc<ControlPlane>>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<SegmentList>, ApiError> {
    let (uid, ordinal) = parse_shard(&cp, &name, &id)?;
    let segments = cp.tier_segments(uid, ordinal).await?;
    Ok(Json(SegmentList {
        shard_id: shard_id(ordinal),
        segments: segments.iter().map(|s| segment_view(ordinal, s)).collect(),
    }))
}

/// Move a shard to another live node: seal it, upload its tail, fence the old node and
/// reassign it under a new generation. Cluster mode only.
#[utoipa::path(post, path = "/v1/streams/{name}/shards/{shard_id}/move",
    params(("name" = String, Path), ("shard_id" = String, Path), MoveQuery),
    responses((status = 200, body = MoveView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn move_shard(
    State(cp): State<Arc<ControlPlane>>,
    Path((name, id)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<MoveQuery>,
) -> Result<Json<MoveView>, ApiError> {
    let (_, ordinal) = parse_shard(&cp, &name, &id)?;
    let moved = cp.reassign(&name, ordinal, query.force).await?;
    Ok(Json(MoveView {
        shard_id: shard_id(ordinal),
        node: moved.node,
        generation: moved.generation,
        replicas: moved.replicas,
    }))
}
