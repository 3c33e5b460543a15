//! The node pool's Kubernetes backend: the data-plane StatefulSet's replicas.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use weir_contracts::{Orchestrator, OrchestratorFuture, PoolMember};

use crate::{KubeError, PodWatch, RetryPolicy};

/// The field manager the control plane applies `spec.replicas` under. Any other manager
/// that owns the field (a human's `kubectl scale`, a Helm release that sets replicas)
/// makes the apply conflict rather than silently fight it.
pub const FIELD_MANAGER: &str = "weir-control-plane";

/// Where the data plane runs.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// The namespace of the StatefulSet (the control plane's own, from the downward API).
    pub namespace: String,
    /// The data-plane StatefulSet's name; its pods are `<name>-0`, `<name>-1`, ... and
    /// are the nodes' ids.
    pub statefulset: String,
    /// Label selector of its pods (`app.kubernetes.io/component=data-plane,...`).
    pub pod_selector: String,
    /// How failed calls are retried.
    pub retry: RetryPolicy,
}

/// Scales the data-plane StatefulSet and watches its pods.
pub struct KubeOrchestrator {
    statefulsets: Api<StatefulSet>,
    settings: KubeSettings,
    pods: PodWatch,
}

impl KubeOrchestrator {
    /// Starts watching the pods; calls go through `client`.
    pub fn new(client: kube::Client, settings: KubeSettings) -> Self {
        let pods = PodWatch::start(
            Api::<Pod>::namespaced(client.clone(), &settings.namespace),
            &settings.pod_selector,
        );
        Self {
            statefulsets: Api::namespaced(client, &settings.namespace),
            settings,
            pods,
        }
    }

    /// The pod watch (for its relist count and readiness in tests and the pool view).
    pub fn pods(&self) -> &PodWatch {
        &self.pods
    }

    /// `spec.replicas` of the StatefulSet (Kubernetes' default of 1 when unset).
    pub async fn replicas(&self) -> Result<u32, KubeError> {
        let what = self.what();
        let set = self
            .settings
            .retry
            .run("get the data-plane StatefulSet", || async {
                self.statefulsets
                    .get(&self.settings.statefulset)
                    .await
                    .map_err(|e| KubeError::from_kube(e, &what))
            })
            .await
            .map_err(|e| match e {
                KubeError::NotFound(what) => KubeError::NotFound(format!(
                    "{what} (install the chart, or point --kube-statefulset at the data plane)"
                )),
                other => other,
            })?;
        let replicas = set.spec.and_then(|s| s.replicas).unwrap_or(1);
        Ok(u32::try_from(replicas).unwrap_or(0))
    }

    /// Server-side-applies `spec.replicas = count` under [`FIELD_MANAGER`], without
    /// forcing: a field owned by another manager is a [`KubeError::Conflict`] that names
    /// it.
    pub async fn apply_replicas(&self, count: u32) -> Result<(), KubeError> {
        let patch = serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {
                "name": self.settings.statefulset,
                "namespace": self.settings.namespace,
            },
            "spec": { "replicas": count },
        });
        let params = PatchParams::apply(FIELD_MANAGER);
        let what = self.what();
        self.settings
            .retry
            .run("apply the data-plane StatefulSet's replicas", || async {
                self.statefulsets
                    .patch(&self.settings.statefulset, &params, &Patch::Apply(&patch))
                    .await
                    .map(|_| ())
                    .map_err(|e| KubeError::from_kube(e, &what))
            })
            .await
            .map_err(|e| match e {
                KubeError::Conflict(message) => KubeError::Conflict(format!(
                    "{message}. Another field manager owns spec.replicas of {what}: let Weir \
                     own it (the chart leaves replicas unset when dataPlane.autoscale.enabled \
                     is true) or stop the other manager"
                )),
                other => other,
            })
    }

    fn what(&self) -> String {
        format!(
            "StatefulSet {}/{}",
            self.settings.namespace, self.settings.statefulset
        )
    }
}

impl Orchestrator for KubeOrchestrator {
    fn describe(&self) -> String {
        format!("Kubernetes ({})", self.what())
    }

    fn node_id(&self, index: u32) -> String {
        format!("{}-{index}", self.settings.statefulset)
    }

    fn node_count(&self) -> OrchestratorFuture<'_, u32> {
        Box::pin(async move { self.replicas().await.map_err(|e| e.to_string()) })
    }

    fn scale_to(&self, count: u32) -> OrchestratorFuture<'_, ()> {
        Box::pin(async move { self.apply_replicas(count).await.map_err(|e| e.to_string()) })
    }

    fn members(&self) -> Vec<PoolMember> {
        self.pods.members()
    }
}
