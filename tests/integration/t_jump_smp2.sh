#!/usr/bin/env bash
# Jump and trap engines agree on -smp 2 within one boot: every probe is armed twice, once on
# each engine, at the same address (the trap fires first, at the function's ftrace site; the
# jump right after it). QEMU 7.2 does not boot -smp 2 under -icount (see
# t_jump_icount.sh; QEMU 8.1 fixed it), so with Debian's QEMU this is the -smp 2 check that
# no jump hit is lost or doubled.
. "$(dirname "$0")/lib.sh"
if ! grep -q ' ekprobe_desc$' "$SYSMAP"; then
	fail "the default kernel has no ekprobe guest patch (ekprobe_desc missing)"
	exit 1
fi
probes=()
for e in j t; do
	probes+=(-p "p:$e/sk start_kernel" -p "p:$e/sa setup_arch"
		-p "p:$e/in do_one_initcall fn=%di:symbol" -p "r:$e/out do_one_initcall ret=\$retval:s32"
		-p "p:$e/ss start_secondary")
done
# shellcheck disable=SC2046
"$EKPROBE" --engine jump --engine 't/*=trap' --summary -o "$TMP/s2.txt" "${probes[@]}" \
	-- $(qemu_cmd "$TMP/console" -smp 2) -append "$APPEND" 2>"$TMP/s2.err"
check "exit 0" [ $? -eq 0 ]
hits() { sed -n "s|^# *\([0-9]*\) *$2 *$1 .*|\1|p" "$TMP/s2.txt"; } # hits EVENT ENGINE
for ev in sk sa in out ss; do
	j=$(hits "j/$ev" jump) t=$(hits "t/$ev" trap)
	check "$ev: jump $j == trap $t" bash -c "[ -n '$j' ] && [ '$j' = '$t' ] && [ '$j' -gt 0 ]"
done
check "do_one_initcall: more than 100 calls" [ "$(hits j/in jump)" -gt 100 ]
check "the same initcalls, in the same order" \
	cmp <(grep ' j/in:' "$TMP/s2.txt" | grep -o 'fn=[^ ]*') <(grep ' t/in:' "$TMP/s2.txt" | grep -o 'fn=[^ ]*')
check "the same return values, in the same order" \
	cmp <(grep ' j/out:' "$TMP/s2.txt" | grep -o 'ret=[^ ]*') <(grep ' t/out:' "$TMP/s2.txt" | grep -o 'ret=[^ ]*')
check "start_secondary ran on cpu 1 for both engines" \
	bash -c "[ \$(grep -cE '\\[001\\] .* (j|t)/ss:' '$TMP/s2.txt') = 2 ]"
check "no record lost or invalid" bash -c "! grep -q 'LOST\|invalid records' '$TMP/s2.txt'"
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
