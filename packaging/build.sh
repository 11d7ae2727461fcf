#!/usr/bin/env bash
# Build the samcut onedir bundle into dist/samcut/ (executable dist/samcut/samcut), plus the
# Krita plug-in zip and the GIMP plug-in folder pointing at it, in dist/.
#   packaging/build.sh [--models DIR] [--checkpoint FILE]
#     DIR: an exported model folder to ship inside (offline use)
#     FILE: a MobileSAM checkpoint the finished bundle installs (as on a user's first run) to self-test
# Uses its own clean venv (packaging/.venv-build) with a regular, non-editable install of samcut.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models=""
checkpoint=""
while [ $# -gt 0 ]; do
    case "$1" in
        --models) models="$(cd "$2" && pwd)"; shift 2 ;;
        --checkpoint) checkpoint="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
        *) echo "usage: packaging/build.sh [--models DIR] [--checkpoint FILE]" >&2; exit 2 ;;
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
# The bundle must run with nothing from the build's Python: in a fresh home, with the shipped model
# or with one the bundle installs itself from --checkpoint (no torch: the first-run path).
check_home="$(mktemp -d)"
trap 'rm -rf "$check_home"' EXIT
bare=(env -i HOME="$check_home" PATH=/usr/bin:/bin QT_QPA_PLATFORM=offscreen)
check_model=()
if [ -n "$checkpoint" ]; then
    "${bare[@]}" "$root/dist/samcut/samcut" models export "$checkpoint" --name build-check >/dev/null || {
        echo "build: the bundle could not install $checkpoint" >&2; exit 1; }
    check_model=(--models build-check)
fi
if [ -n "$models$checkpoint" ]; then
    "${bare[@]}" "$root/dist/samcut/samcut" --self-test ${check_model[@]+"${check_model[@]}"} || {
        echo "build: the bundle's self-test failed" >&2; exit 1; }
else
    "${bare[@]}" "$root/dist/samcut/samcut" --version >/dev/null || { echo "build: the bundle does not start" >&2; exit 1; }
    echo "build: no --models or --checkpoint, so the self-test was skipped (it needs a model)" >&2
fi
echo "built $root/dist/samcut ($(du -sh "$root/dist/samcut" | cut -f1)); plug-ins in $root/dist/plugins"
