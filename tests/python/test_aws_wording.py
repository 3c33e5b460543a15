"""AWS's exact wording and shapes for bad input, and its empty answers.

Each test states what AWS does. The texts come from kinesalite, which recorded them
against the live service (mhart/kinesalite: validations/index.js, test/helpers.js and
the per-operation tests), and from the botocore model (which operations have no output).
Requests go over the raw wire so the server's own answer is what is tested.
"""

from __future__ import annotations

import pytest

from weirtest import (ACCOUNT_ID, REGION, create_stream, list_all_shards, unique_name,
                      wire_call)

BIG_NUMBER = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
START_OF_LIST = "Start of list found where not expected"
START_OF_MAP = "Start of structure or map found where not expected."
NAME_PATTERN = "[a-zA-Z0-9_.-]+"


def vmsg(*violations: str) -> str:
    n = len(violations)
    return f"{n} validation error{'s' if n != 1 else ''} detected: " + "; ".join(violations)


@pytest.fixture(scope="module")
def stream(weir):
    name = unique_name("wording")
    create_stream(weir.client(), name, 1)
    return name


# ---- 1. SerializationException: Coral's Java text for a member of the wrong type -----------
WRONG_TYPES = [
    # A string member.
    ("DescribeStream", {"StreamName": True},
     "class java.lang.Boolean can not be converted to an String"),
    ("DescribeStream", {"StreamName": 23}, f"{BIG_NUMBER} can not be converted to an String"),
    ("DescribeStream", {"StreamName": 34.56},
     f"{BIG_NUMBER} can not be converted to an String"),
    ("DescribeStream", {"StreamName": []}, START_OF_LIST),
    ("DescribeStream", {"StreamName": {}}, START_OF_MAP),
    # An integer member.
    ("CreateStream", {"StreamName": "x", "ShardCount": "23"},
     "class java.lang.String can not be converted to an Integer"),
    ("CreateStream", {"StreamName": "x", "ShardCount": True},
     "class java.lang.Boolean can not be converted to an Integer"),
    ("ListStreams", {"Limit": []}, START_OF_LIST),
    ("ListStreams", {"Limit": {}}, START_OF_MAP),
    # A map, and a map's values.
    ("AddTagsToStream", {"StreamName": "x", "Tags": "23"}, "Expected map or null"),
    ("AddTagsToStream", {"StreamName": "x", "Tags": 23}, "Expected map or null"),
    ("AddTagsToStream", {"StreamName": "x", "Tags": []}, START_OF_LIST),
    ("AddTagsToStream", {"StreamName": "x", "Tags": {"a": True}},
     "class java.lang.Boolean can not be converted to an String"),
    # A list, a list's members, and a structure in a list.
    ("RemoveTagsFromStream", {"StreamName": "x", "TagKeys": "23"}, "Expected list or null"),
    ("RemoveTagsFromStream", {"StreamName": "x", "TagKeys": True}, "Expected list or null"),
    ("RemoveTagsFromStream", {"StreamName": "x", "TagKeys": {}}, START_OF_MAP),
    ("RemoveTagsFromStream", {"StreamName": "x", "TagKeys": [True]},
     "class java.lang.Boolean can not be converted to an String"),
    ("PutRecords", {"StreamName": "x", "Records": ["23"]}, "Expected null"),
    ("PutRecords", {"StreamName": "x", "Records": [[]]}, START_OF_LIST),
    # A blob.
    ("PutRecord", {"StreamName": "x", "PartitionKey": "k", "Data": True},
     "class java.lang.Boolean can not be converted to a Blob"),
    ("PutRecord", {"StreamName": "x", "PartitionKey": "k", "Data": 23},
     f"{BIG_NUMBER} can not be converted to a Blob"),
    ("PutRecord", {"StreamName": "x", "PartitionKey": "k", "Data": "23456"},
     "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple "
     "of 4 bytes but found: 5"),
    ("PutRecord", {"StreamName": "x", "PartitionKey": "k", "Data": "=+/="},
     "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"),
    ("PutRecord", {"StreamName": "x", "PartitionKey": "k", "Data": "+/+="},
     "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"),
    # A timestamp.
    ("GetShardIterator", {"StreamName": "x", "ShardId": "shardId-0",
                          "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": "23"},
     "class java.lang.String can not be converted to milliseconds since epoch"),
    ("GetShardIterator", {"StreamName": "x", "ShardId": "shardId-0",
                          "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": True},
     "class java.lang.Boolean can not be converted to milliseconds since epoch"),
    # Types are checked before anything else, even with no stream named.
    ("ListShards", {"StreamCreationTimestamp": "23"},
     "class java.lang.String can not be converted to milliseconds since epoch"),
]


@pytest.mark.parametrize("op,body,text", WRONG_TYPES,
                         ids=[f"{op}-{i}" for i, (op, _, _) in enumerate(WRONG_TYPES)])
def test_a_member_of_the_wrong_type_gets_javas_text(weir, op, body, text):
    resp = weir.call(op, body)
    assert resp.status == 400, resp.describe()
    assert resp.body == {"__type": "SerializationException", "Message": text}, resp.describe()


def test_cbor_members_of_the_wrong_type_get_the_same_text(weir):
    resp = weir.call("DescribeStream", {"StreamName": True}, cbor=True)
    assert resp.status == 400, resp.describe()
    assert resp.body == {"__type": "SerializationException",
                         "Message": "class java.lang.Boolean can not be converted to an String"}


# ---- 5. `__type` alone where AWS sends no message ------------------------------------------
@pytest.mark.parametrize("raw", [b'{"StreamName": ', b'{"StreamName": "x"} trailing',
                                 b'{"a": tru}'])
def test_a_body_that_does_not_parse_gets_the_type_alone(weir, raw):
    resp = weir.call("DescribeStream", None, raw=raw)
    assert resp.status == 400, resp.describe()
    assert resp.body == {"__type": "SerializationException"}, resp.describe()
    assert resp.headers.get("x-amzn-errortype") == "SerializationException"


def test_malformed_cbor_gets_the_type_alone(weir):
    resp = weir.call("DescribeStream", None, raw=b"\xa1\x6aStreamN", cbor=True)
    assert resp.status == 400, resp.describe()
    assert resp.body == {"__type": "SerializationException"}, resp.describe()


# ---- 2. an empty member breaks the pattern and the length, in AWS's order -------------------
def test_an_empty_stream_name_is_reported_against_pattern_and_length(weir):
    resp = weir.call("CreateStream", {"StreamName": "", "ShardCount": 0})
    assert resp.error_type == "ValidationException", resp.describe()
    assert resp.message == vmsg(
        "Value '0' at 'shardCount' failed to satisfy constraint: Member must have value "
        "greater than or equal to 1",
        "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular "
        f"expression pattern: {NAME_PATTERN}",
        "Value '' at 'streamName' failed to satisfy constraint: Member must have length "
        "greater than or equal to 1"), resp.describe()
    resp = weir.call("DescribeStreamSummary", {"StreamName": ""})
    assert resp.message == vmsg(
        "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular "
        f"expression pattern: {NAME_PATTERN}",
        "Value '' at 'streamName' failed to satisfy constraint: Member must have length "
        "greater than or equal to 1"), resp.describe()


# ---- 4. operations without an output shape answer 200 with no body --------------------------
def test_operations_without_output_answer_with_no_body(weir):
    name = unique_name("nobody")
    calls = [
        ("CreateStream", {"StreamName": name, "ShardCount": 1}),
        ("AddTagsToStream", {"StreamName": name, "Tags": {"a": "1"}}),
        ("RemoveTagsFromStream", {"StreamName": name, "TagKeys": ["a"]}),
        ("IncreaseStreamRetentionPeriod", {"StreamName": name, "RetentionPeriodHours": 48}),
        ("DecreaseStreamRetentionPeriod", {"StreamName": name, "RetentionPeriodHours": 24}),
    ]
    for op, body in calls:
        resp = weir.call(op, body)
        assert (resp.status, resp.raw) == (200, b""), f"{op}: {resp.describe()}"
        assert resp.headers["content-length"] == "0"
        assert resp.content_type.startswith("application/x-amz-json-1.1")
    resp = weir.call("AddTagsToStream", {"StreamName": name, "Tags": {"b": "2"}}, cbor=True)
    assert (resp.status, resp.raw) == (200, b""), resp.describe()
    assert resp.content_type.startswith("application/x-amz-cbor-1.1")
    # Operations with an output shape still answer with a body.
    resp = weir.call("ListTagsForStream", {"StreamName": name})
    assert resp.body == {"Tags": [{"Key": "b", "Value": "2"}], "HasMoreTags": False}
    resp = weir.call("DeleteStream", {"StreamName": name})
    assert (resp.status, resp.raw) == (200, b""), resp.describe()


def test_boto3_reads_an_empty_answer(weir):
    client = weir.client()
    name = unique_name("nobody-boto")
    answer = client.create_stream(StreamName=name, ShardCount=1)
    assert set(answer) == {"ResponseMetadata"}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    client.get_waiter("stream_exists").wait(StreamName=name,
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert set(client.add_tags_to_stream(StreamName=name, Tags={"k": "v"})) == {
        "ResponseMetadata"}
    assert set(client.delete_stream(StreamName=name)) == {"ResponseMetadata"}


# ---- 6. the shard limit in AWS's words ------------------------------------------------------
def test_the_shard_limit_is_refused_in_aws_words(weir_factory):
    server = weir_factory("shard-limit", extra_args=("--shard-limit", "4"))
    resp = server.call("CreateStream", {"StreamName": unique_name("big"), "ShardCount": 5})
    assert resp.status == 400, resp.describe()
    assert resp.body == {
        "__type": "LimitExceededException",
        "message": f"This request would exceed the shard limit for the account {ACCOUNT_ID} in "
                   f"{REGION}. Current shard count for the account: 0. Limit: 4. Number of "
                   "additional shards that would have resulted from this request: 5. Refer to "
                   "the AWS Service Limits page "
                   "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for "
                   "current limits and how to request higher limits."}, resp.describe()


# ---- 7. the whole input is validated before the stream is looked up -------------------------
MISSING = "no-such-stream-anywhere"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{MISSING}"


def test_a_missing_stream_with_a_long_tag_key_is_a_validation_error(weir):
    key = "k" * 129
    resp = weir.call("AddTagsToStream", {"StreamName": MISSING, "Tags": {"a": "1", key: "2"}})
    assert resp.error_type == "ValidationException", resp.describe()
    assert resp.message == vmsg(
        f"Value '{{a=1, {key}=2}}' at 'tags' failed to satisfy constraint: Map keys must "
        "satisfy constraint: [Member must have length less than or equal to 128, Member must "
        "have length greater than or equal to 1]")


def test_a_missing_stream_with_a_long_tag_value_is_a_validation_error(weir):
    value = "v" * 257
    resp = weir.call("AddTagsToStream", {"StreamName": MISSING, "Tags": {"c": value}})
    assert resp.message == vmsg(
        f"Value '{{c={value}}}' at 'tags' failed to satisfy constraint: Map value must "
        "satisfy constraint: [Member must have length less than or equal to 256, Member must "
        "have length greater than or equal to 0]"), resp.describe()


def test_long_tag_keys_to_remove_are_reported_for_the_list(weir):
    key = "a" * 129
    resp = weir.call("RemoveTagsFromStream", {"StreamName": MISSING, "TagKeys": ["a", key, "b"]})
    assert resp.message == vmsg(
        f"Value '[a, {key}, b]' at 'tagKeys' failed to satisfy constraint: Member must satisfy "
        "constraint: [Member must have length less than or equal to 128, Member must have "
        "length greater than or equal to 1]"), resp.describe()


@pytest.mark.parametrize("op,body", [
    ("DescribeStream", {"StreamName": MISSING, "Limit": 0}),
    ("ListTagsForStream", {"StreamName": MISSING, "Limit": 51}),
    ("GetShardIterator", {"StreamName": MISSING, "ShardId": "shardId-0",
                          "ShardIteratorType": "SOMEWHERE"}),
    ("PutRecord", {"StreamName": MISSING, "PartitionKey": "", "Data": ""}),
    ("RemoveTagsFromStream", {"StreamName": MISSING, "TagKeys": [str(i) for i in range(51)]}),
    ("DescribeStreamConsumer", {"StreamARN": STREAM_ARN, "ConsumerName": "a b"}),
    ("DescribeStreamConsumer", {"ConsumerARN": "not-an-arn"}),
])
def test_invalid_input_for_a_missing_stream_is_a_validation_error(weir, op, body):
    resp = weir.call(op, body)
    assert resp.error_type == "ValidationException", resp.describe()


# ---- which "not found": an unreadable shard id before the stream, else the stream ------
@pytest.mark.parametrize("op,shard_member,extra", [
    ("SplitShard", "ShardToSplit", {"NewStartingHashKey": "0"}),
    ("MergeShards", "ShardToMerge", {"AdjacentShardToMerge": "shardId-000000000001"}),
])
def test_an_unreadable_shard_id_is_not_found_before_the_stream(weir, stream, op,
                                                               shard_member, extra):
    missing = unique_name("nostream")
    # A shard number over 2147483647, or no number at all: that shard, whatever the stream.
    for shard in ("2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4"):
        answer = wire_call(weir.kinesis_url, op,
                           {"StreamName": missing, shard_member: shard, **extra})
        assert answer.error_type == "ResourceNotFoundException", answer.describe()
        assert answer.message == (f"Could not find shard {shard} in stream {missing} "
                                  f"under account {ACCOUNT_ID}."), answer.describe()
    # A readable id on a missing stream: the stream is what is missing.
    for shard in ("2147483647", "a-00002147483647", "shardId-5"):
        answer = wire_call(weir.kinesis_url, op,
                           {"StreamName": missing, shard_member: shard, **extra})
        assert answer.error_type == "ResourceNotFoundException", answer.describe()
        assert answer.message == f"Stream {missing} under account {ACCOUNT_ID} not found."
    # A readable id on a stream that has no such shard: the normalised id.
    answer = wire_call(weir.kinesis_url, op, {"StreamName": stream, shard_member: "shardId-5",
                                              **extra})
    assert answer.error_type == "ResourceNotFoundException", answer.describe()
    assert answer.message == (f"Could not find shard shardId-000000000005 in stream {stream} "
                              f"under account {ACCOUNT_ID}.")


# ---- Integer members: Coral floors a fraction and caps a value past 2^31-1 -----------------
def test_fractional_integers_are_floored_and_large_ones_capped(weir):
    client = weir.client()
    name = unique_name("ints")
    # ShardCount 2.9 is a stream of 2 shards (AWS reads the number through a truncating
    # BigNumber into a Java Integer).
    resp = weir.call("CreateStream", {"StreamName": name, "ShardCount": 2.9})
    assert resp.status == 200, resp.describe()
    client.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    page = weir.call("ListShards", {"StreamName": name, "MaxResults": 1.5})
    assert page.status == 200, page.describe()
    assert len(page.body["Shards"]) == 1 and "NextToken" in page.body, page.describe()
    assert len(list_all_shards(client, name)) == 2

    shard = "shardId-000000000000"
    for i in range(3):
        client.put_record(StreamName=name, Data=b"r%d" % i, PartitionKey="k",
                          ExplicitHashKey="0")
    iterator = client.get_shard_iterator(StreamName=name, ShardId=shard,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = weir.call("GetRecords", {"ShardIterator": iterator, "Limit": 2.99})
    assert got.status == 200, got.describe()
    assert [r["Data"] for r in got.body["Records"]] == ["cjA=", "cjE="]
    # The same in CBOR, where the fraction is a CBOR float.
    got = weir.call("GetRecords", {"ShardIterator": iterator, "Limit": 1.5}, cbor=True)
    assert got.status == 200, got.describe()
    assert [r["Data"] for r in got.body["Records"]] == [b"r0"]

    # Past 2^31-1 the value is 2147483647, which then breaks the member's range.
    for op, body, member, most in [
        ("ListStreams", {"Limit": 1e12}, "limit", 10000),
        ("GetRecords", {"ShardIterator": iterator, "Limit": 2147483648}, "limit", 10000),
    ]:
        resp = weir.call(op, body)
        assert resp.error_type == "ValidationException", resp.describe()
        assert resp.message == vmsg(
            f"Value '2147483647' at '{member}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {most}"), resp.describe()


def test_only_the_first_ten_violations_are_counted(weir):
    # 501 records, each with an empty partition key: the list is too long and every record
    # is bad, but Kinesis stops at ten violations and counts only those.
    records = [{"PartitionKey": "", "Data": ""} for _ in range(501)]
    resp = weir.call("PutRecords", {"StreamName": "", "Records": records})
    assert resp.error_type == "ValidationException", resp.describe()
    assert resp.message.startswith("10 validation errors detected: "), resp.message
    assert resp.message.count("; ") == 9, resp.message
    assert "'records.9.member.partitionKey'" in resp.message, resp.message
    assert "'records.10.member" not in resp.message, resp.message


def test_an_iterator_of_a_deleted_stream_names_its_shard(weir):
    client = weir.client()
    name = unique_name("gone")
    create_stream(client, name, 2)
    iterators = [client.get_shard_iterator(StreamName=name, ShardId=f"shardId-00000000000{i}",
                                           ShardIteratorType="LATEST")["ShardIterator"]
                 for i in range(2)]
    client.delete_stream(StreamName=name)
    client.get_waiter("stream_not_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    def refused(iterator, shard):
        resp = weir.call("GetRecords", {"ShardIterator": iterator})
        assert resp.error_type == "ResourceNotFoundException", resp.describe()
        assert resp.message == (f"Shard shardId-00000000000{shard} in stream {name} under "
                                f"account {ACCOUNT_ID} does not exist"), resp.describe()

    refused(iterators[0], 0)
    refused(iterators[1], 1)
    # A new stream of the same name does not revive the old iterators.
    create_stream(client, name, 1)
    refused(iterators[0], 0)
    refused(iterators[1], 1)
