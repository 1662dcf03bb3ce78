// SPDX-License-Identifier: GPL-2.0
/*
 * The arm64 jump site: decoding the displaced instruction for relocation (the A64 encodings
 * of the PC-relative forms, as arch/arm64/include/asm/insn.h matches them), its relocation,
 * and the checks of a site (Capstone's AArch64 mode: the instruction must decode, and gives
 * the text reasons show). See jump.h for what is relocated how and what is refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/arm64/jump.h"
#include "arch/capstone.h"
#include "ekprobe/err.h"

#define MAX_ATOMIC_CONTEXT 16 /* instructions scanned back for a load-exclusive, as kprobes */

static int64_t sext(uint64_t v, unsigned int bits)
{
	uint64_t m = 1ull << (bits - 1);

	v &= (1ull << bits) - 1;
	return (int64_t)((v ^ m) - m);
}

/* Load/store exclusive (o2 = 0), not CASP (size<1> = 0 with o1 = 1, ARMv8.1). */
static bool is_exclusive(uint32_t insn)
{
	return (insn & 0x3f800000u) == 0x08000000u && (insn & 0x80200000u) != 0x00200000u;
}

bool arm64_insn_is_load_exclusive(uint32_t insn)
{
	return is_exclusive(insn) && (insn & (1u << 22));
}

bool arm64_insn_is_store_exclusive(uint32_t insn)
{
	return is_exclusive(insn) && !(insn & (1u << 22));
}

int arm64_insn_decode(uint32_t insn, uint64_t pc, struct arm64_jinsn *out)
{
	memset(out, 0, sizeof(*out));
	out->insn = insn;
	out->pc = pc;
	out->kind = ARM64_INSN_PLAIN;
	out->rt = insn & 0x1f;

	if ((insn & 0x7c000000u) == 0x14000000u) { /* B, BL: imm26 */
		out->kind = (insn & 0x80000000u) ? ARM64_INSN_BL : ARM64_INSN_B;
		out->target = pc + (uint64_t)(sext(insn, 26) * 4);
	} else if ((insn & 0xff000000u) == 0x54000000u) { /* B.cond, BC.cond: imm19 */
		out->kind = ARM64_INSN_BCOND;
		out->target = pc + (uint64_t)(sext(insn >> 5, 19) * 4);
	} else if ((insn & 0x7e000000u) == 0x34000000u) { /* CBZ, CBNZ: imm19 */
		out->kind = ARM64_INSN_CB;
		out->target = pc + (uint64_t)(sext(insn >> 5, 19) * 4);
	} else if ((insn & 0x7e000000u) == 0x36000000u) { /* TBZ, TBNZ: imm14 */
		out->kind = ARM64_INSN_TB;
		out->target = pc + (uint64_t)(sext(insn >> 5, 14) * 4);
	} else if ((insn & 0x1f000000u) == 0x10000000u) { /* ADR, ADRP: immhi:immlo */
		int64_t imm = sext(((insn >> 5) & 0x7ffff) << 2 | ((insn >> 29) & 3), 21);

		if (insn & 0x80000000u) {
			out->kind = ARM64_INSN_ADRP;
			out->target = (pc & ~0xfffull) + (uint64_t)(imm * 4096);
		} else {
			out->kind = ARM64_INSN_ADR;
			out->target = pc + (uint64_t)imm;
		}
	} else if ((insn & 0x3b000000u) == 0x18000000u) { /* load register (literal): imm19 */
		unsigned int opc = insn >> 30;

		if (insn & (1u << 26))
			return ekp_err(EOPNOTSUPP, "an LDR literal into a SIMD&FP register: its "
				       "relocation needs a scratch register (the kernel's kprobes "
				       "refuse it too)");
		if (opc == 3)
			return ekp_err(EOPNOTSUPP, "a PRFM literal (the kernel's kprobes refuse "
				       "it too)");
		if (out->rt == 31)
			return ekp_err(EOPNOTSUPP, "an LDR literal into xzr");
		out->kind = ARM64_INSN_LDR_LIT;
		out->lit_size = opc == 0 ? 4 : opc == 1 ? 8 : 0;
		out->target = pc + (uint64_t)(sext(insn >> 5, 19) * 4);
	} else if (is_exclusive(insn)) {
		return ekp_err(EOPNOTSUPP, "a %s-exclusive instruction: the trampoline's stores "
			       "would clear the exclusive monitor, so its sequence would never "
			       "complete", (insn & (1u << 22)) ? "load" : "store");
	} else if ((insn & 0xff000000u) == 0xd4000000u) {
		return ekp_err(EOPNOTSUPP, "an exception-generating instruction (SVC, HVC, SMC, BRK, "
			       "HLT, DCPS): its handler may look its address up (BUG(), kgdb)");
	} else if (insn == 0xd69f03e0u || (insn & 0xfffffbffu) == 0xd69f0bffu) {
		return ekp_err(EOPNOTSUPP, "an exception return (ERET)");
	}
	return 0;
}

int arm64_encode_b(uint64_t from, uint64_t to, bool link, uint32_t *out)
{
	int64_t d = (int64_t)(to - from);

	if ((from | to) & 3)
		return ekp_err(EINVAL, "a branch between addresses that are not 4-byte aligned");
	if (d < -(1ll << 27) || d >= (1ll << 27))
		return ekp_err(ERANGE, "0x%" PRIx64 " is beyond a branch's +-128 MiB from 0x%" PRIx64,
			       to, from);
	*out = (link ? 0x94000000u : 0x14000000u) | ((uint32_t)(d >> 2) & 0x3ffffffu);
	return 0;
}

/* The imm19 (at bits 5..23) of a conditional branch or literal load at from to to. */
static int put_imm19(uint32_t insn, uint64_t from, uint64_t to, uint32_t *out)
{
	int64_t d = (int64_t)(to - from);

	if ((from | to) & 3)
		return ekp_err(EINVAL, "not 4-byte aligned");
	if (d < -(1ll << 20) || d >= (1ll << 20))
		return ekp_err(ERANGE, "0x%" PRIx64 " is beyond +-1 MiB of 0x%" PRIx64, to, from);
	*out = (insn & ~(0x7ffffu << 5)) | (((uint32_t)(d >> 2) & 0x7ffffu) << 5);
	return 0;
}

static int put_imm14(uint32_t insn, uint64_t from, uint64_t to, uint32_t *out)
{
	int64_t d = (int64_t)(to - from);

	if (d < -(1ll << 15) || d >= (1ll << 15) || ((from | to) & 3))
		return ekp_err(ERANGE, "0x%" PRIx64 " is beyond +-32 KiB of 0x%" PRIx64, to, from);
	*out = (insn & ~(0x3fffu << 5)) | (((uint32_t)(d >> 2) & 0x3fffu) << 5);
	return 0;
}

int arm64_encode_ldr_lit(unsigned int rt, uint64_t from, uint64_t lit, uint32_t *out)
{
	return put_imm19(0x58000000u | (rt & 31), from, lit, out);
}

/* Words of an instruction's relocated form, the jump back included. */
static size_t reloc_words(const struct arm64_jinsn *in)
{
	switch (in->kind) {
	case ARM64_INSN_B:
		return 1;
	case ARM64_INSN_BCOND:
	case ARM64_INSN_CB:
	case ARM64_INSN_TB:
	case ARM64_INSN_LDR_LIT:
		return 3;
	default:
		return 2;
	}
}

int arm64_jump_relocate(const struct arm64_jinsn *in, uint64_t copy_addr, uint64_t lit_addr,
			uint32_t out[ARM64_JUMP_MAX_COPY], size_t *n, uint64_t *lit, bool *has_lit)
{
	const uint64_t back = in->pc + 4;
	uint64_t c = copy_addr;
	size_t k = 0;
	int err = 0;

	memset(out, 0, ARM64_JUMP_MAX_COPY * sizeof(out[0]));
	*n = reloc_words(in);
	*has_lit = false;
	*lit = 0;
	switch (in->kind) {
	case ARM64_INSN_PLAIN:
		out[k++] = in->insn;
		break;
	case ARM64_INSN_B:
		err = arm64_encode_b(c, in->target, false, &out[k++]);
		*n = reloc_words(in);
		return err;
	case ARM64_INSN_BL:
		/* x30 = J + 4, then to the callee: it returns where it would have. */
		*lit = back;
		*has_lit = true;
		err = arm64_encode_ldr_lit(30, c, lit_addr, &out[k++]);
		if (!err)
			err = arm64_encode_b(c + 4, in->target, false, &out[k++]);
		*n = reloc_words(in);
		return err;
	case ARM64_INSN_BCOND:
	case ARM64_INSN_CB:
		/* The condition to +8 (the b to the target), else the b back at +4. */
		err = put_imm19(in->insn, c, c + 8, &out[k++]);
		if (!err)
			err = arm64_encode_b(c + 4, back, false, &out[k++]);
		if (!err)
			err = arm64_encode_b(c + 8, in->target, false, &out[k++]);
		*n = reloc_words(in);
		return err;
	case ARM64_INSN_TB:
		err = put_imm14(in->insn, c, c + 8, &out[k++]);
		if (!err)
			err = arm64_encode_b(c + 4, back, false, &out[k++]);
		if (!err)
			err = arm64_encode_b(c + 8, in->target, false, &out[k++]);
		*n = reloc_words(in);
		return err;
	case ARM64_INSN_ADR:
	case ARM64_INSN_ADRP:
		*lit = in->target;
		*has_lit = true;
		err = arm64_encode_ldr_lit(in->rt, c, lit_addr, &out[k++]);
		break;
	case ARM64_INSN_LDR_LIT:
		/* The literal's address into xt, then the load through it. */
		*lit = in->target;
		*has_lit = true;
		err = arm64_encode_ldr_lit(in->rt, c, lit_addr, &out[k++]);
		if (in->lit_size == 8)
			out[k++] = 0xf9400000u | (uint32_t)in->rt << 5 | in->rt;      /* ldr xt, [xt] */
		else if (in->lit_size == 4)
			out[k++] = 0xb9400000u | (uint32_t)in->rt << 5 | in->rt;      /* ldr wt, [xt] */
		else
			out[k++] = 0xb9800000u | (uint32_t)in->rt << 5 | in->rt;      /* ldrsw xt, [xt] */
		break;
	default:
		return ekp_err(EINVAL, "unknown instruction kind %u", in->kind);
	}
	if (!err)
		err = arm64_encode_b(c + 4 * k, back, false, &out[k]);
	*n = reloc_words(in);
	return err;
}

/* "foo+0x8" for an address inside the site's function, else the address. */
static void fmt_addr(const struct arm64_jump_site *s, uint64_t a, char *buf, size_t n)
{
	if (s->func_name && a >= s->func_addr && a - s->func_addr <= s->func_size)
		snprintf(buf, n, "%s+0x%" PRIx64, s->func_name, a - s->func_addr);
	else
		snprintf(buf, n, "0x%" PRIx64, a);
}

static uint32_t word_at(const struct arm64_jump_site *s, uint64_t a)
{
	const uint8_t *p = s->func + (a - s->func_addr);

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int plan_err(const struct arm64_jump_plan *plan, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int plan_err(const struct arm64_jump_plan *plan, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	if (plan->text[0])
		return ekp_err(err, "jump site at %s (%s): %s", plan->where, plan->text, msg);
	return ekp_err(err, "jump site at %s: %s", plan->where, msg);
}

/* Capstone's text of the instruction, or false when it does not decode (arch/capstone.c). */
static struct ekp_cs arm64_cs = EKP_CS_INIT(CS_ARCH_ARM64, CS_MODE_ARM);

static bool disasm(uint32_t insn, uint64_t pc, char *buf, size_t n)
{
	uint8_t code[4] = { insn & 0xff, (insn >> 8) & 0xff, (insn >> 16) & 0xff, insn >> 24 };
	const uint8_t *p = code;
	size_t left = sizeof(code);
	uint64_t a = pc;
	bool ok = false;

	if (n < 2 || !ekp_cs_get(&arm64_cs))
		return false;
	if (cs_disasm_iter(arm64_cs.handle, &p, &left, &a, arm64_cs.insn) && arm64_cs.insn->size == 4) {
		size_t m = strlen(arm64_cs.insn->mnemonic), o = strlen(arm64_cs.insn->op_str);

		if (m > n - 1)
			m = n - 1;
		memcpy(buf, arm64_cs.insn->mnemonic, m);
		buf[m] = '\0';
		if (o && m + 2 < n) {
			if (o > n - m - 2)
				o = n - m - 2;
			buf[m] = ' ';
			memcpy(buf + m + 1, arm64_cs.insn->op_str, o);
			buf[m + 1 + o] = '\0';
		}
		ok = true;
	}
	ekp_cs_put(&arm64_cs);
	return ok;
}

int arm64_jump_plan(const struct arm64_jump_site *site, struct arm64_jump_plan *plan)
{
	const uint64_t j = site ? site->jump_addr : 0;
	uint32_t words[ARM64_JUMP_MAX_COPY], b;
	uint64_t lit, copy, lit_at;
	bool has_lit;
	size_t n;
	int err;

	if (!site || !plan || !site->func || !site->func_size)
		return ekp_err(EINVAL, "no function to plan a jump site in");
	memset(plan, 0, sizeof(*plan));
	fmt_addr(site, j, plan->where, sizeof(plan->where));
	if ((j & 3) || (site->func_addr & 3))
		return plan_err(plan, EINVAL, "not 4-byte aligned");
	if (j < site->func_addr || j - site->func_addr > site->func_size - 4 ||
	    site->func_size < 4)
		return plan_err(plan, EINVAL, "not inside the function (0x%" PRIx64 ", %zu bytes)",
				site->func_addr, site->func_size);
	plan->jump_addr = j;
	plan->probe_addr = site->probe_addr ? site->probe_addr : j;
	plan->slot_addr = site->slot_addr;
	memcpy(plan->orig, site->func + (j - site->func_addr), ARM64_JUMP_LEN);
	if (!disasm(word_at(site, j), j, plan->text, sizeof(plan->text)))
		return plan_err(plan, EILSEQ, "the instruction 0x%08x does not decode",
				word_at(site, j));
	err = arm64_insn_decode(word_at(site, j), j, &plan->insn);
	if (err)
		return plan_err(plan, err, "%s", ekp_errmsg());

	/* Inside an exclusive-monitor sequence: a load-exclusive before J, no store-exclusive
	 * between (arch/arm64/kernel/probes/decode-insn.c, is_probed_address_atomic). */
	for (unsigned int i = 1; i <= MAX_ATOMIC_CONTEXT && j - 4 * i >= site->func_addr &&
			       j - 4 * i < j; i++) {
		uint32_t w = word_at(site, j - 4 * i);
		char at[128];

		if (arm64_insn_is_store_exclusive(w))
			break;
		if (arm64_insn_is_load_exclusive(w)) {
			fmt_addr(site, j - 4 * i, at, sizeof(at));
			return plan_err(plan, EOPNOTSUPP, "inside an exclusive-monitor sequence (the "
					"load-exclusive at %s): the trampoline's stores would clear "
					"the monitor, so its store-exclusive would never succeed", at);
		}
	}

	/* Reach: J -> slot, the relocated copy and its literal, for a one-index trampoline
	 * (arm64_build_trampoline() re-checks for more: a further index moves the copy). */
	if (arm64_encode_b(j, site->slot_addr, false, &b))
		return plan_err(plan, ERANGE, "the slot at 0x%" PRIx64 " is beyond a B's +-128 MiB",
				site->slot_addr);
	copy = site->slot_addr + ARM64_JUMP_COPY_OFFSET(1);
	lit_at = (copy + 4 * ARM64_JUMP_MAX_COPY + 7) & ~7ull;
	err = arm64_jump_relocate(&plan->insn, copy, lit_at, words, &n, &lit, &has_lit);
	if (err)
		return plan_err(plan, err, "relocating it into the slot at 0x%" PRIx64 ": %s",
				site->slot_addr, ekp_errmsg());
	return 0;
}
