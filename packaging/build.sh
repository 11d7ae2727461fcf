#!/usr/bin/env bash
# Kept for .ci/run and old habits: the build is packaging/build.py (the same on Linux, Windows, macOS).
exec "${PYTHON:-python3}" "$(dirname "${BASH_SOURCE[0]}")/build.py" "$@"
