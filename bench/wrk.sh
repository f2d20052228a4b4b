#!/usr/bin/env bash
# Requests/s over HTTP on loopback, with wrk, for the same JSON route without the session
# layer (/load/plain), under the layer but untouched (/load/untouched), and reading and
# changing a 1 KiB session on every request (/load/session). Then, with SOAK=seconds, a soak of /session
# with a cookie that changes every request, sampling the server's resident memory.
# Fails when any /load/session request's cookie was refused or missing (the server counts
# load outcomes at /load/outcomes: a refused cookie still answers 200, with a fresh session).
#
#   bench/wrk.sh                      # 10 s per route, each route twice
#   DURATION=20 SOAK=60 bench/wrk.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${DURATION:-10}"
SOAK="${SOAK:-0}"
CONNECTIONS="${CONNECTIONS:-32}"

if ! command -v wrk >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --release -q -p session-examples --bin load_server

log="$(mktemp)"
target/release/load_server > "$log" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q '^LISTENING=' "$log" && break; sleep 0.1; done
port="$(sed -n 's/^LISTENING=//p' "$log")"
[[ -n "$port" ]] || { echo "wrk.sh: load_server did not start" >&2; exit 1; }
export SESSION_COOKIE="$(sed -n 's/^COOKIE=//p' "$log")"
echo "load_server on 127.0.0.1:$port, session cookie ${#SESSION_COOKIE} bytes; wrk -t1 -c$CONNECTIONS -d${DURATION}s"

run() { # route seconds -> "requests/s non-2xx"
    local out
    out="$(wrk -t1 -c"$CONNECTIONS" -d"$2"s -s bench/wrk-session.lua "http://127.0.0.1:$port/load/$1")"
    local rps bad
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    bad="$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")"
    echo "$rps ${bad:-0}"
}

# The server's load outcomes of /load/session so far: "loaded no_cookie rejected".
outcomes() {
    local json
    json="$(curl -fsS "http://127.0.0.1:$port/load/outcomes")"
    sed -E 's/.*"loaded":([0-9]+).*"no_cookie":([0-9]+).*"rejected":([0-9]+).*/\1 \2 \3/' <<<"$json"
}
# Fails unless every /load/session request since the outcomes were "$2 $3 $4" loaded its
# session from the cookie it sent.
check_outcomes() { # label loaded0 no_cookie0 rejected0
    local counts loaded no_cookie rejected
    counts="$(outcomes)"
    read -r loaded no_cookie rejected <<<"$counts"
    loaded=$((loaded - $2)); no_cookie=$((no_cookie - $3)); rejected=$((rejected - $4))
    echo "$1: sessions loaded from the cookie: $loaded, without a cookie: $no_cookie, cookie refused: $rejected"
    if [[ "$rejected" -ne 0 || "$no_cookie" -ne 0 || "$loaded" -eq 0 ]]; then
        echo "wrk.sh: $1: every request must load its session from the cookie" >&2
        exit 1
    fi
}

counts="$(outcomes)"
read -r loaded0 no_cookie0 rejected0 <<<"$counts"
declare -A best
for round in 1 2; do
    for route in plain untouched session; do
        read -r rps bad < <(run "$route" "$DURATION")
        echo "round $round  /$route  $rps req/s  non-2xx: $bad"
        if [[ -z "${best[$route]:-}" ]] || awk "BEGIN {exit !($rps > ${best[$route]})}"; then
            best[$route]="$rps"
        fi
    done
done
check_outcomes "rounds" "$loaded0" "$no_cookie0" "$rejected0"
printf '\n%-12s %12s %10s\n' route 'req/s (best)' 'vs /plain'
for route in plain untouched session; do
    awk -v r="$route" -v x="${best[$route]}" -v p="${best[plain]}" \
        'BEGIN {printf "%-12s %12.0f %9.1f%%\n", "/" r, x, (x / p - 1) * 100}'
done

if [[ "$SOAK" -gt 0 ]]; then
    echo
    echo "soak: /session for ${SOAK}s, cookie changing on every request"
    rss() { awk '/^VmRSS:/ {print $2}' "/proc/$server/status"; }
    samples="$(mktemp)"
    ( while kill -0 $server 2>/dev/null; do echo "$(date +%s) $(rss)"; sleep 5; done ) > "$samples" &
    sampler=$!
    counts="$(outcomes)"
    read -r loaded0 no_cookie0 rejected0 <<<"$counts"
    read -r rps bad < <(run session "$SOAK")
    kill $sampler 2>/dev/null || true
    echo "soak: $rps req/s, non-2xx: $bad"
    echo "server RSS (KiB) every 5 s: $(awk '{printf "%s ", $2}' "$samples")"
    rm -f "$samples"
    check_outcomes "soak" "$loaded0" "$no_cookie0" "$rejected0"
    [[ "$bad" -eq 0 ]] || { echo "wrk.sh: soak: $bad non-2xx responses" >&2; exit 1; }
fi
