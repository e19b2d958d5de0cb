# Sourced by the scripts in this folder: create ./.venv once and activate it.
# Uses pip + venv (not uv) so that torch, when a later step needs it, comes from the CPU wheel
# this machine keeps on disk (see the README).
set -euo pipefail
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
install_project() {
    # The workspace's distributions, editable, plus whatever extra requirements are passed.
    # pip runs only when what it reads changed since the last install: .venv/install.stamp
    # holds a hash of the pyproject.toml files, requirements/*.txt and this file, then one
    # line per argument list installed with them. Editable installs need no reinstall for
    # source changes. Delete the stamp to force a reinstall.
    local stamp=.venv/install.stamp inputs args
    inputs="$(cat pyproject.toml packages/*/pyproject.toml requirements/*.txt scripts/_venv.sh |
        sha256sum | cut -d' ' -f1)"
    args="args $(printf '%s\n' "$@" | sha256sum | cut -d' ' -f1)"
    if [ "$(head -n1 "$stamp" 2>/dev/null)" = "$inputs" ] && grep -qxF "$args" "$stamp"; then
        return 0
    fi
    python -m pip install --quiet -c requirements/constraints.txt \
        -e packages/tracelet-core -e packages/tracelet-collectors -e packages/tracelet-mlflow \
        -e packages/tracelet-wandb -e packages/tracelet-clearml -e packages/tracelet-aim \
        -e ".[report]" "$@"
    if [ "$(head -n1 "$stamp" 2>/dev/null)" != "$inputs" ]; then
        echo "$inputs" >"$stamp"
    fi
    echo "$args" >>"$stamp"
}
