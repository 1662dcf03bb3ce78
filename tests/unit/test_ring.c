// SPDX-License-Identifier: GPL-2.0
/*
 * host/engines/ring.c: descriptor checks, draining with hostile contents, and a concurrent test:
 * producer threads speaking the guest's reservation protocol against a consumer thread using
 * ekp_ring_drain(). Every record produced is consumed exactly once or counted lost.
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

/* ---- a ring in host memory, and the guest's side of the protocol ---------------------------- */

struct ring {
	size_t bytes;
	uint32_t nr;
	uint64_t *mem; /* 8-byte aligned */
	struct ekp_abi_ring_hdr *hdr;
	struct ekp_abi_record *recs;
};

static void ring_new(struct ring *r, uint32_t nr)
{
	r->nr = nr;
	r->bytes = (size_t)ekp_ring_bytes(nr);
	r->mem = calloc(1, r->bytes);
	assert_non_null(r->mem);
	r->hdr = (struct ekp_abi_ring_hdr *)r->mem;
	r->recs = (struct ekp_abi_record *)(r->hdr + 1);
}

static void ring_free(struct ring *r)
{
	free(r->mem);
	memset(r, 0, sizeof(*r));
}

/*
 * The guest: reserve an index (refused when full: lost++), fill the slot, publish seq last.
 * Returns false when the record was lost.
 */
static bool produce(struct ring *r, uint32_t probe, uint32_t cpu, uint64_t payload)
{
	uint64_t h, t;
	struct ekp_abi_record *rec;

	for (;;) {
		t = __atomic_load_n(&r->hdr->tail, __ATOMIC_ACQUIRE);
		h = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);
		if (h - t >= r->nr) {
			__atomic_fetch_add(&r->hdr->lost, 1, __ATOMIC_RELAXED);
			return false;
		}
		if (__atomic_compare_exchange_n(&r->hdr->head, &h, h + 1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			break;
	}
	rec = &r->recs[h & (r->nr - 1)];
	rec->probe = probe;
	rec->cpu = cpu;
	rec->tsc = payload;
	rec->ip = 0xffffffff81000000ull + probe;
	rec->ret_ip = 0;
	rec->flags = 0;
	rec->fault_mask = 0;
	rec->pid = (int32_t)cpu;
	rec->nr_values = 2;
	snprintf(rec->comm, sizeof(rec->comm), "prod%u", cpu);
	rec->values[0] = payload;
	rec->values[1] = ~payload;
	__atomic_store_n(&rec->seq, h + 1, __ATOMIC_RELEASE);
	return true;
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
	};
	return d;
}

static void expect_bad(const struct ekp_abi_desc *d, int err, const char *part)
{
	char why[256];

	assert_int_equal(ekp_ring_desc_check(d, why, sizeof(why)), err);
	if (!strstr(why, part) || !strstr(ekp_errmsg(), part))
		fail_msg("reason '%s' lacks '%s'", why, part);
}

static void test_desc_check(void **state)
{
	struct ekp_abi_desc d = good_desc();
	char why[256] = "x";

	(void)state;
	assert_int_equal(ekp_ring_desc_check(&d, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	d.magic = 0;
	expect_bad(&d, -EPROTO, "magic");
	d = good_desc(); d.version = 2;
	expect_bad(&d, -EPROTO, "ABI version 2");
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
	d = good_desc(); d.hit_entry = 0;
	expect_bad(&d, -EINVAL, "hit_entry");
	/* no why buffer */
	assert_int_equal(ekp_ring_desc_check(&d, NULL, 0), -EINVAL);
}

/* ---- single-threaded drains ----------------------------------------------------------------- */

static void test_drain_basic_and_wrap(void **state)
{
	struct ring r;
	struct got *g = calloc(1, sizeof(*g));
	struct ekp_ring_stats st = { 0 };
	uint64_t tail = 0, next = 0;

	(void)state;
	ring_new(&r, 8);
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 0);
	for (unsigned int i = 0; i < 5; i++)
		assert_true(produce(&r, i % 4, 1, next++));
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 5);
	assert_int_equal(tail, 5);
	assert_int_equal(g->n, 5);
	for (unsigned int i = 0; i < 5; i++) {
		assert_int_equal(g->recs[i].seq, i + 1);
		assert_int_equal(g->recs[i].values[0], i);
		assert_string_equal(g->recs[i].comm, "prod1");
	}
	/* Nothing new: nothing read. */
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 0);
	ekp_ring_publish_tail(r.mem, tail);
	/* Many laps, with the ring filling up. */
	g->n = 0;
	for (unsigned int lap = 0; lap < 100; lap++) {
		unsigned int made = 0, lost_before = (unsigned int)r.hdr->lost;

		for (unsigned int i = 0; i < 11; i++)
			made += produce(&r, 0, 2, next++);
		assert_int_equal(made, 8);
		assert_int_equal(r.hdr->lost - lost_before, 3);
		g->n = 0;
		assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 8);
		ekp_ring_publish_tail(r.mem, tail);
		for (unsigned int i = 1; i < 8; i++)
			assert_int_equal(g->recs[i].values[0], g->recs[i - 1].values[0] + 1);
	}
	assert_int_equal(tail, 5 + 800);
	assert_int_equal(st.delivered, 805);
	assert_int_equal(st.invalid + st.torn, 0);
	{
		uint64_t head, lost;

		ekp_ring_read_counters(r.mem, &head, &lost);
		assert_int_equal(head, 805);
		assert_int_equal(lost, 300);
	}
	ring_free(&r);
	free(g);
}

static void test_drain_invalid_records(void **state)
{
	struct ring r;
	struct got *g = calloc(1, sizeof(*g));
	struct ekp_ring_stats st = { 0 };
	uint64_t tail = 0;

	(void)state;
	ring_new(&r, 16);
	for (unsigned int i = 0; i < 9; i++)
		produce(&r, 1, 0, i);
	r.recs[0].probe = 4;                       /* >= max_probes */
	r.recs[1].nr_values = EKP_ABI_MAX_VALUES + 1;
	r.recs[2].fault_mask = 1u << 2;            /* past nr_values 2 */
	r.recs[3].flags = 0x80;
	memset(r.recs[4].comm, 'A', sizeof(r.recs[4].comm)); /* no NUL: cut, still valid */
	r.recs[5].nr_values = 0xffffffffu;
	r.recs[6].fault_mask = 3;                  /* within nr_values: fine */
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 16, 4, &tail, collect, g, &st), 9);
	assert_int_equal(tail, 9);
	assert_int_equal(st.bad_probe, 1);
	assert_int_equal(st.bad_values, 3);
	assert_int_equal(st.bad_flags, 1);
	assert_int_equal(st.invalid, 5);
	assert_int_equal(st.comm_fixed, 1);
	assert_int_equal(st.delivered, 4);
	assert_int_equal(g->n, 4);
	assert_string_equal(g->recs[0].comm, "AAAAAAAAAAAAAAA");
	assert_int_equal(g->recs[1].values[0], 6);

	/* cb rejects (> 0): counted, consumed. cb fails (< 0): drain stops after that record. */
	memset(&st, 0, sizeof(st));
	for (unsigned int i = 0; i < 4; i++)
		produce(&r, 0, 0, 100 + i);
	g->ret = 1;
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 16, 4, &tail, collect, g, &st), 4);
	assert_int_equal(st.rejected, 4);
	assert_int_equal(st.invalid, 4);
	assert_int_equal(st.delivered, 0);
	ekp_ring_publish_tail(r.mem, tail);
	g->ret = 0;
	for (unsigned int i = 0; i < 4; i++)
		produce(&r, 0, 0, 200 + i);
	g->calls = 0;
	g->stop_after = 2;
	g->n = 0;
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 16, 4, &tail, collect, g, &st), -EPIPE);
	assert_int_equal(tail, 13 + 2);
	g->stop_after = 0;
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 16, 4, &tail, collect, g, &st), 2);
	assert_int_equal(g->recs[1].values[0], 202);
	assert_int_equal(tail, 17);
	ring_free(&r);
	free(g);
}

static void test_drain_hostile(void **state)
{
	struct ring r;
	struct got *g = calloc(1, sizeof(*g));
	struct ekp_ring_stats st = { 0 };
	uint64_t tail = 0;

	(void)state;
	ring_new(&r, 8);
	/* Bad arguments. */
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes - 1, 8, 4, &tail, collect, g, &st), -EINVAL);
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 6, 4, &tail, collect, g, &st), -EINVAL);
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 0, 4, &tail, collect, g, &st), -EINVAL);
	assert_int_equal(ekp_ring_drain((uint8_t *)r.mem + 4, r.bytes - 8, 4, 4, &tail, collect, g,
					&st), -EINVAL);
	assert_int_equal(ekp_ring_drain(r.mem, SIZE_MAX, 1u << 31, 4, &tail, collect, g, &st),
			 -EINVAL);
	/* Header garbage changes nothing: head behind tail, head far ahead. */
	r.hdr->head = 0;
	tail = 100;
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 0);
	r.hdr->head = UINT64_MAX;
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 0);
	assert_int_equal(tail, 100);
	/* seq of another lap, or wrong: not ready. */
	r.recs[100 & 7].seq = 101 + 8;
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 0);
	r.recs[100 & 7].seq = 101 - 8;
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 0);
	/* Every slot valid for the indexes from tail: one lap per call at most. */
	for (uint64_t i = 0; i < 8; i++) {
		struct ekp_abi_record *rec = &r.recs[(100 + i) & 7];

		memset(rec, 0, sizeof(*rec));
		rec->seq = 100 + i + 1;
	}
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 8);
	assert_int_equal(tail, 108);
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 0);
	/* tail near the top of the index space wraps like the guest's. */
	tail = UINT64_MAX - 1;
	r.recs[(UINT64_MAX - 1) & 7].seq = UINT64_MAX;
	r.recs[UINT64_MAX & 7].seq = 0;
	r.recs[UINT64_MAX & 7].probe = 1;
	assert_int_equal(ekp_ring_drain(r.mem, r.bytes, 8, 4, &tail, collect, g, &st), 2);
	assert_int_equal(tail, 0);
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
	struct ekp_ring_stats st;
	uint64_t tail;
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
		int n = ekp_ring_drain(c->r.mem, c->r.bytes, c->r.nr, PRODUCERS, &c->tail, consume, c,
				       &c->st);

		if (n < 0) { /* no cmocka asserts off the main thread */
			c->bad++;
			break;
		}
		ekp_ring_publish_tail(c->r.mem, c->tail);
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
	uint64_t lost, head, once = 0;

	ring_new(&c->r, nr);
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

	ekp_ring_read_counters(c->r.mem, &head, &lost);
	assert_int_equal(c->bad, 0);
	assert_int_equal(c->st.invalid + c->st.torn, 0);
	assert_int_equal(lost, c->lost_by_producers);
	assert_int_equal(head, c->tail);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc_check),
		cmocka_unit_test(test_drain_basic_and_wrap),
		cmocka_unit_test(test_drain_invalid_records),
		cmocka_unit_test(test_drain_hostile),
		cmocka_unit_test(test_concurrent_small_ring),
		cmocka_unit_test(test_concurrent_large_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
