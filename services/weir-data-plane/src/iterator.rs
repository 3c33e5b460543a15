//! Shard iterators: opaque, signed, self-contained tokens.
//!
//! A token carries the stream (name and incarnation uid), the shard, the next offset to
//! read, and when it was issued, signed with HMAC-SHA256 under a key held by the data plane.
//! Any tampering or garbage fails the signature (InvalidArgumentException); age is checked
//! against the five-minute limit (ExpiredIteratorException).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long an iterator stays valid, as in Kinesis.
pub const ITERATOR_TTL_MS: i64 = 5 * 60 * 1000;

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;

/// The decoded content of a shard iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIterator {
    /// Stream name.
    pub stream: String,
    /// Stream incarnation; a recreated stream does not accept old iterators.
    pub stream_uid: i64,
    /// Shard ordinal.
    pub shard: u64,
    /// Next offset to read.
    pub offset: u64,
    /// Issue time, epoch milliseconds.
    pub issued_ms: i64,
}

/// Signs and verifies iterators.
#[derive(Clone)]
pub struct IteratorCodec {
    key: [u8; 32],
}

impl IteratorCodec {
    /// A codec with a fresh random key (iterators do not survive a restart, like sessions).
    pub fn random() -> Self {
        Self {
            key: rand::random(),
        }
    }

    /// A codec with a fixed key, so iterators stay valid across restarts and nodes.
    pub fn with_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, bytes: &[u8]) -> [u8; MAC_LEN] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(bytes);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// Encodes a token.
    pub fn encode(&self, it: &ShardIterator) -> String {
        let mut bytes = Vec::with_capacity(48 + it.stream.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&it.stream_uid.to_be_bytes());
        bytes.extend_from_slice(&it.shard.to_be_bytes());
        bytes.extend_from_slice(&it.offset.to_be_bytes());
        bytes.extend_from_slice(&it.issued_ms.to_be_bytes());
        bytes.extend_from_slice(it.stream.as_bytes());
        let mac = self.mac(&bytes);
        bytes.extend_from_slice(&mac);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes and verifies a token; `None` for anything not signed by us.
    pub fn decode(&self, token: &str) -> Option<ShardIterator> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        if bytes.len() < 1 + 32 + MAC_LEN || bytes[0] != VERSION {
            return None;
        }
        let (body, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        let expected = self.mac(body);
        // Constant-time comparison.
        if expected
            .iter()
            .zip(mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
        {
            return None;
        }
        let word = |i: usize| -> Option<[u8; 8]> { body.get(i..i + 8)?.try_into().ok() };
        Some(ShardIterator {
            stream_uid: i64::from_be_bytes(word(1)?),
            shard: u64::from_be_bytes(word(9)?),
            offset: u64::from_be_bytes(word(17)?),
            issued_ms: i64::from_be_bytes(word(25)?),
            stream: String::from_utf8(body.get(33..)?.to_vec()).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let codec = IteratorCodec::random();
        let it = ShardIterator {
            stream: "orders".into(),
            stream_uid: 42,
            shard: 3,
            offset: 1_000_000,
            issued_ms: 1_700_000_000_000,
        };
        let token = codec.encode(&it);
        assert!(token.len() <= 512);
        assert_eq!(codec.decode(&token), Some(it.clone()));
        let mut tampered = token.into_bytes();
        tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(codec.decode(&String::from_utf8(tampered).unwrap()), None);
        assert_eq!(codec.decode("garbage"), None);
        assert_eq!(IteratorCodec::random().decode(&codec.encode(&it)), None);
    }
}
