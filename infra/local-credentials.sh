#!/usr/bin/env bash
# Makes the credentials and the local CA of the kind stack, once: files that already exist
# are kept, so re-running changes nothing. infra/local-up.sh calls it; the chart tests
# (tests/python/test_chart.py) run it too, and start the real binary with its output.
#
#   infra/local-credentials.sh DIR [NAMESPACE] [RELEASE]
#
# DIR gets (mode 0600, DIR itself 0700):
#   postgres-password, minio-password, cluster-secret, master-key (base64 of 32 bytes),
#   admin-access-key-id (WKIA + 16 uppercase hex), admin-secret-access-key
#   tls/ca.crt, tls/ca.key            a local CA (EC P-256)
#   tls/tls.crt, tls/tls.key          one server certificate for every process, naming
#                                     the chart's Services in NAMESPACE (default weir) for
#                                     release RELEASE (default weir), every data-plane pod
#                                     (*.<release>-data-plane-headless...), localhost and
#                                     127.0.0.1
# Needs openssl.
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 3 ]; then
  printf 'usage: %s DIR [NAMESPACE] [RELEASE]\n' "$0" >&2
  exit 2
fi
STATE="$1"
NS="${2:-weir}"
RELEASE="${3:-weir}"
if ! command -v openssl >/dev/null 2>&1; then
  printf 'local-credentials.sh: openssl is not installed: it makes the CA, the certificate and the random secrets\n' >&2
  exit 1
fi

mkdir -p "$STATE/tls"
chmod 700 "$STATE"

# keep NAME COMMAND...: write COMMAND's output, without newlines (the files become Secret
# values as they are), to $STATE/NAME unless that file exists.
keep() {
  local file="$STATE/$1"
  shift
  if [ ! -s "$file" ]; then
    (umask 077 && "$@" | tr -d '\n' >"$file.tmp" && mv "$file.tmp" "$file")
  fi
}
hex() { openssl rand -hex "$1"; }
# WKIA followed by 16 uppercase letters or digits, as Weir's access key ids are.
admin_key_id() { printf 'WKIA%s\n' "$(openssl rand -hex 8 | tr 'a-f' 'A-F')"; }

keep postgres-password hex 24
keep minio-password hex 24
keep cluster-secret hex 32
keep master-key openssl rand -base64 32
keep admin-access-key-id admin_key_id
keep admin-secret-access-key hex 20

TLS="$STATE/tls"
if [ ! -s "$TLS/ca.crt" ] || [ ! -s "$TLS/ca.key" ]; then
  printf '==> making a local CA in %s\n' "$TLS"
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$TLS/ca.key" -out "$TLS/ca.crt" -days 825 -subj "/CN=weir local CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null)
  rm -f "$TLS/tls.crt" "$TLS/tls.key"
fi
if [ ! -s "$TLS/tls.crt" ] || [ ! -s "$TLS/tls.key" ]; then
  printf '==> making the server certificate (Services, data-plane pods, localhost)\n'
  cp_svc="$RELEASE-control-plane"
  dp_svc="$RELEASE-data-plane"
  headless="$RELEASE-data-plane-headless"
  sans="DNS:localhost,IP:127.0.0.1"
  for svc in "$cp_svc" "$dp_svc"; do
    sans="$sans,DNS:$svc,DNS:$svc.$NS,DNS:$svc.$NS.svc,DNS:$svc.$NS.svc.cluster.local"
  done
  sans="$sans,DNS:*.$headless.$NS.svc.cluster.local,DNS:*.$headless.$NS.svc"
  printf '%s\n' \
    "subjectAltName=$sans" \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" >"$TLS/server.ext"
  (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$TLS/tls.key" -out "$TLS/server.csr" -subj "/CN=$cp_svc" 2>/dev/null)
  (umask 077 && openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" \
    -CAcreateserial -days 825 -sha256 -extfile "$TLS/server.ext" -out "$TLS/tls.crt" 2>/dev/null)
  rm -f "$TLS/server.csr" "$TLS/server.ext" "$TLS/ca.srl"
fi
