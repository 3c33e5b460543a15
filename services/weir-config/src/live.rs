//! The live side of a plan: a snapshot of the control plane's streams, and the tags by
//! which a config recognises what it owns.
//!
//! Ownership is recorded on the streams themselves, not in a state file, so every client
//! (CLI, console, another machine) sees the same truth:
//! - `weir:config = <config name>`: the stream was created by that config; apply and
//!   destroy only ever delete streams carrying their own config's name;
//! - `weir:consumer:<consumer name> = <config name>`: the consumer was registered by
//!   that config (consumers have no tags of their own), so consumers that applications
//!   register themselves (e.g. the KCL) are never deregistered;
//! - `weir:last-applied = mode=..;shards=..;retention=..;tags=<hash>`: what the config set
//!   last time, so a plan can tell drift (changed out of band) from a config change.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_control_plane::{ControlPlane, StreamRecord};

/// Tag naming the config that owns a stream.
pub const OWNER_TAG: &str = "weir:config";
/// Tag recording what the owning config last applied.
pub const APPLIED_TAG: &str = "weir:last-applied";
/// Prefix of the tags recording which consumers a config registered.
pub const CONSUMER_TAG_PREFIX: &str = "weir:consumer:";

/// A stream as the plan saw it. A saved plan keeps one per stream it looked at, so apply
/// can tell whether anything changed since (by `version`) and say what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LiveStream {
    /// Stream name.
    pub name: String,
    /// The control plane's version of the stream; it changes on every modification.
    pub version: i64,
    /// ACTIVE, UPDATING, ...
    pub status: String,
    /// PROVISIONED or ON_DEMAND.
    pub mode: String,
    /// Open shards.
    pub open_shards: u32,
    /// Retention in hours.
    pub retention_hours: u32,
    /// All tags, Weir's bookkeeping tags included.
    pub tags: BTreeMap<String, String>,
    /// Registered consumers.
    pub consumers: Vec<String>,
}

impl LiveStream {
    /// Snapshot of a control-plane record.
    pub fn from_record(record: &StreamRecord) -> Self {
        Self {
            name: record.name.clone(),
            version: record.version,
            status: record.status.as_str().to_string(),
            mode: record.mode.as_str().to_string(),
            open_shards: record.open_shards().count() as u32,
            retention_hours: record.retention_hours,
            tags: record.tags.clone(),
            consumers: record.consumers.keys().cloned().collect(),
        }
    }

    /// The config that owns this stream, if any.
    pub fn owner(&self) -> Option<&str> {
        self.tags.get(OWNER_TAG).map(String::as_str)
    }

    /// Tags the user manages (everything but `weir:` bookkeeping).
    pub fn user_tags(&self) -> BTreeMap<String, String> {
        self.tags
            .iter()
            .filter(|(k, _)| !k.starts_with(crate::schema::RESERVED_TAG_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Consumers that `config` registered (according to the bookkeeping tags).
    pub fn consumers_owned_by(&self, config: &str) -> BTreeSet<String> {
        self.tags
            .iter()
            .filter(|(_, v)| v.as_str() == config)
            .filter_map(|(k, _)| k.strip_prefix(CONSUMER_TAG_PREFIX))
            .map(str::to_string)
            .collect()
    }

    /// What the owning config last applied, if recorded and readable.
    pub fn last_applied(&self) -> Option<LastApplied> {
        self.tags
            .get(APPLIED_TAG)
            .and_then(|v| LastApplied::parse(v))
    }
}

/// Every stream of the control plane, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    /// Streams by name.
    pub streams: BTreeMap<String, LiveStream>,
}

impl LiveState {
    /// Reads the control plane's in-memory snapshot (no database round trip).
    pub fn from_control_plane(control_plane: &ControlPlane) -> Self {
        let (streams, _) = control_plane.list_streams(None, usize::MAX);
        Self {
            streams: streams
                .iter()
                .map(|s| (s.name.clone(), LiveStream::from_record(s)))
                .collect(),
        }
    }
}

/// The settings a config last applied to a stream, as kept in the `weir:last-applied` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastApplied {
    /// PROVISIONED or ON_DEMAND.
    pub mode: String,
    /// Shard count for PROVISIONED streams.
    pub shard_count: Option<u32>,
    /// Retention in hours.
    pub retention_hours: u32,
    /// Hash of the user tags (a tag holds at most 256 characters, so not the tags themselves).
    pub tags_hash: String,
}

impl LastApplied {
    /// The record of a stream's desired settings.
    pub fn new(
        mode: &str,
        shard_count: Option<u32>,
        retention_hours: u32,
        tags: &BTreeMap<String, String>,
    ) -> Self {
        Self {
            mode: mode.to_string(),
            shard_count,
            retention_hours,
            tags_hash: tags_hash(tags),
        }
    }

    /// The tag value.
    pub fn encode(&self) -> String {
        format!(
            "mode={};shards={};retention={};tags={}",
            self.mode,
            self.shard_count
                .map_or_else(|| "-".to_string(), |n| n.to_string()),
            self.retention_hours,
            self.tags_hash
        )
    }

    /// Reads a tag value; `None` if it was edited into something unreadable.
    pub fn parse(text: &str) -> Option<Self> {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for part in text.split(';') {
            let (key, value) = part.split_once('=')?;
            fields.insert(key, value);
        }
        Some(Self {
            mode: fields.get("mode")?.to_string(),
            shard_count: match *fields.get("shards")? {
                "-" => None,
                n => Some(n.parse().ok()?),
            },
            retention_hours: fields.get("retention")?.parse().ok()?,
            tags_hash: fields.get("tags")?.to_string(),
        })
    }
}

/// FNV-1a over the sorted tags: stable across versions and platforms, no dependency.
pub fn tags_hash(tags: &BTreeMap<String, String>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (key, value) in tags {
        for byte in key.bytes().chain([0]).chain(value.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_applied_round_trips() {
        let tags = BTreeMap::from([("team".to_string(), "checkout".to_string())]);
        let record = LastApplied::new("PROVISIONED", Some(4), 168, &tags);
        assert_eq!(LastApplied::parse(&record.encode()), Some(record.clone()));
        let on_demand = LastApplied::new("ON_DEMAND", None, 24, &BTreeMap::new());
        assert_eq!(LastApplied::parse(&on_demand.encode()), Some(on_demand));
        assert!(record.encode().len() <= 256);
        assert_eq!(LastApplied::parse("garbage"), None);
    }

    #[test]
    fn tag_hash_depends_on_keys_and_values() {
        let a = BTreeMap::from([("a".to_string(), "bc".to_string())]);
        let b = BTreeMap::from([("ab".to_string(), "c".to_string())]);
        assert_ne!(tags_hash(&a), tags_hash(&b));
        assert_eq!(tags_hash(&a), tags_hash(&a.clone()));
    }
}
