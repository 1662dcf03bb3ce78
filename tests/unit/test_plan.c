// SPDX-License-Identifier: GPL-2.0
/*
 * host/engines/plan.c over engines of the test's own: auto takes the first engine that takes
 * a probe, a named engine must take it, a choice must name a probe, out of memory is fatal
 * (never a reason to use another engine), and nothing planned leaks (ASan's leak check in
 * make unit-asan). The registry's real engines are exercised by the boot tests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ekprobe/err.h"
#include "host/engines/plan.h"

#define NR 4

struct fake {
	struct ekp_engine base;
	bool taken[NR];
};

static int fake_create(const struct ekp_engine_env *env, struct ekp_engine **out)
{
	struct fake *f = calloc(1, sizeof(*f));

	(void)env;
	if (!f)
		return -ENOMEM;
	*out = &f->base;
	return 0;
}

static void fake_destroy(struct ekp_engine *e)
{
	free(e);
}

/* "even" takes probes 0 and 2 only; "any" takes all; "oom" runs out of memory planning. */
static int even_plan(struct ekp_engine *e, unsigned int i)
{
	if (i % 2)
		return ekp_err(EOPNOTSUPP, "probe %u is odd", i);
	((struct fake *)e)->taken[i] = true;
	return 0;
}

static int any_plan(struct ekp_engine *e, unsigned int i)
{
	((struct fake *)e)->taken[i] = true;
	return 0;
}

static int oom_plan(struct ekp_engine *e, unsigned int i)
{
	(void)e;
	(void)i;
	return ekp_err(ENOMEM, "out of memory");
}

static int nope_create(const struct ekp_engine_env *env, struct ekp_engine **out)
{
	(void)env;
	(void)out;
	return ekp_err(EOPNOTSUPP, "needs launch mode");
}

static const struct ekp_engine_ops even = { .name = "even", .create = fake_create,
					    .plan = even_plan, .destroy = fake_destroy };
static const struct ekp_engine_ops any = { .name = "any", .create = fake_create,
					   .plan = any_plan, .destroy = fake_destroy };
static const struct ekp_engine_ops oom = { .name = "oom", .create = fake_create,
					   .plan = oom_plan, .destroy = fake_destroy };
static const struct ekp_engine_ops nope = { .name = "nope", .create = nope_create,
					    .plan = any_plan, .destroy = fake_destroy };

static struct ekp_probe probes[NR];
static struct ekp_probe *pv[NR] = { &probes[0], &probes[1], &probes[2], &probes[3] };
static const struct ekp_engine_env env = { .probes = pv, .nr_probes = NR };

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < NR; i++) {
		strcpy(probes[i].group, "g");
		probes[i].event[0] = (char)('a' + i);
		probes[i].line = (unsigned int)i + 1;
	}
	return 0;
}

static int plan(const struct ekp_engine_ops *const *ops, unsigned int nr, const char *dflt,
		const struct ekp_engine_choice *ch, unsigned int nch, struct ekp_engine_set **set)
{
	struct ekp_plan_config cfg = { .env = &env, .dflt = dflt, .choices = ch,
				       .nr_choices = nch };

	return ekp_engines_plan_from(ops, nr, &cfg, set);
}

static void test_auto_first_that_takes(void **state)
{
	const struct ekp_engine_ops *ops[] = { &nope, &even, &any };
	struct ekp_engine_set *set;

	(void)state;
	assert_int_equal(plan(ops, 3, "auto", NULL, 0, &set), 0);
	/* nope never runs; even takes 0 and 2, any the odd ones: two engines, in order. */
	assert_int_equal(set->nr, 2);
	assert_string_equal(set->engines[0]->ops->name, "even");
	assert_string_equal(set->engines[1]->ops->name, "any");
	assert_int_equal(set->owner[0], 0);
	assert_int_equal(set->owner[1], 1);
	assert_int_equal(set->owner[2], 0);
	assert_int_equal(set->owner[3], 1);
	assert_true(((struct fake *)set->engines[0])->taken[2]);
	assert_false(((struct fake *)set->engines[0])->taken[1]);
	ekp_engines_free(set);
}

static void test_named_must_take(void **state)
{
	const struct ekp_engine_ops *ops[] = { &even, &any };
	struct ekp_engine_choice ch[] = { { "b", "any" }, { "d", "any" } };
	struct ekp_engine_set *set = (void *)1;

	(void)state;
	/* Default "even" refuses b and d: nothing starts. */
	assert_int_equal(plan(ops, 2, "even", NULL, 0, &set), -EINVAL);
	assert_null(set);
	/* With b and d on "any": fine, and "any" holds only them. */
	assert_int_equal(plan(ops, 2, "even", ch, 2, &set), 0);
	assert_int_equal(set->nr, 2);
	assert_int_equal(set->owner[1], 1);
	assert_int_equal(set->owner[0], 0);
	ekp_engines_free(set);
	/* An engine that cannot run, named: refused. */
	ops[0] = &nope;
	assert_int_equal(plan(ops, 2, "nope", NULL, 0, &set), -EINVAL);
}

static void test_choice_names_no_probe(void **state)
{
	const struct ekp_engine_ops *ops[] = { &any };
	struct ekp_engine_choice ch[] = { { "g/zz*", "any" } };
	struct ekp_engine_set *set = (void *)1;

	(void)state;
	assert_int_equal(plan(ops, 1, "any", ch, 1, &set), -EINVAL);
	assert_null(set);
}

/* Out of memory in an engine is ekprobe-host's failure: -ENOMEM with a reason, not a
 * fallback to the next engine and not a usage error (main exits 1 and says it). */
static void test_out_of_memory_is_fatal(void **state)
{
	const struct ekp_engine_ops *ops[] = { &oom, &any };
	struct ekp_engine_set *set = (void *)1;
	int err;

	(void)state;
	err = plan(ops, 2, "auto", NULL, 0, &set);
	assert_int_equal(err, -ENOMEM);
	assert_null(set);
	assert_non_null(strstr(ekp_errstr(err), "out of memory"));
	assert_int_equal(plan(ops, 2, "oom", NULL, 0, &set), -ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_first_that_takes),
		cmocka_unit_test(test_named_must_take),
		cmocka_unit_test(test_choice_names_no_probe),
		cmocka_unit_test(test_out_of_memory_is_fatal),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
