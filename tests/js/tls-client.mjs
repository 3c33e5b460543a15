// Child process of tls.test.mjs: runs with NODE_EXTRA_CA_CERTS set to Weir's local CA (Node
// reads it only at start-up), drives @aws-sdk/client-kinesis with its default HTTP/2
// handler over TLS, and prints what it saw as one JSON line.
import http2 from "node:http2";
import {
  KinesisClient, CreateStreamCommand, PutRecordCommand, GetShardIteratorCommand,
  GetRecordsCommand, waitUntilStreamExists,
} from "@aws-sdk/client-kinesis";

const alpn = [];
const realConnect = http2.connect;
http2.connect = function patched(authority, ...rest) {
  const session = realConnect.call(this, authority, ...rest);
  session.once("connect", () => alpn.push(session.alpnProtocol));
  return session;
};

const client = new KinesisClient({
  endpoint: process.env.WEIR_ENDPOINT,
  region: "us-east-1",
  credentials: { accessKeyId: process.env.WEIR_KEY_ID, secretAccessKey: process.env.WEIR_SECRET },
  maxAttempts: 1,
});
const stream = `tls-${Date.now().toString(36)}`;
await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
await waitUntilStreamExists({ client, maxWaitTime: 30 }, { StreamName: stream });
const put = await client.send(new PutRecordCommand({
  StreamName: stream, PartitionKey: "k", Data: new TextEncoder().encode("over h2 and tls"),
}));
const { ShardIterator } = await client.send(new GetShardIteratorCommand({
  StreamName: stream, ShardId: put.ShardId, ShardIteratorType: "TRIM_HORIZON",
}));
const got = await client.send(new GetRecordsCommand({ ShardIterator }));
console.log(JSON.stringify({
  alpn,
  records: got.Records.map((r) => new TextDecoder().decode(r.Data)),
}));
client.destroy();
