// SPDX-License-Identifier: GPL-2.0
/* x86_64 register names: kprobe_events uses pt_regs names, QEMU's gdbstub the GDB ones. */
#include <errno.h>
#include <string.h>

#include "arch/x86_64/x86_64.h"

static const struct {
	const char *kprobe; /* NULL: not nameable in a probe */
	const char *gdb;
} x86_64_regs[X86_64_NR_REGS] = {
	[X86_64_AX] = { "ax", "rax" },       [X86_64_BX] = { "bx", "rbx" },
	[X86_64_CX] = { "cx", "rcx" },       [X86_64_DX] = { "dx", "rdx" },
	[X86_64_SI] = { "si", "rsi" },       [X86_64_DI] = { "di", "rdi" },
	[X86_64_BP] = { "bp", "rbp" },       [X86_64_SP] = { "sp", "rsp" },
	[X86_64_R8] = { "r8", "r8" },        [X86_64_R9] = { "r9", "r9" },
	[X86_64_R10] = { "r10", "r10" },     [X86_64_R11] = { "r11", "r11" },
	[X86_64_R12] = { "r12", "r12" },     [X86_64_R13] = { "r13", "r13" },
	[X86_64_R14] = { "r14", "r14" },     [X86_64_R15] = { "r15", "r15" },
	[X86_64_IP] = { "ip", "rip" },       [X86_64_FLAGS] = { "flags", "eflags" },
	[X86_64_CS] = { "cs", "cs" },        [X86_64_SS] = { "ss", "ss" },
	[X86_64_ORIG_AX] = { "orig_ax", "orig_rax" },
	[X86_64_FS_BASE] = { NULL, "fs_base" }, [X86_64_GS_BASE] = { NULL, "gs_base" },
	[X86_64_CR3] = { NULL, "cr3" },
};

int x86_64_reg_lookup(const char *name)
{
	for (int i = 0; i < X86_64_NR_REGS; i++)
		if (x86_64_regs[i].kprobe && !strcmp(name, x86_64_regs[i].kprobe))
			return i;
	return -ENOENT;
}

const char *x86_64_reg_name(int id)
{
	if (id < 0 || id >= X86_64_NR_REGS)
		return NULL;
	return x86_64_regs[id].kprobe ? x86_64_regs[id].kprobe : x86_64_regs[id].gdb;
}

const char *x86_64_gdb_reg_name(int id)
{
	if (id < 0 || id >= X86_64_NR_REGS)
		return NULL;
	return x86_64_regs[id].gdb;
}
