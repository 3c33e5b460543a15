//! The shard logs this node holds, opened on first use.
//!
//! Data lives under `<data dir>/streams/<stream uid>/<shard ordinal>/`. Keying by the
//! stream's uid (not its name) means a stream deleted and recreated under the same name
//! starts empty, even if deletion of the old folder was interrupted.
//!
//! **Positions.** A shard's records are addressed by a *position*
//! `generation << 40 | log offset`, and a sequence number is `(ordinal + 1) << 64 |
//! position`. The generation is the placement generation under which this node holds the
//! shard; it only grows, so when a shard moves to another node (whose log starts at
//! offset 0) the new owner's sequence numbers still exceed every earlier one. Each log
//! keeps a small table of `(generation, first offset)` in `generations`, so positions
//! map back to local offsets, and a position from a generation this node never held
//! (data on a lost node) resumes at the first record this node has after it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::{watch, Mutex};
use tracing::Instrument;
use weir_storage::{AppendAck, LogConfig, NewRecord, ShardLog, StorageError, StoredRecord};

use crate::replication::LeaderSession;
use crate::tiering::Tiering;
use crate::KinesisError;

/// Why a write to a shard held here was not acknowledged.
#[derive(Debug)]
pub enum WriteError {
    /// A reshard closed the shard: route the record again once the new layout is out.
    Sealed,
    /// This node does not lead the shard (any more): nothing was stored; route again.
    Unavailable(String),
    /// Stored here, but leadership moved or the replicas did not confirm in time: the
    /// record may or may not survive, so it is not retried behind the client's back.
    Unconfirmed(String),
    /// The local disk failed.
    Storage(StorageError),
}

impl From<StorageError> for WriteError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Sealed => Self::Sealed,
            // The log closed (the shard left this node) before the append reached its
            // writer, or the writer drained and answered it first: nothing was written.
            StorageError::Closed => {
                Self::Unavailable("The shard is no longer held here; retry.".into())
            }
            other => Self::Storage(other),
        }
    }
}

impl From<WriteError> for KinesisError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Sealed => KinesisError::Unavailable("The shard is closing; retry.".into()),
            WriteError::Unavailable(m) => KinesisError::Unavailable(m),
            WriteError::Unconfirmed(m) => KinesisError::Internal(m),
            WriteError::Storage(e) => e.into(),
        }
    }
}

/// Longest an acknowledged-to-be write waits for a majority of replicas.
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// One shard held by this node: its log, its generation table, and (with tiering) the
/// cold tier holding its older records.
pub struct LocalShard {
    uid: i64,
    ordinal: u64,
    log: Arc<ShardLog>,
    tiering: Option<Arc<Tiering>>,
    table_path: PathBuf,
    /// `(generation, first offset)` in increasing order; never empty once opened.
    generations: RwLock<Vec<(u64, u64)>>,
    /// Offsets below this are committed: on stable storage on a majority of the replicas.
    /// Readers see only these. Without replication it follows the log's durable end.
    commit: watch::Sender<u64>,
    /// The highest generation this replica has promised to follow: batches from leaders of
    /// older generations are refused, which is what fences a deposed leader. Durable.
    promised: AtomicU64,
    /// Leadership of the shard while this node leads it (replicated mode).
    session: RwLock<Option<Arc<LeaderSession>>>,
    /// Whether writes wait for replicas (cluster mode) or only for the local fsync.
    replicated: bool,
    /// Serialises the follower side (replicate, fence) of this shard.
    pub(crate) replica_lock: Mutex<()>,
    /// The leadership generation under which the log was last sealed: a leadership of a
    /// later generation (a move or an election happened since) may lift the seal; one of
    /// the same generation (a lease blip) may not, or a reshard's end could move.
    sealed_generation: AtomicU64,
    /// Serialises writes of the `promised` file.
    promise_file: parking_lot::Mutex<()>,
    /// Throughput limits and counters of the shard while this node serves it.
    pub(crate) meter: crate::meter::ShardMeter,
}

impl std::ops::Deref for LocalShard {
    type Target = ShardLog;
    fn deref(&self) -> &ShardLog {
        &self.log
    }
}

impl LocalShard {
    /// The first offset of the shard's history, cold tier included (TRIM_HORIZON).
    pub fn history_start(&self) -> u64 {
        let local = self.log.start_offset();
        self.tiering
            .as_ref()
            .and_then(|t| t.cold_start(self.uid, self.ordinal))
            .map_or(local, |cold| cold.min(local))
    }

    /// Reads from `from`, below the local horizon from the cold tier. A read that starts
    /// in the cold tier returns only cold records; the next read continues locally.
    pub async fn read_any(
        self: &Arc<Self>,
        from: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredRecord>, KinesisError> {
        let local_start = self.log.start_offset();
        if let Some(tiering) = &self.tiering {
            if from < local_start {
                let cold = tiering
                    .read(
                        self.uid,
                        self.ordinal,
                        from,
                        local_start,
                        max_records,
                        max_bytes,
                    )
                    .await?;
                if !cold.is_empty() {
                    return Ok(cold);
                }
            }
        }
        let log = Arc::clone(&self.log);
        let visible = self.visible_end();
        let mut records =
            tokio::task::spawn_blocking(move || log.read(from, max_records, max_bytes))
                .await
                .map_err(|e| KinesisError::Internal(format!("read task failed: {e}")))??;
        // Records past the commit point are durable here but not yet on a majority.
        records.retain(|r| r.offset < visible);
        Ok(records)
    }

    /// First offset (cold tier included) whose arrival time is at or after `timestamp_ms`.
    pub async fn offset_at_timestamp_any(&self, timestamp_ms: i64) -> Result<u64, KinesisError> {
        let local = self.log.offset_at_timestamp(timestamp_ms);
        let local_start = self.log.start_offset();
        if let Some(tiering) = &self.tiering {
            // The answer is the local log's first record (or its tip): an older record in
            // the cold tier may be the real first one at or after the timestamp.
            if local == local_start {
                if let Some(offset) = tiering
                    .offset_at_timestamp(self.uid, self.ordinal, timestamp_ms, local_start)
                    .await?
                {
                    return Ok(offset);
                }
            }
        }
        Ok(local.min(self.visible_end()))
    }

    /// The log itself, for work that owns an `Arc` of it.
    pub fn log(&self) -> &Arc<ShardLog> {
        &self.log
    }

    /// The position of a local offset.
    pub fn position(&self, offset: u64) -> u64 {
        let table = self.generations.read();
        let generation = table
            .iter()
            .rev()
            .find(|(_, first)| *first <= offset)
            .or(table.first())
            .map_or(1, |(g, _)| *g);
        weir_core::position(generation, offset)
    }

    /// The local offset to read from for a position from an iterator or sequence number.
    pub fn offset_of(&self, position: u64) -> u64 {
        let generation = weir_core::position_generation(position);
        let offset = weir_core::position_offset(position);
        let table = self.generations.read();
        if table.iter().any(|(g, _)| *g == generation) {
            return offset;
        }
        // A generation this node never held: resume at the first record written under
        // the next generation this node did hold, or at the tip if there is none.
        table
            .iter()
            .find(|(g, _)| *g > generation)
            .map_or_else(|| self.log.next_offset(), |(_, first)| *first)
    }

    /// The stream incarnation.
    pub fn uid(&self) -> i64 {
        self.uid
    }

    /// The shard ordinal.
    pub fn ordinal(&self) -> u64 {
        self.ordinal
    }

    /// The generation this node holds the shard under now.
    pub fn generation(&self) -> u64 {
        self.generations.read().last().map_or(1, |(g, _)| *g)
    }

    /// The generation table, `(generation, first offset)` in increasing order.
    pub fn table(&self) -> Vec<(u64, u64)> {
        self.generations.read().clone()
    }

    /// Replaces the generation table with the leader's (a follower keeps its leader's
    /// table for the offsets it holds). Durable before it returns. Blocking.
    pub(crate) fn replace_table(&self, mut table: Vec<(u64, u64)>) -> Result<(), StorageError> {
        compact_table(&mut table);
        let mut current = self.generations.write();
        if *current == table || table.is_empty() {
            return Ok(());
        }
        write_table(&self.table_path, &table)?;
        *current = table;
        Ok(())
    }

    /// Offsets below this are committed and readable.
    pub fn visible_end(&self) -> u64 {
        if self.replicated {
            (*self.commit.borrow()).min(self.log.next_offset())
        } else {
            self.log.next_offset()
        }
    }

    /// The tip for a LATEST iterator: the commit point once it has caught up with what
    /// was durable here when asked (writes in flight; or, right after this node became
    /// leader, relearning the commit point from its followers), waiting at most a second.
    /// Without the wait a LATEST iterator taken in that moment could start below the tip.
    pub async fn settled_end(&self) -> u64 {
        if self.replicated {
            let target = self.log.next_offset();
            let mut commit = self.watch_commit();
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(1),
                commit.wait_for(|c| *c >= target),
            )
            .await;
        }
        self.visible_end()
    }

    /// The commit point as last learned (leaders compute it, followers hear it).
    pub fn commit_point(&self) -> u64 {
        *self.commit.borrow()
    }

    /// Raises the commit point (it never goes back).
    pub(crate) fn advance_commit(&self, to: u64) {
        self.commit.send_if_modified(|c| {
            if to > *c {
                *c = to;
                true
            } else {
                false
            }
        });
    }

    /// Watches the commit point.
    pub(crate) fn watch_commit(&self) -> watch::Receiver<u64> {
        self.commit.subscribe()
    }

    /// The highest generation promised to (see the field).
    pub fn promised(&self) -> u64 {
        self.promised.load(Ordering::Acquire)
    }

    /// Promises to follow no leader older than `generation`. Durable before it returns.
    /// Blocking.
    pub(crate) fn promise(&self, generation: u64) -> Result<(), StorageError> {
        // Leading and following both promise; one writer of the file at a time.
        let _file = self.promise_file.lock();
        if generation <= self.promised() {
            return Ok(());
        }
        let path = self.table_path.with_file_name("promised");
        write_durably(&path, format!("{generation}\n").as_bytes())?;
        self.promised.store(generation, Ordering::Release);
        Ok(())
    }

    /// Whether this node leads the shard now: always on a single node, while an unfenced
    /// leadership session runs in a cluster.
    pub(crate) fn leads(&self) -> bool {
        !self.replicated || self.session().is_some_and(|s| !s.is_fenced())
    }

    /// The leadership session, while this node leads the shard.
    pub(crate) fn session(&self) -> Option<Arc<LeaderSession>> {
        self.session.read().clone()
    }

    /// Starts a leadership session made by `make` unless one for `generation` and
    /// `voters` is already running (checked and set under one lock, so concurrent
    /// callers start one session).
    pub(crate) fn start_session(
        &self,
        generation: u64,
        voters: &[String],
        make: impl FnOnce() -> Arc<LeaderSession>,
    ) {
        let mut session = self.session.write();
        if session
            .as_ref()
            .is_some_and(|s| s.matches(generation, voters) && !s.is_fenced())
        {
            return;
        }
        if let Some(old) = session.take() {
            // Same node, new generation or replica set: writes in flight keep waiting on
            // the commit point, which the new session advances.
            old.stop();
        }
        *session = Some(make());
    }

    /// Whether a leadership of `generation` may lift the log's seal (see the field).
    pub(crate) fn may_unseal_for(&self, generation: u64) -> bool {
        generation > self.sealed_generation.load(Ordering::Acquire)
    }

    /// Installs (or with `None`, ends) this node's leadership of the shard.
    pub(crate) fn set_session(&self, session: Option<Arc<LeaderSession>>) {
        *self.session.write() = session;
    }

    /// Appends records and resolves once they are committed: fsynced here and, when
    /// replicated, on a majority of the replicas.
    #[tracing::instrument(name = "shard.append", skip_all, fields(shard = self.ordinal(), records = records.len()))]
    pub async fn append(
        &self,
        records: Vec<NewRecord>,
        timestamp_ms: i64,
    ) -> Result<AppendAck, WriteError> {
        let count = records.len() as u64;
        let session = if self.replicated {
            Some(self.session().ok_or_else(|| {
                WriteError::Unavailable("This node no longer leads the shard; retry.".into())
            })?)
        } else {
            None
        };
        let before = self.generation();
        let ack = self
            .log
            .append(records, timestamp_ms)
            .instrument(tracing::info_span!("log.write_and_fsync", records = count))
            .await?;
        let Some(session) = session else {
            // Alone, a write is committed once fsynced; subscribers wait on this point.
            self.advance_commit(ack.base_offset + count);
            return Ok(ack);
        };
        session.note_writer(weir_trace::current_context());
        let end = ack.base_offset + count;
        let written = weir_core::position_generation(self.position(ack.base_offset));
        let moved = || {
            WriteError::Unconfirmed(
                "Leadership of the shard moved before the write was confirmed; retry.".into(),
            )
        };
        if written != before {
            // The table changed while the batch was written (a new generation adopted,
            // or this replica truncated by a new leader): do not vouch for it.
            return Err(moved());
        }
        session.recompute(self);
        let mut commit = self.watch_commit();
        let mut fenced = session.watch_fenced();
        // The commit point is the node's and moves on when it follows another leader
        // too, so passing it is not enough: the batch's first offset must still hold the
        // generation it was written under. One leader per generation, and batches are
        // copied whole, so that is this very batch, now committed (by this leadership, or
        // by a successor that had copied it).
        let still_ours =
            || weir_core::position_generation(self.position(ack.base_offset)) == written;
        let waited = tokio::time::timeout(COMMIT_TIMEOUT, async {
            loop {
                if *commit.borrow_and_update() >= end {
                    return if still_ours() { Ok(()) } else { Err(moved()) };
                }
                if *fenced.borrow_and_update() {
                    return Err(moved());
                }
                tokio::select! {
                    changed = commit.changed() => if changed.is_err() { break },
                    changed = fenced.changed() => if changed.is_err() { break },
                }
            }
            Err(WriteError::Unconfirmed(
                "The shard's leadership ended; retry.".into(),
            ))
        })
        .await;
        match waited {
            Ok(result) => result.map(|()| ack),
            Err(_) => Err(WriteError::Unconfirmed(
                "The shard's replicas did not confirm the write in time; retry.".into(),
            )),
        }
    }

    /// Seals the shard (reshards, moves) and waits until everything before the seal is
    /// committed; returns the end offset.
    pub async fn seal_committed(&self) -> Result<u64, WriteError> {
        if self.replicated && self.session().is_none_or(|s| s.is_fenced()) {
            return Err(WriteError::Unavailable(
                "This node does not lead the shard now; it cannot seal it.".into(),
            ));
        }
        let end = self.log.seal().await?;
        if let Some(session) = self.session() {
            self.sealed_generation
                .fetch_max(session.generation, Ordering::AcqRel);
            session.recompute(self);
            let mut commit = self.watch_commit();
            tokio::time::timeout(COMMIT_TIMEOUT, commit.wait_for(|c| *c >= end))
                .await
                .map_err(|_| {
                    WriteError::Unavailable("replicas did not confirm the shard's end".into())
                })?
                .map_err(|_| WriteError::Unavailable("shard closed".into()))?;
        }
        Ok(end)
    }

    /// Records that this node holds the shard under `generation` from the log's tip on.
    fn adopt(&self, generation: u64) -> Result<(), StorageError> {
        let mut table = self.generations.write();
        if table.last().is_some_and(|(g, _)| *g >= generation) {
            return Ok(());
        }
        table.push((generation, self.log.next_offset()));
        compact_table(&mut table);
        write_table(&self.table_path, &table)
    }
}

/// Drops generations that hold no record (followed by one starting at the same offset):
/// they map no offset, and without this every reconfiguration would grow the table, which
/// travels with every replication request. The last entry always stays: it is the
/// generation this replica has adopted.
pub(crate) fn compact_table(table: &mut Vec<(u64, u64)>) {
    let firsts: Vec<u64> = table.iter().map(|(_, first)| *first).collect();
    let last = table.len().saturating_sub(1);
    let mut i = 0;
    table.retain(|_| {
        let keep = i == last || firsts[i] != firsts[i + 1];
        i += 1;
        keep
    });
}

fn write_table(path: &Path, table: &[(u64, u64)]) -> Result<(), StorageError> {
    let text: String = table.iter().map(|(g, o)| format!("{g} {o}\n")).collect();
    write_durably(path, text.as_bytes())
}

/// Replaces a small file atomically and durably: temp file, fsync, rename, fsync of the
/// folder (without the last step a crash can bring the old file back).
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = path.with_extension("tmp");
    let io = |e| StorageError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::File::open(&tmp).and_then(|f| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

fn read_promised(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn read_table(path: &Path) -> Vec<(u64, u64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (g, o) = line.split_once(' ')?;
            Some((g.parse().ok()?, o.parse().ok()?))
        })
        .collect()
}

/// Open shard logs, by (stream uid, shard ordinal).
pub struct ShardRegistry {
    root: PathBuf,
    config: LogConfig,
    /// Cluster mode: writes wait for a majority of replicas.
    replicated: bool,
    tiering: Option<Arc<Tiering>>,
    logs: RwLock<HashMap<(i64, u64), Arc<LocalShard>>>,
    opening: Mutex<()>,
}

impl ShardRegistry {
    /// A registry rooted at `<data_dir>/streams`.
    pub fn new(
        data_dir: &Path,
        config: LogConfig,
        tiering: Option<Arc<Tiering>>,
        replicated: bool,
    ) -> Self {
        Self {
            root: data_dir.join("streams"),
            config,
            replicated,
            tiering,
            logs: RwLock::new(HashMap::new()),
            opening: Mutex::new(()),
        }
    }

    fn stream_dir(&self, uid: i64) -> PathBuf {
        self.root.join(uid.to_string())
    }

    /// A shard held under `generation`, opening (and recovering) its log on first use.
    pub async fn get(
        &self,
        uid: i64,
        ordinal: u64,
        generation: u64,
    ) -> Result<Arc<LocalShard>, KinesisError> {
        let mut shard = self.open(uid, ordinal).await?;
        if shard.generation() < generation {
            if let Some(tiering) = &self.tiering {
                // Taking the shard (back) under a new generation: if its history moved on
                // elsewhere meanwhile, the local copy is stale; start over from the cold tier.
                let cold_end = tiering
                    .refresh(uid, ordinal)
                    .await?
                    .last()
                    .map_or(0, |s| s.end_offset);
                if cold_end > shard.next_offset() {
                    tracing::info!(
                        stream_uid = uid,
                        shard = ordinal,
                        cold_end,
                        "local copy is stale; continuing from the cold tier"
                    );
                    self.forget(uid, ordinal).await?;
                    shard = self.open(uid, ordinal).await?;
                }
            }
            let adopting = Arc::clone(&shard);
            tokio::task::spawn_blocking(move || adopting.adopt(generation))
                .await
                .map_err(|_| StorageError::Closed)??;
        }
        Ok(shard)
    }

    /// Closes a shard's log and deletes its folder.
    pub(crate) async fn forget(&self, uid: i64, ordinal: u64) -> Result<(), StorageError> {
        let removed = self.logs.write().remove(&(uid, ordinal));
        if let Some(shard) = &removed {
            shard.set_session(None);
        }
        let dir = self.stream_dir(uid).join(ordinal.to_string());
        tokio::task::spawn_blocking(move || {
            if let Some(shard) = removed {
                shard.log.close();
            }
            remove_dir_if_exists(dir)
        })
        .await
        .map_err(|_| StorageError::Closed)?
    }

    /// A shard's log as a replica holds it, opening (and recovering) it on first use.
    pub(crate) async fn open(
        &self,
        uid: i64,
        ordinal: u64,
    ) -> Result<Arc<LocalShard>, KinesisError> {
        if let Some(shard) = self.logs.read().get(&(uid, ordinal)) {
            return Ok(Arc::clone(shard));
        }
        let dir = self.stream_dir(uid).join(ordinal.to_string());
        let config = self.config.clone();
        // A shard with no local log yet continues the history the cold tier holds (a
        // moved shard, or a node whose data folder was lost). The catalog is a call to
        // the control plane, made before taking the node-wide lock, so that one slow
        // answer does not hold up opening every other shard (after a restart, the
        // control plane's fences wait on these opens).
        let mut start_offset = 0;
        let mut cold_table = Vec::new();
        if let Some(tiering) = &self.tiering {
            let fresh = !dir.join("generations").exists();
            let cold = tiering.refresh(uid, ordinal).await?;
            if fresh {
                start_offset = cold.last().map_or(0, |s| s.end_offset);
                for segment in &cold {
                    if cold_table
                        .last()
                        .is_none_or(|(g, _)| *g < segment.generation)
                    {
                        cold_table.push((segment.generation, segment.base_offset));
                    }
                }
            }
        }
        let _guard = self.opening.lock().await;
        if let Some(shard) = self.logs.read().get(&(uid, ordinal)) {
            return Ok(Arc::clone(shard));
        }
        let tiering = self.tiering.clone();
        let replicated = self.replicated;
        let shard = tokio::task::spawn_blocking(move || {
            let log = ShardLog::open_at(&dir, config, start_offset)?;
            let promised = read_promised(&dir.join("promised"));
            let table_path = dir.join("generations");
            let mut table = read_table(&table_path);
            if table.is_empty() {
                table = cold_table;
                if table.is_empty() {
                    table.push((1, 0));
                }
                write_table(&table_path, &table)?;
            }
            Ok::<_, StorageError>(LocalShard {
                uid,
                ordinal,
                log: Arc::new(log),
                tiering,
                table_path,
                generations: RwLock::new(table),
                commit: watch::channel(0).0,
                promised: AtomicU64::new(promised),
                session: RwLock::new(None),
                replicated,
                replica_lock: Mutex::new(()),
                sealed_generation: AtomicU64::new(0),
                promise_file: parking_lot::Mutex::new(()),
                meter: Default::default(),
            })
        })
        .await
        .map_err(|_| StorageError::Closed)??;
        let shard = Arc::new(shard);
        self.logs.write().insert((uid, ordinal), Arc::clone(&shard));
        Ok(shard)
    }

    /// A shard's log if it is open here (never opens one).
    pub(crate) fn opened(&self, uid: i64, ordinal: u64) -> Option<Arc<LocalShard>> {
        self.logs.read().get(&(uid, ordinal)).cloned()
    }

    /// Whether a shard has a folder on this node's disk.
    pub fn has_local(&self, uid: i64, ordinal: u64) -> bool {
        self.stream_dir(uid).join(ordinal.to_string()).exists()
    }

    /// Every open shard, for the uploader.
    pub fn open_shards(&self) -> Vec<((i64, u64), Arc<LocalShard>)> {
        self.logs
            .read()
            .iter()
            .map(|(k, v)| (*k, Arc::clone(v)))
            .collect()
    }

    /// Every open log, for periodic work such as retention.
    pub fn open_logs(&self) -> Vec<((i64, u64), Arc<ShardLog>)> {
        self.logs
            .read()
            .iter()
            .map(|(k, v)| (*k, Arc::clone(&v.log)))
            .collect()
    }

    /// Closes a stream's logs and deletes its folder. Idempotent.
    pub async fn drop_stream(&self, uid: i64) -> Result<(), StorageError> {
        let logs: Vec<Arc<ShardLog>> = {
            let mut map = self.logs.write();
            let keys: Vec<_> = map.keys().filter(|(u, _)| *u == uid).copied().collect();
            keys.into_iter()
                .filter_map(|k| map.remove(&k))
                .map(|s| {
                    s.set_session(None);
                    Arc::clone(&s.log)
                })
                .collect()
        };
        let dir = self.stream_dir(uid);
        tokio::task::spawn_blocking(move || {
            for log in logs {
                log.close();
            }
            remove_dir_if_exists(dir)
        })
        .await
        .map_err(|_| StorageError::Closed)?
    }

    /// Deletes folders of streams that no longer exist (a deletion interrupted by a crash).
    pub async fn collect_garbage(&self, live_uids: &[i64]) -> Result<usize, StorageError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(StorageError::Io {
                    path: self.root.clone(),
                    source: e,
                })
            }
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Ok(uid) = name.parse::<i64>() {
                if !live_uids.contains(&uid) {
                    self.drop_stream(uid).await?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Closes every log, draining queued appends. Used at shutdown.
    pub async fn close_all(&self) {
        let logs: Vec<Arc<ShardLog>> = self
            .logs
            .write()
            .drain()
            .map(|(_, v)| {
                v.set_session(None);
                Arc::clone(&v.log)
            })
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for log in logs {
                log.close();
            }
        })
        .await;
    }
}

/// Deletes a folder and everything in it; a missing folder is already deleted.
fn remove_dir_if_exists(dir: PathBuf) -> Result<(), StorageError> {
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::Io {
            path: dir,
            source: e,
        }),
    }
}
