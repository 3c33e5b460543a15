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
    #[schema(minimum = 0, maximum = 1099511627776_i64)]
    pub write_bytes_per_sec: u64,
    /// Records written per shard per second (Kinesis: 1000).
    #[schema(minimum = 0, maximum = 1099511627776_i64)]
    pub write_records_per_sec: u64,
    /// GetRecords calls per shard per second (Kinesis: 5).
    #[schema(minimum = 0, maximum = 1099511627776_i64)]
    pub read_calls_per_sec: u64,
    /// Bytes read per shard per second (Kinesis: 2097152).
    #[schema(minimum = 0, maximum = 1099511627776_i64)]
    pub read_bytes_per_sec: u64,
}

impl ShardLimitsBody {
    /// The limits, once each is within what a stream may set (the same bound whether
    /// set at creation or later).
    pub fn checked(self) -> Result<ShardLimits, crate::ControlPlaneError> {
        for (name, value) in [
            ("write_bytes_per_sec", self.write_bytes_per_sec),
            ("write_records_per_sec", self.write_records_per_sec),
            ("read_calls_per_sec", self.read_calls_per_sec),
            ("read_bytes_per_sec", self.read_bytes_per_sec),
        ] {
            let most = crate::capacity::MAX_LIMIT_PER_SEC;
            if value > most {
                return Err(crate::ControlPlaneError::InvalidArgument(format!(
                    "{name} {value} is too large: use at most {most}, or 0 for no limit."
                )));
            }
        }
        Ok(ShardLimits {
            write_bytes_per_sec: self.write_bytes_per_sec,
            write_records_per_sec: self.write_records_per_sec,
            read_calls_per_sec: self.read_calls_per_sec,
            read_bytes_per_sec: self.read_bytes_per_sec,
        })
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
    let stream = cp.set_shard_limits(&name, Some(request.checked()?)).await?;
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

/// A provisioned stream's new shard count (UpdateShardCount's rules: at most double, at
/// least half).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShardCountBody {
    /// Open shards wanted (within the account's shard limit; Kinesis allows at most
    /// double or half of the current count per call).
    #[schema(minimum = 1, maximum = 10000)]
    pub shard_count: u32,
}

/// Reshard a provisioned stream to a shard count; the stream is UPDATING until done.
#[utoipa::path(put, path = "/v1/streams/{name}/shard-count", params(("name" = String, Path)),
    request_body = ShardCountBody,
    responses((status = 202, body = crate::rest::StreamView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn set_shard_count(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
    payload: Result<Json<ShardCountBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<crate::rest::StreamView>), ApiError> {
    let request = body(payload)?;
    cp.start_update_shard_count(&name, request.shard_count)
        .await?;
    let stream = cp.stream(&name)?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(crate::rest::view(&cp, &stream)),
    ))
}

/// A stream's capacity mode.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeBody {
    /// `PROVISIONED` or `ON_DEMAND`.
    #[schema(pattern = "^(PROVISIONED|ON_DEMAND)$")]
    pub mode: String,
    /// For ON_DEMAND: write throughput (MiB/s) to keep ready.
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    pub warm_throughput_mibps: Option<u32>,
}

/// Switch a stream's capacity mode (twice per rolling 24 hours, as in Kinesis).
#[utoipa::path(put, path = "/v1/streams/{name}/mode", params(("name" = String, Path)),
    request_body = ModeBody,
    responses((status = 202, body = crate::rest::StreamView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn set_mode(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
    payload: Result<Json<ModeBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<crate::rest::StreamView>), ApiError> {
    let request = body(payload)?;
    let mode = weir_contracts::StreamMode::parse(&request.mode).ok_or_else(|| {
        ApiError(crate::ControlPlaneError::InvalidArgument(format!(
            "Invalid mode {:?}: use PROVISIONED or ON_DEMAND.",
            request.mode
        )))
    })?;
    let mut stream = cp.update_stream_mode(&name, mode).await?;
    if let Some(mibps) = request.warm_throughput_mibps {
        stream = cp.update_warm_throughput(&name, mibps).await?;
    }
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(crate::rest::view(&cp, &stream)),
    ))
}

/// One decision of the autoscaler.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScalingEventView {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// `split`, `merge` or `warm`.
    pub action: String,
    /// Open shards before.
    pub from_shards: u32,
    /// Open shards after.
    pub to_shards: u32,
    /// Why.
    pub reason: String,
    /// Measured write rates per shard id: bytes_per_sec, records_per_sec,
    /// throttled_per_sec, utilisation.
    #[schema(value_type = Object)]
    pub rates: serde_json::Value,
}

/// A stream's scaling decisions, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScalingEventList {
    /// The decisions.
    pub events: Vec<ScalingEventView>,
}

/// Options of the scaling-events list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// Most events returned (1-1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Why an on-demand stream changed size: every autoscaler decision with its reason and
/// the rates it measured.
#[utoipa::path(get, path = "/v1/streams/{name}/scaling-events", params(("name" = String, Path), EventsQuery),
    responses((status = 200, body = ScalingEventList), (status = 404, body = ErrorBody)))]
pub async fn scaling_events(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
    axum::extract::Query(query): axum::extract::Query<EventsQuery>,
) -> Result<Json<ScalingEventList>, ApiError> {
    if let Some(limit) = query.limit.filter(|l| !(1..=1000).contains(l)) {
        return Err(crate::ControlPlaneError::InvalidArgument(format!(
            "limit must be between 1 and 1000, got {limit}."
        ))
        .into());
    }
    let stream = cp.stream(&name)?;
    let limit = i64::from(query.limit.unwrap_or(100).clamp(1, 1000));
    let rows = cp
        .store()
        .scaling_events(stream.uid, limit)
        .await
        .map_err(|e| ApiError(e.into()))?;
    Ok(Json(ScalingEventList {
        events: rows
            .into_iter()
            .map(|r| ScalingEventView {
                at_ms: r.at_ms,
                action: r.action,
                from_shards: r.from_shards,
                to_shards: r.to_shards,
                reason: r.reason,
                rates: serde_json::from_str(&r.detail).unwrap_or_default(),
            })
            .collect(),
    }))
}
