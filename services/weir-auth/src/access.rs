//! The access state every process checks requests against: principals with their role
//! bindings and the access keys that authenticate them.
//!
//! The control plane owns the durable copy (in the metadata store) and keeps one of these
//! in memory; each data-plane node keeps its own, replaced from every heartbeat answer
//! ([`AuthSnapshot`]). Keys travel and rest sealed with the master key; a table opens
//! them once, when they are installed, so a request costs one map lookup.

use std::collections::HashMap;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::{AccessKeyId, Action, Binding, Credential, Denied, EncryptedSecret, MasterKey, Role};

/// A user or service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRecord {
    /// Unique name.
    pub name: String,
    /// `user` or `service`.
    pub kind: String,
    /// Creation time.
    pub created_at_ms: i64,
    /// `(role, stream pattern)` pairs.
    pub bindings: Vec<(String, String)>,
}

/// An access key; the secret is sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    /// The public id (`WKIA...`).
    pub access_key_id: String,
    /// Who it belongs to.
    pub principal: String,
    /// The secret, encrypted with the master key.
    pub secret_sealed: String,
    /// Creation time.
    pub created_at_ms: i64,
}

/// What nodes need to verify Kinesis requests themselves: principals with bindings, and
/// access keys still sealed (nodes hold the master key to open them). Sent with every
/// heartbeat answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthSnapshot {
    /// Every principal.
    pub principals: Vec<PrincipalRecord>,
    /// Every access key, secret sealed.
    pub keys: Vec<AccessKeyRecord>,
}

/// A principal as stored, with its bindings parsed once (every request checks them).
struct Principal {
    record: PrincipalRecord,
    bindings: Vec<Binding>,
}

impl Principal {
    fn new(record: PrincipalRecord) -> Self {
        let bindings = record
            .bindings
            .iter()
            .filter_map(|(role, pattern)| {
                Some(Binding::new(role.parse::<Role>().ok()?, pattern.clone()))
            })
            .collect();
        Self { record, bindings }
    }
}

/// Principals and opened access keys, in memory.
pub struct AccessTable {
    master: MasterKey,
    principals: RwLock<HashMap<String, Principal>>,
    credentials: RwLock<HashMap<String, Credential>>,
    sealed_keys: RwLock<Vec<AccessKeyRecord>>,
}

impl std::fmt::Debug for AccessTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTable")
            .field("principals", &self.principals.read().len())
            .finish_non_exhaustive()
    }
}

impl AccessTable {
    /// An empty table whose keys are opened with `master`.
    pub fn new(master: MasterKey) -> Self {
        Self {
            master,
            principals: RwLock::new(HashMap::new()),
            credentials: RwLock::new(HashMap::new()),
            sealed_keys: RwLock::new(Vec::new()),
        }
    }

    /// The master key, to seal new secrets and signing keys.
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// Replaces every principal and key. A key that cannot be opened (another master
    /// key, altered data) is logged and left out, so it is refused rather than trusted.
    pub fn install(&self, principals: Vec<PrincipalRecord>, keys: Vec<AccessKeyRecord>) {
        let mut credentials = HashMap::new();
        for key in &keys {
            match self.open_key(key) {
                Ok(credential) => {
                    credentials.insert(key.access_key_id.clone(), credential);
                }
                Err(error) => {
                    tracing::error!(access_key_id = %key.access_key_id, %error, "cannot decrypt an access key; it will be refused");
                }
            }
        }
        *self.principals.write() = principals
            .into_iter()
            .map(|p| (p.name.clone(), Principal::new(p)))
            .collect();
        *self.credentials.write() = credentials;
        *self.sealed_keys.write() = keys;
    }

    /// Replaces the table with a heartbeat's copy.
    pub fn apply(&self, snapshot: AuthSnapshot) {
        self.install(snapshot.principals, snapshot.keys);
    }

    /// The table as nodes receive it.
    pub fn snapshot(&self) -> AuthSnapshot {
        AuthSnapshot {
            principals: self.principals(),
            keys: self.sealed_keys.read().clone(),
        }
    }

    fn open_key(&self, key: &AccessKeyRecord) -> Result<Credential, crate::AuthError> {
        let id: AccessKeyId = key.access_key_id.parse()?;
        let sealed: EncryptedSecret = key.secret_sealed.parse()?;
        let secret = self.master.decrypt_secret(&id, &sealed)?;
        Ok(Credential {
            principal: key.principal.clone(),
            secret_access_key: secret,
            session_token: None,
        })
    }

    /// The credential of an access key, for SigV4 verification.
    pub fn credential(&self, access_key_id: &str) -> Option<Credential> {
        self.credentials.read().get(access_key_id).cloned()
    }

    /// Checks `principal` may perform `action` (on `stream`, when the action is about one).
    pub fn authorize(
        &self,
        principal: &str,
        action: Action,
        stream: Option<&str>,
    ) -> Result<(), Denied> {
        let principals = self.principals.read();
        let bindings = principals.get(principal).map_or(&[][..], |p| &p.bindings);
        crate::authorize(principal, bindings, action, stream)
    }

    /// Whether a principal exists (a token of a deleted principal stops working).
    pub fn contains(&self, principal: &str) -> bool {
        self.principals.read().contains_key(principal)
    }

    /// A principal's record.
    pub fn principal(&self, name: &str) -> Option<PrincipalRecord> {
        self.principals.read().get(name).map(|p| p.record.clone())
    }

    /// Every principal, in name order.
    pub fn principals(&self) -> Vec<PrincipalRecord> {
        let mut list: Vec<_> = self
            .principals
            .read()
            .values()
            .map(|p| p.record.clone())
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Access key ids of a principal, sorted.
    pub fn key_ids(&self, principal: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .credentials
            .read()
            .iter()
            .filter(|(_, c)| c.principal == principal)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Adds or replaces a principal.
    pub fn put_principal(&self, record: PrincipalRecord) {
        self.principals
            .write()
            .insert(record.name.clone(), Principal::new(record));
    }

    /// Removes a principal and its keys.
    pub fn remove_principal(&self, name: &str) {
        self.principals.write().remove(name);
        self.credentials.write().retain(|_, c| c.principal != name);
        self.sealed_keys.write().retain(|k| k.principal != name);
    }

    /// Adds a key whose secret the caller already holds in the clear.
    pub fn add_key(&self, record: AccessKeyRecord, credential: Credential) {
        self.credentials
            .write()
            .insert(record.access_key_id.clone(), credential);
        self.sealed_keys.write().push(record);
    }

    /// Removes a key.
    pub fn remove_key(&self, access_key_id: &str) {
        self.credentials.write().remove(access_key_id);
        self.sealed_keys
            .write()
            .retain(|k| k.access_key_id != access_key_id);
    }
}
