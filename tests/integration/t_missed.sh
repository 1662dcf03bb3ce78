#!/usr/bin/env bash
# Missed hits reach the summary and JSON, as kprobes' nmissed: a return probe with maxactive 1
# on start_secondary, which every secondary CPU enters and none returns from. On 3 CPUs the
# first entry stays pending and the second cannot be tracked: 1 pending, 1 missed, exactly.
. "$(dirname "$0")/lib.sh"
out=$TMP/trace.json
# shellcheck disable=SC2046
"$EKPROBE" --summary --format json -o "$out" -p 'r1:smp/ret start_secondary' \
	-p 'p:smp/in start_secondary' -- $(qemu_cmd "$TMP/console" -smp 3) -append "$APPEND" \
	2>"$TMP/err"
rc=$?
check "exit 0" [ "$rc" -eq 0 ]
check "summary: 2 entries, 1 pending, 1 missed" python3 - "$out" <<'PY'
import json, sys
s = [json.loads(l)["summary"] for l in open(sys.argv[1]) if '"summary"' in l][0]
p = {x["probe"]: x for x in s["probes"]}
assert p["smp/in"]["hits"] == 2, p
r = p["smp/ret"]
assert (r["hits"], r["pending"], r["missed"]) == (0, 1, 1), r
assert p["smp/in"]["missed"] == 0, p
PY
"$EKPROBE" --summary -o "$TMP/trace.txt" -p 'r1:smp/ret start_secondary' \
	-- $(qemu_cmd "$TMP/console2" -smp 3) -append "$APPEND" 2>"$TMP/err2"
check "text summary says MISSED" grep -qE '^# +0 +trap +smp/ret .*\(1 entries still pending\) \(1 MISSED\)' "$TMP/trace.txt"
check "no QEMU left" no_qemu_left
exit $((failures > 0))
