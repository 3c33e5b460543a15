//! aws-sdk-kinesis (Rust) against the real `weir up`: a 4-shard stream, 10,000 records by
//! PutRecords, read back with every iterator type; routing by MD5 and by ExplicitHashKey,
//! per-shard order, strictly increasing sequence numbers, byte-exact binary payloads.

use std::collections::HashMap;

use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use aws_sdk_kinesis::Client;
use md5::{Digest, Md5};
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

struct Sent {
    key: String,
    data: Vec<u8>,
    hash: u128,
}

async fn read_shard(
    kinesis: &Client,
    stream: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
    at: Option<DateTime>,
) -> Vec<(String, String, Vec<u8>)> {
    let mut request = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(kind);
    if let Some(seq) = seq {
        request = request.starting_sequence_number(seq);
    }
    if let Some(at) = at {
        request = request.timestamp(at);
    }
    let mut iterator = request.send().await.unwrap().shard_iterator.unwrap();
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = kinesis
            .get_records()
            .shard_iterator(&iterator)
            .limit(1000)
            .send()
            .await
            .unwrap();
        for r in page.records() {
            out.push((
                r.sequence_number().to_string(),
                r.partition_key().unwrap_or_default().to_string(),
                r.data().as_ref().to_vec(),
            ));
        }
        let caught_up = page.records().is_empty() && page.millis_behind_latest == Some(0);
        iterator = page.next_shard_iterator.unwrap();
        if caught_up {
            return out;
        }
    }
    panic!("shard {shard} never caught up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_records_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let weir = Weir::start(dir.path());
    let kinesis = client(&weir.kinesis_url);
    let stream = "sdk-e2e";
    kinesis
        .create_stream()
        .stream_name(stream)
        .shard_count(4)
        .send()
        .await
        .unwrap();
    let described = kinesis
        .describe_stream()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    let description = described.stream_description.unwrap();
    assert_eq!(description.stream_status.as_str(), "ACTIVE");
    let ranges: Vec<(String, u128, u128)> = description
        .shards
        .iter()
        .map(|s| {
            let r = s.hash_key_range.as_ref().unwrap();
            (
                s.shard_id.clone(),
                r.starting_hash_key.parse().unwrap(),
                r.ending_hash_key.parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(ranges.len(), 4);

    // 10,000 records: random binary payloads; every tenth record routed by ExplicitHashKey.
    let mut sent_by_shard: HashMap<String, Vec<Sent>> = HashMap::new();
    let mut sequence_of_first_batch = HashMap::new();
    let mut counter = 0u64;
    for batch in 0..20 {
        let mut entries = Vec::new();
        let mut batch_sent = Vec::new();
        for _ in 0..500 {
            counter += 1;
            let key = format!("key-{}", counter % 97);
            let mut data: Vec<u8> = (0..(counter % 300) as usize)
                .map(|_| rand::random::<u8>())
                .collect();
            data.extend_from_slice(&counter.to_be_bytes());
            data.extend_from_slice(&[0, 0xff, 0x80]);
            let (hash, explicit) = if counter.is_multiple_of(10) {
                let h = rand::random::<u128>();
                (h, Some(h.to_string()))
            } else {
                (
                    u128::from_be_bytes(Md5::digest(key.as_bytes()).into()),
                    None,
                )
            };
            let mut entry = PutRecordsRequestEntry::builder()
                .data(Blob::new(data.clone()))
                .partition_key(&key);
            if let Some(e) = explicit {
                entry = entry.explicit_hash_key(e);
            }
            entries.push(entry.build().unwrap());
            batch_sent.push(Sent { key, data, hash });
        }
        let answer = kinesis
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.failed_record_count, Some(0));
        for (result, sent) in answer.records().iter().zip(batch_sent) {
            let shard = result.shard_id().unwrap().to_string();
            let (_, start, end) = ranges.iter().find(|(id, _, _)| *id == shard).unwrap();
            assert!(
                *start <= sent.hash && sent.hash <= *end,
                "record routed to the wrong shard {shard}"
            );
            if batch == 0 {
                sequence_of_first_batch
                    .entry(shard.clone())
                    .or_insert_with(|| result.sequence_number().unwrap().to_string());
            }
            sent_by_shard.entry(shard).or_default().push(sent);
        }
    }
    assert_eq!(sent_by_shard.values().map(Vec::len).sum::<usize>(), 10_000);

    for (shard, _, _) in &ranges {
        let sent = &sent_by_shard[shard];
        let got = read_shard(
            &kinesis,
            stream,
            shard,
            ShardIteratorType::TrimHorizon,
            None,
            None,
        )
        .await;
        assert_eq!(got.len(), sent.len(), "shard {shard} record count");
        let mut previous = String::new();
        for ((seq, key, data), expected) in got.iter().zip(sent) {
            // AWS's shape: 56 decimal digits, so text order is numeric order.
            assert!(
                seq.len() == 56 && seq.bytes().all(|b| b.is_ascii_digit()),
                "{seq}"
            );
            assert!(*seq > previous, "sequence numbers strictly increase");
            previous = seq.clone();
            assert_eq!(key, &expected.key);
            assert_eq!(data, &expected.data, "payload bytes differ");
        }
        // AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER from the middle of the shard.
        let middle = got.len() / 2;
        let at = read_shard(
            &kinesis,
            stream,
            shard,
            ShardIteratorType::AtSequenceNumber,
            Some(&got[middle].0),
            None,
        )
        .await;
        assert_eq!(at, got[middle..].to_vec());
        let after = read_shard(
            &kinesis,
            stream,
            shard,
            ShardIteratorType::AfterSequenceNumber,
            Some(&got[middle].0),
            None,
        )
        .await;
        assert_eq!(after, got[middle + 1..].to_vec());
        assert_eq!(got[0].0, sequence_of_first_batch[shard]);
    }

    // LATEST sees only what is written after it; AT_TIMESTAMP finds a later batch.
    let shard = &ranges[0].0;
    let latest = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let boundary = DateTime::from(std::time::SystemTime::now());
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let start = ranges[0].1.to_string();
    for i in 0..3u8 {
        kinesis
            .put_record()
            .stream_name(stream)
            .partition_key("late")
            .explicit_hash_key(&start)
            .data(Blob::new(vec![i; 3]))
            .send()
            .await
            .unwrap();
    }
    let page = kinesis
        .get_records()
        .shard_iterator(latest)
        .send()
        .await
        .unwrap();
    let datas: Vec<Vec<u8>> = page
        .records()
        .iter()
        .map(|r| r.data().as_ref().to_vec())
        .collect();
    assert_eq!(datas, vec![vec![0u8; 3], vec![1; 3], vec![2; 3]]);
    let since = read_shard(
        &kinesis,
        stream,
        shard,
        ShardIteratorType::AtTimestamp,
        None,
        Some(boundary),
    )
    .await;
    let datas: Vec<Vec<u8>> = since.into_iter().map(|(_, _, d)| d).collect();
    assert_eq!(datas, vec![vec![0u8; 3], vec![1; 3], vec![2; 3]]);

    // A restart keeps everything.
    drop(weir);
    let weir = Weir::start(dir.path());
    let kinesis = client(&weir.kinesis_url);
    let total: usize = {
        let mut n = 0;
        for (shard, _, _) in &ranges {
            n += read_shard(
                &kinesis,
                stream,
                shard,
                ShardIteratorType::TrimHorizon,
                None,
                None,
            )
            .await
            .len();
        }
        n
    };
    assert_eq!(total, 10_003);
}
