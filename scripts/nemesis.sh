#!/usr/bin/env bash
# Long nemesis runs for docs/RELIABILITY.md: ROUNDS runs of tests/python/nemesis.py, each a
# fresh 3-node cluster (separate processes) taking FAULTS faults drawn from kill -9 +
# restart, kill -9 + wiped disk, SIGSTOP past the lease, kill -9 of the control plane,
# under continuous load, then checked for lost, duplicated, reordered or rewritten
# acknowledged records. Each run has a random seed (printed: rerun one with
# `.venv-tests/bin/python tests/python/nemesis.py --seed S --faults N`).
#
#   scripts/nemesis.sh [ROUNDS=5] [FAULTS=8]
#
# Environment:
#   WEIR_BIN           binary under test (default target/debug/weir)
#   NEMESIS_SEEDS      space-separated seeds to use instead of random ones
#   NEMESIS_CP_ARGS    extra `weir control-plane` flags, one string (default: the
#                      replication flags its --help lists)
#   NEMESIS_NODE_ARGS  extra `weir data-plane` flags, one string
#   NEMESIS_SETTLE     seconds of healthy load after each fault (default 4)
# Prints a markdown table (one row per run) and a summary line; each run's full output is
# in target/nemesis-results/<time>/seed-S.log (with the processes' logs of failed runs).
# Exit status 1 when any run failed a check or could not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv-tests/bin/python"
ROUNDS=${1:-5}
FAULTS=${2:-8}
[[ -x $PY ]] || { echo "missing $PY: run bash tests/run.sh once (it creates the venv)" >&2; exit 1; }
BIN=${WEIR_BIN:-$ROOT/target/debug/weir}
[[ -x $BIN ]] || { echo "missing $BIN: cargo build -p weir, or set WEIR_BIN" >&2; exit 1; }
OUT="$ROOT/target/nemesis-results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
read -r -a SEEDS <<<"${NEMESIS_SEEDS:-}"

args=(--faults "$FAULTS" --settle "${NEMESIS_SETTLE:-4}")
[[ -n ${NEMESIS_CP_ARGS+x} ]] && args+=(--cp-args "$NEMESIS_CP_ARGS")
[[ -n ${NEMESIS_NODE_ARGS+x} ]] && args+=(--node-args "$NEMESIS_NODE_ARGS")

field() { # field KEY LINE -> value of KEY=value in a RESULT line (empty if absent)
    tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -n1
}

echo "nemesis: $ROUNDS runs x $FAULTS faults, binary $BIN, commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
echo
echo "| run | seed | result | faults | acked | not acked | missing | duplicates | conflicts | other violations | seconds |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
total_acked=0 total_failed=0 total_missing=0 total_dups=0 total_conflicts=0 total_faults=0
failed_seeds=() start=$SECONDS
for ((i = 1; i <= ROUNDS; i++)); do
    seed=${SEEDS[i - 1]:-$(( (RANDOM << 15 | RANDOM) % 1000000 + 1 ))}
    log="$OUT/seed-$seed.log"
    status=0
    "$PY" "$ROOT/tests/python/nemesis.py" --seed "$seed" "${args[@]}" \
        --dir "$OUT/seed-$seed" >"$log" 2>&1 || status=$?
    line=$(grep '^RESULT ' "$log" | tail -n1 || true)
    if [[ $status -eq 0 ]]; then
        rm -rf "$OUT/seed-$seed" # keep the processes' logs of failed runs only
    fi
    if [[ -z $line || $(field ok "$line") == error ]]; then
        echo "| $i | $seed | could not run (see $log) | | | | | | | | |"
        failed_seeds+=("$seed")
        continue
    fi
    ok=$(field ok "$line")
    [[ $ok == yes ]] || failed_seeds+=("$seed")
    other=$(( $(field misplaced "$line") + $(field reorders "$line") + $(field seq_violations "$line") \
        + $(field divergent "$line") + $(field unavailable "$line") ))
    echo "| $i | $seed | $([[ $ok == yes ]] && echo pass || echo FAIL) | $(field faults "$line") ($(field kinds "$line")) |" \
        "$(field acked "$line") | $(field failed "$line") | $(field missing "$line") | $(field duplicates "$line") |" \
        "$(field conflicts "$line") | $other | $(field duration "$line") |"
    total_faults=$((total_faults + $(field faults "$line")))
    total_acked=$((total_acked + $(field acked "$line")))
    total_failed=$((total_failed + $(field failed "$line")))
    total_missing=$((total_missing + $(field missing "$line")))
    total_dups=$((total_dups + $(field duplicates "$line")))
    total_conflicts=$((total_conflicts + $(field conflicts "$line")))
done
echo
echo "nemesis summary: $ROUNDS runs, $total_faults faults, $total_acked records acknowledged," \
    "$total_failed not acknowledged, $total_missing acknowledged records missing," \
    "$total_dups duplicated, $total_conflicts sequence-number conflicts;" \
    "$((ROUNDS - ${#failed_seeds[@]})) of $ROUNDS runs passed${failed_seeds[*]:+ (failed seeds: ${failed_seeds[*]})}" \
    "in $((SECONDS - start)) s; logs $OUT"
[[ ${#failed_seeds[@]} -eq 0 ]]
