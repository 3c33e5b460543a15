//! Encryption at rest of records (StartStreamEncryption): envelope encryption.
//!
//! Each encrypted stream has data keys (256-bit, random), sealed by the [`MasterKey`] and
//! stored with the stream's metadata; the master key itself never reaches the store.
//! Every record written while the stream is encrypted becomes one [envelope](RecordCipher::seal):
//! its partition key and payload, encrypted together with XChaCha20-Poly1305 under the
//! stream's current data key and a random 192-bit nonce (random nonces of that size never
//! collide in practice, so no counter has to survive crashes). The envelope names the data
//! key's version, so a stream can change keys while older records stay readable, and
//! rotating the master key only re-seals the data keys, never the records.
//!
//! The stream's uid and the key's version are authenticated with every envelope and every
//! sealed key, so neither can be moved to another stream or passed off as another version.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::{AuthError, MasterKey};

/// First bytes of every envelope ("Weir Encrypted Kinesis record, v1").
pub const ENVELOPE_MAGIC: [u8; 4] = *b"WEK1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes an envelope adds to a record: magic, version, nonce, key length, tag.
pub const ENVELOPE_OVERHEAD: usize = 4 + 4 + NONCE_LEN + 2 + TAG_LEN;

/// A stream's data key, in the clear only in memory.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// The key sealed by `master` for version `version` of stream `stream_uid`, as the
    /// text the metadata store keeps.
    pub fn seal(
        &self,
        master: &MasterKey,
        stream_uid: i64,
        version: u32,
    ) -> Result<String, AuthError> {
        Ok(master
            .encrypt(self.0.as_ref(), &key_context(stream_uid, version))?
            .to_string())
    }

    /// Opens a key [`DataKey::seal`] made; fails if it was sealed for another stream or
    /// version, or under a master key `master` does not hold.
    pub fn open(
        sealed: &str,
        master: &MasterKey,
        stream_uid: i64,
        version: u32,
    ) -> Result<Self, AuthError> {
        let plain = master.decrypt(&sealed.parse()?, &key_context(stream_uid, version))?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| AuthError::Decryption)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// Re-seals a sealed key under `master`'s current key; `None` when it already is
    /// (master-key rotation).
    pub fn reseal(
        sealed: &str,
        master: &MasterKey,
        stream_uid: i64,
        version: u32,
    ) -> Result<Option<String>, AuthError> {
        let context = key_context(stream_uid, version);
        let parsed = sealed.parse()?;
        if master.opens_with_current(&parsed, &context) {
            return Ok(None);
        }
        let key = Self::open(sealed, master, stream_uid, version)?;
        key.seal(master, stream_uid, version).map(Some)
    }

    /// The cipher that seals and opens this key's records.
    pub fn cipher(&self, stream_uid: i64, version: u32) -> RecordCipher {
        RecordCipher {
            aead: XChaCha20Poly1305::new(self.0.as_ref().into()),
            stream_uid,
            version,
        }
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn key_context(stream_uid: i64, version: u32) -> Vec<u8> {
    format!("weir-data-key/{stream_uid}/{version}").into_bytes()
}

/// Seals records into envelopes and opens them, for one data key of one stream.
pub struct RecordCipher {
    aead: XChaCha20Poly1305,
    stream_uid: i64,
    version: u32,
}

impl RecordCipher {
    /// The envelope of one record:
    /// `magic | version:u32 | nonce[24] | seal(key_len:u16 | key | data) | tag[16]`,
    /// built and encrypted in one buffer. The nonce comes from the thread's CSPRNG
    /// (seeded from the OS), not a system call per record.
    pub fn seal(&self, partition_key: &str, data: &[u8]) -> Result<Vec<u8>, AuthError> {
        let key_len = u16::try_from(partition_key.len()).map_err(|_| AuthError::Encryption)?;
        let header = self.header();
        let body_start = header.len() + NONCE_LEN;
        let mut out =
            Vec::with_capacity(body_start + 2 + partition_key.len() + data.len() + TAG_LEN);
        out.extend_from_slice(&header);
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&key_len.to_le_bytes());
        out.extend_from_slice(partition_key.as_bytes());
        out.extend_from_slice(data);
        let tag = self
            .aead
            .encrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                &self.aad(&header),
                &mut out[body_start..],
            )
            .map_err(|_| AuthError::Encryption)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// The partition key and payload of an envelope this key sealed.
    pub fn open(&self, envelope: &[u8]) -> Result<OpenedEnvelope, AuthError> {
        let header = self.header();
        let body_start = header.len() + NONCE_LEN;
        if envelope.len() < body_start + 2 + TAG_LEN || envelope[..header.len()] != header {
            return Err(AuthError::Decryption);
        }
        let nonce = XNonce::from_slice(&envelope[header.len()..body_start]);
        let tag_start = envelope.len() - TAG_LEN;
        let mut buffer = envelope[body_start..tag_start].to_vec();
        self.aead
            .decrypt_in_place_detached(
                nonce,
                &self.aad(&header),
                &mut buffer,
                Tag::from_slice(&envelope[tag_start..]),
            )
            .map_err(|_| AuthError::Decryption)?;
        let key_len = usize::from(u16::from_le_bytes([buffer[0], buffer[1]]));
        let partition_key = buffer
            .get(2..2 + key_len)
            .and_then(|k| std::str::from_utf8(k).ok())
            .ok_or(AuthError::Decryption)?
            .to_owned();
        Ok(OpenedEnvelope {
            partition_key,
            data_start: 2 + key_len,
            buffer,
        })
    }

    fn header(&self) -> [u8; 8] {
        let mut header = [0u8; 8];
        header[..4].copy_from_slice(&ENVELOPE_MAGIC);
        header[4..].copy_from_slice(&self.version.to_le_bytes());
        header
    }

    fn aad(&self, header: &[u8; 8]) -> [u8; 16] {
        let mut aad = [0u8; 16];
        aad[..8].copy_from_slice(header);
        aad[8..].copy_from_slice(&self.stream_uid.to_le_bytes());
        aad
    }
}

/// A record opened from its envelope: its partition key, and its payload as the tail of
/// the decrypted buffer (`buffer[data_start..]`), so the payload is not copied again.
pub struct OpenedEnvelope {
    /// The record's partition key.
    pub partition_key: String,
    /// The decrypted body; the payload starts at `data_start`.
    pub buffer: Vec<u8>,
    /// Where the payload starts in `buffer`.
    pub data_start: usize,
}

impl OpenedEnvelope {
    /// The payload.
    pub fn data(&self) -> &[u8] {
        &self.buffer[self.data_start..]
    }
}

/// The data-key version an envelope names, or `None` if `bytes` is not an envelope.
pub fn envelope_version(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 8 || bytes[..4] != ENVELOPE_MAGIC {
        return None;
    }
    Some(u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_hide_their_content() {
        let master = MasterKey::generate();
        let key = DataKey::generate();
        let sealed = key.seal(&master, 7, 1).expect("seals");
        let cipher = DataKey::open(&sealed, &master, 7, 1)
            .expect("opens")
            .cipher(7, 1);
        let envelope = cipher.seal("user-42", b"secret payload").expect("seals");
        assert_eq!(
            envelope.len(),
            b"secret payload".len() + 7 + ENVELOPE_OVERHEAD
        );
        assert!(!envelope.windows(6).any(|w| w == b"secret"));
        assert!(!envelope.windows(7).any(|w| w == b"user-42"));
        assert_eq!(envelope_version(&envelope), Some(1));
        let opened = cipher.open(&envelope).expect("opens");
        assert_eq!(
            (opened.partition_key.as_str(), opened.data()),
            ("user-42", &b"secret payload"[..])
        );
    }

    #[test]
    fn envelopes_are_bound_to_their_stream_and_version() {
        let key = DataKey::generate();
        let envelope = key.cipher(7, 1).seal("k", b"x").expect("seals");
        assert!(key.cipher(8, 1).open(&envelope).is_err());
        assert!(key.cipher(7, 2).open(&envelope).is_err());
        let mut tampered = envelope.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.cipher(7, 1).open(&tampered).is_err());
        let master = MasterKey::generate();
        let sealed = key.seal(&master, 7, 1).expect("seals");
        assert!(DataKey::open(&sealed, &master, 7, 2).is_err());
        assert!(DataKey::open(&sealed, &MasterKey::generate(), 7, 1).is_err());
    }

    #[test]
    fn rotation_reseals_under_the_new_master_key_only() {
        let old = MasterKey::generate();
        let key = DataKey::generate();
        let sealed = key.seal(&old, 3, 2).expect("seals");
        assert_eq!(DataKey::reseal(&sealed, &old, 3, 2).expect("checks"), None);
        let rotated = old.rotated();
        let resealed = DataKey::reseal(&sealed, &rotated, 3, 2)
            .expect("reseals")
            .expect("was under the retired key");
        let newest_only = rotated.current_only();
        assert!(DataKey::open(&sealed, &newest_only, 3, 2).is_err());
        let opened = DataKey::open(&resealed, &newest_only, 3, 2).expect("opens");
        let envelope = key.cipher(3, 2).seal("k", b"v").expect("seals");
        assert_eq!(
            opened.cipher(3, 2).open(&envelope).expect("opens").data(),
            b"v"
        );
    }
}
