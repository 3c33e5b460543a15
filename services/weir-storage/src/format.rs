//! The on-disk batch framing.
//!
//! ```text
//! batch  := header payload
//! header := magic:u32 "WEIR" | payload_len:u32 | crc32c(payload):u32      (little endian)
//! payload:= base_offset:u64 | count:u32 | record*count
//! record := timestamp_ms:i64 | key_len:u16 | data_len:u32 | key bytes | data bytes
//! ```
//! Every record in a batch shares the batch's checksum; offsets are implicit
//! (`base_offset + i`).

use crate::NewRecord;

/// Marks the start of a batch, so garbage left by a torn write is not mistaken for one.
pub const MAGIC: u32 = u32::from_le_bytes(*b"WEIR");
/// Size of the batch header.
pub const HEADER_LEN: usize = 12;
/// Size of a record's fixed part.
pub const RECORD_FIXED_LEN: usize = 14;
/// Fixed part of the payload.
pub const PAYLOAD_FIXED_LEN: usize = 12;
/// Upper bound on one batch, far above Kinesis's 10 MiB request limit.
pub const MAX_PAYLOAD_LEN: usize = 256 * 1024 * 1024;

/// Appends one encoded batch to `out`; returns the encoded length.
pub fn encode_batch(
    out: &mut Vec<u8>,
    base_offset: u64,
    timestamp_ms: i64,
    records: &[NewRecord],
) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER_LEN]);
    out.extend_from_slice(&base_offset.to_le_bytes());
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for record in records {
        out.extend_from_slice(&timestamp_ms.to_le_bytes());
        out.extend_from_slice(&(record.partition_key.len() as u16).to_le_bytes());
        out.extend_from_slice(&(record.data.len() as u32).to_le_bytes());
        out.extend_from_slice(record.partition_key.as_bytes());
        out.extend_from_slice(&record.data);
    }
    let payload_len = out.len() - start - HEADER_LEN;
    let crc = crc32c::crc32c(&out[start + HEADER_LEN..]);
    out[start..start + 4].copy_from_slice(&MAGIC.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    out.len() - start
}

/// A decoded batch header.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// Length of the payload after the header.
    pub payload_len: usize,
    /// Expected CRC32C of the payload.
    pub crc: u32,
}

/// Parses a header; `Err` says why it is not a valid one.
pub fn decode_header(bytes: &[u8; HEADER_LEN]) -> Result<Header, &'static str> {
    let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    if word(0) != MAGIC {
        return Err("bad magic");
    }
    let payload_len = word(4) as usize;
    if !(PAYLOAD_FIXED_LEN..=MAX_PAYLOAD_LEN).contains(&payload_len) {
        return Err("implausible batch length");
    }
    Ok(Header {
        payload_len,
        crc: word(8),
    })
}

/// One record decoded from a batch.
#[derive(Debug, Clone)]
pub struct DecodedRecord<'a> {
    /// The record's offset in its shard.
    pub offset: u64,
    /// Arrival time in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The partition key bytes (UTF-8 when written by us).
    pub key: &'a [u8],
    /// The payload.
    pub data: &'a [u8],
}

/// Verifies and decodes a payload. `Err` says why it is not a valid one.
pub fn decode_payload<'a>(
    header: &Header,
    payload: &'a [u8],
) -> Result<(u64, Vec<DecodedRecord<'a>>), &'static str> {
    if payload.len() != header.payload_len {
        return Err("short payload");
    }
    if crc32c::crc32c(payload) != header.crc {
        return Err("checksum mismatch");
    }
    let base_offset = u64::from_le_bytes(payload[0..8].try_into().map_err(|_| "short")?);
    let count = u32::from_le_bytes(payload[8..12].try_into().map_err(|_| "short")?) as usize;
    let mut records = Vec::with_capacity(count.min(100_000));
    let mut pos = PAYLOAD_FIXED_LEN;
    for i in 0..count {
        let fixed = payload
            .get(pos..pos + RECORD_FIXED_LEN)
            .ok_or("record header past end of batch")?;
        let timestamp_ms = i64::from_le_bytes(fixed[0..8].try_into().map_err(|_| "short")?);
        let key_len = u16::from_le_bytes(fixed[8..10].try_into().map_err(|_| "short")?) as usize;
        let data_len = u32::from_le_bytes(fixed[10..14].try_into().map_err(|_| "short")?) as usize;
        pos += RECORD_FIXED_LEN;
        let key = payload
            .get(pos..pos + key_len)
            .ok_or("key past end of batch")?;
        pos += key_len;
        let data = payload
            .get(pos..pos + data_len)
            .ok_or("data past end of batch")?;
        pos += data_len;
        records.push(DecodedRecord {
            offset: base_offset + i as u64,
            timestamp_ms,
            key,
            data,
        });
    }
    if pos != payload.len() {
        return Err("trailing bytes in batch");
    }
    Ok((base_offset, records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn batch_round_trips_and_detects_flips() {
        let records = vec![
            NewRecord {
                partition_key: "k1".into(),
                data: Bytes::from_static(b"\x00\xffhello"),
            },
            NewRecord {
                partition_key: "k2".into(),
                data: Bytes::new(),
            },
        ];
        let mut buf = Vec::new();
        encode_batch(&mut buf, 42, 1000, &records);
        let header = decode_header(buf[..HEADER_LEN].try_into().unwrap()).unwrap();
        let (base, decoded) = decode_payload(&header, &buf[HEADER_LEN..]).unwrap();
        assert_eq!(base, 42);
        assert_eq!(decoded[1].offset, 43);
        assert_eq!(decoded[0].data, b"\x00\xffhello");
        assert_eq!(decoded[1].key, b"k2");
        for i in HEADER_LEN..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert!(
                decode_payload(&header, &bad[HEADER_LEN..]).is_err(),
                "flip at {i} undetected"
            );
        }
    }
}
