// SPDX-License-Identifier: GPL-2.0
/* Entries and returns paired into nested slices, per task (pair.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/labs/pair.h"

struct ekp_pair_stack {
	uint64_t task;        /* 0: a free slot (no task key is 0: its kind is never 0) */
	struct ekp_pair_frame *f;
	size_t n, cap;
};

uint64_t ekp_pair_task(bool known, bool idle, int pid, unsigned int cpu)
{
	if (known && !idle)
		return (uint64_t)EKP_TASK_PID << 32 | (uint32_t)pid;
	return (uint64_t)(known ? EKP_TASK_IDLE : EKP_TASK_UNKNOWN) << 32 | cpu;
}

void ekp_pair_init(struct ekp_pairer *p)
{
	memset(p, 0, sizeof(*p));
}

void ekp_pair_fini(struct ekp_pairer *p)
{
	for (size_t i = 0; i < p->cap; i++)
		free(p->tab[i].f);
	free(p->tab);
	memset(p, 0, sizeof(*p));
}

static size_t slot_of(uint64_t task, size_t cap)
{
	uint64_t h = task * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (cap - 1);
}

/* The stack of task, or NULL when it has none (and !create). */
static struct ekp_pair_stack *find(struct ekp_pairer *p, uint64_t task, bool create)
{
	size_t i;

	if (create && (p->used + 1) * 2 > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct ekp_pair_stack *tab = calloc(cap, sizeof(*tab));

		if (!tab)
			return NULL;
		for (size_t k = 0; k < p->cap; k++) {
			if (!p->tab[k].task)
				continue;
			for (i = slot_of(p->tab[k].task, cap); tab[i].task; i = (i + 1) & (cap - 1))
				;
			tab[i] = p->tab[k];
		}
		free(p->tab);
		p->tab = tab;
		p->cap = cap;
	}
	if (!p->cap)
		return NULL;
	for (i = slot_of(task, p->cap); p->tab[i].task; i = (i + 1) & (p->cap - 1))
		if (p->tab[i].task == task)
			return &p->tab[i];
	if (!create)
		return NULL;
	p->tab[i].task = task;
	p->used++;
	return &p->tab[i];
}

int ekp_pair_push(struct ekp_pairer *p, uint64_t task, uint64_t func, uint64_t ts_ns,
		  size_t payload)
{
	struct ekp_pair_stack *st = find(p, task, true);

	if (!st)
		return -ENOMEM;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		struct ekp_pair_frame *f = realloc(st->f, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		st->f = f;
		st->cap = cap;
	}
	st->f[st->n++] = (struct ekp_pair_frame){ .func = func, .ts_ns = ts_ns, .payload = payload };
	p->open++;
	return 0;
}

int ekp_pair_pop(struct ekp_pairer *p, uint64_t task, uint64_t func, struct ekp_pair_frame *out,
		 void (*unfinished)(void *ctx, uint64_t task, const struct ekp_pair_frame *f),
		 void *ctx)
{
	struct ekp_pair_stack *st = find(p, task, false);
	size_t i;

	if (!st)
		return 0;
	for (i = st->n; i > 0 && st->f[i - 1].func != func; i--)
		;
	if (!i)
		return 0;
	while (st->n > i) {
		st->n--;
		p->open--;
		if (unfinished)
			unfinished(ctx, task, &st->f[st->n]);
	}
	*out = st->f[--st->n];
	p->open--;
	return 1;
}

size_t ekp_pair_depth(const struct ekp_pairer *p, uint64_t task)
{
	const struct ekp_pair_stack *st = find((struct ekp_pairer *)p, task, false);

	return st ? st->n : 0;
}

void ekp_pair_drain(struct ekp_pairer *p,
		    void (*open)(void *ctx, uint64_t task, const struct ekp_pair_frame *f),
		    void *ctx)
{
	for (size_t k = 0; k < p->cap; k++) {
		struct ekp_pair_stack *st = &p->tab[k];

		while (st->n) {
			st->n--;
			p->open--;
			if (open)
				open(ctx, st->task, &st->f[st->n]);
		}
	}
}
