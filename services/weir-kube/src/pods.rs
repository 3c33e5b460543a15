//! A live view of the data-plane pods, kept by kube-runtime's watcher: a watch that
//! expires (410 Gone) or breaks is relisted, so the view converges whatever was missed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use parking_lot::RwLock;
use weir_contracts::PoolMember;

/// The pods matching a selector, as last seen.
pub struct PodWatch {
    members: Arc<RwLock<BTreeMap<String, PoolMember>>>,
    lists: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PodWatch {
    /// Starts watching the pods of `api` that match `selector`.
    pub fn start(api: Api<Pod>, selector: &str) -> Self {
        let members = Arc::new(RwLock::new(BTreeMap::new()));
        let lists = Arc::new(AtomicU64::new(0));
        let config = watcher::Config::default().labels(selector);
        let task = tokio::spawn(watch(api, config, Arc::clone(&members), Arc::clone(&lists)));
        Self {
            members,
            lists,
            task,
        }
    }

    /// The pods, by ordinal (`x-2` before `x-10`).
    pub fn members(&self) -> Vec<PoolMember> {
        let mut members: Vec<PoolMember> = self.members.read().values().cloned().collect();
        members.sort_by_key(|m| (ordinal(&m.node_id), m.node_id.clone()));
        members
    }

    /// How many full lists the watch has made: 1 after the start, one more per relist
    /// (after 410 Gone, for instance).
    pub fn lists(&self) -> u64 {
        self.lists.load(Ordering::Acquire)
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn watch(
    api: Api<Pod>,
    config: watcher::Config,
    members: Arc<RwLock<BTreeMap<String, PoolMember>>>,
    lists: Arc<AtomicU64>,
) {
    let mut events = watcher(api, config).default_backoff().boxed();
    let mut listing: BTreeMap<String, PoolMember> = BTreeMap::new();
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => listing.clear(),
            Ok(watcher::Event::InitApply(pod)) => {
                let member = member(&pod);
                listing.insert(member.node_id.clone(), member);
            }
            Ok(watcher::Event::InitDone) => {
                *members.write() = std::mem::take(&mut listing);
                lists.fetch_add(1, Ordering::AcqRel);
            }
            Ok(watcher::Event::Apply(pod)) => {
                let member = member(&pod);
                members.write().insert(member.node_id.clone(), member);
            }
            Ok(watcher::Event::Delete(pod)) => {
                if let Some(name) = pod.metadata.name.as_deref() {
                    members.write().remove(name);
                }
            }
            Err(error) => tracing::warn!(%error, "data-plane pod watch failed; it restarts"),
        }
    }
}

fn member(pod: &Pod) -> PoolMember {
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
    PoolMember {
        node_id: pod.metadata.name.clone().unwrap_or_default(),
        ready,
        terminating: pod.metadata.deletion_timestamp.is_some(),
    }
}

fn ordinal(name: &str) -> u64 {
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}
