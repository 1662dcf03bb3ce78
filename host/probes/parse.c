// SPDX-License-Identifier: GPL-2.0
/*
 * One kprobe_events definition -> struct ekp_probe. Pure: no symbols, no I/O.
 *
 * The accepted language and its limits follow Linux 6.1 (kernel/trace/trace_kprobe.c
 * __trace_kprobe_create, kernel/trace/trace_probe.c, Documentation/trace/kprobetrace.rst),
 * so that a list accepted here is also accepted by the kernel's kprobe_events:
 *
 *  - The line is split at whitespace (space \t \n \v \f \r) like the kernel's argv_split();
 *    there is no quoting, so an immediate string \"..." cannot hold whitespace.
 *  - p[:[GRP/][EVENT]], r[MAXACTIVE][:[GRP/][EVENT]]; GRP may also be separated by '.'
 *    ("p:grp.ev"). MAXACTIVE is 1..4096 (base 0: 0x.. hex, 0.. octal), 'p' takes none.
 *    Names are C identifiers shorter than 64; a group may also hold '-'.
 *  - [MOD:]SYM[+offs][%return] or MEMADDR. offs is 0..UINT_MAX (base 0); '%return' turns a
 *    'p' into a return probe; a return probe on a symbol needs offset 0.
 *  - Default event name: "%c_%s_%ld" of 'p'/'r', "MOD:SYM" and the offset, cut to 63 chars,
 *    ':' and '.' then made '_' (p_do_sys_open_0, r_ext4_ext4_sync_fs_0, p_foo_isra_0_16).
 *    For a MEMADDR the kernel prints "%c_0x%p": a 16-digit zero-padded (8 on 32-bit) hex
 *    pointer, hashed unless booted with no_hash_pointers. We use the real address in that
 *    same form: "p_0xffffffff81000000".
 *  - Default argument names arg1, arg2, ... by position (an explicit NAME= taking "argN"
 *    clashes like in the kernel); names are C identifiers of at most 32 chars, unique, and
 *    not one of the kernel's reserved field names (common_*, __probe_ip, ...).
 *  - A fetch-arg body is at most 63 characters (MAX_ARGSTR_LEN); at most 128 args; the
 *    sum of the recorded sizes at most 3072 bytes (MAX_PROBE_EVENT_SIZE, strings 4 each).
 *  - $argN (1..THREAD_SIZE/ptr) only on a function entry: a 'p' probe at SYM or SYM+0
 *    (6.1 has no $argN for MEMADDR probes nor for return probes). $stackN N <= the same
 *    bound. $retval only in return probes. $comm/$COMM and \"str" are strings and take no
 *    other type and no array, and can not be dereferenced.
 *  - Default type x64 (x32 with 4-byte pointers), marked is_default. string/ustring need a
 *    memory fetch (deref, @ADDR, @SYM), \IMM, $comm or \"str". TYPE[N], N 1..64, only on a
 *    memory fetch (string[N] also on \IMM). b<w>@<o>/<8|16|32|64> with w>0, w+o <= size.
 *
 * Where we are stricter than the kernel, for clearer errors: junk between 'p'/'r' and ':'
 * ("pxyz:ev"), text after the closing ')' of a dereference, and symbol names outside
 * [A-Za-z0-9_.] are rejected (the kernel ignores the first two and fails the third later).
 * Dereferences nest at most EKP_MAX_DEREF_DEPTH deep (the kernel: ~13, by its insn buffer).
 * 'symstr' is not supported (no ekp_type for it). Errors name a 1-based column of text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "ekprobe/util.h"

#define DEFAULT_GROUP "kprobes"    /* KPROBE_EVENT_SYSTEM */
#define MAXACTIVE_MAX 4096         /* KRETPROBE_MAXACTIVE_MAX */
#define MAX_ARG_NAME_LEN 32        /* trace_probe.h */
#define MAX_ARGSTR_LEN 63          /* trace_probe.h */
#define MAX_EVENT_SIZE 3072        /* MAX_PROBE_EVENT_SIZE */
#define STRING_FIELD_SIZE 4        /* __data_loc u32 */
#define KERNEL_THREAD_SIZE 16384   /* PARAM_MAX_STACK = THREAD_SIZE / sizeof(long) */

/* printf precision for quoting user text in a reason. */
#define Q 48

static int qlen(size_t len)
{
	return len < Q ? (int)len : Q;
}

struct pctx {
	const struct ekp_arch *arch;
	unsigned int column; /* of the failure; 0 if none */
	bool is_return;
	bool fentry; /* on a function entry: SYM or SYM+0 of a 'p' probe */
	unsigned int event_size;
};

struct token {
	char *s;
	unsigned int col; /* 1-based */
};

static int perr(struct pctx *c, unsigned int col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Every failure: its reason goes to ekp_err(), its column to the caller. */
static int perr(struct pctx *c, unsigned int col, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	c->column = col;
	va_start(ap, fmt);
	if (vsnprintf(reason, sizeof(reason), fmt, ap) < 0)
		reason[0] = '\0';
	va_end(ap);
	return ekp_err(EINVAL, "%s", reason);
}

static int enomem(struct pctx *c)
{
	c->column = 0;
	return ekp_err(ENOMEM, "out of memory");
}

static bool is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* The kernel's __is_good_name(): a C identifier; a group ("system") may also hold '-'. */
static bool good_name(const char *s, bool dash_ok)
{
	if (!is_alpha(*s) && *s != '_' && !(dash_ok && *s == '-'))
		return false;
	while (*++s)
		if (!is_alpha(*s) && !is_digit(*s) && *s != '_' && !(dash_ok && *s == '-'))
			return false;
	return true;
}

/* Kernel symbol names as they appear in kallsyms: foo, __x64_sys_open, foo.isra.0. */
static bool good_symbol(const char *s, size_t len)
{
	if (!len || is_digit(s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static bool good_module(const char *s, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '_')
			return false;
	return true;
}

static unsigned int param_max_stack(const struct pctx *c)
{
	return KERNEL_THREAD_SIZE / (c->arch->ptr_size ? c->arch->ptr_size : 8);
}

static void fetch_free(struct ekp_fetch *f)
{
	while (f) {
		struct ekp_fetch *inner = f->inner;

		free(f->sym);
		free(f->imm_str);
		free(f);
		f = inner;
	}
}

void ekp_probe_free(struct ekp_probe *p)
{
	if (!p)
		return;
	for (unsigned int i = 0; i < p->nr_args; i++) {
		free(p->args[i].name);
		free(p->args[i].text);
		fetch_free(p->args[i].fetch);
	}
	free(p->args);
	free(p->module);
	free(p->sym);
	free(p->file);
	free(p->text);
	free(p);
}

/* ---- fetch args ------------------------------------------------------------------------ */

static int parse_fetch(struct pctx *c, char *s, unsigned int col, unsigned int depth,
		       struct ekp_fetch **out);

/* $VAR; s points after the '$'. */
static int parse_var(struct pctx *c, const char *s, unsigned int col, struct ekp_fetch *f)
{
	uint64_t n;

	if (!strcmp(s, "retval")) {
		if (!c->is_return)
			return perr(c, col, "$retval is only valid for return probes");
		f->op = EKP_FETCH_RETVAL;
		return 0;
	}
	if (!strcmp(s, "comm") || !strcmp(s, "COMM")) {
		f->op = EKP_FETCH_COMM;
		return 0;
	}
	if (!strcmp(s, "stack")) {
		f->op = EKP_FETCH_STACK;
		return 0;
	}
	if (!strncmp(s, "stack", 5) && is_digit(s[5]) && !ekp_parse_u64(s + 5, 10, &n)) {
		if (n > param_max_stack(c))
			return perr(c, col, "bad stack index %llu in '$%.*s' (max %u)",
				    (unsigned long long)n, Q, s, param_max_stack(c));
		f->op = EKP_FETCH_STACK_N;
		f->n = (unsigned int)n;
		return 0;
	}
	if (!strncmp(s, "arg", 3) && is_digit(s[3]) && !ekp_parse_u64(s + 3, 10, &n)) {
		if (c->is_return)
			return perr(c, col, "$%.*s is not available in return probes", Q, s);
		if (!c->fentry)
			return perr(c, col,
				    "$%.*s is only available at a function entry (SYM or SYM+0)",
				    Q, s);
		if (n == 0 || n > param_max_stack(c))
			return perr(c, col, "bad argument number in '$%.*s' (1..%u)", Q, s,
				    param_max_stack(c));
		f->op = EKP_FETCH_ARG;
		f->n = (unsigned int)n;
		return 0;
	}
	return perr(c, col, "unknown variable '$%.*s'", Q, s);
}

/* @ADDR or @SYM[+|-offs]; s points at the '@'. */
static int parse_mem(struct pctx *c, const char *s, unsigned int col, struct ekp_fetch *f)
{
	const char *a = s + 1;
	size_t len;
	int64_t off = 0;

	if (is_digit(a[0])) {
		if (ekp_parse_u64(a, 0, &f->addr))
			return perr(c, col, "bad memory address '%.*s'", Q, s);
		f->op = EKP_FETCH_MEM_ADDR;
		return 0;
	}
	if (a[0] == '+')
		return perr(c, col, "file offsets (@+OFFS) are only for uprobes");
	if (!a[0])
		return perr(c, col, "missing address or symbol after '@'");
	len = strcspn(a, "+-");
	if (!good_symbol(a, len))
		return perr(c, col + 1, "bad symbol name '%.*s'", qlen(len), a);
	if (a[len] && ekp_parse_s64(a + len, 0, &off))
		return perr(c, col + 1 + (unsigned int)len, "bad symbol offset '%.*s'", Q,
			    a + len);
	f->sym = strndup(a, len);
	if (!f->sym)
		return enomem(c);
	f->sym_off = off;
	f->op = EKP_FETCH_MEM_SYM;
	return 0;
}

/* \IMM or \"string"; s points at the '\'. */
static int parse_imm(struct pctx *c, const char *s, unsigned int col, struct ekp_fetch *f)
{
	const char *a = s + 1;
	int64_t v;
	int ret;

	f->op = EKP_FETCH_IMM;
	if (a[0] == '"') {
		size_t len = strlen(a + 1);

		if (!len || a[len] != '"')
			return perr(c, col, "unterminated string: missing closing '\"'");
		f->imm_str = strndup(a + 1, len - 1);
		return f->imm_str ? 0 : enomem(c);
	}
	if (is_digit(a[0]))
		ret = ekp_parse_u64(a, 0, &f->imm);
	else if (a[0] == '-' || a[0] == '+') {
		ret = ekp_parse_s64(a[0] == '+' ? a + 1 : a, 0, &v);
		f->imm = (uint64_t)v;
	} else
		ret = -EINVAL;
	if (ret)
		return perr(c, col + 1, "bad immediate value '%.*s'", Q, a);
	return 0;
}

/* +|-[u]OFFS(FETCHARG); s points at the sign and is modified. */
static int parse_deref(struct pctx *c, char *s, unsigned int col, unsigned int depth,
		       struct ekp_fetch *f)
{
	char *p = s + 1, *lp, *rp, offs[MAX_ARGSTR_LEN + 2];
	struct ekp_fetch *inner = NULL;
	size_t olen;
	int ret;

	if (*p == 'u') {
		f->user = true;
		p++;
	}
	lp = strchr(p, '(');
	if (!lp)
		return perr(c, col, "dereference needs '(': expected +|-[u]OFFS(FETCHARG)");
	/* OFFS with the sign of the dereference: "-8" or "8" ("+-8" is -8, as in the kernel). */
	olen = (size_t)(lp - p);
	ret = -EINVAL;
	if (olen + 2 <= sizeof(offs)) {
		snprintf(offs, sizeof(offs), "%s%.*s", s[0] == '-' ? "-" : "", (int)olen, p);
		ret = ekp_parse_s64(offs, 0, &f->offset);
	}
	if (ret)
		return perr(c, col, "bad dereference offset '%.*s'", qlen((size_t)(lp - s)), s);
	rp = strrchr(lp + 1, ')');
	if (!rp)
		return perr(c, col + (unsigned int)(lp - s), "unclosed '(' in dereference");
	if (rp[1])
		return perr(c, col + (unsigned int)(rp + 1 - s), "unexpected '%.*s' after ')'", Q,
			    rp + 1);
	if (depth + 1 > EKP_MAX_DEREF_DEPTH)
		return perr(c, col, "dereference nested too deeply (max %d levels)",
			    EKP_MAX_DEREF_DEPTH);
	*rp = '\0';
	ret = parse_fetch(c, lp + 1, col + (unsigned int)(lp + 1 - s), depth + 1, &inner);
	if (ret)
		return ret;
	f->inner = inner;
	f->op = EKP_FETCH_DEREF;
	if (inner->op == EKP_FETCH_COMM)
		return perr(c, col + (unsigned int)(lp + 1 - s), "$comm can not be dereferenced");
	if (inner->op == EKP_FETCH_IMM && inner->imm_str)
		return perr(c, col + (unsigned int)(lp + 1 - s),
			    "an immediate string can not be dereferenced");
	return 0;
}

static int parse_fetch(struct pctx *c, char *s, unsigned int col, unsigned int depth,
		       struct ekp_fetch **out)
{
	struct ekp_fetch *f = calloc(1, sizeof(*f));
	int ret, reg;

	*out = NULL;
	if (!f)
		return enomem(c);
	f->reg = -1;
	switch (s[0]) {
	case '$':
		ret = parse_var(c, s + 1, col, f);
		break;
	case '%':
		reg = c->arch->reg_lookup(s + 1);
		if (reg < 0 || (unsigned int)reg >= c->arch->nr_regs || reg >= EKP_MAX_REGS) {
			ret = perr(c, col, "unknown register '%.*s'", Q, s);
			break;
		}
		f->op = EKP_FETCH_REG;
		f->reg = reg;
		ret = 0;
		break;
	case '@':
		ret = parse_mem(c, s, col, f);
		break;
	case '+':
	case '-':
		ret = parse_deref(c, s, col, depth, f);
		break;
	case '\\':
		ret = parse_imm(c, s, col, f);
		break;
	default:
		ret = perr(c, col, "invalid fetch argument '%.*s'", Q, s);
		break;
	}
	if (ret) {
		fetch_free(f);
		return ret;
	}
	*out = f;
	return 0;
}

/* ---- types ------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	enum ekp_type_base base;
	unsigned int size; /* 0: strings (no fixed size); symbol: set to the pointer size */
} basic_types[] = {
	{ "u8", EKP_T_U, 1 },  { "u16", EKP_T_U, 2 },  { "u32", EKP_T_U, 4 },  { "u64", EKP_T_U, 8 },
	{ "s8", EKP_T_S, 1 },  { "s16", EKP_T_S, 2 },  { "s32", EKP_T_S, 4 },  { "s64", EKP_T_S, 8 },
	{ "x8", EKP_T_X, 1 },  { "x16", EKP_T_X, 2 },  { "x32", EKP_T_X, 4 },  { "x64", EKP_T_X, 8 },
	{ "string", EKP_T_STRING, 0 }, { "ustring", EKP_T_USTRING, 0 },
	{ "symbol", EKP_T_SYMBOL, 0 },
};

/* Digits in base 0 (0x.. hex, 0.. octal) up to the first non-digit, like simple_strtoul(). */
static bool lead_number(const char *s, const char **end, unsigned long long *v)
{
	char *e;

	if (!is_digit(s[0]))
		return false;
	errno = 0;
	*v = strtoull(s, &e, 0);
	*end = e;
	return errno == 0;
}

/* b<width>@<offset>/<container bits> */
static int parse_bitfield(struct pctx *c, const char *t, unsigned int col, struct ekp_type *ty)
{
	unsigned long long bw, bo;
	uint64_t bs;
	const char *p;

	if (!lead_number(t + 1, &p, &bw) || bw == 0 || *p != '@' ||
	    !lead_number(p + 1, &p, &bo) || *p != '/' || ekp_parse_u64(p + 1, 0, &bs) ||
	    (bs != 8 && bs != 16 && bs != 32 && bs != 64))
		return perr(c, col, "bad bitfield '%.*s': expected b<width>@<offset>/<8|16|32|64>",
			    Q, t);
	if (bw > bs || bo > bs - bw)
		return perr(c, col, "bitfield '%.*s' does not fit in its %u-bit container", Q, t,
			    (unsigned int)bs);
	ty->base = EKP_T_BITFIELD;
	ty->size = (unsigned int)bs / 8;
	ty->bf_width = (unsigned int)bw;
	ty->bf_offset = (unsigned int)bo;
	return 0;
}

/* TYPE[N]: t is modified (the '[' cut off). */
static int parse_type(struct pctx *c, char *t, unsigned int col, struct ekp_type *ty)
{
	char *lb = strchr(t, '['), *rb;
	uint64_t n;

	memset(ty, 0, sizeof(*ty));
	if (lb) {
		rb = strchr(lb + 1, ']');
		if (!rb)
			return perr(c, col + (unsigned int)strlen(t),
				    "array is not closed: missing ']'");
		if (rb[1])
			return perr(c, col + (unsigned int)(rb + 1 - t), "unexpected '%.*s' after ']'",
				    Q, rb + 1);
		*rb = '\0';
		if (ekp_parse_u64(lb + 1, 0, &n) || n == 0 || n > UINT32_MAX)
			return perr(c, col + (unsigned int)(lb + 1 - t), "bad array size '%.*s'", Q,
				    lb + 1);
		if (n > EKP_MAX_ARRAY)
			return perr(c, col + (unsigned int)(lb + 1 - t),
				    "array size %llu is too big (max %d)", (unsigned long long)n,
				    EKP_MAX_ARRAY);
		ty->array_len = (unsigned int)n;
		*lb = '\0';
	}
	for (size_t i = 0; i < EKP_ARRAY_SIZE(basic_types); i++) {
		if (strcmp(t, basic_types[i].name))
			continue;
		ty->base = basic_types[i].base;
		ty->size = basic_types[i].size;
		if (ty->base == EKP_T_SYMBOL)
			ty->size = c->arch->ptr_size;
		return 0;
	}
	if (t[0] == 'b' && strchr(t, '/'))
		return parse_bitfield(c, t, col, ty);
	if (!strcmp(t, "symstr"))
		return perr(c, col, "type 'symstr' is not supported");
	return perr(c, col, "bad type '%.*s'", Q, t);
}

static bool is_string_type(const struct ekp_type *ty)
{
	return ty->base == EKP_T_STRING || ty->base == EKP_T_USTRING;
}

/* A load from memory: what the kernel's store step turns into ST_MEM. */
static bool is_mem_fetch(const struct ekp_fetch *f)
{
	return f->op == EKP_FETCH_DEREF || f->op == EKP_FETCH_MEM_ADDR ||
	       f->op == EKP_FETCH_MEM_SYM;
}

static const char *const reserved_names[] = {
	"common_type", "common_flags", "common_preempt_count", "common_pid", "common_tgid",
	"__probe_ip", "__probe_ret_ip", "__probe_func",
};

/* [NAME=]FETCHARG[:TYPE], the idx'th (0-based) argument; tok is modified. */
static int parse_arg(struct pctx *c, struct ekp_probe *p, unsigned int idx, char *tok,
		     unsigned int col)
{
	struct ekp_arg *a = &p->args[idx];
	char *eq = strchr(tok, '='), *body = tok, *t;
	unsigned int bcol = col, tcol = 0, size;
	size_t len;
	bool special;
	int ret;

	a->text = strdup(tok);
	if (!a->text)
		return enomem(c);
	if (eq) {
		if (eq == tok)
			return perr(c, col, "missing argument name before '='");
		if (eq - tok > MAX_ARG_NAME_LEN)
			return perr(c, col, "argument name is too long (max %d characters)",
				    MAX_ARG_NAME_LEN);
		a->name = strndup(tok, (size_t)(eq - tok));
		body = eq + 1;
		bcol = col + (unsigned int)(body - tok);
	} else {
		if (asprintf(&a->name, "arg%u", idx + 1) < 0)
			a->name = NULL;
	}
	if (!a->name)
		return enomem(c);
	if (!good_name(a->name, false))
		return perr(c, col, "bad argument name '%.*s': must be a C identifier", Q, a->name);
	for (size_t i = 0; i < EKP_ARRAY_SIZE(reserved_names); i++)
		if (!strcmp(a->name, reserved_names[i]))
			return perr(c, col, "argument name '%s' is reserved", a->name);
	for (unsigned int i = 0; i < idx; i++)
		if (!strcmp(a->name, p->args[i].name))
			return perr(c, col, "argument name '%.*s' is already used", Q, a->name);

	len = strlen(body);
	if (!len)
		return perr(c, bcol, "missing fetch argument after '='");
	if (len > MAX_ARGSTR_LEN)
		return perr(c, bcol, "fetch argument is too long (max %d characters)",
			    MAX_ARGSTR_LEN);

	t = strchr(body, ':');
	if (t) {
		*t++ = '\0';
		tcol = bcol + (unsigned int)(t - body);
	}

	/* $comm and \"str": the kernel recognises them by their whole text, type string. */
	special = !strcmp(body, "$comm") || !strcmp(body, "$COMM") || !strncmp(body, "\\\"", 2);
	if (special) {
		if (t && body[1] == '"' && body[strlen(body) - 1] != '"' && strchr(t, '"'))
			return perr(c, tcol - 1, "':' can not appear in an immediate string");
		if (t && (strchr(t, '[') || strcmp(t, "string")))
			return perr(c, tcol, "%s takes only type 'string'",
				    body[0] == '$' ? "$comm" : "an immediate string");
		memset(&a->type, 0, sizeof(a->type));
		a->type.base = EKP_T_STRING;
	} else if (t) {
		ret = parse_type(c, t, tcol, &a->type);
		if (ret)
			return ret;
	} else {
		memset(&a->type, 0, sizeof(a->type));
		a->type.base = EKP_T_X; /* DEFAULT_FETCH_TYPE: x<BITS_PER_LONG> */
		a->type.size = c->arch->ptr_size;
	}
	a->type.is_default = !t;

	ret = parse_fetch(c, body, bcol, 0, &a->fetch);
	if (ret)
		return ret;

	if (is_string_type(&a->type) && !special && !is_mem_fetch(a->fetch) &&
	    a->fetch->op != EKP_FETCH_IMM)
		return perr(c, tcol, "string type needs a memory fetch (+OFFS(..), @ADDR, @SYM)"
			    ", \\IMM, $comm or \\\"str\"");
	if (a->type.array_len && !is_mem_fetch(a->fetch) &&
	    !(is_string_type(&a->type) && a->fetch->op == EKP_FETCH_IMM))
		return perr(c, tcol, "an array type needs a memory fetch, e.g. +0(%%%s):x8[8]",
			    c->arch->reg_name ? c->arch->reg_name(c->arch->sp_reg) : "sp");

	size = is_string_type(&a->type) ? STRING_FIELD_SIZE : a->type.size;
	c->event_size += size * (a->type.array_len ? a->type.array_len : 1);
	if (c->event_size > MAX_EVENT_SIZE)
		return perr(c, col, "probe event too big: arguments exceed %d bytes",
			    MAX_EVENT_SIZE);
	return 0;
}

/* ---- the probe ---------------------------------------------------------------------------- */

static void free_tokens(struct token *tok, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		free(tok[i].s);
	free(tok);
}

static int tokenize(const char *text, struct token **out, unsigned int *nout)
{
	struct token *tok = NULL, *nt;
	unsigned int n = 0, cap = 0;
	const char *s = text;

	for (;;) {
		const char *start;

		while (*s && is_space((unsigned char)*s))
			s++;
		if (!*s)
			break;
		start = s;
		while (*s && !is_space((unsigned char)*s))
			s++;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			nt = realloc(tok, cap * sizeof(*tok));
			if (!nt)
				goto nomem;
			tok = nt;
		}
		if ((size_t)(start - text) >= UINT32_MAX - 1)
			goto nomem;
		tok[n].col = (unsigned int)(start - text) + 1;
		tok[n].s = strndup(start, (size_t)(s - start));
		if (!tok[n].s)
			goto nomem;
		n++;
	}
	*out = tok;
	*nout = n;
	return 0;
nomem:
	free_tokens(tok, n);
	return -ENOMEM;
}

/* dst must hold len + 1 bytes. */
static void copy_name(char *dst, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* "-:[GRP/]EVENT": group "" matches any group, event "" every event of GRP. */
static int parse_delete(struct pctx *c, struct token *tok, unsigned int ntok,
			struct ekp_probe *p)
{
	const char *spec = tok[0].s + 2, *slash;
	unsigned int col = tok[0].col + 2;
	size_t glen = 0;

	if (tok[0].s[1] != ':')
		return perr(c, tok[0].col, "expected '-:[GRP/]EVENT'");
	if (ntok > 1)
		return perr(c, tok[1].col, "unexpected '%.*s' after '-:[GRP/]EVENT'", Q, tok[1].s);
	if (!*spec)
		return perr(c, col, "missing event name after '-:'");
	slash = strchr(spec, '/');
	if (slash) {
		glen = (size_t)(slash - spec);
		if (!glen)
			return perr(c, col, "missing group name before '/'");
		if (glen >= EKP_MAX_NAME)
			return perr(c, col, "group name is too long (max %d characters)",
				    EKP_MAX_NAME - 1);
		copy_name(p->group, spec, glen);
		if (!good_name(p->group, true))
			return perr(c, col, "bad group name '%s'", p->group);
		spec = slash + 1;
		col += (unsigned int)glen + 1;
		if (!*spec)
			return 1; /* every event of the group */
	}
	if (strlen(spec) >= EKP_MAX_NAME)
		return perr(c, col, "event name is too long (max %d characters)", EKP_MAX_NAME - 1);
	copy_name(p->event, spec, strlen(spec));
	if (!good_name(p->event, false))
		return perr(c, col, "bad event name '%.*s': must be a C identifier", Q, p->event);
	return 1;
}

/* ":[GRP/][EVENT]" of a definition; s points after the ':'. Sets *named if EVENT given. */
static int parse_event_spec(struct pctx *c, const char *s, unsigned int col, struct ekp_probe *p,
			    bool *named)
{
	const char *slash = strchr(s, '/');

	*named = false;
	if (!slash)
		slash = strchr(s, '.');
	if (slash) {
		size_t glen = (size_t)(slash - s);

		if (!glen)
			return perr(c, col, "missing group name before '%c'", *slash);
		if (glen >= EKP_MAX_NAME)
			return perr(c, col, "group name is too long (max %d characters)",
				    EKP_MAX_NAME - 1);
		copy_name(p->group, s, glen);
		if (!good_name(p->group, true))
			return perr(c, col, "bad group name '%s': must be a C identifier", p->group);
		col += (unsigned int)glen + 1;
		s = slash + 1;
		if (!*s)
			return 0; /* "GRP/": default event name */
	} else if (!*s) {
		return perr(c, col, "missing event name after ':'");
	}
	if (strlen(s) >= EKP_MAX_NAME)
		return perr(c, col, "event name is too long (max %d characters)", EKP_MAX_NAME - 1);
	if (!good_name(s, false))
		return perr(c, col, "bad event name '%.*s': must be a C identifier", Q, s);
	copy_name(p->event, s, strlen(s));
	*named = true;
	return 0;
}

/* p / r[MAXACTIVE] followed by [:[GRP/][EVENT]]. */
static int parse_head(struct pctx *c, const struct token *t, struct ekp_probe *p, bool *named)
{
	const char *s = t->s, *colon = strchr(s, ':');
	size_t hlen = colon ? (size_t)(colon - s) : strlen(s);

	*named = false;
	p->kind = s[0] == 'r' ? EKP_PROBE_RETURN : EKP_PROBE_ENTRY;
	c->is_return = s[0] == 'r';
	if (hlen > 1 && is_digit(s[1])) {
		char buf[EKP_MAX_NAME];
		uint64_t n;

		if (s[0] != 'r')
			return perr(c, t->col + 1, "MAXACTIVE is only for return probes ('r')");
		if (hlen - 1 < sizeof(buf))
			copy_name(buf, s + 1, hlen - 1);
		if (hlen - 1 >= sizeof(buf) || ekp_parse_u64(buf, 0, &n) || n == 0)
			return perr(c, t->col + 1, "bad MAXACTIVE '%.*s'", qlen(hlen - 1), s + 1);
		if (n > MAXACTIVE_MAX)
			return perr(c, t->col + 1, "MAXACTIVE %llu is too big (max %d)",
				    (unsigned long long)n, MAXACTIVE_MAX);
		p->maxactive = (unsigned int)n;
	} else if (hlen > 1) {
		return perr(c, t->col, "unknown probe type '%.*s' (expected p, r[MAXACTIVE] or -:)",
			    qlen(hlen), s);
	}
	if (colon)
		return parse_event_spec(c, colon + 1, t->col + (unsigned int)hlen + 1, p, named);
	return 0;
}

/* [MOD:]SYM[+offs][%return] | MEMADDR */
static int parse_point(struct pctx *c, const struct token *t, struct ekp_probe *p)
{
	const char *s = t->s, *pct, *colon, *sym, *plus;
	size_t end, slen;
	int64_t off = 0;

	if (!ekp_parse_u64(s, 0, &p->addr))
		return 0; /* MEMADDR */
	p->addr = 0;
	if (strchr(s, '/') && strchr(s, ':'))
		return perr(c, t->col, "uprobe syntax (PATH:OFFSET) is not supported");
	end = strlen(s);
	pct = strchr(s, '%');
	if (pct) {
		if (strcmp(pct, "%return"))
			return perr(c, t->col + (unsigned int)(pct - s),
				    "bad probe point suffix '%.*s' (only %%return)", Q, pct);
		end = (size_t)(pct - s);
		p->kind = EKP_PROBE_RETURN;
		c->is_return = true;
	}
	sym = s;
	colon = memchr(s, ':', end);
	if (colon) {
		if (!good_module(s, (size_t)(colon - s)))
			return perr(c, t->col, "bad module name '%.*s'", qlen((size_t)(colon - s)),
				    s);
		p->module = strndup(s, (size_t)(colon - s));
		if (!p->module)
			return enomem(c);
		sym = colon + 1;
	}
	slen = strcspn(sym, "+-%");
	if (!good_symbol(sym, slen)) {
		if (is_digit(s[0]))
			return perr(c, t->col, "bad probe address '%.*s'", qlen(end), s);
		return perr(c, t->col + (unsigned int)(sym - s), "bad symbol name '%.*s'",
			    qlen(slen), sym);
	}
	plus = sym + slen;
	if (plus < s + end) {
		char buf[32];
		size_t olen = (size_t)(s + end - plus);
		unsigned int ocol = t->col + (unsigned int)(plus - s);

		if (olen < sizeof(buf))
			copy_name(buf, plus, olen);
		if (olen >= sizeof(buf) || ekp_parse_s64(buf, 0, &off))
			return perr(c, ocol, "bad probe offset '%.*s'", qlen(olen), plus);
		if (off < 0)
			return perr(c, ocol, "probe offset must not be negative");
		if (off > (int64_t)UINT32_MAX)
			return perr(c, ocol, "probe offset is too big (max %u)", UINT32_MAX);
		if (off && c->is_return)
			return perr(c, ocol, "return probe offset must be 0");
	}
	p->sym = strndup(sym, slen);
	if (!p->sym)
		return enomem(c);
	p->offset = (uint64_t)off;
	c->fentry = !c->is_return && off == 0;
	return 0;
}

static void default_event_name(const struct pctx *c, struct ekp_probe *p)
{
	char k = c->is_return ? 'r' : 'p';
	int n;

	if (p->sym)
		n = snprintf(p->event, sizeof(p->event), "%c_%s%s%s_%lld", k,
			     p->module ? p->module : "", p->module ? ":" : "", p->sym,
			     (long long)p->offset);
	else
		n = snprintf(p->event, sizeof(p->event), "%c_0x%0*llx", k,
			     (int)(2 * (c->arch->ptr_size ? c->arch->ptr_size : 8)),
			     (unsigned long long)p->addr);
	(void)n; /* cut to EKP_MAX_NAME - 1 like the kernel's snprintf into its buffer */
	for (char *q = p->event + 1; *q; q++) /* sanitize_event_name() */
		if (*q == ':' || *q == '.')
			*q = '_';
}

static char *trimmed_dup(const char *text)
{
	const char *b = text, *e;

	while (*b && is_space((unsigned char)*b))
		b++;
	e = b + strlen(b);
	while (e > b && is_space((unsigned char)e[-1]))
		e--;
	return strndup(b, (size_t)(e - b));
}

static int parse(struct pctx *c, const char *text, struct ekp_probe **out)
{
	struct token *tok = NULL;
	unsigned int ntok = 0, nargs;
	struct ekp_probe *p = NULL;
	bool named = false;
	int ret;

	if (out)
		*out = NULL;
	if (!text || !out)
		return perr(c, 0, "no probe definition");
	if (!c->arch || !c->arch->reg_lookup)
		return perr(c, 0, "no architecture to check registers against");
	if (tokenize(text, &tok, &ntok))
		return enomem(c);
	if (!ntok) {
		ret = perr(c, 1, "empty probe definition");
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->text = trimmed_dup(text))) {
		ret = enomem(c);
		goto out;
	}

	switch (tok[0].s[0]) {
	case '-':
		ret = parse_delete(c, tok, ntok, p);
		goto out;
	case 'p':
	case 'r':
		break;
	default:
		ret = perr(c, tok[0].col, "unknown probe type '%.*s' (expected p, r[MAXACTIVE] or -:)",
			   Q, tok[0].s);
		goto out;
	}

	ret = parse_head(c, &tok[0], p, &named);
	if (ret)
		goto out;
	if (ntok < 2) {
		ret = perr(c, (unsigned int)strlen(text) + 1,
			   "missing probe point: [MOD:]SYM[+offs] or MEMADDR");
		goto out;
	}
	ret = parse_point(c, &tok[1], p);
	if (ret)
		goto out;
	if (!p->group[0])
		copy_name(p->group, DEFAULT_GROUP, strlen(DEFAULT_GROUP));
	if (!named)
		default_event_name(c, p);

	nargs = ntok - 2;
	if (nargs > EKP_MAX_ARGS) {
		ret = perr(c, tok[2 + EKP_MAX_ARGS].col, "too many arguments (max %d)",
			   EKP_MAX_ARGS);
		goto out;
	}
	if (nargs) {
		p->args = calloc(nargs, sizeof(*p->args));
		if (!p->args) {
			ret = enomem(c);
			goto out;
		}
	}
	for (unsigned int i = 0; i < nargs; i++) {
		p->nr_args = i + 1; /* so that ekp_probe_free() frees a half-built arg */
		ret = parse_arg(c, p, i, tok[2 + i].s, tok[2 + i].col);
		if (ret)
			goto out;
	}
	ret = 0;
out:
	free_tokens(tok, ntok);
	if (ret < 0) {
		ekp_probe_free(p);
		return ret;
	}
	*out = p;
	return ret;
}

int ekp_probe_parse(const char *text, const struct ekp_arch *arch, struct ekp_probe **out,
		    unsigned int *column)
{
	struct pctx c = { .arch = arch };
	int ret = parse(&c, text, out);

	if (column)
		*column = ret < 0 ? c.column : 0;
	return ret;
}
