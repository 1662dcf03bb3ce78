#!/usr/bin/env bash
# Install the Debian 12 packages a make target needs, only those missing.
# Usage: scripts/deps.sh build|kernel|test|bench
# Why each package is here: docs/dependencies.md.
set -euo pipefail

build_pkgs="gcc make pkg-config libelf-dev libcapstone-dev libjansson-dev libexpat1-dev zlib1g-dev libtraceevent-dev"
test_pkgs="libcmocka-dev clang libclang-rt-14-dev qemu-system-x86 python3 procps libtracecmd-dev trace-cmd chromium bsdutils"
kernel_pkgs="linux-source-6.1 bc flex bison libelf-dev libssl-dev busybox-static cpio xz-utils gzip"
bench_pkgs="gdb qemu-system-x86 bc python3"

want=""
for what in "$@"; do
	case "$what" in
	build) want="$want $build_pkgs" ;;
	kernel) want="$want $kernel_pkgs" ;;
	test) want="$want $build_pkgs $test_pkgs $kernel_pkgs" ;;
	bench) want="$want $build_pkgs $bench_pkgs $kernel_pkgs" ;;
	demo) want="$want $build_pkgs $kernel_pkgs qemu-system-x86" ;;
	*) echo "deps.sh: unknown set '$what'" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "ekprobe: missing Debian packages:$missing" >&2
	echo "ekprobe: run as root:  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "ekprobe: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# An old or absent package list makes installs fail; refresh once per machine and day.
stamp=/var/lib/apt/periodic/ekprobe-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
	apt-get update -qq >&2
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
