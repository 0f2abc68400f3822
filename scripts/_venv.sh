# Sourced by scripts/*: makes sure .venv exists and holds exactly the locked set, then puts it first
# on PATH. The set is requirements-dev.lock (exact versions and sha256 hashes, written by
# scripts/upgrade-deps); pip checks every file it downloads against those hashes and installs
# nothing else (--no-deps: the lock is complete). The stamp holds a hash of the lock and
# pyproject.toml, so a changed lock reinstalls by itself.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
LOCK="$ROOT/requirements-dev.lock"
stamp="$VENV/.copytrader-stamp"
_venv_fail() {
    echo "error: $1" >&2
    echo "  .venv is left as it is; it is set up again on the next run (rm -rf .venv to start clean)." >&2
    rm -f "$stamp"
    exit 1
}
[ -f "$LOCK" ] || _venv_fail "requirements-dev.lock is missing: restore it from git (or write it with scripts/upgrade-deps)"
want="$(cat "$LOCK" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setting up $VENV from requirements-dev.lock ..." >&2
    command -v "$PY" >/dev/null 2>&1 || _venv_fail "$PY not found: install Python 3.11 or newer (or set PYTHON=/path/to/python3)"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || _venv_fail "$("$PY" --version 2>&1) is too old: copytrader needs Python 3.11 or newer (set PYTHON=...)"
    # a fresh venv every time the lock changes: nothing of an earlier set is left behind
    rm -rf "$VENV"
    "$PY" -m venv "$VENV" || _venv_fail "'$PY -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --require-hashes --no-deps -r "$LOCK" >&2 \
        || _venv_fail "the locked dependencies (requirements-dev.lock) could not be installed: see pip's message above (no network to the package index, a file whose hash differs from the lock, or no build for this platform)"
    "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$ROOT" >&2 \
        || _venv_fail "copytrader itself could not be installed into .venv (see pip's message above)"
    "$VENV/bin/python" -m pip check >&2 \
        || _venv_fail "the installed set is inconsistent (pip check above): the lock is out of date with pyproject.toml; run scripts/upgrade-deps"
    echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
