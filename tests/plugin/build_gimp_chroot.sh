#!/usr/bin/env bash
# Build (once) a Debian 13 chroot with GIMP 3 and its Python support, for the real-host tests.
# Usage: tests/plugin/build_gimp_chroot.sh ROOT      (about 2 minutes and 750 MB the first time)
set -euo pipefail
root="$1"
if [ -x "$root/usr/bin/gimp-console-3.0" ] && [ -f "$root/.samcut-ready" ]; then
    exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq --no-install-recommends debootstrap; }
mkdir -p "$root"
if [ ! -x "$root/usr/bin/apt-get" ]; then
    debootstrap --variant=minbase trixie "$root" http://deb.debian.org/debian
fi
cat > "$root/etc/apt/sources.list" <<'LIST'
deb http://deb.debian.org/debian trixie main
deb http://deb.debian.org/debian trixie-updates main
deb http://deb.debian.org/debian-security trixie-security main
LIST
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT
chroot "$root" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends \
    gimp python3 python3-gi gir1.2-gimp-3.0 >/dev/null
chroot "$root" apt-get clean
touch "$root/.samcut-ready"
