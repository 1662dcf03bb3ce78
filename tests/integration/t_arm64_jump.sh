#!/usr/bin/env bash
# The jump engine on the arm64 default guest (qemu-system-aarch64 -M virt -cpu max, TCG; the
# arm64 guest patch): under -icount shift=5,sleep=off the trap and jump engines give the same
# counts for start_kernel, setup_arch, do_one_initcall entries (fn=%x0) and returns
# (ret=$retval through x30), with the same names and values in the same order; in one -smp 2
# boot a jump at a hot function's entry and a trap at a later instruction of the same basic
# block count the same, and a BL, B.cond, ADRP and BLR relocated into trampolines run as in
# place (the trap engine after them sees what they did); sites the ARM rules forbid (an
# exclusive-monitor sequence) and the boot code before start_kernel are refused with the reason
# (auto: the trap engine takes them); ftrace keeps working on a jump-probed function (the jump
# goes after its patchable entry) with no warning in dmesg.
EKPROBE_IT_ARCH=arm64
. "$(dirname "$0")/lib.sh"
export EKPROBE_TCG_PLUGIN=/nonexistent
if ! grep -q ' ekprobe_desc$' "$SYSMAP"; then
	fail "the arm64 default kernel has no ekprobe guest patch (ekprobe_desc missing)"
	exit 1
fi
OBJDUMP=aarch64-linux-gnu-objdump
seq_of() { grep -oE " $1: .*" "$2" | sed 's/^ [^ ]* //'; } # the events' text after the name
same_seq() { # same_seq WHAT EVENT1 FILE1 EVENT2 FILE2: non-empty and equal
	seq_of "$2" "$3" > "$TMP/seq1"; seq_of "$4" "$5" > "$TMP/seq2"
	check "$1 ($(wc -l < "$TMP/seq1") events)" bash -c "[ -s '$TMP/seq1' ] && cmp -s '$TMP/seq1' '$TMP/seq2'"
}

# 1. -icount: one boot per engine, every probe on that engine.
probes=(-p 'p:t/sk start_kernel' -p 'p:t/sa setup_arch' -p 'p:t/in do_one_initcall fn=%x0:symbol'
	-p 'r:t/out do_one_initcall ret=$retval:s32')
for engine in trap jump; do
	# shellcheck disable=SC2046
	"$EKPROBE" --engine "$engine" --summary -o "$TMP/$engine.txt" "${probes[@]}" \
		-- $(qemu_cmd "$TMP/console-$engine" -icount shift=5,sleep=off \
			-rtc clock=vm,base=2024-01-01T00:00:00) \
		-append "$APPEND" 2>"$TMP/$engine.err"
	check "icount --engine $engine: exit 0, guest reached userspace" \
		bash -c "[ $? -eq 0 ] && grep -q EKPROBE-GUEST-DONE '$TMP/console-$engine'"
done
for ev in t/sk t/sa t/in t/out; do
	a=$(hits "$ev" trap "$TMP/trap.txt") b=$(hits "$ev" jump "$TMP/jump.txt")
	check "icount: $ev trap $a == jump $b" bash -c "[ -n '$a' ] && [ '$a' -gt 0 ] && [ '$a' = '$b' ]"
done
check "icount: do_one_initcall more than 100 times" [ "$(hits t/in jump "$TMP/jump.txt")" -gt 100 ]
same_seq "icount: the same initcalls (fn=) in the same order" t/in "$TMP/trap.txt" t/in "$TMP/jump.txt"
same_seq "icount: the same return values and return sites in the same order" \
	t/out "$TMP/trap.txt" t/out "$TMP/jump.txt"
check "icount: the same event order" \
	cmp <(grep -oE ' t/(sk|sa|in|out):' "$TMP/trap.txt") <(grep -oE ' t/(sk|sa|in|out):' "$TMP/jump.txt")
check "icount: no record lost or invalid" bash -c "! grep -q 'LOST\|invalid records' '$TMP/jump.txt'"

# 2. -smp 2, one boot: a hot function, the jump engine at its entry (after ftrace's two NOPs)
# and the trap engine at a later instruction of the same basic block; plus do_one_initcall on
# both engines at the same address (the trap at +0, the jump at +8).
hot=__alloc_pages
base=$((0x$(grep " $hot\$" "$SYSMAP" | cut -d' ' -f1)))
later=
while read -r addr mnem _; do
	off=$(( 0x${addr%:} - base ))
	[ "$off" -lt 8 ] && continue # ftrace's NOPs
	if [[ "$mnem" =~ ^(b|bl|br|blr|ret|cbz|cbnz|tbz|tbnz)(\.|$) ]]; then later=branch; break; fi
	if [ "$off" -ge 16 ]; then later=$(printf '0x%x' "$off"); break; fi
done < <($OBJDUMP -d --no-show-raw-insn --start-address="$base" --stop-address=$((base + 64)) \
	"$VMLINUX" | grep -E '^ *[0-9a-f]+:')
# Relocated instructions in do_one_initcall, on jumps: its first BL (the callee returns to J+4),
# B.cond, ADRP and BLR (an initcall returns into the slot); the trap engine right after the
# BL, the ADRP (fetching the register the relocated ADRP wrote) and the BLR.
doi=$((0x$(grep " do_one_initcall\$" "$SYSMAP" | cut -d' ' -f1)))
declare -A first=()
adrp_rd= adrp_val=
while read -r addr mnem ops; do
	off=$(( 0x${addr%:} - doi ))
	[ "$off" -lt 8 ] && continue
	case "$mnem" in
	bl) k=bl ;; blr) k=blr ;; adrp) k=adrp ;; b.*) k=bc ;; *) continue ;;
	esac
	[ -n "${first[$k]:-}" ] && continue
	first[$k]=$off
	if [ "$k" = adrp ]; then adrp_rd=${ops%%,*} adrp_val=$(echo "$ops" | awk '{print $2}'); fi
done < <($OBJDUMP -d --no-show-raw-insn --start-address="$doi" --stop-address=$((doi + 0x100)) \
	"$VMLINUX" | grep -E '^ *[0-9a-f]+:')
reloc=()
for k in bl bc adrp blr; do
	[ -n "${first[$k]:-}" ] || continue
	reloc+=(-p "p:j/$k do_one_initcall+${first[$k]}")
done
for k in bl blr; do
	[ -n "${first[$k]:-}" ] && reloc+=(-p "p:t/$k do_one_initcall+$((first[$k] + 4))")
done
[ -n "${first[adrp]:-}" ] && reloc+=(-p "p:t/adrp do_one_initcall+$((first[adrp] + 4)) v=%$adrp_rd:x64")
check "do_one_initcall has a BL, a B.cond, an ADRP and a BLR to relocate (${!first[*]})" \
	[ "${#first[@]}" -eq 4 ]

if [ "$later" = branch ] || [ -z "$later" ]; then
	fail "$hot has a branch in its first 16 bytes: pick another hot function"
else
	# shellcheck disable=SC2046
	"$EKPROBE" --engine jump --engine 't/*=trap' --summary -o "$TMP/s2.txt" \
		-p "p:j/hot $hot" -p "p:t/hot $hot+$later" \
		-p 'p:j/in do_one_initcall fn=%x0:symbol' -p 'p:t/in do_one_initcall fn=%x0:symbol' \
		-p 'r:j/out do_one_initcall ret=$retval:s32' -p 'r:t/out do_one_initcall ret=$retval:s32' \
		"${reloc[@]}" -- $(qemu_cmd "$TMP/console-s2" -smp 2) -append "$APPEND" 2>"$TMP/s2.err"
	check "-smp 2: exit 0, guest reached userspace" \
		bash -c "[ $? -eq 0 ] && grep -q EKPROBE-GUEST-DONE '$TMP/console-s2'"
	j=$(hits j/hot jump "$TMP/s2.txt") t=$(hits t/hot trap "$TMP/s2.txt")
	echo "    $hot: jump at entry $j, trap at +$later $t"
	check "-smp 2: $hot jump at entry $j == trap at +$later $t, > 1000" \
		bash -c "[ -n '$j' ] && [ '$j' = '$t' ] && [ '$j' -gt 1000 ]"
	check "-smp 2: $hot hit on both CPUs (jump)" \
		bash -c "grep -q '\\[000\\] .* j/hot:' '$TMP/s2.txt' && grep -q '\\[001\\] .* j/hot:' '$TMP/s2.txt'"
	for ev in in out; do
		j=$(hits "j/$ev" jump "$TMP/s2.txt") t=$(hits "t/$ev" trap "$TMP/s2.txt")
		check "-smp 2: do_one_initcall $ev jump $j == trap $t" \
			bash -c "[ -n '$j' ] && [ '$j' = '$t' ] && [ '$j' -gt 100 ]"
	done
	n=$(hits j/in jump "$TMP/s2.txt")
	for k in bl bc adrp blr; do
		c=$(hits "j/$k" jump "$TMP/s2.txt")
		check "relocated ${k} at do_one_initcall+${first[$k]:-?}: $c jump hits == $n calls" [ "$c" = "$n" ]
	done
	for k in bl adrp blr; do
		c=$(hits "t/$k" trap "$TMP/s2.txt")
		check "after the relocated $k: $c trap hits == $n calls" [ "$c" = "$n" ]
	done
	vals=$(grep -o ' t/adrp: .* v=[0-9a-fx]*' "$TMP/s2.txt" | sed 's/.*v=//' | sort -u)
	check "the relocated adrp wrote $adrp_rd = 0x$adrp_val (trap after it: $vals)" \
		[ "$vals" = "0x$adrp_val" ]
	same_seq "-smp 2: the same initcalls in the same order" j/in "$TMP/s2.txt" t/in "$TMP/s2.txt"
	check "-smp 2: no record lost or invalid" bash -c "! grep -q 'LOST\|invalid records' '$TMP/s2.txt'"
fi

# 3. Refused sites: --engine jump starts nothing and says why.
try_jump() { # try_jump PROBE: --engine jump with one probe; its exit status, stderr in r.err
	rm -f "$TMP/console-r"
	# shellcheck disable=SC2046
	"$EKPROBE" --engine jump -p "$1" -- $(qemu_cmd "$TMP/console-r") -append "$APPEND" \
		>/dev/null 2>"$TMP/r.err"
}
refused() { # refused WHAT PROBE PATTERN (try_jump PROBE ran last, with status $rc)
	check "refused: $1 ($2): exit 2, '$3', no QEMU" \
		bash -c "[ $rc -eq 2 ] && grep -q \"$3\" '$TMP/r.err' && [ ! -e '$TMP/console-r' ]"
	[ "$rc" -eq 2 ] || cat "$TMP/r.err"
}
try_jump 'p primary_entry'; rc=$?
refused "the kernel's first instruction" 'p primary_entry' "head.S's boot code"
# Load-exclusives in functions the kprobe blacklist does not name: the instruction itself, and
# the one after it (inside the sequence, before its store-exclusive).
found=0
while read -r fn addr; do
	a=$((0x$addr)) f=$((0x$(grep " $fn\$" "$SYSMAP" | head -1 | cut -d' ' -f1)))
	try_jump "p $fn+$((a - f))"; rc=$?
	[ "$rc" -eq 2 ] && grep -q 'blacklist' "$TMP/r.err" && continue
	refused "a load-exclusive" "p $fn+$((a - f))" 'load-exclusive instruction'
	try_jump "p $fn+$((a - f + 4))"; rc=$?
	refused "inside an exclusive-monitor sequence" "p $fn+$((a - f + 4))" \
		'inside an exclusive-monitor sequence'
	found=1
	break
done < <($OBJDUMP -d --no-show-raw-insn "$VMLINUX" |
	awk '/^[0-9a-f]+ <.*>:$/ { fn = substr($2, 2, length($2) - 3); ok = fn ~ /^[a-z_][a-z0-9_]*$/ }
	     ok && /\tld(a)?xr\t/ { sub(":", "", $1); print fn, $1 }' | head -20)
check "an exclusive-monitor site outside the kprobe blacklist was found" [ "$found" = 1 ]
# --engine auto: the refused site falls back to the trap engine, saying why; the others jump.
# shellcheck disable=SC2046
"$EKPROBE" --engine auto --summary -o "$TMP/auto.txt" -p 'p:f/pe primary_entry' \
	-p 'p:f/sk start_kernel' -- $(qemu_cmd "$TMP/console-auto") -append "$APPEND" 2>"$TMP/auto.err"
check "auto: exit 0" [ $? -eq 0 ]
check "auto: primary_entry falls back to trap with the reason" \
	grep -q "f/pe: trap engine (.*head.S's boot code" "$TMP/auto.err"
check "auto: primary_entry fires once (trap), start_kernel once (jump)" \
	bash -c "[ '$(hits f/pe trap "$TMP/auto.txt")' = 1 ] && [ '$(hits f/sk jump "$TMP/auto.txt")' = 1 ]"

# 4. ftrace on a jump-probed function (the jump is after the two NOPs ftrace_init rewrites).
check_ftrace_coexistence
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
