#!/usr/bin/env bash
# Runs every test of the workspace, after setting up what the tests need:
#   - a Python venv with real Pyramid 2.1 for the interop tests (scripts/pyenv.sh),
#   - Debian's chromium and chromium-driver for the browser test (scripts/browser.sh),
#   - Redis, a three-master Redis Cluster and PostgreSQL for the store tests
#     (scripts/redis.sh, scripts/redis-cluster.sh, scripts/postgres.sh).
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p typed-sessions`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYRAMID_PYTHON="$(scripts/pyenv.sh | tail -n 1)"
export PYRAMID_PYTHON
REDIS_URL="$(bash scripts/redis.sh | tail -n 1)"; export REDIS_URL  # Redis for the store tests
REDIS_CLUSTER_URLS="$(bash scripts/redis-cluster.sh | tail -n 1)"; export REDIS_CLUSTER_URLS
POSTGRES_URL="$(bash scripts/postgres.sh | tail -n 1)"; export POSTGRES_URL
if [[ -f scripts/browser.sh ]]; then
    bash scripts/browser.sh
fi

cargo test --workspace --all-features "$@"
