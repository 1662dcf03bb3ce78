#!/usr/bin/env bash
# Build (or reuse) the embedded default guest: a small x86_64 Linux 6.1 from Debian's
# linux-source-6.1, with the config fragment and patches under guest/linux-6.1, the host/guest
# ABI headers include/ekprobe/abi.h and abi_eval.h (copied to include/linux/ekprobe_abi.h and
# ekprobe_abi_eval.h for the patch), and a busybox initramfs whose /init is guest/init.sh.
#
# The result is cached outside the clone, keyed by everything that goes into it (source
# package version, build recipe, fragment, patches, ABI headers, /init), so a second run reuses
# it. The cache directory also holds the abi.h and abi_eval.h the kernel was built with.
# EKPROBE_KERNEL_VARIANT=unpatched builds the same kernel without the ekprobe guest patch (and
# without CONFIG_EKPROBE_GUEST), cached under its own key: the plugin engine's tests run on it.
#   scripts/kernel.sh build   build if needed, print progress on stderr
#   scripts/kernel.sh print   print BZIMAGE=, VMLINUX=, INITRD= (building first if needed)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${EKPROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ekprobe}
guest=$here/guest/linux-6.1

[ -n "${EKPROBE_NO_BUILD:-}" ] || "$here/scripts/deps.sh" kernel

# Bump when the build steps below change what they produce (the script text itself is not
# hashed, so comments and messages can change without a rebuild).
recipe=4
variant=${EKPROBE_KERNEL_VARIANT:-default}
case "$variant" in default|unpatched) ;; *) echo "kernel.sh: unknown variant '$variant'" >&2; exit 2 ;; esac
fragment=$guest/ekprobe.config
patches=("$guest"/patches/*.patch)
if [ "$variant" = unpatched ]; then
	patches=()
	fragment=$(mktemp); trap 'rm -f "$fragment"' EXIT
	grep -v '^CONFIG_EKPROBE_GUEST=' "$guest/ekprobe.config" > "$fragment"
fi
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( {
	echo "linux-source-6.1 $src_version recipe $recipe"
	[ "$variant" = default ] || echo "variant $variant"
	cat "$fragment" "$here/guest/init.sh"
	for p in "${patches[@]}"; do [ -e "$p" ] && { basename "$p"; cat "$p"; }; done
	echo "abi.h"; cat "$here/include/ekprobe/abi.h"
	echo "abi_eval.h"; cat "$here/include/ekprobe/abi_eval.h"
} | sha256sum | cut -c1-16)
out=$cache_root/kernel-$key

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
	echo "ekprobe: configuring (tinyconfig + guest/linux-6.1/ekprobe.config)..." >&2
	make -C "$ksrc" -s tinyconfig >&2
	"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$ksrc" "$ksrc/.config" "$fragment" >/dev/null
	make -C "$ksrc" -s olddefconfig >&2
	# Verify the fragment took: a dependency we did not satisfy silently drops an option.
	local missing=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		grep -qx "$line" "$ksrc/.config" || { echo "ekprobe: config option not applied: $line" >&2; missing=1; }
	done < "$fragment"
	[ $missing -eq 0 ] || { echo "ekprobe: kernel config fragment did not apply" >&2; exit 1; }
	echo "ekprobe: compiling bzImage with $(nproc) jobs (several minutes)..." >&2
	local t0=$SECONDS
	make -C "$ksrc" -s -j"$(( $(nproc) + 1 ))" bzImage >&2
	echo "ekprobe: kernel built in $((SECONDS - t0)) s" >&2

	echo "ekprobe: building initramfs..." >&2
	"$here/scripts/initramfs.sh" "$work/initrd.cpio.gz"

	local stage=$out.tmp
	rm -rf "$stage"; mkdir -p "$stage"
	cp "$ksrc/arch/x86/boot/bzImage" "$ksrc/vmlinux" "$ksrc/System.map" "$ksrc/.config" "$stage/"
	cp "$work/initrd.cpio.gz" "$stage/"
	cp "$ksrc/include/linux/ekprobe_abi.h" "$stage/abi.h"
	cp "$ksrc/include/linux/ekprobe_abi_eval.h" "$stage/abi_eval.h"
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
build) build ;;
print)
	build
	echo "BZIMAGE=$out/bzImage"
	echo "VMLINUX=$out/vmlinux"
	echo "INITRD=$out/initrd.cpio.gz"
	;;
dir) build; echo "$out" ;;
*) echo "usage: scripts/kernel.sh build|print|dir" >&2; exit 2 ;;
esac
