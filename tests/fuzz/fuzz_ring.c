// SPDX-License-Identifier: GPL-2.0
/*
 * ekp_ring_drain() on hostile ring memory, and ekp_fetch_from_record() on what it lets through,
 * into an array the size the jump engine decodes into (EKP_ABI_MAX_VALUES today), for probes
 * compiled as the engine compiles them, some with more arguments than that (immediate strings
 * take no record slot). The ring lives in a heap block of exactly ring_bytes and the values in
 * one of exactly the engine's size (ASan catches any access outside them), and the callback
 * keeps scribbling over the ring while the drain runs, as a guest may.
 *
 * Input: byte 0: bits 0-2 log2(records), bit 3 map a few bytes short (must be refused),
 *                bit 4 publish every slot's seq for the indexes from tail on (so the fuzzer
 *                need not guess them), bit 5 start tail near 2^64, bit 6 fill every slot from
 *                tail with a valid record of a written probe first (the ring bytes of the
 *                input are then XORed over it, so the fuzzer mutates valid records);
 *        byte 1: bits 0-2 CPUs - 1, bits 3-7 which of the probes the host wrote (a mask);
 *        bytes 2-9: tail (little-endian);
 *        byte 10: number of scribbles N, then N x 3 bytes (offset u16, value) applied one per
 *                callback; the rest: the ring's bytes (header then records), zero-padded.
 * Checks besides memory safety: the return value and the tail agree, the callback only sees
 * records that passed validation against the table, the counters add up.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "host/event.h"
#include "host/fetch/compile.h"
#include "host/engines/ring.h"

/* What the jump engine decodes a record into (host/engines/jump.c: e->values). */
#define ENGINE_VALUES EKP_ABI_MAX_VALUES

#define NR_SPECS 5
static const char *const specs[NR_SPECS] = {
	"p:g/a start_kernel s=+0(%di):string c=$comm n=%si:u16",
	"p:g/b start_kernel a=+0(%di):u8[4] q=\\\"x\" t=@0x1000:string b=%di:b3@2/8",
	"r:g/c do_one_initcall rv=$retval:s32",
	"p:g/d start_kernel $comm $comm @1:string @2:string %di +0(%di):s8[8]",
	/* 20 arguments, 14 values */
	("p:g/e start_kernel %di \\\"a\" %si \\\"b\" %dx %cx \\\"c\" %r8 %r9 %ax %bx \\\"d\" %bp "
	 "%r10 %r11 \\\"e\" %r12 %r13 %r14 \\\"f\""),
};
/* Probes b and d share an address: only their check words tell their records apart. */
static const uint64_t spec_addr[NR_SPECS] = {
	0xffffffff81000100ull, 0xffffffff81000200ull, 0xffffffff81000300ull,
	0xffffffff81000200ull, 0xffffffff81000500ull,
};
static struct ekp_probe *probes[NR_SPECS];
static struct ekp_abi_probe progs[NR_SPECS];
static struct ekp_fetch_decoder decs[NR_SPECS];

struct fz {
	uint8_t *ring;
	size_t ring_bytes;
	const uint8_t *ops;
	size_t nr_ops, next_op;
	struct ekp_abi_probe table[NR_SPECS]; /* as written, with their check words */
	unsigned int written;                 /* mask of the entries written */
	uint32_t nr_cpus;
	unsigned long calls, rejected;
	struct ekp_value *values;             /* ENGINE_VALUES */
};

static int cb(void *opaque, const struct ekp_abi_record *rec)
{
	struct fz *f = opaque;
	const struct ekp_abi_probe *e;
	unsigned int i;

	f->calls++;
	/* Only records of an entry the host wrote, matching it, get here. */
	if (rec->probe >= NR_SPECS || !(f->written & (1u << rec->probe)))
		abort();
	i = rec->probe;
	e = &f->table[i];
	if (rec->check != e->check || rec->ip != e->addr || rec->nr_values != e->nr_values ||
	    rec->cpu >= f->nr_cpus || rec->tsc > EKP_RING_TSC_MAX || rec->pid < 0 ||
	    rec->pid > EKP_RING_PID_MAX || !memchr(rec->comm, '\0', sizeof(rec->comm)) ||
	    rec->flags != ((e->flags & EKP_PROBE_F_RETURN) ? EKP_REC_F_RETURN : 0u) ||
	    rec->fault_mask >> rec->nr_values)
		abort();
	/* The guest writes on while we read. */
	if (f->next_op < f->nr_ops) {
		const uint8_t *op = f->ops + 3 * f->next_op++;
		size_t off = ((size_t)op[0] | (size_t)op[1] << 8) * 7 % f->ring_bytes;

		f->ring[off] = op[2];
	}
	if (ekp_fetch_from_record(&decs[i], rec, f->values, ENGINE_VALUES)) {
		f->rejected++;
		return 1;
	}
	for (unsigned int k = 0; k < probes[i]->nr_args; k++)
		if (memchr(f->values[k].str, '\0', sizeof(f->values[k].str)) == NULL ||
		    f->values[k].count > EKP_MAX_ARRAY)
			abort();
	return (rec->tsc & 0xffff) == 0xdead ? -EPIPE : 0;
}

static void init_probes(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	for (int i = 0; i < NR_SPECS; i++) {
		if (ekp_probe_parse(specs[i], &ekp_arch_x86_64, &probes[i], NULL))
			abort();
		probes[i]->addr = spec_addr[i];
		probes[i]->resolved = true;
		if (ekp_fetch_compile(probes[i], &ekp_arch_x86_64, &progs[i], &decs[i]))
			abort();
	}
}

/* A valid record of entry i at index idx, as the guest writes it. */
static void synth(struct fz *f, struct ekp_abi_record *r, uint64_t idx, unsigned int i)
{
	const struct ekp_abi_probe *e = &f->table[i];

	memset(r, 0, sizeof(*r));
	r->seq = idx + 1;
	r->check = e->check;
	r->probe = i;
	r->cpu = (uint32_t)(idx % f->nr_cpus);
	r->tsc = idx & 0xffffffff; /* rising per CPU, index by index */
	r->ip = e->addr;
	r->flags = (e->flags & EKP_PROBE_F_RETURN) ? EKP_REC_F_RETURN : 0;
	r->pid = (int32_t)(idx & 0xffff);
	r->nr_values = e->nr_values;
	memcpy(r->comm, "fuzz", 5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ekp_ring_config cfg = { 0 };
	struct ekp_ring_reader *rd = NULL;
	const struct ekp_ring_stats *st;
	struct fz f = { 0 };
	uint32_t nr;
	uint64_t tail = 0;
	size_t need, body;
	int ret;

	init_probes();
	if (size < 11)
		return 0;
	nr = 1u << (data[0] & 7);
	f.nr_cpus = 1 + (data[1] & 7);
	f.written = data[1] >> 3;
	for (int i = 0; i < 8; i++)
		tail |= (uint64_t)data[2 + i] << (8 * i);
	if (data[0] & 0x20)
		tail |= 0xffffffffffffff00ull;
	f.nr_ops = data[10];
	if (size < 11 + 3 * f.nr_ops)
		f.nr_ops = (size - 11) / 3;
	f.ops = data + 11;
	body = 11 + 3 * f.nr_ops;

	cfg.nr_records = nr;
	cfg.max_probes = NR_SPECS;
	cfg.nr_cpus = f.nr_cpus;
	cfg.tail = tail;
	if (ekp_ring_reader_new(&cfg, &rd))
		abort();
	for (unsigned int i = 0; i < NR_SPECS; i++) {
		f.table[i] = progs[i];
		if ((f.written & (1u << i)) && ekp_ring_expect(rd, i, &f.table[i]))
			abort();
	}

	need = (size_t)ekp_ring_bytes(nr);
	f.ring_bytes = need - ((data[0] & 8) ? 1 + data[1] % 8 : 0);
	f.ring = calloc(1, f.ring_bytes);
	f.values = calloc(ENGINE_VALUES, sizeof(*f.values));
	if (!f.ring || !f.values)
		abort();
	if ((data[0] & 0x40) && f.written && f.ring_bytes == need) {
		struct ekp_abi_record *recs = (struct ekp_abi_record *)
			(f.ring + sizeof(struct ekp_abi_ring_hdr));
		unsigned int k = 0;

		for (uint32_t j = 0; j < nr; j++) {
			while (!(f.written & (1u << (k % NR_SPECS))))
				k++;
			synth(&f, &recs[(tail + j) & (nr - 1)], tail + j, k++ % NR_SPECS);
		}
		for (size_t j = 0; j < size - body && j < f.ring_bytes; j++)
			f.ring[j] ^= data[body + j];
	} else {
		memcpy(f.ring, data + body,
		       size - body < f.ring_bytes ? size - body : f.ring_bytes);
	}
	if ((data[0] & 0x10) && f.ring_bytes == need) {
		struct ekp_abi_record *recs = (struct ekp_abi_record *)
			(f.ring + sizeof(struct ekp_abi_ring_hdr));

		for (uint32_t i = 0; i < nr; i++) {
			uint64_t seq = tail + i + 1;

			memcpy(&recs[(tail + i) & (nr - 1)].seq, &seq, sizeof(seq));
		}
	}

	ret = ekp_ring_drain(rd, f.ring, f.ring_bytes, cb, &f);
	st = ekp_ring_stats(rd);
	if (f.ring_bytes < need) {
		if (ret != -EINVAL || ekp_ring_tail(rd) != tail || f.calls)
			abort();
	} else if (ret == -EPIPE) {
		if (ekp_ring_tail(rd) - tail == 0 || ekp_ring_tail(rd) - tail > nr)
			abort();
	} else {
		if (ret < 0 || (uint64_t)ret != ekp_ring_tail(rd) - tail || (uint32_t)ret > nr)
			abort();
		if (st->delivered + st->invalid != (uint64_t)ret)
			abort();
	}
	if (st->invalid != st->bad_probe + st->bad_check + st->bad_ip + st->bad_values +
			   st->bad_flags + st->bad_cpu + st->bad_tsc + st->bad_task +
			   st->rejected ||
	    st->rejected != f.rejected || st->delivered + st->rejected > f.calls)
		abort();
	/* The header words, as the host reads them: lost counts only a full ring. */
	if (f.ring_bytes >= need) {
		ekp_ring_publish(rd, f.ring);
		struct ekp_abi_ring_hdr h;

		ekp_ring_update_counters(rd, f.ring);
		memcpy(&h, f.ring, sizeof(h));
		if (st->bad_lost > 1 || st->bad_dropped || st->dropped != h.dropped)
			abort();
		if (st->lost && (st->lost != h.lost || h.lost_tail < tail ||
				 h.lost_tail > ekp_ring_tail(rd) || h.head - h.lost_tail < nr))
			abort();
	}
	ekp_ring_reader_free(rd);
	free(f.ring);
	free(f.values);
	ekp_err_clear();
	return 0;
}
