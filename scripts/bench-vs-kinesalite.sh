#!/usr/bin/env bash
# Benchmark Weir against kinesalite (a Node.js Kinesis emulator) on this machine, in one run.
#
#   cargo build --release -p weir        # once; this script builds nothing
#   bash scripts/bench-vs-kinesalite.sh
#
# What it does:
#   1. installs kinesalite into target/bench-peers/ with npm (only if missing);
#   2. starts a fresh `weir up --tier off` on an empty data folder under target/bench-work/
#      (fsync on, the default; no cold tier, which section 3 of docs/BENCHMARKS.md measures), runs the peak-throughput load (PutRecords, 1 KiB records, batches of 500,
#      4 shards, 8 producers, 20 s), then the same load paced at half of the measured peak
#      to read put latency at half load; then the same two runs with PutRecords alone (no
#      consumers), the paced one at half of the puts-only peak; stops Weir;
#   3. starts kinesalite (in memory, its default; stream state delays 0 ms) and runs the same
#      peak load; if that run sees errors it retries with fewer producers (4, 2, 1);
#   4. writes every JSON summary to target/bench-results/ and prints a markdown report
#      (also written to target/bench-results/report.md).
# Both servers only listen on 127.0.0.1 and are stopped on exit, whatever happens.
#
# Requirements: bash, node + npm (npm registry reachable on first run), coreutils,
# util-linux (lscpu). Knobs (environment): BENCH_DURATION (seconds per run, default 20), BENCH_WARMUP
# (seconds of unmeasured load before each run, default 2), BENCH_SETTLE (seconds of quiet after
# each run, after a sync, default 5),
# WEIR_BIN (default target/release/weir), KINESALITE_SPEC (npm spec, default "kinesalite").
set -euo pipefail
# Benchmarks measure the engine, not Kinesis's per-shard quotas: run unthrottled.
export WEIR_SHARD_LIMITS=off

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

WEIR=${WEIR_BIN:-$ROOT/target/release/weir}
PEERS=$ROOT/target/bench-peers
RESULTS=$ROOT/target/bench-results
WORK=$ROOT/target/bench-work
DURATION=${BENCH_DURATION:-20}
# Seconds of load before each run starts measuring (new connections, the stream's first
# segment files); every run still reports its per-second p99 series.
WARMUP=${BENCH_WARMUP:-2}
# Seconds to let the disk settle after each run (after a `sync`): the previous run's stream
# is deleted and its dirty pages written back before the next run starts, instead of during it.
SETTLE=${BENCH_SETTLE:-5}
KINESALITE_SPEC=${KINESALITE_SPEC:-kinesalite}
# Fixed load shape (the point of the comparison; change them and the numbers mean something else).
SHARDS=4
RECORD_BYTES=1024
BATCH=500
CONCURRENCY=8

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
command -v node >/dev/null || die "node is not installed (apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm is not installed (apt-get install npm)"
if [[ ! -x $WEIR ]]; then
    die "$WEIR not found. Build it first with:  cargo build --release -p weir"
fi
if [[ -d $ROOT/services ]] && [[ -n $(find "$ROOT/services" -type f -newer "$WEIR" -print -quit) ]]; then
    printf 'warning: files under services/ are newer than %s; the numbers may not match the source.\n' \
        "$WEIR" >&2
    printf '         rebuild with: cargo build --release -p weir\n' >&2
fi

mkdir -p "$PEERS" "$RESULTS" "$WORK"

# ---------------------------------------------------------------- kinesalite install
KINESALITE_BIN=$PEERS/node_modules/.bin/kinesalite
KINESALITE_DIR=$PEERS/node_modules/kinesalite
kinesalite_loads() {
    [[ -x $KINESALITE_BIN ]] && node -e 'require(process.argv[1])' "$KINESALITE_DIR" 2>/dev/null
}
if ! kinesalite_loads; then
    log "installing kinesalite into $PEERS"
    installed=""
    # In-memory kinesalite does not need its optional native dependency (leveldown), so if the
    # plain install fails, retry without optional dependencies, then older releases.
    for attempt in "$KINESALITE_SPEC" "$KINESALITE_SPEC --omit=optional" \
        "kinesalite@3.3.1 --omit=optional" "kinesalite@3.2.0 --omit=optional"; do
        # shellcheck disable=SC2086  # $attempt is "spec [flags]" on purpose
        if npm install --no-save --prefix "$PEERS" $attempt >&2 && kinesalite_loads; then
            installed=$attempt
            break
        fi
        printf 'npm install %s did not give a working kinesalite; trying the next option\n' "$attempt" >&2
    done
    [[ -n $installed ]] || die "could not install kinesalite with npm (see the output above)"
    printf 'kinesalite installed with: npm install --no-save --prefix %s %s\n' "$PEERS" "$installed" >&2
fi
KINESALITE_VERSION=$(node -p 'require(process.argv[1] + "/package.json").version' "$KINESALITE_DIR")

# ---------------------------------------------------------------- servers and cleanup
SERVER_PID=""
SERVER_NAME=""
DATA_DIR=""
stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            printf 'warning: %s (pid %s) ignored SIGTERM for 10 s; sending SIGKILL\n' "$SERVER_NAME" "$SERVER_PID" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    SERVER_NAME=""
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_server
    if [[ -n $DATA_DIR && -d $DATA_DIR ]]; then rm -rf "$DATA_DIR"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for_line FILE REGEX: waits (30 s at most) until FILE has a line matching REGEX while the
# server is alive.
wait_for_line() {
    local file=$1 regex=$2
    for _ in $(seq 1 300); do
        if grep -Eq "$regex" "$file" 2>/dev/null; then return 0; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$file" >&2 || true
            die "$SERVER_NAME exited during startup (log above: $file)"
        fi
        sleep 0.1
    done
    cat "$file" >&2 || true
    die "$SERVER_NAME did not get ready within 30 s (log above: $file)"
}

COMMANDS=()
ENDPOINT=""

start_weir() {
    # Under target/ (the repository's disk), not /tmp, which can be a tmpfs where fsync is free.
    DATA_DIR=$(mktemp -d "$WORK/weir-data.XXXXXX")
    local logfile=$RESULTS/weir-server.log
    # The hot path alone: no cold tier (the embedded default copies every sealed segment to
    # a folder on the same disk; docs/BENCHMARKS.md section 3 measures that separately).
    # shellcheck disable=SC2206  # WEIR_UP_FLAGS is a list of flags on purpose
    local cmd=("$WEIR" up --data-dir "$DATA_DIR" --kinesis-addr 127.0.0.1:0 --rest-addr 127.0.0.1:0
        ${WEIR_UP_FLAGS:---tier off})
    COMMANDS+=("${cmd[*]/#$ROOT\//}")
    log "starting Weir: ${cmd[*]}"
    "${cmd[@]}" >"$logfile" 2>&1 &
    SERVER_PID=$!
    SERVER_NAME=weir
    wait_for_line "$logfile" '^Ready\.'
    ENDPOINT=$(sed -n 's/^Kinesis endpoint: *\(http[^ ]*\).*/\1/p' "$logfile" | head -n1)
    [[ -n $ENDPOINT ]] || die "could not read the Kinesis endpoint from $logfile"
    printf 'Weir ready at %s (data folder %s)\n' "$ENDPOINT" "$DATA_DIR" >&2
}

start_kinesalite() {
    local logfile=$RESULTS/kinesalite-server.log
    # Same as `kinesalite --port P --shardLimit 1000 --createStreamMs 0 --deleteStreamMs 0
    # --updateStreamMs 0` (its cli.js is `require('./index.js')(argv).listen(argv.port)`), except
    # that it listens on 127.0.0.1 only, on a free port the OS picks, instead of every interface.
    local launcher='
        const dir = process.argv[1];
        const argv = require(require.resolve("minimist", { paths: [dir] }))(process.argv.slice(2));
        const server = require(dir)(argv).listen(argv.port, "127.0.0.1", () => {
            const a = server.address();
            console.log("Listening at http://%s:%s", a.address, a.port);
        });
        process.on("SIGTERM", () => process.exit(0));'
    local args=(--port 0 --shardLimit 1000 --createStreamMs 0 --deleteStreamMs 0 --updateStreamMs 0)
    COMMANDS+=("node target/bench-peers/node_modules/kinesalite/cli.js ${args[*]}   (kinesalite $KINESALITE_VERSION, in memory, bound to 127.0.0.1 via an equivalent inline launcher)")
    log "starting kinesalite $KINESALITE_VERSION: ${args[*]}"
    node -e "$launcher" "$KINESALITE_DIR" "${args[@]}" >"$logfile" 2>&1 &
    SERVER_PID=$!
    SERVER_NAME=kinesalite
    wait_for_line "$logfile" '^Listening at http://'
    ENDPOINT=$(sed -n 's/^Listening at \(http[^ ]*\).*/\1/p' "$logfile" | head -n1)
    printf 'kinesalite ready at %s\n' "$ENDPOINT" >&2
}

# json_get FILE EXPR: evaluates a JS expression over the summary `s` of FILE.
json_get() {
    node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
             const v = eval(process.argv[2]); console.log(v === undefined ? "" : v);' "$1" "$2"
}

# CPU accounting, so that a busy machine shows in the report: ticks of the whole machine
# (busy, total) from /proc/stat, ticks of one process, and CPU seconds of reaped children.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
machine_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat; }
process_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Sets CHILDREN_SECONDS. `times` must run in this shell (not in a $(...) subshell, which would
# report its own, empty, children), hence the file.
children_seconds() {
    times >"$WORK/times.$$"
    CHILDREN_SECONDS=$(tail -n1 "$WORK/times.$$" |
        awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } print t }')
    rm -f "$WORK/times.$$"
}

RUN_LABELS=()
# run_bench LABEL CONCURRENCY RATE: one `weir bench` run against $ENDPOINT. Returns non-zero if the
# run failed outright (no JSON summary). The server must still be alive afterwards.
run_bench() {
    local label=$1 concurrency=$2 rate=$3 extra=${4:-}
    local out=$RESULTS/$label.json errlog=$RESULTS/$label.stderr.log
    rm -f "$out" "$errlog"
    local cmd=("$WEIR" bench --endpoint "$ENDPOINT" --stream "bench-$label" --shards "$SHARDS"
        --duration "$DURATION" --record-bytes "$RECORD_BYTES" --batch "$BATCH"
        --concurrency "$concurrency" --label "$label" --warmup "$WARMUP")
    if [[ $rate -gt 0 ]]; then cmd+=(--rate "$rate"); fi
    if [[ -n $extra ]]; then cmd+=("$extra"); fi
    COMMANDS+=("${cmd[*]/#$ROOT\//}")
    log "$label: ${cmd[*]}"
    RUN_LABELS+=("$label")
    local status=0 m0 m1 s0 s1 c0 c1 t0 t1
    m0=$(machine_ticks); s0=$(process_ticks "$SERVER_PID"); children_seconds; c0=$CHILDREN_SECONDS; t0=$(date +%s.%N)
    "${cmd[@]}" >"$out.tmp" 2> >(tee "$errlog" >&2) || status=$?
    m1=$(machine_ticks); s1=$(process_ticks "$SERVER_PID"); children_seconds; c1=$CHILDREN_SECONDS; t1=$(date +%s.%N)
    # Cores used on average over the run: by the server, by the load generator, by the machine.
    awk -v m0="$m0" -v m1="$m1" -v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" -v t0="$t0" \
        -v t1="$t1" -v hz="$CLK_TCK" -v ncpu="$(nproc)" 'BEGIN {
            split(m0, a, " "); split(m1, b, " "); wall = t1 - t0
            machine = (b[1] - a[1]) / (b[2] - a[2]) * ncpu
            server = (s1 - s0) / hz / wall; bench = (c1 - c0) / wall
            other = machine - server - bench; if (other < 0) other = 0
            printf "{\"server_cores\": %.2f, \"bench_cores\": %.2f, \"machine_busy_cores\": %.2f, \"other_cores\": %.2f}\n",
                server, bench, machine, other
        }' >"$RESULTS/$label.cpu.json"
    sleep 0.2 # let tee flush
    if [[ $status -ne 0 ]] || ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' "$out.tmp" 2>/dev/null; then
        printf 'run %s FAILED (exit status %s); its stderr is in %s\n' "$label" "$status" "$errlog" >&2
        rm -f "$out.tmp"
        status=1
    else
        mv "$out.tmp" "$out"
        printf '%s: %s records/s, put p99 %s ms, request errors %s, failed records %s\n' "$label" \
            "$(json_get "$out" 's.records_per_s.toFixed(0)')" "$(json_get "$out" 's.put_latency_ms.p99')" \
            "$(json_get "$out" 's.request_errors')" "$(json_get "$out" 's.failed_records')" >&2
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        printf '%s (pid %s) is no longer running after run %s!\n' "$SERVER_NAME" "$SERVER_PID" "$label" >&2
        return 2
    fi
    sync
    sleep "$SETTLE"
    return "$status"
}

# ---------------------------------------------------------------- machine
rm -f "$RESULTS"/*.json "$RESULTS"/*.log "$RESULTS"/*.tmp "$RESULTS"/report.md
STARTED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'load average now: %s (on %s CPUs); other work on this machine will skew the numbers\n' \
    "$LOAD_AT_START" "$(nproc)" >&2

# ---------------------------------------------------------------- Weir
start_weir
DISK_INFO=$(df -hT "$DATA_DIR" | awk 'NR==2 {print $1 " (" $2 "), " $3 " total, " $5 " free"}')
MOUNT_OPTS=$(findmnt -no OPTIONS --target "$DATA_DIR" 2>/dev/null || echo "?")
# A small synchronous-write probe: 200 x 4 KiB writes, each followed by an fsync (O_DSYNC).
FSYNC_PROBE=$(dd if=/dev/zero of="$DATA_DIR/fsync-probe" bs=4k count=200 oflag=dsync 2>&1 | tail -n1 || true)
rm -f "$DATA_DIR/fsync-probe"

WEIR_PEAK_OK=1
run_bench weir-peak "$CONCURRENCY" 0 || WEIR_PEAK_OK=0
HALF_RATE=0
if [[ $WEIR_PEAK_OK -eq 1 ]]; then
    HALF_RATE=$(json_get "$RESULTS/weir-peak.json" 'Math.floor(s.records_per_s / 2)')
fi
if [[ $HALF_RATE -gt 0 ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    run_bench weir-half-peak "$CONCURRENCY" "$HALF_RATE" || true
    # PutRecords alone (the issue's benchmark): its own peak, then half of that peak, paced,
    # for put latency without the CPU that GetRecords answers take on the shared cores.
    HALF_PUTS_RATE=0
    if run_bench weir-peak-puts-only "$CONCURRENCY" 0 --no-consumers; then
        HALF_PUTS_RATE=$(json_get "$RESULTS/weir-peak-puts-only.json" 'Math.floor(s.records_per_s / 2)')
    fi
    if [[ $HALF_PUTS_RATE -gt 0 ]]; then
        run_bench weir-half-peak-puts-only "$CONCURRENCY" "$HALF_PUTS_RATE" --no-consumers || true
    fi
else
    printf 'skipping the half-peak run: no usable Weir peak\n' >&2
fi
stop_server
rm -rf "$DATA_DIR"
DATA_DIR=""

# ---------------------------------------------------------------- kinesalite
start_kinesalite
for c in "$CONCURRENCY" 4 2 1; do
    label=kinesalite-c$c
    if run_bench "$label" "$c" 0; then
        errors=$(json_get "$RESULTS/$label.json" 's.request_errors + s.failed_records')
        [[ $errors -eq 0 ]] && break
        printf 'kinesalite had %s errors at concurrency %s; retrying with fewer producers\n' "$errors" "$c" >&2
    else
        kill -0 "$SERVER_PID" 2>/dev/null || { stop_server; start_kinesalite; }
    fi
done
# Peak without consumers too, so the ratio is also measured on PutRecords alone.
run_bench kinesalite-peak-puts-only "$CONCURRENCY" 0 --no-consumers || true
stop_server

# ---------------------------------------------------------------- report
MACHINE_CPU=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)
MACHINE_MEM=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
export NPROC_OUT=$(nproc) LOAD_AT_START MACHINE_CPU MACHINE_MEM DISK_INFO MOUNT_OPTS FSYNC_PROBE STARTED_AT \
    KINESALITE_VERSION DURATION RESULTS
export KERNEL=$(uname -sr)
export NODE_VERSION=$(node --version)
export WEIR_VERSION=$("$WEIR" --version 2>/dev/null || echo "weir (version unknown)")
GIT_REV="(not a git checkout)"
if command -v git >/dev/null && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD)
    git -C "$ROOT" diff --quiet HEAD -- services Cargo.toml Cargo.lock || GIT_REV+="+dirty"
fi
export GIT_REV
export RUN_LABELS_STR="${RUN_LABELS[*]}"
COMMANDS_STR=$(printf '%s\n' "${COMMANDS[@]}")
export COMMANDS_STR

node - >"$RESULTS/report.md" <<'EOF'
const fs = require("fs");
const env = process.env;
const dir = env.RESULTS;
const runs = env.RUN_LABELS_STR.split(" ").filter(Boolean).map((label) => {
  const file = `${dir}/${label}.json`;
  const cpuFile = `${dir}/${label}.cpu.json`;
  const cpu = fs.existsSync(cpuFile) ? JSON.parse(fs.readFileSync(cpuFile, "utf8")) : null;
  return fs.existsSync(file) ? { ...JSON.parse(fs.readFileSync(file, "utf8")), cpu } : { label, failed: true, cpu };
});
const f = (x, d = 1) => (typeof x === "number" ? x.toFixed(d) : "n/a");
const rows = runs.map((r) =>
  r.failed
    ? `| ${r.label} | FAILED (see ${r.label}.stderr.log) | | | | | | | | |`
    : `| ${r.label}${r.target_rate ? ` (--rate ${r.target_rate})` : ""} | ${r.concurrency} | ` +
      `${f(r.records_per_s, 0)} | ${f(r.mb_per_s, 2)} | ${f(r.put_latency_ms.p50, 2)} / ` +
      `${f(r.put_latency_ms.p99, 2)} / ${f(r.put_latency_ms.p999, 2)} | ${f(r.e2e_latency_ms.p50, 1)} / ` +
      `${f(r.e2e_latency_ms.p99, 1)} | ${r.request_errors} | ${r.failed_records} | ${r.records} / ${r.consumed} | ` +
      (r.cpu ? `${f(r.cpu.server_cores, 2)} / ${f(r.cpu.bench_cores, 2)} / ${f(r.cpu.other_cores, 2)}` : "n/a") + " |");
const ok = runs.filter((r) => !r.failed);
const weirPeak = ok.find((r) => r.label === "weir-peak");
const weirHalf = ok.find((r) => r.label === "weir-half-peak");
const kin = ok.filter((r) => r.label.startsWith("kinesalite") && !r.label.includes("puts-only"));
const kinBest = kin.reduce((a, b) => (!a || b.records_per_s > a.records_per_s ? b : a), null);
const verdict = [];
if (weirPeak && kinBest && kinBest.records_per_s > 0) {
  const ratio = weirPeak.records_per_s / kinBest.records_per_s;
  verdict.push(`- Throughput ratio Weir / kinesalite with consumers (weir-peak vs the best kinesalite run, ${kinBest.label}): ` +
    `**${ratio.toFixed(1)}×**. Target ≥ 20×: **${ratio >= 20 ? "MET" : "NOT MET"}**.`);
} else {
  verdict.push("- Throughput ratio: not computable (a peak run failed). Target ≥ 20×: **NOT MET** (no valid measurement).");
}
{
  const w = ok.find((r) => r.label === "weir-peak-puts-only");
  const k = ok.find((r) => r.label === "kinesalite-peak-puts-only");
  if (w && k && k.records_per_s > 0) {
    const ratio = w.records_per_s / k.records_per_s;
    verdict.push(`- Throughput ratio Weir / kinesalite, PutRecords alone (no consumers on either): ` +
      `**${ratio.toFixed(1)}×**. Target ≥ 20×: **${ratio >= 20 ? "MET" : "NOT MET"}**.`);
  }
}
for (const [run, what] of [[weirHalf, "with 4 consumers polling GetRecords on the same cores"],
                           [ok.find((r) => r.label === "weir-half-peak-puts-only"), "PutRecords alone, at half of the puts-only peak"]]) {
  if (!run) {
    verdict.push(`- Weir p99 put latency at half peak (${what}): no valid run. Target ≤ 10 ms: **NOT MET** (no valid measurement).`);
    continue;
  }
  const p99 = run.put_latency_ms.p99;
  const seconds = [...(run.put_p99_ms_by_second || [])].sort((a, b) => a - b);
  const spread = seconds.length
    ? ` Per-second p99: median ${f(seconds[Math.floor(seconds.length / 2)], 1)} ms, range ${f(seconds[0], 1)}–${f(seconds[seconds.length - 1], 1)} ms.`
    : "";
  verdict.push(`- Weir p99 put latency at half of its peak, ${what} (--rate ${run.target_rate}, achieved ` +
    `${run.records_per_s.toFixed(0)} records/s): **${p99.toFixed(2)} ms**. Target ≤ 10 ms: **${p99 <= 10 ? "MET" : "NOT MET"}**.${spread}`);
}
const out = [
  `## Results (${env.STARTED_AT}, Weir ${env.GIT_REV}, ${env.DURATION} s per run)`,
  "",
  "| run | producers | records/s | MB/s | put p50 / p99 / p999 ms | e2e p50 / p99 ms | request errors | failed records | records put / consumed | CPU cores: server / load generator / everything else |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ...rows,
  "",
  ...verdict,
  "",
  "## Machine",
  "",
  `- CPUs (nproc): ${env.NPROC_OUT}; CPU: ${env.MACHINE_CPU || "?"}`,
  `- Memory: ${env.MACHINE_MEM}`,
  `- Kernel: ${env.KERNEL}`,
  `- Disk of Weir's data folder: ${env.DISK_INFO}; mount options ${env.MOUNT_OPTS}`,
  `- fsync probe on that disk (dd bs=4k count=200 oflag=dsync): ${env.FSYNC_PROBE}`,
  `- ${env.WEIR_VERSION}; kinesalite ${env.KINESALITE_VERSION} on Node ${env.NODE_VERSION}`,
  `- Load average when the script started: ${env.LOAD_AT_START}`,
  "- Load generator (`weir bench`) and server share the machine. The last table column is the average",
  "  number of cores busy during each run (from /proc): the server, the load generator, and every other",
  "  process on the machine (anything well above 0 there means the numbers were taken on a busy machine).",
  "",
  "## Commands",
  "",
  "```",
  ...env.COMMANDS_STR.split("\n").filter(Boolean),
  "```",
  "",
];
process.stdout.write(out.join("\n"));
EOF

log "report (also in ${RESULTS#$ROOT/}/report.md)"
cat "$RESULTS/report.md"
