//! sqlx access to the metadata tables.

use std::collections::BTreeMap;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};
use weir_core::HashRange;

use weir_contracts::{
    ConsumerRecord, ShardLimits, ShardRecord, StreamMode, StreamRecord, StreamStatus,
};

/// Why a metadata operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The database refused or could not be reached.
    #[error("metadata store error: {0}")]
    Database(#[from] sqlx::Error),
    /// Schema migration failed at start-up.
    #[error("metadata migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds a value the code does not understand (a newer or damaged database).
    #[error("metadata store holds an invalid value: {0}")]
    Invalid(String),
    /// A row with this key already exists.
    #[error("already exists: {0}")]
    AlreadyExists(String),
}

/// An integer capacity setting of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacitySetting {
    /// The largest record accepted, in KiB.
    MaxRecordSizeKib,
    /// The write throughput an on-demand stream keeps warm, in MiB/s.
    WarmThroughputMibps,
}

/// The metadata store, over SQLite or Postgres.
#[derive(Clone, Debug)]
pub struct MetaStore {
    pub(crate) pool: AnyPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

impl MetaStore {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`) and applies any
    /// pending migrations.
    pub async fn connect(url: &str) -> Result<Self, MetaError> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            // SQLite allows one writer; one connection avoids "database is locked".
            .max_connections(if is_sqlite { 1 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if is_sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = FULL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Checks that the database answers (readiness probes).
    pub async fn ping(&self) -> Result<(), MetaError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Inserts a new stream with its shards and tags, atomically.
    pub async fn insert_stream(&self, stream: &StreamRecord) -> Result<(), MetaError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO streams (name, uid, mode, status, retention_hours, created_at_ms, next_shard_ordinal, version, \
             local_retention_bytes, local_retention_ms, replication_factor, limit_write_bytes, limit_write_records, \
             limit_read_calls, limit_read_bytes, max_record_size_kib, warm_throughput_mibps, mode_changes, \
             shard_level_metrics, encryption_key_id, encryption_key_version, data_keys, record_distribution) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             $20, $21, $22, $23)",
        )
        .bind(&stream.name)
        .bind(stream.uid)
        .bind(stream.mode.as_str())
        .bind(stream.status.as_str())
        .bind(i64::from(stream.retention_hours))
        .bind(stream.created_at_ms)
        .bind(stream.next_shard_ordinal as i64)
        .bind(stream.version)
        .bind(stream.tiering.local_retention_bytes.map(|v| v as i64))
        .bind(stream.tiering.local_retention_ms.map(|v| v as i64))
        .bind(i64::from(stream.replication_factor))
        .bind(stream.shard_limits.map(|l| l.write_bytes_per_sec as i64))
        .bind(stream.shard_limits.map(|l| l.write_records_per_sec as i64))
        .bind(stream.shard_limits.map(|l| l.read_calls_per_sec as i64))
        .bind(stream.shard_limits.map(|l| l.read_bytes_per_sec as i64))
        .bind(i64::from(stream.max_record_size_kib))
        .bind(i64::from(stream.warm_throughput_mibps))
        .bind(join_times(&stream.mode_changes_ms))
        .bind(stream.shard_level_metrics.join(","))
        .bind(stream.encryption.as_ref().map(|e| e.key_id.clone()))
        .bind(stream.encryption.as_ref().map_or(0, |e| i64::from(e.data_key_version)))
        .bind(data_keys_json(&stream.data_keys)?)
        .bind(&stream.record_distribution)
        .execute(&mut *tx)
        .await;
        if let Err(error) = inserted {
            if is_unique_violation(&error) {
                return Err(MetaError::AlreadyExists(stream.name.clone()));
            }
            return Err(error.into());
        }
        for shard in &stream.shards {
            insert_shard(&mut tx, &stream.name, shard).await?;
        }
        for (key, value) in &stream.tags {
            sqlx::query(
                "INSERT INTO stream_tags (stream_name, tag_key, tag_value) VALUES ($1, $2, $3)",
            )
            .bind(&stream.name)
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a stream and everything under it; `false` if it did not exist.
    pub async fn delete_stream(&self, name: &str) -> Result<bool, MetaError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM stream_consumers WHERE stream_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM stream_tags WHERE stream_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM shards WHERE stream_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM streams WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets a stream's retention; `false` if the stream does not exist.
    pub async fn update_retention(&self, name: &str, hours: u32) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE streams SET retention_hours = $1, version = version + 1 WHERE name = $2",
        )
        .bind(i64::from(hours))
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds or overwrites tags, atomically.
    pub async fn put_tags(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), MetaError> {
        let mut tx = self.pool.begin().await?;
        for (key, value) in tags {
            sqlx::query("DELETE FROM stream_tags WHERE stream_name = $1 AND tag_key = $2")
                .bind(name)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO stream_tags (stream_name, tag_key, tag_value) VALUES ($1, $2, $3)",
            )
            .bind(name)
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE streams SET version = version + 1 WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes tags (missing keys are ignored, as Kinesis does), atomically.
    pub async fn remove_tags(&self, name: &str, keys: &[String]) -> Result<(), MetaError> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            sqlx::query("DELETE FROM stream_tags WHERE stream_name = $1 AND tag_key = $2")
                .bind(name)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE streams SET version = version + 1 WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes the stream `uid` DELETING as of `at_ms`; `false` if it is gone (or is another
    /// stream of the same name by now).
    pub async fn start_deleting(
        &self,
        name: &str,
        uid: i64,
        at_ms: i64,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE streams SET status = 'DELETING', deleting_since_ms = $1, version = version + 1 \
             WHERE name = $2 AND uid = $3",
        )
        .bind(at_ms)
        .bind(name)
        .bind(uid)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets a stream's status.
    pub async fn set_status(&self, name: &str, status: StreamStatus) -> Result<bool, MetaError> {
        let done =
            sqlx::query("UPDATE streams SET status = $1, version = version + 1 WHERE name = $2")
                .bind(status.as_str())
                .bind(name)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a finished reshard atomically: closes `closed` shards at their end offsets,
    /// inserts `created`, advances the ordinal counter and sets the status.
    pub async fn apply_reshard(
        &self,
        name: &str,
        closed: &[(u64, i64, u64)],
        created: &[ShardRecord],
        next_shard_ordinal: u64,
        status: StreamStatus,
    ) -> Result<(), MetaError> {
        let mut tx = self.pool.begin().await?;
        for (ordinal, closed_at_ms, ending_offset) in closed {
            sqlx::query(
                "UPDATE shards SET closed_at_ms = $1, ending_offset = $2 WHERE stream_name = $3 AND ordinal = $4",
            )
            .bind(*closed_at_ms)
            .bind(*ending_offset as i64)
            .bind(name)
            .bind(*ordinal as i64)
            .execute(&mut *tx)
            .await?;
        }
        for shard in created {
            insert_shard(&mut tx, name, shard).await?;
        }
        sqlx::query("UPDATE streams SET next_shard_ordinal = $1, status = $2, version = version + 1 WHERE name = $3")
            .bind(next_shard_ordinal as i64)
            .bind(status.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets (or with `None` clears) a stream's own per-shard limits; false when the
    /// stream does not exist.
    pub async fn set_shard_limits(
        &self,
        name: &str,
        limits: Option<ShardLimits>,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE streams SET limit_write_bytes = $1, limit_write_records = $2, limit_read_calls = $3, \
             limit_read_bytes = $4, version = version + 1 WHERE name = $5",
        )
        .bind(limits.map(|l| l.write_bytes_per_sec as i64))
        .bind(limits.map(|l| l.write_records_per_sec as i64))
        .bind(limits.map(|l| l.read_calls_per_sec as i64))
        .bind(limits.map(|l| l.read_bytes_per_sec as i64))
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Changes a stream's capacity mode and status, recording when (Kinesis limits how
    /// often the mode may change).
    pub async fn set_stream_mode(
        &self,
        name: &str,
        mode: StreamMode,
        status: StreamStatus,
        changes_ms: &[i64],
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE streams SET mode = $1, status = $2, mode_changes = $3, version = version + 1 WHERE name = $4",
        )
        .bind(mode.as_str())
        .bind(status.as_str())
        .bind(join_times(changes_ms))
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets one integer capacity setting of a stream (`max_record_size_kib` or
    /// `warm_throughput_mibps`).
    pub async fn set_stream_capacity(
        &self,
        name: &str,
        setting: CapacitySetting,
        value: u32,
    ) -> Result<bool, MetaError> {
        let column = match setting {
            CapacitySetting::MaxRecordSizeKib => "max_record_size_kib",
            CapacitySetting::WarmThroughputMibps => "warm_throughput_mibps",
        };
        let done = sqlx::query(&format!(
            "UPDATE streams SET {column} = $1, version = version + 1 WHERE name = $2"
        ))
        .bind(i64::from(value))
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets a stream's shard-level metrics (EnableEnhancedMonitoring and its opposite).
    pub async fn set_shard_level_metrics(
        &self,
        name: &str,
        metrics: &[String],
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE streams SET shard_level_metrics = $1, version = version + 1 WHERE name = $2",
        )
        .bind(metrics.join(","))
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets a stream's encryption and data keys (Start/StopStreamEncryption, master-key
    /// rotation), only if the stream is still incarnation `uid` (not deleted and created
    /// again meanwhile), and bumps its version; answers whether it was.
    pub async fn set_encryption(
        &self,
        name: &str,
        uid: i64,
        status: StreamStatus,
        encryption: Option<&weir_contracts::StreamEncryption>,
        data_keys: &[weir_contracts::SealedDataKey],
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE streams SET encryption_key_id = $1, encryption_key_version = $2, data_keys = $3, \
             status = $4, version = version + 1 WHERE name = $5 AND uid = $6",
        )
        .bind(encryption.map(|e| e.key_id.clone()))
        .bind(encryption.map_or(0, |e| i64::from(e.data_key_version)))
        .bind(data_keys_json(data_keys)?)
        .bind(status.as_str())
        .bind(name)
        .bind(uid)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets the assignments of a deleted stream.
    pub async fn delete_assignments(&self, uid: i64) -> Result<(), MetaError> {
        sqlx::query("DELETE FROM shard_assignments WHERE stream_uid = $1")
            .bind(uid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Loads every stream with its shards and tags (the control plane's start-up read).
    pub async fn load_streams(&self) -> Result<Vec<StreamRecord>, MetaError> {
        let rows = sqlx::query(
            "SELECT name, uid, mode, status, retention_hours, created_at_ms, next_shard_ordinal, version, \
             local_retention_bytes, local_retention_ms, replication_factor, limit_write_bytes, limit_write_records, \
             limit_read_calls, limit_read_bytes, max_record_size_kib, warm_throughput_mibps, mode_changes, \
             shard_level_metrics, resource_policy, encryption_key_id, encryption_key_version, data_keys, \
             record_distribution, deleting_since_ms FROM streams ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut streams = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.try_get("name")?;
            let mode: String = row.try_get("mode")?;
            let status: String = row.try_get("status")?;
            streams.push(StreamRecord {
                uid: row.try_get("uid")?,
                mode: StreamMode::parse(&mode)
                    .ok_or_else(|| MetaError::Invalid(format!("stream mode {mode}")))?,
                status: StreamStatus::parse(&status)
                    .ok_or_else(|| MetaError::Invalid(format!("stream status {status}")))?,
                retention_hours: to_u32(row.try_get("retention_hours")?)?,
                created_at_ms: row.try_get("created_at_ms")?,
                next_shard_ordinal: to_u64(row.try_get("next_shard_ordinal")?)?,
                version: row.try_get("version")?,
                shards: self.load_shards(&name).await?,
                tags: self.load_tags(&name).await?,
                consumers: self.load_consumers(&name).await?,
                tiering: crate::TieringSettings {
                    local_retention_bytes: opt_u64(row.try_get("local_retention_bytes")?)?,
                    local_retention_ms: opt_u64(row.try_get("local_retention_ms")?)?,
                },
                replication_factor: to_u32(row.try_get("replication_factor")?)?,
                shard_limits: shard_limits(&row)?,
                max_record_size_kib: to_u32(row.try_get("max_record_size_kib")?)?,
                warm_throughput_mibps: to_u32(row.try_get("warm_throughput_mibps")?)?,
                mode_changes_ms: split_times(&row.try_get::<String, _>("mode_changes")?)?,
                shard_level_metrics: row
                    .try_get::<String, _>("shard_level_metrics")?
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
                resource_policy: row.try_get("resource_policy")?,
                encryption: match row.try_get::<Option<String>, _>("encryption_key_id")? {
                    Some(key_id) => Some(weir_contracts::StreamEncryption {
                        key_id,
                        data_key_version: to_u32(row.try_get("encryption_key_version")?)?,
                    }),
                    None => None,
                },
                data_keys: serde_json::from_str(&row.try_get::<String, _>("data_keys")?)
                    .map_err(|e| MetaError::Invalid(format!("stream {name}'s data keys: {e}")))?,
                record_distribution: row.try_get("record_distribution")?,
                deleting_since_ms: row.try_get("deleting_since_ms")?,
                name,
            });
        }
        Ok(streams)
    }

    async fn load_shards(&self, name: &str) -> Result<Vec<ShardRecord>, MetaError> {
        let rows = sqlx::query(
            "SELECT ordinal, parent_ordinal, adjacent_parent_ordinal, starting_hash_key, ending_hash_key, \
             created_at_ms, closed_at_ms, ending_offset FROM shards WHERE stream_name = $1 ORDER BY ordinal",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let start: String = row.try_get("starting_hash_key")?;
                let end: String = row.try_get("ending_hash_key")?;
                Ok(ShardRecord {
                    ordinal: to_u64(row.try_get("ordinal")?)?,
                    parent: row
                        .try_get::<Option<i64>, _>("parent_ordinal")?
                        .map(to_u64)
                        .transpose()?,
                    adjacent_parent: row
                        .try_get::<Option<i64>, _>("adjacent_parent_ordinal")?
                        .map(to_u64)
                        .transpose()?,
                    hash_range: HashRange {
                        start: parse_hash(&start)?,
                        end: parse_hash(&end)?,
                    },
                    created_at_ms: row.try_get("created_at_ms")?,
                    closed_at_ms: row.try_get("closed_at_ms")?,
                    ending_offset: row
                        .try_get::<Option<i64>, _>("ending_offset")?
                        .map(to_u64)
                        .transpose()?,
                })
            })
            .collect()
    }

    async fn load_consumers(
        &self,
        name: &str,
    ) -> Result<BTreeMap<String, ConsumerRecord>, MetaError> {
        let rows = sqlx::query(
            "SELECT name, created_at_ms, tags, resource_policy, deleting_since_ms FROM stream_consumers \
             WHERE stream_name = $1",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let tags: String = row.try_get("tags")?;
                let consumer = ConsumerRecord {
                    name: row.try_get("name")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                    tags: decode_tags(&tags)?,
                    resource_policy: row.try_get("resource_policy")?,
                    deleting_since_ms: row.try_get("deleting_since_ms")?,
                };
                Ok((consumer.name.clone(), consumer))
            })
            .collect()
    }

    /// Registers a consumer; `AlreadyExists` when the name is taken on that stream.
    pub async fn insert_consumer(
        &self,
        stream: &str,
        consumer: &ConsumerRecord,
    ) -> Result<(), MetaError> {
        let inserted = sqlx::query(
            "INSERT INTO stream_consumers (stream_name, name, created_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(stream)
        .bind(&consumer.name)
        .bind(consumer.created_at_ms)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(MetaError::AlreadyExists(consumer.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a consumer's tags; `false` if it is not registered.
    pub async fn set_consumer_tags(
        &self,
        stream: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE stream_consumers SET tags = $1 WHERE stream_name = $2 AND name = $3",
        )
        .bind(encode_tags(tags))
        .bind(stream)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks a consumer DELETING from `at_ms`; `false` if it is not registered.
    pub async fn mark_consumer_deleting(
        &self,
        stream: &str,
        name: &str,
        at_ms: i64,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE stream_consumers SET deleting_since_ms = $1 WHERE stream_name = $2 AND name = $3",
        )
        .bind(at_ms)
        .bind(stream)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deregisters a consumer; `false` if it was not registered.
    pub async fn delete_consumer(&self, stream: &str, name: &str) -> Result<bool, MetaError> {
        let done = sqlx::query("DELETE FROM stream_consumers WHERE stream_name = $1 AND name = $2")
            .bind(stream)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn load_tags(&self, name: &str) -> Result<BTreeMap<String, String>, MetaError> {
        let rows = sqlx::query("SELECT tag_key, tag_value FROM stream_tags WHERE stream_name = $1")
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| Ok((row.try_get("tag_key")?, row.try_get("tag_value")?)))
            .collect()
    }
}

async fn insert_shard(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    stream: &str,
    shard: &ShardRecord,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO shards (stream_name, ordinal, parent_ordinal, adjacent_parent_ordinal, starting_hash_key, \
         ending_hash_key, created_at_ms, closed_at_ms, ending_offset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(stream)
    .bind(shard.ordinal as i64)
    .bind(shard.parent.map(|p| p as i64))
    .bind(shard.adjacent_parent.map(|p| p as i64))
    .bind(shard.hash_range.start.to_string())
    .bind(shard.hash_range.end.to_string())
    .bind(shard.created_at_ms)
    .bind(shard.closed_at_ms)
    .bind(shard.ending_offset.map(|o| o as i64))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(crate) fn to_u64(value: i64) -> Result<u64, MetaError> {
    u64::try_from(value).map_err(|_| MetaError::Invalid(format!("negative value {value}")))
}

pub(crate) fn to_u32(value: i64) -> Result<u32, MetaError> {
    u32::try_from(value).map_err(|_| MetaError::Invalid(format!("out of range value {value}")))
}

fn parse_hash(text: &str) -> Result<u128, MetaError> {
    text.parse()
        .map_err(|_| MetaError::Invalid(format!("hash key {text}")))
}

fn opt_u64(value: Option<i64>) -> Result<Option<u64>, MetaError> {
    value.map(to_u64).transpose()
}

/// Times as stored in one text column: comma-separated milliseconds.
fn join_times(times: &[i64]) -> String {
    times
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn split_times(text: &str) -> Result<Vec<i64>, MetaError> {
    text.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse()
                .map_err(|_| MetaError::Invalid(format!("time {t:?} in mode_changes")))
        })
        .collect()
}

/// A stream's own limits: all four columns set, or none (the deployment's default).
fn shard_limits(row: &sqlx::any::AnyRow) -> Result<Option<ShardLimits>, MetaError> {
    let columns = [
        "limit_write_bytes",
        "limit_write_records",
        "limit_read_calls",
        "limit_read_bytes",
    ];
    let mut values = [0u64; 4];
    for (value, column) in values.iter_mut().zip(columns) {
        match opt_u64(row.try_get(column)?)? {
            Some(v) => *value = v,
            None => return Ok(None),
        }
    }
    Ok(Some(ShardLimits {
        write_bytes_per_sec: values[0],
        write_records_per_sec: values[1],
        read_calls_per_sec: values[2],
        read_bytes_per_sec: values[3],
    }))
}

/// A store failure seen through the control-plane contract: nothing was changed, and the
/// caller may retry.
impl From<MetaError> for weir_contracts::ControlPlaneError {
    fn from(error: MetaError) -> Self {
        Self::Store(error.to_string())
    }
}

/// A consumer's tags as stored: a JSON object of strings.
fn encode_tags(tags: &BTreeMap<String, String>) -> String {
    let object: serde_json::Map<String, serde_json::Value> = tags
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(object).to_string()
}

fn decode_tags(text: &str) -> Result<BTreeMap<String, String>, MetaError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| MetaError::Invalid(format!("consumer tags are not JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| MetaError::Invalid("consumer tags are not a JSON object".into()))?;
    object
        .iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|s| (k.clone(), s.to_string()))
                .ok_or_else(|| MetaError::Invalid(format!("consumer tag {k} is not a string")))
        })
        .collect()
}

/// A stream's data keys as the JSON text the `data_keys` column holds.
fn data_keys_json(keys: &[weir_contracts::SealedDataKey]) -> Result<String, MetaError> {
    serde_json::to_string(keys).map_err(|e| MetaError::Invalid(format!("data keys: {e}")))
}
