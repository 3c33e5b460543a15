"""Bad input gets AWS's exception names and wording, nothing is half-applied, and the
server keeps serving afterwards.

Requests go over the raw wire (or through boto3 with client-side validation off) so the
server's own answer is what is tested.
"""

from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError

from weirtest import (ACCOUNT_ID, JSON_CT, MAX_HASH_KEY, create_stream,
                      error_of, read_stream, unique_name)

ONE_MIB = 1024 * 1024
NAME_PATTERN = "[a-zA-Z0-9_.-]+"


def vmsg(*violations: str) -> str:
    n = len(violations)
    return f"{n} validation error{'s' if n != 1 else ''} detected: " + "; ".join(violations)


@pytest.fixture(scope="module")
def stream(weir):
    """A healthy 2-shard stream that every test checks afterwards."""
    client = weir.client()
    name = unique_name("bad-input")
    create_stream(client, name, 2)
    return name


@pytest.fixture
def expect(weir, stream):
    """expect(op, body, type, message=None | str | regex) sends `body`, checks the error
    and then that the server still answers a valid call."""

    def check(op, body, err_type, message=None, *, raw=None, target=None,
              content_type=None):
        resp = weir.call(op, body, raw=raw, target=target, content_type=content_type)
        ctx = f"{op} {str(body)[:300] if raw is None else raw[:300]!r} -> {resp.describe()}"
        assert resp.status == 400, ctx
        assert resp.content_type.startswith(JSON_CT), ctx
        assert isinstance(resp.body, dict), f"error body is not JSON: {ctx}"
        if isinstance(err_type, tuple):
            assert resp.error_type in err_type, ctx
        else:
            assert resp.error_type == err_type, ctx
        if isinstance(message, str):
            assert resp.message == message, ctx
        elif message is not None:
            assert resp.message and message.search(resp.message), ctx
        assert_healthy(weir, stream)
        return resp

    return check


def assert_healthy(weir, stream):
    resp = weir.call("DescribeStreamSummary", {"StreamName": stream})
    assert resp.status == 200, f"server unhealthy after bad input: {resp.describe()}"
    assert resp.body["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
    resp = weir.call("PutRecord", {"StreamName": stream, "Data": "aGVhbHRoeQ==",
                                   "PartitionKey": "health"})
    assert resp.status == 200, f"server cannot write after bad input: {resp.describe()}"


# ---- protocol-level errors ------------------------------------------------------------------
@pytest.mark.parametrize("raw", [b'{"StreamName": ', b"not json at all", b"[1, 2",
                                 b'{"StreamName": "x"} trailing', b"\xff\xfe\x00"])
def test_malformed_json_is_serialization_exception(expect, raw):
    expect("DescribeStream", None, "SerializationException", raw=raw)


def test_wrong_json_type_is_serialization_exception(expect, stream):
    expect("CreateStream", {"StreamName": unique_name("x"), "ShardCount": "four"},
           "SerializationException")
    expect("PutRecord", {"StreamName": stream, "PartitionKey": "k", "Data": 12},
           "SerializationException")


def test_unknown_operation(expect):
    expect("FlyToTheMoon", {}, "UnknownOperationException")


def test_wrong_service_prefix_is_unknown_operation(expect):
    expect("ListStreams", {}, "UnknownOperationException",
           target="DynamoDB_20120810.ListTables")


def test_invalid_base64_data(expect, weir):
    client = weir.client()
    name = unique_name("bad-b64")
    create_stream(client, name, 1)
    expect("PutRecord", {"StreamName": name, "PartitionKey": "k", "Data": "%%%not base64"},
           ("SerializationException", "ValidationException"))
    expect("PutRecords", {"StreamName": name, "Records": [
        {"PartitionKey": "k", "Data": "eA=="}, {"PartitionKey": "k", "Data": "!!"}]},
        ("SerializationException", "ValidationException"))
    assert all(v == [] for v in read_stream(client, name, deadline_s=30).values())
    client.delete_stream(StreamName=name)


# ---- validation ---------------------------------------------------------------------------------
def test_invalid_stream_name_pattern(expect, stream):
    expect("CreateStream", {"StreamName": "bad name!", "ShardCount": 1},
           "ValidationException",
           vmsg("Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {NAME_PATTERN}"))
    expect("DescribeStream", {"StreamName": "bad/name"}, "ValidationException",
           vmsg("Value 'bad/name' at 'streamName' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {NAME_PATTERN}"))


def test_stream_name_too_long(expect):
    name = "a" * 129
    expect("CreateStream", {"StreamName": name, "ShardCount": 1}, "ValidationException",
           vmsg(f"Value '{name}' at 'streamName' failed to satisfy constraint: Member must "
                "have length less than or equal to 128"))


def test_stream_name_empty(expect):
    # AWS checks the pattern before the length, and "" breaks both.
    expect("CreateStream", {"StreamName": "", "ShardCount": 1}, "ValidationException",
           vmsg("Value '' at 'streamName' failed to satisfy constraint: Member must satisfy "
                f"regular expression pattern: {NAME_PATTERN}",
                "Value '' at 'streamName' failed to satisfy constraint: Member must have "
                "length greater than or equal to 1"))


def test_shard_count_zero(expect, weir):
    name = unique_name("zero")
    expect("CreateStream", {"StreamName": name, "ShardCount": 0}, "ValidationException",
           vmsg("Value '0' at 'shardCount' failed to satisfy constraint: Member must have "
                "value greater than or equal to 1"))
    # Not half-created.
    resp = weir.call("DescribeStreamSummary", {"StreamName": name})
    assert resp.error_type == "ResourceNotFoundException", resp.describe()
    assert name not in weir.call("ListStreams", {"Limit": 10000}).body["StreamNames"]


def test_two_violations_are_both_listed(expect):
    resp = expect("CreateStream", {"StreamName": "bad name!", "ShardCount": 0},
                  "ValidationException")
    msg = resp.message
    assert msg.startswith("2 validation errors detected: "), msg
    assert ("Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must "
            f"satisfy regular expression pattern: {NAME_PATTERN}") in msg
    assert ("Value '0' at 'shardCount' failed to satisfy constraint: Member must have value "
            "greater than or equal to 1") in msg
    assert msg.count("; ") == 1, msg


def test_missing_stream_name_and_arn(expect):
    expect("DescribeStreamSummary", {}, ("ValidationException", "InvalidArgumentException"),
           re.compile(r"streamName|StreamName|StreamARN"))


def test_empty_partition_key(expect, stream):
    expect("PutRecord", {"StreamName": stream, "PartitionKey": "", "Data": "eA=="},
           "ValidationException",
           vmsg("Value '' at 'partitionKey' failed to satisfy constraint: Member must have "
                "length greater than or equal to 1"))


def test_partition_key_too_long(expect, stream):
    pk = "p" * 257
    expect("PutRecord", {"StreamName": stream, "PartitionKey": pk, "Data": "eA=="},
           "ValidationException",
           vmsg(f"Value '{pk}' at 'partitionKey' failed to satisfy constraint: Member must "
                "have length less than or equal to 256"))


def test_partition_key_of_256_multibyte_chars_is_accepted(weir, stream):
    """The limit counts characters (as AWS does), not UTF-8 bytes."""
    resp = weir.call("PutRecord", {"StreamName": stream, "PartitionKey": "é" * 256,
                                   "Data": "eA=="})
    assert resp.status == 200, resp.describe()


def test_record_over_one_mib(kinesis_novalidate, weir, stream):
    with pytest.raises(ClientError) as e:
        kinesis_novalidate.put_record(StreamName=stream, Data=b"\x00" * (ONE_MIB + 1),
                                      PartitionKey="big")
    code, msg = error_of(e)
    assert code == "ValidationException", (code, msg)
    assert re.fullmatch(r"1 validation error detected: Value( '[^']*')? at 'data' failed to "
                        r"satisfy constraint: Member must have length less than or equal "
                        r"to 1048576", msg or ""), msg
    assert_healthy(weir, stream)


def test_record_at_the_one_mib_limit(kinesis, kinesis_novalidate, weir, stream):
    """A record may be 1 MiB including its partition key (as Kinesis counts it): exactly
    at the limit is accepted and read back intact; one byte more is refused."""
    pk = "big-ok"
    data = (bytes(range(256)) * (ONE_MIB // 256 + 1))[:ONE_MIB - len(pk)]
    r = kinesis.put_record(StreamName=stream, Data=data, PartitionKey=pk)
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=r["ShardId"],
                                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=r["SequenceNumber"])["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it, Limit=1)["Records"]
    assert got and got[0]["Data"] == data
    with pytest.raises(ClientError) as e:
        kinesis_novalidate.put_record(StreamName=stream, Data=data + b"!", PartitionKey=pk)
    assert error_of(e)[0] == "ValidationException", error_of(e)
    assert_healthy(weir, stream)


def test_put_records_over_500(expect, stream):
    records = [{"PartitionKey": f"k{i}", "Data": "eA=="} for i in range(501)]
    expect("PutRecords", {"StreamName": stream, "Records": records}, "ValidationException",
           re.compile(r"^1 validation error detected: Value '.*' at 'records' failed to "
                      r"satisfy constraint: Member must have length less than or equal to "
                      r"500$", re.S))


def test_put_records_empty_list(expect, stream):
    expect("PutRecords", {"StreamName": stream, "Records": []}, "ValidationException",
           re.compile(r"^1 validation error detected: Value '.*' at 'records' failed to "
                      r"satisfy constraint: Member must have length greater than or equal "
                      r"to 1$", re.S))


def test_put_records_with_one_invalid_record_writes_none(weir, expect):
    client = weir.client()
    name = unique_name("bad-batch")
    create_stream(client, name, 2)
    records = [{"PartitionKey": f"k{i}", "Data": "eA=="} for i in range(10)]
    records[3]["PartitionKey"] = ""
    expect("PutRecords", {"StreamName": name, "Records": records}, "ValidationException",
           vmsg("Value '' at 'records.4.member.partitionKey' failed to satisfy constraint: "
                "Member must have length greater than or equal to 1"))
    records[3]["PartitionKey"] = "ok"
    records[7]["Data"] = "A" * (((ONE_MIB + 3) // 3) * 4)  # base64 of 1 MiB + 2 bytes
    resp = expect("PutRecords", {"StreamName": name, "Records": records},
                  "ValidationException")
    assert "at 'records.8.member.data' failed to satisfy constraint: Member must have " \
           "length less than or equal to 1048576" in resp.message, resp.message
    records[7]["Data"] = "eA=="
    records[9]["ExplicitHashKey"] = str(MAX_HASH_KEY + 1)
    expect("PutRecords", {"StreamName": name, "Records": records}, "InvalidArgumentException")
    written = read_stream(client, name, deadline_s=30)
    assert all(v == [] for v in written.values()), (
        f"a rejected PutRecords wrote records: { {k: len(v) for k, v in written.items()} }")
    client.delete_stream(StreamName=name)


def test_explicit_hash_key_out_of_range(expect, stream):
    resp = expect("PutRecord", {"StreamName": stream, "PartitionKey": "k", "Data": "eA==",
                                "ExplicitHashKey": str(MAX_HASH_KEY + 1)},
                  "InvalidArgumentException")
    assert "ExplicitHashKey" in resp.message, resp.message


def test_explicit_hash_key_not_a_number(expect, stream):
    expect("PutRecord", {"StreamName": stream, "PartitionKey": "k", "Data": "eA==",
                         "ExplicitHashKey": "abc"}, "ValidationException",
           vmsg("Value 'abc' at 'explicitHashKey' failed to satisfy constraint: Member must "
                r"satisfy regular expression pattern: 0|([1-9]\d{0,38})"))


# ---- missing and existing resources -------------------------------------------------------------
@pytest.mark.parametrize("op,extra", [
    ("DescribeStream", {}),
    ("DescribeStreamSummary", {}),
    ("DeleteStream", {}),
    ("ListShards", {}),
    ("PutRecord", {"PartitionKey": "k", "Data": "eA=="}),
    ("PutRecords", {"Records": [{"PartitionKey": "k", "Data": "eA=="}]}),
    ("GetShardIterator", {"ShardId": "shardId-000000000000",
                          "ShardIteratorType": "TRIM_HORIZON"}),
    ("AddTagsToStream", {"Tags": {"a": "b"}}),
    ("ListTagsForStream", {}),
    ("IncreaseStreamRetentionPeriod", {"RetentionPeriodHours": 48}),
])
def test_missing_stream(expect, op, extra):
    name = unique_name("missing")
    message = f"Stream {name} under account {ACCOUNT_ID} not found."
    if op == "GetShardIterator":
        # Kinesis names the shard it could not find, even when the stream is missing.
        message = (f"Shard shardId-000000000000 in stream {name} under account {ACCOUNT_ID} "
                   "does not exist")
    expect(op, {"StreamName": name, **extra}, "ResourceNotFoundException", message)


def test_missing_stream_through_boto3(kinesis):
    name = unique_name("missing")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as e:
        kinesis.describe_stream(StreamName=name)
    assert error_of(e) == ("ResourceNotFoundException",
                           f"Stream {name} under account {ACCOUNT_ID} not found.")


def test_missing_stream_by_arn(expect):
    name = unique_name("missing")
    arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT_ID}:stream/{name}"
    expect("DescribeStreamSummary", {"StreamARN": arn}, "ResourceNotFoundException",
           f"Stream {name} under account {ACCOUNT_ID} not found.")


def test_missing_shard(expect, stream):
    expect("GetShardIterator", {"StreamName": stream, "ShardId": "shardId-000000000009",
                                "ShardIteratorType": "TRIM_HORIZON"},
           "ResourceNotFoundException",
           f"Shard shardId-000000000009 in stream {stream} under account {ACCOUNT_ID} does "
           "not exist")


def test_create_existing_stream(expect, weir, stream):
    before = weir.call("DescribeStream", {"StreamName": stream}).body
    expect("CreateStream", {"StreamName": stream, "ShardCount": 7}, "ResourceInUseException",
           f"Stream {stream} under account {ACCOUNT_ID} already exists.")
    after = weir.call("DescribeStream", {"StreamName": stream}).body
    assert len(after["StreamDescription"]["Shards"]) == 2, "CreateStream changed the stream"
    assert after["StreamDescription"]["Shards"] == before["StreamDescription"]["Shards"]


def test_create_existing_stream_through_boto3(kinesis, stream):
    with pytest.raises(kinesis.exceptions.ResourceInUseException):
        kinesis.create_stream(StreamName=stream, ShardCount=1)


# ---- iterators ------------------------------------------------------------------------------------
@pytest.mark.parametrize("iterator", ["garbage", "A" * 200, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                                      "shardId-000000000000"],
                         ids=["word", "200-chars", "base64-zeros", "a-shard-id"])
def test_garbage_shard_iterator(expect, iterator):
    expect("GetRecords", {"ShardIterator": iterator}, "InvalidArgumentException",
           "Invalid ShardIterator.")


def test_tampered_shard_iterator(expect, weir, stream):
    it = weir.call("GetShardIterator", {"StreamName": stream, "ShardId": "shardId-000000000000",
                                        "ShardIteratorType": "TRIM_HORIZON"}).body["ShardIterator"]
    mid = len(it) // 2
    flipped = it[:mid] + ("A" if it[mid] != "A" else "B") + it[mid + 1:]
    expect("GetRecords", {"ShardIterator": flipped}, "InvalidArgumentException",
           "Invalid ShardIterator.")


def test_shard_iterator_too_long(expect):
    expect("GetRecords", {"ShardIterator": "A" * 513}, "ValidationException",
           vmsg(f"Value '{'A' * 513}' at 'shardIterator' failed to satisfy constraint: "
                "Member must have length less than or equal to 512"))


def test_sequence_number_iterator_without_sequence_number(expect, stream):
    expect("GetShardIterator", {"StreamName": stream, "ShardId": "shardId-000000000000",
                                "ShardIteratorType": "AT_SEQUENCE_NUMBER"},
           "InvalidArgumentException")


def test_bad_iterator_type(expect, stream):
    resp = expect("GetShardIterator", {"StreamName": stream,
                                       "ShardId": "shardId-000000000000",
                                       "ShardIteratorType": "SOMEWHERE"},
                  "ValidationException",
                  re.compile(r"^1 validation error detected: Value 'SOMEWHERE' at "
                             r"'shardIteratorType' failed to satisfy constraint: Member must "
                             r"satisfy enum value set: \[[A-Z_, ]+\]$"))
    listed = re.search(r"\[(.*)\]", resp.message).group(1).split(", ")
    assert sorted(listed) == ["AFTER_SEQUENCE_NUMBER", "AT_SEQUENCE_NUMBER", "AT_TIMESTAMP",
                              "LATEST", "TRIM_HORIZON"], resp.message


def test_at_timestamp_in_the_future(expect, stream):
    resp = expect("GetShardIterator", {"StreamName": stream, "ShardId": "shardId-000000000000",
                                       "ShardIteratorType": "AT_TIMESTAMP",
                                       "Timestamp": time.time() + 3600},
                  "InvalidArgumentException")
    assert resp.message.startswith("The timestampInMillis parameter cannot be greater than "
                                   "the currentTimestampInMillis."), resp.message


# ---- retention ----------------------------------------------------------------------------------
def test_retention_out_of_bounds(expect, weir, stream):
    expect("DecreaseStreamRetentionPeriod", {"StreamName": stream, "RetentionPeriodHours": 23},
           "InvalidArgumentException",
           re.compile(r"Minimum allowed retention period is 24 hours"))
    expect("IncreaseStreamRetentionPeriod",
           {"StreamName": stream, "RetentionPeriodHours": 8761}, "InvalidArgumentException",
           re.compile(r"Maximum allowed retention period is 8760 hours"))
    # Increase to a lower value / decrease to a higher value are refused too.
    weir.call("IncreaseStreamRetentionPeriod", {"StreamName": stream, "RetentionPeriodHours": 72})
    expect("IncreaseStreamRetentionPeriod", {"StreamName": stream, "RetentionPeriodHours": 48},
           "InvalidArgumentException")
    expect("DecreaseStreamRetentionPeriod", {"StreamName": stream, "RetentionPeriodHours": 96},
           "InvalidArgumentException")
    summary = weir.call("DescribeStreamSummary", {"StreamName": stream}).body
    assert summary["StreamDescriptionSummary"]["RetentionPeriodHours"] == 72
    weir.call("DecreaseStreamRetentionPeriod", {"StreamName": stream, "RetentionPeriodHours": 24})


# ---- the HTTP layer itself ----------------------------------------------------------------------
def test_missing_target_header(weir, stream):
    resp = weir.call("ListStreams", {}, target="")
    assert 400 <= resp.status < 500, resp.describe()
    assert_healthy(weir, stream)


def test_huge_body_is_refused_without_harm(weir, stream):
    """A 12 MiB body (over PutRecords' 10 MiB) is refused, not buffered forever."""
    blob = "A" * (12 * ONE_MIB)
    raw = ('{"StreamName": "%s", "PartitionKey": "k", "Data": "%s"}' % (stream, blob)).encode()
    resp = weir.call("PutRecord", None, raw=raw)
    assert 400 <= resp.status < 500, resp.describe()
    assert_healthy(weir, stream)


def test_many_bad_requests_in_a_row_leave_the_server_healthy(weir, stream):
    for i in range(200):
        weir.call("PutRecord", None, raw=b"{" * (i % 7 + 1))
        weir.call("Nope%d" % i, {})
        weir.call("GetRecords", {"ShardIterator": "x%d" % i})
    assert_healthy(weir, stream)

