// SPDX-License-Identifier: GPL-2.0
/* x86_64: the frame is the ABI's struct ekp_abi_regs (pt_regs order). */
#include "plugin/arch.h"

static bool x86_64_kernel_mode(uint64_t cs)
{
	return (cs & 3) == 0;
}

static bool x86_64_kernel_addr(uint64_t addr)
{
	return addr >= 0xffff800000000000ull;
}

const struct ekp_tcg_arch ekp_tcg_arch_x86_64 = {
	.frame_words = 21,
	.frame = {
		{ "r15", EKP_TCG_FRAME_REG }, { "r14", EKP_TCG_FRAME_REG },
		{ "r13", EKP_TCG_FRAME_REG }, { "r12", EKP_TCG_FRAME_REG },
		{ "rbp", EKP_TCG_FRAME_REG }, { "rbx", EKP_TCG_FRAME_REG },
		{ "r11", EKP_TCG_FRAME_REG }, { "r10", EKP_TCG_FRAME_REG },
		{ "r9", EKP_TCG_FRAME_REG }, { "r8", EKP_TCG_FRAME_REG },
		{ "rax", EKP_TCG_FRAME_REG }, { "rcx", EKP_TCG_FRAME_REG },
		{ "rdx", EKP_TCG_FRAME_REG }, { "rsi", EKP_TCG_FRAME_REG },
		{ "rdi", EKP_TCG_FRAME_REG }, { 0, EKP_TCG_FRAME_INDEX },
		{ 0, EKP_TCG_FRAME_PC }, { "cs", EKP_TCG_FRAME_REG },
		{ "eflags", EKP_TCG_FRAME_REG }, { "rsp", EKP_TCG_FRAME_REG },
		{ "ss", EKP_TCG_FRAME_REG },
	},
	.sp = "rsp",
	.mode = "cs",
	.percpu_base = "gs_base",
	.kernel_mode = x86_64_kernel_mode,
	.kernel_addr = x86_64_kernel_addr,
	.sp_word = 19,
	.ret_addr_bytes = 8,
};
