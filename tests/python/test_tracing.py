"""Traces across processes: a PutRecord sent to a node that does not lead the shard is one
trace from the gateway, through the forward to the leader, the leader's log write and
fsync, to replication on the followers, exported over OTLP/HTTP to a collector; the log
lines written while serving it carry its trace id."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from botocore.exceptions import ClientError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from weirtest import unique_name, wait_active, wait_for


class Collector:
    """A minimal OTLP/HTTP trace receiver (protobuf), like an OpenTelemetry collector's."""

    def __init__(self):
        self.spans: list[dict] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                ok = self.path == "/v1/traces" and \
                    self.headers.get("content-type") == "application/x-protobuf"
                if ok:
                    collector.receive(body)
                self.send_response(200 if ok else 400)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope in resource_spans.scope_spans:
                for s in scope.spans:
                    attrs = {a.key: (a.value.string_value or a.value.int_value)
                             for a in s.attributes}
                    with self.lock:
                        self.spans.append({
                            "service": service, "name": s.name, "trace": s.trace_id.hex(),
                            "id": s.span_id.hex(), "parent": s.parent_span_id.hex(),
                            "attrs": attrs})

    def trace(self, trace_id: str) -> list[dict]:
        with self.lock:
            return [s for s in self.spans if s["trace"] == trace_id]

    def close(self):
        self.server.shutdown()


@pytest.fixture
def collector(monkeypatch):
    c = Collector()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    monkeypatch.setenv("RUST_LOG", "info,weir_data_plane=debug")
    yield c
    c.close()


def test_a_forwarded_write_is_one_trace_from_gateway_to_followers(collector, weir_cluster_factory):
    cluster = weir_cluster_factory("traced")
    admin = cluster.node_client("node-0")
    stream = unique_name("traced")
    admin.create_stream(StreamName=stream, ShardCount=1)
    wait_active(admin, stream)
    wait_for("the shard placed with followers", lambda: (
        p := requests.get(f"{cluster.rest_url}/v1/streams/{stream}/placement", timeout=5)
        .json()["shards"]) and len(p[0]["replicas"]) == 3 and p[0])

    def the_trace():
        """A PutRecord whose trace holds the whole forwarded, replicated write."""
        with collector.lock:
            roots = [s for s in collector.spans if s["parent"] == "" and
                     s["attrs"].get("operation") == "PutRecord"]
        for root in roots:
            spans = collector.trace(root["trace"])
            names = {s["name"] for s in spans}
            if {"forward", "shard.append", "log.write_and_fsync", "replicate"} <= names and \
                    any(s["name"].endswith("/internal/v1/replica/append") for s in spans):
                return root, spans
        return None

    # Write through a node that does not lead the shard. A first write can meet a node that
    # has not heard of the new placement yet (boto3 then retries), and the leader can move
    # while the cluster settles: write again through the current non-leader until one
    # whole trace has arrived.
    found = None
    for _attempt in range(4):
        leader = requests.get(f"{cluster.rest_url}/v1/streams/{stream}/placement",
                              timeout=5).json()["shards"][0]["leader"]
        via = next(n for n in cluster.node_ids if n != leader)
        client = cluster.node_client(via)
        client.put_record(StreamName=stream, Data=b"traced", PartitionKey="k")
        deadline = time.monotonic() + 15
        while found is None and time.monotonic() < deadline:
            found = the_trace()
            time.sleep(0.2)
        if found is not None:
            break
    assert found is not None, "no whole trace of a forwarded write reached the collector"
    root, spans = found
    by_id = {s["id"]: s for s in spans}

    def parent(span):
        return by_id.get(span["parent"])

    append = next(s for s in spans if s["name"] == "shard.append")
    fsync = next(s for s in spans if s["name"] == "log.write_and_fsync")
    assert parent(fsync) is append
    chain, node = [], append
    while node is not None:
        chain.append(node)
        node = parent(node)
    # The write on the leader, inside the leader's request, inside the forward, inside the
    # request the client sent to the gateway: one trace across two processes.
    assert [s["name"] for s in chain] == ["shard.append", "POST /", "forward", "POST /"], \
        [s["name"] for s in chain]
    assert chain[-1] is root
    assert chain[1]["attrs"]["operation"] == "PutRecord", chain[1]
    replicated = [s for s in spans if s["name"].endswith("/internal/v1/replica/append")]
    assert replicated and all(parent(s)["name"] == "replicate" for s in replicated)
    assert all(parent(parent(s)) is append for s in replicated), \
        "replication belongs to the write that brought the records"
    assert {s["service"] for s in spans} == {"weir-node"}

    # A refused request's log line carries its trace id.
    with pytest.raises(ClientError):
        client.put_record(StreamName="no-such-stream-here", Data=b"x", PartitionKey="k")

    def logged():
        text = cluster.stderr_text() if hasattr(cluster, "stderr_text") else \
            cluster._stderr_log.read_text(errors="replace")
        lines = [line for line in text.splitlines()
                 if "no-such-stream-here" in line and "trace_id=" in line]
        return lines
    lines = wait_for("a log line with a trace id", logged, within_s=15)
    trace_id = lines[-1].split("trace_id=")[1][:32]
    wait_for("that trace at the collector", lambda: collector.trace(trace_id), within_s=15)
