//! The Kubernetes node-pool backend against the fake API server: server-side apply of
//! the StatefulSet's replicas, the pod watch and its relist after 410 Gone, and retries.

mod support;

use std::time::Duration;

use serde_json::json;
use support::FakeApi;
use weir_contracts::Orchestrator;
use weir_kube::{KubeError, KubeOrchestrator, KubeSettings, RetryPolicy, FIELD_MANAGER};

const NS: &str = "weir";
const SET: &str = "weir-node";
const SELECTOR: &str = "app.kubernetes.io/component=data-plane";

fn statefulset(replicas: Option<u32>) -> serde_json::Value {
    let mut set = json!({
        "metadata": { "name": SET },
        "spec": {
            "serviceName": "weir-node-headless",
            "selector": { "matchLabels": { "app.kubernetes.io/component": "data-plane" } },
            "template": {
                "metadata": { "labels": { "app.kubernetes.io/component": "data-plane" } },
                "spec": { "containers": [{ "name": "data-plane", "image": "weir" }] },
            },
        },
    });
    if let Some(n) = replicas {
        set["spec"]["replicas"] = json!(n);
    }
    set
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_attempts: 5,
    }
}

fn orchestrator(fake: &FakeApi) -> KubeOrchestrator {
    KubeOrchestrator::new(
        fake.client(),
        KubeSettings {
            namespace: NS.into(),
            statefulset: SET.into(),
            pod_selector: SELECTOR.into(),
            retry: quick_retries(),
        },
    )
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn ready_ids(o: &KubeOrchestrator) -> Vec<String> {
    o.members()
        .into_iter()
        .filter(|m| m.ready && !m.terminating)
        .map(|m| m.node_id)
        .collect()
}

fn managers(fake: &FakeApi) -> Vec<(String, String)> {
    let set = fake
        .object("apps", "statefulsets", NS, SET)
        .expect("the StatefulSet");
    set["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter(|m| m["fieldsV1"]["f:spec"]["f:replicas"].is_object())
        .map(|m| {
            (
                m["manager"].as_str().unwrap_or_default().to_string(),
                m["operation"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn scaling_applies_replicas_under_weirs_field_manager_and_the_pods_follow() {
    let fake = FakeApi::start().await;
    fake.seed("apps", "statefulsets", NS, statefulset(None), "helm");
    let pool = orchestrator(&fake);
    assert_eq!(
        pool.node_count().await.expect("count"),
        1,
        "unset replicas mean 1"
    );
    eventually("pod 0", || ready_ids(&pool) == ["weir-node-0"]).await;

    pool.scale_to(3).await.expect("scale out");
    let set = fake.object("apps", "statefulsets", NS, SET).expect("set");
    assert_eq!(set["spec"]["replicas"], 3);
    assert_eq!(
        managers(&fake),
        [(FIELD_MANAGER.to_string(), "Apply".to_string())]
    );
    assert_eq!(pool.node_count().await.expect("count"), 3);
    eventually("three ready pods in order", || {
        ready_ids(&pool) == ["weir-node-0", "weir-node-1", "weir-node-2"]
    })
    .await;
    assert_eq!(
        pool.node_id(2),
        "weir-node-2",
        "node ids are the pods' names"
    );

    // Applying the same count again changes nothing (no new resourceVersion).
    let before = set["metadata"]["resourceVersion"].clone();
    pool.scale_to(3).await.expect("same count");
    let again = fake.object("apps", "statefulsets", NS, SET).expect("set");
    assert_eq!(again["metadata"]["resourceVersion"], before);

    pool.scale_to(1).await.expect("scale in");
    eventually("one pod left", || ready_ids(&pool) == ["weir-node-0"]).await;

    // A pod that stops being Ready shows so in the pool view.
    fake.set_pod_ready(NS, "weir-node-0", false);
    eventually("pod 0 not ready", || {
        pool.members().first().is_some_and(|m| !m.ready)
    })
    .await;
}

#[tokio::test]
async fn replicas_owned_by_another_manager_are_a_conflict_not_a_fight() {
    let fake = FakeApi::start().await;
    // Installed by a tool that set replicas itself (Helm with a fixed count, kubectl).
    fake.seed("apps", "statefulsets", NS, statefulset(Some(2)), "helm");
    let pool = orchestrator(&fake);

    let error = pool
        .apply_replicas(4)
        .await
        .expect_err("helm owns replicas");
    assert!(matches!(error, KubeError::Conflict(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("conflict with \"helm\""), "{text}");
    assert!(text.contains(".spec.replicas"), "{text}");
    assert!(
        text.contains("dataPlane.autoscale.enabled"),
        "says what to do: {text}"
    );
    let set = fake.object("apps", "statefulsets", NS, SET).expect("set");
    assert_eq!(set["spec"]["replicas"], 2, "nothing changed");
    assert_eq!(
        fake.count("statefulsets", "patch"),
        1,
        "a conflict is not retried"
    );

    // Agreeing with the other manager's value is no conflict: both own the field.
    pool.apply_replicas(2).await.expect("same value");
    let mut owners = managers(&fake);
    owners.sort();
    assert_eq!(
        owners,
        [
            ("helm".to_string(), "Update".to_string()),
            (FIELD_MANAGER.to_string(), "Apply".to_string())
        ]
    );
}

#[tokio::test]
async fn a_missing_statefulset_is_named_with_what_to_do() {
    let fake = FakeApi::start().await;
    let pool = orchestrator(&fake);
    let error = pool.replicas().await.expect_err("nothing installed");
    assert!(matches!(error, KubeError::NotFound(_)), "{error:?}");
    assert!(
        error.to_string().contains("StatefulSet weir/weir-node"),
        "{error}"
    );
    assert!(error.to_string().contains("install the chart"), "{error}");
}

#[tokio::test]
async fn the_pod_watch_relists_after_410_gone_and_sees_what_it_missed() {
    let fake = FakeApi::start().await;
    fake.seed("apps", "statefulsets", NS, statefulset(Some(2)), "helm");
    let pool = orchestrator(&fake);
    eventually("two pods", || ready_ids(&pool).len() == 2).await;
    assert_eq!(pool.pods().lists(), 1);

    // A pod goes while the watch is down, and the server's history no longer reaches
    // back to where the watch stood: resuming gets 410 Gone, and only a relist can show
    // the pod is gone.
    fake.delete_unseen("", "pods", NS, "weir-node-1");
    fake.compact();
    fake.end_watches();
    eventually("the relist", || pool.pods().lists() >= 2).await;
    eventually("pod 1 gone", || ready_ids(&pool) == ["weir-node-0"]).await;
    assert!(fake.count("pods", "list") >= 2, "listed again after 410");

    // And the watch goes on after the relist.
    fake.set_pod_ready(NS, "weir-node-0", false);
    eventually("live again", || ready_ids(&pool).is_empty()).await;
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_retried_refusals_are_not() {
    let fake = FakeApi::start().await;
    fake.seed("apps", "statefulsets", NS, statefulset(None), "helm");
    let pool = orchestrator(&fake);

    fake.fail_next("/statefulsets/", &[503, 500, 429]);
    pool.scale_to(2)
        .await
        .expect("retried through 503, 500, 429");
    assert_eq!(
        fake.count("statefulsets", "patch"),
        4,
        "three failures, then success"
    );

    fake.drop_next("PATCH /apis/apps/v1/namespaces/weir/statefulsets/", 2);
    pool.scale_to(3)
        .await
        .expect("retried through two dropped connections");
    let set = fake.object("apps", "statefulsets", NS, SET).expect("set");
    assert_eq!(set["spec"]["replicas"], 3);

    let patches = fake.count("statefulsets", "patch");
    fake.fail_next("/statefulsets/", &[403]);
    let error = pool.scale_to(4).await.expect_err("forbidden");
    assert!(error.contains("403"), "{error}");
    assert_eq!(
        fake.count("statefulsets", "patch"),
        patches + 1,
        "not retried"
    );

    fake.fail_next("/statefulsets/", &[503; 5]);
    let error = pool.scale_to(4).await.expect_err("attempts run out");
    assert!(error.contains("unavailable"), "{error}");
    let set = fake.object("apps", "statefulsets", NS, SET).expect("set");
    assert_eq!(set["spec"]["replicas"], 3, "no half-applied change");
}
