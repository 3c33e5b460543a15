#!/usr/bin/env bash
# What metrics and tracing cost: the same puts-only peak load against `weir up` three ways,
# in one run, alternating, twice each:
#   base     no scraping, no trace export;
#   metrics  every shard-level metric on (EnableEnhancedMonitoring ALL) and both /metrics
#            endpoints (node and control plane) scraped every second, as Prometheus would;
#   tracing  OTLP/HTTP export to a local sink, sampling 1 % of traces
#            (OTEL_TRACES_SAMPLER=parentbased_traceidratio, ARG=0.01).
#
#   cargo build --release -p weir      # once; this script builds nothing
#   bash scripts/bench-telemetry-cost.sh
#
# Load: PutRecords, 1 KiB records, batches of 500, 4 shards, 8 producers, BENCH_DURATION
# seconds (default 20) after a 2 s warm-up. Prints a markdown table (records/s and the
# ratio to the base runs' mean) and writes it to target/bench-results/telemetry-cost.md.
set -euo pipefail
export WEIR_SHARD_LIMITS=off
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEIR=${WEIR_BIN:-$ROOT/target/release/weir}
RESULTS=$ROOT/target/bench-results
WORK=$ROOT/target/bench-work/telemetry
DURATION=${BENCH_DURATION:-20}
[[ -x $WEIR ]] || { echo "error: $WEIR not found; cargo build --release -p weir" >&2; exit 1; }
mkdir -p "$RESULTS"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A minimal OTLP/HTTP sink: answers 200 to every POST and counts the bytes it got.
SINK_PORT=$(free_port)
python3 - "$SINK_PORT" <<'PY' &
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-type", "application/x-protobuf")
        self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
PIDS+=($!)

kinesis() { # kinesis <url> <operation> <json>
    curl -sf -X POST "$1/" -H 'content-type: application/x-amz-json-1.1' \
         -H "x-amz-target: Kinesis_20131202.$2" -d "$3" >/dev/null
}

run() { # run <label> <mode>
    local label=$1 mode=$2 k r
    rm -rf "$WORK"; mkdir -p "$WORK"
    local kport rport; kport=$(free_port); rport=$(free_port)
    local env=()
    if [[ $mode == tracing ]]; then
        env=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT"
             OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01)
    fi
    env "${env[@]}" "$WEIR" up --data-dir "$WORK/data" --tier off \
        --kinesis-addr "127.0.0.1:$kport" --rest-addr "127.0.0.1:$rport" >"$WORK/weir.log" 2>&1 &
    local weir_pid=$!; PIDS+=($weir_pid)
    k=http://127.0.0.1:$kport; r=http://127.0.0.1:$rport
    for _ in $(seq 100); do curl -sf "$r/healthz" >/dev/null && break; sleep 0.1; done
    kinesis "$k" CreateStream '{"StreamName":"cost","ShardCount":4}'
    local scraper=""
    if [[ $mode == metrics ]]; then
        kinesis "$k" EnableEnhancedMonitoring '{"StreamName":"cost","ShardLevelMetrics":["ALL"]}'
        ( while true; do curl -sf "$k/metrics" >/dev/null; curl -sf "$r/metrics" >/dev/null; sleep 1; done ) &
        scraper=$!; PIDS+=($scraper)
    fi
    "$WEIR" bench --endpoint "$k" --stream cost --shards 4 --record-bytes 1024 --batch 500 \
        --concurrency 8 --duration "$DURATION" --warmup 2 --no-consumers --keep \
        --label "$label" >"$RESULTS/telemetry-$label.json" 2>/dev/null
    [[ -n $scraper ]] && kill "$scraper" 2>/dev/null || true
    kill "$weir_pid"; wait "$weir_pid" 2>/dev/null || true
    sync; sleep 3
}

for round in 1 2; do
    run "base-$round" base
    run "metrics-$round" metrics
    run "tracing-$round" tracing
done

python3 - "$RESULTS" <<'PY' | tee "$RESULTS/telemetry-cost.md"
import json, sys, statistics
from pathlib import Path
results = Path(sys.argv[1])
rows = {p.stem.removeprefix("telemetry-"): json.loads(p.read_text())
        for p in sorted(results.glob("telemetry-*-[12].json"))}
base = statistics.mean(rows[f"base-{r}"]["records_per_s"] for r in (1, 2))
print("| run | records/s | vs base mean | put p50 / p99 ms |")
print("|---|---:|---:|---:|")
for label, s in rows.items():
    lat = s["put_latency_ms"]
    print(f"| {label} | {s['records_per_s']:.0f} | {s['records_per_s'] / base:.3f} | "
          f"{lat['p50']:.2f} / {lat['p99']:.2f} |")
for mode in ("metrics", "tracing"):
    mean = statistics.mean(rows[f"{mode}-{r}"]["records_per_s"] for r in (1, 2))
    print(f"\n{mode}: {100 * (1 - mean / base):+.1f} % throughput cost (mean of two runs against the base mean)")
PY
