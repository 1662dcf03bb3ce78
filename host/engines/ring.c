// SPDX-License-Identifier: GPL-2.0
/*
 * Reading the guest's ring. Every load from guest memory is an atomic load of an aligned
 * 8-byte word (the compiler may neither tear nor repeat it), so a guest writing concurrently
 * can at worst make us read a mix of old and new words: the seq re-check catches a record
 * rewritten under us, and field validation catches everything else.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/engines/ring.h"

_Static_assert(sizeof(struct ekp_abi_record) % 8 == 0, "records are read as 8-byte words");
_Static_assert(sizeof(struct ekp_abi_ring_hdr) % 8 == 0, "records start 8-byte aligned");
_Static_assert(offsetof(struct ekp_abi_record, seq) == 0, "seq is the first word");

static int desc_err(char *why, size_t n, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int desc_err(char *why, size_t n, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	if (why && n)
		snprintf(why, n, "%s", msg);
	return ekp_err(err, "%s", msg);
}

/* [a, a + len) inside the address space, len > 0. */
static bool region_ok(uint64_t a, uint64_t len)
{
	return len && a && a + len > a;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int ekp_ring_desc_check(const struct ekp_abi_desc *d, char *why, size_t n)
{
	uint64_t probes_len, ring_len;

	if (why && n)
		why[0] = '\0';
	if (d->magic != EKP_ABI_MAGIC)
		return desc_err(why, n, EPROTO, "descriptor magic 0x%016" PRIx64 ", expected 0x%016"
				PRIx64 " (not an ekprobe guest, or not initialised)",
				(uint64_t)d->magic, (uint64_t)EKP_ABI_MAGIC);
	if (d->version != EKP_ABI_VERSION)
		return desc_err(why, n, EPROTO, "ABI version %u, this host speaks %d", d->version,
				EKP_ABI_VERSION);
	if (d->desc_size != sizeof(*d) || d->probe_size != sizeof(struct ekp_abi_probe) ||
	    d->record_size != sizeof(struct ekp_abi_record))
		return desc_err(why, n, EPROTO,
				"ABI struct sizes differ: descriptor %u probe %u record %u, this "
				"host %zu %zu %zu (guest built with another abi.h?)",
				d->desc_size, d->probe_size, d->record_size, sizeof(*d),
				sizeof(struct ekp_abi_probe), sizeof(struct ekp_abi_record));
	if (!d->ring_records || (d->ring_records & (d->ring_records - 1)) ||
	    d->ring_records > EKP_RING_MAX_RECORDS)
		return desc_err(why, n, EINVAL,
				"ring of %u records: must be a power of two, 1..%u",
				d->ring_records, EKP_RING_MAX_RECORDS);
	if (!d->max_probes || d->max_probes > EKP_RING_MAX_PROBES)
		return desc_err(why, n, EINVAL, "probe table of %u entries: must be 1..%u",
				d->max_probes, EKP_RING_MAX_PROBES);
	probes_len = (uint64_t)d->max_probes * sizeof(struct ekp_abi_probe);
	ring_len = ekp_ring_bytes(d->ring_records);
	if (!region_ok(d->slots, d->slots_size))
		return desc_err(why, n, EINVAL, "slot area 0x%" PRIx64 " size 0x%" PRIx64
				" is empty or wraps", (uint64_t)d->slots, (uint64_t)d->slots_size);
	if (!region_ok(d->probes, probes_len) || d->probes % 8)
		return desc_err(why, n, EINVAL, "probe table at 0x%" PRIx64 " (0x%" PRIx64
				" bytes) is unaligned or wraps", (uint64_t)d->probes, probes_len);
	if (!region_ok(d->ring, ring_len) || d->ring % 8)
		return desc_err(why, n, EINVAL, "ring at 0x%" PRIx64 " (0x%" PRIx64
				" bytes) is unaligned or wraps", (uint64_t)d->ring, ring_len);
	if (overlap(d->slots, d->slots_size, d->probes, probes_len) ||
	    overlap(d->slots, d->slots_size, d->ring, ring_len) ||
	    overlap(d->probes, probes_len, d->ring, ring_len))
		return desc_err(why, n, EINVAL, "slot area, probe table and ring overlap");
	if (!d->hit_entry || !d->return_stub)
		return desc_err(why, n, EINVAL, "hit_entry or return_stub is 0");
	return 0;
}

static inline uint64_t load_acquire(const volatile uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint64_t load_relaxed(const volatile uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/*
 * Copy one record word by word. Acquire loads (plain moves on x86) keep every word read
 * before the seq re-check that follows, as a fence would (which ThreadSanitizer cannot see).
 */
static void copy_record(const volatile uint64_t *src, struct ekp_abi_record *dst)
{
	uint64_t w[sizeof(*dst) / 8];

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		w[i] = load_acquire(&src[i]);
	memcpy(dst, w, sizeof(*dst));
}

/* 0 if valid (comm fixed up), else the counter to bump. */
static uint64_t *validate(struct ekp_abi_record *r, uint32_t max_probes,
			  struct ekp_ring_stats *st)
{
	if (r->probe >= max_probes)
		return &st->bad_probe;
	if (r->nr_values > EKP_ABI_MAX_VALUES ||
	    (r->nr_values < 32 && (r->fault_mask >> r->nr_values)))
		return &st->bad_values;
	if (r->flags & ~(ekp_u32)EKP_REC_F_RETURN)
		return &st->bad_flags;
	if (!memchr(r->comm, '\0', sizeof(r->comm))) {
		r->comm[sizeof(r->comm) - 1] = '\0';
		st->comm_fixed++;
	}
	return NULL;
}

int ekp_ring_drain(volatile void *ring_base, size_t ring_bytes, uint32_t nr_records,
		   uint32_t max_probes, uint64_t *tail, ekp_ring_cb cb, void *opaque,
		   struct ekp_ring_stats *stats)
{
	const volatile uint8_t *recs;
	uint64_t t = *tail;
	int done = 0;

	if (!ring_base || !cb || !stats || !nr_records || (nr_records & (nr_records - 1)) ||
	    nr_records > EKP_RING_MAX_RECORDS || (uintptr_t)ring_base % 8)
		return ekp_err(EINVAL, "bad ring arguments (%u records at %p)", nr_records,
			       (void *)(uintptr_t)ring_base);
	if (ring_bytes < ekp_ring_bytes(nr_records))
		return ekp_err(EINVAL, "a ring of %u records needs %" PRIu64 " bytes, %zu mapped",
			       nr_records, ekp_ring_bytes(nr_records), ring_bytes);
	recs = (const volatile uint8_t *)ring_base + sizeof(struct ekp_abi_ring_hdr);

	/* At most one lap per call: a guest rewriting seqs cannot keep us here. */
	for (uint32_t k = 0; k < nr_records; k++, t++) {
		const volatile uint64_t *slot = (const volatile uint64_t *)
			(recs + (size_t)(t & (nr_records - 1)) * sizeof(struct ekp_abi_record));
		struct ekp_abi_record r;
		uint64_t *bad;
		int ret;

		if (load_acquire(slot) != t + 1)
			break; /* not published yet (or garbage): wait */
		copy_record(slot, &r);
		if (load_relaxed(slot) != t + 1 || r.seq != t + 1) {
			stats->torn++;
			break;
		}
		bad = validate(&r, max_probes, stats);
		if (bad) {
			(*bad)++;
			stats->invalid++;
			done++;
			continue;
		}
		ret = cb(opaque, &r);
		done++;
		if (ret < 0) {
			*tail = t + 1;
			return ret;
		}
		if (ret > 0) {
			stats->rejected++;
			stats->invalid++;
		} else {
			stats->delivered++;
		}
	}
	*tail = t;
	return done;
}

void ekp_ring_publish_tail(volatile void *ring_base, uint64_t tail)
{
	volatile struct ekp_abi_ring_hdr *h = ring_base;

	__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
}

void ekp_ring_read_counters(volatile void *ring_base, uint64_t *head, uint64_t *lost)
{
	volatile struct ekp_abi_ring_hdr *h = ring_base;

	if (head)
		*head = load_acquire(&h->head);
	if (lost)
		*lost = load_acquire(&h->lost);
}
