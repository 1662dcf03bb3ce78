// SPDX-License-Identifier: GPL-2.0
/*
 * The arm64 ops table's pure parts: register names as the kernel's arm64 kprobe_events and
 * QEMU's aarch64 gdbstub spell them, fetch-args ($argN, $stackN, $retval, %xN, %sp, %pc)
 * parsed and evaluated against arm64 registers, the return address in x30, the -M virt
 * layout, the early (MMU off) alias, the current task in SP_EL0, and how the arch is found.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch/arm64/arm64.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "host/fetch/eval.h"

static const struct ekp_arch *A = &ekp_arch_arm64;

static void test_reg_names(void **state)
{
	char name[16];

	(void)state;
	/* x0..x30 are ids 0..30 both ways, and QEMU's aarch64-core.xml spells them the same. */
	for (int i = 0; i <= 30; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		assert_int_equal(A->reg_lookup(name), i);
		assert_string_equal(A->reg_name(i), name);
		assert_string_equal(A->gdb_reg_name(i), name);
	}
	assert_int_equal(A->reg_lookup("sp"), A->sp_reg);
	assert_int_equal(A->reg_lookup("pc"), A->pc_reg);
	assert_int_equal(A->reg_lookup("pstate"), ARM64_PSTATE);
	assert_string_equal(A->gdb_reg_name(A->sp_reg), "sp");
	assert_string_equal(A->gdb_reg_name(A->pc_reg), "pc");
	assert_string_equal(A->gdb_reg_name(ARM64_PSTATE), "cpsr");
	assert_string_equal(A->gdb_reg_name(A->task_reg), "SP_EL0");
	/* Names arm64 kprobe_events does not take. */
	assert_int_equal(A->reg_lookup("x31"), -ENOENT);
	assert_int_equal(A->reg_lookup("w0"), -ENOENT);
	assert_int_equal(A->reg_lookup("lr"), -ENOENT);
	assert_int_equal(A->reg_lookup("di"), -ENOENT);
	assert_int_equal(A->reg_lookup("sp_el0"), -ENOENT);
	assert_int_equal(A->reg_lookup("X0"), -ENOENT);
	assert_null(A->reg_name(-1));
	assert_null(A->reg_name(ARM64_NR_REGS));
	assert_null(A->gdb_reg_name(ARM64_NR_REGS));
	assert_true(A->nr_regs <= EKP_MAX_REGS);
	/* Every id has distinct names (one register per name). */
	for (unsigned int i = 0; i < A->nr_regs; i++)
		for (unsigned int j = i + 1; j < A->nr_regs; j++)
			assert_string_not_equal(A->gdb_reg_name((int)i), A->gdb_reg_name((int)j));
	/* The x86_64 table does not take arm64 names. */
	assert_int_equal(ekp_arch_x86_64.reg_lookup("x0"), -ENOENT);
}

static void test_insn_len(void **state)
{
	uint8_t nop[4] = { 0x1f, 0x20, 0x03, 0xd5 };

	(void)state;
	assert_int_equal(A->insn_len(nop, 4, 0xffff800008000000ull), 4);
	assert_int_equal(A->insn_len(nop, 3, 0xffff800008000000ull), -EINVAL);
	assert_int_equal(A->insn_len(nop, 4, 0xffff800008000002ull), -EINVAL);
}

/* Guest memory for the evaluator: a stack page at STACK. */
#define STACK 0xffff80000a000000ull
static uint8_t stack_mem[256];

static int fake_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	(void)opaque;
	if (addr < STACK || addr - STACK > sizeof(stack_mem) || len > sizeof(stack_mem) - (addr - STACK))
		return -EFAULT;
	memcpy(buf, stack_mem + (addr - STACK), len);
	return 0;
}

static struct ekp_probe *parse(const char *text)
{
	struct ekp_probe *p = NULL;
	unsigned int col = 0;
	int ret = ekp_probe_parse(text, A, &p, &col);

	if (ret != 0)
		fail_msg("parse '%s': col %u: %s", text, col, ekp_errstr(ret));
	return p;
}

static void parse_fails(const char *text, const char *why)
{
	struct ekp_probe *p = NULL;
	unsigned int col = 0;
	int ret = ekp_probe_parse(text, A, &p, &col);

	assert_int_equal(ret, -EINVAL);
	assert_null(p);
	if (!strstr(ekp_errstr(ret), why))
		fail_msg("'%s': reason '%s' lacks '%s'", text, ekp_errstr(ret), why);
}

static void test_fetch_args(void **state)
{
	struct ekp_regs r = { .valid = (1ull << ARM64_NR_REGS) - 1 };
	struct ekp_fetch_ctx ctx = { .arch = A, .regs = &r, .read_mem = fake_read };
	struct ekp_probe *p;
	struct ekp_value v;
	/* $arg1..$arg8 are x0..x7; $arg9 is the first stack word at the entry ([sp], AAPCS64). */
	const uint64_t want[] = { 100, 101, 102, 103, 104, 105, 106, 107, 0x9999, 0x5151, 0x1111,
				  31, 0xffff800008123450ull, STACK, 100 };

	(void)state;
	for (int i = 0; i <= 30; i++)
		r.val[i] = 100 + (uint64_t)i;
	r.val[ARM64_SP] = STACK;
	r.val[ARM64_PC] = 0xffff800008123450ull;
	memset(stack_mem, 0, sizeof(stack_mem));
	stack_mem[0] = 0x99, stack_mem[1] = 0x99;   /* [sp]: $arg9, $stack0 */
	stack_mem[16] = 0x51, stack_mem[17] = 0x51; /* [sp+16]: $stack2 */
	stack_mem[8] = 0x11, stack_mem[9] = 0x11;   /* [sp+8]: $arg10 */
	p = parse("p:g/e do_one_initcall a1=$arg1 a2=$arg2 a3=$arg3 a4=$arg4 a5=$arg5 a6=$arg6 "
		  "a7=$arg7 a8=$arg8 a9=$arg9 s2=$stack2 a10=$arg10 x30=%x30:u8 pc=%pc sp=%sp "
		  "x0=%x0");
	assert_int_equal(p->nr_args, sizeof(want) / sizeof(want[0]));
	r.val[30] = 0x11f; /* :u8 keeps the low byte */
	for (unsigned int i = 0; i < p->nr_args; i++) {
		assert_int_equal(ekp_fetch_arg(&ctx, &p->args[i], &v), 0);
		assert_int_equal(v.err, 0);
		if (v.u[0] != want[i])
			fail_msg("%s: 0x%llx, expected 0x%llx", p->args[i].text,
				 (unsigned long long)v.u[0], (unsigned long long)want[i]);
	}
	ekp_probe_free(p);

	/* $retval is x0, at a return probe. */
	p = parse("r:g/r do_one_initcall ret=$retval:s32");
	r.val[0] = (uint64_t)(uint32_t)-19;
	assert_int_equal(ekp_fetch_arg(&ctx, &p->args[0], &v), 0);
	assert_int_equal((int32_t)v.u[0], -19);
	ekp_probe_free(p);

	/* +0(%x0):string, as run_init_process's file=: memory at x0. */
	memcpy(stack_mem + 64, "/init", 6);
	r.val[0] = STACK + 64;
	p = parse("p:g/i run_init_process file=+0(%x0):string");
	assert_int_equal(ekp_fetch_arg(&ctx, &p->args[0], &v), 0);
	assert_int_equal(v.err, 0);
	assert_string_equal(v.str, "/init");
	ekp_probe_free(p);

	/* x86_64's names are no arm64 registers; neither are x31 and sp_el0. */
	parse_fails("p foo a=%di", "di");
	parse_fails("p foo a=%x31", "x31");
	parse_fails("p foo a=%sp_el0", "sp_el0");
}

static void test_return_and_modes(void **state)
{
	struct ekp_regs r = { .valid = (1ull << ARM64_NR_REGS) - 1 };
	bool in_reg = false;
	uint64_t task = 0;

	(void)state;
	/* Returns go through the link register, not a stack slot. */
	assert_int_equal(A->return_addr_location(&in_reg), 30);
	assert_true(in_reg);
	assert_int_equal(A->retval_reg, 0);
	/* PSTATE: EL1h (0x3c5 as Linux runs) is the kernel, EL0t and AArch32 user are not. */
	r.val[ARM64_PSTATE] = 0x3c5;
	assert_true(A->in_kernel_mode(&r));
	r.val[ARM64_PSTATE] = 0x3c9; /* EL2h (a VHE host or the boot CPU entering at EL2) */
	assert_true(A->in_kernel_mode(&r));
	r.val[ARM64_PSTATE] = 0x0;
	assert_false(A->in_kernel_mode(&r));
	r.val[ARM64_PSTATE] = 0x10; /* AArch32 user */
	assert_false(A->in_kernel_mode(&r));
	/* current is SP_EL0; 0 (reset, before __primary_switched) says "none yet". */
	r.val[ARM64_SP_EL0] = 0;
	assert_int_equal(A->current_task(&r, 0, fake_read, NULL, &task), -ENODATA);
	r.val[ARM64_SP_EL0] = 0xffff00000189a000ull;
	assert_int_equal(A->current_task(&r, 0, fake_read, NULL, &task), 0);
	assert_int_equal(task, 0xffff00000189a000ull);
	r.valid &= ~(1ull << ARM64_SP_EL0);
	assert_int_equal(A->current_task(&r, 0, fake_read, NULL, &task), -ENODATA);
	assert_true(A->is_kernel_addr(0xffff00000189a000ull));
	assert_true(A->is_kernel_addr(0xffff800008000000ull));
	assert_false(A->is_kernel_addr(0x40200000ull));
	assert_false(A->is_kernel_addr(0x0000ffffdeadbeefull));
}

static void test_machine(void **state)
{
	char *virt[] = { "qemu-system-aarch64", "-M", "virt", "-cpu", "max", NULL };
	char *virt2[] = { "qemu-system-aarch64", "-machine", "type=virt-7.2,gic-version=3", NULL };
	char *other[] = { "qemu-system-aarch64", "-M", "virtualbox", NULL };
	char *none[] = { "qemu-system-aarch64", NULL };
	struct ekp_ram_layout l;
	uint64_t pa = 0;

	(void)state;
	assert_int_equal(A->ram_layout(virt, 256ull << 20, &l), 0);
	assert_int_equal(l.nr, 1);
	assert_int_equal(l.range[0].gpa, 0x40000000ull);
	assert_int_equal(l.range[0].len, 256ull << 20);
	assert_int_equal(l.range[0].offset, 0);
	assert_int_equal(A->ram_layout(virt2, A->default_ram, &l), 0);
	assert_int_equal(l.range[0].len, 128ull << 20);
	assert_int_equal(A->ram_layout(other, 1ull << 30, &l), -EOPNOTSUPP);
	assert_int_equal(A->ram_layout(none, 1ull << 30, &l), -EOPNOTSUPP);
	assert_int_equal(A->ram_layout(virt, 0, &l), -EINVAL);
	/* The image's first byte (_text, KIMAGE_VADDR) runs at RAM base + 2 MiB before the MMU. */
	assert_true(A->early_alias(0xffff800008000000ull, &pa));
	assert_int_equal(pa, 0x40200000ull);
	assert_true(A->early_alias(0xffff800008e40000ull, &pa));
	assert_int_equal(pa, 0x41040000ull);
	assert_false(A->early_alias(0xffff800007fffffcull, &pa));
	assert_false(A->early_alias(0xffff000000100000ull, &pa)); /* the linear map */
	assert_false(A->early_alias(0x40200000ull, &pa));
	/* 39-bit VAs (the default guest): _text at 0xffffffc008000000. */
	assert_true(A->early_alias(0xffffffc008000000ull, &pa));
	assert_int_equal(pa, 0x40200000ull);
	assert_true(A->early_alias(0xffffffc008e40000ull, &pa));
	assert_int_equal(pa, 0x41040000ull);
	assert_false(A->early_alias(0xffffffc007fffffcull, &pa));
	assert_false(A->early_alias(0xffffff8000100000ull, &pa)); /* its linear map */
	assert_string_equal(A->entry_sym, "primary_entry");
	assert_string_equal(A->early_end_sym, "__primary_switched");
	/* The jump half is there; the guest stamps records in nanoseconds: a 1 GHz clock. */
	assert_non_null(A->jump);
	{
		struct ekp_clock_mark m;
		uint64_t hz = 0;

		A->clock_mark(&m);
		assert_int_equal(A->clock_rate(&m, true, &hz), 0);
		assert_int_equal(hz, 1000000000ull);
		assert_int_equal(A->clock_rate(&m, false, &hz), 0);
		assert_int_equal(hz, 1000000000ull);
	}
}

static void test_arch_by(void **state)
{
	(void)state;
	assert_ptr_equal(ekp_arch_by_name("arm64"), A);
	assert_ptr_equal(ekp_arch_by_name("aarch64"), A); /* the target description's name */
	assert_ptr_equal(ekp_arch_by_qemu("/usr/bin/qemu-system-aarch64"), A);
	assert_null(ekp_arch_by_qemu("qemu-system-arm"));
	assert_null(ekp_arch_by_name("arm"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reg_names),   cmocka_unit_test(test_insn_len),
		cmocka_unit_test(test_fetch_args),  cmocka_unit_test(test_return_and_modes),
		cmocka_unit_test(test_machine),     cmocka_unit_test(test_arch_by),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
