/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Output sinks: the last stage of the data flow. An engine's event goes to exactly one sink,
 * which formats it and writes it out: text like the ftrace trace file, JSON lines, trace-cmd's
 * trace.dat (tracedat.c) or Chrome trace-event JSON for Perfetto and speedscope (perfetto.c).
 * Every string that came from the guest or from a file (comm, string values, symbol names)
 * is escaped the same way in every format: see ekp_format_escaped().
 */
#ifndef EKPROBE_HOST_SINK_H
#define EKPROBE_HOST_SINK_H

#include <stdbool.h>
#include <stdint.h>

#include "ekprobe/symbols.h"
#include "ekprobe/util.h"
#include "host/event.h"

enum ekp_format { EKP_FORMAT_TEXT, EKP_FORMAT_JSON, EKP_FORMAT_TRACEDAT, EKP_FORMAT_PERFETTO };

/* "text", "json", "tracedat", "perfetto": 0 and *out, or -EINVAL. */
int ekp_format_by_name(const char *name, enum ekp_format *out);

struct ekp_probe_stats {
	const struct ekp_probe *probe;
	const char *engine;  /* the engine that held the probe */
	uint64_t hits;       /* entry events, or return events for 'r' probes */
	uint64_t unmatched;  /* return probes: entries whose return was never seen */
	uint64_t missed;     /* hits not recorded (return frames not tracked: maxactive, no free
			      * instance), as kprobes' nmissed */
	bool handed_off;     /* --handoff: the guest's own kprobe took it over */
	uint64_t hits_before_handoff; /* host hits when it did (hits - this: returns of frames
				       * entered before the handoff) */
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
	bool handoff;        /* --handoff was asked for */
	bool handed_over;    /* ... and happened, at handoff_ns (guest run time) */
	uint64_t handoff_ns;
	const char *end;     /* how the run ended: "guest exited (status 0)", "detached", ... */
	bool kaslr;          /* the kernel was found moved at boot (KASLR): the slides below */
	uint64_t virt_slide; /* added to link-time addresses in the kernel mapping */
	uint64_t phys_slide; /* added to the image's link-time physical address */
	uint64_t entry_phys; /* where its first instruction ran */
};

/* --handoff: where the host's own stream of some probes ends (docs/handoff.md). */
struct ekp_handoff_mark {
	uint64_t ts_ns;                  /* guest run time, same clock as events */
	const char *to;                  /* what records them from here on */
	struct ekp_probe *const *probes;
	const bool *handed;              /* per probe: handed over now */
	unsigned int nr_probes;
	bool detached;                   /* --detach-after-handoff: the host's whole stream ends
					  * here (handed: the probes the guest records on) */
};

/* Pure formatting, unit-tested. */
int ekp_format_handoff_text(struct ekp_buf *out, const struct ekp_handoff_mark *m);
int ekp_format_handoff_json(struct ekp_buf *out, const struct ekp_handoff_mark *m);
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

/* The JSON format's pieces (host/sinks/json.c), for the formats built on JSON; each returns a
 * new reference, or NULL when out of memory. */
typedef struct json_t json_t;
/* One argument's value as "args" shows it: a number, "0x..", "str", "sym+0x10", [..], null. */
json_t *ekp_json_value(const struct ekp_arg *arg, const struct ekp_value *v,
		       const struct ekp_symtab *st);
json_t *ekp_json_escaped(const char *s);                       /* an escaped string */
json_t *ekp_json_sym(const struct ekp_symtab *st, uint64_t addr); /* "sym+0xoff" or "0x.." */
json_t *ekp_json_hex(uint64_t v);                              /* "0x1f" */

/*
 * A sink writes whole records to a file descriptor, never a part of one on purpose: records
 * are buffered and written at ekp_sink_flush(), when the buffer is full, or each at once to a
 * terminal. The first write error is kept: it is recorded with ekp_err() ("writing the trace
 * to FILE: No space left on device") and every later call fails at once with the same error.
 * When a write into a regular file fails part-way, the file is truncated back to the end of
 * the last complete record.
 *
 * Formats that need the whole run: perfetto's JSON document needs its closing bracket, which
 * the sink writes after the records at every flush into a regular file (and writes over with
 * the next records), so the file is a valid document after every flush and after a write
 * error; into a pipe the closing comes at ekp_sink_finish(). A trace.dat needs its per-CPU
 * data contiguous and sized in its header: it is kept in memory and written whole at
 * ekp_sink_finish() (a failed write leaves an empty file, never a cut one).
 */
struct ekp_sink_ops;

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
	/* Formats that need the whole run. */
	const struct ekp_sink_ops *ops;
	void *priv;             /* the format's state */
	struct ekp_buf trailer; /* what closes the file after the records (perfetto) */
	bool seekable;          /* regular, not O_APPEND: the trailer is written after every
				 * flush and the next records go over it */
	bool finished;          /* ekp_sink_finish() ran */
	struct ekp_sink *also;  /* the next sink of a tee (--tee): every call goes to each */
};

/*
 * fd stays the caller's (not closed); name is the output file, or NULL for standard output.
 * Set also to tee to more sinks: every call below goes to each sink of the chain, whatever
 * the others did, and returns the first error (ekp_sink_fini() frees only s).
 */
void ekp_sink_init(struct ekp_sink *s, enum ekp_format format, int fd, const char *name,
		   const struct ekp_symtab *st);
/*
 * The probes of the run, in list order (ev->probe_index indexes them). The tracedat and
 * perfetto formats need them before the first event: event formats (checked here with
 * libtraceevent, the parser trace-cmd uses), and which entry probes pair with a return probe
 * into slices. A no-op for text and JSON. 0, or a negative errno with the reason recorded.
 */
int ekp_sink_probes(struct ekp_sink *s, struct ekp_probe *const *probes, unsigned int n);
int ekp_sink_event(struct ekp_sink *s, const struct ekp_event *ev);
/* The symbols addresses are shown with from now on (the running kernel's, once KASLR's move
 * is known); st must stay valid while the sink uses it. */
void ekp_sink_set_symtab(struct ekp_sink *s, const struct ekp_symtab *st);
int ekp_sink_handoff(struct ekp_sink *s, const struct ekp_handoff_mark *m);
/*
 * The guest dropped records (an exit-less engine's ring was full): lost is the run's total so
 * far, ts_ns the guest time of the last event before it was noticed. Perfetto: a counter;
 * tracedat: the next page of the CPU of the next event says how many were dropped. A no-op
 * for text and JSON (their summary says it).
 */
int ekp_sink_lost(struct ekp_sink *s, uint64_t ts_ns, uint64_t lost);
/* Writes the summary (with the sink's own unknown_task count) and flushes. */
int ekp_sink_summary(struct ekp_sink *s, const struct ekp_summary *sum);
int ekp_sink_flush(struct ekp_sink *s);
/*
 * The end of the trace, on every path (guest exit, signal, error): what the format still owes
 * (perfetto's open slices and closing, the whole trace.dat), then a flush. Only once; later
 * calls return the sink's error state.
 */
int ekp_sink_finish(struct ekp_sink *s);
/* 0, or the sink's first write error (negative errno), its reason recorded again for
 * ekp_errstr(). */
int ekp_sink_error(const struct ekp_sink *s);
/* Frees the buffers and the format's state; records not flushed are dropped (flush or finish
 * first). */
void ekp_sink_fini(struct ekp_sink *s);

/*
 * For the formats (host/sinks/): one whole record was appended to pending from start on: mark
 * its end and write when due. With err (the formatting failed) the record is taken back and
 * err returned with its reason.
 */
int ekp_sink_commit(struct ekp_sink *s, size_t start, int err);

#endif
