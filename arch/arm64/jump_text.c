// SPDX-License-Identifier: GPL-2.0
/*
 * What an arm64 kernel rewrites in its own text, from its vmlinux's tables (untrusted bytes):
 * ftrace's patchable function entries (__mcount_loc: the first of each function's two NOPs,
 * which ftrace_init() turns into `mov x9, x30` and a NOP or `bl ftrace_caller`), alternatives
 * (__alt_instructions: struct alt_instr { s32 orig_offset, alt_offset; u16 cpufeature;
 * u8 orig_len, alt_len; }, applied at boot and when secondary CPUs come up), jump labels
 * (__jump_table: struct jump_entry { s32 code, target; long key; }), and the kprobe
 * blacklist (__start_kprobe_blacklist: function addresses).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/jump.h"
#include "ekprobe/err.h"

#define MAX_ENTRIES (1u << 22) /* any 6.1 kernel has far fewer of each */

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int32_t rd32s(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_range(const void *a, const void *b)
{
	const struct arm64_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int read_addrs(const uint8_t *p, size_t len, uint64_t **out, size_t *nr)
{
	size_t n = len / 8;

	*out = NULL;
	*nr = 0;
	if (!p || !n)
		return 0;
	if (n > MAX_ENTRIES)
		return ekp_err(E2BIG, "a kernel table of %zu entries", n);
	*out = malloc(n * sizeof(**out));
	if (!*out)
		return ekp_err(ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		(*out)[i] = rd64(p + 8 * i);
	qsort(*out, n, sizeof(**out), cmp_u64);
	*nr = n;
	return 0;
}

int arm64_text_tables_parse(const struct arm64_text_raw *raw, struct arm64_text_tables *out)
{
	size_t nalt = raw->alt ? raw->alt_len / 12 : 0, njump = raw->jump ? raw->jump_len / 16 : 0;
	int err;

	memset(out, 0, sizeof(*out));
	if (nalt > MAX_ENTRIES || njump > MAX_ENTRIES)
		return ekp_err(E2BIG, "a kernel table of %zu entries", nalt > njump ? nalt : njump);
	err = read_addrs(raw->mcount, raw->mcount_len, &out->mcount, &out->nr_mcount);
	if (!err)
		err = read_addrs(raw->blacklist, raw->blacklist_len, &out->blacklist,
				 &out->nr_blacklist);
	if (err)
		goto fail;
	if (nalt + njump) {
		out->busy = calloc(nalt + njump, sizeof(*out->busy));
		if (!out->busy) {
			err = ekp_err(ENOMEM, "out of memory");
			goto fail;
		}
	}
	for (size_t i = 0; i < nalt; i++) {
		const uint8_t *e = raw->alt + 12 * i;
		uint64_t at = raw->alt_addr + 12 * i;
		unsigned int len = e[10];

		if (!len)
			continue;
		out->busy[out->nr_busy++] = (struct arm64_range){
			at + (uint64_t)(int64_t)rd32s(e), at + (uint64_t)(int64_t)rd32s(e) + len,
			"an alternative (code the kernel patches at boot for its CPU's features)" };
	}
	for (size_t i = 0; i < njump; i++) {
		uint64_t at = raw->jump_addr + 16 * i;
		uint64_t code = at + (uint64_t)(int64_t)rd32s(raw->jump + 16 * i);

		out->busy[out->nr_busy++] = (struct arm64_range){
			code, code + 4, "a jump label (a NOP or B the kernel rewrites)" };
	}
	if (out->nr_busy)
		qsort(out->busy, out->nr_busy, sizeof(*out->busy), cmp_range);
	return 0;
fail:
	arm64_text_tables_free(out);
	return err;
}

void arm64_text_tables_free(struct arm64_text_tables *t)
{
	if (!t)
		return;
	free(t->mcount);
	free(t->busy);
	free(t->blacklist);
	memset(t, 0, sizeof(*t));
}

/* The last of sorted v[0..n) that is <= x, or n when none. */
static size_t floor_idx(const uint64_t *v, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : n;
}

uint64_t arm64_text_mcount_at(const struct arm64_text_tables *t, uint64_t addr)
{
	size_t i = floor_idx(t->mcount, t->nr_mcount, addr);

	if (i == t->nr_mcount || addr - t->mcount[i] >= 8)
		return 0;
	return t->mcount[i];
}

const struct arm64_range *arm64_text_busy(const struct arm64_text_tables *t, uint64_t addr,
					  uint64_t len)
{
	/* Ranges may overlap one another: a linear scan of the ones starting before the end. */
	for (size_t i = 0; i < t->nr_busy && t->busy[i].start < addr + len; i++)
		if (t->busy[i].end > addr)
			return &t->busy[i];
	return NULL;
}

bool arm64_text_blacklisted(const struct arm64_text_tables *t, uint64_t func_addr)
{
	size_t i = floor_idx(t->blacklist, t->nr_blacklist, func_addr);

	return i < t->nr_blacklist && t->blacklist[i] == func_addr;
}
