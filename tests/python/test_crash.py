"""Durability: an acknowledged write survives kill -9 of the whole server, exactly once
and in order; clean shutdown and restart keep everything.

Writers run with client retries OFF: a retried request whose first attempt was committed
would be a legitimate duplicate, and this test wants to see only the server's behaviour.
"""

from __future__ import annotations

import collections
import hashlib
import re
import signal
import threading
import time
from dataclasses import dataclass, field

import pytest

from weirtest import (create_stream, list_all_shards, make_client,
                      partition_key_for_shard, read_shard, unique_name)

WRITERS = 8
SHARDS = 4
ROUNDS = 3
LOAD_SECONDS = 2.0
BATCH = 20
PAYLOAD_RE = re.compile(rb"^w(\d+):c(\d+):([0-9a-f]{16}):")


def payload(writer: int, counter: int) -> bytes:
    head = b"w%d:c%d:" % (writer, counter)
    digest = hashlib.sha256(head).hexdigest()[:16].encode()
    return head + digest + b":" + (digest * ((counter % 7) + 1))


@dataclass
class Writer:
    index: int
    partition_key: str
    next_counter: int = 0
    acked: list[int] = field(default_factory=list)       # counters, in ack order
    rejected: list[int] = field(default_factory=list)    # per-record ErrorCode
    unknown: list[int] = field(default_factory=list)     # request failed / in flight
    errors_before_kill: list[str] = field(default_factory=list)
    seqs: dict[int, str] = field(default_factory=dict)


def run_writers(endpoint, stream, writers, kill_at: threading.Event, load_seconds: float):
    """Each writer PutRecords batches until its request fails (the server died).
    Returns once all writers have stopped (bounded)."""
    stop = threading.Event()

    def work(w: Writer):
        client = make_client(endpoint, max_attempts=1, read_timeout=15)
        while not stop.is_set():
            counters = list(range(w.next_counter, w.next_counter + BATCH))
            w.next_counter += BATCH
            entries = [{"Data": payload(w.index, c), "PartitionKey": w.partition_key}
                       for c in counters]
            try:
                resp = client.put_records(StreamName=stream, Records=entries)
            except Exception as e:  # noqa: BLE001 - connection reset, refused, 5xx...
                w.unknown.extend(counters)
                if not kill_at.is_set():
                    w.errors_before_kill.append(f"{type(e).__name__}: {e}")
                return
            if len(resp["Records"]) != len(counters):
                w.errors_before_kill.append(f"{len(resp['Records'])} results for "
                                            f"{len(counters)} records")
                w.unknown.extend(counters)
                return
            for c, r in zip(counters, resp["Records"]):
                if "ErrorCode" in r:
                    w.rejected.append(c)
                else:
                    w.acked.append(c)
                    w.seqs[c] = r["SequenceNumber"]
            # No pause: a request is in flight almost all the time, so the kill lands
            # mid-request for most writers. Over-limit records are answered with
            # ProvisionedThroughputExceededException and must then be absent.

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in writers]
    for t in threads:
        t.start()
    time.sleep(load_seconds)
    return threads, stop


def verify(client, stream, writers, shard_of_writer, previously_seen):
    """Read every shard from TRIM_HORIZON and check the durability contract.
    Returns {writer: [counters in stream order]}."""
    problems = []
    seen = {w.index: [] for w in writers}
    for shard in list_all_shards(client, stream):
        sid = shard["ShardId"]
        records = read_shard(client, stream, sid, deadline_s=120)
        seqs = [int(r["SequenceNumber"]) for r in records]
        if any(a >= b for a, b in zip(seqs, seqs[1:])):
            problems.append(f"{sid}: sequence numbers not strictly increasing")
        for r in records:
            m = PAYLOAD_RE.match(r["Data"])
            if not m:
                problems.append(f"{sid}: unrecognised payload {r['Data'][:60]!r}")
                continue
            wi, c = int(m.group(1)), int(m.group(2))
            if r["Data"] != payload(wi, c):
                problems.append(f"{sid}: payload of w{wi} c{c} corrupted: {r['Data'][:80]!r}")
            if shard_of_writer[wi] != sid:
                problems.append(f"w{wi} c{c} found in {sid}, expected {shard_of_writer[wi]}")
            seen[wi].append((c, r["SequenceNumber"]))
    for w in writers:
        counters = [c for c, _ in seen[w.index]]
        dups = sorted(c for c, n in collections.Counter(counters).items() if n > 1)
        if dups:
            problems.append(f"w{w.index}: duplicated records {dups[:10]}")
        if counters != sorted(counters):
            bad = next(i for i in range(1, len(counters)) if counters[i] < counters[i - 1])
            problems.append(f"w{w.index}: out of order at position {bad}: "
                            f"{counters[max(0, bad - 3):bad + 3]}")
        present = set(counters)
        lost = [c for c in w.acked if c not in present]
        if lost:
            problems.append(f"w{w.index}: {len(lost)} acknowledged records lost after kill -9,"
                            f" e.g. counters {lost[:10]} (acked {len(w.acked)})")
        resurrected = [c for c in w.rejected if c in present]
        if resurrected:
            problems.append(f"w{w.index}: {len(resurrected)} records answered with an "
                            f"ErrorCode were written anyway: {resurrected[:10]}")
        wrong_seq = [(c, s, w.seqs[c]) for c, s in seen[w.index]
                     if c in w.seqs and w.seqs[c] != s]
        if wrong_seq:
            problems.append(f"w{w.index}: sequence number changed across restart: "
                            f"{wrong_seq[:5]}")
        vanished = [c for c in previously_seen.get(w.index, []) if c not in present]
        if vanished:
            problems.append(f"w{w.index}: {len(vanished)} records that were readable after "
                            f"the previous restart disappeared: {vanished[:10]}")
    return {k: [c for c, _ in v] for k, v in seen.items()}, problems


def test_kill_9_under_load_loses_no_acknowledged_write(weir_factory):
    server = weir_factory("crash")
    client = server.client()
    stream = unique_name("crash")
    shards = create_stream(client, stream, SHARDS)
    shard_ids = [s["ShardId"] for s in shards]
    writers = []
    shard_of_writer = {}
    for i in range(WRITERS):
        sid = shard_ids[i % SHARDS]
        pk = partition_key_for_shard(shards, sid, f"writer{i}")
        writers.append(Writer(i, pk))
        shard_of_writer[i] = sid

    previously_seen: dict[int, list[int]] = {}
    history = []
    for round_no in range(1, ROUNDS + 1):
        kill_at = threading.Event()
        acked_before = sum(len(w.acked) for w in writers)
        threads, stop = run_writers(server.kinesis_url, stream, writers, kill_at,
                                    LOAD_SECONDS)
        # Writers are mid-flight: crash the whole server tree.
        kill_at.set()
        server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a writer hung after kill -9"
        early = [e for w in writers for e in w.errors_before_kill]
        assert not early, f"round {round_no}: writes failed before the kill: {early[:5]}"
        acked_now = sum(len(w.acked) for w in writers)
        assert acked_now - acked_before > 100, (
            f"round {round_no}: only {acked_now - acked_before} records acknowledged in "
            f"{LOAD_SECONDS} s of load; the test needs load at the moment of the crash")

        server.start()
        client = server.client()
        seen, problems = verify(client, stream, writers, shard_of_writer, previously_seen)
        history.append((round_no, acked_now, sum(len(v) for v in seen.values()),
                        sum(len(w.unknown) for w in writers),
                        sum(len(w.rejected) for w in writers)))
        assert not problems, (f"after kill -9 #{round_no} and restart:\n  "
                              + "\n  ".join(problems[:40])
                              + f"\n(round, acked, present, in flight, rejected): {history}")
        previously_seen = seen

    print(f"(round, acked, present, in flight at kill, rejected) so far: {history}")
    # After the last restart the stream still takes writes, after everything recovered.
    r = client.put_record(StreamName=stream, Data=b"after-crashes",
                          PartitionKey=writers[0].partition_key)
    last = read_shard(client, stream, r["ShardId"])
    assert last[-1]["Data"] == b"after-crashes"
    assert last[-1]["SequenceNumber"] == r["SequenceNumber"]


def test_kill_9_right_after_acknowledgement(weir_factory):
    """Single acknowledged PutRecord, then immediate kill -9: it must be there."""
    server = weir_factory("ack")
    client = server.client()
    stream = unique_name("ack")
    create_stream(client, stream, 1)
    for i in range(3):
        r = client.put_record(StreamName=stream, Data=f"acked-{i}".encode(), PartitionKey="k")
        server.kill()
        server.start()
        client = server.client()
        got = read_shard(client, stream, r["ShardId"])
        assert [g["Data"] for g in got] == [f"acked-{j}".encode() for j in range(i + 1)], \
            f"after kill #{i + 1}"
        assert got[-1]["SequenceNumber"] == r["SequenceNumber"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown_and_restart_keep_everything(weir_factory, sig):
    server = weir_factory("clean")
    client = server.client()
    s1, s2 = unique_name("keep-a"), unique_name("keep-b")
    create_stream(client, s1, 3)
    create_stream(client, s2, 1)
    client.add_tags_to_stream(StreamName=s1, Tags={"owner": "e2e"})
    client.increase_stream_retention_period(StreamName=s1, RetentionPeriodHours=36)
    puts = client.put_records(StreamName=s1, Records=[
        {"Data": bytes([i]) * 10, "PartitionKey": f"pk{i}"} for i in range(100)])["Records"]
    before = {s["ShardId"]: read_shard(client, s1, s["ShardId"]) for s in
              list_all_shards(client, s1)}

    code = server.stop() if sig == signal.SIGTERM else server.interrupt()
    assert code == 0, (f"weir did not exit cleanly on {sig.name} within 20 s "
                       f"(status {code}):\n{server.output()}")
    assert not server.group_alive(), f"processes left behind after {sig.name}"

    server.start()
    client = server.client()
    names = client.list_streams()["StreamNames"]
    assert {s1, s2} <= set(names), names
    summary = client.describe_stream_summary(StreamName=s1)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3
    assert summary["RetentionPeriodHours"] == 36
    assert client.list_tags_for_stream(StreamName=s1)["Tags"] == [{"Key": "owner",
                                                                   "Value": "e2e"}]
    after = {sid: read_shard(client, s1, sid) for sid in before}
    for sid in before:
        assert [(r["SequenceNumber"], r["Data"], r["PartitionKey"]) for r in after[sid]] == \
            [(r["SequenceNumber"], r["Data"], r["PartitionKey"]) for r in before[sid]], sid
    assert sum(len(v) for v in after.values()) == len(puts) == 100

    # New writes get higher sequence numbers than everything before the restart.
    for sid, recs in after.items():
        pk = partition_key_for_shard(list_all_shards(client, s1), sid, "post")
        r = client.put_record(StreamName=s1, Data=b"post-restart", PartitionKey=pk)
        assert r["ShardId"] == sid
        if recs:
            assert int(r["SequenceNumber"]) > int(recs[-1]["SequenceNumber"]), sid
        got = read_shard(client, s1, sid)
        assert got[-1]["Data"] == b"post-restart" and len(got) == len(recs) + 1, sid
