#!/usr/bin/env bash
# Test PKI for the local Envoy (envoy/envoy*.yaml, mTLS listener) and the e2e tests, with openssl only.
#
#   envoy/certs/generate.sh [OUT_DIR]      (default: envoy/certs/out)
#
# Writes, all signed by one throw-away CA (ca.crt):
#   server.crt/key     Envoy's serving certificate: DNS envoy, localhost, IP 127.0.0.1,
#                      URI spiffe://cluster.local/ns/orders/sa/orders
#   frontend.crt/key   client, URI SAN spiffe://cluster.local/ns/web/sa/frontend
#   reporter.crt/key   client, URI SAN spiffe://cluster.local/ns/batch/sa/reporter
#   foreign.crt/key    client, URI SAN spiffe://other.example/ns/web/sa/frontend (foreign trust domain)
#   nosan.crt/key      client, subject CN only, no subjectAltName
# The foreign-domain certificate is signed by the same CA on purpose: Envoy accepts the handshake and
# the authz filter must refuse the identity (a federated trust domain would look the same to Envoy).
# Keys are test material, world-readable so that Envoy's non-root user can read them from a bind mount.
set -euo pipefail
OUT="${1:-$(cd "$(dirname "$0")" && pwd)/out}"
DAYS=3650
mkdir -p "$OUT"
cd "$OUT"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; chmod 644 "$1.key"; }

key ca
openssl req -x509 -new -key ca.key -sha256 -days "$DAYS" -subj "/O=mesh-filters test/CN=mesh-filters test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" -out ca.crt

# issue NAME CN EXTENDED_KEY_USAGE [SAN]
issue() {
  local name="$1" cn="$2" eku="$3" san="${4:-}"
  key "$name"
  openssl req -new -key "$name.key" -subj "/O=mesh-filters test/CN=$cn" -out "$name.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    echo "authorityKeyIdentifier=keyid"
    if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
  } > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days "$DAYS" \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

issue server   envoy    serverAuth,clientAuth "DNS:envoy,DNS:localhost,IP:127.0.0.1,URI:spiffe://cluster.local/ns/orders/sa/orders"
issue frontend frontend clientAuth            "URI:spiffe://cluster.local/ns/web/sa/frontend"
issue reporter reporter clientAuth            "URI:spiffe://cluster.local/ns/batch/sa/reporter"
issue foreign  frontend clientAuth            "URI:spiffe://other.example/ns/web/sa/frontend"
issue nosan    nosan    clientAuth
rm -f ca.srl
echo "wrote test PKI to $OUT"
