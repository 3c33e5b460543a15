//! Resharding: SplitShard, MergeShards and UpdateShardCount, and the two-phase change
//! every reshard (the autoscaler's too) goes through. The stream turns UPDATING; a
//! background task seals the closing shards on the data plane, records the new layout in
//! one transaction and turns the stream ACTIVE, or reopens what it sealed if anything
//! fails, so no half-done reshard is left.

use std::sync::Arc;

use tokio::sync::oneshot;
use weir_contracts::{ControlPlaneError, ShardFence};
use weir_core::hash::parse_hash_key;
use weir_core::{shard_id, shard_ordinal};
use weir_meta::{ShardRecord, StreamMode, StreamRecord, StreamStatus};

use crate::reshard::{self, ReshardPlan};
use crate::service::{now_ms, ReshardTicket, MAX_SCALINGS_PER_DAY};
use crate::ControlPlane;

impl ControlPlane {
    /// Connects the data plane that seals shards during reshards.
    pub fn attach_fence(&self, fence: Arc<dyn ShardFence>) {
        let _ = self.fence.set(fence);
    }

    /// Kinesis names a shard id it can read by its normalised form (`shardId-5` is
    /// `shardId-000000000005`), and any other as given.
    fn shard_not_found(&self, stream: &str, shard: &str) -> ControlPlaneError {
        let shown =
            weir_core::shard_ordinal(shard).map_or_else(|| shard.to_string(), weir_core::shard_id);
        ControlPlaneError::NotFound(format!(
            "Could not find shard {shown} in stream {stream} under account {}.",
            self.config.account_id
        ))
    }

    fn open_shard<'a>(
        &self,
        stream: &'a StreamRecord,
        id: &str,
    ) -> Result<&'a ShardRecord, ControlPlaneError> {
        let shard = shard_ordinal(id)
            .and_then(|o| stream.shard(o))
            .ok_or_else(|| self.shard_not_found(&stream.name, id))?;
        if !shard.is_open() {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Shard {} in stream {} under account {} has already been merged or split, and thus is not \
                 eligible for merging or splitting.",
                shard_id(shard.ordinal),
                stream.name,
                self.config.account_id
            )));
        }
        Ok(shard)
    }

    /// SplitShard: `new_starting_hash_key` becomes the first hash key of the upper child.
    pub async fn split_shard(
        self: &Arc<Self>,
        name: &str,
        shard: &str,
        new_starting_hash_key: &str,
    ) -> Result<ReshardTicket, ControlPlaneError> {
        self.begin_reshard(name, true, |cp, stream| {
            let parent = cp.open_shard(stream, shard)?;
            let range = parent.hash_range;
            let key = parse_hash_key(new_starting_hash_key)
                .filter(|k| *k > range.start.saturating_add(1) && *k < range.end);
            let Some(key) = key else {
                return Err(ControlPlaneError::InvalidArgument(format!(
                    "NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {} in stream {} under \
                     account {} is not both greater than one plus the shard's StartingHashKey {} and less than the \
                     shard's EndingHashKey {}.",
                    shard_id(parent.ordinal),
                    stream.name,
                    cp.config.account_id,
                    range.start,
                    range.end
                )));
            };
            Ok(reshard::split(stream, parent, key, now_ms()))
        })
        .await
    }

    /// MergeShards: two open shards whose hash ranges touch, the shard to merge directly
    /// below the adjacent one. Kinesis refuses the pair the other way round (kinesalite
    /// recorded it against the live service), so Weir does too.
    pub async fn merge_shards(
        self: &Arc<Self>,
        name: &str,
        shard: &str,
        adjacent: &str,
    ) -> Result<ReshardTicket, ControlPlaneError> {
        self.begin_reshard(name, true, |cp, stream| {
            let first = cp.open_shard(stream, shard)?;
            let second = cp.open_shard(stream, adjacent)?;
            let touching = first.hash_range.end.checked_add(1) == Some(second.hash_range.start);
            if !touching {
                return Err(ControlPlaneError::InvalidArgument(format!(
                    "Shards {} and {} in stream {} under account {} are not an adjacent pair of shards eligible \
                     for merging",
                    shard_id(first.ordinal),
                    shard_id(second.ordinal),
                    stream.name,
                    cp.config.account_id
                )));
            }
            Ok(reshard::merge(stream, first, second, now_ms()))
        })
        .await
    }

    /// UpdateShardCount (UNIFORM_SCALING), returning when it is done. At most double and at
    /// least half the current open shard count, ten times per rolling 24 hours.
    pub async fn update_shard_count(
        self: &Arc<Self>,
        name: &str,
        target: u32,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        self.start_update_shard_count(name, target)
            .await?
            .wait()
            .await
    }

    /// UpdateShardCount, returning once the stream is UPDATING.
    pub async fn start_update_shard_count(
        self: &Arc<Self>,
        name: &str,
        target: u32,
    ) -> Result<ReshardTicket, ControlPlaneError> {
        let ticket = self
            .begin_reshard(name, true, |cp, stream| {
                let current = stream.open_shards().count() as u32;
                if target > current.saturating_mul(2) {
                    return Err(ControlPlaneError::InvalidArgument(format!(
                        "UpdateShardCount cannot scale up over double the current open shard count. Current open \
                         shard count: {current} Target shard count: {target}"
                    )));
                }
                if target.saturating_mul(2) < current {
                    return Err(ControlPlaneError::InvalidArgument(format!(
                        "UpdateShardCount cannot scale down below half the current open shard count. Current open \
                         shard count: {current} Target shard count: {target}"
                    )));
                }
                if target == current {
                    return Err(ControlPlaneError::InvalidArgument(format!(
                        "Target shard count {target} is the same as the current open shard count of stream {}.",
                        stream.name
                    )));
                }
                let day_ago = now_ms() - 24 * 3_600_000;
                let recent = cp
                    .scalings
                    .lock()
                    .get(&stream.name)
                    .map_or(0, |times| times.iter().filter(|t| **t > day_ago).count());
                if recent >= MAX_SCALINGS_PER_DAY {
                    return Err(ControlPlaneError::LimitExceeded(format!(
                        "Stream {} under account {} has been scaled {recent} times in the last 24 hours, the most \
                         allowed. Try again later.",
                        stream.name, cp.config.account_id
                    )));
                }
                Ok(reshard::uniform_scaling(stream, target, now_ms()))
            })
            .await?;
        let day_ago = now_ms() - 24 * 3_600_000;
        let mut scalings = self.scalings.lock();
        let times = scalings.entry(name.to_string()).or_default();
        times.retain(|t| *t > day_ago);
        times.push(now_ms());
        Ok(ticket)
    }

    /// Validates and starts a reshard: the stream turns UPDATING now; a background task
    /// seals the closing shards, records the new layout in one transaction and turns the
    /// stream ACTIVE. If sealing or the transaction fails, the sealed shards are reopened
    /// and the stream returns to ACTIVE unchanged, so no half-done reshard is left.
    pub(crate) async fn begin_reshard(
        self: &Arc<Self>,
        name: &str,
        user_initiated: bool,
        build: impl FnOnce(&Self, &StreamRecord) -> Result<ReshardPlan, ControlPlaneError>,
    ) -> Result<ReshardTicket, ControlPlaneError> {
        let guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        if user_initiated && stream.mode == StreamMode::OnDemand {
            return Err(ControlPlaneError::NotSupported(format!(
                "This operation is not supported for stream {name} under account {} because it is in ON_DEMAND \
                 capacity mode: its shards scale by themselves. Switch it to PROVISIONED (UpdateStreamMode) to \
                 reshard by hand.",
                self.config.account_id
            )));
        }
        self.require_active(&stream)?;
        let plan = build(self, &stream)?;
        let opened = plan
            .created
            .iter()
            .filter(|c| c.ending_offset.is_none())
            .count() as u32;
        let limits = self.limits();
        let after = limits.open_shard_count + opened - plan.closing.len() as u32;
        if opened > plan.closing.len() as u32 && after > limits.shard_limit {
            return Err(ControlPlaneError::LimitExceeded(shard_limit_message(
                &self.config.account_id,
                &self.config.region,
                limits.open_shard_count,
                limits.shard_limit,
                opened - plan.closing.len() as u32,
            )));
        }
        let fence = self.fence.get().cloned().ok_or_else(|| {
            ControlPlaneError::InvalidArgument(
                "No data-plane node is attached to this control plane, and resharding needs one to seal shards."
                    .into(),
            )
        })?;
        self.store()
            .set_status(name, StreamStatus::Updating)
            .await?;
        self.replace(&stream, |s| s.status = StreamStatus::Updating)?;
        drop(guard);
        tracing::info!(stream = %name, closing = ?plan.closing, created = plan.created.len(), "reshard started");
        let (done, ticket) = oneshot::channel();
        let cp = Arc::clone(self);
        let name = name.to_string();
        tokio::spawn(async move {
            let result = cp.finish_reshard(&name, stream.uid, plan, fence).await;
            if let Err(error) = &result {
                tracing::error!(stream = %name, %error, "reshard failed; stream left unchanged");
            }
            let _ = done.send(result);
        });
        Ok(ReshardTicket(ticket))
    }

    async fn finish_reshard(
        &self,
        name: &str,
        uid: i64,
        plan: ReshardPlan,
        fence: Arc<dyn ShardFence>,
    ) -> Result<Arc<StreamRecord>, ControlPlaneError> {
        tokio::time::sleep(self.config.reshard_delay).await;
        // Sealing to recording runs under the placement lock, so the placement
        // reconciler never mistakes these seals for ones a restart left behind, and no
        // leadership moves while the parents' ends are taken.
        let _placement = self.placement.serial.lock().await;
        let mut ends = Vec::with_capacity(plan.closing.len());
        let mut failure = None;
        for ordinal in &plan.closing {
            match fence.seal(uid, *ordinal).await {
                Ok(end) => ends.push((*ordinal, end)),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        let _guard = self.mutation.lock().await;
        let current = self.stream(name)?;
        let result = match failure {
            Some(error) => Err(ControlPlaneError::InvalidArgument(format!(
                "Could not seal a closing shard: {error}"
            ))),
            None => {
                let now = now_ms();
                let closed: Vec<(u64, i64, u64)> =
                    ends.iter().map(|(o, e)| (*o, now, *e)).collect();
                let mut next = reshard::applied(&current, &plan, &ends, now);
                next.status = StreamStatus::Active;
                next.version += 1;
                match self
                    .store()
                    .apply_reshard(
                        name,
                        &closed,
                        &plan.created,
                        next.next_shard_ordinal,
                        StreamStatus::Active,
                    )
                    .await
                {
                    Ok(()) => {
                        let next = Arc::new(next);
                        self.catalog().put(Arc::clone(&next));
                        tracing::info!(stream = %name, open_shards = next.open_shards().count(), "reshard finished");
                        return Ok(next);
                    }
                    Err(error) => Err(error.into()),
                }
            }
        };
        // Roll back: reopen what was sealed and return to ACTIVE with the old layout.
        for (ordinal, _) in &ends {
            if let Err(error) = fence.unseal(uid, *ordinal).await {
                tracing::error!(stream = %name, shard = ordinal, %error, "could not reopen shard after a failed reshard");
            }
        }
        let _ = self.store().set_status(name, StreamStatus::Active).await;
        let _ = self.replace(&current, |s| s.status = StreamStatus::Active);
        result
    }
}

/// AWS's LimitExceededException text when a request would take the account past its
/// shard limit (CreateStream, SplitShard, UpdateShardCount), word for word as kinesalite
/// recorded it from the live service.
pub(crate) fn shard_limit_message(
    account_id: &str,
    region: &str,
    current: u32,
    limit: u32,
    additional: u32,
) -> String {
    format!(
        "This request would exceed the shard limit for the account {account_id} in {region}. Current \
         shard count for the account: {current}. Limit: {limit}. Number of additional shards that would \
         have resulted from this request: {additional}. Refer to the AWS Service Limits page \
         (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and \
         how to request higher limits."
    )
}
