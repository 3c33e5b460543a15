//! A shard's log: the writer thread (group commit), reads, and retention.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, oneshot};

use crate::error::StorageError;
use crate::format::{decode_header, decode_payload, encode_batch, HEADER_LEN};
use crate::segment::{index_path, stem, sync_dir, write_index, IndexEntry, Segment};
use crate::NewRecord;

/// Tuning for a shard log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Roll to a new segment once the active one reaches this many bytes.
    pub segment_bytes: u64,
    /// fsync before acknowledging. Only benchmarks turn this off; the durability contract
    /// depends on it.
    pub fsync: bool,
    /// Depth of the bounded append queue; an append finding it full is refused
    /// ([`crate::StorageError::QueueFull`]).
    pub queue_depth: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 64 * 1024 * 1024,
            fsync: true,
            queue_depth: 256,
        }
    }
}

/// What an acknowledged append got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendAck {
    /// Offset of the first record; the rest follow contiguously.
    pub base_offset: u64,
    /// Arrival timestamp assigned to every record of the append.
    pub timestamp_ms: i64,
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Offset within the shard.
    pub offset: u64,
    /// Arrival time in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The partition key.
    pub partition_key: String,
    /// The payload.
    pub data: Bytes,
}

/// The answer a read is building: records at or after `from`, up to `max_records` and
/// about `max_bytes` of payload (always at least one record). Local and cold-tier reads
/// fill it the same way, batch by batch.
pub(crate) struct Page {
    pub(crate) records: Vec<StoredRecord>,
    bytes: usize,
    from: u64,
    max_records: usize,
    max_bytes: usize,
}

impl Page {
    pub(crate) fn new(from: u64, max_records: usize, max_bytes: usize) -> Self {
        Self {
            records: Vec::new(),
            bytes: 0,
            from,
            max_records,
            max_bytes,
        }
    }

    /// Verifies and adds one batch's records (payloads stay slices of `payload`, not
    /// copies). Returns false once the page is full; `Err` says why the batch is invalid.
    pub(crate) fn add_batch(
        &mut self,
        header: &crate::format::Header,
        payload: &Bytes,
    ) -> Result<bool, &'static str> {
        let (_, records) = decode_payload(header, payload)?;
        for r in records.iter().filter(|r| r.offset >= self.from) {
            if self.records.len() >= self.max_records
                || (!self.records.is_empty() && self.bytes + r.data.len() > self.max_bytes)
            {
                return Ok(false);
            }
            self.bytes += r.data.len() + r.key.len();
            self.records.push(StoredRecord {
                offset: r.offset,
                timestamp_ms: r.timestamp_ms,
                partition_key: String::from_utf8_lossy(r.key).into_owned(),
                data: payload.slice_ref(r.data),
            });
        }
        Ok(true)
    }
}

struct AppendRequest {
    records: Vec<NewRecord>,
    timestamp_ms: i64,
    reply: oneshot::Sender<Result<AppendAck, StorageError>>,
}

/// What travels through the writer's queue. Seal goes through the same queue as appends so
/// that every append queued before it is committed and every append after it is refused.
enum WriterRequest {
    Append(AppendRequest),
    Seal {
        sealed: bool,
        reply: oneshot::Sender<Result<u64, StorageError>>,
    },
    /// Seal the active segment now (if it holds records) so it can be uploaded.
    Roll {
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
    /// Append batches copied from a leader, unchanged.
    Raw {
        bytes: Bytes,
        base: u64,
        segment_base: Option<u64>,
        reply: oneshot::Sender<Result<u64, StorageError>>,
    },
    /// Cut the log at an offset (or empty it and restart there, with `rebase`).
    Truncate {
        offset: u64,
        rebase: bool,
        reply: oneshot::Sender<Result<u64, StorageError>>,
    },
}

pub(crate) struct Shared {
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    /// Segments in offset order; the last one is the active segment.
    pub(crate) segments: RwLock<Vec<Segment>>,
    poisoned: AtomicBool,
    /// Set while the shard is closed by a reshard: appends are refused with `Sealed`.
    sealed: AtomicBool,
    /// The durable end, for whoever waits on new records (replication).
    end: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
    }

    pub(crate) fn publish_end(&self, end: u64) {
        self.end.send_replace(end);
    }
}

/// One shard's durable, append-only log.
pub struct ShardLog {
    shared: Arc<Shared>,
    sender: Mutex<Option<mpsc::Sender<WriterRequest>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// Most requests the writer folds into one fsync.
const MAX_GROUP: usize = 1024;

impl ShardLog {
    /// Opens (creating if needed) the log in `dir`, recovering from any crash: the tail
    /// segment is scanned and a torn or corrupt tail truncated. Blocking: call it from
    /// `spawn_blocking` on a runtime.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Self, StorageError> {
        Self::open_at(dir, config, 0)
    }

    /// Like [`ShardLog::open`], but a log with no segments yet starts at `start_offset`:
    /// a shard whose earlier records live only in the cold tier (a moved shard, or a
    /// node whose data folder was lost) continues its offsets instead of reusing them.
    pub fn open_at(dir: &Path, config: LogConfig, start_offset: u64) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(base) = name
                .strip_suffix(".log")
                .and_then(|s| s.parse::<u64>().ok())
            {
                bases.push(base);
            } else if name.ends_with(".idx.tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        bases.sort_unstable();
        let mut segments = Vec::with_capacity(bases.len().max(1));
        for (i, base) in bases.iter().enumerate() {
            let path = dir.join(format!("{}.log", stem(*base)));
            let is_tail = i + 1 == bases.len();
            if is_tail {
                // The tail may have been appended to after an earlier seal; its index is
                // always rebuilt from the log.
                let _ = std::fs::remove_file(index_path(&path));
            }
            segments.push(Segment::open(path, *base, !is_tail)?);
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, start_offset)?);
        }
        for pair in segments.windows(2) {
            if pair[0].next_offset() != pair[1].base_offset {
                tracing::warn!(
                    dir = %dir.display(),
                    segment = pair[0].base_offset,
                    next = pair[1].base_offset,
                    "gap or overlap between segments"
                );
            }
        }
        let end = segments.last().map_or(0, Segment::next_offset);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            config: config.clone(),
            segments: RwLock::new(segments),
            poisoned: AtomicBool::new(false),
            sealed: AtomicBool::new(false),
            end: tokio::sync::watch::channel(end).0,
        });
        let (sender, receiver) = mpsc::channel(config.queue_depth.max(1));
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("weir-log-writer".into())
            .spawn(move || writer_loop(writer_shared, receiver))
            .map_err(|e| StorageError::io(dir, e))?;
        Ok(Self {
            shared,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Appends `records` as one batch; resolves once they are durable (after the fsync
    /// that covers them). Concurrent appends share fsyncs.
    pub async fn append(
        &self,
        records: Vec<NewRecord>,
        timestamp_ms: i64,
    ) -> Result<AppendAck, StorageError> {
        if records.is_empty() {
            return Err(StorageError::TooLarge("empty batch".into()));
        }
        for r in &records {
            if r.partition_key.len() > u16::MAX as usize || r.data.len() > u32::MAX as usize / 2 {
                return Err(StorageError::TooLarge(
                    "record exceeds framing limits".into(),
                ));
            }
        }
        let sender = self.sender.lock().clone().ok_or(StorageError::Closed)?;
        let (reply, answer) = oneshot::channel();
        // A full queue is refused, not waited on: every waiter would hold its batch in
        // memory, without bound. The caller answers with a throttle.
        sender
            .try_send(WriterRequest::Append(AppendRequest {
                records,
                timestamp_ms,
                reply,
            }))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StorageError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => StorageError::Closed,
            })?;
        answer.await.map_err(|_| StorageError::Closed)?
    }

    /// Stops accepting appends once every append queued before this call is durable, and
    /// returns the offset one past the last record: the shard's end when a reshard closes
    /// it. Idempotent.
    pub async fn seal(&self) -> Result<u64, StorageError> {
        self.set_sealed(true).await
    }

    /// Undoes [`ShardLog::seal`] when the reshard that sealed the shard did not happen.
    pub async fn unseal(&self) -> Result<u64, StorageError> {
        self.set_sealed(false).await
    }

    async fn set_sealed(&self, sealed: bool) -> Result<u64, StorageError> {
        let sender = self.sender.lock().clone().ok_or(StorageError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(WriterRequest::Seal { sealed, reply })
            .await
            .map_err(|_| StorageError::Closed)?;
        answer.await.map_err(|_| StorageError::Closed)?
    }

    /// Seals the active segment (writing its index) and starts a new one, once every
    /// append queued before this call is durable. Used to upload a shard's tail before
    /// it moves. Does nothing when the active segment is empty.
    pub async fn roll(&self) -> Result<(), StorageError> {
        let sender = self.sender.lock().clone().ok_or(StorageError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(WriterRequest::Roll { reply })
            .await
            .map_err(|_| StorageError::Closed)?;
        answer.await.map_err(|_| StorageError::Closed)?
    }

    /// Appends batches copied from a leader's log, unchanged, once their CRCs and offsets
    /// check out; they must start at this log's end. With `segment_base` (the first
    /// offset of the leader's segment they come from), segments roll where the leader's
    /// did instead of by size. Resolves after the fsync; returns the new end.
    pub async fn append_raw(
        &self,
        bytes: Bytes,
        base: u64,
        segment_base: Option<u64>,
    ) -> Result<u64, StorageError> {
        let (reply, answer) = oneshot::channel();
        self.request(WriterRequest::Raw {
            bytes,
            base,
            segment_base,
            reply,
        })
        .await?;
        answer.await.map_err(|_| StorageError::Closed)?
    }

    /// Cuts every record at or after `offset` (a batch boundary): a follower dropping a
    /// suffix its new leader does not have. With `rebase`, or below the first local
    /// offset, the log is emptied and continues at `offset`. Returns the new end.
    pub async fn truncate(&self, offset: u64, rebase: bool) -> Result<u64, StorageError> {
        let (reply, answer) = oneshot::channel();
        self.request(WriterRequest::Truncate {
            offset,
            rebase,
            reply,
        })
        .await?;
        answer.await.map_err(|_| StorageError::Closed)?
    }

    /// Whole batches from the one starting at `from`, about `max_bytes` of them and
    /// none at or past `until`, as stored (for a follower). `None` at the end of the
    /// log. Blocking.
    pub fn read_raw(
        &self,
        from: u64,
        max_bytes: usize,
        until: u64,
    ) -> Result<Option<crate::RawBatches>, StorageError> {
        crate::replica::read_raw(&self.shared, from, max_bytes, until)
    }

    /// Whether appends are refused by [`ShardLog::seal`].
    pub fn is_sealed(&self) -> bool {
        self.shared.sealed.load(Ordering::Acquire)
    }

    /// Watches the durable end (the offset after the last durable record).
    pub fn watch_end(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.end.subscribe()
    }

    async fn request(&self, request: WriterRequest) -> Result<(), StorageError> {
        let sender = self.sender.lock().clone().ok_or(StorageError::Closed)?;
        sender.send(request).await.map_err(|_| StorageError::Closed)
    }

    /// The sealed segments held locally, oldest first (never the active one).
    pub fn sealed_segments(&self) -> Vec<crate::SealedSegment> {
        let segments = self.shared.segments.read();
        segments
            .iter()
            .take(segments.len().saturating_sub(1))
            .filter(|s| s.sealed && !s.index.is_empty())
            .map(|s| crate::SealedSegment {
                base_offset: s.base_offset,
                end_offset: s.next_offset(),
                size: s.size,
                first_timestamp_ms: s.index.first().map_or(0, |e| e.timestamp_ms),
                last_timestamp_ms: s.index.last().map_or(0, |e| e.timestamp_ms),
                log_path: s.log_path.clone(),
                index_path: index_path(&s.log_path),
            })
            .collect()
    }

    /// Bytes of every local segment file (what local retention bounds).
    pub fn local_bytes(&self) -> u64 {
        self.shared.segments.read().iter().map(|s| s.size).sum()
    }

    /// Deletes the oldest local segment if it is sealed and starts at `base_offset`
    /// (the caller checked its copy in the cold tier). Returns whether it was deleted.
    /// The active segment is never deleted. Blocking.
    pub fn drop_oldest(&self, base_offset: u64) -> Result<bool, StorageError> {
        let removed = {
            let mut segments = self.shared.segments.write();
            let droppable = segments.len() > 1
                && segments
                    .first()
                    .is_some_and(|s| s.sealed && s.base_offset == base_offset);
            if !droppable {
                return Ok(false);
            }
            segments.remove(0)
        };
        remove_if_exists(&removed.log_path)?;
        remove_if_exists(&index_path(&removed.log_path))?;
        sync_dir(&self.shared.dir)?;
        Ok(true)
    }

    /// Offset of the oldest retained record.
    pub fn start_offset(&self) -> u64 {
        self.shared
            .segments
            .read()
            .first()
            .map_or(0, |s| s.base_offset)
    }

    /// Offset the next appended record will get.
    pub fn next_offset(&self) -> u64 {
        self.shared
            .segments
            .read()
            .last()
            .map_or(0, Segment::next_offset)
    }

    /// First offset whose arrival timestamp is at or after `timestamp_ms` (the next offset
    /// when none is).
    pub fn offset_at_timestamp(&self, timestamp_ms: i64) -> u64 {
        let segments = self.shared.segments.read();
        for segment in segments.iter() {
            if segment.last_timestamp().is_some_and(|t| t >= timestamp_ms) {
                let i = segment
                    .index
                    .partition_point(|e| e.timestamp_ms < timestamp_ms);
                return segment.base_offset + i as u64;
            }
        }
        segments.last().map_or(0, Segment::next_offset)
    }

    /// Timestamp of the newest durable record.
    pub fn last_timestamp(&self) -> Option<i64> {
        let segments = self.shared.segments.read();
        segments.iter().rev().find_map(Segment::last_timestamp)
    }

    /// Reads up to `max_records` records and about `max_bytes` of payload starting at
    /// `from` (clamped to the oldest retained record). Always returns at least one record
    /// when one exists. Blocking: call it from `spawn_blocking` on a runtime.
    pub fn read(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredRecord>, StorageError> {
        struct Span {
            file: Arc<std::fs::File>,
            path: PathBuf,
            position: u64,
            end: u64,
        }
        let spans: Vec<Span> = {
            let segments = self.shared.segments.read();
            let from = from.max(segments.first().map_or(0, |s| s.base_offset));
            let first = segments.partition_point(|s| s.next_offset() <= from);
            segments[first..]
                .iter()
                .filter_map(|s| {
                    let i = from.saturating_sub(s.base_offset) as usize;
                    let entry: &IndexEntry = s.index.get(i)?;
                    Some(Span {
                        file: Arc::clone(&s.file),
                        path: s.log_path.clone(),
                        position: entry.position,
                        end: s.size,
                    })
                })
                .collect()
        };
        let mut page = Page::new(from, max_records, max_bytes);
        let mut header = [0u8; HEADER_LEN];
        'spans: for span in spans {
            let mut position = span.position;
            while position < span.end {
                use std::os::unix::fs::FileExt;
                span.file
                    .read_exact_at(&mut header, position)
                    .map_err(|e| StorageError::io(&span.path, e))?;
                let corrupt = |reason: &str| StorageError::Corrupt {
                    path: span.path.clone(),
                    position,
                    reason: reason.to_string(),
                };
                let parsed = decode_header(&header).map_err(corrupt)?;
                let mut buffer = vec![0u8; parsed.payload_len];
                span.file
                    .read_exact_at(&mut buffer, position + HEADER_LEN as u64)
                    .map_err(|e| StorageError::io(&span.path, e))?;
                if !page
                    .add_batch(&parsed, &Bytes::from(buffer))
                    .map_err(corrupt)?
                {
                    break 'spans;
                }
                position += (HEADER_LEN + parsed.payload_len) as u64;
            }
        }
        Ok(page.records)
    }

    /// Deletes whole sealed segments whose newest record arrived before `cutoff_ms`.
    /// Returns how many were deleted. The active segment is never deleted. Blocking.
    pub fn enforce_retention(&self, cutoff_ms: i64) -> Result<usize, StorageError> {
        let removed: Vec<Segment> = {
            let mut segments = self.shared.segments.write();
            let expired = segments
                .iter()
                .take(segments.len().saturating_sub(1))
                .take_while(|s| s.sealed && s.last_timestamp().is_none_or(|t| t < cutoff_ms))
                .count();
            segments.drain(..expired).collect()
        };
        for segment in &removed {
            remove_if_exists(&segment.log_path)?;
            remove_if_exists(&index_path(&segment.log_path))?;
        }
        if !removed.is_empty() {
            sync_dir(&self.shared.dir)?;
        }
        Ok(removed.len())
    }

    /// Describes the segments (base offset, record count, bytes, sealed) for operators.
    pub fn segments(&self) -> Vec<(u64, u64, u64, bool)> {
        self.shared
            .segments
            .read()
            .iter()
            .map(|s| (s.base_offset, s.index.len() as u64, s.size, s.sealed))
            .collect()
    }

    /// Stops the writer after it drains queued appends. Blocking.
    pub fn close(&self) {
        self.sender.lock().take();
        if let Some(handle) = self.writer.lock().take() {
            let _ = handle.join();
        }
    }

    /// Closes the log and deletes its folder. Blocking.
    pub fn destroy(&self) -> Result<(), StorageError> {
        self.close();
        match std::fs::remove_dir_all(&self.shared.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::io(&self.shared.dir, e)),
        }
    }
}

impl Drop for ShardLog {
    fn drop(&mut self) {
        // Dropping the sender lets the writer drain and exit on its own.
        self.sender.lock().take();
    }
}

fn remove_if_exists(path: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

/// The single writer: takes every queued append, writes them, fsyncs once, acknowledges.
fn writer_loop(shared: Arc<Shared>, mut receiver: mpsc::Receiver<WriterRequest>) {
    let mut buffer = Vec::new();
    let mut pending = None;
    loop {
        let first = match pending.take() {
            Some(request) => request,
            None => match receiver.blocking_recv() {
                Some(request) => request,
                None => return,
            },
        };
        let mut group = match first {
            WriterRequest::Seal { sealed, reply } => {
                shared.sealed.store(sealed, Ordering::Release);
                let next = shared
                    .segments
                    .read()
                    .last()
                    .map_or(0, Segment::next_offset);
                let _ = reply.send(Ok(next));
                continue;
            }
            WriterRequest::Roll { reply } => {
                let _ = reply.send(roll(&shared, 1));
                continue;
            }
            WriterRequest::Raw {
                bytes,
                base,
                segment_base,
                reply,
            } => {
                let result = if shared.poisoned.load(Ordering::Acquire) {
                    Err(StorageError::Poisoned)
                } else {
                    let rolled = match segment_base {
                        Some(leader_base) => roll_at(&shared, leader_base, base),
                        None => roll_if_full(&shared),
                    };
                    rolled.and_then(|()| crate::replica::append_raw(&shared, &bytes, base))
                };
                let _ = reply.send(result);
                continue;
            }
            WriterRequest::Truncate {
                offset,
                rebase,
                reply,
            } => {
                let _ = reply.send(crate::replica::truncate(&shared, offset, rebase));
                continue;
            }
            WriterRequest::Append(request) => vec![request],
        };
        // Group every append already queued, stopping at a seal so it keeps its place.
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(WriterRequest::Append(request)) => group.push(request),
                Ok(seal) => {
                    pending = Some(seal);
                    break;
                }
                Err(_) => break,
            }
        }
        if shared.sealed.load(Ordering::Acquire) {
            for request in group {
                let _ = request.reply.send(Err(StorageError::Sealed));
            }
            continue;
        }
        if shared.poisoned.load(Ordering::Acquire) {
            for request in group {
                let _ = request.reply.send(Err(StorageError::Poisoned));
            }
            continue;
        }
        if let Err(error) = roll_if_full(&shared) {
            tracing::error!(%error, "segment roll failed");
            shared.poisoned.store(true, Ordering::Release);
            for request in group {
                let _ = request.reply.send(Err(StorageError::Poisoned));
            }
            continue;
        }
        commit_group(&shared, group, &mut buffer);
    }
}

fn commit_group(shared: &Shared, group: Vec<AppendRequest>, buffer: &mut Vec<u8>) {
    use std::io::Write;
    let (file, path, size, mut next_offset, mut last_ts) = {
        let segments = shared.segments.read();
        let Some(active) = segments.last() else {
            return;
        };
        (
            Arc::clone(&active.file),
            active.log_path.clone(),
            active.size,
            active.next_offset(),
            segments
                .iter()
                .rev()
                .find_map(Segment::last_timestamp)
                .unwrap_or(i64::MIN),
        )
    };
    buffer.clear();
    let mut entries = Vec::new();
    let mut acks = Vec::with_capacity(group.len());
    for request in &group {
        // Arrival timestamps never go backwards within a shard, so reads by timestamp can
        // binary-search the index.
        let timestamp_ms = request.timestamp_ms.max(last_ts);
        last_ts = timestamp_ms;
        let position = size + buffer.len() as u64;
        encode_batch(buffer, next_offset, timestamp_ms, &request.records);
        for i in 0..request.records.len() as u64 {
            entries.push(IndexEntry {
                offset: next_offset + i,
                timestamp_ms,
                position,
            });
        }
        acks.push(AppendAck {
            base_offset: next_offset,
            timestamp_ms,
        });
        next_offset += request.records.len() as u64;
    }
    let written = (&*file).write_all(buffer);
    if let Err(error) = written {
        // Undo a partial write so the file holds only whole batches; if even that fails,
        // recovery on restart will truncate the torn tail.
        if file.set_len(size).is_err() {
            shared.poisoned.store(true, Ordering::Release);
        }
        tracing::error!(path = %path.display(), %error, "append failed");
        for request in group {
            let _ = request.reply.send(Err(StorageError::io(
                &path,
                std::io::Error::new(error.kind(), error.to_string()),
            )));
        }
        return;
    }
    if shared.config.fsync {
        if let Err(error) = file.sync_data() {
            // After a failed fsync the kernel may have dropped dirty pages: never ack, and
            // refuse further writes until restart recovery rereads the disk.
            shared.poisoned.store(true, Ordering::Release);
            tracing::error!(path = %path.display(), %error, "fsync failed; shard log poisoned");
            for request in group {
                let _ = request.reply.send(Err(StorageError::Poisoned));
            }
            return;
        }
    }
    {
        let mut segments = shared.segments.write();
        if let Some(active) = segments.last_mut() {
            active.index.extend_from_slice(&entries);
            active.size = size + buffer.len() as u64;
        }
    }
    shared.publish_end(next_offset);
    for (request, ack) in group.into_iter().zip(acks) {
        let _ = request.reply.send(Ok(ack));
    }
}

/// Starts a new segment at `at` when the leader's segment starts there and the active
/// one already holds records (so a follower's segments mirror its leader's).
fn roll_at(shared: &Shared, leader_base: u64, at: u64) -> Result<(), StorageError> {
    let active_base = shared.segments.read().last().map(|s| s.base_offset);
    if leader_base == at && active_base.is_some_and(|b| b != at) {
        return roll(shared, 1);
    }
    Ok(())
}

/// Seals the active segment and starts a new one once it is full.
fn roll_if_full(shared: &Shared) -> Result<(), StorageError> {
    roll(shared, shared.config.segment_bytes)
}

/// Seals the active segment and starts a new one if it holds records and at least
/// `min_bytes`.
fn roll(shared: &Shared, min_bytes: u64) -> Result<(), StorageError> {
    let (log_path, index, next_offset) = {
        let segments = shared.segments.read();
        let Some(active) = segments.last() else {
            return Ok(());
        };
        if active.size < min_bytes || active.index.is_empty() {
            return Ok(());
        }
        (
            active.log_path.clone(),
            active.index.clone(),
            active.next_offset(),
        )
    };
    write_index(&log_path, &index)?;
    let fresh = Segment::create(&shared.dir, next_offset)?;
    let mut segments = shared.segments.write();
    if let Some(active) = segments.last_mut() {
        active.sealed = true;
    }
    segments.push(fresh);
    Ok(())
}
