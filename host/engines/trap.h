/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The trap engine: execute breakpoints held by QEMU's gdbstub. Under TCG they are matched
 * against the virtual PC at translation and never written into guest memory, so they can be
 * armed before the guest's first instruction, in any number.
 *
 * Per hit: the stop reply, one 'g', the memory the fetch-args need (cached per hit), one
 * single-step of the stopped vCPU, one 'p' to see the PC left the breakpoint, one continue. Lookup of the probes at a PC is a binary
 * search, so the cost of a hit does not grow with the number of probes armed.
 */
#ifndef EKPROBE_HOST_ENGINE_TRAP_H
#define EKPROBE_HOST_ENGINE_TRAP_H

#include <stdint.h>

#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"
#include "host/event.h"
#include "host/vm/target.h"
#include "host/fetch/task.h"

struct ekp_trap_engine;

struct ekp_trap_config {
	const struct ekp_arch *arch;
	struct ekp_target *target;
	const struct ekp_symtab *st;
	const struct ekp_task_layout *tasks;
	struct ekp_probe *const *probes;
	unsigned int nr_probes;
	/* Called for each event, in the order the guest produced them. */
	int (*emit)(void *opaque, const struct ekp_event *ev);
	void *opaque;
	/* Guest run time now (the VM is stopped while the engine works). */
	uint64_t (*now_ns)(void *opaque);
};

int ekp_trap_engine_new(const struct ekp_trap_config *cfg, struct ekp_trap_engine **out);
void ekp_trap_engine_free(struct ekp_trap_engine *e);

/* Insert every probe's breakpoint (and its early alias). The VM must be stopped. */
int ekp_trap_arm(struct ekp_trap_engine *e);
/* Remove every breakpoint this engine inserted. The VM must be stopped. */
int ekp_trap_disarm(struct ekp_trap_engine *e);

/*
 * Handle a stop of the VM: reads the stopped vCPU's registers, emits the events of every
 * probe at its PC. Returns 1 if the stop was a breakpoint of ours, 0 if not (then the caller
 * decides what the stop means), negative errno on failure.
 */
int ekp_trap_handle_stop(struct ekp_trap_engine *e, const struct rsp_stop *stop);
/* Resume the VM after a stop, stepping the stopped vCPU off our breakpoint first. */
int ekp_trap_resume(struct ekp_trap_engine *e, const struct rsp_stop *stop);

uint64_t ekp_trap_hits(const struct ekp_trap_engine *e, unsigned int probe);
/* Return probes: entries whose return was not seen (yet). */
uint64_t ekp_trap_pending(const struct ekp_trap_engine *e, unsigned int probe);
/* Return probes: entries not tracked because maxactive instances were already pending. */
uint64_t ekp_trap_missed(const struct ekp_trap_engine *e, unsigned int probe);
uint64_t ekp_trap_stops(const struct ekp_trap_engine *e);
/* Single-steps that had to be repeated because the PC stayed on the breakpoint. */
uint64_t ekp_trap_resteps(const struct ekp_trap_engine *e);

#endif
