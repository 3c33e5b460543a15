//! The fake API server's object store: resourceVersions, the event log, and
//! server-side-apply field ownership.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

/// A resource the fake serves: (API group, version, plural, kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
}

pub const RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        plural: "pods",
        kind: "Pod",
    },
    Resource {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        kind: "StatefulSet",
    },
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        kind: "Lease",
    },
];

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `leases.coordination.k8s.io`, as the real server names it in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn find(group: &str, plural: &str) -> Option<Resource> {
        RESOURCES
            .iter()
            .copied()
            .find(|r| r.group == group && r.plural == plural)
    }
}

/// (resource, namespace, name)
pub type Key = (Resource, String, String);

/// A field path, like `["spec", "replicas"]`.
pub type Path = Vec<String>;

/// Who owns which fields of an object.
#[derive(Debug, Clone)]
pub struct Owner {
    pub operation: &'static str,
    pub fields: BTreeSet<Path>,
}

#[derive(Debug, Clone)]
pub struct Object {
    pub value: Value,
    pub owners: BTreeMap<String, Owner>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub kind: &'static str,
    pub key: Key,
    pub value: Value,
}

/// An API error as the real server words it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub causes: Vec<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: String) -> Self {
        Self {
            code,
            reason,
            message,
            causes: Vec::new(),
        }
    }

    pub fn body(&self) -> Value {
        let mut status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message, "reason": self.reason,
            "code": self.code,
        });
        if !self.causes.is_empty() {
            status["details"] = json!({ "causes": self.causes });
        }
        status
    }
}

#[derive(Default)]
pub struct Store {
    pub rv: u64,
    pub objects: BTreeMap<Key, Object>,
    pub log: Vec<Event>,
    /// Watches from a resourceVersion below this get 410 Gone.
    pub oldest_watchable: u64,
    /// New pods are Ready.
    pub pods_start_ready: bool,
    /// The highest resourceVersion broadcast to watches.
    pub published: u64,
    pub uid: u64,
}

/// Paths that identify an object rather than being fields of it.
fn is_identity(path: &Path) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["apiVersion"]
            | ["kind"]
            | ["metadata", "name"]
            | ["metadata", "namespace"]
            | ["metadata", "resourceVersion"]
            | ["metadata", "uid"]
            | ["metadata", "creationTimestamp"]
            | ["metadata", "generation"]
    ) || p.first() == Some(&"status")
        || (p.len() >= 2 && p[0] == "metadata" && p[1] == "managedFields")
}

/// Leaf paths of a JSON object: scalars and arrays are leaves; an empty map owns nothing
/// (applying `labels: {}` takes no label from anyone).
pub fn leaves(value: &Value) -> BTreeSet<Path> {
    fn walk(value: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    prefix.push(k.clone());
                    walk(v, prefix, out);
                    prefix.pop();
                }
            }
            _ => {
                out.insert(prefix.clone());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(value, &mut Vec::new(), &mut out);
    out.into_iter()
        .filter(|p| !p.is_empty() && !is_identity(p))
        .collect()
}

pub fn get<'a>(value: &'a Value, path: &Path) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.get(k))
}

fn set(value: &mut Value, path: &Path, leaf: Value) {
    let mut cursor = value;
    for (i, k) in path.iter().enumerate() {
        if !cursor.is_object() {
            *cursor = Value::Object(Map::new());
        }
        let map = cursor.as_object_mut().expect("made an object above");
        if i + 1 == path.len() {
            map.insert(k.clone(), leaf);
            return;
        }
        cursor = map
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn remove(value: &mut Value, path: &Path) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cursor = value;
    for k in parents {
        match cursor.get_mut(k) {
            Some(next) => cursor = next,
            None => return,
        }
    }
    if let Some(map) = cursor.as_object_mut() {
        map.remove(last);
    }
}

/// `{"f:spec":{"f:replicas":{}}}`
fn fields_v1(fields: &BTreeSet<Path>) -> Value {
    let mut root = Value::Object(Map::new());
    for path in fields {
        let prefixed: Path = path.iter().map(|k| format!("f:{k}")).collect();
        set(&mut root, &prefixed, json!({}));
    }
    root
}

impl Store {
    pub fn now() -> String {
        "2026-11-27T10:00:00Z".to_string()
    }

    /// The object as the server shows it, managedFields and resourceVersion included.
    pub fn render(&self, key: &Key) -> Option<Value> {
        let object = self.objects.get(key)?;
        let mut value = object.value.clone();
        let managed: Vec<Value> = object
            .owners
            .iter()
            .filter(|(_, o)| !o.fields.is_empty())
            .map(|(manager, o)| {
                json!({
                    "manager": manager, "operation": o.operation,
                    "apiVersion": key.0.api_version(), "time": Self::now(),
                    "fieldsType": "FieldsV1", "fieldsV1": fields_v1(&o.fields),
                })
            })
            .collect();
        value["metadata"]["managedFields"] = Value::Array(managed);
        Some(value)
    }

    fn record(&mut self, kind: &'static str, key: &Key) {
        let value = if kind == "DELETED" {
            self.objects.get(key).map(|o| o.value.clone())
        } else {
            self.render(key)
        };
        if let Some(value) = value {
            self.log.push(Event {
                rv: self.rv,
                kind,
                key: key.clone(),
                value,
            });
        }
    }

    fn stamp(&mut self, key: &Key, value: &mut Value, fresh: bool) {
        self.rv += 1;
        value["apiVersion"] = json!(key.0.api_version());
        value["kind"] = json!(key.0.kind);
        value["metadata"]["name"] = json!(key.2);
        value["metadata"]["namespace"] = json!(key.1);
        value["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        if fresh {
            self.uid += 1;
            value["metadata"]["uid"] = json!(format!("00000000-0000-0000-0000-{:012}", self.uid));
            value["metadata"]["creationTimestamp"] = json!(Self::now());
        }
        if let Some(map) = value["metadata"].as_object_mut() {
            map.remove("managedFields");
        }
    }

    pub fn create(&mut self, key: Key, mut value: Value, manager: &str) -> Result<Value, ApiError> {
        if self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{}\" already exists", key.0.qualified(), key.2),
            ));
        }
        self.stamp(&key, &mut value, true);
        let fields = leaves(&value);
        let owners = BTreeMap::from([(
            manager.to_string(),
            Owner {
                operation: "Update",
                fields,
            },
        )]);
        self.objects.insert(key.clone(), Object { value, owners });
        self.record("ADDED", &key);
        self.after_write(&key);
        Ok(self.render(&key).expect("just inserted"))
    }

    pub fn update(&mut self, key: Key, mut value: Value, manager: &str) -> Result<Value, ApiError> {
        let Some(current) = self.objects.get(&key) else {
            return Err(not_found(&key));
        };
        let sent = value["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if sent.is_empty() {
            return Err(ApiError::new(422, "Invalid", format!(
                "{} \"{}\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                key.0.qualified(), key.2)));
        }
        if current.value["metadata"]["resourceVersion"].as_str() != Some(sent.as_str()) {
            return Err(conflict_modified(&key));
        }
        let before = current.value.clone();
        let mut owners = current.owners.clone();
        for k in ["uid", "creationTimestamp"] {
            value["metadata"][k] = before["metadata"][k].clone();
        }
        self.stamp(&key, &mut value, false);
        let changed: BTreeSet<Path> = leaves(&value)
            .into_iter()
            .filter(|p| get(&before, p) != get(&value, p))
            .collect();
        let removed: BTreeSet<Path> = leaves(&before)
            .difference(&leaves(&value))
            .cloned()
            .collect();
        for owner in owners.values_mut() {
            owner
                .fields
                .retain(|p| !changed.contains(p) && !removed.contains(p));
        }
        owners
            .entry(manager.to_string())
            .or_insert(Owner {
                operation: "Update",
                fields: BTreeSet::new(),
            })
            .fields
            .extend(changed);
        self.objects.insert(key.clone(), Object { value, owners });
        self.record("MODIFIED", &key);
        self.after_write(&key);
        Ok(self.render(&key).expect("just updated"))
    }

    /// Server-side apply of `patch` by `manager`.
    pub fn apply(
        &mut self,
        key: Key,
        patch: Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, ApiError> {
        let applied = leaves(&patch);
        let Some(current) = self.objects.get(&key).cloned() else {
            if key.0.plural == "statefulsets"
                && get(&patch, &vec!["spec".into(), "selector".into()]).is_none()
            {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "StatefulSet.apps \"{}\" is invalid: spec.selector: Required value",
                        key.2
                    ),
                ));
            }
            let mut value = patch;
            self.stamp(&key, &mut value, true);
            let owners = BTreeMap::from([(
                manager.to_string(),
                Owner {
                    operation: "Apply",
                    fields: applied,
                },
            )]);
            self.objects.insert(key.clone(), Object { value, owners });
            self.record("ADDED", &key);
            self.after_write(&key);
            return Ok(self.render(&key).expect("just applied"));
        };
        let mut conflicts = Vec::new();
        for path in &applied {
            for (other, owner) in &current.owners {
                if other != manager
                    && owner.fields.contains(path)
                    && get(&current.value, path) != get(&patch, path)
                {
                    conflicts.push((other.clone(), path.clone()));
                }
            }
        }
        if !conflicts.is_empty() && !force {
            let api_version = key.0.api_version();
            let describe = |(m, p): &(String, Path)| {
                format!(
                    "conflict with \"{m}\" using {api_version}: .{}",
                    p.join(".")
                )
            };
            let mut error = ApiError::new(
                409,
                "Conflict",
                format!(
                    "Apply failed with {} conflict{}: {}",
                    conflicts.len(),
                    if conflicts.len() == 1 { "" } else { "s" },
                    conflicts.iter().map(describe).collect::<Vec<_>>().join(",")
                ),
            );
            error.causes = conflicts
                .iter()
                .map(|(m, p)| {
                    json!({
                        "reason": "FieldManagerConflict",
                        "message": format!("conflict with \"{m}\" using {api_version}"),
                        "field": format!(".{}", p.join(".")),
                    })
                })
                .collect();
            return Err(error);
        }
        let mut value = current.value.clone();
        let mut owners = current.owners.clone();
        if force {
            for (_, path) in &conflicts {
                for (other, owner) in owners.iter_mut() {
                    if other != manager {
                        owner.fields.remove(path);
                    }
                }
            }
        }
        // Fields this manager applied before and no longer applies are removed, unless
        // another manager owns them too.
        let previously = owners
            .get(manager)
            .map(|o| o.fields.clone())
            .unwrap_or_default();
        for path in previously.difference(&applied) {
            let shared = owners
                .iter()
                .any(|(m, o)| m != manager && o.fields.contains(path));
            if !shared {
                remove(&mut value, path);
            }
        }
        for path in &applied {
            if let Some(leaf) = get(&patch, path) {
                set(&mut value, path, leaf.clone());
            }
        }
        if value == current.value && previously == applied {
            return Ok(self.render(&key).expect("exists"));
        }
        self.stamp(&key, &mut value, false);
        owners.insert(
            manager.to_string(),
            Owner {
                operation: "Apply",
                fields: applied,
            },
        );
        self.objects.insert(key.clone(), Object { value, owners });
        self.record("MODIFIED", &key);
        self.after_write(&key);
        Ok(self.render(&key).expect("just applied"))
    }

    pub fn delete(&mut self, key: &Key) -> Result<(), ApiError> {
        if !self.objects.contains_key(key) {
            return Err(not_found(key));
        }
        self.rv += 1;
        if let Some(object) = self.objects.get_mut(key) {
            object.value["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        }
        self.record("DELETED", key);
        self.objects.remove(key);
        Ok(())
    }

    /// The StatefulSet controller: pods `<name>-<i>` for i < spec.replicas.
    fn after_write(&mut self, key: &Key) {
        if key.0.plural != "statefulsets" {
            return;
        }
        let Some(set) = self.objects.get(key) else {
            return;
        };
        let replicas = set.value["spec"]["replicas"].as_u64().unwrap_or(1);
        let labels = set.value["spec"]["template"]["metadata"]["labels"].clone();
        let pods = Resource::find("", "pods").expect("pods are served");
        let name = key.2.clone();
        let ns = key.1.clone();
        let existing: Vec<Key> = self
            .objects
            .keys()
            .filter(|(r, n, pod)| *r == pods && *n == ns && ordinal_of(pod, &name).is_some())
            .cloned()
            .collect();
        for pod in existing {
            if ordinal_of(&pod.2, &name).is_some_and(|i| i >= replicas) {
                let _ = self.delete(&pod);
            }
        }
        for i in 0..replicas {
            let pod = (pods, ns.clone(), format!("{name}-{i}"));
            if !self.objects.contains_key(&pod) {
                let ready = if self.pods_start_ready {
                    "True"
                } else {
                    "False"
                };
                let value = json!({
                    "metadata": { "labels": labels },
                    "spec": { "containers": [{ "name": "data-plane", "image": "weir" }] },
                    "status": { "phase": "Running", "conditions": [{ "type": "Ready", "status": ready }] },
                });
                let _ = self.create(pod, value, "kube-controller-manager");
            }
        }
    }

    pub fn set_status(&mut self, key: &Key, status: Value) -> Result<(), ApiError> {
        let Some(object) = self.objects.get_mut(key) else {
            return Err(not_found(key));
        };
        object.value["status"] = status;
        self.rv += 1;
        let rv = self.rv;
        if let Some(object) = self.objects.get_mut(key) {
            object.value["metadata"]["resourceVersion"] = json!(rv.to_string());
        }
        self.record("MODIFIED", key);
        Ok(())
    }
}

fn ordinal_of(pod: &str, set: &str) -> Option<u64> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

pub fn not_found(key: &Key) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("{} \"{}\" not found", key.0.qualified(), key.2),
    )
}

fn conflict_modified(key: &Key) -> ApiError {
    ApiError::new(409, "Conflict", format!(
        "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
        key.0.qualified(), key.2))
}

/// Equality-based label selectors (`a=b,c=d`), which is what the backend sends.
pub fn matches_selector(value: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .all(|term| {
            let (k, v) = term
                .split_once("==")
                .or_else(|| term.split_once('='))
                .unwrap_or((term, ""));
            value["metadata"]["labels"][k.trim()].as_str() == Some(v.trim())
        })
}
