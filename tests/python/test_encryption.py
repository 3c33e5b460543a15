"""Encryption at rest: StartStreamEncryption / StopStreamEncryption with boto3 against a
real `weir up` (and `weir up --nodes 2`), segment files and cold-tier objects read back
byte by byte, kill -9 in the middle of starting encryption, and master-key rotation with
`weir master-key rotate` / `retire`.

AWS's behaviour asserted here: starting or stopping encryption sets the stream UPDATING,
then ACTIVE; DescribeStream(Summary) report EncryptionType KMS and the KeyId while it is
on; PutRecord(s) answer EncryptionType KMS; GetRecords gives each record written while
encryption was on EncryptionType KMS, and records written before or after stay readable.
"""

import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from test_tiering import MotoServer, segments, tier_args
from weirtest import (WeirCluster, read_shard, unique_name, wait_active, wait_for,
                      weir_binary)

SHARD = "shardId-000000000000"
KEY_ID = "alias/aws/kinesis"
SECRET = b"TOPSECRET-PAYLOAD-"
SECRET_KEY = "pk-confidential-"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto-encryption"))
    yield server
    server.close()


def files_containing(root: Path, needle: bytes) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            found.append(path)
    return found


def objects_containing(moto: MotoServer, bucket: str, needle: bytes) -> list[str]:
    return [key for key in moto.keys(bucket)
            if needle in moto.s3.get_object(Bucket=bucket, Key=key)["Body"].read()]


def error_code(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message", "")


def start_encryption(client, stream: str, key_id: str = KEY_ID) -> None:
    client.start_stream_encryption(StreamName=stream, EncryptionType="KMS", KeyId=key_id)


def put_secrets(client, stream: str, start: int, count: int) -> list[dict]:
    records = [{"PartitionKey": f"{SECRET_KEY}{i}", "Data": SECRET + f"{i:06d}-".encode() + b"x" * 900}
               for i in range(start, start + count)]
    answer = client.put_records(StreamName=stream, Records=records)
    assert answer["FailedRecordCount"] == 0, answer
    assert answer["EncryptionType"] == "KMS"
    return records


def test_new_records_are_sealed_on_disk_and_in_the_bucket(moto, weir_factory):
    bucket = moto.new_bucket()
    server = weir_factory("sealed", extra_args=tier_args(moto, bucket) +
                          ("--reshard-delay-ms", "500"))
    client = server.client()
    stream = unique_name("enc")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    plain = b"PLAIN-BEFORE-ENCRYPTION-" + b"p" * 64
    put = client.put_record(StreamName=stream, PartitionKey="pk-plain", Data=plain)
    assert put["EncryptionType"] == "NONE"

    start_encryption(client, stream)
    summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "UPDATING"
    assert (summary["EncryptionType"], summary["KeyId"]) == ("KMS", KEY_ID)
    wait_active(client, stream)
    description = client.describe_stream(StreamName=stream)["StreamDescription"]
    assert (description["EncryptionType"], description["KeyId"]) == ("KMS", KEY_ID)
    rest = requests.get(f"{server.rest_url}/v1/streams/{stream}", timeout=10).json()
    assert rest["encryption_key_id"] == KEY_ID

    written = []
    for start in range(0, 400, 100):
        written += put_secrets(client, stream, start, 100)
    single = client.put_record(StreamName=stream, PartitionKey=f"{SECRET_KEY}single",
                               Data=SECRET + b"single")
    assert single["EncryptionType"] == "KMS"

    # Every record reads back in the clear, marked as AWS marks them.
    got = read_shard(client, stream, SHARD)
    assert [r["Data"] for r in got] == [plain] + [r["Data"] for r in written] + [SECRET + b"single"]
    assert [r["PartitionKey"] for r in got][1:-1] == [r["PartitionKey"] for r in written]
    assert "EncryptionType" not in got[0] or got[0]["EncryptionType"] == "NONE"
    assert all(r["EncryptionType"] == "KMS" for r in got[1:])

    # Wait until the sealed segments are in the bucket, then read both places raw.
    def uploaded():
        segs = segments(server, stream)
        return segs if segs and segs[-1]["end_offset"] >= 401 and all(
            s["state"] == "uploaded" for s in segs) else None
    wait_for("encrypted segments uploaded", uploaded, within_s=60)
    # The scan sees plaintext where there is some: the record written before encryption.
    assert files_containing(server.data_dir, plain) or objects_containing(moto, bucket, plain)
    assert objects_containing(moto, bucket, SECRET) == []
    assert objects_containing(moto, bucket, SECRET_KEY.encode()) == []
    assert files_containing(server.data_dir, SECRET) == []
    assert files_containing(server.data_dir, SECRET_KEY.encode()) == []
    # The metadata store holds the data key sealed, never the master key.
    master = (server.data_dir / "master.key").read_bytes()
    assert files_containing(server.data_dir / "streams", master[:16]) == []


def test_stop_keeps_encrypted_records_readable_and_writes_the_clear(weir_factory):
    server = weir_factory("stop", extra_args=("--reshard-delay-ms", "300"))
    client = server.client()
    stream = unique_name("stop")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    start_encryption(client, stream, "arn:aws:kms:us-east-1:000000000000:key/first")
    wait_active(client, stream)
    client.put_record(StreamName=stream, PartitionKey="a", Data=b"under-first-key")
    # Another KeyId: a new data key; records under the first stay readable.
    start_encryption(client, stream, "arn:aws:kms:us-east-1:000000000000:key/second")
    wait_active(client, stream)
    client.put_record(StreamName=stream, PartitionKey="b", Data=b"under-second-key")
    with pytest.raises(ClientError) as excinfo:
        client.stop_stream_encryption(StreamName=stream, EncryptionType="KMS",
                                      KeyId="arn:aws:kms:us-east-1:000000000000:key/first")
    assert error_code(excinfo)[0] == "InvalidArgumentException"
    client.stop_stream_encryption(StreamName=stream, EncryptionType="KMS",
                                  KeyId="arn:aws:kms:us-east-1:000000000000:key/second")
    assert client.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["StreamStatus"] == "UPDATING"
    wait_active(client, stream)
    summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["EncryptionType"] == "NONE" and "KeyId" not in summary
    rest = requests.get(f"{server.rest_url}/v1/streams/{stream}", timeout=10).json()
    assert "encryption_key_id" not in rest
    after = client.put_record(StreamName=stream, PartitionKey="c", Data=b"in-the-clear")
    assert after["EncryptionType"] == "NONE"
    got = read_shard(client, stream, SHARD)
    assert [(r["PartitionKey"], r["Data"], r.get("EncryptionType", "NONE")) for r in got] == [
        ("a", b"under-first-key", "KMS"), ("b", b"under-second-key", "KMS"),
        ("c", b"in-the-clear", "NONE")]
    # A restart reads every kind from disk again.
    server.stop()
    server.start()
    got = read_shard(server.client(), stream, SHARD)
    assert [r["Data"] for r in got] == [b"under-first-key", b"under-second-key", b"in-the-clear"]
    assert files_containing(server.data_dir, b"under-first-key") == []
    assert files_containing(server.data_dir, b"in-the-clear") != []


def test_bad_requests_get_aws_errors_and_change_nothing(weir_factory):
    server = weir_factory("bad", extra_args=("--reshard-delay-ms", "2000"))
    client = server.client()
    stream = unique_name("bad")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    raw = server.call("StartStreamEncryption", {"StreamName": stream, "EncryptionType": "KMS"})
    assert raw.error_type == "ValidationException", raw.describe()
    assert "Value null at 'keyId' failed to satisfy constraint: Member must not be null" in raw.message
    raw = server.call("StartStreamEncryption",
                      {"StreamName": stream, "EncryptionType": "AES", "KeyId": ""})
    assert raw.error_type == "ValidationException", raw.describe()
    assert "Member must satisfy enum value set: [KMS, NONE]" in raw.message
    assert "Member must have length greater than or equal to 1" in raw.message
    with pytest.raises(ClientError) as excinfo:
        client.start_stream_encryption(StreamName=stream, EncryptionType="NONE", KeyId=KEY_ID)
    assert error_code(excinfo)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as excinfo:
        start_encryption(client, unique_name("missing"))
    assert error_code(excinfo)[0] == "ResourceNotFoundException"
    summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert (summary["StreamStatus"], summary["EncryptionType"]) == ("ACTIVE", "NONE")
    start_encryption(client, stream)
    with pytest.raises(ClientError) as excinfo:
        start_encryption(client, stream, "alias/other")
    code, message = error_code(excinfo)
    assert code == "ResourceInUseException"
    assert "not ACTIVE, instead in state UPDATING" in message
    wait_active(client, stream)
    summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["KeyId"] == KEY_ID


def test_kill9_while_encryption_starts_loses_nothing(weir_factory):
    server = weir_factory("crash", extra_args=("--reshard-delay-ms", "5000"))
    client = server.client()
    stream = unique_name("crash")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    acked: list[bytes] = []
    stop = threading.Event()

    def produce():
        producer = server.client()
        i = 0
        while not stop.is_set():
            data = SECRET + f"{i:06d}".encode()
            try:
                producer.put_record(StreamName=stream, PartitionKey=f"k{i % 7}", Data=data)
            except Exception:
                return  # the server is gone
            acked.append(data)
            i += 1

    writer = threading.Thread(target=produce, daemon=True)
    writer.start()
    wait_for("writes before encryption", lambda: len(acked) >= 100, within_s=30)
    start_encryption(client, stream)
    before_kill = len(acked)
    wait_for("writes after encryption started", lambda: len(acked) >= before_kill + 100,
             within_s=30)
    server.kill()  # SIGKILL to the whole process group, mid-UPDATING and mid-write
    stop.set()
    writer.join(timeout=10)
    server.start()
    client = server.client()
    summary = wait_active(client, stream)
    assert summary["StreamStatus"] == "ACTIVE"
    description = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert (description["EncryptionType"], description["KeyId"]) == ("KMS", KEY_ID)
    got = read_shard(client, stream, SHARD)
    datas = [r["Data"] for r in got]
    # Every acknowledged record is there, once, in order (an unacknowledged last one may be too).
    assert datas[:len(acked)] == acked
    assert len(datas) <= len(acked) + 1
    kinds = [r.get("EncryptionType", "NONE") for r in got]
    assert kinds[0] == "NONE" and kinds[-1] == "KMS"
    # Once a record is encrypted, every later one is.
    assert kinds == sorted(kinds, key=lambda k: k == "KMS")
    assert files_containing(server.data_dir, acked[-1]) == []


def master_key(*args: str) -> str:
    done = subprocess.run([str(weir_binary()), "master-key", *args], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_master_key_rotation_keeps_every_record_readable(weir_factory):
    server = weir_factory("rotate")
    client = server.client()
    stream = unique_name("rotate")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    start_encryption(client, stream)
    wait_active(client, stream)
    written = put_secrets(client, stream, 0, 50)
    key_file = server.data_dir / "master.key"
    original = key_file.read_bytes()
    assert len(original) == 32
    server.stop()

    out = master_key("rotate", "--data-dir", str(server.data_dir))
    assert "1 current, 1 retired" in out
    ring = key_file.read_bytes()
    assert len(ring) == 64 and ring[32:] == original
    assert "1 data keys still sealed under a retired key" in master_key(
        "status", "--data-dir", str(server.data_dir))
    retire = subprocess.run([str(weir_binary()), "master-key", "retire", "--data-dir",
                             str(server.data_dir)], capture_output=True, text=True, timeout=60)
    assert retire.returncode != 0 and "still sealed under a retired key" in retire.stderr
    assert key_file.read_bytes() == ring

    # Started with the rotated ring, the control plane re-seals the data key.
    server.start()
    wait_for("the data key re-sealed", lambda: "0 data keys still sealed" in master_key(
        "status", "--data-dir", str(server.data_dir)), within_s=30)
    written += put_secrets(server.client(), stream, 50, 10)
    server.stop()
    assert "Retired 1 old keys" in master_key("retire", "--data-dir", str(server.data_dir))
    assert key_file.read_bytes() == ring[:32]

    # Only the new key is left, and every record, old and new, reads back.
    server.start()
    got = read_shard(server.client(), stream, SHARD)
    assert [r["Data"] for r in got] == [r["Data"] for r in written]
    server.stop()

    # The old key alone opens nothing any more: the records really depend on the key.
    key_file.write_bytes(original)
    server.start()
    with pytest.raises(ClientError) as excinfo:
        read_shard(server.client(), stream, SHARD, deadline_s=5)
    assert error_code(excinfo)[0] == "KMSAccessDeniedException"
    server.stop()
    key_file.write_bytes(ring[:32])


def test_replicas_in_a_cluster_hold_only_ciphertext(weir_cluster_factory):
    cluster: WeirCluster = weir_cluster_factory("enc", nodes=2,
                                                extra_args=("--replication-factor", "2"))
    client = cluster.client()
    stream = unique_name("encrep")
    client.create_stream(StreamName=stream, ShardCount=2)
    wait_active(client, stream, timeout_s=60)
    start_encryption(client, stream)
    wait_active(client, stream, timeout_s=60)
    written = []
    for _ in range(2):
        written += put_secrets(client, stream, len(written), 20)
    got = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        got += read_shard(client, stream, shard["ShardId"])
    assert sorted(r["Data"] for r in got) == sorted(r["Data"] for r in written)
    assert all(r["EncryptionType"] == "KMS" for r in got)
    assert files_containing(cluster.data_dir, SECRET) == []


def test_subscribers_get_encrypted_records_in_the_clear(weir_factory):
    server = weir_factory("push")
    client = server.client()
    stream = unique_name("push")
    client.create_stream(StreamName=stream, ShardCount=1)
    wait_active(client, stream)
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    client.put_record(StreamName=stream, PartitionKey="before", Data=b"plain-before")
    start_encryption(client, stream)
    wait_active(client, stream)
    consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]
    wait_for("consumer ACTIVE", lambda: client.describe_stream_consumer(
        ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE")
    client.put_record(StreamName=stream, PartitionKey="history", Data=SECRET + b"history")
    events = client.subscribe_to_shard(ConsumerARN=consumer["ConsumerARN"], ShardId=SHARD,
                                       StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
    pushed = []
    # Written while the subscription is open: these arrive through the shard's push hub.
    client.put_records(StreamName=stream, Records=[
        {"PartitionKey": f"live-{i}", "Data": SECRET + b"live-%d" % i} for i in range(3)])
    for event in events:
        pushed += event["SubscribeToShardEvent"]["Records"]
        if len(pushed) >= 5:
            break
    events.close()
    assert [(r["PartitionKey"], r["Data"]) for r in pushed] == [
        ("before", b"plain-before"), ("history", SECRET + b"history")] + [
        (f"live-{i}", SECRET + b"live-%d" % i) for i in range(3)]
    assert [r.get("EncryptionType", "NONE") for r in pushed] == ["NONE"] + ["KMS"] * 4
