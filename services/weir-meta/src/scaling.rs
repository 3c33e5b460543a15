//! The autoscaler's decisions, kept so operators can read why a stream changed size.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::store::{MetaError, MetaStore};

/// One scaling decision of an on-demand stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingEventRow {
    /// Stream incarnation.
    pub stream_uid: i64,
    /// When it was decided.
    pub at_ms: i64,
    /// `split`, `merge` or `warm` (raised to meet warm throughput).
    pub action: String,
    /// Open shards before.
    pub from_shards: u32,
    /// Open shards after.
    pub to_shards: u32,
    /// Why, in words.
    pub reason: String,
    /// The measured rates behind it (JSON).
    pub detail: String,
}

impl MetaStore {
    /// Records a decision.
    pub async fn append_scaling_event(&self, event: &ScalingEventRow) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO scaling_events (stream_uid, at_ms, action, from_shards, to_shards, reason, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(event.stream_uid)
        .bind(event.at_ms)
        .bind(&event.action)
        .bind(i64::from(event.from_shards))
        .bind(i64::from(event.to_shards))
        .bind(&event.reason)
        .bind(&event.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A stream's most recent decisions, newest first.
    pub async fn scaling_events(
        &self,
        stream_uid: i64,
        limit: i64,
    ) -> Result<Vec<ScalingEventRow>, MetaError> {
        let rows = sqlx::query(
            "SELECT stream_uid, at_ms, action, from_shards, to_shards, reason, detail FROM scaling_events \
             WHERE stream_uid = $1 ORDER BY at_ms DESC LIMIT $2",
        )
        .bind(stream_uid)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ScalingEventRow {
                    stream_uid: row.try_get("stream_uid")?,
                    at_ms: row.try_get("at_ms")?,
                    action: row.try_get("action")?,
                    from_shards: crate::store::to_u32(row.try_get("from_shards")?)?,
                    to_shards: crate::store::to_u32(row.try_get("to_shards")?)?,
                    reason: row.try_get("reason")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }

    /// Forgets the decisions of a deleted stream.
    pub async fn delete_scaling_events(&self, stream_uid: i64) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM scaling_events WHERE stream_uid = $1")
            .bind(stream_uid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
