//! The control plane as an in-process data plane sees it: [`ControlPlane::ports`] hands
//! out the catalog, stream administration, the tier catalog and authentication through
//! the interfaces in `weir-contracts`, so the data-plane crate never names this one.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_contracts::{
    AdminFuture, BillingCommitment, ConsumerRecord, CreateStream, Guard, Ports, RetentionChange,
    ShardFence, StreamAdmin, StreamMode, StreamRecord, TierCatalog, TierSegment, TierTransition,
    TrafficSource,
};

use crate::ControlPlane;

impl ControlPlane {
    /// What a data plane in this process is started with.
    pub fn ports(self: &Arc<Self>) -> Ports {
        let local = Arc::new(Local(Arc::clone(self)));
        Ports {
            catalog: Arc::clone(self.catalog()),
            admin: Some(local.clone()),
            tier: Some(local),
            guard: self.security().map(|security| Guard {
                access: Arc::clone(security.access()),
                audit: security.audit_log(),
            }),
        }
    }
}

/// The control plane behind the contracts' interfaces.
struct Local(Arc<ControlPlane>);

impl StreamAdmin for Local {
    fn create_stream(&self, request: CreateStream) -> AdminFuture<'_, Arc<StreamRecord>> {
        Box::pin(self.0.create_stream(request))
    }

    fn delete_stream<'a>(&'a self, name: &'a str) -> AdminFuture<'a, ()> {
        Box::pin(self.0.delete_stream(name))
    }

    fn update_retention<'a>(
        &'a self,
        name: &'a str,
        hours: u32,
        change: RetentionChange,
    ) -> AdminFuture<'a, Arc<StreamRecord>> {
        Box::pin(self.0.update_retention(name, hours, change))
    }

    fn add_tags<'a>(
        &'a self,
        name: &'a str,
        tags: BTreeMap<String, String>,
    ) -> AdminFuture<'a, Arc<StreamRecord>> {
        Box::pin(self.0.add_tags(name, tags))
    }

    fn remove_tags<'a>(
        &'a self,
        name: &'a str,
        keys: Vec<String>,
    ) -> AdminFuture<'a, Arc<StreamRecord>> {
        Box::pin(self.0.remove_tags(name, keys))
    }

    fn register_consumer<'a>(
        &'a self,
        stream: &'a str,
        name: &'a str,
    ) -> AdminFuture<'a, ConsumerRecord> {
        Box::pin(self.0.register_consumer(stream, name))
    }

    fn deregister_consumer<'a>(&'a self, stream: &'a str, name: &'a str) -> AdminFuture<'a, ()> {
        Box::pin(self.0.deregister_consumer(stream, name))
    }

    fn tag_consumer<'a>(
        &'a self,
        stream: &'a str,
        name: &'a str,
        tags: BTreeMap<String, String>,
    ) -> AdminFuture<'a, ConsumerRecord> {
        Box::pin(self.0.tag_consumer(stream, name, tags))
    }

    fn untag_consumer<'a>(
        &'a self,
        stream: &'a str,
        name: &'a str,
        keys: Vec<String>,
    ) -> AdminFuture<'a, ConsumerRecord> {
        Box::pin(self.0.untag_consumer(stream, name, keys))
    }

    fn split_shard<'a>(
        &'a self,
        name: &'a str,
        shard: &'a str,
        new_starting_hash_key: &'a str,
    ) -> AdminFuture<'a, ()> {
        Box::pin(async move {
            // The ticket resolves when the reshard is done; the caller answers at once,
            // as Kinesis does (the stream is UPDATING meanwhile).
            self.0
                .split_shard(name, shard, new_starting_hash_key)
                .await
                .map(drop)
        })
    }

    fn merge_shards<'a>(
        &'a self,
        name: &'a str,
        shard: &'a str,
        adjacent: &'a str,
    ) -> AdminFuture<'a, ()> {
        Box::pin(async move { self.0.merge_shards(name, shard, adjacent).await.map(drop) })
    }

    fn update_shard_count<'a>(&'a self, name: &'a str, target: u32) -> AdminFuture<'a, ()> {
        Box::pin(async move {
            self.0
                .start_update_shard_count(name, target)
                .await
                .map(drop)
        })
    }

    fn update_stream_mode<'a>(&'a self, name: &'a str, mode: StreamMode) -> AdminFuture<'a, ()> {
        Box::pin(async move { self.0.update_stream_mode(name, mode).await.map(drop) })
    }

    fn update_warm_throughput<'a>(
        &'a self,
        name: &'a str,
        mibps: u32,
    ) -> AdminFuture<'a, Arc<StreamRecord>> {
        Box::pin(self.0.update_warm_throughput(name, mibps))
    }

    fn update_max_record_size<'a>(&'a self, name: &'a str, kib: u32) -> AdminFuture<'a, ()> {
        Box::pin(async move { self.0.update_max_record_size(name, kib).await.map(drop) })
    }

    fn update_enhanced_monitoring<'a>(
        &'a self,
        name: &'a str,
        metrics: Vec<String>,
        enable: bool,
    ) -> AdminFuture<'a, (Vec<String>, Vec<String>)> {
        Box::pin(self.0.update_enhanced_monitoring(name, metrics, enable))
    }

    fn update_record_distribution<'a>(
        &'a self,
        name: &'a str,
        strategy: &'a str,
    ) -> AdminFuture<'a, ()> {
        Box::pin(self.0.update_record_distribution(name, strategy))
    }

    fn account_settings(&self) -> AdminFuture<'_, BillingCommitment> {
        Box::pin(self.0.account_settings())
    }

    fn update_billing_commitment(&self, enable: bool) -> AdminFuture<'_, BillingCommitment> {
        Box::pin(self.0.update_billing_commitment(enable))
    }

    fn set_resource_policy<'a>(
        &'a self,
        stream: &'a str,
        consumer: Option<&'a str>,
        policy: Option<String>,
    ) -> AdminFuture<'a, ()> {
        Box::pin(self.0.set_resource_policy(stream, consumer, policy))
    }

    fn update_encryption<'a>(
        &'a self,
        name: &'a str,
        key_id: Option<String>,
    ) -> AdminFuture<'a, ()> {
        Box::pin(self.0.update_encryption(name, key_id))
    }

    fn attach_fence(&self, fence: Arc<dyn ShardFence>) {
        self.0.attach_fence(fence);
    }

    fn attach_traffic(&self, source: Arc<dyn TrafficSource>) {
        let _ = self.0.autoscale.traffic.set(source);
    }
}

impl TierCatalog for Local {
    fn begin_upload(&self, segment: TierSegment) -> AdminFuture<'_, TierSegment> {
        Box::pin(self.0.tier_begin_upload(segment))
    }

    fn transition(&self, change: TierTransition) -> AdminFuture<'_, bool> {
        Box::pin(self.0.tier_transition(change))
    }

    fn shard_segments(&self, stream_uid: i64, ordinal: u64) -> AdminFuture<'_, Vec<TierSegment>> {
        Box::pin(self.0.tier_segments(stream_uid, ordinal))
    }
}
