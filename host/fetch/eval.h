/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fetch-arg evaluation: computes a probe argument from captured registers and guest memory.
 * Pure given its callbacks, so it is tested without a guest; the engines supply memory reads.
 */
#ifndef EKPROBE_HOST_FETCH_H
#define EKPROBE_HOST_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "host/event.h"

struct ekp_fetch_ctx {
	const struct ekp_arch *arch;
	const struct ekp_regs *regs;
	/* Read guest virtual memory: 0, or -EFAULT when it cannot be read. */
	int (*read_mem)(void *opaque, uint64_t addr, void *buf, size_t len);
	void *opaque;
	const struct ekp_task *task;  /* for $comm */
};

/* Evaluate one argument into *out (out->err set on a fault; the return is 0 then too).
 * Returns negative errno only for a failure of the machinery (e.g. a lost connection). */
int ekp_fetch_arg(const struct ekp_fetch_ctx *ctx, const struct ekp_arg *arg,
		  struct ekp_value *out);

/* True if evaluating the probe's arguments needs guest memory (used to plan round trips). */
bool ekp_probe_reads_memory(const struct ekp_probe *p, const struct ekp_arch *arch);

#endif
