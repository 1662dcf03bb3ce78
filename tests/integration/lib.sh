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
# A probe's hit count from a --summary trace: by event and engine, or by event on any engine.
hits() { sed -n "s|^# *\([0-9]*\) *$2 *$1 .*|\1|p" "$3"; } # hits EVENT ENGINE FILE
anyhits() { sed -n "s|^# *\([0-9]*\) *[a-z]* *$1 .*|\1|p" "$2"; } # anyhits EVENT FILE
# QEMU itself (ekprobe-host and `timeout` carry the same words in their command lines).
no_qemu_left() { ! pgrep -f -- "^$(qemu_bin) .*-name $QEMU_NAME" >/dev/null; }

# check_ftrace_coexistence: the kernel's function tracer still traces a jump-probed function,
# and dmesg has no ftrace or text-patching complaint. An entry and a return probe on the same
# function share one jump site (--engine jump: both must take a jump or nothing starts), so
# their counts must match.
check_ftrace_coexistence() {
	local traced n_in n_out
	# shellcheck disable=SC2046
	"$EKPROBE" --engine jump --summary -o "$TMP/ft.txt" -p 'p:ft/in do_one_initcall' \
		-p 'r:ft/out do_one_initcall ret=$retval:s32' \
		-- $(qemu_cmd "$TMP/ftcons") \
		-append "$APPEND ftrace=function ftrace_filter=do_one_initcall ekprobe.dumptrace ekprobe.dmesg" \
		2>"$TMP/ft.err"
	check "ftrace boot: exit 0" [ $? -eq 0 ]
	traced=$(sed -n '/EKPROBE-TRACE-BEGIN/,/EKPROBE-TRACE-END/p' "$TMP/ftcons" | grep -c 'do_one_initcall' || true)
	n_in=$(hits ft/in jump "$TMP/ft.txt") n_out=$(hits ft/out jump "$TMP/ft.txt")
	echo "    in-guest ftrace lines for do_one_initcall: $traced; jump hits: $n_in"
	check "ftrace still traces do_one_initcall" [ "$traced" -gt 50 ]
	check "shared jump site: entries $n_in == returns $n_out" bash -c "[ -n '$n_in' ] && [ '$n_in' = '$n_out' ]"
	check "no ftrace or text-patching warning in dmesg" bash -c \
		"! sed -n '/EKPROBE-DMESG-BEGIN/,/EKPROBE-DMESG-END/p' '$TMP/ftcons' | grep -iE 'ftrace (bug|failed)|ftrace faulted|WARNING|text_poke|Failed to'"
}
