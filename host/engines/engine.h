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
	bool icount;     /* QEMU runs with -icount */
	int timeout_ms;  /* for each exchange with QEMU */
};

/* What an engine gets once the VM exists. */
struct ekp_engine_run {
	struct ekp_target *target;  /* the gdbstub */
	pid_t qemu_pid;             /* launch mode; 0 when attached */
	char *const *qemu_argv;     /* launch mode: the command line QEMU was started with */
	/* Events, in the order the guest produced them. */
	int (*emit)(void *opaque, const struct ekp_event *ev);
	/* Guest run time now, for engines that see the guest only while it is stopped. */
	uint64_t (*guest_now_ns)(void *opaque);
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
