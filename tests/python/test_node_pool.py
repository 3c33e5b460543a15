"""`weir up --nodes auto`: the node pool follows load. An on-demand stream under load
splits into more shards, the pool starts more node processes for their replicas, and
after the load the stream merges back and the pool drains and removes nodes, without
losing an acknowledged record."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import requests

from weirtest import (CLUSTER_SECRET, list_all_shards, open_shards, read_by_lineage, unique_name, wait_active,
                      wait_for)


def node_ids(cluster) -> list[str]:
    nodes = requests.get(f"{cluster.rest_url}/v1/nodes", timeout=10).json()["nodes"]
    return sorted(n["id"] for n in nodes if n.get("live", True))


def test_the_node_pool_grows_with_shards_and_shrinks_after_draining(weir_factory):
    cluster = weir_factory("pool", extra_args=(
        "--nodes", "auto", "--cluster-secret", CLUSTER_SECRET,
        "--min-nodes", "1", "--max-nodes", "3",
        # Four replicas per node: the stream's 4 starting shards fill one node.
        "--node-replicas", "4", "--node-scale-down-after-ms", "3000",
        "--replication-factor", "1",
        "--shard-limits", "write-records=100,write-bytes=0,read-calls=0,read-bytes=0",
        "--autoscale-interval-ms", "500", "--scale-out-after-ms", "2000",
        "--scale-in-after-ms", "3000", "--scale-cooldown-ms", "1500",
        "--scale-peak-window-ms", "5000", "--on-demand-max-shards", "12"))
    client = cluster.client()
    assert node_ids(cluster) == ["node-0"]
    stream = unique_name("pool")
    client.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(client, stream)
    acked: dict[str, list[int]] = defaultdict(list)
    stop = threading.Event()

    def produce(producer: int):
        n = 0
        while not stop.is_set():
            # Keys of their own per producer: per-key order is checked below.
            batch = [(f"p{producer}k{(n + i) % 32}", n + i) for i in range(100)]
            n += len(batch)
            try:
                answer = client.put_records(StreamName=stream, Records=[
                    {"PartitionKey": k, "Data": f"{k}:{i}".encode()} for k, i in batch])
            except Exception:  # a reshard or a node change in progress: try again
                time.sleep(0.1)
                continue
            for (k, i), r in zip(batch, answer["Records"]):
                if "SequenceNumber" in r:
                    acked[k].append(i)
            time.sleep(0.05)

    # Two producers offer up to 4,000 records/s: at least 8x the starting capacity of
    # 4 shards x 100 records/s.
    writers = [threading.Thread(target=produce, args=(p,), daemon=True) for p in range(2)]
    for w in writers:
        w.start()
    try:
        grown = wait_for("three nodes", lambda: len(node_ids(cluster)) == 3 and node_ids(cluster),
                         within_s=120)
    finally:
        stop.set()
        for w in writers:
            w.join(timeout=30)
    assert grown == ["node-0", "node-1", "node-2"]
    pool = requests.get(f"{cluster.rest_url}/v1/nodes/pool", timeout=10).json()
    assert pool["orchestrator"].startswith("local processes")
    assert any(e["action"] == "grow" for e in pool["events"]), pool
    # After the load: merges, then drains, then removals, highest node first.
    wait_for("the pool back to one node", lambda: node_ids(cluster) == ["node-0"], within_s=180)
    events = requests.get(f"{cluster.rest_url}/v1/nodes/pool", timeout=10).json()["events"]
    actions = [e["action"] for e in events]
    assert "drain" in actions and "shrink" in actions, events
    assert actions.index("drain") < actions.index("shrink")
    # Nothing acknowledged was lost, and per-key order held through every move.
    read = read_by_lineage(client, stream, deadline_s=120)
    seen: dict[str, list[int]] = defaultdict(list)
    for sid in read.order:
        for record in read.records[sid]:
            key, i = record["Data"].decode().split(":")
            seen[key].append(int(i))
    for key, want in acked.items():
        assert seen[key] == want, f"{key}: read {len(seen[key])}, acked {len(want)}"
    assert len(open_shards(list_all_shards(client, stream))) >= 4


def placement(cluster, stream: str) -> dict[str, dict]:
    r = requests.get(f"{cluster.rest_url}/v1/streams/{stream}/placement", timeout=5)
    assert r.status_code == 200, r.text
    return {s["shard_id"]: s for s in r.json()["shards"]}


def test_a_new_node_receives_leaderships_and_replicas_through_the_move_path(weir_factory):
    """Four single-replica shards all live on node-0; the pool adds node-1 for them. The
    rebalancer then moves two of them there (a temporary second replica catches up, the
    leadership moves, the old replica leaves) while a producer writes, and every
    acknowledged record is read back once, in per-key order."""
    cluster = weir_factory("rebalance", extra_args=(
        "--nodes", "auto", "--cluster-secret", CLUSTER_SECRET,
        "--min-nodes", "1", "--max-nodes", "2", "--node-replicas", "2",
        "--node-scale-down-after-ms", "600000", "--replication-factor", "1",
        "--rebalance-interval-ms", "500"))
    client = cluster.client()
    stream = unique_name("rebalance")
    # Created while only node-0 runs: every shard is placed there.
    r = requests.post(f"{cluster.rest_url}/v1/streams",
                      json={"name": stream, "shard_count": 4}, timeout=10)
    assert r.status_code == 201, r.text
    wait_active(client, stream)
    first = wait_for("four shards placed", lambda: len(placement(cluster, stream)) == 4
                     and placement(cluster, stream))
    assert {p["leader"] for p in first.values()} == {"node-0"}, first
    acked: dict[str, list[int]] = defaultdict(list)
    stop = threading.Event()

    def produce():
        n = 0
        while not stop.is_set():
            key = f"k{n % 16}"
            try:
                answer = client.put_record(StreamName=stream, PartitionKey=key,
                                           Data=f"{key}:{n}".encode())
            except Exception:  # a move in progress: the same record again
                time.sleep(0.05)
                continue
            if answer.get("SequenceNumber"):
                acked[key].append(n)
            n += 1

    writer = threading.Thread(target=produce, daemon=True)
    writer.start()
    try:
        def balanced():
            p = placement(cluster, stream)
            leaders = sorted(s["leader"] for s in p.values())
            settled = all(len(s["replicas"]) == 1 and not s["rebuilding"] for s in p.values())
            return settled and leaders == ["node-0", "node-0", "node-1", "node-1"] and p
        final = wait_for("two shards moved to node-1", balanced, within_s=120)
        time.sleep(1.0)  # and writes keep flowing after the moves
    finally:
        stop.set()
        writer.join(timeout=30)
    assert all(s["generation"] > first[sid]["generation"]
               for sid, s in final.items() if s["leader"] == "node-1"), (first, final)
    assert sum(len(v) for v in acked.values()) > 0
    read = read_by_lineage(client, stream, deadline_s=60)
    seen: dict[str, list[int]] = defaultdict(list)
    for sid in read.order:
        for record in read.records[sid]:
            key, i = record["Data"].decode().split(":")
            seen[key].append(int(i))
    for key, want in acked.items():
        assert seen[key] == want, f"{key}: read {len(seen[key])}, acked {len(want)}"
