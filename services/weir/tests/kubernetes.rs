//! `weir control-plane --kubernetes` end to end: two real control-plane processes against
//! the fake Kubernetes API server. One is elected and labels its pod, the other stands
//! by; the active one scales the data-plane StatefulSet to the pool's minimum; when it
//! is killed (-9) the standby takes over with the same metadata; on SIGTERM the Lease
//! is released.

#[path = "../../weir-kube/tests/support/mod.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::FakeApi;

const NS: &str = "weir";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct ControlPlane {
    id: &'static str,
    url: String,
    child: Child,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(id: &'static str, api: &str, dir: &std::path::Path) -> ControlPlane {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "control-plane",
            "--kubernetes",
            "--no-auth",
            "--insecure-plaintext",
        ])
        .args([
            "--kube-api-url",
            api,
            "--kube-namespace",
            NS,
            "--kube-identity",
            id,
        ])
        .args([
            "--kube-statefulset",
            "weir-node",
            "--kube-pod-selector",
            "app=weir-node",
        ])
        .args([
            "--kube-lease-duration-ms",
            "2000",
            "--min-nodes",
            "2",
            "--max-nodes",
            "4",
        ])
        .args(["--rest-addr", &format!("127.0.0.1:{port}")])
        .arg("--database-url")
        .arg(format!(
            "sqlite://{}?mode=rwc",
            dir.join("meta.db").display()
        ))
        .arg("--data-dir")
        .arg(dir.join(id))
        .env("WEIR_CLUSTER_SECRET", "kube-test-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start weir control-plane");
    ControlPlane {
        id,
        url: format!("http://127.0.0.1:{port}"),
        child,
    }
}

async fn status(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}

async fn until<T>(what: &str, secs: u64, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn label(fake: &FakeApi, pod: &str) -> Value {
    fake.object("", "pods", NS, pod).expect("pod")["metadata"]["labels"]["weir.dev/active"].clone()
}

fn lease(fake: &FakeApi) -> Value {
    fake.object("coordination.k8s.io", "leases", NS, "weir-control-plane")
        .map(|l| l["spec"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_control_plane_is_active_scales_the_statefulset_and_fails_over() {
    let fake = FakeApi::start().await;
    fake.seed(
        "apps",
        "statefulsets",
        NS,
        json!({
            "metadata": { "name": "weir-node" },
            "spec": {
                "selector": { "matchLabels": { "app": "weir-node" } },
                "template": { "metadata": { "labels": { "app": "weir-node" } } },
            },
        }),
        "helm",
    );
    for pod in ["cp-a", "cp-b"] {
        fake.seed(
            "",
            "pods",
            NS,
            json!({ "metadata": { "name": pod, "labels": { "app": "weir-cp" } } }),
            "kubelet",
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let mut replicas = vec![
        start("cp-a", &fake.url, dir.path()),
        start("cp-b", &fake.url, dir.path()),
    ];

    // Exactly one becomes ready; the other stands by.
    let active = until("an active control plane", 60, async || {
        let mut ready = Vec::new();
        for cp in replicas.iter_mut() {
            let exited = cp.child.try_wait().ok().flatten();
            assert!(exited.is_none(), "{} exited: {exited:?}", cp.id);
        }
        for (i, cp) in replicas.iter().enumerate() {
            if status(&http, &format!("{}/readyz", cp.url)).await == Some(200) {
                ready.push(i);
            }
        }
        assert!(ready.len() <= 1, "two active control planes");
        ready.first().copied()
    })
    .await;
    let standby = 1 - active;
    let (active_id, standby_id) = (replicas[active].id, replicas[standby].id);
    assert_eq!(lease(&fake)["holderIdentity"], active_id);
    assert_eq!(
        label(&fake, active_id),
        "true",
        "the Service routes to the active pod"
    );
    assert_eq!(label(&fake, standby_id), Value::Null);
    assert_eq!(
        status(&http, &format!("{}/healthz", replicas[standby].url)).await,
        Some(200),
        "a standby is alive"
    );
    // The standby refuses with 503, and names the active replica once it has seen the
    // Lease (it looks every fifth of the lease duration).
    let standby_url = format!("{}/v1/streams", replicas[standby].url);
    let body: Value = until("the standby to name the active replica", 10, async || {
        let refused = http.get(&standby_url).send().await.ok()?;
        assert_eq!(refused.status().as_u16(), 503);
        let body: Value = refused.json().await.ok()?;
        assert_eq!(body["error"]["code"], "Standby");
        body["error"]["message"]
            .as_str()?
            .contains(active_id)
            .then_some(body)
    })
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("standing by"));

    // The active one's node pool scales the StatefulSet to --min-nodes.
    until("replicas applied", 30, async || {
        let set = fake.object("apps", "statefulsets", NS, "weir-node")?;
        (set["spec"]["replicas"] == 2).then_some(())
    })
    .await;
    let pool: Value = until("the pool view", 30, async || {
        let view: Value = http
            .get(format!("{}/v1/nodes/pool", replicas[active].url))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (view["members"].as_array()?.len() == 2).then_some(view)
    })
    .await;
    assert!(
        pool["orchestrator"]
            .as_str()
            .unwrap_or("")
            .contains("StatefulSet weir/weir-node"),
        "{pool}"
    );
    assert_eq!(pool["members"][1]["node_id"], "weir-node-1");
    assert_eq!(pool["members"][1]["ready"], true);
    assert_eq!(
        pool["members"][1]["registered"], false,
        "no node process runs in this test"
    );

    let created = http
        .post(format!("{}/v1/streams", replicas[active].url))
        .json(&json!({ "name": "kept", "shard_count": 1 }))
        .send()
        .await
        .expect("create");
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap_or_default()
    );

    // kill -9 the active one: the standby waits out the Lease, then serves the same data.
    let killed_at = Instant::now();
    let _ = replicas[active].child.kill();
    let _ = replicas[active].child.wait();
    until("the standby to take over", 30, async || {
        (status(&http, &format!("{}/readyz", replicas[standby].url)).await == Some(200))
            .then_some(())
    })
    .await;
    assert!(
        killed_at.elapsed() >= Duration::from_millis(1500),
        "not before the Lease ran out"
    );
    assert_eq!(lease(&fake)["holderIdentity"], standby_id);
    assert_eq!(lease(&fake)["leaseTransitions"], 1);
    assert_eq!(label(&fake, standby_id), "true");
    let streams: Value = http
        .get(format!("{}/v1/streams", replicas[standby].url))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("JSON");
    assert!(streams.to_string().contains("\"kept\""), "{streams}");

    // SIGTERM: the Lease is given up and the label removed.
    let survivor = replicas.remove(standby);
    let pid = survivor.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let mut survivor = survivor;
    let exit = until("a clean exit", 30, async || {
        survivor.child.try_wait().ok().flatten()
    })
    .await;
    assert!(exit.success(), "{exit:?}");
    assert_eq!(lease(&fake)["holderIdentity"], Value::Null, "released");
    assert_eq!(label(&fake, standby_id), Value::Null, "unlabelled");
}
