#!/usr/bin/env bash
# Cluster benchmarks for docs/BENCHMARKS.md, run on one machine:
#   1. aggregate PutRecords throughput of `weir up` (one node) vs `weir up --nodes 3`;
#   2. the cost of routing: a 1-shard stream loaded through each of the 3 nodes, so one
#      run writes to the shard's owner and two go through a non-owner that forwards.
# Needs target/release/weir (cargo build --release -p weir). Results: target/bench-results/cluster-*.json
set -euo pipefail
# Benchmarks measure the engine, not Kinesis's per-shard quotas: run unthrottled.
export WEIR_SHARD_LIMITS=off
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEIR="$ROOT/target/release/weir"
RESULTS="$ROOT/target/bench-results"
DURATION=${DURATION:-15}
[[ -x $WEIR ]] || { echo "missing $WEIR: run cargo build --release -p weir" >&2; exit 1; }
mkdir -p "$RESULTS"
WORK=$(mktemp -d "$ROOT/target/bench-cluster.XXXXXX")
SERVER=""
cleanup() {
    if [[ -n $SERVER ]] && kill -0 "$SERVER" 2>/dev/null; then
        kill -TERM "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

start() { # start DATA_DIR NODES -> sets SERVER and OUT
    local dir=$1 nodes=$2
    OUT="$dir.out"
    "$WEIR" up --data-dir "$dir" --kinesis-addr 127.0.0.1:0 --rest-addr 127.0.0.1:0 --nodes "$nodes" \
        >"$OUT" 2>"$dir.log" &
    SERVER=$!
    for _ in $(seq 1 300); do grep -q '^Ready\.' "$OUT" 2>/dev/null && return 0; sleep 0.1; done
    echo "weir up did not start; see $dir.log" >&2; exit 1
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }
bench() { # bench LABEL ENDPOINT SHARDS
    "$WEIR" bench --endpoint "$2" --stream "bench-$1" --shards "$3" --duration "$DURATION" \
        --record-bytes 1024 --batch 500 --concurrency 8 --no-consumers --label "$1" \
        >"$RESULTS/cluster-$1.json" 2>/dev/null
    node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));
      console.log(`| ${s.label} | ${s.records_per_s.toFixed(0)} | ${s.mb_per_s.toFixed(1)} | ${s.put_latency_ms.p50} / ${s.put_latency_ms.p99} | ${s.failed_records + s.request_errors} |`)' \
        "$RESULTS/cluster-$1.json"
}

echo "| run | records/s | MB/s | put p50 / p99 ms | failures |"
echo "|---|---:|---:|---:|---:|"
start "$WORK/one" 0
bench one-node-12-shards "$(sed -n 's/^Kinesis endpoint: //p' "$OUT")" 12
stop
start "$WORK/three" 3
mapfile -t NODES < <(sed -n 's/^Node \(node-[0-9]*\): \(\S*\).*/\2/p' "$OUT")
bench three-nodes-12-shards "${NODES[0]}" 12
for i in 0 1 2; do bench "one-shard-via-node-$i" "${NODES[$i]}" 1; done
stop
echo
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/Model name: *//p'), load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
