//! Authentication and TLS flags of the server subcommands, and turning them into a running
//! configuration (the security state, the TLS server config).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use weir_auth::{AccessKey, MasterKey, SecretAccessKey};
use weir_control_plane::security::{Bootstrap, Security};
use weir_control_plane::{ControlPlane, MetaStore};

/// Options of `weir up` (loopback only, so both are opt-in).
#[derive(Debug, Clone, Args)]
pub struct UpSecurity {
    /// Require SigV4-signed Kinesis requests and bearer tokens on the REST API. The
    /// first start creates an administrator and prints its access key once.
    #[arg(long)]
    pub auth: bool,
    /// Serve HTTPS (HTTP/2 by ALPN) with certificates from a local CA created under
    /// `<data dir>/tls`; prints how to trust it.
    #[arg(long)]
    pub tls: bool,
}

/// Options of the production servers.
#[derive(Debug, Clone, Args)]
pub struct ServerSecurity {
    /// PEM certificate chain of this server.
    #[arg(long, env = "WEIR_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of this server.
    #[arg(long, env = "WEIR_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plaintext HTTP. Only for a network you trust end to end.
    #[arg(long)]
    pub insecure_plaintext: bool,
    /// PEM CA bundle trusted for calls to the other processes of this cluster (control
    /// plane and nodes). With it, those calls use TLS; give it whenever the cluster
    /// serves TLS.
    #[arg(long, env = "WEIR_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
}

impl ServerSecurity {
    /// The cluster CA's PEM, when `--tls-ca` is given.
    pub fn internal_ca(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.tls_ca
            .as_ref()
            .map(|path| {
                std::fs::read(path)
                    .with_context(|| format!("cannot read the cluster CA {}", path.display()))
            })
            .transpose()
    }
}

/// Options of `weir control-plane` about authentication.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Turn authentication off (a trusted test network only).
    #[arg(long)]
    pub no_auth: bool,
    /// File with the 32-byte master key that encrypts access-key secrets and signing keys
    /// at rest (created if missing); WEIR_MASTER_KEY (base64) takes precedence.
    #[arg(long, env = "WEIR_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl ServerSecurity {
    /// The TLS config, or `None` with `--insecure-plaintext`; refuses to run without one.
    pub fn tls(&self) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(Arc::new(
                weir_tls::tls_config(cert, key, None)
                    .with_context(|| format!("cannot load TLS certificate {}", cert.display()))?,
            ))),
            _ if self.insecure_plaintext => Ok(None),
            _ => bail!(
                "refusing to serve plaintext: give --tls-cert and --tls-key (or WEIR_TLS_CERT/WEIR_TLS_KEY), or --insecure-plaintext on a network you trust"
            ),
        }
    }
}

/// A local CA and server certificate under `<data dir>/tls` for `weir up --tls`: the
/// server config and the CA, certificate and key files (the nodes of `weir up --nodes`
/// serve the same loopback certificate).
pub struct LocalTls {
    /// The TLS server config.
    pub config: Arc<rustls::ServerConfig>,
    /// The CA certificate to trust.
    pub ca: PathBuf,
    /// The server certificate chain.
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
}

/// Creates (or loads) the local CA of `weir up --tls`.
pub fn local_tls(data_dir: &Path) -> anyhow::Result<LocalTls> {
    let dir = data_dir.join("tls");
    let ca = weir_tls::LocalCa::load_or_create(&dir, &[])
        .with_context(|| format!("cannot create the local CA in {}", dir.display()))?;
    let config = weir_tls::tls_config(&ca.server_cert_path(), &ca.server_key_path(), None)?;
    Ok(LocalTls {
        config: Arc::new(config),
        ca: ca.ca_cert_path(),
        cert: ca.server_cert_path(),
        key: ca.server_key_path(),
    })
}

/// Opens the security state and turns authentication on for `control_plane`.
pub async fn enable(
    control_plane: &Arc<ControlPlane>,
    store: MetaStore,
    master_key_file: &Path,
) -> anyhow::Result<Option<Bootstrap>> {
    let master = MasterKey::from_env_or_file(master_key_file).with_context(|| {
        format!(
            "cannot load the master key (WEIR_MASTER_KEY or {})",
            master_key_file.display()
        )
    })?;
    let (security, bootstrap) = Security::open(store, master, bootstrap_key_from_env()?).await?;
    control_plane.attach_security(security);
    Ok(bootstrap)
}

/// `WEIR_BOOTSTRAP_ACCESS_KEY_ID` / `WEIR_BOOTSTRAP_SECRET_ACCESS_KEY`, for production
/// deployments that provision the first administrator from a secret.
fn bootstrap_key_from_env() -> anyhow::Result<Option<AccessKey>> {
    match (
        std::env::var("WEIR_BOOTSTRAP_ACCESS_KEY_ID"),
        std::env::var("WEIR_BOOTSTRAP_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) => Ok(Some(AccessKey {
            id: id.parse().context("WEIR_BOOTSTRAP_ACCESS_KEY_ID")?,
            secret: SecretAccessKey::new(secret),
        })),
        _ => Ok(None),
    }
}

/// Prints bootstrap credentials once, to stdout only (never to the log).
pub fn print_bootstrap(bootstrap: &Bootstrap) {
    println!("Authentication is on. Administrator credentials (shown once; store them now):");
    println!("Access key id:     {}", bootstrap.key.id);
    println!("Secret access key: {}", bootstrap.key.secret.expose());
}
