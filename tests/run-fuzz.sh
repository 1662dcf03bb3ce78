#!/usr/bin/env bash
# Run libFuzzer targets on their seed corpora (tests/fuzz/corpus/<target>/).
#   smoke: a few seconds each (part of make test)
#   long:  FUZZ_RUNS executions each (default 10,000,000), or FUZZ_SECONDS each if set;
#          prints executions and execs/s per target (docs/testing.md has the latest figures).
set -u
mode=$1; shift
args_run=(-max_total_time=5)
if [ "$mode" = long ]; then
	if [ -n "${FUZZ_SECONDS:-}" ]; then
		args_run=(-max_total_time="$FUZZ_SECONDS")
	else
		args_run=(-runs="${FUZZ_RUNS:-10000000}")
	fi
fi
pass=0 fail=0
for f in "$@"; do
	name=$(basename "$f")
	seeds=tests/fuzz/corpus/$name
	work=build/fuzz-corpus/$name
	mkdir -p "$work"
	args=("$work")
	[ -d "$seeds" ] && args+=("$seeds")
	start=$SECONDS
	if "$f" "${args_run[@]}" -print_final_stats=1 "${args[@]}" >"build/fuzz/$name.log" 2>&1; then
		pass=$((pass + 1))
		if [ "$mode" = long ]; then
			runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/$name.log")
			rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "build/fuzz/$name.log")
			printf 'fuzz: %-14s %12s executions %8s execs/s %6d s\n' "$name" "$runs" "$rate" \
				$((SECONDS - start))
		fi
	else
		echo "FAILED: $name (log: build/fuzz/$name.log)" >&2
		tail -30 "build/fuzz/$name.log" >&2
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
