//! Record operations, the read side: GetShardIterator and GetRecords, served by the
//! shard's leader (forwarded there from any node), up to the commit point.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_contracts::StreamStatus;
use weir_core::{shard_id, shard_ordinal, SequenceNumber, Violations};

use super::records::{
    forwarder, wait_if_transient, ForwardedIterator, MAX_GET_BYTES, MAX_GET_RECORDS, RESHARD_WAIT,
};
use crate::error::KinesisError;
use crate::gateway::{DataPlane, Located};
use crate::iterator::{ShardIterator, ITERATOR_TTL_MS};
use crate::protocol::{Blob, Timestamp};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_id: Option<String>,
    shard_iterator_type: Option<String>,
    starting_sequence_number: Option<String>,
    timestamp: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorOutput {
    shard_iterator: String,
}

pub async fn get_shard_iterator(
    plane: &DataPlane,
    req: GetShardIteratorInput,
) -> Result<GetShardIteratorOutput, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.shard_id, "shardId");
    violations.required(&req.shard_iterator_type, "shardIteratorType");
    if let Some(id) = &req.shard_id {
        violations.stream_name(id, "shardId");
    }
    check_start(
        &mut violations,
        req.shard_iterator_type.as_deref(),
        "shardIteratorType",
        req.starting_sequence_number.as_deref(),
        "startingSequenceNumber",
    );
    let selector = stream_ref!(req);
    let name = selector.check(&mut violations);
    KinesisError::validation(violations)?;
    let name = selector.resolve(name)?;
    let kind = req.shard_iterator_type.clone().unwrap_or_default();
    let conflict = match (kind.as_str(), req.starting_sequence_number.is_some()) {
        ("TRIM_HORIZON" | "LATEST", true) => Some("also a"),
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", false) => Some("no"),
        _ => None,
    };
    if let Some(specified) = conflict {
        return Err(KinesisError::InvalidArgument(format!(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or \
             (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and {specified} \
             StartingSequenceNumber."
        )));
    }
    // Kinesis reads the shard id before it looks the stream up, and names the shard by
    // its normalised id from then on.
    let id = req.shard_id.unwrap_or_default();
    let account = plane.catalog.settings().account_id;
    let ordinal = shard_ordinal(&id).ok_or_else(|| {
        KinesisError::ResourceNotFound(format!(
            "Could not find shard {id} in stream {name} under account {account}."
        ))
    })?;
    let does_not_exist = || shard_does_not_exist(plane, &name, ordinal);
    let stream = plane
        .catalog
        .get(&name)
        .filter(|stream| readable(stream))
        .ok_or_else(does_not_exist)?;
    let shard = stream.shard(ordinal).ok_or_else(does_not_exist)?;
    let deadline = tokio::time::Instant::now() + RESHARD_WAIT;
    let log = loop {
        let error = match plane.locate(stream.uid, shard.ordinal).await {
            Ok(Located::Local(log)) => break log,
            Ok(Located::Remote(url, generation)) => {
                let mut body = serde_json::json!({
                    "StreamName": stream.name,
                    "ShardId": shard_id(shard.ordinal),
                    "ShardIteratorType": req.shard_iterator_type,
                });
                if let Some(seq) = &req.starting_sequence_number {
                    body["StartingSequenceNumber"] = seq.clone().into();
                }
                if let Some(at) = req.timestamp {
                    body["Timestamp"] = serde_json::to_value(at).unwrap_or_default();
                }
                match forwarder(plane)?
                    .forward::<ForwardedIterator>(&url, "GetShardIterator", &body, generation)
                    .await
                {
                    Ok(answer) => {
                        return Ok(GetShardIteratorOutput {
                            shard_iterator: answer.shard_iterator,
                        })
                    }
                    Err(error) => error,
                }
            }
            Err(error) => error,
        };
        wait_if_transient(plane, error, deadline).await?;
    };
    // Iterators hold positions (generation and offset), not bare log offsets.
    let offset = start_position(
        plane,
        &log,
        &stream.name,
        shard.ordinal,
        &kind,
        req.starting_sequence_number.as_deref(),
        req.timestamp,
    )
    .await?;
    let token = plane.iterators.encode(&ShardIterator {
        stream: stream.name.clone(),
        stream_uid: stream.uid,
        shard: shard.ordinal,
        offset,
        issued_ms: plane.clock.now_ms(),
    });
    Ok(GetShardIteratorOutput {
        shard_iterator: token,
    })
}

/// Checks a starting position's type against the model's enum and its sequence number
/// against the model's pattern (GetShardIterator and SubscribeToShard name the members
/// differently).
pub(crate) fn check_start(
    violations: &mut Violations,
    kind: Option<&str>,
    kind_member: &str,
    sequence_number: Option<&str>,
    sequence_member: &str,
) {
    const TYPES: [&str; 5] = [
        "AT_SEQUENCE_NUMBER",
        "AFTER_SEQUENCE_NUMBER",
        "TRIM_HORIZON",
        "LATEST",
        "AT_TIMESTAMP",
    ];
    if let Some(kind) = kind.filter(|k| !TYPES.contains(k)) {
        violations.push(
            Some(kind),
            kind_member,
            "satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]",
        );
    }
    if let Some(seq) = sequence_number {
        let ok = super::records::matches_sequence_pattern(seq);
        violations.pattern(seq, sequence_member, ok, "0|([1-9]\\d{0,128})");
    }
}

/// The position a reader starting at `kind` (TRIM_HORIZON, LATEST, AT_TIMESTAMP,
/// AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER) reads first, on the shard's leader.
/// GetShardIterator and SubscribeToShard share it.
pub(crate) async fn start_position(
    plane: &DataPlane,
    log: &Arc<crate::shards::LocalShard>,
    stream_name: &str,
    ordinal: u64,
    kind: &str,
    starting_sequence_number: Option<&str>,
    timestamp: Option<Timestamp>,
) -> Result<u64, KinesisError> {
    Ok(match kind {
        "TRIM_HORIZON" => log.position(log.history_start()),
        "LATEST" => log.position(log.settled_end().await),
        "AT_TIMESTAMP" => {
            let at = timestamp.ok_or_else(|| {
                KinesisError::InvalidArgument("Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.".into())
            })?;
            let now = plane.clock.now_ms();
            if at.0 > now {
                return Err(KinesisError::InvalidArgument(format!(
                    "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. \
                     timestampInMillis: {}, currentTimestampInMillis: {now}",
                    at.0
                )));
            }
            log.position(log.offset_at_timestamp_any(at.0).await?)
        }
        _ => {
            let text = starting_sequence_number.unwrap_or_default();
            let seq = SequenceNumber::parse(text)
                .ok_or_else(|| KinesisError::InvalidArgument(format!("StartingSequenceNumber {text} used in GetShardIterator on shard {} in stream {stream_name} under account {} is invalid.", shard_id(ordinal), plane.catalog.settings().account_id)))?;
            if seq.shard_ordinal() != ordinal {
                return Err(KinesisError::InvalidArgument(format!(
                    "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                    shard_id(seq.shard_ordinal()),
                    shard_id(ordinal)
                )));
            }
            if kind == "AT_SEQUENCE_NUMBER" {
                seq.offset()
            } else {
                seq.offset().saturating_add(1)
            }
        }
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    shard_iterator: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    limit: Option<i64>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub(crate) sequence_number: String,
    pub(crate) approximate_arrival_timestamp: Timestamp,
    pub(crate) data: Blob,
    pub(crate) partition_key: String,
    /// `KMS` for a record stored encrypted; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) encryption_type: Option<String>,
}

impl Record {
    /// A record as readers get it, from its stored form opened by `RecordKeys`.
    pub(crate) fn shaped(
        opened: crate::encryption::OpenedRecord,
        ordinal: u64,
        log: &crate::shards::LocalShard,
    ) -> Self {
        let r = opened.record;
        Self {
            sequence_number: SequenceNumber::new(ordinal, log.position(r.offset)).to_string(),
            approximate_arrival_timestamp: Timestamp(r.timestamp_ms),
            data: Blob(r.data),
            partition_key: r.partition_key,
            encryption_type: opened.encrypted.then(|| "KMS".to_string()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChildShard {
    shard_id: String,
    parent_shards: Vec<String>,
    hash_key_range: super::streams::HashKeyRangeOut,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsOutput {
    records: Vec<Record>,
    next_shard_iterator: Option<String>,
    millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_shards: Option<Vec<ChildShard>>,
}

/// Appends `records` as a JSON array, written by hand: base64 payloads need no escaping,
/// and serde_json's escaping scan over every payload byte was the largest single cost of a
/// busy node. GetRecords answers and subscription events share it.
pub(crate) fn write_records_json(records: &[Record], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"SequenceNumber\":\"");
        out.extend_from_slice(r.sequence_number.as_bytes());
        out.extend_from_slice(b"\",\"ApproximateArrivalTimestamp\":");
        let _ = serde_json::to_writer(&mut *out, &r.approximate_arrival_timestamp);
        out.extend_from_slice(b",\"Data\":\"");
        base64_simd::STANDARD.encode_append(&r.data.0, out);
        out.extend_from_slice(b"\",\"PartitionKey\":");
        let _ = serde_json::to_writer(&mut *out, &r.partition_key);
        if let Some(kind) = &r.encryption_type {
            out.extend_from_slice(b",\"EncryptionType\":");
            let _ = serde_json::to_writer(&mut *out, kind);
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// The shards a closed shard's readers continue with: its children, each with its parents.
pub(crate) fn child_shards(stream: &weir_contracts::StreamRecord, ordinal: u64) -> Vec<ChildShard> {
    stream
        .shards
        .iter()
        .filter(|s| s.parent == Some(ordinal) || s.adjacent_parent == Some(ordinal))
        .map(|s| ChildShard {
            shard_id: shard_id(s.ordinal),
            parent_shards: s
                .parent
                .iter()
                .chain(s.adjacent_parent.iter())
                .map(|p| shard_id(*p))
                .collect(),
            hash_key_range: super::streams::HashKeyRangeOut::of(s),
        })
        .collect()
}

impl GetRecordsOutput {
    /// JSON encoding written by hand: base64 payloads need no escaping, and serde_json's
    /// escaping scan over every payload byte was the largest single cost of a busy node.
    /// Produces the same document as the serde encoding (a test checks this).
    pub fn to_json(&self) -> Vec<u8> {
        let payload: usize = self
            .records
            .iter()
            .map(|r| r.data.0.len() * 4 / 3 + 160)
            .sum();
        let mut out = Vec::with_capacity(payload + 1024);
        out.extend_from_slice(b"{\"Records\":");
        write_records_json(&self.records, &mut out);
        out.extend_from_slice(b",\"NextShardIterator\":");
        let _ = serde_json::to_writer(&mut out, &self.next_shard_iterator);
        out.extend_from_slice(b",\"MillisBehindLatest\":");
        out.extend_from_slice(self.millis_behind_latest.to_string().as_bytes());
        if let Some(children) = &self.child_shards {
            out.extend_from_slice(b",\"ChildShards\":");
            let _ = serde_json::to_writer(&mut out, children);
        }
        out.push(b'}');
        out
    }
}

pub async fn get_records(
    plane: &DataPlane,
    req: GetRecordsInput,
) -> Result<GetRecordsOutput, KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.shard_iterator, "shardIterator");
    if let Some(token) = &req.shard_iterator {
        violations.length(token, "shardIterator", 1, 512);
    }
    if let Some(limit) = req.limit {
        violations.range(limit, "limit", Some(1), Some(MAX_GET_RECORDS as i64));
    }
    KinesisError::validation(violations)?;
    // Kinesis accepts an iterator wrapped in literal double quotes (a common slip when
    // one is copied out of a JSON document).
    let token = req.shard_iterator.unwrap_or_default();
    let token = token
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .map_or(token.clone(), str::to_string);
    let iterator = plane
        .iterators
        .decode(&token)
        .ok_or_else(|| KinesisError::InvalidArgument("Invalid ShardIterator.".into()))?;
    let now = plane.clock.now_ms();
    if now - iterator.issued_ms > ITERATOR_TTL_MS {
        return Err(KinesisError::ExpiredIterator(format!(
            "Iterator expired. The iterator was created at time {} while right now it is {} which is further in \
             the future than the tolerated delay of {ITERATOR_TTL_MS} milliseconds.",
            crate::clock::aws_date(iterator.issued_ms),
            crate::clock::aws_date(now)
        )));
    }
    // The iterator's shard is gone once its stream is (even if a stream of the same name
    // was created since).
    let gone = || shard_does_not_exist(plane, &iterator.stream, iterator.shard);
    let stream = plane
        .catalog
        .get(&iterator.stream)
        .filter(|stream| stream.uid == iterator.stream_uid && readable(stream))
        .ok_or_else(gone)?;
    if let Some(arn) = &req.stream_arn {
        if weir_core::stream_name_from_arn(arn) != Some(stream.name.as_str()) {
            return Err(KinesisError::InvalidArgument(format!(
                "StreamARN {arn} does not match the shard iterator's stream."
            )));
        }
    }
    let shard = stream.shard(iterator.shard).ok_or_else(gone)?;
    let deadline = tokio::time::Instant::now() + RESHARD_WAIT;
    let log = loop {
        let error = match plane.locate(stream.uid, shard.ordinal).await {
            Ok(Located::Local(log)) => break log,
            Ok(Located::Remote(url, generation)) => {
                let mut body = serde_json::json!({"ShardIterator": token});
                if let Some(limit) = req.limit {
                    body["Limit"] = limit.into();
                }
                match forwarder(plane)?
                    .forward::<GetRecordsOutput>(&url, "GetRecords", &body, generation)
                    .await
                {
                    Ok(answer) => return Ok(answer),
                    Err(error) => error,
                }
            }
            Err(error) => error,
        };
        wait_if_transient(plane, error, deadline).await?;
    };
    let shard_limits = plane.catalog.shard_limits(&stream);
    if !log.meter.admit_read(&shard_limits, now) {
        return Err(super::records::throttled(plane, &stream, shard.ordinal));
    }
    let limit = req.limit.unwrap_or(MAX_GET_RECORDS as i64) as usize;
    let from = log.offset_of(iterator.offset);
    let stored = log.read_any(from, limit, MAX_GET_BYTES).await?;
    let reader = Arc::clone(&log);
    let ordinal = shard.ordinal;
    let keys = Arc::clone(&plane.record_keys);
    let sealed_for = Arc::clone(&stream);
    // Opening and shaping up to 10,000 records is CPU work: keep it off the runtime's
    // worker threads.
    let (records, last) = tokio::task::spawn_blocking(move || {
        let last = stored.last().map(|r| (r.offset, r.timestamp_ms));
        let opened = keys.open(&sealed_for, stored)?;
        let records: Vec<Record> = opened
            .into_iter()
            .map(|r| Record::shaped(r, ordinal, &reader))
            .collect();
        Ok::<_, KinesisError>((records, last))
    })
    .await
    .map_err(|e| KinesisError::Internal(format!("read task failed: {e}")))??;
    let bytes: usize = records
        .iter()
        .map(|r| r.data.0.len() + r.partition_key.len())
        .sum();
    log.meter
        .read(&shard_limits, records.len() as u64, bytes as u64);
    let next_offset = last.map_or(from.max(log.history_start()), |(offset, _)| offset + 1);
    let tip = log.visible_end();
    let millis_behind_latest = match last {
        Some((_, timestamp_ms)) if next_offset < tip => (now - timestamp_ms).max(0),
        _ => 0,
    };
    log.meter
        .iterator_age(u64::try_from(millis_behind_latest).unwrap_or(0));
    let next_position = log.position(next_offset);
    let closed_and_drained = shard.ending_offset.is_some_and(|end| next_position >= end);
    let (next_shard_iterator, child_shards) = if closed_and_drained {
        let children = child_shards(&stream, shard.ordinal);
        (None, Some(children))
    } else {
        let next = plane.iterators.encode(&ShardIterator {
            offset: next_position,
            issued_ms: now,
            ..iterator
        });
        (Some(next), None)
    };
    Ok(GetRecordsOutput {
        records,
        next_shard_iterator,
        millis_behind_latest,
        child_shards,
    })
}

/// Kinesis's answer for a shard that is not (or no longer) there to read: it names the
/// shard by its normalised id, as kinesalite recorded.
fn shard_does_not_exist(plane: &DataPlane, stream: &str, ordinal: u64) -> KinesisError {
    KinesisError::ResourceNotFound(format!(
        "Shard {} in stream {stream} under account {} does not exist",
        shard_id(ordinal),
        plane.catalog.settings().account_id
    ))
}

/// Whether a stream's shards can be read: a DELETING stream's go with it.
fn readable(stream: &weir_contracts::StreamRecord) -> bool {
    stream.status != StreamStatus::Deleting
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_json_matches_serde() {
        let output = GetRecordsOutput {
            records: vec![
                Record {
                    sequence_number: "18446744073709551616".into(),
                    approximate_arrival_timestamp: Timestamp(1_700_000_000_123),
                    data: Blob(bytes::Bytes::from_static(b"\x00\xff binary \"quoted\"")),
                    partition_key: "key \"with\" quotes \u{e9}".into(),
                    encryption_type: Some("KMS".into()),
                },
                Record {
                    sequence_number: "18446744073709551617".into(),
                    approximate_arrival_timestamp: Timestamp(1_700_000_000_000),
                    data: Blob(bytes::Bytes::new()),
                    partition_key: "k".into(),
                    encryption_type: None,
                },
            ],
            next_shard_iterator: Some("abc".into()),
            millis_behind_latest: 12,
            child_shards: None,
        };
        let fast: serde_json::Value = serde_json::from_slice(&output.to_json()).unwrap();
        let slow: serde_json::Value = serde_json::to_value(&output).unwrap();
        assert_eq!(fast, slow);
        let closed = GetRecordsOutput {
            records: vec![],
            next_shard_iterator: None,
            millis_behind_latest: 0,
            child_shards: Some(vec![]),
        };
        let fast: serde_json::Value = serde_json::from_slice(&closed.to_json()).unwrap();
        assert_eq!(fast, serde_json::to_value(&closed).unwrap());
    }
}
