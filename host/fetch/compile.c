// SPDX-License-Identifier: GPL-2.0
/*
 * Fetch-args -> ABI fetch programs, and records -> struct ekp_value. The compiled program
 * follows host/fetch/eval.c's eval() step by step: a register, stack slot or immediate gives a
 * value; $argN past the registers, $stackN, @ADDR, @SYM and OFFS(...) give an address; an
 * address used as the inner operand of OFFS(...) is loaded pointer-sized, and the final value
 * is a load of the type's size at it. Constant offsets fold into the next load's imm.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ekprobe/err.h"
#include "ekprobe/util.h"
#include "host/fetch/compile.h"

#define TASK_COMM_LEN 16

struct cstate {
	const struct ekp_arch *arch;
	const struct ekp_probe *p;
	unsigned int argi;
	struct ekp_abi_probe *out;
	unsigned int n;      /* instructions needed so far (may exceed the room) */
};


static bool is_string_type(const struct ekp_type *t)
{
	return t->base == EKP_T_STRING || t->base == EKP_T_USTRING;
}

static bool is_imm_string(const struct ekp_arg *a)
{
	return a->fetch->op == EKP_FETCH_IMM && a->fetch->imm_str;
}

/*
 * The slot layout of p: the compiler and the decoder both derive it from p alone, once per
 * probe (ekp_fetch_decoder_init), never per record.
 */
int ekp_fetch_decoder_init(struct ekp_fetch_decoder *d, const struct ekp_probe *p)
{
	unsigned int v = 0, ns = 0, nc = 0;

	memset(d, 0, sizeof(*d));
	if (p->nr_args > EKP_MAX_ARGS)
		return ekp_err(E2BIG, "%u arguments; at most %d", p->nr_args,
			      EKP_MAX_ARGS);
	for (unsigned int i = 0; i < p->nr_args; i++) {
		const struct ekp_arg *a = &p->args[i];
		struct ekp_fetch_slot *sl = &d->slot[i];

		sl->first = v;
		sl->count = 1;
		if (!a->fetch) {
			return ekp_err(EINVAL, "argument %u has no fetch", i + 1);
		} else if (a->fetch->op == EKP_FETCH_COMM) {
			sl->kind = EKP_FETCH_SLOT_COMM;
			nc++;
		} else if (is_imm_string(a)) {
			sl->kind = EKP_FETCH_SLOT_NONE;
			sl->count = 0;
		} else if (is_string_type(&a->type)) {
			sl->kind = EKP_FETCH_SLOT_STRING;
			ns++;
		} else {
			sl->kind = EKP_FETCH_SLOT_INT;
			if (a->type.array_len)
				sl->count = a->type.array_len;
		}
		v += sl->count;
	}
	if (v > EKP_ABI_MAX_VALUES)
		return ekp_err(E2BIG, "needs %u values; a jump-engine record holds %d",
			      v, EKP_ABI_MAX_VALUES);
	d->probe = p;
	d->nr_args = p->nr_args;
	d->nr_values = v;
	d->nr_strings = ns;
	d->nr_comms = nc;
	return 0;
}

static int arg_refuse(struct cstate *c, int err, const char *what)
{
	const struct ekp_arg *a = &c->p->args[c->argi];

	if (!a->text)
		return ekp_err(err, "argument %u: %s", c->argi + 1, what);
	return ekp_err(err, "argument %u '%s': %s", c->argi + 1, a->text, what);
}

static void emit(struct cstate *c, enum ekp_abi_op op, unsigned int size, unsigned int slot,
		 int64_t imm)
{
	if (c->n < EKP_ABI_MAX_INSNS) {
		struct ekp_abi_insn *in = &c->out->insns[c->n];

		in->op = (ekp_u8)op;
		in->size = (ekp_u8)size;
		in->slot = (ekp_u8)slot;
		in->imm = imm;
	}
	c->n++;
}

static int64_t as_s64(uint64_t v)
{
	int64_t s;

	memcpy(&s, &v, sizeof(s));
	return s;
}

static int emit_reg(struct cstate *c, int id)
{
	int off = c->arch->jump->frame_offset(id);

	if (off < 0) {
		char what[96];

		snprintf(what, sizeof(what), "register %%%s is not in the jump engine's frame",
			 c->arch->reg_name && c->arch->reg_name(id) ? c->arch->reg_name(id) : "?");
		return arg_refuse(c, EOPNOTSUPP, what);
	}
	emit(c, EKP_OP_REG, 8, 0, off);
	return 0;
}

/*
 * Emit code leaving in acc either the value of f (*is_addr false) or an address to which
 * *pending is still to be added (*is_addr true); as eval() in host/fetch/eval.c.
 */
static int compile_eval(struct cstate *c, const struct ekp_fetch *f, bool *is_addr,
			uint64_t *pending)
{
	const struct ekp_arch *arch = c->arch;
	bool inner_addr;
	int err;

	*is_addr = false;
	*pending = 0;
	switch (f->op) {
	case EKP_FETCH_REG:
		return emit_reg(c, f->reg);
	case EKP_FETCH_ARG:
		if (f->n >= 1 && f->n <= arch->nr_arg_regs)
			return emit_reg(c, arch->arg_regs[f->n - 1]);
		if (f->n < 1)
			return arg_refuse(c, EINVAL, "bad argument number");
		err = emit_reg(c, arch->sp_reg);
		*pending = (uint64_t)(arch->stack_arg_first_slot + f->n - 1 - arch->nr_arg_regs) *
			   arch->ptr_size;
		*is_addr = true;
		return err;
	case EKP_FETCH_STACK_N:
		err = emit_reg(c, arch->sp_reg);
		*pending = (uint64_t)f->n * arch->ptr_size;
		*is_addr = true;
		return err;
	case EKP_FETCH_STACK:
		return emit_reg(c, arch->sp_reg);
	case EKP_FETCH_RETVAL:
		return emit_reg(c, arch->retval_reg);
	case EKP_FETCH_IMM:
		if (f->imm_str)
			return arg_refuse(c, EINVAL, "an immediate string has no value");
		emit(c, EKP_OP_IMM, 8, 0, as_s64(f->imm));
		return 0;
	case EKP_FETCH_MEM_ADDR:
		emit(c, EKP_OP_IMM, 8, 0, as_s64(f->addr));
		*is_addr = true;
		return 0;
	case EKP_FETCH_MEM_SYM:
		if (!f->resolved)
			return arg_refuse(c, EINVAL, "symbol is not resolved");
		emit(c, EKP_OP_IMM, 8, 0, as_s64(f->addr + (uint64_t)f->sym_off));
		*is_addr = true;
		return 0;
	case EKP_FETCH_DEREF:
		if (!f->inner)
			return arg_refuse(c, EINVAL, "dereference without an operand");
		if (f->user)
			return arg_refuse(c, EOPNOTSUPP,
					  "user-memory dereference ('u') is not supported by the "
					  "jump engine (the guest reads kernel memory only)");
		err = compile_eval(c, f->inner, &inner_addr, pending);
		if (err)
			return err;
		if (inner_addr) {
			emit(c, EKP_OP_DEREF, 8, 0, as_s64(*pending));
			*pending = 0;
		}
		*pending += (uint64_t)f->offset;
		*is_addr = true;
		return 0;
	case EKP_FETCH_COMM:
		break;
	}
	return arg_refuse(c, EINVAL, "unexpected fetch operation");
}

static int compile_arg(struct cstate *c, const struct ekp_fetch_slot *pl, unsigned int str_size)
{
	const struct ekp_arg *a = &c->p->args[c->argi];
	const struct ekp_type *t = &a->type;
	bool is_addr;
	uint64_t pending;
	int err;

	switch (pl->kind) {
	case EKP_FETCH_SLOT_NONE:
		return 0;
	case EKP_FETCH_SLOT_COMM:
		emit(c, EKP_OP_COMM, TASK_COMM_LEN, pl->first, 0);
		return 0;
	case EKP_FETCH_SLOT_STRING:
		if (t->base == EKP_T_USTRING)
			return arg_refuse(c, EOPNOTSUPP,
					  "type ustring is not supported by the jump engine (the "
					  "guest reads kernel memory only)");
		err = compile_eval(c, a->fetch, &is_addr, &pending);
		if (err)
			return err;
		/* As in the kernel, "+0(%si):string" reads the string at si+0 itself. */
		emit(c, EKP_OP_STRING, str_size, pl->first, as_s64(pending));
		return 0;
	case EKP_FETCH_SLOT_INT:
		break;
	}
	if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
		return arg_refuse(c, EINVAL, "bad type size");
	for (unsigned int i = 0; i < pl->count; i++) {
		err = compile_eval(c, a->fetch, &is_addr, &pending);
		if (err)
			return err;
		if (is_addr) {
			emit(c, EKP_OP_LOAD, t->size, pl->first + i,
			     as_s64(pending + (uint64_t)i * t->size));
		} else if (pl->count > 1) {
			return arg_refuse(c, EINVAL, "an array needs a memory fetch");
		} else if (pending) {
			emit(c, EKP_OP_ADD, 8, 0, as_s64(pending));
		}
		emit(c, EKP_OP_STORE, 8, pl->first + i, 0);
	}
	return 0;
}

int ekp_fetch_compile(const struct ekp_probe *p, const struct ekp_arch *arch,
		      struct ekp_abi_probe *out, struct ekp_fetch_decoder *dec)
{
	struct ekp_fetch_decoder local, *d = dec ? dec : &local;
	unsigned int ns, nc, share = 0, need;
	struct cstate c;
	int err;

	memset(out, 0, sizeof(*out));
	memset(d, 0, sizeof(*d));
	if (!arch || !arch->jump || arch->ptr_size != 8)
		return ekp_err(EOPNOTSUPP, "no jump engine frame for this architecture");
	if (!p->resolved)
		return ekp_err(EINVAL, "the probe's address is not resolved");
	err = ekp_fetch_decoder_init(d, p);
	if (err)
		return err;
	ns = d->nr_strings;
	nc = d->nr_comms;
	/* Strings split what $comm leaves of the record's data. */
	need = nc * TASK_COMM_LEN;
	if (need > EKP_ABI_DATA)
		return ekp_err(E2BIG,
			      "%u $comm arguments need %u bytes; a jump-engine record holds %d",
			      nc, need, EKP_ABI_DATA);
	if (ns) {
		share = (EKP_ABI_DATA - need) / ns;
		if (share > 255)
			share = 255;
		if (share < 1)
			return ekp_err(E2BIG,
				      "%u strings and %u $comm do not fit the %d bytes of string "
				      "data of a jump-engine record", ns, nc, EKP_ABI_DATA);
	}

	memset(&c, 0, sizeof(c));
	c.arch = arch;
	c.p = p;
	c.out = out;
	for (c.argi = 0; c.argi < p->nr_args; c.argi++) {
		err = compile_arg(&c, &d->slot[c.argi], share);
		if (err)
			goto fail;
	}
	if (c.n > EKP_ABI_MAX_INSNS) {
		err = ekp_err(E2BIG,
			     "needs %u fetch instructions; a jump-engine probe holds %d", c.n,
			     EKP_ABI_MAX_INSNS);
		goto fail;
	}
	out->addr = p->addr;
	out->flags = EKP_PROBE_F_ACTIVE | (p->kind == EKP_PROBE_RETURN ? EKP_PROBE_F_RETURN : 0);
	out->nr_insns = (ekp_u16)c.n;
	out->nr_values = (ekp_u16)d->nr_values;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	memset(d, 0, sizeof(*d));
	return err;
}

/* The string of a STRING/COMM slot: 0, or -EPROTO when it does not lie inside data. */
static int decode_string(const struct ekp_abi_record *r, unsigned int slot, char *dst,
			 size_t dstlen, bool *truncated)
{
	ekp_u64 v = r->values[slot];
	unsigned int off = EKP_FETCH_STR_OFF(v), len = EKP_FETCH_STR_LEN(v);

	if (v >> 32)
		return ekp_err(EPROTO, "string value %u: junk in the upper bits (0x%llx)", slot,
			       (unsigned long long)v);
	if (off > EKP_ABI_DATA || len > EKP_ABI_DATA - off || len >= dstlen)
		return ekp_err(EPROTO, "string value %u: offset %u length %u outside the %d "
			       "data bytes", slot, off, len, EKP_ABI_DATA);
	memcpy(dst, r->data + off, len);
	dst[len] = '\0';
	*truncated = EKP_FETCH_STR_TRUNC(v);
	return 0;
}

int ekp_fetch_from_record(const struct ekp_fetch_decoder *d, const struct ekp_abi_record *r,
			  struct ekp_value *values, unsigned int nr_values)
{
	const struct ekp_probe *p = d->probe;
	unsigned int nv = d->nr_values;
	bool trunc;
	int err;

	if (!p || d->nr_args != p->nr_args || nv > EKP_ABI_MAX_VALUES)
		return ekp_err(EINVAL, "the decoder was not set up by ekp_fetch_decoder_init()");
	/* One value per argument: the caller's array must hold them all. */
	if (d->nr_args > nr_values)
		return ekp_err(E2BIG, "the probe has %u arguments; the caller's array holds %u "
			       "values", d->nr_args, nr_values);
	if (r->nr_values != nv)
		return ekp_err(EPROTO, "record has %u values; the probe's program stores %u",
			       r->nr_values, nv);
	if (nv < 32 && r->fault_mask >> nv)
		return ekp_err(EPROTO, "record fault mask 0x%x names values past %u",
			       r->fault_mask, nv);
	for (unsigned int i = 0; i < d->nr_args; i++) {
		const struct ekp_arg *a = &p->args[i];
		const struct ekp_type *t = &a->type;
		const struct ekp_fetch_slot *pl = &d->slot[i];
		struct ekp_value *out = &values[i];
		bool faulted = false;

		memset(out, 0, sizeof(*out));
		out->count = 1;
		for (unsigned int k = 0; k < pl->count; k++)
			if (r->fault_mask & (1u << (pl->first + k)))
				faulted = true;
		switch (pl->kind) {
		case EKP_FETCH_SLOT_NONE:
			snprintf(out->str, sizeof(out->str), "%s", a->fetch->imm_str);
			continue;
		case EKP_FETCH_SLOT_COMM:
			/* As ekp_fetch_arg(): a task it could not read is "<...>", and a comm
			 * is complete however long (at most TASK_COMM_LEN bytes). */
			if (faulted) {
				snprintf(out->str, sizeof(out->str), "<...>");
				continue;
			}
			err = decode_string(r, pl->first, out->str, TASK_COMM_LEN + 1, &trunc);
			if (err)
				return err;
			continue;
		case EKP_FETCH_SLOT_STRING:
			if (faulted) {
				out->err = -EFAULT;
				continue;
			}
			err = decode_string(r, pl->first, out->str, sizeof(out->str), &trunc);
			if (err)
				return err;
			out->str_truncated = trunc;
			continue;
		case EKP_FETCH_SLOT_INT:
			break;
		}
		if (faulted) {
			out->err = -EFAULT;
			continue;
		}
		out->count = t->array_len ? pl->count : 1;
		for (unsigned int k = 0; k < pl->count; k++) {
			uint64_t x = r->values[pl->first + k];

			if (t->base == EKP_T_BITFIELD) {
				x >>= t->bf_offset < 64 ? t->bf_offset : 63;
				if (t->bf_width < 64)
					x &= (1ull << t->bf_width) - 1;
			} else if (t->size < 8) {
				x &= (1ull << (8 * t->size)) - 1;
			}
			out->u[k] = x;
		}
	}
	return 0;
}
