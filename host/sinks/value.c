// SPDX-License-Identifier: GPL-2.0
/* Formatting shared by the text and JSON sinks: symbols and argument values. */
#include <errno.h>
#include <inttypes.h>

#include "host/sinks/sink.h"

int ekp_format_sym(struct ekp_buf *out, const struct ekp_symtab *st, uint64_t addr)
{
	struct ekp_sym sym;
	uint64_t off;

	if (st && !ekp_symtab_addr2sym(st, addr, &sym, &off))
		return ekp_buf_printf(out, "%s+0x%" PRIx64, sym.name, off);
	return ekp_buf_printf(out, "0x%" PRIx64, addr);
}

static int64_t sign_extend(uint64_t v, unsigned int size)
{
	unsigned int shift = 64 - 8 * size;

	if (size >= 8)
		return (int64_t)v;
	return (int64_t)(v << shift) >> shift;
}

static int format_one(struct ekp_buf *out, const struct ekp_type *t, uint64_t v,
		      const struct ekp_symtab *st)
{
	switch (t->base) {
	case EKP_T_U:
	case EKP_T_BITFIELD:
		return ekp_buf_printf(out, "%" PRIu64, v);
	case EKP_T_S:
		return ekp_buf_printf(out, "%" PRId64, sign_extend(v, t->size));
	case EKP_T_X:
		return ekp_buf_printf(out, "0x%" PRIx64, v);
	case EKP_T_SYMBOL:
		return ekp_format_sym(out, st, v);
	case EKP_T_STRING:
	case EKP_T_USTRING:
		break;
	}
	return -EINVAL;
}

int ekp_format_value(struct ekp_buf *out, const struct ekp_arg *arg, const struct ekp_value *v,
		     const struct ekp_symtab *st)
{
	const struct ekp_type *t = &arg->type;
	int err = 0;

	if (v->err)
		return ekp_buf_printf(out, "(fault)");
	if (t->base == EKP_T_STRING || t->base == EKP_T_USTRING ||
	    arg->fetch->op == EKP_FETCH_COMM || (arg->fetch->op == EKP_FETCH_IMM && arg->fetch->imm_str))
		return ekp_buf_printf(out, "\"%s%s\"", v->str, v->str_truncated ? "..." : "");
	if (!t->array_len)
		return format_one(out, t, v->u[0], st);
	err = ekp_buf_printf(out, "{");
	for (unsigned int i = 0; !err && i < v->count; i++) {
		if (i)
			err = ekp_buf_printf(out, ",");
		if (!err)
			err = format_one(out, t, v->u[i], st);
	}
	return err ? err : ekp_buf_printf(out, "}");
}
