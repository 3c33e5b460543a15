"""Behaviour that must match AWS exactly, through boto3 against `weir up` (issue: AWS-exact).
Each test states what Kinesis does; the strings are AWS's, as kinesalite records them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from weirtest import ACCOUNT_ID, create_stream, error_of, unique_name

AWS_SEQUENCE = "49590338271490256608559692538361571095921575989136588898"


@pytest.fixture(scope="module")
def stream(weir):
    name = unique_name("fidelity")
    create_stream(weir.client(), name, 1)
    weir.client().put_record(StreamName=name, Data=b"first", PartitionKey="k")
    return name


def iterator(client, stream: str, shard_id: str, kind: str = "TRIM_HORIZON", **kwargs) -> str:
    return client.get_shard_iterator(StreamName=stream, ShardId=shard_id,
                                     ShardIteratorType=kind, **kwargs)["ShardIterator"]


@pytest.mark.parametrize("shard_id", ["shardId-000000000000", "shardId-0", "anything-0", "0"])
def test_any_prefix_and_number_names_the_shard(weir, stream, shard_id):
    client = weir.client()
    records = client.get_records(ShardIterator=iterator(client, stream, shard_id))["Records"]
    assert [r["Data"] for r in records][:1] == [b"first"]


def test_shard_ids_that_do_not_parse_or_do_not_exist_get_aws_wording(weir, stream):
    client = weir.client(validate=False)
    with pytest.raises(ClientError) as raised:
        iterator(client, stream, "shardId-x")
    assert error_of(raised) == ("ResourceNotFoundException",
                                f"Could not find shard shardId-x in stream {stream} under account {ACCOUNT_ID}.")
    with pytest.raises(ClientError) as raised:
        iterator(client, stream, "shard-5")
    assert error_of(raised) == ("ResourceNotFoundException",
                                f"Shard shardId-000000000005 in stream {stream} under account {ACCOUNT_ID} does not exist")
    missing = unique_name("missing")
    with pytest.raises(ClientError) as raised:
        iterator(client, missing, "shardId-000000000000")
    assert error_of(raised) == ("ResourceNotFoundException",
                                f"Shard shardId-000000000000 in stream {missing} under account {ACCOUNT_ID} does not exist")


@pytest.mark.parametrize("kind", ["TRIM_HORIZON", "LATEST"])
def test_trim_horizon_or_latest_with_a_sequence_number_is_refused(weir, stream, kind):
    client = weir.client()
    seq = client.put_record(StreamName=stream, Data=b"x", PartitionKey="k")["SequenceNumber"]
    with pytest.raises(ClientError) as raised:
        iterator(client, stream, "shardId-000000000000", kind, StartingSequenceNumber=seq)
    assert error_of(raised) == ("InvalidArgumentException", (
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "
        "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
        f"Request specified {kind} and also a StartingSequenceNumber."))


def test_at_sequence_number_without_one_is_refused(weir, stream):
    with pytest.raises(ClientError) as raised:
        iterator(weir.client(), stream, "shardId-000000000000", "AT_SEQUENCE_NUMBER")
    assert error_of(raised)[1].endswith(
        "Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.")


def test_an_iterator_in_literal_double_quotes_is_accepted(weir, stream):
    client = weir.client()
    it = iterator(client, stream, "shardId-000000000000")
    answer = client.get_records(ShardIterator=f'"{it}"')
    assert [r["Data"] for r in answer["Records"]][:1] == [b"first"]


def test_an_aws_format_sequence_number_for_ordering_is_accepted(weir, stream):
    answer = weir.client().put_record(StreamName=stream, Data=b"ordered", PartitionKey="k",
                                      SequenceNumberForOrdering=AWS_SEQUENCE)
    assert answer["SequenceNumber"].isdigit()
    with pytest.raises(ClientError) as raised:
        weir.client(validate=False).put_record(StreamName=stream, Data=b"x", PartitionKey="k",
                                               SequenceNumberForOrdering="012")
    code, message = error_of(raised)
    assert code == "ValidationException" and "sequenceNumberForOrdering" in message


def test_tag_characters_follow_aws_rules(weir, stream):
    client = weir.client()
    with pytest.raises(ClientError) as raised:
        client.add_tags_to_stream(StreamName=stream, Tags={"abc;def": "x"})
    assert error_of(raised) == ("InvalidArgumentException",
                                "Some tags contain invalid characters. Valid characters: Unicode letters, "
                                "digits, white space, _ . / = + - % @ :.")
    with pytest.raises(ClientError) as raised:
        client.add_tags_to_stream(StreamName=stream, Tags={"team": "50%"})
    assert error_of(raised) == ("InvalidArgumentException", (
        f"Failed to add tags to stream {stream} under account {ACCOUNT_ID} because some tags "
        "contained illegal characters. The allowed characters are Unicode letters, white-spaces, "
        "'_',',','/','=','+','-','@',':'."))
    assert client.list_tags_for_stream(StreamName=stream)["Tags"] == []
    client.add_tags_to_stream(StreamName=stream, Tags={"équipe data": "a.b/c=d+e-f@g:h_i"})
    tags = client.list_tags_for_stream(StreamName=stream)["Tags"]
    assert tags == [{"Key": "équipe data", "Value": "a.b/c=d+e-f@g:h_i"}]
    # Removal checks the keys by the same rules, and names the removal, and removes nothing.
    with pytest.raises(ClientError) as raised:
        client.remove_tags_from_stream(StreamName=stream, TagKeys=["équipe data", "abc;def"])
    assert error_of(raised) == ("InvalidArgumentException",
                                "Some tags contain invalid characters. Valid characters: Unicode letters, "
                                "digits, white space, _ . / = + - % @ :.")
    with pytest.raises(ClientError) as raised:
        client.remove_tags_from_stream(StreamName=stream, TagKeys=["équipe data", "50%"])
    assert error_of(raised) == ("InvalidArgumentException", (
        f"Failed to remove tags from stream {stream} under account {ACCOUNT_ID} because some tags "
        "contained illegal characters. The allowed characters are Unicode letters, white-spaces, "
        "'_',',','/','=','+','-','@',':'."))
    assert client.list_tags_for_stream(StreamName=stream)["Tags"] == tags
    client.remove_tags_from_stream(StreamName=stream, TagKeys=["équipe data"])
    assert client.list_tags_for_stream(StreamName=stream)["Tags"] == []


def test_a_new_stream_can_stay_creating_and_refuses_writes_until_active(weir_factory):
    server = weir_factory("creating", extra_args=("--create-delay-ms", "1500"))
    client = server.client()
    name = unique_name("creating")
    client.create_stream(StreamName=name, ShardCount=1)
    assert client.describe_stream_summary(StreamName=name)[
        "StreamDescriptionSummary"]["StreamStatus"] == "CREATING"
    with pytest.raises(ClientError) as raised:
        client.put_record(StreamName=name, Data=b"early", PartitionKey="k")
    assert error_of(raised) == ("ResourceNotFoundException",
                                f"Stream {name} under account {ACCOUNT_ID} not found.")
    # boto3's own waiter polls DescribeStream until ACTIVE, as applications do.
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    assert client.put_record(StreamName=name, Data=b"later", PartitionKey="k")["ShardId"]


def test_a_deleted_stream_stays_deleting_then_goes_even_across_a_crash(weir_factory):
    server = weir_factory("deleting", extra_args=("--create-delay-ms", "1500"))
    client = server.client()
    name = unique_name("deleting")
    # Deleted while still CREATING, as Kinesis allows.
    client.create_stream(StreamName=name, ShardCount=2)
    assert client.describe_stream(StreamName=name)[
        "StreamDescription"]["StreamStatus"] == "CREATING"
    client.delete_stream(StreamName=name)
    described = client.describe_stream(StreamName=name)["StreamDescription"]
    assert (described["StreamStatus"], described["Shards"], described["HasMoreShards"]) == (
        "DELETING", [], False), described
    assert name in client.list_streams()["StreamNames"]
    # It takes no records, and its name is not free yet.
    with pytest.raises(ClientError) as raised:
        client.put_record(StreamName=name, Data=b"late", PartitionKey="k")
    assert error_of(raised) == ("ResourceNotFoundException",
                                f"Stream {name} under account {ACCOUNT_ID} not found.")
    with pytest.raises(ClientError) as raised:
        client.create_stream(StreamName=name, ShardCount=1)
    assert error_of(raised)[0] == "ResourceInUseException"
    # Deleting it again changes nothing.
    client.delete_stream(StreamName=name)
    # boto3's own waiter polls DescribeStream until it is gone, as applications do.
    client.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    assert name not in client.list_streams()["StreamNames"]

    # An ACTIVE stream with records: its reads stop once it is DELETING, and a kill -9
    # then does not bring it back (DELETING and its start are stored).
    create_stream(client, name, 1)
    client.put_record(StreamName=name, Data=b"kept until deleted", PartitionKey="k")
    iterator = client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    client.delete_stream(StreamName=name)
    with pytest.raises(ClientError) as raised:
        client.get_records(ShardIterator=iterator)
    assert error_of(raised) == ("ResourceNotFoundException", (
        f"Shard shardId-000000000000 in stream {name} under account {ACCOUNT_ID} "
        "does not exist"))
    server.kill()
    server.start()
    client = server.client()
    try:
        status = client.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"]["StreamStatus"]
        assert status == "DELETING", status
    except ClientError as gone:  # the delay may have passed during the restart
        assert error_of(gone)[0] == "ResourceNotFoundException"
    client.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    create_stream(client, name, 1)
    iterator = client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert client.get_records(ShardIterator=iterator)["Records"] == []
