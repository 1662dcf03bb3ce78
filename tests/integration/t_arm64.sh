#!/usr/bin/env bash
# The arm64 default guest (qemu-system-aarch64 -M virt -cpu max, TCG) under the trap engine:
# the kernel's first instruction (primary_entry, MMU off: probed at its physical address),
# start_kernel and setup_arch once each, do_one_initcall entries and returns through the link
# register (balanced, fn=%x0 naming real initcalls), run_init_process's file=+0(%x0) = "/init",
# all in boot order. (The jump engine on arm64: t_arm64_jump.sh.)
EKPROBE_IT_ARCH=arm64
. "$(dirname "$0")/lib.sh"
out=$TMP/trace.json console=$TMP/console.txt
# shellcheck disable=SC2046
"$EKPROBE" --summary --format json -o "$out" \
	-p 'p:b/primary_entry primary_entry' \
	-p 'p:b/start_kernel start_kernel cmd=@boot_command_line:string' \
	-p 'p:b/setup_arch setup_arch' \
	-p 'p:b/parse_early_param parse_early_param cmd=@boot_command_line:string' \
	-p 'p:initcall/enter do_one_initcall fn=%x0:symbol' \
	-p 'r:initcall/leave do_one_initcall ret=$retval:s32' \
	-p 'p:b/run_init run_init_process file=+0(%x0):string' \
	-- $(qemu_cmd "$console") -append "$APPEND" 2>"$TMP/err"
rc=$?
check "exit status 0 (QEMU's)" [ "$rc" -eq 0 ]
check "guest reached userspace" grep -q EKPROBE-GUEST-DONE "$console"
[ "$rc" -eq 0 ] || cat "$TMP/err"
python3 - "$out" "$SYSMAP" "$APPEND" <<'EOF'
import json, re, sys
out, sysmap, append = sys.argv[1:4]
ev = [json.loads(l) for l in open(out) if l.startswith("{")]
ev = [e for e in ev if "probe" in e]
text = {}
for l in open(sysmap):
    a, t, n = l.split()[:3]
    if t in "tT":
        text[n] = int(a, 16)
bad = 0
def say(ok, what):
    global bad
    print("    %s: %s" % ("ok" if ok else "FAIL", what))
    bad += 0 if ok else 1
def of(p):
    return [e for e in ev if e["probe"] == p]
for p in ("b/primary_entry", "b/start_kernel", "b/setup_arch"):
    say(len(of(p)) == 1, "exactly one hit of %s (%d)" % (p, len(of(p))))
pe = of("b/primary_entry")
# Before the MMU is on, the CPU runs the image at its physical address: the hit's pc is not
# the symbol's (kernel) address but the alias in guest RAM (-M virt: RAM from 0x40000000).
say(bool(pe) and "pc" in pe[0] and 0x40000000 <= int(pe[0]["pc"], 16) < 0x80000000
    and int(pe[0]["addr"], 16) == text["primary_entry"],
    "primary_entry fired at its physical address (%s), reported at primary_entry"
    % (pe[0].get("pc") if pe else None))
sk = of("b/start_kernel")
say(bool(sk) and "cmd" in sk[0]["args"], "start_kernel fetched cmd=@boot_command_line (%r)"
    % (sk[0]["args"].get("cmd") if sk else None))
# arm64 fills boot_command_line from the device tree inside setup_arch: by parse_early_param
# (called from setup_arch) it holds QEMU's -append.
pep = of("b/parse_early_param")
say(bool(pep) and pep[0]["args"].get("cmd") == append,
    "boot_command_line = QEMU's -append by parse_early_param (%r)"
    % (pep[0]["args"].get("cmd") if pep else None))
enter, leave = of("initcall/enter"), of("initcall/leave")
print("    do_one_initcall: %d entries, %d returns" % (len(enter), len(leave)))
say(len(enter) == len(leave), "initcall entries equal returns")
say(len(enter) > 50, "more than 50 initcalls")
fns = {e["args"]["fn"] for e in enter}
notext = [f for f in fns if not f.endswith("+0x0") or f[:-4] not in text]
say(not notext, "every fn= is a text symbol of System.map at +0x0 %s" % notext[:3])
say("init_kprobes+0x0" in fns and "init_kprobe_trace+0x0" in fns, "initcalls init_kprobes, init_kprobe_trace seen")
# Returns come back to do_one_initcall's caller (x30 at the entry), with an int result.
rs = {e.get("ret_sym", "").split("+")[0] for e in leave}
say(bool(rs) and all(r in text and r != "do_one_initcall" for r in rs),
    "returns land in do_one_initcall's callers, text symbols (%s)" % sorted(rs))
say(all(re.fullmatch(r"-?\d+", str(e["args"]["ret"])) for e in leave), "ret=$retval:s32 is an int")
ri = of("b/run_init")
say(bool(ri) and ri[0]["args"].get("file") == "/init", "run_init_process file=+0(%%x0):string = /init (%r)"
    % (ri[0]["args"].get("file") if ri else None))
# Boot order: first occurrences in the output, and timestamps never go back.
idx = {}
for i, e in enumerate(ev):
    idx.setdefault(e["probe"], i)
order = ["b/primary_entry", "b/start_kernel", "b/setup_arch", "initcall/enter", "b/run_init"]
say(all(p in idx for p in order) and [idx[p] for p in order] == sorted(idx[p] for p in order),
    "events in boot order")
ts = [e["ts_ns"] for e in ev]
say(ts == sorted(ts), "timestamps never go back")
sys.exit(1 if bad else 0)
EOF
check "the trace holds (above)" [ $? -eq 0 ]

check "no QEMU left running" no_qemu_left
exit $((failures > 0))
