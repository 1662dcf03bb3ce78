#!/usr/bin/env bash
# The guest's busybox initramfs, whose /init is guest/init.sh: scripts/initramfs.sh OUT.cpio.gz
# [BUSYBOX] (default /bin/busybox; the arm64 guest's comes from Debian's arm64 busybox-static)
# (used for the default kernel by scripts/kernel.sh and for a distribution's kernel by
# scripts/debian-kernel.sh: the same /init boots both).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$1 busybox=${2:-/bin/busybox}
ir=$(mktemp -d "${TMPDIR:-/tmp}/ekprobe-initramfs.XXXXXX")
trap 'rm -rf "$ir"' EXIT
mkdir -p "$ir"/{bin,proc,sys,dev,tmp}
cp "$busybox" "$ir/bin/busybox"
for a in sh mount echo cat grep dmesg reboot; do ln -sf busybox "$ir/bin/$a"; done
cp "$here/guest/init.sh" "$ir/init"
chmod +x "$ir/init"
(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -9) > "$out.tmp"
mv "$out.tmp" "$out"
