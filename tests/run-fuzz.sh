#!/usr/bin/env bash
# Run libFuzzer targets on their seed corpora (tests/fuzz/corpus/<target>/).
#   smoke: a few seconds each (part of make test); long: FUZZ_SECONDS each (default 120).
set -u
mode=$1; shift
secs=5
[ "$mode" = long ] && secs=${FUZZ_SECONDS:-120}
pass=0 fail=0
for f in "$@"; do
	name=$(basename "$f")
	seeds=tests/fuzz/corpus/$name
	work=build/fuzz-corpus/$name
	mkdir -p "$work"
	args=("$work")
	[ -d "$seeds" ] && args+=("$seeds")
	if "$f" -max_total_time="$secs" -print_final_stats=0 "${args[@]}" >"build/fuzz/$name.log" 2>&1; then
		pass=$((pass + 1))
	else
		echo "FAILED: $name (log: build/fuzz/$name.log)" >&2
		tail -30 "build/fuzz/$name.log" >&2
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
