/* SPDX-License-Identifier: GPL-2.0 */
#ifndef EKPROBE_ARCH_ARM64_H
#define EKPROBE_ARCH_ARM64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Register ids of the arm64 ops table: x0..x30 are ids 0..30, then what kprobe_events also
 * names (sp, pc, pstate), then what only the engine reads (sp_el0: the kernel's `current`).
 */
enum arm64_reg {
	ARM64_X0 = 0,
	ARM64_X30 = 30, /* the link register: the return address at a function's entry */
	ARM64_SP,
	ARM64_PC,
	ARM64_PSTATE,
	ARM64_SP_EL0,
	ARM64_NR_REGS,
	ARM64_NR_PUBLIC_REGS = ARM64_PSTATE + 1,
};

int arm64_reg_lookup(const char *name);
const char *arm64_reg_name(int id);
const char *arm64_gdb_reg_name(int id);
/* Length of the instruction at addr: 4, or -EINVAL (too short, or addr not 4-aligned). */
int arm64_insn_len(const uint8_t *code, size_t len, uint64_t addr);

struct ekp_clock_mark;
struct ekp_jump_arch;

/* jump_site.c: the jump engine's arm64 half. */
extern const struct ekp_jump_arch arm64_jump_arch;
struct ekp_ram_layout;

/* machine.c: QEMU's -M virt layout, the kernel image's placement, the guest's counter. */
#define ARM64_VIRT_RAM_BASE 0x40000000ull /* hw/arm/virt.c: VIRT_MEM */
int arm64_ram_layout(char *const *qemu_argv, uint64_t ram, struct ekp_ram_layout *out);
bool arm64_early_alias(uint64_t vaddr, uint64_t *alias);
void arm64_clock_mark(struct ekp_clock_mark *m);
int arm64_clock_rate(const struct ekp_clock_mark *since, bool icount, uint64_t *hz);

#endif
