// SPDX-License-Identifier: GPL-2.0
/*
 * ekprobe-host: probe a Linux guest kernel from its first instruction, from the hypervisor.
 * Data flow: probe list -> parser -> symbol resolution -> engine -> events -> sink.
 * This file only turns the command line into a session configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
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
#include "host/engines/plan.h"
#include "host/handoff/handoff.h"
#include "host/labs/trace.h"
#include "host/log.h"
#include "host/probes/resolve.h"
#include "host/session.h"
#include "host/sinks/sink.h"
#include "host/vm/libvirt.h"
#include "host/status.h"
#include "host/vm/spec.h"

#define EKPROBE_VERSION "0.1.0"
#define EXIT_USAGE 2

static const char usage_text[] =
"Usage: ekprobe-host [OPTIONS] -- qemu-system-x86_64 [QEMU OPTIONS...]\n"
"       ekprobe-host report|diff ...   the boot-analysis labs (report --help)\n"
"       ekprobe-host [OPTIONS] --vm gdb:HOST:PORT|unix:PATH [--qmp PATH]\n"
"       ekprobe-host [OPTIONS] --vm libvirt:DOMAIN [--connect URI]\n"
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
"      --arch ARCH        the guest's architecture (x86_64, arm64); default: what the vmlinux\n"
"                         says, else what the QEMU binary emulates\n"
"  -s, --symbols FILE     the guest kernel's vmlinux (best: offsets are checked against\n"
"                         its instructions), its boot image (bzImage, vmlinuz: its own\n"
"                         kallsyms and text) or System.map; default: vmlinux, then\n"
"                         System.map, in the directory of QEMU's -kernel image (a\n"
"                         libvirt domain: of its <kernel>), else that image itself\n"
"\n"
"Guest:\n"
"  -- QEMU COMMAND...     start QEMU with -S, a gdbstub and QMP on Unix sockets in a\n"
"                         private directory (mode 0700); probes are armed before the\n"
"                         first instruction; ekprobe-host exits with QEMU's exit status\n"
"      --vm SPEC          attach to the gdbstub of a QEMU you started: gdb:HOST:PORT or\n"
"                         unix:PATH (started with -S: from the first instruction;\n"
"                         otherwise from now on)\n"
"      --qmp PATH         that QEMU's QMP socket (optional; tells whether it is held\n"
"                         at -S and whether it runs under KVM)\n"
"      --vm libvirt:DOMAIN\n"
"                         a libvirt domain: shut off, ekprobe-host starts it paused and\n"
"                         probes it from the first instruction; running, from now on.\n"
"                         Either way it runs on under libvirt after ekprobe-host\n"
"      --connect URI      the libvirt connection (default qemu:///system)\n"
"\n"
"Output:\n"
"  -o, --output FILE      write the trace to FILE instead of standard output\n"
"      --format FMT       text (ftrace-like, the default), json (one object a line),\n"
"                         tracedat (trace-cmd's trace.dat: trace-cmd report, KernelShark)\n"
"                         or perfetto (trace-event JSON: ui.perfetto.dev, speedscope)\n"
"      --tee FORMAT=FILE  also write the trace to FILE in FORMAT (as --format takes),\n"
"                         from the same run; repeatable (at most 8)\n"
"      --summary          end with per-probe hit counts and run times\n"
"\n"
"Other:\n"
"      --timeout MS       give up on QEMU's start, a gdbstub or QMP exchange, or the\n"
"                         whole shutdown after MS ms (default 10000)\n"
"      --engine ENGINE    trap (default): breakpoints held by QEMU's gdbstub, any guest;\n"
"                         plugin: a QEMU TCG plugin, no VM exit, any kernel (needs launch\n"
"                         mode and QEMU >= 9.2: make -s print-qemu);\n"
"                         jump: a jump (x86_64: 5 bytes; arm64: one B) into trampolines in\n"
"                         the guest's reserved slots\n"
"                         (needs the ekprobe guest patch, and launch mode or a shut-off\n"
"                         libvirt domain with shared memfd RAM; every probe must take a\n"
"                         jump, or nothing starts); auto: plugin where it runs, else\n"
"                         jumps where the site is safe, else traps, saying which and why\n"
"                         for each probe\n"
"      --engine [GRP/]EVENT=ENGINE\n"
"                         the engine of the probes so named, over the default; shell\n"
"                         globs work ('slow/*=trap'); repeatable, the last choice that\n"
"                         names a probe wins; a choice naming no probe is an error\n"
"      --poll-ms MS       read the exit-less engines' rings (jump, plugin) every MS ms\n"
"                         (default 10); a ring that fills up in between loses records,\n"
"                         counted and reported as LOST\n"
"      --handoff          the guest's own kprobe events take the trap probes over once\n"
"                         its kprobes are up: the probes go to the kernel as\n"
"                         kprobe_event= on the -append given to QEMU (launch mode,\n"
"                         -kernel); each breakpoint goes when the guest enables them;\n"
"                         the trace marks where ekprobe's own stream ends, the guest's\n"
"                         trace has the rest (docs/handoff.md)\n"
"      --detach-after-handoff\n"
"                         --handoff, then once every handed probe is live in the guest\n"
"                         and the frames of return probes entered before have returned,\n"
"                         remove every breakpoint (probes kept on the host too), detach\n"
"                         from the gdbstub and let the guest run on; in launch mode\n"
"                         still end when QEMU ends, with its exit status\n"
"      --no-handoff [GRP/]EVENT\n"
"                         keep the probes so named on their host engine (shell globs;\n"
"                         repeatable)\n"
"      --no-status        no live status line (guest time, hits/s, boot phase, lost\n"
"                         records), which is shown on standard error only when it is a\n"
"                         terminal and the trace does not go to that terminal\n"
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
"Exit status: QEMU's in launch mode; 0 in attach and libvirt mode; 1 on a run-time error;\n"
"2 on bad usage, a bad probe or an unknown domain (then no guest is started).\n"
"Docs: docs/usage.md, docs/probes.md.\n";

#define MAX_ENGINE_CHOICES 256
#define MAX_TEES 8
#define MAX_PROBE_ARGS 4096

/* A -p spec or a --probes file, in command-line order (parsed once the arch is known). */
struct probe_arg {
	bool file;
	const char *text;
};

struct options {
	const char *engine;
	struct ekp_engine_choice choices[MAX_ENGINE_CHOICES];
	unsigned int nr_choices;
	struct probe_arg probes[MAX_PROBE_ARGS];
	unsigned int nr_probes;
	int poll_ms;
	const char *symbols, *output, *vm, *qmp, *arch, *connect;
	struct ekp_vm_spec vm_spec;
	enum ekp_format format;
	struct { enum ekp_format format; const char *path; } tee[MAX_TEES];
	unsigned int nr_tees;
	bool summary;
	bool no_status;
	int timeout_ms;
	char **qemu_argv;
	bool handoff;
	bool detach_after_handoff; /* implies handoff */
	const char *no_handoff[MAX_ENGINE_CHOICES];
	unsigned int nr_no_handoff;
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

/* QEMU's -kernel image, or NULL. */
static const char *qemu_kernel(char **qemu_argv)
{
	const char *k = NULL;

	for (int i = 0; qemu_argv && qemu_argv[i] && qemu_argv[i + 1]; i++)
		if (!strcmp(qemu_argv[i], "-kernel"))
			k = qemu_argv[i + 1];
	return k;
}

/* vmlinux or System.map beside a kernel image, or NULL. */
static char *symbols_beside(const char *kernel)
{
	static const char *names[] = { "vmlinux", "System.map" };
	char *copy = strdup(kernel), *dir, *path;

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
	return NULL;
}

/* vmlinux or System.map in the directory of the kernel image (QEMU's -kernel, a libvirt
 * domain's <kernel>), else that image itself when it is a boot image (its own kallsyms).
 * *from_image says which. */
static char *default_symbols(char **qemu_argv, const struct ekp_libvirt *lv, bool *from_image)
{
	const char *kernel = lv ? ekp_libvirt_info(lv)->xml.kernel : qemu_kernel(qemu_argv);
	char *path;

	*from_image = false;
	if (!kernel || !kernel[0])
		return NULL;
	path = symbols_beside(kernel);
	if (path || !ekp_boot_image_file(kernel))
		return path;
	*from_image = true;
	return strdup(kernel);
}

/* The word nokaslr in QEMU's -append: the kernel stays where it was linked to run. */
static bool append_nokaslr(char **qemu_argv)
{
	for (int i = 0; qemu_argv && qemu_argv[i] && qemu_argv[i + 1]; i++) {
		const char *p = qemu_argv[i + 1];

		if (strcmp(qemu_argv[i], "-append"))
			continue;
		while ((p = strstr(p, "nokaslr"))) {
			bool start = p == qemu_argv[i + 1] || p[-1] == ' ' || p[-1] == '\t';
			bool end = p[7] == '\0' || p[7] == ' ' || p[7] == '\t';

			if (start && end)
				return true;
			p += 7;
		}
	}
	return false;
}

/* Why guest RAM will not be in a memfd QEMU shares with the host, or NULL when it will. */
static const char *shared_ram_why(const struct options *o, const struct ekp_libvirt *lv)
{
	if (o->qemu_argv)
		return NULL; /* an engine adds the backend (qemu_args) */
	if (!lv)
		return "ekprobe-host shares it with a QEMU it starts (launch mode) or finds it in a "
		       "libvirt domain, not behind a gdbstub";
	if (!ekp_domxml_shared_memfd(&ekp_libvirt_info(lv)->xml))
		return "the domain's RAM is not a shared memfd: add <memoryBacking><source "
		       "type='memfd'/><access mode='shared'/></memoryBacking> to its XML "
		       "(docs/usage.md, libvirt)";
	return NULL;
}

/* A libvirt domain that will be held before its first instruction when the engines arm: shut
 * off (ekprobe-host starts it paused), or started paused by someone else. */
static bool held_at_start(const struct ekp_libvirt *lv)
{
	const struct ekp_libvirt_info *i = lv ? ekp_libvirt_info(lv) : NULL;

	return i && (!i->active || !strcmp(i->status, "prelaunch"));
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
	const char *e = eq ? eq + 1 : arg;

	if (!ekp_engine_name_valid(e))
		return usage_error("--engine %s: expected %s, or EVENT=ENGINE", arg,
				   ekp_engine_names());
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

/* --no-handoff [GRP/]EVENT: as --engine's names (EVENT alone: in any group). */
static bool kept_by_user(const struct options *o, const struct ekp_probe *p)
{
	char name[2 * EKP_MAX_NAME + 2];

	snprintf(name, sizeof(name), "%s/%s", p->group, p->event);
	for (unsigned int i = 0; i < o->nr_no_handoff; i++)
		if (!fnmatch(o->no_handoff[i], strchr(o->no_handoff[i], '/') ? name : p->event, 0))
			return true;
	return false;
}

static void say_kept(void *opaque, const struct ekp_probe *p, const char *why)
{
	(void)opaque;
	ekp_info("--handoff: %s/%s stays on its host engine: %s", p->group, p->event, why);
}

/* --handoff: which probes the guest's kprobe events take, checked before anything starts.
 * Returns 0 or the exit status. */
static int prepare_handoff(const struct options *o, const struct ekp_symtab *st,
			   struct ekp_probe *const *pv, unsigned int n,
			   const struct ekp_engine_set *engines, struct ekp_handoff *h)
{
	bool *eligible = calloc((size_t)n + 1, sizeof(*eligible));
	struct ekp_handoff_config hc = {
		.st = st, .probes = pv, .nr_probes = n, .eligible = eligible,
		.qemu_argv = o->qemu_argv, .kept = say_kept,
	};
	int err;

	if (!eligible) {
		ekp_error("out of memory");
		return 1;
	}
	for (unsigned int i = 0; i < n; i++) {
		const char *engine = engines->engines[engines->owner[i]]->ops->name;

		if (kept_by_user(o, pv[i]))
			ekp_info("--handoff: %s/%s stays on its host engine (--no-handoff)",
				 pv[i]->group, pv[i]->event);
		else if (strcmp(engine, "trap"))
			ekp_info("--handoff: %s/%s stays on the %s engine: a stock kernel's "
				 "kprobe_event= takes trap probes over only (docs/handoff.md)",
				 pv[i]->group, pv[i]->event, engine);
		else
			eligible[i] = true;
	}
	err = ekp_handoff_prepare(&hc, h);
	free(eligible);
	if (err) {
		ekp_error("%s", ekp_errstr(err));
		return err == -ENOMEM ? 1 : EXIT_USAGE;
	}
	if (!h->nr_handed)
		ekp_warn("--handoff: no probe can be handed over; every probe stays on the host");
	else
		ekp_info("--handoff: %u probe%s go%s to the guest as kprobe_event=", h->nr_handed,
			 h->nr_handed == 1 ? "" : "s", h->nr_handed == 1 ? "es" : "");
	if (h->append)
		ekp_info("--handoff: the kernel command line: %s", h->append);
	for (unsigned int i = 0; o->detach_after_handoff && h->handed && i < n; i++)
		if (!h->handed[i])
			ekp_info("--detach-after-handoff: %s/%s is recorded by ekprobe only until it "
				 "detaches after the handoff", pv[i]->group, pv[i]->event);
	return 0;
}

static int add_probe_arg(struct options *o, bool file, const char *text)
{
	if (o->nr_probes == MAX_PROBE_ARGS)
		return usage_error("more than %d -p/--probes options", MAX_PROBE_ARGS);
	o->probes[o->nr_probes++] = (struct probe_arg){ file, text };
	return 0;
}

/* --arch, else what the vmlinux says, else what the QEMU binary emulates (a libvirt domain:
 * its <os><type arch>), else the arch whose first instruction the symbols name (a System.map
 * in attach mode). */
static const struct ekp_arch *guest_arch(const struct options *o, const struct ekp_symtab *st,
					 const struct ekp_libvirt *lv)
{
	const struct ekp_arch *a;

	if (o->arch)
		return ekp_arch_by_name(o->arch);
	if ((a = ekp_arch_by_name(ekp_symtab_arch(st))))
		return a;
	if (o->qemu_argv && (a = ekp_arch_by_qemu(o->qemu_argv[0])))
		return a;
	if (lv && (a = ekp_arch_by_name(ekp_libvirt_info(lv)->xml.arch)))
		return a;
	return ekp_arch_by_symbols(st);
}

/*
 * --vm libvirt:NAME: the domain, before anything else needs it (its <kernel> for the symbols,
 * whether it runs, whether its RAM is shared). An unknown domain or a connection of another
 * driver is bad usage (2); a connection that cannot be made is a run-time error (1).
 */
static int open_domain(const struct options *o, struct ekp_libvirt **lv)
{
	const char *uri = o->connect ? o->connect : EKP_LIBVIRT_DEFAULT_URI;
	int err = ekp_libvirt_open(uri, o->vm_spec.name, lv);

	if (!err)
		return 0;
	if (err == -ENOENT || err == -EPROTOTYPE)
		return usage_error("--vm %s: %s", o->vm, ekp_errstr(err));
	ekp_error("--vm %s: %s", o->vm, ekp_errstr(err));
	return 1;
}

static struct ekp_probe_list *read_probes(const struct options *o, const struct ekp_arch *arch)
{
	struct ekp_probe_list *probes = ekp_probe_list_new(arch);
	unsigned int nr_cmdline = 0;
	int err = probes ? 0 : ekp_err(ENOMEM, "out of memory");

	for (unsigned int i = 0; !err && i < o->nr_probes; i++)
		err = o->probes[i].file ? ekp_probe_list_load(probes, o->probes[i].text)
					: ekp_probe_list_add(probes, o->probes[i].text, "-p",
							     ++nr_cmdline);
	if (err) {
		ekp_error("%s", ekp_errstr(err));
		ekp_probe_list_free(probes);
		return NULL;
	}
	return probes;
}

int main(int argc, char **argv)
{
	enum { OPT_PROBES = 256, OPT_VM, OPT_QMP, OPT_FORMAT, OPT_SUMMARY, OPT_TIMEOUT, OPT_ENGINE,
	       OPT_POLL_MS, OPT_ARCH, OPT_CONNECT, OPT_HANDOFF, OPT_NO_HANDOFF, OPT_DETACH_AFTER_HANDOFF, OPT_TEE,
	       OPT_NO_STATUS };
	static const struct option longopts[] = {
		{ "probe", required_argument, NULL, 'p' },
		{ "probes", required_argument, NULL, OPT_PROBES },
		{ "symbols", required_argument, NULL, 's' },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "vm", required_argument, NULL, OPT_VM },
		{ "qmp", required_argument, NULL, OPT_QMP },
		{ "connect", required_argument, NULL, OPT_CONNECT },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "tee", required_argument, NULL, OPT_TEE },
		{ "no-status", no_argument, NULL, OPT_NO_STATUS },
		{ "summary", no_argument, NULL, OPT_SUMMARY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "engine", required_argument, NULL, OPT_ENGINE },
		{ "poll-ms", required_argument, NULL, OPT_POLL_MS },
		{ "handoff", no_argument, NULL, OPT_HANDOFF },
		{ "no-handoff", required_argument, NULL, OPT_NO_HANDOFF },
		{ "detach-after-handoff", no_argument, NULL, OPT_DETACH_AFTER_HANDOFF },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	static struct options o = { .format = EKP_FORMAT_TEXT, .timeout_ms = 10000, .poll_ms = 10,
				    .engine = "trap" };
	const struct ekp_arch *arch;
	struct ekp_probe_list *probes = NULL;
	struct ekp_probe **pv = NULL;
	struct ekp_engine_set *engines = NULL;
	struct ekp_symtab *st = NULL;
	struct ekp_libvirt *lv = NULL;
	char *auto_symbols = NULL;
	struct ekp_boot_info boot;
	bool have_boot = false, may_relocate;
	const char *kernel_image;
	struct ekp_sink sink, tees[MAX_TEES];
	struct ekp_handoff handoff = { 0 };
	struct ekp_status live;
	bool with_status = false;
	int out = STDOUT_FILENO, tee_fd[MAX_TEES];
	unsigned int nr_tees = 0;
	unsigned int n;
	uint64_t v;
	int c, err, status = EXIT_USAGE;

	/* The labs read JSON traces back: `ekprobe-host report ...`, `ekprobe-host diff ...`. */
	if (argc > 1 && (!strcmp(argv[1], "report") || !strcmp(argv[1], "diff")))
		return ekp_labs_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "+p:s:o:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if ((err = add_probe_arg(&o, false, optarg)))
				return err;
			break;
		case OPT_PROBES:
			if ((err = add_probe_arg(&o, true, optarg)))
				return err;
			break;
		case 's': o.symbols = optarg; break;
		case OPT_ARCH:
			if (!ekp_arch_by_name(optarg))
				return usage_error("--arch %s: expected x86_64 or arm64", optarg);
			o.arch = optarg;
			break;
		case OPT_VM: o.vm = optarg; break;
		case OPT_QMP: o.qmp = optarg; break;
		case OPT_CONNECT: o.connect = optarg; break;
		case 'o': o.output = optarg; break;
		case OPT_FORMAT:
			if (ekp_format_by_name(optarg, &o.format))
				return usage_error("--format %s: expected text, json, tracedat or "
						   "perfetto", optarg);
			break;
		case OPT_TEE: {
			char *eq = strchr(optarg, '=');

			if (o.nr_tees == MAX_TEES)
				return usage_error("more than %d --tee outputs", MAX_TEES);
			if (!eq || eq == optarg || !eq[1])
				return usage_error("--tee %s: expected FORMAT=FILE", optarg);
			*eq = '\0';
			if (ekp_format_by_name(optarg, &o.tee[o.nr_tees].format))
				return usage_error("--tee %s: expected text, json, tracedat or perfetto",
						   optarg);
			o.tee[o.nr_tees++].path = eq + 1;
			break;
		}
		case OPT_SUMMARY: o.summary = true; break;
		case OPT_NO_STATUS: o.no_status = true; break;
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
		case OPT_HANDOFF: o.handoff = true; break;
		case OPT_DETACH_AFTER_HANDOFF: o.handoff = o.detach_after_handoff = true; break;
		case OPT_NO_HANDOFF:
			if (o.nr_no_handoff == MAX_ENGINE_CHOICES)
				return usage_error("more than %d --no-handoff options",
						   MAX_ENGINE_CHOICES);
			if (!*optarg || optarg[0] == '/' || optarg[strlen(optarg) - 1] == '/')
				return usage_error("--no-handoff %s: expected [GRP/]EVENT", optarg);
			o.no_handoff[o.nr_no_handoff++] = optarg;
			break;
		case 'v': ekp_verbose++; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("ekprobe-host %s\n", EKPROBE_VERSION); return 0;
		default: return usage_error("%s", "bad option");
		}
	}
	if (o.vm && (err = ekp_vm_spec_parse(o.vm, &o.vm_spec)))
		return usage_error("--vm %s: %s", o.vm, ekp_errstr(err));
	if (optind < argc)
		o.qemu_argv = &argv[optind];
	if (!o.qemu_argv == !o.vm)
		return usage_error("%s", o.vm ? "give either --vm or a QEMU command after --, not both"
					      : "no guest: give a QEMU command after --, or --vm");
	if (o.nr_no_handoff && !o.handoff)
		return usage_error("%s", "--no-handoff goes with --handoff");
	if (o.handoff && o.vm)
		return usage_error("%s", "--handoff hands the probes over on the kernel command line "
				   "it gives QEMU: it needs launch mode (a QEMU command after --)");
	if (o.qmp && !o.vm)
		return usage_error("%s", "--qmp goes with --vm (in launch mode QMP is set up itself)");
	if (o.qmp && o.vm_spec.kind == EKP_VM_LIBVIRT)
		return usage_error("%s", "--qmp does not go with --vm libvirt: (QMP goes through "
				   "libvirt's monitor)");
	if (o.connect && (!o.vm || o.vm_spec.kind != EKP_VM_LIBVIRT))
		return usage_error("%s", "--connect goes with --vm libvirt:DOMAIN");
	if (!o.nr_probes)
		return usage_error("%s", "no probes: give -p SPEC or --probes FILE");
	if (o.vm && o.vm_spec.kind == EKP_VM_LIBVIRT && (status = open_domain(&o, &lv)))
		goto out;
	status = EXIT_USAGE;
	if (!o.symbols) {
		bool from_image;

		o.symbols = auto_symbols = default_symbols(o.qemu_argv, lv, &from_image);
		if (!o.symbols) {
			if (lv && !ekp_libvirt_info(lv)->xml.kernel[0])
				usage_error("no symbols: domain '%s' boots no <kernel> image; give "
					    "--symbols vmlinux|System.map|bzImage", o.vm_spec.name);
			else
				usage_error("%s", "no symbols: give --symbols vmlinux|System.map|bzImage");
			goto out;
		}
		if (from_image)
			ekp_info("symbols from the kernel's own kallsyms in %s (no --symbols given, and "
				 "no vmlinux or System.map beside it)", o.symbols);
		else
			ekp_info("symbols from %s (no --symbols given)", o.symbols);
	}
	err = ekp_symtab_load(o.symbols, &st);
	if (err) {
		const char *why = ekp_errstr(err);

		/* Most reasons name the file already. */
		if (strncmp(why, o.symbols, strlen(o.symbols)))
			ekp_error("%s: %s", o.symbols, why);
		else
			ekp_error("%s", why);
		goto out;
	}
	/* Where the kernel may be put: its boot image's header (the symbols', or the image the
	 * guest boots: QEMU's -kernel, a libvirt domain's <kernel>). */
	kernel_image = lv ? ekp_libvirt_info(lv)->xml.kernel : qemu_kernel(o.qemu_argv);
	if (ekp_symtab_boot_info(st)) {
		boot = *ekp_symtab_boot_info(st);
		have_boot = true;
	} else if (kernel_image && kernel_image[0] &&
		   !ekp_boot_image_read_info(kernel_image, &boot)) {
		have_boot = true;
	}
	/* Launch mode: nokaslr keeps it in place; attach mode cannot know. */
	may_relocate = (ekp_symtab_relocatable(st) || (have_boot && boot.relocatable)) &&
		       !(o.qemu_argv && append_nokaslr(o.qemu_argv));
	if (o.handoff && may_relocate) {
		usage_error("%s", "--handoff needs the kernel at its link-time address: a kernel "
			    "KASLR may move is not supported yet; add nokaslr to -append");
		goto out;
	}
	arch = guest_arch(&o, st, lv);
	if (!arch) {
		usage_error("%s", "cannot tell the guest's architecture from the symbols or the QEMU "
			    "command: give --arch");
		goto out;
	}
	if (o.arch && ekp_symtab_arch(st) && strcmp(ekp_symtab_arch(st), arch->name)) {
		usage_error("--arch %s, but %s is built for %s", o.arch, o.symbols,
			    ekp_symtab_arch(st));
		goto out;
	}
	probes = read_probes(&o, arch);
	if (!probes)
		goto out;
	if (ekp_probe_list_count(probes) == 0) {
		usage_error("%s", "no probes: every line given was empty or a comment");
		goto out;
	}
	err = ekp_resolve_probes(probes, st, arch);
	if (err) {
		ekp_error("%s", ekp_errstr(err));
		goto out;
	}
	n = ekp_probe_list_count(probes);
	pv = calloc((size_t)n + 1, sizeof(*pv));
	if (!pv) {
		ekp_error("out of memory");
		status = 1;
		goto out;
	}
	for (unsigned int i = 0; i < n; i++)
		pv[i] = ekp_probe_list_get(probes, i);
	struct ekp_engine_env env = {
		.arch = arch, .st = st, .probes = pv, .nr_probes = n, .launch = o.qemu_argv != NULL,
		.qemu_argv = o.qemu_argv, .first_insn = o.qemu_argv || held_at_start(lv),
		.no_shared_ram = shared_ram_why(&o, lv),
		.icount = has_arg(o.qemu_argv, "-icount"), .timeout_ms = o.timeout_ms,
		.may_relocate = may_relocate,
		.handoff = &handoff, /* filled in once the engines are planned */
	};
	struct ekp_plan_config pc = {
		.env = &env, .dflt = o.engine, .choices = o.choices, .nr_choices = o.nr_choices,
	};
	err = ekp_engines_plan(&pc, &engines);
	if (err) {
		/* -EINVAL: the reasons were printed, probe by probe; anything else is ours. */
		if (err != -EINVAL) {
			ekp_error("planning the engines: %s", ekp_errstr(err));
			status = 1;
		}
		goto out;
	}
	if (o.handoff && (status = prepare_handoff(&o, st, pv, n, engines, &handoff)))
		goto out;
	status = EXIT_USAGE;
	if (!o.output && o.format == EKP_FORMAT_TRACEDAT && isatty(STDOUT_FILENO)) {
		usage_error("%s", "--format tracedat writes a binary file: give -o FILE");
		goto out;
	}
	if (o.output && (out = open(o.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
		ekp_error("%s: %s", o.output, strerror(errno));
		goto out;
	}
	ekp_sink_init(&sink, o.format, out, o.output, st);
	for (struct ekp_sink *last = &sink; nr_tees < o.nr_tees; nr_tees++) {
		tee_fd[nr_tees] = open(o.tee[nr_tees].path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				       0666);
		if (tee_fd[nr_tees] < 0) {
			ekp_error("%s: %s", o.tee[nr_tees].path, strerror(errno));
			break;
		}
		ekp_sink_init(&tees[nr_tees], o.tee[nr_tees].format, tee_fd[nr_tees],
			      o.tee[nr_tees].path, st);
		last->also = &tees[nr_tees];
		last = &tees[nr_tees];
	}
	err = nr_tees < o.nr_tees ? -EIO : ekp_sink_probes(&sink, pv, n);
	if (err) {
		if (nr_tees == o.nr_tees)
			ekp_error("%s", ekp_errstr(err));
		goto close_sinks;
	}
	/* The status line, like perf record's: only on a terminal, never into a file or a pipe,
	 * and not over a trace written to that same terminal. */
	if (!o.no_status && isatty(STDERR_FILENO) && (o.output || !isatty(STDOUT_FILENO))) {
		if (ekp_status_init(&live, STDERR_FILENO, st, pv, n)) {
			ekp_error("out of memory");
			status = 1;
			goto close_sinks;
		}
		with_status = true;
	}
	struct ekp_session_config cfg = {
		.arch = arch, .st = st, .probes = pv, .nr_probes = n, .engines = engines,
		.sink = &sink, .summary = o.summary, .qemu_argv = o.qemu_argv, .vm = o.vm ? &o.vm_spec : NULL,
		.qmp_path = o.qmp, .libvirt = lv, .timeout_ms = o.timeout_ms, .poll_ms = o.poll_ms,
		.locate_kernel = may_relocate, .boot = have_boot ? &boot : NULL,
		.handoff = o.handoff ? &handoff : NULL,
		.detach_after_handoff = o.detach_after_handoff,
		.status = with_status ? &live : NULL,
	};
	status = ekp_session_run(&cfg);
	if (with_status)
		ekp_status_fini(&live);
	if (status < 0) {
		ekp_error("%s", ekp_errstr(status));
		status = 1;
	}
	/* On every path: the formats that need the whole run complete their file. */
	err = ekp_sink_finish(&sink);
	if (err && status != 1) {
		ekp_error("%s", ekp_errstr(err));
		status = 1;
	}
close_sinks:
	ekp_sink_fini(&sink);
	if (o.output && close(out) && status == 0) {
		ekp_error("%s: %s", o.output, strerror(errno));
		status = 1;
	}
	for (unsigned int i = 0; i < nr_tees; i++) {
		ekp_sink_fini(&tees[i]);
		if (close(tee_fd[i]) && status == 0) {
			ekp_error("%s: %s", o.tee[i].path, strerror(errno));
			status = 1;
		}
	}
out:
	ekp_engines_free(engines);
	ekp_handoff_free(&handoff);
	free(pv);
	ekp_symtab_free(st);
	ekp_probe_list_free(probes);
	ekp_libvirt_close(lv);
	free(auto_symbols);
	return status;
}
