"""docs/COMPATIBILITY.md lists every operation of the installed botocore Kinesis model,
and says truthfully which ones Weir serves."""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session
import requests

DOC = Path(__file__).resolve().parents[2] / "docs" / "COMPATIBILITY.md"


def table() -> dict[str, bool]:
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\| ([A-Za-z]+) \| (yes|no) \|", line)
        if m:
            rows[m.group(1)] = m.group(2) == "yes"
    return rows


def test_the_compatibility_table_lists_every_operation_and_tells_the_truth(weir):
    model = botocore.session.get_session().get_service_model("kinesis")
    documented = table()
    assert sorted(documented) == sorted(model.operation_names), (
        "docs/COMPATIBILITY.md and botocore's model disagree: missing "
        f"{sorted(set(model.operation_names) - set(documented))}, extra "
        f"{sorted(set(documented) - set(model.operation_names))}")
    wrong = []
    for operation, served in documented.items():
        r = requests.post(weir.kinesis_url, data=b"{}", timeout=10, headers={
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": f"Kinesis_20131202.{operation}"})
        unknown = "UnknownOperationException" in r.json().get("__type", "")
        if served == unknown:
            wrong.append(f"{operation}: documented {'served' if served else 'not served'}, "
                         f"answered {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)
