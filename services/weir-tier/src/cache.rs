//! A bounded in-memory cache of bytes fetched from the cold tier.

use bytes::Bytes;
use lru::LruCache;
use parking_lot::Mutex;

/// Least-recently-used cache of object byte ranges, bounded by total bytes so a consumer
/// replaying a long history cannot grow a node's memory without limit.
pub struct BlockCache {
    inner: Mutex<Inner>,
    capacity_bytes: usize,
}

struct Inner {
    entries: LruCache<(String, u64), Bytes>,
    bytes: usize,
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` (one oversized block is still kept alone).
    pub fn new(capacity_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
            capacity_bytes,
        }
    }

    /// The block of `key` starting at `start`, if cached.
    pub fn get(&self, key: &str, start: u64) -> Option<Bytes> {
        self.inner
            .lock()
            .entries
            .get(&(key.to_string(), start))
            .cloned()
    }

    /// Caches a block, evicting the least recently used ones beyond the bound.
    pub fn insert(&self, key: &str, start: u64, block: Bytes) {
        let mut inner = self.inner.lock();
        let size = block.len();
        if let Some(old) = inner.entries.put((key.to_string(), start), block) {
            inner.bytes -= old.len();
        }
        inner.bytes += size;
        while inner.bytes > self.capacity_bytes && inner.entries.len() > 1 {
            match inner.entries.pop_lru() {
                Some((_, evicted)) => inner.bytes -= evicted.len(),
                None => break,
            }
        }
    }

    /// Drops every block of an object (it was deleted).
    pub fn forget(&self, key: &str) {
        let mut inner = self.inner.lock();
        let stale: Vec<(String, u64)> = inner
            .entries
            .iter()
            .filter(|((k, _), _)| k == key)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            if let Some(b) = inner.entries.pop(&k) {
                inner.bytes -= b.len();
            }
        }
    }

    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

impl Default for BlockCache {
    fn default() -> Self {
        Self::new(64 * 1024 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_byte_bound_evicting_the_least_recent() {
        let cache = BlockCache::new(100);
        cache.insert("a", 0, Bytes::from(vec![0; 40]));
        cache.insert("b", 0, Bytes::from(vec![0; 40]));
        assert!(cache.get("a", 0).is_some());
        cache.insert("c", 0, Bytes::from(vec![0; 40]));
        assert!(cache.bytes() <= 100);
        assert!(cache.get("b", 0).is_none(), "b was least recently used");
        assert!(cache.get("a", 0).is_some());
        cache.forget("a");
        assert!(cache.get("a", 0).is_none());
        assert_eq!(cache.bytes(), 40);
    }
}
