"""The control plane's OpenAPI document is complete enough for generated clients:
schemathesis (PyPI) fuzzes every operation from /openapi.json against a running
`weir up` and finds no server error, no undocumented status code or content type, no
response that breaks its schema, no schema-violating request accepted, and no
schema-valid request refused (but for the state- and configuration-dependent refusals
listed in schemathesis.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_schemathesis_finds_nothing(weir_factory, tmp_path):
    server = weir_factory("openapi")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(HERE / "schemathesis.toml"),
        "run", f"{server.rest_url}/openapi.json",
        "--checks", "all",
        "--max-examples", "25",
        "--seed", "20261127",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            cwd=tmp_path, env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Tested: " in output, output[-2000:]
