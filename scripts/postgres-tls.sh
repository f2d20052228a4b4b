#!/usr/bin/env bash
# Starts a second PostgreSQL cluster, one that only takes TLS connections, for the TLS store
# tests: scripts/postgres.sh with POSTGRES_TLS=1 on port 5441 (POSTGRES_TLS_PORT picks
# another), its data in target/postgres-tls/data, its certificate from scripts/tls-certs.sh.
# The shared cluster of scripts/postgres.sh (port 5440) is left alone.
#
#   scripts/postgres-tls.sh          # prints the URL (no sslmode: the tests add it) last
#   scripts/postgres-tls.sh stop     # stops the cluster this script started
#
#   export POSTGRES_TLS_URL="$(scripts/postgres-tls.sh | tail -n 1)"
set -euo pipefail
_pgt_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POSTGRES_PORT="${POSTGRES_TLS_PORT:-5441}" POSTGRES_TLS=1 bash "$_pgt_here/postgres.sh" "$@"
