//! The AWS event stream a subscription answers with (`application/vnd.amazon.eventstream`):
//! binary frames with a prelude, headers and CRC32s, framed by `aws-smithy-eventstream`,
//! the AWS SDKs' own implementation.
//!
//! A subscription sends an `initial-response` event first (botocore refuses a stream
//! without one), then `SubscribeToShardEvent`s, and ends either cleanly or with one
//! exception message. Event payloads are in the request's format (JSON or CBOR).

use aws_smithy_eventstream::frame::{write_message_to, DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::error::KinesisError;
use crate::ops::reads::ChildShard;
use crate::protocol::Format;

/// The Content-Type of a subscription's HTTP answer.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// Event header carrying, between nodes only, the position a proxied subscription
/// resumes from (the entry node strips it before the client sees the event).
const NEXT_POSITION_HEADER: &str = "weir-next-position";

/// Event header marking, between nodes only, the last event of a closed shard.
const SHARD_END_HEADER: &str = "weir-shard-end";

fn frame(headers: Vec<Header>, payload: Bytes) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 128);
    // Writing fails only for headers or payloads over the format's limits (16 MiB
    // payloads); events are built far below them.
    if let Err(error) = write_message_to(&Message::new_from_parts(headers, payload), &mut out) {
        tracing::error!(%error, "event could not be framed");
    }
    out.freeze()
}

fn string(name: &'static str, value: impl Into<String>) -> Header {
    Header::new(name, HeaderValue::String(value.into().into()))
}

/// The `initial-response` event every subscription starts with (an empty structure);
/// between nodes it also carries the position the subscription starts at.
pub fn initial_response(format: Format, start_position: Option<u64>) -> Bytes {
    let payload: &'static [u8] = match format {
        Format::Json => b"{}",
        Format::Cbor => &[0xa0],
    };
    let mut headers = vec![
        string(":message-type", "event"),
        string(":event-type", "initial-response"),
        string(":content-type", format.content_type()),
    ];
    if let Some(position) = start_position {
        headers.push(string(NEXT_POSITION_HEADER, position.to_string()));
    }
    frame(headers, Bytes::from_static(payload))
}

/// One `SubscribeToShardEvent`, with the between-node headers when `internal`.
pub fn records_event(
    format: Format,
    payload: Bytes,
    next_position: u64,
    shard_end: bool,
    internal: bool,
) -> Bytes {
    let mut headers = vec![
        string(":message-type", "event"),
        string(":event-type", "SubscribeToShardEvent"),
        string(":content-type", format.content_type()),
    ];
    if internal {
        headers.push(string(NEXT_POSITION_HEADER, next_position.to_string()));
        if shard_end {
            headers.push(Header::new(SHARD_END_HEADER, HeaderValue::Bool(true)));
        }
    }
    frame(headers, payload)
}

/// An exception message: the last message of a stream that failed after it began. Its
/// type is one the event stream's model declares (ResourceNotFoundException,
/// ResourceInUseException, InternalFailureException, ...): an SDK reads any other type
/// as an error without a code. Failures on our side are InternalFailureException there.
pub fn exception(format: Format, error: &KinesisError) -> Bytes {
    let exception_type = match error.type_name() {
        kind @ ("ResourceNotFoundException" | "ResourceInUseException") => kind,
        _ => "InternalFailureException",
    };
    let mut map = std::collections::BTreeMap::new();
    map.insert("message", error.to_string());
    let payload = format.encode(&map).unwrap_or_default();
    frame(
        vec![
            string(":message-type", "exception"),
            string(":exception-type", exception_type),
            string(":content-type", format.content_type()),
        ],
        Bytes::from(payload),
    )
}

/// The members of a `SubscribeToShardEvent` after `Records`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventTail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_sequence_number: Option<&'a str>,
    millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_shards: Option<&'a [ChildShard]>,
}

/// Builds an event payload around a `Records` array already encoded in `format`, so one
/// encoding of a batch serves every subscriber at the tail. A closed shard's last event
/// has ChildShards and no ContinuationSequenceNumber, which is how KCL sees the end.
pub fn event_payload(
    format: Format,
    records: &[u8],
    continuation: Option<&str>,
    millis_behind_latest: i64,
    child_shards: Option<&[ChildShard]>,
) -> Result<Bytes, KinesisError> {
    let tail = EventTail {
        continuation_sequence_number: continuation,
        millis_behind_latest,
        child_shards,
    };
    let tail = format.encode(&tail)?;
    let mut out = Vec::with_capacity(records.len() + tail.len() + 16);
    match format {
        Format::Json => {
            // `{"Records":<array>,` + the tail's members without its opening brace.
            out.extend_from_slice(b"{\"Records\":");
            out.extend_from_slice(records);
            out.push(b',');
            out.extend_from_slice(tail.get(1..).unwrap_or_default());
        }
        Format::Cbor => {
            // A definite map one entry larger than the tail's: the tail's first byte is a
            // map header 0xa0 | n (n ≤ 3 here); then "Records" and the array.
            let head = tail.first().copied().unwrap_or(0xa0);
            out.push(head + 1);
            ciborium::into_writer("Records", &mut out)
                .map_err(|e| KinesisError::Internal(e.to_string()))?;
            out.extend_from_slice(records);
            out.extend_from_slice(tail.get(1..).unwrap_or_default());
        }
    }
    Ok(Bytes::from(out))
}

/// What the entry node of a proxied subscription learns from one upstream message.
#[derive(Debug)]
pub enum Upstream {
    /// The upstream's `initial-response` (the entry node already sent its own), with the
    /// position the upstream starts at.
    Initial { start_position: Option<u64> },
    /// An event to pass on (between-node headers removed), the position after it, and
    /// whether it was the last event of a closed shard.
    Event {
        frame: Bytes,
        next_position: Option<u64>,
        shard_end: bool,
    },
    /// An exception to pass on; the stream ends with it.
    Exception(Bytes),
}

/// Splits an upstream byte stream into messages.
#[derive(Debug, Default)]
pub struct UpstreamReader {
    decoder: MessageFrameDecoder,
    buffer: BytesMut,
}

impl UpstreamReader {
    /// Adds bytes received from upstream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// The next complete message, if one has arrived.
    pub fn next_message(&mut self) -> Result<Option<Upstream>, KinesisError> {
        let message = match self.decoder.decode_frame(&mut self.buffer) {
            Ok(DecodedFrame::Complete(message)) => message,
            Ok(DecodedFrame::Incomplete) => return Ok(None),
            Err(error) => {
                return Err(KinesisError::Internal(format!(
                    "unreadable event from the shard's node: {error}"
                )))
            }
        };
        let header = |name: &str| message.headers().iter().find(|h| h.name().as_str() == name);
        let text = |name: &str| {
            header(name)
                .and_then(|h| h.value().as_string().ok())
                .map(|s| s.as_str().to_string())
        };
        if text(":message-type").as_deref() == Some("exception") {
            return Ok(Some(Upstream::Exception(frame(
                message.headers().to_vec(),
                message.payload().clone(),
            ))));
        }
        let next_position = text(NEXT_POSITION_HEADER).and_then(|p| p.parse().ok());
        if text(":event-type").as_deref() == Some("initial-response") {
            return Ok(Some(Upstream::Initial {
                start_position: next_position,
            }));
        }
        let shard_end = header(SHARD_END_HEADER)
            .and_then(|h| h.value().as_bool().ok())
            .unwrap_or(false);
        let kept: Vec<Header> = message
            .headers()
            .iter()
            .filter(|h| !h.name().as_str().starts_with("weir-"))
            .cloned()
            .collect();
        Ok(Some(Upstream::Event {
            frame: frame(kept, message.payload().clone()),
            next_position,
            shard_end,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Message {
        let mut reader = MessageFrameDecoder::new();
        let mut buffer = BytesMut::from(bytes);
        match reader.decode_frame(&mut buffer).unwrap() {
            DecodedFrame::Complete(m) => m,
            DecodedFrame::Incomplete => panic!("incomplete frame"),
        }
    }

    #[test]
    fn json_payload_is_one_document() {
        let payload = event_payload(Format::Json, b"[{\"a\":1}]", Some("42"), 7, None).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"Records": [{"a": 1}], "ContinuationSequenceNumber": "42", "MillisBehindLatest": 7})
        );
    }

    #[test]
    fn cbor_payload_is_one_map() {
        let mut records = Vec::new();
        ciborium::into_writer(&vec![1u8, 2], &mut records).unwrap();
        let payload = event_payload(Format::Cbor, &records, None, 0, Some(&[])).unwrap();
        let value: ciborium::Value = ciborium::from_reader(&payload[..]).unwrap();
        let map = value.as_map().unwrap();
        let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_text().unwrap()).collect();
        assert_eq!(keys, ["Records", "MillisBehindLatest", "ChildShards"]);
    }

    #[test]
    fn internal_headers_are_stripped_by_the_entry_node() {
        let event = records_event(Format::Json, Bytes::from_static(b"{}"), 99, true, true);
        let mut reader = UpstreamReader::default();
        reader.push(&event[..5]);
        assert!(reader.next_message().unwrap().is_none());
        reader.push(&event[5..]);
        let Some(Upstream::Event {
            frame,
            next_position,
            shard_end,
        }) = reader.next_message().unwrap()
        else {
            panic!("expected an event")
        };
        assert_eq!((next_position, shard_end), (Some(99), true));
        let message = decode(&frame);
        let names: Vec<&str> = message
            .headers()
            .iter()
            .map(|h| h.name().as_str())
            .collect();
        assert_eq!(names, [":message-type", ":event-type", ":content-type"]);
    }

    #[test]
    fn exceptions_carry_aws_type_and_message() {
        let error = KinesisError::ResourceNotFound("gone".into());
        let message = decode(&exception(Format::Json, &error));
        let exception_type = message
            .headers()
            .iter()
            .find(|h| h.name().as_str() == ":exception-type")
            .and_then(|h| h.value().as_string().ok().map(|s| s.as_str().to_string()));
        assert_eq!(exception_type.as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(&message.payload()[..], b"{\"message\":\"gone\"}");
    }
}
