#!/usr/bin/env bash
# The foundation's promises on one boot: exact counts for the once-only functions from the
# very first instruction, balanced initcall entries and returns, fn=%di:symbol naming real
# initcalls, events in boot order, the guest's own exit status passed through.
. "$(dirname "$0")/lib.sh"
out=$TMP/trace.txt console=$TMP/console.txt
# shellcheck disable=SC2046
"$EKPROBE" --summary -o "$out" \
	-p 'p startup_64' -p 'p x86_64_start_kernel' -p 'p start_kernel' -p 'p setup_arch' -p 'p rest_init' -p 'p kernel_init' \
	-p 'p:initcall/enter do_one_initcall fn=%di:symbol' \
	-p 'r:initcall/leave do_one_initcall ret=$retval:s32' \
	-- $(qemu_cmd "$console") -append "$APPEND" 2>"$TMP/err"
rc=$?
check "exit status 0 (QEMU's)" [ "$rc" -eq 0 ]
check "guest reached userspace" grep -q EKPROBE-GUEST-DONE "$console"
for f in startup_64 x86_64_start_kernel start_kernel setup_arch rest_init kernel_init; do
	check "exactly one hit of $f" [ "$(count "kprobes/p_${f}_0:" "$out")" -eq 1 ]
done
check "startup_64 fired at its physical address, before paging switched" \
	grep -q 'p_startup_64_0: (startup_64+0x0)' "$out"
enter=$(count 'initcall/enter:' "$out") leave=$(count 'initcall/leave:' "$out")
echo "    do_one_initcall: $enter entries, $leave returns"
check "initcall entries equal returns" [ "$enter" -eq "$leave" ]
check "more than 100 initcalls" [ "$enter" -gt 100 ]
# Every fn= is a function start that System.map knows, and well-known initcalls are among them.
grep -o 'fn=[^ ]*' "$out" | sed 's/^fn=//' | sort -u > "$TMP/fns"
check "every fn= is sym+0x0" bash -c "! grep -v '+0x0\$' '$TMP/fns'"
bad=0
while IFS= read -r f; do
	grep -qE " [tT] ${f%+0x0}\$" "$SYSMAP" || { echo "    not a text symbol: $f"; bad=1; }
done < "$TMP/fns"
check "every fn= names a text symbol of System.map" [ "$bad" -eq 0 ]
for f in init_kprobes init_kprobe_trace; do
	check "initcall $f seen" grep -qx "$f+0x0" "$TMP/fns"
done
# Boot order: line numbers and timestamps.
line() { grep -n -m1 -- "$1" "$out" | cut -d: -f1; }
order_ok=1 prev=0
for f in p_startup_64_0 p_x86_64_start_kernel_0 p_start_kernel_0 p_setup_arch_0 p_rest_init_0 p_kernel_init_0 initcall/enter; do
	l=$(line "$f:"); [ -n "$l" ] && [ "$l" -gt "$prev" ] || order_ok=0; prev=${l:-0}
done
check "events in boot order" [ "$order_ok" -eq 1 ]
check "timestamps never go back" awk '/^ *[^#]/ { t = $4 + 0; if (t < last) exit 1; last = t }' "$out"
check "summary lists 8 probes" grep -q 'ekprobe summary: 8 probes' "$out"
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
