//! The subscriptions a node serves: who is subscribed to what (for ResourceInUse and
//! replacement), how many there are (a bounded number), and the per-shard hubs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::hub::Hubs;
use super::{MAX_SUBSCRIPTIONS_PER_NODE, RESUBSCRIBE_GUARD};
use crate::error::KinesisError;

/// One consumer's subscription to one shard, served here.
struct Active {
    id: u64,
    started: Instant,
    /// Set to true to end the subscription (a newer one replaced it).
    replaced: watch::Sender<bool>,
}

/// Everything a node keeps about its subscriptions.
pub struct Subscriptions {
    /// The shared tail readers, one per shard with subscribers.
    pub(crate) hubs: Arc<Hubs>,
    /// Keyed by consumer ARN and shard ordinal; an entry leaves with its subscription.
    active: Mutex<HashMap<(String, u64), Active>>,
    /// One permit per subscription served or proxied by this node.
    slots: Arc<Semaphore>,
    next_id: AtomicU64,
    /// How long one subscription lasts.
    pub(crate) lifetime: Duration,
    /// Events sent and records and bytes pushed, for `/metrics`.
    pub(crate) events_sent: AtomicU64,
    pub(crate) records_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    /// Becomes true when the node shuts down: every subscription ends, cleanly, so the
    /// HTTP server's graceful shutdown is not held up for minutes.
    closing: watch::Sender<bool>,
}

/// Holds a subscription's place; dropping it frees the place.
pub(crate) struct Registration {
    subscriptions: Arc<Subscriptions>,
    key: Option<(String, u64)>,
    id: u64,
    _slot: OwnedSemaphorePermit,
    /// The sender of `replaced` when no registry entry holds it (proxied subscriptions).
    _unlisted: Option<watch::Sender<bool>>,
    /// Becomes true when a newer subscription replaces this one.
    pub replaced: watch::Receiver<bool>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut active = self.subscriptions.active.lock();
            if active.get(&key).is_some_and(|a| a.id == self.id) {
                active.remove(&key);
            }
        }
    }
}

impl Subscriptions {
    /// An empty registry whose subscriptions last `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            hubs: Arc::new(Hubs::default()),
            active: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(MAX_SUBSCRIPTIONS_PER_NODE)),
            next_id: AtomicU64::new(1),
            lifetime,
            events_sent: AtomicU64::new(0),
            records_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            closing: watch::channel(false).0,
        }
    }

    /// Ends every subscription (the node is shutting down); new ones are refused.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Watches for [`Self::close`].
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Subscriptions this node serves or proxies now.
    pub fn open_count(&self) -> usize {
        MAX_SUBSCRIPTIONS_PER_NODE - self.slots.available_permits()
    }

    /// Takes a place for a subscription. With `key` (consumer ARN and shard, on the node
    /// serving it), a subscription of the same consumer to the same shard that began less
    /// than five seconds ago refuses this one; an older one is ended in favour of it.
    pub(crate) fn register(
        self: &Arc<Self>,
        key: Option<(String, u64)>,
    ) -> Result<Registration, KinesisError> {
        if *self.closing.borrow() {
            return Err(KinesisError::Unavailable(
                "This node is shutting down; subscribe through another node or retry.".into(),
            ));
        }
        let slot = Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            KinesisError::LimitExceeded(format!(
                "This node already serves {MAX_SUBSCRIPTIONS_PER_NODE} subscriptions, its limit. Retry later or through another node."
            ))
        })?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (replaced_tx, replaced) = watch::channel(false);
        let mut unlisted = Some(replaced_tx);
        if let Some(key) = &key {
            let mut active = self.active.lock();
            if let Some(previous) = active.get(key) {
                if previous.started.elapsed() < RESUBSCRIBE_GUARD && !previous.replaced.is_closed()
                {
                    return Err(KinesisError::ResourceInUse(format!(
                        "Another active subscription exists for consumer {} on shard {}. A consumer can re-subscribe to a shard {} seconds after its last subscription began.",
                        key.0,
                        weir_core::shard_id(key.1),
                        RESUBSCRIBE_GUARD.as_secs()
                    )));
                }
                previous.replaced.send_replace(true);
            }
            active.insert(
                key.clone(),
                Active {
                    id,
                    started: Instant::now(),
                    replaced: unlisted.take().unwrap_or_else(|| watch::channel(false).0),
                },
            );
        }
        Ok(Registration {
            subscriptions: Arc::clone(self),
            key,
            id,
            _slot: slot,
            _unlisted: unlisted,
            replaced,
        })
    }
}
