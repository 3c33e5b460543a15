//! Shared by the integration tests: a real control plane on a temporary SQLite database,
//! the config router in front of it, and the example config from `infra/examples`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use weir_config::SourceFile;
use weir_control_plane::{ControlPlane, ControlPlaneConfig, FenceFuture, MetaStore, ShardFence};

/// Seals nothing: there is no data plane in these tests, and a reshard only needs to
/// know where each closing shard ends (an empty shard ends at 0).
struct NoData;

impl ShardFence for NoData {
    fn seal(&self, _stream_uid: i64, _ordinal: u64) -> FenceFuture<'_, u64> {
        Box::pin(async { Ok(0) })
    }

    fn unseal(&self, _stream_uid: i64, _ordinal: u64) -> FenceFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// A control plane and the config routes.
pub struct Harness {
    pub control_plane: Arc<ControlPlane>,
    pub app: Router,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
        let store = MetaStore::connect(&url).await.expect("sqlite store");
        let control_plane = ControlPlane::new(store, ControlPlaneConfig::default())
            .await
            .expect("control plane");
        control_plane.attach_fence(Arc::new(NoData));
        let app = weir_config::rest::router(Arc::clone(&control_plane));
        Self {
            control_plane,
            app,
            _dir: dir,
        }
    }

    /// POST a JSON body; the answer as JSON (NDJSON answers come back as an array of lines).
    pub async fn post(&self, uri: &str, body: &Value) -> (StatusCode, Value) {
        let request = Request::builder()
            .method("POST")
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let response = self.app.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let ndjson = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/x-ndjson"));
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        let value = if ndjson {
            Value::Array(
                text.lines()
                    .map(|line| serde_json::from_str(line).expect("event line"))
                    .collect(),
            )
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text.to_string()))
        };
        (status, value)
    }

    /// Plans `files`; panics unless it answers 200.
    pub async fn plan(&self, files: &[SourceFile], extra: Value) -> Value {
        let mut body = json!({ "files": files });
        merge(&mut body, extra);
        let (status, value) = self.post("/v1/plan", &body).await;
        assert_eq!(status, StatusCode::OK, "plan failed: {value:#}");
        value
    }

    /// Applies `files` with approval; returns the events, panicking unless it completed.
    pub async fn apply(&self, files: &[SourceFile], extra: Value) -> Vec<Value> {
        let mut body = json!({ "files": files, "approve": true });
        merge(&mut body, extra);
        let (status, value) = self.post("/v1/apply", &body).await;
        assert_eq!(status, StatusCode::OK, "apply refused: {value:#}");
        let events = value.as_array().cloned().unwrap_or_default();
        assert_eq!(
            events.last().and_then(|e| e["event"].as_str()),
            Some("complete"),
            "apply did not complete: {events:#?}"
        );
        events
    }

    /// Stream names that exist now.
    pub fn stream_names(&self) -> Vec<String> {
        self.control_plane
            .list_streams(None, usize::MAX)
            .0
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }
}

fn merge(body: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (body.as_object_mut(), extra) {
        target.extend(extra);
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files of a config folder (`.hcl`, `.yaml`, `.yml`, not recursive), by name,
/// named relative to the repository like the CLI names them.
pub fn config_dir(relative: &str) -> Vec<SourceFile> {
    let dir = repo().join(relative);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("hcl" | "yaml" | "yml")
                )
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| SourceFile {
            name: format!(
                "{relative}/{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
            ),
            content: std::fs::read_to_string(&path).expect("read config file"),
        })
        .collect()
}

/// One file of the repository.
pub fn repo_file(relative: &str) -> SourceFile {
    SourceFile {
        name: relative.to_string(),
        content: std::fs::read_to_string(repo().join(relative)).expect("read file"),
    }
}

/// The example config.
pub fn example() -> Vec<SourceFile> {
    config_dir("infra/examples/orders-platform")
}

/// The example with `from` replaced by `to` in the file whose name ends with `file`.
pub fn edited(files: &[SourceFile], file: &str, from: &str, to: &str) -> Vec<SourceFile> {
    files
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if f.name.ends_with(file) {
                assert!(f.content.contains(from), "{from:?} not in {}", f.name);
                f.content = f.content.replacen(from, to, 1);
            }
            f
        })
        .collect()
}

/// A single in-memory file.
pub fn file(name: &str, content: &str) -> SourceFile {
    SourceFile {
        name: name.to_string(),
        content: content.to_string(),
    }
}
