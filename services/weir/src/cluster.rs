//! `weir up --nodes N|auto`: data-plane node processes beside the control plane.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use weir_control_plane::node_pool::{Orchestrator, OrchestratorFuture, PoolMember};

/// A node process started by `weir up`.
pub struct NodeProcess {
    /// Node id.
    pub id: String,
    /// Its Kinesis endpoint.
    pub url: String,
    child: Child,
}

/// How `weir up` starts a node process.
pub struct NodeSpawn {
    /// The control plane's data folder; nodes live under `nodes/<id>`.
    pub data_dir: PathBuf,
    /// The cluster secret (passed through the environment).
    pub secret: String,
    /// Where nodes register.
    pub control_plane_url: String,
    /// node-0's Kinesis address; later nodes take free ports.
    pub first_addr: SocketAddr,
    /// Flags every node gets.
    pub flags: Vec<String>,
    /// Environment every node gets.
    pub env: Vec<(String, String)>,
}

/// The node processes of `weir up`: a fixed number (`--nodes N`), or a pool the control
/// plane grows and shrinks (`--nodes auto`). Nodes are `node-0`, `node-1`, ...; the pool
/// removes the highest first.
pub struct LocalPool {
    spawn: NodeSpawn,
    nodes: tokio::sync::Mutex<Vec<NodeProcess>>,
    count: AtomicU32,
}

impl LocalPool {
    /// Starts `count` nodes and waits until each is ready.
    pub async fn start(spawn: NodeSpawn, count: u32) -> anyhow::Result<Arc<Self>> {
        let pool = Arc::new(Self {
            spawn,
            nodes: tokio::sync::Mutex::new(Vec::new()),
            count: AtomicU32::new(0),
        });
        pool.grow_to(count).await?;
        Ok(pool)
    }

    /// `(id, Kinesis URL)` of every node.
    pub async fn endpoints(&self) -> Vec<(String, String)> {
        let nodes = self.nodes.lock().await;
        nodes
            .iter()
            .map(|n| (n.id.clone(), n.url.clone()))
            .collect()
    }

    async fn grow_to(&self, count: u32) -> anyhow::Result<()> {
        let mut nodes = self.nodes.lock().await;
        while (nodes.len() as u32) < count {
            let node = spawn_node(&self.spawn, nodes.len() as u32).await?;
            nodes.push(node);
            self.count.store(nodes.len() as u32, Ordering::Release);
        }
        Ok(())
    }

    async fn shrink_to(&self, count: u32) {
        let mut nodes = self.nodes.lock().await;
        while nodes.len() as u32 > count {
            let Some(node) = nodes.pop() else { break };
            let folder = self.spawn.data_dir.join("nodes").join(&node.id);
            stop_nodes(vec![node]).await;
            // The pool removes only drained nodes: nothing on this disk is needed, and a
            // node of this id that comes back starts empty.
            if let Err(error) = std::fs::remove_dir_all(&folder) {
                tracing::warn!(folder = %folder.display(), %error, "could not remove a removed node's data");
            }
            self.count.store(nodes.len() as u32, Ordering::Release);
        }
    }

    /// Stops every node (shutdown).
    pub async fn stop_all(&self) {
        let nodes = std::mem::take(&mut *self.nodes.lock().await);
        stop_nodes(nodes).await;
    }
}

impl Orchestrator for LocalPool {
    fn describe(&self) -> String {
        "local processes (weir up --nodes auto)".into()
    }

    fn node_id(&self, index: u32) -> String {
        format!("node-{index}")
    }

    fn node_count(&self) -> OrchestratorFuture<'_, u32> {
        Box::pin(async move { Ok(self.count.load(Ordering::Acquire)) })
    }

    fn scale_to(&self, count: u32) -> OrchestratorFuture<'_, ()> {
        Box::pin(async move {
            let now = self.count.load(Ordering::Acquire);
            if count > now {
                self.grow_to(count).await.map_err(|e| format!("{e:#}"))?;
            } else {
                self.shrink_to(count).await;
            }
            Ok(())
        })
    }

    fn members(&self) -> Vec<PoolMember> {
        // A node counts once it has printed "Ready.", so every counted process is ready.
        (0..self.count.load(Ordering::Acquire))
            .map(|index| PoolMember {
                node_id: self.node_id(index),
                ready: true,
                terminating: false,
            })
            .collect()
    }
}

/// Starts node `index` and waits until it is ready.
async fn spawn_node(spawn: &NodeSpawn, index: u32) -> anyhow::Result<NodeProcess> {
    let exe = std::env::current_exe().context("cannot find the weir binary to start nodes")?;
    let id = format!("node-{index}");
    let addr = if index == 0 {
        spawn.first_addr.to_string()
    } else {
        "127.0.0.1:0".to_string()
    };
    let mut child = Command::new(&exe)
        .arg("data-plane")
        .args([
            "--control-plane-url",
            &spawn.control_plane_url,
            "--node-id",
            &id,
            "--kinesis-addr",
            &addr,
        ])
        .arg("--data-dir")
        .arg(spawn.data_dir.join("nodes").join(&id))
        .args(&spawn.flags)
        // Through the environment, so the secret does not show in `ps`.
        .env("WEIR_CLUSTER_SECRET", &spawn.secret)
        .envs(spawn.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start node {id}"))?;
    let stdout = child.stdout.take().context("node stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(u) = line.strip_prefix("Kinesis endpoint:") {
                url = Some(u.trim().to_string());
            }
            if line.trim() == "Ready." {
                return Ok::<bool, std::io::Error>(true);
            }
        }
        Ok(false)
    })
    .await;
    if !matches!(ready, Ok(Ok(true))) {
        bail!("node {id} did not start; see its log above");
    }
    // Keep draining the node's stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(NodeProcess {
        id,
        url: url.unwrap_or_default(),
        child,
    })
}

/// Stops node processes gracefully (SIGTERM), then forcefully after 10 s.
pub async fn stop_nodes(nodes: Vec<NodeProcess>) {
    for node in &nodes {
        if let Some(pid) = node.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
    }
    for mut node in nodes {
        if tokio::time::timeout(Duration::from_secs(10), node.child.wait())
            .await
            .is_err()
        {
            let _ = node.child.kill().await;
        }
    }
}
