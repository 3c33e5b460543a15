//! Read-only views the web console needs beyond the rest of `/v1`: a shard's records and
//! a stream's registered consumers.
//!
//! Records are read the way any client reads them, with the Kinesis API
//! (GetShardIterator, then GetRecords) on the data plane: in a cluster on the node
//! leading the shard, with the internal token (the REST layer has already checked the
//! caller's `kinesis:GetRecords` permission, as a node does before it forwards); in one
//! process on the local Kinesis endpoint, signed with SigV4 as the caller when
//! authentication is on, so the data plane checks the same permission again.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::rest::{ApiError, ErrorBody, ErrorDetail};
use crate::rest_security::Caller;
use crate::{ControlPlane, ControlPlaneError};

/// The most records one browse answers with.
pub const MAX_BROWSE_RECORDS: u32 = 100;

/// GetRecords calls one browse makes at most while the reads come back empty but behind.
const MAX_EMPTY_READS: usize = 5;

const TARGET_PREFIX: &str = "Kinesis_20131202.";
const AMZ_JSON: &str = "application/x-amz-json-1.1";

/// How the control plane reaches the data plane to read records.
pub struct RecordReader {
    http: reqwest::Client,
    /// The cluster secret: reads go to each shard's leader with the internal token.
    secret: Option<Vec<u8>>,
    /// The Kinesis endpoint of the data plane in this process.
    local_url: Option<String>,
}

impl RecordReader {
    /// Reads from the nodes of a cluster, each shard on its leader; with `ca_pem`, over
    /// TLS trusting only that CA.
    pub fn cluster(secret: &str, ca_pem: Option<&[u8]>) -> Result<Self, String> {
        Ok(Self {
            http: crate::node_client::http_client(ca_pem)?,
            secret: Some(secret.as_bytes().to_vec()),
            local_url: None,
        })
    }

    /// Reads from the data plane in this process, served at `url` (its Kinesis endpoint).
    pub fn local(url: String, ca_pem: Option<&[u8]>) -> Result<Self, String> {
        Ok(Self {
            http: crate::node_client::http_client(ca_pem)?,
            secret: None,
            local_url: Some(url.trim_end_matches('/').to_string()),
        })
    }
}

/// Where to start reading.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub enum BrowseFrom {
    /// The oldest record kept.
    TRIM_HORIZON,
    /// Only records written after this call (usually none).
    LATEST,
    /// The record with `sequence`.
    AT_SEQUENCE_NUMBER,
    /// The record after `sequence` (to read on from a page's `last_sequence_number`).
    AFTER_SEQUENCE_NUMBER,
    /// The first record that arrived at or after `timestamp`.
    AT_TIMESTAMP,
}

impl BrowseFrom {
    fn as_str(self) -> &'static str {
        match self {
            Self::TRIM_HORIZON => "TRIM_HORIZON",
            Self::LATEST => "LATEST",
            Self::AT_SEQUENCE_NUMBER => "AT_SEQUENCE_NUMBER",
            Self::AFTER_SEQUENCE_NUMBER => "AFTER_SEQUENCE_NUMBER",
            Self::AT_TIMESTAMP => "AT_TIMESTAMP",
        }
    }
}

/// Query of a record browse.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrowseQuery {
    /// Where to start; TRIM_HORIZON by default.
    #[param(value_type = Option<BrowseFrom>)]
    pub from: Option<BrowseFrom>,
    /// The sequence number, with `from=AT_SEQUENCE_NUMBER` or `AFTER_SEQUENCE_NUMBER`.
    #[param(pattern = "^[0-9]{1,128}$")]
    pub sequence: Option<String>,
    /// Epoch milliseconds, with `from=AT_TIMESTAMP`.
    #[param(minimum = 0)]
    pub timestamp: Option<i64>,
    /// Records to return, 1-100 (10 by default).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// One record.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    /// Its sequence number.
    pub sequence_number: String,
    /// Its partition key.
    pub partition_key: String,
    /// Arrival time, epoch milliseconds.
    pub approximate_arrival_ms: i64,
    /// The payload, base64.
    pub data: String,
}

/// Records of one shard.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordPage {
    /// The shard.
    pub shard_id: String,
    /// Up to `limit` records, oldest first.
    pub records: Vec<RecordView>,
    /// How far the last read was behind the shard's tip, as GetRecords says.
    pub millis_behind_latest: Option<i64>,
    /// The last record's sequence number: read on with `from=AFTER_SEQUENCE_NUMBER` and
    /// this as `sequence`; absent when nothing was read.
    pub last_sequence_number: Option<String>,
}

/// A registered (enhanced fan-out) consumer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsumerView {
    /// Consumer name.
    pub name: String,
    /// Consumer ARN.
    pub arn: String,
    /// Always ACTIVE once registered.
    pub status: String,
    /// Registration time, epoch milliseconds.
    pub created_at_ms: i64,
}

/// A stream's consumers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsumerList {
    /// By name.
    pub consumers: Vec<ConsumerView>,
}

/// A stream's registered consumers.
#[utoipa::path(get, path = "/v1/streams/{name}/consumers", params(("name" = String, Path)),
    responses((status = 200, body = ConsumerList), (status = 404, body = ErrorBody)))]
pub async fn list_consumers(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<Json<ConsumerList>, ApiError> {
    let stream = cp.stream(&name)?;
    let consumers = stream
        .consumers
        .values()
        .map(|c| ConsumerView {
            name: c.name.clone(),
            arn: cp.consumer_arn(&name, c),
            status: "ACTIVE".into(),
            created_at_ms: c.created_at_ms,
        })
        .collect();
    Ok(Json(ConsumerList { consumers }))
}

/// Peek at a shard's records (at most 100), read through the data plane with the Kinesis
/// API. Needs the caller's `kinesis:GetRecords` permission on the stream.
#[utoipa::path(get, path = "/v1/streams/{name}/shards/{shard_id}/records",
    params(("name" = String, Path), ("shard_id" = String, Path), BrowseQuery),
    responses((status = 200, body = RecordPage), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn browse_records(
    State(cp): State<Arc<ControlPlane>>,
    Path((name, shard)): Path<(String, String)>,
    Query(query): Query<BrowseQuery>,
    caller: Option<Extension<Caller>>,
) -> Result<Json<RecordPage>, Refusal> {
    let fail = Refusal::Api;
    let limit = query.limit.unwrap_or(10);
    if !(1..=MAX_BROWSE_RECORDS).contains(&limit) {
        return Err(fail(ControlPlaneError::InvalidArgument(format!(
            "limit must be 1-{MAX_BROWSE_RECORDS}; got {limit}."
        ))));
    }
    // Checked whenever given, so a malformed value is refused rather than ignored.
    if let Some(sequence) = &query.sequence {
        if sequence.is_empty()
            || sequence.len() > 128
            || !sequence.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(fail(ControlPlaneError::InvalidArgument(format!(
                "sequence must be a sequence number (1-128 digits); got '{sequence}'."
            ))));
        }
    }
    if query.timestamp.is_some_and(|t| t < 0) {
        return Err(fail(ControlPlaneError::InvalidArgument(
            "timestamp must be epoch milliseconds, 0 or more.".into(),
        )));
    }
    let from = query.from.unwrap_or(BrowseFrom::TRIM_HORIZON);
    let mut start = serde_json::json!({
        "StreamName": name,
        "ShardId": shard,
        "ShardIteratorType": from.as_str(),
    });
    match from {
        BrowseFrom::AT_SEQUENCE_NUMBER | BrowseFrom::AFTER_SEQUENCE_NUMBER => {
            let sequence = query.sequence.ok_or_else(|| {
                fail(ControlPlaneError::InvalidArgument(format!(
                    "from={} needs sequence=<sequence number>.",
                    from.as_str()
                )))
            })?;
            start["StartingSequenceNumber"] = sequence.into();
        }
        BrowseFrom::AT_TIMESTAMP => {
            let at = query.timestamp.ok_or_else(|| {
                fail(ControlPlaneError::InvalidArgument(
                    "from=AT_TIMESTAMP needs timestamp=<epoch milliseconds>.".into(),
                ))
            })?;
            start["Timestamp"] = serde_json::json!(at as f64 / 1000.0);
        }
        _ => {}
    }
    let stream = cp.stream(&name).map_err(fail)?;
    let ordinal = weir_core::shard_ordinal(&shard)
        .filter(|o| stream.shard(*o).is_some())
        .ok_or_else(|| {
            fail(ControlPlaneError::NotFound(format!(
                "Shard {shard} in stream {name} under account {} not found.",
                cp.config().account_id
            )))
        })?;
    let reader = cp.record_reader.get().cloned().ok_or_else(|| {
        fail(ControlPlaneError::Unavailable(
            "This deployment has no data plane the control plane can read records from.".into(),
        ))
    })?;
    let url = endpoint(&cp, &reader, stream.uid, ordinal).map_err(fail)?;
    let signer = signer(&cp, &reader, caller.map(|c| c.0 .0))?;
    let call = |target: &'static str, body: serde_json::Value| {
        call_kinesis(&reader, &url, &signer, target, body)
    };
    let answer = call("GetShardIterator", start).await?;
    let mut iterator = answer["ShardIterator"].as_str().map(str::to_string);
    let mut records = Vec::new();
    let mut behind = None;
    let mut reads = 0;
    while let Some(current) = iterator.take() {
        reads += 1;
        let left = limit as usize - records.len();
        let answer = call(
            "GetRecords",
            serde_json::json!({"ShardIterator": current, "Limit": left}),
        )
        .await?;
        behind = answer["MillisBehindLatest"].as_i64();
        let page = answer["Records"].as_array().cloned().unwrap_or_default();
        let empty = page.is_empty();
        records.extend(page.iter().map(|r| {
            RecordView {
                sequence_number: r["SequenceNumber"].as_str().unwrap_or_default().into(),
                partition_key: r["PartitionKey"].as_str().unwrap_or_default().into(),
                approximate_arrival_ms: r["ApproximateArrivalTimestamp"]
                    .as_f64()
                    .map_or(0, |s| (s * 1000.0).round() as i64),
                data: r["Data"].as_str().unwrap_or_default().into(),
            }
        }));
        let caught_up = behind.is_none_or(|b| b == 0) && empty;
        if records.len() >= limit as usize || caught_up || (empty && reads >= MAX_EMPTY_READS) {
            break;
        }
        iterator = answer["NextShardIterator"].as_str().map(str::to_string);
    }
    Ok(Json(RecordPage {
        shard_id: shard,
        last_sequence_number: records.last().map(|r| r.sequence_number.clone()),
        records,
        millis_behind_latest: behind,
    }))
}

/// The Kinesis endpoint to read a shard from.
fn endpoint(
    cp: &ControlPlane,
    reader: &RecordReader,
    uid: i64,
    ordinal: u64,
) -> Result<String, ControlPlaneError> {
    if let Some(url) = &reader.local_url {
        return Ok(url.clone());
    }
    if let Some((node, _)) = cp.owner(uid, ordinal) {
        return Ok(node.url);
    }
    // A closed shard may have no leader any more; any live node forwards or answers.
    cp.nodes_view()
        .into_iter()
        .find(|n| n.live)
        .map(|n| n.url)
        .ok_or_else(|| {
            ControlPlaneError::Unavailable(
                "No data-plane node is live to read the shard from; retry shortly.".into(),
            )
        })
}

/// How a call to the data plane proves who it is for.
enum Signer {
    /// No authentication on this deployment.
    None,
    /// A cluster's internal token (the caller was authorized here).
    Internal(Vec<u8>),
    /// SigV4 with one of the caller's own access keys.
    SigV4 {
        access_key_id: String,
        secret: String,
        region: String,
    },
}

fn signer(
    cp: &ControlPlane,
    reader: &RecordReader,
    caller: Option<String>,
) -> Result<Signer, Refusal> {
    if let Some(secret) = &reader.secret {
        return Ok(Signer::Internal(secret.clone()));
    }
    let Some(security) = cp.security() else {
        return Ok(Signer::None);
    };
    let principal = caller.unwrap_or_default();
    let access = security.access();
    let key = access
        .key_ids(&principal)
        .into_iter()
        .find_map(|id| access.credential(&id).map(|c| (id, c)));
    let Some((access_key_id, credential)) = key else {
        return Err(Refusal::Other(
            StatusCode::FORBIDDEN,
            "AccessDenied".into(),
            format!("{principal} has no access key to read records with: records are read through the Kinesis API as the caller. Create a key with POST /v1/principals/{principal}/keys."),
        ));
    };
    Ok(Signer::SigV4 {
        access_key_id,
        secret: credential.secret_access_key.expose().to_string(),
        region: cp.config().region.clone(),
    })
}

/// Why a browse was refused: a control-plane error, or the data plane's answer.
pub enum Refusal {
    /// Refused here.
    Api(ControlPlaneError),
    /// Refused by the data plane (or it could not be reached): status, code, message.
    Other(StatusCode, String, String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Api(error) => ApiError(error).into_response(),
            Self::Other(status, code, message) => {
                let body = ErrorBody {
                    error: ErrorDetail { code, message },
                };
                (status, Json(body)).into_response()
            }
        }
    }
}

async fn call_kinesis(
    reader: &RecordReader,
    url: &str,
    signer: &Signer,
    operation: &'static str,
    body: serde_json::Value,
) -> Result<serde_json::Value, Refusal> {
    let target = format!("{TARGET_PREFIX}{operation}");
    let body = body.to_string().into_bytes();
    let mut request = reader
        .http
        .post(format!("{url}/"))
        .header("content-type", AMZ_JSON)
        .header("x-amz-target", &target)
        .headers(weir_trace::inject())
        .timeout(Duration::from_secs(10));
    match signer {
        Signer::None => {}
        Signer::Internal(secret) => {
            request = request.header(
                weir_auth::INTERNAL_HEADER,
                weir_auth::internal_token(secret, SystemTime::now()),
            );
        }
        Signer::SigV4 {
            access_key_id,
            secret,
            region,
        } => {
            let host = url
                .split_once("://")
                .map_or(url, |(_, rest)| rest)
                .trim_end_matches('/');
            let headers = crate::sigv4_sign::sign(
                &crate::sigv4_sign::Request {
                    host,
                    target: &target,
                    content_type: AMZ_JSON,
                    body: &body,
                },
                access_key_id,
                secret,
                region,
                SystemTime::now(),
            );
            for (name, value) in headers {
                request = request.header(name, value);
            }
        }
    }
    let unreachable = |e: reqwest::Error| {
        Refusal::Other(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable".into(),
            format!("Could not read from the data plane at {url}: {e}. Retry shortly."),
        )
    };
    let response = request.body(body).send().await.map_err(unreachable)?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await.map_err(unreachable)?;
    if status.is_success() {
        return Ok(answer);
    }
    // Kinesis errors keep their meaning: bad input 400, unknown 404, refused 403, ...
    let kind = answer["__type"]
        .as_str()
        .unwrap_or("InternalFailure")
        .rsplit('#')
        .next()
        .unwrap_or_default()
        .trim_end_matches("Exception")
        .to_string();
    let message = answer["message"]
        .as_str()
        .or_else(|| answer["Message"].as_str())
        .unwrap_or("The data plane refused the read.")
        .to_string();
    let status = match kind.as_str() {
        "ResourceNotFound" => StatusCode::NOT_FOUND,
        "AccessDenied" | "UnrecognizedClient" | "InvalidSignature" => StatusCode::FORBIDDEN,
        "ProvisionedThroughputExceeded" | "LimitExceeded" => StatusCode::TOO_MANY_REQUESTS,
        _ if status.is_server_error() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    Err(Refusal::Other(status, kind, message))
}

/// Seconds since the epoch, for signatures.
pub(crate) fn unix_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
