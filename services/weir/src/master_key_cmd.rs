//! `weir master-key`: rotate and retire the master key ring that seals streams' data keys,
//! access keys and token signing keys.
//!
//! Rotation is online and loses nothing: `rotate` puts a new current key in front of the
//! ring and keeps the old ones, which still open what they sealed. Processes started with
//! the new ring re-seal everything under the current key (the control plane's rewrap
//! reconciler for data keys, its start-up for access and signing keys). `status` counts
//! what is still sealed under a retired key; `retire` drops the retired keys, and refuses
//! while anything still needs them.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use weir_auth::{DataKey, MasterKey};
use weir_meta::MetaStore;

/// `weir master-key`.
#[derive(Debug, Args)]
pub struct MasterKeyArgs {
    #[command(subcommand)]
    action: MasterKeyAction,
}

#[derive(Debug, Subcommand)]
enum MasterKeyAction {
    /// Put a new current key in front of the ring; the old keys stay to open what they
    /// sealed. Restart Weir (or roll its processes) to use it.
    Rotate(KeyFile),
    /// Count the data keys still sealed under a retired key (0 means `retire` is safe).
    Status(KeyFileAndStore),
    /// Drop the retired keys once nothing is sealed under them any more.
    Retire(KeyFileAndStore),
}

#[derive(Debug, Args)]
struct KeyFile {
    /// The data folder of `weir up` (its key is <data dir>/master.key).
    #[arg(long, default_value = ".weir")]
    data_dir: PathBuf,
    /// The master key file, when it is not <data dir>/master.key.
    #[arg(long)]
    master_key_file: Option<PathBuf>,
}

impl KeyFile {
    fn path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    fn load(&self) -> anyhow::Result<MasterKey> {
        let path = self.path();
        if !path.exists() {
            bail!(
                "no master key at {}: give --data-dir or --master-key-file (a key in WEIR_MASTER_KEY is rotated by whoever sets it)",
                path.display()
            );
        }
        MasterKey::load_or_create(&path)
            .with_context(|| format!("cannot read the master key {}", path.display()))
    }
}

#[derive(Debug, Args)]
struct KeyFileAndStore {
    #[command(flatten)]
    file: KeyFile,
    /// The metadata store (default: `weir up`'s SQLite file in the data folder).
    #[arg(long, env = "WEIR_DATABASE_URL")]
    database_url: Option<String>,
}

impl KeyFileAndStore {
    /// Data keys sealed under a retired key, and those no key of the ring opens.
    async fn count_stale(&self, ring: &MasterKey) -> anyhow::Result<(usize, usize)> {
        let url = self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rw",
                self.file.data_dir.join("meta.db").display()
            )
        });
        let store = MetaStore::connect(&url)
            .await
            .context("cannot open the metadata store (give --database-url)")?;
        let current_only = ring.current_only();
        let (mut stale, mut lost) = (0, 0);
        for stream in store.load_streams().await? {
            for key in &stream.data_keys {
                if DataKey::open(&key.sealed, &current_only, stream.uid, key.version).is_ok() {
                    continue;
                }
                if DataKey::open(&key.sealed, ring, stream.uid, key.version).is_ok() {
                    stale += 1;
                } else {
                    lost += 1;
                }
            }
        }
        Ok((stale, lost))
    }
}

/// Runs `weir master-key`.
pub async fn run(args: MasterKeyArgs) -> anyhow::Result<()> {
    match args.action {
        MasterKeyAction::Rotate(file) => {
            let ring = file.load()?.rotated();
            ring.save(&file.path())
                .with_context(|| format!("cannot write {}", file.path().display()))?;
            println!(
                "New master key in {} ({} keys: 1 current, {} retired).",
                file.path().display(),
                ring.len(),
                ring.len() - 1
            );
            println!("Next: restart Weir so it seals with the new key; it re-seals data, access and signing keys on its own.");
            println!(
                "Then `weir master-key status` until it reports 0, and `weir master-key retire`."
            );
            Ok(())
        }
        MasterKeyAction::Status(target) => {
            let ring = target.file.load()?;
            let (stale, lost) = target.count_stale(&ring).await?;
            println!(
                "{} keys in the ring; {stale} data keys still sealed under a retired key; {lost} open with no key of the ring.",
                ring.len()
            );
            Ok(())
        }
        MasterKeyAction::Retire(target) => {
            let ring = target.file.load()?;
            if ring.len() == 1 {
                println!("Nothing to retire: the ring holds only its current key.");
                return Ok(());
            }
            let (stale, _) = target.count_stale(&ring).await?;
            if stale > 0 {
                bail!("{stale} data keys are still sealed under a retired key: start Weir with the rotated ring and wait for it to re-seal them (`weir master-key status`)");
            }
            ring.current_only()
                .save(&target.file.path())
                .with_context(|| format!("cannot write {}", target.file.path().display()))?;
            println!(
                "Retired {} old keys; {} holds only the current key.",
                ring.len() - 1,
                target.file.path().display()
            );
            Ok(())
        }
    }
}
