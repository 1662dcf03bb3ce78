/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Output sinks: the last stage of the data flow. An engine's event goes to exactly one sink,
 * which formats it (text like the ftrace trace file, or JSON lines) and writes it out.
 * Every string that came from the guest or from a file (comm, string values, symbol names)
 * is escaped the same way in both formats: see ekp_format_escaped().
 */
#ifndef EKPROBE_HOST_SINK_H
#define EKPROBE_HOST_SINK_H

#include <stdbool.h>
#include <stdint.h>

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
	uint64_t lost;       /* exit-less engines: records dropped because a ring was full */
	uint64_t invalid;    /* exit-less engines: records refused as invalid */
	uint64_t unknown_task; /* events whose task could not be read; the sink fills it in */
	const char *end;     /* how the run ended: "guest exited (status 0)", "detached", ... */
};

/* Pure formatting, unit-tested. */
int ekp_format_text(struct ekp_buf *out, const struct ekp_event *ev, const struct ekp_symtab *st);
int ekp_format_json(struct ekp_buf *out, const struct ekp_event *ev, const struct ekp_symtab *st);
int ekp_format_summary_text(struct ekp_buf *out, const struct ekp_summary *s,
			    const struct ekp_symtab *st);
int ekp_format_summary_json(struct ekp_buf *out, const struct ekp_summary *s,
			    const struct ekp_symtab *st);
/*
 * Append str with C-style escapes: \n \r \t \\ \" and \xNN (two lowercase hex digits) for
 * every other control character (C0, DEL, the C1 range U+0080-U+009F) and for every byte that
 * is not part of valid UTF-8 (stray, overlong, surrogate, above U+10FFFF, cut short). Valid
 * UTF-8 is kept. The result is valid UTF-8 with no control characters, and lossless: undoing
 * the escapes gives str back.
 */
int ekp_format_escaped(struct ekp_buf *out, const char *str);
/* The argument's value is a string (ekp_value.str): string types, $comm, "immediate". */
bool ekp_value_is_string(const struct ekp_arg *arg);
/* "sym+0xoff" (the name escaped), or "0x<addr>" when no symbol covers addr. */
int ekp_format_sym(struct ekp_buf *out, const struct ekp_symtab *st, uint64_t addr);
/* One argument's value as ftrace shows it: 0x1f, -3, "str", sym+0x10, {1,2}, (fault). */
int ekp_format_value(struct ekp_buf *out, const struct ekp_arg *arg, const struct ekp_value *v,
		     const struct ekp_symtab *st);

/*
 * A sink writes whole records to a file descriptor, never a part of one on purpose: records
 * are buffered and written at ekp_sink_flush(), when the buffer is full, or each at once to a
 * terminal. The first write error is kept: it is recorded with ekp_err() ("writing the trace
 * to FILE: No space left on device") and every later call fails at once with the same error.
 * When a write into a regular file fails part-way, the file is truncated back to the end of
 * the last complete record.
 */
struct ekp_sink {
	enum ekp_format format;
	int fd;
	const char *name;       /* for messages: the file, or "standard output" */
	const struct ekp_symtab *st;
	bool regular;           /* a regular file: a cut record can be truncated away */
	bool unbuffered;        /* a terminal: every record is written at once */
	struct ekp_buf pending; /* whole records not yet written */
	struct ekp_buf ends;    /* size_t: where each record in pending ends */
	uint64_t events;        /* events formatted */
	uint64_t unknown_task;  /* of which with an unknown task */
	int err;                /* 0, or the first write error (negative errno) */
	char errmsg[512];
};

/* fd stays the caller's (not closed); name is the output file, or NULL for standard output. */
void ekp_sink_init(struct ekp_sink *s, enum ekp_format format, int fd, const char *name,
		   const struct ekp_symtab *st);
int ekp_sink_event(struct ekp_sink *s, const struct ekp_event *ev);
/* Writes the summary (with the sink's own unknown_task count) and flushes. */
int ekp_sink_summary(struct ekp_sink *s, const struct ekp_summary *sum);
int ekp_sink_flush(struct ekp_sink *s);
/* 0, or the sink's first write error (negative errno), its reason recorded again for
 * ekp_errstr(). */
int ekp_sink_error(const struct ekp_sink *s);
/* Frees the buffers; records not flushed are dropped (flush first). */
void ekp_sink_fini(struct ekp_sink *s);

#endif
