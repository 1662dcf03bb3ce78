# Helpers for the integration tests: real QEMU, the real default kernel, the real binary.
# shellcheck shell=bash
set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EKPROBE=$top/build/ekprobe-host
# A test of the arm64 default guest sets EKPROBE_IT_ARCH=arm64 before it sources this file.
IT_ARCH=${EKPROBE_IT_ARCH:-x86_64}
if [ -n "${EKPROBE_BZIMAGE:-}" ] && [ "$IT_ARCH" = x86_64 ]; then # a guest given from outside (same layout as the cache)
	BZIMAGE=$EKPROBE_BZIMAGE INITRD=${EKPROBE_INITRD:?} VMLINUX=${EKPROBE_VMLINUX:?}
else
	eval "$(EKPROBE_ARCH=$IT_ARCH "$top/scripts/kernel.sh" print)"
fi
SYSMAP=$(dirname "$VMLINUX")/System.map
TMP=$(mktemp -d /tmp/ekprobe-it.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# Every QEMU a test starts carries this name, so a test can prove none is left running.
QEMU_NAME=ekprobe-it-$$
APPEND="console=ttyS0 panic=-1 quiet nokaslr"
if [ "$IT_ARCH" = arm64 ]; then
	APPEND="console=ttyAMA0 panic=-1 quiet nokaslr"
fi

# The QEMU binary and its machine options, read at each call so that a test can run one boot on
# another QEMU (EKPROBE_QEMU=... qemu_cmd ..., as t_plugin does with QEMU 10):
# x86_64: EKPROBE_QEMU=/path/to/qemu-system-x86_64 and EKPROBE_QEMU_ARGS for what it needs (-L
# firmware directories, ...); arm64: EKPROBE_QEMU_AARCH64(_ARGS). Default: Debian's.
qemu_bin() {
	if [ "$IT_ARCH" = arm64 ]; then echo "${EKPROBE_QEMU_AARCH64:-qemu-system-aarch64}"
	else echo "${EKPROBE_QEMU:-qemu-system-x86_64}"; fi
}
qemu_machine() {
	if [ "$IT_ARCH" = arm64 ]; then echo "-M virt -cpu max ${EKPROBE_QEMU_AARCH64_ARGS:-}"
	else echo "${EKPROBE_QEMU_ARGS:-}"; fi
}
qemu_cmd() { # qemu_cmd CONSOLE_FILE [extra QEMU args...]
	local console=$1; shift
	# shellcheck disable=SC2046
	echo "$(qemu_bin)" $(qemu_machine) -name "$QEMU_NAME" \
		-display none -serial "file:$console" \
		-no-reboot -m 256 -kernel "$BZIMAGE" -initrd "$INITRD" "$@"
}

failures=0
fail() { echo "    FAIL: $*"; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then echo "    ok: $what"; else fail "$what"; fi
}
count() { grep -c -- "$1" "$2" || true; }
# QEMU itself (ekprobe-host and `timeout` carry the same words in their command lines).
no_qemu_left() { ! pgrep -f -- "^$(qemu_bin) .*-name $QEMU_NAME" >/dev/null; }
