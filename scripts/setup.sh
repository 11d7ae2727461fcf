#!/usr/bin/env bash
# Create .venv (if needed) and install samcut with what it needs. Safe to run again: it only
# installs when pyproject.toml or constraints.txt changed, or when an extra is asked for that is
# not installed yet (extras already there are kept). Usage: scripts/setup.sh [EXTRAS]
#   gui               what running the app needs (./run.sh): numpy, onnxruntime, Pillow, PySide6
#   export,dev,gui    what the tests need (./test.sh): also torch (CPU build) and the dev tools
#   ray               samcut batch --ray (Ray Data; its tests skip without it)
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
sources="$(cat "$root/pyproject.toml" "$root/constraints.txt" | sha256sum | cut -c1-16)"
have=""
if [ -f "$stamp" ] && [ "$(cut -d' ' -f2 "$stamp")" = "$sources" ]; then
    have="$(cut -d' ' -f1 "$stamp")"
fi
want="$(printf '%s\n' ${have//,/ } ${extras//,/ } | sort -u | paste -sd, -)"
if [ "$want" != "$have" ]; then
    echo "setup: installing samcut[$want] into $venv (first time: a minute or more)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    if [[ ",$want," == *",export,"* ]] && ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
        # PyPI's torch for Linux is the CUDA build (about 2.5 GB with its nvidia-* packages); the tests
        # need the CPU build (about 190 MB download, 700 MB installed) from PyTorch's own CPU index.
        # Where that index cannot be reached, pip's usual sources are used (see the README).
        torch_pin="$(grep -E '^torch==' "$root/constraints.txt")"
        echo "setup: installing PyTorch's CPU build ($torch_pin), used only by the tests" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --progress-bar off --timeout 30 \
            --retries 1 --index-url https://download.pytorch.org/whl/cpu "$torch_pin" \
            || "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --progress-bar off "$torch_pin"
    fi
    # constraints.txt pins torch's version; its CPU build is already in place (above).
    # Only the lines that show progress are printed.
    "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -c "$root/constraints.txt" \
        -e "$root[$want]" 2>&1 | { grep -E '^(Collecting|Installing|Successfully|ERROR|error)' || true; } >&2
    echo "$want $sources" > "$stamp"
fi
