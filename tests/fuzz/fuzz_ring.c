// SPDX-License-Identifier: GPL-2.0
/*
 * ekp_ring_drain() on hostile ring memory, and ekp_fetch_from_record() on what it lets through.
 * The ring lives in a heap block of exactly ring_bytes (ASan catches any read outside it), and
 * the callback keeps scribbling over the ring while the drain runs, as a guest may.
 *
 * Input: byte 0: bits 0-2 log2(records), bit 3 map a few bytes short (must be refused),
 *                bit 4 publish every slot's seq for the indexes from tail on (so the fuzzer
 *                need not guess them), bit 5 start tail near 2^64;
 *        byte 1: max_probes; bytes 2-9: tail (little-endian);
 *        byte 10: number of scribbles N, then N x 3 bytes (offset u16, value) applied one per
 *                callback; the rest: the ring's bytes (header then records), zero-padded.
 * Checks besides memory safety: the return value and *tail agree, the callback only sees
 * records that passed validation, the counters add up.
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

#define NR_SPECS 5
static const char *const specs[NR_SPECS] = {
	"p:g/a start_kernel s=+0(%di):string c=$comm n=%si:u16",
	"p:g/b start_kernel a=+0(%di):u8[4] q=\\\"x\" t=@0x1000:string b=%di:b3@2/8",
	"r:g/c do_one_initcall rv=$retval:s32",
	"p:g/d start_kernel $comm $comm @1:string @2:string %di +0(%di):s8[8]",
	/* 20 arguments, 14 values: immediate strings take no value slot */
	("p:g/e start_kernel %di \\\"a\" %si \\\"b\" %dx %cx \\\"c\" %r8 %r9 %ax %bx \\\"d\" %bp "
	 "%r10 %r11 \\\"e\" %r12 %r13 %r14 \\\"f\""),
};
static struct ekp_probe *probes[NR_SPECS];
static struct ekp_fetch_decoder decs[NR_SPECS];

struct fz {
	uint8_t *ring;
	size_t ring_bytes;
	const uint8_t *ops;
	size_t nr_ops, next_op;
	uint32_t max_probes;
	unsigned long calls, rejected;
	struct ekp_value *values; /* EKP_ABI_MAX_VALUES, as the engine's */
};

static int cb(void *opaque, const struct ekp_abi_record *rec)
{
	struct fz *f = opaque;
	struct ekp_value *values = f->values;
	const struct ekp_probe *p;

	f->calls++;
	if (rec->probe >= f->max_probes || rec->nr_values > EKP_ABI_MAX_VALUES ||
	    !memchr(rec->comm, '\0', sizeof(rec->comm)) || (rec->flags & ~1u) ||
	    (rec->nr_values < 32 && rec->fault_mask >> rec->nr_values))
		abort();
	/* The guest writes on while we read. */
	if (f->next_op < f->nr_ops) {
		const uint8_t *op = f->ops + 3 * f->next_op++;
		size_t off = ((size_t)op[0] | (size_t)op[1] << 8) * 7 % f->ring_bytes;

		f->ring[off] = op[2];
	}
	p = probes[rec->probe % NR_SPECS];
	if (!p)
		return 0;
	if (ekp_fetch_from_record(&decs[rec->probe % NR_SPECS], rec, values, EKP_ABI_MAX_VALUES)) {
		f->rejected++;
		return 1;
	}
	for (unsigned int i = 0; i < p->nr_args; i++)
		if (memchr(values[i].str, '\0', sizeof(values[i].str)) == NULL ||
		    values[i].count > EKP_MAX_ARRAY)
			abort();
	return (rec->tsc & 0xffff) == 0xdead ? -EPIPE : 0;
}

static void init_probes(void)
{
	static int done;
	struct ekp_parse_error perr;

	if (done)
		return;
	done = 1;
	for (int i = 0; i < NR_SPECS; i++)
		if (ekp_probe_parse(specs[i], &ekp_arch_x86_64, &probes[i], &perr) ||
		    ekp_fetch_decoder_init(&decs[i], probes[i], NULL, 0))
			probes[i] = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ekp_ring_stats st = { 0 };
	struct fz f = { 0 };
	uint32_t nr;
	uint64_t tail = 0, start;
	size_t need, body;
	int ret;

	init_probes();
	if (size < 11)
		return 0;
	nr = 1u << (data[0] & 7);
	f.max_probes = data[1];
	for (int i = 0; i < 8; i++)
		tail |= (uint64_t)data[2 + i] << (8 * i);
	if (data[0] & 0x20)
		tail |= 0xffffffffffffff00ull;
	f.nr_ops = data[10];
	if (size < 11 + 3 * f.nr_ops)
		f.nr_ops = (size - 11) / 3;
	f.ops = data + 11;
	body = 11 + 3 * f.nr_ops;

	need = (size_t)ekp_ring_bytes(nr);
	f.ring_bytes = need - ((data[0] & 8) ? 1 + data[1] % 8 : 0);
	f.ring = calloc(1, f.ring_bytes);
	f.values = calloc(EKP_ABI_MAX_VALUES, sizeof(*f.values));
	if (!f.ring || !f.values) {
		free(f.ring);
		free(f.values);
		return 0;
	}
	memcpy(f.ring, data + body, size - body < f.ring_bytes ? size - body : f.ring_bytes);
	if ((data[0] & 0x10) && f.ring_bytes == need) {
		struct ekp_abi_record *recs = (struct ekp_abi_record *)
			(f.ring + sizeof(struct ekp_abi_ring_hdr));

		for (uint32_t i = 0; i < nr; i++) {
			uint64_t seq = tail + i + 1;

			memcpy(&recs[(tail + i) & (nr - 1)].seq, &seq, sizeof(seq));
		}
	}

	start = tail;
	ret = ekp_ring_drain(f.ring, f.ring_bytes, nr, f.max_probes, &tail, cb, &f, &st);
	if (f.ring_bytes < need) {
		if (ret != -EINVAL || tail != start || f.calls)
			abort();
	} else if (ret == -EPIPE) {
		if (tail - start == 0 || tail - start > nr)
			abort();
	} else {
		if (ret < 0 || (uint64_t)ret != tail - start || (uint32_t)ret > nr)
			abort();
		if (st.delivered + st.invalid != (uint64_t)ret)
			abort();
	}
	if (st.invalid != st.bad_probe + st.bad_values + st.bad_flags + st.rejected ||
	    st.rejected != f.rejected || st.delivered + st.rejected > f.calls)
		abort();
	/* The header words are read as the host would. */
	{
		uint64_t head, lost;

		if (f.ring_bytes >= sizeof(struct ekp_abi_ring_hdr))
			ekp_ring_read_counters(f.ring, &head, &lost);
	}
	free(f.ring);
	free(f.values);
	ekp_err_clear();
	return 0;
}
