"""DescribeAccountSettings / UpdateAccountSettings and UpdateStreamRecordDistributionStrategy,
end to end through boto3 against `weir up`: the minimum throughput billing commitment's
24-hour window (disabling early schedules the end, enabling again cancels it), its
timestamps in JSON and CBOR, persistence across a restart, AWS's validation messages, and
the record distribution strategy of on-demand streams as DescribeStreamSummary reports it
(refused on provisioned streams)."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from weirtest import EpochMillis, error_of, unique_name, wait_active, wire_call

DAY = dt.timedelta(hours=24)


def commitment(answer: dict) -> dict:
    return answer["MinimumThroughputBillingCommitment"]


@pytest.fixture
def server(weir_factory):
    # Its own server: account settings are account-wide, so other tests' servers never
    # see these changes.
    return weir_factory("account")


def test_commitment_window_timestamps_and_restart(server):
    client = server.client()
    # Nothing stored: DISABLED, no times.
    assert commitment(client.describe_account_settings()) == {"Status": "DISABLED"}
    # Disabling what is not enabled changes nothing.
    assert commitment(client.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "DISABLED"})) == {"Status": "DISABLED"}

    before = dt.datetime.now(dt.timezone.utc)
    enabled = commitment(client.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "ENABLED"}))
    after = dt.datetime.now(dt.timezone.utc)
    assert enabled["Status"] == "ENABLED", enabled
    started = enabled["StartedAt"]
    slack = dt.timedelta(seconds=1)
    assert before - slack <= started <= after + slack, (before, started, after)
    assert enabled["EarliestAllowedEndAt"] == started + DAY, enabled
    assert "EndedAt" not in enabled
    assert commitment(client.describe_account_settings()) == enabled
    # Enabling again keeps the same commitment.
    assert commitment(client.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "ENABLED"})) == enabled

    # In CBOR the times are tag 1 (epoch milliseconds), as in every other answer.
    wire = wire_call(server.kinesis_url, "DescribeAccountSettings", {}, cbor=True)
    assert wire.status == 200, wire.describe()
    cbor_commitment = wire.body["MinimumThroughputBillingCommitment"]
    assert isinstance(cbor_commitment["StartedAt"], EpochMillis), wire.describe()
    assert cbor_commitment["StartedAt"] == int(started.timestamp() * 1000), wire.describe()
    # JSON: epoch seconds.
    wire = wire_call(server.kinesis_url, "DescribeAccountSettings", {})
    assert wire.body["MinimumThroughputBillingCommitment"]["StartedAt"] == pytest.approx(
        started.timestamp(), abs=0.001), wire.describe()

    # Disabling inside the 24-hour window schedules the end at the earliest allowed end.
    pending = commitment(client.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "DISABLED"}))
    assert pending["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END", pending
    assert pending["StartedAt"] == started
    assert pending["EarliestAllowedEndAt"] == started + DAY
    assert pending["EndedAt"] == pending["EarliestAllowedEndAt"], pending
    assert commitment(client.describe_account_settings()) == pending

    # Stored: a restarted server reports the same.
    server.restart()
    client = server.client()
    assert commitment(client.describe_account_settings()) == pending

    # Enabling again before the end cancels the pending disable; same commitment.
    again = commitment(client.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "ENABLED"}))
    assert again == enabled, (again, enabled)
    server.restart()
    assert commitment(server.client().describe_account_settings()) == enabled


@pytest.mark.parametrize("body, message", [
    ({"MinimumThroughputBillingCommitment": {"Status": "PAUSED"}},
     "1 validation error detected: Value 'PAUSED' at 'minimumThroughputBillingCommitment.status' "
     "failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"),
    ({"MinimumThroughputBillingCommitment": {"Status": "ENABLED_UNTIL_EARLIEST_ALLOWED_END"}},
     "1 validation error detected: Value 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' at "
     "'minimumThroughputBillingCommitment.status' failed to satisfy constraint: Member must "
     "satisfy enum value set: [ENABLED, DISABLED]"),
    ({"MinimumThroughputBillingCommitment": {}},
     "1 validation error detected: Value null at 'minimumThroughputBillingCommitment.status' "
     "failed to satisfy constraint: Member must not be null"),
    ({},
     "1 validation error detected: Value null at 'minimumThroughputBillingCommitment' "
     "failed to satisfy constraint: Member must not be null"),
])
def test_update_account_settings_validation(weir, body, message):
    for cbor in (False, True):
        answer = wire_call(weir.kinesis_url, "UpdateAccountSettings", body, cbor=cbor)
        assert answer.status == 400, answer.describe()
        assert answer.error_type == "ValidationException", answer.describe()
        assert answer.message == message, answer.describe()


def test_update_account_settings_bad_enum_through_boto3(weir, make_kinesis):
    client = make_kinesis(weir.kinesis_url, validate=False)
    with pytest.raises(ClientError) as raised:
        client.update_account_settings(MinimumThroughputBillingCommitment={"Status": "enabled"})
    code, message = error_of(raised)
    assert code == "ValidationException", message
    assert message == ("1 validation error detected: Value 'enabled' at "
                       "'minimumThroughputBillingCommitment.status' failed to satisfy constraint: "
                       "Member must satisfy enum value set: [ENABLED, DISABLED]")


def summary(client, stream: str) -> dict:
    return client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]


def test_record_distribution_on_demand_stream(kinesis):
    stream = unique_name("distribution")
    kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = wait_active(kinesis, stream)["StreamARN"]
    assert summary(kinesis, stream)["RecordDistributionStrategy"] == "USER_PARTITION_KEY"
    answer = kinesis.update_stream_record_distribution_strategy(
        StreamARN=arn, RecordDistributionStrategy="AUTO")
    assert set(answer) == {"ResponseMetadata"}, answer
    s = summary(kinesis, stream)
    assert s["RecordDistributionStrategy"] == "AUTO", s
    assert s["StreamStatus"] == "ACTIVE", s
    # The stream keeps taking and serving records.
    kinesis.put_record(StreamName=stream, Data=b"after-auto", PartitionKey="k")
    # Same value again is accepted and changes nothing; back to the default.
    kinesis.update_stream_record_distribution_strategy(
        StreamARN=arn, RecordDistributionStrategy="AUTO")
    assert summary(kinesis, stream)["RecordDistributionStrategy"] == "AUTO"
    kinesis.update_stream_record_distribution_strategy(
        StreamARN=arn, RecordDistributionStrategy="USER_PARTITION_KEY")
    assert summary(kinesis, stream)["RecordDistributionStrategy"] == "USER_PARTITION_KEY"


def shards_written(client, stream: str, key: str, explicit: str | None = None) -> set[str]:
    records = [{"PartitionKey": key, "Data": b"r%d" % i} for i in range(200)]
    if explicit is not None:
        for r in records:
            r["ExplicitHashKey"] = explicit
    answer = client.put_records(StreamName=stream, Records=records)
    assert answer["FailedRecordCount"] == 0, answer
    return {r["ShardId"] for r in answer["Records"]}


def test_auto_spreads_one_partition_key_over_every_shard(kinesis):
    stream = unique_name("spread")
    kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = wait_active(kinesis, stream)["StreamARN"]
    shards = {s["ShardId"] for s in kinesis.list_shards(StreamName=stream)["Shards"]}
    assert len(shards) > 1, shards
    # By partition key (the default), one key means one shard.
    assert len(shards_written(kinesis, stream, "same-key")) == 1
    kinesis.update_stream_record_distribution_strategy(
        StreamARN=arn, RecordDistributionStrategy="AUTO")
    # AUTO ignores the partition key and ExplicitHashKey: 200 records reach every shard.
    assert shards_written(kinesis, stream, "same-key") == shards
    assert shards_written(kinesis, stream, "same-key", explicit="0") == shards
    single = {kinesis.put_record(StreamName=stream, PartitionKey="same-key",
                                 Data=b"one")["ShardId"] for _ in range(60)}
    assert single == shards
    kinesis.update_stream_record_distribution_strategy(
        StreamARN=arn, RecordDistributionStrategy="USER_PARTITION_KEY")
    assert len(shards_written(kinesis, stream, "same-key")) == 1


def test_record_distribution_survives_restart(weir_factory):
    server = weir_factory("distribution")
    client = server.client()
    stream = unique_name("kept")
    client.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = wait_active(client, stream)["StreamARN"]
    client.update_stream_record_distribution_strategy(
        StreamARN=arn, RecordDistributionStrategy="AUTO")
    server.restart()
    assert summary(server.client(), stream)["RecordDistributionStrategy"] == "AUTO"


def test_record_distribution_refused_on_provisioned_stream(kinesis):
    stream = unique_name("provisioned")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = wait_active(kinesis, stream)["StreamARN"]
    # Kinesis reports the strategy only for on-demand streams.
    assert "RecordDistributionStrategy" not in summary(kinesis, stream)
    for strategy in ("AUTO", "USER_PARTITION_KEY"):
        with pytest.raises(ClientError) as raised:
            kinesis.update_stream_record_distribution_strategy(
                StreamARN=arn, RecordDistributionStrategy=strategy)
        code, message = error_of(raised)
        assert code == "InvalidArgumentException", message
        assert "PROVISIONED" in message, message
    assert "RecordDistributionStrategy" not in summary(kinesis, stream)


def test_record_distribution_unknown_stream(kinesis):
    stream = unique_name("known")
    kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = wait_active(kinesis, stream)["StreamARN"]
    missing = arn.rsplit("/", 1)[0] + "/" + unique_name("missing")
    with pytest.raises(ClientError) as raised:
        kinesis.update_stream_record_distribution_strategy(
            StreamARN=missing, RecordDistributionStrategy="AUTO")
    code, message = error_of(raised)
    assert code == "ResourceNotFoundException", message


def test_record_distribution_validation(weir, kinesis):
    stream = unique_name("checked")
    kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = wait_active(kinesis, stream)["StreamARN"]
    cases = [
        ({"StreamARN": arn, "RecordDistributionStrategy": "RANDOM"},
         "1 validation error detected: Value 'RANDOM' at 'recordDistributionStrategy' failed to "
         "satisfy constraint: Member must satisfy enum value set: [AUTO, USER_PARTITION_KEY]"),
        ({"StreamARN": arn},
         "1 validation error detected: Value null at 'recordDistributionStrategy' failed to "
         "satisfy constraint: Member must not be null"),
        # StreamId alone does not name the stream: StreamARN is required.
        ({"StreamId": "abcdefghij0123456789-a1b", "RecordDistributionStrategy": "AUTO"},
         "1 validation error detected: Value null at 'streamARN' failed to satisfy constraint: "
         "Member must not be null"),
        ({"StreamARN": arn, "StreamId": "NOT-AN-ID", "RecordDistributionStrategy": "AUTO"},
         "1 validation error detected: Value 'NOT-AN-ID' at 'streamId' failed to satisfy "
         "constraint: Member must satisfy regular expression pattern: [a-z0-9]{20}-[a-z0-9]{3}"),
    ]
    for body, message in cases:
        answer = wire_call(weir.kinesis_url, "UpdateStreamRecordDistributionStrategy", body)
        assert answer.status == 400, answer.describe()
        assert answer.error_type == "ValidationException", answer.describe()
        assert answer.message == message, answer.describe()
    # Nothing changed.
    assert summary(kinesis, stream)["RecordDistributionStrategy"] == "USER_PARTITION_KEY"


def test_cluster_nodes_forward_and_share_the_settings(weir_cluster):
    """Nodes of a cluster forward these calls to the control plane, so every node reports
    what any node changed."""
    nodes = weir_cluster.node_ids
    first, second = weir_cluster.node_client(nodes[0]), weir_cluster.node_client(nodes[-1])
    enabled = commitment(first.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "ENABLED"}))
    assert enabled["Status"] == "ENABLED", enabled
    assert commitment(second.describe_account_settings()) == enabled
    stream = unique_name("clustered")
    first.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = wait_active(first, stream)["StreamARN"]
    second.update_stream_record_distribution_strategy(
        StreamARN=arn, RecordDistributionStrategy="AUTO")
    for client in (first, second):
        assert summary(client, stream)["RecordDistributionStrategy"] == "AUTO"
