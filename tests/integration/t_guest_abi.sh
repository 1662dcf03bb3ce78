#!/usr/bin/env bash
# The guest side of the jump engine (guest/linux-6.1/patches/0001-ekprobe-guest.patch,
# docs/abi.md). First the built kernel against include/ekprobe/abi.h and abi_eval.h, read from
# the vmlinux file: the headers it was built with, the descriptor's bytes, where everything
# lies. Then real
# boots driven by guest/jumpcheck.py, a minimal host independent of ekprobe-host: entry and
# return probes from x86_64_start_kernel on, faults before and after trap_init, the recursion
# guard, a full ring, two vCPUs, coexistence with the in-guest function tracer.
. "$(dirname "$0")/lib.sh"
kdir=$(dirname "$VMLINUX")
CONFIG=$kdir/.config

check "the kernel was built with include/ekprobe/abi.h, byte for byte" \
	cmp -s "$kdir/abi.h" "$top/include/ekprobe/abi.h"
# The fetch-program interpreter the unit tests run (tests/unit/test_fetch_compile.c) is the one
# in this kernel.
check "the kernel was built with include/ekprobe/abi_eval.h, byte for byte" \
	cmp -s "$kdir/abi_eval.h" "$top/include/ekprobe/abi_eval.h"
check "CONFIG_EKPROBE_GUEST=y" grep -qx CONFIG_EKPROBE_GUEST=y "$CONFIG"

# Sizes and constants from the header itself, compiled as the host compiles it.
cat > "$TMP/sizes.c" <<'EOF'
#include <stdio.h>
#include <stddef.h>
#include "abi.h"
int main(void)
{
	printf("%llu %d %zu %zu %zu %zu %zu %zu %d\n", (unsigned long long)EKP_ABI_MAGIC,
	       EKP_ABI_VERSION, sizeof(struct ekp_abi_desc), sizeof(struct ekp_abi_probe),
	       sizeof(struct ekp_abi_record), sizeof(struct ekp_abi_ring_hdr),
	       offsetof(struct ekp_abi_desc, enabled), sizeof(struct ekp_abi_regs),
	       EKP_ABI_MAX_CPUS);
	return 0;
}
EOF
gcc -Wall -I"$top/include/ekprobe" -o "$TMP/sizes" "$TMP/sizes.c" && "$TMP/sizes" > "$TMP/sizes.txt"
check "abi.h compiles on the host" [ -s "$TMP/sizes.txt" ]

cat > "$TMP/elf.py" <<'EOF'
# Minimal vmlinux reader for the checks below: sections, symbols, bytes at an address.
import re, subprocess, sys
vmlinux = sys.argv[1]
secs = []
for line in subprocess.run(["readelf", "-SW", vmlinux], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
    if m and int(m.group(3), 16):
        secs.append((m.group(1), m.group(2), int(m.group(3), 16), int(m.group(4), 16),
                     int(m.group(5), 16)))
syms, sizes_of, addrs = {}, {}, set()
for line in subprocess.run(["nm", "-S", vmlinux], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    f = line.split()
    if len(f) == 4:
        sizes_of[f[3]] = int(f[1], 16)
    if len(f) >= 3:
        syms.setdefault(f[-1], int(f[0], 16))
        addrs.add(int(f[0], 16))
def section(addr, size=1):
    for name, typ, a, off, sz in secs:
        if a <= addr and addr + size <= a + sz:
            return name, typ, a, off
    return None, None, None, None
data = open(vmlinux, "rb").read()
def read(addr, n):
    name, typ, a, off = section(addr, n)
    return data[off + addr - a:off + addr - a + n] if typ == "PROGBITS" else None
def say(ok, what):
    print("%s|%s" % ("ok" if ok else "FAIL", what))
EOF

# Static checks: python prints "ok|what" or "FAIL|what" lines.
static_checks() {
	PYTHONPATH=$TMP python3 - "$VMLINUX" "$CONFIG" "$TMP/sizes.txt" <<'EOF'
import re, struct, subprocess, sys
from elf import *
config, sizes = sys.argv[2:4]
magic, version, desc_size, probe_size, record_size, hdr_size, enabled_off, regs_size, \
    max_cpus = map(int, open(sizes).read().split())
cfg = dict(re.findall(r"^(CONFIG_(?:EKPROBE_\w+|NR_CPUS))=(\S+)$", open(config).read(), re.M))
need = ["ekprobe_desc", "ekprobe_slots", "ekprobe_hit", "ekprobe_ret_hit", "ekprobe_return_stub",
        "ekprobe_probes", "ekprobe_ring", "_stext", "_etext"]
for s in need:
    say(s in syms, "vmlinux has %s" % s)
if not all(s in syms for s in need):
    sys.exit(0)
d = read(syms["ekprobe_desc"], desc_size)
say(d is not None, "ekprobe_desc's bytes are in the file (not .bss)")
if d is None:
    sys.exit(0)
(d_magic, d_version, d_desc_size, slots, slots_size, probes, max_probes, d_probe_size, ring,
 ring_records, d_record_size, hit_entry, return_stub, enabled) = \
    struct.unpack_from("<QIIQQQIIQIIQQQ", d)
say(d_magic == magic, "desc.magic is EKP_ABI_MAGIC (%#x)" % d_magic)
say(d_version == version, "desc.version is EKP_ABI_VERSION (%d)" % d_version)
say(d_desc_size == desc_size, "desc.desc_size is sizeof(struct ekp_abi_desc) (%d)" % desc_size)
say(d_probe_size == probe_size, "desc.probe_size is sizeof(struct ekp_abi_probe) (%d)" % probe_size)
say(d_record_size == record_size,
    "desc.record_size is sizeof(struct ekp_abi_record) (%d)" % record_size)
say(enabled_off == 80 and struct.unpack_from("<Q", d, enabled_off)[0] == 0,
    "desc.enabled is 0 in the image")
nr_cpus = struct.unpack_from("<I", d, enabled_off + 8)[0]
say(nr_cpus == min(int(cfg.get("CONFIG_NR_CPUS", -1)), max_cpus),
    "desc.nr_cpus is min(NR_CPUS, EKP_ABI_MAX_CPUS) (%d)" % nr_cpus)
say(d[enabled_off + 12:] == b"\0" * (desc_size - enabled_off - 12), "desc.reserved is zero")
say(regs_size == 168, "struct ekp_abi_regs is 21 words, like pt_regs")
say(slots == syms["ekprobe_slots"], "desc.slots is ekprobe_slots")
say(probes == syms["ekprobe_probes"], "desc.probes is ekprobe_probes")
say(ring == syms["ekprobe_ring"], "desc.ring is ekprobe_ring")
say(hit_entry == syms["ekprobe_hit"], "desc.hit_entry is ekprobe_hit")
say(return_stub == syms["ekprobe_return_stub"], "desc.return_stub is ekprobe_return_stub")
say(slots_size >= 65536 and slots_size % 4096 == 0 and slots % 4096 == 0,
    "slot area page aligned, %d bytes (>= 65536)" % slots_size)
say(slots_size == int(cfg.get("CONFIG_EKPROBE_SLOTS_SIZE", -1)), "slots_size is the config's")
say(max_probes == int(cfg.get("CONFIG_EKPROBE_MAX_PROBES", -1)), "max_probes is the config's (%d)" % max_probes)
say(ring_records == int(cfg.get("CONFIG_EKPROBE_RING_RECORDS", -1)) and
    ring_records & (ring_records - 1) == 0,
    "ring_records is the config's, a power of two (%d)" % ring_records)
text_lo, text_hi = syms["_stext"], syms["_etext"]
say(text_lo <= slots and slots + slots_size <= text_hi, "slot area inside [_stext, _etext)")
say(section(slots, slots_size)[0] == ".text", "slot area in the .text section")
say(read(slots, slots_size) == b"\xcc" * slots_size, "slot area is all int3 in the image")
for name, addr in (("hit_entry", hit_entry), ("return_stub", return_stub)):
    say(text_lo <= addr < text_hi, "%s inside [_stext, _etext)" % name)
for what, addr, size in (("descriptor", syms["ekprobe_desc"], desc_size),
                         ("probe table", probes, max_probes * probe_size),
                         ("ring", ring, hdr_size + ring_records * record_size)):
    name, typ = section(addr, size)[:2]
    say(name == ".data" and typ == "PROGBITS", "%s lies in .data (%s, %s)" % (what, name, typ))
# NOKPROBE_SYMBOL: the kernel's kprobe blacklist names the entry points.
bl = read(syms["__start_kprobe_blacklist"],
          syms["__stop_kprobe_blacklist"] - syms["__start_kprobe_blacklist"]) or b""
blacklist = set(struct.unpack("<%dQ" % (len(bl) // 8), bl))
for s in ("ekprobe_hit", "ekprobe_ret_hit", "ekprobe_return_stub", "ekprobe_slots", "ekp_eval"):
    say(s in syms and syms[s] in blacklist, "%s is in the kprobe blacklist" % s)
# notrace: no ftrace call site (mcount_loc) inside the hit path.
ml = read(syms["__start_mcount_loc"], syms["__stop_mcount_loc"] - syms["__start_mcount_loc"]) or b""
sites = struct.unpack("<%dQ" % (len(ml) // 8), ml)
traced = [s for s in ("ekprobe_hit", "ekprobe_ret_hit")
          if any(syms[s] <= x < syms[s] + sizes_of.get(s, 1) for x in sites)]
say(len(sites) > 1000 and not traced, "no ftrace site in ekprobe_hit/ekprobe_ret_hit")
EOF
}
while IFS='|' read -r res what; do
	check "$what" [ "$res" = ok ]
done < <(static_checks)

# Real boots. Probe addresses and programs: guest/jumpcheck.py's scenario format.
initcall_trace="ftrace=function ftrace_filter=do_one_initcall ekprobe.dumptrace ekprobe.dmesg"
cat > "$TMP/boot1.json" <<EOF
{"append": "console=ttyS0 panic=-1 nokaslr $initcall_trace",
 "probes": [
 {"site": "x86_64_start_kernel", "nr_values": 3, "prog": [["REG",0,0,"di"],["STORE",0,0,0],
   ["IMM",0,0,"ekprobe_desc"],["DEREF",0,0,0],["STORE",0,1,0],["COMM",0,2,0]]},
 {"site": "setup_arch", "nr_values": 5, "prog": [
   ["IMM",0,0,"startup_64"],["DEREF",0,0,0],["STORE",0,0,0],
   ["IMM",0,0,"0xffff800000000000"],["DEREF",0,0,0],["STORE",0,1,0],
   ["IMM",0,0,"0xdead000000000000"],["DEREF",0,0,0],["STORE",0,2,0],
   ["IMM",0,0,"boot_command_line"],["STRING",13,3,0],
   ["IMM",0,0,"ekprobe_desc"],["LOAD",4,0,0],["STORE",0,4,0]]},
 {"site": "do_one_initcall", "ret": true, "nr_values": 2,
  "prog": [["REG",0,0,"ax"],["STORE",0,0,0],["COMM",0,1,0]]},
 {"site": "run_init_process", "nr_values": 2, "prog": [["REG",0,0,"di"],["STRING",0,0,0],
   ["IMM",0,0,"0xffff800000000000"],["DEREF",0,0,0],["STORE",0,1,0]]},
 {"site": "fixup_exception", "nr_values": 1, "prog": [["REG",0,0,"si"],["STORE",0,0,0]]},
 {"site": "do_one_initcall", "nr_values": 1, "prog": [["REG",0,0,"di"],["STORE",0,0,0]]},
 {"site": "do_one_initcall", "ret": true, "nr_values": 1, "prog": [["REG",0,0,"ip"],["STORE",0,0,0]]}
]}
EOF
cat > "$TMP/boot2.json" <<EOF
{"smp": 2, "probes": [
 {"site": "__alloc_pages", "nr_values": 2, "prog": [["REG",0,0,"si"],["STORE",0,0,0],["COMM",0,1,0]]},
 {"site": "do_one_initcall", "ret": true, "nr_values": 1, "prog": [["REG",0,0,"ax"],["STORE",0,0,0]]}
]}
EOF
cat > "$TMP/boot3.json" <<EOF
{"pre_head": 4032, "probes": [
 {"site": "__alloc_pages", "nr_values": 1, "prog": [["REG",0,0,"si"],["STORE",0,0,0]]},
 {"site": "do_one_initcall", "ret": true, "nr_values": 1, "prog": [["REG",0,0,"ax"],["STORE",0,0,0]]}
]}
EOF
for b in 1 2 3; do
	echo "    boot $b:"
	python3 "$top/guest/jumpcheck.py" "$TMP/boot$b.json" "$TMP/out$b.json" --kdir "$kdir" \
		--initrd "$INITRD" --console "$TMP/console$b.txt" --name "$QEMU_NAME" \
		2>"$TMP/err$b" | sed 's/^/    /'
	check "boot $b: jumpcheck ran" [ -s "$TMP/out$b.json" ]
	check "boot $b: guest reached userspace" grep -qs EKPROBE-GUEST-DONE "$TMP/console$b.txt"
	[ -s "$TMP/out$b.json" ] || sed 's/^/    | /' "$TMP/err$b" | tail -5
done

boot_checks() {
	PYTHONPATH=$TMP python3 - "$VMLINUX" "$TMP" "$(cut -d' ' -f1 "$TMP/sizes.txt")" <<'EOF'
import json, re, struct, subprocess, sys
from elf import *
tmp, magic = sys.argv[2], int(sys.argv[3])
def load(b):
    try:
        return json.load(open("%s/out%d.json" % (tmp, b)))
    except (OSError, ValueError):
        return None
def string(rec, slot):
    v = rec["values"][slot]
    off, n, trunc = v & 0xffff, (v >> 16) & 0x7fff, v >> 31
    return bytes.fromhex(rec["data"])[off:off + n].decode("latin-1"), trunc
def common(b, r):
    say(r.get("stop", "").startswith("T05"), "boot %d: stopped in kernel_restart" % b)
    say(r.get("qemu_status") == 0, "boot %d: QEMU exit status 0" % b)
    recs = r.get("records", [])
    say(r.get("tail") == 0, "boot %d: tail untouched by the guest" % b)
    checks, ncpu = r.get("checks", []), r.get("desc", {}).get("nr_cpus", 0)
    done = [x for x in recs if x["seq"] == x["index"] + 1]
    say(done and all(x["probe"] < len(checks) and x["check"] == checks[x["probe"]] for x in done),
        "boot %d: every record carries its probe-table entry's check word" % b)
    say(all(x["cpu"] < ncpu for x in done), "boot %d: every record's cpu < nr_cpus (%d)" % (b, ncpu))
    last, back = {}, 0
    for x in done:  # index order: each CPU's records are reserved in TSC order
        back += x["tsc"] < last.get(x["cpu"], 0)
        last[x["cpu"]] = x["tsc"]
    say(back == 0, "boot %d: per CPU, TSCs never go back in record order (%d did)" % (b, back))
    say(r.get("live_instances") == 0, "boot %d: no return instance left in flight" % b)
    say(all(x == 0 for x in r.get("missed", [1])), "boot %d: no return probe missed" % b)
    return recs

r = load(1)
if r:
    recs = common(1, r)
    say(len(recs) == r["head"] and all(x["seq"] == x["index"] + 1 for x in recs),
        "boot 1: every reserved record published (seq = index + 1)")
    by = lambda p: [x for x in recs if x["probe"] == p]
    sites = [s[0] for s in r["sites"]]
    say(all(x["ip"] == sites[x["probe"]] for x in recs), "boot 1: record ip is the probe address")
    e = by(0)
    say(len(e) == 1 and recs[0]["probe"] == 0, "boot 1: x86_64_start_kernel recorded, first")
    if e:
        e = e[0]
        say(e["fault_mask"] == 0b10 and e["values"][1] == 0,
            "boot 1: before the early IDT a memory fetch faults (refused), the rest is read")
        say(e["comm"] == "swapper" and string(e, 2) == ("swapper", 0) and e["pid"] == 0,
            "boot 1: comm/pid of init_task at x86_64_start_kernel")
    e = by(1)
    say(len(e) == 1, "boot 1: setup_arch recorded once")
    if e:
        e = e[0]
        first = struct.unpack("<Q", read(syms["startup_64"], 8))[0]
        say(e["values"][0] == first, "boot 1: setup_arch (before trap_init) reads kernel text")
        say(e["fault_mask"] == 0b110, "boot 1: unmapped and non-canonical loads fault, no crash")
        say(string(e, 3) == ("console=ttyS0", 1), "boot 1: string fetch, cut at size 13")
        say(e["values"][4] == magic & 0xffffffff, "boot 1: 4-byte load")
    rets = by(2)
    con = open("%s/console1.txt" % tmp, errors="replace").read()
    # The trace and kernel messages share the serial console and can interleave: take the
    # trace's own count or its lines, whichever is intact.
    lines = len(re.findall(r"do_one_initcall <-", con))
    m = re.search(r"entries-in-buffer/entries-written: (\d+)/(\d+)", con)
    ftrace = [int(m.group(2)) if m else -1, lines]
    say(len(rets) > 100 and len(rets) in ftrace,
        "boot 1: return records (%d) = in-guest function tracer's do_one_initcall (%d, %d lines)" %
        (len(rets), ftrace[0], ftrace[1]))
    say(all(x["flags"] == 1 for x in rets), "boot 1: return records flagged EKP_REC_F_RETURN")
    def after_call(ret):  # the 5 bytes before the return address: call do_one_initcall
        b = read(ret - 5, 5)
        return b is not None and b[0] == 0xe8 and \
            ret + struct.unpack("<i", b[1:])[0] == syms["do_one_initcall"]
    say(rets and all(after_call(x["ret_ip"]) for x in rets),
        "boot 1: ret_ip follows a call to do_one_initcall (%d callers)" %
        len(set(x["ret_ip"] for x in rets)))
    say(sum(1 for x in rets if x["values"][0] == 0) > len(rets) // 2,
        "boot 1: $retval (ax) is mostly 0 for initcalls")
    ent, rets2 = by(5), by(6)
    say(len(ent) == len(rets) == len(rets2),
        "boot 1: one site, three probes: %d entries, %d and %d returns" %
        (len(ent), len(rets), len(rets2)))
    say(ent and all(x["values"][0] in addrs for x in ent),
        "boot 1: every initcall fn (%di at entry) is a symbol's address")
    say(rets2 and all(x["values"][0] == x["ret_ip"] for x in rets2),
        "boot 1: %ip at return is the return address")
    e = by(3)
    say(len(e) == 1 and string(e[0], 0) == ("/init", 0) and e[0]["fault_mask"] == 0b10,
        "boot 1: run_init_process: string read, fault after trap_init fixed up")
    # Two fetches fault after the early IDT exists (setup_arch, run_init_process); each fault's
    # fixup_exception hit comes while the CPU is in the handler. Other callers (rdmsr_safe...)
    # may record fixup_exception normally.
    say(r["dropped"] == 2 and r["lost"] == 0,
        "boot 1: fixup_exception hits inside a handler dropped (%d, lost %d), %d outside" %
        (r["dropped"], r["lost"], len(by(4))))
    dm = con.split("EKPROBE-DMESG-BEGIN")[-1].split("EKPROBE-DMESG-END")[0]
    say("EKPROBE-DMESG-END" in con and not re.search(r"WARNING|BUG|Call Trace|ftrace fail", dm),
        "boot 1: dmesg has no warning")

r = load(2)
if r:
    recs = common(2, r)
    say(all(x["seq"] == x["index"] + 1 for x in recs) and r["head"] <= 4096,
        "boot 2: every reserved record published")
    cpus = set(x["cpu"] for x in recs)
    say(cpus == {0, 1}, "boot 2 (-smp 2): records from both CPUs (%s)" % sorted(cpus))
    say(sum(1 for x in recs if x["probe"] == 1) > 100, "boot 2: initcall returns recorded")

r = load(3)
if r:
    recs = common(3, r)
    say(r["head"] == 4096 and r["lost"] > 0 and r["lost_tail"] == 0,
        "boot 3: ring full at tail + ring_records, the rest counted lost (%d) at tail %d" %
        (r["lost"], r["lost_tail"]))
    say(all(x["seq"] == 0 for x in recs[:4032]) and
        all(x["seq"] == x["index"] + 1 for x in recs[4032:]),
        "boot 3: nothing written outside [tail, tail + ring_records)")
EOF
}
while IFS='|' read -r res what; do
	check "$what" [ "$res" = ok ]
done < <(boot_checks)
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
