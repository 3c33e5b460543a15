//! Plans: the difference between a config and the live control plane, as a list of
//! resource changes with attribute-level old and new values.
//!
//! A plan is computed from a [`Config`] and a [`LiveState`] only, so it is a pure function
//! (golden tests drive it without a server). It records what it observed of every stream
//! it looked at, so a saved plan can be refused when the world moved on.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use utoipa::ToSchema;
use weir_control_plane::StreamMode;

use crate::live::{tags_hash, LiveState, LiveStream};
use crate::schema::{valid_name, Config, ConsumerSpec, StreamSpec};
use crate::source::{Diagnostic, Document};
use crate::ConfigError;

/// Version of the saved-plan format; a plan from another format is refused.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What happens to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `+`: it does not exist yet.
    Create,
    /// `~`: changed in place; the data stays.
    Update,
    /// `-/+`: deleted and created again, because an attribute cannot change in place.
    Replace,
    /// `-`: the config owns it but no longer declares it (or `destroy`).
    Delete,
}

/// The resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A stream.
    Stream,
    /// A registered (enhanced fan-out) consumer.
    Consumer,
}

/// One attribute's old and new value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttributeChange {
    /// Attribute name, e.g. `retention_hours`.
    pub name: String,
    /// Live value; absent when the resource is created.
    #[schema(value_type = Option<Object>)]
    pub old: Option<Json>,
    /// Value after the apply; absent when the resource is deleted.
    #[schema(value_type = Option<Object>)]
    pub new: Option<Json>,
    /// This change cannot be made in place: the resource is replaced.
    #[serde(default)]
    pub forces_replacement: bool,
    /// The live value differs from what this config last applied: someone changed it
    /// outside the config. Holds the last-applied value (or `"changed"` for tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub last_applied: Option<Json>,
    /// A consequence worth reading, e.g. records that will be deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One resource's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResourceChange {
    /// `stream.orders`, `consumer.analytics` (or `stream["x.y"]` for a resource the config
    /// no longer declares whose name is not a label).
    pub address: String,
    /// Resource type.
    pub kind: ResourceKind,
    /// Live name.
    pub name: String,
    /// For consumers: the stream's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// What happens.
    pub action: Action,
    /// Attributes shown: all of them for create and delete, the changed ones for update
    /// and replace.
    pub attributes: Vec<AttributeChange>,
    /// Attributes of an update that do not change (shown as a count).
    #[serde(default)]
    pub unchanged_attributes: usize,
    /// Addresses this resource references; apply orders steps by them.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Consequences and reasons, printed under the resource.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Loses data or deletes something: needs approval.
    pub destructive: bool,
}

/// Something changed outside the config since it was last applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Drift {
    /// Resource address.
    pub address: String,
    /// What changed, e.g. `retention_hours is 48; this config last applied 168`.
    pub message: String,
}

/// Counts, as in Terraform's summary line (a replacement is one add and one destroy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    /// Resources created (including replacements).
    pub add: usize,
    /// Resources updated in place.
    pub change: usize,
    /// Resources deleted (including replacements).
    pub destroy: usize,
}

/// A plan: reviewed by a person, saved with `-out`, applied by `weir apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// The config's name (ownership label).
    pub config_name: String,
    /// A plan to remove everything the config owns (`weir destroy`).
    pub destroy: bool,
    /// What the plan was computed from; apply recomputes from it and checks the result.
    pub document: Document,
    /// Each stream the plan looked at, as it was (`null`: it did not exist).
    #[schema(value_type = BTreeMap<String, LiveStream>)]
    pub observed: BTreeMap<String, Option<LiveStream>>,
    /// The changes, by address.
    pub changes: Vec<ResourceChange>,
    /// Changes made outside the config since its last apply.
    pub drift: Vec<Drift>,
    /// Counts.
    pub summary: Summary,
}

impl Plan {
    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The changes that need approval.
    pub fn destructive_changes(&self) -> Vec<&ResourceChange> {
        self.changes.iter().filter(|c| c.destructive).collect()
    }
}

/// The shard counts an in-place resize goes through: Kinesis's UpdateShardCount allows at
/// most double and at least half the current count per call, so 2 → 6 is 2 → 4 → 6.
pub fn reshard_steps(from: u32, to: u32) -> Vec<u32> {
    let mut steps = Vec::new();
    let mut current = from.max(1);
    while current != to {
        current = if to > current {
            to.min(current.saturating_mul(2))
        } else {
            to.max(current.div_ceil(2))
        };
        steps.push(current);
    }
    steps
}

/// Computes the plan of `config` against `live`. Declared streams that exist but belong
/// to no config or to another one are refused (Weir never takes over what it did not
/// create), located at their declaration.
pub fn compute(
    config: &Config,
    live: &LiveState,
    document: Document,
    destroy: bool,
) -> Result<Plan, ConfigError> {
    let owner = config.name.as_str();
    let mut builder = Builder {
        config,
        owner,
        changes: Vec::new(),
        drift: Vec::new(),
        observed: BTreeMap::new(),
        conflicts: Vec::new(),
        created: BTreeSet::new(),
    };
    if !destroy {
        for spec in &config.streams {
            builder.stream(spec, live.streams.get(&spec.name));
        }
        for spec in &config.consumers {
            builder.consumer(spec, live.streams.get(&spec.stream_name));
        }
    }
    builder.prune(live, destroy);
    if !builder.conflicts.is_empty() {
        return Err(ConfigError::Invalid(builder.conflicts));
    }
    let mut changes = builder.changes;
    disambiguate_addresses(&mut changes);
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let mut summary = Summary::default();
    for change in &changes {
        match change.action {
            Action::Create => summary.add += 1,
            Action::Update => summary.change += 1,
            Action::Replace => {
                summary.add += 1;
                summary.destroy += 1;
            }
            Action::Delete => summary.destroy += 1,
        }
    }
    let mut drift = builder.drift;
    drift.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        config_name: owner.to_string(),
        destroy,
        document,
        observed: builder.observed,
        changes,
        drift,
        summary,
    })
}

struct Builder<'a> {
    config: &'a Config,
    owner: &'a str,
    changes: Vec<ResourceChange>,
    drift: Vec<Drift>,
    observed: BTreeMap<String, Option<LiveStream>>,
    conflicts: Vec<Diagnostic>,
    created: BTreeSet<String>,
}

fn stream_attributes(spec: &StreamSpec) -> Vec<AttributeChange> {
    let mut attributes = vec![
        added("mode", json!(spec.mode.as_str())),
        added("name", json!(spec.name)),
        added("retention_hours", json!(spec.retention_hours)),
    ];
    if let Some(count) = spec.shard_count {
        attributes.push(added("shard_count", json!(count)));
    }
    attributes.push(added("tags", json!(spec.tags)));
    attributes
}

fn added(name: &str, value: Json) -> AttributeChange {
    AttributeChange {
        name: name.to_string(),
        old: None,
        new: Some(value),
        forces_replacement: false,
        last_applied: None,
        note: None,
    }
}

fn removed(name: &str, value: Json) -> AttributeChange {
    AttributeChange {
        name: name.to_string(),
        old: Some(value),
        new: None,
        forces_replacement: false,
        last_applied: None,
        note: None,
    }
}

fn changed(name: &str, old: Json, new: Json) -> AttributeChange {
    AttributeChange {
        name: name.to_string(),
        old: Some(old),
        new: Some(new),
        forces_replacement: false,
        last_applied: None,
        note: None,
    }
}

impl Builder<'_> {
    fn stream(&mut self, spec: &StreamSpec, live: Option<&LiveStream>) {
        self.observed.insert(spec.name.clone(), live.cloned());
        let address = format!("stream.{}", spec.label);
        let depends_on: Vec<String> = spec.depends_on.iter().cloned().collect();
        let Some(live) = live else {
            self.created.insert(spec.name.clone());
            self.changes.push(ResourceChange {
                address,
                kind: ResourceKind::Stream,
                name: spec.name.clone(),
                stream: None,
                action: Action::Create,
                attributes: stream_attributes(spec),
                unchanged_attributes: 0,
                depends_on,
                notes: Vec::new(),
                destructive: false,
            });
            return;
        };
        if live.owner() != Some(self.owner) {
            let whose = match live.owner() {
                Some(other) => format!("it belongs to config {other:?}"),
                None => "it was not created by a Weir config".to_string(),
            };
            self.conflicts.push(self.config.diagnostic(
                spec.pos,
                format!(
                    "stream {:?} already exists and {whose}; Weir does not take over streams it did not create. Rename this stream, delete the existing one, or adopt it by tagging it weir:config={}",
                    spec.name, self.owner
                ),
            ));
            return;
        }

        let last = live.last_applied();
        let desired_mode = spec.mode.as_str();
        let mut attributes = Vec::new();
        let mut destructive = false;
        let notes = Vec::new();
        let mut total = 5; // mode, name, retention_hours, shard_count, tags
        if live.mode != desired_mode {
            let mut change = changed("mode", json!(live.mode), json!(desired_mode));
            change.note = Some(
                "changed in place (UpdateStreamMode; Kinesis allows two changes per 24 hours)"
                    .into(),
            );
            if let Some(last) = last.as_ref().filter(|l| l.mode != live.mode) {
                change.last_applied = Some(json!(last.mode));
                self.drifted(&address, "mode", &live.mode, &last.mode);
            }
            attributes.push(change);
        }
        if live.retention_hours != spec.retention_hours {
            let mut change = changed(
                "retention_hours",
                json!(live.retention_hours),
                json!(spec.retention_hours),
            );
            if spec.retention_hours < live.retention_hours {
                change.note = Some(format!(
                    "records older than {} hours will be deleted",
                    spec.retention_hours
                ));
                destructive = true;
            }
            if let Some(last) = last
                .as_ref()
                .filter(|l| l.retention_hours != live.retention_hours)
            {
                change.last_applied = Some(json!(last.retention_hours));
                self.drifted(
                    &address,
                    "retention_hours",
                    &live.retention_hours,
                    &last.retention_hours,
                );
            }
            attributes.push(change);
        }
        if let Some(count) = spec.shard_count {
            let live_count =
                (live.mode == StreamMode::Provisioned.as_str()).then_some(live.open_shards);
            if live_count != Some(count) {
                let mut change = changed(
                    "shard_count",
                    live_count.map_or(Json::Null, |n| json!(n)),
                    json!(count),
                );
                if let Some(from) = live_count {
                    let steps = reshard_steps(from, count);
                    if steps.len() > 1 {
                        let path: Vec<String> = std::iter::once(from)
                            .chain(steps)
                            .map(|n| n.to_string())
                            .collect();
                        change.note = Some(format!("resharded in steps: {}", path.join(" -> ")));
                    }
                }
                if let (Some(last), Some(from)) = (last.as_ref(), live_count) {
                    if last.shard_count.is_some_and(|n| n != from) {
                        change.last_applied = last.shard_count.map(|n| json!(n));
                        self.drifted(
                            &address,
                            "shard_count",
                            &from,
                            &last.shard_count.unwrap_or_default(),
                        );
                    }
                }
                attributes.push(change);
            }
        } else {
            total -= 1;
        }
        let live_tags = live.user_tags();
        if live_tags != spec.tags {
            let mut change = changed("tags", json!(live_tags), json!(spec.tags));
            if last
                .as_ref()
                .is_some_and(|l| l.tags_hash != tags_hash(&live_tags))
            {
                change.last_applied = Some(json!("changed"));
                self.drift.push(Drift {
                    address: address.clone(),
                    message: "tags were changed outside this config".into(),
                });
            }
            attributes.push(change);
        }
        if attributes.is_empty() {
            return;
        }
        self.changes.push(ResourceChange {
            address,
            kind: ResourceKind::Stream,
            name: spec.name.clone(),
            stream: None,
            action: Action::Update,
            unchanged_attributes: total - attributes.len().min(total),
            attributes,
            depends_on,
            notes,
            destructive,
        });
    }

    fn drifted(
        &mut self,
        address: &str,
        attribute: &str,
        live: &dyn std::fmt::Display,
        last: &dyn std::fmt::Display,
    ) {
        self.drift.push(Drift {
            address: address.to_string(),
            message: format!("{attribute} is {live}; this config last applied {last}"),
        });
    }

    fn consumer(&mut self, spec: &ConsumerSpec, live: Option<&LiveStream>) {
        let address = format!("consumer.{}", spec.label);
        let create = |action: Action, notes: Vec<String>| ResourceChange {
            address: address.clone(),
            kind: ResourceKind::Consumer,
            name: spec.name.clone(),
            stream: Some(spec.stream_name.clone()),
            action,
            attributes: vec![
                added("name", json!(spec.name)),
                added("stream", json!(spec.stream_name)),
            ],
            unchanged_attributes: 0,
            depends_on: spec.depends_on.iter().cloned().collect(),
            notes,
            destructive: action == Action::Replace,
        };
        if self.created.contains(&spec.stream_name) {
            self.changes.push(create(Action::Create, Vec::new()));
            return;
        }
        let Some(live) = live.filter(|l| l.owner() == Some(self.owner)) else {
            // The stream conflicts; that is reported once, for the stream.
            return;
        };
        let registered = live.consumers.contains(&spec.name);
        let ours = live.consumers_owned_by(self.owner).contains(&spec.name);
        match (registered, ours) {
            (true, true) => {}
            (true, false) => self.conflicts.push(self.config.diagnostic(
                spec.pos,
                format!(
                    "consumer {:?} is already registered on stream {:?}, but not by this config (an application may have registered it); rename this consumer or deregister the existing one",
                    spec.name, spec.stream_name
                ),
            )),
            (false, ours) => {
                if ours {
                    self.drift.push(Drift {
                        address: address.clone(),
                        message: "was deregistered outside this config".into(),
                    });
                }
                self.changes.push(create(Action::Create, Vec::new()));
            }
        }
    }

    /// Deletes what the config owns and no longer declares (everything it owns, for destroy).
    fn prune(&mut self, live: &LiveState, destroy: bool) {
        let declared_streams: BTreeMap<&str, &StreamSpec> = self
            .config
            .streams
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect();
        let declared_consumers: BTreeMap<(&str, &str), &ConsumerSpec> = self
            .config
            .consumers
            .iter()
            .map(|c| ((c.stream_name.as_str(), c.name.as_str()), c))
            .collect();
        let taken: BTreeSet<String> = self
            .config
            .streams
            .iter()
            .map(|s| format!("stream.{}", s.label))
            .chain(
                self.config
                    .consumers
                    .iter()
                    .map(|c| format!("consumer.{}", c.label)),
            )
            .collect();
        for stream in live
            .streams
            .values()
            .filter(|s| s.owner() == Some(self.owner))
        {
            self.observed
                .insert(stream.name.clone(), Some(stream.clone()));
            let spec = declared_streams
                .get(stream.name.as_str())
                .filter(|_| !destroy);
            let stream_address = match declared_streams.get(stream.name.as_str()) {
                Some(spec) => format!("stream.{}", spec.label),
                None => undeclared_address("stream", &stream.name, &taken),
            };
            let owned = stream.consumers_owned_by(self.owner);
            for consumer in stream.consumers.iter().filter(|c| owned.contains(*c)) {
                let declared = declared_consumers.get(&(stream.name.as_str(), consumer.as_str()));
                if declared.is_some() && !destroy && spec.is_some() {
                    continue;
                }
                let address = match declared {
                    Some(spec) => format!("consumer.{}", spec.label),
                    None => undeclared_address("consumer", consumer, &taken),
                };
                self.changes.push(ResourceChange {
                    address,
                    kind: ResourceKind::Consumer,
                    name: consumer.clone(),
                    stream: Some(stream.name.clone()),
                    action: Action::Delete,
                    attributes: vec![
                        removed("name", json!(consumer)),
                        removed("stream", json!(stream.name)),
                    ],
                    unchanged_attributes: 0,
                    depends_on: declared
                        .map(|spec| spec.depends_on.iter().cloned().collect())
                        .unwrap_or_else(|| vec![stream_address.clone()]),
                    notes: if destroy {
                        Vec::new()
                    } else {
                        vec!["this config no longer declares it".into()]
                    },
                    destructive: true,
                });
            }
            if spec.is_some() {
                continue;
            }
            let mut notes = Vec::new();
            if !destroy {
                notes.push("this config no longer declares it".into());
            }
            let foreign: Vec<&str> = stream
                .consumers
                .iter()
                .filter(|c| !owned.contains(*c))
                .map(String::as_str)
                .collect();
            if !foreign.is_empty() {
                notes.push(format!(
                    "also deregisters consumers this config does not manage: {}",
                    foreign.join(", ")
                ));
            }
            let mut attributes = vec![
                removed("mode", json!(stream.mode)),
                removed("name", json!(stream.name)),
                removed("retention_hours", json!(stream.retention_hours)),
            ];
            if stream.mode == StreamMode::Provisioned.as_str() {
                attributes.push(removed("shard_count", json!(stream.open_shards)));
            }
            attributes.push(removed("tags", json!(stream.user_tags())));
            self.changes.push(ResourceChange {
                address: stream_address,
                kind: ResourceKind::Stream,
                name: stream.name.clone(),
                stream: None,
                action: Action::Delete,
                attributes,
                unchanged_attributes: 0,
                // Destroyed after whatever references it (apply reverses this order).
                depends_on: declared_streams
                    .get(stream.name.as_str())
                    .map(|spec| spec.depends_on.iter().cloned().collect())
                    .unwrap_or_default(),
                notes,
                destructive: true,
            });
        }
    }
}

/// `stream.legacy` when the name can be a label that the config does not use, else
/// `stream["legacy.v1"]`.
fn undeclared_address(kind: &str, name: &str, taken: &BTreeSet<String>) -> String {
    let label_like = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let plain = format!("{kind}.{name}");
    if label_like && valid_name(name, 128) && !taken.contains(&plain) {
        plain
    } else {
        format!("{kind}[{name:?}]")
    }
}

/// Gives resources that would share an address (two undeclared consumers of the same
/// name on different streams) addresses that include their stream.
fn disambiguate_addresses(changes: &mut [ResourceChange]) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for change in changes.iter() {
        *counts.entry(change.address.clone()).or_default() += 1;
    }
    for change in changes.iter_mut() {
        // Only undeclared resources move: declared ones keep the address the config gives them.
        if change.action == Action::Delete && counts.get(&change.address).copied().unwrap_or(0) > 1
        {
            if let (ResourceKind::Consumer, Some(stream)) = (change.kind, &change.stream) {
                change.address = format!("consumer[{:?}]", format!("{stream}/{}", change.name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshard_steps_stay_within_double_and_half() {
        assert_eq!(reshard_steps(2, 6), vec![4, 6]);
        assert_eq!(reshard_steps(8, 2), vec![4, 2]);
        assert_eq!(reshard_steps(3, 2), vec![2]);
        assert_eq!(reshard_steps(5, 1), vec![3, 2, 1]);
        assert_eq!(reshard_steps(1, 9), vec![2, 4, 8, 9]);
        assert!(reshard_steps(4, 4).is_empty());
        for from in 1..40u32 {
            for to in 1..40u32 {
                let mut current = from;
                for step in reshard_steps(from, to) {
                    assert!(
                        step <= current * 2 && step * 2 >= current,
                        "{from}->{to}: {current}->{step}"
                    );
                    current = step;
                }
                assert_eq!(current, to);
            }
        }
    }
}
