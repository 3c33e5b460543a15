#!/usr/bin/env bash
# Cold tier benchmark: write throughput with and without tiering, and replay (read from
# TRIM_HORIZON to the tip) when the history is on local disk vs in the cold tier.
#
#   cargo build --release -p weir && bash scripts/bench-tiering.sh [seconds] [tier]
#
# tier: `local` (default; a folder, the embedded default) or `s3` (starts moto's server
# from .venv-tests; run `bash tests/run.sh` once to create it).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$REPO/target/release/weir"
SECONDS_PER_RUN="${1:-15}"
TIER="${2:-local}"
WORK="$(mktemp -d)"
SEGMENT=$((8 * 1024 * 1024))
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
[ -x "$BIN" ] || { echo "build first: cargo build --release -p weir" >&2; exit 1; }

start_weir() { # $1: name, rest: extra flags; sets KINESIS and PID
  local dir="$WORK/$1"; shift
  mkdir -p "$dir"
  "$BIN" up --data-dir "$dir" --kinesis-addr 127.0.0.1:0 --rest-addr 127.0.0.1:0 \
    --segment-bytes "$SEGMENT" "$@" >"$dir/out.log" 2>"$dir/err.log" &
  PID=$!
  for _ in $(seq 200); do
    KINESIS=$(sed -n 's/^Kinesis endpoint: //p' "$dir/out.log")
    grep -q '^Ready\.' "$dir/out.log" && [ -n "$KINESIS" ] && return 0
    sleep 0.1
  done
  echo "weir did not start: $(cat "$dir/err.log")" >&2; exit 1
}

bench() { "$BIN" bench --endpoint "$KINESIS" --duration "$SECONDS_PER_RUN" --shards 4 \
  --record-bytes 1024 --no-consumers --keep "$@" 2>/dev/null \
  | python3 -c 'import json,sys; t=sys.stdin.read(); print(json.dumps(json.loads(t[t.index("{"):])))'; }

wait_uploaded() { # until the node reports no pending uploads
  for _ in $(seq 600); do
    pending=$(curl -s "$KINESIS/tier/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_upload_bytes"])')
    [ "$pending" = 0 ] && return 0
    sleep 0.5
  done
  echo "uploads did not drain" >&2; exit 1
}

TIER_FLAGS=(--tier local --tier-dir "$WORK/cold")
if [ "$TIER" = s3 ]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$REPO/.venv-tests/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
  sleep 3
  "$REPO/.venv-tests/bin/python" -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$PORT', region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t').create_bucket(Bucket='bench')"
  TIER_FLAGS=(--tier s3 --s3-endpoint "http://127.0.0.1:$PORT" --s3-bucket bench --s3-path-style
              --s3-access-key-id t --s3-secret-access-key t)
fi

echo "# machine: $(nproc) cores, $(uname -sr); ${SECONDS_PER_RUN}s per write run; 1 KiB records; 4 shards; cold tier: $TIER"
start_weir off --tier off
echo "write, no tiering:     $(bench --label write-no-tiering)"
echo "replay, local disk:    $(bench --replay --label replay-hot)"
kill "$PID"; wait "$PID" || true

start_weir on "${TIER_FLAGS[@]}" --local-retention-bytes "$SEGMENT" --tier-interval-ms 200
echo "write, tiering on:     $(bench --label write-tiering)"
wait_uploaded
sleep 1
echo "replay, cold tier:     $(bench --replay --label replay-cold)"
echo "replay, cold again:    $(bench --replay --label replay-cold-again)"
kill "$PID"; wait "$PID" || true
