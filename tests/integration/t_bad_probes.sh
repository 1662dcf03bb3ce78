#!/usr/bin/env bash
# Bad probes are refused before anything starts: exit 2, the documented message naming the
# probe's place and the reason, and no QEMU process.
. "$(dirname "$0")/lib.sh"
expect_refused() { # expect_refused DESCRIPTION EXPECTED_STDERR_REGEX ekprobe-args...
	local what=$1 want=$2; shift 2
	# Bounded in time (a hang fails, as exit 124) and in memory (a file read without bound
	# fails rather than taking the machine's memory).
	# shellcheck disable=SC2046
	(ulimit -v 4000000; exec timeout 60 "$EKPROBE" "$@" -- $(qemu_cmd "$TMP/console") \
		-append "$APPEND") >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	if [ "$rc" -eq 2 ] && grep -qE -- "$want" "$TMP/err" && no_qemu_left && [ ! -s "$TMP/console" ]; then
		echo "    ok: $what: $(head -1 "$TMP/err")"
	else
		fail "$what: exit $rc, stderr: $(cat "$TMP/err")"
	fi
}
# The first instruction of start_kernel is 5 bytes long (call __fentry__), so +1 is inside it.
expect_refused "unknown symbol" "error: -p:1:3: unknown symbol 'no_such_function'" \
	-p 'p no_such_function'
expect_refused "malformed spec" "error: -p:2:[0-9]+: " -p 'p start_kernel' -p 'q start_kernel'
expect_refused "offset inside an instruction" \
	"error: -p:1:3: offset 0x1 is inside the instruction at start_kernel\+0x0" -p 'p start_kernel+1'
expect_refused "offset past the end" "error: -p:1:3: offset 0x100000 is past the end of start_kernel" \
	-p 'p start_kernel+0x100000'
expect_refused "unknown register" "error: -p:1:[0-9]+: .*foo" -p 'p start_kernel x=%foo'
expect_refused "\$retval on an entry probe" "error: -p:1:[0-9]+: .*retval" -p 'p start_kernel x=$retval'
printf '# comment\np start_kernel\np setup_arch +0(%%di:u8\n' > "$TMP/probes"
expect_refused "bad line in a probe file" "error: $TMP/probes:3:[0-9]+: " --probes "$TMP/probes"
expect_refused "not a function" "error: -p:1:3: 'init_task' is not a function" -p 'p init_task'
# What --probes and --symbols name is decided by its type, never by blocking on it or reading
# it without end (docs/usage.md).
printf 'p start_kernel\np setup_arch\0 %%foo\n' > "$TMP/nul"
expect_refused "NUL byte in a probe file" "error: $TMP/nul:2:13: NUL byte" --probes "$TMP/nul"
expect_refused "--probes /dev/zero" "error: /dev/zero: not a regular file or a pipe \(a character device\)" \
	--probes /dev/zero
expect_refused "--probes from a pipe without end" \
	"error: /dev/fd/[0-9]+: larger than 16 MiB, the limit for a probe file" --probes <(cat /dev/zero)
mkfifo "$TMP/fifo"
expect_refused "--probes FIFO with no writer" "error: $TMP/fifo: a FIFO with no writer" \
	--probes "$TMP/fifo"
expect_refused "--symbols FIFO" "error: .*$TMP/fifo: not a regular file \(a FIFO or pipe\)" \
	-p 'p start_kernel' --symbols "$TMP/fifo"
expect_refused "--symbols /dev/zero" "error: .*/dev/zero: not a regular file \(a character device\)" \
	-p 'p start_kernel' --symbols /dev/zero
exit $((failures > 0))
