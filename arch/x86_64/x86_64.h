/* SPDX-License-Identifier: GPL-2.0 */
#ifndef EKPROBE_ARCH_X86_64_H
#define EKPROBE_ARCH_X86_64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekprobe/arch.h"

/* Register ids of the x86_64 ops table: kprobe_events (pt_regs) names first. */
enum x86_64_reg {
	X86_64_AX, X86_64_BX, X86_64_CX, X86_64_DX, X86_64_SI, X86_64_DI, X86_64_BP, X86_64_SP,
	X86_64_R8, X86_64_R9, X86_64_R10, X86_64_R11, X86_64_R12, X86_64_R13, X86_64_R14,
	X86_64_R15, X86_64_IP, X86_64_FLAGS, X86_64_CS, X86_64_SS, X86_64_ORIG_AX,
	/* Not nameable in kprobe_events; read for the engine's own needs (current task). */
	X86_64_FS_BASE, X86_64_GS_BASE, X86_64_CR3,
	X86_64_NR_REGS,
	X86_64_NR_PUBLIC_REGS = X86_64_ORIG_AX + 1,
};

int x86_64_reg_lookup(const char *name);
const char *x86_64_reg_name(int id);
const char *x86_64_gdb_reg_name(int id);
/* Length of the one instruction at code[0] (at most len bytes, placed at addr); -EINVAL. */
int x86_64_insn_len(const uint8_t *code, size_t len, uint64_t addr);
/* ekp_arch.kprobe_site (kprobe_site.c). */
enum ekp_ksite x86_64_kprobe_site(const uint8_t *image, const uint8_t *live, uint64_t kaddr,
				  uint64_t fentry, size_t *compared);
/*
 * Decoding code[0..len) linearly from addr: 0 if target is an instruction start (or exactly
 * addr + len), -EILSEQ if it falls inside an instruction, -EINVAL if decoding fails before
 * reaching it, -ERANGE if target is outside [addr, addr + len].
 */
int x86_64_insn_boundaries(const uint8_t *code, size_t len, uint64_t addr, uint64_t target);

struct ekp_clock_mark;
struct ekp_ram_layout;
struct ekp_jump_arch;
struct ekp_kaslr_arch;

/* machine.c: QEMU's pc/q35 RAM layout, the guest TSC. */
uint64_t x86_64_ram_below_4g(bool q35, uint64_t ram);
int x86_64_ram_layout(char *const *qemu_argv, uint64_t ram, struct ekp_ram_layout *out);
void x86_64_clock_mark(struct ekp_clock_mark *m);
int x86_64_clock_rate(const struct ekp_clock_mark *since, bool icount, uint64_t *hz);

/* kaslr.c: where a kernel that KASLR moved runs. */
extern const struct ekp_kaslr_arch x86_64_kaslr_arch;

/* jump_site.c: the jump engine's x86_64 half. */
extern const struct ekp_jump_arch x86_64_jump_arch;

#endif
