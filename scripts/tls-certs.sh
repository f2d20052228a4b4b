#!/usr/bin/env bash
# Makes the certificates of the TLS store tests with the `openssl` CLI (installing Debian's
# `openssl` first when it is missing, as root or with sudo), under target/tls/:
#
#   ca.pem, ca.key            a test certificate authority
#   server.pem, server.key    a certificate it signed for 127.0.0.1 and `localhost`
#                             (subject alternative names), 30 days; also a client
#                             certificate, for the TLS cluster bus of Redis nodes
#   wrong-ca.pem              a second, unrelated CA: what a client must refuse with
#
#   scripts/tls-certs.sh             # prints the directory on its last line
#   source scripts/tls-certs.sh      # also exports TLS_CA and TLS_WRONG_CA
#   scripts/tls-certs.sh stop        # nothing to stop (for symmetry with the servers)
#
# Idempotent: files that are present, verify against the CA and stay valid for another day
# are reused, so servers started earlier keep a certificate their clients trust. The keys are
# throwaway test keys (EC P-256, unencrypted), never to be used for anything else.
set -euo pipefail
_tls_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_tls_dir="$_tls_root/target/tls"

if [[ "${1:-}" == "stop" ]]; then
    return 0 2>/dev/null || exit 0
fi

_tls_sudo() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v openssl >/dev/null; then
    echo "tls-certs.sh: installing openssl (Debian package)" >&2
    _tls_sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive _tls_sudo apt-get install -y -qq openssl >&2
fi

# Whether every file is there, the server certificate verifies against the CA with the
# names the tests use, and nothing expires within a day.
_tls_valid() {
    local file
    for file in ca.pem ca.key server.pem server.key wrong-ca.pem; do
        [[ -s "$_tls_dir/$file" ]] || return 1
    done
    for file in ca.pem server.pem wrong-ca.pem; do
        openssl x509 -in "$_tls_dir/$file" -noout -checkend 86400 >/dev/null 2>&1 || return 1
    done
    openssl verify -CAfile "$_tls_dir/ca.pem" -verify_ip 127.0.0.1 \
        "$_tls_dir/server.pem" >/dev/null 2>&1 || return 1
    openssl verify -CAfile "$_tls_dir/ca.pem" -verify_hostname localhost \
        "$_tls_dir/server.pem" >/dev/null 2>&1 || return 1
    openssl verify -CAfile "$_tls_dir/ca.pem" -purpose sslclient \
        "$_tls_dir/server.pem" >/dev/null 2>&1 || return 1
}

# A self-signed CA certificate and its key: `_tls_ca NAME SUBJECT`.
_tls_ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -days 30 -subj "$2" -keyout "$_tls_dir/$1.key" -out "$_tls_dir/$1.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
}

if ! _tls_valid; then
    echo "tls-certs.sh: making a test CA and server certificate under $_tls_dir" >&2
    rm -rf "$_tls_dir"
    mkdir -p "$_tls_dir"
    _tls_ca ca "/CN=typed-sessions test CA"
    _tls_ca wrong-ca "/CN=typed-sessions unrelated CA"
    rm -f "$_tls_dir/wrong-ca.key"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -subj "/CN=localhost" -keyout "$_tls_dir/server.key" -out "$_tls_dir/server.csr" \
        >/dev/null 2>&1
    cat >"$_tls_dir/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
    openssl x509 -req -in "$_tls_dir/server.csr" -CA "$_tls_dir/ca.pem" \
        -CAkey "$_tls_dir/ca.key" -CAcreateserial -days 30 -sha256 \
        -extfile "$_tls_dir/server.ext" -out "$_tls_dir/server.pem" >/dev/null 2>&1
    rm -f "$_tls_dir/server.csr" "$_tls_dir/server.ext" "$_tls_dir/ca.srl"
    chmod 600 "$_tls_dir"/*.key
    if ! _tls_valid; then
        echo "tls-certs.sh: the certificates made under $_tls_dir do not verify" >&2
        exit 1
    fi
fi

TLS_CA="$_tls_dir/ca.pem"
TLS_WRONG_CA="$_tls_dir/wrong-ca.pem"
export TLS_CA TLS_WRONG_CA
echo "$_tls_dir"
