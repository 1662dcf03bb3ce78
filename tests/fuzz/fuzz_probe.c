// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz the kprobe_events parser and the probe list: the input is a probe list, one
 * definition a line. Every line goes through ekp_probe_parse() (with the result checked for
 * the parser's invariants) and ekp_probe_list_add(); the whole input is also parsed as one
 * definition (newlines are whitespace) to reach long argument lists, and read as a probe file
 * (ekp_probe_list_load_buf()) against the line-by-line result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "ekprobe/probe.h"

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool good_name(const char *s, bool dash_ok)
{
	if (!*s || strlen(s) >= EKP_MAX_NAME)
		return false;
	for (const char *q = s; *q; q++) {
		bool alpha = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_' ||
			     (dash_ok && *q == '-');

		if (!alpha && (q == s || *q < '0' || *q > '9'))
			return false;
	}
	return true;
}

static void check_probe(const char *text, int ret, const struct ekp_probe *p,
			unsigned int column)
{
	if (ret < 0) {
		check(p == NULL);
		/* A reason recorded with ekp_err() for this errno, not strerror()'s. */
		check(ekp_errstr(ret) == ekp_errmsg() && ekp_errmsg()[0] != '\0');
		check(column <= strlen(text) + 1);
		return;
	}
	check(column == 0);
	check(p != NULL);
	check(p->text != NULL);
	if (ret == 1) { /* -:[GRP/]EVENT */
		check(p->group[0] || p->event[0]);
		check(!p->group[0] || good_name(p->group, true));
		check(!p->event[0] || good_name(p->event, false));
		check(p->nr_args == 0);
		return;
	}
	check(ret == 0);
	check(good_name(p->group, true));
	/* Default names come from the symbol text and need not be C identifiers. */
	check(p->event[0] && strlen(p->event) < EKP_MAX_NAME);
	check(p->nr_args <= EKP_MAX_ARGS);
	check(p->maxactive <= 4096);
	check(p->kind == EKP_PROBE_ENTRY || p->kind == EKP_PROBE_RETURN);
	if (p->kind == EKP_PROBE_RETURN && p->sym)
		check(p->offset == 0);
	if (p->kind == EKP_PROBE_ENTRY)
		check(p->maxactive == 0);
	for (unsigned int i = 0; i < p->nr_args; i++) {
		const struct ekp_arg *a = &p->args[i];
		const struct ekp_fetch *f = a->fetch;
		unsigned int depth = 0;

		check(a->name && good_name(a->name, false) && a->text && f);
		for (unsigned int j = 0; j < i; j++)
			check(strcmp(a->name, p->args[j].name) != 0);
		check(a->type.array_len <= EKP_MAX_ARRAY);
		if (a->type.base == EKP_T_BITFIELD)
			check(a->type.bf_width && a->type.bf_width + a->type.bf_offset <=
							  8 * a->type.size);
		while (f->op == EKP_FETCH_DEREF) {
			check(f->inner != NULL);
			f = f->inner;
			depth++;
		}
		check(depth <= EKP_MAX_DEREF_DEPTH);
		check(f->inner == NULL);
		if (f->op == EKP_FETCH_RETVAL)
			check(p->kind == EKP_PROBE_RETURN);
		if (f->op == EKP_FETCH_ARG)
			check(p->kind == EKP_PROBE_ENTRY && p->sym && p->offset == 0 && f->n >= 1);
		if (f->op == EKP_FETCH_MEM_SYM)
			check(f->sym && f->sym[0]);
		if (f->op == EKP_FETCH_REG)
			check(f->reg >= 0 && (unsigned int)f->reg < ekp_arch_x86_64.nr_regs);
	}
}

static void parse_one(const char *text)
{
	struct ekp_probe *p = NULL;
	unsigned int column = ~0u;
	int ret;

	ekp_err_clear();
	ret = ekp_probe_parse(text, &ekp_arch_x86_64, &p, &column);
	check_probe(text, ret, p, column);
	ekp_probe_free(p);
}

/*
 * The same bytes as a file (ekp_probe_list_load_buf(): any bytes, NUL included): without a
 * NUL it stops where the line-by-line adds first failed, with the same error and list; a NUL
 * byte is always refused (it used to cut its line short, silently).
 */
static void check_file(const uint8_t *data, size_t size, int first_err, unsigned int count)
{
	struct ekp_probe_list *l = ekp_probe_list_new(&ekp_arch_x86_64);
	int ret;

	if (!l)
		return;
	ret = ekp_probe_list_load_buf(l, (const char *)data, size, "fuzz");
	if (!memchr(data, '\0', size)) {
		check(ret == first_err);
		check(ekp_probe_list_count(l) == count);
	} else {
		check(ret < 0);
	}
	if (ret < 0)
		check(!strncmp(ekp_errstr(ret), "fuzz:", 5));
	ekp_probe_list_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ekp_probe_list *l;
	char *buf, *line, *nl;
	unsigned int lineno = 0, count_at_err = 0;
	int first_err = 0;

	if (size > 64 * 1024)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';

	parse_one(buf);

	l = ekp_probe_list_new(&ekp_arch_x86_64);
	if (!l) {
		free(buf);
		return 0;
	}
	for (line = buf; line; line = nl) {
		unsigned int n = ekp_probe_list_count(l);
		int ret;

		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		parse_one(line);
		ret = ekp_probe_list_add(l, line, "fuzz", ++lineno);
		if (ret == 0 && ekp_probe_list_count(l) == n + 1)
			check(ekp_probe_list_get(l, n)->line == lineno);
		if (ret)
			check(ekp_probe_list_count(l) == n);
		if (ret && !first_err) {
			first_err = ret;
			count_at_err = n;
		}
	}
	check_file(data, size, first_err, first_err ? count_at_err : ekp_probe_list_count(l));
	/* Unique by GRP/EVENT. */
	for (unsigned int i = 0; i < ekp_probe_list_count(l); i++)
		for (unsigned int j = i + 1; j < ekp_probe_list_count(l); j++) {
			const struct ekp_probe *a = ekp_probe_list_get(l, i);
			const struct ekp_probe *b = ekp_probe_list_get(l, j);

			check(strcmp(a->group, b->group) || strcmp(a->event, b->event));
		}
	ekp_probe_list_free(l);
	free(buf);
	return 0;
}
