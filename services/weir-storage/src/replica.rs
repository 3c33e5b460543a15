//! What a replicated log needs beyond appends: copying whole batches in their on-disk
//! form (a leader reads them, a follower appends them unchanged), cutting a divergent
//! suffix, and re-basing an empty or hopelessly behind follower.
//!
//! Batches travel exactly as they are stored, CRCs included, so nothing is decoded and
//! re-encoded on the way; the follower still verifies every CRC and offset before it
//! writes a byte.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::StorageError;
use crate::format::{decode_header, decode_payload, HEADER_LEN};
use crate::log::Shared;
use crate::segment::{index_path, sync_dir, IndexEntry, Segment};

/// Whole batches read from a log for a follower.
#[derive(Debug, Clone)]
pub struct RawBatches {
    /// Offset of the first record in `bytes`.
    pub from: u64,
    /// Offset one past the last record in `bytes`.
    pub end: u64,
    /// First offset of the leader's segment these batches come from: a follower starts a
    /// segment where the leader did, so both hold the same segments (and a new leader
    /// uploads exactly the objects the old one would have).
    pub segment_base: u64,
    /// The batches, exactly as stored.
    pub bytes: Bytes,
}

/// Reads whole batches starting at the batch that begins at `from`, up to about
/// `max_bytes` (always at least one batch) and never past `until` (a batch boundary:
/// the next generation's first offset), from durable data only. `Ok(None)` when `from`
/// is the log's end. Blocking.
pub(crate) fn read_raw(
    shared: &Shared,
    from: u64,
    max_bytes: usize,
    until: u64,
) -> Result<Option<RawBatches>, StorageError> {
    let (file, path, start, end_pos, end, segment_base) = {
        let segments = shared.segments.read();
        let first = segments.first().map_or(0, |s| s.base_offset);
        if from < first {
            return Err(StorageError::BelowStart { start: first });
        }
        let i = segments.partition_point(|s| s.next_offset() <= from);
        let Some(segment) = segments.get(i) else {
            return Ok(None);
        };
        let k = (from - segment.base_offset) as usize;
        let Some(entry) = segment.index.get(k) else {
            return Ok(None);
        };
        if k > 0 && segment.index[k - 1].position == entry.position {
            return Err(StorageError::NotBatchStart(from));
        }
        let start = entry.position;
        let mut end_pos = segment.size;
        let mut end = segment.next_offset();
        for e in &segment.index[k..] {
            let full = (e.position - start) as usize >= max_bytes || e.offset >= until;
            if e.position != start && full {
                end_pos = e.position;
                end = e.offset;
                break;
            }
        }
        (
            Arc::clone(&segment.file),
            segment.log_path.clone(),
            start,
            end_pos,
            end,
            segment.base_offset,
        )
    };
    let mut buffer = vec![0u8; (end_pos - start) as usize];
    file.read_exact_at(&mut buffer, start)
        .map_err(|e| StorageError::io(&path, e))?;
    Ok(Some(RawBatches {
        from,
        end,
        segment_base,
        bytes: Bytes::from(buffer),
    }))
}

/// Appends batches a leader sent, after checking every header, CRC and offset; they must
/// start at the log's end. Fsyncs before publishing. Returns the new end. Runs on the
/// writer thread.
pub(crate) fn append_raw(shared: &Shared, bytes: &[u8], base: u64) -> Result<u64, StorageError> {
    let (file, path, size, next) = {
        let segments = shared.segments.read();
        let active = segments.last().ok_or(StorageError::Closed)?;
        (
            Arc::clone(&active.file),
            active.log_path.clone(),
            active.size,
            active.next_offset(),
        )
    };
    if base != next {
        return Err(StorageError::OutOfSequence {
            expected: next,
            got: base,
        });
    }
    let mut entries = Vec::new();
    let mut expected = base;
    let mut at = 0usize;
    while at < bytes.len() {
        let invalid = |reason: &str| StorageError::Corrupt {
            path: path.clone(),
            position: size + at as u64,
            reason: format!("replicated batch: {reason}"),
        };
        let header_bytes: &[u8; HEADER_LEN] = bytes
            .get(at..at + HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| invalid("torn header"))?;
        let header = decode_header(header_bytes).map_err(invalid)?;
        let payload = bytes
            .get(at + HEADER_LEN..at + HEADER_LEN + header.payload_len)
            .ok_or_else(|| invalid("torn payload"))?;
        let (batch_base, records) = decode_payload(&header, payload).map_err(invalid)?;
        if batch_base != expected || records.is_empty() {
            return Err(invalid("batch out of sequence"));
        }
        for r in &records {
            entries.push(IndexEntry {
                offset: r.offset,
                timestamp_ms: r.timestamp_ms,
                position: size + at as u64,
            });
        }
        expected += records.len() as u64;
        at += HEADER_LEN + header.payload_len;
    }
    if entries.is_empty() {
        return Ok(next);
    }
    if let Err(error) = (&*file).write_all(bytes) {
        if file.set_len(size).is_err() {
            shared.poison();
        }
        return Err(StorageError::io(&path, error));
    }
    if shared.config.fsync {
        if let Err(error) = file.sync_data() {
            shared.poison();
            tracing::error!(path = %path.display(), %error, "fsync failed; shard log poisoned");
            return Err(StorageError::Poisoned);
        }
    }
    {
        let mut segments = shared.segments.write();
        if let Some(active) = segments.last_mut() {
            active.index.extend_from_slice(&entries);
            active.size = size + bytes.len() as u64;
        }
    }
    shared.publish_end(expected);
    Ok(expected)
}

/// Cuts every record at or after `offset` (a batch boundary), deleting later segments.
/// Below the log's first offset, or with `rebase`, the log is emptied and restarts at
/// `offset`. Runs on the writer thread.
pub(crate) fn truncate(shared: &Shared, offset: u64, rebase: bool) -> Result<u64, StorageError> {
    let mut segments = shared.segments.write();
    let first = segments.first().map_or(0, |s| s.base_offset);
    let next = segments.last().map_or(0, Segment::next_offset);
    if !rebase && offset >= next {
        return Ok(next);
    }
    if rebase || offset <= first {
        for segment in segments.drain(..) {
            remove_segment_files(&segment)?;
        }
        segments.push(Segment::create(&shared.dir, offset)?);
        sync_dir(&shared.dir)?;
        drop(segments);
        shared.publish_end(offset);
        return Ok(offset);
    }
    // Later segments go first (and durably): a crash after that but before the cut
    // below leaves a suffix the next replication request cuts again, never a gap.
    let keep = segments.partition_point(|s| s.base_offset < offset);
    if keep < segments.len() {
        for segment in segments.drain(keep..) {
            remove_segment_files(&segment)?;
        }
        sync_dir(&shared.dir)?;
    }
    let Some(last) = segments.last_mut() else {
        return Err(StorageError::Closed);
    };
    let k = (offset - last.base_offset) as usize;
    if k < last.index.len() {
        let position = last.index[k].position;
        if k > 0 && last.index[k - 1].position == position {
            return Err(StorageError::NotBatchStart(offset));
        }
        last.file
            .set_len(position)
            .and_then(|()| last.file.sync_all())
            .map_err(|e| StorageError::io(&last.log_path, e))?;
        last.index.truncate(k);
        last.size = position;
    }
    if last.sealed {
        last.sealed = false;
        let _ = std::fs::remove_file(index_path(&last.log_path));
    }
    let end = last.next_offset();
    sync_dir(&shared.dir)?;
    drop(segments);
    shared.publish_end(end);
    Ok(end)
}

fn remove_segment_files(segment: &Segment) -> Result<(), StorageError> {
    for path in [segment.log_path.clone(), index_path(&segment.log_path)] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StorageError::io(&path, e)),
        }
    }
    Ok(())
}
