// SPDX-License-Identifier: GPL-2.0
/*
 * The semantics follow the kernel's trace_probe fetch instructions: a register, stack slot or
 * immediate gives a value; @ADDR and OFFS(...) load from memory; the type sets the final load
 * size and how it is shown. Intermediate loads of nested dereferences are pointer-sized.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/fetch/eval.h"

#define STR_CHUNK 64

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

static int fetch_string(const struct ekp_fetch_ctx *ctx, uint64_t addr, struct ekp_value *out)
{
	size_t have = 0, room = sizeof(out->str) - 1;

	while (have < room) {
		char chunk[STR_CHUNK];
		size_t n = room - have < STR_CHUNK ? room - have : STR_CHUNK;
		int err = ctx->read_mem(ctx->opaque, addr + have, chunk, n);
		char *nul;

		if (err && n > 1) { /* the chunk may cross into an unmapped page: go bytewise */
			err = ctx->read_mem(ctx->opaque, addr + have, chunk, 1);
			n = 1;
		}
		if (err) {
			if (have == 0)
				return err;
			break;
		}
		nul = memchr(chunk, '\0', n);
		if (nul) {
			memcpy(out->str + have, chunk, (size_t)(nul - chunk));
			have += (size_t)(nul - chunk);
			out->str[have] = '\0';
			return 0;
		}
		memcpy(out->str + have, chunk, n);
		have += n;
	}
	out->str[have] = '\0';
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
