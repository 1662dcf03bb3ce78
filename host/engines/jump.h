/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The jump engine: exit-less probes. Before the kernel's first instruction (at a stop on the
 * physical address of its entry, after the decompressor has written the kernel in place) the
 * host writes, through QEMU, a trampoline per jump site into the guest's reserved slots, the
 * probes' fetch programs into the guest's probe table, and a 5-byte jump at each site. Probes
 * at the same address share a site (one trampoline calling the guest once per probe).
 * Hits are recorded by the guest into a ring in its memory, which the host reads through a
 * shared mapping of guest RAM while the guest runs: no VM exit per hit.
 *
 * Planning happens before QEMU starts, so a refused site is known (and reported) up front.
 */
#ifndef EKPROBE_HOST_ENGINE_JUMP_H
#define EKPROBE_HOST_ENGINE_JUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"
#include "host/event.h"
#include "host/vm/target.h"
#include "proto/rsp.h"

struct ekp_jump_engine;

struct ekp_jump_config {
	const struct ekp_arch *arch;
	const struct ekp_symtab *st;    /* a vmlinux: the engine needs the image */
	struct ekp_probe *const *probes;
	unsigned int nr_probes;
	int (*emit)(void *opaque, const struct ekp_event *ev);
	void *opaque;
	/* Guest time of a record's TSC (set by the session once it knows the clock). */
	uint64_t (*tsc_to_ns)(void *opaque, uint64_t tsc);
};

/* Find and check the guest's ekprobe descriptor and the kernel's self-patching tables.
 * -ENOENT with a reason when the kernel has no ekprobe guest patch. */
int ekp_jump_engine_new(const struct ekp_jump_config *cfg, struct ekp_jump_engine **out);
void ekp_jump_engine_free(struct ekp_jump_engine *e);

/* Plan probe i on the jump engine: 0 (it will be a jump probe), or negative errno with the
 * reason in why (the site is not safe for a jump, or the probe does not fit a record). */
int ekp_jump_plan(struct ekp_jump_engine *e, unsigned int i, char *why, size_t whylen);
bool ekp_jump_planned(const struct ekp_jump_engine *e, unsigned int i);
unsigned int ekp_jump_nr_planned(const struct ekp_jump_engine *e);

/* Where events go once the run starts (planning happened before). */
void ekp_jump_set_output(struct ekp_jump_engine *e,
			 int (*emit)(void *opaque, const struct ekp_event *ev),
			 uint64_t (*tsc_to_ns)(void *opaque, uint64_t tsc), void *opaque);

/* Physical address of the kernel's entry: the session stops there once to arm. */
uint64_t ekp_jump_arm_addr(const struct ekp_jump_engine *e);
/* At that stop: write tables, trampolines and jumps (reading each site back first). */
int ekp_jump_arm(struct ekp_jump_engine *e, struct ekp_target *t);
bool ekp_jump_armed(const struct ekp_jump_engine *e);

/* The ring, through a host pointer to guest physical memory (session-provided). */
void ekp_jump_set_ram(struct ekp_jump_engine *e,
		      void *(*guest_ptr)(void *opaque, uint64_t pa, size_t len), void *opaque);
/* Emit every complete record now in the ring; returns how many, or negative errno. */
int ekp_jump_drain(struct ekp_jump_engine *e);

/* Put back the original bytes of every site (read back to prove it) and disable the guest
 * side. The VM must be stopped. */
int ekp_jump_disarm(struct ekp_jump_engine *e, struct ekp_target *t);

uint64_t ekp_jump_hits(const struct ekp_jump_engine *e, unsigned int i);
uint64_t ekp_jump_lost(const struct ekp_jump_engine *e);
unsigned int ekp_jump_ring_records(const struct ekp_jump_engine *e); /* the guest's ring size */    /* the guest's ring-full count */
uint64_t ekp_jump_invalid(const struct ekp_jump_engine *e); /* records refused as invalid */

#endif
