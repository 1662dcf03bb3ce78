/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which engine holds each probe, decided before anything starts and said for each probe:
 * a default (--engine NAME|auto) plus per-probe choices (--engine GRP/EVENT=NAME|auto, with
 * shell glob patterns as fnmatch(3) takes them). A named engine must take the probe, or
 * nothing starts; auto gives it the first registered engine that takes it
 * (host/engines/list.h), saying why the ones before did not.
 */
#ifndef EKPROBE_HOST_ENGINES_PLAN_H
#define EKPROBE_HOST_ENGINES_PLAN_H

#include <stdbool.h>

#include "host/engines/engine.h"

#define EKP_ENGINE_AUTO "auto"

struct ekp_engine_choice {
	const char *name;   /* "GRP/EVENT", or "EVENT" in any group; fnmatch(3) patterns */
	const char *engine; /* a registered engine's name, or "auto" */
};

struct ekp_plan_config {
	const struct ekp_engine_env *env; /* engines are created with it */
	const char *dflt;                 /* an engine's name, or "auto" */
	const struct ekp_engine_choice *choices;
	unsigned int nr_choices;
};

/* The engines of a run, each holding at least one probe, in registration order. */
struct ekp_engine_set {
	struct ekp_engine **engines;
	unsigned int nr;
	unsigned int *owner;   /* per probe: its engine's index in engines[] */
};

/* A registered engine's name or "auto". */
bool ekp_engine_name_valid(const char *name);
/* "jump, trap or auto", for messages. */
const char *ekp_engine_names(void);

/*
 * Plan every probe. Returns 0 and the set, or -EINVAL when a choice names no probe or a probe
 * cannot have the engine named for it (each reason already printed, with the probe's file and
 * line): start nothing then. Other negative errno (ekp_err) on a failure of ekprobe-host
 * itself (out of memory, from any engine too): never taken as a reason to use another engine.
 */
int ekp_engines_plan(const struct ekp_plan_config *cfg, struct ekp_engine_set **out);
/* The same over the engines ops[0..nr), in that order of preference (tests). */
int ekp_engines_plan_from(const struct ekp_engine_ops *const *ops, unsigned int nr,
			  const struct ekp_plan_config *cfg, struct ekp_engine_set **out);
void ekp_engines_free(struct ekp_engine_set *set);

#endif
