//! Resource policies: PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy on
//! stream and consumer ARNs. The request is validated whole first (ValidationException),
//! then the resource is looked up (ResourceNotFoundException), then the policy is parsed
//! against the grammar Weir enforces (InvalidArgumentException). Enforcement is in
//! `crate::auth`.

use serde::{Deserialize, Serialize};
use weir_auth::ResourcePolicy;
use weir_core::Violations;

use super::tags::{check_resource_arn, consumer_of, unreachable_resource, Resource};
use super::Empty;
use crate::error::KinesisError;
use crate::gateway::DataPlane;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutResourcePolicyInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    policy: Option<String>,
    #[serde(rename = "StreamId")]
    _stream_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourcePolicyInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(rename = "StreamId")]
    _stream_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetResourcePolicyOutput {
    policy: String,
}

/// The resource an ARN names, looked up: its stream, its consumer (if any), its current
/// policy and its ARN as Weir writes it.
struct Found {
    stream: String,
    consumer: Option<String>,
    policy: Option<String>,
    arn: String,
}

fn find(plane: &DataPlane, resource: Option<Resource>) -> Result<Found, KinesisError> {
    match resource {
        Some(Resource::Stream(name)) => {
            let stream = plane.catalog.stream(&name)?;
            Ok(Found {
                arn: plane.catalog.arn(&stream.name),
                stream: stream.name.clone(),
                consumer: None,
                policy: stream.resource_policy.clone(),
            })
        }
        Some(Resource::Consumer {
            stream,
            name,
            seconds,
        }) => {
            let consumer = consumer_of(plane, &stream, &name, seconds)?;
            Ok(Found {
                arn: plane.catalog.consumer_arn(&stream, &consumer),
                stream,
                consumer: Some(name),
                policy: consumer.resource_policy,
            })
        }
        None => unreachable_resource(),
    }
}

/// PutResourcePolicy: attaches (or replaces) the policy of a stream or a consumer.
pub async fn put(plane: &DataPlane, req: PutResourcePolicyInput) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    let resource = check_resource_arn(&mut violations, &req.resource_arn);
    violations.required(&req.policy, "policy");
    KinesisError::validation(violations)?;
    let found = find(plane, resource)?;
    let policy = req.policy.unwrap_or_default();
    ResourcePolicy::parse(&policy, &found.arn)
        .map_err(|e| KinesisError::InvalidArgument(e.to_string()))?;
    plane
        .admin()?
        .set_resource_policy(&found.stream, found.consumer.as_deref(), Some(policy))
        .await?;
    Ok(Empty {})
}

/// GetResourcePolicy: the policy as it was given, or `{}` when there is none (as AWS
/// answers; LocalStack's AWS-validated snapshot `test_resource_policy_crud` records it).
pub async fn get(
    plane: &DataPlane,
    req: ResourcePolicyInput,
) -> Result<GetResourcePolicyOutput, KinesisError> {
    let mut violations = Violations::new();
    let resource = check_resource_arn(&mut violations, &req.resource_arn);
    KinesisError::validation(violations)?;
    let found = find(plane, resource)?;
    Ok(GetResourcePolicyOutput {
        policy: found.policy.unwrap_or_else(|| "{}".into()),
    })
}

/// DeleteResourcePolicy: removes the policy; ResourceNotFoundException when there is none.
pub async fn delete(plane: &DataPlane, req: ResourcePolicyInput) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    let resource = check_resource_arn(&mut violations, &req.resource_arn);
    KinesisError::validation(violations)?;
    let found = find(plane, resource)?;
    if found.policy.is_none() {
        return Err(KinesisError::ResourceNotFound(format!(
            "No resource policy found for resource ARN {}.",
            found.arn
        )));
    }
    plane
        .admin()?
        .set_resource_policy(&found.stream, found.consumer.as_deref(), None)
        .await?;
    Ok(Empty {})
}
