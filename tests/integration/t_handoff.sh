#!/usr/bin/env bash
# --handoff on the stock path (docs/handoff.md): trap probes handed to the guest's own kprobe
# events through kprobe_event= on the kernel command line. Boots of the default kernel, -smp 1
# under -icount shift=5,sleep=off -rtc clock=vm (a boot repeats exactly, FIELD-NOTES 9):
# without --handoff, with it, and with --detach-after-handoff. Each handoff run's host part
# (ekprobe's trace up to and after its handoff mark) plus the guest's own part (the trace its
# /init prints when the command line has ekprobe.dumptrace, guest/init.sh) must give the same
# events, names, values and order as the first run: do_one_initcall entry (fn=%di:symbol) and
# return (ret=$retval:s32), and run_init_process (its entry, and +0x14 where an optprobe fits)
# and free_initmem, which run only after the handoff. A probe kprobe_event= cannot carry (a
# string immediate: its '"') stays on the host, on do_one_initcall too, and must count the same.
# Inside the guest (/init prints them on ekprobe.kprobes): every handed probe is in
# kprobe_events, and kprobe_events and /sys/kernel/debug/kprobes/list (with each site's flags)
# equal those of one more boot given the same kprobe_event= by hand, without ekprobe. Then
# -smp 2: a handed probe on __alloc_pages counts, host part plus guest part, what a trap kept on
# the host later in the same basic block counts. Then bad input: no kprobes or no kprobe events
# in the kernel's symbols, attach mode, a -append that already has kprobe_event=: a clear error,
# exit 2, and no QEMU started.
. "$(dirname "$0")/lib.sh"

probes=(-p 'p:t/in do_one_initcall fn=%di:symbol' -p 'r:t/out do_one_initcall ret=$retval:s32'
	-p 'p:t/keep do_one_initcall tag=\"a,b"' -p 'p:t/rip run_init_process name=+0(%di):string'
	-p 'p:t/fim free_initmem')
# A probe the kernel refuses at boot though ekprobe takes it: a static call's call instruction
# (6.1 check_kprobe_address_safe: static_call_text_reserved). ekprobe must see the refusal
# (create_or_delete_trace_kprobe's result) and keep it on the trap engine.
refused=$(python3 - "$VMLINUX" <<'EOF'
import re, struct, subprocess, sys
v = sys.argv[1]
secs = []
for line in subprocess.run(["readelf", "-SW", v], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
    if m and int(m.group(3), 16):
        secs.append((int(m.group(3), 16), int(m.group(4), 16), int(m.group(5), 16)))
data = open(v, "rb").read()
def read(a, n):
    for sa, off, sz in secs:
        if sa <= a and a + n <= sa + sz:
            return data[off + a - sa:off + a - sa + n]
syms, funcs = {}, {}
for line in subprocess.run(["nm", "-S", v], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    f = line.split()
    if len(f) >= 3:
        syms[f[-1]] = int(f[0], 16)
    if len(f) == 4 and f[2] in "tT":
        funcs[f[3]] = (int(f[0], 16), int(f[1], 16))
fa, fs = funcs["__set_task_comm"]
for a in range(syms["__start_static_call_sites"], syms["__stop_static_call_sites"], 8):
    site = a + struct.unpack("<i", read(a, 4))[0]
    if fa <= site < fa + fs:
        print("__set_task_comm+0x%x" % (site - fa))
        break
EOF
)
if [ -z "$refused" ]; then
	fail "no static call site in __set_task_comm in this kernel (the refused-probe case needs one)"
	exit 1
fi
base=("${probes[@]}") # for the bad-input runs, whose System.map cannot check SYM+offs
# t/r14: where an optprobe fits (the issue's example), handed over as [OPTIMIZED].
probes+=(-p 'p:t/r14 run_init_process+0x14' -p "p:t/ref $refused")

hits() { sed -n "s|^# *\([0-9]*\) *[a-z]* *$1 .*|\1|p" "$2"; } # hits EVENT FILE

run() { # run NAME [ekprobe options...]
	local name=$1; shift
	# shellcheck disable=SC2046
	"$EKPROBE" --engine trap --summary -o "$TMP/$name.txt" "$@" "${probes[@]}" \
		-- $(qemu_cmd "$TMP/$name.console" -smp 1 -icount shift=5,sleep=off \
			-rtc clock=vm,base=2024-01-01T00:00:00) \
		-append "$APPEND ekprobe.dumptrace ekprobe.dmesg ekprobe.kprobes" 2>"$TMP/$name.err"
}

# "in fn=SYM+0xOFF" / "out ret=N" / "rip name=..." / "fim" lines from ekprobe's trace ...
host_seq() { sed -n 's#.* t/\(in\|out\|rip\|fim\|r14\): ([^)]*)\(.*\)#\1\2#p' "$1"; }
# ... and from the guest's trace, where symbols print as SYM+0xOFF/0xSIZE.
guest_seq() {
	tr -d '\r' < "$1" | sed -n '/^EKPROBE-TRACE-BEGIN/,/^EKPROBE-TRACE-END/p' |
		sed -n 's#.* \(in\|out\|rip\|fim\|r14\): ([^)]*)\(.*\)#\1\2#p' | sed 's#\(+0x[0-9a-f]*\)/0x[0-9a-f]*#\1#g'
}
# section FILE NAME: the lines /init printed between EKPROBE-NAME-BEGIN and EKPROBE-NAME-END.
section() { tr -d '\r' < "$1" | sed -n "/^EKPROBE-$2-BEGIN/,/^EKPROBE-$2-END/p" | sed '1d;$d'; }

run plain
check "without --handoff: exit 0" [ $? -eq 0 ]
# t/ap: a hot function in the same runs, so that they switch under load: its total may differ
# from a run without handoff by what the handoff itself allocates (the -smp 2 boot below counts
# it exactly, against a trap in the same boot).
run handoff --handoff -p 'p:t/ap __alloc_pages'
check "with --handoff: exit 0" [ $? -eq 0 ]

check "the probe kprobe_event= cannot carry is said to stay, before the guest starts" \
	grep -q "t/keep stays on its host engine: .*kprobe_event= cannot carry" "$TMP/handoff.err"
check "ekprobe-host said the handoff happened" grep -q "^ekprobe-host: handoff at " "$TMP/handoff.err"
check "the trace marks where ekprobe's stream of t/in t/out t/rip t/fim t/r14 ends" \
	grep -q "^# handoff at [0-9.]*: ekprobe's stream of t/ap t/in t/out t/rip t/fim t/r14 ends here" \
	"$TMP/handoff.txt"
for ev in rip fim r14; do
	check "t/$ev runs only after the handoff: counted, all of it in the guest's trace" \
		test "$(hits "t/$ev" "$TMP/plain.txt")" -gt 0 -a "$(hits "t/$ev" "$TMP/handoff.txt")" = 0
done
check "the guest enabled its kprobe events (its trace holds t/in)" \
	grep -q ' in: (do_one_initcall+0x0/' "$TMP/handoff.console"
check "the kernel refused only t/ref ($refused), in its log" \
	test "$(grep -c 'Failed to add event' "$TMP/handoff.console")" = 1 -a \
	"$(grep -c "Failed to add event(-22): p:t/ref $refused" "$TMP/handoff.console")" = 1
check "ekprobe saw the refusal and kept t/ref on the trap engine" \
	grep -q "refused the kprobe_event= definition of t/ref (error -22): it stays on the trap" \
	"$TMP/handoff.err"
check "the handoff mark does not list t/ref" grep -q "^# handoff at .*t/r14 ends here" "$TMP/handoff.txt"
check "t/ref: not marked handed off in the summary" grep -q "^# *[0-9]* *trap *t/ref .*[0-9a-f]$" \
	"$TMP/handoff.txt"
p=$(hits t/ref "$TMP/plain.txt") h=$(hits t/ref "$TMP/handoff.txt")
check "t/ref counts the same on the host with and without --handoff: $h == $p" \
	test -n "$p" -a "$h" = "$p"
check "the guest's trace lost nothing (entries-in-buffer equals entries-written)" \
	grep -Eq '^# entries-in-buffer/entries-written: ([0-9]+)/\1 ' "$TMP/handoff.console"

# The host's part ends at the handoff mark, but for the return of the frame that was running.
host_seq "$TMP/handoff.txt" > "$TMP/host.seq"
guest_seq "$TMP/handoff.console" > "$TMP/guest.seq"
host_seq "$TMP/plain.txt" > "$TMP/plain.seq"
after=$(sed -n '/^# handoff at /,$p' "$TMP/handoff.txt" | grep -c ' t/in: ')
check "no t/in from ekprobe after the handoff mark ($after)" [ "$after" -eq 0 ]
check "host and guest each hold a part ($(wc -l < "$TMP/host.seq") + $(wc -l < "$TMP/guest.seq"))" \
	test -s "$TMP/host.seq" -a -s "$TMP/guest.seq"
check "host part + guest part = the run without handoff ($(wc -l < "$TMP/plain.seq") events): same names, values, order" \
	cmp -s <(cat "$TMP/host.seq" "$TMP/guest.seq") "$TMP/plain.seq"
cat "$TMP/host.seq" "$TMP/guest.seq" | diff - "$TMP/plain.seq" | grep "^[<>]" | head -6
for ev in in out rip fim r14; do
	p=$(hits "t/$ev" "$TMP/plain.txt") h=$(hits "t/$ev" "$TMP/handoff.txt")
	g=$(grep -c -E "^$ev( |$)" "$TMP/guest.seq")
	check "t/$ev: host $h + guest $g = $p without handoff" test -n "$p" -a "$((h + g))" = "$p"
done
ha=$(hits t/ap "$TMP/handoff.txt")
ga=$(tr -d '\r' < "$TMP/handoff.console" | sed -n '/^EKPROBE-TRACE-BEGIN/,/^EKPROBE-TRACE-END/p' | grep -c ' ap: (')
check "t/ap (__alloc_pages): hits from ekprobe ($ha) and from the guest's kprobe ($ga)" \
	test "${ha:-0}" -gt 0 -a "$ga" -gt 0
check "t/in: the summary gives the hits before the handoff" \
	grep -q "t/in .*(handed off: [0-9]* before the handoff)" "$TMP/handoff.txt"
p=$(hits t/keep "$TMP/plain.txt") h=$(hits t/keep "$TMP/handoff.txt")
check "t/keep stayed on the host on the same site: $h == $p" test -n "$p" -a "$h" = "$p"
# Each handed site's bytes against the vmlinux's (ekprobe reads them once the probe is live,
# and again while an int3 may still become an optprobe's jump): only what kprobes write.
sc() { grep -q "^ekprobe-host: --handoff: site check: t/$1 at 0x[0-9a-f]*: $2" "$TMP/handoff.err"; }
grep "site check" "$TMP/handoff.err" | sed 's/^/    /'
for ev in in out rip fim ap; do
	check "site check: t/$ev's site holds the ftrace call (ftrace-based kprobe)" \
		sc "$ev" "the ftrace call at the function entry (ftrace-based kprobe)"
done
check "site check: t/r14's site holds an int3 over its first byte at the handoff" \
	sc r14 "int3 over its first byte (int3 kprobe)"
check "site check: later, t/r14's site holds the optprobe's jmp rel32" \
	sc r14 "now jmp rel32 over its first bytes (optprobe)"
check "site check: no handed site differs from the vmlinux beyond what kprobes write" \
	test "$(grep -c 'differs from the vmlinux' "$TMP/handoff.err")" = 0

# --detach-after-handoff: the same, but ekprobe-host leaves once the handoff is complete.
run detach --detach-after-handoff -p 'p:t/ap __alloc_pages'
check "--detach-after-handoff: exit 0 (QEMU's status)" [ $? -eq 0 ]
check "--detach-after-handoff: said it detached" \
	grep -q "^ekprobe-host: --detach-after-handoff: detached at " "$TMP/detach.err"
check "--detach-after-handoff: the guest ran to its end after it (/init's last line)" \
	grep -q "EKPROBE-GUEST-DONE" "$TMP/detach.console"
check "--detach-after-handoff: the trace marks where ekprobe's whole stream ends" \
	grep -q "^# detached at [0-9.]*: ekprobe's stream ends here (every probe)" "$TMP/detach.txt"
check "--detach-after-handoff: no event in ekprobe's trace after that mark" \
	test "$(sed -n '/^# detached at /,$p' "$TMP/detach.txt" | grep -vc '^#')" = 0
check "--detach-after-handoff: the summary says how it ended" \
	grep -q "detached after the handoff, guest resumed" "$TMP/detach.txt"
host_seq "$TMP/detach.txt" > "$TMP/dhost.seq"
guest_seq "$TMP/detach.console" > "$TMP/dguest.seq"
check "--detach-after-handoff: the guest's own trace holds what ran after ekprobe left ($(grep -c '^in ' "$TMP/dguest.seq") t/in, t/rip, t/r14)" \
	test "$(grep -c '^in ' "$TMP/dguest.seq")" -gt 0 -a "$(grep -c '^rip' "$TMP/dguest.seq")" = 1 \
	-a "$(grep -c '^r14' "$TMP/dguest.seq")" = 1
check "--detach-after-handoff: host part + guest part = the run without handoff: same names, values, order" \
	cmp -s <(cat "$TMP/dhost.seq" "$TMP/dguest.seq") "$TMP/plain.seq"
for ev in in out; do
	p=$(hits "t/$ev" "$TMP/plain.txt") h=$(hits "t/$ev" "$TMP/detach.txt")
	g=$(grep -c -E "^$ev( |$)" "$TMP/dguest.seq")
	check "--detach-after-handoff: t/$ev: host $h + guest $g = $p without handoff" \
		test -n "$p" -a "$((h + g))" = "$p"
done

# Inside the guest: its kprobe_events and kprobes/list after the handoff, against one boot of
# the same kernel given the same kprobe_event= by hand (the command line ekprobe gave QEMU).
line=$(sed -n 's/^ekprobe-host: --handoff: the kernel command line: //p' "$TMP/handoff.err")
check "ekprobe said the kernel command line it gave" test -n "$line"
# shellcheck disable=SC2046
timeout 300 $(qemu_cmd "$TMP/hand.console" -smp 1 -icount shift=5,sleep=off \
	-rtc clock=vm,base=2024-01-01T00:00:00) -append "$line"
check "by hand: the boot given kprobe_event= directly ran to its end" \
	grep -q "EKPROBE-GUEST-DONE" "$TMP/hand.console"
section "$TMP/hand.console" KPROBE-EVENTS > "$TMP/hand.events"
section "$TMP/hand.console" KPROBES-LIST > "$TMP/hand.list"
echo "    kprobes/list after kprobe_event= by hand (the flags the kernel gives):"
sed 's/^/        /' "$TMP/hand.list"
listed() { grep -q "$1" "$TMP/hand.list" && grep -q "$2" "$TMP/hand.list"; }
check "by hand: the kernel lists the probes (do_one_initcall+0x0 [FTRACE], run_init_process+0x14 [OPTIMIZED])" \
	listed "do_one_initcall+0x0 *\[FTRACE\]" "run_init_process+0x14 *\[OPTIMIZED\]"
for run in handoff detach; do
	section "$TMP/$run.console" KPROBE-EVENTS > "$TMP/$run.events"
	section "$TMP/$run.console" KPROBES-LIST > "$TMP/$run.list"
	for ev in in out rip fim r14; do
		check "$run: t/$ev is in the guest's kprobe_events" grep -Eq "^[pr][0-9]*:t/$ev " "$TMP/$run.events"
	done
	check "$run: the guest's kprobe_events equal the kernel's own form of the same definitions ($(wc -l < "$TMP/$run.events") lines)" \
		cmp -s "$TMP/$run.events" "$TMP/hand.events"
	check "$run: /sys/kernel/debug/kprobes/list, flags included, equals the one by hand ($(wc -l < "$TMP/$run.list") sites)" \
		cmp -s "$TMP/$run.list" "$TMP/hand.list"
done

# -smp 2, one boot (Debian's QEMU 7.2 cannot boot -smp 2 under -icount: t_jump_icount.sh), so
# no comparison across boots. The switch under load on two CPUs: t/apin on __alloc_pages' entry
# is handed over, t/apmid on a later instruction of the same basic block stays a trap on the
# host (--no-handoff): host part + guest part of t/apin must count what t/apmid counts, and so
# must t/apin2, a second handed probe on the same address (it goes live when the kernel clears
# its own kprobe's DISABLED flag, which ekprobe reads once it has found the flags word). The
# count ends where the guest's /init stops its tracing (ekprobe.onecpu: the other CPU offline
# first, so that nothing else runs then): t/cut, kept on the host, marks that point in
# ekprobe's stream (tracer_tracing_off). Also: the guest's trace must be whole (with two vCPUs
# the kernel finds sched_clock unstable and its late initcall switching the trace clock would
# empty the buffer, unless --handoff's trace_clock=global), and host part + guest part of
# t/in and t/out whole initcalls: alternating, as many of each as t/keep counted.
# shellcheck disable=SC2046
"$EKPROBE" --engine trap --handoff --summary -o "$TMP/smp2.txt" "${base[@]}" \
	-p 'p:t/apin __alloc_pages' -p 'p:t/apin2 __alloc_pages order=%si' \
	-p 'p:t/apmid __alloc_pages+0x1a' -p 'p:t/cut tracer_tracing_off' \
	--no-handoff apmid --no-handoff cut \
	-- $(qemu_cmd "$TMP/smp2.console" -smp 2) -append "$APPEND ekprobe.dumptrace ekprobe.onecpu" \
	2>"$TMP/smp2.err"
check "-smp 2 --handoff: exit 0" [ $? -eq 0 ]
check "-smp 2: the guest's trace is whole (entries-in-buffer equals entries-written, > 1)" \
	grep -Eq '^# entries-in-buffer/entries-written: ([0-9]{2,})/\1 ' "$TMP/smp2.console"
{ host_seq "$TMP/smp2.txt"; guest_seq "$TMP/smp2.console"; } | cut -d' ' -f1 | grep -E '^(in|out)$' \
	> "$TMP/smp2.seq"
k=$(hits t/keep "$TMP/smp2.txt")
check "-smp 2: host + guest = whole initcalls, in/out alternating, $k of each (t/keep's count)" \
	cmp -s "$TMP/smp2.seq" <(for _ in $(seq "${k:-0}"); do echo in; echo out; done)
check "-smp 2: both parts hold some" test -s "$TMP/smp2.seq" -a "$(guest_seq "$TMP/smp2.console" | wc -l)" -gt 0
# t/apin and t/apmid: no branch, call or return between them in __alloc_pages (the entry's
# call __fentry__ is a nop at run time), so they must count the same.
same_block() {
	objdump -d --no-show-raw-insn --disassemble=__alloc_pages "$VMLINUX" | python3 -c '
import re, sys
ins = [(int(m.group(1), 16), m.group(2))
       for m in re.finditer(r"^\s*([0-9a-f]+):\s+(\S+)", sys.stdin.read(), re.M)]
start = ins[0][0]
assert any(a == start + 0x1a for a, _ in ins), "no instruction at +0x1a"
between = [op for a, op in ins if start < a < start + 0x1a]
assert not [op for op in between if op.startswith(("j", "call", "ret", "loop"))], between
'
}
check "t/apmid (__alloc_pages+0x1a) is a later instruction of t/apin's basic block" same_block
cut_line=$(grep -n ' t/cut: ' "$TMP/smp2.txt" | tail -n1 | cut -d: -f1)
check "-smp 2: ekprobe saw /init stop the guest's tracing (t/cut)" test -n "$cut_line"
hb=$(head -n "${cut_line:-0}" "$TMP/smp2.txt" | grep -c ' t/apmid: ')
for ev in apin apin2; do
	ha=$(grep -c " t/$ev: " "$TMP/smp2.txt")
	ga=$(tr -d '\r' < "$TMP/smp2.console" | sed -n '/^EKPROBE-TRACE-BEGIN/,/^EKPROBE-TRACE-END/p' |
		grep -c " $ev: (")
	check "-smp 2: t/$ev was switched under load (host $ha, guest $ga, both > 0)" \
		test "$ha" -gt 0 -a "$ga" -gt 0
	check "-smp 2: t/$ev host $ha + guest $ga = $((ha + ga)), t/apmid on the host $hb" \
		test "$((ha + ga))" = "$hb"
done
check "-smp 2: ekprobe found struct kprobe's flags word (t/apin2's switch reads it)" \
	grep -q "struct kprobe's flags at +[0-9]*" "$TMP/smp2.err"
check "-smp 2: t/apin and t/apin2 handed off, t/apmid and t/cut kept" \
	grep -q "^# handoff at .*ekprobe's stream of t/in t/out t/rip t/fim t/apin t/apin2 ends here" "$TMP/smp2.txt"

# Bad input: nothing starts. A kernel's symbols without kprobes, without kprobe events.
bad() { # bad NAME EXPECTED-MESSAGE [ekprobe options...] (then the QEMU command is added)
	local name=$1 msg=$2; shift 2
	# shellcheck disable=SC2046
	"$EKPROBE" --engine trap --handoff "$@" "${base[@]}" \
		-- $(qemu_cmd "$TMP/$name.console") -append "$APPEND" >/dev/null 2>"$TMP/$name.err"
	local rc=$?
	check "$name: exit 2 ($rc)" [ $rc -eq 2 ]
	check "$name: says '$msg'" grep -q -- "$msg" "$TMP/$name.err"
	check "$name: QEMU never started (no console file)" [ ! -e "$TMP/$name.console" ]
}
grep -v -E ' (kprobe_boot_events_buf|init_kprobe_trace)$' "$SYSMAP" > "$TMP/no-kprobe-events.map"
bad no-kprobe-events "the kernel has no kprobe events with kprobe_event= (CONFIG_KPROBE_EVENTS)" \
	--symbols "$TMP/no-kprobe-events.map"
grep -v -E ' register_kprobe$' "$SYSMAP" > "$TMP/no-kprobes.map"
bad no-kprobes "the kernel has no kprobes (CONFIG_KPROBES)" --symbols "$TMP/no-kprobes.map"
"$EKPROBE" --handoff "${probes[@]}" --vm unix:/nonexistent 2>"$TMP/attach.err"
rc=$?
check "attach mode: exit 2 ($rc)" [ $rc -eq 2 ]
check "attach mode: says it needs launch mode" grep -q "needs launch mode" "$TMP/attach.err"
# shellcheck disable=SC2046
"$EKPROBE" --handoff --no-handoff 'out' "${probes[@]}" -- $(qemu_cmd "$TMP/twice.console") \
	-append "$APPEND kprobe_event=p:x/y,do_one_initcall" >/dev/null 2>"$TMP/twice.err"
rc=$?
check "-append with its own kprobe_event=: exit 2 ($rc)" [ $rc -eq 2 ]
check "-append with its own kprobe_event=: said" grep -q "already has one" "$TMP/twice.err"
check "-append with its own kprobe_event=: QEMU never started" [ ! -e "$TMP/twice.console" ]
check "--no-handoff out: t/out is said to stay on the host" \
	grep -q "t/out stays on its host engine (--no-handoff)" "$TMP/twice.err"
check "no QEMU left running" no_qemu_left

exit $((failures > 0))
