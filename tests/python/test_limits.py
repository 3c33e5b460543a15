"""Kinesis's per-shard limits, end to end through boto3 against real `weir up` processes.

Servers here are started with small limits (`--shard-limits`), so a producer's and a
consumer's throttle handling can be exercised without pushing megabytes. The rest of
the suite runs unthrottled (tests/run.sh sets WEIR_SHARD_LIMITS=off).
"""

from __future__ import annotations

import time

import pytest
import requests
from botocore.exceptions import ClientError

from weirtest import unique_name, wait_active

SHARD = "shardId-000000000000"
ACCOUNT = "000000000000"
# 20 records/s and 5 reads/s per shard; bytes well above what these tests write, except
# the read-bytes test, which has its own server.
SMALL = "write-records=20,write-bytes=1000000,read-calls=5,read-bytes=10000000"


def rate_exceeded(stream: str) -> str:
    return f"Rate exceeded for shard {SHARD} in stream {stream} under account {ACCOUNT}."


def new_stream(client, prefix: str) -> str:
    name = unique_name(prefix)
    client.create_stream(StreamName=name, ShardCount=1)
    wait_active(client, name)
    return name


def read_all(client, stream: str) -> list[bytes]:
    it = client.get_shard_iterator(StreamName=stream, ShardId=SHARD,
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [r["Data"] for r in client.get_records(ShardIterator=it)["Records"]]


@pytest.fixture
def small(weir_factory):
    return weir_factory("limits", extra_args=("--shard-limits", SMALL))


def test_put_records_admits_the_first_records_and_refuses_the_rest_per_record(small):
    client = small.client()
    stream = new_stream(client, "throttle-puts")
    entries = [{"Data": f"r{i:02d}".encode(), "PartitionKey": "k"} for i in range(50)]
    answer = client.put_records(StreamName=stream, Records=entries)
    results = answer["Records"]
    ok = [r for r in results if "SequenceNumber" in r]
    refused = [r for r in results if "ErrorCode" in r]
    # The allowance is one second's worth: 20 records. Refill during the call may admit
    # one or two more, never fewer, and never all.
    assert 20 <= len(ok) <= 22, answer
    assert answer["FailedRecordCount"] == len(refused) == 50 - len(ok)
    for entry in refused:
        assert entry["ErrorCode"] == "ProvisionedThroughputExceededException"
        assert entry["ErrorMessage"] == rate_exceeded(stream)
    # What was acknowledged is stored, in request order; nothing refused was written.
    admitted = [e["Data"] for e, r in zip(entries, results) if "SequenceNumber" in r]
    time.sleep(1.1)  # the read below must not be the throttled one
    assert read_all(client, stream) == admitted


def test_put_record_over_the_limit_raises_and_succeeds_again_after_refill(small):
    client = small.client()
    stream = new_stream(client, "throttle-put")
    client.put_records(StreamName=stream,
                       Records=[{"Data": b"x", "PartitionKey": "k"}] * 40)
    with pytest.raises(ClientError) as raised:
        client.put_record(StreamName=stream, Data=b"over", PartitionKey="k")
    error = raised.value.response["Error"]
    assert error["Code"] == "ProvisionedThroughputExceededException"
    assert error["Message"] == rate_exceeded(stream)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    time.sleep(1.1)
    assert client.put_record(StreamName=stream, Data=b"later", PartitionKey="k")["ShardId"] == SHARD


def test_get_records_allows_five_calls_a_second(small):
    client = small.client()
    stream = new_stream(client, "throttle-reads")
    client.put_record(StreamName=stream, Data=b"x", PartitionKey="k")
    time.sleep(1.1)
    it = client.get_shard_iterator(StreamName=stream, ShardId=SHARD,
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    outcomes = []
    for _ in range(8):
        try:
            it = client.get_records(ShardIterator=it)["NextShardIterator"]
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
    assert outcomes.count("ok") in (5, 6), outcomes  # one may refill during the loop
    assert outcomes[:5] == ["ok"] * 5, outcomes
    assert set(outcomes[6:]) == {"ProvisionedThroughputExceededException"}, outcomes


def test_a_big_get_records_throttles_reads_until_the_read_allowance_pays_for_it(weir_factory):
    # 1 MB/s of reads; one answer of 3 MB then blocks reads for about 3 s.
    server = weir_factory("readbytes", extra_args=(
        "--shard-limits", "write-bytes=0,write-records=0,read-calls=0,read-bytes=1000000"))
    client = server.client()
    stream = new_stream(client, "throttle-bytes")
    for i in range(3):
        client.put_record(StreamName=stream, Data=bytes([i]) * 1_000_000, PartitionKey="k")
    it = client.get_shard_iterator(StreamName=stream, ShardId=SHARD,
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    page = client.get_records(ShardIterator=it)
    assert len(page["Records"]) == 3
    with pytest.raises(ClientError) as raised:
        client.get_records(ShardIterator=page["NextShardIterator"])
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    time.sleep(4.0)
    assert client.get_records(ShardIterator=page["NextShardIterator"])["Records"] == []


def test_a_stream_sets_its_own_limits_over_rest_and_returns_to_the_default(small):
    client = small.client()
    stream = new_stream(client, "own-limits")
    url = f"{small.rest_url}/v1/streams/{stream}/shard-limits"
    view = requests.get(url, timeout=10).json()
    assert view["source"] == "default"
    assert view["limits"]["write_records_per_sec"] == 20
    unlimited_writes = {"write_bytes_per_sec": 0, "write_records_per_sec": 0,
                        "read_calls_per_sec": 5, "read_bytes_per_sec": 10_000_000}
    r = requests.put(url, json=unlimited_writes, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"limits": unlimited_writes, "source": "stream"}
    answer = client.put_records(StreamName=stream,
                                Records=[{"Data": b"x", "PartitionKey": "k"}] * 200)
    assert answer["FailedRecordCount"] == 0
    # Bad input is refused with a clear error and changes nothing.
    bad = requests.put(url, json={"write_records_per_sec": -1}, timeout=10)
    assert bad.status_code == 400 and "Invalid request body" in bad.json()["error"]["message"]
    assert requests.get(url, timeout=10).json()["source"] == "stream"
    r = requests.delete(url, timeout=10)
    assert r.status_code == 200 and r.json()["source"] == "default"
    time.sleep(1.1)
    answer = client.put_records(StreamName=stream,
                                Records=[{"Data": b"x", "PartitionKey": "k"}] * 40)
    assert answer["FailedRecordCount"] >= 18
    missing = requests.get(f"{small.rest_url}/v1/streams/nope/shard-limits", timeout=10)
    assert missing.status_code == 404


def test_limits_hold_on_every_node_of_a_cluster(weir_cluster_factory):
    cluster = weir_cluster_factory("limits", nodes=3,
                                   extra_args=("--shard-limits", SMALL))
    stream = unique_name("cluster-limits")
    client = cluster.client()
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    # Each node routes to the shard's leader, which holds the one meter: together the
    # three nodes still get one shard's allowance.
    admitted = 0
    started = time.monotonic()
    for node in sorted(cluster.node_urls):
        answer = cluster.node_client(node).put_records(
            StreamName=stream, Records=[{"Data": b"x", "PartitionKey": "k"}] * 15)
        admitted += 15 - answer["FailedRecordCount"]
        for entry in answer["Records"]:
            if "ErrorCode" in entry:
                assert entry["ErrorCode"] == "ProvisionedThroughputExceededException"
                assert entry["ErrorMessage"] == rate_exceeded(stream)
    elapsed = time.monotonic() - started
    # One allowance (20) plus what refilled meanwhile; three meters would have admitted
    # all 45 at once.
    assert 20 <= admitted <= 20 + 20 * elapsed + 1, (admitted, elapsed)
    assert admitted < 45, admitted


def test_a_node_refuses_requests_beyond_its_in_flight_limit_instead_of_queueing(weir_factory):
    import socket
    from urllib.parse import urlparse

    server = weir_factory("inflight", extra_args=("--max-in-flight", "2"))
    client = server.client()
    stream = new_stream(client, "inflight")
    url = urlparse(server.kinesis_url)
    # Two clients that send their headers and then stall mid-body hold both permits.
    stalled = []
    for _ in range(2):
        s = socket.create_connection((url.hostname, url.port))
        s.sendall(b"POST / HTTP/1.1\r\nHost: weir\r\nContent-Type: application/x-amz-json-1.1\r\n"
                  b"X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 100\r\n\r\n{")
        stalled.append(s)
    time.sleep(0.5)
    with pytest.raises(ClientError) as raised:
        client.put_record(StreamName=stream, Data=b"x", PartitionKey="k")
    error = raised.value.response["Error"]
    assert error["Code"] == "ProvisionedThroughputExceededException"
    assert "limit of 2 requests" in error["Message"], error
    for s in stalled:
        s.close()
    # The permits come back when the stalled requests go away.
    deadline = time.monotonic() + 10
    while True:
        try:
            client.put_record(StreamName=stream, Data=b"x", PartitionKey="k")
            break
        except ClientError:
            assert time.monotonic() < deadline, "permits were not released"
            time.sleep(0.2)
