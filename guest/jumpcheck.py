#!/usr/bin/env python3
"""jumpcheck: a minimal, independent host for the guest side of the jump engine.

It does what the real host does, with nothing shared with it but include/ekprobe/abi.h's layout
(restated below) and QEMU's gdbstub: hold the guest at startup_64 (its physical address, after
the decompressor, before the kernel's first instruction), read `ekprobe_desc`, write one
trampoline per probe into the slots, the probe table, `enabled`, and the 5-byte jumps; let the
guest boot, stop it in kernel_restart (`reboot -f` of /init) and read the ring back. Used by
tests/integration/t_guest_abi.sh to prove the guest mechanism on a real boot.

  jumpcheck.py SCENARIO.json OUT.json --kdir DIR --initrd FILE [--console FILE] [--name NAME]

DIR holds bzImage, vmlinux and System.map of a nokaslr guest. SCENARIO:
  {"smp": 1, "append": "...", "pre_head": 0,
   "probes": [{"site": "sym[+off]", "ret": false, "nr_values": N,
               "prog": [[OP, size, slot, imm], ...]}]}
A site that is a bare symbol whose first instruction is `call __fentry__` is moved past it (a
jump must not cover an ftrace site). imm: an integer, "0x..." (hex), a register name for REG, or
"sym[+off]".
Probes with the same site share one trampoline, which calls the hit entry once per probe.
Trampolines displace whole instructions (>= 5 bytes); they refuse branches and rip-relative
operands with an immediate, and relocate other rip-relative displacements.
"""
import argparse, json, os, re, socket, struct, subprocess, sys, tempfile, time

START_MAP = 0xffffffff80000000  # __START_KERNEL_map; nokaslr: phys = virt - START_MAP
OPS = {"END": 0, "REG": 1, "IMM": 2, "ADD": 3, "DEREF": 4, "LOAD": 5, "STORE": 6, "STRING": 7,
       "COMM": 8}
REGS = "r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss".split()
# struct ekp_abi_desc up to `nr_cpus`, struct ekp_abi_probe head, record head, ring header
# (abi.h, version 2).
ABI_VERSION = 2
DESC = struct.Struct("<QIIQQQIIQIIQQQI")
DESC_ENABLED = 80
PROBE_HEAD = struct.Struct("<QQIHHQ")
PROBE_MISSED = 24
INSN = struct.Struct("<BBBBIq")
REC_HEAD = struct.Struct("<QQIIQQQIIiI")
REC_COMM, REC_VALUES, REC_DATA = 64, 80, 208
RING_HDR = 64
HDR = struct.Struct("<QQQQQ")  # head tail lost lost_tail dropped


def check_word(i):
    """The check word this host writes into probe-table entry i (any non-zero word works)."""
    return 0x6b636568_00000000 | (i * 0x9e3779b1 + 1) & 0xffffffff


class Rsp:
    """Just enough of the GDB remote protocol."""

    def __init__(self, port, timeout):
        deadline = time.time() + 20
        while True:
            try:
                self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # acks + packets: no Nagle
        self.s.settimeout(timeout)
        self.buf = b""

    def _packet(self):
        while True:
            i = self.buf.find(b"$")
            j = self.buf.find(b"#", i) if i >= 0 else -1
            if j >= 0 and len(self.buf) >= j + 3:
                pkt, self.buf = self.buf[i + 1:j], self.buf[j + 3:]
                self.s.sendall(b"+")
                return pkt.decode()
            d = self.s.recv(65536)
            if not d:
                raise EOFError("gdbstub closed the connection")
            self.buf += d

    def cmd(self, data, reply=True):
        pkt = data.encode()
        self.s.sendall(b"$" + pkt + b"#%02x" % (sum(pkt) & 0xff))
        return self._packet() if reply else None

    def ok(self, data):
        r = self.cmd(data)
        if r != "OK":
            raise RuntimeError("%s: %r" % (data[:40], r))

    def write(self, addr, data):
        for o in range(0, len(data), 1024):
            chunk = data[o:o + 1024]
            self.ok("M%x,%x:%s" % (addr + o, len(chunk), chunk.hex()))

    def read(self, addr, n):
        out = b""
        while len(out) < n:
            k = min(1024, n - len(out))
            r = self.cmd("m%x,%x" % (addr + len(out), k))
            if r.startswith("E") or len(r) != 2 * k:
                raise RuntimeError("read %#x: %r" % (addr + len(out), r[:20]))
            out += bytes.fromhex(r)
        return out


def load_symbols(path):
    syms = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 3:
            syms.setdefault(f[2], int(f[0], 16))
    return syms


def sym_addr(syms, text):
    m = re.match(r"([A-Za-z0-9_.]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$", text)
    if not m or m.group(1) not in syms:
        sys.exit("jumpcheck: unknown symbol in %r" % text)
    return syms[m.group(1)] + (int(m.group(2), 0) if m.group(2) else 0)


def disassemble(vmlinux, addr, n=48):
    out = subprocess.run(["objdump", "-d", "--insn-width=16", "--start-address=%#x" % addr,
                          "--stop-address=%#x" % (addr + n), vmlinux],
                         capture_output=True, text=True, check=True).stdout
    insns = []
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(.*)", line)
        if m:
            insns.append((int(m.group(1), 16), bytes.fromhex(m.group(2).replace(" ", "")),
                          m.group(3).strip()))
    return insns


def site_of(vmlinux, syms, text):
    addr = sym_addr(syms, text)
    if "+" not in text:
        first = disassemble(vmlinux, addr, 16)[0]
        if first[2].startswith("call") and "<__fentry__>" in first[2]:
            addr += len(first[1])
    return addr


def displaced(vmlinux, site):
    """Whole instructions from site, >= 5 bytes, as assembler lines relocated to anywhere."""
    lines, n = [], 0
    for addr, raw, text in disassemble(vmlinux, site):
        if n >= 5:
            break
        mnem = text.split()[0] if text else ""
        if not text or mnem.startswith(("j", "call", "loop", "ret", "int3", "(bad)", "ud")):
            sys.exit("jumpcheck: cannot displace %#x: %s" % (addr, text))
        if "(%rip)" in text:
            if "$" in text:
                sys.exit("jumpcheck: rip-relative with an immediate at %#x: %s" % (addr, text))
            target = addr + len(raw) + struct.unpack("<i", raw[-4:])[0]
            lines += [".set rip_%x, %#x" % (addr, target),
                      ".byte " + ",".join("%#x" % b for b in raw[:-4]),
                      ".long rip_%x - . - 4" % addr]
        else:
            lines.append(".byte " + ",".join("%#x" % b for b in raw))
        n += len(raw)
    return lines, n


def s32(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def build_trampolines(sites, vmlinux, hit_entry, base):
    """One trampoline per distinct site: push a struct ekp_abi_regs frame (pt_regs order), call
    hit_entry(frame, index) for each probe of the site, restore everything, run the displaced
    instructions, jump back. Returns the code and, per probe, (site, displaced, trampoline)."""
    src = [".text", ".code64", ".set hit_entry, %#x" % hit_entry]
    order = list(dict.fromkeys(sites))
    lens = {}
    for t, site in enumerate(order):
        body, n = displaced(vmlinux, site)
        lens[site] = n
        idx = [i for i, s in enumerate(sites) if s == site]
        src += ["tramp_%d:" % t,
                "pushq $0x18",            # ss (__KERNEL_DS)
                "pushq %rsp",             # sp, 8 short
                "pushfq",                 # flags
                "addq $8, 8(%rsp)",       # sp = the probed code's sp (flags already saved)
                "pushq $0x10",            # cs (__KERNEL_CS)
                "pushq $%d" % s32(site),  # ip = the probe address
                "pushq $%d" % idx[0]]     # orig_ax = the (first) probe index
        src += ["pushq %%%s" % r for r in
                "rdi rsi rdx rcx rax r8 r9 r10 r11 rbx rbp r12 r13 r14 r15".split()]
        for i in idx:  # the hit entry leaves the frame as it was: call it once per probe
            src += ["movq %rsp, %rdi", "movl $%d, %%esi" % i, "call hit_entry"]
        src += ["popq %%%s" % r for r in
                "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi".split()]
        src += ["leaq 24(%rsp), %rsp", "popfq", "leaq 16(%rsp), %rsp"]  # no flag change
        src += body + [".set back_%d, %#x" % (t, site + n), "jmp back_%d" % t,
                       ".balign 16, 0xcc"]
    with tempfile.TemporaryDirectory() as d:
        open(d + "/t.S", "w").write("\n".join(src) + "\n")
        subprocess.run(["as", "-o", d + "/t.o", d + "/t.S"], check=True)
        subprocess.run(["ld", "-e", "0", "-Ttext=%#x" % base, "-o", d + "/t.elf", d + "/t.o"],
                       check=True)
        subprocess.run(["objcopy", "-O", "binary", "-j", ".text", d + "/t.elf", d + "/t.bin"],
                       check=True)
        code = open(d + "/t.bin", "rb").read()
        starts = {}
        for line in subprocess.run(["nm", d + "/t.elf"], capture_output=True, text=True,
                                   check=True).stdout.splitlines():
            f = line.split()
            if len(f) == 3 and f[2].startswith("tramp_"):
                starts[order[int(f[2][6:])]] = int(f[0], 16)
    return code, [(site, lens[site], starts[site]) for site in sites]


def probe_bytes(p, i, addr, syms, probe_size):
    prog = []
    for op, size, slot, imm in p.get("prog", []):
        if op == "REG" and isinstance(imm, str):
            imm = REGS.index(imm) * 8
        elif isinstance(imm, str):
            imm = int(imm, 16) if imm.startswith("0x") else sym_addr(syms, imm)
        prog.append(INSN.pack(OPS[op], size, slot, 0, 0, s32(imm)))
    flags = 1 | (2 if p.get("ret") else 0)
    b = PROBE_HEAD.pack(addr, check_word(i), flags, len(prog), p.get("nr_values", 0), 0) + \
        b"".join(prog)
    return b + b"\0" * (probe_size - len(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("out")
    ap.add_argument("--kdir", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--console", default="/dev/null")
    ap.add_argument("--name", default="ekprobe-jumpcheck")
    ap.add_argument("--timeout", type=int, default=300)
    a = ap.parse_args()
    scen = json.load(open(a.scenario))
    vmlinux = a.kdir + "/vmlinux"
    syms = load_symbols(a.kdir + "/System.map")
    sites = [site_of(vmlinux, syms, p["site"]) for p in scen["probes"]]
    code, tramps = build_trampolines(sites, vmlinux, syms["ekprobe_hit"], syms["ekprobe_slots"])

    with socket.socket() as s:  # a free port for the gdbstub
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    qemu = subprocess.Popen(
        ["qemu-system-x86_64", "-name", a.name, "-display", "none", "-serial", "file:" + a.console,
         "-no-reboot", "-m", "256", "-smp", str(scen.get("smp", 1)), "-kernel", a.kdir + "/bzImage",
         "-initrd", a.initrd, "-append", scen.get("append", "console=ttyS0 panic=-1 nokaslr"),
         "-S", "-gdb", "tcp:127.0.0.1:%d" % port])
    result = {"sites": [[s, n, t] for s, n, t in tramps]}
    try:
        r = Rsp(port, a.timeout)
        r.cmd("?")
        entry = syms["startup_64"] - START_MAP
        r.ok("Z0,%x,1" % entry)
        rep = r.cmd("c")
        if not rep.startswith("T05"):
            raise RuntimeError("no stop at startup_64: %r" % rep)
        r.ok("z0,%x,1" % entry)
        r.ok("Qqemu.PhyMemMode:1")
        phys = lambda va: va - START_MAP
        desc_va = syms["ekprobe_desc"]
        (magic, version, desc_size, slots, slots_size, probes, max_probes, probe_size, ring,
         ring_records, record_size, hit_entry, return_stub, enabled, nr_cpus) = \
            DESC.unpack(r.read(phys(desc_va), DESC.size))
        result["desc"] = dict(magic=magic, version=version, desc_size=desc_size, slots=slots,
                              slots_size=slots_size, probes=probes, max_probes=max_probes,
                              probe_size=probe_size, ring=ring, ring_records=ring_records,
                              record_size=record_size, hit_entry=hit_entry,
                              return_stub=return_stub, enabled=enabled, nr_cpus=nr_cpus)
        result["checks"] = [check_word(i) for i in range(len(scen["probes"]))]
        if magic != 0x31454252504b4545 or version != ABI_VERSION or len(code) > slots_size or \
                len(tramps) > max_probes or slots != syms["ekprobe_slots"]:
            raise RuntimeError("unexpected descriptor %r" % result["desc"])
        r.write(phys(slots), code)
        for i, p in enumerate(scen["probes"]):
            r.write(phys(probes + i * probe_size), probe_bytes(p, i, sites[i], syms, probe_size))
        if scen.get("pre_head"):
            r.write(phys(ring), struct.pack("<Q", scen["pre_head"]))
        r.write(phys(desc_va + DESC_ENABLED), struct.pack("<Q", 1))
        for site, n, tramp in dict.fromkeys(tramps):
            r.write(phys(site), b"\xe9" + struct.pack("<i", tramp - (site + 5)))
        r.ok("Qqemu.PhyMemMode:0")
        stop = syms[scen.get("stop", "kernel_restart")]
        r.ok("Z0,%x,1" % stop)
        t0 = time.time()
        rep = r.cmd("c")
        result.update(stop=rep, wall=round(time.time() - t0, 2))
        if rep.startswith("T05"):
            head, tail, lost, lost_tail, dropped = HDR.unpack(r.read(ring, HDR.size))
            n = ring_records if head >= ring_records else head
            raw = r.read(ring + RING_HDR, n * record_size)
            recs = []
            for k in range(n):
                b = raw[k * record_size:(k + 1) * record_size]
                (seq, check, probe, cpu, tsc, ip, ret_ip, flags, fmask, pid,
                 nv) = REC_HEAD.unpack_from(b)
                vals = struct.unpack_from("<16Q", b, REC_VALUES)
                recs.append(dict(index=k, seq=seq, check=check, probe=probe, cpu=cpu, tsc=tsc,
                                 ip=ip, ret_ip=ret_ip, flags=flags, fault_mask=fmask, pid=pid,
                                 nr_values=nv,
                                 comm=b[REC_COMM:REC_VALUES].split(b"\0")[0].decode("latin-1"),
                                 values=list(vals[:min(nv, 16)]),
                                 data=b[REC_DATA:record_size].hex()))
            missed = [struct.unpack("<Q", r.read(probes + i * probe_size + PROBE_MISSED, 8))[0]
                      for i in range(len(tramps))]
            result.update(head=head, tail=tail, lost=lost, lost_tail=lost_tail, dropped=dropped,
                          missed=missed, records=recs)
            if "ekprobe_ret_insts" in syms:  # guest-internal, for leak checks only
                raw = r.read(syms["ekprobe_ret_insts"], 256 * 40)
                result["live_instances"] = sum(
                    1 for k in range(256) if struct.unpack_from("<Q", raw, 40 * k)[0])
            r.ok("z0,%x,1" % stop)
            r.cmd("c", reply=False)
        qemu.wait(timeout=a.timeout)
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
    result["qemu_status"] = qemu.returncode
    json.dump(result, open(a.out, "w"), indent=1)
    print("jumpcheck: stop %s, %s s, head %s, lost %s, dropped %s, missed %s, QEMU status %s" % (
        result.get("stop"), result.get("wall"), result.get("head"), result.get("lost"),
        result.get("dropped"), result.get("missed"), qemu.returncode))


if __name__ == "__main__":
    main()
