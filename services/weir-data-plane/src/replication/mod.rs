//! Replicated shard logs: the leader side.
//!
//! Each shard has a leader and followers on distinct nodes, chosen by the control plane
//! under a generation that only grows. The leader appends and fsyncs locally, then one
//! task per follower copies the new batches, exactly as stored, to that follower, which
//! verifies, appends and fsyncs them and answers with its durable end. A record is
//! committed (acknowledged to the client, visible to readers) once a majority of the
//! replica set, the leader included, holds it durably *and* has adopted the leader's
//! generation. That last condition is Raft's rule that a leader commits only through an
//! entry of its own term: it is what lets the control plane pick the next leader by the
//! highest `(last generation, end)` among a majority without losing a committed record.
//!
//! The follower side (what a follower does with those batches, and the control plane's
//! fence before an election) is in [`follower`].

pub mod follower;
pub(crate) mod roles;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;
use weir_storage::StorageError;

use crate::cluster::Cluster;
use crate::shards::LocalShard;
pub use wire::{FenceReply, FenceRequest, ReplicateHeader, ReplicateReply, REPLICATE_HEADER};

/// Most bytes one replication request carries.
const MAX_REPLICATE_BYTES: usize = 1024 * 1024;
/// How long a follower's task waits for new records before it sends an empty request
/// anyway (so followers learn the commit point).
const IDLE_PING: Duration = Duration::from_millis(250);
/// Longest one replication request may take.
const REPLICATE_TIMEOUT: Duration = Duration::from_secs(5);

/// A follower's progress as its leader knows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowerProgress {
    /// The follower's durable end.
    pub end: u64,
    /// Whether it has adopted the leader's generation (and so counts toward commits).
    pub adopted: bool,
}

/// This node's leadership of one shard under one generation.
pub struct LeaderSession {
    /// The generation of this leadership.
    pub generation: u64,
    /// The replica set, this node included.
    pub voters: Vec<String>,
    me: String,
    progress: Mutex<HashMap<String, FollowerProgress>>,
    fenced: watch::Sender<bool>,
    stopped: std::sync::atomic::AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The trace of the latest write, which the next replication calls belong to.
    last_writer: Mutex<Option<weir_trace::Context>>,
}

impl Drop for LeaderSession {
    fn drop(&mut self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }
}

impl LeaderSession {
    /// Notes the trace of a write now in the log: the replication calls that carry it
    /// join that trace.
    pub(crate) fn note_writer(&self, context: weir_trace::Context) {
        *self.last_writer.lock() = Some(context);
    }

    /// Starts leading `shard` under `generation` with replica set `voters` (node ids, this
    /// node among them): one replication task per follower.
    pub fn start(
        shard: &Arc<LocalShard>,
        cluster: &Arc<Cluster>,
        generation: u64,
        voters: Vec<String>,
    ) -> Arc<Self> {
        let session = Arc::new(Self {
            generation,
            me: cluster.node_id.clone(),
            voters,
            progress: Mutex::new(HashMap::new()),
            fenced: watch::channel(false).0,
            stopped: std::sync::atomic::AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
            last_writer: Mutex::new(None),
        });
        let followers: Vec<String> = session
            .voters
            .iter()
            .filter(|v| **v != session.me)
            .cloned()
            .collect();
        let mut tasks = session.tasks.lock();
        for follower in followers {
            tasks.push(tokio::spawn(replicate_to(
                Arc::clone(shard),
                Arc::downgrade(&session),
                Arc::clone(cluster),
                follower,
            )));
        }
        drop(tasks);
        session.recompute(shard);
        session
    }

    /// Whether this leadership is the one assigned under `generation` to `voters`.
    pub fn matches(&self, generation: u64, voters: &[String]) -> bool {
        self.generation == generation && self.voters == voters
    }

    /// Watches whether a follower reported a newer generation (this leadership is over).
    pub fn watch_fenced(&self) -> watch::Receiver<bool> {
        self.fenced.subscribe()
    }

    /// Ends this leadership: a newer generation exists. Writes waiting on it fail.
    pub fn fence(&self) {
        self.fenced.send_replace(true);
    }

    /// Stops replicating under this session (a newer session of the same leader took
    /// over); unlike [`LeaderSession::fence`], waiting writes are not failed.
    pub fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Release);
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }

    /// Whether this leadership was fenced.
    pub fn is_fenced(&self) -> bool {
        *self.fenced.borrow()
    }

    /// Each follower's progress (reported to the control plane).
    pub fn progress(&self) -> HashMap<String, FollowerProgress> {
        self.progress.lock().clone()
    }

    fn record(&self, follower: &str, progress: FollowerProgress) {
        self.progress.lock().insert(follower.to_string(), progress);
    }

    /// Recomputes the commit point from the local durable end and the followers that
    /// adopted this generation: the highest offset a majority holds.
    pub fn recompute(&self, shard: &LocalShard) {
        if self.is_fenced() || self.stopped.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let progress = self.progress.lock();
        let ends: Vec<u64> = self
            .voters
            .iter()
            .map(|v| {
                if *v == self.me {
                    Some(shard.log().next_offset())
                } else {
                    progress.get(v).filter(|p| p.adopted).map(|p| p.end)
                }
            })
            .map(|e| e.unwrap_or(0))
            .collect();
        drop(progress);
        if let Some(commit) = majority_end(&ends) {
            shard.advance_commit(commit);
        }
    }
}

/// The highest offset held by a majority, given each replica's durable end (0 for a
/// replica that does not count yet).
pub fn majority_end(ends: &[u64]) -> Option<u64> {
    if ends.is_empty() {
        return None;
    }
    let mut sorted = ends.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.get(ends.len() / 2).copied()
}

/// The generation of `offset` under a generation table.
fn generation_at(table: &[(u64, u64)], offset: u64) -> Option<u64> {
    table
        .iter()
        .rev()
        .find(|(_, first)| *first <= offset)
        .map(|(g, _)| *g)
}

/// Where two replicas' logs stop agreeing: the first offset below both ends whose
/// generation differs between the two tables. Records with the same offset and
/// generation are the same records (one leader per generation), so everything before it
/// is shared and everything from it on a follower is a divergent suffix to cut.
pub fn common_prefix(
    mine: &[(u64, u64)],
    my_end: u64,
    leader: &[(u64, u64)],
    leader_end: u64,
) -> u64 {
    let limit = my_end.min(leader_end);
    let mut points: Vec<u64> = mine
        .iter()
        .chain(leader)
        .map(|(_, first)| *first)
        .filter(|p| *p < limit)
        .collect();
    points.push(0);
    points.sort_unstable();
    points.dedup();
    points
        .into_iter()
        .find(|p| generation_at(mine, *p) != generation_at(leader, *p))
        .unwrap_or(limit)
}

/// One follower's replication task: copies batches from the leader's log to it, in
/// order, one request at a time (what piles up meanwhile goes in the next request).
async fn replicate_to(
    shard: Arc<LocalShard>,
    session: Weak<LeaderSession>,
    cluster: Arc<Cluster>,
    follower: String,
) {
    let mut cursor: Option<u64> = None;
    let mut end_watch = shard.log().watch_end();
    let mut last_commit_sent = u64::MAX;
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(live) = session.upgrade() else {
            return;
        };
        if live.is_fenced() {
            return;
        }
        let generation = live.generation;
        drop(live);
        let leader_end = shard.log().next_offset();
        let mut rebase = false;
        let mut segment_base = None;
        let (prev, bytes) = match cursor {
            None => (leader_end, Bytes::new()),
            Some(c) if c < leader_end => {
                let log = Arc::clone(shard.log());
                // One generation's records per request, so that a follower's table, written
                // before the records, always describes them (see `follower::append`).
                let until = shard
                    .table()
                    .iter()
                    .map(|(_, first)| *first)
                    .find(|first| *first > c)
                    .unwrap_or(u64::MAX);
                match tokio::task::spawn_blocking(move || {
                    log.read_raw(c, MAX_REPLICATE_BYTES, until)
                })
                .await
                {
                    Ok(Ok(Some(raw))) => {
                        segment_base = Some(raw.segment_base);
                        (c, raw.bytes)
                    }
                    Ok(Ok(None)) => (c, Bytes::new()),
                    Ok(Err(StorageError::BelowStart { start })) => {
                        // The follower is behind what is still local here (the rest is
                        // in the cold tier): it restarts its log where ours starts.
                        rebase = true;
                        (start, Bytes::new())
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, %follower, "reading batches to replicate failed");
                        cursor = None;
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                    Err(_) => return,
                }
            }
            Some(c) => {
                // Caught up: wait for new records, or ping so the follower learns the
                // commit point.
                if shard.commit_point() == last_commit_sent {
                    let _ = tokio::time::timeout(IDLE_PING, end_watch.changed()).await;
                    if shard.log().next_offset() > c {
                        continue;
                    }
                }
                (c, Bytes::new())
            }
        };
        let Some(url) = cluster.node_url(&follower) else {
            // Not live as far as this node knows: try again after the next heartbeat.
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let commit = shard.commit_point();
        let header = ReplicateHeader {
            stream_uid: shard.uid(),
            ordinal: shard.ordinal(),
            generation,
            table: shard.table(),
            leader_end,
            commit,
            prev,
            segment_base,
            rebase,
        };
        let sent = bytes.len() as u64;
        // Calls that carry records belong to the trace of the write that brought them.
        let span = match (sent > 0).then(|| session.upgrade()).flatten() {
            Some(live) => match live.last_writer.lock().clone() {
                Some(parent) => weir_trace::with_parent(
                    tracing::info_span!("replicate", follower = %follower, bytes = sent),
                    &parent,
                ),
                None => tracing::Span::none(),
            },
            None => tracing::Span::none(),
        };
        match send(&cluster, &url, &header, bytes).instrument(span).await {
            Ok(ReplicateReply::Ok { end, adopted }) => {
                backoff = Duration::from_millis(50);
                last_commit_sent = commit;
                cursor = Some(end);
                let Some(live) = session.upgrade() else {
                    return;
                };
                live.record(
                    &follower,
                    FollowerProgress {
                        end,
                        adopted: adopted == generation,
                    },
                );
                live.recompute(&shard);
                let _ = sent;
            }
            Ok(ReplicateReply::Mismatch { end }) => {
                cursor = Some(end.min(leader_end));
            }
            Ok(ReplicateReply::Behind { .. }) => {
                // This node's placement lags the follower's by a heartbeat (or this
                // leadership is over and the control plane says so next): wait.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(ReplicateReply::Fenced { promised }) => {
                tracing::info!(
                    stream_uid = shard.uid(),
                    shard = shard.ordinal(),
                    generation,
                    promised,
                    %follower,
                    "a follower follows a newer generation: this leadership is over"
                );
                if let Some(live) = session.upgrade() {
                    live.fence();
                }
                return;
            }
            Err(error) => {
                tracing::debug!(%error, %follower, "replication request failed");
                cursor = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

async fn send(
    cluster: &Cluster,
    url: &str,
    header: &ReplicateHeader,
    bytes: Bytes,
) -> Result<ReplicateReply, String> {
    let header = serde_json::to_string(header).map_err(|e| e.to_string())?;
    let response = cluster
        .http()
        .post(format!("{url}/internal/v1/replica/append"))
        .header(weir_auth::INTERNAL_HEADER, cluster.internal_token())
        .header(REPLICATE_HEADER, header)
        .headers(weir_trace::inject())
        .timeout(REPLICATE_TIMEOUT)
        .body(bytes)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("{status}: {text}"));
    }
    response.json().await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
