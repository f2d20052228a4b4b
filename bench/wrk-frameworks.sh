#!/usr/bin/env bash
# Requests/s over HTTP on loopback, with wrk, for axum (`load_server`) and actix-web
# (`actix_load_server`) side by side: the same JSON route without the session layer
# (/load/plain), under it but untouched (/load/untouched), and reading and changing a 1 KiB
# session on every request (/load/session). Each server runs one thread pinned to one core,
# wrk to the other, so the two never share a core.
#
#   bench/wrk-frameworks.sh                   # 10 s per route, each route twice
#   DURATION=20 ROUNDS=3 bench/wrk-frameworks.sh
#   SERVER_CPU=1 WRK_CPU=0 bench/wrk-frameworks.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
SERVER_CPU="${SERVER_CPU:-1}"
WRK_CPU="${WRK_CPU:-0}"

if ! command -v wrk >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --release -q -p session-examples --bin load_server --bin actix_load_server

echo "load before: $(uptime)"
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s on CPU $WRK_CPU; each server on CPU $SERVER_CPU; best of $ROUNDS"

declare -A best port cookie
servers=()
logs=()
trap 'for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null; done; rm -f "${logs[@]}"' EXIT

# Both servers start first and idle while the other is measured, so the rounds alternate
# between the frameworks and a burst of load elsewhere on the machine hits both alike.
for framework in axum actix; do
    case "$framework" in
        axum) binary=target/release/load_server ;;
        actix) binary=target/release/actix_load_server ;;
    esac
    log="$(mktemp)"
    logs+=("$log")
    taskset -c "$SERVER_CPU" "$binary" > "$log" &
    servers+=($!)
    for _ in $(seq 100); do grep -q '^LISTENING=' "$log" && break; sleep 0.1; done
    port[$framework]="$(sed -n 's/^LISTENING=//p' "$log")"
    [[ -n "${port[$framework]}" ]] || { echo "wrk-frameworks.sh: $binary did not start" >&2; exit 1; }
    cookie[$framework]="$(sed -n 's/^COOKIE=//p' "$log")"
done

for round in $(seq "$ROUNDS"); do
    for framework in axum actix; do
        export SESSION_COOKIE="${cookie[$framework]}"
        for route in plain untouched session; do
            out="$(taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION"s \
                -s bench/wrk-session.lua "http://127.0.0.1:${port[$framework]}/load/$route")"
            rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
            bad="$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")"
            echo "round $round  $framework  /load/$route  $rps req/s  non-2xx: ${bad:-0}"
            key="$framework/$route"
            if [[ -z "${best[$key]:-}" ]] || awk "BEGIN {exit !($rps > ${best[$key]})}"; then
                best[$key]="$rps"
            fi
        done
    done
done
echo "load after: $(uptime)"

printf '\n| framework | route | requests/s (best) | vs its /load/plain |\n|---|---|---:|---:|\n'
for framework in axum actix; do
    for route in plain untouched session; do
        awk -v f="$framework" -v r="$route" -v x="${best[$framework/$route]}" \
            -v p="${best[$framework/plain]}" \
            'BEGIN {
                d = (r == "plain") ? "" : sprintf("%+.1f%%", (x / p - 1) * 100);
                printf "| %s | /load/%s | %.0f | %s |\n", f, r, x, d
            }'
    done
done
