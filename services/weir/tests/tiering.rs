//! The cold tier in-process, over the local-folder backend: sealed segments are uploaded
//! and their tier state recorded, local copies are dropped only once uploaded, and every
//! iterator type reads across the cold/hot boundary without a gap or a duplicate.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use weir_control_plane::{ControlPlane, ControlPlaneConfig, MetaStore, TierState};
use weir_data_plane::tiering::TierConfig;
use weir_data_plane::{router, DataPlane, DataPlaneConfig, SystemClock, TierSetup};
use weir_tier::{LocalFolderStore, ObjectStore};

struct Node {
    app: Router,
    plane: Arc<DataPlane>,
    cp: Arc<ControlPlane>,
}

async fn node(dir: &std::path::Path, bucket: &std::path::Path) -> Node {
    let url = format!("sqlite://{}?mode=rwc", dir.join("meta.db").display());
    let cp = ControlPlane::new(
        MetaStore::connect(&url).await.unwrap(),
        // These tests read and write in bursts; throttling has its own tests.
        ControlPlaneConfig {
            shard_limits: weir_control_plane::ShardLimits::UNLIMITED,
            ..ControlPlaneConfig::default()
        },
    )
    .await
    .unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFolderStore::new(bucket));
    let mut config = DataPlaneConfig::new(dir.join("data"));
    config.log.segment_bytes = 2048;
    config.tier = Some(TierSetup {
        store,
        config: TierConfig {
            local_retention_bytes: 2048,
            // Uploads run when the test asks, so it can look between steps.
            interval: std::time::Duration::from_secs(3600),
            ..TierConfig::default()
        },
    });
    let plane = DataPlane::start(cp.ports(), config, Arc::new(SystemClock))
        .await
        .unwrap();
    Node {
        app: router(Arc::clone(&plane)),
        plane,
        cp,
    }
}

async fn call(app: &Router, op: &str, body: Value) -> Value {
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("x-amz-target", format!("Kinesis_20131202.{op}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    // Operations without an output shape answer with no body at all, as AWS does.
    let value: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    assert!(status.is_success(), "{op} failed: {value}");
    value
}

async fn put_many(app: &Router, stream: &str, from: usize, count: usize) -> Vec<String> {
    let mut sequence_numbers = Vec::new();
    for chunk_start in (from..from + count).step_by(100) {
        let records: Vec<Value> = (chunk_start..(chunk_start + 100).min(from + count))
            .map(|i| {
                json!({"PartitionKey": "k",
                "Data": base64::engine::general_purpose::STANDARD.encode(format!("record-{i:06}"))})
            })
            .collect();
        let answer = call(
            app,
            "PutRecords",
            json!({"StreamName": stream, "Records": records}),
        )
        .await;
        assert_eq!(answer["FailedRecordCount"], 0);
        for r in answer["Records"].as_array().unwrap() {
            sequence_numbers.push(r["SequenceNumber"].as_str().unwrap().to_string());
        }
    }
    sequence_numbers
}

async fn read_all(app: &Router, iterator: Value) -> Vec<(String, String)> {
    let mut it = call(app, "GetShardIterator", iterator).await["ShardIterator"].clone();
    let mut out = Vec::new();
    loop {
        let page = call(app, "GetRecords", json!({"ShardIterator": it, "Limit": 37})).await;
        let records = page["Records"].as_array().unwrap().clone();
        for r in &records {
            let data = base64::engine::general_purpose::STANDARD
                .decode(r["Data"].as_str().unwrap())
                .unwrap();
            out.push((
                String::from_utf8(data).unwrap(),
                r["SequenceNumber"].as_str().unwrap().to_string(),
            ));
        }
        if records.is_empty() && page["MillisBehindLatest"] == 0 {
            return out;
        }
        it = page["NextShardIterator"].clone();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_drop_local_copies_and_reads_cross_from_cold_to_hot() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    let n = node(dir.path(), &bucket).await;
    call(
        &n.app,
        "CreateStream",
        json!({"StreamName": "t", "ShardCount": 1}),
    )
    .await;
    let uid = n.cp.stream("t").unwrap().uid;
    let seqs = put_many(&n.app, "t", 0, 1000).await;

    assert_eq!(n.plane.upload_now().await, None, "upload pass failed");
    let segments = n.cp.tier_segments(uid, 0).await.unwrap();
    assert!(
        segments.len() > 5,
        "tiny segments should have been uploaded: {segments:?}"
    );
    assert!(segments.iter().all(|s| s.state == TierState::Uploaded));
    for s in &segments {
        assert!(
            bucket.join(&s.object_key).exists(),
            "{} missing",
            s.object_key
        );
    }
    let local_logs = std::fs::read_dir(dir.path().join(format!("data/streams/{uid}/0")))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert!(
        local_logs <= 3,
        "local retention keeps ~one segment, found {local_logs}"
    );

    // TRIM_HORIZON reads everything in order, first from the cold tier, then locally.
    let all = read_all(
        &n.app,
        json!({"StreamName": "t", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await;
    assert_eq!(all.len(), 1000);
    for (i, (data, seq)) in all.iter().enumerate() {
        assert_eq!(data, &format!("record-{i:06}"));
        assert_eq!(seq, &seqs[i]);
    }
    // AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER deep in the cold tier.
    let at = read_all(
        &n.app,
        json!({"StreamName": "t", "ShardId": "shardId-000000000000",
               "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": seqs[123]}),
    )
    .await;
    assert_eq!(at.first().unwrap().0, "record-000123");
    assert_eq!(at.len(), 1000 - 123);
    let after = read_all(
        &n.app,
        json!({"StreamName": "t", "ShardId": "shardId-000000000000",
               "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": seqs[500]}),
    )
    .await;
    assert_eq!(after.first().unwrap().0, "record-000501");
    // AT_TIMESTAMP at the epoch starts at the very first (cold) record.
    let by_time = read_all(
        &n.app,
        json!({"StreamName": "t", "ShardId": "shardId-000000000000",
               "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": 1.0}),
    )
    .await;
    assert_eq!(by_time.len(), 1000);

    // Deleting the stream deletes its objects (the reaper's pass, run here directly).
    call(&n.app, "DeleteStream", json!({"StreamName": "t"})).await;
    let store = LocalFolderStore::new(&bucket);
    n.cp.attach_tier_store(Arc::new(store.clone()));
    n.cp.reap_tier_once().await.unwrap();
    let left = store.list(&format!("streams/{uid}/")).await.unwrap();
    assert!(left.is_empty(), "objects left after DeleteStream: {left:?}");
    let rows = n.cp.tier_segments(uid, 0).await.unwrap();
    assert!(rows.iter().all(|s| s.state == TierState::Deleted));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_data_folder_serves_uploaded_records_and_continues_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    let uid;
    let uploaded_end;
    {
        let n = node(dir.path(), &bucket).await;
        call(
            &n.app,
            "CreateStream",
            json!({"StreamName": "w", "ShardCount": 1}),
        )
        .await;
        uid = n.cp.stream("w").unwrap().uid;
        put_many(&n.app, "w", 0, 600).await;
        assert_eq!(n.plane.upload_now().await, None);
        uploaded_end =
            n.cp.tier_segments(uid, 0)
                .await
                .unwrap()
                .last()
                .unwrap()
                .end_offset;
        n.plane.shutdown().await;
    }
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    let n = node(dir.path(), &bucket).await;
    let all = read_all(
        &n.app,
        json!({"StreamName": "w", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await;
    assert_eq!(all.len() as u64, uploaded_end);
    for (i, (data, _)) in all.iter().enumerate() {
        assert_eq!(data, &format!("record-{i:06}"));
    }
    // New writes continue after the uploaded history instead of reusing its offsets.
    put_many(&n.app, "w", 10_000, 5).await;
    let again = read_all(
        &n.app,
        json!({"StreamName": "w", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await;
    assert_eq!(again.len() as u64, uploaded_end + 5);
    assert_eq!(again.last().unwrap().0, "record-010004");
    let _ = uid;
}
