//! The one trait both backends implement.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::TierError;

/// A boxed future, so the trait can be used as `dyn ObjectStore`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, TierError>> + Send + 'a>>;

/// An object store holding whole immutable objects under string keys. Keys are relative
/// to the backend's own prefix or folder.
pub trait ObjectStore: Send + Sync + 'static {
    /// Stores `body` under `key`, replacing any object there (uploads are retried, so a
    /// second put of the same key must succeed).
    fn put(&self, key: &str, body: Bytes) -> StoreFuture<'_, ()>;
    /// Reads bytes `[start, end)` of an object (ranged GET), or fewer at its end.
    fn get_range(&self, key: &str, start: u64, end: u64) -> StoreFuture<'_, Bytes>;
    /// Reads a whole object.
    fn get(&self, key: &str) -> StoreFuture<'_, Bytes>;
    /// Deletes an object; deleting a missing one succeeds (deletion is retried).
    fn delete(&self, key: &str) -> StoreFuture<'_, ()>;
    /// Keys under `prefix`, in any order.
    fn list(&self, prefix: &str) -> StoreFuture<'_, Vec<String>>;
    /// Verifies the settings at start-up: the bucket exists and the credentials work.
    /// [`TierError::Misconfigured`] names the setting to fix.
    fn check(&self) -> StoreFuture<'_, ()>;
    /// Where objects go, for logs and the start-up banner.
    fn describe(&self) -> String;
}
