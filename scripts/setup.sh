#!/usr/bin/env bash
# Create .venv (if needed) and install samcut with what it needs. Safe to run again: it only
# reinstalls when pyproject.toml or constraints.txt changed. Usage: scripts/setup.sh [EXTRAS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-export,dev,gui}"
python="${PYTHON:-python3}"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv" >&2
    "$python" -m venv "$venv"
fi
stamp="$venv/.samcut-installed"
want="$extras $(cat "$root/pyproject.toml" "$root/constraints.txt" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing samcut[$extras] into $venv (first time: a few minutes)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    # constraints.txt pins torch to the CPU build; a plain 'torch' would pull a multi-GB CUDA build.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$root/constraints.txt" -e "$root[$extras]"
    echo "$want" > "$stamp"
fi
