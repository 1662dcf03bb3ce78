/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Output sinks: the last stage of the data flow. An engine's event goes to exactly one sink,
 * which formats it (text like the ftrace trace file, or JSON lines) and writes it out.
 */
#ifndef EKPROBE_HOST_SINK_H
#define EKPROBE_HOST_SINK_H

#include <stdint.h>
#include <stdio.h>

#include "ekprobe/symbols.h"
#include "ekprobe/util.h"
#include "host/event.h"

enum ekp_format { EKP_FORMAT_TEXT, EKP_FORMAT_JSON };

struct ekp_probe_stats {
	const struct ekp_probe *probe;
	const char *engine;  /* the engine that held the probe */
	uint64_t hits;       /* entry events, or return events for 'r' probes */
	uint64_t unmatched;  /* return probes: entries whose return was never seen */
	uint64_t missed;     /* hits not recorded (return frames not tracked: maxactive, no free
			      * instance), as kprobes' nmissed */
};

struct ekp_summary {
	unsigned int nr_probes;
	const struct ekp_probe_stats *stats;
	uint64_t total_hits;
	uint64_t guest_ns;   /* guest run time, same clock as ts_ns */
	uint64_t wall_ns;    /* host wall time from the first instruction to the end */
	uint64_t stopped_ns; /* host time the guest was held stopped by ekprobe */
	uint64_t stops;      /* VM stops the trap engine handled (hits, steps not counted) */
	uint64_t round_trips; /* gdbstub request/reply exchanges while the guest ran (not arming) */
	uint64_t resteps;    /* single-steps repeated because the PC stayed on a breakpoint */
	uint64_t lost;       /* jump engine: records the guest dropped because its ring was full */
	uint64_t invalid;    /* jump engine: records refused as invalid */
	const char *end;     /* how the run ended: "guest exited (status 0)", "detached", ... */
};

/* Pure formatting, unit-tested. */
int ekp_format_text(struct ekp_buf *out, const struct ekp_event *ev, const struct ekp_symtab *st);
int ekp_format_json(struct ekp_buf *out, const struct ekp_event *ev, const struct ekp_symtab *st);
int ekp_format_summary_text(struct ekp_buf *out, const struct ekp_summary *s,
			    const struct ekp_symtab *st);
int ekp_format_summary_json(struct ekp_buf *out, const struct ekp_summary *s,
			    const struct ekp_symtab *st);
/* "sym+0xoff", or "0x<addr>" when no symbol covers addr. */
int ekp_format_sym(struct ekp_buf *out, const struct ekp_symtab *st, uint64_t addr);
/* One argument's value as ftrace shows it: 0x1f, -3, "str", sym+0x10, {1,2}, (fault). */
int ekp_format_value(struct ekp_buf *out, const struct ekp_arg *arg, const struct ekp_value *v,
		     const struct ekp_symtab *st);

struct ekp_sink {
	enum ekp_format format;
	FILE *out;
	const struct ekp_symtab *st;
	struct ekp_buf line;
	uint64_t written;
};

void ekp_sink_init(struct ekp_sink *s, enum ekp_format format, FILE *out,
		   const struct ekp_symtab *st);
int ekp_sink_event(struct ekp_sink *s, const struct ekp_event *ev);
int ekp_sink_summary(struct ekp_sink *s, const struct ekp_summary *sum);
int ekp_sink_flush(struct ekp_sink *s);
void ekp_sink_fini(struct ekp_sink *s);

#endif
