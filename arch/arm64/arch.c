// SPDX-License-Identifier: GPL-2.0
/* The arm64 ops table (AArch64 Linux 6.1 under qemu-system-aarch64 -M virt). */
#include <errno.h>
#include <stdbool.h>

#include "ekprobe/arch.h"
#include "arch/arm64/arm64.h"

/* AAPCS64: integer arguments in x0..x7, the rest on the stack from [sp] at the entry. */
static const int arm64_arg_regs[] = { 0, 1, 2, 3, 4, 5, 6, 7 };

static int arm64_return_addr_location(bool *in_reg)
{
	*in_reg = true; /* BL put it in the link register; nothing is on the stack yet */
	return ARM64_X30;
}

/*
 * Linux 6.1 keeps `current` in SP_EL0 while in the kernel (asm/current.h); __primary_switched
 * and __secondary_switched set it (init_cpu_task) before any C code runs. Before that, as
 * QEMU resets it, it is 0: the boot CPU's init_task or a secondary's idle task coming up.
 */
static int arm64_current_task(const struct ekp_regs *regs, uint64_t sym_addr,
			      ekp_read_mem_fn read_mem, void *opaque, uint64_t *task)
{
	(void)sym_addr;
	(void)read_mem;
	(void)opaque;
	if (!(regs->valid & (1ull << ARM64_SP_EL0)) || !regs->val[ARM64_SP_EL0])
		return -ENODATA;
	*task = regs->val[ARM64_SP_EL0];
	return 0;
}

/* TTBR1 addresses: the top bits all ones (48- and 52-bit VA kernels alike). */
static bool arm64_is_kernel_addr(uint64_t addr)
{
	return addr >= 0xfff0000000000000ull;
}

/* PSTATE (GDB's cpsr): AArch64 state (M[4] clear) at EL1 or above. */
static bool arm64_in_kernel_mode(const struct ekp_regs *regs)
{
	uint64_t ps;

	if (!(regs->valid & (1ull << ARM64_PSTATE)))
		return true;
	ps = regs->val[ARM64_PSTATE];
	return !(ps & 0x10) && ((ps >> 2) & 3) != 0;
}

const struct ekp_arch ekp_arch_arm64 = {
	.name = "arm64",
	.qemu_name = "aarch64",
	.entry_sym = "primary_entry",
	.ptr_size = 8,
	.nr_regs = ARM64_NR_REGS,
	.reg_lookup = arm64_reg_lookup,
	.reg_name = arm64_reg_name,
	.gdb_reg_name = arm64_gdb_reg_name,
	.pc_reg = ARM64_PC,
	.sp_reg = ARM64_SP,
	.retval_reg = ARM64_X0,
	.task_reg = ARM64_SP_EL0, /* a system register: not in 'g', read alone */
	.arg_regs = arm64_arg_regs,
	.nr_arg_regs = 8,
	.stack_arg_first_slot = 0,
	.insn_len = arm64_insn_len,
	.return_addr_location = arm64_return_addr_location,
	.early_alias = arm64_early_alias,
	.early_end_sym = "__primary_switched", /* __primary_switch's br into the kernel mapping */
	.is_kernel_addr = arm64_is_kernel_addr,
	.in_kernel_mode = arm64_in_kernel_mode,
	.current_sym = NULL,
	.current_task = arm64_current_task,
	.default_ram = 128ull << 20, /* -M virt without -m */
	.ram_layout = arm64_ram_layout,
	.clock_mark = arm64_clock_mark,
	.clock_rate = arm64_clock_rate,
	.jump = &arm64_jump_arch,
};
