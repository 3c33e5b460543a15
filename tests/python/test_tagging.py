"""TagResource, UntagResource and ListTagsForResource on streams and consumers, through
boto3: the same tags as AddTagsToStream and ListTagsForStream, AWS's validation, and
consumer tags that survive a restart."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from weirtest import unique_name, wait_active


def tags_of(client, arn: str) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in
            client.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def error(excinfo) -> tuple[str, str]:
    e = excinfo.value.response["Error"]
    return e["Code"], e.get("Message", "")


def test_stream_and_consumer_tags_through_resource_arns(weir_factory):
    server = weir_factory("tagging")
    client = server.client()
    stream = unique_name("tagged")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]

    client.tag_resource(ResourceARN=arn, Tags={"team": "data", "env": "test"})
    assert tags_of(client, arn) == {"team": "data", "env": "test"}
    # One set of tags, whichever API wrote it.
    client.add_tags_to_stream(StreamName=stream, Tags={"cost": "42"})
    assert tags_of(client, arn) == {"team": "data", "env": "test", "cost": "42"}
    listed = client.list_tags_for_stream(StreamName=stream)["Tags"]
    assert {t["Key"]: t["Value"] for t in listed} == tags_of(client, arn)
    client.untag_resource(ResourceARN=arn, TagKeys=["env", "not-there"])
    assert tags_of(client, arn) == {"team": "data", "cost": "42"}
    assert [t["Key"] for t in client.list_tags_for_resource(ResourceARN=arn)["Tags"]] == \
        ["cost", "team"], "in key order"

    consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="reader")
    consumer_arn = consumer["Consumer"]["ConsumerARN"]
    assert tags_of(client, consumer_arn) == {}
    client.tag_resource(ResourceARN=consumer_arn, Tags={"owner": "alice"})
    assert tags_of(client, consumer_arn) == {"owner": "alice"}
    assert tags_of(client, arn) == {"team": "data", "cost": "42"}, "the stream's are its own"

    # Consumer tags are stored: they survive a restart.
    server.restart()
    client = server.client()
    assert tags_of(client, consumer_arn) == {"owner": "alice"}
    client.untag_resource(ResourceARN=consumer_arn, TagKeys=["owner"])
    assert tags_of(client, consumer_arn) == {}

    client.tag_resource(ResourceARN=consumer_arn, Tags={"x": "1"})
    client.deregister_stream_consumer(ConsumerARN=consumer_arn)
    with pytest.raises(ClientError) as gone:
        client.list_tags_for_resource(ResourceARN=consumer_arn)
    assert error(gone)[0] == "ResourceNotFoundException"
    assert "Consumer reader under stream" in error(gone)[1]
    # Registered again under the same name: a new ARN, and the old one names nothing.
    again = client.register_stream_consumer(StreamARN=arn, ConsumerName="reader")
    if again["Consumer"]["ConsumerARN"] != consumer_arn:
        with pytest.raises(ClientError) as stale:
            client.tag_resource(ResourceARN=consumer_arn, Tags={"y": "2"})
        assert error(stale)[0] == "ResourceNotFoundException"
    assert tags_of(client, again["Consumer"]["ConsumerARN"]) == {}, "no tags carried over"


def test_resource_tagging_is_validated_as_aws_does(weir_factory):
    server = weir_factory("tagging-bad")
    # botocore would refuse the bad ARN itself: let the server answer.
    client = server.client(validate=False)
    stream = unique_name("bad")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]

    with pytest.raises(ClientError) as bad_arn:
        client.list_tags_for_resource(ResourceARN="arn:aws:s3:::bucket")
    code, message = error(bad_arn)
    assert code == "ValidationException"
    assert "'resourceARN' failed to satisfy constraint: Member must satisfy regular " \
           "expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*(stream|channel|queue)/\\S+" in message

    missing = arn.replace(stream, stream + "-missing")
    with pytest.raises(ClientError) as not_found:
        client.tag_resource(ResourceARN=missing, Tags={"a": "b"})
    assert error(not_found)[0] == "ResourceNotFoundException"
    assert f"Stream {stream}-missing under account" in error(not_found)[1]

    with pytest.raises(ClientError) as chars:
        client.tag_resource(ResourceARN=arn, Tags={"a;b": "c"})
    assert error(chars)[0] == "InvalidArgumentException"
    assert "Some tags contain invalid characters" in error(chars)[1]

    with pytest.raises(ClientError) as too_many:
        client.tag_resource(ResourceARN=arn, Tags={f"k{i}": "v" for i in range(51)})
    assert error(too_many)[0] == "InvalidArgumentException"
    assert "cannot have more than 50 tags" in error(too_many)[1]
    assert tags_of(client, arn) == {}, "nothing half-applied"
