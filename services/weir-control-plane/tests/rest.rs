//! The REST API against both metadata backends: SQLite (embedded) and Postgres
//! (production). Postgres comes from `WEIR_TEST_POSTGRES_URL` (default: the local server
//! with trust auth); each test gets its own fresh database.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use weir_control_plane::{rest, ControlPlane, ControlPlaneConfig, MetaStore};

enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    async fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh Postgres database on the test server.
    async fn postgres() -> Self {
        let admin = std::env::var("WEIR_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap_or_else(|e| {
            panic!("Postgres is required for these tests ({admin}): {e}. Run `bash tests/run.sh`, which starts it.")
        });
        let name = format!("weir_test_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_string();
        Self::Postgres(format!("{base}/{name}"))
    }

    fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => {
                format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display())
            }
            Self::Postgres(url) => url.clone(),
        }
    }

    async fn app(&self) -> (Router, Arc<ControlPlane>) {
        let store = MetaStore::connect(&self.url()).await.unwrap();
        let cp = ControlPlane::new(
            store,
            ControlPlaneConfig {
                shard_limit: 20,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        (rest::router(Arc::clone(&cp)), cp)
    }
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    (status, value)
}

async fn stream_lifecycle(backend: Backend) {
    let (app, _) = backend.app().await;
    let (status, created) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "orders", "shard_count": 4, "tags": {"team": "core"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["open_shard_count"], 4);
    assert_eq!(created["mode"], "PROVISIONED");
    assert_eq!(created["retention_hours"], 24);
    assert_eq!(
        created["arn"],
        "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
    );

    let (status, dup) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "orders", "shard_count": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(dup["error"]["code"], "ResourceInUse");
    assert_eq!(
        dup["error"]["message"],
        "Stream orders under account 000000000000 already exists."
    );

    let (status, od) = call(&app, "POST", "/v1/streams", Some(json!({"name": "clicks"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(od["mode"], "ON_DEMAND");
    assert_eq!(od["open_shard_count"], 4);

    // Shards tile the hash space with lineage fields.
    let (status, shards) = call(&app, "GET", "/v1/streams/orders/shards", None).await;
    assert_eq!(status, StatusCode::OK);
    let shards = shards["shards"].as_array().unwrap().clone();
    assert_eq!(shards.len(), 4);
    assert_eq!(shards[0]["shard_id"], "shardId-000000000000");
    assert_eq!(shards[0]["starting_hash_key"], "0");
    assert_eq!(shards[3]["ending_hash_key"], u128::MAX.to_string());
    for pair in shards.windows(2) {
        let end: u128 = pair[0]["ending_hash_key"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let start: u128 = pair[1]["starting_hash_key"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(end + 1, start);
    }

    // Pagination over names.
    for name in ["a1", "a2", "a3"] {
        call(
            &app,
            "POST",
            "/v1/streams",
            Some(json!({"name": name, "shard_count": 1})),
        )
        .await;
    }
    let (_, page1) = call(&app, "GET", "/v1/streams?limit=2", None).await;
    let names: Vec<&str> = page1["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a1", "a2"]);
    let next = page1["next"].as_str().unwrap();
    let (_, page2) = call(
        &app,
        "GET",
        &format!("/v1/streams?limit=10&after={next}"),
        None,
    )
    .await;
    let names: Vec<&str> = page2["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a3", "clicks", "orders"]);
    assert!(page2["next"].is_null());

    // Retention within bounds only.
    let (status, updated) = call(
        &app,
        "PUT",
        "/v1/streams/orders/retention",
        Some(json!({"retention_hours": 48})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["retention_hours"], 48);
    let (status, err) = call(
        &app,
        "PUT",
        "/v1/streams/orders/retention",
        Some(json!({"retention_hours": 9000})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Maximum allowed retention period is 8760 hours"));

    // Tags.
    let (status, tags) = call(
        &app,
        "PUT",
        "/v1/streams/orders/tags",
        Some(json!({"tags": {"env": "prod"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tags["tags"], json!({"env": "prod", "team": "core"}));
    let (_, tags) = call(&app, "DELETE", "/v1/streams/orders/tags/team", None).await;
    assert_eq!(tags["tags"], json!({"env": "prod"}));

    // State survives a restart of the control plane on the same store.
    drop(app);
    let (app, _) = backend.app().await;
    let (status, orders) = call(&app, "GET", "/v1/streams/orders", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(orders["retention_hours"], 48);
    assert_eq!(orders["tags"], json!({"env": "prod"}));

    let (status, _) = call(&app, "DELETE", "/v1/streams/orders", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, missing) = call(&app, "GET", "/v1/streams/orders", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["code"], "ResourceNotFound");
    assert_eq!(
        missing["error"]["message"],
        "Stream orders under account 000000000000 not found."
    );
    // The name can be reused, as a new incarnation.
    let (status, again) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "orders", "shard_count": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["open_shard_count"], 2);
}

async fn bad_input_changes_nothing(backend: Backend) {
    let (app, cp) = backend.app().await;
    let (status, err) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "bad name!", "shard_count": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "Validation");
    assert_eq!(
        err["error"]["message"],
        "2 validation errors detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member \
         must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '0' at 'shardCount' failed to satisfy \
         constraint: Member must have value greater than or equal to 1"
    );
    let long_value = "v".repeat(300);
    let (status, _) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "t", "shard_count": 1, "tags": {"k": long_value}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, err) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "big", "shard_count": 21})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("shard limit"));
    let (status, err) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "x", "bogus": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["error"]["message"].as_str().unwrap().contains("bogus"),
        "{err}"
    );
    let (status, _) = call(&app, "POST", "/v1/streams", Some(json!("not an object"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &app,
        "PUT",
        "/v1/streams/none/retention",
        Some(json!({"retention_hours": 48})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing was created by any refused request, in memory or in the store.
    assert!(cp.list_streams(None, 100).0.is_empty());
    drop(app);
    let (_, cp) = backend.app().await;
    assert!(cp.list_streams(None, 100).0.is_empty());
}

#[tokio::test]
async fn sqlite_stream_lifecycle() {
    stream_lifecycle(Backend::sqlite().await).await;
}

#[tokio::test]
async fn postgres_stream_lifecycle() {
    stream_lifecycle(Backend::postgres().await).await;
}

#[tokio::test]
async fn sqlite_bad_input_changes_nothing() {
    bad_input_changes_nothing(Backend::sqlite().await).await;
}

#[tokio::test]
async fn postgres_bad_input_changes_nothing() {
    bad_input_changes_nothing(Backend::postgres().await).await;
}

/// Consumer tags are stored: a control plane opened again on the same database has them.
async fn consumer_tags_persist(backend: Backend) {
    let (app, cp) = backend.app().await;
    let (status, created) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "tagged", "shard_count": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    cp.register_consumer("tagged", "reader").await.unwrap();
    let tags = [
        ("owner".to_string(), "alice".to_string()),
        ("tier".to_string(), "gold".to_string()),
    ];
    cp.tag_consumer("tagged", "reader", tags.iter().cloned().collect())
        .await
        .unwrap();
    cp.untag_consumer("tagged", "reader", vec!["tier".into()])
        .await
        .unwrap();
    let missing = cp
        .tag_consumer("tagged", "nobody", tags.iter().cloned().collect())
        .await;
    assert!(missing.is_err(), "an unregistered consumer has no tags");
    drop((app, cp));
    let (_, reopened) = backend.app().await;
    let stream = reopened.stream("tagged").unwrap();
    let consumer = &stream.consumers["reader"];
    assert_eq!(
        consumer.tags.iter().collect::<Vec<_>>(),
        [(&"owner".to_string(), &"alice".to_string())]
    );
}

/// Enhanced monitoring is stored: "ALL" expands, disabling removes, and a control plane
/// opened again on the same database reports the same shard-level metrics.
async fn enhanced_monitoring_persists(backend: Backend) {
    let (app, cp) = backend.app().await;
    let (status, created) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "watched", "shard_count": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (before, after) = cp
        .update_enhanced_monitoring("watched", vec!["ALL".into()], true)
        .await
        .unwrap();
    assert!(before.is_empty());
    assert_eq!(after.len(), weir_contracts::SHARD_LEVEL_METRICS.len());
    let (_, after) = cp
        .update_enhanced_monitoring(
            "watched",
            vec!["IncomingBytes".into(), "IteratorAgeMilliseconds".into()],
            false,
        )
        .await
        .unwrap();
    assert!(!after.iter().any(|m| m == "IncomingBytes"));
    let refused = cp
        .update_enhanced_monitoring("watched", vec!["Bogus".into()], true)
        .await;
    assert!(refused.is_err(), "an unknown metric is refused");
    drop((app, cp));
    let (_, reopened) = backend.app().await;
    assert_eq!(
        reopened.stream("watched").unwrap().shard_level_metrics,
        after
    );
}

#[tokio::test]
async fn sqlite_enhanced_monitoring_persists() {
    enhanced_monitoring_persists(Backend::sqlite().await).await;
}

#[tokio::test]
async fn postgres_enhanced_monitoring_persists() {
    enhanced_monitoring_persists(Backend::postgres().await).await;
}

#[tokio::test]
async fn sqlite_consumer_tags_persist() {
    consumer_tags_persist(Backend::sqlite().await).await;
}

#[tokio::test]
async fn postgres_consumer_tags_persist() {
    consumer_tags_persist(Backend::postgres().await).await;
}

/// Resource policies are stored: a control plane opened again on the same database has a
/// stream's and a consumer's policy; an invalid one or one naming another resource is
/// refused, and a deleted one stays deleted.
async fn resource_policy_persists(backend: Backend) {
    let (app, cp) = backend.app().await;
    let (status, created) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "guarded", "shard_count": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let consumer = cp.register_consumer("guarded", "reader").await.unwrap();
    let stream_arn = cp.arn("guarded");
    let consumer_arn = cp.catalog().consumer_arn("guarded", &consumer);
    let policy = |arn: &str, action: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "S", "Effect": "Deny",
            "Principal": {"AWS": "arn:aws:iam::000000000000:user/bob"}, "Action": action,
            "Resource": arn}]})
        .to_string()
    };
    let for_stream = policy(&stream_arn, "kinesis:PutRecord");
    let for_consumer = policy(&consumer_arn, "kinesis:SubscribeToShard");
    cp.set_resource_policy("guarded", None, Some(for_stream.clone()))
        .await
        .unwrap();
    cp.set_resource_policy("guarded", Some("reader"), Some(for_consumer.clone()))
        .await
        .unwrap();
    let elsewhere = cp
        .set_resource_policy(
            "guarded",
            None,
            Some(policy(&consumer_arn, "kinesis:PutRecord")),
        )
        .await;
    assert!(elsewhere.is_err(), "a stream's policy must name the stream");
    let missing = cp
        .set_resource_policy("guarded", Some("nobody"), Some(for_consumer.clone()))
        .await;
    assert!(missing.is_err(), "an unregistered consumer has no policy");
    drop((app, cp));
    let (_, reopened) = backend.app().await;
    let stream = reopened.stream("guarded").unwrap();
    assert_eq!(stream.resource_policy.as_deref(), Some(for_stream.as_str()));
    assert_eq!(
        stream.consumers["reader"].resource_policy.as_deref(),
        Some(for_consumer.as_str())
    );
    reopened
        .set_resource_policy("guarded", None, None)
        .await
        .unwrap();
    let again = reopened.set_resource_policy("guarded", None, None).await;
    assert!(
        again.is_err(),
        "deleting a policy that is not there is not found"
    );
    drop(reopened);
    let (_, third) = backend.app().await;
    let stream = third.stream("guarded").unwrap();
    assert_eq!(stream.resource_policy, None);
    assert!(stream.consumers["reader"].resource_policy.is_some());
}

#[tokio::test]
async fn sqlite_resource_policy_persists() {
    resource_policy_persists(Backend::sqlite().await).await;
}

#[tokio::test]
async fn postgres_resource_policy_persists() {
    resource_policy_persists(Backend::postgres().await).await;
}

#[test]
fn committed_openapi_matches_the_code() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/control-plane.json");
    let generated = rest::openapi_json();
    if std::env::var_os("WEIR_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/control-plane.json is out of date: run `cargo run -p weir -- openapi > openapi/control-plane.json` \
         (or WEIR_UPDATE_OPENAPI=1 cargo test -p weir-control-plane) and commit it"
    );
}

/// GET `uri` and the answer's status, headers and body bytes.
async fn fetch(
    app: &Router,
    uri: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::builder().uri(uri);
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

#[tokio::test]
async fn the_console_is_served_at_the_root_with_its_files() {
    let (app, cp) = Backend::sqlite().await.app().await;
    let (status, headers, body) = fetch(&app, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains(r#"<script type="module" src="/console/js/app.js">"#));

    let (status, headers, body) = fetch(&app, "/console/js/app.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert!(String::from_utf8(body).unwrap().contains("import"));
    let etag = headers["etag"].to_str().unwrap().to_string();
    let (status, _, body) = fetch(&app, "/console/js/app.js", Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());

    let (_, headers, _) = fetch(&app, "/console/style.css", None).await;
    assert_eq!(headers["content-type"], "text/css; charset=utf-8");
    let (_, headers, _) = fetch(&app, "/favicon.ico", None).await;
    assert_eq!(headers["content-type"], "image/svg+xml");
    let (status, _, _) = fetch(&app, "/console/../Cargo.toml", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = fetch(&app, "/console/nothing.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The API beside it is unchanged.
    let (status, _, _) = fetch(&app, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&app, "GET", "/v1/streams", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    drop(cp);
}

#[tokio::test]
async fn consumers_and_records_for_the_console() {
    let (app, cp) = Backend::sqlite().await.app().await;
    let (status, _) = call(
        &app,
        "POST",
        "/v1/streams",
        Some(json!({"name": "browsed", "shard_count": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    cp.register_consumer("browsed", "reader").await.unwrap();
    let (status, list) = call(&app, "GET", "/v1/streams/browsed/consumers", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["consumers"][0]["name"], "reader");
    assert_eq!(list["consumers"][0]["status"], "ACTIVE");
    assert!(list["consumers"][0]["arn"]
        .as_str()
        .unwrap()
        .contains(":stream/browsed/consumer/reader:"));
    let (status, _) = call(&app, "GET", "/v1/streams/nope/consumers", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bounds and shapes are checked before anything is read.
    let records = "/v1/streams/browsed/shards/shardId-000000000000/records";
    for (query, code) in [
        ("?limit=101", StatusCode::BAD_REQUEST),
        ("?limit=0", StatusCode::BAD_REQUEST),
        ("?from=SOMEWHERE", StatusCode::BAD_REQUEST),
        ("?from=AT_SEQUENCE_NUMBER", StatusCode::BAD_REQUEST),
        ("?from=AT_TIMESTAMP", StatusCode::BAD_REQUEST),
        ("?from=AFTER_SEQUENCE_NUMBER", StatusCode::BAD_REQUEST),
        ("?sequence=12a", StatusCode::BAD_REQUEST),
        ("?sequence=", StatusCode::BAD_REQUEST),
        ("?timestamp=-1", StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = call(&app, "GET", &format!("{records}{query}"), None).await;
        assert_eq!(status, code, "{query}: {body}");
    }
    let (status, _) = call(
        &app,
        "GET",
        "/v1/streams/browsed/shards/shardId-000000000009/records",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // No data plane attached here: a clear 503, not a hang or a 500.
    let (status, body) = call(&app, "GET", records, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[test]
fn the_console_is_public_and_records_need_the_read_permission() {
    use axum::http::Method;
    use weir_control_plane::rest_security::rest_action;
    for path in ["/", "/console/js/app.js", "/favicon.ico"] {
        assert!(rest_action(&Method::GET, path).is_none(), "{path}");
    }
    assert!(rest_action(&Method::POST, "/").is_some());
    let (action, stream) = rest_action(
        &Method::GET,
        "/v1/streams/s/shards/shardId-000000000000/records",
    )
    .unwrap();
    assert_eq!(action.as_str(), "kinesis:GetRecords");
    assert_eq!(stream.as_deref(), Some("s"));
}
