//! The cold tier on a node: uploading sealed segments, dropping local copies that are
//! safely in the bucket, and reading below the local horizon.
//!
//! **Upload lifecycle.** For every sealed local segment not yet uploaded, the node first
//! records the segment as `uploading` (through the [`TierCatalog`], which fences nodes
//! holding a stale generation), then puts the `.log` and `.idx` objects, then records
//! `uploaded`. A local copy is dropped only after that, and only once the shard's local
//! bytes or the segment's age exceed the stream's local retention. Failed uploads retry
//! with backoff and jitter in the background: writes never wait on the bucket.
//!
//! **Cold reads.** Each shard keeps a view of its uploaded segments. A read below the
//! local log's first offset finds the segment holding it, fetches that segment's index
//! once, and ranged-GETs an aligned block of whole batches, through a bounded cache.

mod remote;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use weir_contracts::{TierSegment, TierState};
use weir_storage::{decode_range, parse_index, IndexEntry, SealedSegment, StoredRecord};
use weir_tier::{layout, Backoff, BlockCache, ObjectStore};

pub use remote::RemoteCatalog;
pub use weir_contracts::TierCatalog;

use crate::shards::LocalShard;
use crate::KinesisError;

/// Bytes of segment fetched per ranged GET (rounded to whole batches).
const BLOCK_BYTES: u64 = 1024 * 1024;

/// A shard's uploaded segments in offset order, shared between readers and the uploader.
type ShardView = Arc<RwLock<Vec<TierSegment>>>;

/// Node-wide tiering settings (streams may override local retention).
#[derive(Debug, Clone)]
pub struct TierConfig {
    /// Local bytes kept per shard once segments are uploaded.
    pub local_retention_bytes: u64,
    /// Age after which an uploaded segment leaves local disk (`None`: bytes decide).
    pub local_retention_ms: Option<u64>,
    /// How often the uploader looks for sealed segments.
    pub interval: Duration,
    /// Bytes of fetched segment data kept in memory for cold reads.
    pub cache_bytes: usize,
    /// Warn when the data folder's file system has less than this fraction free.
    pub disk_warn_free_fraction: f64,
}

impl Default for TierConfig {
    fn default() -> Self {
        Self {
            local_retention_bytes: 1024 * 1024 * 1024,
            local_retention_ms: None,
            interval: Duration::from_secs(1),
            cache_bytes: 64 * 1024 * 1024,
            disk_warn_free_fraction: 0.10,
        }
    }
}

/// What `/tier/status` reports about this node.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TierStatus {
    /// Bytes of shard logs on this node's disk.
    pub local_bytes: u64,
    /// Bytes of sealed segments waiting for upload.
    pub pending_upload_bytes: u64,
    /// Free bytes on the data folder's file system.
    pub disk_free_bytes: u64,
    /// Size of that file system.
    pub disk_total_bytes: u64,
    /// Segments uploaded since start.
    pub uploaded_segments: u64,
    /// The last upload failure, cleared by the next success.
    pub last_error: Option<String>,
}

/// A node's cold tier.
pub struct Tiering {
    store: Arc<dyn ObjectStore>,
    catalog: Arc<dyn TierCatalog>,
    config: TierConfig,
    cache: BlockCache,
    indexes: Mutex<lru::LruCache<String, Arc<Vec<IndexEntry>>>>,
    views: RwLock<HashMap<(i64, u64), ShardView>>,
    status: Mutex<TierStatus>,
    uploaded: AtomicU64,
    /// One upload pass at a time (the periodic one, or a hand-off).
    pub(crate) pass: tokio::sync::Mutex<()>,
}

impl Tiering {
    /// A cold tier writing to `store`, recording states in `catalog`.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        catalog: Arc<dyn TierCatalog>,
        config: TierConfig,
    ) -> Self {
        Self {
            cache: BlockCache::new(config.cache_bytes),
            store,
            catalog,
            config,
            indexes: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN),
            )),
            views: RwLock::new(HashMap::new()),
            status: Mutex::new(TierStatus::default()),
            uploaded: AtomicU64::new(0),
            pass: tokio::sync::Mutex::new(()),
        }
    }

    /// The node-wide settings.
    pub fn config(&self) -> &TierConfig {
        &self.config
    }

    /// The last status the uploader computed.
    pub fn status(&self) -> TierStatus {
        let mut status = self.status.lock().clone();
        status.uploaded_segments = self.uploaded.load(Ordering::Relaxed);
        status
    }

    fn view_or_new(&self, uid: i64, ordinal: u64) -> ShardView {
        self.views
            .write()
            .entry((uid, ordinal))
            .or_default()
            .clone()
    }

    fn view(&self, uid: i64, ordinal: u64) -> Option<ShardView> {
        self.views.read().get(&(uid, ordinal)).cloned()
    }

    /// Loads a shard's uploaded segments from the catalog (at open, and after a cold read
    /// found an object gone). Returns them in offset order.
    pub async fn refresh(&self, uid: i64, ordinal: u64) -> Result<Vec<TierSegment>, KinesisError> {
        let uploaded: Vec<TierSegment> = self
            .catalog
            .shard_segments(uid, ordinal)
            .await?
            .into_iter()
            .filter(|s| s.state == TierState::Uploaded)
            .collect();
        let view = self.view_or_new(uid, ordinal);
        *view.write() = uploaded.clone();
        Ok(uploaded)
    }

    /// First offset held in the cold tier for a shard, if any.
    pub fn cold_start(&self, uid: i64, ordinal: u64) -> Option<u64> {
        self.view(uid, ordinal)?
            .read()
            .first()
            .map(|s| s.base_offset)
    }

    fn is_uploaded(&self, uid: i64, ordinal: u64, base_offset: u64) -> bool {
        self.view(uid, ordinal)
            .is_some_and(|v| v.read().iter().any(|s| s.base_offset == base_offset))
    }

    /// Uploads every sealed, not yet uploaded segment of a shard. Stops at the first
    /// failure (the next pass retries); returns how many it uploaded.
    pub async fn upload_shard(
        &self,
        uid: i64,
        ordinal: u64,
        shard: &LocalShard,
    ) -> Result<usize, KinesisError> {
        if self.view(uid, ordinal).is_none() {
            self.refresh(uid, ordinal).await?;
        }
        let mut done = 0;
        for segment in shard.sealed_segments() {
            if self.is_uploaded(uid, ordinal, segment.base_offset) {
                continue;
            }
            if segment.end_offset > shard.visible_end() {
                // Not yet on a majority of the replicas: it could still be cut.
                break;
            }
            let generation = weir_core::position_generation(shard.position(segment.base_offset));
            self.upload_segment(uid, ordinal, generation, shard.generation(), &segment)
                .await?;
            done += 1;
        }
        Ok(done)
    }

    async fn upload_segment(
        &self,
        uid: i64,
        ordinal: u64,
        generation: u64,
        leader_generation: u64,
        segment: &SealedSegment,
    ) -> Result<(), KinesisError> {
        let key = layout::segment_key(uid, ordinal, generation, segment.base_offset);
        let row = TierSegment {
            stream_uid: uid,
            ordinal,
            base_offset: segment.base_offset,
            end_offset: segment.end_offset,
            generation,
            first_timestamp_ms: segment.first_timestamp_ms,
            last_timestamp_ms: segment.last_timestamp_ms,
            size_bytes: segment.size,
            object_key: key.clone(),
            state: TierState::Uploading,
            updated_at_ms: now_ms(),
            leader_generation,
        };
        let stored = self.catalog.begin_upload(row.clone()).await?;
        if stored.object_key != key {
            return Err(KinesisError::Internal(format!(
                "segment at offset {} of shard {ordinal} is already recorded as {} ({:?}); not uploading {key}",
                segment.base_offset, stored.object_key, stored.state
            )));
        }
        if stored.state == TierState::Uploading {
            let (log, index) = read_files(segment).await?;
            self.put(&layout::index_key(&key), index).await?;
            self.put(&key, log).await?;
            let recorded = self
                .catalog
                .transition(stored.transition(TierState::Uploading, TierState::Uploaded))
                .await?;
            if !recorded {
                // The stream was deleted (or the segment expired) while we uploaded: the
                // reaper may already have passed, so remove what we just put.
                let _ = self.store.delete(&layout::index_key(&key)).await;
                let _ = self.store.delete(&key).await;
                return Ok(());
            }
        } else if stored.state != TierState::Uploaded {
            return Ok(());
        }
        self.uploaded.fetch_add(1, Ordering::Relaxed);
        let view = self.view_or_new(uid, ordinal);
        let mut view = view.write();
        if !view.iter().any(|s| s.base_offset == row.base_offset) {
            let at = view.partition_point(|s| s.base_offset < row.base_offset);
            view.insert(
                at,
                TierSegment {
                    state: TierState::Uploaded,
                    ..row
                },
            );
        }
        tracing::debug!(%key, bytes = segment.size, "segment uploaded");
        Ok(())
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<(), KinesisError> {
        self.store
            .put(key, body)
            .await
            .map_err(|e| KinesisError::Internal(format!("upload of {key} failed: {e}")))
    }

    /// Drops the oldest local segments that are uploaded, while the shard's local bytes
    /// exceed its retention or the segment is older than its age limit.
    pub async fn trim_local(
        &self,
        uid: i64,
        ordinal: u64,
        shard: &Arc<LocalShard>,
        retention_bytes: u64,
        retention_ms: Option<u64>,
    ) -> Result<usize, KinesisError> {
        let mut dropped = 0;
        loop {
            let Some(oldest) = shard.sealed_segments().into_iter().next() else {
                return Ok(dropped);
            };
            let too_big = shard.local_bytes() > retention_bytes;
            let too_old =
                retention_ms.is_some_and(|ms| now_ms() - oldest.last_timestamp_ms > ms as i64);
            if !(too_big || too_old) || !self.is_uploaded(uid, ordinal, oldest.base_offset) {
                return Ok(dropped);
            }
            let log = Arc::clone(shard);
            let removed = tokio::task::spawn_blocking(move || log.drop_oldest(oldest.base_offset))
                .await
                .map_err(|e| KinesisError::Internal(e.to_string()))??;
            if !removed {
                return Ok(dropped);
            }
            dropped += 1;
        }
    }

    /// The first offset at or after `from` that the cold tier holds, with its segment.
    fn cold_segment(&self, uid: i64, ordinal: u64, from: u64) -> Option<TierSegment> {
        let view = self.view(uid, ordinal)?;
        let view = view.read();
        view.iter().find(|s| s.end_offset > from).cloned()
    }

    /// Reads records from the cold tier starting at `from` (or at the next offset the
    /// cold tier holds after a gap). Empty when the cold tier holds nothing at or after
    /// `from` below `below` (the local log's first offset).
    pub async fn read(
        &self,
        uid: i64,
        ordinal: u64,
        from: u64,
        below: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredRecord>, KinesisError> {
        let Some(segment) = self.cold_segment(uid, ordinal, from) else {
            return Ok(Vec::new());
        };
        if segment.base_offset >= below {
            return Ok(Vec::new());
        }
        let from = from.max(segment.base_offset);
        let index = self.index(&segment).await?;
        let i = (from - segment.base_offset) as usize;
        let Some(entry) = index.get(i) else {
            return Ok(Vec::new());
        };
        let block = entry.position / BLOCK_BYTES;
        let start_at = block * BLOCK_BYTES;
        let first = index.partition_point(|e| e.position < start_at);
        let start = index.get(first).map_or(entry.position, |e| e.position);
        let next_block = (block + 1) * BLOCK_BYTES;
        let end = index
            .iter()
            .skip(first)
            .find(|e| e.position >= next_block)
            .map_or(segment.size_bytes, |e| e.position);
        let bytes = match self.cache.get(&segment.object_key, block) {
            Some(bytes) => bytes,
            None => {
                let bytes = self
                    .fetch(uid, ordinal, &segment.object_key, start, end)
                    .await?;
                self.cache.insert(&segment.object_key, block, bytes.clone());
                bytes
            }
        };
        let limit = max_records.min((segment.end_offset.min(below) - from) as usize);
        Ok(decode_range(
            &bytes,
            from,
            limit,
            max_bytes,
            &segment.object_key,
        )?)
    }

    async fn fetch(
        &self,
        uid: i64,
        ordinal: u64,
        key: &str,
        start: u64,
        end: u64,
    ) -> Result<Bytes, KinesisError> {
        match self.store.get_range(key, start, end).await {
            Ok(bytes) => Ok(bytes),
            Err(weir_tier::TierError::NotFound(_)) => {
                // Expired and reaped since this node last looked: forget it and retry.
                self.cache.forget(key);
                self.refresh(uid, ordinal).await?;
                Err(KinesisError::Internal(format!(
                    "cold segment {key} was deleted; retry"
                )))
            }
            Err(error) => Err(KinesisError::Internal(format!(
                "cold tier read of {key} failed: {error}"
            ))),
        }
    }

    async fn index(&self, segment: &TierSegment) -> Result<Arc<Vec<IndexEntry>>, KinesisError> {
        if let Some(index) = self.indexes.lock().get(&segment.object_key) {
            return Ok(Arc::clone(index));
        }
        let key = layout::index_key(&segment.object_key);
        let bytes = self
            .fetch(segment.stream_uid, segment.ordinal, &key, 0, u64::MAX)
            .await?;
        let index = parse_index(&bytes, segment.base_offset)
            .ok_or_else(|| KinesisError::Internal(format!("cold index {key} is damaged")))?;
        let index = Arc::new(index);
        self.indexes
            .lock()
            .put(segment.object_key.clone(), Arc::clone(&index));
        Ok(index)
    }

    /// First cold offset whose arrival time is at or after `timestamp_ms`, if the cold
    /// tier holds one below `below`.
    pub async fn offset_at_timestamp(
        &self,
        uid: i64,
        ordinal: u64,
        timestamp_ms: i64,
        below: u64,
    ) -> Result<Option<u64>, KinesisError> {
        let candidate = self.view(uid, ordinal).and_then(|v| {
            v.read()
                .iter()
                .find(|s| s.last_timestamp_ms >= timestamp_ms && s.base_offset < below)
                .cloned()
        });
        let Some(segment) = candidate else {
            return Ok(None);
        };
        let index = self.index(&segment).await?;
        let i = index.partition_point(|e| e.timestamp_ms < timestamp_ms);
        Ok(Some(segment.base_offset + i as u64))
    }

    /// Records the disk and backlog numbers of one uploader pass, warning as disk fills.
    fn report(&self, data_dir: &std::path::Path, local: u64, pending: u64, error: Option<String>) {
        let (free, total) = disk_space(data_dir).unwrap_or((0, 0));
        if total > 0 && (free as f64) < self.config.disk_warn_free_fraction * total as f64 {
            tracing::warn!(
                free_bytes = free,
                total_bytes = total,
                pending_upload_bytes = pending,
                "data disk is filling up: uploads to the cold tier are behind or local retention is too large"
            );
        }
        let mut status = self.status.lock();
        status.local_bytes = local;
        status.pending_upload_bytes = pending;
        status.disk_free_bytes = free;
        status.disk_total_bytes = total;
        if error.is_some() || pending == 0 {
            status.last_error = error;
        }
    }
}

async fn read_files(segment: &SealedSegment) -> Result<(Bytes, Bytes), KinesisError> {
    let log_path = segment.log_path.clone();
    let index_path = segment.index_path.clone();
    tokio::task::spawn_blocking(move || {
        let log = std::fs::read(&log_path)?;
        let index = std::fs::read(&index_path)?;
        Ok::<_, std::io::Error>((Bytes::from(log), Bytes::from(index)))
    })
    .await
    .map_err(|e| KinesisError::Internal(e.to_string()))?
    .map_err(|e| KinesisError::Internal(format!("reading a sealed segment to upload: {e}")))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Free and total bytes of the file system holding `path`.
pub(crate) fn disk_space(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` a valid out-pointer.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    let block = stat.f_frsize as u64;
    Some((stat.f_bavail as u64 * block, stat.f_blocks as u64 * block))
}

/// The uploader: every interval, upload sealed segments of every shard this node holds
/// and trim local copies; back off (with jitter) after a failure.
pub(crate) async fn run_uploader(plane: std::sync::Weak<crate::DataPlane>) {
    if let Some(plane) = plane.upgrade() {
        reopen_local_shards(&plane).await;
    }
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        let interval = match plane.upgrade().and_then(|p| p.tiering.clone()) {
            Some(t) => t.config.interval,
            None => return,
        };
        tokio::time::sleep(interval).await;
        let Some(plane) = plane.upgrade() else { return };
        let Some(tiering) = plane.tiering.clone() else {
            return;
        };
        let failed = upload_pass(&plane, &tiering).await;
        if let Some(error) = failed {
            let delay = backoff.next_delay();
            tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "cold-tier upload failed; writes continue, will retry");
            tokio::time::sleep(delay).await;
        } else {
            backoff.reset();
        }
    }
}

/// Opens every shard held here that has a local folder, so that sealed segments left
/// behind by a restart (an upload interrupted by a crash) are uploaded without waiting
/// for a client to touch the shard. Runs once, when the uploader starts.
async fn reopen_local_shards(plane: &crate::DataPlane) {
    for stream in plane.catalog.list_streams(None, usize::MAX).0.iter() {
        for shard in &stream.shards {
            if plane.shards.has_local(stream.uid, shard.ordinal) {
                let _ = plane.locate(stream.uid, shard.ordinal).await;
            }
        }
    }
}

/// One pass over every open local shard; returns the first failure.
pub(crate) async fn upload_pass(plane: &crate::DataPlane, tiering: &Tiering) -> Option<String> {
    let _pass = tiering.pass.lock().await;
    let streams: HashMap<i64, weir_contracts::TieringSettings> = plane
        .catalog
        .list_streams(None, usize::MAX)
        .0
        .iter()
        .map(|s| (s.uid, s.tiering))
        .collect();
    let mut failure = None;
    let mut local = 0;
    let mut pending = 0;
    for ((uid, ordinal), shard) in plane.shards.open_shards() {
        let Some(settings) = streams.get(&uid) else {
            continue;
        };
        let bytes = settings
            .local_retention_bytes
            .unwrap_or(tiering.config.local_retention_bytes);
        let ms = settings
            .local_retention_ms
            .or(tiering.config.local_retention_ms);
        if !plane.holds(uid, ordinal) {
            // A follower uploads nothing (its leader does, the same segments), but drops
            // what the catalog says is uploaded once it is past local retention.
            // Ask the catalog only when the oldest sealed segment is due to go and not
            // yet known to be uploaded, not on every pass.
            let due = shard
                .sealed_segments()
                .into_iter()
                .next()
                .is_some_and(|oldest| {
                    let too_old =
                        ms.is_some_and(|ms| now_ms() - oldest.last_timestamp_ms > ms as i64);
                    (shard.local_bytes() > bytes || too_old)
                        && !tiering.is_uploaded(uid, ordinal, oldest.base_offset)
                });
            if !due || tiering.refresh(uid, ordinal).await.is_ok() {
                let _ = tiering.trim_local(uid, ordinal, &shard, bytes, ms).await;
            }
            local += shard.local_bytes();
            continue;
        }
        if failure.is_none() {
            if let Err(error) = tiering.upload_shard(uid, ordinal, &shard).await {
                failure = Some(error.to_string());
            }
        }
        if let Err(error) = tiering.trim_local(uid, ordinal, &shard, bytes, ms).await {
            tracing::warn!(%error, "dropping uploaded local segments failed");
        }
        local += shard.local_bytes();
        pending += shard
            .sealed_segments()
            .iter()
            .filter(|s| !tiering.is_uploaded(uid, ordinal, s.base_offset))
            .map(|s| s.size)
            .sum::<u64>();
    }
    tiering.report(&plane.config.data_dir, local, pending, failure.clone());
    failure
}
