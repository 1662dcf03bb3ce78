// SPDX-License-Identifier: GPL-2.0
/*
 * The arm64 jump half's pure parts: the instruction classes (checked against Capstone's
 * AArch64 decoder), B/BL/LDR-literal encoders and their reach, the relocation of every
 * PC-relative form (the relocated branches decoded back to the original targets), the site
 * checks (exclusive-monitor sequences, refused instructions, reach), the trampoline's layout
 * (decoded whole by Capstone), the kernel text tables, and fetch programs compiled for arm64
 * run by the shared interpreter over the arm64 frame, as the arm64 guest runs them.
 */
/* abi.h's struct ekp_abi_regs is the x86_64 frame; here, as in the arm64 guest, the
 * interpreter runs over struct ekp_abi_regs_arm64. */
#define ekp_abi_regs ekp_abi_regs_x86_64
#include "ekprobe/abi.h"
#undef ekp_abi_regs
#include "ekprobe/abi_arm64.h"
#define ekp_abi_regs ekp_abi_regs_arm64

#include <capstone/capstone.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch/arm64/jump.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "host/fetch/compile.h"

struct ekp_eval_env {
	const struct ekp_abi_regs_arm64 *frame;
};

static bool ekp_eval_load(struct ekp_eval_env *env, ekp_u64 addr, unsigned int size, ekp_u64 *out)
{
	(void)env;
	(void)addr;
	(void)size;
	(void)out;
	return false;
}

static bool ekp_eval_reg(struct ekp_eval_env *env, unsigned int off, ekp_u64 *out)
{
	memcpy(out, (const char *)env->frame + off, 8);
	return true;
}

static const char *ekp_eval_comm(struct ekp_eval_env *env)
{
	(void)env;
	return "swapper/0\0\0\0\0\0\0";
}

#include "ekprobe/abi_eval.h"

#define PC 0xffffffc008100000ull

/* Capstone's mnemonic of one instruction word ("" when it does not decode). */
static const char *cs_text(uint32_t w, uint64_t pc, char *buf, size_t n)
{
	uint8_t code[4] = { w & 0xff, (w >> 8) & 0xff, (w >> 16) & 0xff, w >> 24 };
	cs_insn *ci;
	size_t got;
	csh cs;

	buf[0] = '\0';
	assert_int_equal(cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &cs), CS_ERR_OK);
	got = cs_disasm(cs, code, 4, pc, 1, &ci);
	if (got == 1 && strlen(ci[0].mnemonic) + strlen(ci[0].op_str) + 2 <= n) {
		strcpy(buf, ci[0].mnemonic);
		strcat(buf, " ");
		strcat(buf, ci[0].op_str);
	}
	if (got)
		cs_free(ci, got);
	cs_close(&cs);
	return buf;
}

static void test_exclusives(void **state)
{
	static const struct {
		uint32_t w;
		const char *mnem;
		int kind; /* 1 load-exclusive, 2 store-exclusive, 0 neither */
	} v[] = {
		{ 0x885f7c02, "ldxr ", 1 },   { 0xc85f7c02, "ldxr ", 1 },  { 0x885ffc01, "ldaxr ", 1 },
		{ 0x085f7c02, "ldxrb ", 1 },  { 0x485f7c02, "ldxrh ", 1 }, { 0xc87f0c02, "ldxp ", 1 },
		{ 0xc87f8c02, "ldaxp ", 1 },  { 0x88037c02, "stxr ", 2 },  { 0x8803fc02, "stlxr ", 2 },
		{ 0xc8230c02, "stxp ", 2 },   { 0x08037c02, "stxrb ", 2 },
		{ 0x88dffc02, "ldar ", 0 },   { 0x889ffc02, "stlr ", 0 },  { 0x88a37c02, NULL, 0 },   /* cas, casp: ARMv8.1, Capstone 4 does not decode them */
		{ 0x08227c02, NULL, 0 },   { 0xf9400002, "ldr ", 0 },   { 0xd503201f, "nop ", 0 },
	};
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cs_text(v[i].w, PC, buf, sizeof(buf));
		if (v[i].mnem && strncmp(buf, v[i].mnem, strlen(v[i].mnem)))
			fail_msg("0x%08x: Capstone says '%s', expected %s", v[i].w, buf, v[i].mnem);
		assert_int_equal(arm64_insn_is_load_exclusive(v[i].w), v[i].kind == 1);
		assert_int_equal(arm64_insn_is_store_exclusive(v[i].w), v[i].kind == 2);
	}
}

static void test_decode(void **state)
{
	static const struct {
		uint32_t w;
		int kind;
		int64_t target; /* from PC; for ADRP from the page of PC */
		const char *mnem;
	} v[] = {
		{ 0x14000010, ARM64_INSN_B, 0x40, "b " },
		{ 0x17fffff0, ARM64_INSN_B, -0x40, "b " },
		{ 0x94000400, ARM64_INSN_BL, 0x1000, "bl " },
		{ 0x54000080, ARM64_INSN_BCOND, 0x10, "b.eq " },
		{ 0x54ffff81, ARM64_INSN_BCOND, -0x10, "b.ne " },
		{ 0xb4000060, ARM64_INSN_CB, 0xc, "cbz " },
		{ 0x35ffffe3, ARM64_INSN_CB, -0x4, "cbnz " },
		{ 0x36180080, ARM64_INSN_TB, 0x10, "tbz " },
		{ 0xb7ffffe1, ARM64_INSN_TB, -0x4, "tbnz " },
		{ 0x10000083, ARM64_INSN_ADR, 0x10, "adr " },
		{ 0x30000003, ARM64_INSN_ADR, 0x1, "adr " },
		{ 0xb0000003, ARM64_INSN_ADRP, 0x1000, "adrp " },
		{ 0xf0fffff3, ARM64_INSN_ADRP, -0x1000, "adrp " },
		{ 0x58000082, ARM64_INSN_LDR_LIT, 0x10, "ldr " },
		{ 0x18000082, ARM64_INSN_LDR_LIT, 0x10, "ldr " },
		{ 0x98ffffe2, ARM64_INSN_LDR_LIT, -0x4, "ldrsw " },
		{ 0xa9bf7bfd, ARM64_INSN_PLAIN, 0, "stp " },
		{ 0xd65f03c0, ARM64_INSN_PLAIN, 0, "ret " },
		{ 0xd63f0100, ARM64_INSN_PLAIN, 0, "blr " },
		{ 0xd503233f, ARM64_INSN_PLAIN, 0, "hint #0x19" }, /* paciasp, in Capstone 4 */
	};
	struct arm64_jinsn in;
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t base = v[i].kind == ARM64_INSN_ADRP ? (PC & ~0xfffull) : PC;

		cs_text(v[i].w, PC, buf, sizeof(buf));
		if (strncmp(buf, v[i].mnem, strlen(v[i].mnem)))
			fail_msg("0x%08x: Capstone says '%s', expected %s", v[i].w, buf, v[i].mnem);
		assert_int_equal(arm64_insn_decode(v[i].w, PC, &in), 0);
		assert_int_equal(in.kind, v[i].kind);
		if (v[i].kind != ARM64_INSN_PLAIN)
			assert_int_equal(in.target, base + (uint64_t)v[i].target);
	}
	assert_int_equal(arm64_insn_decode(0x58000082, PC, &in), 0);
	assert_int_equal(in.rt, 2);
	assert_int_equal(in.lit_size, 8);
	assert_int_equal(arm64_insn_decode(0x18000082, PC, &in), 0);
	assert_int_equal(in.lit_size, 4);
	assert_int_equal(arm64_insn_decode(0x98ffffe2, PC, &in), 0);
	assert_int_equal(in.lit_size, 0);
}

static void test_refused(void **state)
{
	static const struct {
		uint32_t w;
		const char *why;
	} v[] = {
		{ 0x5c000080, "SIMD&FP" },      /* ldr d0, literal */
		{ 0x9c000080, "SIMD&FP" },      /* ldr q0, literal */
		{ 0xd8000080, "PRFM" },         /* prfm pldl1keep, literal */
		{ 0x5800009f, "xzr" },          /* ldr xzr, literal */
		{ 0x885f7c02, "load-exclusive" },
		{ 0x88037c02, "store-exclusive" },
		{ 0xd4200000, "exception-generating" }, /* brk #0 */
		{ 0xd4000001, "exception-generating" }, /* svc #0 */
		{ 0xd4000002, "exception-generating" }, /* hvc #0 */
		{ 0xd69f03e0, "ERET" },
		{ 0xd69f0bff, "ERET" },         /* eretaa */
	};
	struct arm64_jinsn in;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int err = arm64_insn_decode(v[i].w, PC, &in);

		assert_int_equal(err, -EOPNOTSUPP);
		if (!strstr(ekp_errstr(err), v[i].why))
			fail_msg("0x%08x: reason '%s' lacks '%s'", v[i].w, ekp_errstr(err), v[i].why);
	}
}

static void test_encode_b(void **state)
{
	struct arm64_jinsn in;
	uint32_t w;

	(void)state;
	assert_int_equal(arm64_encode_b(PC, PC + 0x40, false, &w), 0);
	assert_int_equal(w, 0x14000010);
	assert_int_equal(arm64_encode_b(PC, PC + 0x1000, true, &w), 0);
	assert_int_equal(w, 0x94000400);
	/* the ends of +-128 MiB */
	assert_int_equal(arm64_encode_b(PC, PC + (128ull << 20) - 4, false, &w), 0);
	assert_int_equal(arm64_insn_decode(w, PC, &in), 0);
	assert_int_equal(in.target, PC + (128ull << 20) - 4);
	assert_int_equal(arm64_encode_b(PC, PC - (128ull << 20), false, &w), 0);
	assert_int_equal(arm64_insn_decode(w, PC, &in), 0);
	assert_int_equal(in.target, PC - (128ull << 20));
	assert_int_equal(arm64_encode_b(PC, PC + (128ull << 20), false, &w), -ERANGE);
	assert_int_equal(arm64_encode_b(PC, PC - (128ull << 20) - 4, false, &w), -ERANGE);
	assert_int_equal(arm64_encode_b(PC, PC + 2, false, &w), -EINVAL);
	/* ldr literal: +-1 MiB */
	assert_int_equal(arm64_encode_ldr_lit(5, PC, PC + 0x10, &w), 0);
	assert_int_equal(w, 0x58000085);
	assert_int_equal(arm64_encode_ldr_lit(5, PC, PC + (1ull << 20), &w), -ERANGE);
	assert_int_equal(arm64_encode_ldr_lit(5, PC, PC - (1ull << 20), &w), 0);
}

/* Relocate w (at PC) to C, check each output word by decoding it back. */
#define C (PC + 0x200000)
#define LIT (C + 0x40)
static void reloc(uint32_t w, uint32_t out[ARM64_JUMP_MAX_COPY], size_t *n, uint64_t *lit,
		  bool *has_lit, struct arm64_jinsn *in)
{
	assert_int_equal(arm64_insn_decode(w, PC, in), 0);
	assert_int_equal(arm64_jump_relocate(in, C, LIT, out, n, lit, has_lit), 0);
}

static void expect_b(uint32_t w, uint64_t at, uint64_t to)
{
	struct arm64_jinsn d;

	assert_int_equal(arm64_insn_decode(w, at, &d), 0);
	assert_int_equal(d.kind, ARM64_INSN_B);
	assert_int_equal(d.target, to);
}

static void expect_ldr_lit(uint32_t w, uint64_t at, unsigned int rt)
{
	struct arm64_jinsn d;

	assert_int_equal(arm64_insn_decode(w, at, &d), 0);
	assert_int_equal(d.kind, ARM64_INSN_LDR_LIT);
	assert_int_equal(d.lit_size, 8);
	assert_int_equal(d.rt, rt);
	assert_int_equal(d.target, LIT);
}

static void test_relocate(void **state)
{
	uint32_t out[ARM64_JUMP_MAX_COPY];
	struct arm64_jinsn in, d;
	bool has_lit;
	uint64_t lit;
	size_t n;

	(void)state;
	/* plain: itself, then back to PC + 4 */
	reloc(0xa9bf7bfd, out, &n, &lit, &has_lit, &in);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 0xa9bf7bfd);
	expect_b(out[1], C + 4, PC + 4);
	assert_false(has_lit);
	/* b: to the same target, nothing after */
	reloc(0x14000010, out, &n, &lit, &has_lit, &in);
	assert_int_equal(n, 1);
	expect_b(out[0], C, PC + 0x40);
	/* bl: x30 = PC + 4 from a literal, then b to the callee */
	reloc(0x94000400, out, &n, &lit, &has_lit, &in);
	assert_int_equal(n, 2);
	expect_ldr_lit(out[0], C, 30);
	assert_true(has_lit);
	assert_int_equal(lit, PC + 4);
	expect_b(out[1], C + 4, PC + 0x1000);
	/* b.ne: same condition to +8, b back, b target */
	reloc(0x54ffff81, out, &n, &lit, &has_lit, &in);
	assert_int_equal(n, 3);
	assert_int_equal(arm64_insn_decode(out[0], C, &d), 0);
	assert_int_equal(d.kind, ARM64_INSN_BCOND);
	assert_int_equal(d.target, C + 8);
	assert_int_equal(out[0] & 0xf, 1); /* ne */
	expect_b(out[1], C + 4, PC + 4);
	expect_b(out[2], C + 8, PC - 0x10);
	/* cbnz w3 and tbnz x1, #63: the register and bit kept */
	reloc(0x35ffffe3, out, &n, &lit, &has_lit, &in);
	assert_int_equal(n, 3);
	assert_int_equal(arm64_insn_decode(out[0], C, &d), 0);
	assert_int_equal(d.kind, ARM64_INSN_CB);
	assert_int_equal(d.target, C + 8);
	assert_int_equal(out[0] & 0xff00001f, 0x35000003);
	expect_b(out[2], C + 8, PC - 4);
	reloc(0xb7ffffe1, out, &n, &lit, &has_lit, &in);
	assert_int_equal(n, 3);
	assert_int_equal(arm64_insn_decode(out[0], C, &d), 0);
	assert_int_equal(d.kind, ARM64_INSN_TB);
	assert_int_equal(d.target, C + 8);
	assert_int_equal(out[0] & 0xfff8001f, 0xb7f80001); /* b5:b40 = 63, rt = 1 */
	expect_b(out[1], C + 4, PC + 4);
	expect_b(out[2], C + 8, PC - 4);
	/* adr x3 / adrp x19: the value from a literal */
	reloc(0x10000083, out, &n, &lit, &has_lit, &in);
	assert_int_equal(n, 2);
	expect_ldr_lit(out[0], C, 3);
	assert_int_equal(lit, PC + 0x10);
	expect_b(out[1], C + 4, PC + 4);
	reloc(0xf0fffff3, out, &n, &lit, &has_lit, &in);
	expect_ldr_lit(out[0], C, 19);
	assert_int_equal(lit, (PC & ~0xfffull) - 0x1000);
	/* ldr x2 / ldr w2 / ldrsw x2, literal: its address from a literal, the load through x2 */
	reloc(0x58000082, out, &n, &lit, &has_lit, &in);
	assert_int_equal(n, 3);
	expect_ldr_lit(out[0], C, 2);
	assert_int_equal(lit, PC + 0x10);
	assert_int_equal(out[1], 0xf9400042); /* ldr x2, [x2] */
	expect_b(out[2], C + 8, PC + 4);
	reloc(0x18000082, out, &n, &lit, &has_lit, &in);
	assert_int_equal(out[1], 0xb9400042); /* ldr w2, [x2] */
	reloc(0x98ffffe2, out, &n, &lit, &has_lit, &in);
	assert_int_equal(out[1], 0xb9800042); /* ldrsw x2, [x2] */
	assert_int_equal(lit, PC - 4);
	/* out of reach: a b whose target is beyond 128 MiB of the copy */
	assert_int_equal(arm64_insn_decode(0x14000010, PC, &in), 0);
	assert_int_equal(arm64_jump_relocate(&in, PC + (200ull << 20), PC + (200ull << 20) + 64, out,
					     &n, &lit, &has_lit), -ERANGE);
	assert_int_equal(n, 1);
	/* a literal beyond 1 MiB */
	assert_int_equal(arm64_insn_decode(0x10000083, PC, &in), 0);
	assert_int_equal(arm64_jump_relocate(&in, C, C + (2ull << 20), out, &n, &lit, &has_lit),
			 -ERANGE);
	assert_int_equal(n, 2);
}

/* A function: stp; mov; ldxr; add; stxr; cbnz; ldp; ret */
static const uint32_t fn_words[] = {
	0xa9bf7bfd, 0x910003fd, 0x885f7c02, 0x11000442, 0x88037c02, 0x35ffffa3, 0xa8c17bfd,
	0xd65f03c0,
};
#define FN 0xffffffc008200000ull
#define SLOT 0xffffffc008010000ull

static void site_of(struct arm64_jump_site *s, uint8_t *buf, uint64_t j)
{
	for (size_t i = 0; i < sizeof(fn_words) / sizeof(fn_words[0]); i++)
		for (int b = 0; b < 4; b++)
			buf[4 * i + b] = (uint8_t)(fn_words[i] >> (8 * b));
	memset(s, 0, sizeof(*s));
	s->func_addr = FN;
	s->func_name = "demo";
	s->func = buf;
	s->func_size = sizeof(fn_words);
	s->jump_addr = j;
	s->slot_addr = SLOT;
}

static void test_plan(void **state)
{
	uint8_t buf[sizeof(fn_words)];
	struct arm64_jump_site s;
	struct arm64_jump_plan p;
	int err;

	(void)state;
	site_of(&s, buf, FN);
	assert_int_equal(arm64_jump_plan(&s, &p), 0);
	assert_string_equal(p.where, "demo+0x0");
	assert_non_null(strstr(p.text, "stp"));
	assert_int_equal(p.probe_addr, FN);
	assert_memory_equal(p.orig, buf, 4);
	site_of(&s, buf, FN + 4);
	assert_int_equal(arm64_jump_plan(&s, &p), 0);
	/* the ldxr itself, then inside its sequence (add, stxr), then after the stxr (cbnz) */
	site_of(&s, buf, FN + 8);
	err = arm64_jump_plan(&s, &p);
	assert_int_equal(err, -EOPNOTSUPP);
	assert_non_null(strstr(ekp_errstr(err), "jump site at demo+0x8 (ldxr w2, [x0]): a load-exclusive"));
	site_of(&s, buf, FN + 12);
	err = arm64_jump_plan(&s, &p);
	assert_int_equal(err, -EOPNOTSUPP);
	assert_non_null(strstr(ekp_errstr(err), "inside an exclusive-monitor sequence (the "
				"load-exclusive at demo+0x8)"));
	site_of(&s, buf, FN + 16);
	assert_int_equal(arm64_jump_plan(&s, &p), -EOPNOTSUPP);
	site_of(&s, buf, FN + 20);
	assert_int_equal(arm64_jump_plan(&s, &p), 0);
	assert_int_equal(p.insn.kind, ARM64_INSN_CB);
	/* not aligned, outside, slot out of reach */
	site_of(&s, buf, FN + 2);
	assert_int_equal(arm64_jump_plan(&s, &p), -EINVAL);
	site_of(&s, buf, FN + sizeof(fn_words));
	assert_int_equal(arm64_jump_plan(&s, &p), -EINVAL);
	site_of(&s, buf, FN);
	s.slot_addr = FN + (128ull << 20);
	err = arm64_jump_plan(&s, &p);
	assert_int_equal(err, -ERANGE);
	assert_non_null(strstr(ekp_errstr(err), "+-128 MiB"));
	/* an undecodable word */
	site_of(&s, buf, FN);
	buf[0] = buf[1] = buf[2] = buf[3] = 0;
	assert_int_equal(arm64_jump_plan(&s, &p), -EILSEQ);
}

static uint32_t word(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t quad(const uint8_t *p)
{
	return (uint64_t)word(p) | (uint64_t)word(p + 4) << 32;
}

#define HIT (SLOT + 0x10000)

/* A trampoline decoded whole by Capstone: the frame, the calls, the restore, the copy. */
static void check_tramp(uint64_t j, const uint32_t *idx, size_t nr, uint32_t copy_kind)
{
	uint8_t fbuf[sizeof(fn_words)], t[ARM64_JUMP_SLOT_SIZE];
	struct arm64_jump_site s;
	struct arm64_jump_plan p;
	size_t len, k, calls = 0;
	char txt[256];
	struct arm64_jinsn d;

	site_of(&s, fbuf, j);
	s.probe_addr = FN; /* the frame's pc: the probe, before the jump address */
	assert_int_equal(arm64_jump_plan(&s, &p), 0);
	assert_int_equal(p.insn.kind, copy_kind);
	assert_int_equal(arm64_build_trampoline(&p, SLOT, HIT, idx, nr, t, sizeof(t), &len), 0);
	assert_int_equal(len, arm64_trampoline_size(&p, nr));
	assert_int_equal(len % 8, 0);
	assert_string_equal(cs_text(word(t), SLOT, txt, sizeof(txt)), "sub sp, sp, #0x120");
	assert_string_equal(cs_text(word(t + 4), SLOT, txt, sizeof(txt)), "stp x0, x1, [sp]");
	assert_string_equal(cs_text(word(t + 4 * 15), SLOT, txt, sizeof(txt)), "stp x28, x29, [sp, #0xe0]");
	assert_string_equal(cs_text(word(t + 4 * 17), SLOT, txt, sizeof(txt)), "stp x30, x0, [sp, #0xf0]");
	/* x0 = the probe address: a literal right after the code */
	assert_int_equal(arm64_insn_decode(word(t + 4 * 18), SLOT + 4 * 18, &d), 0);
	assert_int_equal(d.kind, ARM64_INSN_LDR_LIT);
	assert_int_equal(quad(t + (d.target - SLOT)), FN);
	assert_string_equal(cs_text(word(t + 4 * 19), SLOT, txt, sizeof(txt)), "mrs x1, nzcv");
	assert_string_equal(cs_text(word(t + 4 * 20), SLOT, txt, sizeof(txt)), "mrs x2, daif");
	assert_string_equal(cs_text(word(t + 4 * 22), SLOT, txt, sizeof(txt)), "mrs x2, currentel");
	assert_string_equal(cs_text(word(t + 4 * 24), SLOT, txt, sizeof(txt)), "mrs x2, spsel");
	assert_string_equal(cs_text(word(t + 4 * 26), SLOT, txt, sizeof(txt)), "stp x0, x1, [sp, #0x100]");
	assert_string_equal(cs_text(word(t + 4 * 28), SLOT, txt, sizeof(txt)), "stp x0, xzr, [sp, #0x110]");
	/* per index: mov x0, sp; mov x1, #i; bl hit */
	for (k = ARM64_JUMP_SAVE_INSNS; calls < nr; k += 3, calls++) {
		char want[32];

		assert_string_equal(cs_text(word(t + 4 * k), SLOT, txt, sizeof(txt)), "mov x0, sp");
		snprintf(want, sizeof(want), "movz x1, #0x%x", idx[calls]); /* Capstone 4's spelling */
		assert_string_equal(cs_text(word(t + 4 * (k + 1)), SLOT, txt, sizeof(txt)), want);
		assert_int_equal(arm64_insn_decode(word(t + 4 * (k + 2)), SLOT + 4 * (k + 2), &d), 0);
		assert_int_equal(d.kind, ARM64_INSN_BL);
		assert_int_equal(d.target, HIT);
	}
	assert_int_equal(word(t + 27 * 4) & 0xffe0001f, 0xd2800000); /* movz x0, orig_x0 = idx[0] */
	assert_int_equal((word(t + 27 * 4) >> 5) & 0xffff, idx[0]);
	assert_string_equal(cs_text(word(t + 4 * k), SLOT, txt, sizeof(txt)), "ldr x0, [sp, #0x108]");
	assert_string_equal(cs_text(word(t + 4 * (k + 1)), SLOT, txt, sizeof(txt)), "msr nzcv, x0");
	assert_string_equal(cs_text(word(t + 4 * (k + 2)), SLOT, txt, sizeof(txt)), "ldp x0, x1, [sp]");
	assert_string_equal(cs_text(word(t + 4 * (k + 17)), SLOT, txt, sizeof(txt)), "ldr x30, [sp, #0xf0]");
	assert_string_equal(cs_text(word(t + 4 * (k + 18)), SLOT, txt, sizeof(txt)), "add sp, sp, #0x120");
	k += ARM64_JUMP_RESTORE_INSNS;
	assert_int_equal(4 * k, ARM64_JUMP_COPY_OFFSET(nr));
	/* the copy */
	if (copy_kind == ARM64_INSN_PLAIN) {
		assert_memory_equal(t + 4 * k, fbuf + (j - FN), 4);
		expect_b(word(t + 4 * (k + 1)), SLOT + 4 * (k + 1), j + 4);
	} else {
		assert_int_equal(arm64_insn_decode(word(t + 4 * k), SLOT + 4 * k, &d), 0);
		assert_int_equal(d.kind, copy_kind);
		assert_int_equal(d.target, SLOT + 4 * k + 8);
		expect_b(word(t + 4 * (k + 1)), SLOT + 4 * (k + 1), j + 4);
		expect_b(word(t + 4 * (k + 2)), SLOT + 4 * (k + 2), p.insn.target);
	}
}

static void test_trampoline(void **state)
{
	const uint32_t one[] = { 7 }, three[] = { 3, 12, 0xffff };
	uint8_t fbuf[sizeof(fn_words)], t[ARM64_JUMP_SLOT_SIZE];
	struct arm64_jump_site s;
	struct arm64_jump_plan p;
	uint32_t too_big = 0x10000;
	size_t len;

	(void)state;
	check_tramp(FN, one, 1, ARM64_INSN_PLAIN);
	check_tramp(FN, three, 3, ARM64_INSN_PLAIN);
	check_tramp(FN + 20, one, 1, ARM64_INSN_CB);
	site_of(&s, fbuf, FN);
	assert_int_equal(arm64_jump_plan(&s, &p), 0);
	assert_int_equal(arm64_build_trampoline(&p, SLOT, HIT, &too_big, 1, t, sizeof(t), &len), -EINVAL);
	assert_int_equal(arm64_build_trampoline(&p, SLOT + 4, HIT, one, 1, t, sizeof(t), &len), -EINVAL);
	assert_int_equal(arm64_build_trampoline(&p, SLOT, HIT, one, 1, t, 64, &len), -ENOSPC);
	assert_int_equal(arm64_build_trampoline(&p, SLOT, SLOT + (200ull << 20), one, 1, t, sizeof(t),
						&len), -ERANGE);
	assert_int_equal(arm64_trampoline_size(&p, 0), 0);
	assert_int_equal(arm64_trampoline_size(&p, ARM64_JUMP_MAX_SITE_PROBES + 1), 0);
	assert_true(arm64_trampoline_size(&p, ARM64_JUMP_MAX_SITE_PROBES) <= ARM64_JUMP_SLOT_SIZE);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void test_text_tables(void **state)
{
	uint8_t mc[24], alt[24], jl[16], bl[16];
	struct arm64_text_raw raw = { 0 };
	struct arm64_text_tables t;
	const struct arm64_range *r;

	(void)state;
	put64(mc, FN + 0x100);
	put64(mc + 8, FN);
	put64(mc + 16, FN + 0x40);
	/* alt_instr at 0x...9000: orig = entry + offset, 8 bytes; the second has orig_len 0 */
	memset(alt, 0, sizeof(alt));
	put32(alt, (uint32_t)(int32_t)(FN + 0x60 - 0xffffffc008209000ull));
	alt[10] = 8;
	put32(alt + 12, 0x10);
	raw.alt_addr = 0xffffffc008209000ull;
	raw.alt = alt;
	raw.alt_len = sizeof(alt);
	memset(jl, 0, sizeof(jl));
	put32(jl, (uint32_t)(int32_t)(FN + 0x80 - 0xffffffc00820a000ull));
	raw.jump_addr = 0xffffffc00820a000ull;
	raw.jump = jl;
	raw.jump_len = sizeof(jl) + 5; /* a partial entry at the end is ignored */
	put64(bl, FN + 0x40);
	put64(bl + 8, FN);
	raw.mcount = mc;
	raw.mcount_len = sizeof(mc) + 3;
	raw.blacklist = bl;
	raw.blacklist_len = sizeof(bl);
	assert_int_equal(arm64_text_tables_parse(&raw, &t), 0);
	assert_int_equal(t.nr_mcount, 3);
	assert_int_equal(arm64_text_mcount_at(&t, FN), FN);
	assert_int_equal(arm64_text_mcount_at(&t, FN + 4), FN);
	assert_int_equal(arm64_text_mcount_at(&t, FN + 8), 0);
	assert_int_equal(arm64_text_mcount_at(&t, FN + 0x104), FN + 0x100);
	assert_int_equal(arm64_text_mcount_at(&t, FN - 4), 0);
	assert_int_equal(t.nr_busy, 2);
	r = arm64_text_busy(&t, FN + 0x64, 4);
	assert_non_null(r);
	assert_non_null(strstr(r->what, "alternative"));
	assert_null(arm64_text_busy(&t, FN + 0x68, 4));
	assert_null(arm64_text_busy(&t, FN + 0x5c, 4));
	r = arm64_text_busy(&t, FN + 0x80, 4);
	assert_non_null(r);
	assert_non_null(strstr(r->what, "jump label"));
	assert_true(arm64_text_blacklisted(&t, FN));
	assert_true(arm64_text_blacklisted(&t, FN + 0x40));
	assert_false(arm64_text_blacklisted(&t, FN + 4));
	arm64_text_tables_free(&t);
	/* nothing at all */
	memset(&raw, 0, sizeof(raw));
	assert_int_equal(arm64_text_tables_parse(&raw, &t), 0);
	assert_int_equal(arm64_text_mcount_at(&t, FN), 0);
	assert_null(arm64_text_busy(&t, FN, 4));
	assert_false(arm64_text_blacklisted(&t, FN));
	arm64_text_tables_free(&t);
}

/* Fetch programs compiled for arm64 and run over the arm64 frame by the shared interpreter. */
static void test_frame_eval(void **state)
{
	const struct ekp_arch *A = &ekp_arch_arm64;
	struct ekp_abi_regs_arm64 f;
	struct ekp_eval_env env = { .frame = &f };
	struct ekp_abi_probe prog;
	struct ekp_abi_record rec;
	struct ekp_probe *p = NULL;
	unsigned int col;

	(void)state;
	for (int i = 0; i < 31; i++)
		f.regs[i] = 0x1000 + (uint64_t)i;
	f.sp = 0xffffffc00a003f00ull;
	f.pc = FN;
	f.pstate = 0x600003c5;
	f.orig_x0 = 3;
	f.reserved = 0;
	assert_int_equal(A->jump->frame_offset(0), 0);
	assert_int_equal(A->jump->frame_offset(30), 240);
	assert_int_equal(A->jump->frame_offset(A->sp_reg), 248);
	assert_int_equal(A->jump->frame_offset(A->pc_reg), 256);
	assert_int_equal(A->jump->frame_offset(A->reg_lookup("pstate")), 264);
	assert_int_equal(A->jump->frame_offset(A->task_reg), -1);
	assert_int_equal(ekp_probe_parse("p:g/e start_kernel a=%x0 b=%x30 c=%sp d=%pc e=%pstate "
					 "f=$arg2 g=%x21",
					 A, &p, &col), 0);
	p->addr = FN;
	p->resolved = true;
	assert_int_equal(ekp_fetch_compile(p, A, &prog, NULL), 0);
	memset(&rec, 0, sizeof(rec));
	ekp_abi_eval(&env, &prog, &rec);
	assert_int_equal(rec.nr_values, 7);
	assert_int_equal(rec.fault_mask, 0);
	assert_int_equal(rec.values[0], 0x1000);
	assert_int_equal(rec.values[1], 0x1000 + 30);
	assert_int_equal(rec.values[2], f.sp);
	assert_int_equal(rec.values[3], FN);
	assert_int_equal(rec.values[4], 0x600003c5);
	assert_int_equal(rec.values[5], 0x1001);
	assert_int_equal(rec.values[6], 0x1000 + 21);
	ekp_probe_free(p);
	/* $retval is x0 in a return record's frame */
	p = NULL;
	assert_int_equal(ekp_probe_parse("r:g/r start_kernel v=$retval", A, &p, &col), 0);
	p->addr = FN;
	p->resolved = true;
	assert_int_equal(ekp_fetch_compile(p, A, &prog, NULL), 0);
	memset(&rec, 0, sizeof(rec));
	ekp_abi_eval(&env, &prog, &rec);
	assert_int_equal(rec.values[0], 0x1000);
	ekp_probe_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclusives),  cmocka_unit_test(test_decode),
		cmocka_unit_test(test_refused),     cmocka_unit_test(test_encode_b),
		cmocka_unit_test(test_relocate),    cmocka_unit_test(test_plan),
		cmocka_unit_test(test_trampoline),  cmocka_unit_test(test_text_tables),
		cmocka_unit_test(test_frame_eval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
