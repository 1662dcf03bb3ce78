// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/engines/plan.h"
#include "host/log.h"

bool ekp_engine_name_valid(const char *name)
{
	return !strcmp(name, EKP_ENGINE_AUTO) || ekp_engine_by_name(name);
}

const char *ekp_engine_names(void)
{
	static char buf[256];

	if (!buf[0]) {
		size_t used = 0;

		for (unsigned int i = 0; i < ekp_engine_count(); i++)
			used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s, ",
						 ekp_engine_at(i)->name);
		snprintf(buf + used, sizeof(buf) - used, "or %s", EKP_ENGINE_AUTO);
	}
	return buf;
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
static const char *choice_of(const struct ekp_plan_config *cfg, const struct ekp_probe *p,
			     bool *used)
{
	const char *e = cfg->dflt;

	for (unsigned int k = 0; k < cfg->nr_choices; k++) {
		if (choice_matches(&cfg->choices[k], p)) {
			e = cfg->choices[k].engine;
			used[k] = true;
		}
	}
	return e;
}

/* One registered engine during planning: created on first need, or why it cannot be. */
struct candidate {
	const struct ekp_engine_ops *ops;
	struct ekp_engine *e;
	bool tried, said;
	int err;         /* create's error */
	char why[512];
};

/* Out of memory is a failure of ekprobe-host, never a reason to pick another engine. */
static bool fatal(int err)
{
	return err == -ENOMEM;
}

static struct ekp_engine *candidate_get(struct candidate *c, const struct ekp_engine_env *env)
{
	if (c->tried)
		return c->e;
	c->tried = true;
	if (env->may_relocate && !c->ops->relocate) {
		c->err = ekp_err(EOPNOTSUPP, "the %s engine cannot follow a kernel that KASLR moves "
				 "(its probes would go to link-time addresses): boot the guest with "
				 "nokaslr, or use another engine", c->ops->name);
		snprintf(c->why, sizeof(c->why), "%s", ekp_errstr(c->err));
		return NULL;
	}
	c->err = c->ops->create(env, &c->e);
	if (c->err) {
		snprintf(c->why, sizeof(c->why), "%s", ekp_errstr(c->err));
		c->e = NULL;
		return NULL;
	}
	c->e->ops = c->ops;
	return c->e;
}

static const char *where(const struct ekp_probe *p)
{
	return p->file ? p->file : "-p";
}

/* A named engine for probe i: it takes it, or nothing starts. */
static int plan_named(struct candidate *cand, unsigned int k, const struct ekp_engine_env *env,
		      unsigned int i, bool chosen, bool say)
{
	const struct ekp_probe *p = env->probes[i];
	struct ekp_engine *e = candidate_get(&cand[k], env);
	const char *why;
	int err;

	if (!e) {
		if (fatal(cand[k].err))
			return ekp_err(-cand[k].err, "the %s engine: %s", cand[k].ops->name,
				       cand[k].why);
		why = cand[k].why;
	} else if ((err = e->ops->plan(e, i))) {
		if (fatal(err))
			return err;
		why = ekp_errstr(err);
	} else {
		if (say)
			ekp_info("%s/%s: %s engine%s", p->group, p->event, cand[k].ops->name,
				 chosen ? " (chosen)" : "");
		return 0;
	}
	ekp_error("%s:%u: %s/%s: cannot use the %s engine: %s", where(p), p->line, p->group,
		  p->event, cand[k].ops->name, why);
	return -EINVAL;
}

/* auto: the first engine that takes probe i, saying why the ones before did not. */
static int plan_auto(struct candidate *cand, unsigned int nr, const struct ekp_engine_env *env,
		     unsigned int i, unsigned int *owner)
{
	const struct ekp_probe *p = env->probes[i];
	char reasons[1024] = "";
	size_t used = 0;

	for (unsigned int k = 0; k < nr; k++) {
		struct ekp_engine *e = candidate_get(&cand[k], env);
		int err;

		if (!e && fatal(cand[k].err))
			return ekp_err(-cand[k].err, "the %s engine: %s", cand[k].ops->name,
				       cand[k].why);
		if (!e) {
			if (!cand[k].said)
				ekp_info("the %s engine is not available: %s", cand[k].ops->name,
					 cand[k].why);
			cand[k].said = true;
			continue;
		}
		err = e->ops->plan(e, i);
		if (fatal(err))
			return err;
		if (!err) {
			*owner = k;
			if (used)
				ekp_info("%s/%s: %s engine (%s)", p->group, p->event, cand[k].ops->name,
					 reasons);
			else
				ekp_info("%s/%s: %s engine", p->group, p->event, cand[k].ops->name);
			return 0;
		}
		used += (size_t)snprintf(reasons + used, sizeof(reasons) - used, "%s%s",
					 used ? "; " : "", ekp_errstr(err));
		if (used >= sizeof(reasons))
			used = sizeof(reasons) - 1;
	}
	ekp_error("%s:%u: %s/%s: no engine takes it (%s)", where(p), p->line, p->group, p->event,
		  reasons);
	return -EINVAL;
}

int ekp_engines_plan(const struct ekp_plan_config *cfg, struct ekp_engine_set **out)
{
	const struct ekp_engine_ops *ops[16];
	unsigned int nr = ekp_engine_count();

	for (unsigned int k = 0; k < nr && k < EKP_ARRAY_SIZE(ops); k++)
		ops[k] = ekp_engine_at(k);
	return ekp_engines_plan_from(ops, nr < EKP_ARRAY_SIZE(ops) ? nr : EKP_ARRAY_SIZE(ops), cfg,
				     out);
}

int ekp_engines_plan_from(const struct ekp_engine_ops *const *ops, unsigned int nr,
			  const struct ekp_plan_config *cfg, struct ekp_engine_set **out)
{
	const struct ekp_engine_env *env = cfg->env;
	unsigned int n = env->nr_probes, bad = 0;
	struct candidate *cand = calloc(nr, sizeof(*cand));
	bool *used = calloc(cfg->nr_choices + 1, sizeof(*used));
	unsigned int *owner = calloc((size_t)n + 1, sizeof(*owner));
	struct ekp_engine_set *set = calloc(1, sizeof(*set));
	int err = 0;

	*out = NULL;
	if (!cand || !used || !owner || !set) {
		err = ekp_err(ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned int k = 0; k < nr; k++)
		cand[k].ops = ops[k];
	/* Say which engine each probe got when there was a choice to make. */
	bool say = false;

	for (unsigned int i = 0; i < n; i++) {
		const char *name = choice_of(cfg, env->probes[i], used);

		say |= !strcmp(name, EKP_ENGINE_AUTO) || strcmp(name, cfg->dflt);
	}
	for (unsigned int k = 0; k < cfg->nr_choices; k++) {
		if (!used[k]) {
			ekp_error("--engine %s=%s: no probe is named %s", cfg->choices[k].name,
				  cfg->choices[k].engine, cfg->choices[k].name);
			bad++;
		}
	}
	bool bad_choice = bad != 0;

	/* Every probe, so that every refusal is said before nothing starts. */
	for (unsigned int i = 0; !bad_choice && i < n; i++) {
		bool chosen = false;
		const char *name = choice_of(cfg, env->probes[i], used);

		if (!strcmp(name, EKP_ENGINE_AUTO)) {
			err = plan_auto(cand, nr, env, i, &owner[i]);
			if (fatal(err))
				goto out;
			bad += err != 0;
			err = 0;
			continue;
		}
		for (unsigned int k = 0; k < nr; k++) {
			if (strcmp(cand[k].ops->name, name))
				continue;
			chosen = true;
			owner[i] = k;
			err = plan_named(cand, k, env, i, strcmp(name, cfg->dflt) != 0, say);
			if (fatal(err))
				goto out;
			bad += err != 0;
			err = 0;
		}
		if (!chosen) {
			ekp_error("no engine is named %s", name);
			bad++;
		}
	}
	if (bad) {
		err = -EINVAL;
		goto out;
	}
	/* Keep the engines that hold a probe, in registration order; owner[] follows. */
	set->engines = calloc(nr, sizeof(*set->engines));
	if (!set->engines) {
		err = ekp_err(ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned int k = 0; k < nr; k++) {
		bool holds = false;

		for (unsigned int i = 0; i < n && !holds; i++)
			holds = owner[i] == k;
		if (!holds || !cand[k].e)
			continue;
		for (unsigned int i = 0; i < n; i++)
			if (owner[i] == k)
				owner[i] = set->nr | 0x80000000u;
		set->engines[set->nr++] = cand[k].e;
		cand[k].e = NULL;
	}
	for (unsigned int i = 0; i < n; i++)
		owner[i] &= ~0x80000000u;
	set->owner = owner;
	owner = NULL;
	*out = set;
	set = NULL;
out:
	for (unsigned int k = 0; cand && k < nr; k++)
		if (cand[k].e)
			cand[k].ops->destroy(cand[k].e);
	ekp_engines_free(set);
	free(cand);
	free(used);
	free(owner);
	return err;
}

void ekp_engines_free(struct ekp_engine_set *set)
{
	if (!set)
		return;
	for (unsigned int k = 0; k < set->nr; k++)
		set->engines[k]->ops->destroy(set->engines[k]);
	free(set->engines);
	free(set->owner);
	free(set);
}
