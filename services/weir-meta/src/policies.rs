//! Resource policies of streams and consumers (PutResourcePolicy and
//! DeleteResourcePolicy). Each lives in a column of its stream's or consumer's row, so it
//! goes when the stream is deleted or the consumer deregistered.

use crate::{MetaError, MetaStore};

impl MetaStore {
    /// Sets (`Some`) or removes (`None`) a stream's resource policy; `false` if the stream
    /// does not exist.
    pub async fn set_stream_policy(
        &self,
        stream: &str,
        policy: Option<&str>,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE streams SET resource_policy = $1, version = version + 1 WHERE name = $2",
        )
        .bind(policy)
        .bind(stream)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Sets (`Some`) or removes (`None`) a consumer's resource policy; `false` if the
    /// consumer is not registered.
    pub async fn set_consumer_policy(
        &self,
        stream: &str,
        consumer: &str,
        policy: Option<&str>,
    ) -> Result<bool, MetaError> {
        let done = sqlx::query(
            "UPDATE stream_consumers SET resource_policy = $1 WHERE stream_name = $2 AND name = $3",
        )
        .bind(policy)
        .bind(stream)
        .bind(consumer)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
