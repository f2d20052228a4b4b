#!/usr/bin/env bash
# Starts a local Redis Cluster of three masters (no replicas) on loopback ports for the
# cluster store tests, installing Debian's `redis-server` first when it is missing (as root,
# or with sudo).
#
#   scripts/redis-cluster.sh         # prints the node URLs, comma-separated, on its last line
#   source scripts/redis-cluster.sh  # also exports REDIS_CLUSTER_URLS into the calling shell
#   scripts/redis-cluster.sh stop    # stops the nodes this script started
#
# REDIS_CLUSTER_PORT picks the first port (default 7101; the nodes use it and the next two).
# A cluster already answering `cluster_state:ok` there is reused. The nodes keep nothing on
# disk but their cluster configuration; pidfiles, logs and configuration are under
# target/redis-cluster/.
set -euo pipefail
_rc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_rc_first="${REDIS_CLUSTER_PORT:-7101}"
_rc_ports=("$_rc_first" "$((_rc_first + 1))" "$((_rc_first + 2))")
_rc_dir="$_rc_root/target/redis-cluster"

_rc_stop() {
    local port
    for port in "${_rc_ports[@]}"; do
        if [[ -f "$_rc_dir/$port/redis.pid" ]]; then
            kill "$(cat "$_rc_dir/$port/redis.pid")" 2>/dev/null || true
            rm -f "$_rc_dir/$port/redis.pid"
        fi
    done
    # Wait for the ports to close, so a restart does not find half a cluster.
    for _ in $(seq 1 50); do
        local up=0
        for port in "${_rc_ports[@]}"; do
            redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && up=1
        done
        [[ "$up" == 0 ]] && break
        sleep 0.1
    done
}

if [[ "${1:-}" == "stop" ]]; then
    _rc_stop
    return 0 2>/dev/null || exit 0
fi

_rc_sudo() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "redis-cluster.sh: installing redis-server (Debian package)" >&2
    _rc_sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive _rc_sudo apt-get install -y -qq redis-server redis-tools >&2
fi

_rc_ok() {
    local port
    for port in "${_rc_ports[@]}"; do
        redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' \
            || return 1
    done
}

if ! _rc_ok; then
    # Start from nothing: nodes left over from an earlier run may remember another cluster.
    _rc_stop
    rm -rf "$_rc_dir"
    for port in "${_rc_ports[@]}"; do
        mkdir -p "$_rc_dir/$port"
        redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
            --cluster-config-file "$_rc_dir/$port/nodes.conf" --cluster-node-timeout 5000 \
            --save '' --appendonly no --daemonize yes --pidfile "$_rc_dir/$port/redis.pid" \
            --logfile "$_rc_dir/$port/redis.log" --dir "$_rc_dir/$port" >&2
    done
    for port in "${_rc_ports[@]}"; do
        for _ in $(seq 1 50); do
            redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
            sleep 0.1
        done
    done
    _rc_nodes=()
    for port in "${_rc_ports[@]}"; do _rc_nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${_rc_nodes[@]}" --cluster-replicas 0 --cluster-yes \
        >"$_rc_dir/create.log" 2>&1 || {
        echo "redis-cluster.sh: creating the cluster failed; see $_rc_dir/create.log" >&2
        exit 1
    }
    for _ in $(seq 1 100); do
        _rc_ok && break
        sleep 0.1
    done
    if ! _rc_ok; then
        echo "redis-cluster.sh: the cluster on ports ${_rc_ports[*]} is not ok;" \
             "see $_rc_dir/*/redis.log" >&2
        exit 1
    fi
fi

REDIS_CLUSTER_URLS=""
for port in "${_rc_ports[@]}"; do
    REDIS_CLUSTER_URLS="${REDIS_CLUSTER_URLS:+$REDIS_CLUSTER_URLS,}redis://127.0.0.1:$port/"
done
export REDIS_CLUSTER_URLS
echo "$REDIS_CLUSTER_URLS"
