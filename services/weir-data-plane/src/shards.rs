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
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::Mutex;
use weir_storage::{LogConfig, ShardLog, StorageError};

/// Bits of a position that hold the log offset.
pub const GENERATION_SHIFT: u32 = 40;
const OFFSET_MASK: u64 = (1 << GENERATION_SHIFT) - 1;

/// One shard held by this node: its log and its generation table.
pub struct LocalShard {
    log: Arc<ShardLog>,
    table_path: PathBuf,
    /// `(generation, first offset)` in increasing order; never empty once opened.
    generations: RwLock<Vec<(u64, u64)>>,
}

impl std::ops::Deref for LocalShard {
    type Target = ShardLog;
    fn deref(&self) -> &ShardLog {
        &self.log
    }
}

impl LocalShard {
    /// The position of a local offset.
    pub fn position(&self, offset: u64) -> u64 {
        let table = self.generations.read();
        let generation = table
            .iter()
            .rev()
            .find(|(_, first)| *first <= offset)
            .or(table.first())
            .map_or(1, |(g, _)| *g);
        generation << GENERATION_SHIFT | (offset & OFFSET_MASK)
    }

    /// The local offset to read from for a position from an iterator or sequence number.
    pub fn offset_of(&self, position: u64) -> u64 {
        let generation = position >> GENERATION_SHIFT;
        let offset = position & OFFSET_MASK;
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

    /// The generation this node holds the shard under now.
    pub fn generation(&self) -> u64 {
        self.generations.read().last().map_or(1, |(g, _)| *g)
    }

    /// Records that this node holds the shard under `generation` from the log's tip on.
    fn adopt(&self, generation: u64) -> Result<(), StorageError> {
        let mut table = self.generations.write();
        if table.last().is_some_and(|(g, _)| *g >= generation) {
            return Ok(());
        }
        table.push((generation, self.log.next_offset()));
        let text: String = table.iter().map(|(g, o)| format!("{g} {o}\n")).collect();
        let tmp = self.table_path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::File::open(&tmp).and_then(|f| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &self.table_path))
            .map_err(|e| StorageError::Io {
                path: self.table_path.clone(),
                source: e,
            })
    }
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
    logs: RwLock<HashMap<(i64, u64), Arc<LocalShard>>>,
    opening: Mutex<()>,
}

impl ShardRegistry {
    /// A registry rooted at `<data_dir>/streams`.
    pub fn new(data_dir: &Path, config: LogConfig) -> Self {
        Self {
            root: data_dir.join("streams"),
            config,
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
    ) -> Result<Arc<LocalShard>, StorageError> {
        let shard = self.open(uid, ordinal).await?;
        if shard.generation() < generation {
            let adopting = Arc::clone(&shard);
            tokio::task::spawn_blocking(move || adopting.adopt(generation))
                .await
                .map_err(|_| StorageError::Closed)??;
        }
        Ok(shard)
    }

    async fn open(&self, uid: i64, ordinal: u64) -> Result<Arc<LocalShard>, StorageError> {
        if let Some(shard) = self.logs.read().get(&(uid, ordinal)) {
            return Ok(Arc::clone(shard));
        }
        let _guard = self.opening.lock().await;
        if let Some(shard) = self.logs.read().get(&(uid, ordinal)) {
            return Ok(Arc::clone(shard));
        }
        let dir = self.stream_dir(uid).join(ordinal.to_string());
        let config = self.config.clone();
        let shard = tokio::task::spawn_blocking(move || {
            let log = ShardLog::open(&dir, config)?;
            let table_path = dir.join("generations");
            let mut table = read_table(&table_path);
            if table.is_empty() {
                table.push((1, 0));
            }
            Ok::<_, StorageError>(LocalShard {
                log: Arc::new(log),
                table_path,
                generations: RwLock::new(table),
            })
        })
        .await
        .map_err(|_| StorageError::Closed)??;
        let shard = Arc::new(shard);
        self.logs.write().insert((uid, ordinal), Arc::clone(&shard));
        Ok(shard)
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
                .map(|s| Arc::clone(&s.log))
                .collect()
        };
        let dir = self.stream_dir(uid);
        tokio::task::spawn_blocking(move || {
            for log in logs {
                log.close();
            }
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StorageError::Io {
                    path: dir,
                    source: e,
                }),
            }
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
            .map(|(_, v)| Arc::clone(&v.log))
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for log in logs {
                log.close();
            }
        })
        .await;
    }
}
