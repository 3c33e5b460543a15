//! `weir up --nodes N`: data-plane node processes beside the control plane.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A node process started by `weir up`.
pub struct NodeProcess {
    /// Node id.
    pub id: String,
    /// Its Kinesis endpoint.
    pub url: String,
    child: Child,
}

/// Starts `count` nodes registering with the control plane at `control_plane_url`. The
/// first listens on `first_addr`, the others on free ports. Waits until each is ready.
pub async fn spawn_nodes(
    data_dir: &Path,
    secret: &str,
    control_plane_url: &str,
    count: u32,
    first_addr: SocketAddr,
    extra_flags: &[String],
    extra_env: &[(String, String)],
) -> anyhow::Result<Vec<NodeProcess>> {
    let exe = std::env::current_exe().context("cannot find the weir binary to start nodes")?;
    let mut nodes = Vec::new();
    for i in 0..count {
        let id = format!("node-{i}");
        let addr = if i == 0 {
            first_addr.to_string()
        } else {
            "127.0.0.1:0".to_string()
        };
        let mut child = Command::new(&exe)
            .arg("data-plane")
            .args([
                "--control-plane-url",
                control_plane_url,
                "--node-id",
                &id,
                "--kinesis-addr",
                &addr,
            ])
            .arg("--data-dir")
            .arg(data_dir.join("nodes").join(&id))
            .args(extra_flags)
            // Through the environment, so the secret does not show in `ps`.
            .env("WEIR_CLUSTER_SECRET", secret)
            .envs(extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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
        nodes.push(NodeProcess {
            id,
            url: url.unwrap_or_default(),
            child,
        });
    }
    Ok(nodes)
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
