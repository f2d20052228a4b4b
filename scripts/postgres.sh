#!/usr/bin/env bash
# Starts a PostgreSQL server on a loopback port for the SQL store tests, installing Debian's
# `postgresql` first when it is missing (as root, or with sudo).
#
#   scripts/postgres.sh              # prints the URL on its last line
#   source scripts/postgres.sh       # also exports POSTGRES_URL into the calling shell
#   scripts/postgres.sh stop         # stops the server this script started
#
# POSTGRES_PORT picks the port (default 5440). An answering server on that port is reused.
# POSTGRES_TLS=1 makes a separate cluster that only takes TLS connections (`ssl=on`,
# `hostssl` lines only), in target/postgres-tls/data, with the test certificates of
# scripts/tls-certs.sh (run first), listening on 127.0.0.1 and 127.0.0.2 (an address its
# certificate does not name, for the host name tests); scripts/postgres-tls.sh runs it on
# port 5441. Each start (and each reuse) copies the current certificate into the cluster.
# The cluster lives in target/postgres/data (made by `initdb` on the first run), owned by an
# unprivileged user: PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` user the Debian package creates (and when that user cannot reach target/, as in
# a clone under a private home, the cluster goes to $TMPDIR/session-tests-postgres-PORT). Its superuser is `session`, with the password
# below: a throwaway server for tests, reachable from 127.0.0.1 only.
set -euo pipefail
_pg_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_pg_port="${POSTGRES_PORT:-5440}"
_pg_tls="${POSTGRES_TLS:-}"
_pg_dir="$_pg_root/target/postgres${_pg_tls:+-tls}"
_pg_data="$_pg_dir/data"
_pg_log="$_pg_dir/postgres-$_pg_port.log"
_pg_password="session-tests"

_pg_sudo() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

# The server's tools: Debian keeps them out of PATH, under /usr/lib/postgresql/<major>/bin.
_pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
    elif command -v pg_ctl >/dev/null; then
        dirname "$(command -v pg_ctl)"
    fi
}

# Runs a server tool as the data directory's owner.
_pg_as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [[ "${1:-}" == "stop" ]]; then
    _pg_bindir="$(_pg_bin)"
    for _pg_stop in "$_pg_data" "${TMPDIR:-/tmp}/session-tests-postgres-$_pg_port/data"; do
        if [[ -n "$_pg_bindir" && -f "$_pg_stop/postmaster.pid" ]]; then
            _pg_as_owner "$_pg_bindir/pg_ctl" stop -D "$_pg_stop" -m fast -s >&2 || true
        fi
    done
    return 0 2>/dev/null || exit 0
fi

if [[ -z "$(_pg_bin)" ]] || ! command -v pg_isready >/dev/null; then
    echo "postgres.sh: installing postgresql (Debian package)" >&2
    _pg_sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive _pg_sudo apt-get install -y -qq postgresql >&2
fi
_pg_bindir="$(_pg_bin)"
if [[ -z "$_pg_bindir" ]]; then
    echo "postgres.sh: no pg_ctl after installing postgresql" >&2
    exit 1
fi

_pg_ready() {
    pg_isready -q -h 127.0.0.1 -p "$_pg_port" >/dev/null 2>&1
}

# The TLS cluster's certificate and key, copied from target/tls into its data directory
# (the server wants a key only its owner can read). Says whether they changed.
_pg_tls_files() {
    local certs changed=1
    certs="$(bash "$_pg_root/scripts/tls-certs.sh" | tail -n 1)"
    if [[ -f "$_pg_data/server.crt" ]] && cmp -s "$certs/server.pem" "$_pg_data/server.crt"; then
        changed=0
    fi
    if [[ "$changed" == 1 ]]; then
        install -m 600 "$certs/server.pem" "$_pg_data/server.crt"
        install -m 600 "$certs/server.key" "$_pg_data/server.key"
        if [[ "$(id -u)" == 0 ]]; then
            chown postgres: "$_pg_data/server.crt" "$_pg_data/server.key"
        fi
    fi
    [[ "$changed" == 1 ]]
}

# A reused TLS cluster picks up a certificate made since it started.
if [[ -n "$_pg_tls" ]] && _pg_ready && [[ -f "$_pg_data/PG_VERSION" ]]; then
    if _pg_tls_files; then
        _pg_as_owner "$_pg_bindir/pg_ctl" reload -D "$_pg_data" -s >&2
    fi
fi

if ! _pg_ready; then
    mkdir -p "$_pg_dir"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$_pg_dir"
        # The `postgres` user must reach the checkout; a clone under a private home cannot.
        if ! runuser -u postgres -- test -w "$_pg_dir"; then
            _pg_dir="${TMPDIR:-/tmp}/session-tests-postgres-$_pg_port"
            _pg_data="$_pg_dir/data"
            _pg_log="$_pg_dir/postgres-$_pg_port.log"
            echo "postgres.sh: the postgres user cannot reach target/; using $_pg_dir" >&2
            mkdir -p "$_pg_dir"
            chown postgres: "$_pg_dir"
        fi
    fi
    if [[ ! -f "$_pg_data/PG_VERSION" ]]; then
        _pg_pwfile="$(_pg_as_owner mktemp)"
        _pg_as_owner sh -c "printf '%s\n' '$_pg_password' > '$_pg_pwfile'"
        _pg_as_owner "$_pg_bindir/initdb" -D "$_pg_data" -U session --pwfile="$_pg_pwfile" \
            --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$_pg_dir/initdb.log" 2>&1 || {
            echo "postgres.sh: initdb failed; see $_pg_dir/initdb.log" >&2
            _pg_as_owner rm -f "$_pg_pwfile"
            exit 1
        }
        _pg_as_owner rm -f "$_pg_pwfile"
        if [[ -n "$_pg_tls" ]]; then
            # TLS only: a plain connection finds no line that lets it in.
            _pg_as_owner sh -c "printf '%s\n' 'local all all scram-sha-256' \
                'hostssl all all 127.0.0.0/8 scram-sha-256' > '$_pg_data/pg_hba.conf'"
        fi
    fi
    _pg_options="-p $_pg_port -c listen_addresses=127.0.0.1 -k $_pg_dir -c max_connections=200"
    if [[ -n "$_pg_tls" ]]; then
        _pg_tls_files || true
        _pg_options="-p $_pg_port -c listen_addresses=127.0.0.1,127.0.0.2 -k $_pg_dir"
        _pg_options+=" -c max_connections=50 -c ssl=on -c ssl_cert_file=server.crt"
        _pg_options+=" -c ssl_key_file=server.key"
    fi
    # A stale pidfile from a killed server would stop pg_ctl; the server is not running (it
    # did not answer), so it can go.
    _pg_as_owner rm -f "$_pg_data/postmaster.pid"
    _pg_as_owner "$_pg_bindir/pg_ctl" start -D "$_pg_data" -l "$_pg_log" -w -t 60 -s \
        -o "$_pg_options" >&2 || {
        echo "postgres.sh: the server did not start on 127.0.0.1:$_pg_port; see $_pg_log" >&2
        exit 1
    }
    for _ in $(seq 1 50); do
        _pg_ready && break
        sleep 0.1
    done
    if ! _pg_ready; then
        echo "postgres.sh: PostgreSQL did not answer on 127.0.0.1:$_pg_port; see $_pg_log" >&2
        exit 1
    fi
fi

if [[ -n "$_pg_tls" ]]; then
    POSTGRES_TLS_URL="postgres://session:$_pg_password@127.0.0.1:$_pg_port/postgres"
    export POSTGRES_TLS_URL
    echo "$POSTGRES_TLS_URL"
else
    POSTGRES_URL="postgres://session:$_pg_password@127.0.0.1:$_pg_port/postgres"
    export POSTGRES_URL
    echo "$POSTGRES_URL"
fi
