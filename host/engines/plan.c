// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/engines/plan.h"
#include "host/log.h"

static const char *const names[] = { [EKP_ENGINE_TRAP] = "trap", [EKP_ENGINE_JUMP] = "jump",
				     [EKP_ENGINE_AUTO] = "auto" };

const char *ekp_engine_name(enum ekp_engine e)
{
	return (unsigned int)e < EKP_ARRAY_SIZE(names) ? names[e] : "?";
}

int ekp_engine_parse(const char *s, enum ekp_engine *out)
{
	for (unsigned int i = 0; i < EKP_ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum ekp_engine)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* "GRP/EVENT" against the probe's full name, "EVENT" against its event name; shell globs. */
static bool choice_matches(const struct ekp_engine_choice *c, const struct ekp_probe *p)
{
	char full[2 * EKP_MAX_NAME + 2];

	if (!strchr(c->name, '/'))
		return !fnmatch(c->name, p->event, 0);
	snprintf(full, sizeof(full), "%s/%s", p->group, p->event);
	return !fnmatch(c->name, full, 0);
}

/* The engine chosen for p: the last matching choice wins, as with repeated options. */
static enum ekp_engine engine_of(const struct ekp_engine_plan_config *cfg,
				 const struct ekp_probe *p, bool *used)
{
	enum ekp_engine e = cfg->dflt;

	for (unsigned int k = 0; k < cfg->nr_choices; k++) {
		if (choice_matches(&cfg->choices[k], p)) {
			e = cfg->choices[k].engine;
			used[k] = true;
		}
	}
	return e;
}

static const char *where(const struct ekp_probe *p)
{
	return p->file ? p->file : "-p";
}

static int open_jump_engine(const struct ekp_engine_plan_config *cfg, struct ekp_probe **v,
			    unsigned int n, struct ekp_jump_engine **out)
{
	struct ekp_jump_config jc = { .arch = cfg->arch, .st = cfg->st, .probes = v, .nr_probes = n };

	return ekp_jump_engine_new(&jc, out);
}

int ekp_engine_plan(const struct ekp_engine_plan_config *cfg, struct ekp_jump_engine **jump)
{
	unsigned int n = ekp_probe_list_count(cfg->probes), nr_jump = 0, bad = 0;
	enum ekp_engine *eng = calloc(n + 1, sizeof(*eng));
	bool *used = calloc(cfg->nr_choices + 1, sizeof(*used));
	struct ekp_probe **v = calloc(n + 1, sizeof(*v));
	char why[512];
	int err = 0;

	*jump = NULL;
	if (!eng || !used || !v) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		v[i] = ekp_probe_list_get(cfg->probes, i);
		eng[i] = engine_of(cfg, v[i], used);
		nr_jump += eng[i] != EKP_ENGINE_TRAP;
	}
	for (unsigned int k = 0; k < cfg->nr_choices; k++) {
		if (!used[k]) {
			ekp_error("--engine %s=%s: no probe is named %s", cfg->choices[k].name,
				  ekp_engine_name(cfg->choices[k].engine), cfg->choices[k].name);
			bad++;
		}
	}
	if (bad || !nr_jump)
		goto out;
	if (cfg->attach) {
		for (unsigned int i = 0; i < n; i++) {
			if (eng[i] != EKP_ENGINE_JUMP)
				continue;
			ekp_error("%s:%u: %s/%s: the jump engine needs launch mode: its ring is read "
				  "through guest RAM that ekprobe-host shares with the QEMU it starts",
				  where(v[i]), v[i]->line, v[i]->group, v[i]->event);
			bad++;
		}
		if (!bad)
			ekp_info("attach mode: every probe uses the trap engine (jumps need launch mode)");
		goto out;
	}
	if (open_jump_engine(cfg, v, n, jump)) {
		for (unsigned int i = 0; i < n; i++) {
			if (eng[i] != EKP_ENGINE_JUMP)
				continue;
			ekp_error("%s:%u: %s/%s: cannot take a jump: %s", where(v[i]), v[i]->line,
				  v[i]->group, v[i]->event, ekp_errmsg());
			bad++;
		}
		if (!bad)
			ekp_info("every probe uses the trap engine: %s", ekp_errmsg());
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct ekp_probe *p = v[i];

		if (eng[i] == EKP_ENGINE_TRAP) {
			ekp_info("%s/%s: trap engine (chosen)", p->group, p->event);
			continue;
		}
		if (!ekp_jump_plan(*jump, i, why, sizeof(why))) {
			ekp_info("%s/%s: jump engine", p->group, p->event);
			continue;
		}
		if (eng[i] == EKP_ENGINE_JUMP) {
			ekp_error("%s:%u: %s/%s: cannot take a jump: %s", where(p), p->line, p->group,
				  p->event, why);
			bad++;
		} else {
			ekp_info("%s/%s: trap engine (%s)", p->group, p->event, why);
		}
	}
	if (!bad && !ekp_jump_nr_planned(*jump)) {
		ekp_jump_engine_free(*jump);
		*jump = NULL;
	}
out:
	if (bad) {
		ekp_jump_engine_free(*jump);
		*jump = NULL;
		err = -EINVAL;
	}
	/* A jump engine keeps pointers into v for the whole run. */
	if (!*jump)
		free(v);
	free(eng);
	free(used);
	return err;
}
