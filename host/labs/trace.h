/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boot-analysis labs (docs/labs.md): a JSON trace (--format json, one event a line and the
 * --summary line) read back, analysed into slices, per-probe counts, latencies and boot phases,
 * and shown as an HTML report (report.c) or compared with another (diff.c).
 *
 * The trace is outside data: every line is parsed with jansson and checked (keys, types,
 * ranges) before use; a line that is not an event nor the summary is an error naming
 * FILE:LINE, except a last line cut short (a run killed while writing), which is left out with
 * a warning.
 */
#ifndef EKPROBE_HOST_LABS_TRACE_H
#define EKPROBE_HOST_LABS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekprobe/util.h"

/* Interned strings: id 0 is "" (none). */
struct ekp_strings {
	struct ekp_buf text;    /* NUL-separated */
	uint32_t *off;          /* id -> offset in text */
	uint32_t n, cap;
	uint32_t *hash;         /* open addressing: id + 1, 0 free */
	uint32_t hcap;
};

struct ekp_tev {
	uint64_t ts_ns;
	uint64_t addr;          /* entry: the probe's address; return: the function */
	uint32_t probe;         /* index in ekp_trace.probes */
	uint32_t cpu;
	int64_t pid;            /* -1: unknown task */
	uint32_t comm;          /* string id */
	uint32_t label;         /* the first arg that reads "sym+0xoff" (a :symbol), without
				 * "+0x0"; 0 when none */
	int64_t retval;         /* return events: the first integer argument */
	bool has_retval;
	bool ret;               /* a return event */
};

struct ekp_tprobe {
	uint32_t name;          /* "GRP/EVENT" */
	uint32_t func;          /* the function it is in ("sym" without "+0x..") */
	uint64_t addr;
	bool ret;
	bool seen;              /* an event of it is in the trace (else only in the summary) */
	uint64_t hits;          /* events in the trace */
	uint64_t first_ts, last_ts;
	int64_t summary_hits;   /* the summary's count, or -1 */
	uint64_t missed;        /* the summary's */
};

struct ekp_trace {
	const char *name;       /* for messages */
	struct ekp_strings str;
	struct ekp_tev *ev;
	size_t n, cap;
	struct ekp_tprobe *probes;
	uint32_t nr_probes, cap_probes;
	bool have_summary;
	uint64_t guest_ns, lost, invalid, unknown_task;
	uint32_t end;           /* the summary's "end", string id */
	uint64_t skipped_clock; /* events with ts_ns at or above 2^63 (a broken clock), left out */
	bool cut_short;         /* the last line was cut short and left out */
};

const char *ekp_str(const struct ekp_strings *s, uint32_t id);
int ekp_str_intern(struct ekp_strings *s, const char *str, size_t len, uint32_t *id);

/* Parse len bytes of a JSON trace named name. 0, or a negative errno with the reason
 * ("NAME:LINE: ...") recorded with ekp_err(). The trace is freed with ekp_trace_free() either
 * way. */
int ekp_trace_parse(struct ekp_trace *t, const char *name, const char *data, size_t len);
/* The same from a file (a regular file or a pipe; "-" is standard input). */
int ekp_trace_load(struct ekp_trace *t, const char *path);
void ekp_trace_free(struct ekp_trace *t);

/* ---- analysis --------------------------------------------------------------------------- */

struct ekp_slice {
	uint64_t start, dur;    /* ns */
	uint32_t name;          /* the entry's label, else the function */
	uint32_t func;          /* the function */
	uint32_t opener, closer; /* probe indexes */
	uint32_t cpu;
	int64_t pid;
	uint32_t comm;
	uint32_t depth;         /* open calls of the same task around it */
	int64_t retval;
	bool has_retval;
	bool returned;          /* false: closed with its parent or the trace's end */
	bool initcall;          /* a call of do_one_initcall */
};

struct ekp_latency {
	uint32_t probe;         /* the return probe */
	uint64_t *ns;           /* durations of its calls, sorted */
	size_t n;
};

struct ekp_analysis {
	struct ekp_slice *slices;
	size_t nr_slices;
	size_t *by_dur;         /* initcall slice indexes, longest first */
	size_t nr_initcalls;
	struct ekp_latency *lat;
	uint32_t nr_lat;
	uint64_t phase_ts[16];  /* per boot phase: its first hit, or UINT64_MAX */
	uint64_t first_ts, last_ts;
	uint64_t unmatched_returns;
};

int ekp_analyze(const struct ekp_trace *t, struct ekp_analysis *a);
void ekp_analysis_free(struct ekp_analysis *a);
/* The q-quantile (0..1) of sorted values, nearest rank. */
uint64_t ekp_quantile(const uint64_t *sorted, size_t n, double q);

/* ---- outputs ------------------------------------------------------------------------------ */

/* The self-contained HTML report (report.c). */
int ekp_report_html(struct ekp_buf *out, const struct ekp_trace *t, const struct ekp_analysis *a);

/* The comparison of two traces (diff.c): text or JSON; *changed says whether anything differs. */
int ekp_diff(struct ekp_buf *out, const struct ekp_trace *ta, const struct ekp_analysis *aa,
	     const struct ekp_trace *tb, const struct ekp_analysis *ab, bool json, unsigned int top,
	     bool *changed);

/* `ekprobe-host report ...` and `ekprobe-host diff ...` (cli.c): the process exit status. */
int ekp_labs_main(int argc, char **argv);

#endif
