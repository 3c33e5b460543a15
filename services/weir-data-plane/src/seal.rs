//! `POST /internal/v1/seal`: the control plane seals (or reopens) a shard this node
//! leads, for reshards and moves, and for a move also has the tail uploaded first.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;

use crate::error::KinesisError;
use crate::gateway::DataPlane;

/// Longest a hand-off may spend uploading a shard's tail before the move is abandoned.
const HAND_OFF_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, serde::Deserialize)]
/// What the control plane asks of a shard.
pub(crate) struct SealRequest {
    stream_uid: i64,
    ordinal: u64,
    generation: u64,
    sealed: bool,
    /// Also roll and upload the tail: the shard is about to move.
    #[serde(default)]
    hand_off: bool,
}

/// Seals (or reopens) a shard held here, for the control plane's reshards and moves.
pub(crate) async fn seal(
    State(plane): State<Arc<DataPlane>>,
    axum::Json(request): axum::Json<SealRequest>,
) -> Result<axum::Json<serde_json::Value>, (axum::http::StatusCode, String)> {
    let fail = |e: String| (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e);
    // Opened as it is: sealing never adopts a generation (only leading does), and
    // sealing needs this node to lead the shard now.
    let shard = if plane.cluster.is_some() {
        plane.shards.open(request.stream_uid, request.ordinal).await
    } else {
        plane
            .shards
            .get(request.stream_uid, request.ordinal, request.generation)
            .await
    }
    .map_err(|e| fail(e.to_string()))?;
    let end = if request.sealed {
        shard
            .seal_committed()
            .await
            .map_err(|e| fail(KinesisError::from(e).to_string()))?
    } else {
        shard.unseal().await.map_err(|e| fail(e.to_string()))?
    };
    if request.hand_off {
        if let Some(tiering) = plane.tiering.clone() {
            shard.roll().await.map_err(|e| fail(e.to_string()))?;
            let _pass = tiering.pass.lock().await;
            let uploaded = tokio::time::timeout(
                HAND_OFF_TIMEOUT,
                tiering.upload_shard(request.stream_uid, request.ordinal, &shard),
            )
            .await
            .map_err(|_| fail("uploading the tail timed out".into()))?;
            uploaded.map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(axum::Json(
        serde_json::json!({"position": shard.position(end)}),
    ))
}
