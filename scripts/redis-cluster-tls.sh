#!/usr/bin/env bash
# Starts a local Redis Cluster of three masters (no replicas) that speak only TLS, clients
# and cluster bus alike (`--tls-cluster yes`), on loopback ports, for the TLS store tests,
# with the test certificates of scripts/tls-certs.sh (it runs that first), installing
# Debian's `redis-server` first when it is missing (as root, or with sudo).
#
#   scripts/redis-cluster-tls.sh         # prints the rediss:// node URLs, comma-separated
#   scripts/redis-cluster-tls.sh stop    # stops the nodes this script started
#
#   export REDIS_CLUSTER_TLS_URLS="$(scripts/redis-cluster-tls.sh | tail -n 1)"
#
# REDIS_CLUSTER_TLS_PORT picks the first port (default 7111; the nodes use it and the next
# two, their buses those plus 10000). A cluster already answering `cluster_state:ok` there
# over TLS is reused. The nodes keep nothing on disk but their cluster configuration;
# pidfiles, logs and configuration are under target/redis-cluster-tls/.
set -euo pipefail
_rct_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_rct_first="${REDIS_CLUSTER_TLS_PORT:-7111}"
_rct_ports=("$_rct_first" "$((_rct_first + 1))" "$((_rct_first + 2))")
_rct_dir="$_rct_root/target/redis-cluster-tls"

_rct_up() {
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_rct_stop() {
    local port
    for port in "${_rct_ports[@]}"; do
        if [[ -f "$_rct_dir/$port/redis.pid" ]]; then
            kill "$(cat "$_rct_dir/$port/redis.pid")" 2>/dev/null || true
            rm -f "$_rct_dir/$port/redis.pid"
        fi
    done
    # Wait for the ports to close, so a restart does not find half a cluster.
    for _ in $(seq 1 50); do
        local up=0
        for port in "${_rct_ports[@]}"; do
            _rct_up "$port" && up=1
        done
        [[ "$up" == 0 ]] && break
        sleep 0.1
    done
}

if [[ "${1:-}" == "stop" ]]; then
    _rct_stop
    return 0 2>/dev/null || exit 0
fi

_rct_sudo() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "redis-cluster-tls.sh: installing redis-server (Debian package)" >&2
    _rct_sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive _rct_sudo apt-get install -y -qq redis-server redis-tools >&2
fi

_rct_certs="$(bash "$_rct_root/scripts/tls-certs.sh" | tail -n 1)"
_rct_cli=(redis-cli --tls --cacert "$_rct_certs/ca.pem" -h 127.0.0.1)

_rct_ok() {
    local port
    for port in "${_rct_ports[@]}"; do
        "${_rct_cli[@]}" -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' \
            || return 1
    done
}

if ! _rct_ok; then
    # Start from nothing: nodes left over from an earlier run may remember another cluster,
    # or hold certificates made before the current ones.
    _rct_stop
    rm -rf "$_rct_dir"
    for port in "${_rct_ports[@]}"; do
        mkdir -p "$_rct_dir/$port"
        redis-server --bind 127.0.0.1 --port 0 --tls-port "$port" --tls-cluster yes \
            --tls-cert-file "$_rct_certs/server.pem" --tls-key-file "$_rct_certs/server.key" \
            --tls-ca-cert-file "$_rct_certs/ca.pem" --tls-auth-clients no \
            --cluster-enabled yes --cluster-config-file "$_rct_dir/$port/nodes.conf" \
            --cluster-node-timeout 5000 --save '' --appendonly no --daemonize yes \
            --pidfile "$_rct_dir/$port/redis.pid" --logfile "$_rct_dir/$port/redis.log" \
            --dir "$_rct_dir/$port" >&2
    done
    for port in "${_rct_ports[@]}"; do
        for _ in $(seq 1 50); do
            "${_rct_cli[@]}" -p "$port" ping 2>/dev/null | grep -q PONG && break
            sleep 0.1
        done
    done
    _rct_nodes=()
    for port in "${_rct_ports[@]}"; do _rct_nodes+=("127.0.0.1:$port"); done
    "${_rct_cli[@]}" --cluster create "${_rct_nodes[@]}" --cluster-replicas 0 --cluster-yes \
        >"$_rct_dir/create.log" 2>&1 || {
        echo "redis-cluster-tls.sh: creating the cluster failed; see $_rct_dir/create.log" >&2
        exit 1
    }
    for _ in $(seq 1 100); do
        _rct_ok && break
        sleep 0.1
    done
    if ! _rct_ok; then
        echo "redis-cluster-tls.sh: the cluster on ports ${_rct_ports[*]} is not ok;" \
             "see $_rct_dir/*/redis.log" >&2
        exit 1
    fi
fi

REDIS_CLUSTER_TLS_URLS=""
for port in "${_rct_ports[@]}"; do
    REDIS_CLUSTER_TLS_URLS="${REDIS_CLUSTER_TLS_URLS:+$REDIS_CLUSTER_TLS_URLS,}rediss://127.0.0.1:$port/"
done
export REDIS_CLUSTER_TLS_URLS
echo "$REDIS_CLUSTER_TLS_URLS"
