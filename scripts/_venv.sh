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
    python -m pip install --quiet -c requirements/constraints.txt \
        -e packages/tracelet-core -e packages/tracelet-collectors -e packages/tracelet-mlflow \
        -e packages/tracelet-wandb -e packages/tracelet-clearml -e packages/tracelet-aim \
        -e . "$@"
}
