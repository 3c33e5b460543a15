//! Encryption at rest on the node: records of an encrypted stream are sealed into
//! envelopes (weir-auth `data_keys`) before they reach the shard log, so segment files,
//! replicas and cold-tier objects hold only ciphertext, and opened again when read.
//!
//! An envelope is stored as a record with an empty partition key (Kinesis partition keys
//! have at least one character, so no plaintext record looks like one) whose data is the
//! envelope. The stream's sealed data keys travel with its metadata; the node opens them
//! with the master key it was started with and caches the ciphers by stream and version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use weir_auth::{DataKey, MasterKey, RecordCipher};
use weir_contracts::{StreamCatalog, StreamRecord};
use weir_storage::{NewRecord, StoredRecord};

use crate::error::KinesisError;

/// Most ciphers kept; past it the cache starts over (keys are reopened on demand).
const MAX_CACHED_KEYS: usize = 4096;

/// The node's opened data keys.
pub(crate) struct RecordKeys {
    master: Option<MasterKey>,
    ciphers: Mutex<HashMap<(i64, u32), Arc<RecordCipher>>>,
}

/// A record as a reader sees it, and whether it was stored encrypted.
pub(crate) struct OpenedRecord {
    /// The record in the clear.
    pub record: StoredRecord,
    /// Whether it was stored encrypted (`EncryptionType: KMS`).
    pub encrypted: bool,
}

impl RecordKeys {
    /// Keys opened with `master`; without one, encrypted streams can be neither written
    /// nor read here.
    pub fn new(master: Option<MasterKey>) -> Self {
        Self {
            master,
            ciphers: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets a deleted stream's keys.
    pub fn forget(&self, stream_uid: i64) {
        self.lock().retain(|(uid, _), _| *uid != stream_uid);
    }

    /// `records` as the stream stores them: sealed when it is encrypted.
    pub fn seal(
        &self,
        stream: &StreamRecord,
        records: Vec<NewRecord>,
    ) -> Result<Vec<NewRecord>, KinesisError> {
        let Some(encryption) = &stream.encryption else {
            return Ok(records);
        };
        let cipher = self.cipher(stream, encryption.data_key_version)?;
        records
            .into_iter()
            .map(|record| {
                let envelope = cipher
                    .seal(&record.partition_key, &record.data)
                    .map_err(|e| KinesisError::Internal(format!("cannot encrypt: {e}")))?;
                Ok(NewRecord {
                    partition_key: String::new(),
                    data: Bytes::from(envelope),
                })
            })
            .collect()
    }

    /// [`RecordKeys::seal`] off the runtime's worker threads: sealing a 5 MiB PutRecords
    /// is milliseconds of CPU. Plain streams pay nothing.
    pub async fn seal_off_runtime(
        self: &Arc<Self>,
        stream: &Arc<StreamRecord>,
        records: Vec<NewRecord>,
    ) -> Result<Vec<NewRecord>, KinesisError> {
        if stream.encryption.is_none() {
            return Ok(records);
        }
        let (keys, stream) = (Arc::clone(self), Arc::clone(stream));
        tokio::task::spawn_blocking(move || keys.seal(&stream, records))
            .await
            .map_err(|e| KinesisError::Internal(format!("encryption task failed: {e}")))?
    }

    /// Stored records in the clear, each marked with whether it was encrypted.
    pub fn open(
        &self,
        stream: &StreamRecord,
        stored: Vec<StoredRecord>,
    ) -> Result<Vec<OpenedRecord>, KinesisError> {
        stored
            .into_iter()
            .map(|record| {
                if !record.partition_key.is_empty() {
                    return Ok(OpenedRecord {
                        record,
                        encrypted: false,
                    });
                }
                let version = weir_auth::envelope_version(&record.data).ok_or_else(|| {
                    KinesisError::Internal("a stored record is neither plain nor sealed".into())
                })?;
                let opened =
                    self.cipher(stream, version)?.open(&record.data).map_err(|_| {
                        tracing::error!(stream = %stream.name, version, "a sealed record does not open with its data key");
                        KinesisError::Internal("A record could not be decrypted.".into())
                    })?;
                let data = Bytes::from(opened.buffer).slice(opened.data_start..);
                Ok(OpenedRecord {
                    record: StoredRecord {
                        partition_key: opened.partition_key,
                        data,
                        ..record
                    },
                    encrypted: true,
                })
            })
            .collect()
    }

    fn cipher(
        &self,
        stream: &StreamRecord,
        version: u32,
    ) -> Result<Arc<RecordCipher>, KinesisError> {
        if let Some(cipher) = self.lock().get(&(stream.uid, version)) {
            return Ok(Arc::clone(cipher));
        }
        let master = self.master.as_ref().ok_or_else(|| {
            KinesisError::Kms(
                "KMSAccessDeniedException",
                format!(
                    "Stream {} is encrypted and this node holds no master key: start it with WEIR_MASTER_KEY or --master-key-file.",
                    stream.name
                ),
            )
        })?;
        let sealed = stream
            .data_keys
            .iter()
            .find(|k| k.version == version)
            .ok_or_else(|| {
                KinesisError::Internal(format!(
                    "stream {} has no data key version {version}",
                    stream.name
                ))
            })?;
        let key = DataKey::open(&sealed.sealed, master, stream.uid, version).map_err(|_| {
            KinesisError::Kms(
                "KMSAccessDeniedException",
                format!(
                    "This node's master key cannot open data key {version} of stream {}: give it the deployment's master key ring.",
                    stream.name
                ),
            )
        })?;
        let cipher = Arc::new(key.cipher(stream.uid, version));
        let mut ciphers = self.lock();
        if ciphers.len() >= MAX_CACHED_KEYS {
            ciphers.clear();
        }
        ciphers.insert((stream.uid, version), Arc::clone(&cipher));
        Ok(cipher)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, u32), Arc<RecordCipher>>> {
        self.ciphers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Opens one stream's stored records for a reader that outlives a single request (a
/// subscription hub): it looks the stream's keys up when a sealed record shows up, so
/// keys added after it started are found too.
#[derive(Clone)]
pub(crate) struct StreamOpener {
    keys: Arc<RecordKeys>,
    catalog: Arc<StreamCatalog>,
    stream: String,
}

impl StreamOpener {
    /// An opener for `stream`'s records.
    pub fn new(keys: Arc<RecordKeys>, catalog: Arc<StreamCatalog>, stream: String) -> Self {
        Self {
            keys,
            catalog,
            stream,
        }
    }

    /// `stored` in the clear.
    pub fn open(&self, stored: Vec<StoredRecord>) -> Result<Vec<OpenedRecord>, KinesisError> {
        if stored.iter().all(|r| !r.partition_key.is_empty()) {
            return Ok(stored
                .into_iter()
                .map(|record| OpenedRecord {
                    record,
                    encrypted: false,
                })
                .collect());
        }
        let stream = self.catalog.stream(&self.stream)?;
        self.keys.open(&stream, stored)
    }
}
