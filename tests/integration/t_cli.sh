#!/usr/bin/env bash
# The command line tells the truth: --help names every option, usage errors exit 2.
. "$(dirname "$0")/lib.sh"
"$EKPROBE" --help > "$TMP/help"; rc=$?
check "--help exits 0" [ "$rc" -eq 0 ]
for o in --probe --probes --symbols --vm --qmp --output --format --summary --timeout --verbose --version; do
	check "--help describes $o" grep -q -- "$o" "$TMP/help"
done
"$EKPROBE" -p 'p start_kernel' > /dev/null 2>"$TMP/err"; rc=$?
check "no guest given: exit 2" [ "$rc" -eq 2 ]
check "no guest given: says so" grep -q 'no guest' "$TMP/err"
"$EKPROBE" --format xml -p 'p start_kernel' --vm unix:/nonexistent > /dev/null 2>"$TMP/err"; rc=$?
check "bad --format: exit 2" [ "$rc" -eq 2 ]
"$EKPROBE" --symbols /nonexistent -p 'p start_kernel' --vm unix:/x > /dev/null 2>"$TMP/err"; rc=$?
check "missing symbols file: exit 2 with the path" bash -c "[ $rc -eq 2 ] && grep -q /nonexistent '$TMP/err'"
exit $((failures > 0))
