//! The stream-lifecycle reconciler: new streams turn from CREATING to ACTIVE once
//! `--create-delay-ms` has passed since their creation, and deleted streams and
//! deregistered consumers leave DELETING the same delay after it began (a control-plane
//! restart picks up where it left off, since the status and the times are stored; one
//! restarted without a delay finishes what is pending at once).

use std::sync::Arc;
use std::time::Duration;

use weir_contracts::{StreamRecord, StreamStatus};

use crate::service::now_ms;
use crate::ControlPlane;

/// Starts the activation task when streams are created CREATING; it stops when the
/// control plane is dropped.
pub(crate) fn spawn_activation(control_plane: &Arc<ControlPlane>) {
    let delay = control_plane.config().create_delay;
    if delay.is_zero() {
        // Nothing new will wait; finish what an earlier run with a delay left pending
        // (start-up already made CREATING streams ACTIVE).
        let weak = Arc::downgrade(control_plane);
        tokio::spawn(async move {
            let Some(cp) = weak.upgrade() else { return };
            cp.remove_deleted_consumers(0).await;
            cp.remove_deleted_streams(0).await;
        });
        return;
    }
    let tick = (delay / 4).clamp(Duration::from_millis(20), Duration::from_millis(250));
    let weak = Arc::downgrade(control_plane);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(tick).await;
            let Some(cp) = weak.upgrade() else { return };
            cp.activate_created(delay.as_millis() as i64).await;
            cp.remove_deleted_consumers(delay.as_millis() as i64).await;
            cp.remove_deleted_streams(delay.as_millis() as i64).await;
        }
    });
}

impl ControlPlane {
    /// Names of the streams in `status` that entered it (`since`; unknown counts as long
    /// ago) at least `delay_ms` ago.
    fn streams_due(
        &self,
        status: StreamStatus,
        delay_ms: i64,
        since: impl Fn(&StreamRecord) -> Option<i64>,
    ) -> Vec<String> {
        self.list_streams(None, usize::MAX)
            .0
            .iter()
            .filter(|s| s.status == status && since(s).is_none_or(|at| now_ms() - at >= delay_ms))
            .map(|s| s.name.clone())
            .collect()
    }

    /// Removes streams that have been DELETING for the delay.
    async fn remove_deleted_streams(&self, delay_ms: i64) {
        let due = self.streams_due(StreamStatus::Deleting, delay_ms, |s| s.deleting_since_ms);
        for name in due {
            let _guard = self.mutation.lock().await;
            let Ok(stream) = self.stream(&name) else {
                continue;
            };
            if stream.status != StreamStatus::Deleting {
                continue;
            }
            if let Err(error) = self.remove_stream(&stream).await {
                tracing::warn!(stream = %name, %error, "could not remove a DELETING stream; will retry");
            }
        }
    }

    /// Removes consumers that have been DELETING for the delay.
    async fn remove_deleted_consumers(&self, delay_ms: i64) {
        let due: Vec<(String, String)> = self
            .list_streams(None, usize::MAX)
            .0
            .iter()
            .flat_map(|s| {
                s.consumers
                    .values()
                    .filter(|c| {
                        c.deleting_since_ms
                            .is_some_and(|at| now_ms() - at >= delay_ms)
                    })
                    .map(|c| (s.name.clone(), c.name.clone()))
            })
            .collect();
        for (stream, name) in due {
            let _guard = self.mutation.lock().await;
            let Ok(record) = self.stream(&stream) else {
                continue;
            };
            match self.store().delete_consumer(&stream, &name).await {
                Ok(_) => {
                    let _ = self.replace(&record, |s| {
                        s.consumers.remove(&name);
                    });
                    tracing::info!(%stream, consumer = %name, "consumer deregistered");
                }
                Err(error) => {
                    tracing::warn!(%stream, consumer = %name, %error, "could not remove a DELETING consumer; will retry")
                }
            }
        }
    }

    async fn activate_created(&self, delay_ms: i64) {
        let due = self.streams_due(StreamStatus::Creating, delay_ms, |s| Some(s.created_at_ms));
        for name in due {
            let _guard = self.mutation.lock().await;
            let Ok(stream) = self.stream(&name) else {
                continue;
            };
            if stream.status != StreamStatus::Creating {
                continue;
            }
            match self.store().set_status(&name, StreamStatus::Active).await {
                Ok(_) => {
                    let _ = self.replace(&stream, |s| s.status = StreamStatus::Active);
                    tracing::info!(stream = %name, "stream ACTIVE");
                }
                Err(error) => {
                    tracing::warn!(stream = %name, %error, "could not activate a new stream; will retry")
                }
            }
        }
    }
}
