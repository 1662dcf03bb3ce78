#!/usr/bin/env bash
# A QEMU that loads ekprobe's TCG plugin (the plugin engine needs QEMU >= 9.2: register reads
# since 9.0, guest memory reads since 9.2), next to the system's QEMU 7.2 and never replacing it.
#
# Debian 12's bookworm-backports has QEMU 10. Its packages are fetched with `apt-get download`
# (the backports source goes in a file of its own under /etc/apt/sources.list.d; debian.sources
# is never edited) and unpacked with `dpkg -x` into the cache, keyed by the package versions,
# like the guest kernel (scripts/kernel.sh). Nothing is installed.
#   scripts/qemu.sh build   fetch and unpack if needed, progress on stderr
#   scripts/qemu.sh print   print QEMU= (the qemu-system-x86_64 to run) and QEMU_ARGS= (the
#                           options it needs: its own firmware directories, no audio)
#   scripts/qemu.sh env     the same as `export` lines, plus QEMU_MODULE_DIR
# The unpacked QEMU must find its own modules, not the system's 7.2 ones: QEMU_MODULE_DIR
# (in the environment of whoever runs it; ekprobe-host sets it for the QEMU it starts when the
# QEMU lives in this cache, see docs/usage.md).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${EKPROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ekprobe}
pkgs="qemu-system-x86 qemu-system-common qemu-system-data"
suite=bookworm-backports
list=/etc/apt/sources.list.d/ekprobe-bookworm-backports.sources

# The unpacked tree of the newest finished fetch, when one exists (no network needed).
cached() {
	local d best=""
	for d in "$cache_root"/qemu-*/; do
		[ -f "$d/done" ] && best=${d%/}
	done
	[ -n "$best" ] && echo "$best"
}

candidate() { # the version apt would download from the suite
	apt-cache madison "$1" 2>/dev/null | awk -F' *[|] *' -v s="$suite/" 'index($3, s) { print $2; exit }'
}

add_source() {
	[ -f "$list" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "ekprobe: QEMU 10 comes from $suite; as root, add the source:" >&2
		echo "  printf 'Types: deb\\nURIs: http://deb.debian.org/debian\\nSuites: $suite\\nComponents: main\\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\\n' > $list && apt-get update" >&2
		exit 1
	fi
	echo "ekprobe: adding $suite in $list (debian.sources is left as it is)" >&2
	printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$suite" > "$list"
	apt-get update -qq >&2
}

build() {
	local have; have=$(cached || true)
	if [ -n "$have" ] && [ -n "${EKPROBE_NO_FETCH:-}" ]; then echo "$have"; return 0; fi
	add_source
	local versions="" p v
	for p in $pkgs; do
		v=$(candidate "$p")
		if [ -z "$v" ]; then
			[ "$(id -u)" -eq 0 ] && apt-get update -qq >&2 && v=$(candidate "$p")
		fi
		[ -n "$v" ] || { echo "ekprobe: no $p in $suite (apt-get update?)" >&2; exit 1; }
		versions="$versions $p=$v"
	done
	local key; key=$(echo "$versions" | sha256sum | cut -c1-16)
	local out=$cache_root/qemu-$key
	if [ -f "$out/done" ]; then echo "$out"; return 0; fi
	mkdir -p "$cache_root"
	exec 9>"$cache_root/lock-qemu-$key"
	flock 9
	if [ -f "$out/done" ]; then echo "$out"; return 0; fi
	local work; work=$(mktemp -d "$cache_root/qemu-work.XXXXXX")
	echo "ekprobe: fetching$versions" >&2
	# apt-get download runs as the _apt user when root: give it a directory it may write.
	chmod 0777 "$work"
	# shellcheck disable=SC2086
	(cd "$work" && apt-get download -q $versions >&2)
	local stage=$out.tmp
	rm -rf "$stage"; mkdir -p "$stage"
	for deb in "$work"/*.deb; do dpkg -x "$deb" "$stage"; done
	rm -rf "$work"
	[ -x "$stage/usr/bin/qemu-system-x86_64" ] || { echo "ekprobe: no qemu-system-x86_64 in the packages" >&2; exit 1; }
	echo "$versions" > "$stage/done"
	rm -rf "$out"; mv "$stage" "$out"
	echo "ekprobe: QEMU unpacked at $out" >&2
	echo "$out"
}

case "${1:-print}" in
build) build >/dev/null ;;
print|env)
	dir=$(build)
	args="-L $dir/usr/share/seabios -L $dir/usr/share/qemu -audio none"
	if [ "$1" = env ]; then
		echo "export QEMU=$dir/usr/bin/qemu-system-x86_64"
		echo "export QEMU_ARGS=\"$args\""
		echo "export QEMU_MODULE_DIR=$dir/usr/lib/x86_64-linux-gnu/qemu"
	else
		echo "QEMU=$dir/usr/bin/qemu-system-x86_64"
		echo "QEMU_ARGS=$args"
	fi
	;;
dir) build ;;
*) echo "usage: scripts/qemu.sh build|print|env|dir" >&2; exit 2 ;;
esac
