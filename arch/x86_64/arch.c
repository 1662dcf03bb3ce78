// SPDX-License-Identifier: GPL-2.0
/* The x86_64 ops table. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "ekprobe/arch.h"
#include "arch/x86_64/x86_64.h"

/* SysV AMD64 ABI integer argument registers. */
static const int x86_64_arg_regs[] = { X86_64_DI, X86_64_SI, X86_64_DX, X86_64_CX, X86_64_R8,
				       X86_64_R9 };

#define KERNEL_MAP_BASE 0xffffffff80000000ull /* __START_KERNEL_map */
#define KERNEL_MAP_SIZE 0x40000000ull         /* KERNEL_IMAGE_SIZE: 1 GiB */

static int x86_64_return_addr_location(bool *in_reg)
{
	*in_reg = false; /* CALL pushed it: [rsp] at the first instruction */
	return 0;
}

/*
 * startup_64 and the code it calls run at their physical address, identity mapped, until
 * secondary_startup_64 jumps to the kernel mapping. Without KASLR the physical address is
 * the virtual one minus __START_KERNEL_map (phys_base 0).
 */
static bool x86_64_early_alias(uint64_t vaddr, uint64_t *alias)
{
	if (vaddr < KERNEL_MAP_BASE || vaddr >= KERNEL_MAP_BASE + KERNEL_MAP_SIZE)
		return false;
	*alias = vaddr - KERNEL_MAP_BASE;
	return true;
}

/*
 * `current` is the per-CPU variable current_task, at its per-CPU offset from the GS base.
 * Kernel code running before the GS base is set up is the boot CPU's init_task or a secondary
 * CPU's idle task coming up.
 */
static int x86_64_current_task(const struct ekp_regs *regs, uint64_t sym_addr,
			       ekp_read_mem_fn read_mem, void *opaque, uint64_t *task)
{
	uint8_t raw[8];
	uint64_t v = 0;

	if (!(regs->valid & (1ull << X86_64_GS_BASE)) || !regs->val[X86_64_GS_BASE] || !sym_addr)
		return -ENODATA;
	if (read_mem(opaque, regs->val[X86_64_GS_BASE] + sym_addr, raw, sizeof(raw)))
		return -EFAULT;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)raw[i] << (8 * i);
	*task = v;
	return 0;
}

static bool x86_64_is_kernel_addr(uint64_t addr)
{
	return addr >= 0xffff800000000000ull;
}

/* Linux 6.1 arch/x86/kernel/kprobes/core.c arch_adjust_kprobe_addr(): a probe on a function's
 * endbr64 (IBT) is put on the instruction after it. */
static uint64_t x86_64_kprobe_addr(const uint8_t *code, size_t len, uint64_t addr, bool func_entry)
{
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };

	if (func_entry && len >= sizeof(endbr64) && !memcmp(code, endbr64, sizeof(endbr64)))
		return addr + sizeof(endbr64);
	return addr;
}

static bool x86_64_in_kernel_mode(const struct ekp_regs *regs)
{
	if (!(regs->valid & (1ull << X86_64_CS)))
		return true;
	/* Real and protected mode before long mode also count: CPL is CS's low bits in all. */
	return (regs->val[X86_64_CS] & 3) == 0;
}

const struct ekp_arch ekp_arch_x86_64 = {
	.name = "x86_64",
	.qemu_name = "x86_64",
	.entry_sym = "startup_64",
	.ptr_size = 8,
	.nr_regs = X86_64_NR_REGS,
	.reg_lookup = x86_64_reg_lookup,
	.reg_name = x86_64_reg_name,
	.gdb_reg_name = x86_64_gdb_reg_name,
	.pc_reg = X86_64_IP,
	.sp_reg = X86_64_SP,
	.retval_reg = X86_64_AX,
	.task_reg = X86_64_GS_BASE, /* in QEMU's 'g' packet */
	.arg_regs = x86_64_arg_regs,
	.nr_arg_regs = 6,
	.stack_arg_first_slot = 1, /* [rsp] is the return address */
	.insn_len = x86_64_insn_len,
	.return_addr_location = x86_64_return_addr_location,
	.kprobe_addr = x86_64_kprobe_addr,
	.kprobe_site = x86_64_kprobe_site,
	.early_alias = x86_64_early_alias,
	.early_end_sym = "x86_64_start_kernel", /* initial_code, reached by lretq from head_64.S */
	.is_kernel_addr = x86_64_is_kernel_addr,
	.in_kernel_mode = x86_64_in_kernel_mode,
	.current_sym = "current_task",
	.current_task = x86_64_current_task,
	.default_ram = 128ull << 20, /* pc and q35 without -m */
	.ram_layout = x86_64_ram_layout,
	.clock_mark = x86_64_clock_mark,
	.clock_rate = x86_64_clock_rate,
	.jump = &x86_64_jump_arch,
	.kaslr = &x86_64_kaslr_arch,
};
