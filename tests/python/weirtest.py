"""Helpers shared by the end-to-end tests: the `weir up` process wrapper, AWS clients,
raw wire calls, hash-key routing and shard readers.

Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "000000000000"
REGION = "us-east-1"
ACCESS_KEY = "AKIAWEIRTESTING00000"
SECRET_KEY = "weir-e2e-test-secret-key-not-a-real-one"
MAX_HASH_KEY = 2**128 - 1
JSON_CT = "application/x-amz-json-1.1"
CBOR_CT = "application/x-amz-cbor-1.1"
TARGET_PREFIX = "Kinesis_20131202."
# Every test cluster is started with this secret (WEIR_CLUSTER_SECRET), so tests can act
# as a node: requests between nodes carry a token made from it.
CLUSTER_SECRET = "weir-test-cluster-secret"
INTERNAL_HEADER = "x-weir-internal-auth"


def internal_token(secret: str = CLUSTER_SECRET, at: float | None = None) -> str:
    """`<unix seconds>.<hex HMAC-SHA256(secret, "weir-internal:" + seconds)>`, as nodes
    and the control plane authenticate to each other."""
    import hmac
    seconds = int(time.time() if at is None else at)
    tag = hmac.new(secret.encode(), f"weir-internal:{seconds}".encode(), hashlib.sha256)
    return f"{seconds}.{tag.hexdigest()}"

_KINESIS_RE = re.compile(r"^Kinesis endpoint:\s+(https?://\S+)\s*$")
_REST_RE = re.compile(r"^REST endpoint:\s+(https?://\S+)\s*$")
_KEY_ID_RE = re.compile(r"^Access key id:\s+(\S+)\s*$")
_SECRET_RE = re.compile(r"^Secret access key:\s+(\S+)\s*$")
_CA_RE = re.compile(r"^CA certificate:\s+(\S+)\s*$")
_READY_RE = re.compile(r"^Ready\.\s*$")


def weir_binary() -> Path:
    """The binary under test: $WEIR_BIN, else <repo>/target/debug/weir (honouring
    CARGO_TARGET_DIR)."""
    if os.environ.get("WEIR_BIN"):
        return Path(os.environ["WEIR_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    if not target.is_absolute():
        target = REPO_ROOT / target
    return target / "debug" / "weir"


class WeirStartError(AssertionError):
    pass


class WeirServer:
    """One `weir up` process tree on a data dir, restartable on the same dir.

    The process is started in its own session so that kill() can SIGKILL the whole
    tree (control plane and any data-plane child processes), like a machine crash.
    """

    def __init__(self, data_dir: Path, log_dir: Path, binary: Path | None = None,
                 extra_args: tuple[str, ...] = (), start_timeout: float = 60.0):
        self.binary = Path(binary or weir_binary())
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.kinesis_url: str | None = None
        self.rest_url: str | None = None
        self.starts = 0
        # With --auth: the bootstrap administrator's key, printed on the first start only.
        self.admin_key: tuple[str, str] | None = None
        # With --tls: the local CA certificate to trust.
        self.ca_cert: str | None = None
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._stdout_log: Path | None = None
        self._stderr_log: Path | None = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    # ---- lifecycle -------------------------------------------------------------------
    @property
    def argv(self) -> list[str]:
        return [str(self.binary), "up", "--data-dir", str(self.data_dir),
                "--kinesis-addr", "127.0.0.1:0", "--rest-addr", "127.0.0.1:0",
                *self.extra_args]

    def start(self) -> "WeirServer":
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("weir is already running")
        if not self.binary.exists():
            raise WeirStartError(
                f"weir binary not found at {self.binary}. Build it with "
                f"`cargo build -p weir` or point WEIR_BIN at it.")
        self.starts += 1
        self.kinesis_url = self.rest_url = None
        with self._lines_lock:
            self._lines = []
        self._stdout_log = self.log_dir / f"weir-{self.starts}.stdout.log"
        self._stderr_log = self.log_dir / f"weir-{self.starts}.stderr.log"
        stderr = open(self._stderr_log, "wb")
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=stderr, cwd=str(self.log_dir), start_new_session=True)
        finally:
            stderr.close()
        self._reader = threading.Thread(target=self._pump, args=(self.proc, self._stdout_log),
                                        daemon=True)
        self._reader.start()
        self._wait_ready()
        return self

    def _pump(self, proc: subprocess.Popen, log_path: Path) -> None:
        with open(log_path, "w", encoding="utf-8", errors="replace") as log:
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                log.write(line + "\n")
                log.flush()
                with self._lines_lock:
                    self._lines.append(line)
        proc.stdout.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        ready = False
        while time.monotonic() < deadline:
            with self._lines_lock:
                lines = list(self._lines)
            for line in lines:
                if (m := _KINESIS_RE.match(line)):
                    self.kinesis_url = m.group(1).rstrip("/")
                elif (m := _REST_RE.match(line)):
                    self.rest_url = m.group(1).rstrip("/")
                elif (m := _KEY_ID_RE.match(line)):
                    self._key_id = m.group(1)
                elif (m := _SECRET_RE.match(line)):
                    self.admin_key = (getattr(self, "_key_id", ""), m.group(1))
                elif (m := _CA_RE.match(line)):
                    self.ca_cert = m.group(1)
                elif _READY_RE.match(line):
                    ready = True
            if ready and self.kinesis_url and self.rest_url:
                return
            if self.proc.poll() is not None:
                self._reader.join(timeout=2)
                raise WeirStartError(
                    f"`{' '.join(self.argv)}` exited with status {self.proc.returncode} "
                    f"before it was ready.\n{self.output()}")
            time.sleep(0.05)
        problem = ("never printed `Ready.`" if not ready else
                   "printed `Ready.` but not both `Kinesis endpoint: http://...` and "
                   "`REST endpoint: http://...` lines")
        self._kill_group()
        raise WeirStartError(
            f"`{' '.join(self.argv)}` {problem} within {self.start_timeout:.0f} s.\n"
            f"{self.output()}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the main process and wait; returns its exit status, or None if it
        had to be SIGKILLed after `timeout` seconds."""
        return self._signal_and_wait(signal.SIGTERM, timeout)

    def interrupt(self, timeout: float = 20.0) -> int | None:
        """Like stop() but with SIGINT (Ctrl-C)."""
        return self._signal_and_wait(signal.SIGINT, timeout)

    def _signal_and_wait(self, sig: int, timeout: float) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                return None
        code = self.proc.returncode
        self._reap_group()
        return code

    def kill(self) -> None:
        """kill -9 the whole process tree: a crash, with no chance to flush."""
        self._kill_group()

    def restart(self) -> "WeirServer":
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self.start()

    def group_alive(self) -> bool:
        """Whether any (non-zombie) process of the server's process group is alive."""
        return self.proc is not None and _group_has_live_members(self.proc.pid)

    def _kill_group(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _reap_group(self) -> None:
        """After the leader exited, SIGKILL leftovers in its group (only ours)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._reader is not None:
            self._reader.join(timeout=5)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        self._reap_group()

    # ---- diagnostics -----------------------------------------------------------------
    def output(self, tail: int = 60) -> str:
        with self._lines_lock:
            out = list(self._lines)
        err = ""
        if self._stderr_log and self._stderr_log.exists():
            err = self._stderr_log.read_text(errors="replace")
        err_lines = err.splitlines()
        return ("--- weir stdout (last %d lines) ---\n%s\n--- weir stderr (last %d lines, "
                "full log %s) ---\n%s" % (
                    min(tail, len(out)), "\n".join(out[-tail:]), min(tail, len(err_lines)),
                    self._stderr_log, "\n".join(err_lines[-tail:])))

    def stdout_lines(self) -> list[str]:
        with self._lines_lock:
            return list(self._lines)

    # ---- clients ---------------------------------------------------------------------
    def client(self, **kwargs):
        if self.admin_key and "key" not in kwargs:
            kwargs["key"] = self.admin_key
        if self.ca_cert and "verify" not in kwargs:
            kwargs["verify"] = self.ca_cert
        return make_client(self.kinesis_url, **kwargs)

    def call(self, op: str, body, **kwargs) -> "WireResponse":
        return wire_call(self.kinesis_url, op, body, **kwargs)


def _group_has_live_members(pgid: int) -> bool:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        # Fields after the ")" that ends the command name: state ppid pgrp ...
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) >= 3 and int(rest[2]) == pgid and rest[0] != "Z":
            return True
    return False


def make_client(endpoint_url: str, *, validate: bool = True, max_attempts: int = 1,
                read_timeout: float = 30.0, key: tuple[str, str] | None = None,
                verify=None):
    """A boto3 Kinesis client for a Weir endpoint, us-east-1, with `key` (access key id,
    secret) or dummy credentials, trusting `verify` (a CA bundle path) for HTTPS.

    Retries are off by default so that a failure the server answers is seen by the test
    instead of being retried away.
    """
    key_id, secret = key or (ACCESS_KEY, SECRET_KEY)
    session = boto3.session.Session(aws_access_key_id=key_id,
                                    aws_secret_access_key=secret, region_name=REGION)
    config = Config(region_name=REGION, parameter_validation=validate,
                    retries={"mode": "standard", "total_max_attempts": max_attempts},
                    connect_timeout=5, read_timeout=read_timeout,
                    max_pool_connections=16)
    return session.client("kinesis", endpoint_url=endpoint_url, config=config, verify=verify)


# ---- raw wire calls ---------------------------------------------------------------------
@dataclass
class WireResponse:
    status: int
    headers: dict
    raw: bytes
    body: object  # decoded JSON/CBOR, or None when undecodable

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def error_type(self) -> str | None:
        if not isinstance(self.body, dict):
            return None
        t = self.body.get("__type")
        return t.split("#")[-1] if isinstance(t, str) else None

    @property
    def message(self) -> str | None:
        if not isinstance(self.body, dict):
            return None
        m = self.body.get("message", self.body.get("Message"))
        return m

    def describe(self) -> str:
        return (f"HTTP {self.status} content-type={self.content_type!r} "
                f"body={self.raw[:2000]!r}")


class EpochMillis(int):
    """A CBOR timestamp as AWS sends it: tag 1 (epoch time) wrapping milliseconds.
    cbor2 would read tag 1 as seconds and fail on milliseconds; this keeps the number
    and records that it came tagged."""


def cbor_loads(raw: bytes):
    import cbor2
    return cbor2.loads(raw, semantic_decoders={1: lambda value, _immutable: EpochMillis(value)})


def wire_call(url: str, op: str, body, *, cbor: bool = False, raw: bytes | None = None,
              target: str | None = None, content_type: str | None = None,
              timeout: float = 30.0, headers: dict | None = None) -> WireResponse:
    """POST one Kinesis operation. `body` is encoded as JSON (or CBOR with cbor=True)
    unless `raw` bytes are given. `headers` are added to (or override) the defaults."""
    if raw is None:
        if cbor:
            import cbor2
            raw = cbor2.dumps(body)
        else:
            raw = json.dumps(body).encode()
    extra_headers = headers or {}
    headers = {
        "X-Amz-Target": target if target is not None else TARGET_PREFIX + op,
        "Content-Type": content_type or (CBOR_CT if cbor else JSON_CT),
        "Accept": CBOR_CT if cbor else JSON_CT,
        "Authorization": (f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20240101/{REGION}/"
                          "kinesis/aws4_request, SignedHeaders=host;x-amz-date, "
                          "Signature=" + "0" * 64),
        "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
    }
    headers.update(extra_headers)
    r = requests.post(url + "/", data=raw, headers=headers, timeout=timeout)
    ct = r.headers.get("content-type", "")
    decoded = None
    try:
        if "cbor" in ct:
            decoded = cbor_loads(r.content)
        elif r.content:
            decoded = json.loads(r.content)
    except Exception:
        decoded = None
    return WireResponse(r.status_code, {k.lower(): v for k, v in r.headers.items()},
                        r.content, decoded)


# ---- naming, hashing, shards --------------------------------------------------------------
def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def hash_ranges(shards: list[dict]) -> list[tuple[int, int, str]]:
    return sorted((int(s["HashKeyRange"]["StartingHashKey"]),
                   int(s["HashKeyRange"]["EndingHashKey"]), s["ShardId"]) for s in shards)


def shard_for_hash(shards: list[dict], hk: int) -> str:
    owners = [sid for lo, hi, sid in hash_ranges(shards) if lo <= hk <= hi]
    assert len(owners) == 1, f"hash key {hk} owned by {owners} in {hash_ranges(shards)}"
    return owners[0]


def partition_key_for_shard(shards: list[dict], shard_id: str, prefix: str) -> str:
    """The first `prefix-N` partition key whose MD5 lands in `shard_id`."""
    for n in range(100_000):
        pk = f"{prefix}-{n}"
        if shard_for_hash(shards, hash_key(pk)) == shard_id:
            return pk
    raise AssertionError(f"no partition key found for {shard_id}")


def create_stream(client, name: str, shards: int) -> list[dict]:
    """CreateStream, wait ACTIVE, return the shards (ListShards, all pages)."""
    client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return list_all_shards(client, name)


def list_all_shards(client, name: str, deadline_s: float = 30.0) -> list[dict]:
    shards, token = [], None
    deadline = time.monotonic() + deadline_s
    while True:
        assert time.monotonic() < deadline, "ListShards pagination did not finish"
        resp = (client.list_shards(NextToken=token) if token
                else client.list_shards(StreamName=name))
        shards.extend(resp["Shards"])
        token = resp.get("NextToken")
        if not token:
            return shards


def is_throttle(err: ClientError) -> bool:
    return err.response["Error"]["Code"] in (
        "ProvisionedThroughputExceededException", "LimitExceededException")


def read_iterator(client, iterator: str, *, deadline_s: float = 60.0,
                  stop_when_caught_up: bool = True, **get_records_kwargs):
    """Follow NextShardIterator from `iterator` until caught up (empty Records and
    MillisBehindLatest == 0) or the shard's end. Returns (records, last_iterator).
    Throttling answers are waited out, bounded by the deadline."""
    records = []
    deadline = time.monotonic() + deadline_s
    while iterator:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"reader did not catch up within {deadline_s} s ({len(records)} records "
                f"so far)")
        try:
            resp = client.get_records(ShardIterator=iterator, **get_records_kwargs)
        except ClientError as e:
            if is_throttle(e):
                time.sleep(0.25)
                continue
            raise
        records.extend(resp["Records"])
        nxt = resp.get("NextShardIterator")
        if stop_when_caught_up and not resp["Records"] and resp.get("MillisBehindLatest") == 0:
            return records, nxt
        iterator = nxt
    return records, None


def read_shard(client, stream: str, shard_id: str, iterator_type: str = "TRIM_HORIZON",
               deadline_s: float = 60.0, **iterator_kwargs):
    """All records of one shard from the given position until caught up."""
    it = client.get_shard_iterator(StreamName=stream, ShardId=shard_id,
                                   ShardIteratorType=iterator_type,
                                   **iterator_kwargs)["ShardIterator"]
    records, _ = read_iterator(client, it, deadline_s=deadline_s)
    return records


def read_stream(client, stream: str, deadline_s: float = 120.0) -> dict[str, list]:
    return {s["ShardId"]: read_shard(client, stream, s["ShardId"], deadline_s=deadline_s)
            for s in list_all_shards(client, stream)}


def error_of(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err.get("Code"), err.get("Message")


# ---- resharding: status, lineage, reading parents before children ---------------------------
def wait_for(what: str, check, within_s: float = 30.0, every_s: float = 0.2):
    """Polls `check` until it returns something truthy (returned), failing after
    `within_s` with `what` in the message."""
    deadline = time.monotonic() + within_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {within_s} s waiting for {what}"
        time.sleep(every_s)


def wait_active(client, stream: str, timeout_s: float = 20.0, poll_s: float = 0.05) -> dict:
    """Poll DescribeStreamSummary until the stream is ACTIVE; returns the summary."""
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline:
        summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        status = summary["StreamStatus"]
        if status == "ACTIVE":
            return summary
        time.sleep(poll_s)
    raise AssertionError(f"{stream} not ACTIVE after {timeout_s} s (last status {status})")


def describe_all_shards(client, stream: str, deadline_s: float = 30.0) -> list[dict]:
    """DescribeStream, following HasMoreShards/ExclusiveStartShardId; returns all shards."""
    shards: list[dict] = []
    deadline = time.monotonic() + deadline_s
    kwargs: dict = {}
    while True:
        assert time.monotonic() < deadline, "DescribeStream pagination did not finish"
        desc = client.describe_stream(StreamName=stream, **kwargs)["StreamDescription"]
        shards.extend(desc["Shards"])
        if not desc["HasMoreShards"]:
            return shards
        assert desc["Shards"], "HasMoreShards true on an empty page"
        kwargs = {"ExclusiveStartShardId": desc["Shards"][-1]["ShardId"]}


def is_closed(shard: dict) -> bool:
    return "EndingSequenceNumber" in shard["SequenceNumberRange"]


def open_shards(shards: list[dict]) -> list[dict]:
    return [s for s in shards if not is_closed(s)]


def parents_of(shard: dict) -> list[str]:
    return [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p]


def assert_open_shards_tile(shards: list[dict], context: str = "") -> None:
    """The open shards cover [0, 2^128-1] with neither gap nor overlap."""
    ranges = hash_ranges(open_shards(shards))
    assert ranges, f"{context}: no open shard"
    assert ranges[0][0] == 0, f"{context}: open shards start at {ranges[0][0]}: {ranges}"
    assert ranges[-1][1] == MAX_HASH_KEY, f"{context}: open shards end at {ranges[-1][1]}"
    for (lo, hi, sid), (nlo, _, nsid) in zip(ranges, ranges[1:]):
        assert lo <= hi, f"{context}: {sid} has an empty range {lo}..{hi}"
        assert nlo == hi + 1, (f"{context}: gap or overlap between open shards {sid} and "
                               f"{nsid}: {ranges}")


def read_to_end(client, iterator: str, *, deadline_s: float = 30.0, max_empty: int = 200):
    """Follow a CLOSED shard's iterator until NextShardIterator is null. Returns
    (records, child_shards) where child_shards is the ChildShards of the final answer.
    ChildShards on an answer that still has a NextShardIterator is an error."""
    records: list[dict] = []
    deadline = time.monotonic() + deadline_s
    empty = 0
    while True:
        assert time.monotonic() < deadline, (
            f"closed shard not read to its end within {deadline_s} s "
            f"({len(records)} records so far)")
        try:
            resp = client.get_records(ShardIterator=iterator)
        except ClientError as e:
            if is_throttle(e):
                time.sleep(0.2)
                continue
            raise
        records.extend(resp["Records"])
        nxt = resp.get("NextShardIterator")
        if nxt is None:
            return records, resp.get("ChildShards")
        assert not resp.get("ChildShards"), (
            f"ChildShards returned before the end of the shard: {resp.get('ChildShards')}")
        empty = empty + 1 if not resp["Records"] else 0
        assert empty < max_empty, (
            f"closed shard gave {empty} empty pages in a row without NextShardIterator null "
            f"({len(records)} records read)")
        iterator = nxt


@dataclass
class LineageRead:
    order: list          # shard ids in the order they were read
    records: dict        # shard id -> records
    children: dict       # closed shard id -> ChildShards from its end
    shards: dict         # shard id -> shard as listed by ListShards
    unread: list         # listed shards the walk never reached


def read_by_lineage(client, stream: str, deadline_s: float = 60.0) -> LineageRead:
    """A consumer that follows lineage: start from the shards whose parents are absent
    from ListShards; read a closed shard until NextShardIterator is null and an open one
    until caught up; a child (learned from ChildShards) is read only once all the parents
    its ChildShards entry names were read fully."""
    deadline = time.monotonic() + deadline_s
    listed = {s["ShardId"]: s for s in list_all_shards(client, stream)}
    queue = sorted(sid for sid, s in listed.items()
                   if all(p not in listed for p in parents_of(s)))
    assert queue, f"no shard of {stream} without listed parents: {sorted(listed)}"
    done: list[str] = []
    records: dict[str, list] = {}
    children: dict[str, list] = {}
    while queue:
        sid = queue.pop(0)
        left = deadline - time.monotonic()
        assert left > 0, f"lineage reader did not finish within {deadline_s} s (read {done})"
        assert sid in listed, f"ChildShards names {sid}, which ListShards does not list"
        it = client.get_shard_iterator(StreamName=stream, ShardId=sid,
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        if is_closed(listed[sid]):
            recs, kids = read_to_end(client, it, deadline_s=min(left, 30.0))
            assert kids is not None, f"end of closed {sid}: no ChildShards"
            children[sid] = kids
        else:
            recs, nxt = read_iterator(client, it, deadline_s=min(left, 30.0))
            assert nxt is not None, f"open {sid} returned NextShardIterator null"
            kids = []
        records[sid] = recs
        done.append(sid)
        for kid in kids:
            cid = kid["ShardId"]
            if cid in done or cid in queue:
                continue
            if all(p in done for p in kid["ParentShards"]):
                queue.append(cid)
    return LineageRead(order=done, records=records, children=children, shards=listed,
                       unread=sorted(set(listed) - set(done)))


# ---- cluster mode: `weir up --nodes N`, placement probes, sequence-number layout ---------------
_NODE_RE = re.compile(r"^Node (node-\d+):\s+(https?://\S+)\s+\(any node serves every stream\)\s*$")
GENERATION_HEADER = "x-weir-generation"
SEQ_GENERATION_SHIFT = 40
SEQ_OFFSET_MASK = (1 << SEQ_GENERATION_SHIFT) - 1


class WeirCluster(WeirServer):
    """`weir up --nodes N`: the control plane (REST) plus N `weir data-plane` child
    processes, all in the parent's process group (so close()/kill() reach every node).

    `node_urls` maps node id (`node-0`...) to its Kinesis endpoint, as printed by
    `Node node-i: <url> (any node serves every stream)`; `kinesis_url` is node-0's.
    """

    def __init__(self, data_dir: Path, log_dir: Path, nodes: int = 3,
                 extra_args: tuple[str, ...] = (), **kwargs):
        super().__init__(data_dir, log_dir,
                         extra_args=("--nodes", str(nodes), "--cluster-secret", CLUSTER_SECRET,
                                     *extra_args), **kwargs)
        self.node_count = nodes
        self.node_urls: dict[str, str] = {}

    def start(self) -> "WeirCluster":
        super().start()
        self.node_urls = {}
        for line in self.stdout_lines():
            if (m := _NODE_RE.match(line)):
                self.node_urls[m.group(1)] = m.group(2).rstrip("/")
        want = [f"node-{i}" for i in range(self.node_count)]
        if sorted(self.node_urls) != want:
            self._kill_group()
            raise WeirStartError(
                f"`weir up --nodes {self.node_count}` printed node lines for "
                f"{sorted(self.node_urls)}, expected {want}.\n{self.output()}")
        return self

    @property
    def node_ids(self) -> list[str]:
        return sorted(self.node_urls)

    def node_client(self, node_id: str, **kwargs):
        if self.ca_cert and "verify" not in kwargs:
            kwargs["verify"] = self.ca_cert
        return make_client(self.node_urls[node_id], **kwargs)

    def node_pid(self, node_id: str) -> int | None:
        """The live (non-zombie) child of the `weir up` process that runs `node_id`."""
        if self.proc is None:
            return None
        for pid, ppid, state, argv in _processes():
            if (ppid == self.proc.pid and state != "Z" and "data-plane" in argv
                    and _arg_after(argv, "--node-id") == node_id):
                return pid
        return None

    def kill_node(self, node_id: str, timeout: float = 5.0) -> float:
        """kill -9 one node process; once it is dead, returns when (time.monotonic()) the
        signal was sent."""
        pid = self.node_pid(node_id)
        assert pid is not None, f"no process found for {node_id}"
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(p == pid and state != "Z" for p, _, state, _ in _processes()):
                return killed_at
            time.sleep(0.02)
        raise AssertionError(f"{node_id} (pid {pid}) still alive {timeout} s after SIGKILL")

    def reassign(self, stream: str, shard_id: str, timeout: float = 30.0):
        """POST /internal/v1/reassign: move a shard to another live node (sealing it on
        its current node first). Returns the requests.Response."""
        return requests.post(f"{self.rest_url}/internal/v1/reassign",
                             json={"stream": stream, "shard_id": shard_id}, timeout=timeout,
                             headers={INTERNAL_HEADER: internal_token()})

    def leftover_processes(self) -> list[str]:
        """Processes (other than zombies) whose command line names this data dir."""
        needle = str(self.data_dir)
        return [f"{pid} {' '.join(argv)}" for pid, _, state, argv in _processes()
                if state != "Z" and any(needle in a for a in argv)]


def _processes():
    """(pid, ppid, state, argv) of every process we can see."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) >= 2:
            out.append((int(entry), int(rest[1]), rest[0], argv))
    return out


def _arg_after(argv: list[str], flag: str) -> str | None:
    for a, b in zip(argv, argv[1:]):
        if a == flag:
            return b
    return None


SEQ_PRINTED_BASE = 49 * 10**54


def seq_value(seq: str | int) -> int:
    """The value inside a printed sequence number: Weir prints AWS's shape, 56 digits,
    `49` and then the value zero-padded to 54 digits."""
    text = str(seq)
    assert len(text) == 56 and text.startswith("49"), f"not a 56-digit sequence number: {text}"
    return int(text) - SEQ_PRINTED_BASE


def seq_parts(seq: str | int) -> tuple[int, int, int]:
    """(shard ordinal, placement generation, log offset) of a sequence number whose value
    is laid out as `(ordinal + 1) << 64 | generation << 40 | offset`."""
    n = seq_value(seq)
    low = n & (2**64 - 1)
    return (n >> 64) - 1, low >> SEQ_GENERATION_SHIFT, low & SEQ_OFFSET_MASK


def forwarded_call(url: str, op: str, body: dict, generation: int | str,
                   timeout: float = 15.0) -> WireResponse:
    """A JSON Kinesis call carrying `x-weir-generation` and the internal token, as a node
    forwarding a record request to the shard's holder sends it."""
    return wire_call(url, op, body, timeout=timeout,
                     headers={GENERATION_HEADER: str(generation),
                              INTERNAL_HEADER: internal_token()})


STALE_GENERATION = "stale generation"
NOT_HOLDER = "does not hold the shard"
VIEW_BEHIND = "this node's view is behind"


def probe_holder(cluster: WeirCluster, stream: str, shard_id: str, nodes=None,
                 deadline_s: float = 5.0) -> str:
    """Which node holds a shard: a GetShardIterator routed under an impossible generation
    is refused with "stale generation" by the holder and "does not hold the shard" by
    every other node. Retries (bounded) while a node's view of the stream or placement is
    still catching up; asserts exactly one holder in the end."""
    nodes = list(nodes or cluster.node_ids)
    body = {"StreamName": stream, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}
    deadline = time.monotonic() + deadline_s
    while True:
        answers = {n: forwarded_call(cluster.node_urls[n], "GetShardIterator", body, 999999)
                   for n in nodes}
        holders = [n for n, r in answers.items() if STALE_GENERATION in (r.message or "")]
        others = [n for n, r in answers.items() if NOT_HOLDER in (r.message or "")]
        if len(holders) == 1 and len(others) == len(nodes) - 1:
            r = answers[holders[0]]
            assert (r.status, r.error_type) == (500, "InternalFailure"), r.describe()
            for n in others:
                assert (answers[n].status, answers[n].error_type) == (500, "InternalFailure"), \
                    answers[n].describe()
            return holders[0]
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{stream}/{shard_id}: no single holder after {deadline_s} s; probes under "
                f"generation 999999: " + "; ".join(f"{n}: {r.describe()}"
                                                     for n, r in answers.items()))
        time.sleep(0.1)
