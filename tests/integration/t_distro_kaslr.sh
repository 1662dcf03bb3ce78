#!/usr/bin/env bash
# Debian 12's own cloud kernel as it ships (scripts/debian-kernel.sh: apt-get download, LZ4
# vmlinuz, RANDOMIZE_BASE and RANDOMIZE_MEMORY on), no vmlinux and no System.map: the symbols
# come from the vmlinuz's own kallsyms. Three boots with KASLR on must each report where the
# kernel went (three different virtual offsets) and fire every probe at the running kernel's
# addresses, fetch-args through pointers into the direct map included (RANDOMIZE_MEMORY); a
# boot with nokaslr must run as many initcalls.
. "$(dirname "$0")/lib.sh"
eval "$("$top/scripts/debian-kernel.sh" print)"
echo "    kernel: $VERSION"
DIR=$TMP/debian
mkdir -p "$DIR"
cp "$KERNEL" "$DIR/" # nothing beside it: ekprobe-host must read the image itself
IMG=$DIR/$(basename "$KERNEL")
"$top/build/tools/symdump" "$IMG" > "$TMP/syms" || fail "symdump of $IMG"
PROBES=(-p 'p startup_64' -p 'p start_kernel cmd=@boot_command_line:string'
	-p 'p:initcall/enter do_one_initcall fn=%di:symbol'
	-p 'r:initcall/leave do_one_initcall ret=$retval:s32'
	-p 'p run_init_process file=+0(%di):string'
	-p 'p:exec/open do_filp_open path=+0(+0(%si)):string')

boot() { # boot NAME APPEND: trace in $TMP/NAME.json, stderr in $TMP/NAME.err
	local name=$1 append=$2 console=$TMP/$1.console
	"$EKPROBE" --summary --format json -o "$TMP/$name.json" "${PROBES[@]}" \
		-- "${EKPROBE_QEMU:-qemu-system-x86_64}" -name "$QEMU_NAME" -display none \
		-serial "file:$console" -no-reboot -m 512 -kernel "$IMG" -initrd "$INITRD" \
		-append "$append" 2>"$TMP/$name.err"
	local rc=$?
	check "$name: exit status 0" [ "$rc" -eq 0 ]
	check "$name: the guest reached /init" grep -q EKPROBE-GUEST-DONE "$console"
	check "$name: symbols read from the image itself, and said so" \
		grep -q "symbols from the kernel's own kallsyms in $IMG" "$TMP/$name.err"
}

# Checks on one trace: prints the virtual offset (or "none"), exits non-zero with the reasons.
verify() { # verify NAME APPEND KASLR(yes|no)
	python3 - "$TMP/$1.json" "$2" "$3" "$TMP/syms" <<'PY'
import json, sys
trace, append, kaslr, symfile = sys.argv[1], sys.argv[2], sys.argv[3] == "yes", sys.argv[4]
text = {}
link = {}
for line in open(symfile):
    a, t, n, _ = line.split()
    link.setdefault(n, int(a, 16))
    if t in "tTwW":
        text.setdefault(n, int(a, 16))
ev, summary = [], None
for line in open(trace):
    o = json.loads(line)
    if "summary" in o:
        summary = o["summary"]
    else:
        ev.append(o)
bad = []
def need(cond, what):
    if not cond:
        bad.append(what)
need(summary is not None, "a summary")
k = summary.get("kaslr") if summary else None
if kaslr:
    need(k is not None, "the summary reports KASLR's offsets")
else:
    need(k is None or int(k["virt_offset"], 16) == 0, "nokaslr: no offset")
virt = int(k["virt_offset"], 16) if k else 0
by = lambda p: [e for e in ev if e["probe"] == p]
s64 = by("kprobes/p_startup_64_0")
need(len(s64) == 1, "startup_64: 1 hit (%d)" % len(s64))
if s64:
    need(int(s64[0]["addr"], 16) == link["startup_64"] + virt,
         "startup_64's addr is the running kernel's")
    need(s64[0]["sym"] == "startup_64+0x0", "startup_64's sym")
    if k:
        need(int(s64[0].get("pc", "0x0"), 16) == int(k["entry_phys"], 16),
             "startup_64 ran at its physical address")
sk = by("kprobes/p_start_kernel_0")
need(len(sk) == 1, "start_kernel: 1 hit (%d)" % len(sk))
if sk:
    need(sk[0]["args"]["cmd"] == append, "cmd= is the -append string (%r)" % sk[0]["args"]["cmd"])
    need(int(sk[0]["addr"], 16) == link["start_kernel"] + virt, "start_kernel's addr")
enter, leave = by("initcall/enter"), by("initcall/leave")
need(len(enter) == len(leave), "initcall entries (%d) equal returns (%d)" % (len(enter), len(leave)))
need(len(enter) > 100, "more than 100 initcalls (%d)" % len(enter))
fns = set(e["args"]["fn"] for e in enter)
notext = [f for f in fns if not f.endswith("+0x0") or f[:-4] not in text]
need(not notext, "every fn= names a function of the image: %s" % notext[:5])
need(all(isinstance(e["args"]["ret"], int) for e in leave), "every ret= is a number")
need(all(int(e["addr"], 16) == link["do_one_initcall"] + virt for e in enter + leave),
     "initcall events carry the running do_one_initcall")
ri = by("kprobes/p_run_init_process_0")
need(len(ri) >= 1 and ri[0]["args"]["file"] == "/init", "run_init_process file=/init")
# Pointers into the direct map (moved by RANDOMIZE_MEMORY): the current task (comm, pid) and
# the struct filename do_filp_open gets (a names_cache object) and the name in it.
need(len(ri) >= 1 and ri[0]["comm"] == "swapper/0" and ri[0]["pid"] == 1,
     "run_init_process in swapper/0, pid 1 (%r)" % [(e["comm"], e["pid"]) for e in ri[:1]])
opens = [(e["pid"], e["args"]["path"]) for e in by("exec/open")]
need((1, "/dev/console") in opens and (1, "/init") in opens,
     "do_filp_open's names through the direct map: /dev/console and /init in pid 1 (%s)" % opens[:12])
for b in bad:
    print("    FAIL: %s" % b, file=sys.stderr)
print("%x %d" % (virt, len(enter)))
sys.exit(1 if bad else 0)
PY
}

APPEND_K="console=ttyS0 panic=-1 quiet"
offsets=()
for n in 1 2 3; do
	boot "kaslr$n" "$APPEND_K"
	if r=$(verify "kaslr$n" "$APPEND_K" yes 2>"$TMP/v$n"); then
		echo "    ok: kaslr$n: the trace (virtual offset 0x${r% *}, ${r#* } initcalls)"
	else
		cat "$TMP/v$n"; fail "kaslr$n: the trace"
	fi
	offsets+=("${r% *}") counts+=("${r#* }")
done
check "three different virtual offsets" [ "$(printf '%s\n' "${offsets[@]}" | sort -u | wc -l)" -eq 3 ]
check "no boot at offset 0" bash -c "! printf '%s\n' ${offsets[*]} | grep -qx 0"
boot nokaslr "$APPEND_K nokaslr"
if r=$(verify nokaslr "$APPEND_K nokaslr" no 2>"$TMP/vn"); then
	echo "    ok: nokaslr: the trace (${r#* } initcalls)"
else
	cat "$TMP/vn"; fail "nokaslr: the trace"
fi
for n in 0 1 2; do
	check "kaslr$((n + 1)): as many initcalls as with nokaslr" [ "${counts[$n]}" = "${r#* }" ]
done
# --handoff follows a kernel at its link-time address only: a KASLR kernel is refused up front.
"$EKPROBE" --handoff -p 'p do_one_initcall' -- "${EKPROBE_QEMU:-qemu-system-x86_64}" \
	-name "$QEMU_NAME" -display none -serial "file:$TMP/ho-console" -no-reboot -m 512 \
	-kernel "$IMG" -initrd "$INITRD" -append "$APPEND_K" 2>"$TMP/ho.err"
rc=$?
check "--handoff on a kernel KASLR may move: exit 2, said, no guest" \
	bash -c "[ $rc -eq 2 ] && grep -q 'KASLR may move' '$TMP/ho.err' && [ ! -e '$TMP/ho-console' ]"
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
