/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The engine interface. A probing mechanism (trap, jump, ...) is one file under host/engines/
 * that defines a `const struct ekp_engine_ops ekp_engine_<name>`, registered with one line in
 * host/engines/list.h. The session drives every engine through these hooks, in this order,
 * and knows none by name:
 *
 *   create           the engine for this run (arch, symbols, probes, mode); before anything
 *                    starts. Fails with the reason when the engine cannot run at all here.
 *   plan(i)          take probe i, or say why not (ekp_err). Before any QEMU starts, so a
 *                    refused probe is reported up front.
 *   qemu_args        launch mode: the QEMU options the engine needs (optional).
 *   arm              QEMU is up and holds the guest before its first instruction (launch, or
 *                    attach to a QEMU started with -S) or was stopped on attach.
 *   relocate         a kernel that KASLR moved (env.may_relocate): once, at the stop on its
 *                    first instruction, before that stop's on_stop. The probe vector holds
 *                    the running kernel's addresses from then on (probe addresses, resolved
 *                    @SYM fetch-args); the engine moves what it armed. An engine without it
 *                    cannot run when the kernel may move (planning says so).
 *   drain            exit-less engines: emit what the guest recorded (optional). Called every
 *                    poll interval while the guest runs, and before any stop is looked at, so
 *                    events come out in the order the guest produced them.
 *   on_stop          every VM stop, in list order (optional): 0 not this engine's, or
 *                    EKP_STOP_TAKEN, with EKP_STOP_ON_BREAKPOINT when the stopped vCPU sits on
 *                    a breakpoint of this engine (the session steps it off before resuming).
 *   disarm           the VM is stopped: take everything out of the guest, so it runs on
 *                    unchanged.
 *   probe_stats, stats, destroy.
 *
 * Every hook returns 0 or a negative errno with the reason recorded through ekp_err().
 */
#ifndef EKPROBE_HOST_ENGINES_ENGINE_H
#define EKPROBE_HOST_ENGINES_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"
#include "host/event.h"
#include "host/handoff/handoff.h"
#include "host/vm/qemu_argv.h"
#include "host/vm/target.h"
#include "proto/rsp.h"

/* What every engine is created with. */
struct ekp_engine_env {
	const struct ekp_arch *arch;
	const struct ekp_symtab *st;
	struct ekp_probe *const *probes; /* every probe of the run: engines index this array */
	unsigned int nr_probes;
	bool launch;     /* ekprobe-host starts QEMU (else it attaches to one) */
	char *const *qemu_argv; /* launch mode: the user's QEMU command line, as given */
	/* The engines arm before the guest's first instruction (launch mode, a libvirt domain that
	 * ekprobe-host starts paused); false when that is not known beforehand. */
	bool first_insn;
	/*
	 * NULL when guest RAM will be in a memfd QEMU shares with the host, which an engine finds
	 * from the run's qemu_pid: in launch mode an engine adds that backend (qemu_args); a
	 * libvirt domain may have it already. Otherwise why not, for the user.
	 */
	const char *no_shared_ram;
	bool icount;     /* QEMU runs with -icount */
	bool may_relocate; /* the kernel may run elsewhere than its link-time place (KASLR) */
	int timeout_ms;  /* for each exchange with QEMU */
	/* --handoff (stock kernel): the probes the guest's kprobe events take over, or NULL
	 * (host/handoff/handoff.h; the trap engine carries it out). */
	const struct ekp_handoff *handoff;
};

/* What an engine gets once the VM exists. */
struct ekp_engine_run {
	struct ekp_target *target;  /* the gdbstub */
	pid_t qemu_pid;             /* QEMU's process when it is known here (launch mode, a
				     * libvirt domain on this host); 0 otherwise */
	char *const *qemu_argv;     /* the command line QEMU was started with, when qemu_pid */
	/* Events, in the order the guest produced them. */
	int (*emit)(void *opaque, const struct ekp_event *ev);
	/* Guest run time now, for engines that see the guest only while it is stopped. */
	uint64_t (*guest_now_ns)(void *opaque);
	/* --handoff: the guest's own probes took over handed[] (per probe) now (the VM is
	 * stopped); the engine emits nothing more for them, except returns of frames entered
	 * before. */
	int (*handoff)(void *opaque, const bool *handed);
	/* Guest run time at host CLOCK_MONOTONIC instant mono_ns (an instant the guest ran,
	 * before now): the time since the first resume, less the time held stopped before it. */
	uint64_t (*guest_ns_at)(void *opaque, uint64_t mono_ns);
	void *opaque;
};

enum { EKP_STOP_TAKEN = 1, EKP_STOP_ON_BREAKPOINT = 2 };

/* One probe's counts. */
struct ekp_probe_counts {
	uint64_t hits;     /* entry events, or return events of a return probe */
	uint64_t pending;  /* return probes: entries whose return has not been seen */
	uint64_t missed;   /* hits not recorded: return frames not tracked (maxactive, no free
			    * instance), records the guest had no room for */
};

/* The run's counts, summed over engines. */
struct ekp_run_counts {
	uint64_t stops;    /* VM stops an engine took */
	uint64_t lost;     /* records the guest dropped (its ring was full) */
	uint64_t invalid;  /* records refused as invalid */
};

struct ekp_engine;

struct ekp_engine_ops {
	const char *name;          /* as --engine names it and events say it */
	int (*create)(const struct ekp_engine_env *env, struct ekp_engine **out);
	int (*plan)(struct ekp_engine *e, unsigned int probe);
	int (*qemu_args)(struct ekp_engine *e, struct ekp_qemu_argv *argv);
	int (*arm)(struct ekp_engine *e, const struct ekp_engine_run *run);
	/* The kernel runs slid by *slide (ekprobe/arch.h): move what was armed (optional). */
	int (*relocate)(struct ekp_engine *e, const struct ekp_slide *slide);
	int (*drain)(struct ekp_engine *e);
	int (*on_stop)(struct ekp_engine *e, const struct rsp_stop *stop);
	int (*disarm)(struct ekp_engine *e);
	/* Say, after the run, anything the user must know (records lost, ...). */
	void (*report)(const struct ekp_engine *e);
	void (*probe_stats)(const struct ekp_engine *e, unsigned int probe,
			    struct ekp_probe_counts *out);
	void (*stats)(const struct ekp_engine *e, struct ekp_run_counts *out);
	void (*destroy)(struct ekp_engine *e);
};

/* Every engine's private struct starts with this. */
struct ekp_engine {
	const struct ekp_engine_ops *ops;
};

/* The registered engines, most preferred first (host/engines/list.h). */
unsigned int ekp_engine_count(void);
const struct ekp_engine_ops *ekp_engine_at(unsigned int i);
const struct ekp_engine_ops *ekp_engine_by_name(const char *name);

#endif
