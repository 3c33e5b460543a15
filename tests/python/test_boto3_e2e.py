"""boto3 against a real `weir up`: routing, ordering, byte-exact payloads, every
iterator type, and the stream-management calls users script against."""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import time

import pytest
from botocore.exceptions import ClientError

from weirtest import (ACCOUNT_ID, MAX_HASH_KEY, create_stream, error_of, hash_key,
                      hash_ranges, is_throttle, list_all_shards, partition_key_for_shard,
                      read_iterator, read_shard, shard_for_hash, unique_name)

SEQ_RE = re.compile(r"^(0|[1-9]\d{0,128})$")
SHARD_ID_RE = re.compile(r"^shardId-\d{12}$")
TOTAL_RECORDS = 10_000
BATCH = 500


def put_records_acked(client, stream, entries, deadline_s=120.0):
    """PutRecords `entries` in batches of 500, re-sending entries the server rejected
    per record (throttling), as a real producer does. Returns the acknowledged entries
    in acknowledgement order, each with its ShardId and SequenceNumber."""
    acked = []
    pending = list(entries)
    deadline = time.monotonic() + deadline_s
    while pending:
        assert time.monotonic() < deadline, (
            f"{len(pending)} records still not accepted after {deadline_s} s")
        batch, pending = pending[:BATCH], pending[BATCH:]
        resp = client.put_records(StreamName=stream, Records=[e["entry"] for e in batch])
        assert len(resp["Records"]) == len(batch)
        failed = []
        for e, r in zip(batch, resp["Records"]):
            if "ErrorCode" in r:
                assert r["ErrorCode"] in ("ProvisionedThroughputExceededException",
                                          "InternalFailure"), r
                failed.append(e)
            else:
                assert SEQ_RE.match(r["SequenceNumber"]), r
                assert SHARD_ID_RE.match(r["ShardId"]), r
                acked.append({**e, "ShardId": r["ShardId"],
                              "SequenceNumber": r["SequenceNumber"]})
        assert resp.get("FailedRecordCount", 0) == len(failed), resp.get("FailedRecordCount")
        if failed:
            time.sleep(0.2)
            pending = failed + pending
    return acked


def gen_entries(rng: random.Random, count: int, tag: str):
    entries = []
    for i in range(count):
        if i == 0:
            data = bytes(range(256))  # every byte value, in order
        elif i == 1:
            data = bytes(range(255, -1, -1)) * 4
        else:
            data = rng.randbytes(rng.randint(1, 1024))
        if i % 10 == 7:
            # Explicit hash keys, including both ends of the key space.
            ehk = rng.choice([0, MAX_HASH_KEY, rng.randint(0, MAX_HASH_KEY)])
            entry = {"Data": data, "PartitionKey": f"{tag}-ehk-{i}",
                     "ExplicitHashKey": str(ehk)}
            hk = ehk
        else:
            pk = rng.choice([f"{tag}-user-{rng.randint(0, 999)}", f"ключ-{i % 37}",
                             f"{tag}/{i}", "k" * rng.randint(1, 256)])
            entry = {"Data": data, "PartitionKey": pk}
            hk = hash_key(pk)
        entries.append({"entry": entry, "data": data, "hash": hk, "index": i})
    return entries


@pytest.fixture(scope="module")
def loaded(weir):
    """A 4-shard stream holding 10,000 records put with PutRecords."""
    client = weir.client()
    name = unique_name("e2e-load")
    shards = create_stream(client, name, 4)
    rng = random.Random(20240611)
    acked = put_records_acked(client, name, gen_entries(rng, TOTAL_RECORDS, "p"))
    by_shard = {s["ShardId"]: [] for s in shards}
    for a in acked:
        by_shard.setdefault(a["ShardId"], []).append(a)
    return {"name": name, "shards": shards, "acked": acked, "by_shard": by_shard}


# ---- shards and routing ---------------------------------------------------------------------
def test_new_stream_shards_tile_the_hash_space_evenly(kinesis, loaded):
    shards = loaded["shards"]
    assert len(shards) == 4
    ranges = hash_ranges(shards)
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH_KEY, ranges
    for (lo, hi, _), (nlo, _, _) in zip(ranges, ranges[1:]):
        assert nlo == hi + 1, f"gap or overlap between shards: {ranges}"
    ideal = (MAX_HASH_KEY + 1) // 4
    for lo, hi, sid in ranges:
        assert abs((hi - lo + 1) - ideal) <= 4, f"{sid} range is not an even quarter"
        assert SHARD_ID_RE.match(sid), sid
    for s in shards:
        assert SEQ_RE.match(s["SequenceNumberRange"]["StartingSequenceNumber"]), s
        assert "EndingSequenceNumber" not in s["SequenceNumberRange"], "new shard is closed"


def test_every_record_lands_on_the_shard_owning_its_hash_key(loaded):
    assert len(loaded["acked"]) == TOTAL_RECORDS
    shards = loaded["shards"]
    wrong = [(a["index"], a["entry"]["PartitionKey"], a["ShardId"],
              shard_for_hash(shards, a["hash"]))
             for a in loaded["acked"] if a["ShardId"] != shard_for_hash(shards, a["hash"])]
    assert not wrong, f"{len(wrong)} records routed to the wrong shard, e.g. {wrong[:5]}"
    # The workload must actually exercise every shard.
    assert all(len(v) > 1000 for v in loaded["by_shard"].values()), \
        {k: len(v) for k, v in loaded["by_shard"].items()}


def test_trim_horizon_reads_everything_in_order_byte_exact(kinesis, loaded):
    name = loaded["name"]
    for shard_id, expected in loaded["by_shard"].items():
        got = read_shard(kinesis, name, shard_id, deadline_s=90)
        assert len(got) == len(expected), (
            f"{shard_id}: read {len(got)} records, {len(expected)} were acknowledged")
        seqs = [int(r["SequenceNumber"]) for r in got]
        assert all(a < b for a, b in zip(seqs, seqs[1:])), \
            f"{shard_id}: sequence numbers not strictly increasing"
        for pos, (r, e) in enumerate(zip(got, expected)):
            assert r["SequenceNumber"] == e["SequenceNumber"], (
                f"{shard_id}[{pos}]: read seq {r['SequenceNumber']}, put acknowledged "
                f"{e['SequenceNumber']} (record #{e['index']})")
            assert r["PartitionKey"] == e["entry"]["PartitionKey"], (shard_id, pos)
            assert r["Data"] == e["data"], (
                f"{shard_id}[{pos}] (record #{e['index']}): payload differs: "
                f"{len(r['Data'])} bytes read, {len(e['data'])} put")
            assert isinstance(r["ApproximateArrivalTimestamp"], dt.datetime)
        age = dt.datetime.now(dt.timezone.utc) - got[0]["ApproximateArrivalTimestamp"]
        assert dt.timedelta(seconds=-5) < age < dt.timedelta(minutes=10), (
            f"ApproximateArrivalTimestamp {got[0]['ApproximateArrivalTimestamp']} is not "
            f"'now' (epoch seconds expected on the JSON wire)")


def test_first_records_keep_every_byte_value(kinesis, loaded):
    first = loaded["acked"][0]
    got = read_shard(kinesis, loaded["name"], first["ShardId"],
                     "AT_SEQUENCE_NUMBER", StartingSequenceNumber=first["SequenceNumber"])
    assert got[0]["Data"] == bytes(range(256))


def test_get_records_limit_is_honoured(kinesis, loaded):
    shard_id = next(iter(loaded["by_shard"]))
    expected = loaded["by_shard"][shard_id]
    it = kinesis.get_shard_iterator(StreamName=loaded["name"], ShardId=shard_id,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    seen = []
    deadline = time.monotonic() + 60
    for _ in range(4):
        while True:
            assert time.monotonic() < deadline
            try:
                resp = kinesis.get_records(ShardIterator=it, Limit=7)
                break
            except ClientError as e:
                if not is_throttle(e):
                    raise
                time.sleep(0.25)
        assert len(resp["Records"]) == 7
        assert resp["MillisBehindLatest"] >= 0
        seen += [r["SequenceNumber"] for r in resp["Records"]]
        it = resp["NextShardIterator"]
    assert seen == [e["SequenceNumber"] for e in expected[:28]]


@pytest.mark.parametrize("pick", ["first", "middle", "last"])
def test_at_and_after_sequence_number(kinesis, loaded, pick):
    name = loaded["name"]
    for shard_id, expected in loaded["by_shard"].items():
        idx = {"first": 0, "middle": len(expected) // 2, "last": len(expected) - 1}[pick]
        seq = expected[idx]["SequenceNumber"]
        want_at = [e["SequenceNumber"] for e in expected[idx:]]
        got_at = read_shard(kinesis, name, shard_id, "AT_SEQUENCE_NUMBER",
                            StartingSequenceNumber=seq)
        assert [r["SequenceNumber"] for r in got_at] == want_at, (
            f"{shard_id} AT_SEQUENCE_NUMBER {seq}: got {len(got_at)} records starting at "
            f"{got_at[0]['SequenceNumber'] if got_at else None}, want {len(want_at)}")
        got_after = read_shard(kinesis, name, shard_id, "AFTER_SEQUENCE_NUMBER",
                               StartingSequenceNumber=seq)
        assert [r["SequenceNumber"] for r in got_after] == want_at[1:], (
            f"{shard_id} AFTER_SEQUENCE_NUMBER {seq}: got {len(got_after)} records, "
            f"want {len(want_at) - 1}")


def test_latest_sees_only_records_put_afterwards(kinesis):
    name = unique_name("e2e-latest")
    shards = create_stream(kinesis, name, 2)
    pks = {s["ShardId"]: partition_key_for_shard(shards, s["ShardId"], "lt") for s in shards}
    for sid, pk in pks.items():
        kinesis.put_records(StreamName=name, Records=[
            {"Data": f"old-{i}".encode(), "PartitionKey": pk} for i in range(20)])
    iters = {sid: kinesis.get_shard_iterator(StreamName=name, ShardId=sid,
                                             ShardIteratorType="LATEST")["ShardIterator"]
             for sid in pks}
    # Nothing is visible yet from LATEST.
    for sid, it in iters.items():
        got, _ = read_iterator(kinesis, it, deadline_s=20)
        assert got == [], f"{sid}: LATEST returned old records {got[:2]}"
    for sid, pk in pks.items():
        kinesis.put_records(StreamName=name, Records=[
            {"Data": f"new-{i}".encode(), "PartitionKey": pk} for i in range(5)])
        kinesis.put_record(StreamName=name, Data=b"new-single", PartitionKey=pk)
    for sid, it in iters.items():
        got, _ = read_iterator(kinesis, it, deadline_s=20)
        assert [r["Data"] for r in got] == \
            [f"new-{i}".encode() for i in range(5)] + [b"new-single"], sid
    kinesis.delete_stream(StreamName=name)


def test_latest_iterator_follows_new_records_across_calls(kinesis):
    """A consumer parked at the tail receives each new record exactly once."""
    name = unique_name("e2e-tail")
    shards = create_stream(kinesis, name, 1)
    sid = shards[0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=sid,
                                    ShardIteratorType="LATEST")["ShardIterator"]
    seen = []
    for i in range(5):
        kinesis.put_record(StreamName=name, Data=f"tail-{i}".encode(), PartitionKey="k")
        got, it = read_iterator(kinesis, it, deadline_s=20)
        seen += [r["Data"] for r in got]
        assert it, "NextShardIterator missing on an open shard"
    assert seen == [f"tail-{i}".encode() for i in range(5)]
    kinesis.delete_stream(StreamName=name)


def test_at_timestamp(kinesis, weir):
    name = unique_name("e2e-ts")
    shards = create_stream(kinesis, name, 2)
    pks = {s["ShardId"]: partition_key_for_shard(shards, s["ShardId"], "ts") for s in shards}

    def put_batch(tag):
        for sid, pk in pks.items():
            resp = kinesis.put_records(StreamName=name, Records=[
                {"Data": f"{tag}-{i}".encode(), "PartitionKey": pk} for i in range(10)])
            assert resp.get("FailedRecordCount", 0) == 0

    put_batch("before")
    # boto3 sends AT_TIMESTAMP as whole epoch seconds: put the boundary on a whole second
    # with at least 0.3 s of clearance on both sides.
    after_a = time.time()
    boundary = math.floor(after_a) + 1
    if boundary - after_a < 0.3:
        boundary += 1
    time.sleep(boundary + 0.3 - time.time())
    put_batch("after")
    ts = dt.datetime.fromtimestamp(boundary, dt.timezone.utc)
    for sid in pks:
        got = read_shard(kinesis, name, sid, "AT_TIMESTAMP", Timestamp=ts)
        assert [r["Data"] for r in got] == [f"after-{i}".encode() for i in range(10)], (
            f"{sid}: AT_TIMESTAMP {boundary} returned "
            f"{[r['Data'] for r in got][:12]}")
        # A timestamp before everything reads the whole shard.
        early = read_shard(kinesis, name, sid, "AT_TIMESTAMP",
                           Timestamp=dt.datetime.fromtimestamp(boundary - 3600, dt.timezone.utc))
        assert len(early) == 20, sid

    # The JS SDK sends fractional seconds: check millisecond precision on the raw wire.
    mid = (after_a + boundary + 0.3) / 2
    for sid in pks:
        resp = weir.call("GetShardIterator", {
            "StreamName": name, "ShardId": sid, "ShardIteratorType": "AT_TIMESTAMP",
            "Timestamp": round(mid, 3)})
        assert resp.status == 200, resp.describe()
        got, _ = read_iterator(kinesis, resp.body["ShardIterator"], deadline_s=20)
        assert [r["Data"] for r in got] == [f"after-{i}".encode() for i in range(10)], sid
    kinesis.delete_stream(StreamName=name)


# ---- StreamARN in place of StreamName -------------------------------------------------------
def test_stream_arn_accepted_in_place_of_stream_name(kinesis):
    name = unique_name("e2e-arn")
    create_stream(kinesis, name, 2)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    assert re.fullmatch(rf"arn:aws:kinesis:[a-z0-9-]+:{ACCOUNT_ID}:stream/{re.escape(name)}",
                        arn), arn
    assert kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"][
        "StreamName"] == name
    assert kinesis.describe_stream(StreamARN=arn)["StreamDescription"]["StreamName"] == name
    shards = kinesis.list_shards(StreamARN=arn)["Shards"]
    assert len(shards) == 2
    put = kinesis.put_record(StreamARN=arn, Data=b"via-arn", PartitionKey="a")
    put2 = kinesis.put_records(StreamARN=arn, Records=[{"Data": b"via-arn-2",
                                                         "PartitionKey": "a"}])
    assert put2["Records"][0]["ShardId"] == put["ShardId"]
    it = kinesis.get_shard_iterator(StreamARN=arn, ShardId=put["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    resp = kinesis.get_records(ShardIterator=it, StreamARN=arn)
    assert [r["Data"] for r in resp["Records"]] == [b"via-arn", b"via-arn-2"]
    kinesis.add_tags_to_stream(StreamARN=arn, Tags={"via": "arn"})
    assert kinesis.list_tags_for_stream(StreamARN=arn)["Tags"] == [{"Key": "via",
                                                                    "Value": "arn"}]
    kinesis.delete_stream(StreamARN=arn)
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_summary(StreamName=name)
    assert error_of(e)[0] == "ResourceNotFoundException"


# ---- stream management -------------------------------------------------------------------------
def test_describe_stream_and_summary(kinesis):
    name = unique_name("e2e-desc")
    before = dt.datetime.now(dt.timezone.utc)
    create_stream(kinesis, name, 3)
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["StreamName"] == name
    assert d["StreamStatus"] == "ACTIVE"
    assert d["HasMoreShards"] is False
    assert d["RetentionPeriodHours"] == 24
    assert len(d["Shards"]) == 3
    assert [s["ShardId"] for s in d["Shards"]] == sorted(s["ShardId"] for s in d["Shards"])
    ranges = hash_ranges(d["Shards"])
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH_KEY
    assert d["StreamARN"].endswith(f":stream/{name}")
    created = d["StreamCreationTimestamp"]
    assert before - dt.timedelta(seconds=5) <= created <= \
        dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5), created
    listed = list_all_shards(kinesis, name)
    assert [s["ShardId"] for s in listed] == [s["ShardId"] for s in d["Shards"]]
    assert [s["HashKeyRange"] for s in listed] == [s["HashKeyRange"] for s in d["Shards"]]

    s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert s["StreamName"] == name and s["StreamARN"] == d["StreamARN"]
    assert s["StreamStatus"] == "ACTIVE"
    assert s["OpenShardCount"] == 3
    assert s["RetentionPeriodHours"] == 24
    assert abs((s["StreamCreationTimestamp"] - created).total_seconds()) < 1
    kinesis.delete_stream(StreamName=name)


def test_describe_stream_paginates_shards(kinesis):
    name = unique_name("e2e-descpage")
    create_stream(kinesis, name, 5)
    d = kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
    assert len(d["Shards"]) == 2 and d["HasMoreShards"] is True
    ids = [s["ShardId"] for s in d["Shards"]]
    for _ in range(5):
        d = kinesis.describe_stream(StreamName=name, Limit=2,
                                    ExclusiveStartShardId=ids[-1])["StreamDescription"]
        ids += [s["ShardId"] for s in d["Shards"]]
        if not d["HasMoreShards"]:
            break
    assert ids == sorted(set(ids)) and len(ids) == 5, ids
    kinesis.delete_stream(StreamName=name)


def test_list_streams_paginates(kinesis):
    prefix = unique_name("e2e-list")
    names = [f"{prefix}-{i}" for i in range(5)]
    for n in names:
        kinesis.create_stream(StreamName=n, ShardCount=1)

    # Manual pagination with ExclusiveStartStreamName, 2 at a time.
    seen, start = [], None
    for _ in range(1000):
        kw = {"Limit": 2}
        if start:
            kw["ExclusiveStartStreamName"] = start
        page = kinesis.list_streams(**kw)
        assert len(page["StreamNames"]) <= 2
        seen += page["StreamNames"]
        if not page["HasMoreStreams"]:
            break
        assert page["StreamNames"], "HasMoreStreams with an empty page"
        start = page["StreamNames"][-1]
    else:
        raise AssertionError("ListStreams pagination never ended")
    assert len(seen) == len(set(seen)), "a stream was listed twice"
    assert seen == sorted(seen), "ListStreams is not in name order"
    assert set(names) <= set(seen)

    # boto3's paginator (NextToken).
    paged = []
    for page in kinesis.get_paginator("list_streams").paginate(
            PaginationConfig={"PageSize": 2, "MaxItems": 10_000}):
        paged += page["StreamNames"]
    assert paged == seen

    for n in names:
        kinesis.delete_stream(StreamName=n)
    for n in names:
        kinesis.get_waiter("stream_not_exists").wait(
            StreamName=n, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    remaining = set(kinesis.list_streams(Limit=10_000)["StreamNames"])
    assert not (set(names) & remaining)


def test_list_shards_paginates_with_next_token(kinesis):
    name = unique_name("e2e-shards")
    create_stream(kinesis, name, 4)
    first = kinesis.list_shards(StreamName=name, MaxResults=1)
    assert len(first["Shards"]) == 1 and first.get("NextToken")
    ids = [first["Shards"][0]["ShardId"]]
    token = first["NextToken"]
    for _ in range(10):
        page = kinesis.list_shards(NextToken=token, MaxResults=1)
        ids += [s["ShardId"] for s in page["Shards"]]
        token = page.get("NextToken")
        if not token:
            break
    assert ids == [f"shardId-{i:012d}" for i in range(4)], ids
    assert [s["ShardId"] for s in kinesis.list_shards(StreamName=name)["Shards"]] == ids
    kinesis.delete_stream(StreamName=name)


def test_tags_add_list_remove(kinesis):
    name = unique_name("e2e-tags")
    create_stream(kinesis, name, 1)
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == []
    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "data", "env": "test",
                                                      "empty": ""})
    tags = kinesis.list_tags_for_stream(StreamName=name)
    assert {t["Key"]: t["Value"] for t in tags["Tags"]} == \
        {"team": "data", "env": "test", "empty": ""}
    assert tags["HasMoreTags"] is False
    # Overwrite a value, paginate.
    kinesis.add_tags_to_stream(StreamName=name, Tags={"env": "prod"})
    page = kinesis.list_tags_for_stream(StreamName=name, Limit=1)
    assert len(page["Tags"]) == 1 and page["HasMoreTags"] is True
    rest = kinesis.list_tags_for_stream(StreamName=name,
                                        ExclusiveStartTagKey=page["Tags"][0]["Key"])
    all_tags = {t["Key"]: t["Value"] for t in page["Tags"] + rest["Tags"]}
    assert all_tags == {"team": "data", "env": "prod", "empty": ""}
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env", "empty"])
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == \
        [{"Key": "team", "Value": "data"}]
    kinesis.delete_stream(StreamName=name)


def test_retention_increase_and_decrease(kinesis):
    name = unique_name("e2e-ret")
    create_stream(kinesis, name, 1)

    def hours():
        return kinesis.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"]["RetentionPeriodHours"]

    assert hours() == 24
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert hours() == 48
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"][
        "RetentionPeriodHours"] == 48
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8760)
    assert hours() == 8760
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    assert hours() == 24
    kinesis.delete_stream(StreamName=name)


def test_describe_limits(kinesis):
    name = unique_name("e2e-limits")
    before = kinesis.describe_limits()
    for key in ("ShardLimit", "OpenShardCount", "OnDemandStreamCount",
                "OnDemandStreamCountLimit"):
        assert isinstance(before[key], int) and before[key] >= 0, (key, before)
    create_stream(kinesis, name, 3)
    after = kinesis.describe_limits()
    assert after["OpenShardCount"] == before["OpenShardCount"] + 3, (before, after)
    assert after["ShardLimit"] >= after["OpenShardCount"]
    kinesis.delete_stream(StreamName=name)
    kinesis.get_waiter("stream_not_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert kinesis.describe_limits()["OpenShardCount"] == before["OpenShardCount"]


def test_delete_stream_then_not_found_and_name_reusable(kinesis):
    name = unique_name("e2e-del")
    create_stream(kinesis, name, 2)
    kinesis.put_record(StreamName=name, Data=b"old-generation", PartitionKey="x")
    kinesis.delete_stream(StreamName=name)
    kinesis.get_waiter("stream_not_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    for call in (lambda: kinesis.describe_stream(StreamName=name),
                 lambda: kinesis.describe_stream_summary(StreamName=name),
                 lambda: kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="x"),
                 lambda: kinesis.list_shards(StreamName=name)):
        with pytest.raises(ClientError) as e:
            call()
        code, msg = error_of(e)
        assert code == "ResourceNotFoundException"
        assert msg == f"Stream {name} under account {ACCOUNT_ID} not found.", msg
    assert name not in kinesis.list_streams(Limit=10_000)["StreamNames"]

    # The name can be reused, and the new stream does not see the old stream's records.
    shards = create_stream(kinesis, name, 1)
    assert read_shard(kinesis, name, shards[0]["ShardId"]) == []
    kinesis.delete_stream(StreamName=name)


def test_put_record_sequence_for_ordering(kinesis):
    """SequenceNumberForOrdering: each record's number exceeds the one given."""
    name = unique_name("e2e-sfo")
    create_stream(kinesis, name, 1)
    last = None
    for i in range(5):
        kw = {"SequenceNumberForOrdering": last} if last else {}
        r = kinesis.put_record(StreamName=name, Data=f"{i}".encode(), PartitionKey="same",
                               **kw)
        if last:
            assert int(r["SequenceNumber"]) > int(last)
        last = r["SequenceNumber"]
    kinesis.delete_stream(StreamName=name)
