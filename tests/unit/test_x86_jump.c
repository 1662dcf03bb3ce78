// SPDX-License-Identifier: GPL-2.0
/*
 * The x86_64 jump engine's pure half: site planning (every refusal), relocation (rel8 -> rel32,
 * RIP-relative displacements, calls, ret/jmp ending the copy), trampolines built and EXECUTED
 * in this process (code pages mapped within rel32 reach of each other and of a C handler), and,
 * when EKPROBE_VMLINUX names the guest vmlinux, plans at start+5 of real 6.1 functions.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86_64/jump.h"
#include "arch/x86_64/x86_64.h"
#include "ekprobe/abi.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/symbols.h"

#define ADDR 0xffffffff81000000ull
#define SLOT 0xffffffff81800000ull

/* One probe index, as x86_64_build_trampoline()'s indices and count. */
#define IDX1(x) ((const uint32_t[]){ (x) }), 1

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* little-endian host */
}

static int32_t get32(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void site_init(struct x86_64_jump_site *s, const uint8_t *code, size_t size, uint64_t addr,
		      uint64_t off, uint64_t slot)
{
	memset(s, 0, sizeof(*s));
	s->func_addr = addr;
	s->func_name = "f";
	s->func = code;
	s->func_size = size;
	s->jump_addr = addr + off;
	s->slot_addr = slot;
}

static int plan_at(const uint8_t *code, size_t size, uint64_t off, struct x86_64_jump_plan *p)
{
	struct x86_64_jump_site s;

	site_init(&s, code, size, ADDR, off, SLOT);
	ekp_err_clear();
	return x86_64_jump_plan(&s, p);
}

/* The plan must fail with err and a reason containing each of the given strings. */
static void expect_refusal(const struct x86_64_jump_site *s, int err, const char *what, ...)
{
	struct x86_64_jump_plan p;
	const char *needle;
	va_list ap;
	int got;

	ekp_err_clear();
	got = x86_64_jump_plan(s, &p);
	if (got != err)
		fail_msg("%s: got %d (%s), expected %d", what, got, ekp_errmsg(), err);
	va_start(ap, what);
	while ((needle = va_arg(ap, const char *)))
		if (!strstr(ekp_errmsg(), needle))
			fail_msg("%s: reason \"%s\" lacks \"%s\"", what, ekp_errmsg(), needle);
	va_end(ap);
}

static void refuse_at(const uint8_t *code, size_t size, uint64_t off, int err, const char *what,
		      const char *needle)
{
	struct x86_64_jump_site s;

	site_init(&s, code, size, ADDR, off, SLOT);
	expect_refusal(&s, err, what, needle, (const char *)NULL);
}

/* ---- test functions (hand-assembled; checked against objdump) ---- */

/*
 * T1 (J = 9): the displaced instruction is a RIP-relative store of %rsp; flags set before J
 * are consumed after it; the result folds in rdi rsi rcx rdx r8 r9.
 */
static const uint8_t t1[] = {
	0x49, 0x89, 0xe3,			/* 0:  mov %rsp,%r11 */
	0x48, 0x89, 0xf8,			/* 3:  mov %rdi,%rax */
	0x48, 0x39, 0xf7,			/* 6:  cmp %rsi,%rdi		CF = rdi < rsi */
	0x48, 0x89, 0x25, 0, 0, 0, 0,		/* 9:  mov %rsp,cell(%rip)	<- J */
	0x48, 0x11, 0xf0,			/* 16: adc %rsi,%rax */
	0x48, 0x01, 0xc8,			/* 19: add %rcx,%rax */
	0x48, 0x31, 0xd0,			/* 22: xor %rdx,%rax */
	0x4c, 0x01, 0xc0,			/* 25: add %r8,%rax */
	0x4c, 0x29, 0xc8,			/* 28: sub %r9,%rax */
	0xc3,					/* 31: ret */
};
#define T1_J 9
#define T1_DISP 12

/* T2 (J = 6): jb rel8 in the displaced bytes. a < b ? a + 100 : a + 1 */
static const uint8_t t2[] = {
	0x48, 0x89, 0xf8,			/* 0:  mov %rdi,%rax */
	0x48, 0x39, 0xf7,			/* 3:  cmp %rsi,%rdi */
	0x72, 0x05,				/* 6:  jb 13			<- J */
	0x48, 0x83, 0xc0, 0x01,			/* 8:  add $1,%rax */
	0xc3,					/* 12: ret			<- jump back */
	0x48, 0x83, 0xc0, 0x64,			/* 13: add $100,%rax */
	0xc3,					/* 17: ret */
};
#define T2_J 6

/* T3 (J = 3): call rel32 in the displaced bytes; int3 padding after ret. a + 13 */
static const uint8_t t3[] = {
	0x48, 0x89, 0xf8,			/* 0:  mov %rdi,%rax */
	0xe8, 0x18, 0x00, 0x00, 0x00,		/* 3:  call 32			<- J */
	0x48, 0x83, 0xc0, 0x03,			/* 8:  add $3,%rax */
	0xc3,					/* 12: ret */
	0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
	0xcc, 0xcc, 0xcc, 0xcc, 0xcc,		/* 13: int3 padding */
	0x48, 0x83, 0xc0, 0x0a,			/* 32: add $10,%rax */
	0xc3,					/* 36: ret */
};
#define T3_J 3

/* T4 (J = 3): ret in the displaced bytes ends the copy. a + 7 */
static const uint8_t t4[] = {
	0x48, 0x89, 0xf8,			/* 0:  mov %rdi,%rax */
	0x48, 0x83, 0xc0, 0x07,			/* 3:  add $7,%rax		<- J */
	0xc3,					/* 7:  ret */
};
#define T4_J 3

/* T5 (J = 3): jmp rel8 ends the copy; RIP-relative load after it. a + 1 + cell */
static const uint8_t t5[] = {
	0x48, 0x89, 0xf8,			/* 0:  mov %rdi,%rax */
	0x48, 0xff, 0xc0,			/* 3:  inc %rax			<- J */
	0xeb, 0x01,				/* 6:  jmp 9 */
	0xcc,					/* 8:  int3 (padding) */
	0x48, 0x03, 0x05, 0, 0, 0, 0,		/* 9:  add cell(%rip),%rax */
	0xc3,					/* 16: ret */
};
#define T5_J 3
#define T5_DISP 12

/* T6 (J = 0): RIP-relative lea displaced at the function start. cell + a */
static const uint8_t t6[] = {
	0x48, 0x8d, 0x05, 0, 0, 0, 0,		/* 0:  lea cell(%rip),%rax	<- J */
	0x48, 0x8b, 0x00,			/* 7:  mov (%rax),%rax */
	0x48, 0x01, 0xf8,			/* 10: add %rdi,%rax */
	0xc3,					/* 13: ret */
};
#define T6_DISP 3

/* ---- helpers, pure tests ---- */

static void test_fentry_jmp5(void **state)
{
	static const uint8_t call[] = { 0xe8, 0x11, 0x22, 0x33, 0x44 };
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	static const uint8_t push[] = { 0x55, 0x48, 0x89, 0xe5, 0x90 };
	static const uint8_t nop4[] = { 0x0f, 0x1f, 0x40, 0x00, 0x90 };
	uint8_t out[5];

	(void)state;
	assert_true(x86_64_is_fentry_site(call, 5));
	assert_true(x86_64_is_fentry_site(nop5, 5));
	assert_false(x86_64_is_fentry_site(call, 4));
	assert_false(x86_64_is_fentry_site(push, 5));
	assert_false(x86_64_is_fentry_site(nop4, 5));
	assert_false(x86_64_is_fentry_site(NULL, 5));

	assert_int_equal(x86_64_encode_jmp5(0x1000, 0x1005, out), 0);
	assert_memory_equal(out, ((const uint8_t[]){ 0xe9, 0, 0, 0, 0 }), 5);
	assert_int_equal(x86_64_encode_jmp5(0x1000, 0x1000, out), 0);
	assert_int_equal(get32(out + 1), -5);
	assert_int_equal(x86_64_encode_jmp5(ADDR, ADDR + 5 + 0x7fffffffull, out), 0);
	assert_int_equal(get32(out + 1), INT32_MAX);
	assert_int_equal(x86_64_encode_jmp5(ADDR, ADDR + 5 - 0x80000000ull, out), 0);
	assert_int_equal(get32(out + 1), INT32_MIN);
	assert_int_equal(x86_64_encode_jmp5(ADDR, ADDR + 5 + 0x80000000ull, out), -ERANGE);
	assert_int_equal(x86_64_encode_jmp5(ADDR, ADDR + 4 - 0x80000000ull, out), -ERANGE);
	assert_non_null(strstr(ekp_errmsg(), "rel32"));
	/* Across the top of the address space. */
	assert_int_equal(x86_64_encode_jmp5(0xfffffffffffffff0ull, 0x10, out), 0);
	assert_int_equal(get32(out + 1), 0x1b);
}

/* The trampoline for n indices decodes linearly with a boundary at the copy and at its end. */
static void check_decodes_n(const uint8_t *t, size_t len, uint64_t slot, size_t n)
{
	assert_int_equal(x86_64_insn_boundaries(t, len, slot, slot + X86_64_JUMP_COPY_OFFSET(n)),
			 0);
	assert_int_equal(x86_64_insn_boundaries(t, len, slot, slot + len), 0);
}

static void check_decodes(const uint8_t *t, size_t len, uint64_t slot)
{
	check_decodes_n(t, len, slot, 1);
}

static void test_plan_t1(void **state)
{
	uint8_t code[sizeof(t1)], tr[X86_64_JUMP_SLOT_SIZE];
	uint64_t cell = ADDR + 0x1000, hit = ADDR + 0x2000, c;
	struct x86_64_jump_plan p;
	size_t len;

	(void)state;
	memcpy(code, t1, sizeof(code));
	put32(code + T1_DISP, (uint32_t)(cell - (ADDR + T1_J + 7)));
	assert_int_equal(plan_at(code, sizeof(code), T1_J, &p), 0);
	assert_int_equal(p.jump_addr, ADDR + T1_J);
	assert_int_equal(p.probe_addr, ADDR + T1_J);
	assert_int_equal(p.displaced_len, 7);
	assert_int_equal(p.nr_insns, 1);
	assert_true(p.falls_through);
	assert_int_equal(p.insns[0].kind, X86_64_JUMP_INSN_RIPREL);
	assert_int_equal(p.insns[0].disp_off, 3);
	assert_int_equal(p.insns[0].target, cell);
	assert_string_equal(p.insns[0].text, "movq %rsp, 0xff0(%rip)");
	assert_string_equal(p.where, "f+0x9");
	assert_memory_equal(p.orig, code + T1_J, 7);
	assert_int_equal(x86_64_trampoline_size(&p, 1), X86_64_JUMP_COPY_OFFSET(1) + 7 + 5);

	assert_int_equal(x86_64_build_trampoline(&p, SLOT, hit, IDX1(3), tr, sizeof(tr), &len), 0);
	assert_int_equal(len, x86_64_trampoline_size(&p, 1));
	check_decodes(tr, len, SLOT);
	/* The frame: ss, sp, flags, cs, ip (low, high), orig_ax (low, high). */
	assert_memory_equal(tr, ((const uint8_t[]){ 0x6a, 0x18, 0x54, 0x9c, 0x48, 0x83, 0x44, 0x24,
						   0x08, 0x08, 0x6a, 0x10, 0x68 }), 13);
	assert_int_equal((uint32_t)get32(tr + 13), (uint32_t)p.probe_addr);
	assert_int_equal((uint32_t)get32(tr + 21), (uint32_t)(p.probe_addr >> 32));
	assert_int_equal(get32(tr + 26), 3);
	assert_int_equal(get32(tr + 34), 0);
	/* mov $3,%esi; call hit */
	assert_int_equal(tr[71], 0xbe);
	assert_int_equal(get32(tr + 72), 3);
	assert_int_equal(tr[76], 0xe8);
	assert_int_equal(SLOT + 81 + (uint64_t)(int64_t)get32(tr + 77), hit);
	/* The copy: same opcode, disp re-aimed at the cell. */
	c = SLOT + X86_64_JUMP_COPY_OFFSET(1);
	assert_memory_equal(tr + X86_64_JUMP_COPY_OFFSET(1), code + T1_J, 3);
	assert_int_equal(c + 7 + (uint64_t)(int64_t)get32(tr + X86_64_JUMP_COPY_OFFSET(1) + 3),
			 cell);
	/* Jump back to J + 7. */
	assert_int_equal(tr[len - 5], 0xe9);
	assert_int_equal(SLOT + len + (uint64_t)(int64_t)get32(tr + len - 4), ADDR + T1_J + 7);

	/* Another slot: re-relocated. */
	assert_int_equal(x86_64_build_trampoline(&p, SLOT + 0x10000, hit, IDX1(3), tr, sizeof(tr),
						 &len), 0);
	assert_int_equal(SLOT + 0x10000 + X86_64_JUMP_COPY_OFFSET(1) + 7 +
			 (uint64_t)(int64_t)get32(tr + X86_64_JUMP_COPY_OFFSET(1) + 3), cell);
	/* Too small a buffer, hit_entry out of reach. */
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, hit, IDX1(3), tr, len - 1, &len),
			 -ENOSPC);
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, SLOT + 0x90000000ull, IDX1(3), tr,
						 sizeof(tr), &len), -ERANGE);
	assert_non_null(strstr(ekp_errmsg(), "hit_entry"));
	/* A slot from which the cell is out of disp32 reach. */
	assert_int_equal(x86_64_build_trampoline(&p, cell + 0x80000000ull, hit, IDX1(3), tr,
						 sizeof(tr), &len), -ERANGE);
}

/*
 * Several probes at one site: the trampoline for n indices is the one for the first index
 * with, after its call, `mov %rbx,%rdi; mov $idx,%esi; call hit` per further index; the
 * restore and the copy move by X86_64_JUMP_CALL_LEN per further index.
 */
static void test_tramp_multi(void **state)
{
	uint8_t code[sizeof(t1)], tr1[X86_64_JUMP_SLOT_SIZE], tr[X86_64_JUMP_SLOT_SIZE];
	uint64_t cell = ADDR + 0x1000, hit = ADDR + 0x2000;
	uint32_t idx[X86_64_JUMP_MAX_SITE_PROBES + 1];
	static const size_t ns[] = { 2, 3, X86_64_JUMP_MAX_SITE_PROBES };
	struct x86_64_jump_plan p;
	size_t len1, len;

	(void)state;
	for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++)
		idx[k] = (uint32_t)(5 + 3 * k);
	memcpy(code, t1, sizeof(code));
	put32(code + T1_DISP, (uint32_t)(cell - (ADDR + T1_J + 7)));
	assert_int_equal(plan_at(code, sizeof(code), T1_J, &p), 0);
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, hit, idx, 1, tr1, sizeof(tr1), &len1),
			 0);
	assert_int_equal(X86_64_JUMP_COPY_OFFSET(1), 117);
	assert_int_equal(X86_64_JUMP_SLOT_BYTES(1), 176);

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		const size_t n = ns[i], co = X86_64_JUMP_COPY_OFFSET(n);

		memset(tr, 0, sizeof(tr));
		assert_int_equal(x86_64_build_trampoline(&p, SLOT, hit, idx, n, tr, sizeof(tr),
							 &len), 0);
		assert_int_equal(len, x86_64_trampoline_size(&p, n));
		assert_int_equal(len, len1 + X86_64_JUMP_CALL_LEN * (n - 1));
		assert_int_equal(co, 117 + 13 * (n - 1));
		assert_true(len <= X86_64_JUMP_SLOT_BYTES(n));
		assert_true(X86_64_JUMP_SLOT_BYTES(n) <= X86_64_JUMP_SLOT_SIZE);
		check_decodes_n(tr, len, SLOT, n);
		/* Frame (orig_ax = the first index), save, the first call: as for one index. */
		assert_memory_equal(tr, tr1, 81);
		assert_int_equal(get32(tr + 26), (int32_t)idx[0]);
		/* One further call per index, each with the frame from %rbx. */
		for (size_t k = 1; k < n; k++) {
			const uint8_t *c = tr + 81 + X86_64_JUMP_CALL_LEN * (k - 1);
			uint64_t end = SLOT + 81 + X86_64_JUMP_CALL_LEN * k;

			assert_memory_equal(c, ((const uint8_t[]){ 0x48, 0x89, 0xdf, 0xbe }), 4);
			assert_int_equal((uint32_t)get32(c + 4), idx[k]);
			assert_int_equal(c[8], 0xe8);
			assert_int_equal(end + (uint64_t)(int64_t)get32(c + 9), hit);
		}
		/* The restore, then the copy re-aimed at the cell from its new place, jump back. */
		assert_memory_equal(tr + co - 36, tr1 + 117 - 36, 36);
		assert_memory_equal(tr + co, code + T1_J, 3);
		assert_int_equal(SLOT + co + 7 + (uint64_t)(int64_t)get32(tr + co + 3), cell);
		assert_int_equal(tr[len - 5], 0xe9);
		assert_int_equal(SLOT + len + (uint64_t)(int64_t)get32(tr + len - 4),
				 ADDR + T1_J + 7);
		/* Too small a buffer; hit_entry out of reach (of a further call too). */
		assert_int_equal(x86_64_build_trampoline(&p, SLOT, hit, idx, n, tr, len - 1, &len),
				 -ENOSPC);
		assert_int_equal(x86_64_build_trampoline(&p, SLOT, SLOT + 0x90000000ull, idx, n, tr,
							 sizeof(tr), &len), -ERANGE);
		assert_non_null(strstr(ekp_errmsg(), "hit_entry"));
	}

	/* No index, too many, none given. */
	assert_int_equal(x86_64_trampoline_size(&p, 0), 0);
	assert_int_equal(x86_64_trampoline_size(&p, X86_64_JUMP_MAX_SITE_PROBES + 1), 0);
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, hit, idx, 0, tr, sizeof(tr), &len),
			 -EINVAL);
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, hit, idx,
						 X86_64_JUMP_MAX_SITE_PROBES + 1, tr, sizeof(tr),
						 &len), -EINVAL);
	assert_non_null(strstr(ekp_errmsg(), "17 probe indices (1 to 16)"));
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, hit, NULL, 1, tr, sizeof(tr), &len),
			 -EINVAL);
}

static void test_reloc_jcc_call_ret_jmp(void **state)
{
	uint8_t tr[X86_64_JUMP_SLOT_SIZE];
	struct x86_64_jump_plan p;
	const uint8_t *c = tr + X86_64_JUMP_COPY_OFFSET(1);
	uint64_t ca = SLOT + X86_64_JUMP_COPY_OFFSET(1);
	size_t len;

	(void)state;
	/* jb rel8 -> 0f 82 rel32 to the same target; add copied; jump back to the ret. */
	assert_int_equal(plan_at(t2, sizeof(t2), T2_J, &p), 0);
	assert_int_equal(p.nr_insns, 2);
	assert_int_equal(p.displaced_len, 6);
	assert_int_equal(p.insns[0].kind, X86_64_JUMP_INSN_JCC);
	assert_int_equal(p.insns[0].cc, 2);
	assert_int_equal(p.insns[0].target, ADDR + 13);
	assert_int_equal(p.insns[1].kind, X86_64_JUMP_INSN_PLAIN);
	assert_int_equal(p.copy_len, 6 + 4);
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, SLOT + 0x1000, IDX1(0), tr, sizeof(tr),
						 &len), 0);
	check_decodes(tr, len, SLOT);
	assert_int_equal(c[0], 0x0f);
	assert_int_equal(c[1], 0x82);
	assert_int_equal(ca + 6 + (uint64_t)(int64_t)get32(c + 2), ADDR + 13);
	assert_memory_equal(c + 6, t2 + 8, 4);
	assert_int_equal(c[10], 0xe9);
	assert_int_equal(ca + 15 + (uint64_t)(int64_t)get32(c + 11), ADDR + 12);
	assert_int_equal(len, X86_64_JUMP_COPY_OFFSET(1) + 15);

	/* call rel32 keeps its target. */
	assert_int_equal(plan_at(t3, sizeof(t3), T3_J, &p), 0);
	assert_int_equal(p.nr_insns, 1);
	assert_int_equal(p.insns[0].kind, X86_64_JUMP_INSN_CALL);
	assert_int_equal(p.insns[0].target, ADDR + 32);
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, SLOT + 0x1000, IDX1(0), tr, sizeof(tr),
						 &len), 0);
	assert_int_equal(c[0], 0xe8);
	assert_int_equal(ca + 5 + (uint64_t)(int64_t)get32(c + 1), ADDR + 32);
	assert_int_equal(c[5], 0xe9);
	assert_int_equal(ca + 10 + (uint64_t)(int64_t)get32(c + 6), ADDR + 8);

	/* ret ends the copy: no jump back. */
	assert_int_equal(plan_at(t4, sizeof(t4), T4_J, &p), 0);
	assert_int_equal(p.nr_insns, 2);
	assert_int_equal(p.insns[1].kind, X86_64_JUMP_INSN_RET);
	assert_false(p.falls_through);
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, SLOT + 0x1000, IDX1(0), tr, sizeof(tr),
						 &len), 0);
	assert_int_equal(len, X86_64_JUMP_COPY_OFFSET(1) + 5);
	assert_memory_equal(c, t4 + 3, 5);

	/* jmp rel8 -> e9 rel32, ends the copy. */
	assert_int_equal(plan_at(t5, sizeof(t5), T5_J, &p), 0);
	assert_int_equal(p.nr_insns, 2);
	assert_int_equal(p.insns[1].kind, X86_64_JUMP_INSN_JMP);
	assert_false(p.falls_through);
	assert_int_equal(x86_64_build_trampoline(&p, SLOT, SLOT + 0x1000, IDX1(0), tr, sizeof(tr),
						 &len), 0);
	assert_int_equal(len, X86_64_JUMP_COPY_OFFSET(1) + 3 + 5);
	assert_memory_equal(c, t5 + 3, 3);
	assert_int_equal(c[3], 0xe9);
	assert_int_equal(ca + 8 + (uint64_t)(int64_t)get32(c + 4), ADDR + 9);
}

/* ret, then int3 padding inside the 5 bytes: dead, not copied. */
static void test_dead_after_ret(void **state)
{
	static const uint8_t code[] = { 0x48, 0x89, 0xf8, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc };
	struct x86_64_jump_plan p;

	(void)state;
	assert_int_equal(plan_at(code, sizeof(code), 3, &p), 0);
	assert_int_equal(p.nr_insns, 5);
	assert_int_equal(p.insns[0].kind, X86_64_JUMP_INSN_RET);
	for (int i = 1; i < 5; i++)
		assert_int_equal(p.insns[i].kind, X86_64_JUMP_INSN_DEAD);
	assert_int_equal(p.copy_len, 1);
	assert_false(p.falls_through);
}

/* RIP-relative forms: immediates after the disp, prefixes, VEX, indirect call. */
static void test_riprel_forms(void **state)
{
	static const struct {
		const char *what;
		uint8_t b[16];
		uint8_t n, disp_off;
	} forms[] = {
		{ "cmpb $0,d(%rip)", { 0x80, 0x3d, 0, 0, 0, 0, 0x00 }, 7, 2 },
		{ "movl $2,d(%rip)", { 0xc7, 0x05, 0, 0, 0, 0, 2, 0, 0, 0 }, 10, 2 },
		{ "mov %gs:d(%rip),%r13d", { 0x65, 0x44, 0x8b, 0x2d, 0, 0, 0, 0 }, 8, 4 },
		{ "vmovdqa d(%rip),%ymm0", { 0xc5, 0xfd, 0x6f, 0x05, 0, 0, 0, 0 }, 8, 4 },
		{ "pshufb d(%rip),%xmm0", { 0x66, 0x0f, 0x38, 0x00, 0x05, 0, 0, 0, 0 }, 9, 5 },
		{ "call *d(%rip)", { 0xff, 0x15, 0, 0, 0, 0 }, 6, 2 },
		{ "lock incl d(%rip)", { 0xf0, 0xff, 0x05, 0, 0, 0, 0 }, 7, 3 },
		{ "imul $0x11,d(%rip),%eax", { 0x6b, 0x05, 0, 0, 0, 0, 0x11 }, 7, 2 },
	};
	uint8_t tr[X86_64_JUMP_SLOT_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		uint8_t code[32];
		uint64_t target = ADDR - 0x12340 - i;
		struct x86_64_jump_plan p;
		const uint8_t *c = tr + X86_64_JUMP_COPY_OFFSET(1);
		size_t len;

		memset(code, 0x90, sizeof(code));
		memcpy(code, forms[i].b, forms[i].n);
		put32(code + forms[i].disp_off, (uint32_t)(target - (ADDR + forms[i].n)));
		if (plan_at(code, sizeof(code), 0, &p))
			fail_msg("%s: %s", forms[i].what, ekp_errmsg());
		assert_int_equal(p.insns[0].kind, X86_64_JUMP_INSN_RIPREL);
		assert_int_equal(p.insns[0].disp_off, forms[i].disp_off);
		assert_int_equal(p.insns[0].target, target);
		assert_int_equal(x86_64_build_trampoline(&p, SLOT, SLOT + 0x1000, IDX1(0), tr,
							 sizeof(tr), &len), 0);
		/* Same bytes but the disp, which reaches the same target from the copy. */
		assert_memory_equal(c, code, forms[i].disp_off);
		assert_memory_equal(c + forms[i].disp_off + 4, code + forms[i].disp_off + 4,
				    forms[i].n - forms[i].disp_off - 4u);
		assert_int_equal(SLOT + X86_64_JUMP_COPY_OFFSET(1) + forms[i].n +
				 (uint64_t)(int64_t)get32(c + forms[i].disp_off), target);
		check_decodes(tr, len, SLOT);
	}
}

/* ---- refusals ---- */

static void test_refuse_bounds(void **state)
{
	static const uint8_t bad[] = { 0x48, 0x89, 0xf8, 0x90, 0x90, 0x90, 0x90, 0x90, 0x06, 0xc3 };
	struct x86_64_jump_site s;
	struct x86_64_jump_plan p;

	(void)state;
	refuse_at(t4, sizeof(t4), 7, -ENOSPC, "1 byte left", "only 1 bytes left in the function");
	refuse_at(t4, sizeof(t4), 4, -EILSEQ, "inside an instruction", "it is inside addq $7");
	refuse_at(t1, sizeof(t1), 10, -EILSEQ, "inside an instruction", "jump site at f+0xa");
	refuse_at(t4, sizeof(t4), 8, -EINVAL, "past the end", "not inside the function");
	/* Undecodable after the displaced bytes: branches cannot be checked. */
	refuse_at(bad, sizeof(bad), 3, -EILSEQ, "undecodable", "does not decode at f+0x8");
	refuse_at(bad, sizeof(bad), 0, -EILSEQ, "undecodable", "does not decode at f+0x8");

	site_init(&s, t4, sizeof(t4), ADDR, 7, SLOT);
	s.func_name = NULL;
	expect_refusal(&s, -ENOSPC, "no name", "jump site at 0xffffffff81000007: ",
		       (const char *)NULL);
	s.func_name = "f";
	s.func = NULL;
	assert_int_equal(x86_64_jump_plan(&s, &p), -EINVAL);
	assert_int_equal(x86_64_jump_plan(NULL, &p), -EINVAL);
	s.func = t4;
	s.nr_busy = 1;
	assert_int_equal(x86_64_jump_plan(&s, &p), -EINVAL);
}

static void test_refuse_insns(void **state)
{
	static const struct {
		const char *what;
		uint8_t b[12];
		uint8_t n;
		int err;
		const char *needle;
	} cases[] = {
		{ "int3", { 0xcc }, 1, -EBUSY, "int3" },
		{ "ud2", { 0x0f, 0x0b }, 2, -EOPNOTSUPP, "bug-table" },
		{ "ud1", { 0x0f, 0xb9, 0xcc }, 3, -EOPNOTSUPP, "bug-table" },
		{ "loop", { 0xe2, 0xfe }, 2, -EOPNOTSUPP, "no rel32 form" },
		{ "jrcxz", { 0xe3, 0x10 }, 2, -EOPNOTSUPP, "no rel32 form" },
		{ "lcall *(%rax)", { 0xff, 0x18 }, 2, -EOPNOTSUPP, "far" },
		{ "syscall", { 0x0f, 0x05 }, 2, -EOPNOTSUPP, "system" },
		{ "swapgs", { 0x0f, 0x01, 0xf8 }, 3, -EOPNOTSUPP, "system" },
		{ "sysretq", { 0x48, 0x0f, 0x07 }, 3, -EOPNOTSUPP, "system" },
		{ "iretq", { 0x48, 0xcf }, 2, -EOPNOTSUPP, "system" },
		{ "int $0x80", { 0xcd, 0x80 }, 2, -EOPNOTSUPP, "system" },
		{ "lretq", { 0x48, 0xcb }, 2, -EOPNOTSUPP, "system" },
		{ "xbegin", { 0xc7, 0xf8, 0x10, 0, 0, 0 }, 6, -EOPNOTSUPP, "xbegin" },
		{ "wrpkru (unknown to Capstone 4)", { 0x0f, 0x01, 0xef }, 3, -EOPNOTSUPP,
		  "Capstone 4" },
		{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, -EOPNOTSUPP, "ENDBR" },
		{ "sti last", { 0x90, 0x90, 0x90, 0x90, 0xfb }, 5, -EOPNOTSUPP, "shadow" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t code[32];
		struct x86_64_jump_site s;

		/* mov %rdi,%rax; <insn> at J = 3; nops; ret */
		memset(code, 0x90, sizeof(code));
		memcpy(code, t4, 3);
		memcpy(code + 3, cases[i].b, cases[i].n);
		code[sizeof(code) - 1] = 0xc3;
		site_init(&s, code, sizeof(code), ADDR, 3, SLOT);
		expect_refusal(&s, cases[i].err, cases[i].what, "jump site at f+0x3: ",
			       cases[i].needle, (const char *)NULL);
	}
}

static void test_refuse_function(void **state)
{
	/* J = 3; displaced: 5 nops [3, 8); then code at 8.. */
	uint8_t code[32];
	struct x86_64_jump_site s;
	struct x86_64_jump_plan p;

	(void)state;
#define RESET() do {						\
		memset(code, 0x90, sizeof(code));		\
		memcpy(code, t4, 3);				\
		code[sizeof(code) - 1] = 0xc3;			\
		site_init(&s, code, sizeof(code), ADDR, 3, SLOT);	\
	} while (0)

	/* Branches into (J, J + 5): jne rel8, jmp rel32, call, loop from elsewhere. */
	RESET();
	code[16] = 0x75, code[17] = (uint8_t)(4 - 18);		/* jne f+0x4 */
	expect_refusal(&s, -EBUSY, "jne into", "the function has a branch into the displaced "
		       "bytes (jne 0xffffffff81000004 at f+0x10, to f+0x4)", (const char *)NULL);
	RESET();
	code[16] = 0xe9, put32(code + 17, (uint32_t)(7 - 21));	/* jmp f+0x7 */
	expect_refusal(&s, -EBUSY, "jmp into", "to f+0x7", (const char *)NULL);
	RESET();
	code[16] = 0xe8, put32(code + 17, (uint32_t)(5 - 21));	/* call f+0x5 */
	expect_refusal(&s, -EBUSY, "call into", "to f+0x5", (const char *)NULL);
	RESET();
	code[16] = 0xe1, code[17] = (uint8_t)(6 - 18);		/* loope f+0x6 */
	expect_refusal(&s, -EBUSY, "loope into", "to f+0x6", (const char *)NULL);
	/* ... but J itself and J + len are fine targets. */
	RESET();
	code[16] = 0x75, code[17] = (uint8_t)(3 - 18);
	code[18] = 0x0f, code[19] = 0x84, put32(code + 20, (uint32_t)(8 - 24));
	assert_int_equal(x86_64_jump_plan(&s, &p), 0);
	/* A branch in the displaced bytes themselves into them. */
	RESET();
	code[3] = 0x74, code[4] = 0x01;				/* je f+0x6 */
	expect_refusal(&s, -EBUSY, "self", "(je 0xffffffff81000006 at f+0x3, to f+0x6)",
		       (const char *)NULL);

	/* Indirect jumps anywhere. */
	RESET();
	code[16] = 0xff, code[17] = 0xe0;			/* jmp *%rax */
	expect_refusal(&s, -EOPNOTSUPP, "jmp *%rax",
		       "jump site at f+0x3: the function has an indirect jump (jmpq *%rax at "
		       "f+0x10)", (const char *)NULL);
	RESET();
	memcpy(code + 16, ((const uint8_t[]){ 0xff, 0x24, 0xc5, 0, 0x10, 0, 0x81 }), 7);
	expect_refusal(&s, -EOPNOTSUPP, "jump table", "indirect jump (jmpq *-0x7efff000(, %rax, 8)",
		       (const char *)NULL);
	RESET();
	memcpy(code + 16, ((const uint8_t[]){ 0x3e, 0x41, 0xff, 0xe3 }), 4);	/* notrack */
	expect_refusal(&s, -EOPNOTSUPP, "notrack jmp *%r11", "indirect jump", (const char *)NULL);
	RESET();
	memcpy(code + 16, ((const uint8_t[]){ 0xff, 0x2d, 0, 0, 0, 0 }), 6);	/* ljmp *(%rip) */
	expect_refusal(&s, -EOPNOTSUPP, "far jmp", "indirect jump", (const char *)NULL);
	/* A jmp to a retpoline thunk, when the caller names them. */
	RESET();
	code[16] = 0xe9, put32(code + 17, 0x1000);
	assert_int_equal(x86_64_jump_plan(&s, &p), 0);
	s.thunk_start = ADDR + 21 + 0x1000;
	s.thunk_end = s.thunk_start + 0x100;
	expect_refusal(&s, -EOPNOTSUPP, "thunk", "retpoline thunk", (const char *)NULL);
	/* An operand-size-prefixed branch: Intel and AMD disagree on its length. */
	RESET();
	code[16] = 0x66, code[17] = 0xe9, code[18] = 0x00, code[19] = 0x00;
	expect_refusal(&s, -EOPNOTSUPP, "66 jmp", "ambiguous", (const char *)NULL);

	/* int3 that is not padding; int3 padding after ret/jmp is fine. */
	RESET();
	code[16] = 0xcc;
	expect_refusal(&s, -EBUSY, "int3", "int3 at f+0x10 that is not padding",
		       (const char *)NULL);
	RESET();
	code[15] = 0xc3, code[16] = 0xcc, code[17] = 0xcc;
	assert_int_equal(x86_64_jump_plan(&s, &p), 0);
	RESET();
	code[14] = 0xeb, code[15] = 0x01, code[16] = 0xcc;
	assert_int_equal(x86_64_jump_plan(&s, &p), 0);

	/* sti right before J: its shadow would cover the jmp. */
	RESET();
	code[2] = 0xfb;
	code[0] = 0x90, code[1] = 0x90;
	expect_refusal(&s, -EOPNOTSUPP, "sti before", "right after sti", (const char *)NULL);
	RESET();
	code[1] = 0x8e, code[2] = 0xd0;				/* mov %eax,%ss */
	code[0] = 0x90;
	expect_refusal(&s, -EOPNOTSUPP, "mov ss before", "mov to %ss", (const char *)NULL);
#undef RESET
}

static void test_refuse_tables(void **state)
{
	uint8_t code[32], cold[8];
	struct x86_64_jump_site s;
	struct x86_64_jump_plan p;
	struct x86_64_jump_busy busy[2] = { { ADDR, 3, "an ftrace site" },
					    { ADDR + 8, 4, "an alternative" } };
	struct x86_64_jump_code more = { ADDR + 0x5000, cold, sizeof(cold), "f.cold" };
	uint64_t entries[2] = { ADDR + 3, ADDR + 8 };

	(void)state;
	memset(code, 0x90, sizeof(code));
	memcpy(code, t4, 3);
	code[sizeof(code) - 1] = 0xc3;
	site_init(&s, code, sizeof(code), ADDR, 3, SLOT);
	/* Adjacent busy ranges and entries at J and J + len are fine. */
	s.busy = busy, s.nr_busy = 2;
	s.entries = entries, s.nr_entries = 2;
	assert_int_equal(x86_64_jump_plan(&s, &p), 0);
	busy[1].addr = ADDR + 7;
	expect_refusal(&s, -EBUSY, "busy", "the 5 displaced bytes overlap an alternative at f+0x7",
		       (const char *)NULL);
	busy[1].addr = ADDR + 8;
	entries[1] = ADDR + 4;
	expect_refusal(&s, -EBUSY, "entry", "control can enter the function at f+0x4",
		       (const char *)NULL);
	entries[1] = ADDR + 8;

	/* More code (a .cold part) branching back into the displaced bytes. */
	memset(cold, 0x90, sizeof(cold));
	cold[0] = 0xe9, put32(cold + 1, (uint32_t)(ADDR + 5 - (ADDR + 0x5005)));
	s.more_code = &more, s.nr_more_code = 1;
	expect_refusal(&s, -EBUSY, "cold", "f.cold has a branch into the displaced bytes (jmp "
		       "0xffffffff81000005 at f.cold+0x0, to f+0x5)", (const char *)NULL);
	put32(cold + 1, (uint32_t)(ADDR + 8 - (ADDR + 0x5005)));
	assert_int_equal(x86_64_jump_plan(&s, &p), 0);
}

static void test_refuse_reach(void **state)
{
	uint8_t code[32], tr[X86_64_JUMP_SLOT_SIZE];
	const uint64_t base = 0x100000000ull, j = base + 3;
	struct x86_64_jump_site s;
	struct x86_64_jump_plan p;
	size_t len;

	(void)state;
	/* The slot beyond rel32 of J. */
	site_init(&s, t4, sizeof(t4), base, 3, base + 0x90000000ull);
	expect_refusal(&s, -ERANGE, "slot far", "beyond rel32 reach", (const char *)NULL);

	/* A RIP-relative operand 1.5 GiB below J, the slot 1.5 GiB above: 3 GiB apart. */
	memset(code, 0x90, sizeof(code));
	memcpy(code, t4, 3);
	memcpy(code + 3, ((const uint8_t[]){ 0x48, 0x8b, 0x05 }), 3);	/* mov d(%rip),%rax */
	put32(code + 6, (uint32_t)-0x60000000);
	code[sizeof(code) - 1] = 0xc3;
	site_init(&s, code, sizeof(code), base, 3, j + 0x60000000ull);
	expect_refusal(&s, -ERANGE, "riprel far", "beyond disp32 reach", (const char *)NULL);
	s.slot_addr = j + 0x10000000ull;
	assert_int_equal(x86_64_jump_plan(&s, &p), 0);
	/* Built for a slot that is too far after all. */
	assert_int_equal(x86_64_build_trampoline(&p, j + 0x60000000ull, j + 0x60001000ull,
						 IDX1(0), tr, sizeof(tr), &len), -ERANGE);

	/* A branch target 1.5 GiB below. */
	memcpy(code + 3, ((const uint8_t[]){ 0x0f, 0x85 }), 2);		/* jne rel32 */
	put32(code + 5, (uint32_t)-0x60000000);
	code[9] = 0x90;
	s.slot_addr = j + 0x60000000ull;
	expect_refusal(&s, -ERANGE, "jcc far", "beyond rel32 reach of the trampoline copy",
		       (const char *)NULL);
}

/* ---- execution in this process ---- */

/* hit_entry: a stub in the slot page records %rsp at entry, then jumps here. */
#define MAX_CALLS (X86_64_JUMP_MAX_SITE_PROBES + 4)

static struct {
	int hits;
	struct ekp_abi_regs f; /* the frame at the last call */
	const struct ekp_abi_regs *frame;
	unsigned long index;
	uint64_t di_delta;
	uint64_t at_sp; /* the word at the frame's sp, read during the hit */
	const uint64_t *rspcell; /* where the stub stores %rsp at the call */
	/* Per call, in order: the index, the frame pointer, %rsp at the call, the frame's di. */
	unsigned long indices[MAX_CALLS];
	const struct ekp_abi_regs *frames[MAX_CALLS];
	uint64_t rsp[MAX_CALLS];
	uint64_t di_seen[MAX_CALLS];
} rec;

static void __attribute__((noinline, no_sanitize_address)) hit_c(struct ekp_abi_regs *f,
								unsigned long index)
{
	if (rec.hits < MAX_CALLS) {
		rec.indices[rec.hits] = index;
		rec.frames[rec.hits] = f;
		rec.rsp[rec.hits] = rec.rspcell ? *rec.rspcell : 0;
		rec.di_seen[rec.hits] = f->di;
	}
	rec.hits++;
	memcpy(&rec.f, f, sizeof(rec.f));
	rec.frame = f;
	rec.index = index;
	memcpy(&rec.at_sp, (const void *)(uintptr_t)f->sp, 8);
	f->di += rec.di_delta; /* restored from the frame */
	/* Clobber what the C ABI lets a callee clobber: the trampoline must not rely on it
	 * (%rdi and %esi in particular, reloaded before a further call). */
	__asm__ volatile("mov $0xdead0001, %%eax\n\tmov $0xdead0002, %%ecx\n\t"
			 "mov $0xdead0003, %%edx\n\tmov $0xdead0004, %%esi\n\t"
			 "mov $0xdead0005, %%edi\n\tmov $0xdead0006, %%r8d\n\t"
			 "mov $0xdead0007, %%r9d\n\tmov $0xdead0008, %%r10d\n\t"
			 "mov $0xdead0009, %%r11d\n\tcmp %%eax, %%ecx"
			 ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "cc");
}

/*
 * harness(struct hctx *): loads every general register from in[] (hardware numbering, in[4]
 * = rsp unused), calls fn, stores every register into out[] (out[4] = flags), returns.
 */
static const uint8_t harness[] = {
	0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57,	/* push rbx rbp r12-r15 */
	0x48, 0x83, 0xec, 0x08,			/* sub $8,%rsp */
	0x57,					/* push %rdi */
	0xff, 0xb7, 0x80, 0x00, 0x00, 0x00,	/* push 0x80(%rdi)	(fn) */
	0x48, 0x8b, 0x07, 0x48, 0x8b, 0x4f, 0x08, 0x48, 0x8b, 0x57, 0x10, 0x48, 0x8b, 0x5f, 0x18,
	0x48, 0x8b, 0x6f, 0x28, 0x48, 0x8b, 0x77, 0x30, 0x4c, 0x8b, 0x47, 0x40, 0x4c, 0x8b, 0x4f,
	0x48, 0x4c, 0x8b, 0x57, 0x50, 0x4c, 0x8b, 0x5f, 0x58, 0x4c, 0x8b, 0x67, 0x60, 0x4c, 0x8b,
	0x6f, 0x68, 0x4c, 0x8b, 0x77, 0x70, 0x4c, 0x8b, 0x7f, 0x78, 0x48, 0x8b, 0x7f, 0x38,
						/* mov in[i](%rdi), reg; rdi last */
	0xff, 0x14, 0x24,			/* call *(%rsp) */
	0x50,					/* push %rax */
	0x48, 0x8b, 0x44, 0x24, 0x10,		/* mov 16(%rsp),%rax	(ctx) */
	0x48, 0x89, 0x88, 0x90, 0x00, 0x00, 0x00, 0x48, 0x89, 0x90, 0x98, 0x00, 0x00, 0x00,
	0x48, 0x89, 0x98, 0xa0, 0x00, 0x00, 0x00, 0x48, 0x89, 0xa8, 0xb0, 0x00, 0x00, 0x00,
	0x48, 0x89, 0xb0, 0xb8, 0x00, 0x00, 0x00, 0x48, 0x89, 0xb8, 0xc0, 0x00, 0x00, 0x00,
	0x4c, 0x89, 0x80, 0xc8, 0x00, 0x00, 0x00, 0x4c, 0x89, 0x88, 0xd0, 0x00, 0x00, 0x00,
	0x4c, 0x89, 0x90, 0xd8, 0x00, 0x00, 0x00, 0x4c, 0x89, 0x98, 0xe0, 0x00, 0x00, 0x00,
	0x4c, 0x89, 0xa0, 0xe8, 0x00, 0x00, 0x00, 0x4c, 0x89, 0xa8, 0xf0, 0x00, 0x00, 0x00,
	0x4c, 0x89, 0xb0, 0xf8, 0x00, 0x00, 0x00, 0x4c, 0x89, 0xb8, 0x00, 0x01, 0x00, 0x00,
						/* mov reg, out[i](%rax) */
	0x59, 0x48, 0x89, 0x88, 0x88, 0x00, 0x00, 0x00,	/* pop %rcx; mov %rcx,out[0] */
	0x9c, 0x59, 0x48, 0x89, 0x88, 0xa8, 0x00, 0x00, 0x00, /* pushf; pop %rcx; out[4] */
	0x48, 0x83, 0xc4, 0x18,			/* add $24,%rsp */
	0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, /* pop r15-r12 rbp rbx */
	0xc3,
};

enum { H_AX, H_CX, H_DX, H_BX, H_SP, H_BP, H_SI, H_DI, H_R8, H_R9, H_R10, H_R11, H_R12, H_R13,
       H_R14, H_R15 };

struct hctx {
	uint64_t in[16];
	uint64_t fn;
	uint64_t out[16];
};

_Static_assert(offsetof(struct hctx, fn) == 0x80 && offsetof(struct hctx, out) == 0x88, "hctx");

struct exec_env {
	uint8_t *code;	/* harness at 0, function at FN, cell at CELL */
	uint8_t *slot;	/* trampoline at 0, hit stub at STUB, %rsp cell at RSPCELL */
	size_t page;
};

#define FN 0x400
#define CELL 0x800
#define STUB 0x800
#define RSPCELL 0x900

/* An RWX page at a free address within `span` of near, by MAP_FIXED_NOREPLACE. */
static uint8_t *map_near(uintptr_t near, size_t size)
{
	const uintptr_t step = 1ull << 20;
	uintptr_t base = near & ~(step - 1);

	for (uintptr_t k = 1; k < 512; k++) {
		for (int sign = 0; sign < 2; sign++) {
			uintptr_t a = sign ? base - k * step : base + k * step;
			void *p = mmap((void *)a, size, PROT_READ | PROT_WRITE | PROT_EXEC,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

			if (p == MAP_FAILED)
				continue;
			if (p == (void *)a)
				return p;
			munmap(p, size);
		}
	}
	return NULL;
}

static int exec_setup(void **state)
{
	static struct exec_env env;

	/* Where RWX pages near the binary cannot be had (W^X policies), the tests skip. */
	env.page = (size_t)sysconf(_SC_PAGESIZE);
	env.code = map_near((uintptr_t)hit_c, env.page);
	/* The slot page some 64 MiB away from the code. */
	env.slot = env.code ? map_near((uintptr_t)env.code + (64u << 20), env.page) : NULL;
	if (!env.slot && env.code) {
		munmap(env.code, env.page);
		env.code = NULL;
	}
	*state = &env;
	return 0;
}

static int exec_teardown(void **state)
{
	struct exec_env *env = *state;

	if (env->code) {
		munmap(env->code, env->page);
		munmap(env->slot, env->page);
	}
	return 0;
}

static uint64_t va(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/*
 * Copy fn (size bytes) to the code page with its RIP-relative disp at disp_off (0: none)
 * aimed at the cell; plan J = fn + j, build the trampoline with the n probe indices idx,
 * write the jmp. Returns the plan.
 */
static void install(struct exec_env *env, const uint8_t *fn, size_t size, size_t disp_off,
		    size_t disp_end, size_t j, uint64_t probe_addr, const uint32_t *idx, size_t n,
		    struct x86_64_jump_plan *p)
{
	uint8_t *f = env->code + FN, *stub = env->slot + STUB;
	struct x86_64_jump_site s;
	size_t len;

	if (!env->code)
		skip();
	memset(env->code, 0xcc, env->page);
	memset(env->slot, 0xcc, env->page);
	memcpy(env->code, harness, sizeof(harness));
	memcpy(f, fn, size);
	if (disp_off)
		put32(f + disp_off, (uint32_t)(va(env->code + CELL) - va(f + disp_end)));
	/* stub: mov %rsp,rspcell(%rip); jmp hit_c */
	memcpy(stub, ((const uint8_t[]){ 0x48, 0x89, 0x25 }), 3);
	put32(stub + 3, (uint32_t)(va(env->slot + RSPCELL) - va(stub + 7)));
	stub[7] = 0xe9;
	put32(stub + 8, (uint32_t)(va(hit_c) - va(stub + 12)));
	assert_true(va(hit_c) - va(stub + 12) + 0x80000000ull <= 0xffffffffull);

	site_init(&s, f, size, va(f), j, va(env->slot));
	s.probe_addr = probe_addr;
	if (x86_64_jump_plan(&s, p))
		fail_msg("plan: %s", ekp_errmsg());
	if (x86_64_build_trampoline(p, va(env->slot), va(stub), idx, n, env->slot, STUB, &len))
		fail_msg("build: %s", ekp_errmsg());
	assert_int_equal(len, x86_64_trampoline_size(p, n));
	check_decodes_n(env->slot, len, va(env->slot), n);
	/* Only now the jmp at J. */
	assert_int_equal(x86_64_encode_jmp5(va(f + j), va(env->slot), f + j), 0);
	__builtin___clear_cache((char *)env->code, (char *)env->code + env->page);
	__builtin___clear_cache((char *)env->slot, (char *)env->slot + env->page);
	memset(&rec, 0, sizeof(rec));
	rec.rspcell = (const uint64_t *)(env->slot + RSPCELL);
}

static void hctx_init(struct hctx *h, const struct exec_env *env, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < 16; i++)
		h->in[i] = seed * 0x100000001ull + 0x1111111111ull * (uint64_t)(i + 1);
	h->in[H_SP] = 0;
	h->fn = va(env->code + FN);
}

static void run(struct exec_env *env, struct hctx *h)
{
	void (*fn)(struct hctx *);
	void *p = env->code;

	memcpy(&fn, &p, sizeof(fn));
	fn(h);
}

/* out[] == in[] but for the registers in `changed` (bit i: hardware register i). */
static void expect_preserved(const struct hctx *h, unsigned int changed)
{
	for (int i = 0; i < 16; i++) {
		if (i == H_SP || (changed & (1u << i)))
			continue;
		if (h->out[i] != h->in[i])
			fail_msg("register %d: 0x%" PRIx64 " after, 0x%" PRIx64 " before", i,
				 h->out[i], h->in[i]);
	}
}

/* The frame's registers: those not changed before J are the harness's inputs. */
static void expect_frame_regs(const struct hctx *h, unsigned int changed)
{
	const struct ekp_abi_regs *f = &rec.f;
	const uint64_t got[16] = { f->ax, f->cx, f->dx, f->bx, 0, f->bp, f->si, f->di, f->r8,
				   f->r9, f->r10, f->r11, f->r12, f->r13, f->r14, f->r15 };

	for (int i = 0; i < 16; i++) {
		if (i == H_SP || (changed & (1u << i)))
			continue;
		if (got[i] != h->in[i])
			fail_msg("frame register %d: 0x%" PRIx64 ", expected 0x%" PRIx64, i, got[i],
				 h->in[i]);
	}
	assert_int_equal(f->cs, X86_64_KERNEL_CS);
	assert_int_equal(f->ss, X86_64_KERNEL_DS);
	assert_int_equal(f->flags & 0x202, 0x202); /* reserved bit 1, IF */
	/* The frame is at sp - 168; the handler ran on a 16-byte aligned stack below it. */
	assert_ptr_equal(rec.frame, (const void *)(uintptr_t)(f->sp - sizeof(*f)));
}

static void expect_hit_stack(const struct exec_env *env)
{
	uint64_t rsp;

	memcpy(&rsp, env->slot + RSPCELL, 8);
	assert_int_equal(rsp & 15, 8); /* a call from a 16-byte aligned %rsp */
	assert_true(rsp < va(rec.frame));
	assert_true(va(rec.frame) - rsp <= 24);
}

static void test_exec_t1(void **state)
{
	struct exec_env *env = *state;
	struct x86_64_jump_plan p;
	struct hctx h;
	uint64_t cell;

	install(env, t1, sizeof(t1), T1_DISP, T1_J + 7, T1_J, va(env->code + FN), IDX1(7), &p);
	for (int round = 0; round < 2; round++) {
		uint64_t a, b, want;

		hctx_init(&h, env, (uint64_t)round + 1);
		if (round)  /* a > b: CF clear */
			h.in[H_DI] = 0x9000000000000000ull, h.in[H_SI] = 0x123;
		else	    /* a < b: CF set */
			h.in[H_DI] = 0x5, h.in[H_SI] = 0x9000000000000000ull;
		a = h.in[H_DI], b = h.in[H_SI];
		want = ((a + b + (a < b) + h.in[H_CX]) ^ h.in[H_DX]) + h.in[H_R8] - h.in[H_R9];
		run(env, &h);

		assert_int_equal(rec.hits, round + 1);
		assert_int_equal(h.out[H_AX], want);
		expect_preserved(&h, 1u << H_AX | 1u << H_R11);
		memcpy(&cell, env->code + CELL, 8);
		/* The displaced store ran at the probe site's %rsp, after the restore. */
		assert_int_equal(cell, rec.f.sp);
		assert_int_equal(h.out[H_R11], rec.f.sp);
		assert_int_equal(rec.f.r11, rec.f.sp);
		assert_int_equal(rec.f.ax, a);
		expect_frame_regs(&h, 1u << H_AX | 1u << H_R11);
		assert_int_equal(rec.f.ip, va(env->code + FN)); /* the probe address, not J */
		assert_int_equal(rec.f.orig_ax, 7);
		assert_int_equal(rec.index, 7);
		assert_int_equal(rec.f.flags & 1, a < b);
		expect_hit_stack(env);
	}
	/* The original bytes put back: no more hits, same result. */
	memcpy(env->code + FN + T1_J, p.orig, p.displaced_len);
	hctx_init(&h, env, 9);
	run(env, &h);
	assert_int_equal(rec.hits, 2);
}

static void test_exec_t2_jcc(void **state)
{
	struct exec_env *env = *state;
	struct x86_64_jump_plan p;
	struct hctx h;

	install(env, t2, sizeof(t2), 0, 0, T2_J, 0, IDX1(1), &p);
	assert_int_equal(p.insns[0].kind, X86_64_JUMP_INSN_JCC);
	for (int round = 0; round < 2; round++) {
		hctx_init(&h, env, 3);
		h.in[H_DI] = 50;
		h.in[H_SI] = round ? 10 : 100;	/* taken (a < b) and not */
		run(env, &h);
		assert_int_equal(h.out[H_AX], round ? 51 : 150);
		assert_int_equal(rec.hits, round + 1);
		assert_int_equal(rec.f.ip, va(env->code + FN + T2_J));
		assert_int_equal(rec.f.flags & 1, !round);
		expect_preserved(&h, 1u << H_AX);
		expect_frame_regs(&h, 1u << H_AX);
		expect_hit_stack(env);
	}
}

static void test_exec_t3_call(void **state)
{
	struct exec_env *env = *state;
	struct x86_64_jump_plan p;
	struct hctx h;

	install(env, t3, sizeof(t3), 0, 0, T3_J, 0, IDX1(2), &p);
	hctx_init(&h, env, 4);
	run(env, &h);
	assert_int_equal(h.out[H_AX], h.in[H_DI] + 13);
	assert_int_equal(rec.hits, 1);
	assert_int_equal(rec.index, 2);
	expect_preserved(&h, 1u << H_AX);
	expect_frame_regs(&h, 1u << H_AX);
}

static void test_exec_t4_ret(void **state)
{
	struct exec_env *env = *state;
	struct x86_64_jump_plan p;
	struct hctx h;

	install(env, t4, sizeof(t4), 0, 0, T4_J, 0, IDX1(3), &p);
	assert_false(p.falls_through);
	hctx_init(&h, env, 5);
	run(env, &h);
	assert_int_equal(h.out[H_AX], h.in[H_DI] + 7);
	assert_int_equal(rec.hits, 1);
	expect_preserved(&h, 1u << H_AX);
	expect_frame_regs(&h, 1u << H_AX);
}

static void test_exec_t5_jmp(void **state)
{
	struct exec_env *env = *state;
	struct x86_64_jump_plan p;
	struct hctx h;
	const uint64_t c = 1000;

	install(env, t5, sizeof(t5), T5_DISP, T5_DISP + 4, T5_J, 0, IDX1(4), &p);
	memcpy(env->code + CELL, &c, 8);
	hctx_init(&h, env, 6);
	run(env, &h);
	assert_int_equal(h.out[H_AX], h.in[H_DI] + 1 + c);
	assert_int_equal(rec.hits, 1);
	expect_preserved(&h, 1u << H_AX);
}

/* J at the function start; the handler changes the frame's di, which the trampoline restores. */
static void test_exec_t6_frame_restore(void **state)
{
	struct exec_env *env = *state;
	struct x86_64_jump_plan p;
	struct hctx h;
	const uint64_t c = 0x4242;

	install(env, t6, sizeof(t6), T6_DISP, T6_DISP + 4, 0, 0, IDX1(5), &p);
	memcpy(env->code + CELL, &c, 8);
	rec.di_delta = 0x100;
	hctx_init(&h, env, 7);
	run(env, &h);
	assert_int_equal(rec.hits, 1);
	assert_int_equal(rec.f.ip, va(env->code + FN));
	assert_int_equal(h.out[H_AX], c + h.in[H_DI] + 0x100);
	assert_int_equal(h.out[H_DI], h.in[H_DI] + 0x100);
	expect_preserved(&h, 1u << H_AX | 1u << H_DI);
	/* At the function start, [sp] is the harness's return address. */
	assert_int_equal(rec.at_sp, va(env->code) + 0x53);
}

/*
 * After a run with a trampoline for the n indices idx: one call per index in order, each with
 * the same frame and a 16-byte aligned stack below it; the frame's orig_ax is the first index.
 */
static void expect_calls(const uint32_t *idx, size_t n, int runs)
{
	assert_int_equal(rec.hits, (int)n * runs);
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(rec.indices[k], idx[k]);
		assert_ptr_equal(rec.frames[k], rec.frames[0]);
		assert_int_equal(rec.rsp[k] & 15, 8);
		assert_true(rec.rsp[k] < va(rec.frames[k]));
		assert_true(va(rec.frames[k]) - rec.rsp[k] <= 24);
		assert_int_equal(rec.rsp[k], rec.rsp[0]);
	}
	assert_int_equal(rec.f.orig_ax, idx[0]);
	assert_int_equal(rec.index, idx[n - 1]);
}

/* Two and three probes on T1's site: RIP-relative copy, flags, every register as with one. */
static void test_exec_multi_t1(void **state)
{
	static const uint32_t idx[3] = { 7, 2, 40 };
	struct exec_env *env = *state;
	struct x86_64_jump_plan p;
	struct hctx h;
	uint64_t cell;

	for (size_t n = 2; n <= 3; n++) {
		install(env, t1, sizeof(t1), T1_DISP, T1_J + 7, T1_J, va(env->code + FN), idx, n,
			&p);
		for (int round = 0; round < 2; round++) {
			uint64_t a, b, want;

			memset(rec.indices, 0, sizeof(rec.indices));
			rec.hits = 0;
			hctx_init(&h, env, (uint64_t)round + 11);
			if (round)
				h.in[H_DI] = 0x9000000000000000ull, h.in[H_SI] = 0x123;
			else
				h.in[H_DI] = 0x5, h.in[H_SI] = 0x9000000000000000ull;
			a = h.in[H_DI], b = h.in[H_SI];
			want = ((a + b + (a < b) + h.in[H_CX]) ^ h.in[H_DX]) + h.in[H_R8] -
			       h.in[H_R9];
			run(env, &h);

			expect_calls(idx, n, 1);
			assert_int_equal(h.out[H_AX], want);
			expect_preserved(&h, 1u << H_AX | 1u << H_R11);
			memcpy(&cell, env->code + CELL, 8);
			assert_int_equal(cell, rec.f.sp);
			assert_int_equal(h.out[H_R11], rec.f.sp);
			expect_frame_regs(&h, 1u << H_AX | 1u << H_R11);
			assert_int_equal(rec.f.ip, va(env->code + FN));
			assert_int_equal(rec.f.flags & 1, a < b);
		}
	}
}

/* Three probes at a function start: each sees (and may change) the same frame; the changes
 * add up and are restored; [sp] is still the return address. */
static void test_exec_multi_frame(void **state)
{
	static const uint32_t idx[3] = { 9, 10, 3 };
	struct exec_env *env = *state;
	struct x86_64_jump_plan p;
	struct hctx h;
	const uint64_t c = 0x4242;

	install(env, t6, sizeof(t6), T6_DISP, T6_DISP + 4, 0, 0, idx, 3, &p);
	memcpy(env->code + CELL, &c, 8);
	rec.di_delta = 0x100;
	hctx_init(&h, env, 17);
	run(env, &h);
	expect_calls(idx, 3, 1);
	for (int k = 0; k < 3; k++)
		assert_int_equal(rec.di_seen[k], h.in[H_DI] + 0x100 * (uint64_t)k);
	assert_int_equal(h.out[H_AX], c + h.in[H_DI] + 0x300);
	assert_int_equal(h.out[H_DI], h.in[H_DI] + 0x300);
	expect_preserved(&h, 1u << H_AX | 1u << H_DI);
	assert_int_equal(rec.at_sp, va(env->code) + 0x53);
}

/* Two probes before a displaced call (it returns into the slot) and before a jcc. */
static void test_exec_multi_call_jcc(void **state)
{
	static const uint32_t idx[2] = { 1, 0 };
	struct exec_env *env = *state;
	struct x86_64_jump_plan p;
	struct hctx h;

	install(env, t3, sizeof(t3), 0, 0, T3_J, 0, idx, 2, &p);
	hctx_init(&h, env, 21);
	run(env, &h);
	assert_int_equal(h.out[H_AX], h.in[H_DI] + 13);
	expect_calls(idx, 2, 1);
	expect_preserved(&h, 1u << H_AX);
	expect_frame_regs(&h, 1u << H_AX);

	install(env, t2, sizeof(t2), 0, 0, T2_J, 0, idx, 2, &p);
	for (int round = 0; round < 2; round++) {
		rec.hits = 0;
		hctx_init(&h, env, 23);
		h.in[H_DI] = 50;
		h.in[H_SI] = round ? 10 : 100;
		run(env, &h);
		assert_int_equal(h.out[H_AX], round ? 51 : 150);
		expect_calls(idx, 2, 1);
		assert_int_equal(rec.f.flags & 1, !round);
		expect_preserved(&h, 1u << H_AX);
	}
}

/* ---- the real kernel ---- */

static bool sym(const struct ekp_symtab *st, const char *name, uint64_t *a)
{
	struct ekp_sym s;

	if (ekp_symtab_lookup(st, name, &s))
		return false;
	*a = s.addr;
	return true;
}

/* A probe at a function's start, planned as the jump engine plans it (the arch's site planner
 * with the kernel's own tables, read by the production reader). */
static int plan_kernel(const struct ekp_jump_text *text, const struct ekp_symtab *st,
		       const char *name, uint64_t slot, struct ekp_jump_site **site)
{
	struct ekp_sym sy;
	int err;

	assert_int_equal(ekp_symtab_lookup(st, name, &sy), 0);
	ekp_err_clear();
	*site = NULL;
	err = ekp_arch_x86_64.jump->site_plan(text, sy.addr, slot, site);
	if (err)
		print_message("  %-18s refused (%d): %s\n", name, err, ekp_errstr(err));
	else
		print_message("  %-18s accepted: jump at +0x%" PRIx64 ", %u bytes displaced\n", name,
			      (*site)->jump_addr - sy.addr, (*site)->displaced_len);
	return err;
}

static void test_vmlinux(void **state)
{
	static const char *names[] = { "start_kernel", "setup_arch", "do_one_initcall",
				       "__alloc_pages", "rest_init", "kernel_init",
				       "run_init_process" };
	const struct ekp_jump_arch *ja = ekp_arch_x86_64.jump;
	const char *path = getenv("EKPROBE_VMLINUX");
	struct ekp_jump_text *text;
	struct x86_64_jump_plan p;
	struct ekp_symtab *st;
	uint64_t slot = 0, hit = 0;
	struct ekp_sym s;
	size_t nfunc = 0, nok = 0, nerr[8] = { 0 };
	static const int errs[] = { EILSEQ, ENOSPC, EOPNOTSUPP, EBUSY, ERANGE, EINVAL };

	(void)state;
	if (!path || !*path)
		fail_msg("EKPROBE_VMLINUX is not set: build the default kernel (make kernel)");
	if (ekp_symtab_load(path, &st))
		fail_msg("%s", ekp_errmsg());
	/* The slot area: the guest's, or any address in .text for the reach checks. */
	if (!sym(st, "ekprobe_slots", &slot))
		assert_true(sym(st, "_etext", &slot));
	if (!sym(st, "ekprobe_hit", &hit))
		hit = slot + 0x1000;

	if (ja->text_open(st, &text))
		fail_msg("the kernel's patch tables: %s", ekp_errmsg());
	print_message("jump sites for probes at the function start (slot 0x%" PRIx64 "):\n", slot);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct ekp_jump_site *site;
		int err = plan_kernel(text, st, names[i], slot, &site);

		if (!err) {
			const uint32_t two[2] = { (uint32_t)i, (uint32_t)i + 100 };
			uint8_t tr[X86_64_JUMP_SLOT_SIZE];
			size_t len;

			assert_int_equal(ja->tramp_build(site, slot, hit, two, 1, tr, sizeof(tr),
							 &len), 0);
			check_decodes(tr, len, slot);
			/* Two probes sharing the site (p and r at one address). */
			assert_int_equal(ja->tramp_build(site, slot, hit, two, 2, tr, sizeof(tr),
							 &len), 0);
			assert_int_equal(len, ja->tramp_size(site, 2));
			check_decodes_n(tr, len, slot, 2);
			ja->site_free(site);
		}
		if (!strcmp(names[i], "do_one_initcall") || !strcmp(names[i], "__alloc_pages"))
			assert_int_equal(err, 0);
	}
	ja->text_close(text);

	/* Every function with an ftrace site: no crash, and what is refused why. */
	for (size_t i = 0; ekp_symtab_at(st, i, &s); i++) {
		struct x86_64_jump_site site;
		uint8_t *buf;
		int err;

		if ((s.type != 'T' && s.type != 't') || s.size < 10 || s.size > (1u << 16))
			continue;
		buf = malloc(s.size);
		assert_non_null(buf);
		if (ekp_symtab_read(st, s.addr, buf, s.size) || !x86_64_is_fentry_site(buf, 5)) {
			free(buf);
			continue;
		}
		site_init(&site, buf, s.size, s.addr, 5, slot);
		site.func_name = s.name;
		err = x86_64_jump_plan(&site, &p);
		nfunc++;
		if (!err)
			nok++;
		for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++)
			if (err == -errs[k] && !nerr[k]++)
				print_message("  e.g. %s\n", ekp_errmsg());
		free(buf);
	}
	print_message("all %zu functions starting with an ftrace site, J = start+5 (without the "
		      "patch tables): %zu accepted; refused: %zu undecodable/boundary, %zu too "
		      "short, %zu unsupported insn or indirect jump, %zu branch into the bytes or "
		      "int3, %zu out of reach\n", nfunc, nok, nerr[0], nerr[1], nerr[2], nerr[3],
		      nerr[4]);
	assert_true(nfunc > 1000);
	assert_true(nok > nfunc / 2);
	ekp_symtab_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fentry_jmp5),
		cmocka_unit_test(test_plan_t1),
		cmocka_unit_test(test_tramp_multi),
		cmocka_unit_test(test_reloc_jcc_call_ret_jmp),
		cmocka_unit_test(test_dead_after_ret),
		cmocka_unit_test(test_riprel_forms),
		cmocka_unit_test(test_refuse_bounds),
		cmocka_unit_test(test_refuse_insns),
		cmocka_unit_test(test_refuse_function),
		cmocka_unit_test(test_refuse_tables),
		cmocka_unit_test(test_refuse_reach),
		cmocka_unit_test(test_vmlinux),
	};
	const struct CMUnitTest exec_tests[] = {
		cmocka_unit_test(test_exec_t1),
		cmocka_unit_test(test_exec_t2_jcc),
		cmocka_unit_test(test_exec_t3_call),
		cmocka_unit_test(test_exec_t4_ret),
		cmocka_unit_test(test_exec_t5_jmp),
		cmocka_unit_test(test_exec_t6_frame_restore),
		cmocka_unit_test(test_exec_multi_t1),
		cmocka_unit_test(test_exec_multi_frame),
		cmocka_unit_test(test_exec_multi_call_jcc),
	};
	int failed = cmocka_run_group_tests_name("x86_jump", tests, NULL, NULL);

	failed += cmocka_run_group_tests_name("x86_jump_exec", exec_tests, exec_setup,
					      exec_teardown);
	return failed ? 1 : 0;
}
