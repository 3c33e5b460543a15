//! The fake API server's HTTP side.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch};

use super::objects::{self, ApiError, Event, Key, Resource, Store};
use super::proxy;

/// A running fake API server.
pub struct FakeApi {
    /// Where clients connect (through the fault-injecting proxy).
    pub url: String,
    inner: Arc<Inner>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub(super) struct Inner {
    store: Mutex<Store>,
    events: broadcast::Sender<Event>,
    end_watches: watch::Sender<u64>,
    faults: Mutex<VecDeque<(String, u16)>>,
    pub(super) drops: Mutex<VecDeque<String>>,
    calls: Mutex<BTreeMap<(String, String, String), u64>>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl FakeApi {
    /// Starts one on loopback.
    pub async fn start() -> Self {
        let (events, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            store: Mutex::new(Store {
                pods_start_ready: true,
                ..Store::default()
            }),
            events,
            end_watches: watch::channel(0).0,
            faults: Mutex::new(VecDeque::new()),
            drops: Mutex::new(VecDeque::new()),
            calls: Mutex::new(BTreeMap::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let backend = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let (front, proxy_task) = proxy::start(backend, Arc::clone(&inner)).await;
        Self {
            url: format!("http://{front}"),
            inner,
            tasks: vec![server, proxy_task],
        }
    }

    /// A client of it.
    pub fn client(&self) -> kube::Client {
        weir_kube::client_for_url(&self.url).expect("client")
    }

    /// Creates an object as `manager` would with a plain create (an Update owner).
    pub fn seed(&self, group: &str, plural: &str, ns: &str, value: Value, manager: &str) {
        let resource = Resource::find(group, plural).expect("served resource");
        let name = value["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        let mut store = self.inner.store.lock();
        store
            .create((resource, ns.into(), name), value, manager)
            .expect("seed");
        self.publish(&mut store);
    }

    /// The object as a GET would show it.
    pub fn object(&self, group: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        let resource = Resource::find(group, plural)?;
        self.inner
            .store
            .lock()
            .render(&(resource, ns.into(), name.into()))
    }

    /// Changes a pod's Ready condition (the kubelet's job).
    pub fn set_pod_ready(&self, ns: &str, name: &str, ready: bool) {
        let pods = Resource::find("", "pods").expect("pods");
        let mut store = self.inner.store.lock();
        let status = json!({ "phase": "Running", "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] });
        store
            .set_status(&(pods, ns.into(), name.into()), status)
            .expect("pod exists");
        self.publish(&mut store);
    }

    /// Whether new pods start Ready.
    pub fn pods_start_ready(&self, ready: bool) {
        self.inner.store.lock().pods_start_ready = ready;
    }

    /// Deletes an object (a pod evicted, say) without the backend knowing.
    pub fn delete(&self, group: &str, plural: &str, ns: &str, name: &str) {
        let resource = Resource::find(group, plural).expect("served resource");
        let mut store = self.inner.store.lock();
        store
            .delete(&(resource, ns.into(), name.into()))
            .expect("exists");
        self.publish(&mut store);
    }

    /// Deletes an object without any watch hearing of it: the event is lost, as when a
    /// watch was down and the history has since been compacted.
    pub fn delete_unseen(&self, group: &str, plural: &str, ns: &str, name: &str) {
        let resource = Resource::find(group, plural).expect("served resource");
        let mut store = self.inner.store.lock();
        store
            .delete(&(resource, ns.into(), name.into()))
            .expect("exists");
        store.published = store.rv;
        store.log.clear();
    }

    /// Forgets the event history: a watch resuming from an older resourceVersion gets
    /// 410 Gone.
    pub fn compact(&self) {
        let mut store = self.inner.store.lock();
        store.oldest_watchable = store.rv + 1;
        store.log.clear();
    }

    /// Ends every open watch (as the server does at its watch timeout).
    pub fn end_watches(&self) {
        self.inner.end_watches.send_modify(|g| *g += 1);
    }

    /// The next requests whose path contains `path` get `status`, one per entry.
    pub fn fail_next(&self, path: &str, statuses: &[u16]) {
        let mut faults = self.inner.faults.lock();
        faults.extend(statuses.iter().map(|s| (path.to_string(), *s)));
    }

    /// The next `n` requests whose first line contains `path` lose their connection
    /// before any answer.
    pub fn drop_next(&self, path: &str, n: usize) {
        self.inner
            .drops
            .lock()
            .extend(std::iter::repeat_n(path.to_string(), n));
    }

    /// Every (API group, resource, verb) asked so far.
    pub fn calls(&self) -> BTreeSet<(String, String, String)> {
        self.inner.calls.lock().keys().cloned().collect()
    }

    /// How many requests of `verb` on `resource` arrived (failed ones included).
    pub fn count(&self, resource: &str, verb: &str) -> u64 {
        self.inner
            .calls
            .lock()
            .iter()
            .filter(|((_, r, v), _)| r == resource && v == verb)
            .map(|(_, n)| *n)
            .sum()
    }

    fn publish(&self, store: &mut Store) {
        publish(&self.inner, store);
    }
}

/// Broadcasts the log entries written since the last call (under the same lock).
fn publish(inner: &Inner, store: &mut Store) {
    for event in store.log.iter().filter(|e| e.rv > store.published) {
        let _ = inner.events.send(event.clone());
    }
    store.published = store.rv;
}

struct Request {
    resource: Resource,
    namespace: String,
    name: Option<String>,
    query: BTreeMap<String, String>,
}

fn parse(uri: &Uri) -> Result<Request, ApiError> {
    let parts: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
            ))
        }
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (*ns, *plural, None),
        ["namespaces", ns, plural, name] => (*ns, *plural, Some(name.to_string())),
        _ => {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
            ))
        }
    };
    let resource = Resource::find(group, plural).ok_or_else(|| {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
        )
    })?;
    let query = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), percent_decode(v))
        })
        .collect();
    Ok(Request {
        resource,
        namespace: namespace.into(),
        name,
        query,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn answer(code: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn refuse(error: ApiError) -> Response {
    answer(error.code, error.body())
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match parse(&uri) {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    let watching = matches!(
        request.query.get("watch").map(String::as_str),
        Some("true" | "1")
    );
    let verb = match (&method, request.name.is_some()) {
        (&Method::GET, true) => "get",
        (&Method::GET, false) if watching => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        _ => {
            return refuse(ApiError::new(
                405,
                "MethodNotAllowed",
                format!("{method} is not supported here"),
            ))
        }
    };
    *inner
        .calls
        .lock()
        .entry((
            request.resource.group.into(),
            request.resource.plural.into(),
            verb.into(),
        ))
        .or_insert(0) += 1;
    let injected = {
        let mut faults = inner.faults.lock();
        let hit = faults
            .iter()
            .position(|(path, _)| uri.path().contains(path.as_str()));
        hit.and_then(|i| faults.remove(i)).map(|(_, code)| code)
    };
    if let Some(code) = injected {
        return refuse(ApiError::new(
            code,
            if code == 429 {
                "TooManyRequests"
            } else {
                "InternalError"
            },
            format!("injected failure {code}"),
        ));
    }
    if verb == "watch" {
        return start_watch(&inner, &request);
    }
    let manager = request
        .query
        .get("fieldManager")
        .cloned()
        .unwrap_or_else(|| {
            headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("unknown")
                .split('/')
                .next()
                .unwrap_or("unknown")
                .to_string()
        });
    let parsed: Result<Value, ApiError> = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(400, "BadRequest", format!("the body is not JSON: {e}")))
    };
    let key = |name: &str| -> Key {
        (
            request.resource,
            request.namespace.clone(),
            name.to_string(),
        )
    };
    let mut store = inner.store.lock();
    let result = (|| -> Result<(u16, Value), ApiError> {
        match verb {
            "get" => {
                let k = key(request.name.as_deref().unwrap_or_default());
                store
                    .render(&k)
                    .map(|v| (200, v))
                    .ok_or_else(|| objects::not_found(&k))
            }
            "list" => {
                let selector = request
                    .query
                    .get("labelSelector")
                    .cloned()
                    .unwrap_or_default();
                let items: Vec<Value> = store
                    .objects
                    .keys()
                    .filter(|(r, ns, _)| *r == request.resource && *ns == request.namespace)
                    .filter_map(|k| store.render(k))
                    .filter(|v| objects::matches_selector(v, &selector))
                    .collect();
                Ok((
                    200,
                    json!({
                        "kind": format!("{}List", request.resource.kind),
                        "apiVersion": request.resource.api_version(),
                        "metadata": { "resourceVersion": store.rv.to_string() },
                        "items": items,
                    }),
                ))
            }
            "create" => {
                let value = parsed?;
                let name = value["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                store.create(key(&name), value, &manager).map(|v| (201, v))
            }
            "update" => {
                let value = parsed?;
                store
                    .update(
                        key(request.name.as_deref().unwrap_or_default()),
                        value,
                        &manager,
                    )
                    .map(|v| (200, v))
            }
            "patch" => {
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if content_type != "application/apply-patch+yaml" {
                    return Err(ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml; got {content_type}")));
                }
                let Some(field_manager) = request.query.get("fieldManager") else {
                    return Err(ApiError::new(
                        400,
                        "BadRequest",
                        "PATCH is not supported: fieldManager is required for apply requests"
                            .into(),
                    ));
                };
                let force = request.query.get("force").map(String::as_str) == Some("true");
                store
                    .apply(
                        key(request.name.as_deref().unwrap_or_default()),
                        parsed?,
                        field_manager,
                        force,
                    )
                    .map(|v| (200, v))
            }
            "delete" => {
                let k = key(request.name.as_deref().unwrap_or_default());
                store.delete(&k).map(|_| {
                    (
                        200,
                        json!({"kind":"Status","apiVersion":"v1","status":"Success"}),
                    )
                })
            }
            _ => unreachable!("verbs are matched above"),
        }
    })();
    publish(&inner, &mut store);
    match result {
        Ok((code, value)) => answer(code, value),
        Err(error) => refuse(error),
    }
}

fn start_watch(inner: &Arc<Inner>, request: &Request) -> Response {
    let selector = request
        .query
        .get("labelSelector")
        .cloned()
        .unwrap_or_default();
    let timeout = request
        .query
        .get("timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1800u64);
    let from: u64 = request
        .query
        .get("resourceVersion")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let store = inner.store.lock();
    let mut live = inner.events.subscribe();
    let line = |kind: &str, object: &Value| {
        Bytes::from(format!("{}\n", json!({ "type": kind, "object": object })))
    };
    let matches = |e: &Event| {
        e.key.0 == request.resource
            && e.key.1 == request.namespace
            && objects::matches_selector(&e.value, &selector)
    };
    let mut backlog = Vec::new();
    let mut last = from;
    if from != 0 && from < store.oldest_watchable {
        let gone = ApiError::new(
            410,
            "Expired",
            format!(
                "too old resource version: {from} ({})",
                store.oldest_watchable
            ),
        );
        backlog.push(line("ERROR", &gone.body()));
        last = u64::MAX;
    } else if from == 0 {
        for k in store
            .objects
            .keys()
            .filter(|(r, ns, _)| *r == request.resource && *ns == request.namespace)
        {
            if let Some(v) = store
                .render(k)
                .filter(|v| objects::matches_selector(v, &selector))
            {
                backlog.push(line("ADDED", &v));
            }
        }
        last = store.rv;
    } else {
        for e in store.log.iter().filter(|e| e.rv > from && matches(e)) {
            backlog.push(line(e.kind, &e.value));
        }
        last = last.max(store.log.last().map_or(0, |e| e.rv));
    }
    drop(store);
    let mut ended = inner.end_watches.subscribe();
    let resource = request.resource;
    let namespace = request.namespace.clone();
    tokio::spawn(async move {
        for bytes in backlog {
            if tx.send(Ok(bytes)).await.is_err() {
                return;
            }
        }
        if last == u64::MAX {
            return;
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = ended.changed() => return,
                event = live.recv() => match event {
                    Ok(e) if e.rv > last => {
                        if e.key.0 == resource && e.key.1 == namespace && objects::matches_selector(&e.value, &selector) {
                            let bytes = Bytes::from(format!("{}\n", json!({ "type": e.kind, "object": e.value })));
                            if tx.send(Ok(bytes)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .expect("a valid response")
}
