#!/usr/bin/env bash
# Make (or reuse) the Python venv holding real Pyramid, the reference the
# interop tests and vector generator run against.
#
#   scripts/pyenv.sh            -> prints the venv's python path on its last line
#   PYRAMID_VENV=/some/dir scripts/pyenv.sh
#
# The venv is rebuilt only when it is missing, broken, or when
# tests/pyramid/requirements.txt changed since the last successful install
# (a sha256 stamp inside the venv records that). Anything going wrong exits
# non-zero: a half-built venv would make interop tests fail in confusing ways.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PYRAMID_VENV:-$repo/target/pyramid-venv}"
req="$repo/tests/pyramid/requirements.txt"
stamp="$venv/.requirements.sha256"
py="$venv/bin/python"

die() { echo "pyenv.sh: $*" >&2; exit 1; }

[[ -f "$req" ]] || die "missing $req"
command -v python3 >/dev/null || die "python3 not found on PATH"

want="$(sha256sum "$req" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"

# The stamp alone is not trusted: a venv whose interpreter moved or whose
# site-packages was damaged must be rebuilt too.
if [[ "$want" == "$have" ]] && [[ -x "$py" ]] \
    && "$py" -c 'import pyramid.session, webob, nacl, pyramid_nacl_session, pyramid_session_redis, beaker, pyramid_beaker, sqlalchemy, psycopg2' >/dev/null 2>&1; then
    echo "$py"
    exit 0
fi

echo "pyenv.sh: (re)building $venv" >&2
# Start from scratch rather than upgrading in place, so a removed pin really
# goes away and the result equals what a fresh machine would get.
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv" >&2 || die "python3 -m venv failed (is python3-venv installed?)"
"$py" -m pip install --disable-pip-version-check --quiet -r "$req" >&2 \
    || die "pip install -r $req failed"
"$py" -c 'import pyramid.session, webob, nacl, pyramid_nacl_session, pyramid_session_redis, beaker, pyramid_beaker, sqlalchemy, psycopg2' >&2 \
    || die "pyramid or pyramid_nacl_session not importable after install"
# Written last: only a fully successful install is stamped.
echo "$want" > "$stamp"
echo "$py"
