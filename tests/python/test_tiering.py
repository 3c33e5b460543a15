"""The cold tier against a real S3-compatible server (moto's server mode, started here).

Every test runs `weir` with `--tier s3` pointed at a moto server on loopback, with tiny
segments so that a few thousand records make many segments. The bucket is inspected with
boto3's S3 client, the tier states through `GET /v1/streams/{name}/shards/{id}/segments`.

An outage is simulated by SIGSTOP-ing the moto process: connections are accepted by the
kernel but never answered, like an unreachable or hung server; SIGCONT brings it back
with its objects intact (moto keeps them in memory, so it must not be restarted).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests

from weirtest import (WeirCluster, WeirServer, forwarded_call, make_client, probe_holder,
                      read_shard, seq_parts, unique_name)

SEGMENT_BYTES = 16 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).parent / "moto_server"
        self.log = open(log_dir / "moto.log", "wb")
        self.proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.url, timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError("moto_server did not start; see moto.log")
                time.sleep(0.1)
        self.s3 = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")

    def new_bucket(self) -> str:
        name = unique_name("weir").lower().replace("_", "-")[:60]
        self.s3.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        keys, token = [], None
        while True:
            kwargs = {"Bucket": bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self.s3.list_objects_v2(**kwargs)
            keys += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            token = page["NextContinuationToken"]

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.resume()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    yield server
    server.close()


def tier_args(moto: MotoServer, bucket: str, **extra) -> tuple[str, ...]:
    args = ["--tier", "s3", "--s3-endpoint", moto.url, "--s3-bucket", bucket,
            "--s3-path-style", "--s3-region", "us-east-1",
            "--s3-access-key-id", "testing", "--s3-secret-access-key", "testing",
            "--segment-bytes", str(SEGMENT_BYTES), "--tier-interval-ms", "100",
            "--local-retention-bytes", str(SEGMENT_BYTES)]
    for k, v in extra.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return tuple(args)


@pytest.fixture
def servers(tmp_path):
    started: list[WeirServer] = []

    def start(args: tuple[str, ...], cls=WeirServer, **kwargs) -> WeirServer:
        base = tmp_path / f"weir-{len(started)}"
        server = cls(base / "data", base / "logs", extra_args=args, **kwargs)
        started.append(server)
        return server.start()

    yield start
    for s in started:
        s.close()


def put_batch(client, stream: str, start: int, count: int, key: str = "k") -> list[str]:
    records = [{"PartitionKey": key, "Data": f"rec-{i:07d}-".encode() + b"x" * 24}
               for i in range(start, start + count)]
    answer = client.put_records(StreamName=stream, Records=records)
    assert answer["FailedRecordCount"] == 0, answer
    return [r["SequenceNumber"] for r in answer["Records"]]


def segments(server: WeirServer, stream: str, shard: str = "shardId-000000000000") -> list[dict]:
    r = requests.get(f"{server.rest_url}/v1/streams/{stream}/shards/{shard}/segments",
                     timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["segments"]


def wait_for(predicate, what: str, timeout: float = 60.0, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def local_log_bytes(server: WeirServer) -> int:
    total = 0
    for p in (server.data_dir / "streams").rglob("*.log"):
        try:
            total += p.stat().st_size
        except FileNotFoundError:  # trimmed between listing and stat
            pass
    return total


def datas(records) -> list[bytes]:
    return [r["Data"] for r in records]


def expected(start: int, count: int) -> list[bytes]:
    return [f"rec-{i:07d}-".encode() + b"x" * 24 for i in range(start, start + count)]


# ---- 50,000 records through tiny segments ---------------------------------------------------
def test_fifty_thousand_records_tier_out_and_read_back_in_order(moto, servers):
    bucket = moto.new_bucket()
    server = servers(tier_args(moto, bucket))
    client = server.client()
    stream = unique_name("tier")
    client.create_stream(StreamName=stream, ShardCount=1)
    peak_local = 0
    for start in range(0, 50_000, 500):
        put_batch(client, stream, start, 500)
        peak_local = max(peak_local, local_log_bytes(server))
        time.sleep(0.02)  # a steady producer, not a burst the uploader can only trail
    # Uploads catch up: every sealed segment is in the bucket, recorded as uploaded.
    def caught_up():
        segs = segments(server, stream)
        return segs if segs and segs[-1]["end_offset"] > 45_000 and all(
            s["state"] == "uploaded" for s in segs) else None
    segs = wait_for(caught_up, "uploads to cover the stream, every segment `uploaded`")
    assert [s["base_offset"] for s in segs] == sorted(s["base_offset"] for s in segs)
    for a, b in zip(segs, segs[1:]):
        assert a["end_offset"] == b["base_offset"], ("gap between segments", a, b)
    keys = set(moto.keys(bucket))
    for s in segs:
        assert s["object_key"] in keys, s
        assert s["object_key"].removesuffix(".log") + ".idx" in keys, s
    assert len(segs) > 50, f"expected many tiny segments, got {len(segs)}"
    # Local disk stays bounded: about one retained segment plus the active one.
    wait_for(lambda: local_log_bytes(server) <= 4 * SEGMENT_BYTES, "local trimming")
    total = 50_000 * (40 + 1 + 14)  # payload, key and per-record framing
    assert peak_local < total / 4, f"local disk grew to {peak_local} of {total} bytes"
    # Every record reads back from TRIM_HORIZON, in order, cold then hot.
    got = read_shard(client, stream, "shardId-000000000000", deadline_s=120)
    assert datas(got) == expected(0, 50_000)
    seqs = [int(r["SequenceNumber"]) for r in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # AT_TIMESTAMP before the first record starts in the cold tier.
    first_ts = got[0]["ApproximateArrivalTimestamp"]
    it = client.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                   ShardIteratorType="AT_TIMESTAMP",
                                   Timestamp=first_ts)["ShardIterator"]
    page = client.get_records(ShardIterator=it, Limit=5)
    assert datas(page["Records"]) == expected(0, 5)


# ---- the node's data folder is lost -----------------------------------------------------------
def test_wiped_data_folder_still_serves_everything_uploaded(moto, servers):
    bucket = moto.new_bucket()
    server = servers(tier_args(moto, bucket))
    client = server.client()
    stream = unique_name("wipe")
    client.create_stream(StreamName=stream, ShardCount=1)
    for start in range(0, 5_000, 500):
        put_batch(client, stream, start, 500)
    # Only segments whose upload finished are in the bucket; one still `uploading` when the
    # disk goes is lost with it, so wait until every listed segment is `uploaded`.
    segs = wait_for(lambda: (s := segments(server, stream)) and s[-1]["end_offset"] > 4_000
                    and all(x["state"] == "uploaded" for x in s) and s,
                    "uploads, every segment `uploaded`")
    uploaded_end = segs[-1]["end_offset"]
    server.stop()
    shutil.rmtree(server.data_dir / "streams")
    server.start()
    client = server.client()
    got = read_shard(client, stream, "shardId-000000000000", deadline_s=60)
    assert datas(got) == expected(0, uploaded_end)
    # Writing continues after the uploaded history.
    put_batch(client, stream, 900_000, 3)
    got = read_shard(client, stream, "shardId-000000000000", deadline_s=60)
    assert datas(got)[-3:] == expected(900_000, 3)
    assert len(got) == uploaded_end + 3


# ---- the S3 server goes away for 30 s during a write load -------------------------------------
def test_s3_outage_never_fails_a_write_and_uploads_catch_up(moto, servers):
    bucket = moto.new_bucket()
    server = servers(tier_args(moto, bucket))
    client = server.client()
    stream = unique_name("outage")
    client.create_stream(StreamName=stream, ShardCount=1)
    written = 0
    put_batch(client, stream, written, 500)
    written += 500
    moto.pause()
    try:
        outage_end = time.monotonic() + 30
        while time.monotonic() < outage_end:
            t0 = time.monotonic()
            put_batch(client, stream, written, 200)
            written += 200
            assert time.monotonic() - t0 < 5, "a write waited on the cold tier"
            time.sleep(0.05)
        status = requests.get(f"{server.kinesis_url}/tier/status", timeout=5).json()
        assert status["pending_upload_bytes"] > 0, status
    finally:
        moto.resume()
    def drained():
        st = requests.get(f"{server.kinesis_url}/tier/status", timeout=5).json()
        return st if st["pending_upload_bytes"] == 0 else None
    wait_for(drained, "uploads to catch up after the outage", timeout=120)
    segs = segments(server, stream)
    assert all(s["state"] == "uploaded" for s in segs)
    got = read_shard(client, stream, "shardId-000000000000", deadline_s=120)
    assert datas(got) == expected(0, written)


# ---- kill -9 during an upload and during a deletion -------------------------------------------
def test_kill9_mid_upload_and_mid_delete_reconcile_on_restart(moto, servers):
    bucket = moto.new_bucket()
    server = servers(tier_args(moto, bucket))
    client = server.client()
    stream = unique_name("crash")
    client.create_stream(StreamName=stream, ShardCount=1)
    for start in range(0, 3_000, 500):
        put_batch(client, stream, start, 500)
    wait_for(lambda: segments(server, stream), "first uploads")
    # Hang the bucket, write more: the next upload is recorded `uploading`, then crash.
    moto.pause()
    try:
        for start in range(3_000, 6_000, 500):
            put_batch(client, stream, start, 500)
        wait_for(lambda: any(s["state"] == "uploading" for s in segments(server, stream)),
                 "an upload in flight")
        server.kill()
    finally:
        moto.resume()
    server.start()
    client = server.client()
    def all_uploaded():
        segs = segments(server, stream)
        return segs if segs[-1]["end_offset"] >= 5_000 and all(
            s["state"] == "uploaded" for s in segs) else None
    segs = wait_for(all_uploaded, "the interrupted upload to finish after restart", timeout=90)
    uid = segs[0]["object_key"].split("/")[1]
    got = read_shard(client, stream, "shardId-000000000000", deadline_s=60)
    assert datas(got) == expected(0, 6_000)
    assert moto.keys(bucket, f"streams/{uid}/")
    # Delete with the bucket hung: segments go `deleting`; crash mid-deletion.
    moto.pause()
    try:
        client.delete_stream(StreamName=stream)
        time.sleep(3)  # the reaper has started and is stuck on the hung bucket
        server.kill()
    finally:
        moto.resume()
    server.start()
    wait_for(lambda: not moto.keys(bucket, f"streams/{uid}/"),
             "DeleteStream to remove every object after the restart", timeout=60)


# ---- a shard move under write load ------------------------------------------------------------
def test_shard_move_under_load_serves_full_history_and_fences_the_old_owner(moto, servers):
    bucket = moto.new_bucket()
    cluster = servers(tier_args(moto, bucket), cls=WeirCluster, nodes=2)
    client = cluster.client()
    stream = unique_name("move")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_for(lambda: client.describe_stream_summary(StreamName=stream)
             ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", "stream ACTIVE")
    sid = "shardId-000000000000"
    old_holder = probe_holder(cluster, stream, sid)
    acked: list[tuple[int, bytes]] = []
    errors: list[str] = []
    stop = threading.Event()

    def load():
        c = make_client(cluster.kinesis_url, max_attempts=5)
        i = 0
        while not stop.is_set():
            data = f"rec-{i:07d}-".encode() + b"x" * 24
            try:
                r = c.put_record(StreamName=stream, PartitionKey="k", Data=data)
                acked.append((int(r["SequenceNumber"]), data))
                i += 1
            except Exception as e:  # noqa: BLE001 - a retried failure is allowed, counted
                errors.append(repr(e))

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    time.sleep(3)
    moved = requests.post(f"{cluster.rest_url}/v1/streams/{stream}/shards/{sid}/move",
                          timeout=90)
    assert moved.status_code == 200, moved.text
    new_gen = moved.json()["generation"]
    assert moved.json()["node"] != old_holder
    time.sleep(3)
    stop.set()
    thread.join(timeout=30)
    assert len(acked) > 100, f"too few writes under load ({len(acked)}); errors: {errors[:3]}"
    # The new owner serves every acknowledged record, old and new, in order.
    got = read_shard(client, stream, sid, deadline_s=120)
    by_seq = {int(r["SequenceNumber"]): r["Data"] for r in got}
    for seq, data in acked:
        assert by_seq.get(seq) == data, f"acknowledged record {seq} missing or changed"
    gens = {seq_parts(s)[1] for s, _ in acked}
    assert new_gen in gens and len(gens) >= 2, gens
    # The old owner can no longer write, under its old generation.
    old_url = cluster.node_urls[old_holder]
    r = forwarded_call(old_url, "PutRecord",
                       {"StreamName": stream, "PartitionKey": "k", "Data": "eA=="}, new_gen - 1)
    assert r.status >= 400, r.describe()


# ---- settings that cannot work are refused at start-up ----------------------------------------
def test_a_missing_bucket_stops_start_up_naming_the_setting(moto, tmp_path):
    server = WeirServer(tmp_path / "data", tmp_path / "logs",
                        extra_args=tier_args(moto, "no-such-bucket-here"), start_timeout=30)
    try:
        with pytest.raises(AssertionError) as failed:
            server.start()
        message = str(failed.value)
        assert "no-such-bucket-here" in message and "--s3-bucket" in message, message
    finally:
        server.close()
