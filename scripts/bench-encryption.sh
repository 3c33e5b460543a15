#!/usr/bin/env bash
# What encryption at rest costs: the same puts-only peak load against `weir up`, on a plain
# stream and on a stream encrypted with StartStreamEncryption, alternating, twice each, then
# a full read-back (`weir bench --replay`) of what each wrote.
#
#   cargo build --release -p weir      # once; this script builds nothing
#   bash scripts/bench-encryption.sh
#
# Load: PutRecords, 1 KiB records, batches of 500, 4 shards, 8 producers, BENCH_DURATION
# seconds (default 20) after a 2 s warm-up. Reports records/s, the ratio to the plain
# runs' mean, and the server's CPU seconds per GB of payload written and read (from
# /proc/<pid>/stat, so the load generator's own CPU is not counted). Writes the table to
# target/bench-results/encryption-cost.md.
set -euo pipefail
export WEIR_SHARD_LIMITS=off
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEIR=${WEIR_BIN:-$ROOT/target/release/weir}
RESULTS=$ROOT/target/bench-results
WORK=$ROOT/target/bench-work/encryption
DURATION=${BENCH_DURATION:-20}
[[ -x $WEIR ]] || { echo "error: $WEIR not found; cargo build --release -p weir" >&2; exit 1; }
mkdir -p "$RESULTS"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # run <label> <plain|encrypted>
    local label=$1 mode=$2 k r
    rm -rf "$WORK"; mkdir -p "$WORK"
    local kport rport; kport=$(free_port); rport=$(free_port)
    "$WEIR" up --data-dir "$WORK/data" --tier off --reshard-delay-ms 0 \
        --kinesis-addr "127.0.0.1:$kport" --rest-addr "127.0.0.1:$rport" >"$WORK/weir.log" 2>&1 &
    local weir_pid=$!; PIDS+=($weir_pid)
    k=http://127.0.0.1:$kport; r=http://127.0.0.1:$rport
    for _ in $(seq 100); do curl -sf "$r/healthz" >/dev/null && break; sleep 0.1; done
    local encrypt=()
    [[ $mode == encrypted ]] && encrypt=(--encrypt alias/aws/kinesis)
    local t0 t1 t2; t0=$(cpu_ticks "$weir_pid")
    "$WEIR" bench --endpoint "$k" --stream cost --shards 4 --record-bytes 1024 --batch 500 \
        --concurrency 8 --duration "$DURATION" --warmup 2 --no-consumers --keep \
        "${encrypt[@]}" --label "$label" >"$RESULTS/encryption-$label.json" 2>/dev/null
    t1=$(cpu_ticks "$weir_pid")
    "$WEIR" bench --endpoint "$k" --stream cost --replay --label "$label-read" \
        >"$RESULTS/encryption-$label-read.json" 2>/dev/null
    t2=$(cpu_ticks "$weir_pid")
    echo "{\"write_cpu_s\": $(( t1 - t0 ))e-2, \"read_cpu_s\": $(( t2 - t1 ))e-2}" \
        >"$RESULTS/encryption-$label-cpu.json"
    kill "$weir_pid"; wait "$weir_pid" 2>/dev/null || true
    sync; sleep 3
}

# A disk probe in the same run: fsync'd 1 MiB writes, for comparing machines.
dd if=/dev/zero of="$RESULTS/.probe" bs=1M count=256 oflag=dsync 2>&1 | tail -1 \
    > "$RESULTS/encryption-disk-probe.txt"; rm -f "$RESULTS/.probe"

for round in 1 2; do
    run "plain-$round" plain
    run "encrypted-$round" encrypted
done

python3 - "$RESULTS" <<'PY' | tee "$RESULTS/encryption-cost.md"
import json, sys, statistics
from pathlib import Path
results = Path(sys.argv[1])
def load(label):
    w = json.loads((results / f"encryption-{label}.json").read_text())
    rd = json.loads((results / f"encryption-{label}-read.json").read_text())
    cpu = json.loads((results / f"encryption-{label}-cpu.json").read_text())
    return w, rd, cpu
labels = [f"{m}-{r}" for r in (1, 2) for m in ("plain", "encrypted")]
rows = {l: load(l) for l in labels}
base = statistics.mean(rows[f"plain-{r}"][0]["records_per_s"] for r in (1, 2))
print("| run | write records/s | vs plain mean | put p50 / p99 ms | server CPU s per GB written | read MiB/s | server CPU s per GB read |")
print("|---|---:|---:|---:|---:|---:|---:|")
for label, (w, rd, cpu) in rows.items():
    # Everything written (warm-up included, as the CPU reading is) is read back once.
    gb_w = gb_r = rd["records"] * 1024 / 1e9
    lat = w["put_latency_ms"]
    print(f"| {label} | {w['records_per_s']:.0f} | {w['records_per_s'] / base:.3f} | "
          f"{lat['p50']:.2f} / {lat['p99']:.2f} | {cpu['write_cpu_s'] / gb_w:.1f} | "
          f"{rd['mib_per_second']:.0f} | {cpu['read_cpu_s'] / gb_r:.1f} |")
enc = statistics.mean(rows[f"encrypted-{r}"][0]["records_per_s"] for r in (1, 2))
print(f"\nencryption: {100 * (1 - enc / base):+.1f} % write throughput cost (mean of two runs against the plain mean)")
print("disk probe (dd 256 MiB, oflag=dsync):", (results / "encryption-disk-probe.txt").read_text().strip())
PY
