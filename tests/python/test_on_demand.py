"""On-demand streams and capacity operations, end to end through boto3 against `weir up`:
UpdateStreamMode both ways with its limits, warm throughput, UpdateMaxRecordSize, the
refusals Kinesis gives on-demand streams, the REST capacity calls, and the autoscaler
scaling a stream out under load and back in after it, without losing a record."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict

import pytest
import requests
from botocore.exceptions import ClientError

from weirtest import (error_of, list_all_shards, open_shards, read_by_lineage, unique_name, wait_active,
                      wait_for)

MIB = 1024 * 1024


def summary(client, stream: str) -> dict:
    return client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]


@pytest.fixture
def server(weir_factory):
    # Quick mode changes to observe UPDATING; an autoscaler that reacts in seconds.
    return weir_factory("ondemand", extra_args=(
        "--reshard-delay-ms", "1500", "--autoscale-interval-ms", "300",
        "--scale-cooldown-ms", "1000"))


def test_update_stream_mode_switches_both_ways_twice_a_day_and_refuses_manual_resharding(server):
    client = server.client()
    stream = unique_name("mode")
    client.create_stream(StreamName=stream, ShardCount=2)
    arn = wait_active(client, stream)["StreamARN"]
    client.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert summary(client, stream)["StreamStatus"] == "UPDATING"
    wait_for("ACTIVE", lambda: summary(client, stream)["StreamStatus"] == "ACTIVE")
    s = summary(client, stream)
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert s["MaxRecordSizeInKiB"] == 1024
    assert "WarmThroughput" in s
    # Kinesis refuses manual resharding of on-demand streams.
    shard = list_all_shards(client, stream)[0]
    for call in (
        lambda: client.update_shard_count(StreamName=stream, TargetShardCount=4,
                                          ScalingType="UNIFORM_SCALING"),
        lambda: client.split_shard(StreamName=stream, ShardToSplit=shard["ShardId"],
                                   NewStartingHashKey=str(2 ** 126)),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        code, message = error_of(raised)
        assert code == "ValidationException" and "ON_DEMAND" in message, message
    # An on-demand stream keeps at least 4 shards: the autoscaler raises this one, then
    # the stream is ACTIVE again (a mode change waits for that, as in Kinesis; meanwhile
    # it answers ResourceInUse).
    wait_for("4 open shards, ACTIVE", lambda: len(open_shards(list_all_shards(client, stream))) == 4
             and summary(client, stream)["StreamStatus"] == "ACTIVE")
    # Same mode again: refused, and it does not count as a change.
    with pytest.raises(ClientError) as raised:
        client.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert error_of(raised)[0] == "InvalidArgumentException"
    client.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    wait_for("ACTIVE", lambda: summary(client, stream)["StreamStatus"] == "ACTIVE")
    assert summary(client, stream)["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert "WarmThroughput" not in summary(client, stream)
    # A third change within 24 hours is over Kinesis's limit.
    with pytest.raises(ClientError) as raised:
        client.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    code, message = error_of(raised)
    assert code == "LimitExceededException" and "24 hours" in message, message
    # Bad input is refused by the model before anything changes.
    with pytest.raises(ClientError) as raised:
        server.client(validate=False).update_stream_mode(
            StreamARN=arn, StreamModeDetails={"StreamMode": "FAST"})
    assert error_of(raised)[0] == "ValidationException"
    assert summary(client, stream)["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}


def test_warm_throughput_keeps_shards_ready_and_max_record_size_takes_bigger_records(server):
    client = server.client()
    stream = unique_name("warm")
    client.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = wait_active(client, stream)["StreamARN"]
    assert len(open_shards(list_all_shards(client, stream))) == 4
    answer = client.update_stream_warm_throughput(StreamName=stream, WarmThroughputMiBps=9)
    assert answer["WarmThroughput"]["TargetMiBps"] == 9
    assert answer["StreamName"] == stream and answer["StreamARN"] == arn
    # The autoscaler raises the stream to nine 1 MiB/s shards.
    wait_for("9 open shards", lambda: len(open_shards(list_all_shards(client, stream))) >= 9,
             within_s=30)
    warm = summary(client, stream)["WarmThroughput"]
    assert warm["TargetMiBps"] == 9 and warm["CurrentMiBps"] >= 9
    events = requests.get(f"{server.rest_url}/v1/streams/{stream}/scaling-events", timeout=10)
    assert events.status_code == 200
    assert {e["action"] for e in events.json()["events"]} == {"warm"}
    assert all("warm throughput" in e["reason"] for e in events.json()["events"])
    # Records over 1 MiB are refused until the stream takes bigger ones.
    big = b"x" * (MIB + MIB // 2)
    with pytest.raises(ClientError) as raised:
        client.put_record(StreamName=stream, Data=big, PartitionKey="k")
    code, message = error_of(raised)
    assert code == "ValidationException" and "1048576" in message, message
    client.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=2048)
    assert summary(client, stream)["MaxRecordSizeInKiB"] == 2048
    assert client.put_record(StreamName=stream, Data=big, PartitionKey="k")["SequenceNumber"]
    with pytest.raises(ClientError) as raised:
        server.client(validate=False).update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=100)
    assert error_of(raised)[0] == "ValidationException"
    # Warm throughput is for on-demand streams only.
    provisioned = unique_name("prov")
    client.create_stream(StreamName=provisioned, ShardCount=1)
    wait_active(client, provisioned)
    with pytest.raises(ClientError) as raised:
        client.update_stream_warm_throughput(StreamName=provisioned, WarmThroughputMiBps=4)
    code, message = error_of(raised)
    assert code == "ValidationException" and "PROVISIONED" in message, message


def test_rest_sets_shard_count_and_mode(server):
    client = server.client()
    stream = unique_name("rest-cap")
    base = f"{server.rest_url}/v1/streams/{stream}"
    assert requests.post(f"{server.rest_url}/v1/streams",
                         json={"name": stream, "shard_count": 2}, timeout=10).status_code == 201
    wait_active(client, stream)
    r = requests.put(f"{base}/shard-count", json={"shard_count": 4}, timeout=10)
    assert r.status_code == 202, r.text
    wait_for("4 open shards", lambda: len(open_shards(list_all_shards(client, stream))) == 4)
    r = requests.put(f"{base}/shard-count", json={"shard_count": 100}, timeout=10)
    assert r.status_code == 400 and "double" in r.json()["error"]["message"]
    wait_active(client, stream)
    r = requests.put(f"{base}/mode", json={"mode": "ON_DEMAND"}, timeout=10)
    assert r.status_code == 202, r.text
    wait_for("ACTIVE", lambda: summary(client, stream)["StreamStatus"] == "ACTIVE")
    r = requests.put(f"{base}/shard-count", json={"shard_count": 8}, timeout=10)
    assert r.status_code == 400 and "ON_DEMAND" in r.json()["error"]["message"], r.text
    r = requests.put(f"{base}/mode", json={"mode": "SOMETIMES"}, timeout=10)
    assert r.status_code == 400


class Producer:
    """Writes numbered records under 64 keys at a target rate, retrying throttled ones
    (as an SDK's retry policy would), and remembers every acknowledgement in order."""

    def __init__(self, client, stream: str):
        self.client, self.stream = client, stream
        self.rate = 0.0
        self.acked: dict[str, list[int]] = defaultdict(list)
        self.sent = self.throttled = 0
        self.stop = threading.Event()
        self.next = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        pending: list[tuple[str, int]] = []
        while not self.stop.is_set():
            started = time.monotonic()
            want = int(self.rate / 10)
            while len(pending) < want:
                pending.append((f"key-{random.randrange(64)}", self.next))
                self.next += 1
            batch, pending = pending[:500], pending[500:]
            if batch:
                answer = self.client.put_records(StreamName=self.stream, Records=[
                    {"PartitionKey": k, "Data": f"{k}:{n}".encode()} for k, n in batch])
                retry = []
                for (k, n), result in zip(batch, answer["Records"]):
                    if "SequenceNumber" in result:
                        self.acked[k].append(n)
                    else:
                        assert result["ErrorCode"] == "ProvisionedThroughputExceededException"
                        retry.append((k, n))
                self.sent += len(batch)
                self.throttled += len(retry)
                # Per-key order: a throttled record goes ahead of anything newer for its key.
                pending = retry + pending
            time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))


def test_an_on_demand_stream_scales_out_under_load_and_back_in_without_losing_a_record(weir_factory):
    # 100 records/s per shard, so 8x the starting capacity (4 shards) is 3,200 records/s.
    server = weir_factory("autoscale", extra_args=(
        "--shard-limits", "write-records=100,write-bytes=0,read-calls=0,read-bytes=0",
        "--autoscale-interval-ms", "500", "--scale-out-after-ms", "3000",
        "--scale-in-after-ms", "4000", "--scale-cooldown-ms", "2000",
        "--scale-peak-window-ms", "8000", "--on-demand-min-shards", "4",
        "--on-demand-max-shards", "40"))
    client = server.client(max_attempts=1)
    stream = unique_name("scale")
    client.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(client, stream)
    producer = Producer(client, stream)
    shard_counts: list[tuple[float, int]] = []  # (time, open shards), sampled
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            shard_counts.append((time.monotonic(), len(open_shards(list_all_shards(client, stream)))))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    producer.thread.start()
    sampler.start()
    steps: list[tuple[float, float]] = []  # (start, offered records/s)
    try:
        for multiple in (1, 2, 4, 8):
            producer.rate = 400.0 * multiple * 0.9
            steps.append((time.monotonic(), producer.rate))
            time.sleep(6)
        grown = wait_for("capacity for 8x the starting load",
                         lambda: (n := len(open_shards(list_all_shards(client, stream)))) >= 30 and n,
                         within_s=90, every_s=0.5)
    finally:
        producer.stop.set()
        producer.thread.join(timeout=30)
        sampling.set()
        sampler.join(timeout=10)
    # Seconds from each load step until the open shards' capacity (100 records/s each)
    # covered the offered rate.
    to_capacity = []
    for start, offered in steps:
        reached = next((t for t, n in shard_counts if t >= start and n * 100 >= offered), None)
        to_capacity.append(None if reached is None else round(reached - start, 1))
    # With no load, cold pairs merge once the peak has left its window.
    shrunk = wait_for("merges after the load",
                      lambda: (n := len(open_shards(list_all_shards(client, stream)))) < grown and n,
                      within_s=90, every_s=0.5)
    events = requests.get(f"{server.rest_url}/v1/streams/{stream}/scaling-events?limit=1000",
                          timeout=10).json()["events"]
    actions = {e["action"] for e in events}
    assert {"split", "merge"} <= actions, events
    assert all(e["reason"] and e["rates"] for e in events if e["action"] != "warm")
    # Nothing acknowledged is lost, nothing is duplicated, and per-key order holds across
    # every split and merge.
    read = read_by_lineage(client, stream, deadline_s=120)
    assert not read.unread, read.unread
    seen: dict[str, list[int]] = defaultdict(list)
    for sid in read.order:
        for record in read.records[sid]:
            key, n = record["Data"].decode().split(":")
            seen[key].append(int(n))
    for key, acked in producer.acked.items():
        assert seen[key] == acked, f"key {key}: read {seen[key][:20]}... acked {acked[:20]}..."
    assert sum(len(v) for v in seen.values()) == sum(len(v) for v in producer.acked.values())
    assert to_capacity[-1] is not None, (to_capacity, shard_counts)
    print(f"\nautoscale: grew 4 -> {grown} shards; seconds from each load step (1x, 2x, 4x, 8x) "
          f"to capacity: {to_capacity}; "
          f"shrank to {shrunk}; throttled {producer.throttled / max(producer.sent, 1):.1%} of "
          f"{producer.sent} sends; {len(events)} decisions")
