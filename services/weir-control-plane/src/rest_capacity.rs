//! REST for a stream's capacity: its per-shard throughput limits.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_contracts::ShardLimits;

use crate::rest::{body, ApiError, ErrorBody};
use crate::ControlPlane;

/// Per-shard throughput limits, per second; 0 turns one off. Over a limit, writes and
/// reads answer ProvisionedThroughputExceededException, as Kinesis does.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShardLimitsBody {
    /// Bytes written per shard per second (Kinesis: 1048576).
    #[schema(minimum = 0)]
    pub write_bytes_per_sec: u64,
    /// Records written per shard per second (Kinesis: 1000).
    #[schema(minimum = 0)]
    pub write_records_per_sec: u64,
    /// GetRecords calls per shard per second (Kinesis: 5).
    #[schema(minimum = 0)]
    pub read_calls_per_sec: u64,
    /// Bytes read per shard per second (Kinesis: 2097152).
    #[schema(minimum = 0)]
    pub read_bytes_per_sec: u64,
}

impl From<ShardLimitsBody> for ShardLimits {
    fn from(b: ShardLimitsBody) -> Self {
        Self {
            write_bytes_per_sec: b.write_bytes_per_sec,
            write_records_per_sec: b.write_records_per_sec,
            read_calls_per_sec: b.read_calls_per_sec,
            read_bytes_per_sec: b.read_bytes_per_sec,
        }
    }
}

impl From<ShardLimits> for ShardLimitsBody {
    fn from(l: ShardLimits) -> Self {
        Self {
            write_bytes_per_sec: l.write_bytes_per_sec,
            write_records_per_sec: l.write_records_per_sec,
            read_calls_per_sec: l.read_calls_per_sec,
            read_bytes_per_sec: l.read_bytes_per_sec,
        }
    }
}

/// The limits that apply to a stream's shards, and where they come from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShardLimitsView {
    /// The limits in force.
    pub limits: ShardLimitsBody,
    /// `stream` when the stream sets its own, `default` when it takes the deployment's.
    pub source: String,
}

fn limits_view(cp: &ControlPlane, stream: &weir_contracts::StreamRecord) -> ShardLimitsView {
    ShardLimitsView {
        limits: cp.catalog().shard_limits(stream).into(),
        source: if stream.shard_limits.is_some() {
            "stream"
        } else {
            "default"
        }
        .into(),
    }
}

/// The per-shard limits of a stream.
#[utoipa::path(get, path = "/v1/streams/{name}/shard-limits", params(("name" = String, Path)),
    responses((status = 200, body = ShardLimitsView), (status = 404, body = ErrorBody)))]
pub async fn get_shard_limits(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<Json<ShardLimitsView>, ApiError> {
    let stream = cp.stream(&name)?;
    Ok(Json(limits_view(&cp, &stream)))
}

/// Set a stream's own per-shard limits.
#[utoipa::path(put, path = "/v1/streams/{name}/shard-limits", params(("name" = String, Path)),
    request_body = ShardLimitsBody,
    responses((status = 200, body = ShardLimitsView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_shard_limits(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
    payload: Result<Json<ShardLimitsBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ShardLimitsView>, ApiError> {
    let request = body(payload)?;
    let stream = cp.set_shard_limits(&name, Some(request.into())).await?;
    Ok(Json(limits_view(&cp, &stream)))
}

/// Return a stream to the deployment's default limits (`--shard-limits`).
#[utoipa::path(delete, path = "/v1/streams/{name}/shard-limits", params(("name" = String, Path)),
    responses((status = 200, body = ShardLimitsView), (status = 404, body = ErrorBody)))]
pub async fn clear_shard_limits(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<Json<ShardLimitsView>, ApiError> {
    let stream = cp.set_shard_limits(&name, None).await?;
    Ok(Json(limits_view(&cp, &stream)))
}
