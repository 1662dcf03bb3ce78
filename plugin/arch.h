/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The plugin's per-architecture half: which QEMU register (by the name QEMU's gdbstub gives it)
 * fills each word of the frame that the fetch programs read (the ABI's struct ekp_abi_regs for
 * the arch, the frame the jump engine's trampolines push), and what the current-task lookup
 * needs. One table per architecture; the header's arch field picks it.
 */
#ifndef EKPROBE_PLUGIN_ARCH_H
#define EKPROBE_PLUGIN_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#define EKP_TCG_FRAME_WORDS 21

enum ekp_tcg_frame_special {
	EKP_TCG_FRAME_REG,      /* a register read from QEMU */
	EKP_TCG_FRAME_INDEX,    /* the probe's table index (x86_64: orig_ax) */
	EKP_TCG_FRAME_PC,       /* the probe address (return: where the function returned to) */
};

struct ekp_tcg_arch {
	unsigned int frame_words;
	struct {
		const char *reg;                /* QEMU's register name, for EKP_TCG_FRAME_REG */
		enum ekp_tcg_frame_special kind;
	} frame[EKP_TCG_FRAME_WORDS];
	const char *sp, *mode, *percpu_base;  /* stack pointer, the register that tells the
					       * privilege level, the per-CPU base (current) */
	/* True when the mode register's value says kernel mode. */
	bool (*kernel_mode)(uint64_t mode);
	bool (*kernel_addr)(uint64_t addr);
	unsigned int sp_word;                 /* the frame word of the stack pointer */
	unsigned int ret_addr_bytes;          /* the return address sits at [sp] at entry */
};

extern const struct ekp_tcg_arch ekp_tcg_arch_x86_64;

#endif
