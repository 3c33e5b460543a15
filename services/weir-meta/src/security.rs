//! Principals, role bindings, access keys, sealed signing keys and the audit log.
//!
//! Secrets are stored only as ciphertext sealed by a master key that lives outside the
//! database; this module never sees a plaintext secret.

use sqlx::Row;
pub use weir_auth::{AccessKeyRecord, PrincipalRecord};
pub use weir_contracts::AuditEvent;

use crate::store::{MetaError, MetaStore};

/// Filters of an audit query; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Exact principal.
    pub principal: Option<String>,
    /// Exact action.
    pub action: Option<String>,
    /// Exact result.
    pub result: Option<String>,
    /// Events at or after this time.
    pub since_ms: Option<i64>,
    /// Most events returned (newest first).
    pub limit: i64,
}

impl MetaStore {
    /// Every principal with its bindings.
    pub async fn load_principals(&self) -> Result<Vec<PrincipalRecord>, MetaError> {
        let rows = sqlx::query("SELECT name, kind, created_at_ms FROM principals ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let bindings = sqlx::query(
            "SELECT principal, role, stream_pattern FROM principal_bindings ORDER BY principal, role, stream_pattern",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.try_get("name")?;
            let mut mine = Vec::new();
            for b in &bindings {
                let principal: String = b.try_get("principal")?;
                if principal == name {
                    mine.push((b.try_get("role")?, b.try_get("stream_pattern")?));
                }
            }
            out.push(PrincipalRecord {
                kind: row.try_get("kind")?,
                created_at_ms: row.try_get("created_at_ms")?,
                bindings: mine,
                name,
            });
        }
        Ok(out)
    }

    /// Inserts a principal with its bindings.
    pub async fn insert_principal(&self, p: &PrincipalRecord) -> Result<(), MetaError> {
        let mut tx = self.pool.begin().await?;
        let inserted =
            sqlx::query("INSERT INTO principals (name, kind, created_at_ms) VALUES ($1, $2, $3)")
                .bind(&p.name)
                .bind(&p.kind)
                .bind(p.created_at_ms)
                .execute(&mut *tx)
                .await;
        if let Err(error) = inserted {
            if crate::store::is_unique_violation(&error) {
                return Err(MetaError::AlreadyExists(p.name.clone()));
            }
            return Err(error.into());
        }
        for (role, pattern) in &p.bindings {
            sqlx::query(
                "INSERT INTO principal_bindings (principal, role, stream_pattern) VALUES ($1, $2, $3)",
            )
            .bind(&p.name)
            .bind(role)
            .bind(pattern)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a principal's bindings. Returns whether it exists.
    pub async fn set_bindings(
        &self,
        name: &str,
        bindings: &[(String, String)],
    ) -> Result<bool, MetaError> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT name FROM principals WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(false);
        }
        sqlx::query("DELETE FROM principal_bindings WHERE principal = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        for (role, pattern) in bindings {
            sqlx::query(
                "INSERT INTO principal_bindings (principal, role, stream_pattern) VALUES ($1, $2, $3)",
            )
            .bind(name)
            .bind(role)
            .bind(pattern)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a principal, its bindings and its keys. Returns whether it existed.
    pub async fn delete_principal(&self, name: &str) -> Result<bool, MetaError> {
        let mut tx = self.pool.begin().await?;
        for table in ["principal_bindings", "access_keys"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE principal = $1"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM principals WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every access key.
    pub async fn load_access_keys(&self) -> Result<Vec<AccessKeyRecord>, MetaError> {
        let rows = sqlx::query(
            "SELECT access_key_id, principal, secret_sealed, created_at_ms FROM access_keys ORDER BY access_key_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccessKeyRecord {
                    access_key_id: r.try_get("access_key_id")?,
                    principal: r.try_get("principal")?,
                    secret_sealed: r.try_get("secret_sealed")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                })
            })
            .collect()
    }

    /// Stores a new access key.
    pub async fn insert_access_key(&self, key: &AccessKeyRecord) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO access_keys (access_key_id, principal, secret_sealed, created_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.access_key_id)
        .bind(&key.principal)
        .bind(&key.secret_sealed)
        .bind(key.created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces an access key's sealed secret if it is still `old` (master-key rotation
    /// re-seals it under the new key). Returns whether it was.
    pub async fn reseal_access_key(
        &self,
        id: &str,
        old: &str,
        sealed: &str,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE access_keys SET secret_sealed = $1 WHERE access_key_id = $2 AND secret_sealed = $3",
        )
        .bind(sealed)
        .bind(id)
        .bind(old)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes an access key of a principal. Returns whether it existed.
    pub async fn delete_access_key(&self, principal: &str, id: &str) -> Result<bool, MetaError> {
        let done =
            sqlx::query("DELETE FROM access_keys WHERE principal = $1 AND access_key_id = $2")
                .bind(principal)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A named piece of sealed auth state (the JWT key ring).
    pub async fn auth_state(&self, name: &str) -> Result<Option<String>, MetaError> {
        let row = sqlx::query("SELECT value FROM auth_state WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("value")?),
            None => None,
        })
    }

    /// Stores a named piece of sealed auth state.
    pub async fn put_auth_state(&self, name: &str, value: &str) -> Result<(), MetaError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM auth_state WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO auth_state (name, value) VALUES ($1, $2)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends an audit event.
    pub async fn append_audit(&self, e: &AuditEvent) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO audit_log (at_ms, principal, action, resource, source, result, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.at_ms)
        .bind(&e.principal)
        .bind(&e.action)
        .bind(&e.resource)
        .bind(&e.source)
        .bind(&e.result)
        .bind(&e.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Audit events matching the filters, newest first.
    pub async fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEvent>, MetaError> {
        let rows = sqlx::query(
            "SELECT at_ms, principal, action, resource, source, result, detail FROM audit_log \
             WHERE ($1 = '' OR principal = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR result = $3) \
             AND at_ms >= $4 ORDER BY at_ms DESC LIMIT $5",
        )
        .bind(q.principal.clone().unwrap_or_default())
        .bind(q.action.clone().unwrap_or_default())
        .bind(q.result.clone().unwrap_or_default())
        .bind(q.since_ms.unwrap_or(0))
        .bind(q.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    at_ms: r.try_get("at_ms")?,
                    principal: r.try_get("principal")?,
                    action: r.try_get("action")?,
                    resource: r.try_get("resource")?,
                    source: r.try_get("source")?,
                    result: r.try_get("result")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
