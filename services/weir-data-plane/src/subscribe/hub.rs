//! One reader per shard for all its subscribers at the tail.
//!
//! A shard with subscribers has one hub task. It waits on the shard's commit point and,
//! each time it moves, reads the newly committed records once and broadcasts them as a
//! shared [`Batch`], whose encodings (JSON and CBOR) are also made once. Subscribers behind
//! the tail, or ones that fell more than [`HUB_CAPACITY`] batches behind, read the log
//! themselves until they catch up: a slow subscriber never holds up the writer, the hub or
//! the others, and the hub's memory is bounded by its capacity whatever they do.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::encryption::{OpenedRecord, StreamOpener};
use crate::error::KinesisError;
use crate::ops::reads::{write_records_json, Record};
use crate::protocol::Format;
use crate::shards::LocalShard;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::broadcast;

/// Batches a hub keeps for subscribers that are a little behind.
pub const HUB_CAPACITY: usize = 16;

/// Most records in one event (and one hub batch).
pub const MAX_EVENT_RECORDS: usize = 10_000;

/// About the most payload bytes in one event (one record may exceed it alone).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Committed records of one shard, shaped for the wire, with their encodings made once.
#[derive(Debug)]
pub struct Batch {
    /// Offset of the first record.
    pub first: u64,
    /// Offset after the last record.
    pub end: u64,
    /// The records, in order.
    pub records: Vec<Record>,
    /// Arrival time of the last record.
    pub last_arrival_ms: i64,
    /// Payload and key bytes, for the subscriber's rate limit.
    pub bytes: usize,
    json: OnceLock<Bytes>,
    cbor: OnceLock<Bytes>,
}

impl Batch {
    /// Shapes records read from `log` and opened (sequence numbers from their positions).
    pub(crate) fn new(log: &LocalShard, ordinal: u64, opened: Vec<OpenedRecord>) -> Option<Self> {
        let first = opened.first()?.record.offset;
        let last = &opened.last()?.record;
        let (end, last_arrival_ms) = (last.offset + 1, last.timestamp_ms);
        let records: Vec<Record> = opened
            .into_iter()
            .map(|r| Record::shaped(r, ordinal, log))
            .collect();
        let bytes = records
            .iter()
            .map(|r| r.data.0.len() + r.partition_key.len())
            .sum();
        Some(Self {
            first,
            end,
            records,
            last_arrival_ms,
            bytes,
            json: OnceLock::new(),
            cbor: OnceLock::new(),
        })
    }

    /// The `Records` array in `format`, encoded by the first subscriber that needs it.
    pub fn encoded(&self, format: Format) -> Result<Bytes, KinesisError> {
        let cell = match format {
            Format::Json => &self.json,
            Format::Cbor => &self.cbor,
        };
        if let Some(bytes) = cell.get() {
            return Ok(bytes.clone());
        }
        let bytes = encode_records(format, &self.records)?;
        Ok(cell.get_or_init(|| bytes).clone())
    }
}

/// Encodes a `Records` array in `format`.
pub fn encode_records(format: Format, records: &[Record]) -> Result<Bytes, KinesisError> {
    match format {
        Format::Json => {
            let size: usize = records.iter().map(|r| r.data.0.len() * 4 / 3 + 160).sum();
            let mut out = Vec::with_capacity(size + 2);
            write_records_json(records, &mut out);
            Ok(Bytes::from(out))
        }
        Format::Cbor => format.encode(&records).map(Bytes::from),
    }
}

/// A running hub: the log it reads and the channel it broadcasts on.
type HubEntry = (Arc<LocalShard>, broadcast::Sender<Arc<Batch>>);

/// The hubs of the shards this node serves subscriptions for.
#[derive(Default)]
pub struct Hubs {
    /// Per shard: the log the hub reads and its channel. Removed when the hub stops.
    hubs: Mutex<HashMap<(i64, u64), HubEntry>>,
}

impl Hubs {
    /// Subscribes to the shard's hub, starting one if the shard has none (or has one
    /// reading a log this node no longer serves the shard from).
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        log: &Arc<LocalShard>,
        ordinal: u64,
        opener: &StreamOpener,
    ) -> broadcast::Receiver<Arc<Batch>> {
        let key = (log.uid(), ordinal);
        let mut hubs = self.hubs.lock();
        if let Some((current, sender)) = hubs.get(&key) {
            if Arc::ptr_eq(current, log) {
                return sender.subscribe();
            }
        }
        let (sender, receiver) = broadcast::channel(HUB_CAPACITY);
        hubs.insert(key, (Arc::clone(log), sender.clone()));
        tokio::spawn(run(
            Arc::clone(self),
            key,
            Arc::clone(log),
            ordinal,
            opener.clone(),
            sender,
        ));
        receiver
    }

    /// Shards with a hub running (for tests and metrics).
    pub fn len(&self) -> usize {
        self.hubs.lock().len()
    }

    /// Whether no hub is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes the hub's entry if nobody listens any more; under the map's lock, so a
    /// subscriber arriving meanwhile either finds the hub alive or starts a new one.
    fn retire_if_unused(&self, key: (i64, u64), sender: &broadcast::Sender<Arc<Batch>>) -> bool {
        let mut hubs = self.hubs.lock();
        if sender.receiver_count() > 0 {
            return false;
        }
        if hubs.get(&key).is_some_and(|(_, s)| s.same_channel(sender)) {
            hubs.remove(&key);
        }
        true
    }
}

/// How often an idle hub checks whether it still has subscribers.
const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

async fn run(
    hubs: Arc<Hubs>,
    key: (i64, u64),
    log: Arc<LocalShard>,
    ordinal: u64,
    opener: StreamOpener,
    sender: broadcast::Sender<Arc<Batch>>,
) {
    let mut commit = log.watch_commit();
    let mut published = log.visible_end();
    loop {
        if hubs.retire_if_unused(key, &sender) {
            return;
        }
        if published < log.visible_end() {
            match log
                .read_any(published, MAX_EVENT_RECORDS, MAX_EVENT_BYTES)
                .await
            {
                Ok(stored) => {
                    let opened = match opener.open(stored) {
                        Ok(opened) => opened,
                        Err(error) => {
                            tracing::warn!(%error, "subscription hub could not open records; subscribers read the log themselves");
                            Vec::new()
                        }
                    };
                    if let Some(batch) = Batch::new(&log, ordinal, opened) {
                        published = batch.end;
                        // No receiver: the next round retires the hub.
                        let _ = sender.send(Arc::new(batch));
                        continue;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "subscription hub read failed; subscribers read the log themselves");
                }
            }
        }
        tokio::select! {
            changed = commit.changed() => if changed.is_err() {
                hubs.retire_if_unused(key, &sender);
                return;
            },
            () = tokio::time::sleep(IDLE_CHECK) => {}
        }
    }
}
