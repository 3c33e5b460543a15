//! The local-folder backend: the embedded default, and what a single machine needs.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::store::{ObjectStore, StoreFuture};
use crate::TierError;

/// Objects as files under a folder. Writes go to a temporary file that is fsynced and
/// renamed, so a crash never leaves a half-written object under its real name.
#[derive(Debug, Clone)]
pub struct LocalFolderStore {
    root: PathBuf,
}

impl LocalFolderStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, TierError> {
        // Keys come from `layout`, but refuse anything that could climb out of the root.
        if key.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(TierError::Misconfigured(format!(
                "invalid object key {key}"
            )));
        }
        Ok(self.root.join(key))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TierError + '_ {
    move |source| TierError::Io {
        path: path.to_path_buf(),
        source,
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TierError> + Send + 'static,
) -> Result<T, TierError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TierError::Unavailable(format!("local cold tier task failed: {e}")))?
}

impl ObjectStore for LocalFolderStore {
    fn put(&self, key: &str, body: Bytes) -> StoreFuture<'_, ()> {
        let path = self.path(key);
        Box::pin(async move {
            let path = path?;
            blocking(move || {
                let dir = path.parent().unwrap_or(Path::new("."));
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                let tmp = path.with_extension("part");
                let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
                file.write_all(&body).map_err(io(&tmp))?;
                file.sync_all().map_err(io(&tmp))?;
                std::fs::rename(&tmp, &path).map_err(io(&path))?;
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io(dir))
            })
            .await
        })
    }

    fn get_range(&self, key: &str, start: u64, end: u64) -> StoreFuture<'_, Bytes> {
        let path = self.path(key);
        let key = key.to_string();
        Box::pin(async move {
            let path = path?;
            blocking(move || {
                let mut file = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(TierError::NotFound(key))
                    }
                    Err(e) => return Err(io(&path)(e)),
                };
                file.seek(SeekFrom::Start(start)).map_err(io(&path))?;
                let mut buf = Vec::new();
                file.take(end.saturating_sub(start))
                    .read_to_end(&mut buf)
                    .map_err(io(&path))?;
                Ok(Bytes::from(buf))
            })
            .await
        })
    }

    fn get(&self, key: &str) -> StoreFuture<'_, Bytes> {
        self.get_range(key, 0, u64::MAX)
    }

    fn delete(&self, key: &str) -> StoreFuture<'_, ()> {
        let path = self.path(key);
        Box::pin(async move {
            let path = path?;
            blocking(move || match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io(&path)(e)),
            })
            .await
        })
    }

    fn list(&self, prefix: &str) -> StoreFuture<'_, Vec<String>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        Box::pin(async move {
            blocking(move || {
                let mut keys = Vec::new();
                let mut stack = vec![root.clone()];
                while let Some(dir) = stack.pop() {
                    let entries = match std::fs::read_dir(&dir) {
                        Ok(e) => e,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io(&dir)(e)),
                    };
                    for entry in entries.flatten() {
                        let path = entry.path();
                        if path.is_dir() {
                            stack.push(path);
                        } else if let Ok(rel) = path.strip_prefix(&root) {
                            let key = rel.to_string_lossy().replace('\\', "/");
                            if key.starts_with(&prefix) && !key.ends_with(".part") {
                                keys.push(key);
                            }
                        }
                    }
                }
                Ok(keys)
            })
            .await
        })
    }

    fn check(&self) -> StoreFuture<'_, ()> {
        let root = self.root.clone();
        Box::pin(async move {
            blocking(move || {
                std::fs::create_dir_all(&root).map_err(|e| {
                    TierError::Misconfigured(format!(
                        "cannot create the cold-tier folder {} ({e}); set --tier-dir to a writable folder",
                        root.display()
                    ))
                })
            })
            .await
        })
    }

    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_range_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFolderStore::new(dir.path().join("tier"));
        store.check().await.unwrap();
        store
            .put("streams/1/0/a.log", Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        store
            .put("streams/2/0/b.log", Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert_eq!(
            &store.get_range("streams/1/0/a.log", 2, 5).await.unwrap()[..],
            b"234"
        );
        assert_eq!(store.get("streams/1/0/a.log").await.unwrap().len(), 10);
        assert_eq!(
            store.list("streams/1/").await.unwrap(),
            vec!["streams/1/0/a.log".to_string()]
        );
        store.delete("streams/1/0/a.log").await.unwrap();
        store.delete("streams/1/0/a.log").await.unwrap();
        assert!(matches!(
            store.get("streams/1/0/a.log").await,
            Err(TierError::NotFound(_))
        ));
        assert!(store.put("../escape", Bytes::new()).await.is_err());
    }
}
