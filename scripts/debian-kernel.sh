#!/usr/bin/env bash
# Debian 12's own cloud kernel, exactly as it ships, as a guest: the current
# linux-image-*-cloud-amd64 package (the one linux-image-cloud-amd64 depends on) fetched with
# `apt-get download` (never installed), unpacked into the cache (~/.cache/ekprobe or
# $EKPROBE_CACHE) keyed by its package name and version, with the default guest's busybox
# initramfs (guest/init.sh). No vmlinux, no System.map: ekprobe-host reads the symbols from
# the vmlinuz itself. KASLR is on in that kernel (docs/distro.md).
#   scripts/debian-kernel.sh build   fetch and unpack if needed
#   scripts/debian-kernel.sh print   KERNEL=, INITRD=, VERSION= (fetching first if needed)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${EKPROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ekprobe}
meta=linux-image-cloud-amd64

"$here/scripts/deps.sh" distro

# The versioned package the metapackage points at, and its version, from apt's lists.
package() {
	local pkg
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq >&2
		pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || { echo "ekprobe: apt knows no $meta (run apt-get update)" >&2; exit 1; }
	echo "$pkg"
}

pkg=$(package)
version=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2; exit }')
[ -n "$version" ] && [ "$version" != "(none)" ] || { echo "ekprobe: no candidate version of $pkg" >&2; exit 1; }
out=$cache_root/debian-$pkg-$version
kver=${pkg#linux-image-}

build() {
	[ -f "$out/done" ] && return 0
	mkdir -p "$cache_root"
	exec 9>"$cache_root/lock-debian-$pkg-$version"
	flock 9
	[ -f "$out/done" ] && return 0
	# apt downloads as its sandbox user (_apt), who cannot reach a cache under /root: a
	# temporary directory it can write to, of which only what is needed is kept.
	work=$(mktemp -d "${TMPDIR:-/tmp}/ekprobe-debian.XXXXXX")
	trap 'rm -rf "${work:-}"' EXIT
	chmod 0777 "$work"
	echo "ekprobe: fetching $pkg $version with apt-get download (not installed)" >&2
	(cd "$work" && apt-get download -qq "$pkg=$version" >&2)
	dpkg-deb -x "$work"/"${pkg}"_*.deb "$work/x"
	local stage=$out.tmp
	rm -rf "$stage"; mkdir -p "$stage"
	cp "$work/x/boot/vmlinuz-$kver" "$work/x/boot/config-$kver" "$stage/"
	"$here/scripts/initramfs.sh" "$stage/initrd.cpio.gz"
	echo "$pkg $version" > "$stage/done"
	rm -rf "$out" "$work"; mv "$stage" "$out"
	echo "ekprobe: $pkg $version cached at $out" >&2
}

case "${1:-print}" in
build) build ;;
print)
	build
	echo "KERNEL=$out/vmlinuz-$kver"
	echo "INITRD=$out/initrd.cpio.gz"
	echo "VERSION='$pkg $version'"
	;;
*) echo "usage: scripts/debian-kernel.sh build|print" >&2; exit 2 ;;
esac
