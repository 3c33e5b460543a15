//! One active control plane among its replicas, elected with a coordination.k8s.io Lease.
//!
//! The algorithm is client-go's: the holder renews the Lease every `retry_period`; a
//! candidate takes it over only when its record (holder, renew time, resourceVersion)
//! has not changed for `lease_duration` as measured on the candidate's own clock, so
//! clock skew between pods does not matter. Every write is conditional on the
//! resourceVersion read, so two candidates racing for an expired Lease cannot both win:
//! one gets 409 Conflict. A holder that cannot renew for `renew_deadline` (shorter than
//! the duration) steps down before anyone else may take over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::{KubeError, RetryPolicy};

/// The label the active control plane puts on its own pod; the control-plane Service
/// selects it, so clients and nodes reach the active replica only.
pub const ACTIVE_LABEL: &str = "weir.dev/active";

/// The field manager of [`ACTIVE_LABEL`].
const LABEL_MANAGER: &str = "weir-control-plane-election";

/// The election's parameters.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// Namespace of the Lease (and of this pod).
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// Who we are: this pod's name.
    pub identity: String,
    /// How long a Lease not renewed stays its holder's.
    pub lease_duration: Duration,
    /// How long the holder keeps trying to renew before it steps down.
    pub renew_deadline: Duration,
    /// How often the holder renews and candidates look.
    pub retry_period: Duration,
    /// How the pod-label call is retried.
    pub retry: RetryPolicy,
}

impl LeaseSettings {
    /// client-go's defaults: 15 s lease, 10 s renew deadline, 2 s period.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            retry: RetryPolicy::default(),
        }
    }
}

/// Where this replica stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leadership {
    /// Another replica (or nobody yet) holds the Lease.
    Standby {
        /// The holder, when there is one.
        holder: Option<String>,
    },
    /// This replica holds the Lease.
    Active,
}

/// The Lease record as last read, and when (on our clock) it last changed.
struct Observed {
    record: (Option<String>, Option<String>, Option<String>),
    changed_at: Instant,
}

/// Campaigns for, renews and releases the Lease.
pub struct LeaseElector {
    leases: Api<Lease>,
    pods: Api<Pod>,
    settings: LeaseSettings,
    observed: Mutex<Option<Observed>>,
}

impl LeaseElector {
    /// An elector using `client`.
    pub fn new(client: kube::Client, settings: LeaseSettings) -> Self {
        Self {
            leases: Api::namespaced(client.clone(), &settings.namespace),
            pods: Api::namespaced(client, &settings.namespace),
            settings,
            observed: Mutex::new(None),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// One round: creates the Lease if there is none, renews it if we hold it, takes it
    /// over if its holder let it expire; otherwise reports who holds it.
    pub async fn try_acquire_or_renew(&self) -> Result<Leadership, KubeError> {
        let what = format!("Lease {}/{}", self.settings.namespace, self.settings.name);
        let current = self
            .leases
            .get_opt(&self.settings.name)
            .await
            .map_err(|e| KubeError::from_kube(e, &what))?;
        let Some(mut lease) = current else {
            return self.create().await;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let expired = self.observe(&lease, &spec);
        let me = &self.settings.identity;
        if holder.as_ref() != Some(me) && holder.is_some() && !expired {
            return Ok(Leadership::Standby { holder });
        }
        let now = MicroTime(Timestamp::now());
        let taking_over = holder.as_ref() != Some(me);
        let mut next = spec;
        if taking_over {
            next.acquire_time = Some(now.clone());
            next.lease_transitions = Some(next.lease_transitions.unwrap_or(0) + 1);
        }
        next.holder_identity = Some(me.clone());
        next.renew_time = Some(now);
        next.lease_duration_seconds = Some(seconds(self.settings.lease_duration));
        lease.spec = Some(next);
        // `replace` sends metadata.resourceVersion as read: the write is conditional.
        match self
            .leases
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                self.remember(&written);
                if taking_over {
                    tracing::info!(lease = %self.settings.name, previous = ?holder, "took over the control-plane Lease");
                }
                Ok(Leadership::Active)
            }
            Err(e) => match KubeError::from_kube(e, &what) {
                KubeError::Conflict(_) => Ok(Leadership::Standby { holder: None }),
                other => Err(other),
            },
        }
    }

    async fn create(&self) -> Result<Leadership, KubeError> {
        let now = MicroTime(Timestamp::now());
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.settings.name.clone()),
                namespace: Some(self.settings.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.settings.identity.clone()),
                lease_duration_seconds: Some(seconds(self.settings.lease_duration)),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        let what = format!("Lease {}/{}", self.settings.namespace, self.settings.name);
        match self.leases.create(&PostParams::default(), &lease).await {
            Ok(written) => {
                self.remember(&written);
                tracing::info!(lease = %self.settings.name, "created the control-plane Lease");
                Ok(Leadership::Active)
            }
            // Someone created it first (409 AlreadyExists): they hold it.
            Err(e) => match KubeError::from_kube(e, &what) {
                KubeError::Conflict(_) => Ok(Leadership::Standby { holder: None }),
                other => Err(other),
            },
        }
    }

    /// Gives the Lease up (on shutdown), so a standby takes over at once instead of
    /// after the lease duration.
    pub async fn release(&self) -> Result<(), KubeError> {
        let what = format!("Lease {}/{}", self.settings.namespace, self.settings.name);
        let Some(mut lease) = self
            .leases
            .get_opt(&self.settings.name)
            .await
            .map_err(|e| KubeError::from_kube(e, &what))?
        else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_ref() != Some(&self.settings.identity) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        lease.spec = Some(spec);
        self.leases
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
            .map_err(|e| KubeError::from_kube(e, &what))
    }

    /// Puts [`ACTIVE_LABEL`] on this pod (`active`) or takes it off (server-side apply
    /// under the election's own field manager: applying no labels removes ours).
    pub async fn label_own_pod(&self, active: bool) -> Result<(), KubeError> {
        let mut patch = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": self.settings.identity },
        });
        if active {
            patch["metadata"]["labels"] = serde_json::json!({ ACTIVE_LABEL: "true" });
        }
        let what = format!("Pod {}/{}", self.settings.namespace, self.settings.identity);
        let params = PatchParams::apply(LABEL_MANAGER).force();
        self.settings
            .retry
            .run("label the control plane's pod", || async {
                self.pods
                    .patch(&self.settings.identity, &params, &Patch::Apply(&patch))
                    .await
                    .map(|_| ())
                    .map_err(|e| KubeError::from_kube(e, &what))
            })
            .await
    }

    /// Campaigns and renews until dropped; the receiver follows where this replica
    /// stands. Once active, losing the Lease (another holder, or no renewal for
    /// `renew_deadline`) reports [`Leadership::Standby`].
    pub fn run(self: Arc<Self>) -> (watch::Receiver<Leadership>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = watch::channel(Leadership::Standby { holder: None });
        let task = tokio::spawn(async move {
            let mut last_renewed: Option<Instant> = None;
            loop {
                let round = self.try_acquire_or_renew().await;
                let active = *tx.borrow() == Leadership::Active;
                match round {
                    Ok(Leadership::Active) => {
                        last_renewed = Some(Instant::now());
                        tx.send_if_modified(|s| replace(s, Leadership::Active));
                    }
                    Ok(standby) => {
                        if active {
                            tracing::warn!(?standby, "lost the control-plane Lease");
                        }
                        tx.send_if_modified(|s| replace(s, standby));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "control-plane Lease round failed");
                        let overdue = last_renewed
                            .is_none_or(|t| t.elapsed() >= self.settings.renew_deadline);
                        if active && overdue {
                            tracing::warn!(
                                "could not renew the control-plane Lease in time; stepping down"
                            );
                            tx.send_if_modified(|s| {
                                replace(s, Leadership::Standby { holder: None })
                            });
                        }
                    }
                }
                tokio::time::sleep(self.settings.retry_period).await;
            }
        });
        (rx, task)
    }

    /// Records the Lease as read; answers whether it has gone unchanged for longer than
    /// its duration (so its holder is presumed gone).
    fn observe(&self, lease: &Lease, spec: &LeaseSpec) -> bool {
        let record = record(lease);
        let mut observed = self.observed.lock();
        let now = Instant::now();
        let changed_at = match observed.as_ref() {
            Some(o) if o.record == record => o.changed_at,
            _ => now,
        };
        *observed = Some(Observed { record, changed_at });
        let duration = spec
            .lease_duration_seconds
            .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
            .unwrap_or(self.settings.lease_duration);
        now.duration_since(changed_at) >= duration
    }

    fn remember(&self, lease: &Lease) {
        *self.observed.lock() = Some(Observed {
            record: record(lease),
            changed_at: Instant::now(),
        });
    }
}

fn record(lease: &Lease) -> (Option<String>, Option<String>, Option<String>) {
    let spec = lease.spec.as_ref();
    (
        spec.and_then(|s| s.holder_identity.clone()),
        spec.and_then(|s| s.renew_time.as_ref())
            .map(|t| t.0.to_string()),
        lease.metadata.resource_version.clone(),
    )
}

fn replace(slot: &mut Leadership, next: Leadership) -> bool {
    if *slot == next {
        false
    } else {
        *slot = next;
        true
    }
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX)
}
