// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's own symbol table, kallsyms, found in the bytes of its image (the decompressed
 * payload of a boot image: a stripped vmlinux) by its structure, since a shipped image has no
 * symbols that would say where it is. Linux 6.1's scripts/kallsyms.c lays it out in .rodata,
 * each table 8-byte aligned (CONFIG_KALLSYMS_BASE_RELATIVE, 64-bit):
 *
 *   kallsyms_offsets        s32[num_syms]
 *   kallsyms_relative_base  u64: a link-time address (the lowest relative symbol's)
 *   kallsyms_num_syms       u32
 *   kallsyms_names          per symbol: its length in 1 or 2 bytes (ULEB128, < 0x4000), then
 *                           that many token numbers; the expanded text is the type letter and
 *                           the name
 *   kallsyms_markers        u32[(num_syms + 255) / 256]: where every 256th name starts
 *   kallsyms_seqs_of_names  u8[3][num_syms] (6.2 and the later 6.1 stable releases only)
 *   kallsyms_token_table    256 NUL-terminated strings
 *   kallsyms_token_index    u16[256]: where each token starts in the token table
 *
 * A symbol's address: with CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP) a non-negative offset
 * is the address itself (per-CPU symbols: they do not move with the image) and a negative one
 * is relative_base - 1 - offset; otherwise every offset is unsigned, relative_base + offset.
 * The first mode is recognised by its negative offsets (relative symbols always have them).
 *
 * Every candidate place is checked against the whole structure (the markers against the
 * names' lengths, the token index against the token table, addresses in order, the relative
 * base inside the image) before anything is taken from it: the image is untrusted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/symbols/internal.h"

#define MAX_SYMS (1u << 24)   /* kallsyms_seqs_of_names holds 3-byte indices */
#define NAME_MAX_LEN 0x3fff  /* a two-byte ULEB128 length */
#define TOKENS 256
#define KSYM_MAX 1024        /* the kernel's KSYM_NAME_LEN is 512 */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static size_t align8(size_t v)
{
	return (v + 7) & ~(size_t)7;
}

struct ks {
	const uint8_t *d;
	size_t len;
	size_t offsets, names, names_end, tokens, token_index;
	uint32_t n;
	uint64_t base;
	bool abs_percpu;
	uint16_t tok_off[TOKENS];
	uint16_t tok_len[TOKENS];
};

static bool in_buf(const struct ks *k, size_t at, size_t n)
{
	return at <= k->len && n <= k->len - at;
}

/* The token table at t and its index right after it: 256 strings, index matching. */
static bool tokens_at(struct ks *k, size_t t)
{
	size_t p = t, idx;

	for (unsigned int i = 0; i < TOKENS; i++) {
		const uint8_t *nul;

		if (p >= k->len || p - t > 0xffff)
			return false;
		nul = memchr(k->d + p, 0, k->len - p);
		if (!nul || nul == k->d + p)
			return false; /* every token has at least one character */
		k->tok_off[i] = (uint16_t)(p - t);
		k->tok_len[i] = (uint16_t)((size_t)(nul - k->d) - p);
		p = (size_t)(nul - k->d) + 1;
	}
	idx = align8(p);
	if (!in_buf(k, idx, 2 * TOKENS))
		return false;
	for (unsigned int i = 0; i < TOKENS; i++)
		if ((uint16_t)(k->d[idx + 2 * i] | k->d[idx + 2 * i + 1] << 8) != k->tok_off[i])
			return false;
	k->tokens = t;
	k->token_index = idx;
	return true;
}

/* A symbol's address from its offset, in the mode found. */
static uint64_t sym_addr(const struct ks *k, uint32_t i, bool *absolute)
{
	int32_t off = (int32_t)le32(k->d + k->offsets + 4 * (size_t)i);

	*absolute = false;
	if (!k->abs_percpu)
		return k->base + (uint32_t)off;
	if (off >= 0) {
		*absolute = true;
		return (uint64_t)off;
	}
	return k->base - 1 - (uint64_t)(int64_t)off;
}

/*
 * Is X (where kallsyms_num_syms would be) the real thing? Checks in order of cost, so that
 * most places are refused after a few reads.
 */
static bool candidate(struct ks *k, size_t x, const struct ekp_symtab *st)
{
	size_t m0, mend, p;
	uint32_t n, nm;
	uint64_t prev = 0;
	uint8_t one;

	if (x < 8 || !in_buf(k, x, 8) || le32(k->d + x + 4))
		return false;
	n = le32(k->d + x);
	if (!n || n > MAX_SYMS)
		return false;
	/* The offsets table before the relative base, padded to 8 bytes. */
	if ((size_t)n * 4 + (n & 1) * 4 + 8 > x)
		return false;
	if ((n & 1) && le32(k->d + x - 12))
		return false;
	k->n = n;
	k->base = le64(k->d + x - 8);
	k->offsets = x - 8 - 4 * (size_t)n - (n & 1) * 4;
	/* The relative base is an address of the image itself (_text). */
	if (ekp_symtab_read(st, k->base, &one, 1))
		return false;
	k->abs_percpu = false;
	for (uint32_t i = 0; i < n; i++)
		if ((int32_t)le32(k->d + k->offsets + 4 * (size_t)i) < 0) {
			k->abs_percpu = true;
			break;
		}
	/* kallsyms is sorted by address. */
	for (uint32_t i = 0; i < n; i++) {
		bool a;
		uint64_t v = sym_addr(k, i, &a);

		if (i && v < prev)
			return false;
		prev = v;
	}
	/* The names: lengths only, checked against the markers after them. */
	nm = (n + 255) / 256;
	k->names = x + 8;
	p = k->names;
	for (uint32_t i = 0; i < n; i++) {
		size_t l;

		if (p >= k->len)
			return false;
		l = k->d[p++];
		if (l & 0x80) {
			if (p >= k->len)
				return false;
			l = (l & 0x7f) | (size_t)k->d[p++] << 7;
		}
		if (!l || l > NAME_MAX_LEN || l > k->len - p)
			return false;
		p += l;
	}
	k->names_end = p;
	m0 = align8(p);
	if (!in_buf(k, m0, 4 * (size_t)nm))
		return false;
	/* Every 256th name starts where its marker says. */
	p = k->names;
	for (uint32_t i = 0; i < n; i++) {
		size_t l;

		if (!(i & 255) && le32(k->d + m0 + 4 * (size_t)(i / 256)) != p - k->names)
			return false;
		l = k->d[p++];
		if (l & 0x80)
			l = (l & 0x7f) | (size_t)k->d[p++] << 7;
		p += l;
	}
	mend = m0 + 4 * (size_t)nm;
	/* Then the token table, right after the markers or after kallsyms_seqs_of_names. */
	if (tokens_at(k, align8(mend)))
		return true;
	if ((size_t)n * 3 > k->len)
		return false;
	return tokens_at(k, align8(align8(mend) + 3 * (size_t)n));
}

/* Expand name i (at *p) into out (NUL-terminated); returns the type letter. */
static int expand(const struct ks *k, size_t *p, char *out, size_t outlen, char *type)
{
	size_t l = k->d[(*p)++], o = 0;
	bool first = true;

	if (l & 0x80)
		l = (l & 0x7f) | (size_t)k->d[(*p)++] << 7;
	for (size_t j = 0; j < l; j++) {
		unsigned int t = k->d[(*p)++];
		const uint8_t *s = k->d + k->tokens + k->tok_off[t];

		for (unsigned int c = 0; c < k->tok_len[t]; c++) {
			if (first) {
				*type = (char)s[c];
				first = false;
				continue;
			}
			if (o + 1 >= outlen)
				return -ENAMETOOLONG;
			out[o++] = (char)s[c];
		}
	}
	out[o] = '\0';
	return o ? 0 : -EINVAL;
}

int ekp_symtab_parse_kallsyms(struct ekp_symtab *st, const uint8_t *data, size_t len,
			      const struct ekp_range *where, size_t nwhere, const char *what)
{
	struct ks k = { .d = data, .len = len };
	struct ekp_range all = { 0, len };
	char name[KSYM_MAX];
	bool found = false;
	size_t p;
	int err;

	if (!nwhere) {
		where = &all;
		nwhere = 1;
	}
	for (size_t r = 0; r < nwhere && !found; r++) {
		size_t lo = where[r].start, hi = where[r].end > len ? len : where[r].end;

		for (size_t x = align8(lo); x + 8 <= hi && !found; x += 8)
			found = candidate(&k, x, st);
	}
	if (!found)
		return ekp_err(ENODATA, "%s: no kallsyms tables in the kernel image (a kernel built "
			       "without CONFIG_KALLSYMS, or of another layout than Linux 6.1's): give "
			       "--symbols vmlinux|System.map", what);
	p = k.names;
	for (uint32_t i = 0; i < k.n; i++) {
		bool absolute;
		uint64_t addr = sym_addr(&k, i, &absolute);
		char type = '?';

		err = expand(&k, &p, name, sizeof(name), &type);
		if (err)
			return ekp_err(EILSEQ, "%s: kallsyms symbol %u has %s", what, i,
				       err == -EINVAL ? "no name" : "a name too long");
		if (!((type >= 'a' && type <= 'z') || (type >= 'A' && type <= 'Z') || type == '?'))
			return ekp_err(EILSEQ, "%s: kallsyms symbol %u (%s) has no type letter", what,
				       i, name);
		err = ekp_symtab_add(st, name, strlen(name), NULL, 0, addr, 0, UINT64_MAX, type,
				     ekp_isym_type_flags(type) | (absolute ? EKP_ISYM_ABS : 0));
		if (err)
			return err;
	}
	return 0;
}
