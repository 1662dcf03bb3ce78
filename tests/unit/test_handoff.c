// SPDX-License-Identifier: GPL-2.0
/*
 * The stock-kernel handoff's preparation (host/handoff/boot_events.c): kprobe_event= forms of
 * parsed probes, what that form cannot carry, the kernel's blacklist from its symbols, the
 * checks before anything starts (kprobes, kprobe events, -kernel, a kprobe_event= already
 * there, the command line's length), the -append QEMU gets, and the handoff mark in both
 * output formats. The real boot is tests/integration/t_handoff.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "host/handoff/handoff.h"
#include "host/sinks/sink.h"

static struct ekp_probe *parse(const char *text)
{
	struct ekp_probe *p = NULL;

	assert_int_equal(ekp_probe_parse(text, ekp_arch_by_name("x86_64"), &p, NULL), 0);
	return p;
}

static void def_is(const char *text, const char *want)
{
	struct ekp_probe *p = parse(text);
	struct ekp_buf b = { 0 };

	assert_int_equal(ekp_handoff_boot_def(&b, p), 0);
	assert_string_equal(b.data, want);
	ekp_buf_free(&b);
	ekp_probe_free(p);
}

static void def_refused(const char *text, const char *why)
{
	struct ekp_probe *p = parse(text);
	struct ekp_buf b = { 0 };
	int err = ekp_handoff_boot_def(&b, p);

	assert_int_equal(err, -EINVAL);
	if (!strstr(ekp_errstr(err), why))
		fail_msg("reason '%s' does not say '%s'", ekp_errstr(err), why);
	assert_true(b.len == 0);
	ekp_buf_free(&b);
	ekp_probe_free(p);
}

static void test_boot_defs(void **state)
{
	(void)state;
	def_is("p:t/in do_one_initcall fn=%di:symbol", "p:t/in,do_one_initcall,fn=%di:symbol");
	def_is("r:t/out do_one_initcall ret=$retval:s32",
	       "r:t/out,do_one_initcall,ret=$retval:s32");
	def_is("  r10:g/e\tfoo+0   x=+8(%sp):u64  ", "r10:g/e,foo+0,x=+8(%sp):u64");
	/* A name the user left out is the one ekprobe gave: the kernel gets it explicit. */
	def_is("p do_one_initcall", "p:kprobes/p_do_one_initcall_0,do_one_initcall");
	def_is("p:ev 0xffffffff81000000 $comm", "p:kprobes/ev,0xffffffff81000000,$comm");
	def_refused("p:t/s foo s=\\\"a,b\"", "cannot carry '\"'");
	def_refused("p:t/m vmlinux:foo", "MOD: prefix");
}

static const char smap[] =
	"ffffffff81000000 T foo\n"
	"ffffffff81000100 T bar\n"
	"ffffffff81000200 T nokp\n"
	"ffffffff81000300 T register_kprobe\n"
	"ffffffff81000400 T trace_event_enable_disable\n"
	"ffffffff81000500 T kallsyms_lookup_name\n"
	"ffffffff81000600 t init_kprobe_trace\n"
	"ffffffff81000700 T __entry_text_start\n"
	"ffffffff81000800 T entry_fn\n"
	"ffffffff81000900 T __entry_text_end\n"
	"ffffffff81000a00 t create_or_delete_trace_kprobe\n"
	"ffffffff81000b00 T zz_last\n"
	"ffffffff82000000 d kprobe_boot_events_buf\n"
	"ffffffff82000800 d _kbl_addr_nokp\n"
	"ffffffff82000900 d zz_data\n";

static struct ekp_symtab *symtab(const char *without)
{
	struct ekp_symtab *st = NULL;
	char buf[sizeof(smap)], *line, *save = NULL, copy[sizeof(smap)];
	size_t n = 0;

	memcpy(copy, smap, sizeof(smap));
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *name = strrchr(line, ' ') + 1;

		if (without && !strcmp(name, without))
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\n", line);
	}
	assert_int_equal(ekp_symtab_load_mem(buf, n, false, &st), 0);
	return st;
}

struct ctx {
	struct ekp_probe *p[4];
	bool eligible[4];
	unsigned int kept;
	char why[4][512];
};

static void kept(void *opaque, const struct ekp_probe *p, const char *why)
{
	struct ctx *c = opaque;

	(void)p;
	snprintf(c->why[c->kept++ % 4], sizeof(c->why[0]), "%s", why);
}

static void setup_probes(struct ctx *c)
{
	static const char *const text[] = {
		"p:t/a foo x=%di", "r:t/b bar ret=$retval:s32", "p:t/c nokp", "p:t/d entry_fn",
	};
	static const uint64_t addr[] = {
		0xffffffff81000000ull, 0xffffffff81000100ull, 0xffffffff81000200ull,
		0xffffffff81000800ull,
	};

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 4; i++) {
		c->p[i] = parse(text[i]);
		c->p[i]->addr = addr[i];
		c->p[i]->resolved = true;
		c->eligible[i] = true;
	}
}

static void free_probes(struct ctx *c)
{
	for (int i = 0; i < 4; i++)
		ekp_probe_free(c->p[i]);
}

static int prepare(struct ctx *c, const struct ekp_symtab *st, char **argv, struct ekp_handoff *h)
{
	struct ekp_handoff_config cfg = {
		.st = st, .probes = c->p, .nr_probes = 4, .eligible = c->eligible,
		.qemu_argv = argv, .kept = kept, .opaque = c,
	};

	return ekp_handoff_prepare(&cfg, h);
}

static void test_prepare(void **state)
{
	char *argv[] = { "qemu-system-x86_64", "-kernel", "bz", "-append", "console=ttyS0 quiet",
			 NULL };
	struct ekp_symtab *st = symtab(NULL);
	struct ekp_handoff h;
	struct ekp_qemu_argv qa;
	struct ctx c;

	(void)state;
	setup_probes(&c);
	c.eligible[1] = false; /* on another engine, or --no-handoff: not even looked at */
	assert_int_equal(prepare(&c, st, argv, &h), 0);
	assert_int_equal(h.nr_handed, 1);
	assert_true(h.handed[0] && !h.handed[1] && !h.handed[2] && !h.handed[3]);
	assert_int_equal(c.kept, 2);
	assert_non_null(strstr(c.why[0], "nokp is on the kernel's kprobe blacklist"));
	assert_non_null(strstr(c.why[1], "in .entry.text"));
	assert_string_equal(h.append, "console=ttyS0 quiet trace_event= trace_clock=global "
				      "kprobe_event=p:t/a,foo,x=%di");
	assert_true(h.switch_addr == 0xffffffff81000400ull);
	assert_true(h.caller_lo == 0xffffffff81000600ull && h.caller_hi == 0xffffffff81000700ull);
	assert_true(h.create_addr == 0xffffffff81000a00ull);

	/* QEMU gets that -append in place of the user's. */
	assert_int_equal(ekp_qemu_argv_init(&qa, argv), 0);
	assert_int_equal(ekp_handoff_qemu_args(&h, &qa), 0);
	assert_string_equal(ekp_qemu_argv_value(&qa, "append"), h.append);
	assert_int_equal((int)qa.n, 5);
	ekp_qemu_argv_free(&qa);
	ekp_handoff_free(&h);

	/* Two probes, separated by ';'; the user's trace_event= already expands the buffer. */
	c.eligible[1] = true;
	c.kept = 0;
	argv[4] = "trace_event=sched:* quiet";
	assert_int_equal(prepare(&c, st, argv, &h), 0);
	assert_int_equal(h.nr_handed, 2);
	assert_string_equal(h.append, "trace_event=sched:* quiet trace_clock=global "
				      "kprobe_event=p:t/a,foo,x=%di;r:t/b,bar,ret=$retval:s32");
	ekp_handoff_free(&h);

	/* The user's own trace clock is kept (and the buffer expanded by ftrace=). */
	argv[4] = "ftrace=nop trace_clock=local";
	assert_int_equal(prepare(&c, st, argv, &h), 0);
	assert_string_equal(h.append, "ftrace=nop trace_clock=local "
				      "kprobe_event=p:t/a,foo,x=%di;r:t/b,bar,ret=$retval:s32");
	ekp_handoff_free(&h);

	/* Nothing eligible: nothing to hand, the command line untouched. */
	memset(c.eligible, 0, sizeof(c.eligible));
	assert_int_equal(prepare(&c, st, argv, &h), 0);
	assert_int_equal(h.nr_handed, 0);
	assert_null(h.append);
	assert_int_equal(ekp_qemu_argv_init(&qa, argv), 0);
	assert_int_equal(ekp_handoff_qemu_args(&h, &qa), 0);
	assert_string_equal(ekp_qemu_argv_value(&qa, "append"), "ftrace=nop trace_clock=local");
	ekp_qemu_argv_free(&qa);
	ekp_handoff_free(&h);

	free_probes(&c);
	ekp_symtab_free(st);
}

static void refused(struct ctx *c, const struct ekp_symtab *st, char **argv, int want,
		    const char *why)
{
	struct ekp_handoff h;
	int err = prepare(c, st, argv, &h);

	assert_int_equal(err, want);
	if (!strstr(ekp_errstr(err), why))
		fail_msg("reason '%s' does not say '%s'", ekp_errstr(err), why);
	assert_null(h.handed);
	assert_null(h.append);
}

static void test_refusals(void **state)
{
	char *argv[] = { "qemu-system-x86_64", "-kernel", "bz", "-append", "quiet", NULL };
	char *no_kernel[] = { "qemu-system-x86_64", "-append", "quiet", NULL };
	char *twice[] = { "qemu", "-kernel", "bz", "-append", "a kprobe_event=p:x/y,foo b", NULL };
	static const struct {
		const char *sym, *why;
	} missing[] = {
		{ "register_kprobe", "no kprobes (CONFIG_KPROBES)" },
		{ "kprobe_boot_events_buf", "no kprobe events with kprobe_event=" },
		{ "init_kprobe_trace", "no kprobe events with kprobe_event=" },
		{ "trace_event_enable_disable", "no trace events" },
		{ "kallsyms_lookup_name", "no kallsyms" },
	};
	struct ekp_symtab *st = symtab(NULL);
	char *longer, *long_argv[6];
	struct ctx c;

	(void)state;
	setup_probes(&c);
	for (size_t i = 0; i < EKP_ARRAY_SIZE(missing); i++) {
		struct ekp_symtab *without = symtab(missing[i].sym);

		refused(&c, without, argv, -ENOTSUP, missing[i].why);
		ekp_symtab_free(without);
	}
	refused(&c, st, NULL, -ENOTSUP, "needs launch mode");
	refused(&c, st, no_kernel, -ENOTSUP, "with -kernel");
	refused(&c, st, twice, -EINVAL, "already has one");
	/* A command line that leaves no room: refused whole, before anything starts. */
	longer = malloc(EKP_HANDOFF_CMDLINE_MAX);
	assert_non_null(longer);
	memset(longer, 'x', EKP_HANDOFF_CMDLINE_MAX - 20);
	longer[EKP_HANDOFF_CMDLINE_MAX - 20] = '\0';
	memcpy(long_argv, argv, sizeof(argv));
	long_argv[4] = longer;
	refused(&c, st, long_argv, -E2BIG, "over the kernel's limit of 2047");
	free(longer);
	free_probes(&c);
	ekp_symtab_free(st);
}

static void test_mark(void **state)
{
	struct ctx c;
	bool handed[4] = { true, false, false, true };
	struct ekp_handoff_mark m = {
		.ts_ns = 6564647123ull, .to = "the guest", .probes = c.p, .handed = handed,
		.nr_probes = 4,
	};
	struct ekp_buf b = { 0 };

	(void)state;
	setup_probes(&c);
	assert_int_equal(ekp_format_handoff_text(&b, &m), 0);
	assert_string_equal(b.data, "# handoff at 6.564647: ekprobe's stream of t/a t/d ends here "
			    "(but for returns of frames entered before); from here on they are "
			    "recorded by the guest\n");
	ekp_buf_reset(&b);
	assert_int_equal(ekp_format_handoff_json(&b, &m), 0);
	assert_string_equal(b.data, "{\"handoff\":{\"ts_ns\":6564647123,\"to\":\"the guest\","
			    "\"probes\":[\"t/a\",\"t/d\"]}}\n");
	m.detached = true;
	m.to = "its own kprobe events";
	ekp_buf_reset(&b);
	assert_int_equal(ekp_format_handoff_text(&b, &m), 0);
	assert_string_equal(b.data, "# detached at 6.564647: ekprobe's stream ends here (every "
			    "probe); the guest runs on without ekprobe, its own kprobe events "
			    "record t/a t/d\n");
	ekp_buf_reset(&b);
	assert_int_equal(ekp_format_handoff_json(&b, &m), 0);
	assert_string_equal(b.data, "{\"detached\":{\"ts_ns\":6564647123,\"to\":\"its own "
			    "kprobe events\",\"probes\":[\"t/a\",\"t/d\"]}}\n");
	ekp_buf_free(&b);
	free_probes(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_defs),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_mark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
