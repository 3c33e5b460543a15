"""Resharding end to end: per-key order across SplitShard / MergeShards / UpdateShardCount
under live load, lineage and ChildShards, ListShards filters, AWS's errors for bad
reshard requests (and nothing half-applied), registered consumers, and lineage surviving
kill -9.

The consumer used throughout (`read_by_lineage` in weirtest.py) follows lineage the way
the KCL does: it starts from the shards whose parents ListShards no longer lists, reads a
closed shard until NextShardIterator is null, learns the children from ChildShards, and
reads a child only after every parent has been read fully.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import threading
import time
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError

from weirtest import (ACCOUNT_ID, MAX_HASH_KEY, assert_open_shards_tile, create_stream,
                      describe_all_shards, error_of, hash_key, is_closed, list_all_shards,
                      make_client, open_shards, parents_of, read_by_lineage, unique_name,
                      wait_active)

SEQ_RE = re.compile(r"^(0|[1-9]\d{0,128})$")
SHARD_ID_RE = re.compile(r"^shardId-\d{12}$")

PRODUCERS = 10
KEYS_PER_PRODUCER = 20
LOAD_BETWEEN_STEPS_S = 0.7
PAYLOAD_RE = re.compile(r"^(p\d+-k\d+)#(\d+)$")


# ---- lineage invariants ---------------------------------------------------------------------
def rng(shard: dict) -> tuple[int, int]:
    return (int(shard["HashKeyRange"]["StartingHashKey"]),
            int(shard["HashKeyRange"]["EndingHashKey"]))


def start_seq(shard: dict) -> int:
    return int(shard["SequenceNumberRange"]["StartingSequenceNumber"])


def end_seq(shard: dict) -> int:
    return int(shard["SequenceNumberRange"]["EndingSequenceNumber"])


def children_map(shards: list[dict]) -> dict[str, list[dict]]:
    kids: dict[str, list[dict]] = collections.defaultdict(list)
    for s in shards:
        for p in parents_of(s):
            kids[p].append(s)
    return kids


def check_lineage(shards: list[dict], context: str) -> None:
    """Everything DescribeStream/ListShards must say about a resharded stream."""
    ids = [s["ShardId"] for s in shards]
    assert len(set(ids)) == len(ids), f"{context}: a shard is listed twice: {ids}"
    assert ids == sorted(ids), f"{context}: shards not listed in id order: {ids}"
    by_id = {s["ShardId"]: s for s in shards}
    assert_open_shards_tile(shards, context)
    for s in shards:
        sid = s["ShardId"]
        assert SHARD_ID_RE.match(sid), f"{context}: {sid}"
        assert SEQ_RE.match(s["SequenceNumberRange"]["StartingSequenceNumber"]), (context, s)
        lo, hi = rng(s)
        assert 0 <= lo <= hi <= MAX_HASH_KEY, f"{context}: {sid} range {lo}..{hi}"
        if is_closed(s):
            assert SEQ_RE.match(s["SequenceNumberRange"]["EndingSequenceNumber"]), (context, s)
            assert end_seq(s) >= start_seq(s), f"{context}: {sid} ends before it starts: {s}"
        if s.get("AdjacentParentShardId"):
            assert s.get("ParentShardId"), f"{context}: {sid} has an adjacent parent only"
        for p in parents_of(s):
            assert p in by_id, f"{context}: {sid} names parent {p}, which is not listed"
            assert p < sid, f"{context}: parent {p} is not older than its child {sid}"
            parent = by_id[p]
            assert is_closed(parent), f"{context}: {p}, parent of {sid}, is still open"
            assert start_seq(s) > end_seq(parent), (
                f"{context}: child {sid} starts at sequence number {start_seq(s)}, not above "
                f"parent {p}'s EndingSequenceNumber {end_seq(parent)}")
    kids = children_map(shards)
    for s in shards:
        if not is_closed(s):
            continue
        sid, (lo, hi) = s["ShardId"], rng(s)
        children = kids.get(sid, [])
        assert children, f"{context}: closed shard {sid} has no child"
        merged = [c for c in children if len(parents_of(c)) == 2]
        if merged:
            assert len(children) == 1, (
                f"{context}: {sid} is a parent of a merge and of other shards: "
                f"{[c['ShardId'] for c in children]}")
            child = merged[0]
            a, b = (by_id[p] for p in parents_of(child))
            (alo, ahi), (blo, bhi) = rng(a), rng(b)
            assert ahi + 1 == blo or bhi + 1 == alo, (
                f"{context}: {child['ShardId']} merges non-adjacent {a['ShardId']} "
                f"{rng(a)} and {b['ShardId']} {rng(b)}")
            assert rng(child) == (min(alo, blo), max(ahi, bhi)), (
                f"{context}: merged {child['ShardId']} range {rng(child)} is not the union "
                f"of its parents' {rng(a)} {rng(b)}")
        else:
            ranges = sorted(rng(c) for c in children)
            assert len(children) == 2, (
                f"{context}: split {sid} has {len(children)} children, not 2: "
                f"{[c['ShardId'] for c in children]}")
            assert ranges[0][0] == lo and ranges[-1][1] == hi and \
                ranges[0][1] + 1 == ranges[1][0], (
                    f"{context}: children of split {sid} {ranges} do not tile its range "
                    f"{(lo, hi)}")


def check_read(lineage, shards: list[dict], context: str) -> None:
    """What a lineage walk read agrees with DescribeStream: every shard was reached,
    ChildShards at each closed shard's end name exactly its children, and each shard's
    records are in order, within its sequence range and its hash-key range."""
    by_id = {s["ShardId"]: s for s in shards}
    assert not lineage.unread, (
        f"{context}: the lineage walk never reached {lineage.unread} (read order "
        f"{lineage.order}; ChildShards seen {lineage.children})")
    assert set(lineage.order) == set(by_id), (context, lineage.order, sorted(by_id))
    kids = children_map(shards)
    for sid, child_shards in lineage.children.items():
        got = {c["ShardId"]: c for c in child_shards}
        want = {c["ShardId"]: c for c in kids.get(sid, [])}
        assert set(got) == set(want), (
            f"{context}: ChildShards at the end of {sid} = {sorted(got)}, DescribeStream "
            f"lists children {sorted(want)}")
        for cid, c in got.items():
            assert set(c["ParentShards"]) == set(parents_of(want[cid])), (
                f"{context}: ChildShards entry {c} of {sid}: parents differ from "
                f"DescribeStream {parents_of(want[cid])}")
            assert c["HashKeyRange"] == want[cid]["HashKeyRange"], (context, sid, c)
    for sid in lineage.order:
        shard = by_id[sid]
        lo, hi = rng(shard)
        seqs = [int(r["SequenceNumber"]) for r in lineage.records[sid]]
        assert all(a < b for a, b in zip(seqs, seqs[1:])), (
            f"{context}: sequence numbers of {sid} not strictly increasing")
        for r in lineage.records[sid]:
            seq = int(r["SequenceNumber"])
            assert seq >= start_seq(shard), (
                f"{context}: {sid} holds {seq}, below its StartingSequenceNumber "
                f"{start_seq(shard)}")
            if is_closed(shard):
                assert seq <= end_seq(shard), (
                    f"{context}: closed {sid} holds {seq}, above its EndingSequenceNumber "
                    f"{end_seq(shard)}")
            hk = hash_key(r["PartitionKey"])  # callers write no ExplicitHashKey
            assert lo <= hk <= hi, (
                f"{context}: record {r['PartitionKey']!r} (hash {hk}) stored in {sid} "
                f"whose range is {lo}..{hi}")
    # Parents were read before children (the walk guarantees it; assert the outcome).
    pos = {sid: i for i, sid in enumerate(lineage.order)}
    for s in shards:
        for p in parents_of(s):
            assert pos[p] < pos[s["ShardId"]], (context, lineage.order)


def shard_ids(shards: list[dict]) -> list[str]:
    return [s["ShardId"] for s in shards]


def list_ids(client, **kwargs) -> list[str]:
    """ListShards with the given arguments, all pages, as shard ids."""
    ids, token = [], None
    deadline = time.monotonic() + 20
    while True:
        assert time.monotonic() < deadline, f"ListShards {kwargs} did not finish paginating"
        resp = client.list_shards(NextToken=token) if token else client.list_shards(**kwargs)
        ids += shard_ids(resp["Shards"])
        token = resp.get("NextToken")
        if not token:
            return ids


# ---- 1. per-key order across resharding under load ------------------------------------------
@dataclass
class Producer:
    """Writes numbered records for its keys; a key's record n+1 is sent only after n was
    acknowledged, so per-key acknowledgement order is the order the stream must keep."""
    index: int
    keys: list[str]
    batch: bool  # PutRecords (one record per key per call) or PutRecord round-robin
    next_counter: dict = field(default_factory=dict)
    acked: dict = field(default_factory=lambda: collections.defaultdict(list))
    rejected: collections.Counter = field(default_factory=collections.Counter)
    errors: list = field(default_factory=list)

    def __post_init__(self):
        self.next_counter = {k: 0 for k in self.keys}

    def acked_count(self) -> int:
        return sum(len(v) for v in self.acked.values())


def record_data(key: str, counter: int) -> bytes:
    return f"{key}#{counter}".encode()


def produce(client, stream: str, p: Producer, stop: threading.Event) -> None:
    turn = 0
    try:
        while not stop.is_set():
            if p.batch:
                batch = [(k, p.next_counter[k]) for k in p.keys]
                resp = client.put_records(StreamName=stream, Records=[
                    {"Data": record_data(k, c), "PartitionKey": k} for k, c in batch])
                if len(resp["Records"]) != len(batch):
                    p.errors.append(f"{len(resp['Records'])} results for {len(batch)} records")
                    return
                failed = 0
                for (k, c), r in zip(batch, resp["Records"]):
                    if "ErrorCode" in r:
                        failed += 1
                        p.rejected[r["ErrorCode"]] += 1
                    else:
                        p.acked[k].append((c, r["ShardId"], r["SequenceNumber"]))
                        p.next_counter[k] = c + 1
                if resp.get("FailedRecordCount", 0) != failed:
                    p.errors.append(f"FailedRecordCount {resp.get('FailedRecordCount')} but "
                                    f"{failed} records carry an ErrorCode")
                if failed:
                    time.sleep(0.05)
            else:
                k = p.keys[turn % len(p.keys)]
                turn += 1
                c = p.next_counter[k]
                try:
                    r = client.put_record(StreamName=stream, Data=record_data(k, c),
                                          PartitionKey=k)
                except ClientError as e:
                    if e.response["Error"]["Code"] == "ProvisionedThroughputExceededException":
                        p.rejected[e.response["Error"]["Code"]] += 1
                        time.sleep(0.05)
                        continue
                    raise
                p.acked[k].append((c, r["ShardId"], r["SequenceNumber"]))
                p.next_counter[k] = c + 1
    except Exception as e:  # noqa: BLE001 - the outcome of this request is unknown
        p.errors.append(f"{type(e).__name__}: {e}")


@pytest.mark.parametrize("server_fixture", ["weir", "weir_delayed"])
def test_per_key_order_across_split_merge_double_halve(request, server_fixture):
    server = request.getfixturevalue(server_fixture)
    client = server.client()
    stream = unique_name("order")
    create_stream(client, stream, 4)

    producers = [Producer(i, [f"p{i}-k{j}" for j in range(KEYS_PER_PRODUCER)],
                          batch=(i % 2 == 0)) for i in range(PRODUCERS)]
    stop = threading.Event()
    threads = [threading.Thread(
        target=produce, args=(make_client(server.kinesis_url, read_timeout=10), stream, p, stop),
        daemon=True) for p in producers]
    progress = []  # (step, acked before the call, acked when ACTIVE again)

    def acked() -> int:
        return sum(p.acked_count() for p in producers)

    def step(name, call):
        time.sleep(LOAD_BETWEEN_STEPS_S)
        before = acked()
        call()
        wait_active(client, stream)
        progress.append((name, before, acked()))
        check_lineage(describe_all_shards(client, stream), f"after {name}")

    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 15
        while not all(p.acked_count() >= 50 or p.errors for p in producers):
            assert time.monotonic() < deadline, "producers did not get going within 15 s"
            time.sleep(0.05)
        layout = sorted(open_shards(list_all_shards(client, stream)), key=rng)
        first, (lo, hi) = layout[0]["ShardId"], rng(layout[0])
        # Split off a third of the first shard: an uneven layout, so that doubling
        # afterwards needs splits then merges (short-lived shards).
        step("SplitShard", lambda: client.split_shard(
            StreamName=stream, ShardToSplit=first,
            NewStartingHashKey=str(lo + (hi - lo + 1) // 3)))
        layout = sorted(open_shards(list_all_shards(client, stream)), key=rng)
        step("MergeShards", lambda: client.merge_shards(
            StreamName=stream, ShardToMerge=layout[-2]["ShardId"],
            AdjacentShardToMerge=layout[-1]["ShardId"]))
        assert len(open_shards(list_all_shards(client, stream))) == 4
        step("UpdateShardCount 4->8", lambda: client.update_shard_count(
            StreamName=stream, TargetShardCount=8, ScalingType="UNIFORM_SCALING"))
        assert len(open_shards(list_all_shards(client, stream))) == 8
        step("UpdateShardCount 8->4", lambda: client.update_shard_count(
            StreamName=stream, TargetShardCount=4, ScalingType="UNIFORM_SCALING"))
        assert len(open_shards(list_all_shards(client, stream))) == 4
        time.sleep(LOAD_BETWEEN_STEPS_S)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "a producer hung"
    final_acked = acked()

    shards = describe_all_shards(client, stream)
    check_lineage(shards, "after the load")
    lineage = read_by_lineage(client, stream, deadline_s=40)
    check_read(lineage, shards, "lineage walk")

    problems = []
    errors = [f"p{p.index}: {e}" for p in producers for e in p.errors]
    if errors:
        problems.append(f"{len(errors)} producer requests failed: {errors[:5]}")
    codes = collections.Counter()
    for p in producers:
        codes.update(p.rejected)
    if set(codes) - {"ProvisionedThroughputExceededException"}:
        problems.append(f"records refused during resharding with {dict(codes)}")

    # What the consumer saw, per key, in the order it read.
    seen: dict[str, list[tuple[int, str, str]]] = collections.defaultdict(list)
    for sid in lineage.order:
        for r in lineage.records[sid]:
            m = PAYLOAD_RE.match(r["Data"].decode(errors="replace"))
            if not m or m.group(1) != r["PartitionKey"]:
                problems.append(f"{sid}: foreign record {r['PartitionKey']!r} {r['Data'][:60]!r}")
                continue
            seen[m.group(1)].append((int(m.group(2)), sid, r["SequenceNumber"]))
    for p in producers:
        for key in p.keys:
            acks = p.acked[key]
            want = list(range(len(acks)))
            assert [c for c, _, _ in acks] == want  # by construction
            got = [c for c, _, _ in seen[key]]
            if got != want:
                dups = sorted(c for c, n in collections.Counter(got).items() if n > 1)
                lost = sorted(set(want) - set(got))
                extra = sorted(set(got) - set(want))
                bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                           min(len(got), len(want)))
                problems.append(
                    f"{key}: read {len(got)} records, {len(want)} acknowledged; "
                    f"duplicated {dups[:5]}, lost {lost[:5]}, never acknowledged {extra[:5]}; "
                    f"first difference at position {bad}: read "
                    f"{seen[key][max(0, bad - 2):bad + 3]} acked {acks[max(0, bad - 2):bad + 3]}")
                continue
            for (c, ack_shard, ack_seq), (_, sid, seq) in zip(acks, seen[key]):
                if (ack_shard, ack_seq) != (sid, seq):
                    problems.append(f"{key}#{c}: acknowledged as {ack_shard} {ack_seq}, found "
                                    f"in {sid} at {seq}")
                    break
            if len({sid for _, sid, _ in acks}) < 2:
                problems.append(f"{key}: all {len(acks)} acknowledged writes went to one shard;"
                                f" the load did not cross a reshard")
    assert not problems, (f"{len(problems)} problems ({final_acked} records acknowledged, "
                          f"progress {progress}, refusals {dict(codes)}):\n  "
                          + "\n  ".join(problems[:30]))
    # The load was live before and during every step.
    for name, before, after in progress:
        assert before > 0 and after >= before, progress
    for (n1, _, after1), (n2, before2, _) in zip(progress, progress[1:]):
        assert before2 > after1, f"no write acknowledged between {n1} and {n2}: {progress}"
    assert final_acked > 2000, f"only {final_acked} records acknowledged: too little load"
    written_shards = {sid for p in producers for acks in p.acked.values()
                      for _, sid, _ in acks}
    assert len(written_shards) >= 10, sorted(written_shards)
    print(f"{final_acked} records acknowledged over {len(written_shards)} shards; "
          f"refusals {dict(codes)}; steps {progress}")


# ---- 2. lineage, ChildShards, ListShards filters --------------------------------------------
def test_lineage_child_shards_and_list_shards_filters(kinesis):
    client = kinesis
    stream = unique_name("lineage")
    create_stream(client, stream, 3)
    arn = client.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["StreamARN"]
    acks = []

    def put_some(tag):
        resp = client.put_records(StreamName=stream, Records=[
            {"Data": f"{tag}-{i}".encode(), "PartitionKey": f"{tag}-{i}"} for i in range(60)])
        assert resp.get("FailedRecordCount", 0) == 0, resp
        shards = list_all_shards(client, stream)
        live = {s["ShardId"]: s for s in open_shards(shards)}
        for i, r in enumerate(resp["Records"]):
            assert r["ShardId"] in live, (
                f"{tag}-{i} acknowledged in {r['ShardId']}, which is not open: "
                f"{sorted(live)}")
            lo, hi = rng(live[r["ShardId"]])
            assert lo <= hash_key(f"{tag}-{i}") <= hi, (tag, i, r)
            acks.append((f"{tag}-{i}", r["ShardId"], r["SequenceNumber"]))

    history = []  # (label, time after the step, open ids then, all ids then)

    def settle(label):
        summary = wait_active(client, stream)
        shards = describe_all_shards(client, stream)
        check_lineage(shards, label)
        opened = shard_ids(open_shards(shards))
        assert summary["OpenShardCount"] == len(opened), (label, summary, opened)
        assert list_ids(client, StreamName=stream,
                        ShardFilter={"Type": "AT_LATEST"}) == opened, label
        time.sleep(0.03)
        history.append((label, dt.datetime.now(dt.timezone.utc), opened, shard_ids(shards)))
        time.sleep(0.03)
        put_some(label.split()[0])
        return shards

    put_some("initial")
    settle("created")
    shards = list_all_shards(client, stream)
    middle = sorted(shards, key=rng)[1]
    lo, hi = rng(middle)
    client.split_shard(StreamName=stream, ShardToSplit=middle["ShardId"],
                       NewStartingHashKey=str(lo + (hi - lo + 1) // 3))
    shards = settle("split")
    layout = sorted(open_shards(shards), key=rng)
    # Merge the first shard with the lower child of the split. Kinesis wants the shard to
    # merge directly below the adjacent one: the pair given the other way round is refused.
    with pytest.raises(ClientError) as raised:
        client.merge_shards(StreamName=stream, ShardToMerge=layout[1]["ShardId"],
                            AdjacentShardToMerge=layout[0]["ShardId"])
    assert raised.value.response["Error"]["Code"] == "InvalidArgumentException"
    assert raised.value.response["Error"]["Message"] == (
        f"Shards {layout[1]['ShardId']} and {layout[0]['ShardId']} in stream {stream} under "
        f"account {ACCOUNT_ID} are not an adjacent pair of shards eligible for merging")
    client.merge_shards(StreamName=stream, ShardToMerge=layout[0]["ShardId"],
                        AdjacentShardToMerge=layout[1]["ShardId"])
    shards = settle("merge")
    merged = shards[-1]
    assert (merged.get("ParentShardId"), merged.get("AdjacentParentShardId")) == (
        layout[0]["ShardId"], layout[1]["ShardId"]), merged
    for target, label in ((6, "double 3->6"), (4, "scale 6->4"), (2, "halve 4->2"),
                          (3, "scale 2->3")):
        current = len(open_shards(shards))
        resp = client.update_shard_count(StreamName=stream, TargetShardCount=target,
                                         ScalingType="UNIFORM_SCALING")
        assert (resp["StreamName"], resp["CurrentShardCount"], resp["TargetShardCount"]) == (
            stream, current, target), resp
        shards = settle(label)
        opened = sorted(open_shards(shards), key=rng)
        assert len(opened) == target, (label, shard_ids(opened))
        width = (MAX_HASH_KEY + 1) // target
        for s in opened:
            assert abs((rng(s)[1] - rng(s)[0] + 1) - width) <= target, (
                f"{label}: UNIFORM_SCALING left uneven shard {s['ShardId']} {rng(s)}")

    all_ids = shard_ids(shards)
    assert len(all_ids) > 12, all_ids
    # Pagination with MaxResults=1 walks every shard, in order, exactly once.
    walked, token, pages = [], None, 0
    while True:
        resp = (client.list_shards(NextToken=token, MaxResults=1) if token
                else client.list_shards(StreamName=stream, MaxResults=1))
        pages += 1
        assert len(resp["Shards"]) <= 1 and pages <= len(all_ids) + 1, resp
        walked += shard_ids(resp["Shards"])
        token = resp.get("NextToken")
        if not token:
            break
    assert walked == all_ids, f"MaxResults=1 pagination walked {walked}, not {all_ids}"
    assert list_ids(client, StreamARN=arn, ShardFilter={"Type": "AT_LATEST"}) == history[-1][2]
    assert list_ids(client, StreamName=stream,
                    ShardFilter={"Type": "FROM_TRIM_HORIZON"}) == all_ids
    for i, sid in enumerate(all_ids):
        assert list_ids(client, StreamName=stream, ShardFilter={
            "Type": "AFTER_SHARD_ID", "ShardId": sid}) == all_ids[i + 1:], f"AFTER_SHARD_ID {sid}"
        assert list_ids(client, StreamName=stream, ExclusiveStartShardId=sid) == \
            all_ids[i + 1:], f"ExclusiveStartShardId {sid}"
    # AT_TIMESTAMP: the shards open at that time; FROM_TIMESTAMP: those plus every shard
    # created since.
    for label, when, opened, existing in history:
        assert list_ids(client, StreamName=stream, ShardFilter={
            "Type": "AT_TIMESTAMP", "Timestamp": when}) == opened, f"AT_TIMESTAMP after {label}"
        assert list_ids(client, StreamName=stream, ShardFilter={
            "Type": "FROM_TIMESTAMP", "Timestamp": when}) == \
            sorted(set(opened) | (set(all_ids) - set(existing))), f"FROM_TIMESTAMP after {label}"

    # A lineage walk reaches every shard and every acknowledged record.
    lineage = read_by_lineage(client, stream, deadline_s=30)
    check_read(lineage, shards, "lineage walk")
    found = {(sid, r["SequenceNumber"]): r["PartitionKey"]
             for sid in lineage.order for r in lineage.records[sid]}
    missing = [a for a in acks if found.get((a[1], a[2])) != a[0]]
    assert not missing, f"{len(missing)} acknowledged records not where acked: {missing[:5]}"
    assert len(found) == len(acks), (len(found), len(acks))
    # Closed shards stay readable at their positions: AT_SEQUENCE_NUMBER on a closed shard.
    closed_with_data = [sid for sid in lineage.order
                        if is_closed(lineage.shards[sid]) and lineage.records[sid]]
    assert closed_with_data
    sid = closed_with_data[0]
    last = lineage.records[sid][-1]["SequenceNumber"]
    it = client.get_shard_iterator(StreamName=stream, ShardId=sid,
                                   ShardIteratorType="AT_SEQUENCE_NUMBER",
                                   StartingSequenceNumber=last)["ShardIterator"]
    resp = client.get_records(ShardIterator=it)
    while resp.get("NextShardIterator") and not resp["Records"]:
        resp = client.get_records(ShardIterator=resp["NextShardIterator"])
    assert [r["SequenceNumber"] for r in resp["Records"]] == [last]
    # LATEST on a closed shard: nothing more will come, the end is reached at once.
    it = client.get_shard_iterator(StreamName=stream, ShardId=sid,
                                   ShardIteratorType="LATEST")["ShardIterator"]
    for _ in range(20):
        resp = client.get_records(ShardIterator=it)
        assert not resp["Records"], resp["Records"]
        if resp.get("NextShardIterator") is None:
            break
        it = resp["NextShardIterator"]
    assert resp.get("NextShardIterator") is None and resp.get("ChildShards"), (
        f"LATEST on closed {sid} never reached the end: {resp}")
    # Last, as KCL pages: the filter goes with the first request only, and the NextToken
    # must carry it to the following pages.
    opened = history[-1][2]
    assert list_ids(client, StreamName=stream, MaxResults=1,
                    ShardFilter={"Type": "AT_LATEST"}) == opened, (
        f"ListShards AT_LATEST MaxResults=1 followed by NextToken-only pages: the filter was "
        f"lost on later pages (open shards are {opened})")
    assert list_ids(client, StreamName=stream, MaxResults=2, ShardFilter={
        "Type": "AFTER_SHARD_ID", "ShardId": all_ids[2]}) == all_ids[3:]


def test_split_at_the_extreme_valid_hash_keys(kinesis):
    """NewStartingHashKey = StartingHashKey + 2 and = EndingHashKey - 1 are the extreme
    keys Kinesis accepts; the tiny children they create take the records routed to them."""
    stream = unique_name("split-edge")
    shards = create_stream(kinesis, stream, 2)
    upper = sorted(shards, key=rng)[1]
    lo, hi = rng(upper)
    kinesis.split_shard(StreamName=stream, ShardToSplit=upper["ShardId"],
                        NewStartingHashKey=str(lo + 2))
    wait_active(kinesis, stream)
    shards = describe_all_shards(kinesis, stream)
    check_lineage(shards, "split at start+2")
    tiny = next(s for s in open_shards(shards) if rng(s) == (lo, lo + 1))
    rest = next(s for s in open_shards(shards) if rng(s) == (lo + 2, hi))
    kinesis.split_shard(StreamName=stream, ShardToSplit=rest["ShardId"],
                        NewStartingHashKey=str(hi - 1))
    wait_active(kinesis, stream)
    shards = describe_all_shards(kinesis, stream)
    check_lineage(shards, "split at end-1")
    top = next(s for s in open_shards(shards) if rng(s) == (hi - 1, hi))
    for ehk, want in ((lo, tiny), (lo + 1, tiny), (hi - 1, top), (hi, top)):
        r = kinesis.put_record(StreamName=stream, Data=b"edge", PartitionKey="edge",
                               ExplicitHashKey=str(ehk))
        assert r["ShardId"] == want["ShardId"], (ehk, r["ShardId"], want)


def test_update_shard_count_is_limited_to_ten_per_day(kinesis):
    stream = unique_name("scalings")
    create_stream(kinesis, stream, 1)
    for i in range(10):
        kinesis.update_shard_count(StreamName=stream, TargetShardCount=2 if i % 2 == 0 else 1,
                                   ScalingType="UNIFORM_SCALING")
        wait_active(kinesis, stream)
    before = describe_all_shards(kinesis, stream)
    assert len(open_shards(before)) == 1
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName=stream, TargetShardCount=2,
                                   ScalingType="UNIFORM_SCALING")
    code, message = error_of(e)
    assert code == "LimitExceededException" and message, (code, message)
    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    assert describe_all_shards(kinesis, stream) == before
    # Split and merge are not counted as scalings.
    only = open_shards(before)[0]
    kinesis.split_shard(StreamName=stream, ShardToSplit=only["ShardId"],
                        NewStartingHashKey=str(2**127))
    wait_active(kinesis, stream)


# ---- 3. bad input, refused whole ------------------------------------------------------------
@pytest.fixture
def refuse(weir_delayed):
    """refuse(stream, op, body, type, message) sends a bad reshard request over the wire,
    checks AWS's exception and exact wording, and that the stream is ACTIVE with exactly
    the shards it had before."""
    client = weir_delayed.client()

    def check(stream, op, body, err_type, message, *, before=None, status="ACTIVE"):
        before = before if before is not None else describe_all_shards(client, stream)
        resp = weir_delayed.call(op, {"StreamName": stream, **body})
        ctx = f"{op} {body} -> {resp.describe()}"
        assert resp.status == 400, ctx
        assert resp.error_type == err_type, ctx
        assert resp.message == message, f"{ctx}\n  expected message: {message!r}"
        summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        assert summary["StreamStatus"] == status, f"after refused {ctx}: {summary}"
        after = describe_all_shards(client, stream)
        assert after == before, (f"refused {ctx} changed the shards:\n  before "
                                 f"{before}\n  after {after}")
        return resp

    return check


def split_key_message(key, shard, stream):
    lo, hi = rng(shard)
    return (f"NewStartingHashKey {key} used in SplitShard() on shard {shard['ShardId']} in "
            f"stream {stream} under account {ACCOUNT_ID} is not both greater than one plus the "
            f"shard's StartingHashKey {lo} and less than the shard's EndingHashKey {hi}.")


def test_refused_reshards_leave_nothing_behind(weir_delayed, refuse):
    client = weir_delayed.client()
    stream = unique_name("refuse")
    shards = create_stream(client, stream, 4)
    layout = sorted(shards, key=rng)
    s0, s1, s2, s3 = (s["ShardId"] for s in layout)
    client.split_shard(StreamName=stream, ShardToSplit=s0, NewStartingHashKey=str(2**125))
    wait_active(client, stream, timeout_s=10)
    before = describe_all_shards(client, stream)
    check_lineage(before, "after the setup split")
    assert len(open_shards(before)) == 5
    closed_msg = (f"Shard {s0} in stream {stream} under account {ACCOUNT_ID} has already "
                  f"been merged or split, and thus is not eligible for merging or splitting.")

    # A closed shard can be neither split nor merged.
    refuse(stream, "SplitShard", {"ShardToSplit": s0, "NewStartingHashKey": str(2**124)},
           "InvalidArgumentException", closed_msg, before=before)
    refuse(stream, "MergeShards", {"ShardToMerge": s0, "AdjacentShardToMerge": s1},
           "InvalidArgumentException", closed_msg, before=before)
    refuse(stream, "MergeShards", {"ShardToMerge": s1, "AdjacentShardToMerge": s0},
           "InvalidArgumentException", closed_msg, before=before)
    # Not adjacent.
    for a, b in ((s1, s3), (s3, s1)):
        refuse(stream, "MergeShards", {"ShardToMerge": a, "AdjacentShardToMerge": b},
               "InvalidArgumentException",
               f"Shards {a} and {b} in stream {stream} under account {ACCOUNT_ID} are not an "
               f"adjacent pair of shards eligible for merging", before=before)
    # The two children of s0 are adjacent to each other, but the lower one is not
    # adjacent to s2.
    lower_child = next(s for s in open_shards(before) if rng(s)[0] == 0)["ShardId"]
    refuse(stream, "MergeShards", {"ShardToMerge": lower_child, "AdjacentShardToMerge": s2},
           "InvalidArgumentException",
           f"Shards {lower_child} and {s2} in stream {stream} under account {ACCOUNT_ID} are "
           f"not an adjacent pair of shards eligible for merging", before=before)
    # NewStartingHashKey outside the parent's range (the boundaries just inside it are
    # test_split_key_at_the_edge_of_the_range_is_refused).
    target = layout[1]
    lo, hi = rng(target)
    for key in (0, lo - 1, lo, hi + 1, MAX_HASH_KEY, 2**128, 10**39 - 1):
        refuse(stream, "SplitShard", {"ShardToSplit": s1, "NewStartingHashKey": str(key)},
               "InvalidArgumentException", split_key_message(key, target, stream),
               before=before)
    first_child = next(s for s in open_shards(before) if rng(s)[0] == 0)
    refuse(stream, "SplitShard", {"ShardToSplit": first_child["ShardId"],
                                  "NewStartingHashKey": "0"},
           "InvalidArgumentException", split_key_message(0, first_child, stream),
           before=before)
    # UpdateShardCount beyond 2x or below 1/2 of the 5 OPEN shards (7 exist).
    for target_count, text in ((11, "cannot scale up over double"),
                               (2, "cannot scale down below half"),
                               (1, "cannot scale down below half")):
        refuse(stream, "UpdateShardCount", {"TargetShardCount": target_count,
                                            "ScalingType": "UNIFORM_SCALING"},
               "InvalidArgumentException",
               f"UpdateShardCount {text} the current open shard count. Current open shard "
               f"count: 5 Target shard count: {target_count}", before=before)
    # Unknown shards.
    for op, body, missing in (
            ("SplitShard", {"ShardToSplit": "shardId-000000000099",
                            "NewStartingHashKey": str(2**100)}, "shardId-000000000099"),
            ("MergeShards", {"ShardToMerge": "shardId-000000000099",
                             "AdjacentShardToMerge": s1}, "shardId-000000000099"),
            ("MergeShards", {"ShardToMerge": s1,
                             "AdjacentShardToMerge": "shardId-000000000098"},
             "shardId-000000000098")):
        refuse(stream, op, body, "ResourceNotFoundException",
               f"Could not find shard {missing} in stream {stream} under account "
               f"{ACCOUNT_ID}.", before=before)
    # Nothing was started in the background either.
    time.sleep(weir_delayed.reshard_delay_ms / 1000 + 0.3)
    assert describe_all_shards(client, stream) == before
    # The stream still reshards normally afterwards, with the extreme valid keys too.
    client.split_shard(StreamName=stream, ShardToSplit=s1, NewStartingHashKey=str(lo + 2))
    wait_active(client, stream, timeout_s=10)
    check_lineage(describe_all_shards(client, stream), "valid split after refusals")


@pytest.mark.parametrize("edge", ["StartingHashKey+1", "EndingHashKey"])
def test_split_key_at_the_edge_of_the_range_is_refused(weir_delayed, refuse, edge):
    """Kinesis wants StartingHashKey + 1 < NewStartingHashKey < EndingHashKey, as its own
    message says (kinesalite's suite, checked against AWS, refuses '1' on a shard starting
    at 0, and the EndingHashKey itself; '2' is the smallest key it accepts there)."""
    client = weir_delayed.client()
    stream = unique_name("split-edge")
    shards = sorted(create_stream(client, stream, 2), key=rng)
    for shard in shards:
        lo, hi = rng(shard)
        key = lo + 1 if edge == "StartingHashKey+1" else hi
        refuse(stream, "SplitShard", {"ShardToSplit": shard["ShardId"],
                                      "NewStartingHashKey": str(key)},
               "InvalidArgumentException", split_key_message(key, shard, stream))


@pytest.mark.parametrize("first", ["SplitShard", "MergeShards", "UpdateShardCount"])
def test_reshard_while_updating_is_resource_in_use(weir_delayed, refuse, first):
    client = weir_delayed.client()
    stream = unique_name("updating")
    shards = sorted(create_stream(client, stream, 4), key=rng)
    s0, s1, s2, s3 = (s["ShardId"] for s in shards)
    before = describe_all_shards(client, stream)
    started = time.monotonic()
    if first == "SplitShard":
        client.split_shard(StreamName=stream, ShardToSplit=s0, NewStartingHashKey=str(2**125))
    elif first == "MergeShards":
        client.merge_shards(StreamName=stream, ShardToMerge=s0, AdjacentShardToMerge=s1)
    else:
        resp = client.update_shard_count(StreamName=stream, TargetShardCount=8,
                                         ScalingType="UNIFORM_SCALING")
        assert (resp["CurrentShardCount"], resp["TargetShardCount"]) == (4, 8), resp
    summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "UPDATING", (
        f"{first} with --reshard-delay-ms {weir_delayed.reshard_delay_ms}: stream not "
        f"UPDATING right after the call: {summary}")
    in_use = (f"Stream {stream} under account {ACCOUNT_ID} not ACTIVE, instead in state "
              f"UPDATING")
    # While UPDATING the old layout is still what DescribeStream shows: the refused calls
    # must not change it, and the stream stays UPDATING.
    desc = client.describe_stream(StreamName=stream)["StreamDescription"]
    assert desc["StreamStatus"] == "UPDATING" and desc["Shards"] == before, desc
    refuse(stream, "SplitShard", {"ShardToSplit": s2, "NewStartingHashKey": str(2**127 + 5)},
           "ResourceInUseException", in_use, before=before, status="UPDATING")
    refuse(stream, "MergeShards", {"ShardToMerge": s2, "AdjacentShardToMerge": s3},
           "ResourceInUseException", in_use, before=before, status="UPDATING")
    refuse(stream, "UpdateShardCount", {"TargetShardCount": 2,
                                        "ScalingType": "UNIFORM_SCALING"},
           "ResourceInUseException", in_use, before=before, status="UPDATING")
    # Writes are accepted while UPDATING.
    r = client.put_record(StreamName=stream, Data=b"during", PartitionKey="during")
    elapsed = time.monotonic() - started
    assert elapsed < weir_delayed.reshard_delay_ms / 1000, (
        f"the checks took {elapsed:.3f} s, longer than the reshard delay; the test could "
        f"not observe UPDATING throughout")
    wait_active(client, stream, timeout_s=10)
    after = describe_all_shards(client, stream)
    check_lineage(after, f"after {first}")
    # Exactly the first reshard happened, nothing of the refused ones.
    old = {s["ShardId"] for s in before}
    new = [s for s in after if s["ShardId"] not in old]
    opened = sorted(open_shards(after), key=rng)
    if first == "SplitShard":
        assert [s["ShardId"] for s in after if is_closed(s)] == [s0], after
        assert len(new) == 2 and all(s.get("ParentShardId") == s0 for s in new), new
        assert len(opened) == 5
    elif first == "MergeShards":
        assert sorted(s["ShardId"] for s in after if is_closed(s)) == [s0, s1], after
        assert len(new) == 1 and parents_of(new[0]) == [s0, s1], new
        assert len(opened) == 3
    else:
        assert len(opened) == 8 and all(is_closed(s) for s in after if s["ShardId"] in old)
    lineage = read_by_lineage(client, stream, deadline_s=20)
    check_read(lineage, after, f"after {first}")
    got = [(sid, rec["SequenceNumber"]) for sid in lineage.order
           for rec in lineage.records[sid] if rec["Data"] == b"during"]
    assert got == [(r["ShardId"], r["SequenceNumber"])], (got, r)


# ---- 4. registered consumers ----------------------------------------------------------------
def consumer_count(client, stream) -> int:
    return client.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["ConsumerCount"]


def wait_consumer_gone(client, arn, deadline_s=10.0):
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            desc = client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
        except ClientError as e:
            return e
        assert desc["ConsumerStatus"] == "DELETING", desc
        assert time.monotonic() < deadline, f"consumer {arn} still DELETING"
        time.sleep(0.1)


def test_registered_consumers(kinesis):
    stream = unique_name("consumers")
    create_stream(kinesis, stream, 1)
    stream_arn = kinesis.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["StreamARN"]
    assert consumer_count(kinesis, stream) == 0
    assert kinesis.list_stream_consumers(StreamARN=stream_arn)["Consumers"] == []

    registered = {}
    for name in ("app-one", "app.two_3"):
        c = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName=name)["Consumer"]
        assert c["ConsumerName"] == name
        assert re.match(re.escape(f"{stream_arn}/consumer/{name}:") + r"\d+$",
                        c["ConsumerARN"]), c
        assert c["ConsumerStatus"] in ("CREATING", "ACTIVE"), c
        age = dt.datetime.now(dt.timezone.utc) - c["ConsumerCreationTimestamp"]
        assert dt.timedelta(seconds=-5) < age < dt.timedelta(minutes=1), c
        registered[name] = c
    assert consumer_count(kinesis, stream) == 2

    for name, c in registered.items():
        by_arn = kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])[
            "ConsumerDescription"]
        by_name = kinesis.describe_stream_consumer(StreamARN=stream_arn, ConsumerName=name)[
            "ConsumerDescription"]
        assert by_arn == by_name, (by_arn, by_name)
        assert by_arn["StreamARN"] == stream_arn
        assert (by_arn["ConsumerName"], by_arn["ConsumerARN"],
                by_arn["ConsumerCreationTimestamp"]) == (
            name, c["ConsumerARN"], c["ConsumerCreationTimestamp"])
        assert by_arn["ConsumerStatus"] in ("CREATING", "ACTIVE")

    listed = kinesis.list_stream_consumers(StreamARN=stream_arn)["Consumers"]
    assert sorted(c["ConsumerARN"] for c in listed) == sorted(
        c["ConsumerARN"] for c in registered.values())
    paged, token = [], None
    for _ in range(5):
        resp = (kinesis.list_stream_consumers(StreamARN=stream_arn, MaxResults=1,
                                              NextToken=token) if token else
                kinesis.list_stream_consumers(StreamARN=stream_arn, MaxResults=1))
        assert len(resp["Consumers"]) <= 1
        paged += [c["ConsumerName"] for c in resp["Consumers"]]
        token = resp.get("NextToken")
        if not token:
            break
    assert sorted(paged) == sorted(registered), paged

    with pytest.raises(ClientError) as e:
        kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="app-one")
    assert error_of(e)[0] == "ResourceInUseException", error_of(e)
    assert consumer_count(kinesis, stream) == 2

    kinesis.deregister_stream_consumer(ConsumerARN=registered["app-one"]["ConsumerARN"])
    gone = wait_consumer_gone(kinesis, registered["app-one"]["ConsumerARN"])
    assert gone.response["Error"]["Code"] == "ResourceNotFoundException", gone.response
    assert consumer_count(kinesis, stream) == 1
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_consumer(StreamARN=stream_arn, ConsumerName="app-one")
    assert error_of(e)[0] == "ResourceNotFoundException", error_of(e)
    assert [c["ConsumerName"] for c in
            kinesis.list_stream_consumers(StreamARN=stream_arn)["Consumers"]] == ["app.two_3"]

    kinesis.deregister_stream_consumer(StreamARN=stream_arn, ConsumerName="app.two_3")
    wait_consumer_gone(kinesis, registered["app.two_3"]["ConsumerARN"])
    assert consumer_count(kinesis, stream) == 0
    with pytest.raises(ClientError) as e:
        kinesis.deregister_stream_consumer(StreamARN=stream_arn, ConsumerName="app.two_3")
    assert error_of(e)[0] == "ResourceNotFoundException", error_of(e)
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_consumer(StreamARN=stream_arn, ConsumerName="never-there")
    assert error_of(e)[0] == "ResourceNotFoundException", error_of(e)

    missing_arn = stream_arn.rsplit("/", 1)[0] + "/" + unique_name("no-such-stream")
    for call in (lambda: kinesis.register_stream_consumer(StreamARN=missing_arn,
                                                          ConsumerName="x"),
                 lambda: kinesis.list_stream_consumers(StreamARN=missing_arn),
                 lambda: kinesis.describe_stream_consumer(StreamARN=missing_arn,
                                                          ConsumerName="x")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[0] == "ResourceNotFoundException", error_of(e)


def test_reregistered_consumer_gets_a_new_arn(kinesis):
    """Consumer ARNs carry the creation time: after deregister + register of the same name,
    the old ARN names nothing (botocore's model says so), so it must not reach the new
    consumer."""
    stream = unique_name("consumer-arn")
    create_stream(kinesis, stream, 1)
    stream_arn = kinesis.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["StreamARN"]
    old = kinesis.register_stream_consumer(StreamARN=stream_arn,
                                           ConsumerName="app")["Consumer"]
    kinesis.deregister_stream_consumer(ConsumerARN=old["ConsumerARN"])
    wait_consumer_gone(kinesis, old["ConsumerARN"])
    time.sleep(1.1 - (time.time() % 1.0) if time.time() % 1.0 > 0.1 else 1.0)
    new = kinesis.register_stream_consumer(StreamARN=stream_arn,
                                           ConsumerName="app")["Consumer"]
    assert new["ConsumerARN"] != old["ConsumerARN"], (old, new)
    assert kinesis.describe_stream_consumer(ConsumerARN=new["ConsumerARN"])[
        "ConsumerDescription"]["ConsumerARN"] == new["ConsumerARN"]
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_consumer(ConsumerARN=old["ConsumerARN"])
    assert error_of(e)[0] == "ResourceNotFoundException", (
        f"DescribeStreamConsumer with the deregistered ARN {old['ConsumerARN']} answered "
        f"{error_of(e)} instead of naming nothing (new ARN {new['ConsumerARN']})")
    with pytest.raises(ClientError) as e:
        kinesis.deregister_stream_consumer(ConsumerARN=old["ConsumerARN"])
    assert error_of(e)[0] == "ResourceNotFoundException", error_of(e)
    assert consumer_count(kinesis, stream) == 1, "the stale ARN deregistered the new consumer"


# ---- 5. lineage and records survive kill -9 ---------------------------------------------------
def snapshot(lineage) -> dict:
    return {sid: [(r["SequenceNumber"], r["PartitionKey"], r["Data"])
                  for r in lineage.records[sid]] for sid in lineage.order}


def test_lineage_and_records_survive_kill_9(weir_factory):
    server = weir_factory("reshard-crash")
    client = server.client()
    stream = unique_name("reshard-crash")
    create_stream(client, stream, 3)
    acks = []

    def put_some(tag):
        resp = client.put_records(StreamName=stream, Records=[
            {"Data": f"{tag}-{i}".encode(), "PartitionKey": f"k{i}"} for i in range(40)])
        assert resp.get("FailedRecordCount", 0) == 0, resp
        acks.extend((f"{tag}-{i}".encode(), r["ShardId"], r["SequenceNumber"])
                    for i, r in enumerate(resp["Records"]))

    put_some("a")
    layout = sorted(list_all_shards(client, stream), key=rng)
    lo, hi = rng(layout[0])
    client.split_shard(StreamName=stream, ShardToSplit=layout[0]["ShardId"],
                       NewStartingHashKey=str((lo + hi) // 2))
    wait_active(client, stream)
    put_some("b")
    layout = sorted(open_shards(list_all_shards(client, stream)), key=rng)
    client.merge_shards(StreamName=stream, ShardToMerge=layout[1]["ShardId"],
                        AdjacentShardToMerge=layout[2]["ShardId"])
    wait_active(client, stream)
    put_some("c")
    client.update_shard_count(StreamName=stream, TargetShardCount=5,
                              ScalingType="UNIFORM_SCALING")
    wait_active(client, stream)
    put_some("d")
    stream_arn = client.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["StreamARN"]
    consumer = client.register_stream_consumer(StreamARN=stream_arn,
                                               ConsumerName="survivor")["Consumer"]
    before = describe_all_shards(client, stream)
    check_lineage(before, "before kill -9")
    lineage = read_by_lineage(client, stream, deadline_s=20)
    check_read(lineage, before, "before kill -9")
    read_before = snapshot(lineage)

    server.kill()
    server.start()
    client = server.client()
    summary = wait_active(client, stream, timeout_s=10)
    assert summary["OpenShardCount"] == 5 and summary["ConsumerCount"] == 1, summary
    after = describe_all_shards(client, stream)
    assert after == before, f"lineage changed across kill -9:\n  before {before}\n  after {after}"
    lineage = read_by_lineage(client, stream, deadline_s=20)
    check_read(lineage, after, "after kill -9")
    assert snapshot(lineage) == read_before
    found = {(sid, seq): data for sid, recs in read_before.items() for seq, _, data in recs}
    missing = [a for a in acks if found.get((a[1], a[2])) != a[0]]
    assert not missing, f"acknowledged records lost or moved: {missing[:5]}"
    assert client.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])[
        "ConsumerDescription"]["ConsumerName"] == "survivor"

    # New writes go to open shards only, above the closed parents; new shard ids do not
    # reuse old ones.
    r = client.put_record(StreamName=stream, Data=b"after", PartitionKey="k1")
    assert r["ShardId"] in shard_ids(open_shards(after)), r
    client.update_shard_count(StreamName=stream, TargetShardCount=3,
                              ScalingType="UNIFORM_SCALING")
    wait_active(client, stream, timeout_s=10)
    final = describe_all_shards(client, stream)
    check_lineage(final, "reshard after restart")
    assert final[:len(before)] == [s for s in final if s["ShardId"] in
                                   {b["ShardId"] for b in before}]
    assert all(s["ShardId"] > before[-1]["ShardId"] for s in final[len(before):]), final


def test_kill_9_during_a_reshard_leaves_a_whole_layout(weir_factory):
    """A crash while a reshard is UPDATING: after restart the stream is ACTIVE again (not
    stuck UPDATING) with either the old or the new layout, every acknowledged record
    readable, and it reshards again."""
    server = weir_factory("updating-crash", extra_args=("--reshard-delay-ms", "3000"))
    client = server.client()
    stream = unique_name("updating-crash")
    shards = sorted(create_stream(client, stream, 2), key=rng)
    resp = client.put_records(StreamName=stream, Records=[
        {"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(50)])
    assert resp.get("FailedRecordCount", 0) == 0
    acks = [(f"r{i}".encode(), r["ShardId"], r["SequenceNumber"])
            for i, r in enumerate(resp["Records"])]
    before = describe_all_shards(client, stream)
    client.split_shard(StreamName=stream, ShardToSplit=shards[0]["ShardId"],
                       NewStartingHashKey=str(2**126))
    assert client.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["StreamStatus"] == "UPDATING"
    server.kill()
    server.start()
    client = server.client()
    wait_active(client, stream, timeout_s=10)
    after = describe_all_shards(client, stream)
    check_lineage(after, "after kill -9 during UPDATING")
    if after != before:  # the split happened: shard 0 closed, two children, nothing else
        assert len(after) == 4 and is_closed(after[0]) and after[1] == before[1], after
        assert {k: v for k, v in after[0].items() if k != "SequenceNumberRange"} == \
            {k: v for k, v in before[0].items() if k != "SequenceNumberRange"}, after
        assert start_seq(after[0]) == start_seq(before[0]), after
        assert [parents_of(s) for s in after[2:]] == [[before[0]["ShardId"]]] * 2, after
    lineage = read_by_lineage(client, stream, deadline_s=20)
    check_read(lineage, after, "after kill -9 during UPDATING")
    found = {(sid, r["SequenceNumber"]): r["Data"]
             for sid in lineage.order for r in lineage.records[sid]}
    missing = [a for a in acks if found.get((a[1], a[2])) != a[0]]
    assert not missing, f"acknowledged records lost: {missing[:5]}"
    client.update_shard_count(StreamName=stream, TargetShardCount=len(open_shards(after)) + 1,
                              ScalingType="UNIFORM_SCALING")
    wait_active(client, stream, timeout_s=10)
    check_lineage(describe_all_shards(client, stream), "reshard after the crash")
