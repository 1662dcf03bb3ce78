#!/usr/bin/env python3
"""Seeds for fuzz_bootimage and fixtures for test_bootimage: a small kernel boot image
(bzImage setup header, a payload that is an ELF image with .text and a .rodata holding
Linux 6.1's kallsyms tables) in each compression a kernel can use.

    tests/fuzz/gen_bootimage_seeds.py OUTDIR

Needs gzip, bzip2, xz (for lzma too), lzop, lz4 and zstd on PATH. The symbols: 300 (two
markers), a per-CPU absolute one first (CONFIG_KALLSYMS_ABSOLUTE_PERCPU), then functions
f000..f297 16 bytes apart from _text at 0xffffffff81000000, and the data symbol initial_code.
"""
import os, struct, subprocess, sys, zlib

TEXT = 0xffffffff81000000
RODATA = 0xffffffff81200000

def kallsyms(syms):
    """syms: (addr, type, name, absolute) sorted by address -> the .rodata bytes."""
    base = min(a for a, _, _, ab in syms if not ab)
    out = bytearray()
    def align8():
        out.extend(bytes((-len(out)) % 8))
    for a, _, _, ab in syms:
        off = a if ab else base - a - 1
        out += struct.pack("<i", off)
    align8()
    out += struct.pack("<Q", base)
    out += struct.pack("<I", len(syms)); align8()
    names, markers = bytearray(), []
    for i, (_, t, n, _) in enumerate(syms):
        if i % 256 == 0:
            markers.append(len(names))
        s = (t + n).encode()
        names += bytes([len(s)]) + s   # token i is the byte i: a name is its own code
    out += names; align8()
    for m in markers:
        out += struct.pack("<I", m)
    align8()
    tokens, index = bytearray(), []
    for i in range(256):
        index.append(len(tokens))
        tokens += (bytes([i]) if i else b"\x01\x01") + b"\0"
    out += tokens; align8()
    for v in index:
        out += struct.pack("<H", v)
    return bytes(out)

def elf(text, rodata):
    """An ELF64 x86_64 executable with .text, .rodata and .shstrtab (no symbols)."""
    shstr = b"\0.text\0.rodata\0.shstrtab\0"
    text_off = 0x1000
    ro_off = text_off + len(text)
    str_off = ro_off + len(rodata)
    sh_off = (str_off + len(shstr) + 7) & ~7
    eh = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1, TEXT,
                     64, sh_off, 0, 64, 56, 1, 64, 4, 3)
    ph = struct.pack("<IIQQQQQQ", 1, 5, text_off, TEXT, 0x1000000, len(text), len(text), 0x1000)
    body = bytearray(eh + ph)
    body += bytes(text_off - len(body)) + text + rodata + shstr
    body += bytes(sh_off - len(body))
    sh = lambda name, typ, flags, addr, off, size: struct.pack(
        "<IIQQQQIIQQ", name, typ, flags, addr, off, size, 0, 0, 16, 0)
    body += bytes(64)
    body += sh(1, 1, 6, TEXT, text_off, len(text))
    body += sh(7, 1, 2, RODATA, ro_off, len(rodata))
    body += sh(15, 3, 0, 0, str_off, len(shstr))
    return bytes(body)

def bzimage(payload):
    setup_sects = 1
    pm = (setup_sects + 1) * 512
    head = bytearray(pm)
    head[0x1f1] = setup_sects
    struct.pack_into("<H", head, 0x1fe, 0xaa55)
    head[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", head, 0x206, 0x020f)
    poff = 0x40
    struct.pack_into("<I", head, 0x230, 0x200000)   # kernel_alignment
    head[0x234] = 1                                  # relocatable
    struct.pack_into("<II", head, 0x248, poff, len(payload))
    struct.pack_into("<Q", head, 0x258, 0x1000000)  # pref_address
    struct.pack_into("<I", head, 0x260, 0x800000)   # init_size
    sys16 = (poff + len(payload) + 15) // 16
    struct.pack_into("<I", head, 0x1f4, sys16)
    pmpart = bytearray(sys16 * 16)
    pmpart[poff:poff + len(payload)] = payload
    return bytes(head + pmpart)

def compress(tool, data):
    cmd = {"gzip": ["gzip", "-n", "-9", "-c"], "bzip2": ["bzip2", "-9", "-c"],
           "lzma": ["xz", "--format=lzma", "-9", "-c"],
           "xz": ["xz", "--check=crc32", "--x86", "--lzma2=dict=1MiB", "-c"],
           "lzo": ["lzop", "-9", "-c"], "lz4": ["lz4", "-l", "-9", "-c"],
           "zstd": ["zstd", "-19", "-q", "-c"]}[tool]
    out = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, check=True).stdout
    if tool == "lzo":   # lzop stamps stdin with the time: zero it, redo the header's checksum
        assert out[33] == 0 and not struct.unpack(">I", out[17:21])[0] & 0x1800
        out = out[:25] + bytes(8) + out[33:34] + struct.pack(">I", zlib.adler32(
            out[9:25] + bytes(8) + out[33:34])) + out[38:]
    return out if tool == "gzip" else out + struct.pack("<I", len(data))

def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    syms = [(0, "A", "fixed_percpu_data", True)]
    text = bytearray()
    for i in range(298):
        syms.append((TEXT + 16 * i, "T" if i % 2 else "t", "f%03d" % i, False))
        text += b"\x55\x48\x89\xe5" + b"\x90" * 10 + b"\x5d\xc3"   # push; mov; nops; pop; ret
    syms.append((RODATA + 0x10000, "D", "initial_code", False))
    rodata = bytearray(kallsyms(syms))
    rodata = bytes(0x40) + rodata                   # not at the section's start
    image = elf(bytes(text), bytes(rodata))
    open(os.path.join(outdir, "payload.elf"), "wb").write(b"\x02" + image)
    for tool in ["gzip", "bzip2", "lzma", "xz", "lzo", "lz4", "zstd"]:
        open(os.path.join(outdir, "image-" + tool), "wb").write(b"\x00" + bzimage(compress(tool, image)))

main()
