//! SubscribeToShard with aws-sdk-kinesis (Rust): the event stream as the SDK decodes it,
//! from TRIM_HORIZON and AT_SEQUENCE_NUMBER, and ChildShards once a merge closes the shard.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ShardIteratorType, StartingPosition, SubscribeToShardEventStream};
use aws_sdk_kinesis::Client;
use weir_e2e::Weir;

fn client(endpoint: &str) -> Client {
    let credentials = aws_credential_types::Credentials::new("weir", "weir", None, None, "e2e");
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

/// The events of one subscription until `want` records arrived or a closed shard's last
/// event; returns the records' payloads and sequence numbers, and that last event's
/// child shard ids (empty if the stream did not reach the shard's end).
async fn subscribe(
    kinesis: &Client,
    consumer: &str,
    shard: &str,
    start: StartingPosition,
    want: Option<usize>,
) -> (Vec<(Vec<u8>, String)>, Vec<String>) {
    let out = kinesis
        .subscribe_to_shard()
        .consumer_arn(consumer)
        .shard_id(shard)
        .starting_position(start)
        .send()
        .await
        .expect("SubscribeToShard");
    let mut events = out.event_stream;
    let mut records = Vec::new();
    while let Some(event) = events.recv().await.expect("event") {
        let SubscribeToShardEventStream::SubscribeToShardEvent(event) = event else {
            panic!("unexpected event {event:?}");
        };
        for r in event.records() {
            records.push((r.data().as_ref().to_vec(), r.sequence_number().to_string()));
        }
        let children: Vec<String> = event
            .child_shards()
            .iter()
            .map(|c| c.shard_id().to_string())
            .collect();
        if !children.is_empty() {
            // Absent in a closed shard's last event (the SDK reads a missing required
            // member as empty).
            assert_eq!(event.continuation_sequence_number(), "");
            return (records, children);
        }
        assert!(!event.continuation_sequence_number().is_empty());
        if want.is_some_and(|w| records.len() >= w) {
            return (records, Vec::new());
        }
    }
    (records, Vec::new())
}

fn position(kind: ShardIteratorType, seq: Option<&str>) -> StartingPosition {
    StartingPosition::builder()
        .r#type(kind)
        .set_sequence_number(seq.map(str::to_string))
        .build()
        .expect("a starting position")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_to_shard_with_the_rust_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(dir.path());
    let kinesis = client(&weir.kinesis_url);
    let stream = "sdk-efo";
    kinesis
        .create_stream()
        .stream_name(stream)
        .shard_count(2)
        .send()
        .await
        .unwrap();
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap()
        .stream_arn;
    let mut consumers = Vec::new();
    for name in ["rust-a", "rust-b", "rust-c"] {
        let registered = kinesis
            .register_stream_consumer()
            .stream_arn(&stream_arn)
            .consumer_name(name)
            .send()
            .await
            .unwrap();
        consumers.push(registered.consumer.unwrap().consumer_arn);
    }
    // Hash key 0 is in shard 0.
    let mut sent = Vec::new();
    for i in 0..6u8 {
        let data = vec![i, 0, 0xff, i];
        let put = kinesis
            .put_record()
            .stream_name(stream)
            .partition_key("k")
            .explicit_hash_key("0")
            .data(Blob::new(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(put.shard_id, "shardId-000000000000");
        sent.push((data, put.sequence_number));
    }
    let shard = "shardId-000000000000";
    let (records, _) = subscribe(
        &kinesis,
        &consumers[0],
        shard,
        position(ShardIteratorType::TrimHorizon, None),
        Some(6),
    )
    .await;
    assert_eq!(records, sent);

    let (records, _) = subscribe(
        &kinesis,
        &consumers[1],
        shard,
        position(ShardIteratorType::AtSequenceNumber, Some(&sent[2].1)),
        Some(4),
    )
    .await;
    assert_eq!(records, sent[2..]);

    // A merge closes shard 0: its subscription ends with the merged child.
    let merge = {
        let kinesis = kinesis.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            kinesis
                .merge_shards()
                .stream_name("sdk-efo")
                .shard_to_merge("shardId-000000000000")
                .adjacent_shard_to_merge("shardId-000000000001")
                .send()
                .await
                .unwrap();
        })
    };
    let (records, children) = subscribe(
        &kinesis,
        &consumers[2],
        shard,
        position(ShardIteratorType::AfterSequenceNumber, Some(&sent[5].1)),
        None,
    )
    .await;
    merge.await.unwrap();
    assert!(records.is_empty(), "{records:?}");
    assert_eq!(children, ["shardId-000000000002"]);
}
