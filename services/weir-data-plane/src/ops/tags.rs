//! Tags: AddTagsToStream, RemoveTagsFromStream and ListTagsForStream on streams, and
//! TagResource, UntagResource and ListTagsForResource on stream and consumer ARNs. Both
//! families read and write the same tags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weir_core::{stream_name_from_arn, Violations};

use super::consumers::parse_consumer_arn;
use super::{stream_for, Empty};
use crate::error::KinesisError;
use crate::gateway::DataPlane;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddTagsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

pub async fn add_tags(plane: &DataPlane, req: AddTagsInput) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    check_tag_map(&mut violations, &req.tags);
    let stream = stream_for(plane, &stream_ref!(req), violations)?;
    let tags = req.tags.unwrap_or_default();
    let account = &plane.catalog.settings().account_id;
    check_tag_characters(TagChange::Add, &stream.name, account, tag_texts(&tags))?;
    plane.admin()?.add_tags(&stream.name, tags).await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTagsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn remove_tags(plane: &DataPlane, req: RemoveTagsInput) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    check_tag_keys(&mut violations, &req.tag_keys);
    let stream = stream_for(plane, &stream_ref!(req), violations)?;
    let keys = req.tag_keys.unwrap_or_default();
    let account = &plane.catalog.settings().account_id;
    check_tag_characters(
        TagChange::Remove,
        &stream.name,
        account,
        keys.iter().map(String::as_str),
    )?;
    plane.admin()?.remove_tags(&stream.name, keys).await?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    exclusive_start_tag_key: Option<String>,
    #[serde(default, deserialize_with = "crate::protocol::integer")]
    limit: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    key: String,
    value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOutput {
    tags: Vec<Tag>,
    has_more_tags: bool,
}

pub async fn list_tags(
    plane: &DataPlane,
    req: ListTagsInput,
) -> Result<ListTagsOutput, KinesisError> {
    let mut violations = Violations::new();
    if let Some(limit) = req.limit {
        violations.range(limit, "limit", Some(1), Some(50));
    }
    if let Some(key) = &req.exclusive_start_tag_key {
        violations.length(key, "exclusiveStartTagKey", 1, 128);
    }
    let stream = stream_for(plane, &stream_ref!(req), violations)?;
    let limit = req.limit.unwrap_or(50) as usize;
    let mut iter = stream.tags.iter().filter(|(k, _)| {
        req.exclusive_start_tag_key
            .as_ref()
            .is_none_or(|start| *k > start)
    });
    let tags: Vec<Tag> = iter
        .by_ref()
        .take(limit)
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect();
    Ok(ListTagsOutput {
        tags,
        has_more_tags: iter.next().is_some(),
    })
}

/// The pattern of a taggable resource's ARN, as the model gives it.
const RESOURCE_ARN_PATTERN: &str = "arn:aws.*:kinesis:.*:\\d{12}:.*(stream|channel|queue)/\\S+";

/// What a resource ARN names.
pub(super) enum Resource {
    Stream(String),
    Consumer {
        stream: String,
        name: String,
        seconds: Option<i64>,
    },
}

pub(super) fn check_resource_arn(
    violations: &mut Violations,
    arn: &Option<String>,
) -> Option<Resource> {
    violations.required(arn, "resourceARN");
    let arn = arn.as_ref()?;
    violations.length(arn, "resourceARN", 1, 2048);
    let resource = if arn.contains("/consumer/") {
        parse_consumer_arn(arn).map(|(stream, name, seconds)| Resource::Consumer {
            stream,
            name,
            seconds,
        })
    } else {
        stream_name_from_arn(arn).map(|name| Resource::Stream(name.to_string()))
    };
    if resource.is_none() && !arn.is_empty() {
        violations.pattern(arn, "resourceARN", false, RESOURCE_ARN_PATTERN);
    }
    resource
}

/// The consumer a consumer ARN names, or AWS's not-found answer.
pub(super) fn consumer_of(
    plane: &DataPlane,
    stream: &str,
    name: &str,
    seconds: Option<i64>,
) -> Result<weir_contracts::ConsumerRecord, KinesisError> {
    let record = plane.catalog.stream(stream)?;
    record
        .consumers
        .get(name)
        .filter(|c| seconds.is_none_or(|s| s == c.created_at_ms / 1000))
        .cloned()
        .ok_or_else(|| {
            KinesisError::ResourceNotFound(format!(
                "Consumer {name} under stream {stream} not found for account {}.",
                plane.catalog.settings().account_id
            ))
        })
}

/// Checks a tag map as AWS does, before looking the stream up: 1 to 200 tags, keys of 1
/// to 128 characters and values of at most 256.
fn check_tag_map(violations: &mut Violations, tags: &Option<BTreeMap<String, String>>) {
    violations.required(tags, "tags");
    if let Some(tags) = tags {
        if tags.is_empty() {
            violations.push(Some("{}"), "tags", "have length greater than or equal to 1");
        } else if tags.len() > 200 {
            let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            violations.push(
                Some(&format!("{{{}}}", pairs.join(", "))),
                "tags",
                "have length less than or equal to 200",
            );
        }
        violations.map_lengths(tags.iter(), "tags", (1, 128), (0, 256));
    }
}

/// Checks a list of tag keys as AWS does: 1 to 50 keys of 1 to 128 characters.
fn check_tag_keys(violations: &mut Violations, keys: &Option<Vec<String>>) {
    violations.required(keys, "tagKeys");
    if let Some(keys) = keys {
        let shown = format!("[{}]", keys.join(", "));
        if keys.is_empty() {
            violations.push(
                Some(&shown),
                "tagKeys",
                "have length greater than or equal to 1",
            );
        } else if keys.len() > 50 {
            violations.push(
                Some(&shown),
                "tagKeys",
                "have length less than or equal to 50",
            );
        }
        violations.member_lengths(keys, "tagKeys", 1, 128);
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

/// TagResource: adds or replaces tags of a stream or a consumer.
pub async fn tag_resource(plane: &DataPlane, req: TagResourceInput) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    let resource = check_resource_arn(&mut violations, &req.resource_arn);
    check_tag_map(&mut violations, &req.tags);
    KinesisError::validation(violations)?;
    let tags = req.tags.unwrap_or_default();
    match resource {
        Some(Resource::Stream(name)) => {
            let stream = plane.catalog.stream(&name)?;
            let account = &plane.catalog.settings().account_id;
            check_tag_characters(TagChange::Add, &stream.name, account, tag_texts(&tags))?;
            plane.admin()?.add_tags(&stream.name, tags).await?;
        }
        Some(Resource::Consumer {
            stream,
            name,
            seconds,
        }) => {
            consumer_of(plane, &stream, &name, seconds)?;
            let account = &plane.catalog.settings().account_id;
            check_tag_characters(TagChange::Add, &stream, account, tag_texts(&tags))?;
            plane.admin()?.tag_consumer(&stream, &name, tags).await?;
        }
        None => unreachable_resource()?,
    }
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

/// UntagResource: removes tags of a stream or a consumer.
pub async fn untag_resource(
    plane: &DataPlane,
    req: UntagResourceInput,
) -> Result<Empty, KinesisError> {
    let mut violations = Violations::new();
    let resource = check_resource_arn(&mut violations, &req.resource_arn);
    check_tag_keys(&mut violations, &req.tag_keys);
    KinesisError::validation(violations)?;
    let keys = req.tag_keys.unwrap_or_default();
    match resource {
        Some(Resource::Stream(name)) => {
            let stream = plane.catalog.stream(&name)?;
            let account = &plane.catalog.settings().account_id;
            let texts = keys.iter().map(String::as_str);
            check_tag_characters(TagChange::Remove, &stream.name, account, texts)?;
            plane.admin()?.remove_tags(&stream.name, keys).await?;
        }
        Some(Resource::Consumer {
            stream,
            name,
            seconds,
        }) => {
            consumer_of(plane, &stream, &name, seconds)?;
            plane.admin()?.untag_consumer(&stream, &name, keys).await?;
        }
        None => unreachable_resource()?,
    }
    Ok(Empty {})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(rename = "StreamId")]
    _stream_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceOutput {
    tags: Vec<Tag>,
}

/// ListTagsForResource: every tag of a stream or a consumer, in key order.
pub async fn list_tags_for_resource(
    plane: &DataPlane,
    req: ListTagsForResourceInput,
) -> Result<ListTagsForResourceOutput, KinesisError> {
    let mut violations = Violations::new();
    let resource = check_resource_arn(&mut violations, &req.resource_arn);
    KinesisError::validation(violations)?;
    let tags = match resource {
        Some(Resource::Stream(name)) => plane.catalog.stream(&name)?.tags.clone(),
        Some(Resource::Consumer {
            stream,
            name,
            seconds,
        }) => consumer_of(plane, &stream, &name, seconds)?.tags,
        None => unreachable_resource()?,
    };
    Ok(ListTagsForResourceOutput {
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect(),
    })
}

/// A missing or malformed ARN is reported with the other violations before this point.
pub(super) fn unreachable_resource<T>() -> Result<T, KinesisError> {
    Err(KinesisError::InvalidArgument(
        "ResourceARN must name a stream or a consumer.".into(),
    ))
}

/// Whether tags are being added or removed: Kinesis names the change in its refusal.
#[derive(Clone, Copy)]
enum TagChange {
    Add,
    Remove,
}

/// Kinesis's character rules for tags (as kinesalite recorded them, with the `:` that
/// AWS's own `aws:` tags need): Unicode letters, digits, white space and
/// `_ . / = + - % @ :`, and then no `%` after all. Removal checks the keys by the same
/// rules.
fn check_tag_characters<'a>(
    change: TagChange,
    stream: &str,
    account: &str,
    texts: impl Iterator<Item = &'a str> + Clone,
) -> Result<(), KinesisError> {
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || "_./=+- @%:".contains(c)
            || ('\u{C0}'..='\u{1FFF}').contains(&c)
            || ('\u{2C00}'..='\u{D7FF}').contains(&c)
    };
    if texts.clone().any(|t| !t.chars().all(allowed)) {
        return Err(KinesisError::InvalidArgument(
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, \
             _ . / = + - % @ :."
                .into(),
        ));
    }
    if texts.clone().any(|t| t.contains('%')) {
        let change = match change {
            TagChange::Add => "add tags to",
            TagChange::Remove => "remove tags from",
        };
        return Err(KinesisError::InvalidArgument(format!(
            "Failed to {change} stream {stream} under account {account} because some tags contained illegal \
             characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'."
        )));
    }
    Ok(())
}

/// The keys and values of a tag map, for [`check_tag_characters`].
fn tag_texts(tags: &BTreeMap<String, String>) -> impl Iterator<Item = &str> + Clone {
    tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()])
}
