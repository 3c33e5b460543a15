//! What the cold tier needs from the log: sealed segment files to upload, dropping the
//! oldest local copy once it is safely elsewhere, and decoding segment bytes fetched back.

use std::path::PathBuf;

use bytes::Bytes;

use crate::error::StorageError;
use crate::format::{decode_header, HEADER_LEN};
use crate::log::Page;
use crate::segment::{IndexEntry, INDEX_ENTRY_LEN};
use crate::StoredRecord;

/// A sealed segment on local disk: immutable, with its `.idx` written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSegment {
    /// Offset of its first record.
    pub base_offset: u64,
    /// Offset one past its last record.
    pub end_offset: u64,
    /// Bytes of the `.log`.
    pub size: u64,
    /// Arrival time of the first record.
    pub first_timestamp_ms: i64,
    /// Arrival time of the last record.
    pub last_timestamp_ms: i64,
    /// The `.log` file.
    pub log_path: PathBuf,
    /// The `.idx` file.
    pub index_path: PathBuf,
}

/// Parses an `.idx` file's bytes (as fetched from the cold tier). `None` when the bytes
/// are not a whole number of entries or the offsets are not dense from `base_offset`.
pub fn parse_index(bytes: &[u8], base_offset: u64) -> Option<Vec<IndexEntry>> {
    if !bytes.len().is_multiple_of(INDEX_ENTRY_LEN) {
        return None;
    }
    let index: Vec<IndexEntry> = bytes
        .chunks_exact(INDEX_ENTRY_LEN)
        .map(|c| IndexEntry {
            offset: u64::from_le_bytes(c[0..8].try_into().unwrap_or_default()),
            timestamp_ms: i64::from_le_bytes(c[8..16].try_into().unwrap_or_default()),
            position: u64::from_le_bytes(c[16..24].try_into().unwrap_or_default()),
        })
        .collect();
    let dense = index
        .iter()
        .enumerate()
        .all(|(i, e)| e.offset == base_offset + i as u64);
    dense.then_some(index)
}

/// Decodes the whole batches in `bytes` (a byte range of a segment that starts at a batch
/// boundary), returning records at or after `from`, up to `max_records` and about
/// `max_bytes` of payload. A batch cut off by the end of the range is ignored; a corrupt
/// one is an error naming `what` (the object the bytes came from).
pub fn decode_range(
    bytes: &Bytes,
    from: u64,
    max_records: usize,
    max_bytes: usize,
    what: &str,
) -> Result<Vec<StoredRecord>, StorageError> {
    let mut page = Page::new(from, max_records, max_bytes);
    let mut position = 0usize;
    while position + HEADER_LEN <= bytes.len() {
        let corrupt = |reason: &str| StorageError::Corrupt {
            path: PathBuf::from(what),
            position: position as u64,
            reason: reason.to_string(),
        };
        let header: &[u8; HEADER_LEN] = bytes[position..position + HEADER_LEN]
            .try_into()
            .map_err(|_| corrupt("short header"))?;
        let parsed = decode_header(header).map_err(corrupt)?;
        let end = position + HEADER_LEN + parsed.payload_len;
        if end > bytes.len() {
            break;
        }
        let payload = bytes.slice(position + HEADER_LEN..end);
        if !page.add_batch(&parsed, &payload).map_err(corrupt)? {
            break;
        }
        position = end;
    }
    Ok(page.records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::encode_batch;
    use crate::NewRecord;

    fn batch(out: &mut Vec<u8>, base: u64, n: usize) {
        let records: Vec<NewRecord> = (0..n)
            .map(|i| NewRecord {
                partition_key: format!("k{i}"),
                data: Bytes::from(vec![i as u8; 10]),
            })
            .collect();
        encode_batch(out, base, 5, &records);
    }

    #[test]
    fn decodes_from_an_offset_and_ignores_a_cut_batch() {
        let mut buf = Vec::new();
        batch(&mut buf, 0, 3);
        batch(&mut buf, 3, 3);
        let whole = Bytes::from(buf.clone());
        let got = decode_range(&whole, 2, 100, 1 << 20, "x").unwrap();
        assert_eq!(
            got.iter().map(|r| r.offset).collect::<Vec<_>>(),
            [2, 3, 4, 5]
        );
        let cut = Bytes::from(buf[..buf.len() - 1].to_vec());
        let got = decode_range(&cut, 0, 100, 1 << 20, "x").unwrap();
        assert_eq!(
            got.len(),
            3,
            "the cut second batch is left for the next read"
        );
        let limited = decode_range(&whole, 0, 4, 1 << 20, "x").unwrap();
        assert_eq!(limited.len(), 4);
    }

    #[test]
    fn corrupt_bytes_are_an_error_and_a_sparse_index_is_refused() {
        let mut buf = Vec::new();
        batch(&mut buf, 0, 2);
        buf[HEADER_LEN + 3] ^= 1;
        assert!(decode_range(&Bytes::from(buf), 0, 10, 1 << 20, "x").is_err());
        let mut idx = Vec::new();
        for offset in [7u64, 9] {
            idx.extend_from_slice(&offset.to_le_bytes());
            idx.extend_from_slice(&0i64.to_le_bytes());
            idx.extend_from_slice(&0u64.to_le_bytes());
        }
        assert!(parse_index(&idx, 7).is_none());
        assert!(parse_index(&idx[..24], 7).is_some());
    }
}
