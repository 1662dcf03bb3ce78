// SPDX-License-Identifier: GPL-2.0
/*
 * x86_64 jump-engine trampolines: the 5-byte jmp, the relocated copy of the displaced
 * instructions, and the register-saving slot around `call hit_entry` (layout in jump.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "arch/x86_64/jump.h"
#include "ekprobe/abi.h"
#include "ekprobe/err.h"

_Static_assert(sizeof(struct ekp_abi_regs) == 21 * 8, "pt_regs layout");
_Static_assert(offsetof(struct ekp_abi_regs, orig_ax) == 15 * 8, "pt_regs layout");
_Static_assert(offsetof(struct ekp_abi_regs, ss) == 20 * 8, "pt_regs layout");
_Static_assert(X86_64_JUMP_SLOT_BYTES(1) == 176, "slot size for one index");
_Static_assert(X86_64_JUMP_SLOT_SIZE >= X86_64_JUMP_COPY_OFFSET(X86_64_JUMP_MAX_SITE_PROBES) +
	       X86_64_JUMP_MAX_COPY + X86_64_JUMP_LEN, "slot size for the most indices");

/* to - (from + insn_len) as rel32, or false. Unsigned arithmetic: no overflow UB. */
static bool rel32(uint64_t from_end, uint64_t to, int32_t *out)
{
	uint64_t d = to - from_end;

	if (d + 0x80000000ull > 0xffffffffull)
		return false;
	*out = (int32_t)(uint32_t)d;
	return true;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int x86_64_encode_jmp5(uint64_t from, uint64_t to, uint8_t out[X86_64_JUMP_LEN])
{
	int32_t rel;

	if (!rel32(from + X86_64_JUMP_LEN, to, &rel))
		return ekp_err(ERANGE, "jmp from 0x%" PRIx64 " to 0x%" PRIx64
			       " is beyond rel32 reach (+-2 GiB)", from, to);
	out[0] = 0xe9;
	put32(out + 1, (uint32_t)rel);
	return 0;
}

struct emit {
	uint8_t *buf;
	size_t len, cap;
	bool overflow;
};

static void emit(struct emit *e, const void *p, size_t n)
{
	if (e->overflow || n > e->cap - e->len) {
		e->overflow = true;
		return;
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void emit1(struct emit *e, uint8_t b)
{
	emit(e, &b, 1);
}

static void emit32(struct emit *e, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	emit(e, b, 4);
}

int x86_64_jump_relocate(const struct x86_64_jump_plan *plan, uint64_t copy_addr, uint8_t *out,
			 size_t outlen, size_t *len)
{
	struct emit e = { out, 0, outlen, false };
	int32_t rel;

	if (!plan || !out || !len || plan->nr_insns > X86_64_JUMP_MAX_INSNS)
		return ekp_err(EINVAL, "relocating a jump site: bad arguments");
	for (uint32_t i = 0; i < plan->nr_insns; i++) {
		const struct x86_64_jump_insn *in = &plan->insns[i];
		uint64_t at = copy_addr + e.len;
		uint8_t bytes[16];
		size_t n;

		switch (in->kind) {
		case X86_64_JUMP_INSN_PLAIN:
		case X86_64_JUMP_INSN_RET:
			emit(&e, in->bytes, in->len);
			break;
		case X86_64_JUMP_INSN_RIPREL:
			if (in->len > sizeof(bytes) || in->disp_off + 4u > in->len)
				return ekp_err(EINVAL, "jump site at %s: bad plan", plan->where);
			if (!rel32(at + in->len, in->target, &rel))
				return ekp_err(ERANGE, "jump site at %s: the RIP-relative operand of %s "
					       "(0x%" PRIx64 ") is beyond disp32 reach of the trampoline "
					       "copy at 0x%" PRIx64, plan->where, in->text, in->target,
					       at);
			memcpy(bytes, in->bytes, in->len);
			put32(bytes + in->disp_off, (uint32_t)rel);
			emit(&e, bytes, in->len);
			break;
		case X86_64_JUMP_INSN_JCC:
		case X86_64_JUMP_INSN_JMP:
		case X86_64_JUMP_INSN_CALL:
			n = in->kind == X86_64_JUMP_INSN_JCC ? 6 : 5;
			if (!rel32(at + n, in->target, &rel))
				return ekp_err(ERANGE, "jump site at %s: the target of %s is beyond rel32 "
					       "reach of the trampoline copy at 0x%" PRIx64,
					       plan->where, in->text, at);
			if (in->kind == X86_64_JUMP_INSN_JCC) {
				emit1(&e, 0x0f);
				emit1(&e, (uint8_t)(0x80 | (in->cc & 0xf)));
			} else {
				emit1(&e, in->kind == X86_64_JUMP_INSN_JMP ? 0xe9 : 0xe8);
			}
			emit32(&e, (uint32_t)rel);
			break;
		case X86_64_JUMP_INSN_DEAD:
			break;
		default:
			return ekp_err(EINVAL, "jump site at %s: bad plan", plan->where);
		}
		if (e.overflow)
			return ekp_err(ENOSPC, "jump site at %s: the relocated copy needs more than "
				       "%zu bytes", plan->where, outlen);
	}
	*len = e.len;
	return 0;
}

size_t x86_64_trampoline_size(const struct x86_64_jump_plan *plan, size_t nr_indices)
{
	if (!nr_indices || nr_indices > X86_64_JUMP_MAX_SITE_PROBES)
		return 0;
	return X86_64_JUMP_COPY_OFFSET(nr_indices) + plan->copy_len +
	       (plan->falls_through ? X86_64_JUMP_LEN : 0);
}

/* push a 64-bit value with a fixed-size encoding: push $lo (sign-extended); movl $hi, 4(%rsp) */
static void emit_push64(struct emit *e, uint64_t v)
{
	static const uint8_t movl_hi[] = { 0xc7, 0x44, 0x24, 0x04 };

	emit1(e, 0x68);
	emit32(e, (uint32_t)v);
	emit(e, movl_hi, sizeof(movl_hi));
	emit32(e, (uint32_t)(v >> 32));
}

/* mov $index, %esi; call hit_entry (rel32 from where it is emitted) */
static int emit_call(struct emit *e, const struct x86_64_jump_plan *plan, uint64_t slot_addr,
		     uint64_t hit_entry, uint32_t index)
{
	int32_t rel;

	emit1(e, 0xbe);
	emit32(e, index);
	if (!rel32(slot_addr + e->len + 5, hit_entry, &rel))
		return ekp_err(ERANGE, "jump site at %s: hit_entry 0x%" PRIx64 " is beyond rel32 "
			       "reach of the slot at 0x%" PRIx64, plan->where, hit_entry, slot_addr);
	emit1(e, 0xe8);
	emit32(e, (uint32_t)rel);
	return 0;
}

int x86_64_build_trampoline(const struct x86_64_jump_plan *plan, uint64_t slot_addr,
			    uint64_t hit_entry, const uint32_t *indices, size_t nr_indices,
			    uint8_t *buf, size_t buflen, size_t *len)
{
	/* ss, then the probe site's sp: push %rsp stores sp - 8, fixed once flags are saved. */
	static const uint8_t head[] = {
		0x6a, X86_64_KERNEL_DS,			/* push $__KERNEL_DS		(ss) */
		0x54,					/* push %rsp			(sp - 8) */
		0x9c,					/* pushfq			(flags) */
		0x48, 0x83, 0x44, 0x24, 0x08, 0x08,	/* addq $8, 8(%rsp)		(sp) */
		0x6a, X86_64_KERNEL_CS,			/* push $__KERNEL_CS		(cs) */
	};
	static const uint8_t save[] = {
		0x57, 0x56, 0x52, 0x51, 0x50,		/* push %rdi %rsi %rdx %rcx %rax */
		0x41, 0x50, 0x41, 0x51, 0x41, 0x52, 0x41, 0x53, /* push %r8 %r9 %r10 %r11 */
		0x53, 0x55,				/* push %rbx %rbp */
		0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, /* push %r12 %r13 %r14 %r15 */
		0x48, 0x89, 0xe7,			/* mov %rsp, %rdi		(frame) */
		0x48, 0x89, 0xe3,			/* mov %rsp, %rbx		(callee-saved) */
		0x48, 0x83, 0xe4, 0xf0,			/* and $-16, %rsp */
	};
	static const uint8_t restore[] = {
		0x48, 0x89, 0xdc,			/* mov %rbx, %rsp */
		0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, /* pop %r15 %r14 %r13 %r12 */
		0x5d, 0x5b,				/* pop %rbp %rbx */
		0x41, 0x5b, 0x41, 0x5a, 0x41, 0x59, 0x41, 0x58, /* pop %r11 %r10 %r9 %r8 */
		0x58, 0x59, 0x5a, 0x5e, 0x5f,		/* pop %rax %rcx %rdx %rsi %rdi */
		0x48, 0x83, 0xc4, 0x18,			/* add $24, %rsp		(orig_ax ip cs) */
		0x9d,					/* popfq */
		0x48, 0x8d, 0x64, 0x24, 0x10,		/* lea 16(%rsp), %rsp		(sp ss) */
	};
	static const uint8_t reload_frame[] = {
		0x48, 0x89, 0xdf,			/* mov %rbx, %rdi		(frame) */
	};
	uint8_t tmp[X86_64_JUMP_SLOT_SIZE];
	struct emit e = { tmp, 0, sizeof(tmp), false };
	size_t copy_len = 0;
	int32_t rel;
	int err;

	_Static_assert(sizeof(reload_frame) + 10 == X86_64_JUMP_CALL_LEN, "further call length");

	if (!plan || !buf || !len || !indices || plan->nr_insns > X86_64_JUMP_MAX_INSNS)
		return ekp_err(EINVAL, "building a trampoline: bad arguments");
	if (!nr_indices || nr_indices > X86_64_JUMP_MAX_SITE_PROBES)
		return ekp_err(EINVAL, "building a trampoline: %zu probe indices (1 to %d)",
			       nr_indices, X86_64_JUMP_MAX_SITE_PROBES);
	emit(&e, head, sizeof(head));
	emit_push64(&e, plan->probe_addr);			/* ip */
	emit_push64(&e, indices[0]);				/* orig_ax */
	emit(&e, save, sizeof(save));
	/* The hit entry keeps %rbx (C ABI) and leaves %rsp as it found it: 16-aligned again. */
	for (size_t k = 0; k < nr_indices; k++) {
		if (k)
			emit(&e, reload_frame, sizeof(reload_frame));
		err = emit_call(&e, plan, slot_addr, hit_entry, indices[k]);
		if (err)
			return err;
	}
	emit(&e, restore, sizeof(restore));
	if (e.overflow || e.len != X86_64_JUMP_COPY_OFFSET(nr_indices))
		return ekp_err(EINVAL, "building a trampoline: internal layout error");

	err = x86_64_jump_relocate(plan, slot_addr + e.len, tmp + e.len, sizeof(tmp) - e.len,
				   &copy_len);
	if (err)
		return err;
	e.len += copy_len;
	if (plan->falls_through) {
		uint64_t back = plan->jump_addr + plan->displaced_len;

		if (!rel32(slot_addr + e.len + X86_64_JUMP_LEN, back, &rel))
			return ekp_err(ERANGE, "jump site at %s: the jump back to 0x%" PRIx64
				       " is beyond rel32 reach of the slot at 0x%" PRIx64,
				       plan->where, back, slot_addr);
		emit1(&e, 0xe9);
		emit32(&e, (uint32_t)rel);
	}
	if (e.overflow)
		return ekp_err(EINVAL, "building a trampoline: internal layout error");
	if (e.len > buflen)
		return ekp_err(ENOSPC, "jump site at %s: the trampoline needs %zu bytes, the slot "
			       "has %zu", plan->where, e.len, buflen);
	memcpy(buf, tmp, e.len);
	*len = e.len;
	return 0;
}
