//! The REST API, `/v1/...`, and its OpenAPI document (generated from these handlers by
//! utoipa; `openapi/control-plane.json` is kept equal to it by a test).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use weir_core::{shard_id, SequenceNumber};

use crate::{
    ControlPlane, ControlPlaneError, CreateStream, RetentionChange, StreamMode, StreamRecord,
};

/// The OpenAPI document of the control plane.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Weir control plane",
        description = "Streams, shards, tags, cold-tier segments, principals and the audit log of a Weir deployment. With authentication on, every route but /v1/auth/token needs Authorization: Bearer <token>."
    ),
    paths(
        create_stream,
        list_streams,
        get_stream,
        delete_stream,
        set_retention,
        get_tags,
        add_tags,
        remove_tag,
        list_shards,
        crate::rest_capacity::get_shard_limits,
        crate::rest_capacity::set_shard_limits,
        crate::rest_capacity::clear_shard_limits,
        crate::rest_capacity::set_shard_count,
        crate::rest_capacity::set_mode,
        crate::rest_capacity::scaling_events,
        crate::telemetry::stream_metrics,
        crate::rest_tiering::get_tiering,
        crate::rest_tiering::set_tiering,
        crate::rest_tiering::list_segments,
        crate::rest_tiering::move_shard,
        crate::rest_cluster::list_nodes,
        crate::rest_cluster::node_pool,
        crate::rest_cluster::drain_node,
        crate::rest_cluster::undrain_node,
        crate::rest_cluster::placement,
        crate::rest_cluster::shard_events,
        crate::rest_browse::list_consumers,
        crate::rest_browse::browse_records,
        crate::rest_security::token,
        crate::rest_security::rotate,
        crate::rest_security::list_principals,
        crate::rest_security::create_principal,
        crate::rest_security::delete_principal,
        crate::rest_security::set_bindings,
        crate::rest_security::create_key,
        crate::rest_security::delete_key,
        crate::rest_security::audit
    ),
    components(schemas(
        CreateStreamBody,
        StreamView,
        StreamList,
        ShardView,
        ShardList,
        RetentionBody,
        TagsBody,
        ErrorBody,
        ErrorDetail,
        crate::rest_capacity::ShardLimitsBody,
        crate::rest_capacity::ShardLimitsView,
        crate::rest_capacity::ShardCountBody,
        crate::rest_capacity::ModeBody,
        crate::rest_capacity::ScalingEventView,
        crate::rest_capacity::ScalingEventList,
        StreamModeName,
        crate::telemetry::StreamMetrics,
        crate::telemetry::ShardMetrics,
        crate::telemetry::Datapoint,
        crate::rest_tiering::TieringBody,
        crate::rest_tiering::SegmentView,
        crate::rest_tiering::SegmentList,
        crate::rest_tiering::MoveView,
        crate::rest_cluster::NodeView,
        crate::node_pool::PoolView,
        crate::node_pool::PoolPolicy,
        crate::node_pool::PoolEvent,
        crate::rest_cluster::NodeList,
        crate::rest_cluster::ShardPlacementView,
        crate::rest_cluster::PlacementView,
        crate::rest_cluster::ShardEventView,
        crate::rest_cluster::ShardEventList,
        crate::rest_browse::BrowseFrom,
        crate::rest_browse::RecordView,
        crate::rest_browse::RecordPage,
        crate::rest_browse::ConsumerView,
        crate::rest_browse::ConsumerList,
        crate::rest_security::TokenRequest,
        crate::rest_security::TokenView,
        crate::rest_security::RotateView,
        crate::rest_security::BindingView,
        crate::rest_security::PrincipalView,
        crate::rest_security::CreatePrincipalBody,
        crate::rest_security::BindingsBody,
        crate::rest_security::NewKeyView,
        crate::rest_security::PrincipalList,
        crate::rest_security::AuditList,
        crate::rest_security::AuditEventView
    ))
)]
pub struct ApiDoc;

/// The OpenAPI document as pretty JSON, as committed in `openapi/`.
pub fn openapi_json() -> String {
    let mut doc = ApiDoc::openapi();
    crate::rest_envelope::document_errors(&mut doc);
    let mut text = doc.to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// Builds the `/v1` router (with the web console at `/`).
pub fn router(control_plane: Arc<ControlPlane>) -> Router {
    Router::new()
        .route("/v1/streams", get(list_streams).post(create_stream))
        .route("/v1/streams/{name}", get(get_stream).delete(delete_stream))
        .route("/v1/streams/{name}/retention", put(set_retention))
        .route("/v1/streams/{name}/tags", get(get_tags).put(add_tags))
        .route("/v1/streams/{name}/tags/{key}", delete(remove_tag))
        .route("/v1/streams/{name}/shards", get(list_shards))
        .route(
            "/v1/streams/{name}/shard-limits",
            get(crate::rest_capacity::get_shard_limits)
                .put(crate::rest_capacity::set_shard_limits)
                .delete(crate::rest_capacity::clear_shard_limits),
        )
        .route(
            "/v1/streams/{name}/shard-count",
            put(crate::rest_capacity::set_shard_count),
        )
        .route(
            "/v1/streams/{name}/mode",
            put(crate::rest_capacity::set_mode),
        )
        .route(
            "/v1/streams/{name}/scaling-events",
            get(crate::rest_capacity::scaling_events),
        )
        .route(
            "/v1/streams/{name}/tiering",
            get(crate::rest_tiering::get_tiering).put(crate::rest_tiering::set_tiering),
        )
        .route(
            "/v1/streams/{name}/shards/{shard_id}/segments",
            get(crate::rest_tiering::list_segments),
        )
        .route(
            "/v1/streams/{name}/shards/{shard_id}/move",
            axum::routing::post(crate::rest_tiering::move_shard),
        )
        .route(
            "/v1/streams/{name}/shards/{shard_id}/events",
            get(crate::rest_cluster::shard_events),
        )
        .route(
            "/v1/streams/{name}/consumers",
            get(crate::rest_browse::list_consumers),
        )
        .route(
            "/v1/streams/{name}/shards/{shard_id}/records",
            get(crate::rest_browse::browse_records),
        )
        .route(
            "/v1/streams/{name}/placement",
            get(crate::rest_cluster::placement),
        )
        .route("/v1/nodes", get(crate::rest_cluster::list_nodes))
        .route("/v1/nodes/pool", get(crate::rest_cluster::node_pool))
        .route(
            "/v1/nodes/{id}/drain",
            axum::routing::post(crate::rest_cluster::drain_node)
                .delete(crate::rest_cluster::undrain_node),
        )
        .route(
            "/v1/auth/token",
            axum::routing::post(crate::rest_security::token),
        )
        .route(
            "/v1/auth/rotate",
            axum::routing::post(crate::rest_security::rotate),
        )
        .route(
            "/v1/principals",
            get(crate::rest_security::list_principals).post(crate::rest_security::create_principal),
        )
        .route(
            "/v1/principals/{name}",
            delete(crate::rest_security::delete_principal),
        )
        .route(
            "/v1/principals/{name}/bindings",
            put(crate::rest_security::set_bindings),
        )
        .route(
            "/v1/principals/{name}/keys",
            axum::routing::post(crate::rest_security::create_key),
        )
        .route(
            "/v1/principals/{name}/keys/{key_id}",
            delete(crate::rest_security::delete_key),
        )
        .route("/v1/audit", get(crate::rest_security::audit))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readiness))
        .route("/metrics", get(crate::telemetry::metrics))
        .route(
            "/v1/streams/{name}/metrics",
            get(crate::telemetry::stream_metrics),
        )
        .route(
            "/openapi.json",
            get(|| async { ([("content-type", "application/json")], openapi_json()) }),
        )
        .merge(crate::console::routes())
        .layer(axum::middleware::from_fn(
            crate::rest_envelope::object_bodies,
        ))
        .layer(axum::middleware::from_fn(crate::rest_envelope::json_errors))
        .with_state(control_plane)
}

/// Body of a create request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStreamBody {
    /// 1-128 of `[a-zA-Z0-9_.-]`.
    #[schema(pattern = "^[a-zA-Z0-9_.-]+$", min_length = 1, max_length = 128)]
    pub name: String,
    /// Shards for a provisioned stream (within the account's shard limit).
    #[schema(minimum = 1, maximum = 10000)]
    pub shard_count: Option<u32>,
    /// `PROVISIONED` or `ON_DEMAND`; on-demand when neither this nor `shard_count` is set.
    #[schema(value_type = Option<StreamModeName>)]
    pub mode: Option<String>,
    /// 24-8760; 24 by default.
    #[schema(minimum = 24, maximum = 8760)]
    pub retention_hours: Option<u32>,
    /// Initial tags.
    #[serde(default)]
    #[schema(schema_with = crate::rest_envelope::tag_map)]
    pub tags: BTreeMap<String, String>,
    /// Replicas per shard, 1-5 (cluster mode); the cluster default (3, capped by the
    /// number of nodes) when absent.
    #[schema(minimum = 1, maximum = 5)]
    pub replication_factor: Option<u32>,
    /// The stream's own per-shard throughput limits; the deployment's default
    /// (`--shard-limits`) when absent.
    pub shard_limits: Option<crate::rest_capacity::ShardLimitsBody>,
}

/// A stream as the REST API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StreamView {
    /// Stream name.
    pub name: String,
    /// Stream ARN (what Kinesis clients may pass as StreamARN).
    pub arn: String,
    /// CREATING, ACTIVE, UPDATING or DELETING.
    pub status: String,
    /// PROVISIONED or ON_DEMAND.
    pub mode: String,
    /// Retention in hours.
    pub retention_hours: u32,
    /// Creation time, epoch milliseconds.
    pub created_at_ms: i64,
    /// Shards taking writes.
    pub open_shard_count: usize,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Changes on every modification.
    pub version: i64,
    /// Replicas per shard; 0 means the cluster default.
    pub replication_factor: u32,
    /// The KeyId new records are encrypted under (StartStreamEncryption); absent while
    /// records are written in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_id: Option<String>,
}

/// A page of streams.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StreamList {
    /// Streams in name order.
    pub streams: Vec<StreamView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
}

/// A shard with its lineage.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShardView {
    /// `shardId-` and twelve digits.
    pub shard_id: String,
    /// Parent of a split or merge.
    pub parent_shard_id: Option<String>,
    /// Second parent of a merge.
    pub adjacent_parent_shard_id: Option<String>,
    /// First hash key, decimal.
    pub starting_hash_key: String,
    /// Last hash key, decimal.
    pub ending_hash_key: String,
    /// First sequence number the shard can hold.
    pub starting_sequence_number: String,
    /// Set once the shard is closed.
    pub ending_sequence_number: Option<String>,
    /// Whether the shard takes writes.
    pub open: bool,
}

/// The shards of a stream.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShardList {
    /// Every shard, open and closed, in id order.
    pub shards: Vec<ShardView>,
}

/// New retention.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// 24-8760.
    #[schema(minimum = 24, maximum = 8760)]
    pub retention_hours: u32,
}

/// Tags of a stream.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    /// Key to value.
    #[schema(schema_with = crate::rest_envelope::tag_map)]
    pub tags: BTreeMap<String, String>,
}

/// A stream's capacity mode.
#[derive(Debug, ToSchema)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub enum StreamModeName {
    /// Shards set by the user.
    PROVISIONED,
    /// Shards follow the load.
    ON_DEMAND,
}

/// Every error the REST API answers with.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// Error code and message.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: the Kinesis exception name without `Exception`.
    pub code: String,
    /// Human-readable explanation, saying what to do next where possible.
    pub message: String,
}

/// Query of the list endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Page size, 1-1000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Return streams after this name.
    pub after: Option<String>,
}

/// A REST error: a control-plane error or a bad request body.
pub struct ApiError(pub(crate) ControlPlaneError);

impl From<ControlPlaneError> for ApiError {
    fn from(error: ControlPlaneError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            ControlPlaneError::Validation(_)
            | ControlPlaneError::InvalidArgument(_)
            | ControlPlaneError::NotSupported(_) => StatusCode::BAD_REQUEST,
            ControlPlaneError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlPlaneError::InUse(_) => StatusCode::CONFLICT,
            ControlPlaneError::LimitExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            ControlPlaneError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ControlPlaneError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status.is_server_error() {
            tracing::error!(error = %self.0, "control plane request failed");
        }
        let code = self
            .0
            .kinesis_type()
            .trim_end_matches("Exception")
            .to_string();
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.0.to_string(),
            },
        };
        (status, Json(body)).into_response()
    }
}

pub(crate) fn view(control_plane: &ControlPlane, stream: &StreamRecord) -> StreamView {
    StreamView {
        name: stream.name.clone(),
        arn: control_plane.arn(&stream.name),
        status: stream.status.as_str().to_string(),
        mode: stream.mode.as_str().to_string(),
        retention_hours: stream.retention_hours,
        created_at_ms: stream.created_at_ms,
        open_shard_count: stream.open_shards().count(),
        tags: stream.tags.clone(),
        version: stream.version,
        replication_factor: stream.replication_factor,
        encryption_key_id: stream.encryption.as_ref().map(|e| e.key_id.clone()),
    }
}

/// Parses a JSON body, turning rejections into the API's error shape.
pub(crate) fn body<T>(
    payload: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    payload.map(|Json(v)| v).map_err(|rejection| {
        ApiError(ControlPlaneError::InvalidArgument(format!(
            "Invalid request body: {}",
            rejection.body_text()
        )))
    })
}

/// Create a stream.
#[utoipa::path(post, path = "/v1/streams", request_body = CreateStreamBody,
    responses((status = 201, body = StreamView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_stream(
    State(cp): State<Arc<ControlPlane>>,
    payload: Result<Json<CreateStreamBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<StreamView>), ApiError> {
    let request = body(payload)?;
    let mode = match request.mode.as_deref() {
        None => None,
        Some(text) => Some(StreamMode::parse(text).ok_or_else(|| {
            ControlPlaneError::InvalidArgument(format!(
                "Unknown mode '{text}': use PROVISIONED or ON_DEMAND."
            ))
        })?),
    };
    let stream = cp
        .create_stream(CreateStream {
            name: request.name,
            shard_count: request.shard_count,
            mode,
            retention_hours: request.retention_hours,
            tags: request.tags,
            replication_factor: request.replication_factor,
            shard_limits: request
                .shard_limits
                .map(crate::rest_capacity::ShardLimitsBody::checked)
                .transpose()?,
            max_record_size_kib: None,
            warm_throughput_mibps: None,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view(&cp, &stream))))
}

/// List streams, a page at a time.
#[utoipa::path(get, path = "/v1/streams", params(ListQuery), responses((status = 200, body = StreamList)))]
async fn list_streams(
    State(cp): State<Arc<ControlPlane>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<StreamList>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ControlPlaneError::InvalidArgument(format!(
            "limit must be between 1 and 1000, got {limit}."
        ))
        .into());
    }
    let (page, more) = cp.list_streams(query.after.as_deref(), limit);
    let next = more.then(|| page.last().map(|s| s.name.clone())).flatten();
    Ok(Json(StreamList {
        streams: page.iter().map(|s| view(&cp, s)).collect(),
        next,
    }))
}

/// Get one stream.
#[utoipa::path(get, path = "/v1/streams/{name}", params(("name" = String, Path)),
    responses((status = 200, body = StreamView), (status = 404, body = ErrorBody)))]
async fn get_stream(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<Json<StreamView>, ApiError> {
    let stream = cp.stream(&name)?;
    Ok(Json(view(&cp, &stream)))
}

/// Delete a stream and all its data.
#[utoipa::path(delete, path = "/v1/streams/{name}", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_stream(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    cp.delete_stream(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set retention (24-8760 hours).
#[utoipa::path(put, path = "/v1/streams/{name}/retention", params(("name" = String, Path)), request_body = RetentionBody,
    responses((status = 200, body = StreamView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_retention(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
    payload: Result<Json<RetentionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<StreamView>, ApiError> {
    let request = body(payload)?;
    let stream = cp
        .update_retention(&name, request.retention_hours, RetentionChange::Set)
        .await?;
    Ok(Json(view(&cp, &stream)))
}

/// Get a stream's tags.
#[utoipa::path(get, path = "/v1/streams/{name}/tags", params(("name" = String, Path)),
    responses((status = 200, body = TagsBody), (status = 404, body = ErrorBody)))]
async fn get_tags(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<Json<TagsBody>, ApiError> {
    Ok(Json(TagsBody {
        tags: cp.stream(&name)?.tags.clone(),
    }))
}

/// Add or overwrite tags.
#[utoipa::path(put, path = "/v1/streams/{name}/tags", params(("name" = String, Path)), request_body = TagsBody,
    responses((status = 200, body = TagsBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_tags(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
    payload: Result<Json<TagsBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<TagsBody>, ApiError> {
    let request = body(payload)?;
    let stream = cp.add_tags(&name, request.tags).await?;
    Ok(Json(TagsBody {
        tags: stream.tags.clone(),
    }))
}

/// Remove one tag.
#[utoipa::path(delete, path = "/v1/streams/{name}/tags/{key}", params(("name" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = TagsBody), (status = 404, body = ErrorBody)))]
async fn remove_tag(
    State(cp): State<Arc<ControlPlane>>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Json<TagsBody>, ApiError> {
    let stream = cp.remove_tags(&name, vec![key]).await?;
    Ok(Json(TagsBody {
        tags: stream.tags.clone(),
    }))
}

/// List a stream's shards with lineage and hash ranges.
#[utoipa::path(get, path = "/v1/streams/{name}/shards", params(("name" = String, Path)),
    responses((status = 200, body = ShardList), (status = 404, body = ErrorBody)))]
async fn list_shards(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<Json<ShardList>, ApiError> {
    let stream = cp.stream(&name)?;
    let shards = stream
        .shards
        .iter()
        .map(|s| ShardView {
            shard_id: shard_id(s.ordinal),
            parent_shard_id: s.parent.map(shard_id),
            adjacent_parent_shard_id: s.adjacent_parent.map(shard_id),
            starting_hash_key: s.hash_range.start.to_string(),
            ending_hash_key: s.hash_range.end.to_string(),
            starting_sequence_number: SequenceNumber::new(s.ordinal, 0).to_string(),
            ending_sequence_number: s
                .ending_offset
                .map(|end| SequenceNumber::new(s.ordinal, end.saturating_sub(1)).to_string()),
            open: s.is_open(),
        })
        .collect();
    Ok(Json(ShardList { shards }))
}

/// `/readyz`: ready while the metadata store answers (a control plane without its store
/// can change nothing).
async fn readiness(State(cp): State<Arc<ControlPlane>>) -> (StatusCode, String) {
    match cp.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready".into()),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the metadata store does not answer ({error})"),
        ),
    }
}
