# Sourced by scripts/serve, scripts/test, scripts/bench and scripts/check.
# Creates .venv on first use and (re)installs the project whenever pyproject.toml changes.
# Needs only python3 >= 3.11 with venv and pip, and access to PyPI.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "error: $PY is missing or older than Python 3.11" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating virtual environment in .venv" >&2
    "$PY" -m venv .venv
fi
VENV_PY="$ROOT/.venv/bin/python"
# SETUP_EXTRAS: the optional dependencies to install beside the runtime ones ("test" by
# default; scripts/serve sets it empty: a server needs no test toolchain).
extras="${SETUP_EXTRAS-test}"
hash="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=".venv/.installed-${extras:-runtime}-$hash"
# the test install includes the runtime one, so serve is content with either
if [ ! -f "$stamp" ] && { [ -n "$extras" ] || [ ! -f ".venv/.installed-test-$hash" ]; }; then
    echo "setup: installing ${extras:-runtime} dependencies (first run or pyproject.toml changed)" >&2
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check --no-input -e ".${extras:+[$extras]}" >&2
    rm -f .venv/.installed-"${extras:-runtime}"-*
    touch "$stamp"
fi
