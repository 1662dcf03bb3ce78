#!/usr/bin/env bash
# The jump engine on real boots (needs the ekprobe guest patch in the default kernel):
# same counts as the trap engine under -icount, no hit lost on a hot function within one boot,
# refused sites fall back to trap with the reason, ftrace keeps working, bytes restored on detach.
. "$(dirname "$0")/lib.sh"
# About the jump engine: on a QEMU that runs the plugin engine (t_qemu10.sh), auto must not
# pick it, so it is made unavailable here (auto then says why, and goes on to jump or trap).
export EKPROBE_TCG_PLUGIN=/nonexistent
if ! grep -q ' ekprobe_desc$' "$SYSMAP"; then
	fail "the default kernel has no ekprobe guest patch (ekprobe_desc missing)"
	exit 1
fi
probes=(-p 'p:t/sk start_kernel' -p 'p:t/sa setup_arch' -p 'p:t/in do_one_initcall fn=%di:symbol'
	-p 'r:t/out do_one_initcall ret=$retval:s32')

# A hot function: the jump engine at its entry and the trap engine at a later instruction of
# the same basic block, in one boot: equal counts, so the ring lost nothing.
base=$((0x$(grep ' __alloc_pages$' "$SYSMAP" | cut -d' ' -f1)))
later=
while read -r addr mnem _; do
	off=$(( 0x${addr%:} - base ))
	# the ftrace call at +0 returns right away: not a branch out of the block
	if [[ "$mnem" =~ ^(j|call|ret|loop) ]] && [ "$off" -gt 0 ] && [ "$off" -lt 24 ]; then later=branch; break; fi
	if [ "$off" -ge 24 ]; then later=$(printf '0x%x' "$off"); break; fi
done < <(objdump -d --no-show-raw-insn --start-address="$base" --stop-address=$((base + 64)) \
	"$VMLINUX" | grep -E '^ *[0-9a-f]+:')
if [ "$later" = branch ] || [ -z "$later" ]; then
	fail "__alloc_pages has a branch in its first 24 bytes: pick another hot function"
else
	# shellcheck disable=SC2046
	"$EKPROBE" --engine auto --engine hot/trap=trap --summary -o "$TMP/hot.txt" \
		-p 'p:hot/jump __alloc_pages' -p "p:hot/trap __alloc_pages+$later" \
		-- $(qemu_cmd "$TMP/console") -append "$APPEND" 2>"$TMP/hot.err"
	j=$(hits hot/jump jump "$TMP/hot.txt") t=$(hits hot/trap trap "$TMP/hot.txt")
	echo "    __alloc_pages: jump at entry $j, trap at +$later $t"
	check "hot function: jump at entry $j == trap at +$later $t, > 1000" \
		bash -c "[ -n '$j' ] && [ '$j' = '$t' ] && [ '$j' -gt 1000 ]"
	check "no record lost or invalid" bash -c "! grep -q 'LOST\|invalid records' '$TMP/hot.txt'"
fi

# Refused sites fall back to trap in auto mode, saying why; in jump mode nothing starts.
# shellcheck disable=SC2046
"$EKPROBE" --engine auto --summary -o "$TMP/auto.txt" -p 'p:f/head startup_64' -p 'p:f/sk start_kernel' \
	-- $(qemu_cmd "$TMP/console") -append "$APPEND" 2>"$TMP/auto.err"
check "auto: exit 0" [ $? -eq 0 ]
check "auto: startup_64 falls back to trap with the reason" grep -q 'f/head: trap engine (head text' "$TMP/auto.err"
check "auto: startup_64 still fires once (trap)" [ "$(hits f/head trap "$TMP/auto.txt")" = 1 ]
check "auto: start_kernel fires once (jump)" [ "$(hits f/sk jump "$TMP/auto.txt")" = 1 ]
# shellcheck disable=SC2046
"$EKPROBE" --engine jump -p 'p startup_64' -- $(qemu_cmd "$TMP/console2") -append "$APPEND" \
	>/dev/null 2>"$TMP/jumponly.err"
rc=$?
check "--engine jump with a refused site: exit 2, reason, no QEMU" \
	bash -c "[ $rc -eq 2 ] && grep -q 'cannot use the jump engine' '$TMP/jumponly.err' && [ ! -e '$TMP/console2' ]"

check_ftrace_coexistence

# Detach restores the original bytes (the engine reads them back and says so).
# A return probe held by the trap engine paces the boot, so the signal comes in the middle of it.
# shellcheck disable=SC2046
"$EKPROBE" --engine auto --engine d/pace=trap --summary -o "$TMP/det.txt" -p 'p:d/init do_one_initcall' \
	-p 'p:d/alloc __alloc_pages' -p 'r:d/pace __alloc_pages' \
	-- $(qemu_cmd "$TMP/detcons") -append "$APPEND" 2>"$TMP/det.err" &
pid=$!
timeout 120 tail -n +1 -F "$TMP/det.txt" 2>/dev/null | grep -m 20 -q 'd/alloc:'
kill -INT $pid; wait $pid; rc=$?
check "detach: exit 0, guest ran on" bash -c "[ $rc -eq 0 ] && grep -q EKPROBE-GUEST-DONE '$TMP/detcons'"
check "detach: original bytes restored and read back" grep -q 'jump sites restored (original bytes read back)' "$TMP/det.err"
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
