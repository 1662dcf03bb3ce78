#!/usr/bin/env bash
# SIGINT mid-boot: every breakpoint removed, the guest resumed and run to its end, the trace
# complete (the summary counts exactly the events written), QEMU's exit status passed on.
. "$(dirname "$0")/lib.sh"
out=$TMP/trace.txt console=$TMP/console.txt
# shellcheck disable=SC2046
"$EKPROBE" --summary -o "$out" -p 'p:hot/alloc __alloc_pages order=%si:u32' \
	-- $(qemu_cmd "$console") -append "$APPEND" 2>"$TMP/err" &
pid=$!
# Wait for the 50th event (a real event, not a delay), then interrupt.
timeout 120 tail -n +1 -F "$out" 2>/dev/null | grep -m 50 -q 'hot/alloc:'
kill -INT $pid
wait $pid; rc=$?
events=$(count 'hot/alloc:' "$out")
summary=$(sed -n 's/^# *\([0-9]*\) *trap *hot\/alloc.*/\1/p' "$out")
echo "    $events events written, summary says ${summary:-?}"
check "exit status 0 (QEMU ran to its end)" [ "$rc" -eq 0 ]
check "detached on the signal" grep -q 'detached on signal' "$out"
check "summary equals events written" [ "$events" = "$summary" ]
check "stopped well before the ~3600 allocations of a boot" [ "$events" -lt 3000 ]
check "guest ran to its end after the detach" grep -q EKPROBE-GUEST-DONE "$console"
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
