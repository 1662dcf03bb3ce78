/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ekprobe host/guest ABI, version 2. This one file is included by the host and, byte for byte
 * the same, by the guest kernel patch (scripts/kernel.sh copies it to include/linux/ekprobe_abi.h;
 * a test compares the copy the kernel was built with).
 *
 * The guest reserves, at build time: an executable slot area inside .text (within +-2 GiB of all
 * kernel text, mapped RWX until mark_rodata_ro), and in .data (not .bss: the host writes it
 * before clear_bss would run) a descriptor, a probe table and a ring of records.
 * The host finds the descriptor by the symbol `ekprobe_desc`, writes trampolines into the slots,
 * the probe table, then sets `enabled`, and only then writes the jumps at the probe sites.
 * Trampolines save a struct ekp_abi_regs frame and call `hit_entry(frame, probe_index)`.
 *
 * All fields little-endian, naturally aligned, fixed size. Guest memory is untrusted for the
 * host: it validates every field it reads.
 */
#ifndef EKPROBE_ABI_H
#define EKPROBE_ABI_H

#ifdef __KERNEL__
#include <linux/types.h>
typedef __u8 ekp_u8;
typedef __u16 ekp_u16;
typedef __u32 ekp_u32;
typedef __u64 ekp_u64;
typedef __s32 ekp_s32;
typedef __s64 ekp_s64;
#else
#include <stdint.h>
typedef uint8_t ekp_u8;
typedef uint16_t ekp_u16;
typedef uint32_t ekp_u32;
typedef uint64_t ekp_u64;
typedef int32_t ekp_s32;
typedef int64_t ekp_s64;
#endif

#define EKP_ABI_MAGIC 0x31454252504b4545ULL /* "EEKPRBE1" */
#define EKP_ABI_VERSION 2

#define EKP_ABI_MAX_INSNS 48   /* fetch-program instructions per probe */
#define EKP_ABI_MAX_VALUES 16  /* fetch-args per record */
#define EKP_ABI_DATA 128       /* string bytes per record */
#define EKP_ABI_STR_SCAN 4096  /* bytes a string is read for its NUL, as the kernel's
				* MAX_STRING_SIZE: a fault in them before the NUL faults it */
#define EKP_ABI_COMM 16
#define EKP_ABI_MAX_RET_INSTANCES 256 /* return-probe frames in flight, whole guest */
#define EKP_ABI_MAX_CPUS 4096  /* records come from CPUs below min(NR_CPUS, this) */

/* The register frame a trampoline pushes: the order of the kernel's x86_64 pt_regs. */
struct ekp_abi_regs {
	ekp_u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
	ekp_u64 orig_ax; /* the probe's index (return stub: ~0) */
	ekp_u64 ip;      /* the probe address (return stub: where the function returned to) */
	ekp_u64 cs;
	ekp_u64 flags;
	ekp_u64 sp;      /* the stack pointer at the probe, as the probed code saw it */
	ekp_u64 ss;
};

/* Fetch programs: a tiny register machine with one accumulator, compiled by the host. */
enum ekp_abi_op {
	EKP_OP_END = 0,
	EKP_OP_REG,     /* acc = frame word at byte offset imm */
	EKP_OP_IMM,     /* acc = imm */
	EKP_OP_ADD,     /* acc += imm */
	EKP_OP_DEREF,   /* acc = 8-byte load at acc + imm (fault: this value faults) */
	EKP_OP_LOAD,    /* acc = `size`-byte load (1,2,4,8) at acc + imm, zero-extended */
	EKP_OP_STORE,   /* values[slot] = acc; the next value starts without a fault */
	EKP_OP_STRING,  /* copy the NUL-terminated string at acc + imm, at most `size` bytes, into
			 * data; values[slot] = offset | length << 16 | truncated << 31 */
	EKP_OP_COMM,    /* values[slot] as STRING, of current->comm */
	EKP_OP_NR,
};

struct ekp_abi_insn {
	ekp_u8 op;
	ekp_u8 size;
	ekp_u8 slot;
	ekp_u8 reserved0;
	ekp_u32 reserved1;
	ekp_s64 imm;
};

#define EKP_PROBE_F_ACTIVE 0x1  /* the guest records hits of this probe */
#define EKP_PROBE_F_RETURN 0x2  /* entry of a return probe: record at return, not here */

struct ekp_abi_probe {
	ekp_u64 addr;      /* the probed address (a record's ip) */
	ekp_u64 check;     /* host: a word it chose for this entry (never 0), copied into every
			    * record of it: a record is tied to the entry the host wrote */
	ekp_u32 flags;
	ekp_u16 nr_insns;
	ekp_u16 nr_values;
	ekp_u64 missed;    /* guest: return frames not tracked (no free instance) */
	struct ekp_abi_insn insns[EKP_ABI_MAX_INSNS];
};

/* The ring: the guest reserves records with a cmpxchg on head, never past tail + size. */
struct ekp_abi_ring_hdr {
	ekp_u64 head;      /* guest: next record index to reserve */
	ekp_u64 tail;      /* host: next record index it will read (it frees what it read) */
	ekp_u64 lost;      /* guest: records dropped because the ring was full */
	ekp_u64 lost_tail; /* guest: the largest tail at which it found the ring full */
	ekp_u64 dropped;   /* guest: hits dropped unrecorded: nested in a hit on the same CPU
			    * (the recursion guard), or on a CPU >= NR_CPUS */
	ekp_u64 reserved[3];
};

#define EKP_REC_F_RETURN 0x1

struct ekp_abi_record {
	ekp_u64 seq;       /* written last: index + 1 once the record is complete */
	ekp_u64 check;     /* the probe entry's check word, read at the hit */
	ekp_u32 probe;     /* index in the probe table */
	ekp_u32 cpu;       /* < NR_CPUS (the descriptor's nr_cpus) */
	ekp_u64 tsc;       /* rdtsc at the hit, with interrupts off and the recursion guard held:
			    * one CPU's records are reserved in TSC order */
	ekp_u64 ip;        /* probe address (return: the function's probe address) */
	ekp_u64 ret_ip;    /* return records: where the function returned to */
	ekp_u32 flags;     /* EKP_REC_F_* */
	ekp_u32 fault_mask; /* bit i: values[i] could not be read */
	ekp_s32 pid;
	ekp_u32 nr_values;
	char comm[EKP_ABI_COMM];
	ekp_u64 values[EKP_ABI_MAX_VALUES];
	char data[EKP_ABI_DATA];
};

struct ekp_abi_desc {
	ekp_u64 magic;
	ekp_u32 version;
	ekp_u32 desc_size;     /* sizeof(struct ekp_abi_desc) */
	ekp_u64 slots;         /* VA of the slot area (executable, in .text) */
	ekp_u64 slots_size;
	ekp_u64 probes;        /* VA of struct ekp_abi_probe[max_probes] */
	ekp_u32 max_probes;
	ekp_u32 probe_size;    /* sizeof(struct ekp_abi_probe) */
	ekp_u64 ring;          /* VA of struct ekp_abi_ring_hdr, then the records */
	ekp_u32 ring_records;  /* a power of two */
	ekp_u32 record_size;   /* sizeof(struct ekp_abi_record) */
	ekp_u64 hit_entry;     /* VA of void hit(struct ekp_abi_regs *, unsigned long probe) */
	ekp_u64 return_stub;   /* VA of the return trampoline return probes divert to */
	ekp_u64 enabled;       /* host: 1 once slots and probe table are written */
	ekp_u32 nr_cpus;       /* min(NR_CPUS, EKP_ABI_MAX_CPUS): records come from CPUs below it */
	ekp_u32 reserved0;
	ekp_u64 reserved[3];
};

#endif
