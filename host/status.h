/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live status line (docs/usage.md "Live status"): on standard error while the guest runs,
 * only when it is a terminal (main decides), redrawn in place at most every 250 ms:
 *
 *   ekprobe-host: guest 4.563 s | 457 hits, 112/s | phase: kernel_init | lost 0
 *
 * guest run time (the clock of ts_ns), events so far and their rate over the last redraw, the
 * last boot phase reached (host/labs/phase.h), records the guest dropped. Messages on standard
 * error clear it first (host/log.c), and it is cleared at the end.
 */
#ifndef EKPROBE_HOST_STATUS_H
#define EKPROBE_HOST_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"
#include "host/event.h"

struct ekp_status {
	int fd;
	signed char *phase;     /* per probe: the boot phase its entry events mark, or -1 */
	unsigned int nr_probes;
	uint64_t hits;
	uint64_t hits_drawn, drawn_at, rate;
	int reached;            /* the last phase reached, or -1 */
	uint64_t lost;
	bool shown;             /* the line is on the terminal now */
};

/* Starts it on fd (a terminal); 0 or -ENOMEM. */
int ekp_status_init(struct ekp_status *s, int fd, const struct ekp_symtab *st,
		    struct ekp_probe *const *probes, unsigned int n);
void ekp_status_event(struct ekp_status *s, const struct ekp_event *ev);
/* The guest ran guest_ns so far and dropped lost records: redraw if 250 ms passed. */
void ekp_status_tick(struct ekp_status *s, uint64_t guest_ns, uint64_t lost);
/* Take the line off the terminal (it comes back at the next tick). */
void ekp_status_clear(struct ekp_status *s);
void ekp_status_fini(struct ekp_status *s);

/* The line itself, for a terminal width (pure; unit-tested). */
int ekp_status_format(char *out, size_t size, unsigned int width, uint64_t guest_ns,
		      uint64_t hits, uint64_t rate, int phase, uint64_t lost);

#endif
