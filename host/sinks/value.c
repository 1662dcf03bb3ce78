// SPDX-License-Identifier: GPL-2.0
/* Formatting shared by the text and JSON sinks: guest strings, symbols and argument values. */
#include <errno.h>
#include <inttypes.h>

#include "host/sinks/sink.h"

/*
 * Length of the valid UTF-8 sequence at p (1 to 4), or 0 when p does not start one: a stray
 * continuation byte, an overlong form, a UTF-16 surrogate, a code point above U+10FFFF, or a
 * sequence cut short (by the terminating NUL too, which stops the look-ahead).
 */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		lo = p[0] == 0xe0 ? 0xa0 : lo;
		hi = p[0] == 0xed ? 0x9f : hi;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		lo = p[0] == 0xf0 ? 0x90 : lo;
		hi = p[0] == 0xf4 ? 0x8f : hi;
	} else {
		return 0;
	}
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* The letter of the escape for c: \n \r \t \\ \", or 0. */
static char named_escape(unsigned char c)
{
	switch (c) {
	case '\n': return 'n';
	case '\r': return 'r';
	case '\t': return 't';
	case '\\': return '\\';
	case '"': return '"';
	}
	return 0;
}

int ekp_format_escaped(struct ekp_buf *out, const char *str)
{
	const unsigned char *p = (const unsigned char *)str;
	int err = 0;

	while (*p && !err) {
		size_t n = utf8_len(p);

		if (named_escape(*p)) {
			err = ekp_buf_printf(out, "\\%c", named_escape(*p++));
		} else if (n == 1 && *p >= 0x20 && *p != 0x7f) {
			err = ekp_buf_append(out, p++, 1);
		} else if (n > 1 && !(p[0] == 0xc2 && p[1] < 0xa0)) {
			err = ekp_buf_append(out, p, n); /* valid UTF-8, not a C1 control */
			p += n;
		} else {
			/* A control character (C0, DEL, C1), or a byte that is not UTF-8: \xNN each. */
			for (size_t i = 0; i < (n ? n : 1) && !err; i++)
				err = ekp_buf_printf(out, "\\x%02x", *p++);
		}
	}
	return err;
}

int ekp_format_sym(struct ekp_buf *out, const struct ekp_symtab *st, uint64_t addr)
{
	struct ekp_sym sym;
	uint64_t off;
	int err;

	if (st && !ekp_symtab_addr2sym(st, addr, &sym, &off)) {
		/* The name comes from a file ekprobe did not make: escaped as guest strings are. */
		err = ekp_format_escaped(out, sym.name);
		return err ?: ekp_buf_printf(out, "+0x%" PRIx64, off);
	}
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

bool ekp_value_is_string(const struct ekp_arg *arg)
{
	return arg->type.base == EKP_T_STRING || arg->type.base == EKP_T_USTRING ||
	       arg->fetch->op == EKP_FETCH_COMM ||
	       (arg->fetch->op == EKP_FETCH_IMM && arg->fetch->imm_str);
}

int ekp_format_value(struct ekp_buf *out, const struct ekp_arg *arg, const struct ekp_value *v,
		     const struct ekp_symtab *st)
{
	const struct ekp_type *t = &arg->type;
	int err = 0;

	if (v->err)
		return ekp_buf_printf(out, "(fault)");
	if (ekp_value_is_string(arg)) {
		err = ekp_buf_printf(out, "\"");
		err = err ?: ekp_format_escaped(out, v->str);
		return err ?: ekp_buf_printf(out, "%s\"", v->str_truncated ? "..." : "");
	}
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
