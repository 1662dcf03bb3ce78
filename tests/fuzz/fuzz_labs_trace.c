// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz the JSON trace reader of `ekprobe-host report` and `diff` (host/labs/trace.h): the input
 * is a trace file. What it accepts is analysed, reported as HTML and compared with itself,
 * which must say "no change"; a refusal always has its reason recorded.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "ekprobe/util.h"
#include "host/labs/trace.h"

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ekp_trace t;
	struct ekp_analysis a;
	struct ekp_buf out = { 0 };
	bool changed = true;
	int err = ekp_trace_parse(&t, "fuzz.json", (const char *)data, size);

	if (err) {
		check(err < 0 && ekp_errstr(err)[0]);
		ekp_trace_free(&t);
		return 0;
	}
	err = ekp_analyze(&t, &a);
	check(!err);
	for (size_t i = 0; i < a.nr_slices; i++)
		check(a.slices[i].start + a.slices[i].dur >= a.slices[i].start);
	check(!ekp_report_html(&out, &t, &a));
	ekp_buf_reset(&out);
	check(!ekp_diff(&out, &t, &a, &t, &a, false, 0, &changed));
	check(!changed);
	ekp_buf_reset(&out);
	check(!ekp_diff(&out, &t, &a, &t, &a, true, 3, &changed));
	check(!changed);
	ekp_buf_free(&out);
	ekp_analysis_free(&a);
	ekp_trace_free(&t);
	return 0;
}
