//! Cold-tier flags shared by `weir up`, `weir control-plane` and `weir data-plane`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use weir_data_plane::tiering::TierConfig;
use weir_data_plane::TierSetup;
use weir_tier::{LocalFolderStore, ObjectStore, S3Settings, S3Store, TierError};

/// Where sealed segments go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TierKind {
    /// A folder on this machine (`--tier-dir`): the embedded default.
    Local,
    /// An S3 bucket (AWS, MinIO or any S3-compatible server): `--s3-bucket` and friends.
    S3,
    /// No cold tier: data lives on node disks until retention deletes it.
    Off,
}

/// Cold-tier settings.
#[derive(Debug, Clone, Args)]
pub struct TierArgs {
    /// Cold tier backend.
    #[arg(long, value_enum, default_value = "local", env = "WEIR_TIER")]
    pub tier: TierKind,
    /// Folder of the local cold tier (default: `<data dir>/cold`).
    #[arg(long, env = "WEIR_TIER_DIR")]
    pub tier_dir: Option<PathBuf>,
    /// S3 bucket of the cold tier (it must exist).
    #[arg(long, env = "WEIR_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// S3 endpoint URL for S3-compatible servers, e.g. http://127.0.0.1:9000 (default: AWS).
    #[arg(long, env = "WEIR_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region (default: the AWS configuration chain, else us-east-1).
    #[arg(long, env = "WEIR_S3_REGION")]
    pub s3_region: Option<String>,
    /// Prefix for every object key, e.g. `weir/prod/`.
    #[arg(long, default_value = "", env = "WEIR_S3_PREFIX")]
    pub s3_prefix: String,
    /// Path-style addressing (endpoint/bucket/key), needed by MinIO and moto.
    #[arg(long, env = "WEIR_S3_PATH_STYLE")]
    pub s3_path_style: bool,
    /// Access key id for S3 (default: the standard AWS credential chain).
    #[arg(long, env = "WEIR_S3_ACCESS_KEY_ID", requires = "s3_secret_access_key")]
    pub s3_access_key_id: Option<String>,
    /// Secret access key for S3 (read it from the environment, not the command line).
    #[arg(long, env = "WEIR_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Bytes of each shard kept on local disk once uploaded (streams may override).
    #[arg(long, default_value_t = 1024 * 1024 * 1024)]
    pub local_retention_bytes: u64,
    /// Age (ms) after which an uploaded segment leaves local disk (streams may override).
    #[arg(long)]
    pub local_retention_ms: Option<u64>,
    /// How often nodes look for sealed segments to upload (ms).
    #[arg(long, default_value_t = 1000)]
    pub tier_interval_ms: u64,
}

impl TierArgs {
    /// Builds the object store and checks it, or `None` with `--tier off`. A missing
    /// bucket or refused credentials stop start-up with the setting to fix; a store that
    /// cannot be reached only warns (uploads retry; writes never wait on it).
    pub async fn open(&self, data_dir: &Path) -> anyhow::Result<Option<TierSetup>> {
        let store: Arc<dyn ObjectStore> = match self.tier {
            TierKind::Off => return Ok(None),
            TierKind::Local => Arc::new(LocalFolderStore::new(
                self.tier_dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("cold")),
            )),
            TierKind::S3 => {
                let Some(bucket) = self.s3_bucket.clone() else {
                    bail!("--tier s3 needs --s3-bucket (or WEIR_S3_BUCKET): the bucket sealed segments go to");
                };
                Arc::new(
                    S3Store::connect(S3Settings {
                        endpoint: self.s3_endpoint.clone(),
                        region: self.s3_region.clone(),
                        bucket,
                        prefix: self.s3_prefix.clone(),
                        path_style: self.s3_path_style,
                        access_key: self
                            .s3_access_key_id
                            .clone()
                            .zip(self.s3_secret_access_key.clone()),
                        attempt_timeout: Duration::from_secs(10),
                    })
                    .await,
                )
            }
        };
        match store.check().await {
            Ok(()) => {}
            Err(TierError::Unavailable(detail)) => {
                tracing::warn!(store = %store.describe(), %detail, "cold tier unreachable at start-up; uploads will retry");
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cold tier {}", store.describe()))
            }
        }
        Ok(Some(TierSetup {
            store,
            config: TierConfig {
                local_retention_bytes: self.local_retention_bytes,
                local_retention_ms: self.local_retention_ms,
                interval: Duration::from_millis(self.tier_interval_ms.max(10)),
                ..TierConfig::default()
            },
        }))
    }

    /// Secrets node processes need, passed through their environment (not `ps`).
    pub fn node_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let (Some(id), Some(secret)) = (&self.s3_access_key_id, &self.s3_secret_access_key) {
            env.push(("WEIR_S3_ACCESS_KEY_ID".to_string(), id.clone()));
            env.push(("WEIR_S3_SECRET_ACCESS_KEY".to_string(), secret.clone()));
        }
        env
    }

    /// The flags to give node processes started by `weir up --nodes`, so they share
    /// this cold tier (secrets go through the environment instead).
    pub fn node_flags(&self, data_dir: &Path) -> Vec<String> {
        let mut flags = vec![
            "--tier".to_string(),
            self.tier
                .to_possible_value()
                .map_or_else(String::new, |v| v.get_name().to_string()),
            "--local-retention-bytes".into(),
            self.local_retention_bytes.to_string(),
            "--tier-interval-ms".into(),
            self.tier_interval_ms.to_string(),
            "--tier-dir".into(),
            self.tier_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("cold"))
                .display()
                .to_string(),
            "--s3-prefix".into(),
            self.s3_prefix.clone(),
        ];
        if let Some(ms) = self.local_retention_ms {
            flags.extend(["--local-retention-ms".into(), ms.to_string()]);
        }
        for (flag, value) in [
            ("--s3-bucket", &self.s3_bucket),
            ("--s3-endpoint", &self.s3_endpoint),
            ("--s3-region", &self.s3_region),
        ] {
            if let Some(v) = value {
                flags.extend([flag.to_string(), v.clone()]);
            }
        }
        if self.s3_path_style {
            flags.push("--s3-path-style".into());
        }
        flags
    }
}
