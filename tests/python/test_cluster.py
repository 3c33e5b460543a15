"""Cluster mode end to end: `weir up --nodes 3` (control plane plus three `weir data-plane`
node processes): shard placement over the nodes, any node serving every shard, fencing by
placement generation, node loss (kill -9, and a node paused past its lease), management
calls and resharding through a node.

How placement is observed without registering anything: a record request carrying
`x-weir-generation` is what one node sends another when it forwards. Under an impossible
generation it is refused by the shard's holder with "stale generation" and by every other
node with "does not hold the shard" (`probe_holder` in weirtest.py).

A sequence number holds `(ordinal + 1) << 64 | generation << 40 | offset` (`seq_parts`), so an
acknowledgement names the generation it was written under and its offset in the holder's log.

Writers run with client retries OFF: a retried request whose first attempt was committed
would be a legitimate duplicate, and these tests want to see only the server's behaviour.
"""

from __future__ import annotations

import base64
import collections
import os
import signal
import threading
import time
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from test_reshard import PAYLOAD_RE, Producer, check_lineage, check_read, produce, rng
import requests

from weirtest import (GENERATION_HEADER, INTERNAL_HEADER, internal_token, wire_call)
from weirtest import (NOT_HOLDER, STALE_GENERATION, VIEW_BEHIND, create_stream,
                      describe_all_shards, forwarded_call, hash_key, is_throttle,
                      list_all_shards, open_shards, partition_key_for_shard, probe_holder, read_by_lineage, read_shard,
                      seq_parts, shard_for_hash, unique_name, wait_active)

THROTTLE = "ProvisionedThroughputExceededException"


def ordinal_of(shard_id: str) -> int:
    return int(shard_id.split("-")[1])


def inside(shard: dict, k: int = 0) -> int:
    """A hash key inside the shard's range (its start plus k, clamped to the range)."""
    lo, hi = rng(shard)
    return min(lo + k, hi)


def put_raw(url: str, stream: str, explicit_hash_key: int, data: bytes, generation: int,
            partition_key: str = "pk"):
    """A raw JSON PutRecord to one node, routed under `generation` (as if forwarded)."""
    body = {"StreamName": stream, "PartitionKey": partition_key,
            "Data": base64.b64encode(data).decode(),
            "ExplicitHashKey": str(explicit_hash_key)}
    return forwarded_call(url, "PutRecord", body, generation)


def put_records_raw(url: str, stream: str, explicit_hash_key: int, datas: list[bytes],
                    generation: int):
    body = {"StreamName": stream, "Records": [
        {"PartitionKey": f"pk{i}", "Data": base64.b64encode(d).decode(),
         "ExplicitHashKey": str(explicit_hash_key)} for i, d in enumerate(datas)]}
    return forwarded_call(url, "PutRecords", body, generation)


def assert_refused_put_records(r, n: int, context: str) -> None:
    """A PutRecords is refused either as a whole or record by record; never accepted."""
    if r.status == 200:
        body = r.body or {}
        recs = body.get("Records", [])
        assert body.get("FailedRecordCount") == n and len(recs) == n and all(
            "ErrorCode" in x and "SequenceNumber" not in x for x in recs), (
            f"{context}: PutRecords accepted (at least in part): {r.describe()}")
    else:
        assert r.status >= 400, f"{context}: {r.describe()}"


def shard_records(client, stream: str, shard_id: str) -> list[tuple[str, bytes]]:
    return [(r["SequenceNumber"], r["Data"]) for r in read_shard(client, stream, shard_id,
                                                                 deadline_s=30)]


# ---- 1. placement spreads shards; any node serves every shard -------------------------------
def test_twelve_shards_spread_over_three_nodes_and_any_node_serves_every_shard(
        weir_cluster_factory):
    cluster = weir_cluster_factory("spread")
    assert cluster.kinesis_url == cluster.node_urls["node-0"], (
        cluster.kinesis_url, cluster.node_urls)
    assert len(set(cluster.node_urls.values())) == 3, cluster.node_urls
    admin = cluster.node_client("node-0")
    stream = unique_name("spread")
    shards = create_stream(admin, stream, 12)
    assert len(shards) == 12, [s["ShardId"] for s in shards]

    holders = {s["ShardId"]: probe_holder(cluster, stream, s["ShardId"]) for s in shards}
    spread = collections.Counter(holders.values())
    assert spread == {n: 4 for n in cluster.node_ids}, (
        f"12 shards on a fresh 3-node cluster spread {dict(spread)}, not 4/4/4: {holders}")

    # boto3 connected to one node at a time writes to every shard (most records are
    # forwarded to another node).
    acked: dict[str, list[tuple[str, bytes, str]]] = collections.defaultdict(list)
    for node in cluster.node_ids:
        client = cluster.node_client(node)
        keys = [partition_key_for_shard(shards, s["ShardId"], f"{node}-{s['ShardId']}-{j}")
                for s in shards for j in range(3)]
        keys += [f"{node}-random-{i}" for i in range(60)]
        entries = [{"Data": f"{node}|{pk}|{i}".encode(), "PartitionKey": pk}
                   for i, pk in enumerate(keys)]
        resp = client.put_records(StreamName=stream, Records=entries)
        assert resp.get("FailedRecordCount", 0) == 0, (node, [
            r for r in resp["Records"] if "ErrorCode" in r][:5])
        assert len(resp["Records"]) == len(entries)
        for e, r in zip(entries, resp["Records"]):
            want = shard_for_hash(shards, hash_key(e["PartitionKey"]))
            assert r["ShardId"] == want, (node, e["PartitionKey"], r, want)
            ordinal, generation, _ = seq_parts(r["SequenceNumber"])
            assert ordinal == ordinal_of(want) and generation >= 1, (node, r)
            acked[want].append((r["SequenceNumber"], e["Data"], node))
    for sid, acks in acked.items():
        assert {via for _, _, via in acks} == set(cluster.node_ids), (sid, acks)
        assert len({seq_parts(seq)[1] for seq, _, _ in acks}) == 1, (
            f"{sid} was written under several generations with no move: {acks}")
    assert sorted(acked) == sorted(holders)

    want = {sid: sorted(((int(seq), data) for seq, data, _ in acks)) for sid, acks in
            acked.items()}
    # Read every shard back through each node: the same records, in order, once.
    for node in cluster.node_ids:
        client = cluster.node_client(node)
        for sid in sorted(holders):
            got = [(int(seq), data) for seq, data in shard_records(client, stream, sid)]
            assert got == want[sid], (
                f"{sid} (held by {holders[sid]}) read through {node}: {len(got)} records, "
                f"{len(want[sid])} acknowledged; first read {got[:3]}, acked {want[sid][:3]}")
    # Iterators are the cluster's, not a node's: one obtained from a node is read through
    # the next one.
    ids = cluster.node_ids
    for k, sid in enumerate(sorted(holders)):
        it = cluster.node_client(ids[k % 3]).get_shard_iterator(
            StreamName=stream, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        resp = cluster.node_client(ids[(k + 1) % 3]).get_records(ShardIterator=it, Limit=10000)
        got = [(int(r["SequenceNumber"]), r["Data"]) for r in resp["Records"]]
        assert got == want[sid], (f"{sid}: iterator from {ids[k % 3]} read through "
                                  f"{ids[(k + 1) % 3]}: {got[:3]} vs {want[sid][:3]}")


# ---- 2a. fencing: a write under a stale generation is refused -------------------------------
def test_write_under_a_stale_generation_is_refused(weir_cluster):
    cluster = weir_cluster
    admin = cluster.node_client("node-0")
    stream = unique_name("stale")
    shards = create_stream(admin, stream, 3)
    shard = shards[1]
    sid, hk = shard["ShardId"], inside(shard, 12345)
    holder = probe_holder(cluster, stream, sid)
    others = [n for n in cluster.node_ids if n != holder]
    url = cluster.node_urls

    # A legitimate write through a node that does not hold the shard (so it is forwarded)
    # tells the current generation.
    first = cluster.node_client(others[0]).put_record(
        StreamName=stream, Data=b"legit-1", PartitionKey="pk", ExplicitHashKey=str(hk))
    assert first["ShardId"] == sid, first
    ordinal, gen, offset = seq_parts(first["SequenceNumber"])
    assert (ordinal, offset) == (1, 0) and gen >= 1, first["SequenceNumber"]

    wrong = sorted({g for g in (gen - 1, 0, gen + 1, gen + 1000) if g >= 0 and g != gen})
    for g in wrong:
        r = put_raw(url[holder], stream, hk, f"stale-{g}".encode(), generation=g)
        assert (r.status, r.error_type) == (500, "InternalFailure") and \
            STALE_GENERATION in (r.message or ""), (
                f"PutRecord routed to holder {holder} under generation {g} (current {gen}): "
                f"{r.describe()}")
        r = put_records_raw(url[holder], stream, hk, [f"stale-batch-{g}-{i}".encode()
                                                      for i in range(3)], g)
        assert_refused_put_records(r, 3, f"PutRecords to {holder} under generation {g}")
    # The right generation at a node that does not hold the shard is refused as well.
    for n in others:
        r = put_raw(url[n], stream, hk, f"not-holder-{n}".encode(), generation=gen)
        assert (r.status, r.error_type) == (500, "InternalFailure") and \
            NOT_HOLDER in (r.message or ""), (
                f"PutRecord routed to {n} (holder is {holder}) under generation {gen}: "
                f"{r.describe()}")
        r = put_records_raw(url[n], stream, hk, [b"not-holder-batch"], gen)
        assert_refused_put_records(r, 1, f"PutRecords to non-holder {n}")
    # Control: the holder accepts the current generation.
    r = put_raw(url[holder], stream, hk, b"legit-2", generation=gen)
    assert r.status == 200, r.describe()
    second = r.body["SequenceNumber"]
    assert seq_parts(second) == (1, gen, 1), second
    # Nothing refused was written: every node reads exactly the two accepted records.
    want = [(first["SequenceNumber"], b"legit-1"), (second, b"legit-2")]
    for n in cluster.node_ids:
        assert shard_records(cluster.node_client(n), stream, sid) == want, n

    # Move the shard: the old generation is now stale on every node.
    moved = cluster.reassign(stream, sid)
    assert moved.status_code == 200, (moved.status_code, moved.text)
    move = moved.json()
    new_holder, new_gen = move["node"], move["generation"]
    assert move["ordinal"] == 1 and new_holder in others and new_gen > gen, move
    for n in (holder, new_holder):
        r = put_raw(url[n], stream, hk, f"old-gen-after-move-{n}".encode(), generation=gen)
        assert r.status != 200, (
            f"{n} accepted a write under generation {gen} after the shard moved to "
            f"{new_holder} under {new_gen}: {r.describe()}")
    # The new holder accepts the new generation once it has heard of it (heartbeats).
    deadline = time.monotonic() + 5
    while True:
        r = put_raw(url[new_holder], stream, hk, b"legit-3", generation=new_gen)
        if r.status == 200 or time.monotonic() > deadline:
            break
        assert NOT_HOLDER in (r.message or ""), r.describe()
        time.sleep(0.05)
    assert r.status == 200, f"{new_holder} never accepted generation {new_gen}: {r.describe()}"
    third = r.body["SequenceNumber"]
    # The hand-off uploaded the shard's history to the cold tier, so the new holder's log
    # continues after the two records written before the move instead of restarting at 0.
    assert seq_parts(third) == (1, new_gen, 2) and int(third) > int(second), (third, second)
    # The old holder refuses its old generation for good. Until its heartbeat brings the
    # move it says its view is behind (it was fenced by the move); then that it does not
    # hold the shard. Every answer is a refusal.
    deadline = time.monotonic() + 5
    while True:
        r = put_raw(url[holder], stream, hk, b"old-gen-late", generation=gen)
        assert r.status == 500, r.describe()
        if NOT_HOLDER in (r.message or "") or time.monotonic() > deadline:
            break
        assert VIEW_BEHIND in (r.message or ""), r.describe()
        time.sleep(0.05)
    assert NOT_HOLDER in (r.message or ""), r.describe()
    # An ordinary client write through the old holder lands on the new holder.
    fourth = cluster.node_client(holder).put_record(
        StreamName=stream, Data=b"legit-4", PartitionKey="pk", ExplicitHashKey=str(hk))
    assert fourth["ShardId"] == sid and seq_parts(fourth["SequenceNumber"]) == (
        1, new_gen, 3), fourth
    assert probe_holder(cluster, stream, sid) == new_holder
    # The new holder serves the whole history: the records written before the move come
    # from the cold tier, with their original sequence numbers.
    want = [(first["SequenceNumber"], b"legit-1"), (second, b"legit-2"),
            (third, b"legit-3"), (fourth["SequenceNumber"], b"legit-4")]
    for n in cluster.node_ids:
        assert shard_records(cluster.node_client(n), stream, sid) == want, n


# ---- 2b. fencing: forced reassignment in the middle of a write load ---------------------------
@dataclass
class Ack:
    producer: int
    counter: int
    shard: str
    seq: int
    t0: float  # request sent
    t1: float  # answer received


@dataclass
class LoadProducer:
    index: int
    node: str
    next_counter: int = 0
    acks: list = field(default_factory=list)
    throttled: int = 0
    failed: list = field(default_factory=list)  # (counter, reason): outcome unknown


def run_load(client, stream: str, p: LoadProducer, stop: threading.Event, batch: int) -> None:
    while not stop.is_set():
        counters = list(range(p.next_counter, p.next_counter + batch))
        p.next_counter += batch
        entries = [{"Data": f"p{p.index}#{c}".encode(), "PartitionKey": f"p{p.index}-{c}"}
                   for c in counters]
        t0 = time.monotonic()
        try:
            resp = client.put_records(StreamName=stream, Records=entries)
        except Exception as e:  # noqa: BLE001 - outcome unknown
            p.failed.extend((c, f"{type(e).__name__}: {e}") for c in counters)
            time.sleep(0.05)
            continue
        t1 = time.monotonic()
        if len(resp["Records"]) != len(entries):
            p.failed.extend((c, f"{len(resp['Records'])} results for {len(entries)}")
                            for c in counters)
            continue
        for c, r in zip(counters, resp["Records"]):
            if r.get("ErrorCode") == THROTTLE:
                p.throttled += 1
            elif "ErrorCode" in r:
                p.failed.append((c, f"{r['ErrorCode']}: {r.get('ErrorMessage')}"))
            else:
                p.acks.append(Ack(p.index, c, r["ShardId"], int(r["SequenceNumber"]), t0, t1))


def realtime_order_violations(acks: list[Ack]) -> list[str]:
    """Within one shard: an acknowledgement received before another request was sent must
    carry a smaller sequence number (and so a generation no larger)."""
    out = []
    by_end = sorted(acks, key=lambda a: a.t1)
    i, best = 0, None
    for a in sorted(acks, key=lambda a: a.t0):
        while i < len(by_end) and by_end[i].t1 < a.t0:
            if best is None or by_end[i].seq > best.seq:
                best = by_end[i]
            i += 1
        if best is not None and a.seq <= best.seq:
            out.append(f"p{a.producer}#{a.counter} sent at {a.t0:.3f} got {seq_parts(a.seq)}, "
                       f"not above p{best.producer}#{best.counter} acknowledged earlier at "
                       f"{best.t1:.3f} as {seq_parts(best.seq)}")
    return out


def test_forced_reassignment_under_load_never_forks_a_shard(weir_cluster):
    cluster = weir_cluster
    admin = cluster.node_client("node-0")
    stream = unique_name("move")
    shards = create_stream(admin, stream, 4)
    by_id = {s["ShardId"]: s for s in shards}
    before = {sid: probe_holder(cluster, stream, sid) for sid in by_id}
    to_move = [shards[0]["ShardId"], shards[2]["ShardId"]]

    producers = [LoadProducer(i, cluster.node_ids[i % 3]) for i in range(6)]
    stop = threading.Event()
    threads = [threading.Thread(
        target=run_load, args=(cluster.node_client(p.node, read_timeout=20), stream, p, stop,
                               16), daemon=True) for p in producers]
    moves = {}  # shard -> (response, sent, returned)
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 15
        while sum(len(p.acks) for p in producers) < 400:
            assert time.monotonic() < deadline, "the load did not get going within 15 s"
            time.sleep(0.05)
        for sid in to_move:
            sent = time.monotonic()
            resp = cluster.reassign(stream, sid)
            returned = time.monotonic()
            assert resp.status_code == 200, (sid, resp.status_code, resp.text)
            moves[sid] = (resp.json(), sent, returned)
            time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a producer hung"

    acks = [a for p in producers for a in p.acks]
    failed = [(p.index, c, why) for p in producers for c, why in p.failed]
    problems = []
    if failed:
        problems.append(f"{len(failed)} records failed (outcome unknown) during the moves: "
                        f"{failed[:5]}")
    seqs = collections.Counter(a.seq for a in acks)
    forks = [s for s, n in seqs.items() if n > 1]
    if forks:
        problems.append(f"{len(forks)} sequence numbers acknowledged twice (a fork): "
                        f"{[seq_parts(s) for s in forks[:5]]}")
    per_shard: dict[str, list[Ack]] = collections.defaultdict(list)
    for a in acks:
        per_shard[a.shard].append(a)
        ordinal = seq_parts(a.seq)[0]
        if ordinal != ordinal_of(a.shard) or \
                shard_for_hash(shards, hash_key(f"p{a.producer}-{a.counter}")) != a.shard:
            problems.append(f"p{a.producer}#{a.counter} acknowledged in {a.shard} as "
                            f"{seq_parts(a.seq)}")
    assert sorted(per_shard) == sorted(by_id), sorted(per_shard)
    for sid, shard_acks in sorted(per_shard.items()):
        gens: dict[int, list[int]] = collections.defaultdict(list)
        for a in shard_acks:
            gens[seq_parts(a.seq)[1]].append(seq_parts(a.seq)[2])
        if sid in moves:
            move, _, returned = moves[sid]
            old = min(gens)
            if move["generation"] <= old or move["node"] == before[sid]:
                problems.append(f"{sid}: moved from {before[sid]} (generation {old}) to "
                                f"{move}")
            if set(gens) != {old, move["generation"]}:
                problems.append(f"{sid}: acknowledged under generations {sorted(gens)}, "
                                f"expected {old} then {move['generation']}")
            late = [a for a in shard_acks if seq_parts(a.seq)[1] < move["generation"]
                    and a.t0 > returned]
            if late:
                problems.append(
                    f"{sid}: {len(late)} writes sent after the move to {move['node']} "
                    f"returned were acknowledged under the old generation, e.g. "
                    f"{[(a.producer, a.counter, seq_parts(a.seq)) for a in late[:3]]}")
        elif len(gens) != 1:
            problems.append(f"{sid} was never moved but has generations {sorted(gens)}")
        previous_end = 0
        for g, offsets in sorted(gens.items()):
            offsets.sort()
            # The first holder's log starts at 0. A move hands the history over through the
            # cold tier, so the next holder's offsets continue after it: dense within each
            # generation, and never reusing an earlier generation's offsets.
            start = offsets[0] if previous_end else 0
            if offsets != list(range(start, start + len(offsets))) or start < previous_end:
                gaps = sorted(set(range(start, offsets[-1] + 1)) - set(offsets))
                problems.append(f"{sid} generation {g}: {len(offsets)} acknowledged offsets "
                                f"{offsets[0]}..{offsets[-1]} (previous generation ended at "
                                f"{previous_end}), missing {gaps[:10]}")
            previous_end = offsets[-1] + 1
        for v in realtime_order_violations(shard_acks)[:3]:
            problems.append(f"{sid}: {v}")
    # Each producer's later acknowledgements for a shard never go back a generation.
    for p in producers:
        last: dict[str, int] = {}
        for a in p.acks:
            g = seq_parts(a.seq)[1]
            if g < last.get(a.shard, 0):
                problems.append(f"p{p.index}: {a.shard} went back from generation "
                                f"{last[a.shard]} to {g}")
            last[a.shard] = max(g, last.get(a.shard, 0))
    assert not problems, (f"{len(problems)} problems ({len(acks)} acks, moves "
                          f"{ {s: m[0] for s, m in moves.items()} }):\n  "
                          + "\n  ".join(problems[:30]))

    # Readable from TRIM_HORIZON on every node: all of an unmoved shard, and every record
    # acknowledged under the new generation of a moved one (the old generation's records
    # stay on the old node; there is no cold tier yet).
    data_of = {a.seq: f"p{a.producer}#{a.counter}".encode() for a in acks}
    for sid, shard_acks in per_shard.items():
        floor = moves[sid][0]["generation"] if sid in moves else 0
        want = sorted((a.seq, data_of[a.seq]) for a in shard_acks
                      if seq_parts(a.seq)[1] >= floor)
        assert want, f"{sid}: nothing acknowledged under generation {floor}"
        for n in cluster.node_ids:
            got = [(int(s), d) for s, d in shard_records(cluster.node_client(n), stream, sid)]
            got_new = [x for x in got if seq_parts(x[0])[1] >= floor]
            assert got_new == want, (
                f"{sid} read through {n}: {len(got_new)} records of generation >= {floor}, "
                f"{len(want)} acknowledged; unacknowledged "
                f"{[seq_parts(s) for s, _ in sorted(set(got_new) - set(want))][:5]}, missing "
                f"{[seq_parts(s) for s, _ in sorted(set(want) - set(got_new))][:5]}")
            assert all(s in data_of and data_of[s] == d for s, d in got), (
                f"{sid} through {n}: records that were never acknowledged")
    print(f"{len(acks)} acks; moves {[m[0] for m in moves.values()]}; throttled "
          f"{sum(p.throttled for p in producers)}")


# ---- 3. node loss (kill -9) and a paused node (SIGSTOP past its lease) ------------------------
LEASE_MS = 3000


@dataclass
class ShardWriter:
    """Writes numbered records to one shard (ExplicitHashKey inside it) through one node,
    one PutRecord at a time: record n+1 is sent only after n was answered."""
    shard: str
    node: str
    hash_key: int
    next_counter: int = 0
    acks: list = field(default_factory=list)        # (counter, seq, t0, t1)
    unknown: list = field(default_factory=list)     # (counter, t0, t1, reason)


def error_of_client(e: ClientError) -> str:
    err = e.response["Error"]
    return f"{err.get('Code')}: {err.get('Message')}"


def write_shard(client, stream: str, w: ShardWriter, stop: threading.Event) -> None:
    while not stop.is_set():
        c = w.next_counter
        w.next_counter += 1
        t0 = time.monotonic()
        try:
            r = client.put_record(StreamName=stream, Data=f"{w.shard}#{c}".encode(),
                                  PartitionKey=f"k{c}", ExplicitHashKey=str(w.hash_key))
        except ClientError as e:
            if is_throttle(e):
                w.next_counter = c  # refused, so not written: send it again
                time.sleep(0.05)
                continue
            w.unknown.append((c, t0, time.monotonic(), error_of_client(e)))
            time.sleep(0.05)
            continue
        except Exception as e:  # noqa: BLE001 - outcome unknown
            w.unknown.append((c, t0, time.monotonic(), f"{type(e).__name__}: {e}"))
            time.sleep(0.05)
            continue
        w.acks.append((c, int(r["SequenceNumber"]), t0, time.monotonic()))
        if r["ShardId"] != w.shard:
            w.unknown.append((c, t0, time.monotonic(), f"acknowledged in {r['ShardId']}"))


class ShardLoad:
    """One ShardWriter per shard, through the given nodes in turn."""

    def __init__(self, cluster, stream: str, shards: list[dict], via: list[str]):
        self.writers = [ShardWriter(s["ShardId"], via[k % len(via)], inside(s, 777))
                        for k, s in enumerate(shards)]
        self.by_shard = {w.shard: w for w in self.writers}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=write_shard, args=(
            cluster.node_client(w.node, read_timeout=25), stream, w, self.stop), daemon=True)
            for w in self.writers]

    def start(self, min_acks: int = 20, within_s: float = 15.0) -> None:
        for t in self.threads:
            t.start()
        deadline = time.monotonic() + within_s
        while not all(len(w.acks) >= min_acks for w in self.writers):
            assert time.monotonic() < deadline, (
                "writers did not get going: "
                f"{[(w.shard, len(w.acks), w.unknown[:1]) for w in self.writers]}")
            time.sleep(0.05)

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in self.threads), "a writer hung"

    def last_generation(self, sid: str) -> int:
        return seq_parts(self.by_shard[sid].acks[-1][1])[1]

    def wait_resumed(self, lost: list[str], old_gen: dict, since: float,
                     within_s: float) -> dict[str, float]:
        """Seconds from `since` to the first acknowledgement under a newer generation, per
        shard (bounded by `within_s`; shards that never resumed are absent)."""
        resumed: dict[str, float] = {}
        deadline = since + within_s
        while len(resumed) < len(lost) and time.monotonic() < deadline:
            for sid in lost:
                new = [t1 for _, seq, _, t1 in list(self.by_shard[sid].acks)
                       if seq_parts(seq)[1] > old_gen[sid]]
                if new and sid not in resumed:
                    resumed[sid] = min(new) - since
            time.sleep(0.05)
        return resumed

    def problems(self, cluster, stream: str, holders: dict, lost: list[str], old_gen: dict,
                 lost_at: float, readers: list[str], victim: str) -> list[str]:
        """Everything that must hold after a node stopped serving at `lost_at`: shards on
        other nodes kept their node and every write; the lost node's shards moved to a
        reader under a newer generation and never took a write under the old one again;
        through every reader, each shard holds every acknowledged record, those written
        under the lost node's generation included (they were replicated before they were
        acknowledged), once and in order."""
        out = []
        kept = [sid for sid in holders if sid not in lost]
        for sid in sorted(holders):
            now = probe_holder(cluster, stream, sid, nodes=readers)
            if sid in kept and now != holders[sid]:
                out.append(f"{sid} moved from {holders[sid]}, which kept serving, to {now}")
        for sid in kept:
            w = self.by_shard[sid]
            if w.unknown:
                out.append(f"{sid} (on {holders[sid]}, not lost): {len(w.unknown)} writes "
                           f"failed while {victim} was gone: {w.unknown[:3]}")
            if len({seq_parts(s)[1] for _, s, _, _ in w.acks}) != 1:
                out.append(f"{sid} (never moved) was written under several generations")
        for sid in lost:
            w = self.by_shard[sid]
            gens = [seq_parts(s)[1] for _, s, _, _ in w.acks]
            if gens != sorted(gens):
                out.append(f"{sid}: generations of successive acks go backwards: {gens}")
            if not set(gens) - {old_gen[sid]}:
                out.append(f"{sid}: no generation after the move {sorted(set(gens))}")
            late = [(c, seq_parts(s)) for c, s, t0, _ in w.acks
                    if t0 > lost_at + 0.05 and seq_parts(s)[1] <= old_gen[sid]]
            if late:
                out.append(f"{sid}: writes sent after {victim} stopped serving were "
                           f"acknowledged under its generation {old_gen[sid]}: {late[:3]}")
        for n in readers:
            client = cluster.node_client(n)
            for sid in sorted(holders):
                w = self.by_shard[sid]
                floor = 0
                acked = [(c, s) for c, s, _, _ in w.acks]
                unknown = {c for c, _, _, _ in w.unknown}
                got = []
                for s, d in shard_records(client, stream, sid):
                    name, _, counter = d.decode(errors="replace").partition("#")
                    got.append((int(counter) if counter.isdigit() else -1, int(s), name))
                foreign = [x for x in got if x[2] != sid]
                if foreign:
                    out.append(f"{sid} through {n}: foreign records {foreign[:3]}")
                got = [(c, s) for c, s, name in got if seq_parts(s)[1] >= floor]
                counters = [c for c, _ in got]
                if counters != sorted(set(counters)):
                    out.append(f"{sid} through {n}: counters out of order or duplicated")
                extra = [c for c, s in got if (c, s) not in set(acked) and c not in unknown]
                missing = [c for c, s in acked if (c, s) not in set(got)]
                if extra or missing:
                    out.append(f"{sid} through {n}: {len(got)} read, {len(acked)} "
                               f"acknowledged (generation >= {floor}); missing "
                               f"{missing[:5]}, never acknowledged {extra[:5]}")
        return out


def test_node_loss_moves_its_shards_and_keeps_the_rest(weir_cluster_factory):
    cluster = weir_cluster_factory("loss", extra_args=("--lease-timeout-ms", str(LEASE_MS)))
    admin = cluster.node_client("node-0")
    stream = unique_name("loss")
    shards = create_stream(admin, stream, 6)
    holders = {s["ShardId"]: probe_holder(cluster, stream, s["ShardId"]) for s in shards}
    victim = "node-1"
    survivors = [n for n in cluster.node_ids if n != victim]
    lost = sorted(sid for sid, n in holders.items() if n == victim)
    assert lost and len(lost) < len(holders), holders

    load = ShardLoad(cluster, stream, shards, survivors)
    try:
        load.start()
        old_gen = {sid: load.last_generation(sid) for sid in lost}
        killed_at = cluster.kill_node(victim)
        assert cluster.proc.poll() is None, "weir up exited when one node was killed"
        # Writes to the lost node's shards resume under a new generation.
        resumed = load.wait_resumed(lost, old_gen, killed_at, LEASE_MS / 1000 + 15)
        time.sleep(1.0)  # and keep flowing
    finally:
        load.finish()
    limit = LEASE_MS / 1000 + 5
    assert set(resumed) == set(lost) and max(resumed.values()) <= limit, (
        f"writes to {victim}'s shards {lost} resumed after {resumed} s (limit {limit} s); "
        f"failures: { {sid: load.by_shard[sid].unknown[:2] for sid in lost} }")
    problems = load.problems(cluster, stream, holders, lost, old_gen, killed_at, survivors,
                             victim)
    assert not problems, (f"{len(problems)} problems (lost {lost}, resumed after "
                          f"{resumed}):\n  " + "\n  ".join(problems[:30]))
    print(f"{victim} killed; its shards {lost} resumed after "
          f"{ {k: round(v, 2) for k, v in resumed.items()} } s; acks "
          f"{ {w.shard: len(w.acks) for w in load.writers} }")


def test_paused_node_takes_no_write_after_its_lease_and_rejoins(weir_cluster_factory):
    """SIGSTOP a node past its lease (a long GC pause, a frozen VM): its shards move. When
    it wakes up, requests that reached it while it slept, and stale ones after, are refused;
    it then serves again as a router."""
    cluster = weir_cluster_factory("pause", extra_args=("--lease-timeout-ms", str(LEASE_MS)))
    admin = cluster.node_client("node-0")
    stream = unique_name("pause")
    shards = create_stream(admin, stream, 6)
    by_id = {s["ShardId"]: s for s in shards}
    holders = {sid: probe_holder(cluster, stream, sid) for sid in by_id}
    victim = "node-1"
    others = [n for n in cluster.node_ids if n != victim]
    lost = sorted(sid for sid, n in holders.items() if n == victim)
    assert lost, holders
    victim_url = cluster.node_urls[victim]
    pid = cluster.node_pid(victim)
    assert pid, f"no process for {victim}"

    load = ShardLoad(cluster, stream, shards, others)
    stale_answers: dict[str, object] = {}
    paused = False
    try:
        load.start()
        old_gen = {sid: load.last_generation(sid) for sid in lost}
        paused_at = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        paused = True
        resumed = load.wait_resumed(lost, old_gen, paused_at, LEASE_MS / 1000 + 15)
        assert set(resumed) == set(lost), (
            f"writes to paused {victim}'s shards {lost} never resumed: {resumed}")
        slow = max(resumed.values()) > LEASE_MS / 1000 + 5  # reported with the rest below

        # Writes under the generation it held reach it while it sleeps; it wakes up.
        def stale(sid):
            stale_answers[sid] = put_raw(victim_url, stream, inside(by_id[sid], 5),
                                         f"zombie-{sid}".encode(), generation=old_gen[sid])
        senders = [threading.Thread(target=stale, args=(sid,), daemon=True) for sid in lost]
        for t in senders:
            t.start()
        time.sleep(0.3)
        os.kill(pid, signal.SIGCONT)
        paused = False
        for t in senders:
            t.join(timeout=20)
        time.sleep(1.0)
    finally:
        if paused:
            os.kill(pid, signal.SIGCONT)
        load.finish()
    for sid in lost:
        r = stale_answers.get(sid)
        assert r is not None and r.status != 200, (
            f"{victim}, woken up after its lease ran out, answered a write to {sid} under "
            f"its old generation {old_gen[sid]}: {r and r.describe()}")
    for sid in lost:
        r = put_raw(victim_url, stream, inside(by_id[sid], 6), b"zombie-late", old_gen[sid])
        assert r.status == 500 and NOT_HOLDER in (r.message or ""), r.describe()
    problems = load.problems(cluster, stream, holders, lost, old_gen, paused_at, others,
                             victim)
    if slow:
        problems.insert(0, (
            f"writes to paused {victim}'s shards {lost} resumed only after {resumed} s "
            f"(limit {LEASE_MS / 1000 + 5} s); failed writes (sent, answered, in seconds after "
            f"the pause): " + "; ".join(
                f"{sid} #{c} {t0 - paused_at:.2f}->{t1 - paused_at:.2f} {why}"
                for sid in lost for c, t0, t1, why in load.by_shard[sid].unknown[:2])))
    # Awake again, it routes: a client write through it lands on the shard's new holder.
    client = cluster.node_client(victim, read_timeout=20)
    for sid in lost:
        try:
            r = client.put_record(StreamName=stream, Data=b"via-woken", PartitionKey="w",
                                  ExplicitHashKey=str(inside(by_id[sid], 9)))
        except ClientError as e:
            problems.append(f"PutRecord through woken {victim} to {sid}: {error_of_client(e)}")
            continue
        if r["ShardId"] != sid or seq_parts(r["SequenceNumber"])[1] <= old_gen[sid]:
            problems.append(f"write through woken {victim} to {sid}: {r['ShardId']} "
                            f"{seq_parts(r['SequenceNumber'])}")
    for n in cluster.node_ids:
        for sid in lost:
            data = [d for _, d in shard_records(cluster.node_client(n), stream, sid)]
            if any(d.startswith(b"zombie") for d in data):
                problems.append(f"{sid} through {n}: a refused stale write was stored")
    assert not problems, (f"{len(problems)} problems (lost {lost}, resumed after "
                          f"{resumed}):\n  " + "\n  ".join(problems[:30]))
    print(f"{victim} paused; its shards {lost} resumed after "
          f"{ {k: round(v, 2) for k, v in resumed.items()} } s; stale answers "
          f"{ {k: (v.status, v.message) for k, v in stale_answers.items()} }")


# ---- 4. management through a node ---------------------------------------------------------
VISIBLE_WITHIN_S = 1.5


def poll(what: str, attempt, within_s: float = VISIBLE_WITHIN_S):
    """Calls attempt() until it returns a truthy value; returns (value, seconds taken)."""
    start = time.monotonic()
    last = None
    while True:
        try:
            value = attempt()
            if value:
                return value, time.monotonic() - start
            last = value
        except ClientError as e:
            last = error_of_client(e)
        if time.monotonic() - start > within_s:
            raise AssertionError(f"{what}: not within {within_s} s (last: {last})")
        time.sleep(0.05)


def stream_folders(cluster) -> set[str]:
    """`<node>/<stream uid>` for every stream folder in the nodes' data dirs."""
    root = cluster.data_dir / "nodes"
    return {f"{node.name}/{d.name}" for node in root.iterdir() if node.is_dir()
            for d in (node / "streams").glob("*")} if root.exists() else set()


def test_management_through_a_node_is_visible_on_every_node(weir_cluster):
    cluster = weir_cluster
    n0, n1, n2 = (cluster.node_client(n) for n in cluster.node_ids)
    stream = unique_name("mgmt")
    folders_before = stream_folders(cluster)
    n2.create_stream(StreamName=stream, ShardCount=6)
    created = time.monotonic()
    # Read-your-writes on the node that handled it.
    desc = n2.describe_stream(StreamName=stream)["StreamDescription"]
    assert desc["StreamName"] == stream and desc["StreamStatus"] in ("CREATING", "ACTIVE"), desc
    n2.get_waiter("stream_exists").wait(StreamName=stream,
                                        WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    active = time.monotonic()
    shards = list_all_shards(n2, stream)
    assert len(shards) == 6
    # Once node-2 said ACTIVE, node-2 takes records for every shard at once, whichever
    # node holds the shard (most are held by the other two nodes).
    refused = {}
    for s in shards:
        try:
            r = n2.put_record(StreamName=stream, Data=b"via-node-2", PartitionKey="a",
                              ExplicitHashKey=str(inside(s, 1)))
            assert r["ShardId"] == s["ShardId"], r
        except ClientError as e:
            refused[s["ShardId"]] = (round(time.monotonic() - active, 3), error_of_client(e))
    if refused:
        holders = {sid: probe_holder(cluster, stream, sid) for sid in refused}
        raise AssertionError(
            f"PutRecord through node-2, right after DescribeStream through node-2 said "
            f"{stream} is ACTIVE, refused for {refused} (seconds after ACTIVE, error); the "
            f"shards' holders: {holders}")
    holders = {s["ShardId"]: probe_holder(cluster, stream, s["ShardId"]) for s in shards}
    assert set(holders.values()) != {"node-2"}, holders
    # Visible through node-0 right after (poll, bounded), records too.
    poll("DescribeStream through node-0", lambda: n0.describe_stream(
        StreamName=stream)["StreamDescription"]["StreamName"] == stream)
    lags = {"describe node-0 after create": time.monotonic() - created}
    for name, client in (("node-0", n0), ("node-1", n1)):
        _, lags[f"put {name}"] = poll(
            f"PutRecord through {name} after CreateStream through node-2",
            lambda c=client, nm=name: c.put_record(StreamName=stream, Data=nm.encode(),
                                                   PartitionKey="a")["SequenceNumber"])
    got = sorted(rec["Data"] for s in shards for rec in read_shard(n0, stream, s["ShardId"]))
    assert got == sorted([b"via-node-2"] * 6 + [b"node-0", b"node-1"]), got

    # A second CreateStream of the same name through another node: AWS's error.
    try:
        n1.create_stream(StreamName=stream, ShardCount=1)
        raise AssertionError("CreateStream of an existing stream succeeded through node-1")
    except ClientError as e:
        code, message = e.response["Error"]["Code"], e.response["Error"]["Message"]
        assert code == "ResourceInUseException" and stream in message, (code, message)
    listed, _ = poll("ListStreams through node-1", lambda: stream in n1.list_streams(
        Limit=10000)["StreamNames"])

    # DeleteStream through node-2: gone through node-2 at once, everywhere soon after.
    n2.delete_stream(StreamName=stream)
    deleted = time.monotonic()

    def gone(client) -> bool:
        try:
            status = client.describe_stream(StreamName=stream)["StreamDescription"][
                "StreamStatus"]
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceNotFoundException", e.response
            return True
        assert status == "DELETING", status
        return False

    gone(n2)  # at once through the handling node: not found, or DELETING
    poll("DescribeStream through node-2 after DeleteStream", lambda: gone(n2))
    poll("DescribeStream through node-0 after DeleteStream", lambda: gone(n0))
    poll("ListStreams through node-1 after DeleteStream",
         lambda: stream not in n1.list_streams(Limit=10000)["StreamNames"])

    def put_refused(client) -> bool:
        try:
            client.put_record(StreamName=stream, Data=b"after-delete", PartitionKey="a")
        except ClientError as e:
            return e.response["Error"]["Code"] == "ResourceNotFoundException"
        return False

    for name, client in (("node-0", n0), ("node-1", n1), ("node-2", n2)):
        _, lags[f"put refused {name}"] = poll(f"PutRecord through {name} after DeleteStream",
                                              lambda c=client: put_refused(c))
    assert time.monotonic() - deleted < 10
    # Every node dropped the deleted stream's data.
    poll("nodes dropping the deleted stream's folders",
         lambda: stream_folders(cluster) <= folders_before, within_s=5)

    # Recreated under the same name through node-1: empty on every node.
    n1.create_stream(StreamName=stream, ShardCount=1)
    n1.get_waiter("stream_exists").wait(StreamName=stream,
                                        WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    sid = list_all_shards(n1, stream)[0]["ShardId"]
    for name, client in (("node-0", n0), ("node-2", n2)):
        recs, _ = poll(f"GetShardIterator through {name} on the recreated stream",
                       lambda c=client: [read_shard(c, stream, sid)])
        assert recs == [[]], f"recreated {stream} not empty through {name}: {recs}"
    print(f"visibility lags {lags}")


# ---- 5. resharding in cluster mode ----------------------------------------------------------
def test_update_shard_count_through_a_node_under_load_keeps_per_key_order(weir_cluster):
    cluster = weir_cluster
    via = cluster.node_client("node-1")
    stream = unique_name("reshard")
    create_stream(via, stream, 4)
    producers = [Producer(i, [f"p{i}-k{j}" for j in range(10)], batch=(i % 2 == 0))
                 for i in range(10)]
    stop = threading.Event()
    threads = [threading.Thread(target=produce, args=(
        cluster.node_client(cluster.node_ids[i % 3], read_timeout=20), stream, p, stop),
        daemon=True) for i, p in enumerate(producers)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 15
        while not all(p.acked_count() >= 30 or p.errors for p in producers):
            assert time.monotonic() < deadline, "producers did not get going within 15 s"
            time.sleep(0.05)
        before = sum(p.acked_count() for p in producers)
        resp = via.update_shard_count(StreamName=stream, TargetShardCount=8,
                                      ScalingType="UNIFORM_SCALING")
        assert (resp["CurrentShardCount"], resp["TargetShardCount"]) == (4, 8), resp
        wait_active(via, stream)
        during = sum(p.acked_count() for p in producers)
        time.sleep(1.0)
        after = sum(p.acked_count() for p in producers)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a producer hung"
    assert after > during >= before > 0, (before, during, after)

    shards = describe_all_shards(cluster.node_client("node-2"), stream)
    check_lineage(shards, "after UpdateShardCount 4->8")
    assert len(open_shards(shards)) == 8 and len(shards) == 12, [s["ShardId"] for s in shards]
    # Every shard, closed parents included, has a node.
    holders = {s["ShardId"]: probe_holder(cluster, stream, s["ShardId"]) for s in shards}

    problems = [f"p{p.index}: {e}" for p in producers for e in p.errors]
    codes = collections.Counter()
    for p in producers:
        codes.update(p.rejected)
    if set(codes) - {THROTTLE}:
        problems.append(f"records refused during the reshard: {dict(codes)}")
    for reader in ("node-0", "node-2"):
        lineage = read_by_lineage(cluster.node_client(reader), stream, deadline_s=40)
        check_read(lineage, shards, f"lineage walk through {reader}")
        seen: dict[str, list] = collections.defaultdict(list)
        for sid in lineage.order:
            for r in lineage.records[sid]:
                m = PAYLOAD_RE.match(r["Data"].decode(errors="replace"))
                if not m or m.group(1) != r["PartitionKey"]:
                    problems.append(f"{reader} {sid}: foreign record {r['Data'][:60]!r}")
                    continue
                seen[m.group(1)].append((int(m.group(2)), sid, r["SequenceNumber"]))
        crossed = 0
        for p in producers:
            for key in p.keys:
                acks = p.acked[key]
                got = [(c, sid, seq) for c, sid, seq in seen[key]]
                if got != list(acks):
                    counters = [c for c, _, _ in got]
                    dups = sorted(c for c, n in collections.Counter(counters).items() if n > 1)
                    lost = sorted(set(range(len(acks))) - set(counters))
                    problems.append(f"{reader} {key}: read {len(got)}, acknowledged "
                                    f"{len(acks)}; duplicated {dups[:5]}, lost {lost[:5]}; "
                                    f"first read {got[:2]} acked {list(acks)[:2]}")
                if len({sid for _, sid, _ in acks}) >= 2:
                    crossed += 1
        if crossed < len(producers) * 5:
            problems.append(f"only {crossed} keys were written both before and after the "
                            f"reshard")
    assert not problems, (f"{len(problems)} problems (acks before/during/after "
                          f"{before}/{during}/{after}, refusals {dict(codes)}):\n  "
                          + "\n  ".join(problems[:30]))
    print(f"{after} acks; placement {dict(collections.Counter(holders.values()))}")


# ---- internal traffic is authenticated ------------------------------------------------------
def test_internal_api_refuses_calls_without_a_valid_cluster_token(weir_cluster):
    cluster = weir_cluster
    client = cluster.client()
    stream = unique_name("internal")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    sid = "shardId-000000000000"
    holder = probe_holder(cluster, stream, sid)
    url = cluster.node_urls[holder]
    body = {"StreamName": stream, "PartitionKey": "pk",
            "Data": base64.b64encode(b"x").decode()}
    forged = {"no token": {},
              "wrong secret": {INTERNAL_HEADER: internal_token("not-the-secret")},
              "stale token": {INTERNAL_HEADER: internal_token(at=time.time() - 600)}}
    for name, extra in forged.items():
        headers = {GENERATION_HEADER: "999999", **extra}
        r = wire_call(url, "PutRecord", body, headers=headers)
        assert r.status == 400 and r.error_type == "AccessDeniedException", (name, r.describe())
        seal = requests.post(f"{url}/internal/v1/seal", headers=extra, timeout=10,
                             json={"stream_uid": 1, "ordinal": 0, "generation": 1,
                                   "sealed": True})
        assert seal.status_code == 401, (name, seal.status_code, seal.text)
        for path in ("/internal/v1/heartbeat", "/internal/v1/reassign",
                     "/internal/v1/tier/segments", "/internal/v1/kinesis"):
            r = requests.post(f"{cluster.rest_url}{path}", json={}, headers=extra, timeout=10)
            assert r.status_code == 401, (name, path, r.status_code, r.text)
    # Nothing forged was written; ordinary clients are unaffected.
    assert shard_records(client, stream, sid) == []
    client.put_record(StreamName=stream, PartitionKey="pk", Data=b"ok")
    assert [d for _, d in shard_records(client, stream, sid)] == [b"ok"]
