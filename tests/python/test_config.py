"""`weir validate/plan/apply/destroy` end to end: the real binary driving a real `weir up`,
checked through boto3 (the Kinesis API), like a platform team would use it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from weirtest import REPO_ROOT, make_client, weir_binary

EXAMPLE = REPO_ROOT / "infra" / "examples" / "orders-platform"


def run_weir(server, *args: str, stdin=subprocess.DEVNULL, cwd: Path = REPO_ROOT):
    env = dict(os.environ, WEIR_ENDPOINT=server.rest_url, RUST_BACKTRACE="0")
    return subprocess.run([str(weir_binary()), *args], cwd=cwd, env=env, stdin=stdin,
                          capture_output=True, text=True, timeout=120)


def ok(proc) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


@pytest.fixture
def server(weir_factory):
    return weir_factory("config")


def test_validate_offline_and_errors_name_file_and_line(tmp_path, server):
    out = ok(run_weir(server, "validate", "-f", str(EXAMPLE)))
    assert "Success! The configuration is valid" in out
    ok(run_weir(server, "validate", "-f", str(EXAMPLE.parent / "orders-platform.yaml")))

    broken = tmp_path / "broken.hcl"
    broken.write_text('config_name = "b"\n\nstream "orders" {\n  shard_count    = 2\n'
                      '  retention_hour = 48\n}\n')
    proc = run_weir(server, "validate", "-f", str(broken), cwd=tmp_path)
    assert proc.returncode == 1
    assert "broken.hcl:5:3: unknown attribute \"retention_hour\"" in proc.stderr, proc.stderr
    assert 'did you mean "retention_hours"' in proc.stderr
    proc = run_weir(server, "apply", "-f", str(broken), "-auto-approve", cwd=tmp_path)
    assert proc.returncode == 1 and "broken.hcl:5:3" in proc.stderr, proc.stderr
    assert make_client(server.kinesis_url).list_streams()["StreamNames"] == []


def test_plan_apply_drift_stale_plan_and_destroy(tmp_path, server):
    kinesis = make_client(server.kinesis_url)
    kinesis.create_stream(StreamName="legacy-audit", ShardCount=1)

    proc = run_weir(server, "plan", "-f", str(EXAMPLE), "-detailed-exitcode")
    assert proc.returncode == 2, proc.stderr
    assert "Plan: 6 to add, 0 to change, 0 to destroy." in proc.stdout

    out = ok(run_weir(server, "apply", "-f", str(EXAMPLE)))
    assert "stream.orders: Creation complete" in out
    assert "Apply complete! Resources: 6 added, 0 changed, 0 destroyed." in out
    names = set(kinesis.list_streams()["StreamNames"])
    assert {"orders", "payments", "clickstream.prod", "legacy-audit"} <= names
    summary = kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]
    assert (summary["OpenShardCount"], summary["RetentionPeriodHours"]) == (4, 168)
    arn = summary["StreamARN"]
    consumers = {c["ConsumerName"] for c in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]}
    assert consumers == {"fulfillment", "order-analytics"}

    proc = run_weir(server, "plan", "-f", str(EXAMPLE), "-detailed-exitcode")
    assert proc.returncode == 0 and proc.stdout.startswith("No changes."), proc.stdout

    # Retention and shard count change: exactly those two lines.
    change = ["-var", "orders_shards=6", "-var", "orders_retention_hours=336"]
    proc = run_weir(server, "plan", "-f", str(EXAMPLE), *change, "-detailed-exitcode")
    assert proc.returncode == 2
    actions = proc.stdout.split("Weir will perform the following actions:")[1]
    changed_lines = [line.strip() for line in actions.splitlines() if line.strip().startswith("~ ")]
    assert changed_lines == ['~ stream "orders" {', "~ retention_hours = 168 -> 336",
                             "~ shard_count     = 4 -> 6"], proc.stdout
    ok(run_weir(server, "apply", "-f", str(EXAMPLE), *change))
    summary = kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]
    assert (summary["OpenShardCount"], summary["RetentionPeriodHours"]) == (6, 336)

    # Out of band through the Kinesis API: the plan reports it.
    kinesis.decrease_stream_retention_period(StreamName="payments", RetentionPeriodHours=48)
    proc = run_weir(server, "plan", "-f", str(EXAMPLE), *change, "-out", str(tmp_path / "plan.json"))
    assert "stream.payments: retention_hours is 48; this config last applied 72" in proc.stdout
    assert "~ retention_hours = 48 -> 72 # changed outside this config" in proc.stdout
    assert json.loads((tmp_path / "plan.json").read_text())["config_name"] == "orders-platform"

    # Someone changes payments again: the saved plan is refused, and says why.
    kinesis.add_tags_to_stream(StreamName="payments", Tags={"owner": "bob"})
    proc = run_weir(server, "apply", str(tmp_path / "plan.json"), "-auto-approve")
    assert proc.returncode == 1
    assert 'stream "payments" was modified after the plan was made' in proc.stderr, proc.stderr
    assert "tags changed" in proc.stderr
    assert kinesis.describe_stream_summary(StreamName="payments")[
        "StreamDescriptionSummary"]["RetentionPeriodHours"] == 48

    # Destroy needs a yes; without a terminal it refuses and says how to proceed.
    proc = run_weir(server, "destroy", "-f", str(EXAMPLE))
    assert proc.returncode == 1 and "-auto-approve" in proc.stderr, proc.stderr
    assert "orders" in kinesis.list_streams()["StreamNames"]
    out = ok(run_weir(server, "destroy", "-f", str(EXAMPLE), "-auto-approve"))
    assert "Destroy complete! Resources: 6 destroyed." in out
    assert kinesis.list_streams()["StreamNames"] == ["legacy-audit"]
