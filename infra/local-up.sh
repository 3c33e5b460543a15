#!/usr/bin/env bash
# Brings up the local Kubernetes stack of Weir on kind:
#   1. a kind cluster (infra/kind/cluster.yaml: one control-plane node, three workers)
#   2. the weir image, built from infra/Dockerfile and loaded into the kind nodes
#   3. credentials (Postgres, MinIO, cluster secret, master key, first administrator) and
#      a local CA with one server certificate (infra/local-credentials.sh), kept in
#      infra/.local/ for the next run
#   4. Postgres (infra/k8s/postgres.yaml) and MinIO with its bucket (infra/k8s/minio.yaml)
#   5. the chart charts/weir with infra/kind/weir-values.yaml
# then prints the endpoints and credentials. Re-running it reuses what exists.
# infra/local-down.sh removes it all.
#
# Needs: kind, kubectl, helm, docker (with a running daemon), openssl. Pulls the kind node
# image, the base images of infra/Dockerfile, postgres and MinIO: see infra/README.md for
# machines that cannot pull.
#
# Environment:
#   WEIR_KIND_CLUSTER  kind cluster name (default weir)
#   WEIR_NAMESPACE     namespace of everything (default weir)
#   WEIR_IMAGE         image name:tag to build and load (default weir:dev)
#   WEIR_SKIP_BUILD=1  do not build the image; load WEIR_IMAGE as it is
#   RUST_IMAGE, RUNTIME_IMAGE  base images passed to infra/Dockerfile as build arguments
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${WEIR_KIND_CLUSTER:-weir}"
NS="${WEIR_NAMESPACE:-weir}"
IMAGE="${WEIR_IMAGE:-weir:dev}"
RELEASE=weir
STATE="$REPO/infra/.local"
CONTEXT="kind-$CLUSTER"

log() { printf '==> %s\n' "$*"; }
die() { printf 'local-up.sh: %s\n' "$*" >&2; exit 1; }

# ---- tools ----------------------------------------------------------------------------------
missing=0
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    printf 'local-up.sh: %s is not installed: %s\n' "$1" "$2" >&2
    missing=1
  fi
}
need kind "it creates the local cluster (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
need kubectl "it applies Postgres and MinIO (https://kubernetes.io/docs/tasks/tools/)"
need helm "it installs the chart, Helm 3.8 or newer (https://helm.sh/docs/intro/install/)"
need docker "it builds the image and runs the kind nodes (https://docs.docker.com/engine/install/)"
need openssl "it makes the local CA, the server certificate and random secrets"
[ "$missing" = 0 ] || die "install the tools above, then run this again"
docker info >/dev/null 2>&1 || die "docker is installed but its daemon is not reachable (is it running? may this user use it?)"

if [ "$IMAGE" = "${IMAGE%:*}" ]; then
  die "WEIR_IMAGE must be name:tag, got '$IMAGE'"
fi
IMAGE_REPO="${IMAGE%:*}"
IMAGE_TAG="${IMAGE##*:}"

kc() { kubectl --context "$CONTEXT" -n "$NS" "$@"; }

# ---- 1. the kind cluster --------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "kind cluster '$CLUSTER' exists; reusing it"
else
  log "creating kind cluster '$CLUSTER'"
  kind create cluster --name "$CLUSTER" --config "$REPO/infra/kind/cluster.yaml" --wait 180s
fi

# ---- 2. the image ---------------------------------------------------------------------------
if [ "${WEIR_SKIP_BUILD:-0}" = 1 ]; then
  log "WEIR_SKIP_BUILD=1: using the existing image $IMAGE"
  docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE does not exist; build it or unset WEIR_SKIP_BUILD"
else
  log "building $IMAGE from infra/Dockerfile (a release build of the workspace: takes a while)"
  build_args=()
  if [ -n "${RUST_IMAGE:-}" ]; then build_args+=(--build-arg "RUST_IMAGE=$RUST_IMAGE"); fi
  if [ -n "${RUNTIME_IMAGE:-}" ]; then build_args+=(--build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE"); fi
  DOCKER_BUILDKIT=1 docker build -f "$REPO/infra/Dockerfile" -t "$IMAGE" ${build_args[@]+"${build_args[@]}"} "$REPO"
fi
log "loading $IMAGE into the kind nodes"
kind load docker-image "$IMAGE" --name "$CLUSTER"

# ---- 3. credentials and the local CA ---------------------------------------------------------
"$REPO/infra/local-credentials.sh" "$STATE" "$NS" "$RELEASE"
read_state() { cat "$STATE/$1"; }
PG_PASSWORD="$(read_state postgres-password)"
MINIO_USER=weir-minio
MINIO_PASSWORD="$(read_state minio-password)"
ADMIN_KEY_ID="$(read_state admin-access-key-id)"
ADMIN_SECRET="$(read_state admin-secret-access-key)"
DATABASE_URL="postgres://weir:${PG_PASSWORD}@postgres.${NS}.svc.cluster.local:5432/weir"
TLS="$STATE/tls"

# ---- 4. namespace, secrets, Postgres, MinIO --------------------------------------------------
log "namespace $NS and secrets"
kubectl --context "$CONTEXT" create namespace "$NS" --dry-run=client -o yaml \
  | kubectl --context "$CONTEXT" apply -f - >/dev/null
# apply SECRET-ARGS...: create or update a Secret (idempotent).
apply_secret() { kc create secret "$@" --dry-run=client -o yaml | kc apply -f - >/dev/null; }
# Values go in from files, so that no secret shows on a command line.
(umask 077 && printf '%s' "$DATABASE_URL" >"$STATE/database-url")
apply_secret generic postgres --from-file=password="$STATE/postgres-password"
apply_secret generic minio \
  --from-literal=root-user="$MINIO_USER" --from-file=root-password="$STATE/minio-password"
apply_secret generic weir-secrets \
  --from-file=database-url="$STATE/database-url" \
  --from-file=cluster-secret="$STATE/cluster-secret" \
  --from-file=master-key="$STATE/master-key" \
  --from-file=admin-access-key-id="$STATE/admin-access-key-id" \
  --from-file=admin-secret-access-key="$STATE/admin-secret-access-key" \
  --from-literal=s3-access-key-id="$MINIO_USER" \
  --from-file=s3-secret-access-key="$STATE/minio-password"
apply_secret generic weir-tls \
  --from-file=tls.crt="$TLS/tls.crt" --from-file=tls.key="$TLS/tls.key" \
  --from-file=ca.crt="$TLS/ca.crt"

log "Postgres and MinIO"
kc apply -f "$REPO/infra/k8s/postgres.yaml"
kc apply -f "$REPO/infra/k8s/minio.yaml"
kc rollout status statefulset/postgres --timeout=300s
kc rollout status deployment/minio --timeout=300s
log "waiting for the bucket Job"
kc wait --for=condition=complete job/minio-create-bucket --timeout=300s

# ---- 5. the chart ---------------------------------------------------------------------------
log "installing the chart (release $RELEASE)"
helm upgrade --install "$RELEASE" "$REPO/charts/weir" \
  --kube-context "$CONTEXT" --namespace "$NS" \
  -f "$REPO/infra/kind/weir-values.yaml" \
  --set-string "image.repository=$IMAGE_REPO" --set-string "image.tag=$IMAGE_TAG" \
  --set-string "coldTier.s3.endpoint=http://minio.$NS.svc.cluster.local:9000" \
  --wait --timeout 10m

# ---- endpoints and credentials --------------------------------------------------------------
CA="$TLS/ca.crt"
cat <<EOF

Weir is up on kind cluster '$CLUSTER' (namespace $NS).

  Kinesis API:          https://127.0.0.1:4567   (CA: $CA)
  REST API and console: https://127.0.0.1:4568
  Administrator:        access key id     $ADMIN_KEY_ID
                        secret access key $ADMIN_SECRET
  MinIO console:        http://127.0.0.1:9001    (user $MINIO_USER, password $MINIO_PASSWORD)
  Postgres:             kubectl --context $CONTEXT -n $NS port-forward svc/postgres 5432
                        then postgres://weir:$PG_PASSWORD@127.0.0.1:5432/weir

Try it:
  AWS_ACCESS_KEY_ID=$ADMIN_KEY_ID AWS_SECRET_ACCESS_KEY=$ADMIN_SECRET \\
    aws --region us-east-1 --endpoint-url https://127.0.0.1:4567 --ca-bundle $CA \\
    kinesis create-stream --stream-name demo --shard-count 2

Credentials and the CA are kept in infra/.local/ (reused by the next run).
Remove everything: infra/local-down.sh
EOF
