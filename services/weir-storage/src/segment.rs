//! One segment: a `.log` file of batches and its dense `.idx`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::StorageError;
use crate::format::{decode_header, decode_payload, HEADER_LEN};

/// Size of one index entry on disk.
pub const INDEX_ENTRY_LEN: usize = 24;

/// One dense index entry: where a record's batch starts and when the record arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// The record's offset.
    pub offset: u64,
    /// Arrival time in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// Byte position in the `.log` of the batch holding the record.
    pub position: u64,
}

/// A segment's files and in-memory index.
#[derive(Debug)]
pub struct Segment {
    /// Offset of the first record this segment holds (or will hold).
    pub base_offset: u64,
    /// Path of the `.log`.
    pub log_path: PathBuf,
    /// Open handle to the `.log`, shared with readers.
    pub file: Arc<File>,
    /// One entry per durable record, in offset order.
    pub index: Vec<IndexEntry>,
    /// Bytes of durable batches (readers never look past this).
    pub size: u64,
    /// Whether the segment is closed for appends and has an `.idx` on disk.
    pub sealed: bool,
}

/// File name stem for a segment.
pub fn stem(base_offset: u64) -> String {
    format!("{base_offset:020}")
}

/// Path of a segment's index file.
pub fn index_path(log_path: &Path) -> PathBuf {
    log_path.with_extension("idx")
}

impl Segment {
    /// Creates a new, empty active segment.
    pub fn create(dir: &Path, base_offset: u64) -> Result<Self, StorageError> {
        let log_path = dir.join(format!("{}.log", stem(base_offset)));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .map_err(|e| StorageError::io(&log_path, e))?;
        file.sync_all()
            .map_err(|e| StorageError::io(&log_path, e))?;
        sync_dir(dir)?;
        Ok(Self {
            base_offset,
            log_path,
            file: Arc::new(file),
            index: Vec::new(),
            size: 0,
            sealed: false,
        })
    }

    /// Opens an existing segment. A sealed segment loads its `.idx` when it is present and
    /// consistent; otherwise (and always for the tail) the `.log` is scanned, and with
    /// `repair` a torn or corrupt tail is truncated away.
    pub fn open(log_path: PathBuf, base_offset: u64, sealed: bool) -> Result<Self, StorageError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| StorageError::io(&log_path, e))?;
        let file_len = file
            .metadata()
            .map_err(|e| StorageError::io(&log_path, e))?
            .len();
        let mut segment = Self {
            base_offset,
            log_path,
            file: Arc::new(file),
            index: Vec::new(),
            size: file_len,
            sealed,
        };
        if sealed {
            if let Some(index) = segment.load_index(file_len)? {
                segment.index = index;
                return Ok(segment);
            }
        }
        segment.scan_and_repair(file_len)?;
        Ok(segment)
    }

    /// Reads the `.idx`, returning `None` when it is missing or does not match the log.
    fn load_index(&self, file_len: u64) -> Result<Option<Vec<IndexEntry>>, StorageError> {
        let path = index_path(&self.log_path);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageError::io(&path, e)),
        };
        let Some(index) = crate::sealed::parse_index(&bytes, self.base_offset) else {
            return Ok(None);
        };
        let consistent = index.iter().all(|e| e.position < file_len);
        Ok(consistent.then_some(index))
    }

    /// Scans every batch, rebuilding the index; truncates the file at the first batch that
    /// is torn, corrupt or out of sequence, keeping everything before it.
    fn scan_and_repair(&mut self, file_len: u64) -> Result<(), StorageError> {
        let mut position = 0u64;
        let mut expected = self.base_offset;
        let mut index = Vec::new();
        let mut header = [0u8; HEADER_LEN];
        let mut payload = Vec::new();
        loop {
            if position + HEADER_LEN as u64 > file_len {
                break;
            }
            self.read_exact_at(&mut header, position)?;
            let Ok(parsed) = decode_header(&header) else {
                break;
            };
            let end = position + (HEADER_LEN + parsed.payload_len) as u64;
            if end > file_len {
                break;
            }
            payload.resize(parsed.payload_len, 0);
            self.read_exact_at(&mut payload, position + HEADER_LEN as u64)?;
            let Ok((base, records)) = decode_payload(&parsed, &payload) else {
                break;
            };
            if base != expected || records.is_empty() {
                break;
            }
            for r in &records {
                index.push(IndexEntry {
                    offset: r.offset,
                    timestamp_ms: r.timestamp_ms,
                    position,
                });
            }
            expected += records.len() as u64;
            position = end;
        }
        if position < file_len {
            tracing::warn!(
                path = %self.log_path.display(),
                kept_bytes = position,
                dropped_bytes = file_len - position,
                "truncating torn or corrupt tail of segment"
            );
            self.file
                .set_len(position)
                .map_err(|e| StorageError::io(&self.log_path, e))?;
            self.file
                .sync_all()
                .map_err(|e| StorageError::io(&self.log_path, e))?;
        }
        self.index = index;
        self.size = position;
        Ok(())
    }

    fn read_exact_at(&self, buf: &mut [u8], position: u64) -> Result<(), StorageError> {
        self.file
            .read_exact_at(buf, position)
            .map_err(|e| StorageError::io(&self.log_path, e))
    }

    /// Offset one past the last durable record.
    pub fn next_offset(&self) -> u64 {
        self.base_offset + self.index.len() as u64
    }

    /// Timestamp of the newest record, if any.
    pub fn last_timestamp(&self) -> Option<i64> {
        self.index.last().map(|e| e.timestamp_ms)
    }
}

/// Writes a sealed segment's `.idx` atomically (temp file, fsync, rename). The index is
/// written from a snapshot so the writer does not hold the shard lock during the fsync.
pub fn write_index(log_path: &Path, index: &[IndexEntry]) -> Result<(), StorageError> {
    let path = index_path(log_path);
    let tmp = path.with_extension("idx.tmp");
    let mut bytes = Vec::with_capacity(index.len() * INDEX_ENTRY_LEN);
    for e in index {
        bytes.extend_from_slice(&e.offset.to_le_bytes());
        bytes.extend_from_slice(&e.timestamp_ms.to_le_bytes());
        bytes.extend_from_slice(&e.position.to_le_bytes());
    }
    let mut f = File::create(&tmp).map_err(|e| StorageError::io(&tmp, e))?;
    f.write_all(&bytes).map_err(|e| StorageError::io(&tmp, e))?;
    f.sync_all().map_err(|e| StorageError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| StorageError::io(&path, e))?;
    Ok(())
}

/// fsyncs a folder so that created, renamed or deleted entries survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}
