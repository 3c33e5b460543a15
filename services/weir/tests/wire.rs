//! The Kinesis wire layer in-process: iterator expiry under an injected clock, CBOR
//! request/answer encoding, error shapes, and a property test that throws random bodies at
//! every operation's decoder.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;
use weir_control_plane::{ControlPlane, ControlPlaneConfig, MetaStore};
use weir_data_plane::{router, DataPlane, DataPlaneConfig, ManualClock};

struct Node {
    app: Router,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
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
    let clock = Arc::new(ManualClock::new());
    let plane = DataPlane::start(
        cp.ports(),
        DataPlaneConfig::new(dir.path().join("data")),
        clock.clone(),
    )
    .await
    .unwrap();
    Node {
        app: router(plane),
        clock,
        _dir: dir,
    }
}

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

async fn send(app: &Router, target: &str, content_type: &str, body: Vec<u8>) -> Answer {
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("x-amz-target", target)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

async fn json_call(app: &Router, op: &str, body: Value) -> Answer {
    send(
        app,
        &format!("Kinesis_20131202.{op}"),
        "application/x-amz-json-1.1",
        body.to_string().into_bytes(),
    )
    .await
}

fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn cbor_map(entries: Vec<(&str, ciborium::Value)>) -> ciborium::Value {
    ciborium::Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (ciborium::Value::Text(k.into()), v))
            .collect(),
    )
}

fn cbor_get<'a>(value: &'a ciborium::Value, key: &str) -> Option<&'a ciborium::Value> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

#[tokio::test]
async fn iterators_expire_after_five_minutes() {
    let node = node().await;
    assert_eq!(
        json_call(
            &node.app,
            "CreateStream",
            json!({"StreamName": "s", "ShardCount": 1})
        )
        .await
        .status,
        200
    );
    let it = json_call(
        &node.app,
        "GetShardIterator",
        json!({"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await
    .json()["ShardIterator"]
        .as_str()
        .unwrap()
        .to_string();
    node.clock.advance_ms(4 * 60 * 1000);
    let fresh = json_call(&node.app, "GetRecords", json!({"ShardIterator": it})).await;
    assert_eq!(
        fresh.status, 200,
        "a four-minute-old iterator is still valid"
    );
    let next = fresh.json()["NextShardIterator"]
        .as_str()
        .unwrap()
        .to_string();
    node.clock.advance_ms(60 * 1000 + 1);
    let expired = json_call(&node.app, "GetRecords", json!({"ShardIterator": it})).await;
    assert_eq!(expired.status, 400);
    assert_eq!(expired.json()["__type"], "ExpiredIteratorException");
    // AWS writes both times as dates (Java's Date.toString() in UTC), e.g. "Thu Jan 22
    // 01:22:02 UTC 2015".
    let message = expired.json()["message"].as_str().unwrap().to_string();
    let dates = message
        .strip_prefix("Iterator expired. The iterator was created at time ")
        .and_then(|m| {
            m.strip_suffix(
                " which is further in the future than the tolerated delay of 300000 milliseconds.",
            )
        })
        .and_then(|m| m.split_once(" while right now it is "));
    let is_date = |d: &str| {
        let parts: Vec<&str> = d.split(' ').collect();
        parts.len() == 6
            && parts[4] == "UTC"
            && parts[3].len() == 8
            && parts[2].len() == 2
            && parts[5].parse::<u32>().is_ok()
    };
    assert!(
        dates.is_some_and(|(then, now)| is_date(then) && is_date(now)),
        "{message}"
    );
    // The iterator handed out a minute ago is still good.
    assert_eq!(
        json_call(&node.app, "GetRecords", json!({"ShardIterator": next}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn cbor_requests_get_cbor_answers() {
    let node = node().await;
    let create = cbor_map(vec![("StreamName", "c".into()), ("ShardCount", 1.into())]);
    let answer = send(
        &node.app,
        "Kinesis_20131202.CreateStream",
        "application/x-amz-cbor-1.1",
        cbor(&create),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/x-amz-cbor-1.1");

    let payload = vec![0u8, 1, 2, 255, 254];
    let put = cbor_map(vec![
        ("StreamName", "c".into()),
        ("PartitionKey", "k".into()),
        ("Data", ciborium::Value::Bytes(payload.clone())),
    ]);
    let answer = send(
        &node.app,
        "Kinesis_20131202.PutRecord",
        "application/x-amz-cbor-1.1",
        cbor(&put),
    )
    .await;
    assert_eq!(answer.status, 200);
    let put_answer: ciborium::Value = ciborium::from_reader(answer.body.as_slice()).unwrap();
    let seq = cbor_get(&put_answer, "SequenceNumber")
        .unwrap()
        .as_text()
        .unwrap()
        .to_string();

    let get_it = cbor_map(vec![
        ("StreamName", "c".into()),
        ("ShardId", "shardId-000000000000".into()),
        ("ShardIteratorType", "AT_SEQUENCE_NUMBER".into()),
        ("StartingSequenceNumber", seq.clone().into()),
    ]);
    let answer = send(
        &node.app,
        "Kinesis_20131202.GetShardIterator",
        "application/x-amz-cbor-1.1",
        cbor(&get_it),
    )
    .await;
    let it: ciborium::Value = ciborium::from_reader(answer.body.as_slice()).unwrap();
    let it = cbor_get(&it, "ShardIterator").unwrap().clone();
    let answer = send(
        &node.app,
        "Kinesis_20131202.GetRecords",
        "application/x-amz-cbor-1.1",
        cbor(&cbor_map(vec![("ShardIterator", it)])),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/x-amz-cbor-1.1");
    let records: ciborium::Value = ciborium::from_reader(answer.body.as_slice()).unwrap();
    let record = &cbor_get(&records, "Records").unwrap().as_array().unwrap()[0];
    assert_eq!(
        cbor_get(record, "Data").unwrap().as_bytes().unwrap(),
        &payload,
        "blobs are byte strings"
    );
    assert_eq!(
        cbor_get(record, "SequenceNumber")
            .unwrap()
            .as_text()
            .unwrap(),
        seq
    );
    // Tag 1 (epoch time) wrapping milliseconds, as AWS sends it.
    let ts = match cbor_get(record, "ApproximateArrivalTimestamp").unwrap() {
        ciborium::Value::Tag(1, inner) => i128::from(inner.as_integer().unwrap()),
        other => panic!("timestamps are tag 1 in CBOR, got {other:?}"),
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i128;
    assert!(
        (now_ms - ts).abs() < 60_000,
        "timestamps are epoch milliseconds in CBOR, got {ts}"
    );

    // AT_TIMESTAMP with a tagged CBOR millisecond timestamp finds the record.
    let at = cbor_map(vec![
        ("StreamName", "c".into()),
        ("ShardId", "shardId-000000000000".into()),
        ("ShardIteratorType", "AT_TIMESTAMP".into()),
        (
            "Timestamp",
            ciborium::Value::Tag(1, Box::new(ciborium::Value::Integer((ts as i64).into()))),
        ),
    ]);
    let answer = send(
        &node.app,
        "Kinesis_20131202.GetShardIterator",
        "application/x-amz-cbor-1.1",
        cbor(&at),
    )
    .await;
    let it: ciborium::Value = ciborium::from_reader(answer.body.as_slice()).unwrap();
    let it = cbor_get(&it, "ShardIterator").unwrap().clone();
    let answer = send(
        &node.app,
        "Kinesis_20131202.GetRecords",
        "application/x-amz-cbor-1.1",
        cbor(&cbor_map(vec![("ShardIterator", it)])),
    )
    .await;
    let records: ciborium::Value = ciborium::from_reader(answer.body.as_slice()).unwrap();
    assert_eq!(
        cbor_get(&records, "Records")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A missing stream is a CBOR error.
    let describe = cbor_map(vec![("StreamName", "missing".into())]);
    let answer = send(
        &node.app,
        "Kinesis_20131202.DescribeStream",
        "application/x-amz-cbor-1.1",
        cbor(&describe),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.content_type, "application/x-amz-cbor-1.1");
    let error: ciborium::Value = ciborium::from_reader(answer.body.as_slice()).unwrap();
    assert_eq!(
        cbor_get(&error, "__type").unwrap().as_text().unwrap(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        cbor_get(&error, "message").unwrap().as_text().unwrap(),
        "Stream missing under account 000000000000 not found."
    );
}

#[tokio::test]
async fn protocol_errors_have_aws_shapes() {
    let node = node().await;
    let answer = send(
        &node.app,
        "Kinesis_20131202.ListStreams",
        "application/x-amz-json-1.1",
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(answer.status, 400);
    // A body that is not JSON: AWS names the exception and sends no message.
    assert_eq!(answer.json(), json!({"__type": "SerializationException"}));
    // A member of the wrong type: Coral's Java text, under a capital Message.
    let answer = json_call(&node.app, "ListStreams", json!({"Limit": true})).await;
    assert_eq!(
        answer.json(),
        json!({"__type": "SerializationException",
               "Message": "class java.lang.Boolean can not be converted to an Integer"})
    );
    let answer = send(
        &node.app,
        "Kinesis_20131202.Frobnicate",
        "application/x-amz-json-1.1",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(answer.json()["__type"], "UnknownOperationException");
    let answer = send(
        &node.app,
        "Nope.ListStreams",
        "application/x-amz-json-1.1",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(answer.json()["__type"], "UnknownOperationException");
    let answer = json_call(&node.app, "GetRecords", json!({"ShardIterator": "garbage"})).await;
    assert_eq!(answer.json()["__type"], "InvalidArgumentException");
    let answer = json_call(
        &node.app,
        "PutRecord",
        json!({"StreamName": "s", "PartitionKey": "k", "Data": "%%%"}),
    )
    .await;
    assert_eq!(answer.json()["__type"], "SerializationException");
}

const OPERATIONS: [&str; 16] = [
    "CreateStream",
    "DeleteStream",
    "DescribeStream",
    "DescribeStreamSummary",
    "ListStreams",
    "ListShards",
    "PutRecord",
    "PutRecords",
    "GetShardIterator",
    "GetRecords",
    "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod",
    "AddTagsToStream",
    "ListTagsForStream",
    "RemoveTagsFromStream",
    "DescribeLimits",
];

const KNOWN_ERRORS: [&str; 9] = [
    "SerializationException",
    "ValidationException",
    "ResourceNotFoundException",
    "ResourceInUseException",
    "InvalidArgumentException",
    "ExpiredIteratorException",
    "LimitExceededException",
    "ExpiredNextTokenException",
    "UnknownOperationException",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-zA-Z0-9_.\\- %]{0,12}".prop_map(Value::from),
        Just(Value::from("shardId-000000000000")),
        Just(Value::from("AAAA")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("StreamName".to_string()),
                    Just("ShardCount".to_string()),
                    Just("Records".to_string()),
                    Just("Data".to_string()),
                    Just("PartitionKey".to_string()),
                    Just("ShardId".to_string()),
                    Just("ShardIteratorType".to_string()),
                    Just("Limit".to_string()),
                    Just("Tags".to_string()),
                    Just("Timestamp".to_string()),
                    Just("ExplicitHashKey".to_string()),
                    Just("StreamARN".to_string()),
                    Just("ShardFilter".to_string()),
                    Just("RetentionPeriodHours".to_string()),
                    "[A-Za-z]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random bodies, JSON-shaped or raw bytes, in both encodings, to every operation: the
    /// gateway always answers with success or a known Kinesis error, never a panic or 500.
    #[test]
    fn random_bodies_never_break_the_decoder(
        op in 0usize..OPERATIONS.len(),
        body in arb_json(),
        raw in prop::collection::vec(any::<u8>(), 0..64),
        use_raw in any::<bool>(),
        use_cbor in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let node = node().await;
            json_call(&node.app, "CreateStream", json!({"StreamName": "s", "ShardCount": 1})).await;
            let (content_type, bytes) = if use_cbor {
                let value: ciborium::Value = ciborium::Value::serialized(&body).unwrap();
                ("application/x-amz-cbor-1.1", if use_raw { raw.clone() } else { cbor(&value) })
            } else {
                ("application/x-amz-json-1.1", if use_raw { raw.clone() } else { body.to_string().into_bytes() })
            };
            let answer = send(&node.app, &format!("Kinesis_20131202.{}", OPERATIONS[op]), content_type, bytes).await;
            prop_assert!(answer.status == 200 || answer.status == 400, "status {}", answer.status);
            if answer.status == 400 {
                let error: Value = if use_cbor {
                    let v: ciborium::Value = ciborium::from_reader(answer.body.as_slice()).unwrap();
                    v.deserialized().unwrap()
                } else {
                    serde_json::from_slice(&answer.body).unwrap()
                };
                let kind = error["__type"].as_str().unwrap_or_default().to_string();
                prop_assert!(KNOWN_ERRORS.contains(&kind.as_str()), "unexpected error type {kind}");
            }
            Ok(())
        })?;
    }
}
