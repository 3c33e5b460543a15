//! The shard logs this node holds, opened on first use.
//!
//! Data lives under `<data dir>/streams/<stream uid>/<shard ordinal>/`. Keying by the
//! stream's uid (not its name) means a stream deleted and recreated under the same name
//! starts empty, even if deletion of the old folder was interrupted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::Mutex;
use weir_storage::{LogConfig, ShardLog, StorageError};

/// Open shard logs, by (stream uid, shard ordinal).
pub struct ShardRegistry {
    root: PathBuf,
    config: LogConfig,
    logs: RwLock<HashMap<(i64, u64), Arc<ShardLog>>>,
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

    /// The log of a shard, opening (and recovering) it on first use.
    pub async fn get(&self, uid: i64, ordinal: u64) -> Result<Arc<ShardLog>, StorageError> {
        if let Some(log) = self.logs.read().get(&(uid, ordinal)) {
            return Ok(Arc::clone(log));
        }
        let _guard = self.opening.lock().await;
        if let Some(log) = self.logs.read().get(&(uid, ordinal)) {
            return Ok(Arc::clone(log));
        }
        let dir = self.stream_dir(uid).join(ordinal.to_string());
        let config = self.config.clone();
        let log = tokio::task::spawn_blocking(move || ShardLog::open(&dir, config))
            .await
            .map_err(|_| StorageError::Closed)??;
        let log = Arc::new(log);
        self.logs.write().insert((uid, ordinal), Arc::clone(&log));
        Ok(log)
    }

    /// Every open log, for periodic work such as retention.
    pub fn open_logs(&self) -> Vec<((i64, u64), Arc<ShardLog>)> {
        self.logs
            .read()
            .iter()
            .map(|(k, v)| (*k, Arc::clone(v)))
            .collect()
    }

    /// Closes a stream's logs and deletes its folder. Idempotent.
    pub async fn drop_stream(&self, uid: i64) -> Result<(), StorageError> {
        let logs: Vec<Arc<ShardLog>> = {
            let mut map = self.logs.write();
            let keys: Vec<_> = map.keys().filter(|(u, _)| *u == uid).copied().collect();
            keys.into_iter().filter_map(|k| map.remove(&k)).collect()
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
        let logs: Vec<Arc<ShardLog>> = self.logs.write().drain().map(|(_, v)| v).collect();
        let _ = tokio::task::spawn_blocking(move || {
            for log in logs {
                log.close();
            }
        })
        .await;
    }
}
