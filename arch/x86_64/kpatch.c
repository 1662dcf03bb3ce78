// SPDX-License-Identifier: GPL-2.0
/*
 * The text the guest kernel patches at boot, or that no probe may touch, read from the
 * vmlinux tables (layouts as Linux 6.1 x86_64 defines them; each reader says where):
 *
 *   table                      entry                                        site
 *   mcount_loc                 unsigned long ip                             5 (call __fentry__)
 *   alt_instructions           s32 instr, s32 repl (each relative to        max(instrlen,
 *                              itself), u16 cpuid, u8 instrlen,             replacementlen),
 *                              u8 replacementlen; packed, 12 bytes          and the replacement
 *   parainstructions           u8 *instr, u8 type, u8 len, (u16 clobber);  len
 *                              16 bytes
 *   __jump_table               s32 code, s32 target, long key (relative,   2 or 5 (decoded)
 *                              low 2 bits of key are flags); 16 bytes
 *   static_call_sites          s32 addr, s32 key (relative; key bit 0      5 (6: a Jcc tail
 *                              tail call, bit 1 init); 8 bytes              call)
 *   __ex_table                 int insn, fixup, data (relative); 12 bytes  the instruction
 *   smp_locks                  s32 (relative to itself; 0 is padding)       1 (lock prefix)
 *   retpoline_sites,           s32 (relative to itself)                     the instruction
 *   return_sites
 *   ibt_endbr_seal             s32 (relative to itself)                     4 (endbr64)
 *   kprobe_blacklist           unsigned long function address               the function
 *
 * plus whole text sections: the ones kprobes refuses (.noinstr.text, .entry.text,
 * .kprobes.text), the interrupt entry code (.irqentry.text, .softirqentry.text), and the static
 * call trampolines (.static_call.text), which static_call_update() rewrites at run time.
 *
 * Ranges are kept in two arrays sorted by start, each with a running maximum of the ends, so a
 * query is a binary search and a walk down over the ranges that can still reach it: patch
 * sites (at most 255 bytes each, so the walk is short) and regions (functions, sections).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/err.h"
#include "ekprobe/symbols.h"
#include "arch/x86_64/kpatch.h"

#define MAX_TABLE_BYTES (256ull << 20) /* far above any real table (mcount_loc: ~1 MiB) */
#define MAX_INSN 15
#define MCOUNT_INSN_SIZE 5
#define CALL_INSN_SIZE 5
#define ENDBR_INSN_SIZE 4
#define RETPOLINE_GUESS 6 /* call/jmp rel32: 5; Jcc rel32: 6 */

enum range_kind { R_SITE, R_REPL, R_REGION };

struct range {
	uint64_t start, end; /* [start, end) */
	uint64_t key;        /* jump label / static call: the key (flags masked); else 0 */
	uint8_t table;       /* enum ekp_kpatch_table */
	uint8_t kind;        /* enum range_kind */
};

struct rset {
	struct range *v;
	size_t n, cap;
	uint64_t *max_end; /* max_end[i] = max(v[0..i].end) */
};

struct span {
	uint64_t start, end;
};

/* A growable array of addresses, sorted and made unique once the tables are read. */
struct addrs {
	uint64_t *v;
	size_t n, cap;
};

struct ekp_kpatch {
	const struct ekp_symtab *st;
	struct rset sites, regions;
	struct addrs mcount;  /* ftrace sites: sorted, unique */
	struct addrs fixups;  /* exception-table fixup targets in text: sorted, unique */
	struct ekp_kpatch_stats stats[EKP_KPATCH_NR_TABLES];
	struct span text[2]; /* [_stext, _etext), [_sinittext, _einittext) as present */
	size_t ntext;
	struct span core; /* [_text, _etext): where the kernel applies smp_locks */
	bool have_core;
};

struct table;
typedef int (*entry_fn)(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
			const uint8_t *e);

struct table {
	enum ekp_kpatch_table id;
	const char *name;   /* in messages */
	const char *what;   /* "overlaps <what> at ..." */
	const char *first, *last; /* bounding symbols */
	size_t entsize;     /* 0: a text section [first, last) */
	entry_fn entry;
};

/* ---- little helpers ---- */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The address a self-relative s32 at `at` names. Wraps like the kernel's pointer sum. */
static uint64_t rel32(uint64_t at, const uint8_t *p)
{
	return at + (uint64_t)(int64_t)(int32_t)le32(p);
}

static uint64_t rel64(uint64_t at, const uint8_t *p)
{
	return at + le64(p);
}

static bool is_text_type(char c)
{
	return c == 't' || c == 'T' || c == 'w' || c == 'W';
}

static bool in_span(const struct span *s, uint64_t a, uint64_t len)
{
	return a >= s->start && a < s->end && len <= s->end - a;
}

/*
 * [a, a + len) lies in kernel text: inside [_stext, _etext) or [_sinittext, _einittext), or
 * else (text those symbols do not bound, such as .altinstr_aux or .exit.text, or an image
 * without them) inside one function symbol.
 */
static bool in_text(const struct ekp_kpatch *k, uint64_t a, uint64_t len)
{
	struct ekp_sym s, e;
	uint64_t off;

	if (!len || len > UINT64_MAX - a) /* ends are exclusive and must not wrap */
		return false;
	for (size_t i = 0; i < k->ntext; i++)
		if (in_span(&k->text[i], a, len))
			return true;
	if (ekp_symtab_addr2sym(k->st, a, &s, &off) || !is_text_type(s.type))
		return false;
	if (s.size)
		return off < s.size && len - 1 < s.size - off;
	/* A label: it reaches as far as addr2sym says; the last byte must still be in it. */
	return !ekp_symtab_addr2sym(k->st, a + (len - 1), &e, NULL) && e.addr == s.addr &&
	       !strcmp(e.name, s.name);
}

/* The largest n <= want with [a, a + n) in text; 0 if none. */
static uint64_t fit_text(const struct ekp_kpatch *k, uint64_t a, uint64_t want)
{
	for (uint64_t n = want; n > 0; n--)
		if (in_text(k, a, n))
			return n;
	return 0;
}

/* Length of the instruction at a, decoded from the image; 0 if it does not decode. */
static unsigned int insn_len(const struct ekp_kpatch *k, uint64_t a)
{
	uint8_t buf[MAX_INSN];
	size_t n;
	int len;

	/* As many bytes as the image holds there, up to an instruction's maximum. */
	for (n = sizeof(buf); n > 0; n--)
		if (!ekp_symtab_read(k->st, a, buf, n))
			break;
	if (!n)
		return 0;
	len = x86_64_insn_len(buf, n, a);
	return len > 0 ? (unsigned int)len : 0;
}

static int rset_add(struct rset *r, uint64_t start, uint64_t len, uint64_t key,
		    enum ekp_kpatch_table t, enum range_kind kind)
{
	struct range *x;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct range *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	x = &r->v[r->n++];
	x->start = start;
	x->end = start + len; /* callers checked it does not wrap */
	x->key = key;
	x->table = (uint8_t)t;
	x->kind = (uint8_t)kind;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	return (x->kind > y->kind) - (x->kind < y->kind);
}

static int rset_finish(struct rset *r)
{
	uint64_t max = 0;

	if (!r->n)
		return 0;
	qsort(r->v, r->n, sizeof(*r->v), cmp_range);
	r->max_end = malloc(r->n * sizeof(*r->max_end));
	if (!r->max_end)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].end > max)
			max = r->v[i].end;
		r->max_end[i] = max;
	}
	return 0;
}

/* The lowest-starting range overlapping [s, last] (inclusive: last may be UINT64_MAX). */
static const struct range *rset_find(const struct rset *r, uint64_t s, uint64_t last)
{
	const struct range *best = NULL;
	size_t lo = 0, hi = r->n, i;

	while (lo < hi) { /* first range starting after last */
		size_t mid = lo + (hi - lo) / 2;

		if (r->v[mid].start <= last)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Downwards, while some range below may still reach past s; the last hit starts lowest. */
	for (i = lo; i > 0 && r->max_end[i - 1] > s; i--)
		if (r->v[i - 1].end > s)
			best = &r->v[i - 1];
	return best;
}

static void rset_free(struct rset *r)
{
	free(r->v);
	free(r->max_end);
}

/* Record a patch site if it lies in text; count it either way. */
static int add_site(struct ekp_kpatch *k, const struct table *tb, uint64_t a, uint64_t len,
		    uint64_t key, enum range_kind kind)
{
	struct ekp_kpatch_stats *s = &k->stats[tb->id];

	if (!in_text(k, a, len)) {
		s->invalid++;
		return 0;
	}
	s->ranges++;
	return rset_add(&k->sites, a, len, key, tb->id, kind);
}

/*
 * A site whose length comes from decoding the instruction there: ok(len) says whether a
 * decoded length is plausible; if not (or it does not decode) guess is used, shortened to
 * what text holds, and counted.
 */
static int add_decoded_site(struct ekp_kpatch *k, const struct table *tb, uint64_t a,
			    bool (*ok)(unsigned int len), unsigned int guess, uint64_t key)
{
	struct ekp_kpatch_stats *s = &k->stats[tb->id];
	unsigned int len = insn_len(k, a);
	uint64_t n;

	if (len && (!ok || ok(len)))
		return add_site(k, tb, a, len, key, R_SITE);
	n = fit_text(k, a, guess);
	if (!n) {
		s->invalid++;
		return 0;
	}
	s->guessed++;
	s->ranges++;
	return rset_add(&k->sites, a, n, key, tb->id, R_SITE);
}

static int addrs_add(struct addrs *s, uint64_t a)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = a;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void addrs_finish(struct addrs *s)
{
	size_t i, n;

	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	for (i = n = 0; i < s->n; i++)
		if (!n || s->v[n - 1] != s->v[i])
			s->v[n++] = s->v[i];
	s->n = n;
}

/* Index of the first address >= a. */
static size_t addrs_lower_bound(const struct addrs *s, uint64_t a)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- one reader per table ---- */

/*
 * __mcount_loc (include/asm-generic/vmlinux.lds.h MCOUNT_REC, kernel/trace/ftrace.c
 * ftrace_process_locs): unsigned long addresses of `call __fentry__`, MCOUNT_INSN_SIZE 5;
 * NULL entries are linker padding that ftrace skips.
 */
static int entry_mcount(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
			const uint8_t *e)
{
	uint64_t a = le64(e);
	int err;

	(void)at;
	if (!a) {
		k->stats[tb->id].skipped++;
		return 0;
	}
	if (!in_text(k, a, MCOUNT_INSN_SIZE)) {
		k->stats[tb->id].invalid++;
		return 0;
	}
	err = addrs_add(&k->mcount, a);
	return err ? err : add_site(k, tb, a, MCOUNT_INSN_SIZE, 0, R_SITE);
}

/*
 * struct alt_instr (arch/x86/include/asm/alternative.h), __packed, 12 bytes:
 *   s32 instr_offset, s32 repl_offset (each relative to its own field), u16 cpuid,
 *   u8 instrlen, u8 replacementlen.
 * apply_alternatives() writes max(instrlen, replacementlen) bytes at the site (the assembler
 * pads the original to the longest replacement) and optimize_nops() rewrites the padding even
 * when the feature is absent. The replacement bytes (.altinstr_replacement) are copied from,
 * so a probe there would be copied into the site.
 */
static int entry_alt(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
		     const uint8_t *e)
{
	struct ekp_kpatch_stats *s = &k->stats[tb->id];
	uint64_t instr = rel32(at, e), repl = rel32(at + 4, e + 4);
	unsigned int ilen = e[10], rlen = e[11], len = ilen > rlen ? ilen : rlen;
	uint8_t buf[255];
	int err;

	if (!len) {
		s->skipped++;
		return 0;
	}
	if (!in_text(k, instr, len)) {
		s->invalid++;
		return 0;
	}
	s->ranges++;
	err = rset_add(&k->sites, instr, len, 0, tb->id, R_SITE);
	if (err || !rlen)
		return err;
	/* No symbol bounds .altinstr_replacement: the image must hold the bytes. */
	if (repl > UINT64_MAX - rlen || ekp_symtab_read(k->st, repl, buf, rlen)) {
		s->invalid++;
		return 0;
	}
	s->ranges++;
	return rset_add(&k->sites, repl, rlen, 0, tb->id, R_REPL);
}

/*
 * struct paravirt_patch_site (arch/x86/include/asm/paravirt_types.h): u8 *instr, u8 type,
 * u8 len; the assembler (_paravirt_alt) adds a u16 clobber and aligns to 8: 16 bytes.
 * apply_paravirt() rewrites len bytes at instr.
 */
static int entry_paravirt(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
			  const uint8_t *e)
{
	uint64_t instr = le64(e);
	unsigned int len = e[9];

	(void)at;
	if (!len) {
		k->stats[tb->id].skipped++;
		return 0;
	}
	return add_site(k, tb, instr, len, 0, R_SITE);
}

static bool jump_label_len_ok(unsigned int len)
{
	return len == 2 || len == 5; /* arch_jump_entry_size(): jmp8 / nop2 or jmp32 / nop5 */
}

/*
 * struct jump_entry (include/linux/jump_label.h, CONFIG_HAVE_ARCH_JUMP_LABEL_RELATIVE),
 * 16 bytes: s32 code, s32 target, long key, each relative to its own field; key's bit 0 is
 * the branch default, bit 1 init. The site is the instruction at code, 2 or 5 bytes
 * (arch/x86/kernel/jump_label.c arch_jump_entry_size() decodes it).
 */
static int entry_jump_label(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
			    const uint8_t *e)
{
	uint64_t code = rel32(at, e), key = rel64(at + 8, e + 8) & ~(uint64_t)3;

	return add_decoded_site(k, tb, code, jump_label_len_ok, 5, key);
}

/*
 * struct static_call_site (include/linux/static_call_types.h), 8 bytes: s32 addr, s32 key,
 * relative to their own fields; key's low bits are flags (STATIC_CALL_SITE_TAIL 1,
 * STATIC_CALL_SITE_INIT 2). __static_call_transform() writes CALL_INSN_SIZE 5 bytes, or 6
 * when a tail call site is a Jcc (0f 8x rel32).
 */
static int entry_static_call(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
			     const uint8_t *e)
{
	uint64_t a = rel32(at, e), rawkey = rel32(at + 4, e + 4);
	uint64_t key = rawkey & ~(uint64_t)3;
	unsigned int len = CALL_INSN_SIZE;
	uint8_t op[2];

	if ((rawkey & 1) && !ekp_symtab_read(k->st, a, op, sizeof(op)) && op[0] == 0x0f &&
	    (op[1] & 0xf0) == 0x80)
		len = 6;
	return add_site(k, tb, a, len, key, R_SITE);
}

/*
 * struct exception_table_entry (arch/x86/include/asm/extable.h), 12 bytes: int insn, fixup,
 * data; insn and fixup relative to their own fields. The instruction at insn may fault and
 * is looked up by address: moving it breaks the fixup. Undecodable: up to 15 bytes.
 */
static int entry_extable(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
			 const uint8_t *e)
{
	uint64_t fixup = rel32(at + 4, e + 4);
	int err = add_decoded_site(k, tb, rel32(at, e), NULL, MAX_INSN, 0);

	/* Where a fault resumes: control enters the code there (a jump site must not cover it). */
	if (!err && in_text(k, fixup, 1))
		err = addrs_add(&k->fixups, fixup);
	return err;
}

/*
 * .smp_locks (arch/x86/kernel/alternative.c alternatives_smp_lock/unlock): s32 relative to
 * each entry, the address of a lock prefix that the kernel toggles between f0 and 3e. It
 * skips 0 (the section is padded to a page) and anything outside [_text, _etext).
 */
static int entry_smp_lock(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
			  const uint8_t *e)
{
	uint64_t a = rel32(at, e);

	if (!le32(e) || (k->have_core && !in_span(&k->core, a, 1))) {
		k->stats[tb->id].skipped++;
		return 0;
	}
	return add_site(k, tb, a, 1, 0, R_SITE);
}

static bool retpoline_len_ok(unsigned int len)
{
	return len == 5 || len == 6; /* call/jmp rel32, Jcc rel32 */
}

/*
 * .retpoline_sites / .return_sites (objtool; apply_retpolines(), apply_returns()): s32
 * relative to each entry; the call/jmp/Jcc to a thunk there is rewritten in full.
 */
static int entry_branch_site(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
			     const uint8_t *e)
{
	return add_decoded_site(k, tb, rel32(at, e), retpoline_len_ok, RETPOLINE_GUESS, 0);
}

/* .ibt_endbr_seal (apply_ibt_endbr()): s32 relative to each entry; 4 bytes of endbr64. */
static int entry_endbr(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
		       const uint8_t *e)
{
	return add_site(k, tb, rel32(at, e), ENDBR_INSN_SIZE, 0, R_SITE);
}

/* First symbol (in address order) above a; false if none. */
static bool next_symbol(const struct ekp_symtab *st, uint64_t a, uint64_t *next)
{
	size_t lo = 0, hi = ekp_symtab_count(st);
	struct ekp_sym s;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ekp_symtab_at(st, mid, &s) && s.addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!ekp_symtab_at(st, lo, &s))
		return false;
	*next = s.addr;
	return true;
}

/*
 * _kprobe_blacklist (NOKPROBE_SYMBOL; kernel/kprobes.c populate_kprobe_blacklist): unsigned
 * long function addresses; kprobe_add_ksym_blacklist() refuses [addr, addr + size) with the
 * size kallsyms gives. Here: the ELF size of the function, or up to the next symbol for a
 * label without one.
 */
static int entry_blacklist(struct ekp_kpatch *k, const struct table *tb, uint64_t at,
			   const uint8_t *e)
{
	struct ekp_kpatch_stats *s = &k->stats[tb->id];
	uint64_t a = le64(e), end = 0, off;
	struct ekp_sym sym;

	(void)at;
	if (!in_text(k, a, 1)) {
		s->invalid++;
		return 0;
	}
	if (!ekp_symtab_addr2sym(k->st, a, &sym, &off) && sym.size && off < sym.size)
		end = sym.size - off > UINT64_MAX - a ? UINT64_MAX : a + (sym.size - off);
	else if (!next_symbol(k->st, a, &end) || end <= a)
		end = a + 1;
	/* Kernel text only: the span holding a ends it; anything stranger shrinks to a. */
	for (size_t i = 0; i < k->ntext; i++)
		if (in_span(&k->text[i], a, 1) && end > k->text[i].end)
			end = k->text[i].end;
	if (!in_text(k, a, end - a))
		end = a + 1;
	s->ranges++;
	return rset_add(&k->regions, a, end - a, 0, tb->id, R_REGION);
}

static const struct table tables[EKP_KPATCH_NR_TABLES] = {
	[EKP_KPATCH_MCOUNT] = { EKP_KPATCH_MCOUNT, "mcount_loc", "an ftrace site",
		"__start_mcount_loc", "__stop_mcount_loc", 8, entry_mcount },
	[EKP_KPATCH_ALTERNATIVES] = { EKP_KPATCH_ALTERNATIVES, "alt_instructions",
		"an alternative", "__alt_instructions", "__alt_instructions_end", 12, entry_alt },
	[EKP_KPATCH_PARAVIRT] = { EKP_KPATCH_PARAVIRT, "parainstructions",
		"a paravirt patch site", "__parainstructions", "__parainstructions_end", 16,
		entry_paravirt },
	[EKP_KPATCH_JUMP_LABEL] = { EKP_KPATCH_JUMP_LABEL, "__jump_table", "a jump label",
		"__start___jump_table", "__stop___jump_table", 16, entry_jump_label },
	[EKP_KPATCH_STATIC_CALL] = { EKP_KPATCH_STATIC_CALL, "static_call_sites",
		"a static call site", "__start_static_call_sites", "__stop_static_call_sites", 8,
		entry_static_call },
	[EKP_KPATCH_EXTABLE] = { EKP_KPATCH_EXTABLE, "__ex_table",
		"an instruction with an exception-table fixup", "__start___ex_table",
		"__stop___ex_table", 12, entry_extable },
	[EKP_KPATCH_SMP_LOCKS] = { EKP_KPATCH_SMP_LOCKS, "smp_locks", "a patched lock prefix",
		"__smp_locks", "__smp_locks_end", 4, entry_smp_lock },
	[EKP_KPATCH_RETPOLINE] = { EKP_KPATCH_RETPOLINE, "retpoline_sites",
		"a retpoline call site", "__retpoline_sites", "__retpoline_sites_end", 4,
		entry_branch_site },
	[EKP_KPATCH_RETURN] = { EKP_KPATCH_RETURN, "return_sites", "a return-thunk site",
		"__return_sites", "__return_sites_end", 4, entry_branch_site },
	[EKP_KPATCH_IBT_ENDBR] = { EKP_KPATCH_IBT_ENDBR, "ibt_endbr_seal", "a sealed ENDBR",
		"__ibt_endbr_seal", "__ibt_endbr_seal_end", 4, entry_endbr },
	[EKP_KPATCH_KPROBE_BLACKLIST] = { EKP_KPATCH_KPROBE_BLACKLIST, "kprobe_blacklist",
		"a function on the kprobe blacklist", "__start_kprobe_blacklist",
		"__stop_kprobe_blacklist", 8, entry_blacklist },
	[EKP_KPATCH_NOINSTR_TEXT] = { EKP_KPATCH_NOINSTR_TEXT, ".noinstr.text", "noinstr text",
		"__noinstr_text_start", "__noinstr_text_end", 0, NULL },
	[EKP_KPATCH_ENTRY_TEXT] = { EKP_KPATCH_ENTRY_TEXT, ".entry.text", "entry text",
		"__entry_text_start", "__entry_text_end", 0, NULL },
	[EKP_KPATCH_KPROBES_TEXT] = { EKP_KPATCH_KPROBES_TEXT, ".kprobes.text", "kprobes text",
		"__kprobes_text_start", "__kprobes_text_end", 0, NULL },
	[EKP_KPATCH_IRQENTRY_TEXT] = { EKP_KPATCH_IRQENTRY_TEXT, ".irqentry.text",
		"irqentry text", "__irqentry_text_start", "__irqentry_text_end", 0, NULL },
	[EKP_KPATCH_SOFTIRQENTRY_TEXT] = { EKP_KPATCH_SOFTIRQENTRY_TEXT, ".softirqentry.text",
		"softirqentry text", "__softirqentry_text_start", "__softirqentry_text_end", 0,
		NULL },
	[EKP_KPATCH_STATIC_CALL_TEXT] = { EKP_KPATCH_STATIC_CALL_TEXT, ".static_call.text",
		"a static call trampoline", "__static_call_text_start", "__static_call_text_end", 0,
		NULL },
};

/* ---- loading ---- */

/* A symbol's address: 0, -ENOENT (reason cleared: absence is normal), or another -errno. */
static int sym_addr(const struct ekp_symtab *st, const char *name, uint64_t *addr)
{
	struct ekp_sym s;
	int err = ekp_symtab_lookup(st, name, &s);

	if (err == -ENOENT)
		ekp_err_clear();
	if (!err)
		*addr = s.addr;
	return err;
}

/* [first, last) when both exist and first < last. */
static bool find_span(const struct ekp_symtab *st, const char *first, const char *last,
		      struct span *out)
{
	uint64_t a, b;

	if (sym_addr(st, first, &a) || sym_addr(st, last, &b) || a >= b) {
		ekp_err_clear();
		return false;
	}
	out->start = a;
	out->end = b;
	return true;
}

/* The table's bounds: 0 (present), 1 (absent: neither symbol), or -errno. */
static int table_bounds(const struct ekp_kpatch *k, const struct table *tb, uint64_t *first,
			uint64_t *last)
{
	int e1 = sym_addr(k->st, tb->first, first), e2;

	if (e1 && e1 != -ENOENT)
		return ekp_err_prefix(e1, "kernel patch tables: %s: ", tb->name);
	e2 = sym_addr(k->st, tb->last, last);
	if (e2 && e2 != -ENOENT)
		return ekp_err_prefix(e2, "kernel patch tables: %s: ", tb->name);
	if (e1 && e2)
		return 1;
	if (e1 || e2)
		return ekp_err(EINVAL, "kernel patch tables: %s: %s without %s", tb->name,
			       e1 ? tb->last : tb->first, e1 ? tb->first : tb->last);
	if (*last < *first)
		return ekp_err(EINVAL, "kernel patch tables: %s: %s (0x%" PRIx64 ") lies before "
			       "%s (0x%" PRIx64 ")", tb->name, tb->last, *last, tb->first, *first);
	return 0;
}

static int load_section(struct ekp_kpatch *k, const struct table *tb, uint64_t first,
			uint64_t last)
{
	struct ekp_kpatch_stats *s = &k->stats[tb->id];

	s->entries = 1;
	if (first == last)
		return 0; /* empty in this build */
	if (!in_text(k, first, last - first)) {
		s->invalid++;
		return 0;
	}
	s->ranges++;
	return rset_add(&k->regions, first, last - first, 0, tb->id, R_REGION);
}

static int load_table(struct ekp_kpatch *k, const struct table *tb)
{
	struct ekp_kpatch_stats *s = &k->stats[tb->id];
	uint8_t buf[4096];
	uint64_t first = 0, last = 0, size, off;
	size_t per = sizeof(buf) / (tb->entsize ? tb->entsize : 1) * tb->entsize;
	int err;

	err = table_bounds(k, tb, &first, &last);
	if (err)
		return err < 0 ? err : 0;
	s->present = true;
	if (!tb->entsize)
		return load_section(k, tb, first, last);
	size = last - first;
	if (size % tb->entsize)
		return ekp_err(EINVAL, "kernel patch tables: %s: %" PRIu64 " bytes between %s and %s "
			       "is not a whole number of %zu-byte entries", tb->name, size, tb->first,
			       tb->last, tb->entsize);
	if (size > MAX_TABLE_BYTES)
		return ekp_err(EFBIG, "kernel patch tables: %s: %" PRIu64 " bytes is too big",
			       tb->name, size);
	for (off = 0; off < size; off += per) {
		size_t n = size - off < per ? (size_t)(size - off) : per;

		err = ekp_symtab_read(k->st, first + off, buf, n);
		if (err)
			return ekp_err_prefix(err, "kernel patch tables: %s: ", tb->name);
		for (size_t j = 0; j < n; j += tb->entsize) {
			s->entries++;
			err = tb->entry(k, tb, first + off + j, buf + j);
			if (err)
				return err;
		}
	}
	return 0;
}

int ekp_kpatch_load(const struct ekp_symtab *st, struct ekp_kpatch **out)
{
	struct ekp_kpatch *k;
	size_t i;
	int err = 0;

	*out = NULL;
	if (!ekp_symtab_has_image(st))
		return ekp_err(ENODATA, "kernel patch tables: the symbols come from a symbol map; "
			       "the tables (mcount_loc, alt_instructions, ...) are read from the "
			       "kernel image: give the vmlinux");
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->st = st;
	if (find_span(st, "_stext", "_etext", &k->text[k->ntext]) ||
	    find_span(st, "_text", "_etext", &k->text[k->ntext]))
		k->ntext++;
	if (find_span(st, "_sinittext", "_einittext", &k->text[k->ntext]))
		k->ntext++;
	k->have_core = find_span(st, "_text", "_etext", &k->core);

	for (i = 0; i < EKP_KPATCH_NR_TABLES && !err; i++)
		err = load_table(k, &tables[i]);
	if (!err)
		err = rset_finish(&k->sites);
	if (!err)
		err = rset_finish(&k->regions);
	if (err) {
		if (err == -ENOMEM)
			ekp_err(ENOMEM, "kernel patch tables: out of memory");
		ekp_kpatch_free(k);
		return err;
	}
	/* ftrace sorts them too (or checks the build did); keep one of each. */
	addrs_finish(&k->mcount);
	addrs_finish(&k->fixups);
	*out = k;
	return 0;
}

void ekp_kpatch_free(struct ekp_kpatch *k)
{
	if (!k)
		return;
	rset_free(&k->sites);
	rset_free(&k->regions);
	free(k->mcount.v);
	free(k->fixups.v);
	free(k);
}

/* ---- queries ---- */

/* "sym+0x1f", or the bare address if no symbol holds it. */
static void place(const struct ekp_symtab *st, uint64_t a, char *buf, size_t len)
{
	struct ekp_sym s;
	uint64_t off;

	if (!ekp_symtab_addr2sym(st, a, &s, &off))
		snprintf(buf, len, "%s+0x%" PRIx64, s.name, off);
	else
		snprintf(buf, len, "0x%" PRIx64, a);
}

int ekp_kpatch_check(const struct ekp_kpatch *k, uint64_t start, uint64_t len)
{
	const struct range *r;
	char at[192], key[192];
	uint64_t last;

	if (!len)
		return 0;
	if (len - 1 > UINT64_MAX - start)
		return ekp_err(EINVAL, "0x%" PRIx64 "+%" PRIu64 ": the range wraps", start, len);
	last = start + (len - 1);
	r = rset_find(&k->sites, start, last);
	if (!r)
		r = rset_find(&k->regions, start, last);
	if (!r)
		return 0;
	/* A site is named by where it starts; a function or section by where the range hits it. */
	place(k->st, r->kind == R_REGION && start > r->start ? start : r->start, at, sizeof(at));
	key[0] = '\0';
	if (r->key) {
		char kp[160];
		struct ekp_sym s;
		uint64_t off;

		if (!ekp_symtab_addr2sym(k->st, r->key, &s, &off) && !off)
			snprintf(kp, sizeof(kp), "%s", s.name);
		else
			snprintf(kp, sizeof(kp), "0x%" PRIx64, r->key);
		snprintf(key, sizeof(key), ", key %s", kp);
	}
	return ekp_err(EBUSY, "overlaps %s at %s (%s%s)",
		       r->kind == R_REPL ? "an alternative's replacement" : tables[r->table].what,
		       at, tables[r->table].name, key);
}

bool ekp_kpatch_is_mcount(const struct ekp_kpatch *k, uint64_t addr)
{
	size_t i = addrs_lower_bound(&k->mcount, addr);

	return i < k->mcount.n && k->mcount.v[i] == addr;
}

bool ekp_kpatch_mcount_at(const struct ekp_kpatch *k, size_t i, uint64_t *addr)
{
	if (i >= k->mcount.n)
		return false;
	*addr = k->mcount.v[i];
	return true;
}

size_t ekp_kpatch_fixups(const struct ekp_kpatch *k, uint64_t start, uint64_t end,
			 const uint64_t **first)
{
	size_t lo = addrs_lower_bound(&k->fixups, start), hi = addrs_lower_bound(&k->fixups, end);

	*first = k->fixups.v ? k->fixups.v + lo : NULL;
	return end > start ? hi - lo : 0;
}

int ekp_kpatch_stats(const struct ekp_kpatch *k, enum ekp_kpatch_table t,
		     struct ekp_kpatch_stats *out)
{
	if ((unsigned int)t >= EKP_KPATCH_NR_TABLES)
		return -EINVAL;
	*out = k->stats[t];
	return 0;
}

const char *ekp_kpatch_table_name(enum ekp_kpatch_table t)
{
	if ((unsigned int)t >= EKP_KPATCH_NR_TABLES)
		return NULL;
	return tables[t].name;
}
