//! One subscription's life: find the shard's leader, serve from its log (or proxy to the
//! node that leads it), follow the shard when its leader changes, and end after the
//! lifetime, at the shard's end, when the consumer goes, or when the client leaves.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use weir_core::SequenceNumber;

use super::events::{self, Upstream, UpstreamReader};
use super::hub::{encode_records, Batch, MAX_EVENT_BYTES, MAX_EVENT_RECORDS};
use super::registry::Registration;
use super::{Routing, StartingPosition, Target, SUBSCRIPTION_BYTES_PER_SEC};
use crate::error::KinesisError;
use crate::gateway::{DataPlane, Located};
use crate::ops::reads::{child_shards, start_position};
use crate::ops::records::{wait_if_transient, RESHARD_WAIT};
use crate::protocol::Format;
use crate::shards::LocalShard;

/// Events queued for one client beyond what its connection has taken. Small: a client
/// that does not read gets backpressure here, and holds at most this many events (each
/// about [`MAX_EVENT_BYTES`] at most) besides what the HTTP stack buffers.
pub(super) const EVENT_QUEUE: usize = 2;

/// An event is sent after this long without records, so the client sees the subscription
/// is alive and its ContinuationSequenceNumber stays current.
const IDLE_EVENT: Duration = Duration::from_secs(5);

/// How often a waiting subscription rechecks the consumer, the shard and its leader.
const RECHECK: Duration = Duration::from_millis(500);

/// How long a subscription waits for its shard to get a leader again before it ends with
/// an error.
const RELOCATE_WAIT: Duration = Duration::from_secs(30);

/// Where serving starts.
enum Start {
    /// This node leads the shard: serve from this position of its log.
    Local(Arc<LocalShard>, u64),
    /// Another node serves it; its answer streams the events.
    Remote(reqwest::Response),
}

/// How a serving attempt ended.
enum Ended {
    /// The stream is over.
    Over,
    /// The shard's leader changed: continue, from this position if known.
    Moved(Option<u64>),
}

/// Finds the shard's leader and starts serving there, retrying while placement settles.
/// `resume_at` continues a subscription from a position instead of its starting position.
async fn locate_start(
    plane: &DataPlane,
    format: Format,
    target: &Target,
    routing: Routing,
    resume_at: Option<u64>,
    wait: Duration,
) -> Result<Start, KinesisError> {
    let deadline = Instant::now() + wait;
    loop {
        let located = crate::gateway::FORWARDED_GENERATION
            .scope(
                routing.generation,
                plane.locate(target.stream_uid, target.ordinal),
            )
            .await;
        let error = match located {
            Ok(Located::Local(log)) => {
                let position = match resume_at {
                    Some(position) => position,
                    None => {
                        start_position(
                            plane,
                            &log,
                            &target.stream_name,
                            target.ordinal,
                            target.start.kind.as_deref().unwrap_or_default(),
                            target.start.sequence_number.as_deref(),
                            target.start.timestamp,
                        )
                        .await?
                    }
                };
                return Ok(Start::Local(log, position));
            }
            Ok(Located::Remote(url, generation)) => {
                let start = match resume_at {
                    Some(position) => StartingPosition {
                        kind: Some("AT_SEQUENCE_NUMBER".into()),
                        sequence_number: Some(
                            SequenceNumber::new(target.ordinal, position).to_string(),
                        ),
                        timestamp: None,
                    },
                    None => target.start.clone(),
                };
                let cluster = crate::ops::records::forwarder(plane)?;
                let opened = cluster
                    .open_subscription(
                        &url,
                        generation,
                        format,
                        target.forwarded_body(format, &start),
                        resume_at.is_some(),
                        plane.subscriptions.lifetime,
                    )
                    .await;
                match opened {
                    Ok(response) => return Ok(Start::Remote(response)),
                    Err(error) => error,
                }
            }
            Err(error) => error,
        };
        if routing.internal {
            // The node that proxies this subscription routes it again.
            return Err(error);
        }
        wait_if_transient(plane, error, deadline).await?;
    }
}

/// Validates where the subscription starts and takes its place, then starts serving it
/// in its own task. Returns the body the events stream through.
pub(super) async fn open(
    plane: Arc<DataPlane>,
    format: Format,
    target: Target,
    routing: Routing,
) -> Result<axum::body::Body, KinesisError> {
    let deadline = Instant::now() + plane.subscriptions.lifetime;
    let start = locate_start(&plane, format, &target, routing, None, RESHARD_WAIT).await?;
    let (key, position) = match &start {
        Start::Local(_, position) if !routing.resume => (
            Some((target.consumer_arn.clone(), target.ordinal)),
            Some(*position),
        ),
        Start::Local(_, position) => (None, Some(*position)),
        Start::Remote(_) => (None, None),
    };
    let registration = plane.subscriptions.register(key)?;
    let (out, frames) = mpsc::channel::<Result<Bytes, Infallible>>(EVENT_QUEUE);
    let initial = events::initial_response(format, position.filter(|_| routing.internal));
    // The queue is new and empty: this cannot fail for want of room.
    let _ = out.try_send(Ok(initial));
    let closing = plane.subscriptions.closing();
    let session = Session {
        closing,
        plane,
        format,
        target,
        routing,
        deadline,
        out,
        registration,
        position,
        rate: Rate::new(),
    };
    tokio::spawn(session.run(start));
    Ok(axum::body::Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(frames),
    ))
}

/// One subscription being served.
struct Session {
    /// True once the node shuts down.
    closing: tokio::sync::watch::Receiver<bool>,
    plane: Arc<DataPlane>,
    format: Format,
    target: Target,
    routing: Routing,
    deadline: Instant,
    out: mpsc::Sender<Result<Bytes, Infallible>>,
    registration: Registration,
    /// The position the next event starts at, once known.
    position: Option<u64>,
    rate: Rate,
}

impl Session {
    async fn run(mut self, mut start: Start) {
        loop {
            let ended = match start {
                Start::Local(log, position) => self.serve_local(log, position).await,
                Start::Remote(response) => self.pipe(response).await,
            };
            let Ended::Moved(position) = ended else {
                return;
            };
            if self.routing.internal {
                // Ending the body tells the proxying node to route again.
                return;
            }
            self.position = position.or(self.position);
            tracing::debug!(
                shard = self.target.ordinal,
                "subscription follows its shard to a new leader"
            );
            let wait = RELOCATE_WAIT.min(self.deadline.saturating_duration_since(Instant::now()));
            match locate_start(
                &self.plane,
                self.format,
                &self.target,
                self.routing,
                self.position,
                wait,
            )
            .await
            {
                Ok(next) => start = next,
                Err(error) => {
                    if Instant::now() < self.deadline {
                        self.fail(error).await;
                    }
                    return;
                }
            }
        }
    }

    /// Whether the subscription should stop: lifetime over, replaced, or client gone.
    fn finished(&self) -> bool {
        Instant::now() >= self.deadline
            || *self.closing.borrow()
            || *self.registration.replaced.borrow()
            || self.out.is_closed()
    }

    /// Ends the stream with an exception.
    async fn fail(&self, error: KinesisError) -> Ended {
        tracing::info!(
            consumer = %self.target.consumer_arn,
            shard = self.target.ordinal,
            %error,
            "subscription ended with an exception"
        );
        let _ = self
            .out
            .send(Ok(events::exception(self.format, &error)))
            .await;
        Ended::Over
    }

    /// Serves from this node's log of the shard, starting at `position`.
    async fn serve_local(&mut self, log: Arc<LocalShard>, position: u64) -> Ended {
        let plane = Arc::clone(&self.plane);
        let (uid, ordinal) = (self.target.stream_uid, self.target.ordinal);
        let mut next = log.offset_of(position);
        let opener = crate::encryption::StreamOpener::new(
            Arc::clone(&plane.record_keys),
            Arc::clone(&plane.catalog),
            self.target.stream_name.clone(),
        );
        let mut tail = plane.subscriptions.hubs.subscribe(&log, ordinal, &opener);
        let mut pending: Option<Arc<Batch>> = None;
        let mut last_event = Instant::now();
        let mut replaced = self.registration.replaced.clone();
        loop {
            if self.finished() {
                return Ended::Over;
            }
            let stream = match plane.catalog.get(&self.target.stream_name) {
                Some(stream) if stream.uid == uid => stream,
                _ => {
                    return self
                        .fail(plane.catalog.not_found(&self.target.stream_name).into())
                        .await
                }
            };
            let registered = stream
                .consumers
                .get(&self.target.consumer_name)
                .is_some_and(|c| {
                    c.created_at_ms == self.target.consumer_created_ms
                        && c.deleting_since_ms.is_none()
                });
            if !registered {
                return self
                    .fail(KinesisError::ResourceNotFound(format!(
                        "Consumer {} not found.",
                        self.target.consumer_arn
                    )))
                    .await;
            }
            if !plane.holds(uid, ordinal) {
                return Ended::Moved(Some(log.position(next)));
            }
            let ending = stream.shard(ordinal).and_then(|s| s.ending_offset);
            if ending.is_some_and(|end| log.position(next) >= end) {
                let empty = match encode_records(self.format, &[]) {
                    Ok(empty) => empty,
                    Err(error) => return self.fail(error).await,
                };
                let _ = self.emit(&log, &stream, empty, 0, 0, None, next).await;
                return Ended::Over;
            }
            // The next records: the hub's batch when it starts where we are, else our own
            // read of the log up to where the hub's batches begin.
            let batch = match pending.take() {
                Some(batch) => Some(batch),
                None => match tail.try_recv() {
                    Ok(batch) => Some(batch),
                    Err(broadcast::error::TryRecvError::Empty) => None,
                    Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                    Err(broadcast::error::TryRecvError::Closed) => {
                        tail = plane.subscriptions.hubs.subscribe(&log, ordinal, &opener);
                        None
                    }
                },
            };
            let (encoded, count, bytes, last_arrival, end) = match batch {
                Some(batch) if batch.end <= next => continue,
                Some(batch) if batch.first == next => match batch.encoded(self.format) {
                    Ok(encoded) => (
                        encoded,
                        batch.records.len(),
                        batch.bytes,
                        Some(batch.last_arrival_ms),
                        batch.end,
                    ),
                    Err(error) => return self.fail(error).await,
                },
                other => {
                    let until = other.as_ref().map_or(u64::MAX, |b| b.first.max(next + 1));
                    pending = other;
                    match self.read_own(&log, next, until).await {
                        Ok(Some(own)) => own,
                        Ok(None) => {
                            match &pending {
                                // Nothing readable before the hub's batch (retention
                                // trimmed it): continue from the batch.
                                Some(batch) => next = batch.first,
                                None => {
                                    self.wait(
                                        &mut tail,
                                        &mut pending,
                                        &mut replaced,
                                        &log,
                                        &stream,
                                        next,
                                        &mut last_event,
                                    )
                                    .await
                                }
                            }
                            continue;
                        }
                        Err(error) if !plane.holds(uid, ordinal) => {
                            tracing::debug!(%error, "subscription read failed after the shard moved");
                            return Ended::Moved(Some(log.position(next)));
                        }
                        Err(error) => return self.fail(error).await,
                    }
                }
            };
            match self
                .emit(&log, &stream, encoded, count, bytes, last_arrival, end)
                .await
            {
                Some(false) => {
                    next = end;
                    last_event = Instant::now();
                }
                Some(true) | None => return Ended::Over,
            }
        }
    }

    /// Waits for the hub's next batch, or until it is time to recheck or to send an idle
    /// event.
    #[allow(clippy::too_many_arguments)]
    async fn wait(
        &mut self,
        tail: &mut broadcast::Receiver<Arc<Batch>>,
        pending: &mut Option<Arc<Batch>>,
        replaced: &mut tokio::sync::watch::Receiver<bool>,
        log: &Arc<LocalShard>,
        stream: &weir_contracts::StreamRecord,
        next: u64,
        last_event: &mut Instant,
    ) {
        enum Woken {
            Batch(Arc<Batch>),
            Recheck,
            Other,
        }
        let mut closing = self.closing.clone();
        let woken = tokio::select! {
            received = tail.recv() => received.map_or(Woken::Other, Woken::Batch),
            () = tokio::time::sleep(RECHECK) => Woken::Recheck,
            _ = replaced.changed() => Woken::Other,
            _ = closing.changed() => Woken::Other,
            () = self.out.closed() => Woken::Other,
            () = tokio::time::sleep_until(self.deadline) => Woken::Other,
        };
        match woken {
            Woken::Batch(batch) => *pending = Some(batch),
            // A closed shard's last event is the serving loop's to send.
            Woken::Recheck
                if last_event.elapsed() >= IDLE_EVENT
                    && stream
                        .shard(self.target.ordinal)
                        .is_some_and(|s| s.ending_offset.is_none()) =>
            {
                if let Ok(empty) = encode_records(self.format, &[]) {
                    self.emit(log, stream, empty, 0, 0, None, next).await;
                }
                *last_event = Instant::now();
            }
            Woken::Recheck | Woken::Other => {}
        }
    }

    /// Reads committed records from `from` (before `until`) for this subscriber alone:
    /// the encoded array, its record count and bytes, the last arrival time and the
    /// offset after it. `None` when there is nothing to read yet.
    async fn read_own(
        &self,
        log: &Arc<LocalShard>,
        from: u64,
        until: u64,
    ) -> Result<Option<(Bytes, usize, usize, Option<i64>, u64)>, KinesisError> {
        if from >= log.visible_end() {
            return Ok(None);
        }
        let mut stored = log
            .read_any(from, MAX_EVENT_RECORDS, MAX_EVENT_BYTES)
            .await?;
        stored.retain(|r| r.offset < until);
        let opened = crate::encryption::StreamOpener::new(
            Arc::clone(&self.plane.record_keys),
            Arc::clone(&self.plane.catalog),
            self.target.stream_name.clone(),
        )
        .open(stored)?;
        let Some(batch) = Batch::new(log, self.target.ordinal, opened) else {
            return Ok(None);
        };
        let encoded = batch.encoded(self.format)?;
        Ok(Some((
            encoded,
            batch.records.len(),
            batch.bytes,
            Some(batch.last_arrival_ms),
            batch.end,
        )))
    }

    /// Sends one event whose records end before offset `end`. Returns whether it was the
    /// shard's last event, or `None` when the client is gone.
    #[allow(clippy::too_many_arguments)]
    async fn emit(
        &mut self,
        log: &LocalShard,
        stream: &weir_contracts::StreamRecord,
        records: Bytes,
        count: usize,
        bytes: usize,
        last_arrival: Option<i64>,
        end: u64,
    ) -> Option<bool> {
        self.rate.take(bytes).await;
        let ordinal = self.target.ordinal;
        let next_position = log.position(end);
        let ending = stream.shard(ordinal).and_then(|s| s.ending_offset);
        let shard_end = ending.is_some_and(|e| next_position >= e);
        let millis_behind_latest = match last_arrival {
            Some(at) if end < log.visible_end() => (self.plane.clock.now_ms() - at).max(0),
            _ => 0,
        };
        // AFTER_SEQUENCE_NUMBER of the continuation reads `next_position` next.
        let continuation = (!shard_end)
            .then(|| SequenceNumber::new(ordinal, next_position.saturating_sub(1)).to_string());
        let children = shard_end.then(|| child_shards(stream, ordinal));
        let payload = events::event_payload(
            self.format,
            &records,
            continuation.as_deref(),
            millis_behind_latest,
            children.as_deref(),
        );
        let payload = match payload {
            Ok(payload) => payload,
            Err(error) => {
                self.fail(error).await;
                return None;
            }
        };
        let frame = events::records_event(
            self.format,
            payload,
            next_position,
            shard_end,
            self.routing.internal,
        );
        self.out.send(Ok(frame)).await.ok()?;
        self.position = Some(next_position);
        let counters = &self.plane.subscriptions;
        use std::sync::atomic::Ordering::Relaxed;
        counters.events_sent.fetch_add(1, Relaxed);
        counters.records_sent.fetch_add(count as u64, Relaxed);
        counters.bytes_sent.fetch_add(bytes as u64, Relaxed);
        Some(shard_end)
    }

    /// Passes on the events of a subscription served by another node.
    async fn pipe(&mut self, mut response: reqwest::Response) -> Ended {
        let mut reader = UpstreamReader::default();
        let mut replaced = self.registration.replaced.clone();
        let mut closing = self.closing.clone();
        loop {
            let chunk = tokio::select! {
                chunk = response.chunk() => chunk,
                () = tokio::time::sleep_until(self.deadline) => return Ended::Over,
                () = self.out.closed() => return Ended::Over,
                _ = replaced.changed() => return Ended::Over,
                _ = closing.changed() => return Ended::Over,
            };
            match chunk {
                Ok(Some(bytes)) => reader.push(&bytes),
                Ok(None) | Err(_) => return Ended::Moved(self.position),
            }
            loop {
                match reader.next_message() {
                    Ok(None) => break,
                    Ok(Some(Upstream::Initial { start_position })) => {
                        self.position = start_position.or(self.position);
                    }
                    Ok(Some(Upstream::Event {
                        frame,
                        next_position,
                        shard_end,
                    })) => {
                        if self.out.send(Ok(frame)).await.is_err() {
                            return Ended::Over;
                        }
                        self.position = next_position.or(self.position);
                        if shard_end {
                            return Ended::Over;
                        }
                    }
                    Ok(Some(Upstream::Exception(frame))) => {
                        let _ = self.out.send(Ok(frame)).await;
                        return Ended::Over;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "subscription upstream sent an unreadable event");
                        return Ended::Moved(self.position);
                    }
                }
            }
        }
    }
}

/// A consumer's allowance of [`SUBSCRIPTION_BYTES_PER_SEC`] on one shard: up to a second's
/// worth at once, then paced.
struct Rate {
    allowance: f64,
    at: Instant,
}

impl Rate {
    fn new() -> Self {
        Self {
            allowance: SUBSCRIPTION_BYTES_PER_SEC,
            at: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let earned = now.duration_since(self.at).as_secs_f64() * SUBSCRIPTION_BYTES_PER_SEC;
        self.allowance = (self.allowance + earned).min(SUBSCRIPTION_BYTES_PER_SEC);
        self.at = now;
    }

    /// Waits until the allowance is not overdrawn, then spends `bytes` of it.
    async fn take(&mut self, bytes: usize) {
        self.refill();
        if self.allowance < 0.0 {
            let wait = -self.allowance / SUBSCRIPTION_BYTES_PER_SEC;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            self.refill();
        }
        self.allowance -= bytes as f64;
    }
}
