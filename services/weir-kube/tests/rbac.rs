//! The chart's Role grants exactly what the Kubernetes backend calls: every call the
//! backend makes against the fake API server is in REQUIRED_ACCESS, every entry of
//! REQUIRED_ACCESS is called, and charts/weir/values.yaml lists the same.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use saphyr::{LoadableYamlNode, Yaml};
use serde_json::json;
use support::FakeApi;
use weir_contracts::Orchestrator;
use weir_kube::{KubeOrchestrator, KubeSettings, LeaseElector, LeaseSettings, REQUIRED_ACCESS};

type Access = BTreeSet<(String, String, String)>;

fn required() -> Access {
    REQUIRED_ACCESS
        .iter()
        .flat_map(|(group, resource, verbs)| {
            verbs
                .iter()
                .map(move |v| (group.to_string(), resource.to_string(), v.to_string()))
        })
        .collect()
}

fn chart_rules() -> Access {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../charts/weir/values.yaml");
    let text = std::fs::read_to_string(path).expect("charts/weir/values.yaml");
    let docs = Yaml::load_from_str(&text).expect("values.yaml is YAML");
    let rules = docs[0]
        .as_mapping_get("controlPlane")
        .and_then(|c| c.as_mapping_get("rbac"))
        .and_then(|r| r.as_mapping_get("rules"))
        .and_then(|r| r.as_sequence())
        .expect("controlPlane.rbac.rules");
    let strings = |node: Option<&Yaml>| -> Vec<String> {
        node.and_then(|n| n.as_sequence())
            .expect("a list")
            .iter()
            .map(|s| s.as_str().expect("a string").to_string())
            .collect()
    };
    let mut access = Access::new();
    for rule in rules {
        for group in strings(rule.as_mapping_get("apiGroups")) {
            for resource in strings(rule.as_mapping_get("resources")) {
                for verb in strings(rule.as_mapping_get("verbs")) {
                    access.insert((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    access
}

#[tokio::test]
async fn the_chart_grants_exactly_the_calls_the_backend_makes() {
    let fake = FakeApi::start().await;
    fake.seed(
        "apps",
        "statefulsets",
        "weir",
        json!({ "metadata": { "name": "weir-node" }, "spec": {
            "selector": { "matchLabels": { "c": "dp" } },
            "template": { "metadata": { "labels": { "c": "dp" } } } } }),
        "helm",
    );
    fake.seed(
        "",
        "pods",
        "weir",
        json!({ "metadata": { "name": "cp-a" } }),
        "kubelet",
    );
    // Everything the control plane does on Kubernetes: the pool ...
    let pool = KubeOrchestrator::new(
        fake.client(),
        KubeSettings {
            namespace: "weir".into(),
            statefulset: "weir-node".into(),
            pod_selector: "c=dp".into(),
            retry: Default::default(),
        },
    );
    pool.node_count().await.expect("count");
    pool.scale_to(2).await.expect("scale");
    for _ in 0..100 {
        if pool.members().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pool.members().len(), 2, "the watch ran");
    // ... and the election: create, renew, label, release.
    let elector = Arc::new(LeaseElector::new(
        fake.client(),
        LeaseSettings::new("weir", "weir-control-plane", "cp-a"),
    ));
    elector.try_acquire_or_renew().await.expect("create");
    elector.try_acquire_or_renew().await.expect("renew");
    elector.label_own_pod(true).await.expect("label");
    elector.release().await.expect("release");

    let made = fake.calls();
    assert_eq!(
        made,
        required(),
        "REQUIRED_ACCESS is what the backend calls"
    );
    assert_eq!(
        chart_rules(),
        required(),
        "the chart's Role grants exactly that"
    );
}
