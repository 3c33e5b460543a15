"""Nemesis: acknowledged writes survive single-process faults, and writes stay available
while one node is down.

One cluster of separate processes (a control plane and three `weir data-plane` nodes, see
nemesis.py) takes, in turn and under continuous load:
  1. kill -9 of a random node, restarted on its disk after 8 s;
  2. kill -9 of a random node whose data dir is then wiped, restarted empty after 8 s;
  3. SIGSTOP of a random node for 8 s (the lease is 2 s), then SIGCONT;
  4. kill -9 of the control plane, restarted on the same database after 3 s.
Four producers (client retries off) send PutRecords batches through random nodes, dead
ones included; a reader keeps reading every shard from TRIM_HORIZON through live nodes.

Once every process is back, every shard is read fully through every node, and the test
asserts that:
  a) every acknowledged record is there exactly once, at its acknowledged sequence number;
  b) within a shard, each producer's acknowledged records are in the order it sent them;
  c) no (shard, sequence number) was ever served with two different payloads;
  d) sequence numbers strictly increase within each shard (and all nodes agree);
  e) records kept being acknowledged during each node-down window (after lease + 3 s).

This is the contract of replicated shards (replication factor 3, majority-acknowledged
writes): the flags are passed when `weir control-plane --help` / `weir data-plane --help`
list them. Without replication a node's disk is the only copy of its shards, and losing
it (or its shards moving away) loses acknowledged records: the test then fails with (a).

The seed is fixed, so the fault plan (which node, in which order) is the same every run;
thread timing still varies. scripts/nemesis.sh runs longer, with random seeds.
"""

from __future__ import annotations

import pytest

from nemesis import replication_args, run_nemesis
from weirtest import weir_binary

SEED = 11
FAULTS = ["kill_restart", "kill_wipe", "pause", "kill_control_plane"]


def test_acknowledged_writes_survive_node_and_control_plane_faults(tmp_path):
    cp_args, node_args = replication_args(weir_binary())
    result = run_nemesis(tmp_path / "nemesis", seed=SEED, faults=FAULTS, cp_args=cp_args,
                         node_args=node_args, expect_available=True)
    print(result.summary())
    if not result.ok:
        pytest.fail(result.report(), pytrace=False)
    print(result.report())
