"""Resource policies end to end with boto3: PutResourcePolicy / GetResourcePolicy /
DeleteResourcePolicy on stream and consumer ARNs with AWS's validation codes, and, under
`weir up --auth`, their enforcement together with roles: an explicit Deny beats a role's
Allow, an Allow grants a principal without a role exactly the listed actions, and both
survive a restart.

Weir names a principal `arn:aws:iam::<account id>:user/<principal name>` in a policy.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from weirtest import WeirServer, make_client, unique_name

ACCOUNT = "000000000000"


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def statement(effect: str, who, actions, resource: str, **extra) -> dict:
    return {"Effect": effect, "Principal": who, "Action": actions, "Resource": resource, **extra}


def code_of(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as failure:
        call()
    error = failure.value.response["Error"]
    return error["Code"], error.get("Message", "")


def stream_arn(client, name: str) -> str:
    return client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def new_stream(client, prefix: str) -> tuple[str, str]:
    name = unique_name(prefix)
    client.create_stream(StreamName=name, ShardCount=1)
    return name, stream_arn(client, name)


# ---- the three operations, without authentication -----------------------------------------------
def test_put_get_delete_round_trip_on_a_stream_and_a_consumer(weir):
    client = weir.client()
    name, arn = new_stream(client, "policy-rt")
    # No policy yet: AWS answers "{}" (LocalStack's AWS-validated snapshot records it).
    assert client.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    text = policy(statement("Allow", {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                            "kinesis:PutRecord", arn, Sid="AllowWrite"))
    client.put_resource_policy(ResourceARN=arn, Policy=text)
    assert client.get_resource_policy(ResourceARN=arn)["Policy"] == text
    # Put replaces.
    text2 = policy(statement("Deny", "*", ["kinesis:PutRecord", "kinesis:GetRecords"], arn))
    client.put_resource_policy(ResourceARN=arn, Policy=text2)
    assert client.get_resource_policy(ResourceARN=arn)["Policy"] == text2
    consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="reader")["Consumer"]
    carn = consumer["ConsumerARN"]
    assert client.get_resource_policy(ResourceARN=carn)["Policy"] == "{}"
    ctext = policy(statement("Allow", {"AWS": [user("a"), user("b")]},
                             "kinesis:SubscribeToShard", carn))
    client.put_resource_policy(ResourceARN=carn, Policy=ctext)
    assert client.get_resource_policy(ResourceARN=carn)["Policy"] == ctext
    # The stream's and the consumer's policies are separate.
    assert client.get_resource_policy(ResourceARN=arn)["Policy"] == text2
    client.delete_resource_policy(ResourceARN=arn)
    assert client.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    assert client.get_resource_policy(ResourceARN=carn)["Policy"] == ctext
    client.delete_resource_policy(ResourceARN=carn)
    assert client.get_resource_policy(ResourceARN=carn)["Policy"] == "{}"
    # A consumer registered again under the same name starts without the old policy.
    client.put_resource_policy(ResourceARN=carn, Policy=ctext)
    client.deregister_stream_consumer(ConsumerARN=carn)
    while True:
        try:
            again = client.register_stream_consumer(StreamARN=arn, ConsumerName="reader")
            break
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceInUseException"
            time.sleep(0.2)
    assert client.get_resource_policy(
        ResourceARN=again["Consumer"]["ConsumerARN"])["Policy"] == "{}"


def test_validation_errors_use_aws_codes(weir):
    client = weir.client()
    raw = make_client(weir.kinesis_url, validate=False)
    name, arn = new_stream(client, "policy-bad")
    good = policy(statement("Allow", "*", "kinesis:PutRecord", arn))
    missing_stream = arn + "-missing"
    cases = [
        # Shape and pattern: ValidationException, before any lookup.
        (lambda: raw.get_resource_policy(), "ValidationException", "resourceARN"),
        (lambda: raw.put_resource_policy(ResourceARN=arn), "ValidationException", "policy"),
        (lambda: raw.delete_resource_policy(ResourceARN="not-an-arn"), "ValidationException",
         "resourceARN"),
        (lambda: raw.put_resource_policy(ResourceARN="", Policy=good), "ValidationException",
         "resourceARN"),
        # Missing resources: ResourceNotFoundException.
        (lambda: client.get_resource_policy(ResourceARN=missing_stream),
         "ResourceNotFoundException", "not found"),
        (lambda: client.put_resource_policy(ResourceARN=missing_stream, Policy=good),
         "ResourceNotFoundException", "not found"),
        (lambda: client.get_resource_policy(ResourceARN=f"{arn}/consumer/ghost:1700000000"),
         "ResourceNotFoundException", "ghost"),
        (lambda: client.delete_resource_policy(ResourceARN=arn), "ResourceNotFoundException",
         "No resource policy"),
        # Policies outside the grammar: InvalidArgumentException with a reason.
        (lambda: client.put_resource_policy(ResourceARN=arn, Policy="{not json"),
         "InvalidArgumentException", "not valid JSON"),
        (lambda: client.put_resource_policy(ResourceARN=arn, Policy=policy(statement(
            "Allow", "*", "kinesis:PutRecord", arn,
            Condition={"Bool": {"aws:SecureTransport": "true"}}))),
         "InvalidArgumentException", "Condition is not supported"),
        (lambda: client.put_resource_policy(ResourceARN=arn, Policy=policy(
            {"Effect": "Allow", "Principal": "*", "NotAction": "kinesis:PutRecord",
             "Resource": arn})),
         "InvalidArgumentException", "NotAction is not supported"),
        (lambda: client.put_resource_policy(ResourceARN=arn, Policy=policy(statement(
            "Allow", "*", "kinesis:PutRecord", arn + "-other"))),
         "InvalidArgumentException", "does not match"),
        (lambda: client.put_resource_policy(ResourceARN=arn, Policy=policy(statement(
            "Allow", "*", "s3:GetObject", arn))),
         "InvalidArgumentException", "not a Kinesis action"),
        (lambda: client.put_resource_policy(ResourceARN=arn, Policy=policy(statement(
            "Permit", "*", "kinesis:PutRecord", arn))),
         "InvalidArgumentException", "Effect"),
        (lambda: client.put_resource_policy(ResourceARN=arn, Policy=policy(statement(
            "Allow", {"Service": "lambda.amazonaws.com"}, "kinesis:PutRecord", arn))),
         "InvalidArgumentException", "Principal type Service"),
        (lambda: client.put_resource_policy(ResourceARN=arn, Policy=policy(*[
            statement("Allow", {"AWS": user(f"u{i}")}, "kinesis:PutRecord", arn)
            for i in range(250)])),
         "InvalidArgumentException", "20480 bytes"),
    ]
    wrong = []
    for call, code, words in cases:
        got, message = code_of(call)
        if got != code or words not in message:
            wrong.append(f"expected {code} mentioning {words!r}, got {got}: {message}")
    assert not wrong, "\n".join(wrong)
    # Nothing was stored by the refused calls.
    assert client.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"


# ---- enforcement with --auth ---------------------------------------------------------------------
@pytest.fixture
def secure(tmp_path):
    started: list[WeirServer] = []

    def start() -> WeirServer:
        base = tmp_path / f"weir-{len(started)}"
        server = WeirServer(base / "data", base / "logs", extra_args=("--auth",))
        started.append(server)
        server.start()
        assert server.admin_key, "weir up --auth did not print the administrator's key"
        return server

    yield start
    for s in started:
        s.close()


def principal_with_key(server: WeirServer, bindings: list[dict]) -> tuple[str, tuple[str, str]]:
    """A new principal with `bindings`, and its access key."""
    import requests
    token = requests.post(f"{server.rest_url}/v1/auth/token", timeout=10, json={
        "access_key_id": server.admin_key[0], "secret_access_key": server.admin_key[1],
    }).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    name = unique_name("p")
    r = requests.post(f"{server.rest_url}/v1/principals", headers=headers, timeout=10,
                      json={"name": name, "bindings": bindings})
    assert r.status_code == 201, r.text
    k = requests.post(f"{server.rest_url}/v1/principals/{name}/keys", headers=headers,
                      timeout=10)
    assert k.status_code == 201, k.text
    return name, (k.json()["access_key_id"], k.json()["secret_access_key"])


def principal(server: WeirServer, bindings: list[dict]) -> tuple[str, object]:
    """A new principal with `bindings` and a boto3 client signed with its key."""
    name, key = principal_with_key(server, bindings)
    return name, make_client(server.kinesis_url, key=key)


def denied(call) -> bool:
    try:
        call()
    except ClientError as e:
        if e.response["Error"]["Code"] == "AccessDeniedException":
            return True
        raise
    return False


def test_a_policy_deny_beats_a_role_allow(secure):
    server = secure()
    admin = server.client()
    guarded, garn = new_stream(admin, "guarded")
    open_, _ = new_stream(admin, "open")
    name, producer = principal(server, [{"role": "producer", "streams": "*"}])
    producer.put_record(StreamName=guarded, PartitionKey="k", Data=b"before")
    admin.put_resource_policy(ResourceARN=garn, Policy=policy(
        statement("Deny", {"AWS": user(name)}, "kinesis:PutRecord", garn)))
    with pytest.raises(ClientError) as refused:
        producer.put_record(StreamName=guarded, PartitionKey="k", Data=b"no")
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "kinesis:PutRecord" in error["Message"] and "explicit deny" in error["Message"]
    # Only the listed action on the named stream is denied.
    producer.put_records(StreamName=guarded, Records=[{"PartitionKey": "k", "Data": b"batch"}])
    producer.put_record(StreamName=open_, PartitionKey="k", Data=b"elsewhere")
    # Other principals are not named by the statement.
    admin.put_record(StreamName=guarded, PartitionKey="k", Data=b"admin")
    # A Deny for everyone ("*") binds the administrator too.
    admin.put_resource_policy(ResourceARN=garn, Policy=policy(
        statement("Deny", "*", "kinesis:PutRecords", garn)))
    assert denied(lambda: admin.put_records(
        StreamName=guarded, Records=[{"PartitionKey": "k", "Data": b"x"}]))
    assert not denied(lambda: producer.put_record(StreamName=guarded, PartitionKey="k",
                                                  Data=b"after"))
    admin.delete_resource_policy(ResourceARN=garn)
    producer.put_records(StreamName=guarded, Records=[{"PartitionKey": "k", "Data": b"again"}])
    # Managing policies is a Manage action: a producer may not, reading one is Describe.
    assert denied(lambda: producer.put_resource_policy(ResourceARN=garn, Policy=policy(
        statement("Allow", "*", "kinesis:*", garn))))
    assert producer.get_resource_policy(ResourceARN=garn)["Policy"] == "{}"


def test_a_consumer_policy_deny_blocks_subscribe_to_shard(secure):
    server = secure()
    admin = server.client()
    stream, arn = new_stream(admin, "efo")
    carn = admin.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"][
        "ConsumerARN"]
    for _ in range(50):
        state = admin.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"]
        if state["ConsumerStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    name, reader = principal(server, [{"role": "consumer", "streams": "*"}])
    shard = admin.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    subscribe = lambda: reader.subscribe_to_shard(  # noqa: E731
        ConsumerARN=carn, ShardId=shard, StartingPosition={"Type": "TRIM_HORIZON"})
    # Allowed by the role at first (the stream is then released on close).
    subscribe()["EventStream"].close()
    admin.put_resource_policy(ResourceARN=carn, Policy=policy(
        statement("Deny", {"AWS": user(name)}, "kinesis:SubscribeToShard", carn)))
    time.sleep(5.2)  # Kinesis refuses a new subscription to the same shard within 5 s.
    assert denied(subscribe)
    assert denied(lambda: reader.subscribe_to_shard(
        ConsumerARN=carn, ShardId=shard, StartingPosition={"Type": "LATEST"}))
    # The consumer's policy is about the consumer: polling reads of the stream still work.
    it = reader.get_shard_iterator(StreamName=stream, ShardId=shard,
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    reader.get_records(ShardIterator=it)
    # The stream's policy applies to consumer operations too.
    admin.delete_resource_policy(ResourceARN=carn)
    admin.put_resource_policy(ResourceARN=arn, Policy=policy(
        statement("Deny", {"AWS": user(name)}, "kinesis:DescribeStreamConsumer", arn)))
    assert denied(lambda: reader.describe_stream_consumer(ConsumerARN=carn))
    admin.describe_stream_consumer(ConsumerARN=carn)


def test_an_allow_grants_a_principal_without_a_role_exactly_the_listed_actions(secure):
    server = secure()
    admin = server.client()
    stream, arn = new_stream(admin, "shared")
    other, _ = new_stream(admin, "other")
    name, guest = principal(server, [])
    assert denied(lambda: guest.put_record(StreamName=stream, PartitionKey="k", Data=b"x"))
    admin.put_resource_policy(ResourceARN=arn, Policy=policy(statement(
        "Allow", {"AWS": [user(name)]},
        ["kinesis:PutRecord", "kinesis:DescribeStreamSummary"], arn)))
    guest.put_record(StreamName=stream, PartitionKey="k", Data=b"granted")
    assert guest.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
        "StreamName"] == stream
    shard = admin.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    not_listed = {
        "PutRecords": lambda: guest.put_records(
            StreamName=stream, Records=[{"PartitionKey": "k", "Data": b"x"}]),
        "GetShardIterator": lambda: guest.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"),
        "ListShards": lambda: guest.list_shards(StreamName=stream),
        "DescribeStream": lambda: guest.describe_stream(StreamName=stream),
        "DeleteStream": lambda: guest.delete_stream(StreamName=stream),
        "PutResourcePolicy": lambda: guest.put_resource_policy(ResourceARN=arn, Policy=policy(
            statement("Allow", "*", "kinesis:*", arn))),
        "ListStreams": lambda: guest.list_streams(),
        "PutRecord elsewhere": lambda: guest.put_record(StreamName=other, PartitionKey="k",
                                                        Data=b"x"),
    }
    allowed = [op for op, call in not_listed.items() if not denied(call)]
    assert not allowed, f"granted without being listed: {allowed}"
    # A wildcard Allow grants the family it matches.
    admin.put_resource_policy(ResourceARN=arn, Policy=policy(statement(
        "Allow", {"AWS": user(name)}, "kinesis:Get*", arn)))
    it = guest.get_shard_iterator(StreamName=stream, ShardId=shard,
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in guest.get_records(ShardIterator=it)["Records"]] == [b"granted"]
    assert denied(lambda: guest.put_record(StreamName=stream, PartitionKey="k", Data=b"x"))


def test_policies_survive_a_restart(secure):
    server = secure()
    admin = server.client()
    stream, arn = new_stream(admin, "durable")
    carn = admin.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"][
        "ConsumerARN"]
    name, key = principal_with_key(server, [{"role": "producer", "streams": "*"}])
    producer = make_client(server.kinesis_url, key=key)
    text = policy(statement("Deny", {"AWS": user(name)}, "kinesis:PutRecord", arn))
    ctext = policy(statement("Allow", {"AWS": user(name)}, "kinesis:SubscribeToShard", carn))
    admin.put_resource_policy(ResourceARN=arn, Policy=text)
    admin.put_resource_policy(ResourceARN=carn, Policy=ctext)
    assert denied(lambda: producer.put_record(StreamName=stream, PartitionKey="k", Data=b"x"))
    server.restart()
    admin = server.client()
    producer = make_client(server.kinesis_url, key=key)
    assert admin.get_resource_policy(ResourceARN=arn)["Policy"] == text
    assert admin.get_resource_policy(ResourceARN=carn)["Policy"] == ctext
    assert denied(lambda: producer.put_record(StreamName=stream, PartitionKey="k", Data=b"x"))
    producer.put_records(StreamName=stream, Records=[{"PartitionKey": "k", "Data": b"ok"}])


def test_every_node_of_a_cluster_enforces_a_policy(tmp_path):
    """Put through one node (forwarded to the control plane); heartbeats carry the policy
    in the stream record, and every node, which verifies requests itself, enforces it."""
    from weirtest import WeirCluster
    cluster = WeirCluster(tmp_path / "data", tmp_path / "logs", nodes=2, extra_args=("--auth",))
    try:
        cluster.start()
        assert cluster.admin_key
        admin = cluster.node_client("node-1", key=cluster.admin_key)
        stream = unique_name("clp")
        admin.create_stream(StreamName=stream, ShardCount=2)
        arn = stream_arn(admin, stream)
        name, key = principal_with_key(cluster, [{"role": "producer", "streams": "*"}])
        admin.put_resource_policy(ResourceARN=arn, Policy=policy(
            statement("Deny", {"AWS": user(name)}, "kinesis:PutRecord", arn)))
        time.sleep(1.5)  # heartbeats carry the principal, its key and the policy
        for node in cluster.node_ids:
            producer = cluster.node_client(node, key=key)
            for i in range(4):  # both shards: some would be forwarded to the other node
                assert denied(lambda: producer.put_record(
                    StreamName=stream, PartitionKey=f"k{i}", Data=b"x")), node
            producer.put_records(StreamName=stream, Records=[
                {"PartitionKey": f"k{i}", "Data": b"ok"} for i in range(4)])
            assert cluster.node_client(node, key=cluster.admin_key).get_resource_policy(
                ResourceARN=arn)["Policy"] != "{}"
    finally:
        cluster.close()
