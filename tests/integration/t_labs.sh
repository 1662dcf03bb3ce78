#!/usr/bin/env bash
# The boot-analysis outputs (docs/labs.md) on two real boots of the default kernel with the
# default probes (guest/default.probes):
#
# boot A: the text trace with -o, the same run as trace.dat, Perfetto JSON and a JSON trace
#   (--tee), standard error a pipe. `trace-cmd report` of the trace.dat matches the text event
#   for event; the Perfetto JSON parses, its slices nest per thread and every do_one_initcall
#   call is a slice with its return's duration, and speedscope (a trace viewer from npm) opens
#   it in headless Chromium; the HTML report renders in headless Chromium
#   and names the slowest initcall the JSON trace says; `diff A A` says "no change"; no status
#   line in the pipe.
# boot B: under script(1) (a terminal), the kernel command line with initcall_blacklist= of one
#   initcall, so that initcall does no work and returns -EPERM: `diff A B` names it; the live
#   status line is on the terminal and not in B's -o file.
. "$(dirname "$0")/lib.sh"
check_py=$(dirname "$0")/labs_check.py
probes=$top/guest/default.probes
BLACKLISTED=pty_init # an initcall that does measurable work and that /init does not need
for tool in trace-cmd chromium script python3 npm; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh test)"
done

# Boot A.
# shellcheck disable=SC2046
"$EKPROBE" --summary --probes "$probes" -o "$TMP/a.txt" --tee tracedat="$TMP/a.dat" \
	--tee perfetto="$TMP/a.perfetto.json" --tee json="$TMP/a.json" \
	-- $(qemu_cmd "$TMP/a.console") -append "$APPEND" 2>&1 >/dev/null | cat >"$TMP/a.err"
rc=${PIPESTATUS[0]}
check "boot A: exit status 0" [ "$rc" -eq 0 ]
check "boot A: guest reached userspace" grep -q EKPROBE-GUEST-DONE "$TMP/a.console"

trace-cmd report "$TMP/a.dat" >"$TMP/a.report" 2>"$TMP/a.report.err"
check "trace-cmd report reads the trace.dat" [ $? -eq 0 ]
check "trace-cmd report: the same events as the text output" \
	python3 "$check_py" tracedat-vs-text "$TMP/a.report" "$TMP/a.txt"
check "perfetto JSON: parses, nests, every initcall a slice with its return's duration" \
	python3 "$check_py" perfetto "$TMP/a.perfetto.json" "$TMP/a.json"

# A real trace viewer opens the Perfetto JSON: speedscope (npm), served over HTTP on the loopback
# to headless Chromium; after the load, its toolbar names the process and thread of the
# profile it shows, which come from the file's metadata events.
if viewer=$("$top/scripts/speedscope.sh"); then
	mkdir "$TMP/www" && cp -r "$viewer/." "$TMP/www/" && cp "$TMP/a.perfetto.json" "$TMP/www/boot.json"
	exec 3< <(exec python3 "$check_py" serve "$TMP/www")
	httpd=$!
	read -r port <&3
	url="http://127.0.0.1:$port/index.html#profileURL=http://127.0.0.1:$port/boot.json"
	chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 --dump-dom "$url" \
		>"$TMP/speedscope.dom" 2>>"$TMP/chromium.err"
	shown=$(grep -o 'guest kernel (pid 1), [^<"]* (tid [0-9]*)' "$TMP/speedscope.dom" | head -1)
	echo "    speedscope shows: $shown"
	check "speedscope opens the Perfetto JSON (its profile named from the file)" [ -n "$shown" ]
	chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 \
		--window-size=1400,900 --screenshot="$TMP/a.speedscope.png" "$url" >>"$TMP/chromium.err" 2>&1
	check "a screenshot of speedscope" [ -s "$TMP/a.speedscope.png" ]
	kill "$httpd"
	exec 3<&-
else
	fail "speedscope could not be fetched (scripts/speedscope.sh)"
fi

"$EKPROBE" report "$TMP/a.json" -o "$TMP/a.html"
check "report: exit status 0" [ $? -eq 0 ]
read -r want_name want_ns < <(python3 "$check_py" slowest "$TMP/a.json")
echo "    slowest initcall in the JSON trace: $want_name, $want_ns ns"
check "report: its slowest initcall is the JSON trace's" \
	grep -q "id=\"slowest\" data-name=\"$want_name\" data-ns=\"$want_ns\"" "$TMP/a.html"
# Rendered by a real browser: the DOM after layout has the timeline with one bar per initcall
# call, and a screenshot is written.
chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$TMP/a.html" \
	>"$TMP/a.dom" 2>"$TMP/chromium.err"
bars=$(grep -c '<g class="ic' "$TMP/a.dom" || true)
calls=$(python3 "$check_py" initcalls "$TMP/a.json")
echo "    rendered timeline: $bars bars, $calls initcall calls in the JSON trace"
check "report renders in headless Chromium with one bar per initcall call" \
	[ "$bars" -gt 0 -a "$bars" -eq "$calls" ]
chromium --headless --no-sandbox --disable-gpu --window-size=1400,1000 \
	--screenshot="$TMP/a.png" "file://$TMP/a.html" >>"$TMP/chromium.err" 2>&1
check "the screenshot shows the timeline's bars (blue, the slowest red)" \
	python3 "$check_py" painted "$TMP/a.png" 3366cc dd3333

"$EKPROBE" diff "$TMP/a.json" "$TMP/a.json" >"$TMP/self.diff"
check "diff A A: exit status 0" [ $? -eq 0 ]
check "diff A A: no change" grep -qx 'no change' "$TMP/self.diff"
check "no status line in a pipe" bash -c "! grep -q 'hits, .*/s | phase' '$TMP/a.err'"

# Boot B, under a terminal.
cmd=$(printf '%q ' "$EKPROBE" --summary --probes "$probes" -o "$TMP/b.json" --format json \
	-- $(qemu_cmd "$TMP/b.console") -append "$APPEND initcall_blacklist=$BLACKLISTED")
script -qfec "$cmd" "$TMP/b.typescript" </dev/null >/dev/null
check "boot B: exit status 0" [ $? -eq 0 ]
check "boot B: guest reached userspace" grep -q EKPROBE-GUEST-DONE "$TMP/b.console"
check "status line on the terminal" grep -aq 'ekprobe-host: guest [0-9.]* s | [0-9]* hits, [0-9]*/s | phase: ' \
	"$TMP/b.typescript"
phases=$(grep -ao 'phase: [a-z_0-9]* ' "$TMP/b.typescript" | uniq | tr -d '\n')
echo "    phases the status line went through: $phases"
check "status line followed the boot phases (kernel_init during the initcalls)" \
	grep -aq 'phase: kernel_init |' "$TMP/b.typescript"
check "no status line in the -o file" bash -c "! grep -q 'hits, .*/s' '$TMP/b.json'"

"$EKPROBE" diff --top 0 "$TMP/a.json" "$TMP/b.json" >"$TMP/ab.diff"
check "diff A B: exit status 1 (changes)" [ $? -eq 1 ]
# Named by what it returned; its duration changes too, but durations are not asserted (the
# guest run time of a trap engine boot follows the host's load).
check "diff A B: names $BLACKLISTED, which returned 0 and then -EPERM" \
	grep -Eq "^ +[-+][0-9.]+ [mu]?s +$BLACKLISTED +.* returned 0 -> -1\$" "$TMP/ab.diff"
"$EKPROBE" diff --format json --top 0 "$TMP/a.json" "$TMP/b.json" >"$TMP/ab.json"
check "diff --format json: the same initcall, its return values" python3 -c "
import json, sys
d = json.load(open('$TMP/ab.json'))
c = [x for x in d['initcall_changes'] if x['name'] == '$BLACKLISTED']
sys.exit(not (d['changed'] and c and c[0]['a']['retval'] == 0 and c[0]['b']['retval'] == -1))"
grep -E "$BLACKLISTED|^totals|initcall calls " "$TMP/ab.diff" | sed 's/^/    /'
# EKPROBE_IT_KEEP=DIR keeps the outputs (docs/labs.md shows them).
[ -z "${EKPROBE_IT_KEEP:-}" ] || cp "$TMP"/a.* "$TMP"/b.* "$TMP"/ab.* "$TMP/self.diff" "$EKPROBE_IT_KEEP/"
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
