// @aws-sdk/client-kinesis over HTTP/2 with TLS (ALPN h2) against `weir up --tls --auth`,
// trusting the local CA Weir generates, signing with the key Weir prints on first start.
//
// Run: node --test tests/js/   (WEIR_BIN overrides the binary, default target/debug/weir)

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(repo, process.env.CARGO_TARGET_DIR)
  : path.join(repo, "target");
const weirBin = process.env.WEIR_BIN || path.join(targetDir, "debug", "weir");

function startWeir(dataDir) {
  const proc = spawn(weirBin, ["up", "--data-dir", path.join(dataDir, "data"),
    "--kinesis-addr", "127.0.0.1:0", "--rest-addr", "127.0.0.1:0", "--tls", "--auth"],
  { cwd: dataDir, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => { stderr += d; });
  proc.stdout.setEncoding("utf8");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill("SIGKILL"); reject(new Error(`not ready:\n${stdout}\n${stderr}`)); }, 60_000);
    proc.stdout.on("data", (d) => {
      stdout += d;
      const field = (re) => (re.exec(stdout) || [])[1];
      if (/^Ready\.$/m.test(stdout)) {
        clearTimeout(timer);
        resolve({
          proc,
          endpoint: field(/^Kinesis endpoint:\s+(\S+)$/m),
          ca: field(/^CA certificate:\s+(\S+)$/m),
          keyId: field(/^Access key id:\s+(\S+)$/m),
          secret: field(/^Secret access key:\s+(\S+)$/m),
        });
      }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`weir exited ${code}:\n${stderr}`)); });
  });
}

test("the JS v3 client speaks HTTP/2 over TLS (ALPN) to weir up --tls with an issued key", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-js-tls-"));
  const weir = await startWeir(dataDir);
  try {
    assert.match(weir.endpoint, /^https:\/\//);
    assert.ok(weir.ca && weir.keyId && weir.secret, "weir up --tls --auth printed its CA and key");
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(here, "tls-client.mjs")], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: weir.ca, WEIR_ENDPOINT: weir.endpoint,
        WEIR_KEY_ID: weir.keyId, WEIR_SECRET: weir.secret },
      timeout: 60_000,
    });
    const seen = JSON.parse(stdout.trim().split("\n").pop());
    assert.deepEqual(seen.records, ["over h2 and tls"]);
    assert.ok(seen.alpn.length > 0 && seen.alpn.every((p) => p === "h2"), `ALPN: ${seen.alpn}`);
  } finally {
    const exited = once(weir.proc, "exit");
    weir.proc.kill("SIGTERM");
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
