/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The formats that need more than one line per event, between sink.c and each format's file:
 * state kept over the run (paired slices, per-CPU pages) and an end (a closing, a whole file).
 * Text and JSON lines need none of it. Every hook appends whole records with
 * ekp_sink_commit() and returns 0 or a negative errno with its reason recorded.
 */
#ifndef EKPROBE_HOST_SINK_OPS_H
#define EKPROBE_HOST_SINK_OPS_H

#include "host/sinks/sink.h"

struct ekp_sink_ops {
	int (*probes)(struct ekp_sink *s, struct ekp_probe *const *probes, unsigned int n);
	int (*event)(struct ekp_sink *s, const struct ekp_event *ev);
	int (*summary)(struct ekp_sink *s, const struct ekp_summary *sum);
	int (*lost)(struct ekp_sink *s, uint64_t ts_ns, uint64_t lost);
	/* The last records and the final trailer; sink.c writes them. */
	int (*finish)(struct ekp_sink *s);
	void (*fini)(struct ekp_sink *s);
};

extern const struct ekp_sink_ops ekp_sink_perfetto_ops;
extern const struct ekp_sink_ops ekp_sink_tracedat_ops;

#endif
