//! The audit log: every control-plane change and every authentication or authorization
//! failure, written through a bounded queue so a slow database never stalls requests.

use tokio::sync::mpsc;
use weir_contracts::{AuditFuture, AuditLog};
use weir_meta::{AuditEvent, MetaStore};

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

    /// Records a prepared event (one a node forwarded).
    pub async fn record_event(&self, event: AuditEvent) {
        if self.sender.send(event).await.is_err() {
            tracing::error!("audit log writer stopped");
        }
    }
}

impl AuditLog for AuditSink {
    fn record_event(&self, event: AuditEvent) -> AuditFuture<'_> {
        Box::pin(AuditSink::record_event(self, event))
    }
}
