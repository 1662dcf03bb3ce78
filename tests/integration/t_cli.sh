#!/usr/bin/env bash
# The command line tells the truth: --help names every option, usage errors exit 2.
. "$(dirname "$0")/lib.sh"
"$EKPROBE" --help > "$TMP/help"; rc=$?
check "--help exits 0" [ "$rc" -eq 0 ]
# Every long option in main.c's table, so a new one cannot go undocumented.
opts=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", .*/--\1/p' "$top/host/main.c")
check "found the option table" [ "$(echo "$opts" | wc -w)" -gt 10 ]
for o in $opts; do
	check "--help describes $o" grep -qe "$o\b" "$TMP/help"
done
"$EKPROBE" -p 'p start_kernel' > /dev/null 2>"$TMP/err"; rc=$?
check "no guest given: exit 2" [ "$rc" -eq 2 ]
check "no guest given: says so" grep -q 'no guest' "$TMP/err"
"$EKPROBE" --format xml -p 'p start_kernel' --vm unix:/nonexistent > /dev/null 2>"$TMP/err"; rc=$?
check "bad --format: exit 2" [ "$rc" -eq 2 ]
"$EKPROBE" --symbols /nonexistent -p 'p start_kernel' --vm unix:/x > /dev/null 2>"$TMP/err"; rc=$?
check "missing symbols file: exit 2 with the path" bash -c "[ $rc -eq 2 ] && grep -q /nonexistent '$TMP/err'"
"$EKPROBE" --engine nosuch=trap -p 'p start_kernel' --symbols "$SYSMAP" --vm unix:/x > /dev/null 2>"$TMP/err"; rc=$?
check "--engine for a probe that does not exist: exit 2, names it" \
	bash -c "[ $rc -eq 2 ] && grep -q 'no probe is named nosuch' '$TMP/err'"
"$EKPROBE" --engine kprobes/p_start_kernel_0=fast -p 'p start_kernel' --vm unix:/x > /dev/null 2>"$TMP/err"; rc=$?
check "--engine with a bad engine name: exit 2" bash -c "[ $rc -eq 2 ] && grep -q 'expected plugin, jump, trap, or auto' '$TMP/err'"
"$EKPROBE" --poll-ms 0 -p 'p start_kernel' --vm unix:/x > /dev/null 2>"$TMP/err"; rc=$?
check "--poll-ms 0: exit 2" [ "$rc" -eq 2 ]
# A bad --vm spec is a usage error found before anything starts (it used to be found only on
# connecting, exit 1; an empty port went through).
for spec in gdb:localhost: bogus 'gdb:[::1]:0' unix:; do
	timeout 60 "$EKPROBE" -p 'p start_kernel' --symbols "$SYSMAP" --vm "$spec" > /dev/null 2>"$TMP/err"
	rc=$?
	check "--vm $spec: exit 2" [ "$rc" -eq 2 ]
	check "--vm $spec: says why" grep -qF -- "ekprobe-host: error: --vm $spec: " "$TMP/err"
done
timeout 60 "$EKPROBE" -p 'p start_kernel' --symbols "$SYSMAP" --vm gdb:localhost: > /dev/null 2>"$TMP/err"
check "--vm gdb:localhost: names the missing port" grep -q -- '--vm gdb:localhost:: missing PORT' "$TMP/err"
timeout 60 "$EKPROBE" -p 'p start_kernel' --symbols "$SYSMAP" --vm bogus > /dev/null 2>"$TMP/err"
check "--vm bogus: says what a spec is" \
	grep -q -- '--vm bogus: expected gdb:HOST:PORT, unix:PATH or libvirt:NAME' "$TMP/err"
timeout 60 "$EKPROBE" -p 'p start_kernel' --symbols "$SYSMAP" --vm libvirt: > /dev/null 2>"$TMP/err"
check "--vm libvirt: (no name): exit 2, names what is missing" bash -c \
	"[ $? -eq 2 ] && grep -q -- '--vm libvirt:: missing NAME' '$TMP/err'"
timeout 60 "$EKPROBE" -p 'p start_kernel' --symbols "$SYSMAP" --connect qemu:///system --vm unix:/x \
	> /dev/null 2>"$TMP/err"
check "--connect without --vm libvirt: exit 2" bash -c \
	"[ $? -eq 2 ] && grep -q -- '--connect goes with --vm libvirt:DOMAIN' '$TMP/err'"
exit $((failures > 0))
