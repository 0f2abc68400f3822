# Sourced by scripts/upgrade-deps: writes the two lock files from pyproject.toml with uv.
#   requirements.lock      the runtime set (what `pip install copytrader` needs): exact versions + hashes
#   requirements-dev.lock  runtime + the `test` extra + the `dev` group: what .venv (scripts/test,
#                          scripts/demo, CI) installs, hash-checked
# Both are universal (environment markers, every platform's hashes) for Python >= 3.11.
# Extra arguments go to `uv pip compile` (`--upgrade`, `--upgrade-package NAME`).
write_locks() {
    local root="$1" uv="$2"; shift 2
    local common=(--universal --python-version 3.11 --generate-hashes --quiet
                  --custom-compile-command scripts/upgrade-deps "$@")
    (cd "$root" && "$uv" pip compile pyproject.toml "${common[@]}" -o requirements.lock) || return 1
    (cd "$root" && "$uv" pip compile pyproject.toml --extra test --group dev "${common[@]}" \
        -o requirements-dev.lock) || return 1
}
