//! Tags of enhanced fan-out consumers (TagResource and UntagResource on a consumer ARN).
//! A stream's own tags are in service.rs beside the rest of the stream.

use std::collections::BTreeMap;

use weir_contracts::ConsumerRecord;
use weir_core::Violations;

use crate::service::{exceeds_tag_limit, validate_tags, MAX_TAGS_PER_STREAM};
use crate::{ControlPlane, ControlPlaneError};

impl ControlPlane {
    /// Adds or replaces tags of a registered consumer (at most 50 in all, as on a stream).
    pub async fn tag_consumer(
        &self,
        stream: &str,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<ConsumerRecord, ControlPlaneError> {
        let mut violations = Violations::new();
        validate_tags(&mut violations, &tags);
        violations
            .into_result()
            .map_err(ControlPlaneError::Validation)?;
        self.change_consumer_tags(stream, name, |current| {
            if exceeds_tag_limit(current, &tags) {
                return Err(ControlPlaneError::InvalidArgument(format!(
                    "Failed to add tags to consumer {name} of stream {stream}: a resource cannot have more than \
                     {MAX_TAGS_PER_STREAM} tags."
                )));
            }
            current.extend(tags);
            Ok(())
        })
        .await
    }

    /// Removes tags of a registered consumer; keys that are not set are ignored.
    pub async fn untag_consumer(
        &self,
        stream: &str,
        name: &str,
        keys: Vec<String>,
    ) -> Result<ConsumerRecord, ControlPlaneError> {
        self.change_consumer_tags(stream, name, |current| {
            for key in &keys {
                current.remove(key);
            }
            Ok(())
        })
        .await
    }

    async fn change_consumer_tags(
        &self,
        stream: &str,
        name: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), ControlPlaneError>,
    ) -> Result<ConsumerRecord, ControlPlaneError> {
        let _guard = self.mutation.lock().await;
        let record = self.stream(stream)?;
        let not_found = || {
            ControlPlaneError::NotFound(format!(
                "Consumer {name} under stream {stream} not found for account {}.",
                self.config.account_id
            ))
        };
        let mut consumer = record.consumers.get(name).cloned().ok_or_else(not_found)?;
        change(&mut consumer.tags)?;
        if !self
            .store()
            .set_consumer_tags(stream, name, &consumer.tags)
            .await?
        {
            return Err(not_found());
        }
        let updated = consumer.clone();
        self.replace(&record, |s| {
            s.consumers.insert(updated.name.clone(), updated);
        })?;
        Ok(consumer)
    }
}
