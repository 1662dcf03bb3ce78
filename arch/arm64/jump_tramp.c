// SPDX-License-Identifier: GPL-2.0
/* The arm64 trampoline (layout in jump.h): save the frame, call the guest, restore, run the
 * displaced instruction relocated, branch back. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "arch/arm64/jump.h"
#include "ekprobe/abi_arm64.h"
#include "ekprobe/err.h"

_Static_assert(sizeof(struct ekp_abi_regs_arm64) == ARM64_JUMP_FRAME, "frame size");
_Static_assert(EKP_ABI_ARM64_FRAME_SIZE == ARM64_JUMP_FRAME, "frame size");
_Static_assert(offsetof(struct ekp_abi_regs_arm64, sp) == 248, "pt_regs layout");
_Static_assert(offsetof(struct ekp_abi_regs_arm64, pc) == 256, "pt_regs layout");
_Static_assert(offsetof(struct ekp_abi_regs_arm64, pstate) == 264, "pt_regs layout");
_Static_assert(offsetof(struct ekp_abi_regs_arm64, orig_x0) == 272, "pt_regs layout");

#define SP 31
#define XZR 31

/* stp / ldp xa, xb, [sp, #off] (signed offset, 64-bit) */
static uint32_t stp(unsigned int a, unsigned int b, unsigned int off)
{
	return 0xa9000000u | ((off / 8) & 0x7fu) << 15 | b << 10 | SP << 5 | a;
}

static uint32_t ldp(unsigned int a, unsigned int b, unsigned int off)
{
	return 0xa9400000u | ((off / 8) & 0x7fu) << 15 | b << 10 | SP << 5 | a;
}

/* ldr xt, [sp, #off] (unsigned offset) */
static uint32_t ldr_sp(unsigned int t, unsigned int off)
{
	return 0xf9400000u | (off / 8) << 10 | SP << 5 | t;
}

static uint32_t orr(unsigned int d, unsigned int n, unsigned int m)
{
	return 0xaa000000u | m << 16 | n << 5 | d;
}

static uint32_t movz(unsigned int d, uint32_t imm16)
{
	return 0xd2800000u | (imm16 & 0xffffu) << 5 | d;
}

#define SUB_SP_FRAME (0xd1000000u | (uint32_t)ARM64_JUMP_FRAME << 10 | SP << 5 | SP)
#define ADD_SP_FRAME (0x91000000u | (uint32_t)ARM64_JUMP_FRAME << 10 | SP << 5 | SP)
#define ADD_X0_SP_FRAME (0x91000000u | (uint32_t)ARM64_JUMP_FRAME << 10 | SP << 5 | 0)
#define MOV_X0_SP 0x910003e0u           /* add x0, sp, #0 */
#define MRS_NZCV(t) (0xd53b4200u | (t))
#define MRS_DAIF(t) (0xd53b4220u | (t))
#define MRS_CURRENTEL(t) (0xd5384240u | (t))
#define MRS_SPSEL(t) (0xd5384200u | (t))
#define MSR_NZCV(t) (0xd51b4200u | (t))

size_t arm64_trampoline_size(const struct arm64_jump_plan *plan, size_t nr)
{
	uint32_t words[ARM64_JUMP_MAX_COPY];
	uint64_t lit;
	bool has_lit;
	size_t n, code;

	if (!plan || nr < 1 || nr > ARM64_JUMP_MAX_SITE_PROBES)
		return 0;
	/* The copy's length does not depend on where it is (only its reach does). */
	arm64_jump_relocate(&plan->insn, plan->slot_addr + ARM64_JUMP_COPY_OFFSET(nr),
			    plan->slot_addr + ARM64_JUMP_COPY_OFFSET(nr), words, &n, &lit, &has_lit);
	code = ARM64_JUMP_COPY_OFFSET(nr) + 4 * n;
	return ((code + 7) & ~(size_t)7) + 8 + (has_lit ? 8 : 0);
}

static void put32(uint8_t *p, uint32_t w)
{
	p[0] = w & 0xff;
	p[1] = (w >> 8) & 0xff;
	p[2] = (w >> 16) & 0xff;
	p[3] = w >> 24;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int arm64_build_trampoline(const struct arm64_jump_plan *plan, uint64_t slot_addr,
			   uint64_t hit_entry, const uint32_t *indices, size_t nr, uint8_t *buf,
			   size_t buflen, size_t *len)
{
	uint32_t code[ARM64_JUMP_SLOT_SIZE / 4], copy[ARM64_JUMP_MAX_COPY];
	uint64_t copy_addr, lit_addr, pc_lit_addr, lit;
	size_t k = 0, n, total, code_end;
	bool has_lit;
	int err;

	if (!plan || !indices || !buf || !len || nr < 1 || nr > ARM64_JUMP_MAX_SITE_PROBES ||
	    (slot_addr & 15))
		return ekp_err(EINVAL, "bad trampoline arguments");
	for (size_t i = 0; i < nr; i++)
		if (indices[i] > 0xffff)
			return ekp_err(EINVAL, "probe index %u does not fit a movz", indices[i]);
	copy_addr = slot_addr + ARM64_JUMP_COPY_OFFSET(nr);
	/* Literals after the longest copy would be simpler, but exact sizes keep slots small:
	 * place them after the copy's real length (known once relocated; relocate twice). */
	err = arm64_jump_relocate(&plan->insn, copy_addr, copy_addr, copy, &n, &lit, &has_lit);
	if (err && err != -ERANGE)
		return ekp_err_prefix(err, "%s: ", plan->where);
	code_end = ARM64_JUMP_COPY_OFFSET(nr) + 4 * n;
	pc_lit_addr = slot_addr + ((code_end + 7) & ~(size_t)7);
	lit_addr = pc_lit_addr + 8;
	total = (size_t)(lit_addr - slot_addr) + (has_lit ? 8 : 0);
	if (total > buflen)
		return ekp_err(ENOSPC, "a trampoline of %zu bytes does not fit %zu", total, buflen);
	err = arm64_jump_relocate(&plan->insn, copy_addr, lit_addr, copy, &n, &lit, &has_lit);
	if (err)
		return ekp_err_prefix(err, "%s: relocating it into the slot at 0x%" PRIx64 ": ",
				      plan->where, slot_addr);

	/* 1. the frame */
	code[k++] = SUB_SP_FRAME;
	for (unsigned int r = 0; r < 30; r += 2)
		code[k++] = stp(r, r + 1, 8 * r);
	code[k++] = ADD_X0_SP_FRAME;
	code[k++] = stp(30, 0, 240);                         /* x30, sp */
	err = arm64_encode_ldr_lit(0, slot_addr + 4 * k, pc_lit_addr, &code[k]); /* x0 = pc */
	if (err)
		return ekp_err_prefix(err, "%s: ", plan->where);
	k++;
	code[k++] = MRS_NZCV(1);
	code[k++] = MRS_DAIF(2);
	code[k++] = orr(1, 1, 2);
	code[k++] = MRS_CURRENTEL(2);
	code[k++] = orr(1, 1, 2);
	code[k++] = MRS_SPSEL(2);
	code[k++] = orr(1, 1, 2);
	code[k++] = stp(0, 1, 256);                          /* pc, pstate */
	code[k++] = movz(0, indices[0]);
	code[k++] = stp(0, XZR, 272);                        /* orig_x0, reserved */
	/* 2. the calls */
	for (size_t i = 0; i < nr; i++) {
		code[k++] = MOV_X0_SP;
		code[k++] = movz(1, indices[i]);
		err = arm64_encode_b(slot_addr + 4 * k, hit_entry, true, &code[k]);
		if (err)
			return ekp_err_prefix(err, "%s: the guest's hit entry: ", plan->where);
		k++;
	}
	/* 3. restore */
	code[k++] = ldr_sp(0, 264);
	code[k++] = MSR_NZCV(0);
	for (unsigned int r = 0; r < 30; r += 2)
		code[k++] = ldp(r, r + 1, 8 * r);
	code[k++] = ldr_sp(30, 240);
	code[k++] = ADD_SP_FRAME;
	if (4 * k != ARM64_JUMP_COPY_OFFSET(nr))
		return ekp_err(EINVAL, "trampoline layout: %zu bytes before the copy", 4 * k);
	/* 4, 5. the copy and the jump back */
	for (size_t i = 0; i < n; i++)
		code[k++] = copy[i];
	memset(buf, 0, total);
	for (size_t i = 0; i < k; i++)
		put32(buf + 4 * i, code[i]);
	/* padding to the literals: a brk, never executed */
	if (4 * k < (size_t)(pc_lit_addr - slot_addr))
		put32(buf + 4 * k, 0xd4200000u);
	/* 6. the literals */
	put64(buf + (pc_lit_addr - slot_addr), plan->probe_addr);
	if (has_lit)
		put64(buf + (lit_addr - slot_addr), lit);
	*len = total;
	return 0;
}
