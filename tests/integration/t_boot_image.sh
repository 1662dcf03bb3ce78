#!/usr/bin/env bash
# Symbols from a boot image (bzImage): the default kernel's, compared with its vmlinux (every
# function symbol read from the bzImage has the vmlinux's address and name), and bad images:
# truncated, a compression this build lacks, no kallsyms, a compression no kernel uses. Each
# is refused with a reason naming what is missing, exit status 2, and no guest is started.
. "$(dirname "$0")/lib.sh"
SYMDUMP=$top/build/tools/symdump

# --- the bzImage's table against the vmlinux's ---------------------------------------------
"$SYMDUMP" "$BZIMAGE" > "$TMP/bz" || fail "symdump $BZIMAGE"
"$SYMDUMP" "$VMLINUX" > "$TMP/vm" || fail "symdump $VMLINUX"
awk '$2 ~ /^[tTwW]$/ { print $1, $3 }' "$TMP/bz" | sort -u > "$TMP/bz.fn"
awk '{ print $1, $3 }' "$TMP/vm" | sort -u > "$TMP/vm.all"
awk '$2 ~ /^[tTwW]$/ { print $1, $3 }' "$TMP/vm" | sort -u > "$TMP/vm.fn"
comm -23 "$TMP/bz.fn" "$TMP/vm.all" > "$TMP/differ"
nfn=$(wc -l < "$TMP/bz.fn")
echo "    $nfn function symbols in the bzImage's kallsyms, $(wc -l < "$TMP/vm.fn") in the vmlinux"
if [ -s "$TMP/differ" ]; then
	echo "    differences (address name in the bzImage, not in the vmlinux):"; head -20 "$TMP/differ"
fi
check "every function symbol of the bzImage is the vmlinux's (address and name)" [ ! -s "$TMP/differ" ]
check "thousands of them" [ "$nfn" -gt 5000 ]
# What kallsyms leaves out of the vmlinux's functions, said (not an error: it skips some).
echo "    vmlinux functions not in kallsyms: $(comm -13 "$TMP/bz.fn" "$TMP/vm.fn" | wc -l)"
# Instructions from the image: SYM+offs is checked against them as with the vmlinux.
"$EKPROBE" --symbols "$BZIMAGE" -p 'p start_kernel+1' --vm unix:/nonexistent >/dev/null 2>"$TMP/err"; rc=$?
check "SYM+offs inside an instruction refused from the bzImage's text (exit 2)" \
	bash -c "[ $rc -eq 2 ] && grep -q 'inside the instruction at start_kernel+0x0' '$TMP/err'"

# --- bad images ------------------------------------------------------------------------------
expect_bad() { # expect_bad WHAT IMAGE REGEX [EKPROBE]
	local what=$1 img=$2 re=$3 bin=${4:-$EKPROBE} console=$TMP/bad.console
	rm -f "$console"
	"$bin" -p 'p start_kernel' -- "${EKPROBE_QEMU:-qemu-system-x86_64}" -name "$QEMU_NAME" \
		-display none -serial "file:$console" -no-reboot -m 256 -kernel "$img" \
		-initrd "$INITRD" -append "$APPEND" >/dev/null 2>"$TMP/bad.err"
	local rc=$?
	sed 's/^/      /' "$TMP/bad.err" | head -3
	check "$what: exit status 2" [ "$rc" -eq 2 ]
	check "$what: the reason names what is missing" grep -qE "$re" "$TMP/bad.err"
	check "$what: no guest started" [ ! -e "$console" ]
}
mkdir -p "$TMP/trunc" "$TMP/noks" "$TMP/nozip" "$TMP/lacks"
head -c $(( $(stat -c %s "$BZIMAGE") / 2 )) "$BZIMAGE" > "$TMP/trunc/bzImage"
expect_bad "truncated image" "$TMP/trunc/bzImage" "truncated: its header says [0-9]+ bytes, the file has [0-9]+"

# An image whose payload holds no kallsyms (.rodata zeroed), and one whose payload is in a
# compression no kernel uses, both made from the default bzImage.
python3 - "$BZIMAGE" "$TMP/noks/bzImage" "$TMP/nozip/bzImage" <<'PY'
import lzma, struct, sys, zlib
src, noks, nozip = sys.argv[1:4]
d = bytearray(open(src, "rb").read())
pm = ((d[0x1f1] or 4) + 1) * 512
poff, plen = struct.unpack_from("<II", d, 0x248)
payload = bytes(d[pm + poff: pm + poff + plen])
dec = lzma.LZMADecompressor()
elf = bytearray(dec.decompress(payload))
shoff, = struct.unpack_from("<Q", elf, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3a)
strtab_off = struct.unpack_from("<Q", elf, shoff + shstrndx * shentsize + 0x18)[0]
for i in range(shnum):
    name, typ, flags, addr, off, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
    n = elf[strtab_off + name: elf.index(b"\0", strtab_off + name)]
    if n == b".rodata":
        elf[off: off + size] = bytes(size)
def write(path, newpayload):
    out = bytearray(d[:pm + poff]) + newpayload
    sys16 = (poff + len(newpayload) + 15) // 16
    out += bytes(pm + sys16 * 16 - len(out))
    struct.pack_into("<I", out, 0x24c, len(newpayload))
    struct.pack_into("<I", out, 0x1f4, sys16)
    open(path, "wb").write(out)
gz = zlib.compressobj(9, zlib.DEFLATED, 31)
write(noks, gz.compress(bytes(elf)) + gz.flush())
write(nozip, b"\x04\x22\x4d\x18" + payload[4:])  # the LZ4 *frame* magic: not a kernel's
PY
expect_bad "image without kallsyms" "$TMP/noks/bzImage" "no kallsyms tables in the kernel image"
expect_bad "unknown compression" "$TMP/nozip/bzImage" "compression is not one a Linux kernel uses"

# A build without liblzma's xz (EKPROBE_WITHOUT): the default kernel's payload is xz.
make -s -C "$top" B=build/without-xz EKPROBE_WITHOUT=xz build/without-xz/ekprobe-host >/dev/null 2>&1 ||
	fail "building ekprobe-host without xz"
cp "$BZIMAGE" "$TMP/lacks/bzImage"
expect_bad "a compression this build lacks" "$TMP/lacks/bzImage" \
	"xz-compressed, and this ekprobe-host was built without liblzma" "$top/build/without-xz/ekprobe-host"
check "no QEMU left running" no_qemu_left
exit $((failures > 0))
