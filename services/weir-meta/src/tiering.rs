//! Tier-state rows: the cold tier's record of every segment and where it is in its life.

use sqlx::Row;

use crate::store::{to_u64, MetaError, MetaStore};
use weir_contracts::{TierSegment, TierState, TierTransition, TieringSettings};

const COLUMNS: &str =
    "stream_uid, ordinal, base_offset, end_offset, generation, first_timestamp_ms, \
     last_timestamp_ms, size_bytes, object_key, state, updated_at_ms";

fn segment(row: &sqlx::any::AnyRow) -> Result<TierSegment, MetaError> {
    let state: String = row.try_get("state")?;
    Ok(TierSegment {
        stream_uid: row.try_get("stream_uid")?,
        ordinal: to_u64(row.try_get("ordinal")?)?,
        base_offset: to_u64(row.try_get("base_offset")?)?,
        end_offset: to_u64(row.try_get("end_offset")?)?,
        generation: to_u64(row.try_get("generation")?)?,
        first_timestamp_ms: row.try_get("first_timestamp_ms")?,
        last_timestamp_ms: row.try_get("last_timestamp_ms")?,
        size_bytes: to_u64(row.try_get("size_bytes")?)?,
        object_key: row.try_get("object_key")?,
        state: TierState::parse(&state)
            .ok_or_else(|| MetaError::Invalid(format!("tier state {state}")))?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        leader_generation: 0,
    })
}

impl MetaStore {
    /// Sets a stream's local retention. Returns whether the stream exists.
    pub async fn set_tiering(
        &self,
        name: &str,
        settings: TieringSettings,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE streams SET local_retention_bytes = $1, local_retention_ms = $2, version = version + 1 \
             WHERE name = $3",
        )
        .bind(settings.local_retention_bytes.map(|v| v as i64))
        .bind(settings.local_retention_ms.map(|v| v as i64))
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records that a segment's upload starts (state `uploading`). A row already there
    /// for the same offset is returned unchanged instead: a retried upload after a crash
    /// keeps its row, and an upload by a node under an older generation loses to the row
    /// of the newer one.
    pub async fn begin_upload(&self, new: &TierSegment) -> Result<TierSegment, MetaError> {
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tier_segments WHERE stream_uid = $1 AND ordinal = $2 AND base_offset = $3"
        ))
        .bind(new.stream_uid)
        .bind(new.ordinal as i64)
        .bind(new.base_offset as i64)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            let found = segment(&row)?;
            let replace = found.state == TierState::Uploading && found.generation < new.generation;
            if !replace {
                tx.commit().await?;
                return Ok(found);
            }
            sqlx::query(
                "DELETE FROM tier_segments WHERE stream_uid = $1 AND ordinal = $2 AND base_offset = $3",
            )
            .bind(new.stream_uid)
            .bind(new.ordinal as i64)
            .bind(new.base_offset as i64)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&format!(
            "INSERT INTO tier_segments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(new.stream_uid)
        .bind(new.ordinal as i64)
        .bind(new.base_offset as i64)
        .bind(new.end_offset as i64)
        .bind(new.generation as i64)
        .bind(new.first_timestamp_ms)
        .bind(new.last_timestamp_ms)
        .bind(new.size_bytes as i64)
        .bind(&new.object_key)
        .bind(TierState::Uploading.as_str())
        .bind(new.updated_at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(TierSegment {
            state: TierState::Uploading,
            ..new.clone()
        })
    }

    /// Moves a segment from state `from` to `to`; returns false (and changes nothing)
    /// when the row is missing or in another state.
    pub async fn transition_segment(
        &self,
        change: TierTransition,
        now_ms: i64,
    ) -> Result<bool, MetaError> {
        let TierTransition {
            stream_uid,
            ordinal,
            base_offset,
            from,
            to,
        } = change;
        let done = sqlx::query(
            "UPDATE tier_segments SET state = $1, updated_at_ms = $2 \
             WHERE stream_uid = $3 AND ordinal = $4 AND base_offset = $5 AND state = $6",
        )
        .bind(to.as_str())
        .bind(now_ms)
        .bind(stream_uid)
        .bind(ordinal as i64)
        .bind(base_offset as i64)
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A shard's segments in offset order, `deleted` tombstones included.
    pub async fn shard_segments(
        &self,
        stream_uid: i64,
        ordinal: u64,
    ) -> Result<Vec<TierSegment>, MetaError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tier_segments WHERE stream_uid = $1 AND ordinal = $2 ORDER BY base_offset"
        ))
        .bind(stream_uid)
        .bind(ordinal as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(segment).collect()
    }

    /// Every segment in `state`, across streams (the reaper's and the restart's work list).
    pub async fn segments_in_state(&self, state: TierState) -> Result<Vec<TierSegment>, MetaError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tier_segments WHERE state = $1 ORDER BY stream_uid, ordinal, base_offset"
        ))
        .bind(state.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(segment).collect()
    }

    /// Marks a stream's uploaded segments whose newest record is older than `cutoff_ms`
    /// `deleting` (retention); returns how many.
    pub async fn expire_segments(
        &self,
        stream_uid: i64,
        cutoff_ms: i64,
        now_ms: i64,
    ) -> Result<u64, MetaError> {
        let done = sqlx::query(
            "UPDATE tier_segments SET state = 'deleting', updated_at_ms = $1 \
             WHERE stream_uid = $2 AND state = 'uploaded' AND last_timestamp_ms < $3",
        )
        .bind(now_ms)
        .bind(stream_uid)
        .bind(cutoff_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Streams that still have segments uploading or uploaded.
    pub async fn streams_with_live_segments(&self) -> Result<Vec<i64>, MetaError> {
        let rows = sqlx::query(
            "SELECT DISTINCT stream_uid FROM tier_segments WHERE state IN ('uploading', 'uploaded')",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("stream_uid")?)).collect()
    }

    /// Marks every live segment of a deleted stream `deleting`; returns how many.
    pub async fn mark_stream_deleting(
        &self,
        stream_uid: i64,
        now_ms: i64,
    ) -> Result<u64, MetaError> {
        let done = sqlx::query(
            "UPDATE tier_segments SET state = 'deleting', updated_at_ms = $1 \
             WHERE stream_uid = $2 AND state IN ('uploading', 'uploaded')",
        )
        .bind(now_ms)
        .bind(stream_uid)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
