//! Access keys, and the master key that encrypts their secrets at rest.
//!
//! SigV4 verification recomputes the client's HMAC, so the server needs the plaintext
//! secret: hashing it (as one would a password) is impossible. Instead secrets are
//! encrypted with XChaCha20-Poly1305 under a [`MasterKey`] that lives outside the
//! metadata store (a 0600 file or the `WEIR_MASTER_KEY` environment variable), so a copy
//! of the store alone reveals nothing. The access key id is bound in as associated data,
//! so ciphertexts cannot be swapped between keys in the store.
//!
//! Secret types print as `<redacted>` and are zeroed on drop.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::str::FromStr;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::AuthError;

/// Prefix of every access key id Weir issues ("Weir Key", after AWS's `AKIA`).
pub const ACCESS_KEY_PREFIX: &str = "WKIA";
/// Length of an access key id, as AWS's.
pub const ACCESS_KEY_ID_LEN: usize = 20;
/// Length of a secret access key, as AWS's.
pub const SECRET_ACCESS_KEY_LEN: usize = 40;
/// The environment variable that may hold the master key (standard base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "WEIR_MASTER_KEY";

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Version tag of the [`EncryptedSecret`] text form, so the scheme can change later.
const ENCRYPTED_PREFIX: &str = "v1.";
const NONCE_LEN: usize = 24;

/// Random characters from `alphabet`, from the OS generator.
fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = OsRng;
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// A public access key id such as `WKIAXXXXXXXXXXXXXXXX`: safe to log and to index by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    /// A fresh random id: the prefix plus 16 uppercase letters and digits.
    pub fn generate() -> Self {
        let tail = random_string(ID_ALPHABET, ACCESS_KEY_ID_LEN - ACCESS_KEY_PREFIX.len());
        Self(format!("{ACCESS_KEY_PREFIX}{tail}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccessKeyId {
    type Err = AuthError;

    /// Accepts only ids of the shape Weir issues, so typos are caught at the API.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let well_formed = s.len() == ACCESS_KEY_ID_LEN
            && s.starts_with(ACCESS_KEY_PREFIX)
            && s.bytes().all(|b| ID_ALPHABET.contains(&b));
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(AuthError::InvalidAccessKeyId(s.to_owned()))
        }
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret access key. Shown to its owner once, at creation; never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretAccessKey(Zeroizing<String>);

impl SecretAccessKey {
    /// A fresh random 40-character secret.
    pub fn generate() -> Self {
        Self(Zeroizing::new(random_string(
            SECRET_ALPHABET,
            SECRET_ACCESS_KEY_LEN,
        )))
    }

    /// Wraps an existing secret (e.g. one decrypted from the store, or a test fixture).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The plaintext, for signing-key derivation and for the one-time display.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A newly issued key pair.
#[derive(Clone, Debug)]
pub struct AccessKey {
    /// The public id.
    pub id: AccessKeyId,
    /// The secret.
    pub secret: SecretAccessKey,
}

impl AccessKey {
    /// A fresh random id and secret.
    pub fn generate() -> Self {
        Self {
            id: AccessKeyId::generate(),
            secret: SecretAccessKey::generate(),
        }
    }
}

/// The 256-bit key that encrypts secrets at rest, with the keys it replaced.
///
/// A master key is a ring: the current key seals everything new, and retired keys (kept
/// after `weir master-key rotate`) still open what they sealed until it is re-sealed. The
/// file form is the keys' raw bytes back to back, current first; `WEIR_MASTER_KEY` holds
/// them as comma-separated base64, current first. A single key is the common case.
#[derive(Clone)]
pub struct MasterKey {
    /// Current key first; never empty.
    keys: Vec<Zeroizing<[u8; 32]>>,
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self {
            keys: vec![random_key()],
        }
    }

    /// A key from its raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            keys: vec![Zeroizing::new(bytes)],
        }
    }

    /// A key ring from standard base64 (with or without padding) of exactly 32 bytes per
    /// key, keys separated by commas, current first.
    pub fn from_base64(text: &str) -> Result<Self, AuthError> {
        let mut keys = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(part)
                    .or_else(|_| STANDARD_NO_PAD.decode(part))
                    .map_err(|_| AuthError::InvalidMasterKey("not valid base64".to_owned()))?,
            );
            keys.extend(Self::from_slice(&bytes)?.keys);
        }
        Ok(Self { keys })
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, AuthError> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(32) {
            return Err(AuthError::InvalidMasterKey(format!(
                "expected 32 bytes per key, found {}",
                bytes.len()
            )));
        }
        let keys = bytes
            .chunks_exact(32)
            .map(|chunk| {
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(chunk);
                key
            })
            .collect();
        Ok(Self { keys })
    }

    /// The key from `WEIR_MASTER_KEY` if set, otherwise from `path` (created if absent).
    pub fn from_env_or_file(path: &Path) -> Result<Self, AuthError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(value) => Self::from_base64(&value),
            Err(std::env::VarError::NotPresent) => Self::load_or_create(path),
            Err(std::env::VarError::NotUnicode(_)) => Err(AuthError::InvalidMasterKey(format!(
                "{MASTER_KEY_ENV} is not valid UTF-8"
            ))),
        }
    }

    /// Reads the key file at `path`, or creates it with mode 0600 (and its parent
    /// directory) holding a fresh random key.
    pub fn load_or_create(path: &Path) -> Result<Self, AuthError> {
        let io_err = |source| AuthError::MasterKeyIo {
            path: path.to_path_buf(),
            source,
        };
        match fs::read(path) {
            Ok(bytes) => return Self::from_slice(&Zeroizing::new(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io_err)?;
        }
        let key = Self::generate();
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(&key.raw()).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                Ok(key)
            }
            // Another process created it between our read and our create: use theirs.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let bytes = Zeroizing::new(fs::read(path).map_err(io_err)?);
                Self::from_slice(&bytes)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// Writes the ring to `path` (mode 0600) through a temporary file and a rename, so a
    /// crash leaves the old file or the new one, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), AuthError> {
        let io_err = |source| AuthError::MasterKeyIo {
            path: path.to_path_buf(),
            source,
        };
        let temporary = path.with_extension("new");
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temporary).map_err(io_err)?;
        file.write_all(&self.raw()).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        fs::rename(&temporary, path).map_err(io_err)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::File::open(parent)
                .and_then(|dir| dir.sync_all())
                .map_err(io_err)?;
        }
        Ok(())
    }

    /// This ring with a fresh current key; the old keys are kept, retired, to open what
    /// they sealed (`weir master-key rotate`).
    pub fn rotated(&self) -> Self {
        let mut keys = vec![random_key()];
        keys.extend(self.keys.iter().cloned());
        Self { keys }
    }

    /// Only the current key: what is left once everything has been re-sealed under it
    /// (`weir master-key retire`).
    pub fn current_only(&self) -> Self {
        Self {
            keys: self.keys[..1].to_vec(),
        }
    }

    /// How many keys the ring holds (1 + retired).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a ring holds at least its current key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The ring as standard base64, for putting it in `WEIR_MASTER_KEY`.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(
            self.keys
                .iter()
                .map(|k| STANDARD.encode(k.as_ref()))
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    fn raw(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.keys.iter().flat_map(|k| k.iter().copied()).collect())
    }

    /// Encrypts `plaintext` under the current key, authenticating `context` (e.g. the
    /// access key id) with it.
    pub fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Result<EncryptedSecret, AuthError> {
        let cipher = XChaCha20Poly1305::new(self.keys[0].as_ref().into());
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| AuthError::Encryption)?;
        Ok(EncryptedSecret { nonce, ciphertext })
    }

    /// Decrypts what [`MasterKey::encrypt`] produced with the same `context`, under the
    /// current key or a retired one.
    pub fn decrypt(
        &self,
        sealed: &EncryptedSecret,
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AuthError> {
        self.keys
            .iter()
            .find_map(|key| open_with(key, sealed, context))
            .ok_or(AuthError::Decryption)
    }

    /// Whether `sealed` opens with the current key (it needs no re-sealing).
    pub fn opens_with_current(&self, sealed: &EncryptedSecret, context: &[u8]) -> bool {
        open_with(&self.keys[0], sealed, context).is_some()
    }

    /// Encrypts an access key's secret, bound to its id.
    pub fn encrypt_secret(
        &self,
        id: &AccessKeyId,
        secret: &SecretAccessKey,
    ) -> Result<EncryptedSecret, AuthError> {
        self.encrypt(secret.expose().as_bytes(), id.as_str().as_bytes())
    }

    /// Decrypts an access key's secret; fails if it was stored under another id.
    pub fn decrypt_secret(
        &self,
        id: &AccessKeyId,
        sealed: &EncryptedSecret,
    ) -> Result<SecretAccessKey, AuthError> {
        let plain = self.decrypt(sealed, id.as_str().as_bytes())?;
        let text = std::str::from_utf8(&plain).map_err(|_| AuthError::Decryption)?;
        Ok(SecretAccessKey::new(text))
    }
}

fn random_key() -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(key.as_mut());
    key
}

fn open_with(
    key: &[u8; 32],
    sealed: &EncryptedSecret,
    context: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: context,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A ciphertext with its nonce; stored as the text `v1.<base64(nonce ‖ ciphertext)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedSecret {
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl fmt::Display for EncryptedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(NONCE_LEN + self.ciphertext.len());
        raw.extend_from_slice(&self.nonce);
        raw.extend_from_slice(&self.ciphertext);
        write!(f, "{ENCRYPTED_PREFIX}{}", STANDARD.encode(raw))
    }
}

impl fmt::Debug for EncryptedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptedSecret({} bytes)", self.ciphertext.len())
    }
}

impl FromStr for EncryptedSecret {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| AuthError::InvalidEncryptedSecret(why.to_owned());
        let body = s
            .strip_prefix(ENCRYPTED_PREFIX)
            .ok_or_else(|| invalid("unknown format version"))?;
        let raw = STANDARD
            .decode(body)
            .map_err(|_| invalid("not valid base64"))?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(invalid("too short"));
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| invalid("too short"))?;
        Ok(Self {
            nonce,
            ciphertext: ciphertext.to_vec(),
        })
    }
}

impl Serialize for EncryptedSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EncryptedSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_have_the_aws_shape() {
        let key = AccessKey::generate();
        assert_eq!(key.id.as_str().len(), 20);
        assert!(key.id.as_str().starts_with("WKIA"));
        assert!(key.id.as_str().parse::<AccessKeyId>().is_ok());
        assert_eq!(key.secret.expose().len(), 40);
        assert_ne!(AccessKey::generate().id, key.id);
        assert!("AKIAIOSFODNN7EXAMPLE".parse::<AccessKeyId>().is_err());
        assert!("WKIAlowercase0000000".parse::<AccessKeyId>().is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let key = AccessKey::generate();
        let shown = format!("{key:?}");
        assert!(!shown.contains(key.secret.expose()));
        assert!(shown.contains("<redacted>"));
        assert_eq!(format!("{:?}", MasterKey::generate()), "<redacted>");
    }

    #[test]
    fn encrypt_round_trip_and_binding() {
        let master = MasterKey::generate();
        let key = AccessKey::generate();
        let sealed = master
            .encrypt_secret(&key.id, &key.secret)
            .expect("encrypts");
        let text = sealed.to_string();
        assert!(text.starts_with("v1."));
        assert!(!text.contains(key.secret.expose()));
        let parsed: EncryptedSecret = text.parse().expect("parses");
        let back = master.decrypt_secret(&key.id, &parsed).expect("decrypts");
        assert_eq!(back.expose(), key.secret.expose());

        // Bound to the id: moving the ciphertext to another key fails.
        let other = AccessKeyId::generate();
        assert!(master.decrypt_secret(&other, &parsed).is_err());
        // Another master key fails.
        assert!(MasterKey::generate()
            .decrypt_secret(&key.id, &parsed)
            .is_err());
        // Nonces are random: same plaintext, different ciphertext.
        let again = master
            .encrypt_secret(&key.id, &key.secret)
            .expect("encrypts");
        assert_ne!(again, sealed);
    }

    #[test]
    fn tampered_ciphertext_is_rejected() {
        let master = MasterKey::generate();
        let sealed = master.encrypt(b"secret", b"ctx").expect("encrypts");
        let mut raw = STANDARD.decode(&sealed.to_string()[3..]).expect("base64");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered: EncryptedSecret = format!("v1.{}", STANDARD.encode(raw))
            .parse()
            .expect("parses");
        assert!(matches!(
            master.decrypt(&tampered, b"ctx"),
            Err(AuthError::Decryption)
        ));
        assert!("v2.AAAA".parse::<EncryptedSecret>().is_err());
        assert!("v1.AAAA".parse::<EncryptedSecret>().is_err());
    }

    #[test]
    fn master_key_file_is_created_0600_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("master.key");
        let first = MasterKey::load_or_create(&path).expect("creates");
        let second = MasterKey::load_or_create(&path).expect("loads");
        assert_eq!(*first.raw(), *second.raw());
        assert_eq!(fs::read(&path).expect("reads").len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::write(&path, b"short").expect("writes");
        assert!(matches!(
            MasterKey::load_or_create(&path),
            Err(AuthError::InvalidMasterKey(_))
        ));
    }

    #[test]
    fn master_key_base64() {
        let key = MasterKey::generate();
        let text = key.to_base64();
        let back = MasterKey::from_base64(&text).expect("decodes");
        assert_eq!(*back.raw(), *key.raw());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("!!!").is_err());
    }

    #[test]
    fn a_rotated_ring_seals_with_the_new_key_and_opens_with_both() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let old = MasterKey::load_or_create(&path).expect("creates");
        let before = old.encrypt(b"old secret", b"ctx").expect("seals");
        let ring = old.rotated();
        ring.save(&path).expect("saves");
        let ring = MasterKey::load_or_create(&path).expect("loads the ring");
        assert_eq!(ring.len(), 2);
        assert_eq!(fs::read(&path).expect("reads").len(), 64);
        assert_eq!(
            *ring.decrypt(&before, b"ctx").expect("opens"),
            b"old secret"
        );
        assert!(!ring.opens_with_current(&before, b"ctx"));
        let after = ring.encrypt(b"new secret", b"ctx").expect("seals");
        assert!(ring.opens_with_current(&after, b"ctx"));
        assert!(old.decrypt(&after, b"ctx").is_err());
        let env = MasterKey::from_base64(&ring.to_base64()).expect("decodes the ring");
        assert_eq!(*env.raw(), *ring.raw());
        assert!(ring.current_only().decrypt(&before, b"ctx").is_err());
    }
}
