#!/usr/bin/env bash
# The one test command:  bash tests/run.sh
#
# Prepares what the suites need (a Python venv in .venv-tests, the JS test packages,
# Postgres on 127.0.0.1:5432), then runs, in order, stopping at the first failure:
#   cargo fmt --check, cargo clippy -D warnings, cargo build, cargo test,
#   pytest tests/python, node --test tests/js
# Idempotent: re-running reuses the venv, node_modules and a running Postgres.
# Works non-interactively (CI=true, no stdin). Needs root or passwordless sudo only when
# it must install system packages (python3-venv, nodejs, chromium, postgresql).
#
# Environment:
#   WEIR_TEST_POSTGRES_URL  kept if set (then no local Postgres is set up);
#                           default postgres://postgres@127.0.0.1:5432/postgres
#   WEIR_BIN                binary for the end-to-end suites (default target/debug/weir)
#   WEIR_SHARD_LIMITS       per-shard limits of the servers the suites start (default off)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

export DEBIAN_FRONTEND=noninteractive
# Most suites write bursts far beyond Kinesis's per-shard limits to test other things;
# the servers they start run unthrottled. The throttling tests pass --shard-limits
# themselves, which overrides this.
export WEIR_SHARD_LIMITS="${WEIR_SHARD_LIMITS:-off}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# A test run builds from scratch: incremental caches would only add gigabytes to target/.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
VENV="$REPO/.venv-tests"
JS_DIR="$REPO/tests/js"
PG_DEFAULT_URL="postgres://postgres@127.0.0.1:5432/postgres"

STEPS=(
  "python-env|Python test environment (.venv-tests)"
  "js-env|JavaScript test dependencies and Chromium (tests/js)"
  "postgres|Postgres for the metadata-store tests"
  "fmt|cargo fmt --all -- --check"
  "clippy|cargo clippy --workspace --all-targets -- -D warnings"
  "build|cargo build --workspace"
  "cargo-test|cargo test --workspace"
  "pytest|pytest tests/python -q"
  "node-test|node --test tests/js/"
)

log() { printf '%s\n' "$*"; }
warn() { printf 'run.sh: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    warn "need root (or passwordless sudo) to run: $*"
    return 1
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || { warn "apt-get not found; install $* yourself"; return 1; }
  if [ "$APT_UPDATED" = 0 ]; then
    as_root apt-get update -q || return 1
    APT_UPDATED=1
  fi
  as_root apt-get install -y -q --no-install-recommends "$@" </dev/null
}

file_hash() { cat "$@" | sha256sum | cut -d' ' -f1; }

# The venv's packages import and its aws CLI runs (a venv can lose files underneath its
# install stamp, e.g. when a checkout removes them).
venv_complete() {
  "$VENV/bin/python" -c 'import boto3, botocore, cbor2, pytest, requests, moto' >/dev/null 2>&1 \
    && [ -x "$VENV/bin/aws" ]
}

# ---- step: Python venv --------------------------------------------------------------------
step_python_env() {
  if ! command -v python3 >/dev/null 2>&1; then
    apt_install python3 python3-venv || return 1
  fi
  if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "existing $VENV is broken (Python moved?); recreating it"
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV"; then
      rm -rf "$VENV"
      log "python3 -m venv failed; installing python3-venv"
      apt_install python3-venv || return 1
      python3 -m venv "$VENV" || return 1
    fi
  fi
  local stamp="$VENV/.weir-requirements.sha256"
  local want
  want="$(file_hash tests/python/requirements.txt)-$("$VENV/bin/python" -V 2>&1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && venv_complete; then
    log "requirements already installed in $VENV"
  else
    if [ -f "$stamp" ] && ! venv_complete; then
      log "$VENV is incomplete; recreating it"
      rm -rf "$VENV"
      python3 -m venv "$VENV" || return 1
    fi
    "$VENV/bin/python" -m pip install -q --upgrade pip || return 1
    "$VENV/bin/python" -m pip install -q -r tests/python/requirements.txt || return 1
    printf '%s' "$want" >"$stamp"
  fi
  "$VENV/bin/python" -c 'import boto3, botocore, cbor2, pytest, requests, moto' || return 1
  [ -x "$VENV/bin/aws" ] || { warn "aws CLI missing from $VENV"; return 1; }
  log "$("$VENV/bin/python" -V), boto3 $("$VENV/bin/python" -c 'import boto3; print(boto3.__version__)'), $("$VENV/bin/aws" --version 2>&1)"
}

# ---- step: JS packages ----------------------------------------------------------------------
step_js_env() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm || return 1
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 18 ]; then
    warn "node $(node -v) is too old: node --test needs Node.js 18 or newer"
    return 1
  fi
  local stamp="$JS_DIR/node_modules/.weir-stamp"
  local want
  want="$(file_hash "$JS_DIR/package.json" "$JS_DIR/package-lock.json")-$(node -v)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "tests/js/node_modules is up to date"
  else
    (cd "$JS_DIR" && npm ci --no-audit --no-fund) ||
      (cd "$JS_DIR" && npm install --no-audit --no-fund) || return 1
    printf '%s' "$want" >"$stamp"
  fi
  # The console's browser test drives Debian's Chromium (never a browser downloaded by
  # playwright).
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium || return 1
  fi
  log "node $(node -v), npm $(npm -v), $(/usr/bin/chromium --version 2>/dev/null | head -1)"
}

# ---- step: Postgres -------------------------------------------------------------------------
pg_reachable() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | head -1; }

pg_allow_trust() {
  # Let local connections in without a password (test clusters only).
  local ver="$1"
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  [ -f "$hba" ] || { warn "no $hba to configure"; return 1; }
  if ! grep -q 'added by weir tests/run.sh' "$hba"; then
    log "allowing trust auth for local connections in $hba"
    local tmp
    tmp="$(mktemp)"
    {
      echo "# added by weir tests/run.sh: trust local connections (test cluster)"
      echo "local   all   all                 trust"
      echo "host    all   all   127.0.0.1/32  trust"
      echo "host    all   all   ::1/128       trust"
      as_root cat "$hba"
    } >"$tmp" || return 1
    as_root cp "$tmp" "$hba" || return 1
    rm -f "$tmp"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || return 1
  sleep 1
}

pg_can_login() {
  command -v psql >/dev/null 2>&1 || return 0  # cannot check; the cargo tests will tell
  psql "$WEIR_TEST_POSTGRES_URL" -qtAc 'select 1' </dev/null >/dev/null 2>&1
}

step_postgres() {
  if [ -n "${WEIR_TEST_POSTGRES_URL:-}" ]; then
    log "using WEIR_TEST_POSTGRES_URL from the environment (no local Postgres setup)"
    return 0
  fi
  export WEIR_TEST_POSTGRES_URL="$PG_DEFAULT_URL"
  local installed_now=0 ver
  if ! pg_reachable; then
    ver="$(pg_version)"
    if [ -z "$ver" ]; then
      log "Postgres is not installed; installing it"
      apt_install postgresql postgresql-client || return 1
      installed_now=1
      ver="$(pg_version)"
      [ -n "$ver" ] || { warn "postgresql installed but /etc/postgresql is empty"; return 1; }
    fi
    if [ ! -d "/etc/postgresql/$ver/main" ]; then
      as_root pg_createcluster "$ver" main || return 1
    fi
    log "starting Postgres $ver/main"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start ||
      log "(pg_ctlcluster start returned non-zero; it may already be running)"
    local i
    for i in $(seq 1 60); do
      pg_reachable && break
      sleep 0.5
    done
    pg_reachable || { warn "Postgres did not come up on 127.0.0.1:5432"; return 1; }
    if [ "$installed_now" = 1 ]; then
      pg_allow_trust "$ver" || return 1
    fi
  fi
  if ! pg_can_login; then
    ver="$(pg_version)"
    if [ -n "$ver" ] && [ -f "/etc/postgresql/$ver/main/pg_hba.conf" ]; then
      pg_allow_trust "$ver" || return 1
    fi
    pg_can_login || {
      warn "cannot log in with $WEIR_TEST_POSTGRES_URL; set WEIR_TEST_POSTGRES_URL"
      return 1
    }
  fi
  log "Postgres reachable: $WEIR_TEST_POSTGRES_URL"
}

# ---- cargo steps ----------------------------------------------------------------------------
need_cargo() {
  command -v cargo >/dev/null 2>&1 || {
    warn "cargo not found: install Rust from https://rustup.rs"
    return 1
  }
}

need_component() {
  # $1: cargo subcommand (fmt, clippy); $2: rustup component
  if ! cargo "$1" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
      rustup component add "$2" || return 1
    else
      warn "cargo $1 is not installed (rustup component add $2)"
      return 1
    fi
  fi
}

step_fmt() { need_cargo && need_component fmt rustfmt && cargo fmt --all -- --check; }
step_clippy() {
  need_cargo && need_component clippy clippy &&
    cargo clippy --workspace --all-targets -- -D warnings
}
# Linkers die with SIGBUS, not a clear error, when the disk fills mid-link: say so first.
# A whole run grows target/ to about 3.3 GiB (clippy's part is already there by now).
check_disk() {
  local dir="${CARGO_TARGET_DIR:-$REPO/target}" free_kb
  mkdir -p "$dir"
  free_kb=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
  [ -n "$free_kb" ] || return 0
  if [ "$free_kb" -lt $((1024 * 1024)) ]; then
    warn "only $((free_kb / 1024)) MiB free under $dir: too little to link the test binaries"
    warn "free space (for example: cargo clean in other checkouts) and run again"
    return 1
  fi
  if [ "$free_kb" -lt $((4 * 1024 * 1024)) ]; then
    warn "only $((free_kb / 1024)) MiB free under $dir; the build and tests may need up to 3 GiB more."
    warn "if a linker then dies with a bus error (SIGBUS), the disk filled up"
  fi
}
step_build() { need_cargo && check_disk && cargo build --workspace; }
step_cargo_test() { need_cargo && cargo test --workspace; }

step_pytest() {
  PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pytest tests/python -q
}

step_node_test() {
  # The shell expands the file list, which every Node.js >= 18 accepts (newer releases
  # read bare directory arguments as glob patterns).
  node --test "$JS_DIR"/*.test.mjs
}

# ---- driver ---------------------------------------------------------------------------------
PASSED=0
TOTAL=${#STEPS[@]}
START_ALL=$SECONDS
n=0
for entry in "${STEPS[@]}"; do
  n=$((n + 1))
  id="${entry%%|*}"
  title="${entry#*|}"
  fn="step_${id//-/_}"
  printf '\n==================== [%d/%d] %s ====================\n' "$n" "$TOTAL" "$title"
  started=$SECONDS
  # Run in a subshell outside any `if`, so `set -e` inside the step still applies;
  # exported variables the step sets (WEIR_TEST_POSTGRES_URL) are re-derived below.
  set +e
  (set -e; "$fn")
  rc=$?
  set -e
  if [ "$id" = postgres ] && [ -z "${WEIR_TEST_POSTGRES_URL:-}" ]; then
    export WEIR_TEST_POSTGRES_URL="$PG_DEFAULT_URL"
  fi
  if [ "$rc" -ne 0 ]; then
    printf '\n---- FAILED: %s (exit %d, %ds) ----\n' "$title" "$rc" "$((SECONDS - started))"
    printf '%d passed, 1 failed\n' "$PASSED"
    exit 1
  fi
  PASSED=$((PASSED + 1))
  printf -- '---- ok: %s (%ds) ----\n' "$title" "$((SECONDS - started))"
done
printf '\nAll steps passed in %ds.\n' "$((SECONDS - START_ALL))"
printf '%d passed, 0 failed\n' "$PASSED"
