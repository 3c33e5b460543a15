"""Security end to end: SigV4 with issued keys (boto3 and the AWS CLI), AWS's errors for
bad signatures, the role x operation-class matrix checked against docs/SECURITY.md,
bearer tokens on the REST API, the audit log, TLS, and no secret in debug logs.

Every test starts its own `weir up --auth` (or `--tls`) on a temporary data folder; the
bootstrap administrator's key is read from the first start's stdout.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import socket
import ssl
import subprocess
import time
from pathlib import Path
from unittest import mock

import botocore.auth
import botocore.credentials
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from weirtest import REPO_ROOT, WeirCluster, WeirServer, make_client, read_stream, unique_name

JSON_CT = "application/x-amz-json-1.1"


@pytest.fixture
def secure(tmp_path):
    started: list[WeirServer] = []

    def start(*args: str, env: dict | None = None) -> WeirServer:
        base = tmp_path / f"weir-{len(started)}"
        server = WeirServer(base / "data", base / "logs", extra_args=("--auth", *args))
        started.append(server)
        with mock.patch.dict(os.environ, env or {}):
            server.start()
        assert server.admin_key, "weir up --auth did not print the administrator's key"
        return server

    yield start
    for s in started:
        s.close()


def token_for(server: WeirServer, key: tuple[str, str]) -> str:
    r = requests.post(f"{server.rest_url}/v1/auth/token",
                      json={"access_key_id": key[0], "secret_access_key": key[1]}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def rest(server: WeirServer, method: str, path: str, token: str | None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, f"{server.rest_url}{path}", headers=headers, timeout=10,
                            **kwargs)


def new_principal(server: WeirServer, admin_token: str, role: str, streams: str) -> tuple[str, str]:
    name = unique_name(role)
    r = rest(server, "POST", "/v1/principals", admin_token,
             json={"name": name, "bindings": [{"role": role, "streams": streams}]})
    assert r.status_code == 201, r.text
    k = rest(server, "POST", f"/v1/principals/{name}/keys", admin_token)
    assert k.status_code == 201, k.text
    return name, (k.json()["access_key_id"], k.json()["secret_access_key"])


def signed_request(server: WeirServer, key, op: str, body: dict, *, when=None):
    creds = botocore.credentials.Credentials(key[0], key[1])
    request = AWSRequest(method="POST", url=server.kinesis_url + "/",
                         data=json.dumps(body).encode(),
                         headers={"Content-Type": JSON_CT,
                                  "X-Amz-Target": f"Kinesis_20131202.{op}"})
    if when is None:
        botocore.auth.SigV4Auth(creds, "kinesis", "us-east-1").add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            botocore.auth.SigV4Auth(creds, "kinesis", "us-east-1").add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None):
    return requests.post(request.url, data=body if body is not None else request.body,
                         headers=dict(request.headers.items()), timeout=10)


def error_type(r) -> str:
    return r.json().get("__type", "")


def stream_records(client, stream: str) -> list[bytes]:
    shard = client.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    it = client.get_shard_iterator(StreamName=stream, ShardId=shard,
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [r["Data"] for r in client.get_records(ShardIterator=it)["Records"]]


# ---- SigV4 with issued keys ------------------------------------------------------------------
def test_issued_keys_work_with_boto3_and_the_aws_cli(secure, tmp_path):
    server = secure()
    admin = server.client()
    stream = unique_name("sig")
    admin.create_stream(StreamName=stream, ShardCount=1)
    admin.put_record(StreamName=stream, PartitionKey="k", Data=b"hello")
    assert stream_records(admin, stream) == [b"hello"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.admin_key[0],
           "AWS_SECRET_ACCESS_KEY": server.admin_key[1], "AWS_DEFAULT_REGION": "us-east-1"}
    aws = str(Path(os.sys.executable).parent / "aws")
    out = subprocess.run([aws, "kinesis", "list-streams", "--endpoint-url", server.kinesis_url],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert stream in json.loads(out.stdout)["StreamNames"]
    env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    out = subprocess.run([aws, "kinesis", "list-streams", "--endpoint-url", server.kinesis_url],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "InvalidSignatureException" in out.stderr, out.stderr


def test_bad_signatures_get_aws_errors_and_write_nothing(secure):
    server = secure()
    admin = server.client()
    stream = unique_name("bad")
    admin.create_stream(StreamName=stream, ShardCount=1)
    put = {"StreamName": stream, "PartitionKey": "k",
           "Data": base64.b64encode(b"original").decode()}
    cases = {}
    # No signature at all.
    r = requests.post(server.kinesis_url + "/", data=json.dumps(put),
                      headers={"Content-Type": JSON_CT,
                               "X-Amz-Target": "Kinesis_20131202.PutRecord"}, timeout=10)
    cases["unsigned"] = (r, "MissingAuthenticationTokenException")
    # Wrong secret, unknown key.
    cases["wrong secret"] = (send(signed_request(server, (server.admin_key[0], "x" * 40),
                                                 "PutRecord", put)), "InvalidSignatureException")
    cases["unknown key"] = (send(signed_request(server, ("WKIA0000000000000000", "x" * 40),
                                                "PutRecord", put)), "UnrecognizedClientException")
    # A body changed after signing.
    tampered = dict(put, Data=base64.b64encode(b"tampered").decode())
    cases["tampered body"] = (send(signed_request(server, server.admin_key, "PutRecord", put),
                                   json.dumps(tampered).encode()), "InvalidSignatureException")
    # Signed 20 minutes ago.
    past = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(minutes=20)
    cases["20 minutes old"] = (send(signed_request(server, server.admin_key, "PutRecord", put,
                                                   when=past)), "InvalidSignatureException")
    # Malformed Authorization header.
    req = signed_request(server, server.admin_key, "PutRecord", put)
    req.headers.replace_header("Authorization", "AWS4-HMAC-SHA256 Signature=abc")
    cases["malformed"] = (send(req), "IncompleteSignatureException")
    for name, (r, want) in cases.items():
        assert r.status_code == 400 and error_type(r) == want, (name, r.status_code, r.text)
    assert "Signature expired" in cases["20 minutes old"][0].json()["message"]
    assert stream_records(admin, stream) == [], "a refused request wrote a record"
    # Control: the untampered signed request is accepted.
    r = send(signed_request(server, server.admin_key, "PutRecord", put))
    assert r.status_code == 200, r.text
    assert stream_records(admin, stream) == [b"original"]


class KeepBodyQueryAuth(botocore.auth.SigV4QueryAuth):
    """Presigns (signature in the query string) but keeps the JSON body: botocore's query
    auth moves form parameters to the query and empties the body, and Kinesis answers an
    empty body with SerializationException before it looks at the signature."""

    def _modify_request_before_signing(self, request):
        data = request.data
        super()._modify_request_before_signing(request)
        request.data = data


def test_presigned_request_works_until_it_expires(secure):
    server = secure()
    admin = server.client()
    creds = botocore.credentials.Credentials(*server.admin_key)

    def presigned(expires: int, when=None) -> AWSRequest:
        request = AWSRequest(method="POST", url=server.kinesis_url + "/", data=b"{}",
                             headers={"Content-Type": JSON_CT,
                                      "X-Amz-Target": "Kinesis_20131202.ListStreams"})
        auth = KeepBodyQueryAuth(creds, "kinesis", "us-east-1", expires=expires)
        if when is None:
            auth.add_auth(request)
        else:
            with mock.patch("botocore.auth.get_current_datetime", return_value=when):
                auth.add_auth(request)
        return request

    fresh = presigned(300)
    r = requests.post(fresh.url, data=fresh.body,
                      headers={k: v for k, v in fresh.headers.items()}, timeout=10)
    assert r.status_code == 200, r.text
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(minutes=2)
    stale = presigned(60, when=old)
    r = requests.post(stale.url, data=stale.body,
                      headers={k: v for k, v in stale.headers.items()}, timeout=10)
    assert r.status_code == 400 and error_type(r) == "InvalidSignatureException", r.text
    assert "expired" in r.json()["message"].lower()
    admin.list_streams()


# ---- roles x operation classes, as docs/SECURITY.md says ---------------------------------------
def permission_table() -> dict[str, dict[str, str]]:
    text = (REPO_ROOT / "docs" / "SECURITY.md").read_text()
    block = text.split("<!-- permission-table:begin -->")[1].split("<!-- permission-table:end -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in block.strip().splitlines()]
    header, body = rows[0], rows[2:]
    return {r[0]: dict(zip(header[1:], r[1:])) for r in body}


# What each class is exercised with: (name used in the table's "X only" cells, callable).
def probes(server, client, token, stream):
    def kinesis(call):
        def run():
            try:
                call()
                return True
            except ClientError as e:
                code = e.response["Error"]["Code"]
                return code != "AccessDeniedException"
        return run

    def http(method, path):
        def run():
            return rest(server, method, path, token).status_code != 403
        return run

    shard = "shardId-000000000000"
    return {
        "Write": [("PutRecord", kinesis(lambda: client.put_record(
            StreamName=stream, PartitionKey="k", Data=b"m")))],
        "Read": [("GetShardIterator", kinesis(lambda: client.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="LATEST")))],
        "Describe": [("DescribeStreamSummary", kinesis(lambda: client.describe_stream_summary(
            StreamName=stream)))],
        "Manage": [
            ("AddTagsToStream", kinesis(lambda: client.add_tags_to_stream(
                StreamName=stream, Tags={"t": "v"}))),
            ("RegisterStreamConsumer", kinesis(lambda: client.register_stream_consumer(
                StreamARN=f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}",
                ConsumerName=unique_name("c")))),
        ],
        "Cluster": [("ReadCluster", http("GET", f"/v1/streams/{stream}/shards/{shard}/segments")),
                    ("WriteCluster", http("POST", f"/v1/streams/{stream}/shards/{shard}/move"))],
        "Security": [("ManagePrincipals", http("GET", "/v1/principals")),
                     ("ReadAudit", http("GET", "/v1/audit"))],
    }


def test_every_role_and_operation_class_is_allowed_exactly_as_documented(secure):
    server = secure()
    admin = server.client()
    admin_token = token_for(server, server.admin_key)
    stream = unique_name("matrix")
    admin.create_stream(StreamName=stream, ShardCount=1)
    table = permission_table()
    assert set(table) == {"admin", "operator", "producer", "consumer", "viewer"}
    mismatches = []
    for role, cells in table.items():
        _, key = new_principal(server, admin_token, role, "*")
        client = make_client(server.kinesis_url, key=key)
        token = token_for(server, key)
        for klass, checks in probes(server, client, token, stream).items():
            cell = cells[klass]
            for name, run in checks:
                want = cell == "yes" or (cell.endswith(" only") and name in cell)
                got = run()
                if got != want:
                    mismatches.append(f"{role} {klass}/{name}: documented "
                                      f"{'allowed' if want else 'denied'} ({cell!r}), got "
                                      f"{'allowed' if got else 'denied'}")
    assert not mismatches, "\n".join(mismatches)


def test_bindings_are_scoped_by_stream_pattern_and_denials_name_the_permission(secure):
    server = secure()
    admin = server.client()
    admin_token = token_for(server, server.admin_key)
    orders, payments = unique_name("orders-"), unique_name("payments-")
    for s in (orders, payments):
        admin.create_stream(StreamName=s, ShardCount=1)
    _, producer_key = new_principal(server, admin_token, "producer", "orders-*")
    producer = make_client(server.kinesis_url, key=producer_key)
    producer.put_record(StreamName=orders, PartitionKey="k", Data=b"ok")
    with pytest.raises(ClientError) as denied:
        producer.put_record(StreamName=payments, PartitionKey="k", Data=b"no")
    err = denied.value.response["Error"]
    assert err["Code"] == "AccessDeniedException"
    assert "kinesis:PutRecord" in err["Message"] and payments in err["Message"]
    with pytest.raises(ClientError) as denied:
        producer.delete_stream(StreamName=orders)
    assert "kinesis:DeleteStream" in denied.value.response["Error"]["Message"]
    assert stream_records(admin, payments) == []
    _, consumer_key = new_principal(server, admin_token, "consumer", "orders-*")
    consumer = make_client(server.kinesis_url, key=consumer_key)
    assert stream_records(consumer, orders) == [b"ok"]
    with pytest.raises(ClientError) as denied:
        consumer.put_record(StreamName=orders, PartitionKey="k", Data=b"no")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    # REST denials name the permission too.
    r = rest(server, "DELETE", f"/v1/streams/{orders}", token_for(server, consumer_key))
    assert r.status_code == 403 and "weir:WriteStreams" in r.json()["error"]["message"], r.text


# ---- bearer tokens -----------------------------------------------------------------------------
def test_rest_tokens_missing_bad_forged_or_orphaned_are_refused_and_rotation_keeps_old_ones(secure):
    server = secure()
    admin_token = token_for(server, server.admin_key)
    assert rest(server, "GET", "/v1/streams", admin_token).status_code == 200
    header, payload, signature = admin_token.split(".")
    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()
                                           ).rstrip(b"=").decode()
    hs_header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()
                                         ).rstrip(b"=").decode()
    forged_sig = ("A" if signature[0] != "A" else "B") + signature[1:]
    bad = {
        "missing": None,
        "malformed": "not-a-jwt",
        "wrong signature": f"{header}.{payload}.{forged_sig}",
        "alg none": f"{none_header}.{payload}.",
        "alg confusion": f"{hs_header}.{payload}.{signature}",
    }
    for name, token in bad.items():
        r = rest(server, "GET", "/v1/streams", token)
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.json()["error"]["code"] == "Unauthenticated", (name, r.text)
    wrong = requests.post(f"{server.rest_url}/v1/auth/token",
                          json={"access_key_id": server.admin_key[0],
                                "secret_access_key": "wrong"}, timeout=10)
    assert wrong.status_code == 401
    # A deleted principal's token stops working at once.
    name, key = new_principal(server, admin_token, "viewer", "*")
    viewer_token = token_for(server, key)
    assert rest(server, "GET", "/v1/streams", viewer_token).status_code == 200
    assert rest(server, "DELETE", f"/v1/principals/{name}", admin_token).status_code == 204
    assert rest(server, "GET", "/v1/streams", viewer_token).status_code == 401
    # Rotation: tokens from the old key stay valid; new tokens carry the new key id.
    r = rest(server, "POST", "/v1/auth/rotate", admin_token)
    assert r.status_code == 200, r.text
    new_kid = r.json()["key_id"]
    assert rest(server, "GET", "/v1/streams", admin_token).status_code == 200
    fresh = token_for(server, server.admin_key)
    kid = json.loads(base64.urlsafe_b64decode(fresh.split(".")[0] + "=="))["kid"]
    assert kid == new_kid
    assert rest(server, "GET", "/v1/streams", fresh).status_code == 200
    # Keys and tokens survive a restart (sealed in the metadata store).
    server.restart()
    assert rest(server, "GET", "/v1/streams", fresh).status_code == 200


# ---- audit log -------------------------------------------------------------------------------
def test_audit_log_records_changes_and_failures_with_filters(secure):
    server = secure()
    admin_token = token_for(server, server.admin_key)
    stream = unique_name("audit")
    r = rest(server, "POST", "/v1/streams", admin_token, json={"name": stream, "shard_count": 1})
    assert r.status_code == 201, r.text
    rest(server, "GET", "/v1/streams", "garbage")
    _, key = new_principal(server, admin_token, "viewer", "*")
    rest(server, "DELETE", f"/v1/streams/{stream}", token_for(server, key))

    def events(**params):
        r = rest(server, "GET", "/v1/audit", admin_token, params=params)
        assert r.status_code == 200, r.text
        return r.json()["events"]

    created = events(principal="admin", action="weir:WriteStreams")
    assert any(e["resource"] == "/v1/streams" and e["result"] == "allowed" for e in created)
    assert all(e["source"].startswith("127.0.0.1:") for e in created)
    assert events(result="unauthenticated"), "the bad token was not audited"
    denied = events(result="denied")
    assert any(e["action"] == "weir:WriteStreams" and stream in e["resource"] for e in denied)
    r = rest(server, "GET", "/v1/audit", admin_token, params={"limit": 0})
    assert r.status_code == 400


# ---- TLS -----------------------------------------------------------------------------------
def test_tls_serves_boto3_with_the_generated_ca_and_survives_plaintext_clients(tmp_path):
    server = WeirServer(tmp_path / "data", tmp_path / "logs", extra_args=("--tls",))
    try:
        server.start()
        assert server.kinesis_url.startswith("https://") and server.ca_cert
        client = server.client()
        stream = unique_name("tls")
        client.create_stream(StreamName=stream, ShardCount=1)
        client.put_record(StreamName=stream, PartitionKey="k", Data=b"secure")
        assert stream_records(client, stream) == [b"secure"]
        assert requests.get(f"{server.rest_url}/v1/streams", verify=server.ca_cert,
                            timeout=10).status_code == 200
        # Without the CA the certificate is refused.
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{server.rest_url}/v1/streams", timeout=10)
        # A plaintext client on the TLS port fails cleanly; the server keeps serving.
        host, port = server.kinesis_url.removeprefix("https://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            s.settimeout(15)
            try:
                reply = s.recv(100)
            except (ConnectionResetError, socket.timeout):
                reply = b""
        assert not reply.startswith(b"HTTP/1.1 200"), reply
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(server.rest_url.replace("https://", "http://") + "/healthz", timeout=10)
        assert stream_records(client, stream) == [b"secure"]
        # HTTP/2 is offered by ALPN.
        ctx = ssl.create_default_context(cafile=server.ca_cert)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                assert tls.selected_alpn_protocol() == "h2"
    finally:
        server.close()


def test_a_tls_cluster_forwards_and_replicates_over_tls_only(tmp_path):
    """`weir up --nodes 3 --tls`: every process serves TLS from the local CA, and the
    processes call each other (heartbeats, forwards, replication, fences) over TLS with
    the internal token. Writes through one node land on other nodes' shards and survive
    the loss of a shard's leader, which only replication over TLS can explain; a
    plaintext internal call is not answered."""
    cluster = WeirCluster(tmp_path / "data", tmp_path / "logs", nodes=3, extra_args=("--tls",))
    try:
        cluster.start()
        assert cluster.ca_cert and all(u.startswith("https://")
                                       for u in cluster.node_urls.values()), cluster.node_urls
        admin = cluster.node_client("node-0")
        stream = unique_name("tlsc")
        admin.create_stream(StreamName=stream, ShardCount=3)
        admin.get_waiter("stream_exists").wait(StreamName=stream,
                                               WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        writer = cluster.node_client("node-1")
        writer.get_waiter("stream_exists").wait(StreamName=stream,
                                                WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        sent = [f"tls-{i}".encode() for i in range(60)]
        resp = writer.put_records(StreamName=stream, Records=[
            {"Data": d, "PartitionKey": f"k{i}"} for i, d in enumerate(sent)])
        assert resp["FailedRecordCount"] == 0, resp["Records"][:3]
        shards = {r["ShardId"] for r in resp["Records"]}
        assert len(shards) == 3, shards
        placement = requests.get(f"{cluster.rest_url}/v1/streams/{stream}/placement",
                                 verify=cluster.ca_cert, timeout=10).json()["shards"]
        assert all(len(set(s["replicas"])) == 3 for s in placement), placement
        # Lose one shard's leader: its records are on the other two nodes.
        victim = placement[0]["leader"]
        cluster.kill_node(victim)
        reader = cluster.node_client(next(n for n in cluster.node_ids if n != victim),
                                     read_timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                got = sorted(r["Data"] for recs in read_stream(reader, stream, 30).values()
                             for r in recs)
                break
            except ClientError:
                assert time.monotonic() < deadline, "the stream stayed unreadable"
                time.sleep(0.5)
        assert got == sorted(sent), (len(got), len(sent))
        # The internal API speaks TLS only.
        survivor = cluster.node_urls[next(n for n in cluster.node_ids if n != victim)]
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(survivor.replace("https://", "http://") + "/internal/v1/replica/fence",
                          json={"stream_uid": 1, "ordinal": 0, "generation": 1}, timeout=10)
    finally:
        cluster.close()


# ---- no secrets in logs ------------------------------------------------------------------------
def test_a_debug_logged_session_never_logs_a_secret_or_token(secure):
    server = secure(env={"RUST_LOG": "debug"})
    admin = server.client()
    admin_token = token_for(server, server.admin_key)
    stream = unique_name("logs")
    admin.create_stream(StreamName=stream, ShardCount=1)
    admin.put_record(StreamName=stream, PartitionKey="k", Data=b"x")
    _, key = new_principal(server, admin_token, "producer", "nothing-*")
    producer = make_client(server.kinesis_url, key=key)
    with pytest.raises(ClientError):
        producer.put_record(StreamName=stream, PartitionKey="k", Data=b"x")
    bad = make_client(server.kinesis_url, key=(key[0], "wrong-secret-wrong-secret"))
    with pytest.raises(ClientError):
        bad.list_streams()
    rest(server, "GET", "/v1/streams", admin_token + "x")
    rest(server, "POST", "/v1/auth/rotate", admin_token)
    server.stop()
    logs = "".join(p.read_text(errors="replace") for p in server.log_dir.glob("*.stderr.log"))
    assert "DEBUG" in logs, "the session did not log at debug level"
    for secret in (server.admin_key[1], key[1], admin_token,
                   admin_token.split(".")[2]):
        assert secret not in logs, "a secret or token appeared in the logs"
    signatures = re.findall(r"Signature=([0-9a-f]{64})", logs)
    assert not signatures, "a request signature appeared in the logs"


# ---- a cluster: every node verifies signatures ---------------------------------------------
def test_cluster_nodes_verify_signatures_and_permissions(tmp_path):
    from weirtest import WeirCluster
    cluster = WeirCluster(tmp_path / "data", tmp_path / "logs", nodes=2, extra_args=("--auth",))
    try:
        cluster.start()
        assert cluster.admin_key
        admin_token = token_for(cluster, cluster.admin_key)
        stream = unique_name("cl")
        # A management call through a node is verified there, then forwarded.
        cluster.node_client("node-1", key=cluster.admin_key).create_stream(
            StreamName=stream, ShardCount=2)
        _, producer_key = new_principal(cluster, admin_token, "producer", stream)
        _, viewer_key = new_principal(cluster, admin_token, "viewer", "*")
        import time as _time
        _time.sleep(1.5)  # heartbeats carry the new principals and keys to the nodes
        for node in cluster.node_ids:
            producer = cluster.node_client(node, key=producer_key)
            for i in range(4):  # both shards: some writes are forwarded to the other node
                producer.put_record(StreamName=stream, PartitionKey=f"k{i}", Data=b"p")
            with pytest.raises(ClientError) as denied:
                cluster.node_client(node, key=viewer_key).put_record(
                    StreamName=stream, PartitionKey="k", Data=b"v")
            assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
            with pytest.raises(ClientError) as bad:
                cluster.node_client(node, key=(producer_key[0], "x" * 40)).list_streams()
            assert bad.value.response["Error"]["Code"] == "InvalidSignatureException"
            with pytest.raises(ClientError) as unknown:
                cluster.node_client(node).list_streams()
            assert unknown.value.response["Error"]["Code"] == "UnrecognizedClientException"
        summary = cluster.node_client("node-0", key=cluster.admin_key).describe_stream_summary(
            StreamName=stream)
        assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 2
        # Refusals on nodes reach the control plane's audit log.
        deadline = _time.monotonic() + 10
        while True:
            r = rest(cluster, "GET", "/v1/audit", admin_token,
                     params={"result": "denied", "action": "kinesis:PutRecord"})
            if r.json()["events"] or _time.monotonic() > deadline:
                break
            _time.sleep(0.2)
        assert r.json()["events"], "node refusals were not audited"
    finally:
        cluster.close()
