"""The CBOR wire format that the Java SDKs (and so KCL) use by default: blobs are byte
strings, timestamps tag 1 (epoch time) wrapping epoch milliseconds both ways, and errors
come back in CBOR."""

from __future__ import annotations

import time

import cbor2
import pytest

from weirtest import ACCOUNT_ID, CBOR_CT, EpochMillis, create_stream, unique_name


@pytest.fixture(scope="module")
def stream(weir):
    name = unique_name("cbor")
    create_stream(weir.client(), name, 1)
    return name


def ok(resp):
    assert resp.status == 200, resp.describe()
    assert resp.content_type.startswith(CBOR_CT), (
        f"a CBOR request got a {resp.content_type!r} answer: {resp.describe()}")
    assert isinstance(resp.body, dict), f"answer is not a CBOR map: {resp.describe()}"
    return resp.body


def test_cbor_put_get_round_trip(weir, stream):
    payload = bytes(range(256)) + b"\x00cbor\xff"
    before_ms = int(time.time() * 1000)
    put = ok(weir.call("PutRecord", {"StreamName": stream, "Data": payload,
                                     "PartitionKey": "cbor-key"}, cbor=True))
    after_ms = int(time.time() * 1000)
    assert put["ShardId"] == "shardId-000000000000"
    assert isinstance(put["SequenceNumber"], str) and put["SequenceNumber"].isdigit()

    it = ok(weir.call("GetShardIterator", {
        "StreamName": stream, "ShardId": put["ShardId"],
        "ShardIteratorType": "AT_SEQUENCE_NUMBER",
        "StartingSequenceNumber": put["SequenceNumber"]}, cbor=True))["ShardIterator"]
    assert isinstance(it, str)

    got = ok(weir.call("GetRecords", {"ShardIterator": it, "Limit": 10}, cbor=True))
    assert isinstance(got["MillisBehindLatest"], int)
    assert isinstance(got["NextShardIterator"], str)
    rec = got["Records"][0]
    assert rec["SequenceNumber"] == put["SequenceNumber"]
    assert rec["PartitionKey"] == "cbor-key"
    assert isinstance(rec["Data"], bytes), (
        f"Data must be a CBOR byte string, got {type(rec['Data']).__name__}: "
        f"{rec['Data']!r:.80}")
    assert rec["Data"] == payload
    ts = rec["ApproximateArrivalTimestamp"]
    assert isinstance(ts, EpochMillis), (
        f"ApproximateArrivalTimestamp must be tag 1 wrapping epoch milliseconds, got "
        f"{type(ts).__name__} {ts!r}")
    assert before_ms - 2000 <= ts <= after_ms + 2000, (
        f"ApproximateArrivalTimestamp {ts} is not epoch milliseconds around "
        f"{before_ms}..{after_ms}")


def test_cbor_put_records_and_json_read_back(weir, stream):
    """Bytes written through CBOR read back identically through JSON (boto3)."""
    payloads = [bytes([i]) * (i + 1) for i in range(0, 256, 17)]
    resp = ok(weir.call("PutRecords", {"StreamName": stream, "Records": [
        {"Data": p, "PartitionKey": f"k{i}"} for i, p in enumerate(payloads)]}, cbor=True))
    assert resp.get("FailedRecordCount", 0) == 0, resp
    seqs = [r["SequenceNumber"] for r in resp["Records"]]
    client = weir.client()
    it = client.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                   ShardIteratorType="AT_SEQUENCE_NUMBER",
                                   StartingSequenceNumber=seqs[0])["ShardIterator"]
    got = client.get_records(ShardIterator=it, Limit=len(payloads))["Records"]
    assert [r["Data"] for r in got] == payloads
    assert [r["SequenceNumber"] for r in got] == seqs


@pytest.mark.parametrize("tagged", [True, False], ids=["tag-1", "bare-number"])
def test_cbor_at_timestamp_takes_epoch_milliseconds(weir, stream, tagged):
    first = ok(weir.call("PutRecord", {"StreamName": stream, "Data": b"ts-a",
                                       "PartitionKey": "t"}, cbor=True))
    time.sleep(0.05)
    boundary_ms = int(time.time() * 1000)
    time.sleep(0.05)
    second = ok(weir.call("PutRecord", {"StreamName": stream, "Data": b"ts-b",
                                        "PartitionKey": "t"}, cbor=True))
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    it = ok(weir.call("GetShardIterator", {
        "StreamName": stream, "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_TIMESTAMP",
        "Timestamp": cbor2.CBORTag(1, boundary_ms) if tagged else boundary_ms}, cbor=True))
    got = ok(weir.call("GetRecords", {"ShardIterator": it["ShardIterator"]}, cbor=True))
    assert [r["Data"] for r in got["Records"]][:1] == [b"ts-b"], got["Records"][:2]


def test_cbor_describe_stream(weir, stream):
    d = ok(weir.call("DescribeStream", {"StreamName": stream}, cbor=True))["StreamDescription"]
    assert d["StreamName"] == stream
    assert d["StreamStatus"] == "ACTIVE"
    created = d["StreamCreationTimestamp"]
    now_ms = time.time() * 1000
    assert isinstance(created, EpochMillis) and now_ms - 3_600_000 < created <= now_ms + 2000, (
        f"StreamCreationTimestamp must be tag 1 wrapping epoch milliseconds, got {created!r}")
    # The bytes as the Java SDK reads them: 0xc1 (tag 1), then an 8-byte integer.
    raw = weir.call("DescribeStream", {"StreamName": stream}, cbor=True).raw
    assert bytes([0xc1, 0x1b]) + int(created).to_bytes(8, "big") in raw


def test_cbor_error_for_missing_stream(weir):
    name = unique_name("cbor-missing")
    resp = weir.call("DescribeStream", {"StreamName": name}, cbor=True)
    assert resp.status == 400, resp.describe()
    assert resp.content_type.startswith(CBOR_CT), resp.describe()
    body = cbor2.loads(resp.raw)
    assert isinstance(body, dict), resp.describe()
    assert body["__type"].split("#")[-1] == "ResourceNotFoundException", body
    assert body["message"] == f"Stream {name} under account {ACCOUNT_ID} not found.", body


def test_cbor_validation_error_is_cbor(weir, stream):
    resp = weir.call("PutRecord", {"StreamName": stream, "Data": b"x", "PartitionKey": ""},
                     cbor=True)
    assert resp.status == 400, resp.describe()
    assert resp.content_type.startswith(CBOR_CT), resp.describe()
    body = cbor2.loads(resp.raw)
    assert body["__type"].split("#")[-1] == "ValidationException", body
    assert "at 'partitionKey' failed to satisfy constraint" in body["message"], body


def test_malformed_cbor_is_serialization_exception(weir, stream):
    resp = weir.call("PutRecord", None, raw=b"\xbf\x63abc", cbor=True)
    assert resp.status == 400, resp.describe()
    assert resp.content_type.startswith(CBOR_CT), resp.describe()
    assert resp.error_type == "SerializationException", resp.describe()
    ok(weir.call("DescribeStreamSummary", {"StreamName": stream}, cbor=True))
