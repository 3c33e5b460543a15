//! The control plane's side of the cold tier: the tier-state records nodes write through
//! it (with fencing), per-stream tiering settings, and the reaper that deletes objects of
//! expired segments and deleted streams.
//!
//! Nodes never delete objects themselves (except their own upload that lost a race with
//! a deletion): every deletion starts as a `deleting` row here, so it survives a crash of
//! anyone involved and finishes on the reaper's next pass.

use std::sync::Arc;
use std::time::Duration;

use weir_meta::{StreamRecord, TierSegment, TierState, TierTransition, TieringSettings};
use weir_tier::{layout, ObjectStore};

use crate::service::now_ms;
use crate::{ControlPlane, ControlPlaneError};

/// How often the reaper looks for work.
pub const REAP_INTERVAL: Duration = Duration::from_secs(2);

impl ControlPlane {
    /// Gives the control plane the bucket, so its reaper can delete objects.
    pub fn attach_tier_store(self: &Arc<Self>, store: Arc<dyn ObjectStore>) {
        if self.tier_store.set(store).is_ok() {
            tokio::spawn(reap_forever(Arc::downgrade(self)));
        }
    }

    /// Records that a node starts uploading a segment. Refused when the stream is gone or
    /// when placement gives the shard to a newer generation than the uploader's: a fenced
    /// node's late upload never becomes part of the shard's history.
    pub async fn tier_begin_upload(
        &self,
        segment: TierSegment,
    ) -> Result<TierSegment, ControlPlaneError> {
        let live = self
            .list_streams(None, usize::MAX)
            .0
            .iter()
            .any(|s| s.uid == segment.stream_uid);
        if !live {
            return Err(ControlPlaneError::NotFound(format!(
                "Stream with uid {} no longer exists.",
                segment.stream_uid
            )));
        }
        if let Some((node, generation)) = self.owner(segment.stream_uid, segment.ordinal) {
            // The uploader's leadership generation (the segment's own, from older
            // nodes): a node that no longer leads the shard may not upload.
            let claimed = segment.leader_generation.max(segment.generation);
            if generation > claimed {
                return Err(ControlPlaneError::InUse(format!(
                    "Fenced: shard {} is held by {} under generation {generation}, not {}.",
                    segment.ordinal, node.id, claimed
                )));
            }
        }
        Ok(self.store().begin_upload(&segment).await?)
    }

    /// Moves a segment between tier states; false when it was not in `from`.
    pub async fn tier_transition(&self, change: TierTransition) -> Result<bool, ControlPlaneError> {
        Ok(self.store().transition_segment(change, now_ms()).await?)
    }

    /// A shard's segments in offset order (tombstones included).
    pub async fn tier_segments(
        &self,
        stream_uid: i64,
        ordinal: u64,
    ) -> Result<Vec<TierSegment>, ControlPlaneError> {
        Ok(self.store().shard_segments(stream_uid, ordinal).await?)
    }

    /// Changes a stream's local retention.
    pub async fn set_tiering(
        &self,
        name: &str,
        settings: TieringSettings,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        self.store().set_tiering(name, settings).await?;
        self.replace(&stream, |s| s.tiering = settings)
    }

    /// Marks the segments of streams that no longer exist `deleting`. DeleteStream marks
    /// them itself; this catches a crash between the two, so the reaper runs it once when
    /// it starts. Returns how many segments it marked.
    pub async fn reap_orphans(&self) -> Result<u64, ControlPlaneError> {
        let store = self.store();
        let live: std::collections::BTreeSet<i64> = self
            .list_streams(None, usize::MAX)
            .0
            .iter()
            .map(|s| s.uid)
            .collect();
        let mut marked = 0;
        for uid in store.streams_with_live_segments().await? {
            if !live.contains(&uid) {
                marked += store.mark_stream_deleting(uid, now_ms()).await?;
            }
        }
        Ok(marked)
    }

    /// One pass of the reaper: each stream's segments past its retention become
    /// `deleting` (one indexed update per stream); every `deleting` segment's objects are
    /// deleted and the row marked `deleted`; a deleted stream's prefix is swept of
    /// anything left. Returns how many segments it finished deleting.
    pub async fn reap_tier_once(&self) -> Result<usize, ControlPlaneError> {
        let Some(bucket) = self.tier_store.get().cloned() else {
            return Ok(0);
        };
        let store = self.store();
        let streams = self.list_streams(None, usize::MAX).0;
        let now = now_ms();
        let mut gone_streams = std::collections::BTreeSet::new();
        for stream in &streams {
            let cutoff = now - i64::from(stream.retention_hours) * 3_600_000;
            store.expire_segments(stream.uid, cutoff, now).await?;
        }
        let mut finished = 0;
        for segment in store.segments_in_state(TierState::Deleting).await? {
            let deleted = async {
                bucket
                    .delete(&layout::index_key(&segment.object_key))
                    .await?;
                bucket.delete(&segment.object_key).await
            }
            .await;
            if let Err(error) = deleted {
                tracing::warn!(key = %segment.object_key, %error, "cold-tier deletion failed; will retry");
                continue;
            }
            store
                .transition_segment(
                    segment.transition(TierState::Deleting, TierState::Deleted),
                    now_ms(),
                )
                .await?;
            finished += 1;
            if !streams.iter().any(|s| s.uid == segment.stream_uid) {
                gone_streams.insert(segment.stream_uid);
            }
        }
        for uid in gone_streams {
            sweep_prefix(bucket.as_ref(), uid).await;
        }
        Ok(finished)
    }
}

/// Deletes anything left under a deleted stream's prefix (an upload that landed after
/// its row was already reaped).
async fn sweep_prefix(bucket: &dyn ObjectStore, uid: i64) {
    match bucket.list(&layout::stream_prefix(uid)).await {
        Ok(keys) => {
            for key in keys {
                if let Err(error) = bucket.delete(&key).await {
                    tracing::warn!(%key, %error, "could not delete leftover object; will retry");
                }
            }
        }
        Err(error) => {
            tracing::warn!(stream_uid = uid, %error, "could not list a deleted stream's objects")
        }
    }
}

async fn reap_forever(control_plane: std::sync::Weak<ControlPlane>) {
    if let Some(cp) = control_plane.upgrade() {
        if let Err(error) = cp.reap_orphans().await {
            tracing::warn!(%error, "could not look for segments of deleted streams");
        }
    }
    loop {
        tokio::time::sleep(REAP_INTERVAL).await;
        let Some(cp) = control_plane.upgrade() else {
            return;
        };
        match cp.reap_tier_once().await {
            Ok(n) if n > 0 => tracing::info!(segments = n, "cold-tier segments deleted"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cold-tier reaper pass failed"),
        }
    }
}
