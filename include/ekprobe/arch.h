/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-architecture ops table: the arch-neutral core (parser, resolver, engines, fetch-arg
 * evaluation) asks these questions and never names a register or an opcode itself.
 */
#ifndef EKPROBE_ARCH_H
#define EKPROBE_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EKP_MAX_REGS 64

/* Register values captured at a hit, indexed by the arch's own register ids. */
struct ekp_regs {
	uint64_t val[EKP_MAX_REGS];
	uint64_t valid; /* bit i set: val[i] was read from the target */
};

struct ekp_arch {
	const char *name; /* "x86_64" */
	unsigned int ptr_size;
	unsigned int nr_regs;

	/* kprobe_events register name (without '%') -> arch register id, or -ENOENT. */
	int (*reg_lookup)(const char *name);
	/* arch register id -> kprobe_events name. */
	const char *(*reg_name)(int id);
	/* arch register id -> name of the register in GDB's target description ("rax"). */
	const char *(*gdb_reg_name)(int id);

	int pc_reg, sp_reg, retval_reg;
	/* $argN (1-based) held in a register: arg_regs[N-1]; above nr_arg_regs it is on the stack. */
	const int *arg_regs;
	unsigned int nr_arg_regs;
	/* Stack slot (in pointer-size words from the entry SP) of the first stack-passed argument. */
	unsigned int stack_arg_first_slot;

	/* Length of the instruction at code[0..len) placed at address addr, or -EINVAL. */
	int (*insn_len)(const uint8_t *code, size_t len, uint64_t addr);

	/*
	 * Where, at a function's first instruction, the return address is: in a register
	 * (returns the reg id, sets *in_reg) or at the stack pointer (returns 0, in_reg false).
	 */
	int (*return_addr_location)(bool *in_reg);

	/*
	 * Kernel text also runs before paging switches to the kernel's own mapping (x86_64:
	 * startup_64 runs at its physical address). Returns true and the alias address through
	 * *alias for a kernel virtual text address that may also execute at an alias.
	 */
	bool (*early_alias)(uint64_t vaddr, uint64_t *alias);
	/* The first function the boot CPU runs in the kernel's own mapping: from there on no
	 * code runs at an early alias, so alias breakpoints can go (they cost QEMU a scan of its
	 * breakpoint list on every translation-block lookup). */
	const char *early_end_sym;
	/* The last function of the head text (code linked first in .text that runs at its
	 * physical address): [_text, its end) cannot take jumps into trampolines. */
	const char *head_text_last_sym;
	/*
	 * The per-CPU base the kernel uses to find `current` (x86_64: GS base): 0 and *base, or
	 * -ENODATA when it is not set up yet (very early boot).
	 */
	int (*percpu_base)(const struct ekp_regs *regs, uint64_t *base);
	/* True for an address in the kernel half of the address space. */
	bool (*is_kernel_addr)(uint64_t addr);
	/* True if the captured registers say the CPU runs kernel code (not user mode). */
	bool (*in_kernel_mode)(const struct ekp_regs *regs);
};

const struct ekp_arch *ekp_arch_by_name(const char *name);
extern const struct ekp_arch ekp_arch_x86_64;

#endif
