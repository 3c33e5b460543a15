"""The AWS CLI, unchanged, against the Weir endpoint."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from weirtest import ACCESS_KEY, REGION, SECRET_KEY, unique_name


def find_aws() -> str | None:
    beside = Path(sys.executable).parent / "aws"
    if beside.exists():
        return str(beside)
    return shutil.which("aws")


@pytest.fixture(scope="module")
def aws(weir, tmp_path_factory):
    exe = find_aws()
    if exe is None:
        pytest.fail("the `aws` CLI is not installed (pip install awscli; tests/run.sh does)")
    home = tmp_path_factory.mktemp("aws-home")
    config = home / "config"
    # v1 reads and ignores cli_binary_format; v2 honours it. Either way blobs given on the
    # command line are raw and the CLI base64-encodes them on the wire.
    config.write_text("[default]\ncli_binary_format = raw-in-base64-out\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"), "HOME": str(home),
        "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1",
    })
    version = subprocess.run([exe, "--version"], env=env, capture_output=True, text=True,
                             timeout=60)
    major = (version.stdout + version.stderr).split("aws-cli/")[1][0]
    # `--cli-binary-format` exists only in CLI v2 (v1 rejects it as an unknown option).
    binary_format = ["--cli-binary-format", "raw-in-base64-out"] if major == "2" else []

    def run(*args, expect_ok=True, binary=False):
        argv = [exe, "kinesis", *args, "--endpoint-url", weir.kinesis_url,
                "--region", REGION, "--output", "json",
                *(binary_format if binary else [])]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        if expect_ok:
            assert proc.returncode == 0, (f"`{' '.join(argv)}` failed ({proc.returncode}):\n"
                                          f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
            return json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc

    return run


def test_cli_stream_lifecycle(aws):
    name = unique_name("cli")
    assert aws("create-stream", "--stream-name", name, "--shard-count", "2") is None
    aws("wait", "stream-exists", "--stream-name", name)
    assert name in aws("list-streams")["StreamNames"]

    desc = aws("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
    assert desc["StreamStatus"] == "ACTIVE" and desc["OpenShardCount"] == 2

    text = "hello from the aws cli \u00e9\u00e8"
    put = aws("put-record", "--stream-name", name, "--partition-key", "cli-key",
              "--data", text, binary=True)
    assert put["ShardId"].startswith("shardId-") and put["SequenceNumber"].isdigit()

    it = aws("get-shard-iterator", "--stream-name", name, "--shard-id", put["ShardId"],
             "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
    got = aws("get-records", "--shard-iterator", it)
    assert len(got["Records"]) == 1
    rec = got["Records"][0]
    assert rec["PartitionKey"] == "cli-key"
    assert rec["SequenceNumber"] == put["SequenceNumber"]
    # The CLI prints blobs base64-encoded.
    assert base64.b64decode(rec["Data"]) == text.encode("utf-8")
    assert "NextShardIterator" in got and got["MillisBehindLatest"] == 0

    aws("delete-stream", "--stream-name", name)
    aws("wait", "stream-not-exists", "--stream-name", name)
    assert name not in aws("list-streams")["StreamNames"]
    proc = aws("describe-stream", "--stream-name", name, expect_ok=False)
    assert proc.returncode != 0
    assert "ResourceNotFoundException" in proc.stderr, proc.stderr
    assert f"Stream {name} under account 000000000000 not found." in proc.stderr, proc.stderr


def test_cli_list_streams_paginates(aws):
    prefix = unique_name("clipage")
    names = [f"{prefix}-{i}" for i in range(3)]
    for n in names:
        aws("create-stream", "--stream-name", n, "--shard-count", "1")
    listed = aws("list-streams", "--page-size", "1")["StreamNames"]
    assert set(names) <= set(listed)
    assert len(listed) == len(set(listed))
    for n in names:
        aws("delete-stream", "--stream-name", n)


def test_weir_bench_measures_after_its_warm_up_and_cleans_up(weir):
    """`weir bench` is how the performance numbers in docs/BENCHMARKS.md are made: its
    summary must count only the measured seconds, carry the per-second p99 series, and
    leave no stream behind."""
    from weirtest import weir_binary

    stream = unique_name("bench")
    proc = subprocess.run(
        [str(weir_binary()), "bench", "--endpoint", weir.kinesis_url, "--stream", stream,
         "--shards", "2", "--duration", "3", "--warmup", "1", "--rate", "2000",
         "--batch", "100", "--concurrency", "2", "--record-bytes", "64", "--no-consumers"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["warmup_s"] == 1
    # Only the measured part counts: about 3 s at 2000 records/s, not 4 s.
    assert 2.5 <= summary["duration_s"] <= 3.6, summary
    assert 4500 <= summary["records"] <= 7000, summary
    assert summary["failed_records"] == 0 and summary["request_errors"] == 0, summary
    assert summary["put_latency_ms"]["count"] == summary["records"] // 100, summary
    series = summary["put_p99_ms_by_second"]
    assert len(series) == 3 and all(p > 0 for p in series), series
    assert "warm-up" in proc.stderr
    streams = weir.client().list_streams()["StreamNames"]
    assert stream not in streams
