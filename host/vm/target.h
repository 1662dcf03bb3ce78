/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A live guest seen through QEMU's gdbstub: registers by arch id and virtual memory, with a
 * small per-hit read cache so several fetch-args near each other cost one round trip.
 * Transport (proto/rsp) stays separate from what is asked of it here.
 */
#ifndef EKPROBE_HOST_TARGET_H
#define EKPROBE_HOST_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "ekprobe/arch.h"
#include "proto/rsp.h"

#define EKP_TARGET_CACHE_LINES 8
#define EKP_TARGET_CACHE_LINE 128

struct ekp_target_reg {
	int regnum;      /* GDB register number, -1 if the target has no such register */
	long g_off;      /* offset in the 'g' reply, -1 if 'g' does not carry it */
	unsigned int size;
};

struct ekp_target {
	struct rsp_client *rsp;
	const struct ekp_arch *arch;
	struct rsp_target_desc desc;
	struct ekp_target_reg map[EKP_MAX_REGS];
	struct ekp_buf g;
	int timeout_ms;
	uint64_t resteps;       /* single-steps repeated: the PC stayed on the breakpoint */
	uint64_t pc;            /* the stopped vCPU's PC, once read after the last stop */
	bool pc_known;
	bool phys;              /* m/M take physical addresses now (Qqemu.PhyMemMode:1) */
	struct {
		uint64_t base;
		int state;      /* 0 empty, 1 valid, -1 known unreadable */
		uint8_t data[EKP_TARGET_CACHE_LINE];
	} cache[EKP_TARGET_CACHE_LINES];
	unsigned int cache_next;
};

int ekp_target_init(struct ekp_target *t, struct rsp_client *rsp, const struct ekp_arch *arch,
		    int timeout_ms);
void ekp_target_fini(struct ekp_target *t);
/* Registers of the thread that stopped last (QEMU selects it for g after a stop). */
int ekp_target_read_regs(struct ekp_target *t, struct ekp_regs *regs);
/* The PC of that thread alone (one 'p'), after any stop, step included. */
int ekp_target_read_pc(struct ekp_target *t, uint64_t *pc);
/* Guest virtual memory, through the cache; -EFAULT if unreadable. Fits ekp_fetch_ctx. */
int ekp_target_read_mem(void *target, uint64_t addr, void *buf, size_t len);
/* Forget cached memory and the PC: call whenever the guest ran. */
void ekp_target_cache_reset(struct ekp_target *t);
/* Request/reply exchanges made on the target's gdbstub connection, as the RSP client counts
 * them (rsp_round_trips(): every packet of a split read and of the target description). */
uint64_t ekp_target_round_trips(const struct ekp_target *t);

/* Breakpoints held by QEMU (Z0/z0) at a virtual address (or physical, in QEMU's TCG: matched
 * against the PC). */
int ekp_target_insert_bp(struct ekp_target *t, uint64_t addr);
int ekp_target_remove_bp(struct ekp_target *t, uint64_t addr);
/* Memory accesses through QEMU at guest physical addresses: code written this way
 * invalidates QEMU's translations of it. */
int ekp_target_read_phys(struct ekp_target *t, uint64_t pa, void *buf, size_t len);
int ekp_target_write_phys(struct ekp_target *t, uint64_t pa, const void *buf, size_t len);
/*
 * Move the vCPU that stopped off the breakpoint at its PC: QEMU reports a breakpoint at the
 * PC again on a plain continue, only a single-step passes over it. Steps until the PC
 * leaves it (QEMU 7.2 TCG now and then ends a step without executing the instruction),
 * counting the repeated steps in resteps. The other vCPUs stay stopped.
 */
int ekp_target_step_off(struct ekp_target *t, const struct rsp_stop *stop);
/* Let the whole VM run. */
int ekp_target_resume(struct ekp_target *t);
/* Leave: virtual addresses for the next client, then D (QEMU removes every breakpoint and
 * lets the VM run). */
int ekp_target_detach(struct ekp_target *t);

#endif
