//! Who may do what: principals with role bindings, access keys whose secrets are
//! encrypted at rest, Weir's signed bearer tokens, and the audit log.
//!
//! The metadata store holds principals, bindings, keys (sealed with the master key, which
//! lives outside the store: a file or `WEIR_MASTER_KEY`) and the sealed JWT key ring. This
//! type keeps a copy in memory so every request is checked without a database round trip;
//! every change is written to the store first.

mod audit;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use weir_auth::{
    AccessKey, AccessTable, Action, AuthSnapshot, Credential, Denied, JwtError, KeyRing, MasterKey,
    Role, SecretAccessKey, TokenVerifier,
};
use weir_contracts::AuditLog;
use weir_meta::{AccessKeyRecord, MetaStore, PrincipalRecord};

pub use audit::AuditSink;
pub use weir_contracts::Outcome;

use crate::ControlPlaneError;

/// How long a token from `/v1/auth/token` is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Name of the bootstrap administrator.
pub const BOOTSTRAP_ADMIN: &str = "admin";
const KEYRING_STATE: &str = "jwt_keyring";
const ISSUER: &str = "weir";

/// Why a request could not be authenticated (HTTP 401).
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// A bad, missing or expired token.
    #[error("{0}")]
    Token(#[from] JwtError),
    /// The token's principal was deleted.
    #[error("the token's principal {0:?} no longer exists")]
    UnknownPrincipal(String),
    /// Wrong access key id or secret.
    #[error("the access key id or secret access key is wrong")]
    BadCredentials,
}

/// The security state of a deployment.
pub struct Security {
    store: MetaStore,
    /// Principals and opened keys; nodes receive copies of it with heartbeats.
    access: Arc<AccessTable>,
    keyring: RwLock<KeyRing>,
    verifier: RwLock<TokenVerifier>,
    /// Where audit events go.
    pub audit: Arc<AuditSink>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

/// Bootstrap credentials created on this start, to be shown once.
pub struct Bootstrap {
    /// The administrator's new access key.
    pub key: AccessKey,
}

fn store_error(e: impl std::fmt::Display) -> ControlPlaneError {
    ControlPlaneError::InvalidArgument(format!("security state: {e}"))
}

impl Security {
    /// Loads (or on first start creates) the security state. On first start a bootstrap
    /// administrator is created with an access key: `bootstrap_key` when given (production
    /// reads it from a secret), else a generated one returned for printing once.
    pub async fn open(
        store: MetaStore,
        master: MasterKey,
        bootstrap_key: Option<AccessKey>,
    ) -> Result<(Arc<Self>, Option<Bootstrap>), ControlPlaneError> {
        let now = SystemTime::now();
        let keyring = match store.auth_state(KEYRING_STATE).await? {
            Some(sealed) => {
                let ring = KeyRing::unseal(&sealed, &master).map_err(|e| {
                    ControlPlaneError::InvalidArgument(format!(
                        "cannot open the token signing keys ({e}): is this the master key the deployment was created with? (WEIR_MASTER_KEY or the master key file)"
                    ))
                })?;
                if master.len() > 1 {
                    // The ring has retired keys (`weir master-key rotate`): seal the
                    // signing keys under the current one, so the retired ones can go.
                    store
                        .put_auth_state(KEYRING_STATE, &ring.seal(&master).map_err(store_error)?)
                        .await?;
                }
                ring
            }
            None => {
                let ring = KeyRing::generate(ISSUER, TOKEN_LIFETIME, now);
                store
                    .put_auth_state(KEYRING_STATE, &ring.seal(&master).map_err(store_error)?)
                    .await?;
                ring
            }
        };
        let security = Arc::new(Self {
            verifier: RwLock::new(keyring.verifier()),
            keyring: RwLock::new(keyring),
            audit: Arc::new(AuditSink::new(store.clone())),
            store,
            access: Arc::new(AccessTable::new(master)),
        });
        security.reseal_access_keys().await?;
        security.reload().await?;
        let mut bootstrap = None;
        if security.access.principals().is_empty() {
            security
                .create_principal(BOOTSTRAP_ADMIN, "user", vec![("admin".into(), "*".into())])
                .await?;
            let key = match bootstrap_key {
                Some(key) => key,
                None => AccessKey::generate(),
            };
            security.store_key(BOOTSTRAP_ADMIN, &key).await?;
            tracing::info!(principal = BOOTSTRAP_ADMIN, access_key_id = %key.id, "bootstrap administrator created");
            bootstrap = Some(Bootstrap { key });
        }
        Ok((security, bootstrap))
    }

    /// Re-seals under the current master key every access key sealed under a retired one
    /// (after `weir master-key rotate`).
    async fn reseal_access_keys(&self) -> Result<(), ControlPlaneError> {
        let master = self.access.master();
        if master.len() < 2 {
            return Ok(());
        }
        for key in self.store.load_access_keys().await? {
            let Ok(id) = key.access_key_id.parse::<weir_auth::AccessKeyId>() else {
                continue;
            };
            let Ok(sealed) = key.secret_sealed.parse::<weir_auth::EncryptedSecret>() else {
                continue;
            };
            if master.opens_with_current(&sealed, id.as_str().as_bytes()) {
                continue;
            }
            let Ok(secret) = master.decrypt_secret(&id, &sealed) else {
                tracing::error!(access_key_id = %id, "an access key opens with no key of the master key ring");
                continue;
            };
            let resealed = master.encrypt_secret(&id, &secret).map_err(store_error)?;
            self.store
                .reseal_access_key(id.as_str(), &key.secret_sealed, &resealed.to_string())
                .await?;
        }
        Ok(())
    }

    /// The access table requests are checked against (and nodes receive copies of).
    pub fn access(&self) -> &Arc<AccessTable> {
        &self.access
    }

    /// The audit log, for the in-process data plane.
    pub fn audit_log(&self) -> Arc<dyn AuditLog> {
        self.audit.clone()
    }

    /// What nodes need, for heartbeat answers.
    pub fn snapshot(&self) -> AuthSnapshot {
        self.access.snapshot()
    }

    /// Rereads principals and keys from the store.
    pub async fn reload(&self) -> Result<(), ControlPlaneError> {
        let principals = self.store.load_principals().await?;
        let keys = self.store.load_access_keys().await?;
        self.access.install(principals, keys);
        Ok(())
    }

    /// The credential of an access key, for SigV4 verification.
    pub fn credential(&self, access_key_id: &str) -> Option<Credential> {
        self.access.credential(access_key_id)
    }

    /// Checks `principal` may perform `action` (on `stream`, when the action is about one).
    pub fn authorize(
        &self,
        principal: &str,
        action: Action,
        stream: Option<&str>,
    ) -> Result<(), Denied> {
        self.access.authorize(principal, action, stream)
    }

    /// Verifies a bearer token and that its principal still exists; returns the principal.
    pub fn verify_token(&self, token: &str) -> Result<String, AuthFailure> {
        let claims = self.verifier.read().verify(token, SystemTime::now())?;
        if !self.access.contains(&claims.sub) {
            return Err(AuthFailure::UnknownPrincipal(claims.sub));
        }
        Ok(claims.sub)
    }

    /// Exchanges an access key for a bearer token: `(token, expiry in ms)`.
    pub fn issue_token(
        &self,
        access_key_id: &str,
        secret: &str,
    ) -> Result<(String, String, i64), AuthFailure> {
        let credential = self
            .credential(access_key_id)
            .ok_or(AuthFailure::BadCredentials)?;
        let expected = credential.secret_access_key.expose().as_bytes();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expected, secret.as_bytes())) {
            return Err(AuthFailure::BadCredentials);
        }
        let now = SystemTime::now();
        let token = self.keyring.read().issue(&credential.principal, now)?;
        let expires = now + TOKEN_LIFETIME;
        let expires_ms = expires
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Ok((token, credential.principal, expires_ms))
    }

    /// Starts signing new tokens with a fresh key; tokens signed with older keys stay
    /// valid until they expire. Returns the new key id.
    pub async fn rotate_signing_key(&self) -> Result<String, ControlPlaneError> {
        let now = SystemTime::now();
        let (sealed, kid, verifier) = {
            let mut ring = self.keyring.write();
            ring.prune(now);
            let kid = ring.rotate(now).to_string();
            (
                ring.seal(self.access.master()).map_err(store_error)?,
                kid,
                ring.verifier(),
            )
        };
        self.store.put_auth_state(KEYRING_STATE, &sealed).await?;
        *self.verifier.write() = verifier;
        Ok(kid)
    }

    /// Every principal.
    pub fn principals(&self) -> Vec<PrincipalRecord> {
        self.access.principals()
    }

    /// Access key ids of a principal.
    pub fn key_ids(&self, principal: &str) -> Vec<String> {
        self.access.key_ids(principal)
    }

    /// Creates a principal.
    pub async fn create_principal(
        &self,
        name: &str,
        kind: &str,
        bindings: Vec<(String, String)>,
    ) -> Result<PrincipalRecord, ControlPlaneError> {
        validate_principal(name, kind, &bindings)?;
        let record = PrincipalRecord {
            name: name.to_string(),
            kind: kind.to_string(),
            created_at_ms: crate::service::now_ms(),
            bindings,
        };
        match self.store.insert_principal(&record).await {
            Err(weir_meta::MetaError::AlreadyExists(_)) => {
                return Err(ControlPlaneError::InUse(format!(
                    "Principal {name} already exists."
                )))
            }
            other => other?,
        }
        self.access.put_principal(record.clone());
        Ok(record)
    }

    /// Replaces a principal's bindings.
    pub async fn set_bindings(
        &self,
        name: &str,
        bindings: Vec<(String, String)>,
    ) -> Result<PrincipalRecord, ControlPlaneError> {
        validate_bindings(&bindings)?;
        if !self.store.set_bindings(name, &bindings).await? {
            return Err(ControlPlaneError::NotFound(format!(
                "Principal {name} does not exist."
            )));
        }
        let mut record = self.access.principal(name).ok_or_else(|| {
            ControlPlaneError::NotFound(format!("Principal {name} does not exist."))
        })?;
        record.bindings = bindings;
        self.access.put_principal(record.clone());
        Ok(record)
    }

    /// Deletes a principal and its keys; its tokens stop working at once.
    pub async fn delete_principal(&self, name: &str) -> Result<(), ControlPlaneError> {
        if !self.store.delete_principal(name).await? {
            return Err(ControlPlaneError::NotFound(format!(
                "Principal {name} does not exist."
            )));
        }
        self.access.remove_principal(name);
        Ok(())
    }

    /// Issues a new access key for a principal; the secret is returned only here.
    pub async fn create_key(&self, principal: &str) -> Result<AccessKey, ControlPlaneError> {
        if !self.access.contains(principal) {
            return Err(ControlPlaneError::NotFound(format!(
                "Principal {principal} does not exist."
            )));
        }
        let key = AccessKey::generate();
        self.store_key(principal, &key).await?;
        Ok(key)
    }

    async fn store_key(&self, principal: &str, key: &AccessKey) -> Result<(), ControlPlaneError> {
        let sealed = self
            .access
            .master()
            .encrypt_secret(&key.id, &key.secret)
            .map_err(store_error)?;
        let record = AccessKeyRecord {
            access_key_id: key.id.to_string(),
            principal: principal.to_string(),
            secret_sealed: sealed.to_string(),
            created_at_ms: crate::service::now_ms(),
        };
        self.store.insert_access_key(&record).await?;
        self.access.add_key(
            record,
            Credential {
                principal: principal.to_string(),
                secret_access_key: SecretAccessKey::new(key.secret.expose()),
                session_token: None,
            },
        );
        Ok(())
    }

    /// Revokes an access key.
    pub async fn delete_key(&self, principal: &str, id: &str) -> Result<(), ControlPlaneError> {
        if !self.store.delete_access_key(principal, id).await? {
            return Err(ControlPlaneError::NotFound(format!(
                "Access key {id} of {principal} does not exist."
            )));
        }
        self.access.remove_key(id);
        Ok(())
    }
}

fn validate_principal(
    name: &str,
    kind: &str,
    bindings: &[(String, String)],
) -> Result<(), ControlPlaneError> {
    let valid_name = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if !valid_name {
        return Err(ControlPlaneError::InvalidArgument(format!(
            "Invalid principal name {name:?}: use 1-128 of [A-Za-z0-9-_.@]."
        )));
    }
    if kind != "user" && kind != "service" {
        return Err(ControlPlaneError::InvalidArgument(format!(
            "Invalid principal kind {kind:?}: use user or service."
        )));
    }
    validate_bindings(bindings)
}

fn validate_bindings(bindings: &[(String, String)]) -> Result<(), ControlPlaneError> {
    for (role, pattern) in bindings {
        role.parse::<Role>()
            .map_err(|e| ControlPlaneError::InvalidArgument(e.to_string()))?;
        if pattern.is_empty() || pattern.len() > 128 {
            return Err(ControlPlaneError::InvalidArgument(format!(
                "Invalid stream pattern {pattern:?}: 1-128 characters, * and ? as wildcards."
            )));
        }
    }
    Ok(())
}
