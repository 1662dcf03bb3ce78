/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ekprobe host/guest ABI, arm64 part (abi.h version 2): the register frame an arm64 trampoline
 * saves. Included by the host and, byte for byte the same, by the arm64 guest kernel patch
 * (scripts/kernel.sh copies it to include/linux/ekprobe_abi_arm64.h for an arm64 guest).
 *
 * abi.h's struct ekp_abi_regs is the x86_64 frame; everything else in abi.h (descriptor, probe
 * table, ring, records, fetch programs) is the same on arm64. On arm64 the frame that the
 * trampolines and the return stub pass to the guest, and that fetch programs' REG operands
 * index, is struct ekp_abi_regs_arm64: the first fields of the kernel's arm64 struct pt_regs,
 * in its order (the guest checks each offset at build time), padded to a multiple of 16 bytes
 * (the stack pointer stays 16-byte aligned). The arm64 guest compiles the shared interpreter
 * (abi_eval.h) with struct ekp_abi_regs meaning this frame, so REG offsets go up to
 * EKP_ABI_ARM64_FRAME_SIZE - 8.
 */
#ifndef EKPROBE_ABI_ARM64_H
#define EKPROBE_ABI_ARM64_H

#ifdef __KERNEL__
#include <linux/ekprobe_abi.h>
#else
#include "abi.h"
#endif

struct ekp_abi_regs_arm64 {
	ekp_u64 regs[31]; /* x0..x30 as the probed code had them (x30: the link register) */
	ekp_u64 sp;       /* the stack pointer at the probe */
	ekp_u64 pc;       /* the probe address (return stub: where the function returned to) */
	ekp_u64 pstate;   /* NZCV | DAIF | CurrentEL | SPSel, as SPSR_EL1 would hold them */
	ekp_u64 orig_x0;  /* the probe's index (return stub: ~0) */
	ekp_u64 reserved; /* 0: keeps the frame 16-byte aligned */
};

#define EKP_ABI_ARM64_FRAME_SIZE 288

#endif
