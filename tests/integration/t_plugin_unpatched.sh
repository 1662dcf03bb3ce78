#!/usr/bin/env bash
# The plugin engine on the default kernel built WITHOUT the ekprobe guest patch
# (EKPROBE_KERNEL_VARIANT=unpatched scripts/kernel.sh, cached under its own key), with QEMU 10:
# every probe of the jump-engine tests (t_jump, t_jump_icount, t_jump_smp2) runs, each checked
# against a trap twin in the same -smp 2 boot (same counts, same initcalls and return values in
# the same order, start_secondary on CPU 1); then a detach on a signal in the middle of a boot
# leaves the guest running to its end, with the kernel's function tracer working.
here=$(cd "$(dirname "$0")" && pwd)
eval "$(EKPROBE_KERNEL_VARIANT=unpatched "$here/../../scripts/kernel.sh" print | sed 's/^/export EKPROBE_/')"
. "$here/lib.sh"
eval "$("$top/scripts/qemu.sh" print | sed 's/^\([A-Z_]*\)=\(.*\)$/export EKPROBE_\1="\2"/')"
check "the kernel has no guest patch (no ekprobe_desc)" bash -c "! grep -q ' ekprobe_desc$' '$SYSMAP'"
check "QEMU 10 is there" test -x "${EKPROBE_QEMU:-}"
hits() { sed -n "s|^# *\([0-9]*\) *$2 *$1 .*|\1|p" "$TMP/s2.txt"; } # hits EVENT ENGINE

base=$((0x$(grep ' __alloc_pages$' "$SYSMAP" | cut -d' ' -f1)))
later=
while read -r addr mnem _; do
	off=$(( 0x${addr%:} - base ))
	if [[ "$mnem" =~ ^(j|call|ret|loop) ]] && [ "$off" -gt 0 ] && [ "$off" -lt 24 ]; then later=branch; break; fi
	if [ "$off" -ge 24 ]; then later=$(printf '0x%x' "$off"); break; fi
done < <(objdump -d --no-show-raw-insn --start-address="$base" --stop-address=$((base + 64)) \
	"$VMLINUX" | grep -E '^ *[0-9a-f]+:')
[ "$later" != branch ] && [ -n "$later" ] || { fail "__alloc_pages: no later instruction in its first block"; exit 1; }

probes=(-p 'p:p/alloc __alloc_pages' -p "p:t/alloc __alloc_pages+$later"
	-p 'r:p/allocret __alloc_pages page=$retval')
for e in p t; do
	probes+=(-p "p:$e/su startup_64" -p "p:$e/sk start_kernel cmd=@boot_command_line:string"
		-p "p:$e/sa setup_arch" -p "p:$e/in do_one_initcall fn=%di:symbol"
		-p "r:$e/out do_one_initcall ret=\$retval:s32" -p "p:$e/ss start_secondary"
		-p "p:$e/ri run_init_process file=+0(%di):string")
done
# shellcheck disable=SC2046
"$EKPROBE" --engine plugin --engine 't/*=trap' --summary -o "$TMP/s2.txt" "${probes[@]}" \
	-- $(qemu_cmd "$TMP/console" -smp 2) -append "$APPEND" 2>"$TMP/s2.err"
check "-smp 2 boot: exit 0" [ $? -eq 0 ]
for ev in su sk sa in out ss ri alloc; do
	p=$(hits "p/$ev" plugin) t=$(hits "t/$ev" trap)
	check "$ev: plugin $p == trap $t" bash -c "[ -n '$p' ] && [ '$p' = '$t' ] && [ '$p' -gt 0 ]"
done
check "do_one_initcall: more than 100 calls" [ "$(hits p/in plugin)" -gt 100 ]
check "__alloc_pages returns, on both vCPUs: $(hits p/allocret plugin) == calls $(hits p/alloc plugin)" \
	bash -c "[ '$(hits p/allocret plugin)' = '$(hits p/alloc plugin)' ] && grep -q '\[000\] .*p/allocret' '$TMP/s2.txt' && grep -q '\[001\] .*p/allocret' '$TMP/s2.txt'"
check "__alloc_pages: more than 1000 calls" [ "$(hits p/alloc plugin)" -gt 1000 ]
for what in 'in:fn' 'out:ret' 'sk:cmd' 'ri:file'; do
	ev=${what%%:*} arg=${what#*:}
	check "$ev: the same $arg values in the same order" \
		cmp <(grep " p/$ev:" "$TMP/s2.txt" | grep -o " $arg=.*") <(grep " t/$ev:" "$TMP/s2.txt" | grep -o " $arg=.*")
done
check "start_secondary ran on cpu 1 for both engines" \
	bash -c "[ \$(grep -cE '\\[001\\] .* (p|t)/ss:' '$TMP/s2.txt') = 2 ]"
check "startup_64 hit at its physical alias (plugin)" grep -qE 'p/su: \(startup_64\+0x0\)' "$TMP/s2.txt"
check "no record lost or invalid" bash -c "! grep -q 'LOST\|invalid' '$TMP/s2.txt'"

# Detach on a signal while the boot goes on: the plugin records nothing more, the guest runs on;
# the kernel's function tracer traced do_one_initcall all along (it shows no trace with -smp 2,
# with or without ekprobe, hence this -smp 1 boot).
# shellcheck disable=SC2046
"$EKPROBE" --engine plugin --summary -o "$TMP/det.txt" -p 'p:d/init do_one_initcall' \
	-p 'p:d/alloc __alloc_pages' -p 'r:d/ret __alloc_pages' \
	-- $(qemu_cmd "$TMP/detcons") \
	-append "$APPEND ftrace=function ftrace_filter=do_one_initcall ekprobe.dumptrace" 2>"$TMP/det.err" &
pid=$!
timeout 120 tail -n +1 -F "$TMP/det.txt" 2>/dev/null | grep -m 20 -q 'd/alloc:'
kill -INT $pid; wait $pid; rc=$?
check "detach: exit 0, guest ran to its end" bash -c "[ $rc -eq 0 ] && grep -q EKPROBE-GUEST-DONE '$TMP/detcons'"
check "detach: the plugin was switched off" grep -q 'plugin probes off' "$TMP/det.err"
check "detach: fewer allocations seen than a whole boot has" bash -c "[ \$(grep -c 'd/alloc:' '$TMP/det.txt') -lt 3000 ]"
traced=$(sed -n '/EKPROBE-TRACE-BEGIN/,/EKPROBE-TRACE-END/p' "$TMP/detcons" | grep -c 'do_one_initcall' || true)
check "the kernel's function tracer still traces do_one_initcall ($traced lines)" [ "$traced" -gt 50 ]
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
