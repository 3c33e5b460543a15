//! Starting the servers: `weir up` and the production subcommands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use tokio::net::TcpListener;
use weir_control_plane::{ControlPlane, ControlPlaneConfig, MetaStore};
use weir_data_plane::{DataPlane, DataPlaneConfig};

/// Options of `weir up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Folder for metadata (SQLite) and shard data; created if missing.
    #[arg(long, default_value = ".weir", env = "WEIR_DATA_DIR")]
    data_dir: PathBuf,
    /// Address of the Kinesis API (loopback only; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4567")]
    kinesis_addr: SocketAddr,
    /// Address of the REST control plane (loopback only; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4568")]
    rest_addr: SocketAddr,
    #[command(flatten)]
    tuning: Tuning,
}

/// Storage and account settings shared by the server subcommands.
#[derive(Debug, Args)]
pub struct Tuning {
    /// Roll shard segments at this size in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    segment_bytes: u64,
    /// Most open shards across all streams (DescribeLimits ShardLimit).
    #[arg(long, default_value_t = 500)]
    shard_limit: u32,
    /// Region reported in ARNs.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Keep a stream UPDATING this long before a reshard takes effect (milliseconds), to
    /// exercise clients that wait for ACTIVE, as kinesalite's --updateStreamMs does.
    #[arg(long, default_value_t = 0)]
    reshard_delay_ms: u64,
}

/// Options of `weir control-plane`.
#[derive(Debug, Args)]
pub struct ControlPlaneArgs {
    /// Metadata store: postgres://user@host/db or sqlite://path?mode=rwc.
    #[arg(long, env = "WEIR_DATABASE_URL")]
    database_url: String,
    /// Address of the REST API.
    #[arg(long, default_value = "0.0.0.0:4568")]
    rest_addr: SocketAddr,
    /// Also host a data-plane node serving the Kinesis API here.
    #[arg(long)]
    kinesis_addr: Option<SocketAddr>,
    /// Folder for shard data of the hosted data-plane node.
    #[arg(long, default_value = "/var/lib/weir", env = "WEIR_DATA_DIR")]
    data_dir: PathBuf,
    #[command(flatten)]
    tuning: Tuning,
}

/// Options of `weir data-plane`.
#[derive(Debug, Args)]
pub struct DataPlaneArgs {
    /// REST address of the control plane to register with.
    #[arg(long, env = "WEIR_CONTROL_PLANE_URL")]
    control_plane_url: Option<String>,
}

/// `weir up`: everything on this machine, loopback only.
pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    for (flag, addr) in [
        ("--kinesis-addr", args.kinesis_addr),
        ("--rest-addr", args.rest_addr),
    ] {
        if !addr.ip().is_loopback() {
            bail!("{flag} {addr} is not a loopback address: `weir up` only listens on this machine. Use `weir control-plane` for a network-facing deployment.");
        }
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data folder {}", args.data_dir.display()))?;
    let db_path = args.data_dir.join("meta.db");
    let database_url = format!("sqlite://{}?mode=rwc", db_path.display());
    let stack = Stack::start(&database_url, &args.data_dir, &args.tuning).await?;
    let kinesis = bind(args.kinesis_addr, "Kinesis API").await?;
    let rest = bind(args.rest_addr, "REST API").await?;
    let kinesis_url = format!("http://{}", kinesis.local_addr()?);
    let rest_url = format!("http://{}", rest.local_addr()?);
    println!(
        "Weir is running: SQLite metadata and data in {}",
        args.data_dir.display()
    );
    println!("Kinesis endpoint: {kinesis_url}");
    println!("REST endpoint:    {rest_url}");
    println!();
    println!("boto3:   boto3.client(\"kinesis\", endpoint_url=\"{kinesis_url}\", region_name=\"{}\", aws_access_key_id=\"weir\", aws_secret_access_key=\"weir\")", args.tuning.region);
    println!("AWS CLI: AWS_ACCESS_KEY_ID=weir AWS_SECRET_ACCESS_KEY=weir aws kinesis list-streams --endpoint-url {kinesis_url} --region {}", args.tuning.region);
    println!("REST:    curl {rest_url}/v1/streams");
    println!();
    println!("Press Ctrl-C to stop; a restart keeps every stream and record.");
    println!("Ready.");
    stack.serve(Some(kinesis), rest).await
}

/// `weir control-plane`.
pub async fn control_plane(args: ControlPlaneArgs) -> anyhow::Result<()> {
    let stack = Stack::start(&args.database_url, &args.data_dir, &args.tuning).await?;
    let rest = bind(args.rest_addr, "REST API").await?;
    let kinesis = match args.kinesis_addr {
        Some(addr) => Some(bind(addr, "Kinesis API").await?),
        None => None,
    };
    tracing::info!(rest = %rest.local_addr()?, "control plane listening");
    if let Some(k) = &kinesis {
        tracing::info!(kinesis = %k.local_addr()?, "data-plane node listening");
    }
    stack.serve(kinesis, rest).await
}

/// `weir data-plane`.
pub async fn data_plane(args: DataPlaneArgs) -> anyhow::Result<()> {
    let _ = args.control_plane_url;
    bail!(
        "standalone data-plane nodes need shard placement, which this build does not have yet. \
         Run `weir control-plane --kinesis-addr 0.0.0.0:4567` to host a data-plane node in the control-plane \
         process, or `weir up` on a laptop."
    )
}

struct Stack {
    control_plane: Arc<ControlPlane>,
    data_plane: Arc<DataPlane>,
}

impl Stack {
    async fn start(
        database_url: &str,
        data_dir: &std::path::Path,
        tuning: &Tuning,
    ) -> anyhow::Result<Self> {
        let store = MetaStore::connect(database_url).await.with_context(|| {
            format!("cannot open the metadata store at {}", redact(database_url))
        })?;
        let control_plane = ControlPlane::new(
            store,
            ControlPlaneConfig {
                region: tuning.region.clone(),
                shard_limit: tuning.shard_limit,
                reshard_delay: std::time::Duration::from_millis(tuning.reshard_delay_ms),
                ..ControlPlaneConfig::default()
            },
        )
        .await?;
        let mut config = DataPlaneConfig::new(data_dir);
        config.log.segment_bytes = tuning.segment_bytes;
        let data_plane = DataPlane::start_default(Arc::clone(&control_plane), config).await?;
        Ok(Self {
            control_plane,
            data_plane,
        })
    }

    async fn serve(self, kinesis: Option<TcpListener>, rest: TcpListener) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let rest_server = axum::serve(
            rest,
            weir_control_plane::rest::router(Arc::clone(&self.control_plane))
                .merge(weir_config::rest::router(Arc::clone(&self.control_plane))),
        )
        .with_graceful_shutdown(stopped(stop_rx.clone()));
        let rest_task = tokio::spawn(async move { rest_server.await });
        let kinesis_task = kinesis.map(|listener| {
            let server = axum::serve(
                listener,
                weir_data_plane::router(Arc::clone(&self.data_plane)),
            )
            .with_graceful_shutdown(stopped(stop_rx.clone()));
            tokio::spawn(async move { server.await })
        });
        shutdown_signal().await;
        eprintln!("Shutting down: finishing in-flight requests and closing shard logs...");
        let _ = stop_tx.send(true);
        rest_task.await??;
        if let Some(task) = kinesis_task {
            task.await??;
        }
        self.data_plane.shutdown().await;
        eprintln!("Stopped.");
        Ok(())
    }
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for the {what} on {addr}: is another process using the port? Pick another with the matching --*-addr flag"))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Hides a password in a database URL before it reaches a log or an error.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
