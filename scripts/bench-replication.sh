#!/usr/bin/env bash
# What replication costs, measured in one run on one machine:
#   1. `weir up`                                (one node inside the control plane, no replicas)
#   2. `weir up --nodes 3 --replication-factor 1` (three node processes, one copy per shard)
#   3. `weir up --nodes 3 --replication-factor 3` (three node processes, every write fsynced
#                                                  on two of three before it is acknowledged)
# Each gets the same PutRecords load (`weir bench --no-consumers`: 1 KiB records, batches of
# 500, 4 shards, 8 producers) twice: as fast as it goes (peak), then paced at one common rate
# (half of the lowest peak) to compare put latency at equal load. For the peak run
# the script also reads the CPU time of every server process (control plane and nodes,
# from /proc) before and after, and reports server CPU seconds per GB ingested. A disk
# probe (dd with O_DSYNC, 4 KiB writes) runs first and last, since on these VMs the disk's
# flush latency moves from minute to minute. Every server runs with --tier off (the cold
# tier has its own benchmark) and on a fresh folder under target/bench-work/.
#
#   cargo build --release -p weir        # once; this script builds nothing
#   bash scripts/bench-replication.sh
#
# Knobs: BENCH_DURATION (seconds per run, default 15), BENCH_WARMUP (default 2),
# BENCH_SETTLE (seconds of quiet after each run, after a sync, default 3), WEIR_BIN.
# Results: target/bench-results/replication-*.json and a markdown table on stdout (also in
# target/bench-results/replication.md).
set -euo pipefail
# Benchmarks measure the engine, not Kinesis's per-shard quotas: run unthrottled.
export WEIR_SHARD_LIMITS=off
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WEIR=${WEIR_BIN:-$ROOT/target/release/weir}
DURATION=${BENCH_DURATION:-15}
WARMUP=${BENCH_WARMUP:-2}
SETTLE=${BENCH_SETTLE:-3}
RESULTS=$ROOT/target/bench-results
WORK=$ROOT/target/bench-work/replication
[[ -x $WEIR ]] || { echo "missing $WEIR: cargo build --release -p weir" >&2; exit 1; }
mkdir -p "$RESULTS"
rm -rf "$WORK"
mkdir -p "$WORK"

SERVER_PID=""
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

disk_probe() { # fsynced 4 KiB writes per second on the data disk
    local out
    out=$(dd if=/dev/zero of="$WORK/probe" bs=4k count=400 oflag=dsync 2>&1 | tail -n1)
    rm -f "$WORK/probe"
    awk -v n=400 '{for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) secs = $(i-1)} END {printf "%.0f", n / secs}' <<<"$out"
}

# Sum of utime+stime (seconds) of a process and all its descendants.
tree_cpu() {
    python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1])
tick = os.sysconf("SC_CLK_TCK")
kids, cpu = {}, {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    rest = stat[stat.rfind(")") + 2:].split()
    kids.setdefault(int(rest[1]), []).append(int(pid))
    cpu[int(pid)] = (int(rest[11]) + int(rest[12])) / tick
total, todo = 0.0, [root]
while todo:
    p = todo.pop()
    total += cpu.get(p, 0.0)
    todo += kids.get(p, [])
print(f"{total:.3f}")
PY
}

start_server() { # start_server NAME FLAGS... ; sets SERVER_PID and ENDPOINT
    local name=$1
    shift
    local log="$WORK/$name.log"
    "$WEIR" up --data-dir "$WORK/$name" --kinesis-addr 127.0.0.1:0 --rest-addr 127.0.0.1:0 \
        --tier off "$@" >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if grep -q '^Ready\.' "$log"; then
            ENDPOINT=$(sed -n 's/^Kinesis endpoint: *//p' "$log" | head -n1)
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    echo "$name did not start" >&2
    exit 1
}

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    sync
    sleep "$SETTLE"
}

bench() { # bench LABEL OUT [extra weir bench flags]
    local label=$1 out=$2
    shift 2
    "$WEIR" bench --endpoint "$ENDPOINT" --duration "$DURATION" --warmup "$WARMUP" \
        --no-consumers --shards 4 --record-bytes 1024 --batch 500 --concurrency 8 \
        --stream "bench-$label" --label "$label" "$@" 2>/dev/null >"$out"
}

PROBE_START=$(disk_probe)
CONFIGS=("single|" "rf1|--nodes 3 --replication-factor 1" "rf3|--nodes 3 --replication-factor 3")
run_config() { # run_config CONFIG KIND [bench flags]
    local name=${1%%|*} kind=$2
    read -r -a flags <<<"${1#*|}"
    shift 2
    printf '==> %s (%s): weir up %s\n' "$name" "$kind" "${flags[*]}" >&2
    start_server "$name-$kind" "${flags[@]}"
    # Let a cluster place its shards before the clock starts.
    sleep 2
    local before after
    before=$(tree_cpu "$SERVER_PID")
    bench "$name-$kind" "$RESULTS/replication-$name-$kind.json" "$@"
    after=$(tree_cpu "$SERVER_PID")
    python3 - "$RESULTS/replication-$name-$kind.json" "$before" "$after" <<'PY'
import json, sys
path, before, after = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
s = json.load(open(path))
cpu = after - before
gb = s["records"] * s["record_bytes"] / 1e9
s["server_cpu_s"] = cpu
s["server_cpu_s_per_gb"] = cpu / gb if gb else None
json.dump(s, open(path, "w"))
PY
    stop_server
}
# Peaks first; then every configuration paced at half of the lowest peak, a rate all of
# them sustain, so their latencies compare at equal load.
for config in "${CONFIGS[@]}"; do
    run_config "$config" peak
done
HALF=$(python3 -c "
import json
print(int(min(json.load(open('$RESULTS/replication-' + n + '-peak.json'))['records_per_s']
              for n in ('single', 'rf1', 'rf3')) / 2))")
for config in "${CONFIGS[@]}"; do
    run_config "$config" paced --rate "$HALF"
done
PROBE_END=$(disk_probe)

python3 - "$RESULTS" "$HALF" "$PROBE_START" "$PROBE_END" <<'PY' | tee "$RESULTS/replication.md"
import json, sys
results, half, p0, p1 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = [("single", "`weir up` (1 node, no replicas)"),
        ("rf1", "`weir up --nodes 3`, replication factor 1"),
        ("rf3", "`weir up --nodes 3`, replication factor 3")]
load = lambda n, k: json.load(open(f"{results}/replication-{n}-{k}.json"))
base = load("single", "peak")["records_per_s"]
print(f"Disk probe (fsynced 4 KiB writes/s): {p0} before, {p1} after. Paced runs: {half} records/s.\n")
print("| configuration | peak records/s | vs 1 node | MB/s | put p50 / p99 ms at peak | server CPU s per GB | put p50 / p99 ms at the paced rate | errors |")
print("|---|---|---|---|---|---|---|---|")
for key, label in rows:
    peak, paced = load(key, "peak"), load(key, "paced")
    pl, ql = peak["put_latency_ms"], paced["put_latency_ms"]
    errors = peak["failed_records"] + peak["request_errors"] + paced["failed_records"] + paced["request_errors"]
    print(f"| {label} | {peak['records_per_s']:,.0f} | {peak['records_per_s'] / base:.2f}x | "
          f"{peak['mb_per_s']:.1f} | {pl['p50']:.1f} / {pl['p99']:.1f} | {peak['server_cpu_s_per_gb']:.1f} | "
          f"{ql['p50']:.1f} / {ql['p99']:.1f} | {errors} |")
PY
