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

    def produce():
        n = 0
        while not stop.is_set():
            batch = [(f"k{(n + i) % 32}", n + i) for i in range(100)]
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

    writer = threading.Thread(target=produce, daemon=True)
    writer.start()
    try:
        grown = wait_for("three nodes", lambda: len(node_ids(cluster)) == 3 and node_ids(cluster),
                         within_s=120)
    finally:
        stop.set()
        writer.join(timeout=30)
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
