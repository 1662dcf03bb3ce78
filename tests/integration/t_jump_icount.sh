#!/usr/bin/env bash
# Trap and jump engines give the same per-probe counts under -icount shift=5,sleep=off, one boot
# each (about 8 s for -smp 1). In make test with -smp 1; by hand: t_jump_icount.sh [SMP...]
# Measured 2026-11-22, entry and return probes all on jumps in auto mode: -smp 1 equal (1, 1,
# 220, 220) on Debian's QEMU 7.2 and on QEMU 10.0.2; -smp 2 equal (1, 1, 220, 220) on QEMU
# 10.0.2 (bookworm-backports, unpacked, run as below). -smp 2: QEMU 7.2 does not boot -smp 2
# under -icount at all (it stops at "Booting SMP configuration" with no ekprobe involved, for
# every -icount and kernel option tried); t_jump_smp2.sh compares the engines on -smp 2 within
# one boot instead. QEMU 8.1 fixed it (commit 83ecdb18eb65, "accel/tcg/tcg-accel-ops-rr:
# ensure fairness with icount"): to check -smp 2 with bookworm-backports' QEMU 10, unpacked:
#   EKPROBE_QEMU=.../usr/bin/qemu-system-x86_64 EKPROBE_QEMU_ARGS="-L .../usr/share/seabios
#   -L .../usr/share/qemu -audio none" tests/integration/t_jump_icount.sh 1 2
# -rtc clock=vm keeps the guest's wall clock off the host's, so the boot repeats exactly.
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

for smp in "${@:-1}"; do
	for engine in trap auto; do
		# shellcheck disable=SC2046
		"$EKPROBE" --engine "$engine" --summary -o "$TMP/$engine-$smp.txt" "${probes[@]}" \
			-- $(qemu_cmd "$TMP/console" -smp "$smp" -icount shift=5,sleep=off \
				-rtc clock=vm,base=2024-01-01T00:00:00) \
			-append "$APPEND" 2>"$TMP/$engine-$smp.err"
		check "-smp $smp --engine $engine: exit 0" [ $? -eq 0 ]
	done
	for ev in t/sk t/sa t/in t/out; do
		a=$(hits "$ev" trap "$TMP/trap-$smp.txt") b=$(anyhits "$ev" "$TMP/auto-$smp.txt")
		check "-smp $smp icount: $ev trap $a == jump $b" bash -c "[ -n '$a' ] && [ '$a' = '$b' ]"
	done
	for ev in t/sk t/sa t/in t/out; do
		check "-smp $smp: $ev ran on the jump engine" [ -n "$(hits "$ev" jump "$TMP/auto-$smp.txt")" ]
	done
	check "-smp $smp: jump events carry the same initcall names" \
		cmp <(grep -o 'fn=[^ ]*' "$TMP/trap-$smp.txt") <(grep -o 'fn=[^ ]*' "$TMP/auto-$smp.txt")
done

exit $((failures > 0))
