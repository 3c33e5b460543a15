//! What a data plane is given to serve: where it reads stream metadata, who makes the
//! changes it cannot, where tier states are recorded, and who may call it.

use std::sync::Arc;

use weir_auth::AccessTable;

use crate::{AuditLog, StreamAdmin, StreamCatalog, TierCatalog};

/// Authentication for the Kinesis API: the access table requests are checked against,
/// and the audit log their outcomes go to.
#[derive(Clone)]
pub struct Guard {
    /// Principals and keys.
    pub access: Arc<AccessTable>,
    /// Where outcomes are recorded.
    pub audit: Arc<dyn AuditLog>,
}

/// The data plane's view of the control plane. In one process every part is the control
/// plane itself; on a node of a cluster the catalog is a heartbeat copy, there is no
/// admin (management calls are forwarded), and the tier catalog is reached over HTTP.
#[derive(Clone)]
pub struct Ports {
    /// Every stream, for reads.
    pub catalog: Arc<StreamCatalog>,
    /// Stream changes, when this process may make them.
    pub admin: Option<Arc<dyn StreamAdmin>>,
    /// Tier-state records, when the control plane is in this process.
    pub tier: Option<Arc<dyn TierCatalog>>,
    /// Authentication, when it is on.
    pub guard: Option<Guard>,
}
