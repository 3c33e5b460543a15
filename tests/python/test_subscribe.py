"""SubscribeToShard (enhanced fan-out), as boto3's event-stream client and raw HTTP see it.

boto3 checks what a KCL-style consumer relies on: every starting position, the events'
members, ResourceInUse, a consumer deregistered mid-stream, and ChildShards once a split or
merge closes the shard. Raw HTTP checks the wire (frames parsed by botocore's own
event-stream parser, the initial-response event, CBOR with tag-1 timestamps). A 3-node
cluster checks a subscription made on a node that does not lead the shard, and one that
follows its shard when the leader moves. The fan-out test runs 20 consumers on one shard,
one of them stalled.
"""

import json
import socket
import threading
import time

import pytest
import requests
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from weirtest import (
    CBOR_CT,
    JSON_CT,
    TARGET_PREFIX,
    WeirServer,
    cbor_loads,
    create_stream,
    make_client,
    unique_name,
    wait_for,
)

SHARD0 = "shardId-000000000000"
# Short enough that a subscription a test leaves open ends by itself soon.
LIFETIME_MS = 10_000


@pytest.fixture(scope="module")
def efo(tmp_path_factory):
    root = tmp_path_factory.mktemp("weir-efo")
    server = WeirServer(root / "data", root / "logs",
                        extra_args=("--subscription-lifetime-ms", str(LIFETIME_MS),
                                    "--shard-limits", "off"))
    server.start()
    yield server
    server.close()


@pytest.fixture
def k(efo):
    return make_client(efo.kinesis_url, read_timeout=60)


def new_stream(k, shards: int = 1) -> tuple[str, str]:
    name = unique_name("efo")
    create_stream(k, name, shards)
    arn = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    return name, arn


def register(k, stream_arn: str, name: str | None = None) -> str:
    consumer = k.register_stream_consumer(StreamARN=stream_arn,
                                          ConsumerName=name or unique_name("c"))["Consumer"]
    arn = consumer["ConsumerARN"]
    wait_for("consumer ACTIVE", lambda: k.describe_stream_consumer(ConsumerARN=arn)
             ["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE")
    return arn


def put(k, stream: str, payloads: list[bytes], key: str = "pk") -> list[dict]:
    return [k.put_record(StreamName=stream, PartitionKey=key, Data=p) for p in payloads]


def subscribe(k, consumer_arn: str, start: dict, shard: str = SHARD0):
    return k.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId=shard,
                                StartingPosition=start)["EventStream"]


def gather(stream, want_records: int | None = None, max_events: int = 1000):
    """Events until `want_records` records arrived, or the stream ended."""
    events, records = [], []
    for event in stream:
        body = event["SubscribeToShardEvent"]
        events.append(body)
        records.extend(body["Records"])
        if want_records is not None and len(records) >= want_records:
            break
        if len(events) >= max_events:
            break
    stream.close()
    return events, records


# ---- boto3 -------------------------------------------------------------------------------

def test_every_starting_position_reads_from_the_right_record(k):
    name, arn = new_stream(k)
    early = [b"early-%d" % i for i in range(3)]
    put(k, name, early)
    # boto3 sends timestamps in whole seconds: leave more than a second between groups.
    time.sleep(1.2)
    late = [b"late-%d" % i for i in range(5)]
    puts = put(k, name, late)
    payloads = early + late
    consumers = [register(k, arn) for _ in range(5)]

    _, records = gather(subscribe(k, consumers[0], {"Type": "TRIM_HORIZON"}), 8)
    assert [r["Data"] for r in records] == payloads
    seqs = [r["SequenceNumber"] for r in records]
    assert seqs[3:] == [p["SequenceNumber"] for p in puts]

    _, records = gather(subscribe(k, consumers[1], {"Type": "AT_SEQUENCE_NUMBER",
                                                    "SequenceNumber": seqs[4]}), 4)
    assert [r["Data"] for r in records] == payloads[4:]

    _, records = gather(subscribe(k, consumers[2], {"Type": "AFTER_SEQUENCE_NUMBER",
                                                    "SequenceNumber": seqs[4]}), 3)
    assert [r["Data"] for r in records] == payloads[5:]

    # AT_TIMESTAMP: from the first record that arrived at or after the time.
    everything = gather(subscribe(k, consumers[3], {"Type": "TRIM_HORIZON"}), 8)[1]
    at = everything[3]["ApproximateArrivalTimestamp"]
    _, records = gather(subscribe(k, consumers[4], {"Type": "AT_TIMESTAMP", "Timestamp": at}), 5)
    assert [r["Data"] for r in records] == late


def test_latest_pushes_only_new_records_within_the_subscription(k):
    name, arn = new_stream(k)
    put(k, name, [b"old"])
    consumer = register(k, arn)
    stream = subscribe(k, consumer, {"Type": "LATEST"})
    put(k, name, [b"new-1", b"new-2"])
    events, records = gather(stream, 2)
    assert [r["Data"] for r in records] == [b"new-1", b"new-2"]
    last = events[-1]
    # The continuation resumes right after the last record delivered.
    assert last["ContinuationSequenceNumber"] == records[-1]["SequenceNumber"]
    assert last["MillisBehindLatest"] == 0
    assert "ChildShards" not in last


def test_idle_subscription_sends_events_and_ends_after_its_lifetime(k):
    name, arn = new_stream(k)
    consumer = register(k, arn)
    started = time.monotonic()
    events, records = gather(subscribe(k, consumer, {"Type": "TRIM_HORIZON"}))
    elapsed = time.monotonic() - started
    assert records == []
    # Idle events keep coming (every 5 s) and the stream ends cleanly at the lifetime.
    assert len(events) >= 1
    assert all("ContinuationSequenceNumber" in e for e in events)
    assert elapsed >= LIFETIME_MS / 1000 - 0.5, elapsed


def test_second_subscription_within_five_seconds_is_refused_then_replaces(k):
    name, arn = new_stream(k)
    consumer = register(k, arn)
    first = subscribe(k, consumer, {"Type": "LATEST"})
    with pytest.raises(ClientError) as refused:
        subscribe(k, consumer, {"Type": "LATEST"})
    assert refused.value.response["Error"]["Code"] == "ResourceInUseException"
    assert consumer in refused.value.response["Error"]["Message"]
    # Another shard of the same consumer is a different subscription.
    time.sleep(5.2)
    second = subscribe(k, consumer, {"Type": "LATEST"})
    put(k, name, [b"after"])
    _, records = gather(second, 1)
    assert [r["Data"] for r in records] == [b"after"]
    # The first one was ended in favour of the second: it yields nothing more.
    leftover = []
    for event in first:
        leftover.extend(event["SubscribeToShardEvent"]["Records"])
    assert b"after" not in [r["Data"] for r in leftover]


def test_deregistering_the_consumer_ends_its_subscription(k):
    name, arn = new_stream(k)
    consumer = register(k, arn)
    stream = subscribe(k, consumer, {"Type": "TRIM_HORIZON"})
    put(k, name, [b"one"])
    iterator = iter(stream)
    first = next(iterator)["SubscribeToShardEvent"]
    assert [r["Data"] for r in first["Records"]] == [b"one"]
    k.deregister_stream_consumer(ConsumerARN=consumer)
    with pytest.raises(EventStreamError) as ended:
        for _ in iterator:
            pass
    assert ended.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_split_ends_the_parent_subscription_with_its_children(k):
    name, arn = new_stream(k)
    put(k, name, [b"before-split"])
    consumer = register(k, arn)
    stream = subscribe(k, consumer, {"Type": "TRIM_HORIZON"})
    iterator = iter(stream)
    assert next(iterator)["SubscribeToShardEvent"]["Records"][0]["Data"] == b"before-split"
    k.split_shard(StreamName=name, ShardToSplit=SHARD0, NewStartingHashKey=str(2 ** 127))
    events = [e["SubscribeToShardEvent"] for e in iterator]
    final = events[-1]
    assert "ContinuationSequenceNumber" not in final or final["ContinuationSequenceNumber"] is None
    children = sorted(c["ShardId"] for c in final["ChildShards"])
    assert children == ["shardId-000000000001", "shardId-000000000002"]
    assert all(c["ParentShards"] == [SHARD0] for c in final["ChildShards"])
    # The children are readable by subscription too.
    child_consumer = register(k, arn)
    put(k, name, [b"after-split"], key="any")
    got = []
    for child in children:
        s = subscribe(k, child_consumer, {"Type": "TRIM_HORIZON"}, shard=child)
        for event in s:
            got.extend(r["Data"] for r in event["SubscribeToShardEvent"]["Records"])
            break
        s.close()
    assert b"after-split" in got


def test_merge_ends_both_parent_subscriptions_with_the_merged_child(k):
    name, arn = new_stream(k, shards=2)
    consumer = register(k, arn)
    streams = {sid: iter(subscribe(k, consumer, {"Type": "TRIM_HORIZON"}, shard=sid))
               for sid in (SHARD0, "shardId-000000000001")}
    k.merge_shards(StreamName=name, ShardToMerge=SHARD0,
                   AdjacentShardToMerge="shardId-000000000001")
    for sid, iterator in streams.items():
        final = [e["SubscribeToShardEvent"] for e in iterator][-1]
        assert [c["ShardId"] for c in final["ChildShards"]] == ["shardId-000000000002"], sid
        assert sorted(final["ChildShards"][0]["ParentShards"]) == \
            [SHARD0, "shardId-000000000001"]


@pytest.mark.parametrize("start, code", [
    ({"Type": "SOMEWHERE"}, "ValidationException"),
    ({"Type": "AT_SEQUENCE_NUMBER"}, "InvalidArgumentException"),
    ({"Type": "TRIM_HORIZON", "SequenceNumber": "1"}, "InvalidArgumentException"),
])
def test_bad_starting_positions_are_refused(efo, start, code):
    k = make_client(efo.kinesis_url, validate=False)
    name, arn = new_stream(k)
    consumer = register(k, arn)
    with pytest.raises(ClientError) as refused:
        subscribe(k, consumer, start)
    assert refused.value.response["Error"]["Code"] == code


def test_unknown_consumer_and_shard_are_not_found(k):
    name, arn = new_stream(k)
    consumer = register(k, arn)
    with pytest.raises(ClientError) as missing:
        subscribe(k, consumer + "0", {"Type": "LATEST"})
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as missing:
        subscribe(k, consumer, {"Type": "LATEST"}, shard="shardId-000000000009")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "shardId-000000000009" in missing.value.response["Error"]["Message"]


# ---- the wire ----------------------------------------------------------------------------

def raw_subscribe(url: str, consumer: str, *, cbor: bool, start=None):
    body = {"ConsumerARN": consumer, "ShardId": SHARD0,
            "StartingPosition": start or {"Type": "TRIM_HORIZON"}}
    if cbor:
        import cbor2
        data, content_type = cbor2.dumps(body), CBOR_CT
    else:
        data, content_type = json.dumps(body).encode(), JSON_CT
    return requests.post(url + "/", data=data, stream=True, timeout=30, headers={
        "X-Amz-Target": TARGET_PREFIX + "SubscribeToShard", "Content-Type": content_type})


def read_messages(response, count: int) -> list:
    buffer = EventStreamBuffer()
    messages = []
    for chunk in response.iter_content(chunk_size=None):
        buffer.add_data(chunk)
        for message in buffer:
            messages.append(message)
        if len(messages) >= count:
            break
    response.close()
    return messages


@pytest.mark.parametrize("cbor", [False, True], ids=["json", "cbor"])
def test_wire_is_an_aws_event_stream(efo, k, cbor):
    name, arn = new_stream(k)
    put(k, name, [b"\x00\x01payload"])
    consumer = register(k, arn)
    response = raw_subscribe(efo.kinesis_url, consumer, cbor=cbor)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    first, second = read_messages(response, 2)
    content_type = CBOR_CT if cbor else JSON_CT
    assert first.headers == {":message-type": "event", ":event-type": "initial-response",
                             ":content-type": content_type}
    assert second.headers == {":message-type": "event", ":event-type": "SubscribeToShardEvent",
                              ":content-type": content_type}
    if cbor:
        # Tag 1 wrapping epoch milliseconds, as AWS writes timestamps in CBOR.
        assert b"\xc1\x1b" in second.payload
        event = cbor_loads(second.payload)
        record = event["Records"][0]
        assert record["Data"] == b"\x00\x01payload"
        assert type(record["ApproximateArrivalTimestamp"]).__name__ == "EpochMillis"
        assert abs(record["ApproximateArrivalTimestamp"] - time.time() * 1000) < 60_000
    else:
        event = json.loads(second.payload)
        assert event["Records"][0]["Data"] == "AAFwYXlsb2Fk"
        assert isinstance(event["Records"][0]["ApproximateArrivalTimestamp"], float)
    assert list(event)[:1] == ["Records"]
    assert event["MillisBehindLatest"] == 0
    assert event["ContinuationSequenceNumber"] == event["Records"][0]["SequenceNumber"]


def test_errors_at_the_call_are_plain_answers(efo):
    response = raw_subscribe(efo.kinesis_url, "arn:aws:kinesis:us-east-1:000000000000:"
                             "stream/nope/consumer/c:1", cbor=False)
    assert response.status_code == 400
    assert response.headers["content-type"] == JSON_CT
    assert response.json()["__type"] == "ResourceNotFoundException"


# ---- fan-out -----------------------------------------------------------------------------

def test_twenty_consumers_each_get_every_record_while_one_is_stalled(efo, k):
    name, arn = new_stream(k)
    consumers = [register(k, arn) for _ in range(20)]
    stalled_arn, active = consumers[0], consumers[1:]
    # The stalled consumer subscribes over a socket it never reads from.
    stalled = socket.create_connection(("127.0.0.1", int(efo.kinesis_url.rsplit(":", 1)[1])))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    body = json.dumps({"ConsumerARN": stalled_arn, "ShardId": SHARD0,
                       "StartingPosition": {"Type": "TRIM_HORIZON"}}).encode()
    stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: " + JSON_CT.encode() +
                    b"\r\nX-Amz-Target: " + (TARGET_PREFIX + "SubscribeToShard").encode() +
                    b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    total, size = 1200, 4096
    received: dict[str, list[bytes]] = {c: [] for c in active}
    errors: list[str] = []

    def consume(consumer: str):
        client = make_client(efo.kinesis_url, read_timeout=60)
        try:
            for event in subscribe(client, consumer, {"Type": "TRIM_HORIZON"}):
                received[consumer].extend(
                    r["Data"] for r in event["SubscribeToShardEvent"]["Records"])
                if len(received[consumer]) >= total:
                    return
        except Exception as error:  # reported below
            errors.append(f"{consumer}: {error!r}")

    threads = [threading.Thread(target=consume, args=(c,), daemon=True) for c in active]
    for t in threads:
        t.start()
    payloads = [i.to_bytes(4, "big") * (size // 4) for i in range(total)]
    started = time.monotonic()
    for i in range(0, total, 100):
        answer = k.put_records(StreamName=name, Records=[
            {"PartitionKey": "pk", "Data": p} for p in payloads[i:i + 100]])
        assert answer["FailedRecordCount"] == 0
    producer_seconds = time.monotonic() - started
    for t in threads:
        t.join(timeout=LIFETIME_MS / 1000 + 5)
    stalled.close()
    assert not errors, errors
    for consumer in active:
        assert received[consumer] == payloads, \
            f"{consumer}: {len(received[consumer])} of {total} records, in order?"
    # 4.8 MB through a subscriber that reads nothing: the producer was never held up
    # (a blocked writer would have stopped at the first few hundred KiB and never finished).
    assert producer_seconds < LIFETIME_MS / 1000, producer_seconds


# ---- across nodes ------------------------------------------------------------------------

def test_subscription_on_another_node_follows_a_leader_move(weir_cluster):
    from weirtest import probe_holder
    admin = make_client(weir_cluster.kinesis_url)
    name, arn = new_stream(admin)
    consumer = register(admin, arn)
    holder = probe_holder(weir_cluster, name, SHARD0)
    entry = next(n for n in weir_cluster.node_ids if n != holder)
    client = weir_cluster.node_client(entry, read_timeout=60)
    stream = subscribe(client, consumer, {"Type": "TRIM_HORIZON"})
    received: list[bytes] = []
    failure: list[str] = []
    done = threading.Event()

    def consume():
        try:
            for event in stream:
                received.extend(r["Data"] for r in event["SubscribeToShardEvent"]["Records"])
                if len(received) >= 60:
                    break
        except Exception as error:  # reported below
            failure.append(repr(error))
        done.set()

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    payloads = [b"m-%03d" % i for i in range(60)]
    put(admin, name, payloads[:30])
    wait_for("first half pushed", lambda: len(received) >= 30)
    moved = weir_cluster.reassign(name, SHARD0)
    assert moved.status_code == 200, moved.text
    wait_for("the shard moved", lambda: probe_holder(weir_cluster, name, SHARD0) != holder)
    put(admin, name, payloads[30:])
    assert done.wait(30), f"got {len(received)} records"
    assert not failure, failure
    # Once each, in order, across the move.
    assert received == payloads


# ---- authorization -----------------------------------------------------------------------

def test_subscribing_needs_read_permission_on_the_consumers_stream(weir_factory):
    server = weir_factory("efo-auth", extra_args=("--auth",))
    admin = make_client(server.kinesis_url, key=server.admin_key)
    token = requests.post(f"{server.rest_url}/v1/auth/token", timeout=10, json={
        "access_key_id": server.admin_key[0],
        "secret_access_key": server.admin_key[1]}).json()["token"]

    def principal(role: str) -> tuple[str, str]:
        name = unique_name(role)
        headers = {"Authorization": f"Bearer {token}"}
        r = requests.post(f"{server.rest_url}/v1/principals", headers=headers, timeout=10,
                          json={"name": name, "bindings": [{"role": role, "streams": "efo-*"}]})
        assert r.status_code == 201, r.text
        r = requests.post(f"{server.rest_url}/v1/principals/{name}/keys", headers=headers,
                          timeout=10)
        assert r.status_code == 201, r.text
        return r.json()["access_key_id"], r.json()["secret_access_key"]

    name, arn = new_stream(admin)
    consumer = register(admin, arn)
    producer = make_client(server.kinesis_url, key=principal("producer"))
    with pytest.raises(ClientError) as denied:
        subscribe(producer, consumer, {"Type": "LATEST"})
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "kinesis:SubscribeToShard" in error["Message"] and name in error["Message"]
    reader = make_client(server.kinesis_url, key=principal("consumer"), read_timeout=60)
    stream = subscribe(reader, consumer, {"Type": "TRIM_HORIZON"})
    admin.put_record(StreamName=name, PartitionKey="k", Data=b"allowed")
    _, records = gather(stream, 1)
    assert [r["Data"] for r in records] == [b"allowed"]


def test_a_consumer_is_creating_then_active_then_deleting(weir_factory):
    server = weir_factory("efo-delay", extra_args=("--create-delay-ms", "1500"))
    k = make_client(server.kinesis_url, read_timeout=60)
    name = unique_name("efo")
    k.create_stream(StreamName=name, ShardCount=1)
    wait_for("stream ACTIVE", lambda: k.describe_stream_summary(StreamName=name)
             ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE")
    arn = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    consumer = k.register_stream_consumer(StreamARN=arn, ConsumerName="late")["Consumer"]
    assert consumer["ConsumerStatus"] == "CREATING"
    with pytest.raises(ClientError) as refused:
        subscribe(k, consumer["ConsumerARN"], {"Type": "LATEST"})
    assert refused.value.response["Error"]["Code"] == "ResourceInUseException"
    wait_for("consumer ACTIVE", lambda: k.describe_stream_consumer(
        ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE")
    stream = subscribe(k, consumer["ConsumerARN"], {"Type": "TRIM_HORIZON"})
    k.put_record(StreamName=name, PartitionKey="k", Data=b"now")
    iterator = iter(stream)
    first = next(iterator)["SubscribeToShardEvent"]
    assert [r["Data"] for r in first["Records"]] == [b"now"]

    # Deregistering: DELETING for the same delay (listed, not subscribable, its open
    # subscription ended), then gone.
    k.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
    described = k.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
    assert described["ConsumerDescription"]["ConsumerStatus"] == "DELETING"
    listed = k.list_stream_consumers(StreamARN=arn)["Consumers"]
    assert [(c["ConsumerName"], c["ConsumerStatus"]) for c in listed] == [("late", "DELETING")]
    with pytest.raises(EventStreamError) as ended:
        for _ in iterator:
            pass
    assert ended.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as refused:
        subscribe(k, consumer["ConsumerARN"], {"Type": "LATEST"})
    assert refused.value.response["Error"]["Code"] == "ResourceInUseException"

    def gone():
        try:
            k.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
            return False
        except ClientError as error:
            return error.response["Error"]["Code"] == "ResourceNotFoundException"
    wait_for("consumer removed", gone)


def test_killing_the_leader_mid_subscription_loses_no_acknowledged_record(tmp_path):
    """kill -9 of the shard's leader while a subscription made on another node pushes a
    steady write load: the subscription follows the shard to its new leader, and every
    acknowledged record arrives, once, in sequence-number order."""
    from nemesis import NemesisCluster
    cluster = NemesisCluster(tmp_path / "efo-kill", nodes=3, lease_ms=2000)
    try:
        cluster.start()
        admin = cluster.client("node-0", read_timeout=30)
        name, arn = new_stream(admin)
        consumer = register(admin, arn)

        def leader():
            r = requests.get(f"{cluster.rest_url}/v1/streams/{name}/placement", timeout=5)
            shards = {s["shard_id"]: s for s in r.json()["shards"]}
            return shards.get(SHARD0, {}).get("leader")

        first_leader = wait_for("shard placed", leader)
        entry = next(n for n in cluster.node_ids if n != first_leader)
        received: list[tuple[str, bytes]] = []
        failure: list[str] = []
        stop = threading.Event()

        def consume():
            client = cluster.client(entry, read_timeout=60)
            try:
                for event in subscribe(client, consumer, {"Type": "TRIM_HORIZON"}):
                    received.extend((r["SequenceNumber"], r["Data"])
                                    for r in event["SubscribeToShardEvent"]["Records"])
                    if stop.is_set():
                        return
            except Exception as error:  # reported below
                failure.append(repr(error))

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        acked: dict[str, bytes] = {}
        writer = cluster.client(entry, read_timeout=10)

        def write(first: int, count: int):
            for i in range(first, first + count):
                data = b"k-%05d" % i
                deadline = time.monotonic() + 30
                while True:
                    try:
                        acked[writer.put_record(StreamName=name, PartitionKey="k",
                                                Data=data)["SequenceNumber"]] = data
                        break
                    except ClientError:
                        assert time.monotonic() < deadline, "writes stayed refused"
                        time.sleep(0.2)
                time.sleep(0.005)

        write(0, 150)
        cluster.nodes[first_leader].kill()
        write(150, 150)
        wait_for("a new leader", lambda: leader() not in (None, first_leader))
        wait_for("every acknowledged record pushed",
                 lambda: set(acked) <= {s for s, _ in received}, within_s=60)
        stop.set()
        assert not failure, failure
        seqs = [int(s) for s, _ in received]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), "out of order or repeated"
        got = dict(received)
        assert all(got[s] == d for s, d in acked.items())
    finally:
        left = cluster.close()
        assert not left, f"processes left behind: {left}"


def test_shutdown_ends_open_subscriptions_instead_of_waiting_for_them(weir_factory):
    server = weir_factory("efo-stop")
    k = make_client(server.kinesis_url, read_timeout=60)
    name, arn = new_stream(k)
    consumer = register(k, arn)
    stream = subscribe(k, consumer, {"Type": "LATEST"})
    ended = threading.Event()

    def drain():
        try:
            for _ in stream:
                pass
        except Exception:  # the connection may also just close
            pass
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    time.sleep(0.5)
    # The lifetime is five minutes: a server that waited for the stream would be killed
    # after the timeout instead (stop() answers None).
    assert server.stop(timeout=15) == 0
    assert ended.wait(10), "the subscription did not end with the server"
