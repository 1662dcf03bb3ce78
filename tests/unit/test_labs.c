// SPDX-License-Identifier: GPL-2.0
/*
 * The boot-analysis labs' pure parts: JSON traces read back (and refused), their analysis
 * (initcall slices, latencies, phases), the HTML report, diff, and the live status line.
 * Traces are written here in --format json's shape; real boots are in t_labs.sh.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ekprobe/err.h"
#include "ekprobe/util.h"
#include "host/labs/phase.h"
#include "host/labs/trace.h"
#include "host/status.h"

#define A_IC "0xffffffff81000200"

static void entry(struct ekp_buf *b, uint64_t ts, const char *fn)
{
	assert_int_equal(ekp_buf_printf(b, "{\"probe\":\"initcall/start\",\"kind\":\"entry\",\"addr\":\""
		A_IC "\",\"sym\":\"do_one_initcall+0x0\",\"cpu\":0,\"ts_ns\":%" PRIu64 ",\"engine\":"
		"\"trap\",\"comm\":\"swapper/0\",\"pid\":1,\"args\":{\"fn\":\"%s+0x0\"}}\n", ts, fn), 0);
}

static void leave(struct ekp_buf *b, uint64_t ts, int ret)
{
	assert_int_equal(ekp_buf_printf(b, "{\"probe\":\"initcall/end\",\"kind\":\"return\",\"addr\":\""
		A_IC "\",\"sym\":\"do_one_initcall+0x0\",\"cpu\":0,\"ts_ns\":%" PRIu64 ",\"engine\":"
		"\"trap\",\"comm\":\"swapper/0\",\"pid\":1,\"args\":{\"ret\":%d}}\n", ts, ret), 0);
}

static void point(struct ekp_buf *b, const char *probe, const char *sym, uint64_t ts)
{
	assert_int_equal(ekp_buf_printf(b, "{\"probe\":\"%s\",\"kind\":\"entry\",\"addr\":"
		"\"0xffffffff81000100\",\"sym\":\"%s+0x0\",\"cpu\":0,\"ts_ns\":%" PRIu64 ",\"engine\":"
		"\"trap\",\"comm\":null,\"pid\":null,\"args\":{}}\n", probe, sym, ts), 0);
}

/* A boot: kernel_init, then initcalls a (100 us), b (3 ms, twice: 1 + 2), c (50 us,
 * returns ret_c), and, when with_d, d (7 us); durations of a scaled by scale_a. */
static void boot(struct ekp_buf *b, unsigned int scale_a, int ret_c, bool with_d)
{
	uint64_t t = 1000000;

	point(b, "boot/kernel_init", "kernel_init", t);
	entry(b, t += 1000, "a_init");
	leave(b, t += 100000 * scale_a, 0);
	entry(b, t += 1000, "b_init");
	leave(b, t += 1000000, 0);
	entry(b, t += 1000, "c_init");
	leave(b, t += 50000, ret_c);
	entry(b, t += 1000, "b_init");
	leave(b, t += 2000000, 0);
	if (with_d) {
		entry(b, t += 1000, "d_init");
		leave(b, t += 7000, 0);
	}
	assert_int_equal(ekp_buf_printf(b, "{\"summary\":{\"probes\":[],\"guest_ns\":%" PRIu64
					",\"lost\":0}}\n", t + 5000), 0);
}

static void load(struct ekp_trace *t, struct ekp_analysis *a, const char *name,
		 const struct ekp_buf *b)
{
	assert_int_equal(ekp_trace_parse(t, name, b->data, b->len), 0);
	assert_int_equal(ekp_analyze(t, a), 0);
}

static void test_analysis(void **state)
{
	struct ekp_buf b = { 0 };
	struct ekp_trace t;
	struct ekp_analysis a;

	(void)state;
	boot(&b, 1, 0, true);
	load(&t, &a, "t.json", &b);
	assert_int_equal(t.n, 11);
	assert_true(t.have_summary);
	assert_int_equal(a.nr_initcalls, 5);
	/* Longest first: b's second call (2 ms), b's first, a, c, d. */
	assert_string_equal(ekp_str(&t.str, a.slices[a.by_dur[0]].name), "b_init");
	assert_int_equal(a.slices[a.by_dur[0]].dur, 2000000);
	assert_int_equal(a.slices[a.by_dur[1]].dur, 1000000);
	assert_string_equal(ekp_str(&t.str, a.slices[a.by_dur[2]].name), "a_init");
	assert_string_equal(ekp_str(&t.str, a.slices[a.by_dur[4]].name), "d_init");
	assert_int_equal(a.nr_lat, 1);
	assert_int_equal(a.lat[0].n, 5);
	assert_int_equal(a.lat[0].ns[0], 7000);
	assert_int_equal(ekp_quantile(a.lat[0].ns, a.lat[0].n, 0.5), 100000);
	assert_int_equal(ekp_quantile(a.lat[0].ns, a.lat[0].n, 0.99), 2000000);
	assert_int_equal(a.phase_ts[ekp_phase_of("kernel_init", 11)], 1000000);
	ekp_analysis_free(&a);
	ekp_trace_free(&t);
	ekp_buf_free(&b);
}

static void test_refused(void **state)
{
	static const struct { const char *text, *reason; } bad[] = {
		{ "{\"probe\":\"x\"}\n", "bad.json:1: an event without probe, kind or sym" },
		{ "\n[1]\n", "bad.json:2: not an object" },
		{ "{\"probe\":\"p\",\"kind\":\"call\",\"addr\":\"0x1\",\"sym\":\"f+0x0\"}\n",
		  "bad.json:1: kind is neither entry nor return: call" },
		{ "{\"probe\":\"p\",\"kind\":\"entry\",\"addr\":1,\"sym\":\"f+0x0\"}\n",
		  "bad.json:1: addr is not a hex string" },
		{ "nonsense\n{}\n", "bad.json:1: not JSON" },
		{ "", "bad.json: no events" },
	};

	(void)state;
	for (size_t i = 0; i < EKP_ARRAY_SIZE(bad); i++) {
		struct ekp_trace t;
		int err = ekp_trace_parse(&t, "bad.json", bad[i].text, strlen(bad[i].text));

		assert_int_equal(err, -EINVAL);
		assert_non_null(strstr(ekp_errstr(err), bad[i].reason));
		ekp_trace_free(&t);
	}
}

static void test_cut_short(void **state)
{
	struct ekp_buf b = { 0 };
	struct ekp_trace t;

	(void)state;
	boot(&b, 1, 0, false);
	b.len -= 10; /* the summary line loses its end */
	assert_int_equal(ekp_trace_parse(&t, "cut.json", b.data, b.len), 0);
	assert_true(t.cut_short);
	assert_false(t.have_summary);
	assert_int_equal(t.n, 9);
	ekp_trace_free(&t);
	ekp_buf_free(&b);
}

/* --handoff's mark lines in a JSON trace are not events. */
static void test_handoff_marks(void **state)
{
	struct ekp_buf b = { 0 }, marks = { 0 };
	struct ekp_trace t;

	(void)state;
	boot(&b, 1, 0, false);
	assert_int_equal(ekp_buf_printf(&marks, "{\"handoff\":{\"ts_ns\":5,\"to\":\"x\","
					"\"probes\":[\"initcall/start\"]}}\n{\"detached\":{\"ts_ns\":6,"
					"\"to\":\"x\",\"probes\":[]}}\n%s", b.data), 0);
	assert_int_equal(ekp_trace_parse(&t, "marks.json", marks.data, marks.len), 0);
	assert_true(t.have_summary);
	assert_int_equal(t.n, 9);
	ekp_trace_free(&t);
	ekp_buf_free(&b);
	ekp_buf_free(&marks);
}

static char *diff_of(const struct ekp_buf *x, const struct ekp_buf *y, bool json,
		     unsigned int top, bool *changed)
{
	struct ekp_trace ta, tb;
	struct ekp_analysis aa, ab;
	struct ekp_buf out = { 0 };

	load(&ta, &aa, "A", x);
	load(&tb, &ab, "B", y);
	assert_int_equal(ekp_diff(&out, &ta, &aa, &tb, &ab, json, top, changed), 0);
	ekp_analysis_free(&aa);
	ekp_analysis_free(&ab);
	ekp_trace_free(&ta);
	ekp_trace_free(&tb);
	return out.data;
}

static void test_diff_self(void **state)
{
	struct ekp_buf b = { 0 };
	bool changed = true;
	char *s;
	json_t *j;

	(void)state;
	boot(&b, 1, 0, true);
	s = diff_of(&b, &b, false, 25, &changed);
	assert_false(changed);
	assert_non_null(strstr(s, "\nno change\n"));
	assert_null(strstr(s, "only in"));
	free(s);
	s = diff_of(&b, &b, true, 25, &changed);
	assert_false(changed);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_false(json_object_get(j, "changed")));
	assert_int_equal(json_array_size(json_object_get(j, "initcall_changes")), 0);
	json_decref(j);
	free(s);
	ekp_buf_free(&b);
}

static void test_diff_changes(void **state)
{
	struct ekp_buf x = { 0 }, y = { 0 };
	bool changed = false;
	char *s, *a_line, *c_line;
	json_t *j, *c0;

	(void)state;
	boot(&x, 1, 0, true);
	boot(&y, 30, -1, false); /* a takes 3 ms instead of 100 us; c fails; no d */
	s = diff_of(&x, &y, false, 25, &changed);
	assert_true(changed);
	a_line = strstr(s, "a_init");
	c_line = strstr(s, "c_init");
	assert_non_null(a_line);
	assert_non_null(c_line);
	assert_true(a_line < c_line); /* the larger change first */
	assert_non_null(strstr(s, "+2.900 ms  a_init"));
	assert_non_null(strstr(s, "returned 0 -> -1"));
	assert_non_null(strstr(s, "initcalls only in A (1):\n  d_init"));
	assert_null(strstr(s, "b_init")); /* unchanged: not listed */
	assert_non_null(strstr(s, "probe initcall/start: 5 -> 4 hits (-1)"));
	assert_null(strstr(s, "no change"));
	free(s);
	/* --top 1: one change shown, the rest counted. */
	s = diff_of(&x, &y, false, 1, &changed);
	assert_non_null(strstr(s, "(1 more; --top 0 shows all)"));
	free(s);
	s = diff_of(&x, &y, true, 0, &changed);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "changed")));
	c0 = json_array_get(json_object_get(j, "initcall_changes"), 0);
	assert_string_equal(json_string_value(json_object_get(c0, "name")), "a_init");
	assert_int_equal(json_integer_value(json_object_get(c0, "change_ns")), 2900000);
	assert_int_equal(json_array_size(json_object_get(j, "initcall_changes")), 2);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(j, "initcalls_only_in_a"), 0), "name")), "d_init");
	json_decref(j);
	free(s);
	ekp_buf_free(&x);
	ekp_buf_free(&y);
}

static void test_report(void **state)
{
	struct ekp_buf b = { 0 }, out = { 0 };
	struct ekp_trace t;
	struct ekp_analysis a;

	(void)state;
	boot(&b, 1, 0, true);
	entry(&b, 9000000, "x_init");
	leave(&b, 19000000, 0); /* 10 ms: the slowest */
	point(&b, "boot/<script>", "rest_init", 20000000); /* a name to escape */
	load(&t, &a, "r&d.json", &b);
	assert_int_equal(ekp_report_html(&out, &t, &a), 0);
	assert_non_null(strstr(out.data, "id=\"slowest\" data-name=\"x_init\" "
				      "data-ns=\"10000000\""));
	assert_null(strstr(out.data, "<script"));
	assert_non_null(strstr(out.data, "<td>boot/&lt;script&gt;</td>"));
	assert_non_null(strstr(out.data, "r&amp;d.json"));
	assert_non_null(strstr(out.data, "<svg id=\"timeline\""));
	/* One bar per initcall call, the probe table, latencies. */
	size_t bars = 0;

	for (const char *p = out.data; (p = strstr(p, "<g class=\"ic")); p++)
		bars++;
	assert_int_equal(bars, 6);
	assert_non_null(strstr(out.data, "<td>initcall/end</td><td>return</td>"));
	assert_non_null(strstr(out.data, "initcall/end (6 calls)"));
	ekp_analysis_free(&a);
	ekp_trace_free(&t);
	ekp_buf_free(&b);
	ekp_buf_free(&out);
}

static void test_status_line(void **state)
{
	char line[256];
	int n;

	(void)state;
	n = ekp_status_format(line, sizeof(line), 200, 4563000000ull, 457, 112,
			      ekp_phase_of("kernel_init", 11), 3);
	assert_string_equal(line, "ekprobe-host: guest 4.563 s | 457 hits, 112/s | phase: "
				  "kernel_init | lost 3");
	assert_int_equal(n, (int)strlen(line));
	ekp_status_format(line, sizeof(line), 200, 0, 0, 0, -1, 0);
	assert_string_equal(line, "ekprobe-host: guest 0.000 s | 0 hits, 0/s | phase: - | lost 0");
	/* Never wider than the terminal: one column short, so it never wraps. */
	n = ekp_status_format(line, sizeof(line), 30, 4563000000ull, 457, 112, 0, 0);
	assert_int_equal(n, 29);
	assert_int_equal(strlen(line), 29);
	assert_memory_equal(line, "ekprobe-host: guest 4.563 s |", 29);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_analysis),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_cut_short),
		cmocka_unit_test(test_handoff_marks),
		cmocka_unit_test(test_diff_self),
		cmocka_unit_test(test_diff_changes),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_status_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
