// @aws-sdk/client-kinesis (JS v3) against a real `weir up`, with the SDK's DEFAULT request
// handler: NodeHttp2Handler, i.e. h2c with prior knowledge on a plaintext endpoint. Local
// Kinesis emulators without HTTP/2 fail the very first call of this client.
//
// Run: node --test tests/js/   (WEIR_BIN overrides the binary, default target/debug/weir)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import {
  KinesisClient,
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  DescribeStreamSummaryCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
  waitUntilStreamExists,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler } from "@smithy/node-http-handler";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(repo, process.env.CARGO_TARGET_DIR)
  : path.join(repo, "target");
const weirBin = process.env.WEIR_BIN || path.join(targetDir, "debug", "weir");
const START_TIMEOUT_MS = 60_000;

// Every HTTP/2 session any code opens in this process: the SDK's handler calls
// http2.connect on this same module object.
const h2Sessions = [];
const realConnect = http2.connect;
http2.connect = function patchedConnect(authority, ...rest) {
  const session = realConnect.call(this, authority, ...rest);
  const record = { authority: String(authority), alpn: undefined };
  session.once("connect", () => { record.alpn = session.alpnProtocol; });
  h2Sessions.push(record);
  return session;
};

let server; // { proc, kinesisUrl, restUrl, dataDir, output() }
let client;

function startWeir() {
  if (!fs.existsSync(weirBin)) {
    throw new Error(`weir binary not found at ${weirBin}; run \`cargo build -p weir\` or set WEIR_BIN`);
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-js-"));
  const argv = ["up", "--data-dir", path.join(dataDir, "data"),
    "--kinesis-addr", "127.0.0.1:0", "--rest-addr", "127.0.0.1:0"];
  const proc = spawn(weirBin, argv, { cwd: dataDir, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const output = () =>
    `--- weir stdout ---\n${stdout.split("\n").slice(-40).join("\n")}\n` +
    `--- weir stderr ---\n${stderr.split("\n").slice(-40).join("\n")}`;
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => { stderr += d; });
  proc.stdout.setEncoding("utf8");
  return new Promise((resolve, reject) => {
    let kinesisUrl;
    let restUrl;
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      proc.kill("SIGKILL");
      reject(new Error(`\`${weirBin} ${argv.join(" ")}\` was not ready within ` +
        `${START_TIMEOUT_MS / 1000} s\n${output()}`));
    }, START_TIMEOUT_MS);
    proc.stdout.on("data", (d) => {
      stdout += d;
      for (const line of stdout.split("\n")) {
        let m;
        if ((m = /^Kinesis endpoint:\s+(http:\/\/\S+)\s*$/.exec(line))) kinesisUrl = m[1].replace(/\/$/, "");
        if ((m = /^REST endpoint:\s+(http:\/\/\S+)\s*$/.exec(line))) restUrl = m[1].replace(/\/$/, "");
        if (/^Ready\.\s*$/.test(line) && kinesisUrl && restUrl && !done) {
          done = true;
          clearTimeout(timer);
          resolve({ proc, kinesisUrl, restUrl, dataDir, output });
        }
      }
    });
    proc.on("exit", (code, signal) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`weir exited (code ${code}, signal ${signal}) before it was ready\n${output()}`));
    });
    proc.on("error", (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function stopWeir(s) {
  if (!s) return;
  try {
    if (s.proc.exitCode === null && s.proc.signalCode === null) {
      const exited = once(s.proc, "exit");
      s.proc.kill("SIGTERM");
      let timer;
      const timeout = new Promise((r) => { timer = setTimeout(r, 20_000, "timeout"); });
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        s.proc.kill("SIGKILL");
        throw new Error(`weir did not exit within 20 s of SIGTERM\n${s.output()}`);
      }
    }
  } finally {
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  }
}

function newClient() {
  // No requestHandler here on purpose: the SDK's default is what users get.
  return new KinesisClient({
    endpoint: server.kinesisUrl,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIAWEIRJSTEST000000", secretAccessKey: "weir-js-test-secret" },
    maxAttempts: 1,
  });
}

const uniq = (p) => `${p}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function createStream(name, shards) {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 2 },
    { StreamName: name });
}

async function readUntilCaughtUp(iterator, deadlineMs = 30_000) {
  const records = [];
  const deadline = Date.now() + deadlineMs;
  while (iterator) {
    assert.ok(Date.now() < deadline, `reader did not catch up (${records.length} records)`);
    let out;
    try {
      out = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
    } catch (e) {
      if (e.name === "ProvisionedThroughputExceededException") { await sleep(250); continue; }
      throw e;
    }
    records.push(...out.Records);
    if (out.Records.length === 0 && out.MillisBehindLatest === 0) break;
    iterator = out.NextShardIterator;
  }
  return records;
}

// If this process dies before after() runs, do not leave the server behind.
process.on("exit", () => {
  if (server && server.proc.exitCode === null && server.proc.signalCode === null) {
    server.proc.kill("SIGKILL");
  }
});

before(async () => {
  server = await startWeir();
  client = newClient();
});

after(async () => {
  client?.destroy();
  await stopWeir(server);
  http2.connect = realConnect;
});

test("the client's default request handler is the HTTP/2 one", () => {
  const handler = client.config.requestHandler;
  assert.ok(handler instanceof NodeHttp2Handler,
    `default requestHandler is ${handler?.constructor?.name}, expected NodeHttp2Handler`);
  assert.equal(handler.constructor.name, "NodeHttp2Handler");
});

test("CreateStream, PutRecord, GetShardIterator, GetRecords round trip over h2c", async () => {
  const before = h2Sessions.length;
  const name = uniq("js-h2");
  await createStream(name, 2);

  const payload = new Uint8Array(256 + 7);
  for (let i = 0; i < 256; i++) payload[i] = i;
  payload.set([0, 255, 0, 104, 50, 0, 0], 256);
  const putAt = Date.now();
  const put = await client.send(new PutRecordCommand({
    StreamName: name, PartitionKey: "js-key", Data: payload,
  }));
  assert.match(put.ShardId, /^shardId-\d{12}$/);
  assert.match(put.SequenceNumber, /^(0|[1-9]\d{0,128})$/);

  const batch = await client.send(new PutRecordsCommand({
    StreamName: name,
    Records: Array.from({ length: 10 }, (_, i) => ({
      PartitionKey: "js-key", Data: new TextEncoder().encode(`batch-${i}`),
    })),
  }));
  assert.equal(batch.FailedRecordCount ?? 0, 0);
  assert.ok(batch.Records.every((r) => r.ShardId === put.ShardId));

  const { ShardIterator } = await client.send(new GetShardIteratorCommand({
    StreamName: name, ShardId: put.ShardId, ShardIteratorType: "TRIM_HORIZON",
  }));
  assert.equal(typeof ShardIterator, "string");
  const records = await readUntilCaughtUp(ShardIterator);
  assert.equal(records.length, 11);
  assert.equal(records[0].SequenceNumber, put.SequenceNumber);
  assert.equal(records[0].PartitionKey, "js-key");
  assert.deepEqual(Buffer.from(records[0].Data), Buffer.from(payload));
  assert.deepEqual(records.slice(1).map((r) => new TextDecoder().decode(r.Data)),
    Array.from({ length: 10 }, (_, i) => `batch-${i}`));
  assert.deepEqual(records.slice(1).map((r) => r.SequenceNumber),
    batch.Records.map((r) => r.SequenceNumber));
  const seqs = records.map((r) => BigInt(r.SequenceNumber));
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], "sequence numbers increase");
  const ts = records[0].ApproximateArrivalTimestamp;
  assert.ok(ts instanceof Date, "ApproximateArrivalTimestamp is a Date");
  assert.ok(Math.abs(ts.getTime() - putAt) < 10_000,
    `ApproximateArrivalTimestamp ${ts.toISOString()} is not around ${new Date(putAt).toISOString()}`);

  // Every call above went over HTTP/2 cleartext to the Weir endpoint.
  const opened = h2Sessions.slice(before);
  assert.ok(opened.length >= 1, "the SDK opened no HTTP/2 session");
  const endpoint = new URL(server.kinesisUrl);
  for (const s of opened) {
    assert.equal(new URL(s.authority).host, endpoint.host);
    assert.equal(s.alpn, "h2c", `session to ${s.authority} negotiated ${s.alpn}`);
  }

  await client.send(new DeleteStreamCommand({ StreamName: name }));
});

test("errors over h2 carry AWS's exception name and message", async () => {
  const name = uniq("js-missing");
  await assert.rejects(
    client.send(new DescribeStreamCommand({ StreamName: name })),
    (err) => {
      assert.equal(err.name, "ResourceNotFoundException");
      assert.equal(err.message, `Stream ${name} under account 000000000000 not found.`);
      assert.equal(err.$metadata.httpStatusCode, 400);
      return true;
    });
  // The client still works after an error on its session.
  const out = await client.send(new ListShardsCommand({ StreamName: uniq("js-missing") }))
    .catch((e) => e);
  assert.equal(out.name, "ResourceNotFoundException");
});

test("many concurrent calls over HTTP/2 all succeed", async () => {
  const name = uniq("js-conc");
  await createStream(name, 1);
  const puts = await Promise.all(Array.from({ length: 50 }, (_, i) => client.send(
    new PutRecordCommand({ StreamName: name, PartitionKey: `k${i}`, Data: Buffer.from(`c${i}`) }))));
  const seqs = new Set(puts.map((p) => p.SequenceNumber));
  assert.equal(seqs.size, 50, "every concurrent put got its own sequence number");
  const { ShardIterator } = await client.send(new GetShardIteratorCommand({
    StreamName: name, ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON",
  }));
  const records = await readUntilCaughtUp(ShardIterator);
  assert.deepEqual(new Set(records.map((r) => r.SequenceNumber)), seqs);
  await client.send(new DeleteStreamCommand({ StreamName: name }));
});

test("AT_TIMESTAMP with the SDK's fractional-second timestamps", async () => {
  const name = uniq("js-ts");
  await createStream(name, 1);
  await client.send(new PutRecordCommand({ StreamName: name, PartitionKey: "t", Data: Buffer.from("before") }));
  await sleep(100);
  const boundary = new Date();
  await sleep(100);
  await client.send(new PutRecordCommand({ StreamName: name, PartitionKey: "t", Data: Buffer.from("after") }));
  const { ShardIterator } = await client.send(new GetShardIteratorCommand({
    StreamName: name, ShardId: "shardId-000000000000", ShardIteratorType: "AT_TIMESTAMP",
    Timestamp: boundary,
  }));
  const records = await readUntilCaughtUp(ShardIterator);
  assert.deepEqual(records.map((r) => Buffer.from(r.Data).toString()), ["after"]);
  await client.send(new DeleteStreamCommand({ StreamName: name }));
});

test("the endpoint speaks h2c with prior knowledge to a bare node:http2 client", async () => {
  const session = realConnect(server.kinesisUrl);
  try {
    await once(session, "connect");
    const req = session.request({
      ":method": "POST", ":path": "/",
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "Kinesis_20131202.ListStreams",
    });
    req.end(JSON.stringify({}));
    const [headers] = await once(req, "response");
    let body = "";
    req.setEncoding("utf8");
    for await (const chunk of req) body += chunk;
    assert.equal(headers[":status"], 200, body);
    assert.match(String(headers["content-type"]), /^application\/x-amz-json-1\.1/);
    const parsed = JSON.parse(body);
    assert.ok(Array.isArray(parsed.StreamNames));
    assert.equal(typeof parsed.HasMoreStreams, "boolean");
  } finally {
    session.close();
  }
});

test("SubscribeToShard pushes records over HTTP/2 and ends a split shard with ChildShards", async () => {
  const name = uniq("js-efo");
  await createStream(name, 1);
  const { StreamDescriptionSummary: summary } = await client.send(
    new DescribeStreamSummaryCommand({ StreamName: name }));
  const { Consumer: consumer } = await client.send(new RegisterStreamConsumerCommand({
    StreamARN: summary.StreamARN, ConsumerName: "js-consumer",
  }));
  const sessionsBefore = h2Sessions.length;
  const out = await client.send(new SubscribeToShardCommand({
    ConsumerARN: consumer.ConsumerARN, ShardId: "shardId-000000000000",
    StartingPosition: { Type: "LATEST" },
  }));
  // Written after the subscription began, on the same HTTP/2 connection as the stream.
  const puts = [];
  for (const text of ["first", "second"]) {
    puts.push(await client.send(new PutRecordCommand({
      StreamName: name, PartitionKey: "efo", Data: Buffer.from(text),
    })));
  }
  const records = [];
  let final;
  let split = false;
  for await (const event of out.EventStream) {
    const body = event.SubscribeToShardEvent;
    if (!body) continue; // the initial-response, which the SDK passes on as unknown
    records.push(...body.Records);
    if (records.length >= 2 && !split) {
      split = true;
      await client.send(new SplitShardCommand({
        StreamName: name, ShardToSplit: "shardId-000000000000",
        NewStartingHashKey: (2n ** 127n).toString(),
      }));
    }
    if (body.ChildShards && body.ChildShards.length > 0) {
      final = body;
      break;
    }
    assert.equal(typeof body.ContinuationSequenceNumber, "string");
    assert.equal(typeof body.MillisBehindLatest, "number");
  }
  assert.deepEqual(records.map((r) => Buffer.from(r.Data).toString()), ["first", "second"]);
  assert.deepEqual(records.map((r) => r.SequenceNumber), puts.map((p) => p.SequenceNumber));
  assert.ok(records[0].ApproximateArrivalTimestamp instanceof Date);
  assert.ok(final, "the stream ended without a ChildShards event");
  assert.equal(final.ContinuationSequenceNumber, undefined);
  assert.deepEqual(final.ChildShards.map((c) => c.ShardId).sort(),
    ["shardId-000000000001", "shardId-000000000002"]);
  // No new connection: the subscription was one more stream on the HTTP/2 session.
  for (const s of h2Sessions.slice(sessionsBefore)) assert.equal(s.alpn, "h2c");
  await client.send(new DeleteStreamCommand({ StreamName: name }));
});
