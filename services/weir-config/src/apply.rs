//! Applying a plan to the control plane: streams before their consumers, deletions in
//! reverse, shard counts in steps, one progress event per step.
//!
//! A saved plan is never executed as written. Apply recomputes the plan from the
//! document the plan carries and the live state, refuses if any stream it observed has
//! a different version now (optimistic concurrency), and refuses if the recomputed
//! changes differ from the saved ones. So what runs is always what a person reviewed and
//! what the config says. During the apply each step re-checks the stream's version
//! against what the previous steps left, so a concurrent change stops the apply instead
//! of being overwritten.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_control_plane::{ControlPlane, ControlPlaneError, CreateStream, RetentionChange};

use crate::live::{
    LastApplied, LiveState, LiveStream, APPLIED_TAG, CONSUMER_TAG_PREFIX, OWNER_TAG,
};
use crate::plan::{
    self, reshard_steps, Action, Plan, ResourceChange, ResourceKind, Summary, PLAN_FORMAT_VERSION,
};
use crate::schema::{load, Config, Mode, StreamSpec};
use crate::source::Document;
use crate::ConfigError;

/// A config and its plan against the current live state, ready to execute.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The checked config.
    pub config: Config,
    /// Its plan.
    pub plan: Plan,
}

/// Progress of an apply, one event per line of the `/v1/apply` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ApplyEvent {
    /// Work on a resource started.
    Started {
        /// Resource address.
        address: String,
        /// What is being done.
        action: Action,
    },
    /// A step within a resource (a reshard step, a retention change, ...).
    Progress {
        /// Resource address.
        address: String,
        /// What happened.
        message: String,
    },
    /// A resource is done.
    Finished {
        /// Resource address.
        address: String,
        /// What was done.
        action: Action,
        /// How long it took.
        elapsed_ms: u64,
    },
    /// A step failed; the apply stopped here and earlier changes stay applied.
    Failed {
        /// Resource address.
        address: String,
        /// Stable error code.
        code: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// Everything was applied.
    Complete {
        /// Counts of what was done.
        summary: Summary,
    },
}

/// Loads a document and plans it against the control plane's current state.
pub fn prepare(
    control_plane: &ControlPlane,
    document: Document,
    destroy: bool,
) -> Result<Prepared, ConfigError> {
    prepare_against(
        &LiveState::from_control_plane(control_plane),
        document,
        destroy,
    )
}

fn prepare_against(
    live: &LiveState,
    document: Document,
    destroy: bool,
) -> Result<Prepared, ConfigError> {
    let config = load(&document, Mode::Plan)?;
    let plan = plan::compute(&config, live, document, destroy)?;
    Ok(Prepared { config, plan })
}

/// Checks a saved plan against the live state and its own document; refuses, saying
/// what changed, if it is out of date.
pub fn check_saved(control_plane: &ControlPlane, saved: &Plan) -> Result<Prepared, ConfigError> {
    if saved.format_version != PLAN_FORMAT_VERSION {
        return Err(ConfigError::BadRequest(format!(
            "this plan has format version {}, and this server reads version {PLAN_FORMAT_VERSION}; run `weir plan` again",
            saved.format_version
        )));
    }
    let live = LiveState::from_control_plane(control_plane);
    let mut problems = Vec::new();
    for (name, seen) in &saved.observed {
        match (seen, live.streams.get(name)) {
            (None, None) => {}
            (None, Some(now)) => problems.push(format!(
                "stream {name:?} did not exist when the plan was made and exists now (version {})",
                now.version
            )),
            (Some(_), None) => problems.push(format!("stream {name:?} was deleted after the plan was made")),
            (Some(then), Some(now)) if then.version != now.version => problems.push(format!(
                "stream {name:?} was modified after the plan was made (version {} then, {} now): {}",
                then.version,
                now.version,
                describe_differences(then, now)
            )),
            _ => {}
        }
    }
    for stream in live.streams.values() {
        if stream.owner() == Some(saved.config_name.as_str())
            && !saved.observed.contains_key(&stream.name)
        {
            problems.push(format!(
                "stream {:?} now belongs to config {:?} but did not when the plan was made",
                stream.name, saved.config_name
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError::StalePlan(format!(
            "The saved plan was not applied because the live state changed since it was made:\n  - {}\nApplying it could overwrite someone else's change. Run `weir plan` again, review the new plan, and apply that.",
            problems.join("\n  - ")
        )));
    }
    let prepared = prepare_against(&live, saved.document.clone(), saved.destroy)?;
    if prepared.plan.changes != saved.changes || prepared.plan.config_name != saved.config_name {
        return Err(ConfigError::StalePlan(
            "The saved plan was not applied because its changes differ from what its own config produces against the same live state (was the plan file edited, or made by another Weir version?). Run `weir plan` again."
                .into(),
        ));
    }
    Ok(prepared)
}

fn describe_differences(then: &LiveStream, now: &LiveStream) -> String {
    let mut parts = Vec::new();
    if then.mode != now.mode {
        parts.push(format!("mode {} -> {}", then.mode, now.mode));
    }
    if then.retention_hours != now.retention_hours {
        parts.push(format!(
            "retention_hours {} -> {}",
            then.retention_hours, now.retention_hours
        ));
    }
    if then.open_shards != now.open_shards {
        parts.push(format!(
            "open shards {} -> {}",
            then.open_shards, now.open_shards
        ));
    }
    if then.user_tags() != now.user_tags() {
        parts.push("tags changed".into());
    }
    let before: BTreeSet<&String> = then.consumers.iter().collect();
    let after: BTreeSet<&String> = now.consumers.iter().collect();
    for added in after.difference(&before) {
        parts.push(format!("consumer {added} registered"));
    }
    for gone in before.difference(&after) {
        parts.push(format!("consumer {gone} deregistered"));
    }
    if then.status != now.status {
        parts.push(format!("status {} -> {}", then.status, now.status));
    }
    if parts.is_empty() {
        "its bookkeeping tags or status changed".into()
    } else {
        parts.join(", ")
    }
}

/// Refuses a plan with destructive changes unless the caller approved them.
pub fn require_approval(plan: &Plan, approve: bool) -> Result<(), ConfigError> {
    let destructive = plan.destructive_changes();
    if approve || destructive.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = destructive
        .iter()
        .map(|c| {
            let what = match c.action {
                Action::Delete => "destroyed",
                Action::Replace => "replaced, deleting its records",
                Action::Create | Action::Update => "updated, deleting older records",
            };
            format!("{} ({what})", c.address)
        })
        .collect();
    Err(ConfigError::ApprovalRequired(format!(
        "This plan deletes resources or records: {}. It needs approval: answer 'yes' to `weir apply`, pass -auto-approve, or send \"approve\": true.",
        list.join(", ")
    )))
}

/// Runs a prepared plan, reporting each step to `events`. Stops at the first failure;
/// what was done stays done, and `weir plan` shows what remains.
pub async fn execute(
    control_plane: &Arc<ControlPlane>,
    prepared: &Prepared,
    events: &mut (dyn FnMut(ApplyEvent) + Send),
) -> Result<Summary, ConfigError> {
    let mut run = Run {
        control_plane,
        config: &prepared.config,
        plan: &prepared.plan,
        expected: prepared
            .plan
            .observed
            .iter()
            .map(|(name, seen)| (name.clone(), seen.as_ref().map(|s| s.version)))
            .collect(),
        done: 0,
    };
    let mut summary = Summary::default();
    for change in run.order() {
        let started = Instant::now();
        events(ApplyEvent::Started {
            address: change.address.clone(),
            action: change.action,
        });
        let result = run.change(change, events).await;
        if let Err(error) = result {
            events(ApplyEvent::Failed {
                address: change.address.clone(),
                code: error.code().to_string(),
                message: error.to_string(),
            });
            return Err(error);
        }
        run.done += 1;
        match change.action {
            Action::Create => summary.add += 1,
            Action::Update => summary.change += 1,
            Action::Replace => {
                summary.add += 1;
                summary.destroy += 1;
            }
            Action::Delete => summary.destroy += 1,
        }
        events(ApplyEvent::Finished {
            address: change.address.clone(),
            action: change.action,
            elapsed_ms: started.elapsed().as_millis() as u64,
        });
    }
    events(ApplyEvent::Complete { summary });
    Ok(summary)
}

struct Run<'a> {
    control_plane: &'a Arc<ControlPlane>,
    config: &'a Config,
    plan: &'a Plan,
    /// The version each stream should have now; `None`: it should not exist.
    expected: HashMap<String, Option<i64>>,
    done: usize,
}

impl<'a> Run<'a> {
    /// Deletions first, dependents before what they depend on; then everything else,
    /// dependencies first.
    fn order(&self) -> Vec<&'a ResourceChange> {
        let plan = self.plan;
        let deletions: Vec<&ResourceChange> = plan
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .collect();
        let others: Vec<&ResourceChange> = plan
            .changes
            .iter()
            .filter(|c| c.action != Action::Delete)
            .collect();
        let mut order = topological(&deletions);
        order.reverse();
        order.extend(topological(&others));
        order
    }

    /// Stops if someone else changed `stream` since the plan or our last step.
    fn check(&self, stream: &str) -> Result<(), ConfigError> {
        let Some(expected) = self.expected.get(stream) else {
            return Ok(());
        };
        let now = self.control_plane.stream(stream).ok().map(|s| s.version);
        if now == *expected {
            return Ok(());
        }
        let describe =
            |v: Option<i64>| v.map_or_else(|| "absent".to_string(), |v| format!("version {v}"));
        Err(ConfigError::Concurrent(format!(
            "stream {stream:?} was changed by someone else during the apply ({} expected, {} found); stopped after {} of {} changes. Run `weir plan` to see where things stand.",
            describe(*expected),
            describe(now),
            self.done,
            self.plan.changes.len()
        )))
    }

    fn seen(&mut self, stream: &str) {
        let version = self.control_plane.stream(stream).ok().map(|s| s.version);
        self.expected.insert(stream.to_string(), version);
    }

    async fn change(
        &mut self,
        change: &ResourceChange,
        events: &mut (dyn FnMut(ApplyEvent) + Send),
    ) -> Result<(), ConfigError> {
        match change.kind {
            ResourceKind::Stream => self.stream(change, events).await,
            ResourceKind::Consumer => self.consumer(change).await,
        }
    }

    fn spec(&self, change: &ResourceChange) -> Result<&'a StreamSpec, ConfigError> {
        self.config
            .streams
            .iter()
            .find(|s| s.name == change.name)
            .ok_or_else(|| {
                ConfigError::BadRequest(format!("{}: not declared in the config", change.address))
            })
    }

    async fn stream(
        &mut self,
        change: &ResourceChange,
        events: &mut (dyn FnMut(ApplyEvent) + Send),
    ) -> Result<(), ConfigError> {
        let cp = self.control_plane;
        let name = change.name.as_str();
        let fail = failed(&change.address);
        match change.action {
            Action::Create => {
                self.check(name)?;
                let spec = self.spec(change)?;
                self.create_stream(spec).await.map_err(fail)?;
            }
            Action::Replace => {
                self.check(name)?;
                let spec = self.spec(change)?;
                cp.delete_stream(name).await.map_err(&fail)?;
                self.expected.insert(name.to_string(), None);
                events(ApplyEvent::Progress {
                    address: change.address.clone(),
                    message: "deleted; creating it again".into(),
                });
                self.create_stream(spec).await.map_err(fail)?;
            }
            Action::Delete => {
                self.check(name)?;
                cp.delete_stream(name).await.map_err(fail)?;
                self.expected.insert(name.to_string(), None);
            }
            Action::Update => {
                let spec = self.spec(change)?;
                let live = self.plan.observed.get(name).cloned().flatten();
                for attribute in &change.attributes {
                    match attribute.name.as_str() {
                        "mode" => {
                            self.check(name)?;
                            cp.update_stream_mode(name, spec.mode)
                                .await
                                .map_err(&fail)?;
                            events(ApplyEvent::Progress {
                                address: change.address.clone(),
                                message: format!(
                                    "mode set to {}; waiting for the stream to be ACTIVE",
                                    spec.mode.as_str()
                                ),
                            });
                            wait_active(cp, name).await.map_err(&fail)?;
                            self.seen(name);
                        }
                        "retention_hours" => {
                            self.check(name)?;
                            let record = cp
                                .update_retention(name, spec.retention_hours, RetentionChange::Set)
                                .await
                                .map_err(&fail)?;
                            self.expected.insert(name.to_string(), Some(record.version));
                            events(ApplyEvent::Progress {
                                address: change.address.clone(),
                                message: format!("retention_hours set to {}", spec.retention_hours),
                            });
                        }
                        "shard_count" => {
                            let target = spec.shard_count.unwrap_or(1);
                            let mut current = live.as_ref().map_or(target, |l| l.open_shards);
                            for step in reshard_steps(current, target) {
                                self.check(name)?;
                                events(ApplyEvent::Progress {
                                    address: change.address.clone(),
                                    message: format!("resharding {current} -> {step} shards"),
                                });
                                let record =
                                    cp.update_shard_count(name, step).await.map_err(&fail)?;
                                self.expected.insert(name.to_string(), Some(record.version));
                                current = step;
                            }
                        }
                        _ => {}
                    }
                }
                let live_tags = cp.stream(name).map_err(&fail)?.tags.clone();
                self.sync_tags(spec, &live_tags).await.map_err(&fail)?;
                if change.attributes.iter().any(|a| a.name == "tags") {
                    events(ApplyEvent::Progress {
                        address: change.address.clone(),
                        message: "tags updated".into(),
                    });
                }
            }
        }
        Ok(())
    }

    async fn create_stream(&mut self, spec: &StreamSpec) -> Result<(), ControlPlaneError> {
        let mut tags = spec.tags.clone();
        tags.insert(OWNER_TAG.into(), self.config.name.clone());
        tags.insert(APPLIED_TAG.into(), applied(spec).encode());
        let record = self
            .control_plane
            .create_stream(CreateStream {
                name: spec.name.clone(),
                shard_count: spec.shard_count,
                mode: Some(spec.mode),
                retention_hours: Some(spec.retention_hours),
                tags,
                replication_factor: None,
                shard_limits: None,
                max_record_size_kib: None,
                warm_throughput_mibps: None,
            })
            .await?;
        self.expected
            .insert(spec.name.clone(), Some(record.version));
        Ok(())
    }

    /// Makes the user tags equal to the config's and records what was applied.
    async fn sync_tags(
        &mut self,
        spec: &StreamSpec,
        live: &BTreeMap<String, String>,
    ) -> Result<(), ControlPlaneError> {
        let cp = self.control_plane;
        let name = spec.name.as_str();
        let stale: Vec<String> = live
            .keys()
            .filter(|k| {
                !k.starts_with(crate::schema::RESERVED_TAG_PREFIX) && !spec.tags.contains_key(*k)
            })
            .cloned()
            .collect();
        if !stale.is_empty() {
            let record = cp.remove_tags(name, stale).await?;
            self.expected.insert(name.to_string(), Some(record.version));
        }
        let mut put: BTreeMap<String, String> = spec
            .tags
            .iter()
            .filter(|(k, v)| live.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let record = applied(spec).encode();
        if live.get(APPLIED_TAG) != Some(&record) {
            put.insert(APPLIED_TAG.into(), record);
        }
        if !put.is_empty() {
            let record = cp.add_tags(name, put).await?;
            self.expected.insert(name.to_string(), Some(record.version));
        }
        Ok(())
    }

    async fn consumer(&mut self, change: &ResourceChange) -> Result<(), ConfigError> {
        let cp = self.control_plane;
        let stream = change.stream.clone().unwrap_or_default();
        let tag = format!("{CONSUMER_TAG_PREFIX}{}", change.name);
        let fail = failed(&change.address);
        match change.action {
            Action::Create | Action::Replace | Action::Update => {
                self.check(&stream)?;
                // Tag first: a consumer registered but not yet tagged would look foreign.
                let record = cp
                    .add_tags(&stream, BTreeMap::from([(tag, self.config.name.clone())]))
                    .await
                    .map_err(&fail)?;
                self.expected.insert(stream.clone(), Some(record.version));
                match cp.register_consumer(&stream, &change.name).await {
                    Ok(_) => {}
                    // A replaced stream is new; a consumer of the same name cannot exist.
                    Err(error) => return Err(fail(error)),
                }
                self.seen(&stream);
            }
            Action::Delete => {
                self.check(&stream)?;
                match cp.deregister_consumer(&stream, &change.name).await {
                    Ok(()) | Err(ControlPlaneError::NotFound(_)) => {}
                    Err(error) => return Err(fail(error)),
                }
                self.seen(&stream);
                if cp.stream(&stream).is_ok() {
                    let record = cp.remove_tags(&stream, vec![tag]).await.map_err(&fail)?;
                    self.expected.insert(stream.clone(), Some(record.version));
                }
            }
        }
        Ok(())
    }
}

/// Wraps a control-plane refusal with the address of the resource being changed.
fn failed(address: &str) -> impl Fn(ControlPlaneError) -> ConfigError {
    let address = address.to_string();
    move |source| ConfigError::Apply {
        address: address.clone(),
        source,
    }
}

fn applied(spec: &StreamSpec) -> LastApplied {
    LastApplied::new(
        spec.mode.as_str(),
        spec.shard_count,
        spec.retention_hours,
        &spec.tags,
    )
}

/// Orders changes so each comes after the changes it depends on (stable otherwise).
fn topological<'a>(changes: &[&'a ResourceChange]) -> Vec<&'a ResourceChange> {
    let present: BTreeSet<&str> = changes.iter().map(|c| c.address.as_str()).collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::with_capacity(changes.len());
    while order.len() < changes.len() {
        let before = order.len();
        for change in changes {
            if done.contains(change.address.as_str()) {
                continue;
            }
            let ready = change
                .depends_on
                .iter()
                .all(|d| done.contains(d.as_str()) || !present.contains(d.as_str()));
            if ready {
                done.insert(change.address.as_str());
                order.push(*change);
            }
        }
        if order.len() == before {
            // Cycles are refused when the config is loaded; keep going rather than hang.
            for change in changes {
                if done.insert(change.address.as_str()) {
                    order.push(*change);
                }
            }
        }
    }
    order
}

/// Waits for a stream changing its capacity mode to be ACTIVE again (the next changes
/// need it), for as long as the control plane's reshard delay plus a minute.
async fn wait_active(cp: &ControlPlane, name: &str) -> Result<(), ControlPlaneError> {
    let deadline = tokio::time::Instant::now()
        + cp.config().reshard_delay
        + std::time::Duration::from_secs(60);
    loop {
        if cp.stream(name)?.status == weir_control_plane::StreamStatus::Active {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(ControlPlaneError::InUse(format!(
                "stream {name:?} did not become ACTIVE after changing its capacity mode"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
