#!/usr/bin/env bash
# One app over HTTP, on our session layer and on the peers' own middleware
# (bench/http_compare: tower-sessions on axum, actix-session on actix-web): the same three
# routes and the same ~1 KiB state (a user, a counter, a 12-line cart) on every engine.
#
#   /plain  under the session layer, never touches the session
#   /read   reads the state, writes nothing (no engine sets a cookie or writes its store)
#   /bump   reads the state and saves the counter plus one
#
# Every server runs pinned to one core (one thread for axum, one actix-web worker), wrk to
# the other. Each engine gets a seeded session whose cookie wrk sends on every request
# (bench/wrk-session.lua, which takes the cookie each response sets). Before timing, every
# route must answer the same status and body on every engine of a framework, and /plain and
# /read must set no cookie. Rounds alternate over the engines, so a burst of load elsewhere
# hits them alike. Per (framework, route, engine): requests/s and latency p50 / p99 (median
# of the rounds), the server's CPU time per request (user + system from /proc, median), and
# each of our engines beside its peer. Redis runs unpinned and its CPU is not counted.
#
#   bench/http-compare.sh                     # 3 rounds of 5 s per (engine, route)
#   ROUNDS=5 DURATION=10 bench/http-compare.sh
#   OUT=bench/results/http-compare.jsonl bench/http-compare.sh   # keep the raw figures
#   SMOKE=1 bench/http-compare.sh             # bench/smoke: debug build, 1 round of 1 s
#
# Raw figures, one JSON line per (round, engine, route), go to $OUT (default
# bench/http_compare/target/http-compare.jsonl). Fails when any response is not 2xx.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

manifest=bench/http_compare/Cargo.toml
if [[ -n "${SMOKE:-}" ]]; then
    : "${DURATION:=1}" "${ROUNDS:=1}" "${PROFILE:=dev}"
    # The workspace's target/, whose dependencies the tests built (as bench/smoke does).
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
fi
PROFILE="${PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-bench/http_compare/target}"
bin="$target_dir/$([[ "$PROFILE" == dev ]] && echo debug || echo "$PROFILE")/peer_server"
DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-32}"
SERVER_CPU="${SERVER_CPU:-1}"
WRK_CPU="${WRK_CPU:-0}"
OUT="${OUT:-bench/http_compare/target/http-compare.jsonl}"
REDIS_URL="${REDIS_URL:-$(bash scripts/redis.sh | tail -n 1)}"
export REDIS_URL

# Each of our engines and the peer it is compared with.
declare -A peer=(
    [axum-ours-memory]=axum-tower-memory
    [axum-ours-redis]=axum-tower-redis
    # tower-sessions has no cookie store: its memory store is the nearest peer.
    [axum-ours-signed]=axum-tower-memory
    [actix-ours-signed]=actix-their-signed
    [actix-ours-encrypted]=actix-their-private
    [actix-ours-redis]=actix-their-redis
)
engines_axum=(axum-tower-memory axum-tower-redis axum-ours-memory axum-ours-redis axum-ours-signed)
engines_actix=(actix-their-signed actix-their-private actix-their-redis actix-ours-signed
    actix-ours-encrypted actix-ours-redis)
routes=(plain read bump)

if ! command -v wrk >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --profile "$PROFILE" -q --manifest-path "$manifest"
mkdir -p "$(dirname "$OUT")"
loadavg() { cut -d ' ' -f 1-3 /proc/loadavg; }

declare -A port pid cookie
servers=()
logs=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null; done; rm -f "${logs[@]}"' EXIT
fail() { echo "http-compare.sh: $*" >&2; exit 1; }

for engine in "${engines_axum[@]}" "${engines_actix[@]}"; do
    log="$(mktemp)"
    logs+=("$log")
    taskset -c "$SERVER_CPU" "$bin" "$engine" > "$log" &
    servers+=($!)
    pid[$engine]=$!
    for _ in $(seq 100); do grep -q '^LISTENING=' "$log" && break; sleep 0.1; done
    port[$engine]="$(sed -n 's/^LISTENING=//p' "$log")"
    [[ -n "${port[$engine]}" ]] || fail "$engine did not start"
    cookie[$engine]="$(curl -sf -D - -o /dev/null "http://127.0.0.1:${port[$engine]}/seed" |
        sed -n 's/^[Ss]et-[Cc]ookie: session=\([^;]*\).*/\1/p' | tr -d '\r')"
    [[ -n "${cookie[$engine]}" ]] || fail "$engine's /seed set no session cookie"
done

# Same status and body on every engine of a framework, and no cookie from a read.
for framework in axum actix; do
    declare -n engines="engines_$framework"
    for route in "${routes[@]}"; do
        expected=""
        for engine in "${engines[@]}"; do
            response="$(curl -s -D - -H "Cookie: session=${cookie[$engine]}" \
                "http://127.0.0.1:${port[$engine]}/$route" | tr -d '\r')"
            status="$(head -n 1 <<<"$response" | awk '{print $2}')"
            body="$(sed '1,/^$/d' <<<"$response")"
            if [[ "$route" != bump ]] && grep -qi '^set-cookie:' <<<"$response"; then
                fail "$engine /$route set a cookie"
            fi
            got="$status $body"
            echo "check  $engine  /$route  $got"
            [[ -z "$expected" || "$got" == "$expected" ]] ||
                fail "$engine /$route answered '$got', ${engines[0]} '$expected'"
            expected="$got"
        done
    done
    unset -n engines
done

echo "load before: $(uptime)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
printf '{"kind":"meta","program":"http-compare","unix_time":%s,"commit":"%s","rounds":%s,"duration_s":%s,"connections":%s,"load_before":"%s"}\n' \
    "$(date +%s)" "$commit" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$(loadavg)" > "$OUT"
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency on CPU $WRK_CPU; servers on CPU $SERVER_CPU; $ROUNDS rounds"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks
micros() {                                            # wrk's 1.23ms / 456.78us / 1.01s in µs
    awk '{v = $1 + 0; if ($1 ~ /us$/) print v; else if ($1 ~ /ms$/) print v * 1e3;
          else if ($1 ~ /m$/) print v * 6e7; else print v * 1e6}' <<<"$1"
}
HZ="$(getconf CLK_TCK)"
for round in $(seq "$ROUNDS"); do
    for route in "${routes[@]}"; do
        for engine in "${engines_axum[@]}" "${engines_actix[@]}"; do
            export SESSION_COOKIE="${cookie[$engine]}"
            before="$(ticks "${pid[$engine]}")"
            out="$(taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION"s --latency \
                -s bench/wrk-session.lua "http://127.0.0.1:${port[$engine]}/$route")"
            after="$(ticks "${pid[$engine]}")"
            rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
            requests="$(awk '/requests in/ {print $1}' <<<"$out")"
            bad="$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")"
            p50="$(micros "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
            p99="$(micros "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
            us="$(awk -v t="$((after - before))" -v hz="$HZ" -v n="$requests" \
                'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
            echo "round $round  $engine  /$route  $rps req/s  p50 $p50 µs  p99 $p99 µs  $us µs CPU/request  non-2xx: ${bad:-0}"
            printf '{"kind":"row","round":%s,"framework":"%s","engine":"%s","route":"%s","requests_per_s":%s,"requests":%s,"p50_us":%s,"p99_us":%s,"cpu_us_per_request":%s,"non_2xx":%s,"duration_s":%s,"connections":%s}\n' \
                "$round" "${engine%%-*}" "${engine#*-}" "$route" "$rps" "$requests" "$p50" "$p99" \
                "$us" "${bad:-0}" "$DURATION" "$CONNECTIONS" >> "$OUT"
            [[ "${bad:-0}" == 0 ]] || fail "$engine /$route answered non-2xx"
        done
    done
done
echo "load after: $(uptime)"
printf '{"kind":"end","load_after":"%s"}\n' "$(loadavg)" >> "$OUT"
echo "raw figures: $OUT"

# The tables, from the raw figures alone (so a kept $OUT gives them again, and
# BENCHMARKS.md's copy is checked against it: bench/tables --check).
python3 bench/tables "$OUT"
