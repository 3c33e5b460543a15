//! Placement rows: who holds each shard (leader and replicas) under which generation,
//! the nodes' disk ids, and the shard events operators forced.
//!
//! Every change to an assignment is a compare-and-set on its generation, so two
//! placement decisions made from the same snapshot can never both land, and no
//! generation is ever given twice.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::store::{is_unique_violation, to_u64, MetaError, MetaStore};

/// One shard's placement as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentRow {
    /// Stream incarnation.
    pub stream_uid: i64,
    /// Shard ordinal.
    pub ordinal: u64,
    /// The leader's node id.
    pub leader: String,
    /// Generation of this assignment; grows with every change.
    pub generation: u64,
    /// Every replica's node id, the leader first.
    pub replicas: Vec<String>,
    /// Replicas still copying the log (after an empty disk, or newly added): they count
    /// neither toward an election's majority nor as candidates.
    pub rebuilding: Vec<String>,
}

/// Something that happened to a shard that an operator should be able to find later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEvent {
    /// Stream incarnation.
    pub stream_uid: i64,
    /// Shard ordinal.
    pub ordinal: u64,
    /// When, in milliseconds since the epoch.
    pub at_ms: i64,
    /// What kind (`forced-move`, ...).
    pub kind: String,
    /// Details in words.
    pub detail: String,
}

fn join(list: &[String]) -> String {
    list.join(",")
}

fn split(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl MetaStore {
    /// Every shard assignment.
    pub async fn load_assignments(&self) -> Result<Vec<AssignmentRow>, MetaError> {
        let rows = sqlx::query(
            "SELECT stream_uid, ordinal, node_id, generation, replicas, rebuilding FROM shard_assignments",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let leader: String = row.try_get("node_id")?;
                let mut replicas = split(&row.try_get::<String, _>("replicas")?);
                if replicas.is_empty() {
                    // Written before replication existed: the holder alone.
                    replicas.push(leader.clone());
                }
                Ok(AssignmentRow {
                    stream_uid: row.try_get("stream_uid")?,
                    ordinal: to_u64(row.try_get("ordinal")?)?,
                    generation: to_u64(row.try_get("generation")?)?,
                    rebuilding: split(&row.try_get::<String, _>("rebuilding")?),
                    replicas,
                    leader,
                })
            })
            .collect()
    }

    /// Writes `row` only if the shard's stored generation is still `expected` (`None`:
    /// only if the shard has no assignment yet). Returns whether it was written.
    pub async fn cas_assignment(
        &self,
        row: &AssignmentRow,
        expected: Option<u64>,
    ) -> Result<bool, MetaError> {
        let done = match expected {
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO shard_assignments (stream_uid, ordinal, node_id, generation, replicas, rebuilding) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(row.stream_uid)
                .bind(row.ordinal as i64)
                .bind(&row.leader)
                .bind(row.generation as i64)
                .bind(join(&row.replicas))
                .bind(join(&row.rebuilding))
                .execute(&self.pool)
                .await;
                match inserted {
                    Ok(done) => done.rows_affected(),
                    Err(e) if is_unique_violation(&e) => 0,
                    Err(e) => return Err(e.into()),
                }
            }
            Some(expected) => sqlx::query(
                "UPDATE shard_assignments SET node_id = $1, generation = $2, replicas = $3, rebuilding = $4 \
                 WHERE stream_uid = $5 AND ordinal = $6 AND generation = $7",
            )
            .bind(&row.leader)
            .bind(row.generation as i64)
            .bind(join(&row.replicas))
            .bind(join(&row.rebuilding))
            .bind(row.stream_uid)
            .bind(row.ordinal as i64)
            .bind(expected as i64)
            .execute(&self.pool)
            .await?
            .rows_affected(),
        };
        Ok(done == 1)
    }

    /// Every node's last known disk id and whether it is being drained.
    pub async fn load_nodes(&self) -> Result<Vec<(String, String, bool)>, MetaError> {
        let rows = sqlx::query("SELECT node_id, disk_id, draining FROM cluster_nodes")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok((
                    row.try_get("node_id")?,
                    row.try_get("disk_id")?,
                    row.try_get::<i64, _>("draining")? != 0,
                ))
            })
            .collect()
    }

    /// Records a node's disk id (keeping its drain mark).
    pub async fn put_node_disk(&self, node: &str, disk: &str) -> Result<(), MetaError> {
        let updated = sqlx::query("UPDATE cluster_nodes SET disk_id = $1 WHERE node_id = $2")
            .bind(disk)
            .bind(node)
            .execute(&self.pool)
            .await?;
        if updated.rows_affected() == 0 {
            let inserted = sqlx::query(
                "INSERT INTO cluster_nodes (node_id, disk_id, draining) VALUES ($1, $2, 0)",
            )
            .bind(node)
            .bind(disk)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Marks a node as being drained, or not. Returns whether the node is known.
    pub async fn set_node_draining(&self, node: &str, draining: bool) -> Result<bool, MetaError> {
        let updated = sqlx::query("UPDATE cluster_nodes SET draining = $1 WHERE node_id = $2")
            .bind(i64::from(draining))
            .bind(node)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Appends to a shard's history.
    pub async fn add_shard_event(&self, event: &ShardEvent) -> Result<(), MetaError> {
        sqlx::query(
            "INSERT INTO shard_events (stream_uid, ordinal, at_ms, kind, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.stream_uid)
        .bind(event.ordinal as i64)
        .bind(event.at_ms)
        .bind(&event.kind)
        .bind(&event.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A shard's history, oldest first.
    pub async fn shard_events(
        &self,
        stream_uid: i64,
        ordinal: u64,
    ) -> Result<Vec<ShardEvent>, MetaError> {
        let rows = sqlx::query(
            "SELECT stream_uid, ordinal, at_ms, kind, detail FROM shard_events \
             WHERE stream_uid = $1 AND ordinal = $2 ORDER BY at_ms",
        )
        .bind(stream_uid)
        .bind(ordinal as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ShardEvent {
                    stream_uid: row.try_get("stream_uid")?,
                    ordinal: to_u64(row.try_get("ordinal")?)?,
                    at_ms: row.try_get("at_ms")?,
                    kind: row.try_get("kind")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }
}

/// A stored row as nodes receive it.
impl From<&AssignmentRow> for weir_contracts::Assignment {
    fn from(row: &AssignmentRow) -> Self {
        Self {
            stream_uid: row.stream_uid,
            ordinal: row.ordinal,
            node: row.leader.clone(),
            generation: row.generation,
            replicas: row.replicas.clone(),
            rebuilding: row.rebuilding.clone(),
        }
    }
}
