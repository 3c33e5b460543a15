//! Server-side encryption of streams (StartStreamEncryption / StopStreamEncryption) and
//! master-key rotation.
//!
//! Starting encryption stores, in one conditional write, the KeyId and a data key sealed
//! by the master key; nodes learn both with the stream's metadata and seal every record
//! written after that (weir-data-plane `encryption`). A KeyId the stream used before gets
//! its old data key back; a new KeyId gets a new data key. Stopping clears the KeyId only:
//! every data key stays for the stream's life, so records written under it stay readable.
//! The stream is UPDATING for `--reshard-delay-ms`, as Kinesis reports it, and in a
//! cluster for at least a node lease, so that from ACTIVE on every node seals.
//!
//! After `weir master-key rotate` the ring's current key is new; [`spawn_rewrap`] re-seals
//! every data key still sealed under a retired key, so the retired key can then be
//! dropped (`weir master-key retire`).

use std::sync::Arc;
use std::time::Duration;

use weir_auth::{DataKey, MasterKey};
use weir_contracts::{
    ControlPlaneError, SealedDataKey, StreamEncryption, StreamRecord, StreamStatus,
};

use crate::ControlPlane;

/// How often the rewrap reconciler looks for data keys sealed under a retired master key.
const REWRAP_INTERVAL: Duration = Duration::from_secs(10);

impl ControlPlane {
    /// Gives the control plane the deployment's master key ring, which seals data keys.
    pub fn attach_master_key(self: &Arc<Self>, master: MasterKey) {
        // Only a rotated ring (with retired keys) can have anything to re-seal.
        let rotated = master.len() > 1;
        if self.master_key.set(master).is_ok() && rotated {
            spawn_rewrap(self);
        }
    }

    fn master_key(&self) -> Result<&MasterKey, ControlPlaneError> {
        self.master_key.get().ok_or_else(|| {
            ControlPlaneError::InvalidArgument(
                "Encryption at rest needs the deployment's master key: start the control plane with WEIR_MASTER_KEY or --master-key-file.".into(),
            )
        })
    }

    /// StartStreamEncryption (`Some(key_id)`) or StopStreamEncryption (`None`).
    pub async fn update_encryption(
        self: &Arc<Self>,
        name: &str,
        key_id: Option<String>,
    ) -> Result<(), ControlPlaneError> {
        let guard = self.mutation.lock().await;
        let stream = self.stream(name)?;
        let account = &self.config().account_id;
        self.require_active(&stream)?;
        let mut data_keys = stream.data_keys.clone();
        let encryption = match key_id {
            None => None,
            Some(key_id) => {
                let existing = data_keys.iter().rev().find(|k| k.key_id == key_id);
                let version = match existing {
                    Some(key) => key.version,
                    None => {
                        let version = data_keys.last().map_or(1, |k| k.version + 1);
                        let sealed =
                            DataKey::generate().seal(self.master_key()?, stream.uid, version);
                        let sealed = sealed.map_err(|e| {
                            ControlPlaneError::Store(format!("cannot seal a data key: {e}"))
                        })?;
                        data_keys.push(SealedDataKey {
                            version,
                            key_id: key_id.clone(),
                            sealed,
                        });
                        version
                    }
                };
                Some(StreamEncryption {
                    key_id,
                    data_key_version: version,
                })
            }
        };
        let written = self
            .store()
            .set_encryption(
                name,
                stream.uid,
                StreamStatus::Updating,
                encryption.as_ref(),
                &data_keys,
            )
            .await?;
        if !written {
            return Err(ControlPlaneError::InUse(format!(
                "Stream {name} under account {account} changed while its encryption was being updated; retry."
            )));
        }
        let updated = self.replace(&stream, |s| {
            s.status = StreamStatus::Updating;
            s.encryption = encryption.clone();
            s.data_keys = data_keys;
        })?;
        drop(guard);
        tracing::info!(
            stream = %name,
            key = encryption.as_ref().map_or("NONE", |e| e.key_id.as_str()),
            "stream encryption changing"
        );
        // Nodes learn of the change with their next heartbeat answer, and a node serves
        // only while its lease holds: once a lease has passed, every node still serving
        // has the change, so every record written after ACTIVE is sealed.
        let settle = if self.placement.nodes.lock().is_empty() {
            self.config().reshard_delay
        } else {
            self.config().reshard_delay.max(self.config().lease_timeout)
        };
        let cp = Arc::clone(self);
        let name = name.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(settle).await;
            cp.finish_update(&name, &updated).await;
        });
        Ok(())
    }

    /// Sets a stream UPDATING since `updated` back to ACTIVE, unless it changed since.
    async fn finish_update(&self, name: &str, updated: &StreamRecord) {
        let _guard = self.mutation.lock().await;
        let Ok(current) = self.stream(name) else {
            return;
        };
        if current.uid != updated.uid || current.status != StreamStatus::Updating {
            return;
        }
        match self.store().set_status(name, StreamStatus::Active).await {
            Ok(_) => {
                let _ = self.replace(&current, |s| s.status = StreamStatus::Active);
            }
            Err(error) => {
                tracing::error!(stream = %name, %error, "could not finish an encryption change")
            }
        }
    }

    /// Re-seals under the current master key every data key sealed under a retired one;
    /// answers how many were re-sealed.
    pub async fn rewrap_data_keys(&self) -> Result<usize, ControlPlaneError> {
        // A ring with no retired key has nothing sealed under one: nothing to open.
        let Some(master) = self.master_key.get().filter(|m| m.len() > 1) else {
            return Ok(0);
        };
        let mut rewrapped = 0;
        for stream in self.catalog().list_streams(None, usize::MAX).0 {
            if stream.data_keys.is_empty() {
                continue;
            }
            let _guard = self.mutation.lock().await;
            let Ok(stream) = self.stream(&stream.name) else {
                continue;
            };
            let mut keys = stream.data_keys.clone();
            let mut changed = 0;
            for key in &mut keys {
                match DataKey::reseal(&key.sealed, master, stream.uid, key.version) {
                    Ok(Some(sealed)) => {
                        key.sealed = sealed;
                        changed += 1;
                    }
                    Ok(None) => {}
                    Err(error) => tracing::error!(
                        stream = %stream.name,
                        version = key.version,
                        %error,
                        "a data key opens with no key of the master key ring; its records cannot be read"
                    ),
                }
            }
            if changed == 0 {
                continue;
            }
            let written = self
                .store()
                .set_encryption(
                    &stream.name,
                    stream.uid,
                    stream.status,
                    stream.encryption.as_ref(),
                    &keys,
                )
                .await?;
            if written {
                self.replace(&stream, |s| s.data_keys = keys)?;
                rewrapped += changed;
            }
        }
        Ok(rewrapped)
    }
}

/// Runs the rewrap reconciler: at start, then every [`REWRAP_INTERVAL`].
fn spawn_rewrap(control_plane: &Arc<ControlPlane>) {
    let weak = Arc::downgrade(control_plane);
    tokio::spawn(async move {
        loop {
            let Some(cp) = weak.upgrade() else { return };
            match cp.rewrap_data_keys().await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(keys = n, "re-sealed data keys under the current master key")
                }
                Err(error) => tracing::warn!(%error, "could not re-seal data keys; will retry"),
            }
            drop(cp);
            tokio::time::sleep(REWRAP_INTERVAL).await;
        }
    });
}
