#!/usr/bin/env bash
# Faults while a guest is probed, in launch and attach mode: QEMU killed, the gdbstub closed,
# one and two signals, a stalled gdbstub, the trace output full. For each: the exit status
# docs/usage.md promises, a message naming the fault, every JSON line valid, and no QEMU and
# no socket directory left behind. Every run has a watchdog, so a hang fails. (Not `timeout`:
# it ignores a signal after forwarding it once, so a second one would never arrive.)
. "$(dirname "$0")/lib.sh"
export TMPDIR=$TMP/sockdir # ekprobe-host's private socket directories go here
mkdir -p "$TMPDIR"
HOT=(-p 'p:hot/alloc __alloc_pages order=%si:u32 c=$comm') # ~3,500 trap hits: a slow boot

hmp() { # hmp SOCKET COMMAND: one human-monitor command on a -monitor unix socket
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
s.recv(4096)  # banner and prompt
s.sendall(sys.argv[2].encode() + b"\n")
time.sleep(0.2)
PY
}
json_ok() { # every line of FILE is a JSON object
	python3 - "$1" <<'PY'
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    assert line.endswith("\n"), f"line {n} is cut"
    assert isinstance(json.loads(line), dict), f"line {n}"
PY
}
wait_events() { # wait_events FILE N: the trace holds N events (a real event, not a delay)
	timeout 120 tail -n +1 -F "$1" 2>/dev/null | grep -m "$2" -q '"probe":"hot/alloc"'
}
wait_line() { # wait_line FILE TEXT: FILE has a line with TEXT (written by a process, not a delay)
	timeout 120 tail -n +1 -F "$1" 2>/dev/null | grep -m 1 -qF -- "$2"
}
no_sockdir_left() { [ -z "$(ls -A "$TMPDIR")" ]; }
watch() { # watch PID: SIGKILL it after 120 s (reap stops the watchdog)
	( sleep 120; kill -9 "$1" 2>/dev/null ) &
	watchdog=$!
}
reap() { # reap PID: wait for it; its status in rc
	wait "$1"; rc=$?
	kill "$watchdog" 2>/dev/null; wait "$watchdog" 2>/dev/null
}
qemu_pid() { pgrep -f -- "^${EKPROBE_QEMU:-qemu-system-x86_64} .*-name $QEMU_NAME" | head -1; }
clean_checks() { # clean_checks WHAT OUT
	check "$1: every JSON line valid" json_ok "$2"
	check "$1: no QEMU left" no_qemu_left
	check "$1: no socket directory left" no_sockdir_left
}

# ---- launch mode ---------------------------------------------------------------------------

launch() { # launch OUT ERR [ekprobe options...]: ekprobe-host in the background
	local out=$1 err=$2; shift 2
	# shellcheck disable=SC2046
	"$EKPROBE" --summary --format json -o "$out" --timeout 2000 "$@" "${HOT[@]}" \
		-- $(qemu_cmd "$TMP/console" -monitor "unix:$TMP/mon.sock,server=on,wait=off") \
		-append "$APPEND" 2>"$err" &
	ekpid=$!
	watch $ekpid
}

out=$TMP/l-kill.json
launch "$out" "$TMP/l-kill.err"
wait_events "$out" 20
kill -9 "$(qemu_pid)"
reap $ekpid
check "launch, QEMU killed: exit 137 (128+9)" [ "$rc" -eq 137 ]
check "launch, QEMU killed: says so" grep -q 'QEMU was killed by signal 9' "$TMP/l-kill.err"
check "launch, QEMU killed: summary says so" grep -q '"end":"QEMU killed by signal 9"' "$out"
clean_checks "launch, QEMU killed" "$out"

out=$TMP/l-gdb.json
launch "$out" "$TMP/l-gdb.err"
wait_events "$out" 20
hmp "$TMP/mon.sock" "gdbserver none"
reap $ekpid
check "launch, gdbstub closed: exit 1" [ "$rc" -eq 1 ]
check "launch, gdbstub closed: says the connection was lost" \
	grep -q 'lost the connection to QEMU.s gdbstub' "$TMP/l-gdb.err"
clean_checks "launch, gdbstub closed" "$out"

out=$TMP/l-sig1.json
launch "$out" "$TMP/l-sig1.err"
wait_events "$out" 20
kill -INT $ekpid
reap $ekpid
check "launch, one signal: exit 0 (QEMU's)" [ "$rc" -eq 0 ]
check "launch, one signal: detached" grep -q '"end":"detached on signal, guest resumed"' "$out"
check "launch, one signal: the guest ran to its end" grep -q EKPROBE-GUEST-DONE "$TMP/console"
clean_checks "launch, one signal" "$out"

out=$TMP/l-sig2.json
launch "$out" "$TMP/l-sig2.err"
wait_events "$out" 5
kill -INT $ekpid
timeout 60 tail -n +1 -F "$TMP/l-sig2.err" 2>/dev/null | grep -m1 -q 'waiting for QEMU to exit'
hmp "$TMP/mon.sock" "stop" # QEMU would now wait forever
kill -INT $ekpid
reap $ekpid
check "launch, two signals: exit with QEMU's status (0 or 143), not 1" \
	bash -c "[ $rc -eq 0 ] || [ $rc -eq 143 ]"
check "launch, two signals: terminated QEMU" grep -q 'terminating QEMU' "$TMP/l-sig2.err"
check "launch, two signals: no error, no stale reason" bash -c "! grep -q 'error:' '$TMP/l-sig2.err'"
clean_checks "launch, two signals" "$out"

# shellcheck disable=SC2046
timeout 120 "$EKPROBE" -o /dev/full --timeout 2000 "${HOT[@]}" \
	-- $(qemu_cmd "$TMP/console") -append "$APPEND" 2>"$TMP/l-full.err"; rc=$?
check "launch, -o /dev/full: exit 1" [ "$rc" -eq 1 ]
check "launch, -o /dev/full: names the error" grep -q 'No space left on device' "$TMP/l-full.err"
check "launch, -o /dev/full: no QEMU left" no_qemu_left
check "launch, -o /dev/full: no socket directory left" no_sockdir_left

# A file limit of 16 KiB: the trace fills it part-way through a line.
out=$TMP/l-fsize.json
( ulimit -f 16
  # shellcheck disable=SC2046
  exec timeout 120 "$EKPROBE" --format json -o "$out" --timeout 2000 "${HOT[@]}" \
	-- $(qemu_cmd "$TMP/console") -append "$APPEND" 2>"$TMP/l-fsize.err" ); rc=$?
check "launch, output file full: exit 1" [ "$rc" -eq 1 ]
check "launch, output file full: names the file" grep -q "$out" "$TMP/l-fsize.err"
check "launch, output file full: wrote something" [ -s "$out" ]
clean_checks "launch, output file full" "$out"

# ---- attach mode ---------------------------------------------------------------------------

start_qemu() { # a QEMU held at -S with a gdbstub, QMP and a monitor
	rm -f "$TMP"/g.sock "$TMP"/q.sock "$TMP"/m.sock "$TMP/console"
	# shellcheck disable=SC2046
	$(qemu_cmd "$TMP/console") -append "$APPEND" -S -gdb "unix:$TMP/g.sock,server=on,wait=off" \
		-qmp "unix:$TMP/q.sock,server=on,wait=off" \
		-monitor "unix:$TMP/m.sock,server=on,wait=off" &
	qpid=$!
}
attach() { # attach OUT ERR: ekprobe-host on that QEMU, in the background
	"$EKPROBE" --summary --format json -o "$1" --timeout 2000 --symbols "$VMLINUX" \
		--vm "unix:$TMP/g.sock" --qmp "$TMP/q.sock" "${HOT[@]}" 2>"$2" &
	ekpid=$!
	watch $ekpid
}

start_qemu
out=$TMP/a-kill.json
attach "$out" "$TMP/a-kill.err"
wait_events "$out" 20
kill -9 $qpid
reap $ekpid
wait $qpid 2>/dev/null
check "attach, QEMU killed: exit 0 (QEMU exited)" [ "$rc" -eq 0 ]
check "attach, QEMU killed: the summary says QEMU exited" grep -q '"end":"guest exited"' "$out"
clean_checks "attach, QEMU killed" "$out"

start_qemu
out=$TMP/a-gdb.json
attach "$out" "$TMP/a-gdb.err"
wait_events "$out" 20
hmp "$TMP/m.sock" "gdbserver none"
reap $ekpid
check "attach, gdbstub closed: exit 1" [ "$rc" -eq 1 ]
check "attach, gdbstub closed: says the connection was lost" \
	grep -q 'lost the connection to the gdbstub' "$TMP/a-gdb.err"
check "attach, gdbstub closed: QEMU still runs" kill -0 $qpid
kill $qpid; wait $qpid
clean_checks "attach, gdbstub closed" "$out"

start_qemu
out=$TMP/a-sig1.json
attach "$out" "$TMP/a-sig1.err"
wait_events "$out" 20
kill -INT $ekpid
reap $ekpid
wait $qpid; qrc=$?
check "attach, one signal: exit 0" [ "$rc" -eq 0 ]
check "attach, one signal: detached" grep -q '"end":"detached on signal, guest resumed"' "$out"
check "attach, one signal: the guest ran on to its end (QEMU exit 0)" \
	bash -c "[ $qrc -eq 0 ] && grep -q EKPROBE-GUEST-DONE '$TMP/console'"
clean_checks "attach, one signal" "$out"

# A stalled gdbstub (QEMU stopped with SIGSTOP): a signal gives up after --timeout, and a
# second one at once.
for n in 1 2; do
	start_qemu
	out=$TMP/a-stall$n.json
	attach "$out" "$TMP/a-stall$n.err"
	wait_events "$out" 20
	kill -STOP $qpid
	kill -INT $ekpid
	# The second signal once the first was handled (two signals pending at once are one).
	[ $n -eq 2 ] && { wait_line "$TMP/a-stall$n.err" 'stopping the guest to remove the probes'
			  kill -INT $ekpid; }
	reap $ekpid
	kill -9 $qpid; kill -CONT $qpid; wait $qpid 2>/dev/null
	check "attach, stalled gdbstub, $n signal(s): exit 1" [ "$rc" -eq 1 ]
	clean_checks "attach, stalled gdbstub, $n signal(s)" "$out"
done
check "attach, stalled gdbstub, one signal: gives up after --timeout" \
	grep -q 'did not stop the guest within 2000 ms' "$TMP/a-stall1.err"
check "attach, stalled gdbstub, second signal: leaves at once" \
	grep -q 'second signal: leaving' "$TMP/a-stall2.err"

start_qemu
timeout 120 "$EKPROBE" -o /dev/full --timeout 2000 --symbols "$VMLINUX" --vm "unix:$TMP/g.sock" \
	"${HOT[@]}" 2>"$TMP/a-full.err"; rc=$?
wait $qpid; qrc=$?
check "attach, -o /dev/full: exit 1" [ "$rc" -eq 1 ]
check "attach, -o /dev/full: names the error" grep -q 'No space left on device' "$TMP/a-full.err"
check "attach, -o /dev/full: the guest ran on without the probes (QEMU exit 0)" \
	bash -c "[ $qrc -eq 0 ] && grep -q EKPROBE-GUEST-DONE '$TMP/console'"
check "attach, -o /dev/full: no QEMU left" no_qemu_left
exit $((failures > 0))
