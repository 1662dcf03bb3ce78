// SPDX-License-Identifier: GPL-2.0
/*
 * x86_64 instruction lengths, with Capstone 4 (64-bit mode, details off), corrected where
 * Capstone 4 is wrong or too old for what a 6.1 kernel contains (checked by decoding every
 * function of the test vmlinux against objdump's boundaries): UD1 takes a ModRM byte, and
 * the register forms of 0f 01 and 0f ae (rdpkru, wrpkru, serialize, tpause...) are 3 bytes.
 * Still undecodable: the VEX-encoded AMX tilerelease (fpu_idle_fpregs) and 32-bit code.
 *
 * Thread safety: one Capstone handle for the process (arch/capstone.c), held locked while a
 * call decodes. Decoding is cheap next to
 * what callers do around it (probe placement, a few functions at load).
 */
#include <errno.h>
#include <stdbool.h>

#include "arch/capstone.h"
#include "arch/x86_64/x86_64.h"

#define X86_MAX_INSN 15

static struct ekp_cs x86_cs = EKP_CS_INIT(CS_ARCH_X86, CS_MODE_64);

static bool is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: case 0x66: case 0x67:
	case 0xf0: case 0xf2: case 0xf3:
		return true;
	}
	return false;
}

/* Legacy prefixes and a REX prefix: how many bytes of them code[0..len) starts with. */
static size_t prefix_len(const uint8_t *code, size_t len)
{
	size_t i = 0;

	while (i < len && i < X86_MAX_INSN && is_legacy_prefix(code[i]))
		i++;
	if (i < len && (code[i] & 0xf0) == 0x40)
		i++;
	return i;
}

/* Bytes of ModRM, SIB and displacement starting at code[0] (64-bit addressing); 0: short. */
static size_t modrm_len(const uint8_t *code, size_t len)
{
	unsigned int mod, rm;
	size_t n = 1;

	if (!len)
		return 0;
	mod = code[0] >> 6;
	rm = code[0] & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) { /* SIB */
		if (len < 2)
			return 0;
		n++;
		if (mod == 0 && (code[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) { /* RIP-relative */
		n += 4;
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= len ? n : 0;
}

#define UNDECODABLE SIZE_MAX

/*
 * Where Capstone 4 is wrong: it decodes UD1 (0f b9 /r, the kernel's static-call and BUG
 * padding) without its ModRM byte. Returns the length, UNDECODABLE, or 0 to ask Capstone.
 */
static size_t override_len(const uint8_t *code, size_t len)
{
	size_t i = prefix_len(code, len), m;

	if (i + 2 > len || code[i] != 0x0f || code[i + 1] != 0xb9)
		return 0;
	m = modrm_len(code + i + 2, len - i - 2);
	if (!m || i + 2 + m > X86_MAX_INSN)
		return UNDECODABLE;
	return i + 2 + m;
}

/*
 * Instructions newer than Capstone 4 that the kernel uses: the register forms of groups 7 and
 * 15 (0f 01 /r and 0f ae /r with mod 3: rdpkru, wrpkru, serialize, monitorx, mwaitx, clzero,
 * tpause, umwait, umonitor, ...). Every one is [prefixes] [REX] 0f 01|ae modrm, with no
 * displacement or immediate. Returns the length or 0.
 */
static size_t fallback_len(const uint8_t *code, size_t len)
{
	size_t i = prefix_len(code, len);

	if (i + 3 > len || i + 3 > X86_MAX_INSN || code[i] != 0x0f)
		return 0;
	if ((code[i + 1] == 0x01 || code[i + 1] == 0xae) && code[i + 2] >= 0xc0)
		return i + 3;
	return 0;
}

static void advance(const uint8_t **code, size_t *len, uint64_t *addr, size_t n)
{
	*code += n;
	*len -= n;
	*addr += n;
}

/* Length of the instruction at *code (address *addr); advances all three. Lock held. */
static int decode_one(const uint8_t **code, size_t *len, uint64_t *addr)
{
	size_t n;

	if (!*len)
		return -EINVAL;
	n = override_len(*code, *len);
	if (n == UNDECODABLE)
		return -EINVAL;
	if (!n) {
		if (cs_disasm_iter(x86_cs.handle, code, len, addr, x86_cs.insn))
			return x86_cs.insn->size;
		n = fallback_len(*code, *len);
		if (!n)
			return -EINVAL;
	}
	advance(code, len, addr, n);
	return (int)n;
}

int x86_64_insn_len(const uint8_t *code, size_t len, uint64_t addr)
{
	int n;

	if (!ekp_cs_get(&x86_cs))
		return -ENOSYS;
	n = decode_one(&code, &len, &addr);
	ekp_cs_put(&x86_cs);
	return n > 0 && n <= X86_MAX_INSN ? n : -EINVAL;
}

int x86_64_insn_boundaries(const uint8_t *code, size_t len, uint64_t addr, uint64_t target)
{
	int ret = -EINVAL;

	if (target < addr || target - addr > len)
		return -ERANGE;
	if (!ekp_cs_get(&x86_cs))
		return -ENOSYS;
	for (;;) {
		if (addr == target) {
			ret = 0;
			break;
		}
		if (addr > target) {
			ret = -EILSEQ;
			break;
		}
		if (decode_one(&code, &len, &addr) <= 0) {
			ret = -EINVAL;
			break;
		}
	}
	ekp_cs_put(&x86_cs);
	return ret;
}
