#!/usr/bin/env bash
# Install the Debian 12 packages a make target needs, only those missing.
# Usage: scripts/deps.sh build|kernel|kernel-arm64|test|bench|demo|demo-arm64|distro
# Why each package is here: docs/dependencies.md.
set -euo pipefail

build_pkgs="gcc make pkg-config libelf-dev libcapstone-dev libjansson-dev libexpat1-dev zlib1g-dev
	libbz2-dev liblzma-dev liblzo2-dev liblz4-dev libzstd-dev libvirt-dev libtraceevent-dev"
test_pkgs="libcmocka-dev clang libclang-rt-14-dev qemu-system-x86 python3 procps libvirt-daemon
	libvirt-daemon-driver-qemu libvirt-clients libtracecmd-dev trace-cmd chromium bsdutils"
# scripts/speedscope.sh fetches a trace viewer with npm: Debian's, unless one is on PATH already.
command -v npm >/dev/null || test_pkgs="$test_pkgs npm"
kernel_pkgs="linux-source-6.1 bc flex bison libelf-dev libssl-dev busybox-static cpio xz-utils gzip"
# arm64 guests (make ARCH=arm64 ...): a cross compiler and qemu-system-aarch64; busybox for arm64
# comes as a .deb fetched by scripts/kernel.sh with apt-get download (dpkg-deb unpacks it).
kernel_arm64_pkgs="linux-source-6.1 bc flex bison libelf-dev libssl-dev gcc-aarch64-linux-gnu cpio xz-utils gzip"
arm64_qemu_pkgs="qemu-system-arm"
bench_pkgs="gdb gdb-multiarch qemu-system-x86 qemu-system-arm bc python3"

want="" libvirt_user=""
for what in "$@"; do
	case "$what" in
	build) want="$want $build_pkgs" ;;
	kernel) want="$want $kernel_pkgs" ;;
	kernel-arm64) want="$want $kernel_arm64_pkgs" ;;
	test) want="$want $build_pkgs $test_pkgs $kernel_pkgs $kernel_arm64_pkgs $arm64_qemu_pkgs"; libvirt_user=1 ;;
	bench) want="$want $build_pkgs $bench_pkgs $kernel_pkgs" ;;
	demo) want="$want $build_pkgs $kernel_pkgs qemu-system-x86" ;;
	demo-arm64) want="$want $build_pkgs $kernel_arm64_pkgs $arm64_qemu_pkgs" ;;
	distro) want="$want apt dpkg busybox-static cpio gzip" ;;
	*) echo "deps.sh: unknown set '$what'" >&2; exit 2 ;;
	esac
done

# libvirt's QEMU driver looks up its user and group (libvirt-qemu) before it reads qemu.conf,
# even when qemu.conf says root; Debian's libvirt-daemon-system makes them, with systemd units
# the tests do not use (tests/integration/libvirtd.sh starts the daemons itself).
make_libvirt_user() {
	[ -n "$libvirt_user" ] || return 0
	getent group libvirt-qemu >/dev/null && getent passwd libvirt-qemu >/dev/null && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "ekprobe: libvirt's QEMU driver needs the libvirt-qemu user and group; as root:" >&2
		echo "ekprobe:   groupadd --system libvirt-qemu && useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu" >&2
		return 1
	fi
	echo "ekprobe: adding the system user and group libvirt-qemu (for libvirt's QEMU driver)" >&2
	getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
	getent passwd libvirt-qemu >/dev/null || useradd --system --gid libvirt-qemu \
		--no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu
}

missing=""
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	make_libvirt_user
	exit
fi

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
make_libvirt_user
