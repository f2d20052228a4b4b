#!/usr/bin/env bash
# Starts a Redis server that speaks only TLS on a loopback port, for the TLS store tests,
# with the test certificates of scripts/tls-certs.sh (it runs that first), installing
# Debian's `redis-server` first when it is missing (as root, or with sudo).
#
#   scripts/redis-tls.sh             # prints the rediss:// URL on its last line
#   source scripts/redis-tls.sh      # also exports REDIS_TLS_URL, TLS_CA and TLS_WRONG_CA
#   scripts/redis-tls.sh stop        # stops the server this script started
#
# REDIS_TLS_PORT picks the port (default 6391); there is no plain port (`--port 0`). The
# server listens on 127.0.0.1 and 127.0.0.2 (a loopback address its certificate does not
# name, for the host name tests), asks clients for no certificate (`--tls-auth-clients
# no`) and keeps nothing on disk; its pidfile and log are under target/redis-tls/. A server
# already answering there over TLS with a certificate the test CA signed is reused.
set -euo pipefail
_rt_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_rt_port="${REDIS_TLS_PORT:-6391}"
_rt_dir="$_rt_root/target/redis-tls"
_rt_pidfile="$_rt_dir/redis-$_rt_port.pid"

_rt_stop() {
    if [[ -f "$_rt_pidfile" ]]; then
        kill "$(cat "$_rt_pidfile")" 2>/dev/null || true
        rm -f "$_rt_pidfile"
        for _ in $(seq 1 50); do
            (echo >"/dev/tcp/127.0.0.1/$_rt_port") 2>/dev/null || break
            sleep 0.1
        done
    fi
}

if [[ "${1:-}" == "stop" ]]; then
    _rt_stop
    return 0 2>/dev/null || exit 0
fi

_rt_sudo() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "redis-tls.sh: installing redis-server (Debian package)" >&2
    _rt_sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive _rt_sudo apt-get install -y -qq redis-server redis-tools >&2
fi

_rt_certs="$(bash "$_rt_root/scripts/tls-certs.sh" | tail -n 1)"

_rt_ping() {
    redis-cli --tls --cacert "$_rt_certs/ca.pem" -h 127.0.0.1 -p "$_rt_port" ping \
        2>/dev/null | grep -q PONG
}

if ! _rt_ping; then
    # A server of ours with certificates made before the current ones: start it again.
    _rt_stop
    mkdir -p "$_rt_dir"
    redis-server --bind "127.0.0.1 127.0.0.2" --port 0 --tls-port "$_rt_port" \
        --tls-cert-file "$_rt_certs/server.pem" --tls-key-file "$_rt_certs/server.key" \
        --tls-ca-cert-file "$_rt_certs/ca.pem" --tls-auth-clients no \
        --save '' --appendonly no --daemonize yes --pidfile "$_rt_pidfile" \
        --logfile "$_rt_dir/redis-$_rt_port.log" --dir "$_rt_dir" >&2
    for _ in $(seq 1 50); do
        _rt_ping && break
        sleep 0.1
    done
    if ! _rt_ping; then
        echo "redis-tls.sh: redis-server did not answer over TLS on 127.0.0.1:$_rt_port;" \
             "see $_rt_dir/redis-$_rt_port.log" >&2
        exit 1
    fi
fi

TLS_CA="$_rt_certs/ca.pem"
TLS_WRONG_CA="$_rt_certs/wrong-ca.pem"
REDIS_TLS_URL="rediss://127.0.0.1:$_rt_port/"
export TLS_CA TLS_WRONG_CA REDIS_TLS_URL
echo "$REDIS_TLS_URL"
