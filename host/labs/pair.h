/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pairing entries with returns into slices, for the perfetto sink and the report (docs/labs.md):
 * each task has a stack of open calls; a return of function F closes the innermost open call
 * of F in the same task. Calls above it (their returns were never seen: maxactive, a missed
 * hit) are closed with it and said to be unfinished, so the slices of one task always nest.
 *
 * A task is a pid for known tasks other than the idle ones, and a CPU for idle tasks (all pid
 * 0) and unknown ones: ekp_pair_task().
 */
#ifndef EKPROBE_HOST_LABS_PAIR_H
#define EKPROBE_HOST_LABS_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ekp_pair_frame {
	uint64_t func;    /* the function (the return probe's address) */
	uint64_t ts_ns;   /* the entry's time */
	size_t payload;   /* the caller's: an index, an id */
};

struct ekp_pair_stack;

struct ekp_pairer {
	struct ekp_pair_stack *tab; /* open addressing on the task key */
	size_t cap, used;
	size_t open;                /* open calls in all tasks */
};

enum ekp_pair_task_kind { EKP_TASK_PID = 1, EKP_TASK_IDLE = 2, EKP_TASK_UNKNOWN = 3 };

/* The task key of an event: (kind << 32) | pid or cpu. */
uint64_t ekp_pair_task(bool known, bool idle, int pid, unsigned int cpu);

void ekp_pair_init(struct ekp_pairer *p);
void ekp_pair_fini(struct ekp_pairer *p);
/* An entry: a call of func opens in task. 0 or -ENOMEM. */
int ekp_pair_push(struct ekp_pairer *p, uint64_t task, uint64_t func, uint64_t ts_ns,
		  size_t payload);
/*
 * A return of func in task: 1 and the call in *out when one is open; the calls opened above
 * it are handed to unfinished (innermost first), which may be NULL. 0 when none is open (the
 * stack is left as it was).
 */
int ekp_pair_pop(struct ekp_pairer *p, uint64_t task, uint64_t func, struct ekp_pair_frame *out,
		 void (*unfinished)(void *ctx, uint64_t task, const struct ekp_pair_frame *f),
		 void *ctx);
/* Depth of task's stack (open calls). */
size_t ekp_pair_depth(const struct ekp_pairer *p, uint64_t task);
/* Every call still open, task by task (in no set order of tasks), innermost first; then the
 * pairer is empty. */
void ekp_pair_drain(struct ekp_pairer *p,
		    void (*open)(void *ctx, uint64_t task, const struct ekp_pair_frame *f),
		    void *ctx);

#endif
