#!/usr/bin/env bash
# Set up samcut (a .venv next to this file; no PyTorch) and start the app: ./run.sh [IMAGE]
# With no model installed the app offers to download it; offline, point SAMCUT_CHECKPOINT at a
# copy of the official mobile_sam.pt (checked against its pinned hash) and it is installed on first
# run. Other MobileSAM vit_t weights: .venv/bin/samcut models export FILE, then --models NAME.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/setup.sh" gui
samcut="$root/.venv/bin/samcut"
if [ -n "${SAMCUT_CHECKPOINT:-}" ] && ! "$samcut" models verify >/dev/null 2>&1; then
    "$samcut" models fetch --from "$SAMCUT_CHECKPOINT"
fi
exec "$samcut" "${1:-$root/samples/sample.png}"
