// SPDX-License-Identifier: GPL-2.0
/*
 * arm64 register names: kprobe_events names them as arch/arm64/include/asm/ptrace.h's
 * regs_query_register_offset() table does (x0..x30, sp, pc, pstate); QEMU's gdbstub
 * describes them in aarch64-core.xml (x0..x30, sp, pc, cpsr) and its system registers
 * (SP_EL0, which Linux 6.1 keeps `current` in).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/arm64/arm64.h"

static const char *const arm64_xnames[31] = {
	"x0",  "x1",  "x2",  "x3",  "x4",  "x5",  "x6",  "x7",  "x8",  "x9",  "x10",
	"x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21",
	"x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30",
};

int arm64_reg_lookup(const char *name)
{
	if (!name)
		return -ENOENT;
	for (int i = 0; i <= ARM64_X30; i++)
		if (!strcmp(name, arm64_xnames[i]))
			return i;
	if (!strcmp(name, "sp"))
		return ARM64_SP;
	if (!strcmp(name, "pc"))
		return ARM64_PC;
	if (!strcmp(name, "pstate"))
		return ARM64_PSTATE;
	return -ENOENT; /* sp_el0 is not a kprobe_events name */
}

const char *arm64_reg_name(int id)
{
	if (id < 0 || id >= ARM64_NR_REGS)
		return NULL;
	if (id <= ARM64_X30)
		return arm64_xnames[id];
	switch (id) {
	case ARM64_SP: return "sp";
	case ARM64_PC: return "pc";
	case ARM64_PSTATE: return "pstate";
	default: return "sp_el0";
	}
}

const char *arm64_gdb_reg_name(int id)
{
	if (id < 0 || id >= ARM64_NR_REGS)
		return NULL;
	if (id <= ARM64_X30)
		return arm64_xnames[id];
	switch (id) {
	case ARM64_SP: return "sp";
	case ARM64_PC: return "pc";
	case ARM64_PSTATE: return "cpsr";
	default: return "SP_EL0";
	}
}

/* A64: every instruction is 4 bytes, 4-byte aligned. */
int arm64_insn_len(const uint8_t *code, size_t len, uint64_t addr)
{
	if (!code || len < 4 || (addr & 3))
		return -EINVAL;
	return 4;
}
