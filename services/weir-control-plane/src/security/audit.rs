//! The audit log: every control-plane change and every authentication or authorization
//! failure, written through a bounded queue so a slow database never stalls requests.

use tokio::sync::mpsc;
use weir_meta::{AuditEvent, MetaStore};

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

/// Queue of audit events to the metadata store.
pub struct AuditSink {
    sender: mpsc::Sender<AuditEvent>,
}

/// Events waiting to be written; beyond this the oldest caller waits (backpressure).
const AUDIT_QUEUE: usize = 4096;

impl AuditSink {
    /// A sink writing to `store` from a background task.
    pub fn new(store: MetaStore) -> Self {
        let (sender, mut receiver) = mpsc::channel::<AuditEvent>(AUDIT_QUEUE);
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                if let Err(error) = store.append_audit(&event).await {
                    tracing::error!(%error, action = %event.action, "could not write an audit event");
                }
            }
        });
        Self { sender }
    }

    /// A sink handing events to `deliver` (a node forwards them to the control plane).
    pub fn forwarding(
        deliver: impl Fn(AuditEvent) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        let (sender, mut receiver) = mpsc::channel::<AuditEvent>(AUDIT_QUEUE);
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                deliver(event).await;
            }
        });
        Self { sender }
    }

    /// Records an event.
    pub async fn record(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        source: &str,
        outcome: Outcome,
        detail: &str,
    ) {
        let event = AuditEvent {
            at_ms: crate::service::now_ms(),
            principal: principal.to_string(),
            action: action.to_string(),
            resource: resource.to_string(),
            source: source.to_string(),
            result: outcome.as_str().to_string(),
            detail: detail.to_string(),
        };
        self.record_event(event).await;
    }

    /// Records a prepared event (one a node forwarded).
    pub async fn record_event(&self, event: AuditEvent) {
        if self.sender.send(event).await.is_err() {
            tracing::error!("audit log writer stopped");
        }
    }
}
