/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Event records: what an engine captured at one hit, in the form every output sink takes.
 * Engines fill them; sinks (host/sinks/) format them; nothing else touches them. Strings in
 * them are raw guest bytes: the sinks escape them (docs/usage.md "Output").
 */
#ifndef EKPROBE_HOST_EVENT_H
#define EKPROBE_HOST_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "ekprobe/probe.h"

/* One fetched argument. */
struct ekp_value {
	int err;                      /* 0, or -EFAULT: the memory could not be read */
	unsigned int count;           /* elements in u[] (1 unless an array) */
	uint64_t u[EKP_MAX_ARRAY];    /* integer values, zero-extended to 64 bits */
	char str[256];                /* string types; truncated strings end in "..." */
	bool str_truncated;
};

struct ekp_task {
	bool known;                   /* false: no task context could be read ("<...>-?") */
	bool idle;                    /* pid 0: init_task or a CPU's idle task, "<idle>" */
	int pid;
	char comm[17];
};

struct ekp_event {
	const struct ekp_probe *probe;
	unsigned int probe_index;     /* in the probe list */
	enum ekp_probe_kind kind;
	uint64_t addr;                /* entry: where the probe fired; return: the function */
	uint64_t ret_addr;            /* return: where the function returned to */
	uint64_t hit_pc;              /* the PC the CPU had (differs from addr at an alias) */
	unsigned int cpu;             /* as the engine got it: never negative */
	uint64_t ts_ns;               /* guest run time, see docs/usage.md "Clocks" */
	const char *engine;           /* "trap" */
	struct ekp_task task;
	unsigned int nr_values;
	struct ekp_value *values;     /* one per probe argument */
};

#endif
