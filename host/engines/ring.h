/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The jump engine's ring (include/ekprobe/abi.h), read from a host mapping of guest RAM while
 * the guest runs. The guest is untrusted: anything in the ring may be anything at any time.
 *
 * Protocol. Guest, per record: reserve index i with a cmpxchg of head from i to i + 1, refused
 * (lost++) while i - tail >= ring_records; fill slot i & (ring_records - 1); store seq = i + 1
 * last, with release. Host: *tail is its own copy (never read back from the guest); a record
 * is complete when its seq == index + 1 (acquire). The host copies it, re-checks seq, takes
 * it, and once done with a batch stores tail (release) so the guest may reuse the slots.
 * head is not needed to read the ring, and is never trusted.
 */
#ifndef EKPROBE_HOST_RING_H
#define EKPROBE_HOST_RING_H

#include <stddef.h>
#include <stdint.h>

#include "ekprobe/abi.h"

/* Bounds a descriptor may have (sanity, not ABI). */
#define EKP_RING_MAX_RECORDS (1u << 20)
#define EKP_RING_MAX_PROBES 4096u

/* Bytes of a ring of nr records: the header, then the records. */
static inline uint64_t ekp_ring_bytes(uint32_t nr_records)
{
	return sizeof(struct ekp_abi_ring_hdr) + (uint64_t)nr_records * sizeof(struct ekp_abi_record);
}

/*
 * A descriptor read from the guest: magic, version, sizes equal to this host's, power-of-two
 * ring, counts within the bounds above, regions aligned and not wrapping the address space.
 * 0, or -EINVAL/-EPROTO with the reason in why (and ekp_err()).
 */
int ekp_ring_desc_check(const struct ekp_abi_desc *d, char *why, size_t n);

/* Counters of ekp_ring_drain (added to, never reset by it). */
struct ekp_ring_stats {
	uint64_t delivered;   /* records cb took (returned 0) */
	uint64_t invalid;     /* complete records skipped as invalid (the sum of the next four) */
	uint64_t bad_probe;   /*   probe >= max_probes */
	uint64_t bad_values;  /*   nr_values > EKP_ABI_MAX_VALUES, or fault bits past it */
	uint64_t bad_flags;   /*   unknown record flags */
	uint64_t rejected;    /*   cb returned > 0 (e.g. ekp_fetch_from_record said -EPROTO) */
	uint64_t torn;        /* seq changed while the record was copied: left for the next call */
	uint64_t comm_fixed;  /* comm not NUL-terminated: cut at EKP_ABI_COMM - 1 */
};

/*
 * The callback gets a private copy, validated: probe < max_probes, nr_values <=
 * EKP_ABI_MAX_VALUES, fault_mask only within nr_values, flags known, comm NUL-terminated.
 * It returns 0 (taken), > 0 (the record is invalid for a reason only the caller knows: counted
 * as rejected), or < 0 to stop: the record counts as consumed and drain returns that error.
 */
typedef int (*ekp_ring_cb)(void *opaque, const struct ekp_abi_record *rec);

/*
 * Read the complete records from *tail on, at most nr_records in one call, advancing *tail
 * past every record taken or skipped as invalid. ring_base is the mapping of the ring header
 * (8-byte aligned); ring_bytes how many bytes of it may be read: it must hold
 * ekp_ring_bytes(nr_records). nr_records a power of two. Never writes the ring, never reads
 * outside [ring_base, ring_base + ring_bytes).
 * Returns the number of records consumed (taken or skipped), or a negative errno (-EINVAL for
 * bad arguments, or cb's error).
 */
int ekp_ring_drain(volatile void *ring_base, size_t ring_bytes, uint32_t nr_records,
		   uint32_t max_probes, uint64_t *tail, ekp_ring_cb cb, void *opaque,
		   struct ekp_ring_stats *stats);

/* Hand consumed slots back: header.tail = tail (release). */
void ekp_ring_publish_tail(volatile void *ring_base, uint64_t tail);
/* header.head and header.lost (acquire loads), for statistics only. */
void ekp_ring_read_counters(volatile void *ring_base, uint64_t *head, uint64_t *lost);

#endif
