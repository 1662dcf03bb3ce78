#!/usr/bin/env bash
# Run cmocka unit-test programs; print "unit: N passed, N failed, N skipped" at the end.
# A skipped test is not a passed one: the tests that boot QEMU or read the default kernel skip
# when it is missing, and make test builds it first, so any skip fails the run unless
# EKPROBE_ALLOW_SKIPS=1 (a developer's quick run without the kernel).
set -u
if [ -z "${EKPROBE_BZIMAGE:-}" ] && dir=$(EKPROBE_NO_BUILD=1 scripts/kernel.sh dir 2>/dev/null) &&
	initrd=$(EKPROBE_NO_BUILD=1 scripts/kernel.sh initrd 2>/dev/null); then
	export EKPROBE_BZIMAGE=$dir/bzImage EKPROBE_INITRD=$initrd EKPROBE_VMLINUX=$dir/vmlinux
fi
[ -n "${EKPROBE_BZIMAGE:-}" ] || echo "unit: no guest kernel built (make kernel): tests that boot it will skip" >&2
pass=0 fail=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	# cmocka: "[  SKIPPED ] 2 test(s), listed below:" once per group that skipped.
	n=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s).*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')
	if [ "$rc" -ne 0 ]; then
		echo "FAILED: $t" >&2; fail=$((fail + 1))
	elif [ "$n" -gt 0 ]; then
		echo "SKIPPED: $t ($n test(s))" >&2; skipped=$((skipped + 1))
	else
		pass=$((pass + 1))
	fi
done
echo "unit: $pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ] || exit 1
if [ "$skipped" -gt 0 ] && [ -z "${EKPROBE_ALLOW_SKIPS:-}" ]; then
	echo "unit: a test this machine should run was skipped (EKPROBE_ALLOW_SKIPS=1 accepts that)" >&2
	exit 1
fi
exit 0
