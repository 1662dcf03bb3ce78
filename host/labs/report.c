// SPDX-License-Identifier: GPL-2.0
/*
 * The HTML report of one JSON trace (trace.h, docs/labs.md): one self-contained file (no
 * script, no outside resource) with
 *
 * - the boot timeline as SVG in the style of the kernel's scripts/bootgraph.pl: one row per
 *   initcall call, grouped per CPU, a bar from its start for its duration, its name beside it,
 *   the 20 slowest in another colour, the boot phases reached as vertical lines;
 * - the slowest initcall, also as data attributes (id="slowest": data-name, data-ns);
 * - the per-probe table: hits, first and last time, rate;
 * - per closing return probe: latency min, p50, p90, p99, max and a log2 histogram;
 * - the 20 slowest initcalls.
 *
 * Every string from the trace is HTML-escaped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/labs/phase.h"
#include "host/labs/trace.h"

#define TOP 20
#define ROW_H 14
#define BARS_W 1000     /* the time axis, px */
#define LEFT 70         /* room for the CPU label */
#define NAME_W 330      /* room for names right of the axis end */

struct out {
	struct ekp_buf *b;
	int err;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	int n;

	if (o->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->err = -EINVAL;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		o->err = ekp_buf_append(o->b, small, (size_t)n) ? -ENOMEM : 0;
		return;
	}
	if (ekp_buf_reserve(o->b, (size_t)n + 1)) {
		o->err = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(o->b->data + o->b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->b->len += (size_t)n;
}

/* Text from the trace, escaped for HTML text and attribute values. */
static void esc(struct out *o, const char *s)
{
	for (; *s && !o->err; s++) {
		switch (*s) {
		case '<': put(o, "&lt;"); break;
		case '>': put(o, "&gt;"); break;
		case '&': put(o, "&amp;"); break;
		case '"': put(o, "&quot;"); break;
		case '\'': put(o, "&#39;"); break;
		default:
			if ((unsigned char)*s < 0x20)
				put(o, "&#xfffd;");
			else
				o->err = ekp_buf_append(o->b, s, 1) ? -ENOMEM : 0;
		}
	}
}

static void dur(struct out *o, uint64_t ns)
{
	if (ns >= UINT64_C(1000000000))
		put(o, "%" PRIu64 ".%03" PRIu64 " s", ns / UINT64_C(1000000000), ns / UINT64_C(1000000) % 1000);
	else if (ns >= UINT64_C(1000000))
		put(o, "%" PRIu64 ".%03" PRIu64 " ms", ns / UINT64_C(1000000), ns / UINT64_C(1000) % 1000);
	else
		put(o, "%" PRIu64 ".%03" PRIu64 " us", ns / UINT64_C(1000), ns % 1000);
}

static void secs(struct out *o, uint64_t ns)
{
	put(o, "%" PRIu64 ".%06" PRIu64, ns / UINT64_C(1000000000), ns / UINT64_C(1000) % 1000000);
}

static const struct ekp_analysis *order_a;

static int by_cpu_start(const void *x, const void *y)
{
	const struct ekp_slice *a = &order_a->slices[*(const size_t *)x];
	const struct ekp_slice *b = &order_a->slices[*(const size_t *)y];

	if (a->cpu != b->cpu)
		return a->cpu < b->cpu ? -1 : 1;
	return a->start < b->start ? -1 : a->start > b->start;
}

static double xpos(uint64_t ts, uint64_t t0, uint64_t span)
{
	return LEFT + (double)(ts - t0) * BARS_W / (double)span;
}

static int timeline(struct out *o, const struct ekp_trace *t, const struct ekp_analysis *a)
{
	size_t n = a->nr_initcalls, *rows;
	uint64_t t0 = UINT64_MAX, t1 = 0, span;
	bool *slow;
	unsigned int height;

	if (!n) {
		put(o, "<p>No initcall with its return in this trace (probe do_one_initcall with "
		       "fn=%%di:symbol and its return to see the timeline).</p>\n");
		return 0;
	}
	rows = malloc(n * sizeof(*rows));
	slow = calloc(a->nr_slices + 1, sizeof(*slow));
	if (!rows || !slow) {
		free(rows);
		free(slow);
		return -ENOMEM;
	}
	memcpy(rows, a->by_dur, n * sizeof(*rows));
	for (size_t i = 0; i < n && i < TOP; i++)
		slow[a->by_dur[i]] = true;
	order_a = a;
	qsort(rows, n, sizeof(*rows), by_cpu_start);
	for (size_t i = 0; i < n; i++) {
		const struct ekp_slice *s = &a->slices[rows[i]];

		if (s->start < t0)
			t0 = s->start;
		if (s->start + s->dur > t1)
			t1 = s->start + s->dur;
	}
	span = t1 > t0 ? t1 - t0 : 1;
	height = (unsigned int)(n + 3) * ROW_H + 30;
	put(o, "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" "
	       "height=\"%u\" font-family=\"monospace\" font-size=\"11\">\n",
	    LEFT + BARS_W + NAME_W, height);
	put(o, "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
	/* The time axis: ten ticks. */
	for (int k = 0; k <= 10; k++) {
		double x = LEFT + BARS_W * k / 10.0;

		put(o, "<line x1=\"%.1f\" y1=\"20\" x2=\"%.1f\" y2=\"%u\" stroke=\"#ddd\"/>"
		       "<text x=\"%.1f\" y=\"14\" text-anchor=\"middle\">", x, x, height - 5, x);
		secs(o, t0 + span * (uint64_t)k / 10);
		put(o, " s</text>\n");
	}
	/* The boot phases reached inside the window. */
	for (int ph = 0; ph < EKP_NR_PHASES; ph++) {
		uint64_t ts = a->phase_ts[ph];
		double x;

		if (ts == UINT64_MAX || ts < t0 || ts > t1)
			continue;
		x = xpos(ts, t0, span);
		put(o, "<line x1=\"%.1f\" y1=\"20\" x2=\"%.1f\" y2=\"%u\" stroke=\"#393\" "
		       "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%u\" fill=\"#393\">%s</text>\n",
		    x, x, height - 5, x + 2, height - 8, ekp_phase_name(ph));
	}
	for (size_t i = 0; i < n; i++) {
		const struct ekp_slice *s = &a->slices[rows[i]];
		unsigned int y = 24 + (unsigned int)i * ROW_H;
		double x = xpos(s->start, t0, span), w = (double)s->dur * BARS_W / (double)span;

		if (!i || s->cpu != a->slices[rows[i - 1]].cpu)
			put(o, "<text x=\"2\" y=\"%u\" font-weight=\"bold\">CPU %u</text>\n",
			    y + ROW_H - 3, s->cpu);
		put(o, "<g class=\"%s\"><title>", slow[rows[i]] ? "ic slow" : "ic");
		esc(o, ekp_str(&t->str, s->name));
		put(o, ": ");
		dur(o, s->dur);
		put(o, " from ");
		secs(o, s->start);
		put(o, " s</title><rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" fill=\"%s\"/>"
		       "<text x=\"%.2f\" y=\"%u\"%s>", x, y, w < 1 ? 1 : w, ROW_H - 3,
		    slow[rows[i]] ? "#d33" : "#36c", x + (w < 1 ? 1 : w) + 3, y + ROW_H - 4,
		    slow[rows[i]] ? " font-weight=\"bold\" fill=\"#b00\"" : "");
		esc(o, ekp_str(&t->str, s->name));
		if (slow[rows[i]]) {
			put(o, " (");
			dur(o, s->dur);
			put(o, ")");
		}
		put(o, "</text></g>\n");
	}
	put(o, "</svg>\n");
	free(rows);
	free(slow);
	return 0;
}

static void probe_table(struct out *o, const struct ekp_trace *t)
{
	put(o, "<h2>Probes</h2>\n<table id=\"probes\"><tr><th>probe</th><th>kind</th>"
	       "<th>function</th><th>hits</th><th>first (s)</th><th>last (s)</th>"
	       "<th>rate (hits/s)</th><th>missed</th></tr>\n");
	for (uint32_t i = 0; i < t->nr_probes; i++) {
		const struct ekp_tprobe *p = &t->probes[i];
		uint64_t span = p->last_ts - p->first_ts;

		put(o, "<tr><td>");
		esc(o, ekp_str(&t->str, p->name));
		put(o, "</td><td>%s</td><td>", p->ret ? "return" : "entry");
		esc(o, ekp_str(&t->str, p->func));
		put(o, "</td><td>%" PRIu64 "</td>", p->hits);
		if (p->seen) {
			put(o, "<td>");
			secs(o, p->first_ts);
			put(o, "</td><td>");
			secs(o, p->last_ts);
			if (p->hits > 1 && span)
				put(o, "</td><td>%.1f</td>", (double)(p->hits - 1) * 1e9 / (double)span);
			else
				put(o, "</td><td>-</td>");
		} else {
			put(o, "<td>-</td><td>-</td><td>-</td>");
		}
		put(o, "<td>%" PRIu64 "</td></tr>\n", p->missed);
	}
	put(o, "</table>\n");
}

static void latencies(struct out *o, const struct ekp_trace *t, const struct ekp_analysis *a)
{
	put(o, "<h2>Return latencies</h2>\n");
	if (!a->nr_lat)
		put(o, "<p>No return probe with its entry probed in this trace.</p>\n");
	for (uint32_t k = 0; k < a->nr_lat; k++) {
		const struct ekp_latency *l = &a->lat[k];
		uint64_t hist[65] = { 0 }, most = 0;
		int lo = 64, hi = 0;

		if (!l->n)
			continue;
		put(o, "<h3>");
		esc(o, ekp_str(&t->str, t->probes[l->probe].name));
		put(o, " (%zu calls)</h3>\n<table class=\"lat\"><tr><th>min</th><th>p50</th>"
		       "<th>p90</th><th>p99</th><th>max</th></tr><tr>", l->n);
		const double q[5] = { 0, 0.5, 0.9, 0.99, 1 };

		for (int i = 0; i < 5; i++) {
			put(o, "<td>");
			dur(o, i ? ekp_quantile(l->ns, l->n, q[i]) : l->ns[0]);
			put(o, "</td>");
		}
		put(o, "</tr></table>\n");
		/* Log2 buckets: [2^b, 2^(b+1)) ns. */
		for (size_t i = 0; i < l->n; i++) {
			int b = l->ns[i] ? 63 - __builtin_clzll(l->ns[i]) : 0;

			hist[b]++;
			lo = b < lo ? b : lo;
			hi = b > hi ? b : hi;
		}
		for (int b = lo; b <= hi; b++)
			most = hist[b] > most ? hist[b] : most;
		put(o, "<table class=\"hist\">\n");
		for (int b = lo; b <= hi; b++) {
			put(o, "<tr><td>&ge; ");
			dur(o, 1ull << b);
			put(o, "</td><td>%" PRIu64 "</td><td><svg width=\"300\" height=\"10\">"
			       "<rect width=\"%.1f\" height=\"10\" fill=\"#36c\"/></svg></td></tr>\n",
			    hist[b], most ? 300.0 * (double)hist[b] / (double)most : 0);
		}
		put(o, "</table>\n");
	}
}

static void slowest_table(struct out *o, const struct ekp_trace *t, const struct ekp_analysis *a)
{
	put(o, "<h2>The %d slowest initcalls</h2>\n<table id=\"slowest-initcalls\"><tr><th>#</th>"
	       "<th>initcall</th><th>duration</th><th>start (s)</th><th>CPU</th><th>task</th>"
	       "<th>returned</th></tr>\n", TOP);
	for (size_t i = 0; i < a->nr_initcalls && i < TOP; i++) {
		const struct ekp_slice *s = &a->slices[a->by_dur[i]];

		put(o, "<tr><td>%zu</td><td>", i + 1);
		esc(o, ekp_str(&t->str, s->name));
		put(o, "</td><td>");
		dur(o, s->dur);
		put(o, "</td><td>");
		secs(o, s->start);
		put(o, "</td><td>%u</td><td>", s->cpu);
		esc(o, s->comm ? ekp_str(&t->str, s->comm) : "?");
		if (s->pid >= 0)
			put(o, "-%" PRId64, s->pid);
		put(o, "</td><td>");
		if (s->returned && s->has_retval)
			put(o, "%" PRId64, s->retval);
		else
			put(o, s->returned ? "" : "(no return)");
		put(o, "</td></tr>\n");
	}
	put(o, "</table>\n");
}

int ekp_report_html(struct ekp_buf *b, const struct ekp_trace *t, const struct ekp_analysis *a)
{
	struct out o = { .b = b };
	int err;

	put(&o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ekprobe report: ");
	esc(&o, t->name);
	put(&o, "</title>\n<style>body{font-family:sans-serif;margin:1em}"
		"table{border-collapse:collapse;margin-bottom:1em}"
		"td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;font-size:13px}"
		"td:nth-child(2),td:first-child{text-align:left}</style></head><body>\n");
	put(&o, "<h1>Boot report: ");
	esc(&o, t->name);
	put(&o, "</h1>\n<p>%zu events, %zu initcalls", t->n, a->nr_initcalls);
	if (t->have_summary) {
		put(&o, ", guest time ");
		dur(&o, t->guest_ns);
		put(&o, ", %" PRIu64 " records lost", t->lost);
	}
	if (t->cut_short)
		put(&o, " (the trace's last line was cut short and is left out)");
	put(&o, ".</p>\n");
	if (a->nr_initcalls) {
		const struct ekp_slice *s = &a->slices[a->by_dur[0]];

		put(&o, "<p id=\"slowest\" data-name=\"");
		esc(&o, ekp_str(&t->str, s->name));
		put(&o, "\" data-ns=\"%" PRIu64 "\">Slowest initcall: <b>", s->dur);
		esc(&o, ekp_str(&t->str, s->name));
		put(&o, "</b>, ");
		dur(&o, s->dur);
		put(&o, "</p>\n");
	}
	put(&o, "<h2>Boot timeline (initcalls)</h2>\n");
	err = timeline(&o, t, a);
	if (err)
		return ekp_err(-err, "report: out of memory");
	slowest_table(&o, t, a);
	probe_table(&o, t);
	latencies(&o, t, a);
	put(&o, "</body></html>\n");
	return o.err ? ekp_err(-o.err, "report: %s", strerror(-o.err)) : 0;
}
