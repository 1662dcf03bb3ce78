// SPDX-License-Identifier: GPL-2.0
/*
 * host/engines/ring.c: descriptor checks, draining with hostile contents, and a concurrent test:
 * producer threads speaking the guest's reservation protocol against a consumer thread using
 * ekp_ring_drain(). Every record produced is consumed exactly once or counted lost, and every
 * loss passes the reader's check of the lost counter.
 * Also run under ThreadSanitizer by hand:
 *   cc -D_GNU_SOURCE -Iinclude -I. -O1 -g -fsanitize=thread tests/unit/test_ring.c host/engines/ring.c \
 *      lib/err.c -lcmocka -lpthread -o /tmp/test_ring_tsan && /tmp/test_ring_tsan
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ekprobe/err.h"
#include "host/engines/ring.h"

/* ---- a ring in host memory, the host's probe table, and the guest's side of the protocol -- */

#define MAX_PROBES 8
#define NR_CPUS 4

struct ring {
	size_t bytes;
	uint32_t nr;
	uint64_t *mem; /* 8-byte aligned */
	struct ekp_abi_ring_hdr *hdr;
	struct ekp_abi_record *recs;
	struct ekp_abi_probe table[MAX_PROBES]; /* what the host wrote (the guest's copy too) */
	struct ekp_ring_reader *rd;
};

/* A table entry as the engine writes it: probe i at 0xffffffff81000000 + i, two values. */
static void write_entry(struct ring *r, uint32_t i, bool ret)
{
	struct ekp_abi_probe *e = &r->table[i];

	memset(e, 0, sizeof(*e));
	e->addr = 0xffffffff81000000ull + i;
	e->flags = EKP_PROBE_F_ACTIVE | (ret ? EKP_PROBE_F_RETURN : 0);
	e->nr_values = 2;
	assert_int_equal(ekp_ring_expect(r->rd, i, e), 0);
	assert_true(e->check != 0);
}

static void ring_new_cpus(struct ring *r, uint32_t nr, uint32_t nr_probes, uint32_t nr_cpus)
{
	struct ekp_ring_config cfg = { .nr_records = nr, .max_probes = MAX_PROBES,
				       .nr_cpus = nr_cpus };

	memset(r, 0, sizeof(*r));
	r->nr = nr;
	r->bytes = (size_t)ekp_ring_bytes(nr);
	r->mem = calloc(1, r->bytes);
	assert_non_null(r->mem);
	r->hdr = (struct ekp_abi_ring_hdr *)r->mem;
	r->recs = (struct ekp_abi_record *)(r->hdr + 1);
	assert_int_equal(ekp_ring_reader_new(&cfg, &r->rd), 0);
	for (uint32_t i = 0; i < nr_probes; i++)
		write_entry(r, i, false);
}

static void ring_new(struct ring *r, uint32_t nr, uint32_t nr_probes)
{
	ring_new_cpus(r, nr, nr_probes, NR_CPUS);
}

static void ring_free(struct ring *r)
{
	ekp_ring_reader_free(r->rd);
	free(r->mem);
	memset(r, 0, sizeof(*r));
}

/*
 * The guest: reserve an index (refused when full: lost_tail = max(lost_tail, tail), lost++),
 * fill the slot from its probe-table entry, publish seq last. Returns false when the record
 * was lost.
 */
static bool produce(struct ring *r, uint32_t probe, uint32_t cpu, uint64_t payload)
{
	const struct ekp_abi_probe *e = &r->table[probe % MAX_PROBES];
	uint64_t h, t, lt;
	struct ekp_abi_record *rec;

	for (;;) {
		t = __atomic_load_n(&r->hdr->tail, __ATOMIC_ACQUIRE);
		h = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);
		if (h - t >= r->nr) {
			lt = __atomic_load_n(&r->hdr->lost_tail, __ATOMIC_RELAXED);
			while (lt < t && !__atomic_compare_exchange_n(&r->hdr->lost_tail, &lt, t,
								       false, __ATOMIC_SEQ_CST,
								       __ATOMIC_RELAXED))
				;
			__atomic_fetch_add(&r->hdr->lost, 1, __ATOMIC_SEQ_CST);
			return false;
		}
		if (__atomic_compare_exchange_n(&r->hdr->head, &h, h + 1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			break;
	}
	rec = &r->recs[h & (r->nr - 1)];
	rec->check = e->check;
	rec->probe = probe;
	rec->cpu = cpu;
	rec->tsc = payload;
	rec->ip = e->addr;
	rec->ret_ip = 0;
	rec->flags = (e->flags & EKP_PROBE_F_RETURN) ? EKP_REC_F_RETURN : 0;
	rec->fault_mask = 0;
	rec->pid = (int32_t)cpu;
	rec->nr_values = e->nr_values;
	snprintf(rec->comm, sizeof(rec->comm), "prod%u", cpu);
	rec->values[0] = payload;
	rec->values[1] = ~payload;
	__atomic_store_n(&rec->seq, h + 1, __ATOMIC_RELEASE);
	return true;
}

static int drain(struct ring *r, ekp_ring_cb cb, void *opaque)
{
	return ekp_ring_drain(r->rd, r->mem, r->bytes, cb, opaque);
}

static const struct ekp_ring_stats *stats(const struct ring *r)
{
	return ekp_ring_stats(r->rd);
}

/* ---- collecting callback ------------------------------------------------------------------ */

struct got {
	unsigned int n;
	struct ekp_abi_record recs[256];
	int ret; /* what cb answers */
	int stop_after; /* >0: return -EPIPE at that many calls */
	unsigned int calls;
};

static int collect(void *opaque, const struct ekp_abi_record *rec)
{
	struct got *g = opaque;

	g->calls++;
	if (g->stop_after && g->calls == (unsigned int)g->stop_after)
		return -EPIPE;
	if (g->n < 256)
		g->recs[g->n++] = *rec;
	/* The copy is validated. */
	assert_non_null(memchr(rec->comm, '\0', sizeof(rec->comm)));
	assert_true(rec->nr_values <= EKP_ABI_MAX_VALUES);
	return g->ret;
}

/* ---- descriptor ----------------------------------------------------------------------------- */

static struct ekp_abi_desc good_desc(void)
{
	struct ekp_abi_desc d = {
		.magic = EKP_ABI_MAGIC, .version = EKP_ABI_VERSION, .desc_size = sizeof(d),
		.slots = 0xffffffff81e00000ull, .slots_size = 0x10000,
		.probes = 0xffffffff82400000ull, .max_probes = 64,
		.probe_size = sizeof(struct ekp_abi_probe),
		.ring = 0xffffffff82500000ull, .ring_records = 1024,
		.record_size = sizeof(struct ekp_abi_record),
		.hit_entry = 0xffffffff81100000ull, .return_stub = 0xffffffff81e0f000ull,
		.nr_cpus = 64,
	};
	return d;
}

static void expect_bad(const struct ekp_abi_desc *d, int err, const char *part)
{
	assert_int_equal(ekp_ring_desc_check(d), err);
	if (!strstr(ekp_errstr(err), part))
		fail_msg("reason '%s' lacks '%s'", ekp_errstr(err), part);
}

static void test_desc_check(void **state)
{
	struct ekp_abi_desc d = good_desc();

	(void)state;
	assert_int_equal(ekp_ring_desc_check(&d), 0);
	d.magic = 0;
	expect_bad(&d, -EPROTO, "magic");
	d = good_desc(); d.version = 1;
	expect_bad(&d, -EPROTO, "ABI version 1, this host speaks 2");
	d = good_desc(); d.record_size = 320;
	expect_bad(&d, -EPROTO, "sizes differ");
	d = good_desc(); d.probe_size++;
	expect_bad(&d, -EPROTO, "sizes differ");
	d = good_desc(); d.desc_size = 8;
	expect_bad(&d, -EPROTO, "sizes differ");
	d = good_desc(); d.ring_records = 1000;
	expect_bad(&d, -EINVAL, "power of two");
	d = good_desc(); d.ring_records = 0;
	expect_bad(&d, -EINVAL, "power of two");
	d = good_desc(); d.ring_records = 1u << 31;
	expect_bad(&d, -EINVAL, "power of two");
	d = good_desc(); d.max_probes = 0;
	expect_bad(&d, -EINVAL, "probe table");
	d = good_desc(); d.max_probes = 1u << 30;
	expect_bad(&d, -EINVAL, "probe table");
	d = good_desc(); d.ring = 0xfffffffffffff000ull;
	expect_bad(&d, -EINVAL, "wraps");
	d = good_desc(); d.ring += 4;
	expect_bad(&d, -EINVAL, "unaligned");
	d = good_desc(); d.probes = 0;
	expect_bad(&d, -EINVAL, "probe table");
	d = good_desc(); d.slots_size = 0;
	expect_bad(&d, -EINVAL, "slot area");
	d = good_desc(); d.ring = d.probes + 64;
	expect_bad(&d, -EINVAL, "overlap");
	d = good_desc(); d.nr_cpus = 0;
	expect_bad(&d, -EINVAL, "nr_cpus 0");
	d = good_desc(); d.nr_cpus = EKP_RING_MAX_CPUS + 1;
	expect_bad(&d, -EINVAL, "nr_cpus");
	d = good_desc(); d.nr_cpus = EKP_RING_MAX_CPUS;
	assert_int_equal(ekp_ring_desc_check(&d), 0);
	d = good_desc(); d.hit_entry = 0;
	expect_bad(&d, -EINVAL, "hit_entry");
	/* a bad one */
	assert_int_equal(ekp_ring_desc_check(&d), -EINVAL);
}

/* ---- single-threaded drains ----------------------------------------------------------------- */

static void test_reader_config(void **state)
{
	struct ekp_ring_reader *rd = (void *)1;
	struct ekp_ring_config cfg = { .nr_records = 8, .max_probes = 4, .nr_cpus = 2 };
	struct ekp_abi_probe e = { .addr = 1 };
	uint64_t words[64];

	(void)state;
	cfg.nr_records = 6;
	assert_int_equal(ekp_ring_reader_new(&cfg, &rd), -EINVAL);
	assert_null(rd);
	cfg.nr_records = 8;
	cfg.nr_cpus = 0;
	assert_int_equal(ekp_ring_reader_new(&cfg, &rd), -EINVAL);
	cfg.nr_cpus = EKP_RING_MAX_CPUS + 1;
	assert_int_equal(ekp_ring_reader_new(&cfg, &rd), -EINVAL);
	cfg.nr_cpus = 2;
	cfg.max_probes = 0;
	assert_int_equal(ekp_ring_reader_new(&cfg, &rd), -EINVAL);
	cfg.max_probes = 4;
	assert_int_equal(ekp_ring_reader_new(&cfg, &rd), 0);
	/* Check words: never 0, a new one at every (re)write of an entry. */
	for (unsigned int i = 0; i < 64; i++) {
		assert_int_equal(ekp_ring_expect(rd, i % 4, &e), 0);
		words[i] = e.check;
		assert_true(words[i] != 0);
		for (unsigned int k = 0; k < i; k++)
			assert_true(words[k] != words[i]);
	}
	assert_int_equal(ekp_ring_expect(rd, 4, &e), -EINVAL);
	ekp_ring_reader_free(rd);
	ekp_ring_reader_free(NULL);
}

static void test_drain_basic_and_wrap(void **state)
{
	struct ring r;
	struct got *g = calloc(1, sizeof(*g));
	uint64_t next = 0;

	(void)state;
	ring_new(&r, 8, 4);
	assert_int_equal(drain(&r, collect, g), 0);
	for (unsigned int i = 0; i < 5; i++)
		assert_true(produce(&r, i % 4, 1, next++));
	assert_int_equal(drain(&r, collect, g), 5);
	assert_int_equal(ekp_ring_tail(r.rd), 5);
	assert_int_equal(g->n, 5);
	for (unsigned int i = 0; i < 5; i++) {
		assert_int_equal(g->recs[i].seq, i + 1);
		assert_int_equal(g->recs[i].values[0], i);
		assert_string_equal(g->recs[i].comm, "prod1");
	}
	/* Nothing new: nothing read. */
	assert_int_equal(drain(&r, collect, g), 0);
	ekp_ring_publish(r.rd, r.mem);
	assert_int_equal(r.hdr->tail, 5);
	/* Many laps, with the ring filling up: the losses are real, and counted. */
	g->n = 0;
	for (unsigned int lap = 0; lap < 100; lap++) {
		unsigned int made = 0, lost_before = (unsigned int)r.hdr->lost;

		for (unsigned int i = 0; i < 11; i++)
			made += produce(&r, 0, 2, next++);
		assert_int_equal(made, 8);
		assert_int_equal(r.hdr->lost - lost_before, 3);
		g->n = 0;
		assert_int_equal(drain(&r, collect, g), 8);
		ekp_ring_publish(r.rd, r.mem);
		if (lap % 3 == 0)
			ekp_ring_update_counters(r.rd, r.mem);
		for (unsigned int i = 1; i < 8; i++)
			assert_int_equal(g->recs[i].values[0], g->recs[i - 1].values[0] + 1);
	}
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(ekp_ring_tail(r.rd), 5 + 800);
	assert_int_equal(stats(&r)->delivered, 805);
	assert_int_equal(stats(&r)->invalid + stats(&r)->torn, 0);
	assert_int_equal(r.hdr->head, 805);
	assert_int_equal(stats(&r)->lost, 300);
	assert_int_equal(stats(&r)->bad_lost, 0);
	ring_free(&r);
	free(g);
}

/* Every reason a complete record is refused; refused records are consumed, never delivered. */
static void test_drain_invalid_records(void **state)
{
	struct ring r;
	struct got *g = calloc(1, sizeof(*g));
	const struct ekp_ring_stats *st;
	uint64_t old_check;

	(void)state;
	ring_new(&r, 32, 4);
	/* Probes 1 and 3 at one address with equal value counts: only the check word tells
	 * their records apart. */
	r.table[3].addr = r.table[1].addr;
	assert_int_equal(ekp_ring_expect(r.rd, 3, &r.table[3]), 0);
	write_entry(&r, 2, true); /* a return probe */
	for (unsigned int i = 0; i < 24; i++)
		produce(&r, i == 20 ? 2 : 1, 0, 1000 + i);
	r.recs[0].probe = 4;                       /* never written by the host */
	r.recs[1].probe = 200;                     /* outside the table */
	r.recs[2].check = r.table[3].check;        /* probe 1's record with probe 3's word */
	r.recs[3].check = 0;
	r.recs[4].ip = r.table[0].addr;
	r.recs[5].nr_values = 3;                   /* the entry stores 2 */
	r.recs[6].nr_values = 0xffffffffu;
	r.recs[7].fault_mask = 1u << 2;            /* past nr_values 2 */
	r.recs[8].flags = 0x80;
	r.recs[9].flags = EKP_REC_F_RETURN;        /* probe 1 is an entry probe */
	r.recs[10].cpu = NR_CPUS;
	r.recs[11].cpu = 0x80000000u;              /* would print as a negative CPU */
	r.recs[12].tsc = EKP_RING_TSC_MAX + 1;     /* would convert past 2^63 ns */
	r.recs[13].tsc = UINT64_MAX;
	r.recs[14].pid = -1;
	r.recs[15].pid = EKP_RING_PID_MAX + 1;
	memset(r.recs[16].comm, 'A', sizeof(r.recs[16].comm)); /* no NUL: cut, still valid */
	r.recs[17].fault_mask = 3;                 /* within nr_values: fine */
	r.recs[18].tsc = 999;                      /* CPU 0 went back in time */
	r.recs[19].cpu = 1;                        /* another CPU's clock: fine */
	r.recs[19].tsc = 5;
	r.recs[21].flags = 0;                      /* probe 2's return record without the flag */
	r.recs[21].probe = 2;
	r.recs[21].check = r.table[2].check;
	r.recs[21].ip = r.table[2].addr;
	assert_int_equal(drain(&r, collect, g), 24);
	assert_int_equal(ekp_ring_tail(r.rd), 24);
	st = stats(&r);
	assert_int_equal(st->bad_probe, 2);
	assert_int_equal(st->bad_check, 2);
	assert_int_equal(st->bad_ip, 1);
	assert_int_equal(st->bad_values, 3);
	assert_int_equal(st->bad_flags, 3);
	assert_int_equal(st->bad_cpu, 2);
	assert_int_equal(st->bad_tsc, 3);
	assert_int_equal(st->bad_task, 2);
	assert_int_equal(st->invalid, 18);
	assert_int_equal(st->comm_fixed, 1);
	assert_int_equal(st->delivered, 6);
	assert_int_equal(g->n, 6);
	assert_string_equal(g->recs[0].comm, "AAAAAAAAAAAAAAA");
	assert_int_equal(g->recs[1].values[0], 1017);
	assert_int_equal(g->recs[2].cpu, 1);
	assert_int_equal(g->recs[3].flags, EKP_REC_F_RETURN); /* probe 2's, index 20 */
	ekp_ring_publish(r.rd, r.mem);

	/* An entry rewritten: records still carrying its old word are refused (stale). */
	old_check = r.table[1].check;
	produce(&r, 1, 0, 2000);
	assert_int_equal(ekp_ring_expect(r.rd, 1, &r.table[1]), 0);
	assert_true(r.table[1].check != old_check);
	produce(&r, 1, 0, 2001);
	g->n = 0;
	assert_int_equal(drain(&r, collect, g), 2);
	assert_int_equal(st->bad_check, 3);
	assert_int_equal(g->n, 1);
	assert_int_equal(g->recs[0].values[0], 2001);
	ekp_ring_publish(r.rd, r.mem);

	/* cb rejects (> 0): counted, consumed. cb fails (< 0): drain stops after that record. */
	for (unsigned int i = 0; i < 4; i++)
		produce(&r, 0, 0, 3000 + i);
	g->ret = 1;
	assert_int_equal(drain(&r, collect, g), 4);
	assert_int_equal(st->rejected, 4);
	assert_int_equal(st->invalid, 19 + 4);
	ekp_ring_publish(r.rd, r.mem);
	g->ret = 0;
	for (unsigned int i = 0; i < 4; i++)
		produce(&r, 0, 0, 4000 + i);
	g->calls = 0;
	g->stop_after = 2;
	g->n = 0;
	assert_int_equal(drain(&r, collect, g), -EPIPE);
	assert_int_equal(ekp_ring_tail(r.rd), 30 + 2);
	g->stop_after = 0;
	assert_int_equal(drain(&r, collect, g), 2);
	assert_int_equal(g->recs[1].values[0], 4002);
	assert_int_equal(ekp_ring_tail(r.rd), 34);
	ring_free(&r);
	free(g);
}

static void test_drain_hostile(void **state)
{
	struct ring r;
	struct got *g = calloc(1, sizeof(*g));
	struct ekp_ring_config cfg = { .nr_records = 8, .max_probes = 4, .nr_cpus = 1,
				       .tail = 100 };

	(void)state;
	ring_new(&r, 8, 4);
	/* Bad arguments. */
	assert_int_equal(ekp_ring_drain(r.rd, r.mem, r.bytes - 1, collect, g), -EINVAL);
	assert_int_equal(ekp_ring_drain(r.rd, (uint8_t *)r.mem + 4, r.bytes - 8, collect, g),
			 -EINVAL);
	assert_int_equal(ekp_ring_drain(r.rd, NULL, r.bytes, collect, g), -EINVAL);
	assert_int_equal(ekp_ring_drain(NULL, r.mem, r.bytes, collect, g), -EINVAL);
	assert_int_equal(ekp_ring_drain(r.rd, r.mem, r.bytes, NULL, g), -EINVAL);
	/* A reader starting at tail 100. Header garbage changes nothing: head behind tail, head
	 * far ahead. */
	ekp_ring_reader_free(r.rd);
	assert_int_equal(ekp_ring_reader_new(&cfg, &r.rd), 0);
	for (uint32_t i = 0; i < 4; i++)
		write_entry(&r, i, false);
	r.hdr->head = 0;
	assert_int_equal(drain(&r, collect, g), 0);
	r.hdr->head = UINT64_MAX;
	assert_int_equal(drain(&r, collect, g), 0);
	assert_int_equal(ekp_ring_tail(r.rd), 100);
	/* seq of another lap, or wrong: not ready. */
	r.recs[100 & 7].seq = 101 + 8;
	assert_int_equal(drain(&r, collect, g), 0);
	r.recs[100 & 7].seq = 101 - 8;
	assert_int_equal(drain(&r, collect, g), 0);
	/* Every slot published for the indexes from tail: one lap per call at most. */
	for (uint64_t i = 0; i < 8; i++) {
		struct ekp_abi_record *rec = &r.recs[(100 + i) & 7];

		memset(rec, 0, sizeof(*rec));
		rec->seq = 100 + i + 1;
	}
	assert_int_equal(drain(&r, collect, g), 8);
	assert_int_equal(ekp_ring_tail(r.rd), 108);
	assert_int_equal(stats(&r)->bad_check, 8); /* zeroed records: check 0 is no entry's */
	assert_int_equal(drain(&r, collect, g), 0);
	ring_free(&r);

	/* tail near the top of the index space wraps like the guest's. */
	cfg.tail = UINT64_MAX - 1;
	ring_new(&r, 8, 0);
	ekp_ring_reader_free(r.rd);
	assert_int_equal(ekp_ring_reader_new(&cfg, &r.rd), 0);
	write_entry(&r, 1, false);
	r.hdr->tail = r.hdr->head = UINT64_MAX - 1;
	assert_true(produce(&r, 1, 0, 7));
	assert_true(produce(&r, 1, 0, 8));
	assert_int_equal(r.hdr->head, 0);
	assert_int_equal(drain(&r, collect, g), 2);
	assert_int_equal(ekp_ring_tail(r.rd), 0);
	assert_int_equal(stats(&r)->delivered, 2);
	ring_free(&r);
	free(g);
}

/*
 * The header's counters: lost counts only while the ring could have been full (lost_tail a
 * tail the host published, and head a whole ring past it), and neither counter goes back.
 */
static void test_counters(void **state)
{
	struct ring r;
	struct got *g = calloc(1, sizeof(*g));
	const struct ekp_ring_stats *st;

	(void)state;
	ring_new(&r, 8, 1);
	st = stats(&r);
	/* A guest that writes lost without ever filling the ring. */
	produce(&r, 0, 0, 1);
	r.hdr->lost = 1000000;
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->lost, 0);
	assert_int_equal(st->bad_lost, 1);
	/* Read again, unchanged: nothing new to flag. */
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->bad_lost, 1);
	/* Going back: flagged, not counted. */
	r.hdr->lost = 10;
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->lost, 0);
	assert_int_equal(st->bad_lost, 2);
	ring_free(&r);

	/* Real losses: the ring fills at tail 0, then at tail 8 after a drain. */
	ring_new(&r, 8, 1);
	st = stats(&r);
	for (unsigned int i = 0; i < 10; i++)
		produce(&r, 0, 0, i);
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->lost, 2);
	assert_int_equal(drain(&r, collect, g), 8);
	ekp_ring_publish(r.rd, r.mem);
	for (unsigned int i = 0; i < 11; i++)
		produce(&r, 0, 0, 100 + i);
	assert_int_equal(r.hdr->lost_tail, 8);
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->lost, 5);
	assert_int_equal(st->bad_lost, 0);
	/* lost_tail past what the host published, or head not a ring past it: refused. */
	r.hdr->lost_tail = 16;
	r.hdr->lost++;
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->lost, 5);
	assert_int_equal(st->bad_lost, 1);
	r.hdr->lost_tail = 8;
	r.hdr->head = 15;
	r.hdr->lost++;
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->bad_lost, 2);
	r.hdr->head = UINT64_MAX; /* past what the host freed */
	r.hdr->lost++;
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->bad_lost, 3);
	r.hdr->head = 16;
	r.hdr->lost++;
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->lost, 6);
	/* dropped (nested hits) never goes back. */
	r.hdr->dropped = 3;
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->dropped, 3);
	r.hdr->dropped = 1;
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->dropped, 3);
	assert_int_equal(st->bad_dropped, 1);
	r.hdr->dropped = 7;
	ekp_ring_update_counters(r.rd, r.mem);
	assert_int_equal(st->dropped, 7);
	ring_free(&r);
	free(g);
}

/* ---- concurrency ---------------------------------------------------------------------------- */

#define PRODUCERS 4
#define PER_PRODUCER 100000

struct conc {
	struct ring r;
	unsigned int id;             /* producer id (per-thread copy) */
	int producers_done;          /* atomic */
	uint8_t *seen[PRODUCERS];    /* consumer: times each (producer, n) was consumed */
	uint8_t *refused[PRODUCERS]; /* producer: its lost attempts */
	uint64_t last[PRODUCERS];    /* consumer: last n + 1 from each producer (order check) */
	uint64_t lost_by_producers;  /* atomic */
	uint64_t consumed, bad;
};

struct prod_arg {
	struct conc *c;
	unsigned int id;
};

static void *producer(void *opaque)
{
	struct prod_arg *a = opaque;
	struct conc *c = a->c;
	uint64_t lost = 0;

	for (uint64_t n = 0; n < PER_PRODUCER; n++) {
		/* payload: producer id in the top byte, n below */
		if (!produce(&c->r, a->id, a->id, (uint64_t)a->id << 56 | n)) {
			c->refused[a->id][n] = 1;
			lost++;
		}
		if (n % 64 == 0)
			sched_yield();
	}
	__atomic_fetch_add(&c->lost_by_producers, lost, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->producers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int consume(void *opaque, const struct ekp_abi_record *rec)
{
	struct conc *c = opaque;
	unsigned int id = (unsigned int)(rec->values[0] >> 56);
	uint64_t n = rec->values[0] & ((1ull << 56) - 1);

	if (id >= PRODUCERS || n >= PER_PRODUCER || rec->values[1] != ~rec->values[0] ||
	    rec->cpu != id || rec->probe != id || rec->tsc != rec->values[0]) {
		c->bad++;
		return 1;
	}
	if (c->seen[id][n] < 255)
		c->seen[id][n]++;
	/* One producer's records are reserved in its order: consumed in its order too. */
	if (n + 1 <= c->last[id])
		c->bad++;
	c->last[id] = n + 1;
	c->consumed++;
	return 0;
}

static void *consumer(void *opaque)
{
	struct conc *c = opaque;

	for (;;) {
		bool done = __atomic_load_n(&c->producers_done, __ATOMIC_ACQUIRE) == PRODUCERS;
		int n = drain(&c->r, consume, c);

		if (n < 0) { /* no cmocka asserts off the main thread */
			c->bad++;
			break;
		}
		ekp_ring_publish(c->r.rd, c->r.mem);
		/* While the producers run: every loss they count must pass the check. */
		ekp_ring_update_counters(c->r.rd, c->r.mem);
		/* Producers finished before this drain started, and it found nothing: empty. */
		if (done && n == 0)
			break;
		if (n == 0)
			sched_yield();
	}
	return NULL;
}

static void run_concurrent(uint32_t nr)
{
	struct conc *c = calloc(1, sizeof(*c));
	pthread_t prod[PRODUCERS], cons;
	struct prod_arg args[PRODUCERS];
	const struct ekp_ring_stats *st;
	uint64_t lost, once = 0;

	ring_new(&c->r, nr, PRODUCERS);
	st = stats(&c->r);
	for (unsigned int i = 0; i < PRODUCERS; i++) {
		c->seen[i] = calloc(PER_PRODUCER, 1);
		c->refused[i] = calloc(PER_PRODUCER, 1);
		assert_non_null(c->seen[i]);
		assert_non_null(c->refused[i]);
	}
	assert_int_equal(pthread_create(&cons, NULL, consumer, c), 0);
	for (unsigned int i = 0; i < PRODUCERS; i++) {
		args[i].c = c;
		args[i].id = i;
		assert_int_equal(pthread_create(&prod[i], NULL, producer, &args[i]), 0);
	}
	for (unsigned int i = 0; i < PRODUCERS; i++)
		pthread_join(prod[i], NULL);
	pthread_join(cons, NULL);

	ekp_ring_update_counters(c->r.rd, c->r.mem);
	lost = c->r.hdr->lost;
	assert_int_equal(c->bad, 0);
	assert_int_equal(st->invalid + st->torn, 0);
	assert_int_equal(lost, c->lost_by_producers);
	assert_int_equal(st->lost, lost);
	assert_int_equal(st->bad_lost, 0);
	assert_int_equal(c->r.hdr->head, ekp_ring_tail(c->r.rd));
	assert_int_equal(c->consumed + lost, (uint64_t)PRODUCERS * PER_PRODUCER);
	for (unsigned int i = 0; i < PRODUCERS; i++)
		for (unsigned int n = 0; n < PER_PRODUCER; n++) {
			/* exactly once if not refused, never if refused */
			if (c->seen[i][n] != (c->refused[i][n] ? 0 : 1))
				fail_msg("producer %u record %u: consumed %u times, refused %u", i, n,
					 c->seen[i][n], c->refused[i][n]);
			once += c->seen[i][n];
		}
	assert_int_equal(once, c->consumed);
	print_message("ring %u: %llu consumed, %llu lost\n", nr, (unsigned long long)c->consumed,
		      (unsigned long long)lost);
	for (unsigned int i = 0; i < PRODUCERS; i++) {
		free(c->seen[i]);
		free(c->refused[i]);
	}
	ring_free(&c->r);
	free(c);
}

static void test_concurrent_small_ring(void **state)
{
	(void)state;
	run_concurrent(16); /* full often: many lost */
}

static void test_concurrent_large_ring(void **state)
{
	(void)state;
	run_concurrent(4096);
	run_concurrent(256);
}

static int count_cb(void *opaque, const struct ekp_abi_record *r)
{
	(void)r;
	(*(unsigned int *)opaque)++;
	return 0;
}

/* One table entry read through two rings (the plugin engine's per-vCPU rings): the check word
 * chosen for the first reader is the one the second expects; a zero word is refused. */
static void test_expect_word_shared(void **state __attribute__((unused)))
{
	struct ekp_ring_config cfg = { .nr_records = 4, .max_probes = 2, .nr_cpus = 2 };
	struct ekp_ring_reader *a, *b;
	struct ekp_abi_probe entry = { .addr = 0xffffffff81000000ull, .nr_values = 0 };
	size_t bytes = ekp_ring_bytes(4);
	uint64_t *ring = calloc(1, bytes);
	struct ekp_abi_record *rec = (struct ekp_abi_record *)((char *)ring +
							      sizeof(struct ekp_abi_ring_hdr));
	unsigned int n = 0;

	assert_non_null(ring);
	assert_int_equal(ekp_ring_reader_new(&cfg, &a), 0);
	assert_int_equal(ekp_ring_reader_new(&cfg, &b), 0);
	assert_int_equal(ekp_ring_expect(a, 1, &entry), 0);
	assert_true(entry.check != 0);
	assert_int_equal(ekp_ring_expect_word(b, 1, &entry), 0);
	*rec = (struct ekp_abi_record){ .seq = 1, .check = entry.check, .probe = 1, .cpu = 1,
					.tsc = 5, .ip = entry.addr };
	assert_int_equal(ekp_ring_drain(b, ring, bytes, count_cb, &n), 1);
	assert_int_equal(n, 1);
	rec[1] = (struct ekp_abi_record){ .seq = 2, .check = entry.check + 1, .probe = 1, .cpu = 1,
					  .tsc = 6, .ip = entry.addr };
	assert_int_equal(ekp_ring_drain(b, ring, bytes, count_cb, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(ekp_ring_stats(b)->bad_check, 1);
	entry.check = 0;
	assert_int_equal(ekp_ring_expect_word(b, 0, &entry), -EINVAL);
	assert_int_equal(ekp_ring_expect_word(b, 2, &(struct ekp_abi_probe){ .check = 1 }), -EINVAL);
	ekp_ring_reader_free(a);
	ekp_ring_reader_free(b);
	free(ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc_check),
		cmocka_unit_test(test_reader_config),
		cmocka_unit_test(test_drain_basic_and_wrap),
		cmocka_unit_test(test_drain_invalid_records),
		cmocka_unit_test(test_drain_hostile),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_expect_word_shared),
		cmocka_unit_test(test_concurrent_small_ring),
		cmocka_unit_test(test_concurrent_large_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
