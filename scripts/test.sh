#!/usr/bin/env bash
# Runs every test of the workspace, after setting up what the tests need:
#   - a Python venv with real Pyramid 2.1 for the interop tests (scripts/pyenv.sh),
#   - Debian's chromium and chromium-driver for the browser test (scripts/browser.sh),
#   - Redis, a three-master Redis Cluster and PostgreSQL for the store tests
#     (scripts/redis.sh, scripts/redis-cluster.sh, scripts/postgres.sh),
#   - a test CA and the same three over TLS only, for the TLS store tests
#     (scripts/tls-certs.sh, scripts/redis-tls.sh, scripts/redis-cluster-tls.sh,
#     scripts/postgres-tls.sh).
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p typed-sessions`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYRAMID_PYTHON="$(scripts/pyenv.sh | tail -n 1)"
export PYRAMID_PYTHON
REDIS_URL="$(bash scripts/redis.sh | tail -n 1)"; export REDIS_URL  # Redis for the store tests
REDIS_CLUSTER_URLS="$(bash scripts/redis-cluster.sh | tail -n 1)"; export REDIS_CLUSTER_URLS
POSTGRES_URL="$(bash scripts/postgres.sh | tail -n 1)"; export POSTGRES_URL
TLS_DIR="$(bash scripts/tls-certs.sh | tail -n 1)"
TLS_CA="$TLS_DIR/ca.pem"; TLS_WRONG_CA="$TLS_DIR/wrong-ca.pem"; export TLS_CA TLS_WRONG_CA
REDIS_TLS_URL="$(bash scripts/redis-tls.sh | tail -n 1)"; export REDIS_TLS_URL
REDIS_CLUSTER_TLS_URLS="$(bash scripts/redis-cluster-tls.sh | tail -n 1)"
export REDIS_CLUSTER_TLS_URLS
POSTGRES_TLS_URL="$(bash scripts/postgres-tls.sh | tail -n 1)"; export POSTGRES_TLS_URL
if [[ -f scripts/browser.sh ]]; then
    bash scripts/browser.sh
fi

cargo test --workspace --all-features "$@"
