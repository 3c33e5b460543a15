"""Liveness and readiness probes, as Kubernetes uses them: `/healthz` says the process
answers; `/readyz` says it can do its job. A node is ready only while it holds a lease
from the control plane; the control plane only while its metadata store answers."""

from __future__ import annotations

import os
import signal
import time

import requests


def status(url: str) -> int:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return 0


def wait_status(url: str, want: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while status(url) != want:
        assert time.monotonic() < deadline, f"{url} did not answer {want} within {within_s} s"
        time.sleep(0.2)


def test_a_node_is_not_ready_without_a_lease_and_ready_again_with_one(weir_cluster_factory):
    cluster = weir_cluster_factory("ready", nodes=1)
    node = cluster.node_urls["node-0"]
    assert status(node + "/healthz") == 200
    assert status(node + "/readyz") == 200
    r = requests.get(cluster.rest_url + "/readyz", timeout=5)
    assert (r.status_code, r.text) == (200, "ready")
    # The control plane stops answering heartbeats: the node's lease runs out (3 s).
    os.kill(cluster.proc.pid, signal.SIGSTOP)
    try:
        wait_status(node + "/readyz", 503, within_s=15)
        assert status(node + "/healthz") == 200, "alive, only not ready"
        assert "lease" in requests.get(node + "/readyz", timeout=2).text
    finally:
        os.kill(cluster.proc.pid, signal.SIGCONT)
    wait_status(node + "/readyz", 200, within_s=15)
