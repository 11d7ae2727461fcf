#!/usr/bin/env bash
# Build the samcut onedir bundle into dist/samcut/ (executable dist/samcut/samcut), plus the
# Krita plug-in zip and the GIMP plug-in folder pointing at it, in dist/.
#   packaging/build.sh [--models DIR]     DIR: an exported model folder to ship inside (offline use)
# Uses its own clean venv (packaging/.venv-build) with a regular, non-editable install of samcut.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models=""
while [ $# -gt 0 ]; do
    case "$1" in
        --models) models="$(cd "$2" && pwd)"; shift 2 ;;
        *) echo "usage: packaging/build.sh [--models DIR]" >&2; exit 2 ;;
    esac
done
venv="$root/packaging/.venv-build"
python="${PYTHON:-python3}"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pyinstaller==6.22.3" \
    "pyinstaller-hooks-contrib==2026.9"
# A regular install (not editable), without torch: the bundle must never contain it.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$root"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$root[gui]"
if "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "build: torch is installed in the build venv; refusing to bundle it" >&2
    exit 1
fi
export SAMCUT_COMMIT="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || true)"
export SAMCUT_BUNDLE_MODELS="$models"
export SAMCUT_BUILD_DIR="$root/packaging/build"
cd "$root/packaging"
"$venv/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$root/dist" --workpath "$root/packaging/build" samcut.spec
"$venv/bin/python" "$root/packaging/prune.py" "$root/dist/samcut"
"$venv/bin/python" "$root/packaging/plugin_packages.py" "$root/dist"
# The bundle must run with nothing from the build's Python.
env -i HOME=/tmp PATH=/usr/bin:/bin QT_QPA_PLATFORM=offscreen "$root/dist/samcut/samcut" --self-test \
    ${models:+--models "$root/dist/samcut/_internal/models/mobile_sam"} || {
    echo "build: the bundle's self-test failed" >&2; exit 1; }
echo "built $root/dist/samcut ($(du -sh "$root/dist/samcut" | cut -f1)); plug-ins in $root/dist/plugins"
