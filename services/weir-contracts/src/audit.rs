//! Audit events, and the log every process writes them to: the control plane into the
//! metadata store, a node by forwarding them to the control plane.

use std::future::Future;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    pub at_ms: i64,
    /// Who (`-` when unauthenticated).
    pub principal: String,
    /// What (`weir:WriteStreams`, `kinesis:PutRecord`, `auth:Token`, ...).
    pub action: String,
    /// On what (`stream/orders`, a path).
    pub resource: String,
    /// From where (peer address).
    pub source: String,
    /// `allowed`, `denied`, `unauthenticated` or `failed`.
    pub result: String,
    /// Details: the HTTP status or why it was refused.
    pub detail: String,
}

/// The result recorded for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed and done.
    Allowed,
    /// Authenticated but not permitted.
    Denied,
    /// Not authenticated.
    Unauthenticated,
    /// Allowed but failed.
    Failed,
}

impl Outcome {
    /// The persisted spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Unauthenticated => "unauthenticated",
            Self::Failed => "failed",
        }
    }
}

/// A boxed future of an audit write.
pub type AuditFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Where audit events go. Implementations queue through a bounded channel, so a slow
/// sink slows the callers (backpressure) instead of growing memory.
pub trait AuditLog: Send + Sync + 'static {
    /// Records a prepared event.
    fn record_event(&self, event: AuditEvent) -> AuditFuture<'_>;

    /// Records an event that happened now.
    fn record<'a>(
        &'a self,
        principal: &str,
        action: &str,
        resource: &str,
        source: &str,
        outcome: Outcome,
        detail: &str,
    ) -> AuditFuture<'a> {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.record_event(AuditEvent {
            at_ms,
            principal: principal.to_string(),
            action: action.to_string(),
            resource: resource.to_string(),
            source: source.to_string(),
            result: outcome.as_str().to_string(),
            detail: detail.to_string(),
        })
    }
}
