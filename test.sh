#!/usr/bin/env bash
# Run samcut's whole test suite (sets up .venv first). Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/setup.sh" export,dev,gui
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
