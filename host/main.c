// SPDX-License-Identifier: GPL-2.0
/*
 * ekprobe-host: probe a Linux guest kernel from its first instruction, from the hypervisor.
 * Data flow: probe list -> parser -> symbol resolution -> engine -> events -> sink.
 * This file only turns the command line into a session configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"
#include "host/engines/jump.h"
#include "host/engines/plan.h"
#include "host/log.h"
#include "host/probes/resolve.h"
#include "host/session.h"
#include "host/sinks/sink.h"

#define EKPROBE_VERSION "0.1.0"
#define EXIT_USAGE 2

static const char usage_text[] =
"Usage: ekprobe-host [OPTIONS] -- qemu-system-x86_64 [QEMU OPTIONS...]\n"
"       ekprobe-host [OPTIONS] --vm gdb:HOST:PORT|unix:PATH [--qmp PATH]\n"
"\n"
"Probe a Linux guest kernel from its very first instruction, from the hypervisor side.\n"
"Probes are written in the kernel's kprobe_events syntax and armed before the guest runs.\n"
"\n"
"Probes:\n"
"  -p, --probe SPEC       add a probe, e.g. 'p:setup_arch setup_arch cmdline=+0(%di):string'\n"
"                         or 'r do_one_initcall ret=$retval:s32' (repeatable)\n"
"      --probes FILE      read probes from FILE: one a line, '#' starts a comment\n"
"\n"
"Symbols:\n"
"  -s, --symbols FILE     the guest kernel's vmlinux (best: offsets are checked against\n"
"                         its instructions) or System.map; default: vmlinux, then\n"
"                         System.map, in the directory of QEMU's -kernel image\n"
"\n"
"Guest:\n"
"  -- QEMU COMMAND...     start QEMU with -S, a gdbstub and QMP on private Unix sockets\n"
"                         (mode 0600); probes are armed before the first instruction;\n"
"                         ekprobe-host exits with QEMU's exit status\n"
"      --vm SPEC          attach to the gdbstub of a QEMU you started: gdb:HOST:PORT or\n"
"                         unix:PATH (started with -S: from the first instruction;\n"
"                         otherwise from now on)\n"
"      --qmp PATH         that QEMU's QMP socket (optional; tells whether it is held\n"
"                         at -S and whether it runs under KVM)\n"
"\n"
"Output:\n"
"  -o, --output FILE      write the trace to FILE instead of standard output\n"
"      --format FMT       text (ftrace-like, the default) or json (one object a line)\n"
"      --summary          end with per-probe hit counts and run times\n"
"\n"
"Other:\n"
"      --timeout MS       give up on a gdbstub or QMP exchange after MS ms (default 10000)\n"
"      --engine ENGINE    trap (default): breakpoints held by QEMU's gdbstub, any guest;\n"
"                         jump: 5-byte jumps into trampolines in the guest's reserved slots\n"
"                         (needs the ekprobe guest patch and launch mode; every probe must\n"
"                         take a jump, or nothing starts); auto: jumps where the site is\n"
"                         safe, traps elsewhere, saying which and why for each probe\n"
"      --engine [GRP/]EVENT=ENGINE\n"
"                         the engine of the probes so named, over the default; shell\n"
"                         globs work ('slow/*=trap'); repeatable, the last choice that\n"
"                         names a probe wins; a choice naming no probe is an error\n"
"      --poll-ms MS       read the jump engine's ring in guest memory every MS ms\n"
"                         (default 10); a ring that fills up in between loses records,\n"
"                         counted and reported as LOST\n"
"  -v, --verbose          say more on standard error\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n"
"\n"
"Engines: under TCG each trap hit stops the whole VM (several ms: QEMU flushes its\n"
"translated code); jump hits cost nanoseconds and are read from a ring in guest memory.\n"
"\n"
"SIGINT/SIGTERM: the probes are removed, the guest resumed and the trace completed;\n"
"in launch mode ekprobe-host then waits for QEMU to exit (a second signal terminates it).\n"
"\n"
"Exit status: QEMU's in launch mode; 0 in attach mode; 1 on a run-time error; 2 on bad\n"
"usage or a bad probe (then no guest is started). Docs: docs/usage.md, docs/probes.md.\n";

#define MAX_ENGINE_CHOICES 256

struct options {
	enum ekp_engine engine;
	struct ekp_engine_choice choices[MAX_ENGINE_CHOICES];
	unsigned int nr_choices;
	int poll_ms;
	const char *symbols, *output, *vm, *qmp;
	enum ekp_format format;
	bool summary;
	int timeout_ms;
	char **qemu_argv;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ekprobe-host: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ekprobe-host --help'.\n");
	return EXIT_USAGE;
}

/* The directory of QEMU's -kernel image, where vmlinux or System.map may sit. */
static char *default_symbols(char **qemu_argv)
{
	static const char *names[] = { "vmlinux", "System.map" };

	for (int i = 0; qemu_argv && qemu_argv[i] && qemu_argv[i + 1]; i++) {
		char *copy, *dir, *path;

		if (strcmp(qemu_argv[i], "-kernel"))
			continue;
		copy = strdup(qemu_argv[i + 1]);
		if (!copy)
			return NULL;
		dir = dirname(copy);
		for (size_t n = 0; n < EKP_ARRAY_SIZE(names); n++) {
			if (asprintf(&path, "%s/%s", dir, names[n]) < 0)
				break;
			if (!access(path, R_OK)) {
				free(copy);
				return path;
			}
			free(path);
		}
		free(copy);
	}
	return NULL;
}

static bool has_arg(char **argv, const char *arg)
{
	for (int i = 0; argv && argv[i]; i++)
		if (!strcmp(argv[i], arg))
			return true;
	return false;
}

/* --engine ENGINE (the default) or --engine [GRP/]EVENT=ENGINE (one probe's). */
static int parse_engine(struct options *o, char *arg)
{
	char *eq = strrchr(arg, '=');
	enum ekp_engine e;

	if (ekp_engine_parse(eq ? eq + 1 : arg, &e))
		return usage_error("--engine %s: expected trap, jump or auto, or EVENT=ENGINE", arg);
	if (!eq) {
		o->engine = e;
		return 0;
	}
	if (eq == arg || eq[-1] == '/' || arg[0] == '/')
		return usage_error("--engine %s: expected [GRP/]EVENT=ENGINE", arg);
	if (o->nr_choices == MAX_ENGINE_CHOICES)
		return usage_error("--engine %s: more than %d per-probe engine choices", arg,
				   MAX_ENGINE_CHOICES);
	*eq = '\0';
	o->choices[o->nr_choices++] = (struct ekp_engine_choice){ .name = arg, .engine = e };
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_PROBES = 256, OPT_VM, OPT_QMP, OPT_FORMAT, OPT_SUMMARY, OPT_TIMEOUT, OPT_ENGINE,
	       OPT_POLL_MS };
	static const struct option longopts[] = {
		{ "probe", required_argument, NULL, 'p' },
		{ "probes", required_argument, NULL, OPT_PROBES },
		{ "symbols", required_argument, NULL, 's' },
		{ "vm", required_argument, NULL, OPT_VM },
		{ "qmp", required_argument, NULL, OPT_QMP },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "summary", no_argument, NULL, OPT_SUMMARY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "engine", required_argument, NULL, OPT_ENGINE },
		{ "poll-ms", required_argument, NULL, OPT_POLL_MS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const struct ekp_arch *arch = &ekp_arch_x86_64;
	static struct options o = { .format = EKP_FORMAT_TEXT, .timeout_ms = 10000, .poll_ms = 10 };
	struct ekp_probe_list *probes = ekp_probe_list_new(arch);
	struct ekp_symtab *st = NULL;
	unsigned int nr_cmdline = 0;
	char *auto_symbols = NULL;
	struct ekp_jump_engine *jump = NULL;
	struct ekp_sink sink;
	FILE *out = stdout;
	uint64_t v;
	int c, err, status;

	if (!probes)
		return 1;
	while ((c = getopt_long(argc, argv, "+p:s:o:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			err = ekp_probe_list_add(probes, optarg, "-p", ++nr_cmdline);
			if (err) {
				ekp_error("%s", ekp_errmsg());
				return EXIT_USAGE;
			}
			break;
		case OPT_PROBES:
			err = ekp_probe_list_load(probes, optarg);
			if (err) {
				ekp_error("%s", ekp_errmsg());
				return EXIT_USAGE;
			}
			break;
		case 's': o.symbols = optarg; break;
		case OPT_VM: o.vm = optarg; break;
		case OPT_QMP: o.qmp = optarg; break;
		case 'o': o.output = optarg; break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "text"))
				o.format = EKP_FORMAT_TEXT;
			else if (!strcmp(optarg, "json"))
				o.format = EKP_FORMAT_JSON;
			else
				return usage_error("--format %s: expected text or json", optarg);
			break;
		case OPT_SUMMARY: o.summary = true; break;
		case OPT_TIMEOUT:
			if (ekp_parse_u64(optarg, 10, &v) || v == 0 || v > 3600000)
				return usage_error("--timeout %s: expected milliseconds, 1 to 3600000",
						   optarg);
			o.timeout_ms = (int)v;
			break;
		case OPT_ENGINE:
			err = parse_engine(&o, optarg);
			if (err)
				return err;
			break;
		case OPT_POLL_MS:
			if (ekp_parse_u64(optarg, 10, &v) || v == 0 || v > 3600000)
				return usage_error("--poll-ms %s: expected milliseconds, 1 to 3600000",
						   optarg);
			o.poll_ms = (int)v;
			break;
		case 'v': ekp_verbose++; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("ekprobe-host %s\n", EKPROBE_VERSION); return 0;
		default: return usage_error("%s", "bad option");
		}
	}
	if (optind < argc)
		o.qemu_argv = &argv[optind];
	if (!o.qemu_argv == !o.vm)
		return usage_error("%s", o.vm ? "give either --vm or a QEMU command after --, not both"
					      : "no guest: give a QEMU command after --, or --vm");
	if (o.qmp && !o.vm)
		return usage_error("%s", "--qmp goes with --vm (in launch mode QMP is set up itself)");
	if (ekp_probe_list_count(probes) == 0)
		return usage_error("%s", "no probes: give -p SPEC or --probes FILE");
	if (!o.symbols) {
		o.symbols = auto_symbols = default_symbols(o.qemu_argv);
		if (!o.symbols)
			return usage_error("%s", "no symbols: give --symbols vmlinux|System.map");
		ekp_info("symbols from %s (no --symbols given)", o.symbols);
	}
	err = ekp_symtab_load(o.symbols, &st);
	if (err) {
		ekp_error("%s: %s", o.symbols, ekp_errmsg());
		return EXIT_USAGE;
	}
	err = ekp_resolve_probes(probes, st, arch);
	if (err) {
		ekp_error("%s", ekp_errmsg());
		return EXIT_USAGE;
	}
	struct ekp_engine_plan_config pc = {
		.arch = arch, .st = st, .probes = probes, .dflt = o.engine, .choices = o.choices,
		.nr_choices = o.nr_choices, .attach = o.vm != NULL,
	};
	err = ekp_engine_plan(&pc, &jump);
	if (err)
		return EXIT_USAGE;
	if (o.output && !(out = fopen(o.output, "w"))) {
		ekp_error("%s: %s", o.output, strerror(errno));
		return EXIT_USAGE;
	}
	if (isatty(fileno(out)))
		setvbuf(out, NULL, _IOLBF, 0);
	ekp_sink_init(&sink, o.format, fileno(out), o.output, st);
	struct ekp_session_config cfg = {
		.arch = arch, .st = st, .probes = probes, .sink = &sink, .summary = o.summary,
		.qemu_argv = o.qemu_argv, .vm = o.vm, .qmp_path = o.qmp, .timeout_ms = o.timeout_ms,
		.jump = jump, .icount = has_arg(o.qemu_argv, "-icount"), .poll_ms = o.poll_ms,
	};
	status = ekp_session_run(&cfg);
	if (status < 0) {
		ekp_error("%s", ekp_errmsg());
		status = 1;
	}
	ekp_sink_fini(&sink);
	if (out != stdout && fclose(out)) {
		ekp_error("%s: %s", o.output, strerror(errno));
		status = 1;
	}
	ekp_jump_engine_free(jump);
	ekp_symtab_free(st);
	ekp_probe_list_free(probes);
	free(auto_symbols);
	return status;
}
