/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ekprobe-host <-> ekprobe-tcg.so (the plugin engine's QEMU TCG plugin): one shared memory
 * region, created by ekprobe-host (a memfd QEMU inherits; the plugin is told its descriptor)
 * and laid out as:
 *
 *   struct ekp_tcg_hdr                    at 0
 *   struct ekp_tcg_probe[nr_probes]       at table_off: the host writes it before QEMU starts
 *   nr_rings rings, ring_stride apart     at rings_off: per vCPU, struct ekp_abi_ring_hdr then
 *                                         ring_records struct ekp_abi_record (include/ekprobe/abi.h)
 *
 * The probe entries carry the fetch programs the jump engine's guest runs
 * (host/fetch/compile.c), evaluated by the plugin with include/ekprobe/abi_eval.h over register
 * and memory reads through QEMU. Records use the ABI's record format and ring protocol, with one
 * producer per ring (the vCPU's thread): reserve at head unless head - tail >= ring_records
 * (then lost_tail = max(lost_tail, tail) and lost++), fill, store seq = index + 1 (release),
 * head = index + 1. The host reads them with host/engines/ring.c.
 *
 * Records of this engine, where they differ from the jump engine's guest:
 *   tsc      the plugin's clock (EKP_TCG_F_ICOUNT: guest instructions executed by all vCPUs;
 *            else the host's CLOCK_MONOTONIC in ns), see docs/usage.md "Clocks";
 *   ret_ip   entry records: the PC the CPU ran the probe at (differs from ip at an alias);
 *   pid      EKP_TCG_PID_UNKNOWN when the task could not be read.
 *
 * The plugin treats everything here as untrusted input (plugin/table.c checks it; fuzzed).
 * All fields little-endian, naturally aligned.
 */
#ifndef EKPROBE_TCG_H
#define EKPROBE_TCG_H

#include "abi.h"

#define EKP_TCG_MAGIC 0x31474354504b4545ULL /* "EEKPTCG1" */
#define EKP_TCG_VERSION 1
#define EKP_TCG_MAX_PROBES 65536
#define EKP_TCG_MAX_RINGS 256
#define EKP_TCG_MAX_RING_RECORDS (1u << 20)
#define EKP_TCG_MAX_FRAMES (1u << 20)
#define EKP_TCG_CODE 16
/* An impossible pid (the kernel's pids are below PID_MAX_LIMIT = 4194304): task unknown. */
#define EKP_TCG_PID_UNKNOWN 4194304

#define EKP_TCG_F_ICOUNT 0x1   /* stamp records with guest instruction counts */

#define EKP_TCG_ARCH_X86_64 1

/* One probe. */
struct ekp_tcg_probe {
	ekp_u64 alias;               /* another address its code runs at (the early physical
				      * alias of kernel text), or 0 */
	ekp_u8 code[EKP_TCG_CODE];   /* the image's bytes at abi.addr: an alias is instrumented
				      * only where these bytes are what runs */
	ekp_u32 code_len;            /* how many of them are known (0: no alias check possible) */
	ekp_u32 reserved;
	ekp_u64 frames;              /* plugin: return frames it tracked (entries of an 'r' probe) */
	struct ekp_abi_probe abi;    /* addr, check, flags, program; abi.missed: the plugin's count
				      * of return frames it could not track */
};

struct ekp_tcg_hdr {
	ekp_u64 magic;
	ekp_u32 version;
	ekp_u32 hdr_size;            /* sizeof(struct ekp_tcg_hdr) */
	ekp_u32 probe_size;          /* sizeof(struct ekp_tcg_probe) */
	ekp_u32 record_size;         /* sizeof(struct ekp_abi_record) */
	ekp_u32 nr_probes;
	ekp_u32 nr_rings;            /* vCPUs with a ring: hits on others are counted in dropped */
	ekp_u32 ring_records;        /* a power of two */
	ekp_u32 flags;               /* EKP_TCG_F_* */
	ekp_u32 arch;                /* EKP_TCG_ARCH_*: the frame layout the programs read */
	ekp_u32 max_frames;          /* return frames pending at once, whole guest */
	ekp_u64 table_off;
	ekp_u64 rings_off;
	ekp_u64 ring_stride;         /* bytes from one ring to the next (8-aligned) */
	ekp_u64 total_size;          /* of the whole region */
	ekp_u64 early_end;           /* once a CPU runs this address no code runs at an alias */
	/* The current task (all 0 when unknown): current = [per-CPU base + current_sym]. */
	ekp_u64 current_sym;
	ekp_u64 init_task;
	ekp_u32 comm_off, pid_off;   /* in task_struct */
	ekp_u32 have_task_fields;    /* comm_off and pid_off are known */
	ekp_u32 reserved0;
	ekp_u64 disabled;            /* host: non-zero from detach on: record nothing more */
	/* Written by the plugin. */
	ekp_u64 state;               /* EKP_TCG_STATE_* */
	ekp_u64 dropped;             /* hits on a vCPU without a ring */
	ekp_u64 flushes;             /* translated code flushed to instrument a new return address */
	ekp_u64 reserved[5];
	char error[256];             /* EKP_TCG_STATE_FAILED: why (NUL-terminated) */
};

#define EKP_TCG_STATE_NONE 0
#define EKP_TCG_STATE_RUNNING 1
#define EKP_TCG_STATE_FAILED 2

#endif
