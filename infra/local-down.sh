#!/usr/bin/env bash
# Removes the local Kubernetes stack that infra/local-up.sh made: deletes the kind
# cluster, and with it Weir, Postgres, MinIO and every volume.
#
#   infra/local-down.sh          keeps infra/.local/ (credentials, local CA) and the image
#   infra/local-down.sh --purge  also deletes infra/.local/ and the image WEIR_IMAGE
#
# Environment: WEIR_KIND_CLUSTER (default weir), WEIR_IMAGE (default weir:dev).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${WEIR_KIND_CLUSTER:-weir}"
IMAGE="${WEIR_IMAGE:-weir:dev}"
STATE="$REPO/infra/.local"

purge=0
for arg in "$@"; do
  case "$arg" in
    --purge) purge=1 ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) printf 'local-down.sh: unknown argument %s (try --help)\n' "$arg" >&2; exit 2 ;;
  esac
done

if ! command -v kind >/dev/null 2>&1; then
  printf 'local-down.sh: kind is not installed: it deletes the cluster (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)\n' >&2
  exit 1
fi
if [ "$purge" = 1 ] && ! command -v docker >/dev/null 2>&1; then
  printf 'local-down.sh: docker is not installed: --purge needs it to delete the image %s\n' "$IMAGE" >&2
  exit 1
fi

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  printf '==> deleting kind cluster %s\n' "$CLUSTER"
  kind delete cluster --name "$CLUSTER"
else
  printf '==> no kind cluster named %s; nothing to delete\n' "$CLUSTER"
fi

if [ "$purge" = 1 ]; then
  printf '==> deleting %s and the image %s\n' "$STATE" "$IMAGE"
  rm -rf "$STATE"
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    docker image rm "$IMAGE" >/dev/null
  fi
fi
