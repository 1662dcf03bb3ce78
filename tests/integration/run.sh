#!/usr/bin/env bash
# Integration tests: boot the default kernel under QEMU TCG with ekprobe-host.
# Prints "integration: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
pass=0 failed=0 names=()
for t in "$here"/t_*.sh; do
	name=$(basename "$t" .sh)
	[ -n "${EKPROBE_IT_ONLY:-}" ] && [[ "$name" != *"$EKPROBE_IT_ONLY"* ]] && continue
	echo "== $name"
	start=$SECONDS
	if bash "$t"; then
		pass=$((pass + 1)); echo "== $name: passed ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1)); names+=("$name"); echo "== $name: FAILED ($((SECONDS - start)) s)"
	fi
done
[ "$failed" -gt 0 ] && echo "failed: ${names[*]}"
echo "integration: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
