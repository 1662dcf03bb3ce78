/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The jump engine's ring (include/ekprobe/abi.h), read from a host mapping of guest RAM while
 * the guest runs. The guest is untrusted: anything in the ring may be anything at any time.
 *
 * Protocol. Guest, per record: reserve index i with a cmpxchg of head from i to i + 1, refused
 * while i - tail >= ring_records (then lost_tail = max(lost_tail, tail), lost++); fill slot
 * i & (ring_records - 1); store seq = i + 1 last, with release. Host: the reader's tail is its
 * own copy (never read back from the guest); a record is complete when its seq == index + 1
 * (acquire). The host copies it, re-checks seq, validates it against the probe-table entry it
 * wrote, takes it, and once done with a batch stores tail (release) so the guest may reuse
 * the slots. head is not needed to read the ring, and is never trusted.
 *
 * What a record must be to reach the callback (else it is consumed, counted per reason):
 * its probe index names an entry the host wrote (ekp_ring_expect), with that entry's check
 * word, address, value count and kind; a CPU below nr_cpus; a TSC not above tsc_max and not
 * below the last valid one of its CPU (the guest reserves one CPU's records in TSC order);
 * a pid in the kernel's range; known flags; fault bits only within its values.
 */
#ifndef EKPROBE_HOST_RING_H
#define EKPROBE_HOST_RING_H

#include <stddef.h>
#include <stdint.h>

#include "ekprobe/abi.h"

/* Bounds a descriptor may have (sanity, not ABI). */
#define EKP_RING_MAX_RECORDS (1u << 20)
#define EKP_RING_MAX_PROBES 65536u /* the plugin engine's table (EKP_TCG_MAX_PROBES) */
#define EKP_RING_MAX_CPUS ((uint32_t)EKP_ABI_MAX_CPUS) /* the most vCPUs any QEMU x86 machine takes */
/* A guest TSC above this is refused: 2^62 ticks are 36 years at 4 GHz, and keep a nanosecond
 * conversion below 2^63 for any TSC rate from 0.5 GHz on. */
#define EKP_RING_TSC_MAX (UINT64_C(1) << 62)
#define EKP_RING_PID_MAX 4194304      /* the kernel's PID_MAX_LIMIT */

/* Bytes of a ring of nr records: the header, then the records. */
static inline uint64_t ekp_ring_bytes(uint32_t nr_records)
{
	return sizeof(struct ekp_abi_ring_hdr) + (uint64_t)nr_records * sizeof(struct ekp_abi_record);
}

/*
 * A descriptor read from the guest: magic, version, sizes equal to this host's, power-of-two
 * ring, counts within the bounds above, regions aligned and not wrapping the address space.
 * 0, or -EINVAL/-EPROTO with the reason through ekp_err().
 */
int ekp_ring_desc_check(const struct ekp_abi_desc *d);

/* Counters of a reader (added to, never reset). */
struct ekp_ring_stats {
	uint64_t delivered;   /* records cb took (returned 0) */
	uint64_t invalid;     /* complete records skipped as invalid (the sum of the next ten) */
	uint64_t bad_probe;   /*   probe index not an entry the host wrote */
	uint64_t bad_check;   /*   check word not the entry's (another or an older entry's) */
	uint64_t bad_ip;      /*   ip not the entry's address */
	uint64_t bad_values;  /*   nr_values not the entry's, or fault bits past it */
	uint64_t bad_flags;   /*   unknown flags, or return/entry not the entry's kind */
	uint64_t bad_cpu;     /*   cpu >= nr_cpus */
	uint64_t bad_tsc;     /*   tsc > tsc_max, or below the last valid one of its CPU */
	uint64_t bad_task;    /*   pid outside 0..EKP_RING_PID_MAX */
	uint64_t rejected;    /*   cb returned > 0 (e.g. ekp_fetch_from_record said -EPROTO) */
	uint64_t torn;        /* seq changed while the record was copied: left for the next call */
	uint64_t comm_fixed;  /* comm not NUL-terminated: cut at EKP_ABI_COMM - 1 */

	/* The guest's header counters, as ekp_ring_update_counters() accepted them. */
	uint64_t lost;        /* records dropped because the ring was full */
	uint64_t dropped;     /* hits dropped unrecorded (nested on one CPU, CPU >= NR_CPUS) */
	uint64_t bad_lost;    /* reads where lost went back, or grew without a full ring */
	uint64_t bad_dropped; /* reads where dropped went back */
};

struct ekp_ring_config {
	uint32_t nr_records;  /* desc.ring_records: a power of two, <= EKP_RING_MAX_RECORDS */
	uint32_t max_probes;  /* desc.max_probes: <= EKP_RING_MAX_PROBES */
	uint32_t nr_cpus;     /* records from cpu >= nr_cpus are refused: 1..EKP_RING_MAX_CPUS
			       * (desc.nr_cpus, or fewer: the vCPUs QEMU runs) */
	uint64_t tsc_max;     /* records with a larger tsc are refused; 0: EKP_RING_TSC_MAX */
	uint64_t tail;        /* the header's tail when the guest started (0 for a fresh ring) */
};

struct ekp_ring_reader;

/* 0, or -EINVAL (bad config) / -ENOMEM, with the reason in ekp_err(). */
int ekp_ring_reader_new(const struct ekp_ring_config *cfg, struct ekp_ring_reader **out);
void ekp_ring_reader_free(struct ekp_ring_reader *rd);

/*
 * The host is about to write *entry at probe-table index `index`: choose its check word (a
 * fresh random non-zero word in entry->check) and expect the records of index to carry it,
 * entry->addr as ip, entry->nr_values, and the entry's kind (EKP_PROBE_F_RETURN: return
 * records). Call it again when rewriting an entry: records still carrying the old word are
 * refused. Records of an index never expected are refused. 0, or -EINVAL (index >= max_probes).
 */
int ekp_ring_expect(struct ekp_ring_reader *rd, uint32_t index, struct ekp_abi_probe *entry);

/*
 * As ekp_ring_expect(), with the check word already in entry->check (non-zero): for one entry
 * whose records come through several rings (the plugin engine's per-vCPU rings), each read by
 * its own reader. 0, or -EINVAL (index >= max_probes, or a zero check word).
 */
int ekp_ring_expect_word(struct ekp_ring_reader *rd, uint32_t index,
			 const struct ekp_abi_probe *entry);

/*
 * The callback gets a private copy, validated (see the top of this file) and with comm
 * NUL-terminated. It returns 0 (taken), > 0 (the record is invalid for a reason only the
 * caller knows: counted as rejected), or < 0 to stop: the record counts as consumed and drain
 * returns that error.
 */
typedef int (*ekp_ring_cb)(void *opaque, const struct ekp_abi_record *rec);

/*
 * Read the complete records from the reader's tail on, at most nr_records in one call,
 * advancing the tail past every record taken or skipped as invalid. ring_base is the mapping
 * of the ring header (8-byte aligned); ring_bytes how many bytes of it may be read: it must
 * hold ekp_ring_bytes(nr_records). Never writes the ring, never reads outside
 * [ring_base, ring_base + ring_bytes).
 * Returns the number of records consumed (taken or skipped), or a negative errno (-EINVAL for
 * bad arguments, or cb's error).
 */
int ekp_ring_drain(struct ekp_ring_reader *rd, volatile void *ring_base, size_t ring_bytes,
		   ekp_ring_cb cb, void *opaque);

/* Hand consumed slots back: header.tail = the reader's tail (release). */
void ekp_ring_publish(struct ekp_ring_reader *rd, volatile void *ring_base);

/*
 * Read the guest's lost, lost_tail, dropped and head (acquire) and fold them into the stats:
 * a counter is taken only as far as it never goes back; lost only grows while the ring could
 * have been full: lost_tail is a tail the host published and head >= lost_tail + nr_records.
 * Anything else is counted in bad_lost/bad_dropped and not added. Call it after a publish.
 */
void ekp_ring_update_counters(struct ekp_ring_reader *rd, volatile void *ring_base);

uint64_t ekp_ring_tail(const struct ekp_ring_reader *rd);
const struct ekp_ring_stats *ekp_ring_stats(const struct ekp_ring_reader *rd);

#endif
