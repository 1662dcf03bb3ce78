// SPDX-License-Identifier: GPL-2.0
/*
 * host/fetch/compile.c: fetch-args compiled into ABI fetch programs, checked instruction by
 * instruction, then run by the guest's own interpreter (include/ekprobe/abi_eval.h, the file
 * the guest kernel is built with) on fake registers and memory. The record it fills, decoded
 * by ekp_fetch_from_record(), must equal what the trap engine's ekp_fetch_arg() computes on
 * the same registers and memory: the proof both engines print the same values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/abi.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "host/fetch/eval.h"
#include "host/fetch/compile.h"
#include "host/sinks/sink.h"

/* Guest memory: 4 KiB at MEM_BASE; everything else faults. */
#define MEM_BASE 0xffff888000001000ull
#define SYM_ADDR (MEM_BASE + 0x800) /* where the fake symbols resolve */
static uint8_t mem[4096];

static int fake_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	(void)opaque;
	if (addr < MEM_BASE || addr + len > MEM_BASE + sizeof(mem) || addr + len < addr)
		return -EFAULT;
	memcpy(buf, mem + (addr - MEM_BASE), len);
	return 0;
}

static void put64(uint64_t addr, uint64_t v)
{
	memcpy(mem + (addr - MEM_BASE), &v, 8);
}

static void put_str(uint64_t addr, const char *s)
{
	memcpy(mem + (addr - MEM_BASE), s, strlen(s) + 1);
}

/* ---- the guest's interpreter, in a host environment ------------------------------------ */

static const char comm_of_current[EKP_ABI_COMM] = "kworker/u4:1";

struct ekp_eval_env {
	const struct ekp_abi_regs *frame;
	const char *comm;
};

static bool ekp_eval_load(struct ekp_eval_env *env, ekp_u64 addr, unsigned int size,
			  ekp_u64 *out)
{
	uint8_t buf[8] = { 0 };

	(void)env;
	assert_true(size == 1 || size == 2 || size == 4 || size == 8);
	if (fake_read(NULL, addr, buf, size))
		return false;
	*out = 0;
	for (unsigned int k = 0; k < size; k++)
		*out |= (uint64_t)buf[k] << (8 * k);
	return true;
}

static bool ekp_eval_reg(struct ekp_eval_env *env, unsigned int off, ekp_u64 *out)
{
	assert_true(off % 8 == 0 && off + 8 <= sizeof(*env->frame));
	memcpy(out, (const uint8_t *)env->frame + off, 8);
	return true;
}

static const char *ekp_eval_comm(struct ekp_eval_env *env)
{
	return env->comm;
}

#include "ekprobe/abi_eval.h"

static void frame_from_regs(const struct ekp_regs *r, struct ekp_abi_regs *f)
{
	memset(f, 0, sizeof(*f));
	f->r15 = r->val[X86_64_R15]; f->r14 = r->val[X86_64_R14];
	f->r13 = r->val[X86_64_R13]; f->r12 = r->val[X86_64_R12];
	f->bp = r->val[X86_64_BP];   f->bx = r->val[X86_64_BX];
	f->r11 = r->val[X86_64_R11]; f->r10 = r->val[X86_64_R10];
	f->r9 = r->val[X86_64_R9];   f->r8 = r->val[X86_64_R8];
	f->ax = r->val[X86_64_AX];   f->cx = r->val[X86_64_CX];
	f->dx = r->val[X86_64_DX];   f->si = r->val[X86_64_SI];
	f->di = r->val[X86_64_DI];
	f->orig_ax = 3; /* the probe index */
	f->ip = r->val[X86_64_IP];   f->cs = r->val[X86_64_CS];
	f->flags = r->val[X86_64_FLAGS];
	f->sp = r->val[X86_64_SP];   f->ss = r->val[X86_64_SS];
}

/* What the compiler promises about a program (compile.h), which the guest does not rely on. */
static void check_program(const struct ekp_abi_probe *pr)
{
	uint64_t written = 0;
	unsigned int str_bytes = 0;

	assert_true(pr->nr_insns <= EKP_ABI_MAX_INSNS);
	assert_true(pr->nr_values <= EKP_ABI_MAX_VALUES);
	for (unsigned int i = 0; i < pr->nr_insns; i++) {
		const struct ekp_abi_insn *in = &pr->insns[i];

		assert_int_equal(in->reserved0, 0);
		assert_int_equal(in->reserved1, 0);
		assert_true(in->op > EKP_OP_END && in->op < EKP_OP_NR);
		if (in->op == EKP_OP_REG)
			assert_true(in->imm >= 0 && in->imm % 8 == 0 &&
				    (size_t)in->imm < sizeof(struct ekp_abi_regs));
		if (in->op == EKP_OP_LOAD)
			assert_true(in->size == 1 || in->size == 2 || in->size == 4 ||
				    in->size == 8);
		if (in->op == EKP_OP_STRING || in->op == EKP_OP_COMM) {
			assert_true(in->size > 0);
			str_bytes += in->size;
		}
		if (in->op == EKP_OP_STORE || in->op == EKP_OP_STRING || in->op == EKP_OP_COMM) {
			assert_true(in->slot < pr->nr_values);
			assert_false(written & (1ull << in->slot)); /* one writer per slot */
			written |= 1ull << in->slot;
		}
	}
	assert_true(str_bytes <= EKP_ABI_DATA);
	/* Every value slot is written. */
	assert_int_equal(written, (1ull << pr->nr_values) - 1);
}

/* The guest at a hit: the record as ekprobe_hit() fills it, values by the shared evaluator. */
static void guest_run(const struct ekp_abi_probe *pr, const struct ekp_abi_regs *frame,
		      struct ekp_abi_record *rec)
{
	struct ekp_eval_env env = { .frame = frame, .comm = comm_of_current };

	check_program(pr);
	memset(rec, 0xa5, sizeof(*rec)); /* the evaluator clears what it owns */
	rec->seq = 1;
	rec->ip = pr->addr;
	ekp_abi_eval(&env, pr, rec);
	assert_int_equal(rec->nr_values, pr->nr_values);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void resolve_fetch(struct ekp_fetch *f)
{
	for (; f; f = f->inner)
		if (f->op == EKP_FETCH_MEM_SYM) {
			f->addr = !strcmp(f->sym, "no_such_page") ? 0x1000 : SYM_ADDR;
			f->resolved = true;
		}
}

static struct ekp_probe *parse(const char *text)
{
	struct ekp_probe *p = NULL;
	unsigned int col;
	int ret = ekp_probe_parse(text, &ekp_arch_x86_64, &p, &col);

	if (ret != 0)
		fail_msg("parse '%s': col %u: %s", text, col, ekp_errstr(ret));
	p->addr = 0xffffffff81000cadull;
	p->resolved = true;
	for (unsigned int i = 0; i < p->nr_args; i++)
		resolve_fetch(p->args[i].fetch);
	return p;
}

static struct ekp_regs regs_default(void)
{
	struct ekp_regs r = { .valid = (1ull << X86_64_NR_REGS) - 1 };

	for (int i = 0; i < X86_64_NR_REGS; i++)
		r.val[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
	r.val[X86_64_DI] = MEM_BASE + 0x200;
	r.val[X86_64_SI] = 0xfffffffffffffffeull;
	r.val[X86_64_SP] = MEM_BASE + 0x400;
	r.val[X86_64_AX] = (uint64_t)-19;
	r.val[X86_64_IP] = 0xffffffff81000cadull;
	r.val[X86_64_CS] = 0x10;
	r.val[X86_64_SS] = 0x18;
	r.val[X86_64_FLAGS] = 0x246;
	return r;
}

/* A value the way the sinks see it: on a fault nothing but err. */
static void normalize(struct ekp_value *v)
{
	if (v->err) {
		int err = v->err;

		memset(v, 0, sizeof(*v));
		v->err = err;
		v->count = 1;
	}
}

/*
 * Trap engine vs jump engine for every argument of p. Strings longer than the jump engine's
 * share of the record may end earlier (as "..."): then the shown part must be a prefix of the
 * trap engine's string. Returns how many values were compared as truncated prefixes.
 */
static unsigned int compare_engines(const struct ekp_probe *p, const struct ekp_regs *regs,
				    const struct ekp_abi_probe *prog)
{
	struct ekp_task task = { .known = true, .pid = 42 };
	struct ekp_fetch_ctx ctx = { .arch = &ekp_arch_x86_64, .regs = regs,
				     .read_mem = fake_read, .task = &task };
	static struct ekp_value trap[EKP_MAX_ARGS], jump[EKP_MAX_ARGS];
	struct ekp_abi_regs frame;
	struct ekp_abi_record rec;
	unsigned int prefixes = 0;

	snprintf(task.comm, sizeof(task.comm), "%s", comm_of_current);
	static struct ekp_fetch_decoder dec;

	frame_from_regs(regs, &frame);
	guest_run(prog, &frame, &rec);
	assert_int_equal(ekp_fetch_decoder_init(&dec, p), 0);
	if (ekp_fetch_from_record(&dec, &rec, jump, EKP_MAX_ARGS))
		fail_msg("from_record: %s", ekp_errmsg());
	for (unsigned int i = 0; i < p->nr_args; i++) {
		struct ekp_buf bt = { 0 }, bj = { 0 };

		assert_int_equal(ekp_fetch_arg(&ctx, &p->args[i], &trap[i]), 0);
		normalize(&trap[i]);
		normalize(&jump[i]);
		if (jump[i].str_truncated && !trap[i].err &&
		    strlen(jump[i].str) < strlen(trap[i].str)) {
			/* The jump engine's share ran out first. */
			assert_memory_equal(jump[i].str, trap[i].str, strlen(jump[i].str));
			prefixes++;
			continue;
		}
		assert_int_equal(jump[i].err, trap[i].err);
		assert_int_equal(jump[i].count, trap[i].count);
		assert_memory_equal(jump[i].u, trap[i].u, sizeof(trap[i].u));
		assert_memory_equal(jump[i].str, trap[i].str, sizeof(trap[i].str));
		assert_int_equal(jump[i].str_truncated, trap[i].str_truncated);
		/* And so the printed text is the same. */
		assert_int_equal(ekp_format_value(&bt, &p->args[i], &trap[i], NULL), 0);
		assert_int_equal(ekp_format_value(&bj, &p->args[i], &jump[i], NULL), 0);
		assert_string_equal(bj.data, bt.data);
		ekp_buf_free(&bt);
		ekp_buf_free(&bj);
	}
	return prefixes;
}

static void compile_ok(const struct ekp_probe *p, struct ekp_abi_probe *prog)
{
	int err = ekp_fetch_compile(p, &ekp_arch_x86_64, prog, NULL);

	if (err)
		fail_msg("compile '%s': %s", p->text ? p->text : "?", ekp_errstr(err));
}

/* Parse, compile, run both engines; returns the compiled program through prog. */
static void check_spec(const char *text, const struct ekp_regs *regs, struct ekp_abi_probe *prog)
{
	struct ekp_probe *p = parse(text);

	compile_ok(p, prog);
	assert_int_equal(compare_engines(p, regs, prog), 0);
	ekp_probe_free(p);
}

static void setup_mem(void)
{
	uint64_t obj = MEM_BASE + 0x200, str = MEM_BASE + 0x300, sp = MEM_BASE + 0x400;

	memset(mem, 0, sizeof(mem));
	for (unsigned int i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)(i * 37 + 11) | 1; /* no NULs: strings end where we say */
	put64(obj + 0, obj + 0x40);  /* a pointer to a pointer to ... */
	put64(obj + 0x40, obj + 0x80);
	put64(obj + 0x80, str);
	put64(obj + 8, str);
	put64(obj + 16, 0x8877665544332211ull);
	put64(obj + 24, 0x1000);     /* a pointer into nothing */
	put_str(str, "console=ttyS0");
	put64(sp + 0, 0xffffffff81234567ull); /* return address */
	put64(sp + 8, 0xdead);       /* $arg7 = $stack1 */
	put64(sp + 16, 0xfffffff0beefull); /* $arg8 */
	put64(sp + 24, MEM_BASE + 0x300);
	put64(SYM_ADDR, 0x0102030405060708ull);
	put64(SYM_ADDR + 8, MEM_BASE + 0x300);
	put64(SYM_ADDR - 8, 0xa5a5a5a5a5a5a5a5ull);
	put_str(MEM_BASE + 0x600, "");
	/* A string running into the end of memory (no NUL before it). */
	memset(mem + sizeof(mem) - 5, 'z', 5);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* The exact programs of a few forms. */
static void test_programs(void **state)
{
	struct ekp_probe *p;
	struct ekp_abi_probe prog;
	const int di = (int)offsetof(struct ekp_abi_regs, di), sp = (int)offsetof(struct ekp_abi_regs, sp);

	(void)state;
	p = parse("p:g/e start_kernel a=%di s=+0(+8(%di)):string n=-8(+16(%di)):u16 "
		  "a8=$arg8:u32 st=$stack2:s8 m=@sym+8 c=$comm i=\\-2:s32 q=\\\"q\" "
		  "arr=+4(%si):x8[3] ret=%ip");
	compile_ok(p, &prog);
	assert_int_equal(prog.addr, 0xffffffff81000cadull);
	assert_int_equal(prog.flags, EKP_PROBE_F_ACTIVE);
	const struct { uint8_t op, size, slot; int64_t imm; } want[] = {
		{ EKP_OP_REG, 8, 0, di }, { EKP_OP_STORE, 8, 0, 0 },            /* a */
		{ EKP_OP_REG, 8, 0, di }, { EKP_OP_DEREF, 8, 0, 8 },
		{ EKP_OP_STRING, EKP_ABI_DATA - 16, 1, 0 },                      /* s */
		{ EKP_OP_REG, 8, 0, di }, { EKP_OP_DEREF, 8, 0, 16 },
		{ EKP_OP_LOAD, 2, 2, -8 }, { EKP_OP_STORE, 8, 2, 0 },           /* n */
		{ EKP_OP_REG, 8, 0, sp }, { EKP_OP_LOAD, 4, 3, 16 },
		{ EKP_OP_STORE, 8, 3, 0 },                                       /* a8 */
		{ EKP_OP_REG, 8, 0, sp }, { EKP_OP_LOAD, 1, 4, 16 },
		{ EKP_OP_STORE, 8, 4, 0 },                                       /* st */
		{ EKP_OP_IMM, 8, 0, (int64_t)(SYM_ADDR + 8) }, { EKP_OP_LOAD, 8, 5, 0 },
		{ EKP_OP_STORE, 8, 5, 0 },                                       /* m */
		{ EKP_OP_COMM, 16, 6, 0 },                                       /* c */
		{ EKP_OP_IMM, 8, 0, -2 }, { EKP_OP_STORE, 8, 7, 0 },            /* i; q: none */
		{ EKP_OP_REG, 8, 0, (int)offsetof(struct ekp_abi_regs, si) },
		{ EKP_OP_LOAD, 1, 8, 4 }, { EKP_OP_STORE, 8, 8, 0 },
		{ EKP_OP_REG, 8, 0, (int)offsetof(struct ekp_abi_regs, si) },
		{ EKP_OP_LOAD, 1, 9, 5 }, { EKP_OP_STORE, 8, 9, 0 },
		{ EKP_OP_REG, 8, 0, (int)offsetof(struct ekp_abi_regs, si) },
		{ EKP_OP_LOAD, 1, 10, 6 }, { EKP_OP_STORE, 8, 10, 0 },          /* arr */
		{ EKP_OP_REG, 8, 0, (int)offsetof(struct ekp_abi_regs, ip) },
		{ EKP_OP_STORE, 8, 11, 0 },                                      /* ret */
	};
	assert_int_equal(prog.nr_values, 12);
	assert_int_equal(prog.nr_insns, EKP_ARRAY_SIZE(want));
	for (unsigned int i = 0; i < EKP_ARRAY_SIZE(want); i++) {
		const struct ekp_abi_insn *in = &prog.insns[i];

		if (in->op != want[i].op || in->size != want[i].size || in->slot != want[i].slot ||
		    in->imm != want[i].imm)
			fail_msg("insn %u: got op %u size %u slot %u imm %lld, want %u %u %u %lld", i,
				 in->op, in->size, in->slot, (long long)in->imm, want[i].op,
				 want[i].size, want[i].slot, (long long)want[i].imm);
	}
	for (unsigned int i = EKP_ARRAY_SIZE(want); i < EKP_ABI_MAX_INSNS; i++)
		assert_int_equal(prog.insns[i].op, EKP_OP_END);
	ekp_probe_free(p);

	p = parse("r:g/r do_one_initcall rv=$retval:s32");
	compile_ok(p, &prog);
	assert_int_equal(prog.flags, EKP_PROBE_F_ACTIVE | EKP_PROBE_F_RETURN);
	assert_int_equal(prog.nr_insns, 2);
	assert_int_equal(prog.insns[0].op, EKP_OP_REG);
	assert_int_equal(prog.insns[0].imm, offsetof(struct ekp_abi_regs, ax));
	ekp_probe_free(p);
}

/* Every fetch-arg form, both engines, the same values. */
static void test_engines_agree(void **state)
{
	static const char *const specs[] = {
		/* registers and types */
		"p:g/e start_kernel a=%di b=%si:s8 c=%si:u16 d=%ax:x32 e=$stack f=%ip g=%flags:u32 "
		"h=%r15 i=%cs:u16 j=%ss k=%bp:symbol l=%di:b4@2/32 m=%si:b64@0/64 n=%r8:s64",
		"p:g/e start_kernel %bx %cx %dx %r9 %r10 %r11 %r12 %r13 %r14 %sp %bp",
		/* $argN in registers and on the stack, $stackN */
		"p:g/e start_kernel $arg1 $arg2 $arg3 $arg4 $arg5 $arg6 $arg7 $arg8:u32 $arg9:s16 "
		"$stack0 $stack1 $stack3:s16 $stack:x64 $arg30",
		/* @ADDR, @SYM */
		"p:g/e start_kernel a=@0xffff888000001800:u32 b=@sym+8:u64 c=@sym-8:s8 d=@sym:x16 "
		"e=@0x10:u64 f=@no_such_page g=@0xffff888000001300:string h=@0x20:string "
		"i=+0(@sym+8):string j=@sym:b7@3/64",
		/* dereferences */
		"p:g/e start_kernel a=+8(%di) b=+0(+8(%di)):string c=-8(+16(%di)):u16 "
		"d=+0(+0(+0(%di))):string e=+4($stack2):u8 f=+0($arg7):u64 g=+0(@sym):x64 "
		"h=+0(+24(%di))",
		"p:g/e start_kernel i=+16(%di):b3@5/16 j=+8(+0(+24(%di))):u32 k=-0x200(%sp):s32 "
		"l=+0(%si) m=+0(+0($stack3)):string n=-1(%di):u8 "
		"o=+0(+0(+0(+0(+0(+0(+0(+0(%di)))))))):u8",
		/* $comm, immediates */
		"p:g/e start_kernel c=$comm C=$COMM i=\\42 n=\\-1:s32 x=\\0x123:x8 "
		"s=\\0xffff888000001300:string q=\\\"hello\" e=\\0:string",
		/* arrays, also faulting in the middle */
		"p:g/e start_kernel a=+16(%di):u8[4] b=+0(%di):x16[3] c=+0xdff(%di):u8[2] f=+0xdfe(%di):u8[2] "
		"d=+0xdfc(%di):u32[2] e=@sym:s8[2]",
		/* strings: empty, running into unmapped memory, several sharing the data */
		"p:g/e start_kernel a=@0xffff888000001600:string b=@0xffff888000001ffb:string "
		"c=+0(+8(%di)):string d=@0xffff888000001ffe:string e=$comm f=+2(+8(%di)):string",
		/* a return probe */
		"r:g/r do_one_initcall rv=$retval:s32 r2=$retval sp=$stack ip=%ip:symbol",
		"p:g/e start_kernel+4 %di +0(%di):u8",
	};
	struct ekp_regs regs = regs_default();
	struct ekp_abi_probe prog;

	(void)state;
	setup_mem();
	for (unsigned int i = 0; i < EKP_ARRAY_SIZE(specs); i++)
		check_spec(specs[i], &regs, &prog);
}

/* A string longer than the jump engine's share ends as "..." with the same beginning. */
static void test_long_strings(void **state)
{
	struct ekp_regs regs = regs_default();
	struct ekp_probe *p = parse("p:g/e start_kernel a=+0(+8(%di)):string b=$comm "
				    "c=@0xffff888000001300:string");
	struct ekp_abi_probe prog;
	char big[200];

	(void)state;
	setup_mem();
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_str(MEM_BASE + 0x300, big);
	compile_ok(p, &prog);
	/* (128 - 16) / 2 bytes each */
	assert_int_equal(prog.insns[2].op, EKP_OP_STRING);
	assert_int_equal(prog.insns[2].size, 56);
	assert_int_equal(prog.insns[5].op, EKP_OP_STRING);
	assert_int_equal(prog.insns[5].size, 56);
	assert_int_equal(compare_engines(p, &regs, &prog), 2);
	ekp_probe_free(p);

	/* 56 characters exactly and a NUL: complete; 57: truncated. */
	p = parse("p:g/e start_kernel a=+0(+8(%di)):string b=$comm c=@0xffff888000001300:string");
	compile_ok(p, &prog);
	mem[0x300 + 56] = '\0';
	assert_int_equal(compare_engines(p, &regs, &prog), 0);
	mem[0x300 + 56] = 'x';
	mem[0x300 + 57] = '\0';
	assert_int_equal(compare_engines(p, &regs, &prog), 2);
	ekp_probe_free(p);
}

/* Random memory and registers, many rounds: the engines never disagree. */
static void test_random_differential(void **state)
{
	static const char *const specs[] = {
		"p:g/e start_kernel +0(%di):u8 +8(%di):s16 -4(+0(%di)):u32 +0(+0(+0(%si))):x64 "
		"+0(%di):string +0(+0(%dx)):string $arg7 $arg8:s8 +2($stack1):u16 %di:b5@3/8 "
		"+0(%cx):b12@20/32",
		"p:g/e start_kernel +0(%di):u8[5] +0(+8(%si)):s16[4] $comm @sym:u32 @sym:string "
		"+1(%r8):string",
	};
	struct ekp_probe *p[EKP_ARRAY_SIZE(specs)];
	struct ekp_abi_probe prog[EKP_ARRAY_SIZE(specs)];
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	unsigned int prefixes = 0;

	(void)state;
	for (unsigned int i = 0; i < EKP_ARRAY_SIZE(specs); i++) {
		p[i] = parse(specs[i]);
		compile_ok(p[i], &prog[i]);
	}
	for (unsigned int round = 0; round < 3000; round++) {
		struct ekp_regs regs = regs_default();

		for (unsigned int k = 0; k < sizeof(mem); k++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			/* Mostly small bytes and NULs, some pointer-like words. */
			mem[k] = (rng & 7) == 0 ? 0 : (uint8_t)(rng >> 24);
		}
		for (unsigned int k = 0; k + 8 <= sizeof(mem); k += 8) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			if ((rng & 3) == 0)
				put64(MEM_BASE + k, MEM_BASE + (rng >> 20) % (sizeof(mem) + 64) - 32);
		}
		for (int r = 0; r < X86_64_NR_REGS; r++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			regs.val[r] = (rng & 1) ? MEM_BASE + (rng >> 20) % (sizeof(mem) + 64) - 32
						: rng;
		}
		for (unsigned int i = 0; i < EKP_ARRAY_SIZE(specs); i++)
			prefixes += compare_engines(p[i], &regs, &prog[i]);
	}
	for (unsigned int i = 0; i < EKP_ARRAY_SIZE(specs); i++)
		ekp_probe_free(p[i]);
	/* Some long strings came up, and were prefixes; the rest compared exactly. */
	print_message("random: %u truncated-string comparisons\n", prefixes);
}

static void expect_refusal(const char *text, int err, const char *reason_part)
{
	struct ekp_probe *p = parse(text);
	struct ekp_abi_probe prog;
	assert_int_equal(ekp_fetch_compile(p, &ekp_arch_x86_64, &prog, NULL), err);
	if (!strstr(ekp_errstr(err), reason_part))
		fail_msg("'%s': reason '%s' lacks '%s'", text, ekp_errstr(err), reason_part);
	assert_int_equal(prog.nr_insns, 0);
	ekp_probe_free(p);
}

static void test_refusals(void **state)
{
	struct ekp_probe *p;
	struct ekp_abi_probe prog;
	struct ekp_arch other = ekp_arch_x86_64;

	(void)state;
	expect_refusal("p:g/e start_kernel a=+0(%di):u8[20]", -E2BIG,
		       "needs 20 values; a jump-engine record holds 16");
	expect_refusal("p:g/e start_kernel %di %di %di %di %di %di %di %di %di %di %di %di %di "
		       "%di %di %di %di", -E2BIG, "needs 17 values; a jump-engine record holds 16");
	expect_refusal("p:g/e start_kernel a=+0(+0(%di)):u8[16]", -E2BIG,
		       "needs 64 fetch instructions; a jump-engine probe holds 48");
	expect_refusal("p:g/e start_kernel %orig_ax", -EOPNOTSUPP,
		       "argument 1 '%orig_ax': register %orig_ax is not in the jump engine's frame");
	expect_refusal("p:g/e start_kernel s=+0(%di):ustring", -EOPNOTSUPP, "ustring");
	expect_refusal("p:g/e start_kernel s=+u0(%di):u32", -EOPNOTSUPP, "user-memory");
	expect_refusal("p:g/e start_kernel $comm $comm $comm $comm $comm $comm $comm $comm $comm",
		       -E2BIG, "9 $comm arguments need 144 bytes");
	expect_refusal("p:g/e start_kernel $comm $comm $comm $comm $comm $comm $comm $comm "
		       "@0x10:string", -E2BIG, "do not fit");
	/* 16 strings fit, 8 bytes each. */
	p = parse("p:g/e start_kernel @1:string @1:string @1:string @1:string @1:string @1:string "
		  "@1:string @1:string @1:string @1:string @1:string @1:string @1:string @1:string "
		  "@1:string @1:string");
	compile_ok(p, &prog);
	assert_int_equal(prog.insns[1].size, 8);
	p->resolved = false;
	assert_int_equal(ekp_fetch_compile(p, &ekp_arch_x86_64, &prog, NULL), -EINVAL);
	assert_non_null(strstr(ekp_errstr(-EINVAL), "not resolved"));
	p->resolved = true;
	other.jump = NULL; /* an arch without a jump engine half */
	assert_int_equal(ekp_fetch_compile(p, &other, &prog, NULL), -EOPNOTSUPP);
	ekp_probe_free(p);

	/* Parsed but never resolved. */
	assert_int_equal(ekp_probe_parse("p:g/e start_kernel v=@sym", &ekp_arch_x86_64, &p, NULL),
			 0);
	p->resolved = true;
	assert_int_equal(ekp_fetch_compile(p, &ekp_arch_x86_64, &prog, NULL), -EINVAL);
	assert_string_equal(ekp_errstr(-EINVAL), "argument 1 'v=@sym': symbol is not resolved");
	ekp_probe_free(p);

	/* Exactly 48 instructions fit. 16 x (REG DEREF STORE) = 48. */
	p = parse("p:g/e start_kernel +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) "
		  "+0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(+0(%di))");
	assert_int_equal(ekp_fetch_compile(p, &ekp_arch_x86_64, &prog, NULL), -E2BIG);
	assert_string_equal(ekp_errstr(-E2BIG), "needs 49 fetch instructions; a jump-engine probe holds 48");
	ekp_probe_free(p);
	p = parse("p:g/e start_kernel +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) "
		  "+0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di) +0(%di)");
	compile_ok(p, &prog);
	assert_int_equal(prog.nr_insns, 48);
	ekp_probe_free(p);
}

/* Records that do not fit the probe's program are refused, never read past. */
static void test_bad_records(void **state)
{
	struct ekp_regs regs = regs_default();
	struct ekp_probe *p = parse("p:g/e start_kernel s=+0(+8(%di)):string n=%di c=$comm");
	struct ekp_abi_probe prog;
	struct ekp_abi_regs frame;
	struct ekp_abi_record rec, bad;
	struct ekp_fetch_decoder dec;
	struct ekp_value v[3];

	(void)state;
	setup_mem();
	assert_int_equal(ekp_fetch_compile(p, &ekp_arch_x86_64, &prog, &dec), 0);
	assert_ptr_equal(dec.probe, p);
	assert_int_equal(dec.nr_args, 3);
	assert_int_equal(dec.nr_values, prog.nr_values);
	frame_from_regs(&regs, &frame);
	guest_run(&prog, &frame, &rec);
	assert_int_equal(ekp_fetch_from_record(&dec, &rec, v, 3), 0);
	assert_string_equal(v[0].str, "console=ttyS0");
	assert_string_equal(v[2].str, comm_of_current);

	bad = rec;
	bad.nr_values = 2;
	assert_int_equal(ekp_fetch_from_record(&dec, &bad, v, 3), -EPROTO);
	bad = rec;
	bad.fault_mask = 1u << 3;
	assert_int_equal(ekp_fetch_from_record(&dec, &bad, v, 3), -EPROTO);
	bad = rec;
	bad.values[0] = EKP_FETCH_STR_VALUE(120, 9, 0);
	assert_int_equal(ekp_fetch_from_record(&dec, &bad, v, 3), -EPROTO);
	bad.values[0] = EKP_FETCH_STR_VALUE(128, 0, 0); /* empty at the end: fine */
	assert_int_equal(ekp_fetch_from_record(&dec, &bad, v, 3), 0);
	assert_string_equal(v[0].str, "");
	bad.values[0] = EKP_FETCH_STR_VALUE(129, 0, 0);
	assert_int_equal(ekp_fetch_from_record(&dec, &bad, v, 3), -EPROTO);
	bad.values[0] = EKP_FETCH_STR_VALUE(0, 0x7fff, 1);
	assert_int_equal(ekp_fetch_from_record(&dec, &bad, v, 3), -EPROTO);
	bad.values[0] = 1ull << 40;
	assert_int_equal(ekp_fetch_from_record(&dec, &bad, v, 3), -EPROTO);
	bad = rec;
	bad.values[2] = EKP_FETCH_STR_VALUE(0, 17, 0); /* a comm longer than TASK_COMM_LEN */
	assert_int_equal(ekp_fetch_from_record(&dec, &bad, v, 3), -EPROTO);
	/* Faults: the string faults, the comm of an unknown task is "<...>" as in the trap
	 * engine, an integer faults. */
	bad = rec;
	bad.fault_mask = 7;
	assert_int_equal(ekp_fetch_from_record(&dec, &bad, v, 3), 0);
	assert_int_equal(v[0].err, -EFAULT);
	assert_int_equal(v[1].err, -EFAULT);
	assert_int_equal(v[2].err, 0);
	assert_string_equal(v[2].str, "<...>");
	/* An array too small for the arguments: refused before anything is written. */
	assert_int_equal(ekp_fetch_from_record(&dec, &rec, v, 2), -E2BIG);
	assert_non_null(strstr(ekp_errmsg(), "3 arguments"));
	/* A decoder never set up (or of a failed compile) decodes nothing. */
	memset(&dec, 0, sizeof(dec));
	assert_int_equal(ekp_fetch_from_record(&dec, &rec, v, 3), -EINVAL);
	p->resolved = false;
	assert_int_equal(ekp_fetch_compile(p, &ekp_arch_x86_64, &prog, &dec),
			 -EINVAL);
	assert_int_equal(ekp_fetch_from_record(&dec, &rec, v, 3), -EINVAL);
	ekp_probe_free(p);
}

/*
 * Immediate strings take no record slot: 20 arguments fit 14 values, so a probe's records
 * decode into one value per argument, more than EKP_ABI_MAX_VALUES. An array sized for the
 * record's values is refused, not overrun (heap arrays: ASan sees any write past them).
 */
static void test_many_arguments(void **state)
{
	struct ekp_regs regs = regs_default();
	struct ekp_probe *p = parse("p:g/e start_kernel %di \\\"a\" %si \\\"b\" %dx %cx \\\"c\" %r8 "
				    "%r9 %ax %bx \\\"d\" %bp %r10 %r11 \\\"e\" %r12 %r13 %r14 "
				    "\\\"f\"");
	struct ekp_value *small = calloc(EKP_ABI_MAX_VALUES, sizeof(*small));
	struct ekp_value *all = calloc(EKP_MAX_ARGS, sizeof(*all));
	struct ekp_abi_probe prog;
	struct ekp_abi_regs frame;
	struct ekp_abi_record rec;
	struct ekp_fetch_decoder dec;

	(void)state;
	assert_non_null(small);
	assert_non_null(all);
	assert_int_equal(p->nr_args, 20);
	assert_int_equal(ekp_fetch_compile(p, &ekp_arch_x86_64, &prog, &dec), 0);
	assert_int_equal(prog.nr_values, 14);
	assert_int_equal(dec.nr_args, 20);
	frame_from_regs(&regs, &frame);
	guest_run(&prog, &frame, &rec);
	assert_int_equal(ekp_fetch_from_record(&dec, &rec, small, EKP_ABI_MAX_VALUES), -E2BIG);
	assert_non_null(strstr(ekp_errmsg(), "20 arguments"));
	assert_int_equal(ekp_fetch_from_record(&dec, &rec, all, EKP_MAX_ARGS), 0);
	assert_int_equal(all[0].u[0], regs.val[X86_64_DI]);
	assert_string_equal(all[1].str, "a");
	assert_int_equal(all[18].u[0], regs.val[X86_64_R14]);
	assert_string_equal(all[19].str, "f");
	assert_int_equal(compare_engines(p, &regs, &prog), 0);
	free(small);
	free(all);
	ekp_probe_free(p);
}



/*
 * The guest treats the probe table as untrusted: random entries never make the shared
 * evaluator touch memory outside the record (a heap block of its exact size: ASan), call a
 * hook with a bad offset or size (the hooks assert), or leave a faulted value non-zero.
 */
static void test_hostile_programs(void **state)
{
	struct ekp_abi_probe *pr = malloc(sizeof(*pr));
	struct ekp_abi_record *rec = malloc(sizeof(*rec));
	struct ekp_regs regs = regs_default();
	struct ekp_abi_regs frame;
	struct ekp_eval_env env = { .frame = &frame, .comm = comm_of_current };
	uint64_t rng = 0x243f6a8885a308d3ull;
	unsigned int strings = 0;

	(void)state;
	assert_non_null(pr);
	assert_non_null(rec);
	setup_mem();
	frame_from_regs(&regs, &frame);
	for (unsigned int round = 0; round < 20000; round++) {
		uint8_t *b = (uint8_t *)pr;

		for (size_t k = 0; k < sizeof(*pr); k++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			b[k] = (uint8_t)rng;
		}
		for (unsigned int i = 0; i < EKP_ABI_MAX_INSNS; i++) {
			struct ekp_abi_insn *in = &pr->insns[i];

			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			in->op = (uint8_t)(rng % (EKP_OP_NR + 2));
			if (in->op == EKP_OP_END && rng % 7)
				in->op = EKP_OP_STRING;
			if (rng & 0x100)
				in->slot = (uint8_t)(in->slot % 20);
			if (rng & 0x200)
				in->imm = (int64_t)(rng % 200) - 16;
			else if (rng & 0x400)
				in->imm = (int64_t)(MEM_BASE + (rng >> 20) % 4200) - 50;
			if (rng & 0x800)
				in->size = (uint8_t)(in->size % 140);
		}
		if (round & 1)
			pr->nr_insns %= EKP_ABI_MAX_INSNS + 3;
		if (round & 2)
			pr->nr_values %= EKP_ABI_MAX_VALUES + 3;
		env.comm = (round & 4) ? NULL : comm_of_current;
		memset(rec, 0x5a, sizeof(*rec));
		ekp_abi_eval(&env, pr, rec);
		assert_true(rec->nr_values <= EKP_ABI_MAX_VALUES);
		assert_int_equal(rec->fault_mask >> EKP_ABI_MAX_VALUES, 0);
		for (unsigned int i = 0; i < EKP_ABI_MAX_VALUES; i++)
			if (rec->fault_mask & (1u << i))
				assert_int_equal(rec->values[i], 0);
		/* Untouched header fields stay as they were. */
		assert_int_equal(rec->seq, 0x5a5a5a5a5a5a5a5aull);
		assert_int_equal(rec->pid, 0x5a5a5a5a);
		for (unsigned int i = 0; i < EKP_ABI_DATA; i++)
			strings += rec->data[i] != 0;
	}
	/* The random programs did copy strings. */
	assert_true(strings > 1000);
	free(pr);
	free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_programs),
		cmocka_unit_test(test_engines_agree),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_random_differential),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_many_arguments),
		cmocka_unit_test(test_hostile_programs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
