"""What Kinesis answers before an operation runs, over raw HTTP against `weir up`: CORS,
methods, content types, empty and non-object bodies, unknown targets, request ids.
AWS's answers as kinesalite recorded them against the live service."""

from __future__ import annotations

import base64
import json
import re

import cbor2
import pytest
import requests

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
JSON11 = "application/x-amz-json-1.1"
DENIED = ("<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be "
          "authorized</Message>\n</AccessDeniedException>\n")


def post(weir, body: bytes, content_type: str | None = JSON11,
         target: str | None = "Kinesis_20131202.ListStreams", **headers) -> requests.Response:
    sent = dict(headers)
    if content_type is not None:
        sent["Content-Type"] = content_type
    if target is not None:
        sent["X-Amz-Target"] = target
    return requests.post(weir.kinesis_url + "/", data=body, headers=sent, timeout=10)


def test_a_browser_preflight_gets_cors_headers_and_every_answer_allows_any_origin(weir):
    r = requests.options(weir.kinesis_url + "/", headers={
        "Origin": "https://console.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-amz-target"}, timeout=10)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-allow-methods"] == "POST"
    assert r.headers["access-control-allow-headers"] == "content-type,x-amz-target"
    assert r.headers["access-control-max-age"] == "172800"
    r = post(weir, b"{}", Origin="https://console.example")
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-amzn-RequestId" in r.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in post(weir, b"{}").headers


def test_request_ids_are_uuids(weir):
    for r in (post(weir, b"{}"), post(weir, b"{}", target="Kinesis_20131202.Nope")):
        assert UUID.match(r.headers["x-amzn-requestid"]), r.headers["x-amzn-requestid"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_any_method_but_post_is_an_xml_access_denied(weir, method):
    r = requests.request(method, weir.kinesis_url + "/", timeout=10)
    assert (r.status_code, r.text) == (403, DENIED)
    assert "content-type" not in r.headers, r.headers
    assert 64 <= len(base64.b64decode(r.headers["x-amz-id-2"])) <= 80, r.headers


def test_an_empty_body_is_a_serialization_error_in_json_or_cbor(weir):
    r = post(weir, b"")
    assert (r.status_code, r.json()) == (400, {"__type": "SerializationException"})
    r = post(weir, b"", target="Kinesis_20131202.Nope")
    assert r.json() == {"__type": "UnknownOperationException"}
    # No content type at all: AWS answers in CBOR.
    r = post(weir, b"", content_type=None)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/x-amz-cbor-1.1")
    assert cbor2.loads(r.content) == {"__type": "SerializationException"}


def test_an_unknown_content_type_is_a_404_or_a_403(weir):
    r = post(weir, b"{}", content_type="text/plain")
    assert (r.status_code, r.text) == (404, "<UnknownOperationException/>\n")
    r = post(weir, b"{}", content_type="text/plain", target=None)
    assert (r.status_code, r.text) == (403, DENIED)


def test_json_1_0_gets_aws_wrapper(weir):
    # As kinesalite recorded Kinesis: 400 for a body that is no JSON object, 404 for any
    # object (nothing is reached over JSON 1.0), and `__type` alone.
    for body in (b"[]", b"hello"):
        r = post(weir, body, content_type="application/json")
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"Output": {"__type": "com.amazon.coral.service#SerializationException"},
                            "Version": "1.0"}
    r = post(weir, b"{}", content_type="application/json ;")
    assert r.status_code == 404
    assert r.json() == {"Output": {"__type": "com.amazon.coral.service#UnknownOperationException"},
                        "Version": "1.0"}


@pytest.mark.parametrize("body", [b"[1]", b'"text"', b"5", b"null"])
def test_a_json_body_that_is_not_an_object_is_a_bare_serialization_error(weir, body):
    r = post(weir, body)
    assert (r.status_code, r.json()) == (400, {"__type": "SerializationException"})
    assert r.headers["x-amzn-errortype"] == "SerializationException"


def test_an_unknown_operation_gets_a_bare_unknown_operation(weir):
    for target in ("Kinesis_20131202.Nope", "Other_20131202.ListStreams", "ListStreams"):
        r = post(weir, json.dumps({}).encode(), target=target)
        assert (r.status_code, r.json()) == (400, {"__type": "UnknownOperationException"}), target
