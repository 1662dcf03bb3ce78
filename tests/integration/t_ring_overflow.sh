#!/usr/bin/env bash
# A full ring loses records, counts them, and never overwrites unread ones: jump probes on hot
# functions with the ring read only once, after the guest exits (--poll-ms an hour).
. "$(dirname "$0")/lib.sh"
if ! grep -q ' ekprobe_desc$' "$SYSMAP"; then
	fail "the default kernel has no ekprobe guest patch (ekprobe_desc missing)"
	exit 1
fi
# shellcheck disable=SC2046
"$EKPROBE" --engine jump --poll-ms 3600000 --summary -o "$TMP/ring.txt" \
	-p 'p:r/sk start_kernel' -p 'p:r/alloc __alloc_pages' -p 'p:r/kmc kmem_cache_alloc' \
	-p 'p:r/kml __kmalloc' -p 'p:r/late run_init_process' \
	-- $(qemu_cmd "$TMP/console") -append "$APPEND" 2>"$TMP/ring.err"
rc=$?
check "exit 0 (records lost is not an error)" [ "$rc" -eq 0 ]
size=$(sed -n 's/.*their ring holds \([0-9]*\) records.*/\1/p' "$TMP/ring.err")
events=$(grep -vc '^#' "$TMP/ring.txt" || true)
lost=$(sed -n 's/^# exit-less engines (jump, plugin): \([0-9]*\) records LOST.*/\1/p' "$TMP/ring.txt")
echo "    ring of ${size:-?} records: $events events written, ${lost:-no} LOST reported"
check "exactly a ring's worth of events came out" bash -c "[ -n '$size' ] && [ '$events' = '$size' ]"
check "the summary counts the lost records" bash -c "[ -n '$lost' ] && [ '$lost' -gt 0 ]"
check "a warning on standard error says so" grep -q 'warning: the guest dropped [0-9]* jump-probe records' "$TMP/ring.err"
hits() { sed -n "s|^# *\([0-9]*\) *jump *$1 .*|\1|p" "$TMP/ring.txt"; }
check "the first records were kept: start_kernel 1" [ "$(hits r/sk)" = 1 ]
check "a hit after the ring filled was lost, not written over unread ones: run_init_process 0" \
	[ "$(hits r/late)" = 0 ]
check "the kept records are the boot's first: timestamps never go back" bash -c \
	"grep -v '^#' '$TMP/ring.txt' | awk '{ t = \$4 + 0; if (t < last) exit 1; last = t }'"
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
