// SPDX-License-Identifier: GPL-2.0
/*
 * The semantics follow the kernel's trace_probe fetch instructions: a register, stack slot or
 * immediate gives a value; @ADDR and OFFS(...) load from memory; the type sets the final load
 * size and how it is shown. Intermediate loads of nested dereferences are pointer-sized.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ekprobe/abi.h"
#include "host/fetch/eval.h"

#define STR_CHUNK 64       /* string reads up to the 255 bytes kept */
#define STR_CHUNK_MAX 1024 /* past them: only looking for the NUL */

static int reg_value(const struct ekp_fetch_ctx *ctx, int id, uint64_t *v)
{
	if (id < 0 || id >= EKP_MAX_REGS || !(ctx->regs->valid & (1ull << id)))
		return -ENODATA;
	*v = ctx->regs->val[id];
	return 0;
}

static int load(const struct ekp_fetch_ctx *ctx, uint64_t addr, unsigned int size, uint64_t *v)
{
	uint8_t buf[8] = { 0 };
	int err;

	err = ctx->read_mem(ctx->opaque, addr, buf, size);
	if (err)
		return err;
	*v = 0;
	for (unsigned int i = 0; i < size; i++) /* guest is little-endian (x86_64, arm64) */
		*v |= (uint64_t)buf[i] << (8 * i);
	return 0;
}

/* The address a memory-type fetch refers to, or the value of a value-type fetch. */
static int eval(const struct ekp_fetch_ctx *ctx, const struct ekp_fetch *f, bool *is_addr,
		uint64_t *v)
{
	const struct ekp_arch *arch = ctx->arch;
	uint64_t base;
	bool inner_addr;
	int err;

	*is_addr = false;
	switch (f->op) {
	case EKP_FETCH_REG:
		return reg_value(ctx, f->reg, v);
	case EKP_FETCH_ARG:
		if (f->n >= 1 && f->n <= arch->nr_arg_regs)
			return reg_value(ctx, arch->arg_regs[f->n - 1], v);
		err = reg_value(ctx, arch->sp_reg, &base);
		if (err)
			return err;
		*v = base + (uint64_t)(arch->stack_arg_first_slot + f->n - 1 - arch->nr_arg_regs) *
				    arch->ptr_size;
		*is_addr = true;
		return 0;
	case EKP_FETCH_STACK_N:
		err = reg_value(ctx, arch->sp_reg, &base);
		if (err)
			return err;
		*v = base + (uint64_t)f->n * arch->ptr_size;
		*is_addr = true;
		return 0;
	case EKP_FETCH_STACK:
		return reg_value(ctx, arch->sp_reg, v);
	case EKP_FETCH_RETVAL:
		return reg_value(ctx, arch->retval_reg, v);
	case EKP_FETCH_IMM:
		*v = f->imm;
		return 0;
	case EKP_FETCH_MEM_ADDR:
		*v = f->addr;
		*is_addr = true;
		return 0;
	case EKP_FETCH_MEM_SYM:
		if (!f->resolved)
			return -ENODATA;
		*v = f->addr + (uint64_t)f->sym_off;
		*is_addr = true;
		return 0;
	case EKP_FETCH_DEREF:
		if (!f->inner)
			return -EINVAL;
		err = eval(ctx, f->inner, &inner_addr, &base);
		if (err)
			return err;
		if (inner_addr) {
			err = load(ctx, base, arch->ptr_size, &base);
			if (err)
				return err;
		}
		*v = base + (uint64_t)f->offset;
		*is_addr = true;
		return 0;
	case EKP_FETCH_COMM:
		return -EINVAL; /* handled by the caller: it is a string */
	}
	return -EINVAL;
}

/*
 * A NUL-terminated string, as the kernel's kprobe events read one (strncpy_from_kernel_nofault
 * over MAX_STRING_SIZE bytes) and as the jump engine's guest does (include/ekprobe/abi_eval.h):
 * read up to the NUL, at most EKP_ABI_STR_SCAN bytes; any byte of those that cannot be read
 * makes the whole value a fault. Up to 255 characters are kept; truncated: there were more, or
 * no NUL in the scan. Reads never cross a page in one call, so an unreadable page fails the
 * read that reaches it and nothing before it.
 */
static int fetch_string(const struct ekp_fetch_ctx *ctx, uint64_t addr, struct ekp_value *out)
{
	size_t have = 0, room = sizeof(out->str) - 1;

	while (have < EKP_ABI_STR_SCAN) {
		char chunk[STR_CHUNK_MAX];
		uint64_t at = addr + have, page_left = 4096 - (at & 4095);
		size_t n = have <= room ? STR_CHUNK : STR_CHUNK_MAX;
		int err;

		if (n > EKP_ABI_STR_SCAN - have)
			n = EKP_ABI_STR_SCAN - have;
		if (n > page_left)
			n = (size_t)page_left;
		err = ctx->read_mem(ctx->opaque, at, chunk, n);
		if (err && n > 1) { /* a reader finer than pages: find the byte that fails */
			n = 1;
			err = ctx->read_mem(ctx->opaque, at, chunk, 1);
		}
		if (err) {
			memset(out->str, 0, sizeof(out->str));
			return err;
		}
		for (size_t i = 0; i < n; i++, have++) {
			if (!chunk[i]) {
				out->str[have < room ? have : room] = '\0';
				out->str_truncated = have > room;
				return 0;
			}
			if (have < room)
				out->str[have] = chunk[i];
		}
	}
	out->str[room] = '\0';
	out->str_truncated = true;
	return 0;
}

int ekp_fetch_arg(const struct ekp_fetch_ctx *ctx, const struct ekp_arg *arg,
		  struct ekp_value *out)
{
	const struct ekp_type *t = &arg->type;
	unsigned int n = t->array_len ? t->array_len : 1;
	bool is_addr;
	uint64_t v;
	int err;

	memset(out, 0, sizeof(*out));
	out->count = 1;
	if (arg->fetch->op == EKP_FETCH_COMM) {
		snprintf(out->str, sizeof(out->str), "%s",
			 ctx->task && ctx->task->known ? ctx->task->comm : "<...>");
		return 0;
	}
	if (arg->fetch->op == EKP_FETCH_IMM && arg->fetch->imm_str) {
		snprintf(out->str, sizeof(out->str), "%s", arg->fetch->imm_str);
		return 0;
	}
	err = eval(ctx, arg->fetch, &is_addr, &v);
	if (err == -EFAULT) {
		out->err = err;
		return 0;
	}
	if (err)
		return err == -ENODATA ? (out->err = -EFAULT, 0) : err;

	if (t->base == EKP_T_STRING || t->base == EKP_T_USTRING) {
		/* As in the kernel, "+0(%si):string" reads the string at si+0 itself. */
		err = fetch_string(ctx, v, out);
		if (err)
			out->err = err;
		return 0;
	}
	if (!is_addr) {
		out->u[0] = v;
	} else {
		out->count = n;
		for (unsigned int i = 0; i < n; i++) {
			err = load(ctx, v + (uint64_t)i * t->size, t->size, &out->u[i]);
			if (err) {
				out->err = err;
				return 0;
			}
		}
	}
	for (unsigned int i = 0; i < out->count; i++) {
		uint64_t x = out->u[i];

		if (t->base == EKP_T_BITFIELD) {
			x >>= t->bf_offset;
			if (t->bf_width < 64)
				x &= (1ull << t->bf_width) - 1;
		} else if (t->size < 8) {
			x &= (1ull << (8 * t->size)) - 1;
		}
		out->u[i] = x;
	}
	return 0;
}

static bool fetch_reads_memory(const struct ekp_fetch *f, const struct ekp_arch *arch)
{
	switch (f->op) {
	case EKP_FETCH_MEM_ADDR: case EKP_FETCH_MEM_SYM: case EKP_FETCH_DEREF:
	case EKP_FETCH_STACK_N:
		return true;
	case EKP_FETCH_ARG:
		return f->n > arch->nr_arg_regs;
	default:
		return false;
	}
}

bool ekp_probe_reads_memory(const struct ekp_probe *p, const struct ekp_arch *arch)
{
	for (unsigned int i = 0; i < p->nr_args; i++) {
		const struct ekp_arg *a = &p->args[i];

		if (a->type.base == EKP_T_STRING || a->type.base == EKP_T_USTRING)
			return true;
		if (fetch_reads_memory(a->fetch, arch))
			return true;
	}
	return false;
}
