//! The internal API between the control plane and data-plane nodes (`/internal/v1`).
//! Not part of the public REST API or its OpenAPI document. Every call carries a
//! short-lived token made from the cluster secret ([`require_internal_token`]).

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
        .route("/internal/v1/tier/begin", post(tier_begin))
        .route("/internal/v1/tier/transition", post(tier_transition))
        .route("/internal/v1/tier/segments", post(tier_segments))
        .route("/internal/v1/audit", post(audit))
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
    /// Move a shard whose replicas are gone, accepting the loss of what only they held.
    #[serde(default)]
    force: bool,
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
    Ok(Json(
        cp.reassign(&request.stream, ordinal, request.force).await?,
    ))
}

async fn tier_begin(
    State(cp): State<Arc<ControlPlane>>,
    Json(segment): Json<weir_meta::TierSegment>,
) -> Result<Json<weir_meta::TierSegment>, ApiError> {
    Ok(Json(cp.tier_begin_upload(segment).await?))
}

async fn tier_transition(
    State(cp): State<Arc<ControlPlane>>,
    Json(change): Json<weir_meta::TierTransition>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let changed = cp.tier_transition(change).await?;
    Ok(Json(serde_json::json!({ "changed": changed })))
}

/// Which shard's segments a node asks for.
#[derive(Debug, Deserialize)]
struct SegmentsRequest {
    stream_uid: i64,
    ordinal: u64,
}

async fn tier_segments(
    State(cp): State<Arc<ControlPlane>>,
    Json(r): Json<SegmentsRequest>,
) -> Result<Json<Vec<weir_meta::TierSegment>>, ApiError> {
    Ok(Json(cp.tier_segments(r.stream_uid, r.ordinal).await?))
}

/// Refuses requests without a valid internal token (`x-weir-internal-auth`, made from the
/// cluster secret by `weir_auth::internal_token`). Axum middleware; the state is the
/// secret.
pub async fn require_internal_token(
    State(secret): State<Arc<Vec<u8>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let valid = request
        .headers()
        .get(weir_auth::INTERNAL_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|token| {
            weir_auth::verify_internal_token(&secret, token, std::time::SystemTime::now())
        });
    if !valid {
        tracing::warn!(path = %request.uri().path(), "internal request without a valid cluster token refused");
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": {"code": "Unauthenticated",
                "message": "internal API: missing or invalid x-weir-internal-auth token (nodes and control plane must share the cluster secret)"}})),
        )
            .into_response();
    }
    next.run(request).await
}

/// Audit events recorded by nodes.
async fn audit(
    State(cp): State<Arc<ControlPlane>>,
    Json(event): Json<weir_meta::AuditEvent>,
) -> axum::http::StatusCode {
    if let Some(security) = cp.security() {
        security.audit.record_event(event).await;
    }
    axum::http::StatusCode::NO_CONTENT
}
