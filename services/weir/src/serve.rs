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
    /// Run this many data-plane node processes beside the control plane (0: one node inside
    /// the control-plane process), or `auto`: as many as the load needs, between
    /// --min-nodes and --max-nodes, draining a node before removing it. With nodes,
    /// --kinesis-addr is the first node's address.
    #[arg(long, default_value = "0", value_parser = crate::pool_args::parse_nodes)]
    nodes: crate::pool_args::NodeCount,
    #[command(flatten)]
    pool: crate::pool_args::PoolArgs,
    /// Secret the nodes and the control plane authenticate each other with (default: a
    /// fresh random one per start). Only used with --nodes.
    #[arg(long, env = "WEIR_CLUSTER_SECRET", hide_env_values = true)]
    cluster_secret: Option<String>,
    #[command(flatten)]
    security: crate::security_args::UpSecurity,
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
    /// Keep a new stream (and a newly registered consumer) CREATING this long before it
    /// turns ACTIVE, and a deleted stream (and a deregistered consumer) DELETING this long
    /// before it is gone (milliseconds), to exercise clients that wait for either, as
    /// kinesalite's --createStreamMs and --deleteStreamMs do.
    #[arg(long, default_value_t = 0)]
    create_delay_ms: u64,
    /// How long a data-plane node keeps its shards without a heartbeat (milliseconds).
    #[arg(long, default_value_t = 3000)]
    lease_timeout_ms: u64,
    /// Replicas per shard for streams that set none (capped by the number of nodes). A
    /// write is acknowledged once a majority of its shard's replicas have it on disk.
    #[arg(long, default_value_t = 3)]
    replication_factor: u32,
    /// How long a replica's node may stay away before the replica is re-created on
    /// another node (milliseconds).
    #[arg(long, default_value_t = 60_000)]
    replace_after_ms: u64,
    /// Least time between two rebalancing steps (milliseconds): a node holding two or
    /// more replicas or leaderships fewer than the busiest (a new one, say) receives
    /// them through the move path, one step at a time. 0 turns rebalancing off.
    #[arg(long, default_value_t = 5_000)]
    rebalance_interval_ms: u64,
    /// How often each stream's Kinesis metrics are sampled for the console and
    /// `GET /v1/streams/{name}/metrics` (milliseconds).
    #[arg(long, default_value_t = 5_000)]
    metrics_sample_ms: u64,
    /// Per-shard throughput limits of streams that set none: `kinesis` (1 MiB/s and 1,000
    /// records/s written; 5 GetRecords/s and 2 MiB/s read), `off`, or a list such as
    /// `write-records=100,read-calls=5` (per second; 0 turns one off; names left out keep
    /// Kinesis's value). Over a limit, writes and reads answer
    /// ProvisionedThroughputExceededException, as Kinesis does.
    #[arg(long, env = "WEIR_SHARD_LIMITS", default_value = "kinesis",
          value_parser = crate::limit_args::parse_shard_limits)]
    shard_limits: weir_contracts::ShardLimits,
    /// Most Kinesis requests a node serves at once; more are refused with
    /// ProvisionedThroughputExceededException instead of queueing without bound.
    #[arg(long, env = "WEIR_MAX_IN_FLIGHT", default_value_t = weir_data_plane::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// How long one SubscribeToShard event stream lasts before the server ends it
    /// (AWS: 300,000 ms, five minutes); clients subscribe again to continue.
    #[arg(long, env = "WEIR_SUBSCRIPTION_LIFETIME_MS", default_value_t = 300_000)]
    subscription_lifetime_ms: u64,
    #[command(flatten)]
    tier: crate::tier_args::TierArgs,
    #[command(flatten)]
    scaling: crate::scaling_args::ScalingArgs,
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
    /// Also host a data-plane node serving the Kinesis API here. Without it, the control
    /// plane runs a cluster: `weir data-plane` nodes register with it.
    #[arg(long)]
    kinesis_addr: Option<SocketAddr>,
    /// Folder for shard data of the hosted data-plane node.
    #[arg(long, default_value = "/var/lib/weir", env = "WEIR_DATA_DIR")]
    data_dir: PathBuf,
    /// Secret shared with every `weir data-plane` node: authenticates traffic between them
    /// (required without --kinesis-addr).
    #[arg(long, env = "WEIR_CLUSTER_SECRET", hide_env_values = true)]
    cluster_secret: Option<String>,
    #[command(flatten)]
    tls: crate::security_args::ServerSecurity,
    #[command(flatten)]
    auth: crate::security_args::AuthArgs,
    #[command(flatten)]
    tuning: Tuning,
    #[command(flatten)]
    kube: crate::kube_cmd::KubeArgs,
}

/// Options of `weir data-plane`.
#[derive(Debug, Args)]
pub struct DataPlaneArgs {
    /// REST URL of the control plane to register with.
    #[arg(long, env = "WEIR_CONTROL_PLANE_URL")]
    control_plane_url: String,
    /// This node's stable id (keep it across restarts so it gets its shards back).
    #[arg(long, env = "WEIR_NODE_ID")]
    node_id: String,
    /// Address of this node's Kinesis API (also its internal API).
    #[arg(long, default_value = "0.0.0.0:4567")]
    kinesis_addr: SocketAddr,
    /// URL other nodes and the control plane reach this node at (default: the bound address).
    #[arg(long)]
    advertise_url: Option<String>,
    /// Folder for this node's shard data.
    #[arg(long, default_value = "/var/lib/weir", env = "WEIR_DATA_DIR")]
    data_dir: PathBuf,
    /// Secret shared by all nodes of the cluster (signs shard iterators).
    #[arg(long, env = "WEIR_CLUSTER_SECRET")]
    cluster_secret: String,
    /// Roll shard segments at this size in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    segment_bytes: u64,
    /// Most Kinesis requests this node serves at once; more are refused with
    /// ProvisionedThroughputExceededException instead of queueing without bound.
    #[arg(long, env = "WEIR_MAX_IN_FLIGHT", default_value_t = weir_data_plane::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// How long one SubscribeToShard event stream lasts before the server ends it
    /// (AWS: 300,000 ms, five minutes); clients subscribe again to continue.
    #[arg(long, env = "WEIR_SUBSCRIPTION_LIFETIME_MS", default_value_t = 300_000)]
    subscription_lifetime_ms: u64,
    /// Verify SigV4 signatures and permissions here (the control plane has --auth on);
    /// needs the deployment's master key in WEIR_MASTER_KEY or --master-key-file.
    #[arg(long)]
    auth: bool,
    /// File with the deployment's master key (WEIR_MASTER_KEY takes precedence).
    #[arg(long, env = "WEIR_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    #[command(flatten)]
    tier: crate::tier_args::TierArgs,
    #[command(flatten)]
    tls: crate::security_args::ServerSecurity,
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
    let clustered = args.nodes.clustered();
    let local_tls = if args.security.tls {
        Some(crate::security_args::local_tls(&args.data_dir)?)
    } else {
        None
    };
    // Nodes trust it; in one process the console's record reads do.
    let internal_ca = match &local_tls {
        Some(t) => Some(
            std::fs::read(&t.ca)
                .with_context(|| format!("cannot read the local CA {}", t.ca.display()))?,
        ),
        _ => None,
    };
    let master_key_file = args.data_dir.join("master.key");
    let auth = args.security.auth.then_some(master_key_file.as_path());
    let cluster_secret = clustered.then(|| {
        args.cluster_secret
            .clone()
            .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()))
    });
    let mut stack = Stack::start(
        &database_url,
        &args.data_dir,
        &args.tuning,
        cluster_secret.as_deref(),
        Some(&master_key_file),
        auth,
        internal_ca.as_deref(),
    )
    .await?;
    let tls = local_tls.as_ref().map(|t| Arc::clone(&t.config));
    let ca_path = local_tls.as_ref().map(|t| t.ca.clone());
    let scheme = if tls.is_some() { "https" } else { "http" };
    let rest = bind(args.rest_addr, "REST API").await?;
    let rest_url = format!("{scheme}://{}", rest.local_addr()?);
    let (kinesis, kinesis_url) = if clustered {
        (None, None)
    } else {
        let kinesis = bind(args.kinesis_addr, "Kinesis API").await?;
        let url = format!("{scheme}://{}", kinesis.local_addr()?);
        (Some(kinesis), Some(url))
    };
    let bootstrap = stack.bootstrap.take();
    let auth_on = args.security.auth;
    let node_count = args.nodes;
    let data_dir = args.data_dir.clone();
    let first_addr = args.kinesis_addr;
    let segment_bytes = args.tuning.segment_bytes;
    let mut node_flags = args.tuning.tier.node_flags(&args.data_dir);
    node_flags.extend(["--segment-bytes".to_string(), segment_bytes.to_string()]);
    match &local_tls {
        // Nodes serve the same loopback certificate and trust the local CA for calls
        // to the control plane and to each other.
        Some(t) => {
            for (flag, path) in [
                ("--tls-cert", &t.cert),
                ("--tls-key", &t.key),
                ("--tls-ca", &t.ca),
            ] {
                node_flags.push(flag.to_string());
                node_flags.push(path.display().to_string());
            }
        }
        // Nodes of `weir up` listen on loopback only.
        None => node_flags.push("--insecure-plaintext".to_string()),
    }
    let mut node_env = args.tuning.tier.node_env();
    if clustered {
        // Nodes open encrypted streams' data keys, and with --auth the sealed access keys
        // heartbeats carry, with the master key, passed through the environment (never
        // the command line).
        let master = weir_auth::MasterKey::from_env_or_file(&master_key_file)
            .context("cannot load the master key for the nodes")?;
        node_env.push(("WEIR_MASTER_KEY".into(), master.to_base64().to_string()));
        if auth_on {
            node_flags.push("--auth".into());
        }
    }
    let pool_policy = args.pool.policy();
    let initial = match node_count {
        crate::pool_args::NodeCount::Fixed(n) => n,
        crate::pool_args::NodeCount::Auto => args.pool.min_nodes(),
    };
    let start_nodes = {
        let rest_url = rest_url.clone();
        let control_plane = Arc::clone(&stack.control_plane);
        async move {
            if initial == 0 {
                return Ok(None);
            }
            let spawn = crate::cluster::NodeSpawn {
                data_dir,
                secret: cluster_secret.unwrap_or_default(),
                control_plane_url: rest_url,
                first_addr,
                flags: node_flags,
                env: node_env,
            };
            let pool = crate::cluster::LocalPool::start(spawn, initial).await?;
            if node_count == crate::pool_args::NodeCount::Auto {
                weir_control_plane::node_pool::spawn_node_pool(
                    &control_plane,
                    pool.clone(),
                    pool_policy,
                );
            }
            Ok(Some(pool))
        }
    };
    let region = args.tuning.region.clone();
    let shown_dir = args.data_dir.display().to_string();
    let banner = move |nodes: &[(String, String)]| {
        let kinesis_url =
            kinesis_url.unwrap_or_else(|| nodes.first().map(|n| n.1.clone()).unwrap_or_default());
        println!("Weir is running: SQLite metadata and data in {shown_dir}");
        if let Some(bootstrap) = &bootstrap {
            crate::security_args::print_bootstrap(bootstrap);
        }
        if let Some(ca) = &ca_path {
            println!("CA certificate: {}", ca.display());
            println!("Trust it: boto3 verify=\"{0}\"; AWS CLI --ca-bundle {0}; Node NODE_EXTRA_CA_CERTS={0}", ca.display());
        }
        println!("Kinesis endpoint: {kinesis_url}");
        println!("REST endpoint:    {rest_url}");
        for (id, url) in nodes {
            println!("Node {id}: {url} (any node serves every stream)");
        }
        println!();
        let (id, secret) = if auth_on {
            ("<access key id>", "<secret access key>")
        } else {
            ("weir", "weir")
        };
        println!("boto3:   boto3.client(\"kinesis\", endpoint_url=\"{kinesis_url}\", region_name=\"{region}\", aws_access_key_id=\"{id}\", aws_secret_access_key=\"{secret}\")");
        println!("AWS CLI: AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={secret} aws kinesis list-streams --endpoint-url {kinesis_url} --region {region}");
        if auth_on {
            println!("REST:    curl -X POST {rest_url}/v1/auth/token -d '{{\"access_key_id\": ..., \"secret_access_key\": ...}}' then -H 'Authorization: Bearer <token>'");
        } else {
            println!("REST:    curl {rest_url}/v1/streams");
        }
        println!();
        println!("Press Ctrl-C to stop; a restart keeps every stream and record.");
        println!("Ready.");
    };
    stack
        .serve(kinesis, rest, tls, start_nodes, banner, shutdown_signal())
        .await
}

/// `weir control-plane`.
pub async fn control_plane(args: ControlPlaneArgs) -> anyhow::Result<()> {
    let clustered = args.kinesis_addr.is_none();
    let tls = args.tls.tls()?;
    let master_key_file = args
        .auth
        .master_key_file
        .clone()
        .unwrap_or_else(|| args.data_dir.join("master.key"));
    let auth = (!args.auth.no_auth).then_some(master_key_file.as_path());
    // Encrypted streams' data keys are sealed with the deployment's master key; without
    // authentication it is used only if configured, since replicas of a control plane
    // must share it (a key file each made for itself would not do).
    let encryption_key = (auth.is_some()
        || args.auth.master_key_file.is_some()
        || std::env::var_os(weir_auth::secrets::MASTER_KEY_ENV).is_some())
    .then_some(master_key_file.as_path());
    if auth.is_some() && clustered {
        tracing::info!("start nodes with `weir data-plane --auth` and this deployment's master key so they verify signatures");
    }
    if clustered && args.cluster_secret.is_none() {
        bail!("without --kinesis-addr the control plane runs a cluster: give --cluster-secret (or WEIR_CLUSTER_SECRET), the secret every `weir data-plane` node is started with");
    }
    let secret = args.cluster_secret.as_deref().filter(|_| clustered);
    let internal_ca = args.tls.internal_ca()?;
    if clustered && tls.is_some() && internal_ca.is_none() {
        bail!("this control plane serves TLS, so its nodes do too: give --tls-ca (or WEIR_TLS_CA), the CA bundle it trusts when it calls them");
    }
    let start = || async {
        Stack::start(
            &args.database_url,
            &args.data_dir,
            &args.tuning,
            secret,
            encryption_key,
            auth,
            internal_ca.as_deref(),
        )
        .await
    };
    if args.kube.enabled() {
        if !clustered {
            bail!("--kubernetes runs the control plane of a cluster: drop --kinesis-addr (data-plane nodes run in the StatefulSet)");
        }
        // A standby opens nothing: the stack starts once this replica is elected.
        return crate::kube_cmd::run_elected(&args.kube, args.rest_addr, tls, start).await;
    }
    let mut stack = start().await?;
    if let Some(bootstrap) = stack.bootstrap.take() {
        crate::security_args::print_bootstrap(&bootstrap);
    }
    let rest = bind(args.rest_addr, "REST API").await?;
    let kinesis = match args.kinesis_addr {
        Some(addr) => Some(bind(addr, "Kinesis API").await?),
        None => None,
    };
    tracing::info!(rest = %rest.local_addr()?, "control plane listening");
    if let Some(k) = &kinesis {
        tracing::info!(kinesis = %k.local_addr()?, "data-plane node listening");
    }
    stack
        .serve(
            kinesis,
            rest,
            tls,
            async { Ok(None) },
            |_| {},
            shutdown_signal(),
        )
        .await
}

/// `weir data-plane`: one node of a cluster.
pub async fn data_plane(args: DataPlaneArgs) -> anyhow::Result<()> {
    let tls = args.tls.tls()?;
    let listener = bind(args.kinesis_addr, "Kinesis API").await?;
    let bound = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = args
        .advertise_url
        .unwrap_or_else(|| format!("{scheme}://{bound}"));
    let internal_ca = args.tls.internal_ca()?;
    if args.control_plane_url.starts_with("https://") && internal_ca.is_none() {
        bail!("the control plane URL is https: give --tls-ca (or WEIR_TLS_CA), the CA bundle that signed the cluster's certificates");
    }
    let cluster = Arc::new(weir_data_plane::cluster::Cluster::new(
        args.node_id.clone(),
        url.clone(),
        args.control_plane_url.clone(),
        &args.cluster_secret,
        internal_ca.as_deref(),
    )?);
    let mut config = DataPlaneConfig::new(&args.data_dir);
    config.log.segment_bytes = args.segment_bytes;
    config.max_in_flight = args.max_in_flight;
    config.subscription_lifetime =
        std::time::Duration::from_millis(args.subscription_lifetime_ms.max(1));
    config.cluster_secret = Some(args.cluster_secret);
    config.tier = args.tier.open(&args.data_dir).await?;
    // The master key opens encrypted streams' data keys and, with --auth, access keys.
    let master_key = match (std::env::var("WEIR_MASTER_KEY"), &args.master_key_file) {
        (Ok(text), _) => Some(
            weir_auth::MasterKey::from_base64(&text)
                .context("WEIR_MASTER_KEY is not base64 of 32-byte keys")?,
        ),
        (Err(_), Some(path)) => Some(
            weir_auth::MasterKey::from_env_or_file(path)
                .with_context(|| format!("cannot read the master key {}", path.display()))?,
        ),
        (Err(_), None) if args.auth => bail!(
            "--auth needs the deployment's master key: set WEIR_MASTER_KEY or --master-key-file"
        ),
        (Err(_), None) => {
            tracing::warn!("no master key (WEIR_MASTER_KEY or --master-key-file): this node can neither write nor read encrypted streams");
            None
        }
    };
    config.master_key = master_key.clone();
    let master = if args.auth { master_key } else { None };
    let plane = DataPlane::start_node(
        config,
        cluster,
        Arc::new(weir_data_plane::SystemClock),
        master,
    )
    .await
    .with_context(|| {
        format!(
            "cannot join the control plane at {}: is it running and reachable?",
            args.control_plane_url
        )
    })?;
    println!("Kinesis endpoint: {url}");
    println!(
        "Node {} registered with {}",
        args.node_id, args.control_plane_url
    );
    println!("Ready.");
    let stopping = Arc::clone(&plane);
    serve_on(
        listener,
        weir_data_plane::router(Arc::clone(&plane))
            .layer(axum::middleware::from_fn(weir_trace::trace_requests)),
        tls,
        async move {
            shutdown_signal().await;
            // Subscriptions stream for minutes: end them so the server can drain.
            stopping.end_subscriptions();
        },
    )
    .await?;
    plane.shutdown().await;
    Ok(())
}

pub(crate) struct Stack {
    pub(crate) control_plane: Arc<ControlPlane>,
    data_plane: Arc<DataPlane>,
    /// Set when nodes run apart from the control plane (cluster mode).
    cluster_secret: Option<String>,
    /// Credentials created on this start, taken once for printing.
    pub(crate) bootstrap: Option<weir_control_plane::security::Bootstrap>,
    /// The CA internal calls trust (the console's record reads use it too).
    internal_ca: Option<Vec<u8>>,
}

/// Serves `router` on `listener`, over TLS when `tls` is set, until `shutdown`.
pub(crate) async fn serve_on(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    match tls {
        Some(config) => {
            weir_tls::serve_tls(listener, router, config, shutdown).await;
            Ok(())
        }
        None => Ok(weir_tls::serve_plain(listener, router, shutdown).await?),
    }
}

impl Stack {
    pub(crate) async fn start(
        database_url: &str,
        data_dir: &std::path::Path,
        tuning: &Tuning,
        cluster_secret: Option<&str>,
        master_key_file: Option<&std::path::Path>,
        auth: Option<&std::path::Path>,
        internal_ca: Option<&[u8]>,
    ) -> anyhow::Result<Self> {
        let clustered = cluster_secret.is_some();
        let store = MetaStore::connect(database_url).await.with_context(|| {
            format!("cannot open the metadata store at {}", redact(database_url))
        })?;
        let control_plane = ControlPlane::new(
            store.clone(),
            ControlPlaneConfig {
                region: tuning.region.clone(),
                shard_limit: tuning.shard_limit,
                reshard_delay: std::time::Duration::from_millis(tuning.reshard_delay_ms),
                create_delay: std::time::Duration::from_millis(tuning.create_delay_ms),
                lease_timeout: std::time::Duration::from_millis(tuning.lease_timeout_ms),
                replication_factor: tuning.replication_factor.max(1),
                replace_after: std::time::Duration::from_millis(tuning.replace_after_ms),
                rebalance_every: std::time::Duration::from_millis(tuning.rebalance_interval_ms),
                shard_limits: tuning.shard_limits,
                ..ControlPlaneConfig::default()
            },
        )
        .await?;
        if clustered {
            // Reshards seal shards on the nodes that hold them; the in-process data plane
            // below then only serves management calls that nodes forward.
            let nodes = weir_control_plane::node_client::NodeClient::new(
                cluster_secret.unwrap_or_default(),
                internal_ca,
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            control_plane.attach_fence(Arc::new(
                weir_control_plane::node_client::RemoteFence::new(&control_plane, nodes.clone()),
            ));
            weir_control_plane::reconcile::spawn_reconciler(&control_plane, nodes);
            // The console's record browser reads on each shard's leader.
            control_plane.attach_record_reader(
                weir_control_plane::rest_browse::RecordReader::cluster(
                    cluster_secret.unwrap_or_default(),
                    internal_ca,
                )
                .map_err(|e| anyhow::anyhow!(e))?,
            );
        }
        weir_control_plane::autoscale::spawn_autoscaler(&control_plane, tuning.scaling.policy());
        weir_control_plane::metrics_history::spawn_sampler(
            &control_plane,
            std::time::Duration::from_millis(tuning.metrics_sample_ms.max(100)),
        );
        let mut config = DataPlaneConfig::new(data_dir);
        config.log.segment_bytes = tuning.segment_bytes;
        config.max_in_flight = tuning.max_in_flight;
        config.subscription_lifetime =
            std::time::Duration::from_millis(tuning.subscription_lifetime_ms.max(1));
        config.cluster_secret = cluster_secret.map(str::to_string);
        config.tier = tuning.tier.open(data_dir).await?;
        if let Some(setup) = &config.tier {
            control_plane.attach_tier_store(Arc::clone(&setup.store));
            tracing::info!(store = %setup.store.describe(), "cold tier");
        }
        // The master key ring seals encrypted streams' data keys (and, with --auth,
        // access keys): `WEIR_MASTER_KEY`, or the file, created on first start.
        if let Some(master_key_file) = master_key_file {
            let master =
                weir_auth::MasterKey::from_env_or_file(master_key_file).with_context(|| {
                    format!(
                        "cannot load the master key (WEIR_MASTER_KEY or {})",
                        master_key_file.display()
                    )
                })?;
            control_plane.attach_master_key(master.clone());
            config.master_key = Some(master);
        }
        let bootstrap = match auth {
            Some(master_key_file) => {
                crate::security_args::enable(&control_plane, store, master_key_file).await?
            }
            None => None,
        };
        let data_plane = DataPlane::start_default(control_plane.ports(), config).await?;
        Ok(Self {
            control_plane,
            data_plane,
            cluster_secret: cluster_secret.map(str::to_string),
            bootstrap,
            internal_ca: internal_ca.map(<[u8]>::to_vec),
        })
    }

    /// Serves until `until` completes (Ctrl-C or SIGTERM, say). `start_nodes` runs once
    /// the REST API (which nodes register with) is up; `banner` then prints what the user
    /// needs.
    pub(crate) async fn serve<F>(
        self,
        kinesis: Option<TcpListener>,
        rest: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        start_nodes: F,
        banner: impl FnOnce(&[(String, String)]),
        until: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()>
    where
        F: std::future::Future<Output = anyhow::Result<Option<Arc<crate::cluster::LocalPool>>>>,
    {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        if let (None, Some(listener)) = (&self.cluster_secret, &kinesis) {
            // One process: the console's record browser reads from this Kinesis endpoint.
            let mut addr = listener.local_addr()?;
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr {
                    SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            let scheme = if tls.is_some() { "https" } else { "http" };
            match weir_control_plane::rest_browse::RecordReader::local(
                format!("{scheme}://{addr}"),
                self.internal_ca.as_deref(),
            ) {
                Ok(reader) => self.control_plane.attach_record_reader(reader),
                Err(error) => tracing::warn!(%error, "the console cannot browse records"),
            }
        }
        let mut rest_router = weir_control_plane::rest::router(Arc::clone(&self.control_plane))
            .merge(weir_config::rest::router(Arc::clone(&self.control_plane)));
        if let Some(secret) = self.cluster_secret.clone() {
            let internal = weir_control_plane::internal::router(Arc::clone(&self.control_plane))
                .merge(weir_data_plane::router_at(
                    Arc::clone(&self.data_plane),
                    "/internal/v1/kinesis",
                ))
                .layer(axum::middleware::from_fn_with_state(
                    Arc::new(secret.into_bytes()),
                    weir_control_plane::internal::require_internal_token,
                ));
            rest_router = rest_router.merge(internal);
        }
        if let Some(security) = self.control_plane.security() {
            rest_router = rest_router.layer(axum::middleware::from_fn_with_state(
                security,
                weir_control_plane::rest_security::authenticate,
            ));
        }
        let rest_router = rest_router.layer(axum::middleware::from_fn(weir_trace::trace_requests));
        let rest_task = tokio::spawn(serve_on(
            rest,
            rest_router,
            tls.clone(),
            stopped(stop_rx.clone()),
        ));
        let kinesis_task = kinesis.map(|listener| {
            tokio::spawn(serve_on(
                listener,
                weir_data_plane::router(Arc::clone(&self.data_plane))
                    .layer(axum::middleware::from_fn(weir_trace::trace_requests)),
                tls.clone(),
                stopped(stop_rx.clone()),
            ))
        });
        let pool = start_nodes.await?;
        let endpoints = match &pool {
            Some(pool) => pool.endpoints().await,
            None => Vec::new(),
        };
        banner(&endpoints);
        until.await;
        eprintln!("Shutting down: finishing in-flight requests and closing shard logs...");
        let _ = stop_tx.send(true);
        // Subscriptions stream for minutes: end them so the server can drain.
        self.data_plane.end_subscriptions();
        if let Some(pool) = pool {
            pool.stop_all().await;
        }
        rest_task.await??;
        if let Some(task) = kinesis_task {
            task.await??;
        }
        self.data_plane.shutdown().await;
        eprintln!("Stopped.");
        Ok(())
    }
}

pub(crate) async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for the {what} on {addr}: is another process using the port? Pick another with the matching --*-addr flag"))
}

pub(crate) async fn shutdown_signal() {
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
