#!/usr/bin/env bash
# The plugin engine (a QEMU TCG plugin) on real boots with bookworm-backports' QEMU 10
# (scripts/qemu.sh, cached like the kernel):
#  - under -icount shift=5,sleep=off -rtc clock=vm, plugin, trap and jump engines give the same
#    per-probe counts, initcall names, return values and event order (one boot each), return
#    probes on recursive functions included, and the plugin's timestamps never go back
#    (identical timestamps across two boots are not asserted: docs/usage.md, Clocks);
#  - on -smp 2, a plugin probe at __alloc_pages (given by --engine auto) and a trap later in
#    the same basic block count the same in one boot (no hit lost or doubled, on either vCPU);
#  - Debian's QEMU 7.2 is refused with a clear reason when --engine plugin is named, and auto
#    says why it falls back.
. "$(dirname "$0")/lib.sh"
eval "$("$top/scripts/qemu.sh" print | sed 's/^\([A-Z_]*\)=\(.*\)$/Q10_\1="\2"/')"
if [ ! -x "${Q10_QEMU:-}" ]; then
	fail "no QEMU 10 (scripts/qemu.sh print)"
	exit 1
fi
q10() { EKPROBE_QEMU=$Q10_QEMU EKPROBE_QEMU_ARGS=$Q10_QEMU_ARGS qemu_cmd "$@"; }
events() { grep -oE ' t/[a-z]+:' "$1"; }
ICOUNT=(-icount shift=5,sleep=off -rtc clock=vm,base=2024-01-01T00:00:00)
probes=(-p 'p:t/su startup_64' -p 'p:t/sk start_kernel' -p 'p:t/sa setup_arch'
	-p 'p:t/in do_one_initcall fn=%di:symbol' -p 'r:t/out do_one_initcall ret=$retval:s32'
	-p 'p:t/cs count_subheaders' -p 'r:t/csr count_subheaders ret=$retval:s32'
	-p 'p:t/rl register_leaf_sysctl_tables' -p 'r:t/rlr register_leaf_sysctl_tables ret=$retval:s32')
# count_subheaders and register_leaf_sysctl_tables call themselves for sysctl directories
# (fs/proc/proc_sysctl.c): return probes on frames nested in frames of the same function.

# --- icount: plugin == trap == jump, and the plugin's clock repeats exactly -----------------
# jump: auto with the plugin engine unavailable, so startup_64 (head text) falls back to trap.
for run in trap jump plugin plugin2; do
	case $run in
	trap) eng=(--engine trap) ;;
	jump) eng=(--engine auto) ;;
	plugin*) eng=(--engine plugin) ;;
	esac
	# shellcheck disable=SC2046
	if [ $run = jump ]; then
		EKPROBE_TCG_PLUGIN=/nonexistent "$EKPROBE" "${eng[@]}" --summary -o "$TMP/$run.txt" "${probes[@]}" \
			-- $(q10 "$TMP/console-$run" "${ICOUNT[@]}") -append "$APPEND" 2>"$TMP/$run.err"
	else
		"$EKPROBE" "${eng[@]}" --summary -o "$TMP/$run.txt" "${probes[@]}" \
			-- $(q10 "$TMP/console-$run" "${ICOUNT[@]}") -append "$APPEND" 2>"$TMP/$run.err"
	fi
	check "icount --engine ${eng[1]} ($run): exit 0" [ $? -eq 0 ]
done
for ev in t/su t/sk t/sa t/in t/out t/cs t/csr t/rl t/rlr; do
	a=$(anyhits "$ev" "$TMP/trap.txt") b=$(anyhits "$ev" "$TMP/jump.txt") c=$(hits "$ev" plugin "$TMP/plugin.txt")
	check "icount: $ev trap $a == jump $b == plugin $c" bash -c "[ -n '$c' ] && [ '$a' = '$c' ] && [ '$b' = '$c' ] && [ '$c' -gt 0 ]"
done
check "icount: jump run used the jump engine for start_kernel..do_one_initcall" \
	bash -c "[ -n '$(hits t/sk jump "$TMP/jump.txt")' ] && [ -n '$(hits t/out jump "$TMP/jump.txt")' ] && [ -n '$(hits t/csr jump "$TMP/jump.txt")' ]"
check "icount: auto says why the plugin engine is not available" \
	grep -q 'plugin engine is not available' "$TMP/jump.err"
for other in trap jump; do
	check "icount: same event order, plugin vs $other" cmp <(events "$TMP/plugin.txt") <(events "$TMP/$other.txt")
	check "icount: same initcalls, plugin vs $other" \
		cmp <(grep -o 'fn=[^ ]*' "$TMP/plugin.txt") <(grep -o 'fn=[^ ]*' "$TMP/$other.txt")
	check "icount: same return values, plugin vs $other" \
		cmp <(grep -o 'ret=[^ ]*' "$TMP/plugin.txt") <(grep -o 'ret=[^ ]*' "$TMP/$other.txt")
	check "icount: same tasks (comm-pid) and CPUs, plugin vs $other" \
		cmp <(grep -v '^#' "$TMP/plugin.txt" | awk '{ print $1, $2 }') \
		    <(grep -v '^#' "$TMP/$other.txt" | awk '{ print $1, $2 }')
done
depth() { grep -E ' t/csr?:' "$1" | awk '{ d += ($4 == "t/cs:") ? 1 : -1; if (d > m) m = d } END { print m + 0, d + 0 }'; }
read -r dmax dend < <(depth "$TMP/plugin.txt")
check "icount: count_subheaders recursed (nesting $dmax) and every frame returned ($dend left)" \
	bash -c "[ $dmax -ge 2 ] && [ $dend = 0 ]"
check "icount: two plugin boots give the same events and values" \
	cmp <(grep -v '^#' "$TMP/plugin.txt" | cut -d: -f2-) <(grep -v '^#' "$TMP/plugin2.txt" | cut -d: -f2-)
check "icount: plugin timestamps never go back" \
	bash -c "grep -v '^#' '$TMP/plugin.txt' | awk '{ sub(\":\", \"\", \$3); if (\$3 + 0 < last) bad = 1; last = \$3 + 0; n++ } END { exit bad || n < 400 }'"

# --- -smp 2: a plugin probe at a hot function's entry == a trap later in its block ----------
base=$((0x$(grep ' __alloc_pages$' "$SYSMAP" | cut -d' ' -f1)))
later=
while read -r addr mnem _; do
	off=$(( 0x${addr%:} - base ))
	if [[ "$mnem" =~ ^(j|call|ret|loop) ]] && [ "$off" -gt 0 ] && [ "$off" -lt 24 ]; then later=branch; break; fi
	if [ "$off" -ge 24 ]; then later=$(printf '0x%x' "$off"); break; fi
done < <(objdump -d --no-show-raw-insn --start-address="$base" --stop-address=$((base + 64)) \
	"$VMLINUX" | grep -E '^ *[0-9a-f]+:')
if [ "$later" = branch ] || [ -z "$later" ]; then
	fail "__alloc_pages has a branch in its first 24 bytes: pick another hot function"
else
	# shellcheck disable=SC2046
	# auto: with QEMU 10 it gives the plugin engine every probe not named otherwise.
	"$EKPROBE" --engine auto --engine hot/trap=trap --summary -o "$TMP/hot.txt" \
		-p 'p:hot/plugin __alloc_pages order=%si:u32' -p "p:hot/trap __alloc_pages+$later" \
		-- $(q10 "$TMP/hotcons" -smp 2) -append "$APPEND" 2>"$TMP/hot.err"
	check "smp 2 hot: exit 0" [ $? -eq 0 ]
	check "smp 2 hot: auto said it gave __alloc_pages to the plugin engine" grep -q 'hot/plugin: plugin engine' "$TMP/hot.err"
	p=$(hits hot/plugin plugin "$TMP/hot.txt") t=$(hits hot/trap trap "$TMP/hot.txt")
	echo "    __alloc_pages -smp 2: plugin at entry $p, trap at +$later $t"
	check "smp 2 hot: plugin $p == trap $t, > 1000" bash -c "[ -n '$p' ] && [ '$p' = '$t' ] && [ '$p' -gt 1000 ]"
	check "smp 2 hot: hits on both vCPUs" bash -c "grep -q '\\[000\\] .*hot/plugin' '$TMP/hot.txt' && grep -q '\\[001\\] .*hot/plugin' '$TMP/hot.txt'"
	check "smp 2 hot: no record lost or invalid" bash -c "! grep -q 'LOST\|invalid' '$TMP/hot.txt'"
fi

# --- a QEMU without the plugin API (Debian's 7.2) -----------------------------------------
# shellcheck disable=SC2046
"$EKPROBE" --engine plugin -p 'p start_kernel' -- $(qemu_cmd "$TMP/old-console") -append "$APPEND" \
	>/dev/null 2>"$TMP/old.err"
rc=$?
sed 's/^/    | /' "$TMP/old.err"
check "QEMU 7.2 with --engine plugin: exit 2, nothing started" bash -c "[ $rc -eq 2 ] && [ ! -e '$TMP/old-console' ]"
check "QEMU 7.2: the reason names the version and what is missing" \
	bash -c "grep -q 'cannot use the plugin engine' '$TMP/old.err' && grep -q 'version 7.2' '$TMP/old.err' && grep -q 'QEMU >= 9.2' '$TMP/old.err'"
check "no QEMU left running" no_qemu_left
EKPROBE_QEMU=$Q10_QEMU check "no QEMU 10 left running" no_qemu_left
exit $((failures > 0))
