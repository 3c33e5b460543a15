//! The internal API between the control plane and data-plane nodes (`/internal/v1`).
//! Not part of the public REST API or its OpenAPI document. It is not authenticated yet:
//! run it on a private network until the security work lands.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::placement::{Assignment, HeartbeatReply, HeartbeatRequest};
use crate::rest::ApiError;
use crate::ControlPlane;

/// Routes nodes call on the control plane.
pub fn router(control_plane: Arc<ControlPlane>) -> Router {
    Router::new()
        .route("/internal/v1/heartbeat", post(heartbeat))
        .route("/internal/v1/reassign", post(reassign))
        .with_state(control_plane)
}

async fn heartbeat(
    State(cp): State<Arc<ControlPlane>>,
    Json(request): Json<HeartbeatRequest>,
) -> Result<Json<HeartbeatReply>, ApiError> {
    Ok(Json(cp.heartbeat(request).await?))
}

/// Body of a forced move.
#[derive(Debug, Deserialize)]
struct ReassignRequest {
    stream: String,
    shard_id: String,
}

async fn reassign(
    State(cp): State<Arc<ControlPlane>>,
    Json(request): Json<ReassignRequest>,
) -> Result<Json<Assignment>, ApiError> {
    let ordinal = weir_core::shard_ordinal(&request.shard_id).ok_or_else(|| {
        crate::ControlPlaneError::InvalidArgument(format!(
            "{} is not a shard id.",
            request.shard_id
        ))
    })?;
    Ok(Json(cp.reassign(&request.stream, ordinal).await?))
}
