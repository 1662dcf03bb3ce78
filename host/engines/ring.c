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
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "ekprobe/err.h"
#include "host/engines/ring.h"

_Static_assert(sizeof(struct ekp_abi_record) % 8 == 0, "records are read as 8-byte words");
_Static_assert(sizeof(struct ekp_abi_ring_hdr) % 8 == 0, "records start 8-byte aligned");
_Static_assert(offsetof(struct ekp_abi_record, seq) == 0, "seq is the first word");


/* [a, a + len) inside the address space, len > 0. */
static bool region_ok(uint64_t a, uint64_t len)
{
	return len && a && a + len > a;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int ekp_ring_desc_check(const struct ekp_abi_desc *d)
{
	uint64_t probes_len, ring_len;

	if (d->magic != EKP_ABI_MAGIC)
		return ekp_err(EPROTO, "descriptor magic 0x%016" PRIx64 ", expected 0x%016"
				PRIx64 " (not an ekprobe guest, or not initialised)",
				(uint64_t)d->magic, (uint64_t)EKP_ABI_MAGIC);
	if (d->version != EKP_ABI_VERSION)
		return ekp_err(EPROTO, "ABI version %u, this host speaks %d", d->version,
				EKP_ABI_VERSION);
	if (d->desc_size != sizeof(*d) || d->probe_size != sizeof(struct ekp_abi_probe) ||
	    d->record_size != sizeof(struct ekp_abi_record))
		return ekp_err(EPROTO,
				"ABI struct sizes differ: descriptor %u probe %u record %u, this "
				"host %zu %zu %zu (guest built with another abi.h?)",
				d->desc_size, d->probe_size, d->record_size, sizeof(*d),
				sizeof(struct ekp_abi_probe), sizeof(struct ekp_abi_record));
	if (!d->ring_records || (d->ring_records & (d->ring_records - 1)) ||
	    d->ring_records > EKP_RING_MAX_RECORDS)
		return ekp_err(EINVAL,
				"ring of %u records: must be a power of two, 1..%u",
				d->ring_records, EKP_RING_MAX_RECORDS);
	if (!d->max_probes || d->max_probes > EKP_RING_MAX_PROBES)
		return ekp_err(EINVAL, "probe table of %u entries: must be 1..%u",
				d->max_probes, EKP_RING_MAX_PROBES);
	probes_len = (uint64_t)d->max_probes * sizeof(struct ekp_abi_probe);
	ring_len = ekp_ring_bytes(d->ring_records);
	if (!region_ok(d->slots, d->slots_size))
		return ekp_err(EINVAL, "slot area 0x%" PRIx64 " size 0x%" PRIx64
				" is empty or wraps", (uint64_t)d->slots, (uint64_t)d->slots_size);
	if (!region_ok(d->probes, probes_len) || d->probes % 8)
		return ekp_err(EINVAL, "probe table at 0x%" PRIx64 " (0x%" PRIx64
				" bytes) is unaligned or wraps", (uint64_t)d->probes, probes_len);
	if (!region_ok(d->ring, ring_len) || d->ring % 8)
		return ekp_err(EINVAL, "ring at 0x%" PRIx64 " (0x%" PRIx64
				" bytes) is unaligned or wraps", (uint64_t)d->ring, ring_len);
	if (overlap(d->slots, d->slots_size, d->probes, probes_len) ||
	    overlap(d->slots, d->slots_size, d->ring, ring_len) ||
	    overlap(d->probes, probes_len, d->ring, ring_len))
		return ekp_err(EINVAL, "slot area, probe table and ring overlap");
	if (!d->hit_entry || !d->return_stub)
		return ekp_err(EINVAL, "hit_entry or return_stub is 0");
	if (!d->nr_cpus || d->nr_cpus > EKP_RING_MAX_CPUS)
		return ekp_err(EINVAL, "nr_cpus %u: must be 1..%u", d->nr_cpus,
				EKP_RING_MAX_CPUS);
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

/* What a record of one probe-table index must carry: the entry the host wrote there. */
struct expect {
	uint64_t check;       /* 0: nothing written there */
	uint64_t addr;
	uint32_t nr_values;
	uint32_t rec_flags;   /* EKP_REC_F_RETURN for a return probe's entry */
};

struct ekp_ring_reader {
	struct ekp_ring_config cfg;
	uint64_t tail;        /* next index to read */
	uint64_t published;   /* the tail last stored in the header */
	uint64_t lost_seen, dropped_seen; /* the guest's counters as last accepted */
	struct expect *expect;   /* [max_probes] */
	uint64_t *last_tsc;      /* [nr_cpus]: the TSC of the last valid record of each CPU */
	uint64_t check_seq;
	struct ekp_ring_stats stats;
};

int ekp_ring_reader_new(const struct ekp_ring_config *cfg, struct ekp_ring_reader **out)
{
	struct ekp_ring_reader *rd;

	*out = NULL;
	if (!cfg->nr_records || (cfg->nr_records & (cfg->nr_records - 1)) ||
	    cfg->nr_records > EKP_RING_MAX_RECORDS)
		return ekp_err(EINVAL, "ring of %u records: must be a power of two, 1..%u",
			       cfg->nr_records, EKP_RING_MAX_RECORDS);
	if (!cfg->max_probes || cfg->max_probes > EKP_RING_MAX_PROBES)
		return ekp_err(EINVAL, "probe table of %u entries: must be 1..%u", cfg->max_probes,
			       EKP_RING_MAX_PROBES);
	if (!cfg->nr_cpus || cfg->nr_cpus > EKP_RING_MAX_CPUS)
		return ekp_err(EINVAL, "%u CPUs: must be 1..%u", cfg->nr_cpus, EKP_RING_MAX_CPUS);
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->cfg = *cfg;
	if (!rd->cfg.tsc_max)
		rd->cfg.tsc_max = EKP_RING_TSC_MAX;
	rd->tail = rd->published = cfg->tail;
	rd->expect = calloc(cfg->max_probes, sizeof(*rd->expect));
	rd->last_tsc = calloc(cfg->nr_cpus, sizeof(*rd->last_tsc));
	if (!rd->expect || !rd->last_tsc) {
		ekp_ring_reader_free(rd);
		return -ENOMEM;
	}
	*out = rd;
	return 0;
}

void ekp_ring_reader_free(struct ekp_ring_reader *rd)
{
	if (!rd)
		return;
	free(rd->expect);
	free(rd->last_tsc);
	free(rd);
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A fresh check word: random, never 0, never the previous one. */
static uint64_t new_check(struct ekp_ring_reader *rd, uint64_t old)
{
	uint64_t w = 0;

	for (;;) {
		if (getrandom(&w, sizeof(w), GRND_NONBLOCK) != (ssize_t)sizeof(w)) {
			struct timespec ts;

			/* No entropy yet: still distinct per call, which is what the check needs. */
			clock_gettime(CLOCK_MONOTONIC, &ts);
			rd->check_seq ^= (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^
					 (uint64_t)getpid() << 48;
			w = splitmix64(&rd->check_seq);
		}
		if (w && w != old)
			return w;
	}
}

int ekp_ring_expect(struct ekp_ring_reader *rd, uint32_t index, struct ekp_abi_probe *entry)
{
	struct expect *x;

	if (index >= rd->cfg.max_probes)
		return ekp_err(EINVAL, "probe-table index %u: the table has %u entries", index,
			       rd->cfg.max_probes);
	x = &rd->expect[index];
	entry->check = new_check(rd, x->check);
	x->check = entry->check;
	x->addr = entry->addr;
	x->nr_values = entry->nr_values;
	x->rec_flags = (entry->flags & EKP_PROBE_F_RETURN) ? EKP_REC_F_RETURN : 0;
	return 0;
}

int ekp_ring_expect_word(struct ekp_ring_reader *rd, uint32_t index,
			 const struct ekp_abi_probe *entry)
{
	struct expect *x;

	if (index >= rd->cfg.max_probes || !entry->check)
		return ekp_err(EINVAL, "probe-table index %u (of %u), check word 0x%llx", index,
			       rd->cfg.max_probes, (unsigned long long)entry->check);
	x = &rd->expect[index];
	x->check = entry->check;
	x->addr = entry->addr;
	x->nr_values = entry->nr_values;
	x->rec_flags = (entry->flags & EKP_PROBE_F_RETURN) ? EKP_REC_F_RETURN : 0;
	return 0;
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

/* NULL if valid (comm fixed up, the CPU's TSC advanced), else the counter to bump. */
static uint64_t *validate(struct ekp_ring_reader *rd, struct ekp_abi_record *r)
{
	struct ekp_ring_stats *st = &rd->stats;
	const struct expect *x;

	if (r->probe >= rd->cfg.max_probes || !rd->expect[r->probe].check)
		return &st->bad_probe;
	x = &rd->expect[r->probe];
	if (r->check != x->check)
		return &st->bad_check;
	if (r->ip != x->addr)
		return &st->bad_ip;
	if (r->nr_values != x->nr_values || r->nr_values > EKP_ABI_MAX_VALUES ||
	    (r->fault_mask >> r->nr_values))
		return &st->bad_values;
	if (r->flags != x->rec_flags)
		return &st->bad_flags;
	if (r->cpu >= rd->cfg.nr_cpus)
		return &st->bad_cpu;
	if (r->tsc > rd->cfg.tsc_max || r->tsc < rd->last_tsc[r->cpu])
		return &st->bad_tsc;
	if (r->pid < 0 || r->pid > EKP_RING_PID_MAX)
		return &st->bad_task;
	if (!memchr(r->comm, '\0', sizeof(r->comm))) {
		r->comm[sizeof(r->comm) - 1] = '\0';
		st->comm_fixed++;
	}
	rd->last_tsc[r->cpu] = r->tsc;
	return NULL;
}

int ekp_ring_drain(struct ekp_ring_reader *rd, volatile void *ring_base, size_t ring_bytes,
		   ekp_ring_cb cb, void *opaque)
{
	const uint32_t nr_records = rd ? rd->cfg.nr_records : 0;
	const volatile uint8_t *recs;
	uint64_t t;
	int done = 0;

	if (!rd || !ring_base || !cb || (uintptr_t)ring_base % 8)
		return ekp_err(EINVAL, "bad ring arguments (ring at %p)",
			       (void *)(uintptr_t)ring_base);
	if (ring_bytes < ekp_ring_bytes(nr_records))
		return ekp_err(EINVAL, "a ring of %u records needs %" PRIu64 " bytes, %zu mapped",
			       nr_records, ekp_ring_bytes(nr_records), ring_bytes);
	recs = (const volatile uint8_t *)ring_base + sizeof(struct ekp_abi_ring_hdr);
	t = rd->tail;

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
			rd->stats.torn++;
			break;
		}
		bad = validate(rd, &r);
		if (bad) {
			(*bad)++;
			rd->stats.invalid++;
			done++;
			continue;
		}
		ret = cb(opaque, &r);
		done++;
		if (ret < 0) {
			rd->tail = t + 1;
			return ret;
		}
		if (ret > 0) {
			rd->stats.rejected++;
			rd->stats.invalid++;
		} else {
			rd->stats.delivered++;
		}
	}
	rd->tail = t;
	return done;
}

void ekp_ring_publish(struct ekp_ring_reader *rd, volatile void *ring_base)
{
	volatile struct ekp_abi_ring_hdr *h = ring_base;

	__atomic_store_n(&h->tail, rd->tail, __ATOMIC_RELEASE);
	rd->published = rd->tail;
}

void ekp_ring_update_counters(struct ekp_ring_reader *rd, volatile void *ring_base)
{
	volatile struct ekp_abi_ring_hdr *h = ring_base;
	const uint64_t n = rd->cfg.nr_records;
	/* lost before lost_tail and head: the guest raises lost_tail, then lost. */
	uint64_t lost = load_acquire(&h->lost), lost_tail = load_acquire(&h->lost_tail);
	uint64_t dropped = load_acquire(&h->dropped), head = load_acquire(&h->head);

	if (lost < rd->lost_seen) {
		rd->stats.bad_lost++;
	} else if (lost > rd->lost_seen) {
		/*
		 * A record is lost only when head - tail >= n for a tail the guest read: one the
		 * host published, which lost_tail records. head never goes back, so it still
		 * shows that ring as full; and it cannot be past what the host freed.
		 */
		bool could = lost_tail >= rd->cfg.tail && lost_tail <= rd->published &&
			     lost_tail <= UINT64_MAX - n && head >= lost_tail + n &&
			     head - rd->published <= n;

		if (could)
			rd->stats.lost += lost - rd->lost_seen;
		else
			rd->stats.bad_lost++;
		rd->lost_seen = lost;
	}
	if (dropped < rd->dropped_seen) {
		rd->stats.bad_dropped++;
	} else {
		rd->stats.dropped += dropped - rd->dropped_seen;
		rd->dropped_seen = dropped;
	}
}

uint64_t ekp_ring_tail(const struct ekp_ring_reader *rd)
{
	return rd->tail;
}

const struct ekp_ring_stats *ekp_ring_stats(const struct ekp_ring_reader *rd)
{
	return &rd->stats;
}
