// SPDX-License-Identifier: GPL-2.0
/*
 * What the guest kernel's own kprobe wrote at its site (ekp_arch.kprobe_site), from the bytes
 * Linux 6.1 writes:
 *  - an int3 kprobe: arch_arm_kprobe() (arch/x86/kernel/kprobes/core.c) pokes one 0xcc over
 *    the probed instruction's first byte;
 *  - an optprobe: arch_optimize_kprobes() (arch/x86/kernel/kprobes/opt.c) pokes a 5-byte
 *    jmp rel32 (0xe9) with text_poke_bp(); the rest of the instructions it displaced stay;
 *  - an ftrace-based kprobe: at a traceable function's entry the image holds `call __fentry__`
 *    (e8 rel32); ftrace_init() makes it the 5-byte NOP (arch/x86/kernel/ftrace.c
 *    ftrace_nop_replace(): x86_nops[5] = 0f 1f 44 00 00), and arming the probe's ftrace ops
 *    makes it a call (e8 rel32) to an ftrace trampoline.
 * text_poke_bp() (arch/x86/kernel/alternative.c) writes an int3 over the first byte, then the
 * tail, then the first byte: a stop between those shows an int3 and part of the new bytes.
 * The bytes compared are the image's whole instructions from kaddr covering at least the 5 an
 * optprobe's jump takes: code beyond them (another site the boot patches) is not a kprobe's.
 */
#include <stdint.h>
#include <string.h>

#include "ekprobe/arch.h"
#include "arch/x86_64/x86_64.h"

#define JMP32_LEN 5

static const uint8_t nop5[JMP32_LEN] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

static int32_t rel32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

/* Whether every byte that differs in [0, n) lies in [0, upto). */
static bool differs_only_below(const uint8_t *a, const uint8_t *b, size_t n, size_t upto)
{
	for (size_t i = upto; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

enum ekp_ksite x86_64_kprobe_site(const uint8_t *image, const uint8_t *live, uint64_t kaddr,
				  uint64_t fentry, size_t *compared)
{
	size_t n = 0;
	bool call_fentry;

	/* Whole instructions of the image, at least an optprobe's jump. */
	while (n < JMP32_LEN) {
		int len = x86_64_insn_len(image + n, EKP_KSITE_BYTES - n, kaddr + n);

		if (len <= 0) {
			n = JMP32_LEN; /* not decodable: the jump's bytes alone */
			break;
		}
		n += (size_t)len;
	}
	*compared = n;
	if (!memcmp(image, live, n))
		return EKP_KSITE_SAME;
	if (live[0] == 0xcc && differs_only_below(image, live, n, 1))
		return EKP_KSITE_INT3;
	if (!differs_only_below(image, live, n, JMP32_LEN))
		return EKP_KSITE_OTHER;
	if (live[0] == 0xcc)
		return EKP_KSITE_POKING; /* text_poke_bp(): int3 first, then the tail, then byte 0 */
	call_fentry = fentry && image[0] == 0xe8 &&
		      kaddr + JMP32_LEN + (uint64_t)(int64_t)rel32(image + 1) == fentry;
	if (call_fentry && !memcmp(live, nop5, JMP32_LEN))
		return EKP_KSITE_FENTRY_NOP;
	if ((call_fentry || !memcmp(image, nop5, JMP32_LEN)) && live[0] == 0xe8)
		return EKP_KSITE_FTRACE;
	if (live[0] == 0xe9)
		return EKP_KSITE_OPTPROBE;
	return EKP_KSITE_OTHER;
}
