//! Where a node records tier states: the control plane, in-process or over HTTP.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use weir_control_plane::{ControlPlane, TierSegment, TierTransition};

use crate::KinesisError;

/// A boxed future of a catalog call.
pub type CatalogFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, KinesisError>> + Send + 'a>>;

/// The tier-state records a node reads and writes. The control plane owns them (they
/// live in the metadata store); a node in a cluster reaches them over the internal API.
pub trait TierCatalog: Send + Sync + 'static {
    /// Records an upload's start; answers the row now stored for that offset.
    fn begin_upload(&self, segment: TierSegment) -> CatalogFuture<'_, TierSegment>;
    /// Moves a segment between states; false when it was not in `from`.
    fn transition(&self, change: TierTransition) -> CatalogFuture<'_, bool>;
    /// A shard's segments in offset order.
    fn shard_segments(&self, stream_uid: i64, ordinal: u64) -> CatalogFuture<'_, Vec<TierSegment>>;
}

/// The control plane in the same process (`weir up` without `--nodes`).
pub struct LocalCatalog(pub Arc<ControlPlane>);

impl TierCatalog for LocalCatalog {
    fn begin_upload(&self, segment: TierSegment) -> CatalogFuture<'_, TierSegment> {
        Box::pin(async move { Ok(self.0.tier_begin_upload(segment).await?) })
    }

    fn transition(&self, change: TierTransition) -> CatalogFuture<'_, bool> {
        Box::pin(async move { Ok(self.0.tier_transition(change).await?) })
    }

    fn shard_segments(&self, stream_uid: i64, ordinal: u64) -> CatalogFuture<'_, Vec<TierSegment>> {
        Box::pin(async move { Ok(self.0.tier_segments(stream_uid, ordinal).await?) })
    }
}
