#!/usr/bin/env bash
# Starts a Redis server on a loopback port for the store tests, installing Debian's
# `redis-server` first when it is missing (as root, or with sudo).
#
#   scripts/redis.sh                 # prints the URL on its last line
#   source scripts/redis.sh          # also exports REDIS_URL into the calling shell
#
# REDIS_PORT picks the port (default 6390). An answering server on that port is reused.
# The server keeps nothing on disk (`--save '' --appendonly no`); its pidfile and log are
# under target/redis/. `scripts/redis.sh stop` stops the one this script started.
set -euo pipefail
_redis_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_redis_port="${REDIS_PORT:-6390}"
_redis_dir="$_redis_root/target/redis"
_redis_pidfile="$_redis_dir/redis-$_redis_port.pid"

if [[ "${1:-}" == "stop" ]]; then
    if [[ -f "$_redis_pidfile" ]]; then
        kill "$(cat "$_redis_pidfile")" 2>/dev/null || true
        rm -f "$_redis_pidfile"
    fi
    return 0 2>/dev/null || exit 0
fi

_redis_sudo() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "redis.sh: installing redis-server (Debian package)" >&2
    _redis_sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive _redis_sudo apt-get install -y -qq redis-server redis-tools >&2
fi

if ! redis-cli -h 127.0.0.1 -p "$_redis_port" ping >/dev/null 2>&1; then
    mkdir -p "$_redis_dir"
    redis-server --bind 127.0.0.1 --port "$_redis_port" --save '' --appendonly no \
        --daemonize yes --pidfile "$_redis_pidfile" --logfile "$_redis_dir/redis-$_redis_port.log" \
        --dir "$_redis_dir" >&2
    for _ in $(seq 1 50); do
        redis-cli -h 127.0.0.1 -p "$_redis_port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    if ! redis-cli -h 127.0.0.1 -p "$_redis_port" ping >/dev/null 2>&1; then
        echo "redis.sh: redis-server did not answer on 127.0.0.1:$_redis_port;" \
             "see $_redis_dir/redis-$_redis_port.log" >&2
        exit 1
    fi
fi

REDIS_URL="redis://127.0.0.1:$_redis_port/"
export REDIS_URL
echo "$REDIS_URL"
