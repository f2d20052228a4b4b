#!/usr/bin/env bash
# Requests/s over HTTP on loopback, with wrk, for axum (`load_server`) and actix-web
# (`actix_load_server`) side by side: the same JSON route without the session layer
# (/load/plain), under it but untouched (/load/untouched), and reading and changing a 1 KiB
# session on every request (/load/session). Each server runs one thread pinned to one core,
# wrk to the other, so the two never share a core.
#
# Two figures per route: requests/s (the best round), and the server's CPU time per request
# (user + system, from /proc, the median round). On a shared VM the first swings with what
# else runs; the second counts only the server's own work, so it is the steadier measure
# of what the session layer costs.
#
#   bench/wrk-frameworks.sh                   # 10 s per route, each route twice
#   DURATION=20 ROUNDS=3 bench/wrk-frameworks.sh
#   SERVER_CPU=1 WRK_CPU=0 bench/wrk-frameworks.sh
#   SMOKE=1 bench/wrk-frameworks.sh         # bench/smoke: debug builds, 1 round of 1 s
#
# Fails when any response is not 2xx.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -n "${SMOKE:-}" ]]; then
    : "${DURATION:=1}" "${ROUNDS:=1}" "${PROFILE:=dev}"
fi
PROFILE="${PROFILE:-release}"
bin="target/$([[ "$PROFILE" == dev ]] && echo debug || echo "$PROFILE")"
DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
SERVER_CPU="${SERVER_CPU:-1}"
WRK_CPU="${WRK_CPU:-0}"

if ! command -v wrk >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
cargo build --profile "$PROFILE" -q -p typed-sessions-examples --bin load_server --bin actix_load_server

echo "load before: $(uptime)"
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s on CPU $WRK_CPU; each server on CPU $SERVER_CPU; best of $ROUNDS"

declare -A best cpu port cookie pid
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, in clock ticks
HZ="$(getconf CLK_TCK)"
servers=()
logs=()
trap 'for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null; done; rm -f "${logs[@]}"' EXIT

# Both servers start first and idle while the other is measured, so the rounds alternate
# between the frameworks and a burst of load elsewhere on the machine hits both alike.
for framework in axum actix; do
    case "$framework" in
        axum) binary="$bin/load_server" ;;
        actix) binary="$bin/actix_load_server" ;;
    esac
    log="$(mktemp)"
    logs+=("$log")
    taskset -c "$SERVER_CPU" "$binary" > "$log" &
    servers+=($!)
    pid[$framework]=$!
    for _ in $(seq 100); do grep -q '^LISTENING=' "$log" && break; sleep 0.1; done
    port[$framework]="$(sed -n 's/^LISTENING=//p' "$log")"
    [[ -n "${port[$framework]}" ]] || { echo "wrk-frameworks.sh: $binary did not start" >&2; exit 1; }
    cookie[$framework]="$(sed -n 's/^COOKIE=//p' "$log")"
done

for round in $(seq "$ROUNDS"); do
    for framework in axum actix; do
        export SESSION_COOKIE="${cookie[$framework]}"
        for route in plain untouched session; do
            before="$(ticks "${pid[$framework]}")"
            out="$(taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION"s \
                -s bench/wrk-session.lua "http://127.0.0.1:${port[$framework]}/load/$route")"
            after="$(ticks "${pid[$framework]}")"
            rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
            requests="$(awk '/requests in/ {print $1}' <<<"$out")"
            bad="$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")"
            us="$(awk -v t="$((after - before))" -v hz="$HZ" -v n="$requests" \
                'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
            echo "round $round  $framework  /load/$route  $rps req/s  $us µs CPU/request  non-2xx: ${bad:-0}"
            [[ "${bad:-0}" == 0 ]] || { echo "wrk-frameworks.sh: $framework /load/$route answered non-2xx" >&2; exit 1; }
            key="$framework/$route"
            cpu[$key]="${cpu[$key]:-} $us"
            if [[ -z "${best[$key]:-}" ]] || awk "BEGIN {exit !($rps > ${best[$key]})}"; then
                best[$key]="$rps"
            fi
        done
    done
done
echo "load after: $(uptime)"

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
printf '\n| framework | route | requests/s (best) | vs its plain | server CPU µs/request (median) | vs its plain |\n'
printf '|---|---|---:|---:|---:|---:|\n'
for framework in axum actix; do
    plain_cpu="$(median "${cpu[$framework/plain]}")"
    for route in plain untouched session; do
        awk -v f="$framework" -v r="$route" -v x="${best[$framework/$route]}" \
            -v p="${best[$framework/plain]}" -v c="$(median "${cpu[$framework/$route]}")" \
            -v pc="$plain_cpu" \
            'BEGIN {
                d = (r == "plain") ? "" : sprintf("%+.1f%%", (x / p - 1) * 100);
                dc = (r == "plain") ? "" : sprintf("%+.2f µs", c - pc);
                printf "| %s | /load/%s | %.0f | %s | %.2f | %s |\n", f, r, x, d, c, dc
            }'
    done
done
