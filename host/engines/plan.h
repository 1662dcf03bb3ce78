/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which engine holds each probe, decided before anything starts and said for each probe.
 * A default (--engine trap|jump|auto) plus per-probe choices (--engine GRP/EVENT=ENGINE, with
 * shell glob patterns as fnmatch(3) takes them):
 *   trap  a breakpoint held by QEMU's gdbstub (any guest, any site);
 *   jump  a jump into the guest's slots; a probe that cannot take one is an error;
 *   auto  a jump where the site is safe, a trap elsewhere (with the reason).
 */
#ifndef EKPROBE_HOST_ENGINE_PLAN_H
#define EKPROBE_HOST_ENGINE_PLAN_H

#include <stdbool.h>

#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"
#include "host/engines/jump.h"

enum ekp_engine { EKP_ENGINE_TRAP, EKP_ENGINE_JUMP, EKP_ENGINE_AUTO };

struct ekp_engine_choice {
	const char *name;   /* "GRP/EVENT", or "EVENT" in any group; fnmatch(3) patterns */
	enum ekp_engine engine;
};

struct ekp_engine_plan_config {
	const struct ekp_arch *arch;
	const struct ekp_symtab *st;
	struct ekp_probe_list *probes;
	enum ekp_engine dflt;
	const struct ekp_engine_choice *choices;
	unsigned int nr_choices;
	bool attach;        /* attach mode: no shared guest RAM, so no jumps */
};

/* "trap" "jump" "auto" -> 0 and *out; -EINVAL otherwise. */
int ekp_engine_parse(const char *s, enum ekp_engine *out);
const char *ekp_engine_name(enum ekp_engine e);

/*
 * Plan every probe. *jump is the jump engine holding the probes planned on it (NULL when none
 * is). Returns 0, or -EINVAL when a choice names no probe or a probe that must take a jump
 * cannot (each reason already printed, with the probe's file and line): start nothing then.
 */
int ekp_engine_plan(const struct ekp_engine_plan_config *cfg, struct ekp_jump_engine **jump);

#endif
