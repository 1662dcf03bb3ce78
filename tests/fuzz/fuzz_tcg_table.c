// SPDX-License-Identifier: GPL-2.0
/*
 * The plugin's reading of the shared memory ekprobe-host hands it (plugin/table.c): the header,
 * every probe entry, the rings' placement, and the lookup built from them.
 *
 * Input: byte 0 bit 0 clear: the input is the region itself, as mapped (exactly its size).
 *        Bit 0 set: a region is built so that the fuzzer gets past the header: byte 1 the
 *        number of probes, byte 2 the rings (1..4), byte 3 log2(records per ring) (0..7),
*        byte 0 bit 1 shifts the table off its place (and leaves the entries as they are), bit 2 breaks the total size, bit 3 sets
 *        early_end to the first probe's address; the rest of the input is cycled over the
 *        probe entries (so their fields are the fuzzer's), with bit 4 making each entry's
 *        address one of 8 values (so sites are shared) and bit 5 fixing each entry's check
 *        word and flags to valid ones.
 * Checks besides memory safety: a loaded table's sites list every probe once at its address
 * (and once at its alias), entries before returns at one site; the lookup finds every site and
 * nothing at an address no site has.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/table.c"

static void check_table(const struct ekp_tcg_table *t)
{
	uint32_t seen_at = 0, seen_alias = 0, aliases = 0;

	for (uint32_t i = 0; i < t->nr_probes; i++)
		aliases += t->probes[i].alias != 0;
	for (uint32_t s = 0; s < t->nr_sites; s++) {
		const struct ekp_tcg_site *site = &t->sites[s];
		int ret_seen = 0;

		if (ekp_tcg_table_find(t, site->addr) != site)
			abort();
		if (site->first + site->count > 2 * t->nr_probes + 2)
			abort();
		for (uint32_t k = 0; k < site->count; k++) {
			uint32_t i = t->site_probes[site->first + k];
			const struct ekp_tcg_probe *p;

			if (i >= t->nr_probes)
				abort();
			p = &t->probes[i];
			if ((site->alias ? p->alias : p->abi.addr) != site->addr)
				abort();
			if (p->abi.flags & EKP_PROBE_F_RETURN)
				ret_seen = 1;
			else if (ret_seen)
				abort(); /* an entry probe after a return probe */
			if (site->alias)
				seen_alias++;
			else
				seen_at++;
		}
	}
	if (seen_at != t->nr_probes || seen_alias != aliases)
		abort();
	/* An address no site has. */
	for (uint64_t a = 1; a < 64; a++) {
		const struct ekp_tcg_site *s = ekp_tcg_table_find(t, a * 0x10001);

		if (s && s->addr != a * 0x10001)
			abort();
	}
}

static void run(const void *mem, size_t size)
{
	struct ekp_tcg_table t;
	char why[256];

	if (!ekp_tcg_table_load(mem, size, &t, why, sizeof(why))) {
		check_table(&t);
		ekp_tcg_table_free(&t);
	} else if (!why[0]) {
		abort(); /* a refusal always says why */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t nr, rings, recs;
	uint64_t table_off, rings_off, stride, total;
	struct ekp_tcg_hdr *h;
	uint8_t *mem;

	if (!size)
		return 0;
	if (!(data[0] & 1)) {
		mem = malloc(size - 1 ? size - 1 : 1);
		if (!mem)
			return 0;
		memcpy(mem, data + 1, size - 1);
		run(mem, size - 1);
		free(mem);
		return 0;
	}
	if (size < 4)
		return 0;
	nr = data[1];
	rings = 1 + data[2] % 4;
	recs = 1u << (data[3] % 8);
	table_off = sizeof(struct ekp_tcg_hdr) + ((data[0] & 2) ? 4 : 0);
	stride = sizeof(struct ekp_abi_ring_hdr) + (uint64_t)recs * sizeof(struct ekp_abi_record);
	rings_off = (table_off + (uint64_t)nr * sizeof(struct ekp_tcg_probe) + 7) & ~7ull;
	total = rings_off + stride * rings;
	mem = calloc(1, total);
	if (!mem)
		return 0;
	h = (struct ekp_tcg_hdr *)mem;
	*h = (struct ekp_tcg_hdr){
		.magic = EKP_TCG_MAGIC, .version = EKP_TCG_VERSION, .hdr_size = sizeof(*h),
		.probe_size = sizeof(struct ekp_tcg_probe),
		.record_size = sizeof(struct ekp_abi_record), .nr_probes = nr, .nr_rings = rings,
		.ring_records = recs, .arch = EKP_TCG_ARCH_X86_64, .max_frames = 16,
		.table_off = table_off, .rings_off = rings_off, .ring_stride = stride,
		.total_size = total + ((data[0] & 4) ? 8 : 0),
	};
	/* mem[table_off + k] = data[4 + k % (size - 4)], a chunk at a time (a byte loop made
	 * this the slowest target: ~1,200 execs/s). */
	for (uint64_t k = 0, n = (uint64_t)nr * sizeof(struct ekp_tcg_probe); size > 4 && k < n;) {
		uint64_t c = n - k < size - 4 ? n - k : size - 4;

		memcpy(mem + table_off + k, data + 4, c);
		k += c;
	}
	for (uint32_t i = 0; i < nr && !(data[0] & 2); i++) { /* an aligned table only */
		struct ekp_tcg_probe *p = (struct ekp_tcg_probe *)(mem + table_off) + i;

		if (data[0] & 16) {
			p->abi.addr = 0xffffffff81000000ull + 0x40 * (p->abi.addr % 8);
			p->alias = p->alias % 3 ? 0x1000000 + 0x40 * (p->alias % 8) : 0;
		}
		if (data[0] & 32) {
			p->abi.check = i + 1;
			p->abi.flags &= EKP_PROBE_F_ACTIVE | EKP_PROBE_F_RETURN;
			p->abi.nr_insns %= EKP_ABI_MAX_INSNS + 1;
			p->abi.nr_values %= EKP_ABI_MAX_VALUES + 1;
			p->code_len %= EKP_TCG_CODE + 1;
		}
		if ((data[0] & 8) && i == 0)
			h->early_end = p->abi.addr;
	}
	run(mem, total);
	free(mem);
	return 0;
}
