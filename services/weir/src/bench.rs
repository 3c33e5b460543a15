//! `weir bench`: a load generator for any Kinesis endpoint (Weir, kinesalite, AWS).
//!
//! Producers send PutRecords batches (optionally paced to a target rate) and record each
//! request's latency; one consumer per shard follows the stream with GetRecords and records
//! end-to-end latency from the send time stamped into each payload. A progress line is
//! printed every second; a JSON summary goes to stdout at the end.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use base64::Engine as _;
use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::sync::Mutex;

/// Options of `weir bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Kinesis endpoint to load.
    #[arg(long, default_value = "http://127.0.0.1:4567")]
    pub(crate) endpoint: String,
    /// Stream to write to; created if missing (and deleted afterwards unless --keep).
    #[arg(long, default_value = "weir-bench")]
    pub(crate) stream: String,
    /// Shards of the stream when it is created.
    #[arg(long, default_value_t = 4)]
    shards: u32,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Payload size of each record in bytes (at least 16).
    #[arg(long, default_value_t = 1024)]
    pub(crate) record_bytes: usize,
    /// Records per PutRecords request (1-500).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent producers.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Target records per second over all producers (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub(crate) rate: u64,
    /// Do not run consumers (no end-to-end latency).
    #[arg(long)]
    no_consumers: bool,
    /// Keep the stream afterwards.
    #[arg(long)]
    pub(crate) keep: bool,
    /// Run the load this many seconds before measuring: nothing from the warm-up (new
    /// connections, the stream's first segment files, allocator growth) is counted. The
    /// summary still says how long it was.
    #[arg(long, default_value_t = 0)]
    pub(crate) warmup: u64,
    /// Label put into the JSON summary (e.g. "weir" or "kinesalite").
    #[arg(long, default_value = "")]
    pub(crate) label: String,
    /// Write nothing: read the existing stream from TRIM_HORIZON on every shard as fast
    /// as possible and report read throughput (for cold-tier vs local reads).
    #[arg(long)]
    replay: bool,
    /// Enhanced fan-out: measure put → SubscribeToShard event latency against GetRecords
    /// polling every 200 ms and every second, on the same records in one run (use
    /// --rate for a steady load).
    #[arg(long)]
    pub(crate) efo: bool,
    /// With --efo: also open this many idle subscriptions and report the server memory
    /// each costs (needs --server-pid).
    #[arg(long, default_value_t = 0)]
    pub(crate) idle_subscriptions: usize,
    /// Process id of the server behind --endpoint, to read its memory (Linux /proc).
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// Encrypt the stream at rest (StartStreamEncryption with this KeyId) before the
    /// load, to measure what encryption costs.
    #[arg(long, value_name = "KEY_ID")]
    pub(crate) encrypt: Option<String>,
}

/// A JSON Kinesis client (unsigned: enough for Weir without auth and for kinesalite).
pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: String,
}

impl Client {
    pub(crate) async fn call(&self, operation: &str, body: &Value) -> anyhow::Result<Value> {
        self.call_raw(operation, serde_json::to_vec(body)?).await
    }

    async fn call_raw(&self, operation: &str, body: Vec<u8>) -> anyhow::Result<Value> {
        let bytes = self.call_bytes(operation, body).await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Sends a request and returns the raw answer body (errors for non-2xx answers).
    pub(crate) async fn call_bytes(
        &self,
        operation: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<bytes::Bytes> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("Kinesis_20131202.{operation}"))
            // Unsigned placeholders: enough for Weir without auth and for kinesalite.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=weir/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0",
            )
            .header("x-amz-date", "20260101T000000Z")
            .body(body)
            .send()
            .await
            .with_context(|| format!("{operation} to {} failed", self.endpoint))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!(
                "{operation} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes)
    }
}

/// Now, in microseconds since the epoch (the send time stamped into payloads).
pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Put latencies: the whole run, and the current second (for the progress line and the
/// per-second p99 series, which shows warm-up and hiccups that one run-wide figure hides).
struct PutLatency {
    total: Histogram<u64>,
    second: Histogram<u64>,
    p99_by_second: Vec<f64>,
}

impl PutLatency {
    fn new() -> anyhow::Result<Self> {
        let histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        Ok(Self {
            second: histogram.clone(),
            total: histogram,
            p99_by_second: Vec::new(),
        })
    }

    fn record(&mut self, micros: u64) {
        let _ = self.total.record(micros);
        let _ = self.second.record(micros);
    }

    fn reset(&mut self) {
        self.total.reset();
        self.second.reset();
        self.p99_by_second.clear();
    }

    /// Ends the current second: returns its p99 in ms and starts the next.
    fn close_second(&mut self) -> f64 {
        let p99 = self.second.value_at_quantile(0.99) as f64 / 1000.0;
        self.p99_by_second.push(p99);
        self.second.reset();
        p99
    }
}

#[derive(Default)]
struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
    failed_records: AtomicU64,
    errors: AtomicU64,
    consumed: AtomicU64,
}

impl Counters {
    /// Zeroes every count (at the end of the warm-up).
    fn reset(&self) {
        for counter in [
            &self.records,
            &self.bytes,
            &self.failed_records,
            &self.errors,
            &self.consumed,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// Runs the benchmark.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.record_bytes < 16 {
        bail!("--record-bytes must be at least 16 (the payload carries a send timestamp)");
    }
    if !(1..=500).contains(&args.batch) {
        bail!("--batch must be between 1 and 500 (the PutRecords limit)");
    }
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
        endpoint: args.endpoint.clone(),
    });
    if args.replay {
        return replay(client, &args).await;
    }
    if args.efo {
        return crate::bench_efo::run(client, &args).await;
    }
    prepare_stream(&client, &args).await?;
    let shard_ids = list_shards(&client, &args.stream).await?;

    let counters = Arc::new(Counters::default());
    let put_latency = Arc::new(Mutex::new(PutLatency::new()?));
    let e2e_latency = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        600_000_000,
        3,
    )?));
    let stop = Arc::new(AtomicBool::new(false));
    let consumers_stop = Arc::new(AtomicBool::new(false));

    let mut consumers = Vec::new();
    if !args.no_consumers {
        for shard in &shard_ids {
            let iterator = client
                .call("GetShardIterator", &json!({"StreamName": args.stream, "ShardId": shard, "ShardIteratorType": "LATEST"}))
                .await?["ShardIterator"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            consumers.push(tokio::spawn(consume(
                Arc::clone(&client),
                iterator,
                Arc::clone(&counters),
                Arc::clone(&e2e_latency),
                Arc::clone(&consumers_stop),
            )));
        }
    }

    let mut started = Instant::now();
    let mut warming_up = args.warmup > 0;
    let deadline = started + Duration::from_secs(args.warmup + args.duration);
    let per_producer_interval = (args.rate > 0).then(|| {
        let batches_per_sec = args.rate as f64 / args.batch as f64 / args.concurrency as f64;
        Duration::from_secs_f64(1.0 / batches_per_sec.max(1e-6))
    });
    let mut producers = Vec::new();
    for producer in 0..args.concurrency {
        producers.push(tokio::spawn(produce(
            Arc::clone(&client),
            args.stream.clone(),
            producer,
            args.batch,
            args.concurrency,
            args.record_bytes,
            per_producer_interval,
            deadline,
            Arc::clone(&counters),
            Arc::clone(&put_latency),
            Arc::clone(&stop),
        )));
    }

    let mut last = (Instant::now(), 0u64);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let records = counters.records.load(Ordering::Relaxed);
        let elapsed = last.0.elapsed().as_secs_f64();
        let rate = (records - last.1) as f64 / elapsed;
        let p99 = put_latency
            .lock()
            .map(|mut h| h.close_second())
            .unwrap_or(0.0);
        eprint!(
            "\r[{:>3}s{}] {:>10.0} rec/s {:>8.1} MB/s  put p99 (last second) {:>7.2} ms  consumed {:>10}  errors {}   ",
            started.elapsed().as_secs(),
            if warming_up { " warm-up" } else { "" },
            rate,
            rate * args.record_bytes as f64 / 1e6,
            p99,
            counters.consumed.load(Ordering::Relaxed),
            counters.errors.load(Ordering::Relaxed),
        );
        last = (Instant::now(), records);
        if warming_up && started.elapsed() >= Duration::from_secs(args.warmup) {
            // The measured run starts now: forget everything counted so far.
            warming_up = false;
            started = Instant::now();
            last = (started, 0);
            counters.reset();
            if let Ok(mut h) = put_latency.lock() {
                h.reset();
            }
            if let Ok(mut h) = e2e_latency.lock() {
                h.reset();
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for p in producers {
        let _ = p.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Give consumers a moment to drain what was written.
    let drain_deadline = Instant::now() + Duration::from_secs(5);
    while !args.no_consumers
        && counters.consumed.load(Ordering::Relaxed) < counters.records.load(Ordering::Relaxed)
        && Instant::now() < drain_deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    consumers_stop.store(true, Ordering::Relaxed);
    for c in consumers {
        let _ = c.await;
    }
    eprintln!();
    if !args.keep {
        let _ = client
            .call("DeleteStream", &json!({"StreamName": args.stream}))
            .await;
    }

    let records = counters.records.load(Ordering::Relaxed);
    let (put, p99_by_second) = put_latency
        .lock()
        .map(|h| (h.total.clone(), h.p99_by_second.clone()))
        .map_err(|_| anyhow::anyhow!("latency lock poisoned"))?;
    let e2e = e2e_latency
        .lock()
        .map_err(|_| anyhow::anyhow!("latency lock poisoned"))?
        .clone();
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let summary = json!({
        "label": args.label,
        "endpoint": args.endpoint,
        "shards": shard_ids.len(),
        "record_bytes": args.record_bytes,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "target_rate": args.rate,
        "duration_s": elapsed,
        "warmup_s": args.warmup,
        "records": records,
        "failed_records": counters.failed_records.load(Ordering::Relaxed),
        "request_errors": counters.errors.load(Ordering::Relaxed),
        "records_per_s": records as f64 / elapsed,
        "mb_per_s": records as f64 * args.record_bytes as f64 / elapsed / 1e6,
        "put_latency_ms": {"p50": ms(&put, 0.5), "p99": ms(&put, 0.99), "p999": ms(&put, 0.999), "max": put.max() as f64 / 1000.0, "count": put.len()},
        "put_p99_ms_by_second": p99_by_second,
        "e2e_latency_ms": {"p50": ms(&e2e, 0.5), "p99": ms(&e2e, 0.99), "p999": ms(&e2e, 0.999), "count": e2e.len()},
        "consumed": counters.consumed.load(Ordering::Relaxed),
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// Runs the producers alone for the warm-up and the duration (paced by --rate), with a
/// progress line each second; returns what they achieved. `weir bench --efo` measures its
/// readers under this load.
pub(crate) async fn load(client: Arc<Client>, args: &BenchArgs) -> anyhow::Result<Value> {
    let counters = Arc::new(Counters::default());
    let latency = Arc::new(Mutex::new(PutLatency::new()?));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.warmup + args.duration);
    let interval = (args.rate > 0).then(|| {
        let batches_per_sec = args.rate as f64 / args.batch as f64 / args.concurrency as f64;
        Duration::from_secs_f64(1.0 / batches_per_sec.max(1e-6))
    });
    let producers: Vec<_> = (0..args.concurrency)
        .map(|producer| {
            tokio::spawn(produce(
                Arc::clone(&client),
                args.stream.clone(),
                producer,
                args.batch,
                args.concurrency,
                args.record_bytes,
                interval,
                deadline,
                Arc::clone(&counters),
                Arc::clone(&latency),
                Arc::clone(&stop),
            ))
        })
        .collect();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        eprint!(
            "\r[{:>3}s] {:>10} records sent  errors {}   ",
            started.elapsed().as_secs(),
            counters.records.load(Ordering::Relaxed),
            counters.errors.load(Ordering::Relaxed),
        );
    }
    stop.store(true, Ordering::Relaxed);
    for p in producers {
        let _ = p.await;
    }
    eprintln!();
    let elapsed = started.elapsed().as_secs_f64();
    let records = counters.records.load(Ordering::Relaxed);
    let put = latency
        .lock()
        .map(|h| h.total.clone())
        .map_err(|_| anyhow::anyhow!("latency lock poisoned"))?;
    let ms = |q: f64| put.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "duration_s": elapsed,
        "records": records,
        "failed_records": counters.failed_records.load(Ordering::Relaxed),
        "records_per_s": records as f64 / elapsed,
        "mb_per_s": records as f64 * args.record_bytes as f64 / elapsed / 1e6,
        "put_latency_ms": {"p50": ms(0.5), "p99": ms(0.99), "p999": ms(0.999)},
    }))
}

/// Creates the stream unless it exists, and waits until it is ACTIVE.
pub(crate) async fn prepare_stream(client: &Client, args: &BenchArgs) -> anyhow::Result<()> {
    let exists = client
        .call("DescribeStreamSummary", &json!({"StreamName": args.stream}))
        .await
        .is_ok();
    if !exists {
        client
            .call(
                "CreateStream",
                &json!({"StreamName": args.stream, "ShardCount": args.shards}),
            )
            .await?;
    }
    wait_active(client, &args.stream).await?;
    if let Some(key_id) = &args.encrypt {
        client
            .call(
                "StartStreamEncryption",
                &json!({"StreamName": args.stream, "EncryptionType": "KMS", "KeyId": key_id}),
            )
            .await?;
        wait_active(client, &args.stream).await?;
    }
    Ok(())
}

async fn wait_active(client: &Client, stream: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let summary = client
            .call("DescribeStreamSummary", &json!({"StreamName": stream}))
            .await?;
        if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE" {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("stream {stream} did not become ACTIVE within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The stream's shard ids.
pub(crate) async fn list_shards(client: &Client, stream: &str) -> anyhow::Result<Vec<String>> {
    let described = client
        .call("DescribeStream", &json!({"StreamName": stream}))
        .await?;
    Ok(described["StreamDescription"]["Shards"]
        .as_array()
        .map(|shards| {
            shards
                .iter()
                .filter(|s| s["SequenceNumberRange"]["EndingSequenceNumber"].is_null())
                .filter_map(|s| s["ShardId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

#[allow(clippy::too_many_arguments)]
async fn produce(
    client: Arc<Client>,
    stream: String,
    producer: usize,
    batch: usize,
    concurrency: usize,
    record_bytes: usize,
    interval: Option<Duration>,
    deadline: Instant,
    counters: Arc<Counters>,
    latency: Arc<Mutex<PutLatency>>,
    stop: Arc<AtomicBool>,
) {
    let filler: Vec<u8> = (0..record_bytes)
        .map(|i| (i * 31 + producer) as u8)
        .collect();
    let mut sequence = 0u64;
    let mut body = String::with_capacity(batch * (record_bytes * 4 / 3 + 64) + 64);
    let mut payload = filler;
    let stream_json = serde_json::to_string(&stream).unwrap_or_default();
    if let Some(interval) = interval {
        // Stagger producers across the interval so paced load arrives evenly, not in bursts.
        tokio::time::sleep(interval.mul_f64(producer as f64 / concurrency.max(1) as f64)).await;
    }
    let mut next_send = Instant::now();
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        if let Some(interval) = interval {
            let now = Instant::now();
            if next_send > now {
                tokio::time::sleep(next_send - now).await;
            }
            next_send += interval;
        }
        let sent_at = now_micros();
        // The body is written by hand: building a serde_json::Value per record costs more
        // CPU than the server spends on it, and the load generator shares the machine.
        body.clear();
        body.push_str("{\"StreamName\":");
        body.push_str(&stream_json);
        body.push_str(",\"Records\":[");
        for i in 0..batch {
            payload[..8].copy_from_slice(&sent_at.to_be_bytes());
            payload[8..16].copy_from_slice(&sequence.to_be_bytes());
            sequence += 1;
            if i > 0 {
                body.push(',');
            }
            body.push_str("{\"Data\":\"");
            base64_simd::STANDARD.encode_append(&payload, &mut body);
            body.push_str(&format!(
                "\",\"PartitionKey\":\"p{producer}-{}\"}}",
                sequence % 1024
            ));
        }
        body.push_str("]}");
        let request = body.clone().into_bytes();
        let started = Instant::now();
        match client.call_bytes("PutRecords", request).await {
            Ok(bytes) => {
                // Only the failure count is needed; the per-record answers are skipped.
                let failed = serde_json::from_slice::<PutAnswer>(&bytes)
                    .map_or(batch as u64, |a| a.failed_record_count);
                counters
                    .records
                    .fetch_add(batch as u64 - failed, Ordering::Relaxed);
                counters.bytes.fetch_add(
                    (batch as u64 - failed) * record_bytes as u64,
                    Ordering::Relaxed,
                );
                counters.failed_records.fetch_add(failed, Ordering::Relaxed);
                if let Ok(mut h) = latency.lock() {
                    h.record(started.elapsed().as_micros().max(1) as u64);
                }
            }
            Err(_) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The part of a PutRecords answer the producer needs.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutAnswer {
    failed_record_count: u64,
}

/// The part of a GetRecords answer the consumer needs. Payloads stay borrowed base64: only
/// their first 12 characters (the 8-byte send time) are decoded, so the load generator
/// spends its CPU on load, not on parsing.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordsPage<'a> {
    #[serde(borrow)]
    records: Vec<PageRecord<'a>>,
    next_shard_iterator: Option<String>,
    #[serde(default)]
    millis_behind_latest: i64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PageRecord<'a> {
    data: &'a str,
}

async fn consume(
    client: Arc<Client>,
    mut iterator: String,
    counters: Arc<Counters>,
    latency: Arc<Mutex<Histogram<u64>>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let body = json!({"ShardIterator": iterator, "Limit": 10000}).to_string();
        let bytes = match client.call_bytes("GetRecords", body.into_bytes()).await {
            Ok(bytes) => bytes,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let received = now_micros();
        let Ok(page) = serde_json::from_slice::<RecordsPage>(&bytes) else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if let Ok(mut h) = latency.lock() {
            for record in &page.records {
                let prefix = record.data.get(..12).unwrap_or_default();
                if let Ok(sent) = base64::engine::general_purpose::STANDARD.decode(prefix) {
                    if let Ok(sent) = <[u8; 8]>::try_from(&sent[..8.min(sent.len())]) {
                        let _ = h.record(received.saturating_sub(u64::from_be_bytes(sent)).max(1));
                    }
                }
            }
        }
        counters
            .consumed
            .fetch_add(page.records.len() as u64, Ordering::Relaxed);
        match page.next_shard_iterator {
            Some(next) => iterator = next,
            None => return,
        }
        if page.records.is_empty() {
            // Kinesis consumers poll; 5 reads/s per shard is the documented limit.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `--replay`: reads every shard from TRIM_HORIZON to its tip, shards in parallel.
async fn replay(client: Arc<Client>, args: &BenchArgs) -> anyhow::Result<()> {
    let shard_ids = list_shards(&client, &args.stream).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for shard in shard_ids {
        let client = Arc::clone(&client);
        let stream = args.stream.clone();
        tasks.push(tokio::spawn(async move {
            let first = client
                .call(
                    "GetShardIterator",
                    &json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
                )
                .await?;
            let mut iterator = first["ShardIterator"].as_str().unwrap_or_default().to_string();
            let (mut records, mut bytes) = (0u64, 0u64);
            loop {
                let body = json!({"ShardIterator": iterator, "Limit": 10000}).to_string();
                let answer = client.call_bytes("GetRecords", body.into_bytes()).await?;
                let page: RecordsPage = serde_json::from_slice(&answer)?;
                records += page.records.len() as u64;
                bytes += page.records.iter().map(|r| r.data.len() as u64 * 3 / 4).sum::<u64>();
                match page.next_shard_iterator {
                    Some(next) if !(page.records.is_empty() && page.millis_behind_latest == 0) => {
                        iterator = next
                    }
                    _ => return anyhow::Ok((records, bytes)),
                }
            }
        }));
    }
    let (mut records, mut bytes) = (0u64, 0u64);
    for task in tasks {
        let (r, b) = task.await??;
        records += r;
        bytes += b;
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "{}",
        json!({
            "label": args.label,
            "mode": "replay",
            "records": records,
            "seconds": seconds,
            "records_per_second": records as f64 / seconds,
            "mib_per_second": bytes as f64 / seconds / (1024.0 * 1024.0),
        })
    );
    Ok(())
}
