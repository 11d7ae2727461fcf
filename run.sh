#!/usr/bin/env bash
# Set up samcut and run it. Until the desktop window lands, this cuts an object out of an image
# from the command line: ./run.sh [IMAGE X,Y] (default: the red ball in samples/sample.png).
# The first run installs the MobileSAM model: downloaded, or from SAMCUT_CHECKPOINT=FILE if set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$root/scripts/setup.sh" export,dev,gui
samcut="$root/.venv/bin/samcut"
if ! "$samcut" models verify >/dev/null 2>&1; then
    if [ -n "${SAMCUT_CHECKPOINT:-}" ]; then
        "$samcut" models export "$SAMCUT_CHECKPOINT"
    else
        "$samcut" models fetch
    fi
fi
image="${1:-$root/samples/sample.png}"
point="${2:-430,350}"
out="${SAMCUT_OUT:-$PWD/cutout.png}"
"$samcut" segment "$image" --point "$point" --cutout "$out"
echo "wrote $out (the object under $point, with a transparent background)"
