#!/usr/bin/env bash
# --vm libvirt:DOMAIN with a real libvirtd (started here, state in a scratch directory): a
# shut-off domain is started paused and probed from its first instruction with the counts of
# a launch-mode boot, with the trap engine and with jumps (shared memfd RAM), and ends as it
# does unprobed; a running domain is attached to, and runs on with no breakpoint after SIGINT;
# a paused one is refused; the errors a user meets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/libvirtd.sh"
lv_start || { fail "a private libvirtd could not be started"; exit 1; }
dom=ekprobe-it-$$
boot_probes=(-p 'p startup_64' -p 'p x86_64_start_kernel' -p 'p start_kernel' -p 'p setup_arch'
	-p 'p rest_init' -p 'p kernel_init' -p 'p:initcall/enter do_one_initcall fn=%di:symbol'
	-p 'r:initcall/leave do_one_initcall ret=$retval:s32')
# wait_lines N PATTERN FILE FROM: N lines matching PATTERN in FILE, from its start (FROM +1) or
# from now on (FROM 0), as they are written (grep -c: grep -m with output to /dev/null never
# stops reading, grep 3.8).
wait_lines() {
	local got
	got=$(timeout 120 tail -n "$4" -F "$3" 2>/dev/null | grep -c -m "$1" -- "$2")
	[ "$got" -ge "$1" ]
}
# ekprobe-host's temporary directory (launch mode puts its sockets there): stays empty here.
export TMPDIR=$TMP/ekp-tmp
mkdir "$TMPDIR"
# The guest's console, when it did not get where it should have.
show_console() { echo "    $1: the console's end:"; tail -n 8 "$2" | sed 's/^/      | /'; }

# The references: the same probes on the same kernel in launch mode, and how the domain ends
# without ekprobe-host (its lifecycle events, listened to from before it starts).
"$EKPROBE" --summary -o "$TMP/launch.txt" "${boot_probes[@]}" \
	-- $(qemu_cmd "$TMP/launch.console") -append "$APPEND" 2>"$TMP/launch.err"
rc=$?
grep -q EKPROBE-GUEST-DONE "$TMP/launch.console" || show_console launch "$TMP/launch.console"
check "launch mode: exit 0, guest reached userspace" bash -c \
	"[ $rc -eq 0 ] && grep -q EKPROBE-GUEST-DONE '$TMP/launch.console'"
grep -o 'fn=[^ ]*' "$TMP/launch.txt" | sort > "$TMP/launch.fns"
echo "    launch mode: do_one_initcall: $(wc -l < "$TMP/launch.fns") entries"
base=$dom-base
lv_define "$base" "$TMP/base.console" 0 "$APPEND" || fail "defining the unprobed domain"
# virsh itself in the background (not lv_virsh's subshell), so that kill stops it.
virsh -q -c "$LV_URI" event --domain "$base" --event lifecycle --loop --timeout 300 \
	> "$TMP/base.events" &
evpid=$!
lv_virsh start "$base" >/dev/null || fail "starting the unprobed domain"
wait_lines 1 Stopped "$TMP/base.events" +1 || fail "the unprobed domain did not stop"
kill $evpid; wait $evpid 2>/dev/null
base_state=$(lv_end_state "$base") base_end=$(tail -n 1 "$TMP/base.console")
echo "    unprobed domain: $(grep -c . "$TMP/base.events") lifecycle events, then: $base_state," \
	"console's last line: $base_end"
check "unprobed domain reached userspace" grep -q EKPROBE-GUEST-DONE "$TMP/base.console"

# The launch-mode boot test's counts, on a domain ekprobe-host starts: $1 engine, $2 memfd.
boot() {
	local what=$1 memfd=$2 name=$dom-$1 out=$TMP/$1.txt console=$TMP/$1.console e
	lv_define "$name" "$console" "$memfd" "$APPEND" || { fail "$what: defining the domain"; return; }
	"$EKPROBE" --connect "$LV_URI" --vm "libvirt:$name" --engine auto --summary -o "$out" \
		"${boot_probes[@]}" 2>"$TMP/$what.err"
	check "$what: exit 0" [ $? -eq 0 ]
	check "$what: symbols found beside the domain's <kernel>" \
		grep -q "symbols from $(dirname "$BZIMAGE")/vmlinux" "$TMP/$what.err"
	check "$what: started paused, before its first instruction" grep -q "started domain '$name' paused" "$TMP/$what.err"
	grep -q EKPROBE-GUEST-DONE "$console" || show_console "$what" "$console"
	check "$what: guest reached userspace" grep -q EKPROBE-GUEST-DONE "$console"
	for f in startup_64 x86_64_start_kernel start_kernel setup_arch rest_init kernel_init; do
		check "$what: exactly one hit of $f" [ "$(grep -c "kprobes/p_${f}_0:" "$out")" -eq 1 ]
	done
	enter=$(grep -c 'initcall/enter:' "$out") leave=$(grep -c 'initcall/leave:' "$out")
	echo "    $what: do_one_initcall: $enter entries, $leave returns"
	check "$what: initcall entries equal returns, more than 100" [ "$enter" -eq "$leave" -a "$enter" -gt 100 ]
	grep -o 'fn=[^ ]*' "$out" | sort > "$TMP/$what.fns"
	check "$what: the same initcalls as in launch mode" cmp -s "$TMP/launch.fns" "$TMP/$what.fns"
	check "$what: events in boot order" bash -c "grep -n -m1 p_startup_64_0: '$out' | grep -q '^1:'"
	state=$(lv_end_state "$name")
	check "$what: the domain ended as without ekprobe-host: $state, '$(tail -n 1 "$console")'" \
		[ "$state" = "$base_state" -a "$(tail -n 1 "$console")" = "$base_end" ]
	if [ "$memfd" = 1 ]; then
		e=jump
		check "$what: startup_64 (head text) fell back to trap" [ "$(hits kprobes/p_startup_64_0 trap "$out")" = 1 ]
	else
		e=trap
		check "$what: auto says why there is no jump engine" \
			grep -q "jump engine is not available: .*memoryBacking" "$TMP/$what.err"
	fi
	for ev in kprobes/p_start_kernel_0 initcall/enter initcall/leave; do
		check "$what: $ev ran on the $e engine" [ -n "$(hits "$ev" "$e" "$out")" ]
	done
}
boot trap 0
boot jump 1
check "no gdbstub socket (nothing in ekprobe-host's TMPDIR, no socket in libvirt's directories)" \
	bash -c "[ -z \"\$(ls -A '$TMPDIR')\" ] && [ -z \"\$(find '$LV' -type s -name '*gdb*')\" ]"

# A running domain: attach from now on; after SIGINT it runs on, with no breakpoint: the
# probed do_nanosleep runs on every tick of its loop, so a breakpoint left would stop it. Its
# RAM is a shared memfd, so what refuses the jump engine there is that the guest runs already.
run=$dom-run console=$TMP/run.console
lv_define "$run" "$console" 1 \
	"$APPEND rdinit=/bin/sh -- -c \"while true; do echo EKPROBE-TICK; /bin/busybox sleep 0.1; done\"" &&
	lv_virsh start "$run" >/dev/null || fail "starting the running domain"
wait_lines 1 EKPROBE-TICK "$console" +1 || fail "the running domain's loop did not start"
"$EKPROBE" --connect "$LV_URI" --vm "libvirt:$run" --engine jump -p 'p do_nanosleep' \
	>/dev/null 2>"$TMP/runjump.err"
rc=$?
check "running domain: --engine jump refused (exit 2): it arms before the first instruction" \
	bash -c "[ $rc -eq 2 ] && grep -q 'before the kernel.s first instruction' '$TMP/runjump.err'"
"$EKPROBE" --connect "$LV_URI" --vm "libvirt:$run" --summary -o "$TMP/run.txt" \
	-p 'p start_kernel' -p 'p do_nanosleep' 2>"$TMP/run.err" &
pid=$!
wait_lines 3 p_do_nanosleep_0: "$TMP/run.txt" +1
kill -INT $pid; wait $pid; rc=$?
check "running domain: exit 0 after SIGINT" [ "$rc" -eq 0 ]
check "running domain: said it attached from now on" grep -q "attached to running domain '$run': probes fire from now on" "$TMP/run.err"
check "running domain: no start_kernel (it ran before the attach)" [ "$(hits kprobes/p_start_kernel_0 trap "$TMP/run.txt")" = 0 ]
check "running domain: do_nanosleep hits from the attach on" [ "$(hits kprobes/p_do_nanosleep_0 trap "$TMP/run.txt")" -ge 3 ]
ticks=$(grep -c EKPROBE-TICK "$console")
wait_lines 5 EKPROBE-TICK "$console" 0
echo "    ticks at SIGINT: $ticks, now: $(grep -c EKPROBE-TICK "$console")"
check "running domain: still running after 5 more ticks: $(lv_state "$run")" [ "$(lv_state "$run")" = "running (unpaused)" ]
lv_virsh qemu-monitor-command "$run" --hmp 'info chardev' > "$TMP/chardev"
check "running domain: the monitor shows no gdbstub chardev of ekprobe's" bash -c \
	"grep -q charmonitor '$TMP/chardev' && ! grep -q ekprobe-gdb '$TMP/chardev'"

# A paused domain is refused, and left paused.
lv_virsh suspend "$run" >/dev/null
"$EKPROBE" --connect "$LV_URI" --vm "libvirt:$run" -p 'p do_nanosleep' >/dev/null 2>"$TMP/paused.err"
rc=$? state=$(lv_state "$run")
check "paused domain: refused (exit 1), still $state" bash -c \
	"[ $rc -eq 1 ] && grep -q 'is not running (QEMU.s status: paused)' '$TMP/paused.err' && [ '$state' = 'paused (user)' ]"
lv_virsh resume "$run" >/dev/null

# ekprobe-host killed with SIGKILL removes nothing: its chardev stays (a new one is refused,
# saying how to remove it), and its breakpoint stops the guest; once removed, a new
# ekprobe-host clears the breakpoint and ends with the domain running.
"$EKPROBE" --connect "$LV_URI" --vm "libvirt:$run" -o "$TMP/k1.txt" -p 'p do_nanosleep' 2>/dev/null &
pid=$!
wait_lines 2 p_do_nanosleep_0: "$TMP/k1.txt" +1
kill -KILL $pid; wait $pid 2>/dev/null
"$EKPROBE" --connect "$LV_URI" --vm "libvirt:$run" -p 'p do_nanosleep' >/dev/null 2>"$TMP/k2.err"
rc=$?
grep -q "gdbserver none'\" removes that chardev" "$TMP/k2.err"; said=$?
check "after a SIGKILL: a second ekprobe-host is refused (exit 1), saying how to recover" \
	[ "$rc" -eq 1 -a "$said" -eq 0 ]
lv_virsh qemu-monitor-command "$run" --hmp 'gdbserver none' >/dev/null
"$EKPROBE" --connect "$LV_URI" --vm "libvirt:$run" -o "$TMP/k3.txt" -p 'p do_nanosleep' 2>"$TMP/k3.err" &
pid=$!
wait_lines 2 p_do_nanosleep_0: "$TMP/k3.txt" +1
kill -INT $pid; wait $pid; rc=$?
wait_lines 5 EKPROBE-TICK "$console" 0
state=$(lv_state "$run") n=$(grep -c p_do_nanosleep_0: "$TMP/k3.txt")
check "after a SIGKILL and 'gdbserver none': $n hits, exit $rc, then the domain runs on: $state" \
	[ "$rc" -eq 0 -a "$n" -ge 2 -a "$state" = "running (unpaused)" ]
lv_virsh destroy "$run" >/dev/null

# Errors: bad usage (2) and run-time (1), nothing started.
"$EKPROBE" --connect "$LV_URI" --vm libvirt:no-such-domain -p 'p start_kernel' 2>"$TMP/e1"
check "unknown domain: exit 2, named" bash -c "[ $? -eq 2 ] && grep -q \"no domain 'no-such-domain'\" '$TMP/e1'"
"$EKPROBE" --connect "qemu:///system?socket=$TMP/no-daemon" --vm "libvirt:$run" -p 'p start_kernel' 2>"$TMP/e2"
check "unreachable URI: exit 1, libvirt's reason" bash -c "[ $? -eq 1 ] && grep -q 'cannot connect to qemu:///system' '$TMP/e2'"
"$EKPROBE" --connect test:///default --vm libvirt:test --symbols "$VMLINUX" -p 'p start_kernel' 2>"$TMP/e3"
check "a domain of libvirt's test driver: exit 2" bash -c "[ $? -eq 2 ] && grep -q 'needs its QEMU driver' '$TMP/e3'"

lv_stop
check "no daemon, QEMU or mount point left" lv_nothing_left
exit $((failures > 0))
