"""pytest fixtures: a real `weir up` process on a temporary data dir.

- `weir`: one server shared by the whole session (most tests use their own streams).
- `weir_factory`: a fresh server per call, for tests that kill or restart it.
- `kinesis`: a boto3 client for the shared server.
- `weir_delayed`: a second shared server whose reshards stay UPDATING for
  `RESHARD_DELAY_MS` (`--reshard-delay-ms`), so that in-flight reshards are observable.
- `weir_cluster`: a shared `weir up --nodes 3` (control plane plus three node processes).
- `weir_cluster_factory`: fresh clusters per call, for tests that kill nodes or need an
  empty cluster.

The binary is $WEIR_BIN, else <repo>/target/debug/weir.
"""

from __future__ import annotations

import time

import pytest

from weirtest import WeirCluster, WeirServer, make_client


@pytest.fixture(scope="session")
def weir(tmp_path_factory):
    root = tmp_path_factory.mktemp("weir-shared")
    server = WeirServer(root / "data", root / "logs")
    server.start()
    yield server
    server.close()


RESHARD_DELAY_MS = 1500


@pytest.fixture(scope="session")
def weir_delayed(tmp_path_factory):
    root = tmp_path_factory.mktemp("weir-delayed")
    server = WeirServer(root / "data", root / "logs",
                        extra_args=("--reshard-delay-ms", str(RESHARD_DELAY_MS)))
    server.reshard_delay_ms = RESHARD_DELAY_MS
    server.start()
    yield server
    server.close()


@pytest.fixture
def weir_factory(tmp_path, request):
    """Start fresh servers, each on its own data dir; all are torn down afterwards."""
    servers: list[WeirServer] = []
    request.node._weir_servers = servers

    def start(name: str = "node", **kwargs) -> WeirServer:
        base = tmp_path / f"{name}-{len(servers)}"
        server = WeirServer(base / "data", base / "logs", **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()


CLUSTER_NODES = 3


def _close_cluster(cluster: WeirCluster) -> None:
    """Stop a cluster and check that no process of it (parent or node) is left."""
    cluster.close()
    deadline = time.monotonic() + 10
    while cluster.leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    leftovers = cluster.leftover_processes()
    assert not leftovers, f"processes left behind by {cluster.data_dir}: {leftovers}"


@pytest.fixture(scope="session")
def weir_cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("weir-cluster")
    # Shared by many tests that probe which node holds a shard: the rebalancer would move
    # leaderships between their steps as other tests' streams come and go. Rebalancing has
    # its own test (test_node_pool.py); the factory clusters keep the default.
    cluster = WeirCluster(root / "data", root / "logs", nodes=CLUSTER_NODES,
                          extra_args=("--rebalance-interval-ms", "0"))
    cluster.start()
    yield cluster
    _close_cluster(cluster)


@pytest.fixture
def weir_cluster_factory(tmp_path, request):
    """Start fresh clusters (`weir up --nodes N`), each on its own data dir; all are torn
    down afterwards, and no process of theirs may outlive the test."""
    clusters: list[WeirCluster] = []
    request.node._weir_servers = clusters

    def start(name: str = "cluster", nodes: int = CLUSTER_NODES, **kwargs) -> WeirCluster:
        base = tmp_path / f"{name}-{len(clusters)}"
        cluster = WeirCluster(base / "data", base / "logs", nodes=nodes, **kwargs)
        clusters.append(cluster)
        return cluster.start()

    yield start
    for cluster in clusters:
        _close_cluster(cluster)


@pytest.fixture
def kinesis(weir):
    return make_client(weir.kinesis_url)


@pytest.fixture
def kinesis_novalidate(weir):
    """A client that skips botocore's own parameter validation, so the server's answer
    to bad input is what the test sees."""
    return make_client(weir.kinesis_url, validate=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, append the tail of the server's output to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("call", "setup"):
        servers = list(getattr(item, "_weir_servers", []))
        for fixture in ("weir", "weir_delayed", "weir_cluster"):
            if fixture in item.funcargs:
                servers.append(item.funcargs[fixture])
        for server in servers:
            report.sections.append(("weir output", server.output(tail=40)))


@pytest.fixture
def make_kinesis():
    """Client factory: make_kinesis(endpoint_url, validate=True, max_attempts=1)."""
    return make_client
