//! StartStreamEncryption and StopStreamEncryption. The control plane stores the KeyId
//! and the stream's sealed data keys; nodes seal new records with them
//! (`crate::encryption`). KeyId names the key as the caller knows it (a KMS key id, ARN or
//! alias): Weir has no KMS, so it is recorded and reported, and the data key it stands for
//! is sealed by the deployment's master key.

use serde::Deserialize;
use weir_core::Violations;

use super::{stream_for, Empty, StreamRef};
use crate::error::KinesisError;
use crate::gateway::DataPlane;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    encryption_type: Option<String>,
    key_id: Option<String>,
}

/// The model's bounds of KeyId.
const KEY_ID_LENGTH: (usize, usize) = (1, 2048);

/// Validates the whole input, then finds the stream; answers it and the KeyId.
fn checked(
    plane: &DataPlane,
    req: &EncryptionInput,
) -> Result<(std::sync::Arc<weir_contracts::StreamRecord>, String), KinesisError> {
    let mut violations = Violations::new();
    violations.required(&req.encryption_type, "encryptionType");
    if let Some(kind) = &req.encryption_type {
        if kind != "KMS" && kind != "NONE" {
            violations.push(
                Some(kind),
                "encryptionType",
                "satisfy enum value set: [KMS, NONE]",
            );
        }
    }
    violations.required(&req.key_id, "keyId");
    if let Some(key_id) = &req.key_id {
        violations.length(key_id, "keyId", KEY_ID_LENGTH.0, KEY_ID_LENGTH.1);
    }
    let selector = StreamRef {
        stream_name: req.stream_name.clone(),
        stream_arn: req.stream_arn.clone(),
    };
    let stream = stream_for(plane, &selector, violations)?;
    if req.encryption_type.as_deref() != Some("KMS") {
        return Err(KinesisError::InvalidArgument(
            "KMS is the only valid EncryptionType for this request.".into(),
        ));
    }
    Ok((stream, req.key_id.clone().unwrap_or_default()))
}

/// StartStreamEncryption: records written from now on are encrypted.
pub async fn start(plane: &DataPlane, req: EncryptionInput) -> Result<Empty, KinesisError> {
    let (stream, key_id) = checked(plane, &req)?;
    plane
        .admin()?
        .update_encryption(&stream.name, Some(key_id))
        .await?;
    Ok(Empty {})
}

/// StopStreamEncryption: records written from now on are stored in the clear; those
/// already encrypted stay encrypted and readable.
pub async fn stop(plane: &DataPlane, req: EncryptionInput) -> Result<Empty, KinesisError> {
    let (stream, key_id) = checked(plane, &req)?;
    if let Some(current) = &stream.encryption {
        if current.key_id != key_id {
            return Err(KinesisError::InvalidArgument(format!(
                "Stream {} is encrypted with KeyId {}, not {key_id}.",
                stream.name, current.key_id
            )));
        }
    }
    plane.admin()?.update_encryption(&stream.name, None).await?;
    Ok(Empty {})
}
