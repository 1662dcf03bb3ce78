#!/usr/bin/env bash
# Build (or reuse) the embedded default guest: a small x86_64 Linux 6.1 from Debian's
# linux-source-6.1, with the config fragment and patches under guest/linux-6.1, the host/guest
# ABI headers include/ekprobe/abi.h and abi_eval.h (copied to include/linux/ekprobe_abi.h and
# ekprobe_abi_eval.h for the patch), and a busybox initramfs whose /init is guest/init.sh.
#
# The result is cached outside the clone, keyed by everything that goes into it (source
# package version, build recipe, fragment, patches, ABI headers), so a second run reuses it.
# The cache directory also holds the abi.h and abi_eval.h the kernel was built with. The
# initramfs is cached beside it under its own key (/init, scripts/initramfs.sh, busybox): a
# change to /init builds a new initramfs in a second, never a kernel.
# EKPROBE_KERNEL_VARIANT=unpatched builds the same x86_64 kernel without the ekprobe guest patch
# (and without CONFIG_EKPROBE_GUEST), cached under its own key: the plugin engine's tests run on it.
#   scripts/kernel.sh build   build if needed, print progress on stderr
#   scripts/kernel.sh print   print BZIMAGE=, VMLINUX=, INITRD= (building first if needed)
#   scripts/kernel.sh dir     print the kernel's cache directory; initrd: the initramfs's path
#
# EKPROBE_ARCH=arm64 (make ARCH=arm64) builds the arm64 default guest instead: the same source
# cross-built with gcc-aarch64-linux-gnu from guest/linux-6.1/arm64/ekprobe.config, its Image
# as BZIMAGE=, and an initramfs around Debian's busybox-static for arm64 (the .deb fetched with
# apt-get download through a private arm64 package list under the cache, never installed).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${EKPROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ekprobe}
guest=$here/guest/linux-6.1
arch=${EKPROBE_ARCH:-x86_64}
case "$arch" in
x86_64 | x86 | amd64) arch=x86_64 ;;
arm64 | aarch64) arch=arm64 ;;
*) echo "ekprobe: unknown guest architecture '$arch' (x86_64 or arm64)" >&2; exit 2 ;;
esac

# What a calling make or shell passes on (make ARCH=arm64 test's MAKEFLAGS, an exported ARCH or
# CROSS_COMPILE) must not reach the kernel's make: each build below names its own.
unset ARCH CROSS_COMPILE MAKEFLAGS MFLAGS MAKEOVERRIDES

if [ -z "${EKPROBE_NO_BUILD:-}" ]; then
	if [ "$arch" = arm64 ]; then "$here/scripts/deps.sh" kernel-arm64; else "$here/scripts/deps.sh" kernel; fi
fi

# arm64: Debian's busybox-static for arm64, fetched once into the cache with apt-get download
# from a private package list (the host's apt configuration and dpkg are left as they are).
busybox_deb=""
fetch_busybox_arm64() {
	local d=$cache_root/debs-arm64
	busybox_deb=$(ls "$d"/busybox-static_*_arm64.deb 2>/dev/null | tail -n1 || true)
	[ -n "$busybox_deb" ] && return 0
	[ -n "${EKPROBE_NO_BUILD:-}" ] && return 1
	local a=$cache_root/apt-arm64
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$d"
	local opts=(-o "APT::Architectures=arm64" -o "Dir::State::Lists=$a/lists"
		-o "Dir::Cache=$a/cache" -o "Acquire::Languages=none" -q)
	echo "ekprobe: fetching the arm64 package list (private, under $a)..." >&2
	apt-get "${opts[@]}" update >&2
	(cd "$d" && apt-get "${opts[@]}" download busybox-static:arm64 >&2)
	busybox_deb=$(ls "$d"/busybox-static_*_arm64.deb 2>/dev/null | tail -n1 || true)
	[ -n "$busybox_deb" ] || { echo "ekprobe: apt-get download busybox-static:arm64 gave no .deb" >&2; return 1; }
}

if [ "$arch" = arm64 ]; then
	fetch_busybox_arm64 || { echo "ekprobe: no busybox-static arm64 .deb in the cache" >&2; exit 1; }
	fragment=$guest/arm64/ekprobe.config
	patchdir=$guest/arm64/patches
	make_arch=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
	image_target=Image
	image_path=arch/arm64/boot/Image
else
	fragment=$guest/ekprobe.config
	patchdir=$guest/patches
	make_arch=()
	image_target=bzImage
	image_path=arch/x86/boot/bzImage
fi
patches=("$patchdir"/*.patch)
variant=${EKPROBE_KERNEL_VARIANT:-default}
case "$variant" in default|unpatched) ;; *) echo "kernel.sh: unknown variant '$variant'" >&2; exit 2 ;; esac
if [ "$variant" = unpatched ]; then
	[ "$arch" = x86_64 ] || { echo "kernel.sh: the unpatched variant is x86_64's" >&2; exit 2; }
	patches=()
	fragment=$(mktemp); trap 'rm -f "$fragment"' EXIT
	grep -v '^CONFIG_EKPROBE_GUEST=' "$guest/ekprobe.config" > "$fragment"
fi

# Bump when the build steps below change what they produce (the script text itself is not
# hashed, so comments and messages can change without a rebuild).
recipe=4
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( {
	echo "linux-source-6.1 $src_version recipe $recipe"
	if [ "$arch" = arm64 ]; then
		# A separate key space: the x86_64 key (the lines below, unchanged) stays as it was.
		echo "arch arm64 gcc-aarch64-linux-gnu $(dpkg-query -W -f='${Version}' gcc-aarch64-linux-gnu)"
		echo "$(basename "$busybox_deb") $(sha256sum < "$busybox_deb")"
	fi
	[ "$variant" = default ] || echo "variant $variant"
	# The key hashed /init (guest/init.sh) until the initramfs got its own cache entry (below);
	# it hashes that text, frozen in guest/kernel-key-init.sh, so that the kernels already
	# cached keep their keys. Never edit that file: /init is guest/init.sh.
	cat "$fragment" "$here/guest/kernel-key-init.sh"
	for p in "${patches[@]}"; do [ -e "$p" ] && { basename "$p"; cat "$p"; }; done
	# The guest patches include them (x86_64's lines as ever: its keys did not move when the
	# arm64 patch came).
	echo "abi.h"; cat "$here/include/ekprobe/abi.h"
	echo "abi_eval.h"; cat "$here/include/ekprobe/abi_eval.h"
	if [ "$arch" = arm64 ]; then
		echo "abi_arm64.h"; cat "$here/include/ekprobe/abi_arm64.h"
	fi
} | sha256sum | cut -c1-16)
out=$cache_root/kernel-$key

# The initramfs (/init is guest/init.sh) is cached apart from the kernel, keyed by what goes
# into it: changing /init builds a new initramfs (a second), never a kernel.
initrd_key=$( {
	echo "initramfs $arch"
	cat "$here/guest/init.sh" "$here/scripts/initramfs.sh"
	if [ "$arch" = arm64 ]; then basename "$busybox_deb"; sha256sum < "$busybox_deb"
	else sha256sum < /bin/busybox; fi
} | sha256sum | cut -c1-16)
initrd=$cache_root/initrd-$initrd_key.cpio.gz

build_initrd() {
	[ -f "$initrd" ] && return 0
	# (even under EKPROBE_NO_BUILD, which is about kernels: this takes a second)
	mkdir -p "$cache_root"
	local w
	w=$(mktemp -d "$cache_root/initrd-work.XXXXXX")
	if [ "$arch" = arm64 ]; then
		dpkg-deb -x "$busybox_deb" "$w/busybox-deb"
		"$here/scripts/initramfs.sh" "$w/initrd.cpio.gz" "$w/busybox-deb/bin/busybox"
	else
		"$here/scripts/initramfs.sh" "$w/initrd.cpio.gz"
	fi
	mv "$w/initrd.cpio.gz" "$initrd" # a rename: a reader sees the whole file or none
	rm -rf "$w"
}

build() {
	[ -f "$out/done" ] && return 0
	[ -n "${EKPROBE_NO_BUILD:-}" ] && return 1
	# One build per key at a time: a second caller waits for the first and reuses its result.
	mkdir -p "$cache_root"
	exec 9>"$cache_root/lock-$key"
	if ! flock -n 9; then
		echo "ekprobe: another build of this kernel is running; waiting for it..." >&2
		flock 9
	fi
	[ -f "$out/done" ] && return 0
	local work=$cache_root/work-$key
	rm -rf "$work"; mkdir -p "$work"
	echo "ekprobe: building guest kernel (linux-source-6.1 $src_version, key $key) in $work" >&2
	echo "ekprobe: unpacking sources..." >&2
	tar -C "$work" -xf /usr/src/linux-source-6.1.tar.xz
	local ksrc=$work/linux-source-6.1
	for p in "${patches[@]}"; do
		[ -e "$p" ] || continue
		echo "ekprobe: applying $(basename "$p")" >&2
		patch -d "$ksrc" -p1 --forward --batch < "$p" >&2
	done
	# The guest patch includes <linux/ekprobe_abi.h> and <linux/ekprobe_abi_eval.h>: the host's
	# headers, byte for byte.
	cp "$here/include/ekprobe/abi.h" "$ksrc/include/linux/ekprobe_abi.h"
	cp "$here/include/ekprobe/abi_eval.h" "$ksrc/include/linux/ekprobe_abi_eval.h"
	# arm64's register frame (the rest of the ABI is abi.h's).
	if [ "$arch" = arm64 ]; then
		cp "$here/include/ekprobe/abi_arm64.h" "$ksrc/include/linux/ekprobe_abi_arm64.h"
	fi
	echo "ekprobe: configuring $arch (tinyconfig + ${fragment#"$here"/})..." >&2
	make -C "$ksrc" -s "${make_arch[@]}" tinyconfig >&2
	"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$ksrc" "$ksrc/.config" "$fragment" >/dev/null
	make -C "$ksrc" -s "${make_arch[@]}" olddefconfig >&2
	# Verify the fragment took: a dependency we did not satisfy silently drops an option.
	local missing=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		grep -qx "$line" "$ksrc/.config" || { echo "ekprobe: config option not applied: $line" >&2; missing=1; }
	done < "$fragment"
	[ $missing -eq 0 ] || { echo "ekprobe: kernel config fragment did not apply" >&2; exit 1; }
	echo "ekprobe: compiling $image_target with $(nproc) jobs (several minutes)..." >&2
	local t0=$SECONDS
	make -C "$ksrc" -s "${make_arch[@]}" -j"$(( $(nproc) + 1 ))" "$image_target" >&2
	echo "ekprobe: kernel built in $((SECONDS - t0)) s" >&2

	local stage=$out.tmp
	rm -rf "$stage"; mkdir -p "$stage"
	cp "$ksrc/$image_path" "$ksrc/vmlinux" "$ksrc/System.map" "$ksrc/.config" "$stage/"
	cp "$ksrc/include/linux/ekprobe_abi.h" "$stage/abi.h"
	cp "$ksrc/include/linux/ekprobe_abi_eval.h" "$stage/abi_eval.h"
	if [ "$arch" = arm64 ]; then
		cp "$ksrc/include/linux/ekprobe_abi_arm64.h" "$stage/abi_arm64.h"
	fi
	echo "$src_version $key" > "$stage/done"
	rm -rf "$out"; mv "$stage" "$out"
	# Keep the source tree for the next incremental look, but only the newest one; never the
	# tree of a build that is running now (its per-key lock is held).
	local w
	for w in "$cache_root"/work-*; do
		[ -d "$w" ] && [ "$w" != "$work" ] || continue
		( flock -n 8 && rm -rf "$w" ) 8>"$cache_root/lock-${w##*/work-}" 2>/dev/null || true
	done
	rm -rf "$ksrc"/.tmp_* 2>/dev/null || true
	echo "ekprobe: guest cached at $out" >&2
}

case "${1:-print}" in
build) build && build_initrd ;;
print)
	build
	build_initrd
	echo "BZIMAGE=$out/$(basename "$image_path")"
	echo "VMLINUX=$out/vmlinux"
	echo "INITRD=$initrd"
	;;
dir) build; echo "$out" ;;
initrd) build_initrd; echo "$initrd" ;;
*) echo "usage: scripts/kernel.sh build|print|dir|initrd" >&2; exit 2 ;;
esac
