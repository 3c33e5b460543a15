"""Prometheus metrics on every process and a stream's recent metrics over REST: the
numbers a dashboard shows are the numbers of what clients did."""

from __future__ import annotations

import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from weirtest import unique_name, wait_active, wait_for

OPENMETRICS = "application/openmetrics-text"


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of `url`/metrics, by (name, sorted labels)."""
    r = requests.get(f"{url}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(OPENMETRICS), r.headers
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def series_labels(samples, **labels) -> list:
    want = set(labels.items())
    return [k for k in samples if want <= set(k[1])]


def test_node_and_control_plane_metrics_count_what_clients_did(weir_factory):
    server = weir_factory("metrics", extra_args=("--metrics-sample-ms", "200"))
    client = server.client()
    stream = unique_name("metrics")
    client.create_stream(StreamName=stream, ShardCount=2)
    wait_active(client, stream)
    client.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    shard0, shard1 = "shardId-000000000000", "shardId-000000000001"
    # 30 records to shard 0, 20 to shard 1; bytes are data plus partition key.
    sent = {shard0: [], shard1: []}
    for i in range(30):
        data, key = f"zero-{i}".encode(), f"key{i}"
        client.put_record(StreamName=stream, Data=data, PartitionKey=key, ExplicitHashKey="0")
        sent[shard0].append(len(data) + len(key))
    answer = client.put_records(StreamName=stream, Records=[
        {"Data": f"one-{i}".encode(), "PartitionKey": "p", "ExplicitHashKey": str(2 ** 127 + 1)}
        for i in range(20)])
    assert answer["FailedRecordCount"] == 0
    sent[shard1] = [len(f"one-{i}") + 1 for i in range(20)]
    it = client.get_shard_iterator(StreamName=stream, ShardId=shard0,
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    read = client.get_records(ShardIterator=it, Limit=12)["Records"]
    assert len(read) == 12
    read_bytes = sum(len(r["Data"]) + len(r["PartitionKey"]) for r in read)

    node = scrape(server.kinesis_url)
    labels0 = {"stream": stream, "shard": shard0}
    labels1 = {"stream": stream, "shard": shard1}
    assert value(node, "weir_incoming_records_total", **labels0) == 30
    assert value(node, "weir_incoming_bytes_total", **labels0) == sum(sent[shard0])
    assert value(node, "weir_incoming_records_total", **labels1) == 20
    assert value(node, "weir_incoming_bytes_total", **labels1) == sum(sent[shard1])
    assert value(node, "weir_outgoing_records_total", **labels0) == 12
    assert value(node, "weir_outgoing_bytes_total", **labels0) == read_bytes
    assert value(node, "weir_get_records_calls_total", **labels0) == 1
    assert value(node, "weir_get_records_iterator_age_milliseconds", **labels0) >= 0
    assert value(node, "weir_request_duration_seconds_count", operation="PutRecord") == 30
    assert value(node, "weir_request_duration_seconds_count", operation="PutRecords") == 1
    assert value(node, "weir_requests_total", operation="PutRecord", outcome="ok") == 30
    assert value(node, "weir_node_shards_led") == 2

    # The control plane: streams by status, and per-stream totals from its samples.
    def cp_counted():
        cp = scrape(server.rest_url)
        # One sample may fall between the writes and the read: wait for both.
        return (value(cp, "weir_stream_incoming_records_total", stream=stream) == 50
                and value(cp, "weir_stream_outgoing_records_total", stream=stream) == 12
                and cp)
    cp = wait_for("the control plane's sample", cp_counted, within_s=20)
    assert value(cp, "weir_streams", status="ACTIVE") == 1
    assert value(cp, "weir_stream_open_shards", stream=stream) == 2
    assert value(cp, "weir_stream_incoming_bytes_total", stream=stream) == \
        sum(sent[shard0]) + sum(sent[shard1])
    assert value(cp, "weir_stream_outgoing_records_total", stream=stream) == 12

    # The same over REST as data points, per stream and per shard.
    r = requests.get(f"{server.rest_url}/v1/streams/{stream}/metrics",
                     params={"period": 1, "minutes": 5}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period_seconds"] == 1
    total = sum(p["value"] for p in body["metrics"]["IncomingRecords"])
    assert total == 50, body["metrics"]["IncomingRecords"]
    by_shard = {s["shard_id"]: sum(p["value"] for p in s["metrics"]["IncomingRecords"])
                for s in body["shards"]}
    assert by_shard == {shard0: 30, shard1: 20}
    assert "GetRecords.IteratorAgeMilliseconds" in body["metrics"]

    # A deleted stream leaves no series on the node or the control plane.
    client.delete_stream(StreamName=stream)
    wait_for("the node's series gone",
             lambda: not series_labels(scrape(server.kinesis_url), stream=stream), within_s=20)
    wait_for("the control plane's series gone",
             lambda: not series_labels(scrape(server.rest_url), stream=stream), within_s=20)
    gone = requests.get(f"{server.rest_url}/v1/streams/{stream}/metrics", timeout=10)
    assert gone.status_code == 404, gone.text


def test_shard_level_metrics_follow_enhanced_monitoring(weir_factory):
    """As in Kinesis: a shard-level metric is published only while the stream has it on;
    the answers say what was on before and after, with ALL expanded."""
    from botocore.exceptions import ClientError
    from weirtest import make_client
    server = weir_factory("enhanced")
    client = server.client()
    stream = unique_name("enhanced")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    for i in range(4):
        client.put_record(StreamName=stream, Data=b"x", PartitionKey=str(i))
    labels = {"stream": stream, "shard": "shardId-000000000000"}
    node = scrape(server.kinesis_url)
    assert value(node, "weir_incoming_records_total", **labels) is None
    assert value(node, "weir_get_records_iterator_age_milliseconds", **labels) is None

    on = client.enable_enhanced_monitoring(StreamName=stream,
                                           ShardLevelMetrics=["IncomingRecords"])
    assert (on["CurrentShardLevelMetrics"], on["DesiredShardLevelMetrics"]) == \
        ([], ["IncomingRecords"])
    assert on["StreamName"] == stream and on["StreamARN"].endswith(f":stream/{stream}")
    node = scrape(server.kinesis_url)
    assert value(node, "weir_incoming_records_total", **labels) == 4
    assert value(node, "weir_incoming_bytes_total", **labels) is None
    described = client.describe_stream(StreamName=stream)["StreamDescription"]
    assert described["EnhancedMonitoring"] == [{"ShardLevelMetrics": ["IncomingRecords"]}]

    every = client.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    assert every["CurrentShardLevelMetrics"] == ["IncomingRecords"]
    assert len(every["DesiredShardLevelMetrics"]) == 7
    summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["EnhancedMonitoring"][0]["ShardLevelMetrics"] == \
        every["DesiredShardLevelMetrics"]
    assert value(scrape(server.kinesis_url), "weir_incoming_bytes_total", **labels) == 4 * 2

    off = client.disable_enhanced_monitoring(
        StreamName=stream, ShardLevelMetrics=["ALL"])
    assert (len(off["CurrentShardLevelMetrics"]), off["DesiredShardLevelMetrics"]) == (7, [])
    # Only GetRecords.Success, a stream-level metric in Kinesis, stays per shard here.
    assert [name for name, _ in series_labels(scrape(server.kinesis_url), **labels)] == \
        ["weir_get_records_calls_total"]

    unchecked = make_client(server.kinesis_url, validate=False)
    for metrics in (["Bogus"], []):
        try:
            unchecked.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=metrics)
            raise AssertionError(f"{metrics} was accepted")
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ValidationException", error.response
            assert "shardLevelMetrics" in error.response["Error"]["Message"]


def test_throttled_writes_are_counted_as_kinesis_counts_them(weir_factory):
    server = weir_factory("throttle-metrics", extra_args=(
        "--shard-limits", "write-records=10,write-bytes=0,read-calls=0,read-bytes=0"))
    client = server.client()
    stream = unique_name("throttled")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    client.enable_enhanced_monitoring(
        StreamName=stream,
        ShardLevelMetrics=["WriteProvisionedThroughputExceeded", "IncomingRecords"])
    answer = client.put_records(StreamName=stream, Records=[
        {"Data": b"x", "PartitionKey": str(i)} for i in range(25)])
    failed = answer["FailedRecordCount"]
    assert failed >= 10, answer
    node = scrape(server.kinesis_url)
    labels = {"stream": stream, "shard": "shardId-000000000000"}
    assert value(node, "weir_write_provisioned_throughput_exceeded_total", **labels) == failed
    assert value(node, "weir_incoming_records_total", **labels) == 25 - failed


def test_metrics_query_is_validated(weir_factory):
    server = weir_factory("metrics-validate")
    client = server.client()
    stream = unique_name("validate")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    for params in ({"period": 0}, {"period": 3601}, {"minutes": 61}):
        r = requests.get(f"{server.rest_url}/v1/streams/{stream}/metrics", params=params,
                         timeout=10)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]["code"] == "InvalidArgument", r.text
    r = requests.get(f"{server.rest_url}/v1/streams/no-such-stream/metrics", timeout=10)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "ResourceNotFound", r.text


def test_cluster_metrics_show_nodes_leaders_and_replication(weir_cluster):
    cluster = weir_cluster
    admin = cluster.node_client("node-0")
    stream = unique_name("cluster-metrics")
    admin.create_stream(StreamName=stream, ShardCount=3)
    wait_active(admin, stream)
    admin.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["IncomingRecords"])
    for i in range(3):
        admin.put_record(StreamName=stream, Data=b"x", PartitionKey="k",
                         ExplicitHashKey=str(i * (2 ** 128 // 3)))
    cp = scrape(cluster.rest_url)
    assert value(cp, "weir_cluster_nodes", state="live") == 3
    assert sum(value(cp, "weir_node_replicas", node=n) or 0 for n in cluster.node_ids) >= 3

    def follower_lags(scraped):
        return [(labels, v) for s in scraped.values() for (name, labels), v in s.items()
                if name == "weir_replication_follower_lag_records" and ("stream", stream) in labels]

    def led_everywhere():
        scraped = {n: scrape(url) for n, url in cluster.node_urls.items()}
        led = {n: sum(v for (name, labels), v in s.items()
                      if name == "weir_incoming_records_total" and ("stream", stream) in labels)
               for n, s in scraped.items()}
        # Every shard has followers (replication factor 3 on three nodes), each reported
        # once its leader's replication to it has started.
        return sum(led.values()) == 3 and len(follower_lags(scraped)) == 3 * 2 and scraped
    scraped = wait_for("each shard's writes and followers on its leader", led_everywhere,
                       within_s=20)
    lags = follower_lags(scraped)
    assert len(lags) == 3 * 2, lags
    assert all(v >= 0 for _, v in lags)
    for s in scraped.values():
        assert value(s, "weir_node_lease_valid") == 1
    # GET /v1/nodes: each node's disk as it reports it, and what it leads.
    def disks_reported():
        nodes = requests.get(f"{cluster.rest_url}/v1/nodes", timeout=10).json()["nodes"]
        return all(n["disk_total_bytes"] for n in nodes) and nodes
    nodes = wait_for("disks in heartbeats", disks_reported, within_s=20)
    for n in nodes:
        assert 0 < n["disk_free_bytes"] <= n["disk_total_bytes"], n
        assert n["write_bytes_per_sec"] >= 0 and n["leads"] >= 0, n
    assert sum(n["leads"] for n in nodes) >= 3
