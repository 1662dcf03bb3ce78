#!/usr/bin/env bash
# Run cmocka unit-test programs; print one "N passed, N failed" line at the end.
set -u
# The real-QEMU unit tests need the default guest; use it when it is built (make test builds
# it first), and say so when they will skip.
if [ -z "${EKPROBE_BZIMAGE:-}" ] && dir=$(EKPROBE_NO_BUILD=1 scripts/kernel.sh dir 2>/dev/null); then
	export EKPROBE_BZIMAGE=$dir/bzImage EKPROBE_INITRD=$dir/initrd.cpio.gz EKPROBE_VMLINUX=$dir/vmlinux
fi
[ -n "${EKPROBE_BZIMAGE:-}" ] || echo "unit: no guest kernel built (make kernel): tests that boot it will skip" >&2
pass=0 fail=0
for t in "$@"; do
	if "$t"; then pass=$((pass + 1)); else echo "FAILED: $t" >&2; fail=$((fail + 1)); fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
