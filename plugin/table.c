// SPDX-License-Identifier: GPL-2.0
/* The plugin's probe table: checks and lookup (plugin/table.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/table.h"

static int refuse(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* [off, off + len) inside [0, size). */
static bool inside(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static uint32_t hash_addr(uint64_t addr, uint32_t mask)
{
	return (uint32_t)((addr * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

struct ref {
	uint64_t addr;
	uint32_t probe;
	uint8_t alias, ret;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->ret != y->ret)
		return x->ret < y->ret ? -1 : 1;
	return x->probe < y->probe ? -1 : x->probe > y->probe;
}

static int check_header(const struct ekp_tcg_hdr *h, size_t size, char *why, size_t whylen)
{
	uint64_t ring_bytes, table_bytes;

	if (h->magic != EKP_TCG_MAGIC)
		return refuse(why, whylen, "bad magic 0x%016llx (not ekprobe's shared memory)",
			      (unsigned long long)h->magic);
	if (h->version != EKP_TCG_VERSION)
		return refuse(why, whylen, "table version %u, this plugin reads %d (ekprobe-host "
			      "and ekprobe-tcg.so from different builds?)", h->version,
			      EKP_TCG_VERSION);
	if (h->hdr_size != sizeof(*h) || h->probe_size != sizeof(struct ekp_tcg_probe) ||
	    h->record_size != sizeof(struct ekp_abi_record))
		return refuse(why, whylen, "struct sizes %u/%u/%u, this plugin %zu/%zu/%zu",
			      h->hdr_size, h->probe_size, h->record_size, sizeof(*h),
			      sizeof(struct ekp_tcg_probe), sizeof(struct ekp_abi_record));
	if (h->total_size != size)
		return refuse(why, whylen, "the header says %llu bytes, %zu are mapped",
			      (unsigned long long)h->total_size, size);
	if (h->arch != EKP_TCG_ARCH_X86_64)
		return refuse(why, whylen, "architecture %u: this plugin knows x86_64 (%d)",
			      h->arch, EKP_TCG_ARCH_X86_64);
	if (h->nr_probes > EKP_TCG_MAX_PROBES)
		return refuse(why, whylen, "%u probes, at most %d", h->nr_probes,
			      EKP_TCG_MAX_PROBES);
	if (!h->nr_rings || h->nr_rings > EKP_TCG_MAX_RINGS)
		return refuse(why, whylen, "%u rings: 1..%d", h->nr_rings, EKP_TCG_MAX_RINGS);
	if (!h->ring_records || (h->ring_records & (h->ring_records - 1)) ||
	    h->ring_records > EKP_TCG_MAX_RING_RECORDS)
		return refuse(why, whylen, "rings of %u records: a power of two, 1..%u",
			      h->ring_records, EKP_TCG_MAX_RING_RECORDS);
	if (h->max_frames > EKP_TCG_MAX_FRAMES)
		return refuse(why, whylen, "%u return frames, at most %u", h->max_frames,
			      EKP_TCG_MAX_FRAMES);
	if (h->flags & ~(uint32_t)EKP_TCG_F_ICOUNT)
		return refuse(why, whylen, "unknown flags 0x%x", h->flags);
	table_bytes = (uint64_t)h->nr_probes * sizeof(struct ekp_tcg_probe);
	ring_bytes = sizeof(struct ekp_abi_ring_hdr) +
		     (uint64_t)h->ring_records * sizeof(struct ekp_abi_record);
	if (h->table_off % 8 || h->table_off < sizeof(*h) || !inside(h->table_off, table_bytes, size))
		return refuse(why, whylen, "probe table at %llu (%llu bytes) is unaligned or outside "
			      "the region", (unsigned long long)h->table_off,
			      (unsigned long long)table_bytes);
	if (h->rings_off % 8 || h->ring_stride % 8 || h->ring_stride < ring_bytes ||
	    h->rings_off < sizeof(*h) ||
	    h->ring_stride > (uint64_t)size / h->nr_rings ||
	    !inside(h->rings_off, h->ring_stride * h->nr_rings, size))
		return refuse(why, whylen, "rings at %llu (%u of %llu bytes) are unaligned or outside "
			      "the region", (unsigned long long)h->rings_off, h->nr_rings,
			      (unsigned long long)h->ring_stride);
	if (h->table_off < h->rings_off + h->ring_stride * h->nr_rings &&
	    h->rings_off < h->table_off + table_bytes)
		return refuse(why, whylen, "the probe table and the rings overlap");
	if (h->have_task_fields > 1 || (h->have_task_fields &&
	    (h->comm_off > 65536 || h->pid_off > 65536)))
		return refuse(why, whylen, "task field offsets %u/%u", h->comm_off, h->pid_off);
	return 0;
}

static int check_probe(const struct ekp_tcg_probe *p, uint32_t i, char *why, size_t whylen)
{
	const struct ekp_abi_probe *a = &p->abi;

	if (!a->addr || !a->check)
		return refuse(why, whylen, "probe %u: address or check word is 0", i);
	if (a->flags & ~(uint32_t)(EKP_PROBE_F_ACTIVE | EKP_PROBE_F_RETURN))
		return refuse(why, whylen, "probe %u: unknown flags 0x%x", i, a->flags);
	if (a->nr_insns > EKP_ABI_MAX_INSNS || a->nr_values > EKP_ABI_MAX_VALUES)
		return refuse(why, whylen, "probe %u: %u instructions, %u values (at most %d, %d)",
			      i, a->nr_insns, a->nr_values, EKP_ABI_MAX_INSNS, EKP_ABI_MAX_VALUES);
	if (p->code_len > EKP_TCG_CODE)
		return refuse(why, whylen, "probe %u: %u code bytes, at most %d", i, p->code_len,
			      EKP_TCG_CODE);
	if (p->alias == a->addr)
		return refuse(why, whylen, "probe %u: its alias is its address", i);
	return 0;
}

static int add_hash(struct ekp_tcg_table *t, uint32_t site)
{
	uint32_t h = hash_addr(t->sites[site].addr, t->hash_mask);

	for (uint32_t n = 0; n <= t->hash_mask; n++, h = (h + 1) & t->hash_mask) {
		if (!t->hash[h]) {
			t->hash[h] = site + 1;
			return 0;
		}
	}
	return -1;
}

int ekp_tcg_table_load(const void *mem, size_t size, struct ekp_tcg_table *t, char *why,
		       size_t whylen)
{
	const struct ekp_tcg_hdr *h = mem;
	struct ref *refs = NULL;
	uint32_t n, nr_refs = 0, cap;

	memset(t, 0, sizeof(*t));
	if (!mem || size < sizeof(*h))
		return refuse(why, whylen, "the region (%zu bytes) is smaller than its header", size);
	memcpy(&t->hdr, h, sizeof(t->hdr));
	if (check_header(&t->hdr, size, why, whylen))
		return -1;
	n = t->hdr.nr_probes;
	t->nr_probes = n;
	t->probes = calloc((size_t)n + 1, sizeof(*t->probes));
	refs = calloc(2 * (size_t)n + 2, sizeof(*refs));
	t->sites = calloc(2 * (size_t)n + 2, sizeof(*t->sites));
	t->site_probes = calloc(2 * (size_t)n + 2, sizeof(*t->site_probes));
	if (!t->probes || !refs || !t->sites || !t->site_probes)
		goto nomem;
	memcpy(t->probes, (const char *)mem + t->hdr.table_off, (size_t)n * sizeof(*t->probes));
	for (uint32_t i = 0; i < n; i++) {
		const struct ekp_tcg_probe *p = &t->probes[i];
		uint8_t ret = (p->abi.flags & EKP_PROBE_F_RETURN) ? 1 : 0;

		if (check_probe(p, i, why, whylen))
			goto fail;
		refs[nr_refs++] = (struct ref){ p->abi.addr, i, 0, ret };
		if (p->alias)
			refs[nr_refs++] = (struct ref){ p->alias, i, 1, ret };
	}
	qsort(refs, nr_refs, sizeof(*refs), cmp_ref);
	for (uint32_t i = 0; i < nr_refs; i++) {
		struct ekp_tcg_site *s = t->nr_sites ? &t->sites[t->nr_sites - 1] : NULL;

		if (!s || s->addr != refs[i].addr) {
			s = &t->sites[t->nr_sites++];
			*s = (struct ekp_tcg_site){ .addr = refs[i].addr, .first = i,
						    .alias = refs[i].alias };
		} else if (s->alias != refs[i].alias) {
			refuse(why, whylen, "0x%llx is both a probe address and another probe's "
			       "alias", (unsigned long long)s->addr);
			goto fail;
		}
		t->site_probes[i] = refs[i].probe;
		s->count++;
	}
	free(refs);
	refs = NULL;
	if (t->hdr.early_end) {
		const struct ekp_tcg_site *s = NULL;

		for (uint32_t i = 0; i < t->nr_sites && !s; i++)
			if (t->sites[i].addr == t->hdr.early_end)
				t->sites[i].early_end = 1, s = &t->sites[i];
		if (!s)
			t->sites[t->nr_sites++] = (struct ekp_tcg_site){ .addr = t->hdr.early_end,
									  .early_end = 1 };
	}
	for (cap = 16; cap < 2 * t->nr_sites; cap *= 2)
		;
	t->hash = calloc(cap, sizeof(*t->hash));
	if (!t->hash)
		goto nomem;
	t->hash_mask = cap - 1;
	for (uint32_t i = 0; i < t->nr_sites; i++)
		if (add_hash(t, i))
			goto nomem;
	return 0;
nomem:
	refuse(why, whylen, "out of memory for %u probes", n);
fail:
	free(refs);
	ekp_tcg_table_free(t);
	return -1;
}

void ekp_tcg_table_free(struct ekp_tcg_table *t)
{
	free(t->probes);
	free(t->sites);
	free(t->site_probes);
	free(t->hash);
	memset(t, 0, sizeof(*t));
}

const struct ekp_tcg_site *ekp_tcg_table_find(const struct ekp_tcg_table *t, uint64_t addr)
{
	uint32_t h;

	if (!t->hash)
		return NULL;
	h = hash_addr(addr, t->hash_mask);
	for (uint32_t n = 0; n <= t->hash_mask; n++, h = (h + 1) & t->hash_mask) {
		uint32_t v = t->hash[h];

		if (!v)
			return NULL;
		if (t->sites[v - 1].addr == addr)
			return &t->sites[v - 1];
	}
	return NULL;
}
