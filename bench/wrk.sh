#!/usr/bin/env bash
# Requests/s over HTTP on loopback, with wrk, for the same JSON route without the session
# layer (/load/plain), under the layer but untouched (/load/untouched), reading and changing
# a 1 KiB session on every request (/load/session), and the crypto floor of that
# (/load/crypto: verify and re-sign the same cookie, no JSON). Then, with SOAK=seconds, a
# soak of /session with a cookie that changes every request, sampling the server's resident
# memory every SAMPLE_EVERY seconds (5). Fails when any /load/session request's cookie was
# refused or missing (the server counts load outcomes at /load/outcomes: a refused cookie
# still answers 200, with a fresh session), when any response is not 2xx, and when the
# soak's resident memory grows: the largest sample may exceed the first (taken after the
# rounds, so the allocator is warm) by at most RSS_GROWTH_KIB (1024 KiB; a leak of one byte
# per request would pass it within a minute at these rates).
#
# The server (one thread) and wrk (one thread) are pinned to different cores with taskset
# (SERVER_CPU, WRK_CPU: 0 and 1), so they do not take turns on one. The routes run in
# turn, ROUNDS times (5, of DURATION 5 s each: short rounds, so a route and its baseline
# see the same load), and each route's median round is reported: requests/s, and the
# server's CPU time per request (user + system, from /proc), which other processes on the
# machine disturb much less than they disturb requests/s.
#
#   bench/wrk.sh                      # 5 s per route per round, 5 rounds
#   DURATION=20 SOAK=60 bench/wrk.sh
#   SMOKE=1 bench/wrk.sh              # bench/smoke: a debug build, 1 round of 1 s, a 3 s soak
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -n "${SMOKE:-}" ]]; then
    : "${DURATION:=1}" "${ROUNDS:=1}" "${SOAK:=3}" "${SAMPLE_EVERY:=1}" "${PROFILE:=dev}"
fi
DURATION="${DURATION:-5}"
SOAK="${SOAK:-0}"
ROUNDS="${ROUNDS:-5}"
SAMPLE_EVERY="${SAMPLE_EVERY:-5}"
RSS_GROWTH_KIB="${RSS_GROWTH_KIB:-1024}"
PROFILE="${PROFILE:-release}"
bin="target/$([[ "$PROFILE" == dev ]] && echo debug || echo "$PROFILE")"
CONNECTIONS="${CONNECTIONS:-32}"
SERVER_CPU="${SERVER_CPU:-0}"
WRK_CPU="${WRK_CPU:-1}"

if ! command -v wrk >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --profile "$PROFILE" -q -p typed-sessions-examples --bin load_server

log="$(mktemp)"
taskset -c "$SERVER_CPU" "$bin/load_server" > "$log" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q '^LISTENING=' "$log" && break; sleep 0.1; done
port="$(sed -n 's/^LISTENING=//p' "$log")"
[[ -n "$port" ]] || { echo "wrk.sh: load_server did not start" >&2; exit 1; }
export SESSION_COOKIE="$(sed -n 's/^COOKIE=//p' "$log")"
echo "load_server on 127.0.0.1:$port (cpu $SERVER_CPU), session cookie ${#SESSION_COOKIE} bytes;" \
    "wrk -t1 -c$CONNECTIONS -d${DURATION}s (cpu $WRK_CPU), $ROUNDS rounds"
echo "load before: $(uptime | sed 's/.*load average/load average/')"

ticks() { # the server's user + system CPU time, in clock ticks
    awk '{print $14 + $15}' "/proc/$server/stat"
}

run() { # route seconds -> "requests/s non-2xx server-CPU-µs-per-request"
    local out before after
    before="$(ticks)"
    out="$(taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" -d"$2"s -s bench/wrk-session.lua "http://127.0.0.1:$port/load/$1")"
    after="$(ticks)"
    local rps bad requests
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    bad="$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")"
    requests="$(awk '/ requests in / {print $1}' <<<"$out")"
    echo "$rps ${bad:-0} $(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
        'BEGIN {printf "%.3f", t / hz * 1e6 / n}')"
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
routes=(plain untouched crypto session)
declare -A all cpu
for round in $(seq "$ROUNDS"); do
    for route in "${routes[@]}"; do
        read -r rps bad us < <(run "$route" "$DURATION")
        echo "round $round  /$route  $rps req/s  server CPU $us µs/request  non-2xx: $bad"
        [[ "$bad" == 0 ]] || { echo "wrk.sh: /$route answered non-2xx" >&2; exit 1; }
        all[$route]="${all[$route]:-} $rps"
        cpu[$route]="${cpu[$route]:-} $us"
    done
done
echo "load after:  $(uptime | sed 's/.*load average/load average/')"
check_outcomes "rounds" "$loaded0" "$no_cookie0" "$rejected0"
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A median median_cpu
for route in "${routes[@]}"; do
    median[$route]="$(median "${all[$route]}")"
    median_cpu[$route]="$(median "${cpu[$route]}")"
done
echo
echo "(medians of $ROUNDS rounds; each ratio is the median of the rounds' ratios, a route to its baseline in the"
echo "same round; the CPU ratio is the throughput the server's CPU time allows, baseline CPU / route CPU)"
echo
echo "| route | requests/s | vs | server CPU µs/request | vs |"
echo "|---|---:|---|---:|---|"
row() { # route baseline: medians, and the median of the per-round ratios to the baseline
    awk -v r="$1" -v b="$2" -v x="${median[$1]}" -v c="${median_cpu[$1]}" \
        -v xs="${all[$1]}" -v bs="${all[${2:-plain}]}" -v cs="${cpu[$1]}" -v bcs="${cpu[${2:-plain}]}" '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return a[int((n + 1) / 2)]
    }
    BEGIN {
        n = split(xs, X, " "); split(bs, B, " "); split(cs, C, " "); split(bcs, BC, " ")
        for (i = 1; i <= n; i++) { R[i] = X[i] / B[i]; RC[i] = BC[i] / C[i] }
        rr = med(R, n); rc = med(RC, n)
        vs = (b == "") ? "" : sprintf("%.3fx `/load/%s` (%+.1f%%)", rr, b, (rr - 1) * 100)
        vc = (b == "") ? "" : sprintf("%.3fx `/load/%s` (%+.1f%%)", rc, b, (rc - 1) * 100)
        printf "| `/load/%s` | %\047.0f | %s | %.2f | %s |\n", r, x, vs, c, vc
    }'
}
row plain ""
row untouched plain
row crypto plain
row session crypto

if [[ "$SOAK" -gt 0 ]]; then
    echo
    echo "soak: /session for ${SOAK}s, cookie changing on every request"
    rss() { awk '/^VmRSS:/ {print $2}' "/proc/$server/status"; }
    samples="$(mktemp)"
    ( while kill -0 $server 2>/dev/null; do echo "$(date +%s) $(rss)"; sleep "$SAMPLE_EVERY"; done ) > "$samples" &
    sampler=$!
    counts="$(outcomes)"
    read -r loaded0 no_cookie0 rejected0 <<<"$counts"
    read -r rps bad us < <(run session "$SOAK")
    kill $sampler 2>/dev/null || true
    echo "soak: $rps req/s, server CPU $us µs/request, non-2xx: $bad"
    echo "server RSS (KiB) every $SAMPLE_EVERY s: $(awk '{printf "%s ", $2}' "$samples")"
    growth="$(awk 'NR == 1 {first = $2; max = $2} $2 > max {max = $2} END {print max - first}' "$samples")"
    rm -f "$samples"
    echo "soak: RSS growth $growth KiB (bound: $RSS_GROWTH_KIB KiB)"
    if [[ "$growth" -gt "$RSS_GROWTH_KIB" ]]; then
        echo "wrk.sh: soak: the server's resident memory grew by $growth KiB, more than $RSS_GROWTH_KIB KiB" >&2
        exit 1
    fi
    check_outcomes "soak" "$loaded0" "$no_cookie0" "$rejected0"
    [[ "$bad" -eq 0 ]] || { echo "wrk.sh: soak: $bad non-2xx responses" >&2; exit 1; }
fi
