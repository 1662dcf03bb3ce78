#!/usr/bin/env bash
# Attach mode: a QEMU the user started with -S and a gdbstub; probes still fire from the
# first instruction, and ekprobe-host ends when QEMU exits.
. "$(dirname "$0")/lib.sh"
out=$TMP/trace.txt console=$TMP/console.txt
# shellcheck disable=SC2046
$(qemu_cmd "$console") -append "$APPEND" -S -gdb "unix:$TMP/gdb.sock,server=on,wait=off" \
	-qmp "unix:$TMP/qmp.sock,server=on,wait=off" &
qemu=$!
# No wait for the sockets: ekprobe-host's clients retry while QEMU is still creating them.
"$EKPROBE" --summary -o "$out" --symbols "$VMLINUX" --vm "unix:$TMP/gdb.sock" --qmp "$TMP/qmp.sock" \
	-p 'p startup_64' -p 'p start_kernel' 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] || { cat "$TMP/err"; kill $qemu; } # a QEMU held at -S would wait forever
wait $qemu; qrc=$?
check "ekprobe-host exit 0" [ "$rc" -eq 0 ]
check "QEMU exit 0" [ "$qrc" -eq 0 ]
check "held at -S was noticed" grep -q 'held before its first instruction' "$TMP/err"
check "startup_64 once" [ "$(count 'p_startup_64_0:' "$out")" -eq 1 ]
check "start_kernel once" [ "$(count 'p_start_kernel_0:' "$out")" -eq 1 ]
check "guest completed" grep -q EKPROBE-GUEST-DONE "$console"
exit $((failures > 0))
