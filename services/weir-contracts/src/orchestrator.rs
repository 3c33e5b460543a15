//! Who runs data-plane nodes: the interface between the control plane's node pool and
//! its backends (local processes, a Kubernetes StatefulSet).
//!
//! It lives here, not in the control plane, so a backend depends only on the contracts:
//! the Kubernetes backend builds beside the control plane rather than on top of it.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

/// A boxed future of an orchestrator call; errors are for the log and the pool view.
pub type OrchestratorFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Creates and removes data-plane nodes. Nodes are numbered like a StatefulSet's pods:
/// the pool grows by adding the next number and shrinks by removing the highest.
pub trait Orchestrator: Send + Sync + 'static {
    /// What it is, for logs and the REST view (`local processes`, `StatefulSet x`).
    fn describe(&self) -> String;
    /// The id the node at `index` registers under.
    fn node_id(&self, index: u32) -> String;
    /// How many nodes it has been asked to run (the target, not those already up).
    fn node_count(&self) -> OrchestratorFuture<'_, u32>;
    /// Runs exactly `count` nodes: starts the missing ones, or stops the highest ones.
    fn scale_to(&self, count: u32) -> OrchestratorFuture<'_, ()>;
    /// The nodes as the orchestrator sees them (processes, pods), for the pool view.
    fn members(&self) -> Vec<PoolMember>;
}

/// One node as its orchestrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolMember {
    /// The node id it registers under (a pod's name on Kubernetes).
    pub node_id: String,
    /// Whether the orchestrator reports it ready (a pod's Ready condition).
    pub ready: bool,
    /// Whether it is on its way out (a pod with a deletion timestamp).
    pub terminating: bool,
}
