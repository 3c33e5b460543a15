//! Record operations, the write side: routing, appends (PutRecord, PutRecords) and the
//! retry rules shared with reads ([`super::reads`]).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_contracts::{StreamRecord, StreamStatus};
use weir_core::{shard_id, SequenceNumber, Violations};
use weir_storage::NewRecord;

use super::routing::{placement_hash, route};
use super::stream_for;
use crate::error::KinesisError;
use crate::gateway::{DataPlane, Located};
use crate::protocol::Blob;
use crate::shards::WriteError;

/// Whether a failed attempt should be routed again.
enum Retry {
    /// Placement or layout is changing: refresh and route again.
    Yes,
    /// A real failure.
    No(KinesisError),
}

/// Node-to-node failures that stored nothing (stale routing, a lost node, an expired
/// lease, no leader yet) clear up once placement settles, so the node that received the
/// client's request retries them. A failure after which the record may be stored is
/// returned to the client (which may retry, as with AWS) instead: a silent retry here
/// could store it twice. A node serving a forwarded request never retries: its caller
/// does.
fn retry_if_transient(plane: &DataPlane, error: KinesisError) -> Retry {
    match error {
        KinesisError::Unavailable(_) if plane.cluster().is_some() && !plane.is_forwarded() => {
            Retry::Yes
        }
        other => Retry::No(other),
    }
}

/// Returns `error` unless it is transient and there is time left, in which case it waits
/// for placement to settle so the caller can try again.
pub(crate) async fn wait_if_transient(
    plane: &DataPlane,
    error: KinesisError,
    deadline: tokio::time::Instant,
) -> Result<(), KinesisError> {
    match retry_if_transient(plane, error) {
        Retry::Yes if tokio::time::Instant::now() < deadline => {
            settle(plane).await;
            Ok(())
        }
        Retry::Yes => Err(KinesisError::Unavailable(
            "The shard stayed unavailable (node change in progress); retry.".into(),
        )),
        Retry::No(error) => Err(error),
    }
}

/// Splits one shard's part of a PutRecords into the records its write allowance admits
/// (kept in order) and the request positions of those it refuses.
#[allow(clippy::type_complexity)]
fn admit(
    meter: &crate::meter::ShardMeter,
    limits: &weir_contracts::ShardLimits,
    positions: Vec<(usize, u128)>,
    records: Vec<NewRecord>,
    now_ms: i64,
) -> (Vec<(usize, u128)>, Vec<NewRecord>, Vec<usize>) {
    let sizes: Vec<usize> = records
        .iter()
        .map(|r| r.data.len() + r.partition_key.len())
        .collect();
    let admitted = meter.admit_writes(limits, &sizes, now_ms);
    if admitted.iter().all(|ok| *ok) {
        return (positions, records, Vec::new());
    }
    let (mut kept_positions, mut kept_records, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    for ((position, record), ok) in positions.into_iter().zip(records).zip(admitted) {
        if ok {
            kept_positions.push(position);
            kept_records.push(record);
        } else {
            refused.push(position.0);
        }
    }
    (kept_positions, kept_records, refused)
}

/// Whether `seq` matches the model's sequence-number pattern `0|([1-9]\d{0,128})`.
pub(crate) fn matches_sequence_pattern(seq: &str) -> bool {
    seq == "0"
        || (seq.bytes().all(|b| b.is_ascii_digit())
            && !seq.starts_with('0')
            && (1..=129).contains(&seq.len()))
}

/// Kinesis's answer when a shard's write (or read) allowance is spent.
pub(super) fn throttled(plane: &DataPlane, stream: &StreamRecord, ordinal: u64) -> KinesisError {
    KinesisError::throttled(
        &shard_id(ordinal),
        &stream.name,
        &plane.catalog.settings().account_id,
    )
}

/// Waits a moment and refreshes this node's view of placement and metadata.
async fn settle(plane: &DataPlane) {
    tokio::time::sleep(std::time::Duration::from_millis(
        if plane.cluster().is_some() { 100 } else { 10 },
    ))
    .await;
    if let Some(cluster) = plane.cluster() {
        let _ = cluster.heartbeat(&plane.metadata()).await;
    }
}

pub(crate) fn forwarder(plane: &DataPlane) -> Result<&crate::cluster::Cluster, KinesisError> {
    plane
        .cluster()
        .map(|c| c.as_ref())
        .ok_or_else(|| KinesisError::Internal("forwarding without a cluster".into()))
}

/// A forwarded PutRecord's answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ForwardedPut {
    shard_id: String,
    sequence_number: String,
}

/// A forwarded PutRecords' answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ForwardedPuts {
    records: Vec<PutRecordsResultEntry>,
}

/// A forwarded GetShardIterator's answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ForwardedIterator {
    pub(super) shard_iterator: String,
}

/// What became of one shard's part of a PutRecords.
enum Outcome {
    /// Appended here; the first record's position.
    Appended(u64),
    /// Appended by the node holding the shard; its per-record answers.
    Forwarded(Vec<PutRecordsResultEntry>),
    /// Route again after placement or layout settles.
    Retry,
    /// Not stored, but not retried here (a forwarded request: the caller retries).
    Unavailable(String),
    /// Failed for good.
    Failed(String),
    /// Every record was over the shard's throughput limit; nothing was written.
    Nothing,
}

/// One shard's part of a PutRecords: the shard, each record's (request position, hash key),
/// and the records themselves.
type ShardBatch = (u64, Vec<(usize, u128)>, Vec<NewRecord>);

/// How long a write waits for a reshard that closed its shard to publish the new layout.
pub(crate) const RESHARD_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Most records one PutRecords may carry.
pub const MAX_PUT_RECORDS: usize = 500;
/// Most bytes (data plus keys) one PutRecords may carry.
pub const MAX_PUT_RECORDS_BYTES: usize = 10 * 1024 * 1024;
/// Most records one GetRecords returns.
pub const MAX_GET_RECORDS: usize = 10_000;
/// Most payload bytes one GetRecords returns.
pub const MAX_GET_BYTES: usize = 10 * 1024 * 1024;

/// The model's pattern for ExplicitHashKey: `0|([1-9]\d{0,38})`.
fn explicit_hash_key_is_valid(hash: &str) -> bool {
    !hash.is_empty()
        && hash.len() <= 39
        && hash.bytes().all(|b| b.is_ascii_digit())
        && (hash == "0" || !hash.starts_with('0'))
}

/// Checks one record's members. `path` gives the member prefix (`""` or
/// `records.N.member.`); it is called only for a broken rule, because formatting the
/// paths of all 500 records of every PutRecords cost more than the checks themselves.
fn check_record(
    violations: &mut Violations,
    path: impl Fn() -> String,
    data: &Option<Blob>,
    key: &Option<String>,
    explicit: &Option<String>,
    max_record_bytes: usize,
) {
    let field = |member: &str| format!("{}{member}", path());
    if data.is_none() {
        violations.required(data, &field("data"));
    }
    match key {
        None => violations.required(key, &field("partitionKey")),
        Some(key) if !(1..=256).contains(&key.chars().count()) => {
            violations.length(key, &field("partitionKey"), 1, 256)
        }
        Some(_) => {}
    }
    if let Some(data) = data {
        let total = data.0.len() + key.as_ref().map_or(0, String::len);
        if total > max_record_bytes {
            let len = data.0.len();
            violations.push(
                Some(&format!(
                    "java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]"
                )),
                &field("data"),
                &format!("have length less than or equal to {max_record_bytes}"),
            );
        }
    }
    if let Some(hash) = explicit
        .as_deref()
        .filter(|h| !explicit_hash_key_is_valid(h))
    {
        violations.pattern(hash, &field("explicitHashKey"), false, "0|([1-9]\\d{0,38})");
    }
}

/// Kinesis takes writes only while a stream is ACTIVE or UPDATING; a stream still
/// CREATING (or DELETING) answers as if it did not exist.
fn writable(plane: &DataPlane, stream: &StreamRecord) -> Result<(), KinesisError> {
    match stream.status {
        StreamStatus::Active | StreamStatus::Updating => Ok(()),
        StreamStatus::Creating | StreamStatus::Deleting => {
            Err(plane.catalog.not_found(&stream.name).into())
        }
    }
}

/// Each record against the stream's own largest record (MaxRecordSizeInKiB), in the
/// words of the model's length constraint. `(member path, data bytes, key bytes)`.
fn check_sizes(
    stream: &StreamRecord,
    records: impl Iterator<Item = (String, usize, usize)>,
) -> Result<(), KinesisError> {
    let max = stream.max_record_size_kib as usize * 1024;
    let mut violations = Violations::new();
    for (path, data, key) in records {
        if data + key > max {
            violations.push(
                Some(&format!(
                    "java.nio.HeapByteBuffer[pos=0 lim={data} cap={data}]"
                )),
                &format!("{path}data"),
                &format!("have length less than or equal to {max}"),
            );
        }
    }
    KinesisError::validation(violations)
}

/// What PutRecord(s) report: KMS while the stream encrypts new records.
fn encryption_type(stream: &StreamRecord) -> &'static str {
    if stream.encryption.is_some() {
        "KMS"
    } else {
        "NONE"
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    data: Option<Blob>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
    sequence_number_for_ordering: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordOutput {
    shard_id: String,
    sequence_number: String,
    encryption_type: &'static str,
}

pub async fn put_record(
    plane: &DataPlane,
    req: PutRecordInput,
) -> Result<PutRecordOutput, KinesisError> {
    let mut violations = Violations::new();
    check_record(
        &mut violations,
        String::new,
        &req.data,
        &req.partition_key,
        &req.explicit_hash_key,
        plane.config.max_record_bytes,
    );
    if let Some(seq) = &req.sequence_number_for_ordering {
        // The model's pattern only: a sequence number from AWS (56 digits) or any other
        // well-formed one is accepted, as Kinesis accepts it.
        let ok = matches_sequence_pattern(seq);
        violations.pattern(seq, "sequenceNumberForOrdering", ok, "0|([1-9]\\d{0,128})");
    }
    let stream = stream_for(plane, &stream_ref!(req), violations)?;
    writable(plane, &stream)?;
    check_sizes(
        &stream,
        std::iter::once((
            String::new(),
            req.data.as_ref().map_or(0, |d| d.0.len()),
            req.partition_key.as_ref().map_or(0, String::len),
        )),
    )?;
    let key = req.partition_key.unwrap_or_default();
    let hash = placement_hash(plane, &stream, &key, req.explicit_hash_key.as_deref())?;
    let record = NewRecord {
        partition_key: key,
        data: req.data.unwrap_or_default().0,
    };
    let mut stream = stream;
    let deadline = tokio::time::Instant::now() + RESHARD_WAIT;
    let (ordinal, position) = loop {
        let ordinal = route(&stream, hash)?.ordinal;
        let attempt = match plane.locate(stream.uid, ordinal).await {
            Ok(Located::Local(log)) => {
                let now = plane.clock.now_ms();
                let limits = plane.catalog.shard_limits(&stream);
                let size = record.data.len() + record.partition_key.len();
                if !log.meter.admit_writes(&limits, &[size], now)[0] {
                    return Err(throttled(plane, &stream, ordinal));
                }
                let stored = plane
                    .record_keys
                    .seal_off_runtime(&stream, vec![record.clone()])
                    .await?;
                log.append(stored, now)
                    .await
                    .map(|ack| {
                        log.meter.wrote(1, size as u64);
                        (ordinal, log.position(ack.base_offset))
                    })
                    .map_err(|error| match error {
                        // The shard closed under us: the record belongs to a child once the
                        // reshard is recorded. Wait for the new layout and route again.
                        WriteError::Sealed => Retry::Yes,
                        other => retry_if_transient(plane, other.into()),
                    })
            }
            Ok(Located::Remote(url, generation)) => {
                let body = serde_json::json!({
                    "StreamName": stream.name,
                    "PartitionKey": record.partition_key,
                    "Data": base64_simd::STANDARD.encode_to_string(&record.data),
                    "ExplicitHashKey": hash.to_string(),
                });
                match forwarder(plane)?
                    .forward::<ForwardedPut>(&url, "PutRecord", &body, generation)
                    .await
                {
                    Ok(answer) => {
                        return Ok(PutRecordOutput {
                            shard_id: answer.shard_id,
                            sequence_number: answer.sequence_number,
                            encryption_type: encryption_type(&stream),
                        })
                    }
                    Err(error) => Err(retry_if_transient(plane, error)),
                }
            }
            Err(error) => Err(retry_if_transient(plane, error)),
        };
        match attempt {
            Ok(done) => break done,
            Err(Retry::Yes) if tokio::time::Instant::now() < deadline => {
                settle(plane).await;
                stream = plane.catalog.stream(&stream.name)?;
            }
            Err(Retry::Yes) => {
                return Err(KinesisError::Unavailable(
                    "The shard stayed unavailable (reshard or node change in progress); retry."
                        .into(),
                ))
            }
            Err(Retry::No(error)) => return Err(error),
        }
    };
    let shard = stream
        .shard(ordinal)
        .ok_or_else(|| KinesisError::Internal("shard vanished".into()))?;
    Ok(PutRecordOutput {
        shard_id: shard_id(shard.ordinal),
        sequence_number: SequenceNumber::new(shard.ordinal, position).to_string(),
        encryption_type: encryption_type(&stream),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsEntry {
    data: Option<Blob>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    records: Option<Vec<PutRecordsEntry>>,
}

#[derive(Debug, Serialize, Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    /// Only between nodes: the record failed without being stored, so the forwarding
    /// node may route it again. Never sent to clients.
    #[serde(
        rename = "WeirRetrySafe",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    retry_safe: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsOutput {
    failed_record_count: usize,
    records: Vec<PutRecordsResultEntry>,
    encryption_type: &'static str,
}

pub async fn put_records(
    plane: &DataPlane,
    req: PutRecordsInput,
) -> Result<PutRecordsOutput, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.records, "records");
    if let Some(records) = &req.records {
        if records.is_empty() {
            violations.push(
                Some("[]"),
                "records",
                "have length greater than or equal to 1",
            );
        } else if records.len() > MAX_PUT_RECORDS {
            violations.push(
                Some(&format!("[{} records]", records.len())),
                "records",
                &format!("have length less than or equal to {MAX_PUT_RECORDS}"),
            );
        }
        for (i, r) in records.iter().enumerate() {
            check_record(
                &mut violations,
                || format!("records.{}.member.", i + 1),
                &r.data,
                &r.partition_key,
                &r.explicit_hash_key,
                plane.config.max_record_bytes,
            );
        }
    }
    let stream = stream_for(plane, &stream_ref!(req), violations)?;
    writable(plane, &stream)?;
    let entries = req.records.unwrap_or_default();
    check_sizes(
        &stream,
        entries.iter().enumerate().map(|(i, r)| {
            (
                format!("records.{}.member.", i + 1),
                r.data.as_ref().map_or(0, |d| d.0.len()),
                r.partition_key.as_ref().map_or(0, String::len),
            )
        }),
    )?;
    let total: usize = entries
        .iter()
        .map(|r| {
            r.data.as_ref().map_or(0, |d| d.0.len())
                + r.partition_key.as_ref().map_or(0, String::len)
        })
        .sum();
    if total > MAX_PUT_RECORDS_BYTES {
        return Err(KinesisError::InvalidArgument(format!(
            "Records size exceeds {} MiB limit",
            MAX_PUT_RECORDS_BYTES / (1024 * 1024)
        )));
    }
    // Hash every record before writing any, so a bad hash key fails the whole request.
    let mut pending: Vec<(usize, u128, NewRecord)> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let key = entry.partition_key.unwrap_or_default();
        let hash = placement_hash(plane, &stream, &key, entry.explicit_hash_key.as_deref())?;
        let record = NewRecord {
            partition_key: key,
            data: entry.data.unwrap_or_default().0,
        };
        pending.push((i, hash, record));
    }
    let mut results = vec![PutRecordsResultEntry::default(); pending.len()];
    let mut failed = 0;
    let mut stream = stream;
    let deadline = tokio::time::Instant::now() + RESHARD_WAIT;
    while !pending.is_empty() {
        let mut by_shard: Vec<ShardBatch> = Vec::new();
        for (position, hash, record) in pending.drain(..) {
            let ordinal = route(&stream, hash)?.ordinal;
            match by_shard.iter_mut().find(|(o, _, _)| *o == ordinal) {
                Some((_, positions, records)) => {
                    positions.push((position, hash));
                    records.push(record);
                }
                None => by_shard.push((ordinal, vec![(position, hash)], vec![record])),
            }
        }
        let now = plane.clock.now_ms();
        let retry_allowed = tokio::time::Instant::now() < deadline;
        let may_retry_transient = plane.cluster().is_some() && !plane.is_forwarded();
        // One append per shard, all shards concurrently; each is one group-committed batch.
        // Shards held by other nodes get one forwarded PutRecords each.
        let mut tasks = tokio::task::JoinSet::new();
        let limits = plane.catalog.shard_limits(&stream);
        for (ordinal, positions, records) in by_shard {
            let located = plane.locate(stream.uid, ordinal).await;
            let cluster = plane.cluster().cloned();
            let stream_name = stream.name.clone();
            let keys = Arc::clone(&plane.record_keys);
            let sealing = Arc::clone(&stream);
            tasks.spawn(async move {
                let (mut positions, mut records) = (positions, records);
                let mut refused = Vec::new();
                let outcome = match located {
                    Ok(Located::Local(log)) => {
                        (positions, records, refused) =
                            admit(&log.meter, &limits, positions, records, now);
                        let bytes: usize = records
                            .iter()
                            .map(|r| r.data.len() + r.partition_key.len())
                            .sum();
                        if records.is_empty() {
                            Outcome::Nothing
                        } else {
                            match keys.seal_off_runtime(&sealing, records.clone()).await {
                                Err(error) => Outcome::Failed(error.to_string()),
                                Ok(stored) => match log.append(stored, now).await {
                                    Ok(ack) => {
                                        log.meter.wrote(records.len() as u64, bytes as u64);
                                        Outcome::Appended(log.position(ack.base_offset))
                                    }
                                    Err(WriteError::Sealed) => Outcome::Retry,
                                    Err(WriteError::Storage(
                                        weir_storage::StorageError::QueueFull,
                                    )) => {
                                        refused.extend(positions.drain(..).map(|(p, _)| p));
                                        records.clear();
                                        Outcome::Nothing
                                    }
                                    Err(WriteError::Unavailable(_)) if may_retry_transient => {
                                        Outcome::Retry
                                    }
                                    Err(WriteError::Unavailable(reason)) => {
                                        Outcome::Unavailable(reason)
                                    }
                                    Err(error) => {
                                        Outcome::Failed(KinesisError::from(error).to_string())
                                    }
                                },
                            }
                        }
                    }
                    Ok(Located::Remote(url, generation)) => {
                        let entries: Vec<serde_json::Value> = records
                            .iter()
                            .zip(&positions)
                            .map(|(r, (_, hash))| {
                                serde_json::json!({
                                    "PartitionKey": r.partition_key,
                                    "Data": base64_simd::STANDARD.encode_to_string(&r.data),
                                    "ExplicitHashKey": hash.to_string(),
                                })
                            })
                            .collect();
                        let body =
                            serde_json::json!({"StreamName": stream_name, "Records": entries});
                        match cluster {
                            Some(c) => match c
                                .forward::<ForwardedPuts>(&url, "PutRecords", &body, generation)
                                .await
                            {
                                Ok(answer) if answer.records.len() == records.len() => {
                                    Outcome::Forwarded(answer.records)
                                }
                                Ok(_) => Outcome::Failed(
                                    "forwarded PutRecords answered a different record count".into(),
                                ),
                                Err(KinesisError::Unavailable(_)) if may_retry_transient => {
                                    Outcome::Retry
                                }
                                Err(error) => Outcome::Failed(error.to_string()),
                            },
                            None => Outcome::Failed("forwarding without a cluster".into()),
                        }
                    }
                    Err(KinesisError::Unavailable(_)) if may_retry_transient => Outcome::Retry,
                    Err(KinesisError::Unavailable(reason)) => Outcome::Unavailable(reason),
                    Err(error) => Outcome::Failed(error.to_string()),
                };
                (ordinal, positions, records, outcome, refused)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (ordinal, positions, records, outcome, refused) =
                joined.map_err(|e| KinesisError::Internal(format!("append task failed: {e}")))?;
            if !refused.is_empty() {
                let message = throttled(plane, &stream, ordinal).to_string();
                failed += refused.len();
                for position in refused {
                    results[position] = PutRecordsResultEntry {
                        error_code: Some("ProvisionedThroughputExceededException".into()),
                        error_message: Some(message.clone()),
                        ..Default::default()
                    };
                }
            }
            match outcome {
                Outcome::Nothing => {}
                Outcome::Appended(first) => {
                    let id = shard_id(ordinal);
                    for (i, (position, _)) in positions.into_iter().enumerate() {
                        results[position] = PutRecordsResultEntry {
                            sequence_number: Some(
                                SequenceNumber::new(ordinal, first + i as u64).to_string(),
                            ),
                            shard_id: Some(id.clone()),
                            ..Default::default()
                        };
                    }
                }
                Outcome::Forwarded(entries) => {
                    for (((position, hash), record), entry) in
                        positions.into_iter().zip(records).zip(entries)
                    {
                        // The other node refuses when its view of placement is behind ours
                        // (or the shard moved again): route those records again.
                        if entry.error_code.is_some()
                            && entry.retry_safe
                            && retry_allowed
                            && may_retry_transient
                        {
                            pending.push((position, hash, record));
                            continue;
                        }
                        if entry.error_code.is_some() {
                            failed += 1;
                        }
                        results[position] = PutRecordsResultEntry {
                            retry_safe: false,
                            ..entry
                        };
                    }
                }
                // Closed by a reshard, or placement is changing: route these again.
                Outcome::Retry if retry_allowed => {
                    pending.extend(
                        positions
                            .into_iter()
                            .zip(records)
                            .map(|((p, h), r)| (p, h, r)),
                    );
                }
                Outcome::Retry | Outcome::Unavailable(_) | Outcome::Failed(_) => {
                    let retry_safe = !matches!(outcome, Outcome::Failed(_)) && plane.is_forwarded();
                    let reason = match &outcome {
                        Outcome::Failed(reason) | Outcome::Unavailable(reason) => reason.as_str(),
                        _ => "shard unavailable",
                    };
                    tracing::error!(stream = %stream.name, shard = ordinal, %reason, "append failed");
                    failed += positions.len();
                    for (position, _) in positions {
                        results[position] = PutRecordsResultEntry {
                            error_code: Some("InternalFailure".into()),
                            error_message: Some("Internal service failure.".into()),
                            retry_safe,
                            ..Default::default()
                        };
                    }
                }
            }
        }
        if !pending.is_empty() {
            pending.sort_by_key(|(position, _, _)| *position);
            settle(plane).await;
            stream = plane.catalog.stream(&stream.name)?;
        }
    }
    Ok(PutRecordsOutput {
        failed_record_count: failed,
        records: results,
        encryption_type: encryption_type(&stream),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The model's rules for one record, stated on their own.
    fn allowed_by_the_model(
        data: &Option<Blob>,
        key: &Option<String>,
        explicit: &Option<String>,
        max_record_bytes: usize,
    ) -> bool {
        let (Some(data), Some(key)) = (data, key) else {
            return false;
        };
        (1..=256).contains(&key.chars().count())
            && data.0.len() + key.len() <= max_record_bytes
            && explicit.as_deref().is_none_or(explicit_hash_key_is_valid)
    }

    proptest! {
        /// The check, which formats member paths only for broken rules, must pass exactly
        /// the records the model allows, or a bad record would be written (or a good one
        /// refused).
        #[test]
        fn record_check_passes_exactly_what_the_model_allows(
            data_len in proptest::option::of(0usize..1100),
            key in proptest::option::of("[a-z\u{e9}]{0,260}"),
            explicit in proptest::option::of("(0|[0-9]{0,41}|x1)"),
        ) {
            let data = data_len.map(|n| Blob(bytes::Bytes::from(vec![7u8; n])));
            let mut violations = Violations::new();
            check_record(&mut violations, || "records.1.member.".into(), &data, &key, &explicit, 1024);
            let passes = violations.into_result().is_ok();
            prop_assert_eq!(allowed_by_the_model(&data, &key, &explicit, 1024), passes);
        }
    }
}
