// The web console in Debian's headless Chromium (driven by playwright-core) against a real
// `weir up --auth`: log in, create a stream, put records and watch the throughput chart
// move, browse the records, split the shard and see the lineage gain children, change
// retention, visit every page, delete the stream. A screenshot of every page goes to
// tests/js/artifacts/ (WEIR_CONSOLE_DOCS=1 also writes docs/console/).
//
// Run: node --test tests/js/   (WEIR_BIN overrides the binary, WEIR_CHROMIUM the browser)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";
import { KinesisClient, PutRecordsCommand, GetShardIteratorCommand, GetRecordsCommand } from "@aws-sdk/client-kinesis";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(repo, process.env.CARGO_TARGET_DIR) : path.join(repo, "target");
const weirBin = process.env.WEIR_BIN || path.join(targetDir, "debug", "weir");
const chromiumBin = process.env.WEIR_CHROMIUM || "/usr/bin/chromium";
const artifacts = path.join(here, "artifacts");
const docsDir = path.join(repo, "docs", "console");
const START_TIMEOUT_MS = 60_000;

let server; // { proc, kinesisUrl, restUrl, keyId, secret, dataDir, output() }
let browser; // a persistent context (fresh user-data-dir)
let userDataDir;
let page;
const foreign = []; // requests to any other origin
const origins = new Set(); // the servers' own origins
const pageErrors = [];

function startWeir({ auth = true, extra = [] } = {}) {
  if (!fs.existsSync(weirBin)) {
    throw new Error(`weir binary not found at ${weirBin}; run \`cargo build -p weir\` or set WEIR_BIN`);
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-console-"));
  const argv = ["up", ...(auth ? ["--auth"] : []), "--data-dir", path.join(dataDir, "data"),
    "--kinesis-addr", "127.0.0.1:0", "--rest-addr", "127.0.0.1:0", "--metrics-sample-ms", "200", ...extra];
  const proc = spawn(weirBin, argv, { cwd: dataDir, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const output = () => `--- weir stdout ---\n${stdout.split("\n").slice(-30).join("\n")}\n` +
    `--- weir stderr ---\n${stderr.split("\n").slice(-40).join("\n")}`;
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => { stderr += d; });
  proc.stdout.setEncoding("utf8");
  return new Promise((resolve, reject) => {
    const found = {};
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      proc.kill("SIGKILL");
      reject(new Error(`weir was not ready within ${START_TIMEOUT_MS / 1000} s\n${output()}`));
    }, START_TIMEOUT_MS);
    proc.stdout.on("data", (d) => {
      stdout += d;
      for (const line of stdout.split("\n")) {
        let m;
        if ((m = /^Kinesis endpoint:\s+(http:\/\/\S+?)\/?\s*$/.exec(line))) found.kinesisUrl = m[1];
        if ((m = /^REST endpoint:\s+(http:\/\/\S+?)\/?\s*$/.exec(line))) found.restUrl = m[1];
        if ((m = /^Access key id:\s+(\S+)/.exec(line))) found.keyId = m[1];
        if ((m = /^Secret access key:\s+(\S+)/.exec(line))) found.secret = m[1];
        if (/^Ready\.\s*$/.test(line) && found.kinesisUrl && found.restUrl && (found.keyId || !auth) && !done) {
          done = true;
          clearTimeout(timer);
          resolve({ proc, dataDir, output, ...found });
        }
      }
    });
    proc.on("exit", (code, signal) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`weir exited (code ${code}, signal ${signal}) before it was ready\n${output()}`));
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
      if (outcome === "timeout") s.proc.kill("SIGKILL");
    }
  } finally {
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  }
}

async function shot(name, target = page) {
  fs.mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, `${name}.png`);
  await target.evaluate(() => { document.getElementById("toast").textContent = ""; });
  await target.screenshot({ path: file, fullPage: true });
  if (process.env.WEIR_CONSOLE_DOCS) {
    fs.mkdirSync(docsDir, { recursive: true });
    fs.copyFileSync(file, path.join(docsDir, `${name}.png`));
  }
}

/** A REST call with the admin's token, to check what the console did. */
async function rest(method, p) {
  const token = await page.evaluate(() => sessionStorage.getItem("weir.token"));
  const response = await fetch(`${server.restUrl}${p}`, { method, headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
}

/** A REST call with a JSON body and the admin's token. */
async function restJson(method, p, body) {
  const token = await page.evaluate(() => sessionStorage.getItem("weir.token"));
  const response = await fetch(`${server.restUrl}${p}`, { method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/** Reads a data- attribute as a number inside the page. */
const dataNumber = (selector, attr) => page.$eval(selector, (e, a) => Number(e.getAttribute(a)), attr);

before(async () => {
  if (!fs.existsSync(chromiumBin)) {
    throw new Error(`Chromium not found at ${chromiumBin}: install Debian's chromium package (tests/run.sh does) or set WEIR_CHROMIUM`);
  }
  server = await startWeir();
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-chromium-"));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumBin,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 800 },
  });
  origins.add(new URL(server.restUrl).origin);
  await browser.route("**/*", (route) => {
    const url = route.request().url();
    if (origins.has(new URL(url).origin) || url.startsWith("data:")) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  page = browser.pages()[0] || await browser.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" && !/status of 40[0134]/.test(m.text())) pageErrors.push(m.text()); });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  await stopWeir(server);
});

test("the console: log in, create, watch, browse, split, retention, pages, delete", { timeout: 240_000 }, async () => {
  const name = `console-${Date.now().toString(36)}`;
  page.setDefaultTimeout(20_000);

  // Log in with the bootstrap admin key (the server runs with --auth).
  await page.goto(`${server.restUrl}/`);
  await page.getByRole("heading", { name: "Log in to Weir" }).waitFor();
  await shot("login");
  await page.getByLabel("Access key id").fill(server.keyId);
  await page.getByLabel("Secret access key").fill("wrong-secret");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").filter({ hasText: "Unauthenticated" }).waitFor();
  await page.getByLabel("Secret access key").fill(server.secret);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Streams", exact: true }).waitFor();
  await page.getByText("Signed in as admin").waitFor();

  // Create a one-shard stream from the dialog; the console opens its page.
  await page.getByRole("button", { name: "Create stream" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Name").fill(name);
  await dialog.getByLabel("Shard count (provisioned)").fill("1");
  await dialog.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(`**/#/streams/${name}`);
  await page.locator("svg.lineage").waitFor();
  assert.equal((await rest("GET", `/v1/streams/${name}`)).body.open_shard_count, 1);
  await page.locator("#chart-bytes svg").waitFor();
  const before = await dataNumber("#chart-bytes svg", "data-sum");

  // Put records with the Kinesis API (as the admin) and read them once; the live chart,
  // polled every 2 s, must change.
  const kinesis = new KinesisClient({ endpoint: server.kinesisUrl, region: "us-east-1",
    credentials: { accessKeyId: server.keyId, secretAccessKey: server.secret }, maxAttempts: 3 });
  try {
    const records = Array.from({ length: 40 }, (_, i) => ({
      Data: Buffer.from(JSON.stringify({ order: i, item: "widget" })), PartitionKey: `key-${i}`,
    }));
    for (let round = 0; round < 3; round++) {
      const out = await kinesis.send(new PutRecordsCommand({ StreamName: name, Records: records }));
      assert.equal(out.FailedRecordCount, 0);
    }
    const it = await kinesis.send(new GetShardIteratorCommand({ StreamName: name,
      ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" }));
    await kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 50 }));
  } finally {
    kinesis.destroy();
  }
  await page.waitForFunction((b) => {
    const svg = document.querySelector("#chart-bytes svg");
    return svg && Number(svg.getAttribute("data-sum")) > b;
  }, before, { timeout: 30_000 });
  const after = await dataNumber("#chart-bytes svg", "data-sum");
  assert.ok(after > before, `the throughput chart moved (${before} -> ${after})`);
  await page.waitForFunction(() => {
    const svg = document.querySelector("#chart-records svg");
    return svg && svg.getAttribute("data-points").split(";")[1].split(",").some((v) => Number(v) > 0);
  });

  // The streams list shows the stream with a sparkline that is not flat.
  await page.getByRole("link", { name: "Streams", exact: true }).first().click();
  const row = page.locator(`tr[data-stream="${name}"]`);
  await row.waitFor();
  await page.waitForFunction((n) => {
    const svg = document.querySelector(`tr[data-stream="${n}"] td.spark-in svg`);
    return svg && Number(svg.getAttribute("data-sum")) > 0;
  }, name, { timeout: 30_000 });
  await shot("streams");

  // Browse the records from the oldest, as text, JSON and hex.
  await row.getByRole("link", { name }).click();
  await page.getByRole("link", { name: "Browse records" }).click();
  await page.getByLabel("Start at").selectOption("TRIM_HORIZON");
  await page.getByLabel("Records (1–100)").fill("100");
  await page.getByRole("button", { name: "Read", exact: true }).click();
  const firstPayload = page.locator("#records tbody tr").first().locator("pre.payload");
  await firstPayload.waitFor();
  assert.equal(await page.locator("#records tbody tr").count(), 100);
  assert.equal(await firstPayload.textContent(), JSON.stringify({ order: 0, item: "widget" }));
  await page.getByLabel("JSON").check();
  assert.match(await firstPayload.textContent(), /\n {2}"order": 0,\n/);
  await page.getByLabel("HEX").check();
  assert.match(await firstPayload.textContent(), /^000000 {2}7b 22 6f 72 64 65 72 22/);
  // From a sequence number: the third record onwards.
  const third = await page.locator("#records tbody tr").nth(2).getAttribute("data-sequence");
  await page.getByLabel("TEXT").check();
  await page.getByLabel("Start at").selectOption("AT_SEQUENCE_NUMBER");
  await page.getByLabel("Sequence number", { exact: true }).fill(third);
  await page.getByLabel("Records (1–100)").fill("5");
  await page.getByRole("button", { name: "Read", exact: true }).click();
  await page.waitForFunction((seq) => {
    const first = document.querySelector("#records tbody tr");
    return first && first.getAttribute("data-sequence") === seq;
  }, third);
  assert.equal(await page.locator("#records tbody tr").count(), 5);
  assert.equal(await firstPayload.textContent(), JSON.stringify({ order: 2, item: "widget" }));
  await shot("records");
  // Read on after the last record shown: orders 7 to 11.
  await page.getByRole("button", { name: "Read on" }).click();
  await page.waitForFunction(() => {
    const first = document.querySelector("#records tbody tr pre.payload");
    return first && first.textContent.includes('"order":7');
  });
  assert.equal(await page.getByLabel("Start at").inputValue(), "AFTER_SEQUENCE_NUMBER");

  // The records route needs kinesis:GetRecords: a viewer (describe only) is refused, a
  // consumer reads. Both call the REST API with their own tokens, as the console would.
  const records = `/v1/streams/${name}/shards/shardId-000000000000/records?limit=1`;
  for (const [role, status] of [["viewer", 403], ["consumer", 200]]) {
    const who = `${role}-${name}`;
    assert.equal((await restJson("POST", "/v1/principals", { name: who, bindings: [{ role, streams: "*" }] })).status, 201);
    const key = (await restJson("POST", `/v1/principals/${who}/keys`)).body;
    const token = (await restJson("POST", "/v1/auth/token",
      { access_key_id: key.access_key_id, secret_access_key: key.secret_access_key })).body.token;
    const answer = await fetch(`${server.restUrl}${records}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(answer.status, status, `${role} reading records`);
    if (status === 200) assert.equal((await answer.json()).records.length, 1);
  }

  // Split the shard with the console's scale action: the lineage gains two children.
  await page.getByRole("link", { name: `← ${name}` }).click();
  await page.locator("svg.lineage").waitFor();
  assert.equal(await page.locator("svg.lineage").getAttribute("data-shards"), "shardId-000000000000");
  await page.getByRole("button", { name: "Scale" }).click();
  await page.getByLabel("Target shard count").fill("2");
  await page.getByRole("dialog").getByRole("button", { name: "Scale" }).click();
  await page.waitForFunction(() => {
    const svg = document.querySelector("svg.lineage");
    return svg && svg.getAttribute("data-shards").split(",").length === 3;
  }, null, { timeout: 30_000 });
  const edges = (await page.locator("svg.lineage").getAttribute("data-edges")).split(",").sort();
  assert.deepEqual(edges, ["shardId-000000000000>shardId-000000000001", "shardId-000000000000>shardId-000000000002"]);
  assert.equal(await page.locator("svg.lineage g.shard.closed").count(), 1);
  // Keyboard: Enter on a shard of the graph selects it for the segments panel.
  await page.locator('svg.lineage g[data-shard-id="shardId-000000000001"]').focus();
  await page.keyboard.press("Enter");
  await page.locator("#segments").getByText("shardId-000000000001").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("data-shard-id")), "shardId-000000000001",
    "the keyboard focus stays on the selected shard");
  // Polling does not take the focus away from the shard table's buttons.
  await page.getByRole("button", { name: "Segments of shardId-000000000002" }).focus();
  await page.waitForTimeout(4500);
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("data-segments")), "shardId-000000000002");
  await page.waitForFunction(() => document.querySelector('[data-stat="Open shards"]').textContent === "2");

  // Change retention.
  await page.getByRole("button", { name: "Retention" }).click();
  await page.getByLabel("Retention (hours, 24–8760)").fill("48");
  await page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
  await page.waitForFunction(() => document.querySelector('[data-stat="Retention"]').textContent === "48 h");
  assert.equal((await rest("GET", `/v1/streams/${name}`)).body.retention_hours, 48);
  await page.waitForFunction(() => Number(document.querySelector("#chart-bytes svg").getAttribute("data-sum")) > 0);
  await shot("stream");

  // The other pages.
  await page.getByRole("link", { name: "Nodes" }).click();
  await page.getByRole("heading", { name: "Data-plane nodes" }).waitFor();
  await page.locator("#nodes").getByText(/one process/).waitFor();
  await shot("nodes");
  await page.getByRole("link", { name: "Security" }).click();
  await page.locator("#principals td", { hasText: "admin" }).first().waitFor();
  await page.locator("#audit tbody tr").first().waitFor();
  await shot("security");
  // Principals: create one, give it a key, change its roles, revoke the key, delete it.
  const ops = `ops-${name}`;
  await page.getByRole("button", { name: "New principal" }).click();
  await page.getByRole("dialog").getByLabel("Name").fill(ops);
  await page.getByRole("dialog").getByLabel("Role").selectOption("viewer");
  await page.getByRole("dialog").getByLabel("On streams matching (glob)").fill("orders-*");
  await page.getByRole("dialog").getByRole("button", { name: "Create" }).click();
  await page.getByRole("button", { name: `New key for ${ops}` }).click();
  const secretText = await page.locator(".secret").textContent();
  const keyId = /Access key id: (WKIA[A-Z0-9]{16})/.exec(secretText)[1];
  assert.match(secretText, /Secret access key: \S+/);
  await page.getByRole("button", { name: `Edit roles of ${ops}` }).click();
  assert.equal(await page.locator("#bindings-text").inputValue(), "viewer orders-*");
  await page.locator("#bindings-text").fill("consumer *\nviewer orders-*");
  await page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
  await page.locator("#principals td", { hasText: "consumer on *; viewer on orders-*" }).waitFor();
  const principal = async () => (await rest("GET", "/v1/principals")).body.principals.find((p) => p.name === ops);
  assert.deepEqual((await principal()).bindings, [{ role: "consumer", streams: "*" }, { role: "viewer", streams: "orders-*" }]);
  await page.getByRole("button", { name: `Revoke key ${keyId}` }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
  await page.getByRole("button", { name: `Revoke key ${keyId}` }).waitFor({ state: "detached" });
  assert.deepEqual((await principal()).access_key_ids, []);
  await page.getByRole("button", { name: `Delete principal ${ops}` }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete principal" }).click();
  await page.getByRole("button", { name: `Delete principal ${ops}` }).waitFor({ state: "detached" });
  assert.equal(await principal(), undefined);
  await page.getByRole("link", { name: "Config" }).click();
  await page.locator("#config-text").fill(`config_name = "console-test"\n\nstream "planned" {\n  name        = "${name}-planned"\n  shard_count = 1\n}\n`);
  await page.getByRole("button", { name: "Plan", exact: true }).click();
  await page.locator("#plan pre.plan").getByText(`${name}-planned`).first().waitFor();
  await shot("config");
  await page.getByRole("button", { name: "Apply this plan" }).click();
  await page.locator("#apply-log li").filter({ hasText: "finished" }).first().waitFor();
  assert.equal((await rest("GET", `/v1/streams/${name}-planned`)).status, 200);
  assert.equal((await rest("DELETE", `/v1/streams/${name}-planned`)).status, 204);

  // Phone width: the stream page does not scroll sideways (wide tables scroll inside).
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.restUrl}/#/streams/${name}`);
  await page.locator("svg.lineage g.shard").first().waitFor();
  await page.locator("#chart-bytes svg").waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling at 390 px (${overflow} px too wide)`);
  await shot("stream-phone");
  await page.setViewportSize({ width: 1280, height: 800 });

  // Delete, confirmed by typing the name; a wrong name deletes nothing.
  await page.getByRole("button", { name: "Delete" }).click();
  const confirm = page.getByRole("dialog");
  await confirm.getByLabel(/Type the stream's name/).fill("not-the-name");
  await confirm.getByRole("button", { name: "Delete stream" }).click();
  await confirm.getByRole("alert").getByText("does not match").waitFor();
  assert.equal((await rest("GET", `/v1/streams/${name}`)).status, 200);
  await confirm.getByLabel(/Type the stream's name/).fill(name);
  await confirm.getByRole("button", { name: "Delete stream" }).click();
  await page.waitForURL("**/#/streams");
  await page.getByRole("heading", { name: "All streams" }).waitFor();
  assert.equal((await rest("GET", `/v1/streams/${name}`)).status, 404);
  await page.waitForFunction((n) => !document.querySelector(`tr[data-stream="${n}"]`), name);

  // Logging out forgets the token.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "Log in to Weir" }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("weir.token")), null);

  assert.deepEqual(foreign, [], "the console fetched nothing from another origin");
  assert.deepEqual(pageErrors, [], "no script errors");
});

test("without --auth the console opens without a login", { timeout: 120_000 }, async () => {
  const open = await startWeir({ auth: false });
  origins.add(new URL(open.restUrl).origin);
  const tab = await browser.newPage();
  try {
    await tab.goto(`${open.restUrl}/`);
    await tab.getByRole("heading", { name: "All streams" }).waitFor();
    // First paint well under a second on localhost (the bar), even from a debug build.
    const paint = await tab.evaluate(() =>
      (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime);
    assert.ok(paint > 0 && paint < 1000, `first contentful paint after ${paint} ms`);
    assert.equal(await tab.locator("#who").isHidden(), true);
    assert.equal(await tab.getByRole("heading", { name: "Log in to Weir" }).count(), 0);
    // Records are read through the local Kinesis endpoint unsigned.
    const created = await fetch(`${open.restUrl}/v1/streams`, { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "plain", shard_count: 1 }) });
    assert.equal(created.status, 201);
    await tab.getByRole("link", { name: "plain" }).click();
    await tab.getByRole("link", { name: "Browse records" }).click();
    await tab.getByRole("button", { name: "Read", exact: true }).click();
    await tab.getByText("No records from there.").waitFor();
    assert.deepEqual(foreign, [], "the console fetched nothing from another origin");
  } finally {
    await tab.close();
    await stopWeir(open);
  }
});

test("in a cluster the nodes page lists the nodes and records are read on the leader", { timeout: 180_000 }, async () => {
  const cluster = await startWeir({ auth: false, extra: ["--nodes", "2"] });
  origins.add(new URL(cluster.restUrl).origin);
  const tab = await browser.newPage();
  try {
    const created = await fetch(`${cluster.restUrl}/v1/streams`, { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "spread", shard_count: 2 }) });
    assert.equal(created.status, 201);
    const kinesis = new KinesisClient({ endpoint: cluster.kinesisUrl, region: "us-east-1",
      credentials: { accessKeyId: "any", secretAccessKey: "any" }, maxAttempts: 10 });
    try {
      const out = await kinesis.send(new PutRecordsCommand({ StreamName: "spread",
        Records: Array.from({ length: 20 }, (_, i) => ({ Data: Buffer.from(`event ${i}`), PartitionKey: `p${i}` })) }));
      assert.equal(out.FailedRecordCount, 0);
    } finally {
      kinesis.destroy();
    }
    // Each shard is read on its leader with the internal token; together they hold all 20.
    const placement = await (await fetch(`${cluster.restUrl}/v1/streams/spread/placement`)).json();
    assert.equal(placement.shards.length, 2);
    let total = 0;
    for (const shard of ["shardId-000000000000", "shardId-000000000001"]) {
      const answer = await fetch(`${cluster.restUrl}/v1/streams/spread/shards/${shard}/records?limit=100`);
      assert.equal(answer.status, 200);
      const body = await answer.json();
      for (const r of body.records) assert.match(Buffer.from(r.data, "base64").toString(), /^event \d+$/);
      total += body.records.length;
    }
    assert.equal(total, 20);
    await tab.setViewportSize({ width: 1280, height: 800 });
    await tab.goto(`${cluster.restUrl}/#/nodes`);
    await tab.locator("#nodes tbody tr").nth(1).waitFor();
    assert.equal(await tab.locator("#nodes .badge.live").count(), 2);
    await shot("nodes-cluster", tab);
    await tab.goto(`${cluster.restUrl}/#/streams/spread`);
    await tab.locator("#placement tbody tr").nth(1).waitFor();
    assert.deepEqual(foreign, [], "the console fetched nothing from another origin");
  } finally {
    await tab.close();
    await stopWeir(cluster);
  }
});
