#!/usr/bin/env bash
# JSON lines on a two-CPU guest: fields, memory fetch-args, the second CPU's own events.
. "$(dirname "$0")/lib.sh"
out=$TMP/trace.json console=$TMP/console.txt
# shellcheck disable=SC2046
"$EKPROBE" --summary --format json -o "$out" --symbols "$SYSMAP" \
	-p 'p start_kernel cmd=@boot_command_line:string c=$comm' \
	-p 'p:smp/secondary start_secondary' \
	-p 'p:smp/init do_one_initcall' -p 'r:smp/init_ret do_one_initcall rv=$retval:s32' \
	-- $(qemu_cmd "$console" -smp 2) -append "$APPEND" 2>"$TMP/err"
rc=$?
check "exit status 0" [ "$rc" -eq 0 ]
check "JSON lines are valid and complete" python3 - "$out" <<'PY'
import json, sys
need = {"probe", "kind", "addr", "sym", "cpu", "ts_ns", "args"}
events, summary = [], None
for n, line in enumerate(open(sys.argv[1]), 1):
    o = json.loads(line)
    if "summary" in o:
        summary = o["summary"]; continue
    missing = need - o.keys()
    assert not missing, f"line {n}: missing {missing}"
    assert o["kind"] in ("entry", "return"), o
    int(o["addr"], 16)
    events.append(o)
assert summary, "no summary"
by = lambda p: [e for e in events if e["probe"] == p]
sk = by("kprobes/p_start_kernel_0")
assert len(sk) == 1 and "console=ttyS0" in sk[0]["args"]["cmd"], sk
assert sk[0]["args"]["c"] == "swapper/0", sk
sec = by("smp/secondary")
assert len(sec) == 1 and sec[0]["cpu"] == 1, f"start_secondary: {sec}"
assert len(by("smp/init")) == len(by("smp/init_ret")) > 100
assert all(e["kind"] == "return" for e in by("smp/init_ret"))
ts = [e["ts_ns"] for e in events]
assert ts == sorted(ts), "ts_ns goes back"
hits = {p["probe"]: p["hits"] for p in summary["probes"]}
assert hits["smp/init"] == len(by("smp/init")), hits
PY
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
