//! The two body encodings of the Kinesis API.
//!
//! JSON 1.1 carries blobs as base64 strings and timestamps as epoch seconds; CBOR 1.1
//! carries blobs as byte strings and timestamps as tag 1 wrapping epoch milliseconds. Request and response
//! types are written once: [`Blob`] and [`Timestamp`] pick their representation from the
//! serde format's `is_human_readable()` (true for serde_json, false for ciborium).

use std::fmt;

/// Header on an error answer whose request stored nothing (a node forwarding it may
/// route it again without risking a duplicate).
pub const RETRY_SAFE_HEADER: &str = "x-weir-retry-safe";

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::{DeserializeOwned, Error as _, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::KinesisError;

mod integer;
mod java;
pub use integer::integer;
pub use java::serialization_message;

/// The wire encoding of one request (and so of its answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-amz-json-1.1`.
    Json,
    /// `application/x-amz-cbor-1.1`.
    Cbor,
}

impl Format {
    /// Picks the format from a Content-Type header value; JSON unless it says CBOR.
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        match content_type {
            Some(ct) if ct.to_ascii_lowercase().contains("cbor") => Self::Cbor,
            _ => Self::Json,
        }
    }

    /// The Content-Type of answers in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/x-amz-json-1.1",
            Self::Cbor => "application/x-amz-cbor-1.1",
        }
    }

    /// Decodes a request body. An empty body is an empty structure.
    pub fn decode<T: DeserializeOwned>(self, body: &[u8]) -> Result<T, KinesisError> {
        let body: &[u8] = if body.is_empty() {
            match self {
                Self::Json => b"{}",
                Self::Cbor => &[0xa0],
            }
        } else {
            body
        };
        // AWS answers a body it cannot parse with `__type` alone (an empty message), and a
        // member of the wrong type with Coral's Java text.
        match self {
            Self::Json => {
                serde_json::from_slice(body).map_err(|e| {
                    if e.is_syntax() || e.is_eof() {
                        return KinesisError::Serialization(String::new());
                    }
                    let text = e.to_string();
                    KinesisError::Serialization(serialization_message(&text).unwrap_or_else(|| {
                        format!("Unable to parse the request body as JSON: {text}")
                    }))
                })
            }
            Self::Cbor => ciborium::from_reader(body).map_err(|e| match e {
                ciborium::de::Error::Semantic(_, text) => {
                    KinesisError::Serialization(serialization_message(&text).unwrap_or_else(|| {
                        format!("Unable to parse the request body as CBOR: {text}")
                    }))
                }
                _ => KinesisError::Serialization(String::new()),
            }),
        }
    }

    /// Encodes an answer body.
    pub fn encode<T: Serialize>(self, value: &T) -> Result<Vec<u8>, KinesisError> {
        match self {
            Self::Json => {
                // Answers such as PutRecords' run to tens of KiB: start big, not at 128 bytes.
                let mut out = Vec::with_capacity(16 * 1024);
                serde_json::to_writer(&mut out, value)
                    .map_err(|e| KinesisError::Internal(e.to_string()))?;
                Ok(out)
            }
            Self::Cbor => {
                let mut out = Vec::new();
                ciborium::into_writer(value, &mut out)
                    .map_err(|e| KinesisError::Internal(e.to_string()))?;
                Ok(out)
            }
        }
    }

    /// A successful answer. A value that serializes as unit ([`NoBody`]) is sent as an
    /// empty body, as AWS answers the operations whose model has no output shape.
    pub fn ok<T: Serialize>(self, value: &T) -> Response {
        match self.encode(value) {
            Ok(body) if is_unit(self, &body) => self.respond(StatusCode::OK, Vec::new()),
            Ok(body) => self.respond(StatusCode::OK, body),
            Err(error) => self.error(&error),
        }
    }

    /// A successful answer already encoded in this format.
    pub fn ok_raw(self, body: Vec<u8>) -> Response {
        self.respond(StatusCode::OK, body)
    }

    /// An error answer: `{"__type": ..., "message": ...}` in this format, or `__type`
    /// alone when the message is empty (as AWS sends for a body it cannot parse).
    pub fn error(self, error: &KinesisError) -> Response {
        let mut map = std::collections::BTreeMap::new();
        map.insert("__type", error.type_name().to_string());
        let message = error.to_string();
        if !message.is_empty() {
            map.insert(error.message_key(), message);
        }
        let body = self.encode(&map).unwrap_or_default();
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = self.respond(status, body);
        if let Ok(value) = HeaderValue::from_str(error.type_name()) {
            response.headers_mut().insert("x-amzn-ErrorType", value);
        }
        if matches!(error, KinesisError::Unavailable(_)) {
            // Tells a forwarding node that nothing was stored, so routing again is safe.
            response
                .headers_mut()
                .insert(RETRY_SAFE_HEADER, HeaderValue::from_static("1"));
        }
        response
    }

    /// An error answer with `__type` only, as AWS sends for bodies it cannot read and
    /// targets it does not know (HTTP 400).
    pub fn bare_error(self, type_name: &str) -> Response {
        let mut map = std::collections::BTreeMap::new();
        map.insert("__type", type_name);
        let body = self.encode(&map).unwrap_or_default();
        let mut response = self.respond(StatusCode::BAD_REQUEST, body);
        if let Ok(value) = HeaderValue::from_str(type_name) {
            response.headers_mut().insert("x-amzn-ErrorType", value);
        }
        response
    }

    fn respond(self, status: StatusCode, body: Vec<u8>) -> Response {
        // A UUID, as AWS's x-amzn-RequestId is.
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            "content-type",
            HeaderValue::from_static(self.content_type()),
        );
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amzn-RequestId", value);
        }
        if let Ok(value) = HeaderValue::from_str(&amz_id_2()) {
            headers.insert("x-amz-id-2", value);
        }
        response
    }
}

/// AWS's `x-amz-id-2`: 72 random bytes in base64 (kinesalite measured 64 to 80).
pub(crate) fn amz_id_2() -> String {
    let mut bytes = [0u8; 72];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// Whether an encoded answer is a bare unit (JSON `null`, CBOR simple value 22).
fn is_unit(format: Format, body: &[u8]) -> bool {
    match format {
        Format::Json => body == b"null",
        Format::Cbor => body == [0xf6],
    }
}

/// The answer of an operation whose model has no output shape (CreateStream,
/// DeleteStream, AddTagsToStream, ...): AWS sends HTTP 200 with no body at all, which the
/// SDKs read as an empty result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoBody;

impl Serialize for NoBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

/// A binary payload: base64 in JSON, a byte string in CBOR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Bytes);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&base64_simd::STANDARD.encode_to_string(&self.0))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlobVisitor;
        impl<'de> Visitor<'de> for BlobVisitor {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(java::BLOB_EXPECTING)
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Blob, E> {
                // SIMD base64: decoding payloads is a large share of a PutRecords' CPU.
                base64_simd::STANDARD
                    .decode_to_vec(text)
                    .map(|b| Blob(Bytes::from(b)))
                    .map_err(|_| E::custom(java::blob_message(text)))
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Blob, E> {
                Ok(Blob(Bytes::copy_from_slice(bytes)))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(Bytes::from(bytes)))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(BlobVisitor)
        } else {
            deserializer.deserialize_bytes(BlobVisitor)
        }
    }
}

/// CBOR's tag for epoch-based date/time (RFC 8949 section 3.4.2).
const EPOCH_TAG: u64 = 1;

/// A point in time: epoch seconds (a number, fractions allowed) in JSON; in CBOR, epoch
/// milliseconds under tag 1, as AWS sends them (a bare number is accepted too). Held as
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_f64(self.0 as f64 / 1000.0)
        } else {
            // AWS's CBOR: tag 1 (epoch time) wrapping the milliseconds, which the SDKs'
            // CBOR decoders (Java's, and so KCL's) read as a date.
            ciborium::tag::Required::<i64, EPOCH_TAG>(self.0).serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = f64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(java::TIMESTAMP_EXPECTING)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
        }
        /// The number inside an optional tag.
        struct Number(f64);
        impl<'de> Deserialize<'de> for Number {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(NumberVisitor).map(Number)
            }
        }
        let human = deserializer.is_human_readable();
        let value = if human {
            deserializer.deserialize_any(NumberVisitor)?
        } else {
            // Tag 1 as AWS's SDKs send it, or a bare number as older clients do.
            ciborium::tag::Accepted::<Number, EPOCH_TAG>::deserialize(deserializer)
                .map_err(|_| {
                    D::Error::custom("expected a timestamp (tag 1 epoch time, or a number)")
                })?
                .0
                 .0
        };
        if !value.is_finite() {
            return Err(D::Error::custom("timestamp is not a finite number"));
        }
        let ms = if human { value * 1000.0 } else { value };
        Ok(Timestamp(ms.round() as i64))
    }
}
