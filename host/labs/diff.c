// SPDX-License-Identifier: GPL-2.0
/*
 * Two JSON traces compared (trace.h, docs/labs.md "Compare two boots"): totals, per-initcall
 * duration changes sorted by size, initcalls and probes present in only one trace, per-probe
 * count changes. Initcalls are matched by name (the fn=%di:symbol argument of the
 * do_one_initcall entry probe); an initcall called more than once counts its calls and adds
 * their durations.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ekprobe/err.h"
#include "host/labs/trace.h"

/* One initcall name of one trace. */
struct ic {
	const char *name;
	uint64_t dur;           /* all its calls */
	uint32_t calls;
	int64_t retval;         /* the last call's, when has_retval */
	bool has_retval;
};

/* One row of the comparison: a name in A, in B, or both. */
struct row {
	const char *name;
	const struct ic *a, *b;
	int64_t change;         /* b - a, ns */
};

static int by_name(const void *x, const void *y)
{
	return strcmp(((const struct ic *)x)->name, ((const struct ic *)y)->name);
}

/* The initcalls of a trace by name, sorted. */
static int initcalls(const struct ekp_trace *t, const struct ekp_analysis *a, struct ic **out,
		     size_t *nr)
{
	struct ic *v = calloc(a->nr_initcalls + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < a->nr_slices; i++) {
		const struct ekp_slice *s = &a->slices[i];

		if (s->initcall)
			v[n++] = (struct ic){ .name = ekp_str(&t->str, s->name), .dur = s->dur,
					      .calls = 1, .retval = s->retval,
					      .has_retval = s->returned && s->has_retval };
	}
	/* Start order within one name is kept by a stable merge: sort, then fold equal names. */
	qsort(v, n, sizeof(*v), by_name);
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		if (w && !strcmp(v[w - 1].name, v[i].name)) {
			v[w - 1].dur += v[i].dur;
			v[w - 1].calls++;
			if (v[i].has_retval) {
				v[w - 1].retval = v[i].retval;
				v[w - 1].has_retval = true;
			}
		} else {
			v[w++] = v[i];
		}
	}
	*out = v;
	*nr = w;
	return 0;
}

static int by_change(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	uint64_t ma = a->change < 0 ? -(uint64_t)a->change : (uint64_t)a->change;
	uint64_t mb = b->change < 0 ? -(uint64_t)b->change : (uint64_t)b->change;

	if (ma != mb)
		return ma > mb ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int64_t sdiff(uint64_t a, uint64_t b)
{
	return b >= a ? (int64_t)(b - a) : -(int64_t)(a - b);
}

static uint64_t total_dur(const struct ic *v, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i].dur;
	return s;
}

static uint64_t total_calls(const struct ic *v, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i].calls;
	return s;
}

/* "1.234 ms" style, signed when asked. */
static void fmt_ns(char *out, size_t size, int64_t ns, bool sign)
{
	uint64_t m = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
	const char *s = ns < 0 ? "-" : sign ? "+" : "";

	if (m >= UINT64_C(1000000000))
		snprintf(out, size, "%s%" PRIu64 ".%03" PRIu64 " s", s, m / UINT64_C(1000000000),
			 m / UINT64_C(1000000) % 1000);
	else if (m >= UINT64_C(1000000))
		snprintf(out, size, "%s%" PRIu64 ".%03" PRIu64 " ms", s, m / UINT64_C(1000000),
			 m / UINT64_C(1000) % 1000);
	else
		snprintf(out, size, "%s%" PRIu64 ".%03" PRIu64 " us", s, m / UINT64_C(1000), m % 1000);
}

struct cmp {
	struct row *rows;       /* initcalls in both, by change */
	size_t nr_rows;
	struct row *only;       /* initcalls in one only: a or b set */
	size_t nr_only;
	struct ic *ia, *ib;
	size_t na, nb;
};

static void cmp_free(struct cmp *c)
{
	free(c->rows);
	free(c->only);
	free(c->ia);
	free(c->ib);
}

static int compare_initcalls(const struct ekp_trace *ta, const struct ekp_analysis *aa,
			     const struct ekp_trace *tb, const struct ekp_analysis *ab, struct cmp *c)
{
	size_t i = 0, j = 0;
	int err;

	memset(c, 0, sizeof(*c));
	err = initcalls(ta, aa, &c->ia, &c->na);
	err = err ?: initcalls(tb, ab, &c->ib, &c->nb);
	if (err)
		return err;
	c->rows = calloc(c->na + c->nb + 1, sizeof(*c->rows));
	c->only = calloc(c->na + c->nb + 1, sizeof(*c->only));
	if (!c->rows || !c->only)
		return -ENOMEM;
	while (i < c->na || j < c->nb) {
		int o = i == c->na ? 1 : j == c->nb ? -1 : strcmp(c->ia[i].name, c->ib[j].name);

		if (o < 0) {
			c->only[c->nr_only++] = (struct row){ .name = c->ia[i].name, .a = &c->ia[i] };
			i++;
		} else if (o > 0) {
			c->only[c->nr_only++] = (struct row){ .name = c->ib[j].name, .b = &c->ib[j] };
			j++;
		} else {
			c->rows[c->nr_rows++] = (struct row){ .name = c->ia[i].name, .a = &c->ia[i],
				.b = &c->ib[j], .change = sdiff(c->ia[i].dur, c->ib[j].dur) };
			i++;
			j++;
		}
	}
	qsort(c->rows, c->nr_rows, sizeof(*c->rows), by_change);
	return 0;
}

/* The hits of probe name in t (its events, else the summary's count), or -1: not there. */
static int64_t probe_hits(const struct ekp_trace *t, const char *name)
{
	for (uint32_t i = 0; i < t->nr_probes; i++)
		if (!strcmp(ekp_str(&t->str, t->probes[i].name), name))
			return t->probes[i].seen || t->probes[i].summary_hits < 0 ?
			       (int64_t)t->probes[i].hits : t->probes[i].summary_hits;
	return -1;
}

static bool row_changed(const struct row *r)
{
	return r->change || r->a->calls != r->b->calls || r->a->has_retval != r->b->has_retval ||
	       (r->a->has_retval && r->a->retval != r->b->retval);
}

static int diff_text(struct ekp_buf *out, const struct ekp_trace *ta, const struct ekp_trace *tb,
		     const struct cmp *c, unsigned int top, bool *changed)
{
	char x[32], y[32], d[32];
	uint64_t da = total_dur(c->ia, c->na), db = total_dur(c->ib, c->nb);
	size_t shown = 0, nr_changed = 0;
	int err = 0;

	err |= ekp_buf_printf(out, "ekprobe diff: A=%s B=%s\n", ta->name, tb->name);
	err |= ekp_buf_printf(out, "totals:\n  events           %zu -> %zu (%+" PRId64 ")\n",
			      ta->n, tb->n, sdiff(ta->n, tb->n));
	if (ta->have_summary && tb->have_summary) {
		fmt_ns(x, sizeof(x), (int64_t)ta->guest_ns, false);
		fmt_ns(y, sizeof(y), (int64_t)tb->guest_ns, false);
		fmt_ns(d, sizeof(d), sdiff(ta->guest_ns, tb->guest_ns), true);
		err |= ekp_buf_printf(out, "  guest time       %s -> %s (%s)\n", x, y, d);
		err |= ekp_buf_printf(out, "  lost records     %" PRIu64 " -> %" PRIu64 "\n",
				      ta->lost, tb->lost);
	}
	fmt_ns(x, sizeof(x), (int64_t)da, false);
	fmt_ns(y, sizeof(y), (int64_t)db, false);
	fmt_ns(d, sizeof(d), sdiff(da, db), true);
	err |= ekp_buf_printf(out, "  initcall calls   %" PRIu64 " -> %" PRIu64 ", %s -> %s (%s)\n",
			      total_calls(c->ia, c->na), total_calls(c->ib, c->nb), x, y, d);
	for (size_t i = 0; i < c->nr_rows; i++)
		nr_changed += row_changed(&c->rows[i]);
	*changed = nr_changed || c->nr_only || ta->n != tb->n;
	/* Initcalls in one trace only. */
	for (int side = 0; side < 2; side++) {
		size_t k = 0;

		for (size_t i = 0; i < c->nr_only; i++)
			k += side ? !!c->only[i].b : !!c->only[i].a;
		if (!k)
			continue;
		err |= ekp_buf_printf(out, "initcalls only in %c (%zu):\n", side ? 'B' : 'A', k);
		for (size_t i = 0; i < c->nr_only; i++) {
			const struct ic *v = side ? c->only[i].b : c->only[i].a;

			if (!v)
				continue;
			fmt_ns(x, sizeof(x), (int64_t)v->dur, false);
			err |= ekp_buf_printf(out, "  %-40s %s\n", v->name, x);
		}
	}
	/* Initcalls in both: by the size of the change. */
	if (nr_changed) {
		err |= ekp_buf_printf(out, "initcall changes, largest first (%zu of %zu changed):\n",
				      nr_changed, c->nr_rows);
		for (size_t i = 0; i < c->nr_rows && (!top || shown < top); i++) {
			const struct row *r = &c->rows[i];

			if (!row_changed(r))
				continue;
			shown++;
			fmt_ns(d, sizeof(d), r->change, true);
			fmt_ns(x, sizeof(x), (int64_t)r->a->dur, false);
			fmt_ns(y, sizeof(y), (int64_t)r->b->dur, false);
			err |= ekp_buf_printf(out, "  %12s  %-40s %s -> %s", d, r->name, x, y);
			if (r->a->calls != r->b->calls)
				err |= ekp_buf_printf(out, "  calls %u -> %u", r->a->calls, r->b->calls);
			if (r->a->has_retval && r->b->has_retval && r->a->retval != r->b->retval)
				err |= ekp_buf_printf(out, "  returned %" PRId64 " -> %" PRId64,
						      r->a->retval, r->b->retval);
			err |= ekp_buf_printf(out, "\n");
		}
		if (shown < nr_changed)
			err |= ekp_buf_printf(out, "  (%zu more; --top 0 shows all)\n",
					      nr_changed - shown);
	}
	/* Probes: in one only, or counted differently. */
	for (int pass = 0; pass < 2; pass++) {
		const struct ekp_trace *t = pass ? tb : ta, *o = pass ? ta : tb;

		for (uint32_t i = 0; i < t->nr_probes; i++) {
			const char *name = ekp_str(&t->str, t->probes[i].name);
			int64_t h = probe_hits(t, name), g = probe_hits(o, name);

			if (g < 0) {
				err |= ekp_buf_printf(out, "probe only in %c: %s (%" PRId64 " hits)\n",
						      pass ? 'B' : 'A', name, h);
				*changed = true;
			} else if (!pass && g != h) {
				err |= ekp_buf_printf(out, "probe %s: %" PRId64 " -> %" PRId64
						      " hits (%+" PRId64 ")\n", name, h, g, g - h);
				*changed = true;
			}
		}
	}
	if (!*changed)
		err |= ekp_buf_printf(out, "no change\n");
	return err ? -ENOMEM : 0;
}

static json_t *ic_json(const struct ic *v)
{
	json_t *o = json_pack("{s:s, s:I, s:i}", "name", v->name, "ns", (json_int_t)v->dur,
			      "calls", (int)v->calls);

	if (o && v->has_retval)
		json_object_set_new(o, "retval", json_integer(v->retval));
	return o;
}

static int diff_json(struct ekp_buf *out, const struct ekp_trace *ta, const struct ekp_trace *tb,
		     const struct cmp *c, unsigned int top, bool *changed)
{
	json_t *root = json_object(), *only_a = json_array(), *only_b = json_array();
	json_t *chg = json_array(), *probes = json_array();
	size_t shown = 0;
	char *s;
	int err = -ENOMEM;

	if (!root || !only_a || !only_b || !chg || !probes)
		goto out;
	*changed = c->nr_only || ta->n != tb->n;
	for (size_t i = 0; i < c->nr_only; i++)
		json_array_append_new(c->only[i].a ? only_a : only_b,
				      ic_json(c->only[i].a ? c->only[i].a : c->only[i].b));
	for (size_t i = 0; i < c->nr_rows; i++) {
		const struct row *r = &c->rows[i];

		if (!row_changed(r))
			continue;
		*changed = true;
		if (top && shown >= top)
			continue;
		shown++;
		json_array_append_new(chg, json_pack("{s:s, s:I, s:o, s:o}", "name", r->name,
						     "change_ns", (json_int_t)r->change,
						     "a", ic_json(r->a), "b", ic_json(r->b)));
	}
	for (int pass = 0; pass < 2; pass++) {
		const struct ekp_trace *t = pass ? tb : ta, *o = pass ? ta : tb;

		for (uint32_t i = 0; i < t->nr_probes; i++) {
			const char *name = ekp_str(&t->str, t->probes[i].name);
			int64_t h = probe_hits(t, name), g = probe_hits(o, name);

			if (pass && g >= 0)
				continue;
			if (g != h)
				*changed = true;
			json_array_append_new(probes, json_pack("{s:s, s:o, s:o}", "probe", name,
				"a", pass ? json_null() : json_integer(h),
				"b", pass ? json_integer(h) : g < 0 ? json_null() : json_integer(g)));
		}
	}
	json_object_set_new(root, "a", json_string(ta->name));
	json_object_set_new(root, "b", json_string(tb->name));
	json_object_set_new(root, "changed", json_boolean(*changed));
	json_object_set_new(root, "totals", json_pack("{s:[I,I], s:[I,I], s:[I,I], s:[I,I], s:[I,I]}",
		"events", (json_int_t)ta->n, (json_int_t)tb->n,
		"guest_ns", (json_int_t)ta->guest_ns, (json_int_t)tb->guest_ns,
		"lost", (json_int_t)ta->lost, (json_int_t)tb->lost,
		"initcalls", (json_int_t)total_calls(c->ia, c->na),
		(json_int_t)total_calls(c->ib, c->nb),
		"initcall_ns", (json_int_t)total_dur(c->ia, c->na), (json_int_t)total_dur(c->ib, c->nb)));
	json_object_set(root, "initcalls_only_in_a", only_a);
	json_object_set(root, "initcalls_only_in_b", only_b);
	json_object_set(root, "initcall_changes", chg);
	json_object_set(root, "probes", probes);
	s = json_dumps(root, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	if (s) {
		err = ekp_buf_printf(out, "%s\n", s) ? -ENOMEM : 0;
		free(s);
	}
out:
	json_decref(root);
	json_decref(only_a);
	json_decref(only_b);
	json_decref(chg);
	json_decref(probes);
	return err;
}

int ekp_diff(struct ekp_buf *out, const struct ekp_trace *ta, const struct ekp_analysis *aa,
	     const struct ekp_trace *tb, const struct ekp_analysis *ab, bool json, unsigned int top,
	     bool *changed)
{
	struct cmp c;
	int err = compare_initcalls(ta, aa, tb, ab, &c);

	*changed = false;
	if (!err)
		err = json ? diff_json(out, ta, tb, &c, top, changed)
			   : diff_text(out, ta, tb, &c, top, changed);
	cmp_free(&c);
	return err ? ekp_err(-err, "diff: out of memory") : 0;
}
