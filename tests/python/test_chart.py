"""The Helm chart (charts/weir) and the local kind stack (infra/).

The chart is rendered and linted by the real Helm engine: helm-python-sdk bundles Helm's
Go SDK as a shared library (no helm binary), so templates, `required`, values.schema.json
and lint rules behave exactly as `helm template` / `helm lint` do. Every rendered object is
validated against the Kubernetes 1.32 OpenAPI schemas in strict mode (kubernetes-validate:
unknown fields fail). The default render is compared with a golden file byte for byte.

Beyond validity, the tests check what an operator relies on: the control plane's RBAC is
exactly the documented list, pods run locked down (non-root, read-only root, no
capabilities) with volumes where they write, the StatefulSet's storage and headless
Service, probes on /healthz, every Secret reference resolves, two control-plane replicas
with PodDisruptionBudgets, the Kubernetes mode of the control plane (its flags name the
rendered StatefulSet and select exactly its pods, the Service routes to the active
replica alone, the StatefulSet leaves spec.replicas to Weir when autoscale is on), that
the rendered control-plane command stands by, healthy but serving nothing, against a
fake API server whose Lease another replica holds, and that the rendered commands start
a real TLS cluster with the credentials infra/local-credentials.sh makes.

Nothing here talks to a Kubernetes cluster: none can run on the test machine.

Regenerate the golden file after an intended change to the default render:
    WEIR_UPDATE_GOLDEN=1 pytest tests/python/test_chart.py
"""

from __future__ import annotations

import base64
import copy
import difflib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

try:
    import helm_python as helm

    HELM_SDK_VERSION = helm.helm_sdk_version()
except (ImportError, OSError) as exc:  # the bundled libhelm_c cannot load here
    pytest.skip(f"helm-python-sdk (the Helm Go SDK as a shared library) cannot load on "
                f"this platform: {exc}", allow_module_level=True)
except Exception as exc:  # HelmLibraryError and friends
    pytest.skip(f"helm-python-sdk cannot load on this platform: {exc}",
                allow_module_level=True)

import kubernetes_validate

from weirtest import weir_binary

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "weir"
INFRA = REPO / "infra"
GOLDEN = Path(__file__).resolve().parent / "golden" / "chart-default.yaml"
KUBERNETES_VERSION = "1.32.0"
RELEASE = "weir"
NAMESPACE = "weir"

# The control plane's Kubernetes permissions, as the orchestrator needs them: server-side
# apply of the data-plane StatefulSet's replicas, following the data-plane pods and
# labelling its own pod active, a Lease for leader election. values.yaml
# (controlPlane.rbac.rules) is where the chart writes them down; a Rust test
# (services/weir-kube/tests/rbac.rs) compares them with the calls the code makes.
EXPECTED_RULES = [
    {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get", "patch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch", "patch"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "verbs": ["get", "create", "update"]},
]

# The label the active control plane puts on its own pod (weir_kube::ACTIVE_LABEL).
ACTIVE_LABEL = "weir.dev/active"

PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBdummycert\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIBdummykey\n-----END PRIVATE KEY-----\n"
PEM_CA = "-----BEGIN CERTIFICATE-----\nMIIBdummyca\n-----END CERTIFICATE-----\n"

# Inline secret values of the INLINE set: none may appear in clear outside a Secret.
INLINE_SECRETS = {
    "database": "postgres://weir:inline-db-password-1@db.example:5432/weir",
    "cluster": "inline-cluster-secret-2",
    "master": base64.b64encode(b"m" * 32).decode(),
    "admin_secret": "inline-admin-secret-3",
    "s3_secret": "inline-s3-secret-4",
}

VALUE_SETS: dict[str, dict | None] = {
    # values.yaml as shipped: TLS on and every secret from existing Secrets.
    "default": None,
    # Plaintext, every secret inline (the chart renders its own Secret), S3 with inline
    # credentials, a bootstrap administrator, NodePorts.
    "inline": {
        "tls": {"enabled": False},
        "database": {"url": INLINE_SECRETS["database"]},
        "clusterSecret": {"value": INLINE_SECRETS["cluster"]},
        "auth": {
            "masterKey": {"value": INLINE_SECRETS["master"]},
            "bootstrapAdmin": {"accessKeyId": "WKIA0123456789ABCDEF",
                               "secretAccessKey": INLINE_SECRETS["admin_secret"]},
        },
        "coldTier": {
            "backend": "s3",
            "localRetentionMs": 3600000,
            "s3": {"bucket": "weir-cold", "endpoint": "http://minio:9000",
                   "region": "eu-west-1", "prefix": "weir/prod/", "pathStyle": True,
                   "accessKeyId": "inline-s3-key-id",
                   "secretAccessKey": INLINE_SECRETS["s3_secret"]},
        },
        "controlPlane": {"service": {"type": "NodePort", "nodePort": 30568}},
        # A fixed size: Helm sets replicas, and the control plane keeps exactly that many.
        "dataPlane": {"replicas": 5, "autoscale": {"enabled": False},
                      "service": {"type": "NodePort", "nodePort": 30567}},
    },
    # TLS from inline PEM, authentication off, S3 credentials from an existing Secret with
    # custom keys, another release name prefix, existing secrets with custom keys.
    "tls-inline": {
        "fullnameOverride": "stream",
        "tls": {"enabled": True, "cert": PEM_CERT, "key": PEM_KEY, "ca": PEM_CA},
        "auth": {"enabled": False},
        "database": {"existingSecret": "pg", "existingSecretKey": "uri"},
        "clusterSecret": {"existingSecret": "cluster", "existingSecretKey": "token"},
        "coldTier": {"backend": "s3",
                     "s3": {"bucket": "b", "existingSecret": "s3-creds",
                            "accessKeyIdKey": "AWS_ACCESS_KEY_ID",
                            "secretAccessKeyKey": "AWS_SECRET_ACCESS_KEY"}},
        "controlPlane": {"podDisruptionBudget": {"minAvailable": 1}},
        "dataPlane": {"persistence": {"storageClassName": "fast-ssd", "size": "100Gi"}},
    },
    # What infra/local-up.sh installs.
    "kind": yaml.safe_load((INFRA / "kind" / "weir-values.yaml").read_text()),
}


# ---- rendering helpers ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chart():
    loaded = helm.Chart.load(str(CHART))
    yield loaded
    loaded.close()


def render(chart, values: dict | None) -> dict[str, str]:
    """Template path -> rendered text, as `helm template weir charts/weir -n weir`."""
    return chart.render(values=copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE,
                        is_install=True)


def objects(rendered: dict[str, str]) -> list[dict]:
    """Every Kubernetes object of a render (NOTES.txt is not one)."""
    out = []
    for path in sorted(rendered):
        if not path.endswith((".yaml", ".yml")):
            continue
        out.extend(doc for doc in yaml.safe_load_all(rendered[path]) if doc)
    return out


def golden_text(rendered: dict[str, str]) -> str:
    """One stable document: each template's output under a `# Source:` line, sorted."""
    parts = []
    for path in sorted(rendered):
        body = rendered[path].strip()
        if body:
            parts.append(f"# Source: {path}\n{body}\n")
    return "---\n" + "---\n".join(parts)


def one(objs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def workloads(objs: list[dict]) -> list[dict]:
    return [o for o in objs if o["kind"] in ("Deployment", "StatefulSet")]


def container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def flag(c: dict, name: str) -> str | None:
    for arg in c["args"]:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def merged_values(chart, values: dict | None) -> dict:
    return chart.merge_values(copy.deepcopy(values))


@pytest.fixture(scope="module", params=list(VALUE_SETS))
def case(request, chart):
    name = request.param
    values = VALUE_SETS[name]
    rendered = render(chart, values)
    return {"name": name, "values": values, "rendered": rendered, "objects": objects(rendered),
            "merged": merged_values(chart, values)}


# ---- the engine, lint, schema, golden -----------------------------------------------------------

def test_the_engine_is_helms_go_sdk():
    assert re.fullmatch(r"v[34]\.\d+\.\d+.*", HELM_SDK_VERSION), HELM_SDK_VERSION


def test_lint_is_clean_in_strict_mode(case):
    report = helm.lint(str(CHART), copy.deepcopy(case["values"]), strict=True,
                       namespace=NAMESPACE, kube_version=f"v{KUBERNETES_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], json.dumps(report, indent=2)


def test_every_object_is_valid_kubernetes_1_32_strict(case):
    objs = case["objects"]
    assert objs
    for obj in objs:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"[{case['name']}] {obj['kind']}/{obj['metadata']['name']} is not "
                        f"valid Kubernetes {KUBERNETES_VERSION}: {err.message} at "
                        f"{'/'.join(str(p) for p in err.path)}")


def test_objects_are_namespaced_labelled_and_unique(case):
    seen = set()
    for obj in case["objects"]:
        meta = obj["metadata"]
        key = (obj["kind"], meta["name"])
        assert key not in seen, f"rendered twice: {key}"
        seen.add(key)
        assert meta.get("namespace") == NAMESPACE, key
        assert meta["labels"]["app.kubernetes.io/instance"] == RELEASE, key
        assert len(meta["name"]) <= 63, key


def test_default_render_matches_golden(chart):
    text = golden_text(render(chart, None))
    if os.environ.get("WEIR_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
    assert GOLDEN.exists(), (f"{GOLDEN} is missing: create it with "
                             f"WEIR_UPDATE_GOLDEN=1 pytest tests/python/test_chart.py")
    want = GOLDEN.read_text()
    if text != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                            "golden/chart-default.yaml", "rendered now"))
        pytest.fail("the default render of charts/weir differs from "
                    "tests/python/golden/chart-default.yaml. If the change is intended, "
                    "regenerate it with WEIR_UPDATE_GOLDEN=1 pytest tests/python/test_chart.py "
                    "and review the diff.\n" + diff[:6000])


def test_schema_rejects_typos_and_wrong_types(chart):
    for bad, where in [({"tls": {"enabeld": True}}, "enabeld"),
                       ({"coldTier": {"backend": "local"}}, "backend"),
                       ({"controlPlane": {"replicas": "two"}}, "replicas"),
                       ({"auth": {"bootstrapAdmin": {"accessKeyId": "AKIA0000"}}}, "accessKeyId")]:
        with pytest.raises(helm.HelmValuesError, match=where):
            chart.render(values=bad, name=RELEASE, namespace=NAMESPACE)


def test_a_missing_secret_fails_with_the_setting_to_fix(chart):
    cases = [
        ({"database": {"existingSecret": ""}}, "database"),
        ({"clusterSecret": {"existingSecret": ""}}, "clusterSecret"),
        ({"auth": {"masterKey": {"existingSecret": ""}}}, "auth.masterKey"),
        ({"tls": {"existingSecret": ""}}, "tls.existingSecret"),
        ({"coldTier": {"backend": "s3"}}, "coldTier.s3.bucket"),
        ({"tls": {"cert": PEM_CERT, "key": PEM_KEY}}, "tls.ca"),
    ]
    for values, words in cases:
        with pytest.raises(helm.HelmRenderError) as err:
            chart.render(values=values, name=RELEASE, namespace=NAMESPACE)
        assert words in str(err.value), (values, str(err.value))
    # Authentication off needs no master key.
    render(chart, {"auth": {"enabled": False, "masterKey": {"existingSecret": ""}}})


def _leaf_paths(node, prefix=()):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaf_paths(value, prefix + (key,))
    else:
        yield prefix


def test_every_value_is_documented():
    """Each value in values.yaml has a `# --` comment, on itself or on the object or list
    that it is part of (a security context, resources, the RBAC rules)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    documented: set[tuple[str, ...]] = set()
    stack: list[tuple[int, str]] = []
    pending = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = True
            continue
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"^( *)([A-Za-z][A-Za-z0-9]*):", line)
        if not match or stripped.startswith("-"):
            pending = False
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        if pending:
            documented.add(tuple(k for _, k in stack))
        pending = False
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [".".join(p) for p in _leaf_paths(values)
               if not any(p[:i] in documented for i in range(1, len(p) + 1))]
    assert not missing, f"values without a `# --` comment: {missing}"


# ---- what users rely on -------------------------------------------------------------------------

def test_role_grants_exactly_the_documented_rules(case):
    objs = case["objects"]
    values_rules = yaml.safe_load((CHART / "values.yaml").read_text())["controlPlane"]["rbac"]["rules"]
    assert values_rules == EXPECTED_RULES, "controlPlane.rbac.rules in values.yaml changed"
    roles = [o for o in objs if o["kind"] in ("Role", "ClusterRole")]
    assert [r["kind"] for r in roles] == ["Role"], "exactly one namespaced Role"
    role = roles[0]
    assert role["rules"] == EXPECTED_RULES
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
               for r in rule["resources"] for v in rule["verbs"]}
    assert len(granted) == 8 and not any("*" in t for t in granted)
    assert all("resourceNames" not in rule and "nonResourceURLs" not in rule for rule in role["rules"])
    assert not [o for o in objs if o["kind"] == "ClusterRoleBinding"]
    binding = one(objs, "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    deployment = one(objs, "Deployment")
    sa = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}]
    one(objs, "ServiceAccount", sa)
    # Nodes get no Kubernetes API credentials at all.
    sts = one(objs, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] != sa
    assert one(objs, "ServiceAccount", pod["serviceAccountName"])["automountServiceAccountToken"] is False


def test_pods_are_locked_down_and_write_only_to_volumes(case):
    for wl in workloads(case["objects"]):
        name = wl["metadata"]["name"]
        pod = wl["spec"]["template"]["spec"]
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0, name
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        c = container(wl)
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True, name
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc.get("privileged", False) is False, name
        assert sc["capabilities"] == {"drop": ["ALL"]}, name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        # The process writes to its data folder and /tmp: both are writable volumes.
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        data_dir = flag(c, "data-dir")
        assert data_dir, name
        for path in (data_dir, "/tmp"):
            holder = [m for p, m in mounts.items() if path == p or path.startswith(p.rstrip("/") + "/")]
            assert holder and not holder[0].get("readOnly", False), f"{name}: {path} is not on a writable volume"
        vols = {v["name"] for v in pod.get("volumes", [])}
        claims = {t["metadata"]["name"] for t in wl["spec"].get("volumeClaimTemplates", [])}
        for m in c["volumeMounts"]:
            assert m["name"] in vols | claims, f"{name}: mount {m['name']} has no volume"
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], name


def test_statefulset_has_a_volume_claim_and_its_headless_service(case):
    objs = case["objects"]
    sts = one(objs, "StatefulSet")
    templates = sts["spec"]["volumeClaimTemplates"]
    assert [t["metadata"]["name"] for t in templates] == ["data"]
    assert templates[0]["spec"]["resources"]["requests"]["storage"]
    assert templates[0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    c = container(sts)
    assert any(m["name"] == "data" and flag(c, "data-dir").startswith(m["mountPath"])
               for m in c["volumeMounts"])
    # The volume stays when a pod or the StatefulSet goes: a node's disk is its shards. A
    # scale-down by the node pool (autoscale) comes after a complete drain: that volume goes.
    autoscale = case["merged"]["dataPlane"]["autoscale"]["enabled"]
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain", "whenScaled": "Delete" if autoscale else "Retain"}
    headless = one(objs, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert headless["spec"]["selector"].items() <= pod_labels.items()
    # The node id is the pod name, and its advertised URL is its name under that Service.
    assert flag(c, "node-id") == "$(POD_NAME)"
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in c["env"]
    advertise = flag(c, "advertise-url")
    assert re.fullmatch(rf"https?://\$\(POD_NAME\)\.{headless['metadata']['name']}\.{NAMESPACE}"
                        rf"\.svc\.cluster\.local:{headless['spec']['ports'][0]['port']}", advertise)


def test_services_select_the_right_pods_and_ports(case):
    objs = case["objects"]
    by_component = {}
    for wl in workloads(objs):
        labels = wl["spec"]["template"]["metadata"]["labels"]
        by_component[labels["app.kubernetes.io/component"]] = wl
        assert wl["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert set(by_component) == {"control-plane", "data-plane"}
    services = [o for o in objs if o["kind"] == "Service"]
    assert len(services) == 3
    for svc in services:
        # The control-plane Service also requires the label the active replica puts on its
        # own pod (test_control_plane_service_routes_to_the_active_replica_only).
        selector = {k: v for k, v in svc["spec"]["selector"].items() if k != ACTIVE_LABEL}
        matches = [wl for wl in by_component.values()
                   if selector.items() <= wl["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matches) == 1, svc["metadata"]["name"]
        port_names = {p["name"] for p in container(matches[0])["ports"]}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in port_names, svc["metadata"]["name"]
    # The nodes register with the control plane's Service, over TLS when TLS is on.
    cp_svc = one(objs, "Service", by_component["control-plane"]["metadata"]["name"])
    url = flag(container(by_component["data-plane"]), "control-plane-url")
    scheme = "https" if case["merged"]["tls"]["enabled"] else "http"
    assert url == (f"{scheme}://{cp_svc['metadata']['name']}.{NAMESPACE}.svc.cluster.local:"
                   f"{cp_svc['spec']['ports'][0]['port']}")


def test_probes_hit_healthz_on_the_serving_port(case):
    tls = case["merged"]["tls"]["enabled"]
    for wl in workloads(case["objects"]):
        c = container(wl)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        listen = flag(c, "rest-addr") or flag(c, "kinesis-addr")
        assert listen and listen.startswith("0.0.0.0:")
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            get = c[kind]["httpGet"]
            assert get["path"] == "/healthz", (wl["metadata"]["name"], kind)
            assert ports[get["port"]] == int(listen.rsplit(":", 1)[1]), (wl["metadata"]["name"], kind)
            assert get["scheme"] == ("HTTPS" if tls else "HTTP"), (wl["metadata"]["name"], kind)


def _existing_secret_refs(merged: dict) -> set[tuple[str, str]]:
    """(Secret, key) pairs that values name as existing secrets (documented in values.yaml)."""
    refs = set()

    def add(name, *keys):
        if name:
            refs.update((name, k) for k in keys)

    add(merged["database"]["existingSecret"], merged["database"]["existingSecretKey"])
    add(merged["clusterSecret"]["existingSecret"], merged["clusterSecret"]["existingSecretKey"])
    add(merged["auth"]["masterKey"]["existingSecret"], merged["auth"]["masterKey"]["existingSecretKey"])
    admin = merged["auth"]["bootstrapAdmin"]
    add(admin["existingSecret"], admin["accessKeyIdKey"], admin["secretAccessKeyKey"])
    s3 = merged["coldTier"]["s3"]
    add(s3["existingSecret"], s3["accessKeyIdKey"], s3["secretAccessKeyKey"])
    tls = merged["tls"]
    add(tls["existingSecret"], tls["certKey"], tls["keyKey"], tls["caKey"])
    return refs


def test_every_secret_reference_resolves(case):
    objs = case["objects"]
    rendered = {(o["metadata"]["name"], k) for o in objs if o["kind"] == "Secret"
                for k in o.get("data", {})}
    documented = _existing_secret_refs(case["merged"])
    refs = []
    for wl in workloads(objs):
        pod = wl["spec"]["template"]["spec"]
        for env in container(wl)["env"]:
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.append((wl["metadata"]["name"], env["name"], ref["name"], ref["key"]))
        for vol in pod.get("volumes", []):
            if "secret" in vol:
                for item in vol["secret"]["items"]:
                    refs.append((wl["metadata"]["name"], vol["name"], vol["secret"]["secretName"], item["key"]))
    assert refs
    for workload, what, name, key in refs:
        assert (name, key) in rendered or (name, key) in documented, (
            f"[{case['name']}] {workload} {what} reads Secret {name} key {key}, which is "
            f"neither rendered by the chart nor named by an existingSecret value")
    env_names = {(w, e) for w, e, _, _ in refs}
    cp = one(objs, "Deployment")["metadata"]["name"]
    dp = one(objs, "StatefulSet")["metadata"]["name"]
    assert {(cp, "WEIR_DATABASE_URL"), (cp, "WEIR_CLUSTER_SECRET"), (dp, "WEIR_CLUSTER_SECRET")} <= env_names
    auth = case["merged"]["auth"]["enabled"]
    assert ((cp, "WEIR_MASTER_KEY") in env_names) == auth
    assert ((dp, "WEIR_MASTER_KEY") in env_names) == auth
    # A secret never travels as a plain env value or a flag.
    for wl in workloads(objs):
        c = container(wl)
        assert not any(a.startswith(("--cluster-secret", "--s3-secret-access-key", "--database-url"))
                       for a in c["args"])


def test_inline_secrets_appear_only_inside_secrets(chart):
    rendered = render(chart, VALUE_SETS["inline"])
    objs = objects(rendered)
    outside = "\n".join(yaml.safe_dump(o) for o in objs if o["kind"] != "Secret")
    outside += rendered.get("weir/templates/NOTES.txt", "")
    for name, value in INLINE_SECRETS.items():
        assert value not in outside, f"inline {name} secret leaked outside a Secret"
    secret = one(objs, "Secret")
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded["database-url"] == INLINE_SECRETS["database"]
    assert decoded["master-key"] == INLINE_SECRETS["master"]
    assert decoded["s3-secret-access-key"] == INLINE_SECRETS["s3_secret"]
    # Pods roll when an inline secret changes.
    other = copy.deepcopy(VALUE_SETS["inline"])
    other["clusterSecret"]["value"] = "changed"
    before = one(objs, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/secrets"]
    after = one(objects(render(chart, other)), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/secrets"]
    assert before != after


def test_two_control_plane_replicas_and_disruption_budgets(case):
    objs = case["objects"]
    deployment = one(objs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    sts = one(objs, "StatefulSet")
    pdbs = {}
    for pdb in (o for o in objs if o["kind"] == "PodDisruptionBudget"):
        for wl in (deployment, sts):
            if pdb["spec"]["selector"]["matchLabels"].items() <= wl["spec"]["template"]["metadata"]["labels"].items():
                pdbs[wl["kind"]] = pdb
    assert pdbs["Deployment"]["spec"]["minAvailable"] == 1
    assert pdbs["StatefulSet"]["spec"]["maxUnavailable"] == 1
    # Both planes prefer to spread over Kubernetes nodes.
    for wl in (deployment, sts):
        assert wl["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]


def test_tls_auth_and_cold_tier_reach_the_commands(chart):
    default = objects(render(chart, None))
    for wl in workloads(default):
        args = container(wl)["args"]
        assert "--tls-cert=/etc/weir/tls/tls.crt" in args and "--tls-ca=/etc/weir/tls/ca.crt" in args
        assert "--insecure-plaintext" not in args and "--no-auth" not in args
        assert "--tier=off" in args
    assert "--auth" in container(one(default, "StatefulSet"))["args"]

    inline = objects(render(chart, VALUE_SETS["inline"]))
    for wl in workloads(inline):
        args = container(wl)["args"]
        assert "--insecure-plaintext" in args and not any(a.startswith("--tls-") for a in args)
        for want in ("--tier=s3", "--s3-bucket=weir-cold", "--s3-endpoint=http://minio:9000",
                     "--s3-region=eu-west-1", "--s3-prefix=weir/prod/", "--s3-path-style",
                     "--local-retention-ms=3600000"):
            assert want in args, (wl["metadata"]["name"], want)
    assert one(inline, "StatefulSet")["spec"]["replicas"] == 5

    off = objects(render(chart, VALUE_SETS["tls-inline"]))
    assert "--no-auth" in container(one(off, "Deployment"))["args"]
    assert "--auth" not in container(one(off, "StatefulSet"))["args"]
    tls_secret = one(off, "Secret", "stream-inline-tls")
    assert tls_secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(tls_secret["data"]["ca.crt"]).decode() == PEM_CA


def test_every_flag_the_chart_passes_exists():
    """Each flag in the rendered commands is one `weir <subcommand> --help` lists."""
    binary = weir_binary()
    assert binary.exists(), f"weir binary not found at {binary}: cargo build -p weir, or set WEIR_BIN"
    known = {}
    for sub in ("control-plane", "data-plane"):
        out = subprocess.run([str(binary), sub, "--help"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
        known[sub] = set(re.findall(r"(?m)^\s+(?:-\w, )?(--[a-z0-9-]+)", out))
        assert "--tls-cert" in known[sub], out
    loaded = helm.Chart.load(str(CHART))
    try:
        for values in VALUE_SETS.values():
            for wl in workloads(objects(render(loaded, values))):
                args = container(wl)["args"]
                sub = args[0]
                for arg in args[1:]:
                    assert arg.split("=", 1)[0] in known[sub], f"`weir {sub}` has no flag {arg}"
    finally:
        loaded.close()


# ---- the control plane's Kubernetes mode ------------------------------------------------------

def _selector_pairs(text: str) -> dict[str, str]:
    """`k=v,k=v` (the form of --kube-pod-selector) as a dict; every pair must be k=v."""
    pairs = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        assert sep and key and key not in pairs, f"bad selector item {item!r} in {text!r}"
        pairs[key] = value
    return pairs


def test_kubernetes_flags_name_the_rendered_data_plane(case):
    """The control plane runs with --kubernetes, scales the StatefulSet the chart renders,
    follows exactly that StatefulSet's pods, and learns its pod and namespace from the
    downward API."""
    objs = case["objects"]
    deployment = one(objs, "Deployment")
    sts = one(objs, "StatefulSet")
    c = container(deployment)
    assert "--kubernetes" in c["args"]
    assert flag(c, "kube-statefulset") == sts["metadata"]["name"]
    selector = _selector_pairs(flag(c, "kube-pod-selector"))
    assert selector == sts["spec"]["selector"]["matchLabels"]
    # Exactly the data-plane pods: it selects the StatefulSet's pods and not the control
    # plane's (nor any other workload's).
    for wl in workloads(objs):
        selects = selector.items() <= wl["spec"]["template"]["metadata"]["labels"].items()
        assert selects == (wl is sts), wl["metadata"]["name"]
    # The election: a Lease named after the Deployment, the duration from values.
    assert flag(c, "kube-lease") == deployment["metadata"]["name"]
    lease_ms = case["merged"]["controlPlane"]["leaseDurationMs"]
    assert flag(c, "kube-lease-duration-ms") == str(lease_ms)
    # --kube-identity and --kube-namespace come from the environment, set by the downward
    # API, not from flags.
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"] == {"name": "POD_NAME",
                               "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    assert env["POD_NAMESPACE"] == {"name": "POD_NAMESPACE",
                                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
    assert flag(c, "kube-identity") is None and flag(c, "kube-namespace") is None
    # The pool's sizing flags follow values (test_autoscale_... checks the numbers).
    for name in ("min-nodes", "max-nodes", "node-replicas", "node-write-mibps",
                 "node-scale-down-after-ms"):
        assert flag(c, name) is not None and flag(c, name).isdigit(), name


def test_control_plane_service_routes_to_the_active_replica_only(case):
    """The Service selects the control-plane pods that carry weir.dev/active=true, a label
    only the active replica puts on its own pod; the Deployment's selector and pod
    template do not carry it (else every replica would match, or none could be created)."""
    objs = case["objects"]
    deployment = one(objs, "Deployment")
    svc = one(objs, "Service", deployment["metadata"]["name"])
    selector = svc["spec"]["selector"]
    assert selector[ACTIVE_LABEL] == "true"
    rest = {k: v for k, v in selector.items() if k != ACTIVE_LABEL}
    assert rest == deployment["spec"]["selector"]["matchLabels"]
    assert ACTIVE_LABEL not in deployment["spec"]["selector"]["matchLabels"]
    assert ACTIVE_LABEL not in deployment["spec"]["template"]["metadata"]["labels"]
    # Nothing else routes or budgets by that label: the PDB counts standbys too.
    for pdb in (o for o in objs if o["kind"] == "PodDisruptionBudget"):
        assert ACTIVE_LABEL not in pdb["spec"]["selector"]["matchLabels"]
    # Standbys stay Ready (/healthz answers 200 on a standby), so rolling updates with
    # maxUnavailable 0 go on; the Service, not readiness, keeps traffic off them.
    assert container(deployment)["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_autoscale_leaves_replicas_to_the_control_plane(chart):
    # Default values: autoscale on. Helm must not own spec.replicas, or Weir's
    # server-side apply (without force) is refused as a conflict.
    objs = objects(render(chart, None))
    sts = one(objs, "StatefulSet")
    c = container(one(objs, "Deployment"))
    assert "replicas" not in sts["spec"]
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenScaled": "Delete",
                                                                   "whenDeleted": "Retain"}
    assert {name: flag(c, name) for name in ("min-nodes", "max-nodes", "node-replicas",
                                             "node-write-mibps", "node-scale-down-after-ms",
                                             "kube-lease-duration-ms")} == {
        "min-nodes": "3", "max-nodes": "12", "node-replicas": "64", "node-write-mibps": "16",
        "node-scale-down-after-ms": "600000", "kube-lease-duration-ms": "15000"}
    # Other numbers reach the flags.
    custom = {"controlPlane": {"leaseDurationMs": 20000},
              "dataPlane": {"replicas": 7, "autoscale": {
                  "minNodes": 4, "maxNodes": 20, "nodeReplicas": 32, "nodeWriteMiBps": 8,
                  "scaleDownAfterMs": 120000}}}
    objs = objects(render(chart, custom))
    sts = one(objs, "StatefulSet")
    c = container(one(objs, "Deployment"))
    assert "replicas" not in sts["spec"]
    assert [flag(c, n) for n in ("min-nodes", "max-nodes", "node-replicas", "node-write-mibps",
                                 "node-scale-down-after-ms", "kube-lease-duration-ms")] == [
        "4", "20", "32", "8", "120000", "20000"]

    # Autoscale off: Helm sets replicas, and the pool keeps exactly that many nodes, so
    # Weir applies the value Helm set (shared ownership, no conflict).
    for replicas in (1, 3, 5):
        objs = objects(render(chart, {"dataPlane": {"replicas": replicas,
                                                    "autoscale": {"enabled": False}}}))
        sts = one(objs, "StatefulSet")
        c = container(one(objs, "Deployment"))
        assert sts["spec"]["replicas"] == replicas
        assert flag(c, "min-nodes") == flag(c, "max-nodes") == str(replicas)
        assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenScaled": "Retain",
                                                                       "whenDeleted": "Retain"}
        assert "--kubernetes" in c["args"]


def test_kubernetes_mode_values_are_checked(chart):
    for values, words in [
        ({"dataPlane": {"autoscale": {"minNodes": 5, "maxNodes": 4}}}, "maxNodes"),
        ({"dataPlane": {"replicas": 0, "autoscale": {"enabled": False}}}, "dataPlane.replicas"),
        ({"controlPlane": {"podLabels": {ACTIVE_LABEL: "true"}}}, ACTIVE_LABEL),
    ]:
        with pytest.raises(helm.HelmRenderError) as err:
            chart.render(values=values, name=RELEASE, namespace=NAMESPACE)
        assert words in str(err.value), (values, str(err.value))
    for bad, where in [({"dataPlane": {"autoscale": {"enabeld": False}}}, "enabeld"),
                       ({"dataPlane": {"autoscale": {"minNodes": 0}}}, "minNodes"),
                       ({"dataPlane": {"autoscale": {"maxNodes": "12"}}}, "maxNodes"),
                       ({"controlPlane": {"leaseDurationMs": 500}}, "leaseDurationMs")]:
        with pytest.raises(helm.HelmValuesError, match=where):
            chart.render(values=bad, name=RELEASE, namespace=NAMESPACE)


# ---- the rendered commands against the real binary ------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthz(url: str, ca: Path, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, verify=str(ca), timeout=2).text == "ok":
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def test_rendered_commands_run_a_tls_cluster_with_local_credentials(chart, tmp_path):
    """The default render's commands, env and mounted files, with the credentials and CA
    that infra/local-credentials.sh makes, start a real control plane and node: TLS with
    that CA, the node registered over TLS, the bootstrap administrator's SigV4 key accepted
    by the node, an unknown key refused. Only paths and listen addresses are rewritten to
    this machine (127.0.0.1, temporary folders); the pod DNS names become localhost.
    Kubernetes mode (--kubernetes and the --kube-* flags) is left out, as no API server is
    here: the control plane then serves at once instead of campaigning for the Lease
    (test_rendered_control_plane_stands_by_... runs that part against a fake API server;
    the election and scaling themselves are tested in services/weir-kube/tests and
    services/weir/tests/kubernetes.rs)."""
    binary = weir_binary()
    assert binary.exists(), f"weir binary not found at {binary}: cargo build -p weir, or set WEIR_BIN"
    state = tmp_path / "state"
    subprocess.run(["bash", str(INFRA / "local-credentials.sh"), str(state)], check=True,
                   capture_output=True, timeout=60)
    tls_dir = state / "tls"
    ca = tls_dir / "ca.crt"
    secrets = {
        "database-url": f"sqlite://{tmp_path / 'meta.db'}?mode=rwc",
        **{key: (state / key).read_text() for key in
           ("cluster-secret", "master-key", "admin-access-key-id", "admin-secret-access-key")},
    }
    values = {"auth": {"bootstrapAdmin": {"existingSecret": "weir-secrets"}}}
    objs = objects(render(chart, values))
    cp, dp = container(one(objs, "Deployment")), container(one(objs, "StatefulSet"))
    rest_port, kinesis_port = _free_port(), _free_port()
    local = {
        "/etc/weir/tls": str(tls_dir),
        "$(POD_NAME)": "weir-data-plane-0",
        "0.0.0.0:4568": f"127.0.0.1:{rest_port}",
        "0.0.0.0:4567": f"127.0.0.1:{kinesis_port}",
        f"weir-control-plane.{NAMESPACE}.svc.cluster.local:4568": f"localhost:{rest_port}",
        f"weir-data-plane-0.weir-data-plane-headless.{NAMESPACE}.svc.cluster.local:4567":
            f"localhost:{kinesis_port}",
    }

    def command(c: dict, data_dir: Path) -> tuple[list[str], dict]:
        args = []
        for arg in c["args"]:
            if arg == "--kubernetes" or arg.startswith("--kube-"):
                continue
            for old, new in local.items():
                arg = arg.replace(old, new)
            if arg.startswith("--data-dir="):
                arg = f"--data-dir={data_dir}"
            args.append(arg)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
        for var in c["env"]:
            if "value" in var:
                env[var["name"]] = var["value"]
            elif "secretKeyRef" in var.get("valueFrom", {}):
                env[var["name"]] = secrets[var["valueFrom"]["secretKeyRef"]["key"]]
        env["RUST_LOG"] = "warn"
        return [str(binary), *args], env

    procs: list[subprocess.Popen] = []

    def start(c: dict, name: str) -> tuple[subprocess.Popen, Path]:
        argv, env = command(c, tmp_path / name)
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen(argv, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        procs.append(proc)
        return proc, log

    try:
        cp_proc, cp_log = start(cp, "control-plane")
        _wait_healthz(f"https://localhost:{rest_port}/healthz", ca, cp_proc, cp_log)
        dp_proc, dp_log = start(dp, "data-plane")
        _wait_healthz(f"https://127.0.0.1:{kinesis_port}/healthz", ca, dp_proc, dp_log)
        # Plaintext is not served.
        with pytest.raises(requests.RequestException):
            requests.get(f"http://127.0.0.1:{kinesis_port}/healthz", timeout=2)

        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError

        def kinesis(key_id: str, secret: str):
            return boto3.client("kinesis", endpoint_url=f"https://localhost:{kinesis_port}",
                                region_name="us-east-1", verify=str(ca),
                                aws_access_key_id=key_id, aws_secret_access_key=secret,
                                config=Config(retries={"max_attempts": 1}))

        admin = kinesis(secrets["admin-access-key-id"], secrets["admin-secret-access-key"])
        admin.create_stream(StreamName="chart-smoke", ShardCount=1)
        deadline = time.monotonic() + 20
        while True:
            summary = admin.describe_stream_summary(StreamName="chart-smoke")
            if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
                break
            assert time.monotonic() < deadline, summary
            time.sleep(0.1)
        put = None
        while put is None:
            try:
                put = admin.put_record(StreamName="chart-smoke", Data=b"x", PartitionKey="k")
            except ClientError as err:  # the shard's first leader may still be being placed
                if time.monotonic() > deadline:
                    raise
                assert err.response["Error"]["Code"] in ("InternalFailure", "ServiceUnavailable",
                                                         "ResourceNotFoundException"), err
                time.sleep(0.2)
        assert put["ShardId"] == "shardId-000000000000"
        with pytest.raises(ClientError) as refused:
            kinesis("WKIA0000000000000000", "wrong").list_streams()
        assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)


class _FakeKubeApi:
    """A minimal Kubernetes API server on 127.0.0.1 (plain HTTP, for --kube-api-url): the
    Lease exists and another replica holds it, renewed just now for an hour; server-side
    apply patches of pods are accepted and echoed; anything else is 404. Records every
    request as (method, path, query, body)."""

    HOLDER = "weir-control-plane-other-replica"

    def __init__(self):
        import http.server
        import threading
        from datetime import datetime, timezone
        from urllib.parse import parse_qs, urlsplit

        self.requests: list[tuple[str, str, dict, dict | None]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest's output clean
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.requests.append((method, url.path, parse_qs(url.query), body))
                parts = url.path.strip("/").split("/")
                if (method == "GET" and len(parts) == 7
                        and parts[:3] == ["apis", "coordination.k8s.io", "v1"]
                        and parts[3] == "namespaces" and parts[5] == "leases"):
                    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    return self._answer(200, {
                        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": parts[6], "namespace": parts[4],
                                     "resourceVersion": "7"},
                        "spec": {"holderIdentity": fake.HOLDER, "leaseDurationSeconds": 3600,
                                 "acquireTime": now, "renewTime": now,
                                 "leaseTransitions": 0}})
                if (method == "PATCH" and len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"]
                        and parts[4] == "pods"):
                    meta = dict((body or {}).get("metadata", {}))
                    meta.update({"name": parts[5], "namespace": parts[3]})
                    return self._answer(200, {"apiVersion": "v1", "kind": "Pod", "metadata": meta})
                self._answer(404, {"apiVersion": "v1", "kind": "Status", "status": "Failure",
                                   "reason": "NotFound", "code": 404,
                                   "message": f"{url.path} not found"})

            def do_GET(self):
                self._handle("GET")

            def do_PATCH(self):
                self._handle("PATCH")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_rendered_control_plane_stands_by_while_another_replica_holds_the_lease(chart, tmp_path):
    """The rendered control-plane command and environment (downward API values filled in
    as the kubelet would), pointed at a fake API server by --kube-api-url, campaign for
    the Lease the chart names, in the pod's namespace, as the pod; clear the active label
    on their own pod; and, another replica holding the Lease, stand by: /healthz 200 (the
    readinessProbe: the pod stays Ready), /readyz and the API 503. Plaintext and auth off
    keep the run short; the TLS flags are exercised by the cluster test above."""
    binary = weir_binary()
    assert binary.exists(), f"weir binary not found at {binary}: cargo build -p weir, or set WEIR_BIN"
    values = {"tls": {"enabled": False}, "auth": {"enabled": False}}
    objs = objects(render(chart, values))
    deployment = one(objs, "Deployment")
    c = container(deployment)
    pod_name = f"{deployment['metadata']['name']}-5d8f7c9b4-x2x7q"
    port = _free_port()
    api = _FakeKubeApi()
    secrets = {"database-url": f"sqlite://{tmp_path / 'meta.db'}?mode=rwc",
               "cluster-secret": "standby-test-cluster-secret"}
    fields = {"metadata.name": pod_name, "metadata.namespace": NAMESPACE}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WEIR_") and k not in ("POD_NAME", "POD_NAMESPACE", "KUBECONFIG")}
    for var in c["env"]:
        source = var.get("valueFrom", {})
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in source:
            env[var["name"]] = secrets[source["secretKeyRef"]["key"]]
        elif "fieldRef" in source:
            env[var["name"]] = fields[source["fieldRef"]["fieldPath"]]
    env["RUST_LOG"] = "warn"
    args = [a.replace("0.0.0.0:4568", f"127.0.0.1:{port}") for a in c["args"]]
    args = [f"--data-dir={tmp_path / 'cp'}" if a.startswith("--data-dir=") else a for a in args]
    args.append(f"--kube-api-url={api.url}")
    log = tmp_path / "control-plane.log"
    proc = subprocess.Popen([str(binary), *args], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"control plane exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                health = requests.get(f"{base}/healthz", timeout=2)
                if health.status_code == 200 and any(m == "GET" and "/leases/" in p
                                                      for m, p, _, _ in api.requests):
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"no standby within 30 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.1)
        assert health.text == "standby"
        assert requests.get(f"{base}/readyz", timeout=2).status_code == 503
        refused = requests.get(f"{base}/v1/streams", timeout=2)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "Standby"
        assert _FakeKubeApi.HOLDER in refused.json()["error"]["message"]
        time.sleep(0.5)  # a few more campaign rounds
        assert proc.poll() is None, log.read_text()
        assert "Standing by as " + pod_name in log.read_text()
        # The Lease the chart names, in the pod's namespace; the pod is the one the
        # downward API names; the standby never touches the StatefulSet or writes the Lease.
        lease_path = (f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/"
                      f"{flag(c, 'kube-lease')}")
        assert {(m, p) for m, p, _, _ in api.requests} == {
            ("GET", lease_path), ("PATCH", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod_name}")}
        patch = next(r for r in api.requests if r[0] == "PATCH")
        assert patch[2].get("fieldManager") and patch[3]["metadata"]["name"] == pod_name
        assert ACTIVE_LABEL not in patch[3]["metadata"].get("labels", {})
        assert not (tmp_path / "meta.db").exists(), "a standby opened the metadata store"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        api.close()


# ---- infra/ -----------------------------------------------------------------------------------

SCRIPTS = ["local-up.sh", "local-down.sh", "local-credentials.sh"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_strict_and_pass_bash_n_and_shellcheck(script):
    path = INFRA / script
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(path, os.X_OK), f"{script} is not executable"
    subprocess.run(["bash", "-n", str(path)], check=True, timeout=30)
    if shutil.which("shellcheck"):  # optional tool: checked where it is installed
        result = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout


def _bare_path(tmp_path: Path) -> str:
    """A PATH with only what the scripts need before their tool checks."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "bash", "sed"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    return str(bin_dir)


def test_local_up_names_every_missing_tool(tmp_path):
    result = subprocess.run([shutil.which("bash"), str(INFRA / "local-up.sh")], capture_output=True,
                            text=True, timeout=30, env={"PATH": _bare_path(tmp_path)},
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 1, result
    for tool in ("kind", "kubectl", "helm", "docker", "openssl"):
        assert f"{tool} is not installed" in result.stderr, result.stderr
    assert "install the tools above" in result.stderr


def test_local_down_needs_kind(tmp_path):
    result = subprocess.run([shutil.which("bash"), str(INFRA / "local-down.sh")], capture_output=True,
                            text=True, timeout=30, env={"PATH": _bare_path(tmp_path)},
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 1 and "kind is not installed" in result.stderr, result


def test_local_credentials_are_made_once_and_are_well_formed(tmp_path):
    state = tmp_path / "state"
    run = lambda: subprocess.run(["bash", str(INFRA / "local-credentials.sh"), str(state)],  # noqa: E731
                                 check=True, capture_output=True, timeout=60)
    run()
    first = {p.name: p.read_bytes() for p in state.rglob("*") if p.is_file()}
    run()
    assert first == {p.name: p.read_bytes() for p in state.rglob("*") if p.is_file()}
    assert re.fullmatch(rb"WKIA[A-Z0-9]{16}", first["admin-access-key-id"])
    assert len(base64.b64decode(first["master-key"])) == 32
    assert not any(v.endswith(b"\n") for k, v in first.items() if "." not in k)
    assert (state.stat().st_mode & 0o077) == 0
    text = subprocess.run(["openssl", "x509", "-in", str(state / "tls" / "tls.crt"), "-noout", "-text"],
                          check=True, capture_output=True, text=True).stdout
    for name in ("weir-control-plane.weir.svc.cluster.local", "weir-data-plane.weir.svc.cluster.local",
                 "*.weir-data-plane-headless.weir.svc.cluster.local", "localhost"):
        assert f"DNS:{name}" in text, name
    subprocess.run(["openssl", "verify", "-CAfile", str(state / "tls" / "ca.crt"),
                    str(state / "tls" / "tls.crt")], check=True, capture_output=True)


def test_infra_manifests_are_valid_kubernetes_1_32_strict():
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert docs, path
        for obj in docs:
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{path.name}: {obj['kind']}/{obj['metadata']['name']}: {err.message}")
    minio = [d for d in yaml.safe_load_all((INFRA / "k8s" / "minio.yaml").read_text()) if d]
    job = next(d for d in minio if d["kind"] == "Job")
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    bucket = VALUE_SETS["kind"]["coldTier"]["s3"]["bucket"]
    assert f"mc mb --ignore-existing local/{bucket}" in script


def test_kind_cluster_maps_the_node_ports_the_values_use():
    cluster = yaml.safe_load((INFRA / "kind" / "cluster.yaml").read_text())
    assert cluster["kind"] == "Cluster" and cluster["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    mappings = {m["containerPort"]: m for n in cluster["nodes"] for m in n.get("extraPortMappings", [])}
    kind_values = VALUE_SETS["kind"]
    for port in (kind_values["controlPlane"]["service"]["nodePort"],
                 kind_values["dataPlane"]["service"]["nodePort"], 30901):
        assert port in mappings and mappings[port]["listenAddress"] == "127.0.0.1", port
    # The pool never asks for more data-plane pods than there are workers to spread them.
    assert sum(n["role"] == "worker" for n in cluster["nodes"]) >= \
        kind_values["dataPlane"]["autoscale"]["maxNodes"]


def test_dockerfile_takes_base_images_as_arguments_and_runs_unprivileged():
    text = (INFRA / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    first_from = next(i for i, line in enumerate(lines) if line.startswith("FROM "))
    assert {"ARG RUST_IMAGE", "ARG RUNTIME_IMAGE"} <= {line.split("=")[0] for line in lines[:first_from]}
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms == ["FROM ${RUST_IMAGE} AS builder", "FROM ${RUNTIME_IMAGE}"]
    runtime = lines[lines.index("FROM ${RUNTIME_IMAGE}"):]
    assert not any(line.startswith("RUN ") for line in runtime), "the runtime stage must not need a shell"
    assert "USER 10001:10001" in runtime
    assert runtime[-2:] == ['ENTRYPOINT ["/usr/local/bin/weir"]', 'CMD ["--help"]']
    assert "cargo build --release --locked -p weir" in text
    ignore = (INFRA / "Dockerfile.dockerignore").read_text().split()
    assert "target" in ignore and ".git" in ignore
    # The chart runs the image's user.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == 10001
