//! `weir bench --efo`: put → event latency of SubscribeToShard against put → GetRecords
//! latency of consumers polling every 200 ms and every second, measured in one run on the
//! same records; and, with `--idle-subscriptions`, the server memory one idle
//! subscription costs.
//!
//! Each record carries its send time (µs since the epoch) in its first 8 bytes; every
//! reader records now minus that time for each record it receives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use base64::Engine as _;
use bytes::BytesMut;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::bench::{now_micros, BenchArgs, Client};

type Latency = Arc<Mutex<Histogram<u64>>>;

fn histogram() -> anyhow::Result<Latency> {
    Ok(Arc::new(Mutex::new(Histogram::new_with_bounds(
        1,
        600_000_000,
        3,
    )?)))
}

/// Records the latency of every record of a page whose payloads are base64 strings.
fn record_latencies(latency: &Latency, payloads: &[&str], received: u64) {
    if let Ok(mut h) = latency.lock() {
        for data in payloads {
            let prefix = data.get(..12).unwrap_or_default();
            if let Ok(sent) = base64::engine::general_purpose::STANDARD.decode(prefix) {
                if let Ok(sent) = <[u8; 8]>::try_from(&sent[..8.min(sent.len())]) {
                    let _ = h.record(received.saturating_sub(u64::from_be_bytes(sent)).max(1));
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventRecords<'a> {
    #[serde(borrow)]
    records: Vec<EventRecord<'a>>,
    continuation_sequence_number: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventRecord<'a> {
    data: &'a str,
}

/// Opens a subscription and returns its streaming answer.
async fn subscribe(
    client: &Client,
    consumer: &str,
    shard: &str,
    start: Value,
) -> anyhow::Result<reqwest::Response> {
    let body = json!({"ConsumerARN": consumer, "ShardId": shard, "StartingPosition": start});
    let response = client
        .http
        .post(&client.endpoint)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "Kinesis_20131202.SubscribeToShard")
        .body(body.to_string())
        .send()
        .await
        .context("SubscribeToShard failed")?;
    if !response.status().is_success() {
        let status = response.status();
        bail!(
            "SubscribeToShard answered {status}: {}",
            response.text().await?
        );
    }
    Ok(response)
}

/// Follows one shard by subscription, subscribing again (after the last record) whenever
/// a subscription ends, until `stop`.
async fn push_reader(
    client: Arc<Client>,
    consumer: String,
    shard: String,
    latency: Latency,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut start = json!({"Type": "LATEST"});
    while !stop.load(Ordering::Relaxed) {
        let mut response = subscribe(&client, &consumer, &shard, start.clone()).await?;
        let mut decoder = MessageFrameDecoder::new();
        let mut buffer = BytesMut::new();
        while !stop.load(Ordering::Relaxed) {
            let chunk = tokio::time::timeout(Duration::from_millis(500), response.chunk()).await;
            let Ok(chunk) = chunk else { continue };
            let Some(chunk) = chunk? else { break };
            let received = now_micros();
            buffer.extend_from_slice(&chunk);
            while let DecodedFrame::Complete(message) = decoder.decode_frame(&mut buffer)? {
                let event_type = message
                    .headers()
                    .iter()
                    .find(|h| h.name().as_str() == ":event-type")
                    .and_then(|h| h.value().as_string().ok())
                    .map(|s| s.as_str().to_string());
                if event_type.as_deref() != Some("SubscribeToShardEvent") {
                    continue;
                }
                let event: EventRecords = serde_json::from_slice(message.payload())?;
                let payloads: Vec<&str> = event.records.iter().map(|r| r.data).collect();
                record_latencies(&latency, &payloads, received);
                if let Some(seq) = event.continuation_sequence_number {
                    start = json!({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq});
                }
            }
        }
    }
    Ok(())
}

/// Follows one shard with GetRecords, sleeping `interval` between calls, as polling
/// consumers do (KCL's default idle time is one second; many use 200 ms).
async fn poll_reader(
    client: Arc<Client>,
    stream: String,
    shard: String,
    interval: Duration,
    latency: Latency,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut iterator = client
        .call(
            "GetShardIterator",
            &json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": "LATEST"}),
        )
        .await?["ShardIterator"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Page<'a> {
        #[serde(borrow)]
        records: Vec<EventRecord<'a>>,
        next_shard_iterator: Option<String>,
    }
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(interval).await;
        let body = json!({"ShardIterator": iterator, "Limit": 10000}).to_string();
        let Ok(bytes) = client.call_bytes("GetRecords", body.into_bytes()).await else {
            continue;
        };
        let received = now_micros();
        let page: Page = serde_json::from_slice(&bytes)?;
        let payloads: Vec<&str> = page.records.iter().map(|r| r.data).collect();
        record_latencies(&latency, &payloads, received);
        match page.next_shard_iterator {
            Some(next) => iterator = next,
            None => return Ok(()),
        }
    }
    Ok(())
}

/// The stream's ARN.
async fn stream_arn(client: &Client, stream: &str) -> anyhow::Result<String> {
    let summary = client
        .call("DescribeStreamSummary", &json!({"StreamName": stream}))
        .await?;
    summary["StreamDescriptionSummary"]["StreamARN"]
        .as_str()
        .map(str::to_string)
        .context("DescribeStreamSummary gave no StreamARN")
}

/// Registers a consumer (or finds it registered) and returns its ARN.
async fn consumer(client: &Client, stream_arn: &str, name: &str) -> anyhow::Result<String> {
    let body = json!({"StreamARN": stream_arn, "ConsumerName": name});
    let answer = match client.call("RegisterStreamConsumer", &body).await {
        Ok(answer) => answer["Consumer"].clone(),
        Err(_) => {
            client.call("DescribeStreamConsumer", &body).await?["ConsumerDescription"].clone()
        }
    };
    answer["ConsumerARN"]
        .as_str()
        .map(str::to_string)
        .context("the consumer has no ARN")
}

/// Resident memory of a process, in bytes (Linux).
fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status (--server-pid)"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .context("no VmRSS line")?;
    Ok(kib * 1024)
}

/// Opens `count` idle subscriptions (20 consumers per stream, one per shard each) on a
/// stream of its own and reports the server's resident memory per subscription.
async fn idle_memory(
    client: &Arc<Client>,
    args: &BenchArgs,
    count: usize,
) -> anyhow::Result<Value> {
    let Some(pid) = args.server_pid else {
        bail!("--idle-subscriptions needs --server-pid (the process serving the endpoint)");
    };
    let stream = format!("{}-idle", args.stream);
    let shards = count.div_ceil(20).max(1);
    let _ = client
        .call(
            "CreateStream",
            &json!({"StreamName": stream, "ShardCount": shards}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let arn = stream_arn(client, &stream).await?;
    let mut consumers = Vec::new();
    for i in 0..count.min(20) {
        consumers.push(consumer(client, &arn, &format!("idle-{i}")).await?);
    }
    let before = rss_bytes(pid)?;
    let mut open = Vec::new();
    'outer: for shard in 0..shards {
        for consumer in &consumers {
            if open.len() == count {
                break 'outer;
            }
            let shard = format!("shardId-{shard:012}");
            open.push(subscribe(client, consumer, &shard, json!({"Type": "LATEST"})).await?);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_bytes(pid)?;
    drop(open);
    let _ = client
        .call("DeleteStream", &json!({"StreamName": stream}))
        .await;
    let per = after.saturating_sub(before) as f64 / count as f64;
    Ok(
        json!({"subscriptions": count, "rss_before_bytes": before, "rss_after_bytes": after,
              "bytes_per_subscription": per}),
    )
}

/// Runs `weir bench --efo`.
pub async fn run(client: Arc<Client>, args: &BenchArgs) -> anyhow::Result<()> {
    crate::bench::prepare_stream(&client, args).await?;
    let shard_ids = crate::bench::list_shards(&client, &args.stream).await?;
    let arn = stream_arn(&client, &args.stream).await?;
    let consumer = consumer(&client, &arn, "weir-bench-efo").await?;
    let (push, poll_200, poll_1000) = (histogram()?, histogram()?, histogram()?);
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for shard in &shard_ids {
        readers.push(tokio::spawn(push_reader(
            Arc::clone(&client),
            consumer.clone(),
            shard.clone(),
            Arc::clone(&push),
            Arc::clone(&stop),
        )));
        for (interval, latency) in [(200, &poll_200), (1000, &poll_1000)] {
            readers.push(tokio::spawn(poll_reader(
                Arc::clone(&client),
                args.stream.clone(),
                shard.clone(),
                Duration::from_millis(interval),
                Arc::clone(latency),
                Arc::clone(&stop),
            )));
        }
    }
    // Let every reader reach the tip before the first record is sent.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Latencies seen during the warm-up are not counted.
    let warmup = Duration::from_secs(args.warmup);
    let forget = [&push, &poll_200, &poll_1000].map(Arc::clone);
    let reset = tokio::spawn(async move {
        tokio::time::sleep(warmup).await;
        for h in forget {
            if let Ok(mut h) = h.lock() {
                h.reset();
            }
        }
    });
    let load = crate::bench::load(Arc::clone(&client), args).await?;
    let _ = reset.await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        if let Ok(Err(error)) = reader.await {
            eprintln!("a reader failed: {error:#}");
        }
    }
    let idle = match args.idle_subscriptions {
        0 => Value::Null,
        count => idle_memory(&client, args, count).await?,
    };
    if !args.keep {
        let _ = client
            .call("DeleteStream", &json!({"StreamName": args.stream}))
            .await;
    }
    let ms = |h: &Latency| {
        h.lock().map_or(Value::Null, |h| {
            let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
            json!({"p50": q(0.5), "p99": q(0.99), "p999": q(0.999), "max": h.max() as f64 / 1000.0, "count": h.len()})
        })
    };
    let summary = json!({
        "label": args.label,
        "endpoint": args.endpoint,
        "shards": shard_ids.len(),
        "record_bytes": args.record_bytes,
        "target_rate": args.rate,
        "load": load,
        "push_latency_ms": ms(&push),
        "poll_200ms_latency_ms": ms(&poll_200),
        "poll_1s_latency_ms": ms(&poll_1000),
        "idle_subscription_memory": idle,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
