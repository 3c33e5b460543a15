"""Replicated shards as an operator meets them, on clusters of separate processes
(nemesis.NemesisCluster: a control plane and N `weir data-plane` nodes, each faultable):

1. a replica whose node stays away is re-created on a spare node, so a second loss later
   loses nothing;
2. at replication factor 1 a shard whose node is gone waits for it (retriable errors, no
   silent move), and a forced move through REST restarts it elsewhere with the loss
   written to the shard's history and the audit log;
3. draining a node moves its leaderships and replicas away under load without losing or
   failing writes, and the drained node can then go;
4. REST: a stream's replication factor is validated, and placement puts a shard's
   replicas on distinct nodes with leaderships spread.

Writers use boto3 with client retries off, so every failure the server answers is seen.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from botocore.exceptions import ClientError

from nemesis import NemesisCluster
from weirtest import unique_name

LEASE_MS = 2000


@pytest.fixture
def clusters(tmp_path):
    started: list[NemesisCluster] = []

    def start(name: str, nodes: int, *cp_args: str) -> NemesisCluster:
        cluster = NemesisCluster(tmp_path / name, nodes=nodes, lease_ms=LEASE_MS,
                                 cp_args=tuple(cp_args))
        started.append(cluster)
        cluster.start()
        return cluster

    yield start
    for cluster in started:
        left = cluster.close()
        assert not left, f"processes left behind: {left}"


def wait_for(what: str, check, within_s: float = 30.0, every_s: float = 0.2):
    deadline = time.monotonic() + within_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (requests.RequestException, ClientError) as e:
            last = repr(e)
            time.sleep(every_s)
            continue
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"{what}: not within {within_s} s (last: {last!r})")


def create(cluster: NemesisCluster, name: str, shards: int, rf: int | None = None) -> None:
    body = {"name": name, "shard_count": shards}
    if rf is not None:
        body["replication_factor"] = rf
    r = requests.post(f"{cluster.rest_url}/v1/streams", json=body, timeout=10)
    assert r.status_code == 201, r.text
    wait_for("every shard placed", lambda: len(placement(cluster, name)) == shards)


def placement(cluster: NemesisCluster, stream: str) -> dict[str, dict]:
    r = requests.get(f"{cluster.rest_url}/v1/streams/{stream}/placement", timeout=5)
    assert r.status_code == 200, r.text
    return {s["shard_id"]: s for s in r.json()["shards"]}


class Writer:
    """Numbered single-record PutRecords to one shard through the given nodes in turn,
    one at a time; remembers what was acknowledged and what failed."""

    def __init__(self, cluster: NemesisCluster, stream: str, via: list[str],
                 partition_key: str = "k"):
        self.cluster, self.stream, self.via, self.key = cluster, stream, via, partition_key
        self.acked: list[tuple[int, str]] = []  # (counter, sequence number)
        self.failed: list[tuple[int, str]] = []
        self.counter = 0
        # One client per node, made again after a failure: making a boto3 client costs
        # tens of milliseconds of CPU, and four writers making one per put spent most of
        # their time there (about one put a second each on a busy machine).
        self.clients: dict = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def payload(self, c: int) -> bytes:
        return f"{self.key}:rec-{c}".encode()

    def put(self) -> None:
        c = self.counter
        self.counter += 1
        node = self.via[c % len(self.via)]
        try:
            if node not in self.clients:
                self.clients[node] = self.cluster.client(node, read_timeout=15)
            r = self.clients[node].put_record(
                StreamName=self.stream, PartitionKey=self.key, Data=self.payload(c))
            self.acked.append((c, r["SequenceNumber"]))
        except Exception as e:  # noqa: BLE001 - any failure counts as not acknowledged
            self.clients.pop(node, None)
            self.failed.append((c, repr(e)[:200]))

    def run(self) -> None:
        while not self.stop.is_set():
            self.put()

    def start(self) -> "Writer":
        self.thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "writer hung"


def read_all(client, stream: str) -> list[tuple[str, bytes]]:
    """Every record of every shard (from TRIM_HORIZON until caught up), through `client`."""
    out = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        it = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            resp = client.get_records(ShardIterator=it, Limit=10000)
            out += [(r["SequenceNumber"], r["Data"]) for r in resp["Records"]]
            if not resp["Records"] and resp.get("MillisBehindLatest") == 0:
                break
            it = resp.get("NextShardIterator")
    return out


def assert_all_acked_once(writer: Writer, records: list[tuple[str, bytes]]) -> None:
    by_seq = {}
    for seq, data in records:
        assert seq not in by_seq, f"sequence number {seq} read twice"
        by_seq[seq] = data
    missing = [(c, s) for c, s in writer.acked if by_seq.get(s) != writer.payload(c)]
    assert not missing, (f"{len(missing)} of {len(writer.acked)} acknowledged records "
                         f"missing or changed, first {missing[:5]}")
    payloads = [d for _, d in records]
    dupes = {p for p in payloads if payloads.count(p) > 1}
    acked_payloads = {writer.payload(c) for c, _ in writer.acked}
    assert not (dupes & acked_payloads), f"acknowledged records stored twice: {dupes}"


def test_a_replica_whose_node_stays_away_is_recreated_so_a_second_loss_loses_nothing(
        clusters):
    cluster = clusters("replace", 4, "--replication-factor", "3", "--replace-after-ms", "3000")
    stream = unique_name("replace")
    create(cluster, stream, 1)
    sid = "shardId-000000000000"
    first = placement(cluster, stream)[sid]
    leader, followers = first["leader"], [n for n in first["replicas"] if n != first["leader"]]
    assert len(set(first["replicas"])) == 3 and first["rebuilding"] == [], first
    spare = next(n for n in cluster.node_ids if n not in first["replicas"])
    writer = Writer(cluster, stream, [leader]).start()
    try:
        wait_for("writes acknowledged", lambda: len(writer.acked) >= 100)
        gone = followers[0]
        cluster.nodes[gone].kill()

        def replaced():
            p = placement(cluster, stream)[sid]
            return (spare in p["replicas"] and gone not in p["replicas"]
                    and not p["rebuilding"]) and p
        now = wait_for(f"{gone}'s replica re-created on {spare} and caught up", replaced,
                       within_s=40)
        assert now["generation"] > first["generation"], (first, now)
        acked_before_second_loss = len(writer.acked)
        # The second loss: the leader itself. The two left (one of them the new replica)
        # are a majority and hold everything acknowledged.
        cluster.nodes[leader].kill()
        writer.via = [n for n in cluster.node_ids if n not in (gone, leader)]
        wait_for("writes acknowledged under a new leader",
                 lambda: len(writer.acked) >= acked_before_second_loss + 50, within_s=40)
    finally:
        writer.finish()
    survivor = writer.via[0]
    records = wait_for("a full read",
                       lambda: read_all(cluster.client(survivor, read_timeout=15), stream))
    assert_all_acked_once(writer, records)
    last = placement(cluster, stream)[sid]
    assert last["leader"] in (spare, followers[1]), last


def test_at_replication_factor_1_a_shard_waits_for_its_node_and_a_forced_move_records_the_loss(
        clusters):
    cluster = clusters("rf1", 3)
    stream = unique_name("rf1")
    create(cluster, stream, 1, rf=1)
    sid = "shardId-000000000000"
    before = placement(cluster, stream)[sid]
    assert before["replicas"] == [before["leader"]], before
    leader = before["leader"]
    other = next(n for n in cluster.node_ids if n != leader)
    client = cluster.client(other, read_timeout=30)
    for i in range(20):
        client.put_record(StreamName=stream, PartitionKey="k", Data=f"old-{i}".encode())
    cluster.nodes[leader].kill()
    time.sleep(LEASE_MS / 1000 + 2)
    # It waits: a retriable error, and the shard is not moved on without its tail.
    with pytest.raises(ClientError) as refused:
        client.put_record(StreamName=stream, PartitionKey="k", Data=b"while-gone")
    assert refused.value.response["Error"]["Code"] == "InternalFailure", refused.value.response
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert placement(cluster, stream)[sid]["leader"] == leader

    # A move without force is refused with what to do.
    r = requests.post(f"{cluster.rest_url}/v1/streams/{stream}/shards/{sid}/move", timeout=30)
    assert r.status_code == 400 and "force" in r.text, r.text
    r = requests.post(f"{cluster.rest_url}/v1/streams/{stream}/shards/{sid}/move?force=true",
                      timeout=30)
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["node"] != leader and moved["generation"] > before["generation"], moved
    seq = wait_for("a write after the forced move", lambda: client.put_record(
        StreamName=stream, PartitionKey="k", Data=b"after-move")["SequenceNumber"])
    assert seq

    events = requests.get(f"{cluster.rest_url}/v1/streams/{stream}/shards/{sid}/events",
                          timeout=5).json()["events"]
    assert [e["kind"] for e in events] == ["forced-move"], events
    assert leader in events[0]["detail"] and "lost" in events[0]["detail"], events
    audit = requests.get(f"{cluster.rest_url}/v1/audit",
                         params={"action": "weir:ForceMoveShard"}, timeout=5).json()["events"]
    assert any(stream in e["resource"] and leader in e["detail"] for e in audit), audit


def test_draining_a_node_moves_everything_off_it_without_losing_or_failing_writes(clusters):
    cluster = clusters("drain", 4, "--replication-factor", "3")
    stream = unique_name("drain")
    create(cluster, stream, 4)
    layout = placement(cluster, stream)
    leads = {n: sum(1 for s in layout.values() if s["leader"] == n) for n in cluster.node_ids}
    victim = max(leads, key=lambda n: (leads[n], n))
    assert leads[victim] >= 1, layout
    via = [n for n in cluster.node_ids if n != victim]
    writers = [Writer(cluster, stream, via, partition_key=f"key-{i}").start()
               for i in range(4)]
    try:
        wait_for("writes acknowledged", lambda: all(len(w.acked) >= 30 for w in writers))
        r = requests.post(f"{cluster.rest_url}/v1/nodes/{victim}/drain", timeout=10)
        assert r.status_code == 200 and r.json()["draining"], r.text

        def drained():
            nodes = {n["id"]: n for n in requests.get(f"{cluster.rest_url}/v1/nodes",
                                                      timeout=5).json()["nodes"]}
            return nodes[victim]["drained"] and nodes[victim]
        wait_for(f"{victim} drained", drained, within_s=60)
        for sid, s in placement(cluster, stream).items():
            assert victim not in s["replicas"] and len(s["replicas"]) == 3, (sid, s)
        cluster.nodes[victim].kill()
        counts = [len(w.acked) for w in writers]
        wait_for("writes after the drained node went",
                 lambda: all(len(w.acked) >= c + 20 for w, c in zip(writers, counts)))
    finally:
        for w in writers:
            w.finish()
    failed = [f for w in writers for f in w.failed]
    assert not failed, f"{len(failed)} writes failed during the drain: {failed[:5]}"
    records = read_all(cluster.client(via[0], read_timeout=15), stream)
    for w in writers:
        assert_all_acked_once(w, [(s, d) for s, d in records
                                  if d.startswith(f"{w.key}:".encode())])


def test_rest_validates_the_replication_factor_and_spreads_replicas(clusters):
    cluster = clusters("rest", 3)
    r = requests.post(f"{cluster.rest_url}/v1/streams",
                      json={"name": unique_name("bad"), "shard_count": 1,
                            "replication_factor": 9}, timeout=10)
    assert r.status_code == 400, r.text
    assert "replication_factor 9 is out of range: use 1 to 5." in r.text, r.text
    stream = unique_name("spread")
    create(cluster, stream, 6)
    layout = placement(cluster, stream)
    for sid, s in layout.items():
        assert len(s["replicas"]) == 3 and len(set(s["replicas"])) == 3, (sid, s)
        assert s["replicas"][0] == s["leader"], s
    leads = sorted(sum(1 for s in layout.values() if s["leader"] == n)
                   for n in cluster.node_ids)
    assert leads == [2, 2, 2], layout
    view = requests.get(f"{cluster.rest_url}/v1/streams/{stream}", timeout=5).json()
    assert view["replication_factor"] == 0, view


def test_uploads_continue_from_the_new_leader_without_a_gap_or_a_duplicate(tmp_path):
    """Cold tier with replicas (`weir up --nodes 3`, local-folder tier, small segments):
    followers' segments start where their leader's do and only the leader uploads, only
    committed segments. After the leader is killed, the new leader continues the upload
    sequence: the catalog's segments tile the offsets with no gap and no overlap, every
    object key appears once, and every acknowledged record reads back once."""
    from weirtest import WeirCluster
    cluster = WeirCluster(tmp_path / "data", tmp_path / "logs", nodes=3, extra_args=(
        "--segment-bytes", "32768", "--tier-interval-ms", "200",
        "--lease-timeout-ms", str(LEASE_MS)))
    try:
        cluster.start()
        stream = unique_name("tierrep")
        admin = cluster.node_client("node-0")
        admin.create_stream(StreamName=stream, ShardCount=1)
        admin.get_waiter("stream_exists").wait(StreamName=stream,
                                               WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        sid = "shardId-000000000000"
        rest = cluster.rest_url

        def segments():
            r = requests.get(f"{rest}/v1/streams/{stream}/shards/{sid}/segments", timeout=5)
            assert r.status_code == 200, r.text
            return [s for s in r.json()["segments"] if s["state"] == "uploaded"]

        acked: dict[str, bytes] = {}

        def write(via: str, start: int, count: int) -> None:
            client = cluster.node_client(via, read_timeout=30)
            for first in range(start, start + count, 100):
                datas = [f"r{i:06d}-".encode() + b"x" * 90 for i in range(first, first + 100)]
                deadline = time.monotonic() + 30
                while True:
                    try:
                        resp = client.put_records(StreamName=stream, Records=[
                            {"Data": d, "PartitionKey": "k"} for d in datas])
                        break
                    except ClientError:
                        assert time.monotonic() < deadline, "writes stayed refused"
                        time.sleep(0.3)
                for d, r in zip(datas, resp["Records"]):
                    if "SequenceNumber" in r:
                        acked[r["SequenceNumber"]] = d

        leader = placement_of(cluster, stream, sid)["leader"]
        write(leader, 0, 2000)
        first = wait_for("segments uploaded by the first leader", lambda: len(segments()) >= 3
                         and segments())
        cluster.kill_node(leader)
        survivor = next(n for n in cluster.node_ids if n != leader)
        write(survivor, 2000, 2000)
        after = wait_for("uploads continued by the new leader",
                         lambda: (len(segments()) >= len(first) + 3) and segments(), within_s=60)
        new_leader = placement_of(cluster, stream, sid)["leader"]
        assert new_leader != leader
        print(f"{len(first)} segments uploaded by {leader}, {len(after)} after {new_leader} took over")
        keys = [s["object_key"] for s in after]
        assert len(keys) == len(set(keys)), keys
        after.sort(key=lambda s: s["base_offset"])
        for a, b in zip(after, after[1:]):
            assert a["end_offset"] == b["base_offset"], (
                f"gap or overlap between uploaded segments {a} and {b}")
        assert after[0]["base_offset"] == 0, after[0]
        records = read_all(cluster.node_client(survivor, read_timeout=30), stream)
        got = {}
        for seq, data in records:
            assert seq not in got, f"sequence number {seq} read twice"
            got[seq] = data
        missing = [s for s, d in acked.items() if got.get(s) != d]
        assert not missing, f"{len(missing)} acknowledged records missing, first {missing[:3]}"
    finally:
        cluster.close()


def placement_of(cluster, stream: str, sid: str) -> dict:
    def placed():
        r = requests.get(f"{cluster.rest_url}/v1/streams/{stream}/placement", timeout=5)
        return {s["shard_id"]: s for s in r.json()["shards"]}.get(sid)
    return wait_for(f"{sid} placed", placed)
