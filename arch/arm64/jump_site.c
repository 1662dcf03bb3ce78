// SPDX-License-Identifier: GPL-2.0
/*
 * The arm64 half of the jump engine behind the arch ops table: what a site must avoid is read
 * from the vmlinux (jump_text.c: ftrace's patchable entries, alternatives, jump labels, the
 * kprobe blacklist; the sections the kernel's kprobes refuse; the code that runs before the
 * kernel mapping, SP_EL0 and the vectors exist), the site is checked and its instruction
 * decoded by jump_insn.c, the trampoline built by jump_tramp.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/arm64.h"
#include "arch/arm64/jump.h"
#include "ekprobe/abi_arm64.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/symbols.h"

/* Text a jump must not go into, by the symbols that bound it. */
static const struct {
	const char *start, *end, *what;
} refused_text[] = {
	{ "_text", "_stext", "the image header (head text)" },
	{ "__idmap_text_start", "__idmap_text_end",
	  ".idmap.text: it runs with the MMU off or in the identity map" },
	{ "__hyp_idmap_text_start", "__hyp_idmap_text_end", ".hyp.idmap.text" },
	{ "__hyp_text_start", "__hyp_text_end", ".hyp.text (EL2 code)" },
	{ "__entry_text_start", "__entry_text_end",
	  ".entry.text (exception entry: the kernel's kprobes refuse it)" },
	{ "__noinstr_text_start", "__noinstr_text_end", ".noinstr.text (no instrumentation)" },
	{ "__kprobes_text_start", "__kprobes_text_end", ".kprobes.text" },
	{ "__irqentry_text_start", "__irqentry_text_end", ".irqentry.text" },
	{ "__softirqentry_text_start", "__softirqentry_text_end", ".softirqentry.text" },
};

/* head.S's code in .init.text that runs before start_kernel: with the MMU off
 * (primary_entry ... create_kernel_mapping), then __primary_switched, which sets SP_EL0 and
 * the vectors the hit entry relies on. From primary_entry to the end of __primary_switched. */
#define HEAD_FIRST_SYM "primary_entry"
#define HEAD_LAST_SYM "__primary_switched"

#define MAX_TABLE (64u << 20)

struct ekp_jump_text {
	const struct ekp_symtab *st;
	struct arm64_text_tables tables;
	struct arm64_range refused[sizeof(refused_text) / sizeof(refused_text[0]) + 1];
	size_t nr_refused;
	uint64_t text_start, text_end;     /* [_stext, _etext) */
	uint64_t init_start, init_end;     /* [_sinittext, _einittext) */
};

struct arm64_site {
	struct ekp_jump_site pub;
	struct arm64_jump_plan plan;
};

static const struct arm64_site *priv(const struct ekp_jump_site *s)
{
	return (const struct arm64_site *)((const char *)s - offsetof(struct arm64_site, pub));
}

/* [start, end) of two symbols, when both exist in that order and the range is sane. */
static bool sym_range(const struct ekp_symtab *st, const char *a, const char *b, uint64_t *start,
		      uint64_t *end)
{
	struct ekp_sym x, y;

	if (ekp_symtab_lookup(st, a, &x) || ekp_symtab_lookup(st, b, &y) || y.addr < x.addr ||
	    y.addr - x.addr > MAX_TABLE)
		return false;
	*start = x.addr;
	*end = y.addr;
	return true;
}

/* A table's bytes from the image, between two symbols (none: NULL, 0). */
static int read_table(const struct ekp_symtab *st, const char *a, const char *b,
		      uint64_t *addr, uint8_t **buf, size_t *len)
{
	uint64_t s, e;

	*buf = NULL;
	*len = 0;
	*addr = 0;
	if (!sym_range(st, a, b, &s, &e) || s == e)
		return 0;
	*buf = malloc(e - s);
	if (!*buf)
		return ekp_err(ENOMEM, "out of memory");
	if (ekp_symtab_read(st, s, *buf, e - s)) {
		free(*buf);
		*buf = NULL;
		return ekp_err(ENODATA, "the vmlinux holds no bytes for %s", a);
	}
	*addr = s;
	*len = e - s;
	return 0;
}

static int arm64_text_open(const struct ekp_symtab *st, struct ekp_jump_text **out)
{
	struct arm64_text_raw raw = { 0 };
	uint8_t *mc = NULL, *alt = NULL, *jl = NULL, *bl = NULL;
	struct ekp_jump_text *t = calloc(1, sizeof(*t));
	struct ekp_sym first, last;
	uint64_t dummy;
	int err;

	if (!t)
		return ekp_err(ENOMEM, "out of memory");
	t->st = st;
	err = read_table(st, "__start_mcount_loc", "__stop_mcount_loc", &raw.mcount_addr, &mc,
			 &raw.mcount_len);
	if (!err)
		err = read_table(st, "__alt_instructions", "__alt_instructions_end", &raw.alt_addr,
				 &alt, &raw.alt_len);
	if (!err)
		err = read_table(st, "__start___jump_table", "__stop___jump_table", &raw.jump_addr,
				 &jl, &raw.jump_len);
	if (!err)
		err = read_table(st, "__start_kprobe_blacklist", "__stop_kprobe_blacklist", &dummy,
				 &bl, &raw.blacklist_len);
	raw.mcount = mc;
	raw.alt = alt;
	raw.jump = jl;
	raw.blacklist = bl;
	if (!err)
		err = arm64_text_tables_parse(&raw, &t->tables);
	free(mc);
	free(alt);
	free(jl);
	free(bl);
	if (err) {
		free(t);
		return err;
	}
	for (size_t i = 0; i < sizeof(refused_text) / sizeof(refused_text[0]); i++) {
		struct arm64_range *r = &t->refused[t->nr_refused];

		if (sym_range(st, refused_text[i].start, refused_text[i].end, &r->start, &r->end)) {
			r->what = refused_text[i].what;
			t->nr_refused++;
		}
	}
	if (!ekp_symtab_lookup(st, HEAD_FIRST_SYM, &first) &&
	    !ekp_symtab_lookup(st, HEAD_LAST_SYM, &last) && last.addr >= first.addr &&
	    last.addr - first.addr < (1u << 20)) {
		t->refused[t->nr_refused++] = (struct arm64_range){
			first.addr, last.addr + last.size,
			"head.S's boot code before start_kernel (MMU off, or no SP_EL0 and vectors "
			"yet: the hit entry cannot run there)" };
	}
	if (!sym_range(st, "_stext", "_etext", &t->text_start, &t->text_end))
		t->text_start = t->text_end = 0;
	if (!sym_range(st, "_sinittext", "_einittext", &t->init_start, &t->init_end))
		t->init_start = t->init_end = 0;
	*out = t;
	return 0;
}

static void arm64_text_close(struct ekp_jump_text *t)
{
	if (!t)
		return;
	arm64_text_tables_free(&t->tables);
	free(t);
}

static bool in(uint64_t a, uint64_t s, uint64_t e)
{
	return a >= s && a < e;
}

static int arm64_site_plan(const struct ekp_jump_text *t, uint64_t addr, uint64_t slot,
			   struct ekp_jump_site **out)
{
	struct arm64_jump_site in_site = { 0 };
	const struct arm64_range *busy;
	struct arm64_site *s = NULL;
	uint8_t *code = NULL;
	struct ekp_sym sym;
	uint64_t off, j, mc;
	int err;

	if (!in(addr, t->text_start, t->text_end) && !in(addr, t->init_start, t->init_end))
		return ekp_err(EOPNOTSUPP, "not in the kernel's text ([_stext, _etext) or "
			       "[_sinittext, _einittext))");
	for (size_t i = 0; i < t->nr_refused; i++)
		if (in(addr, t->refused[i].start, t->refused[i].end))
			return ekp_err(EOPNOTSUPP, "in %s", t->refused[i].what);
	if (ekp_symtab_addr2sym(t->st, addr, &sym, &off) || !sym.size)
		return ekp_err(ENOENT, "no sized function contains the probe");
	if (arm64_text_blacklisted(&t->tables, sym.addr))
		return ekp_err(EOPNOTSUPP, "%s is on the kernel's kprobe blacklist "
			       "(NOKPROBE_SYMBOL)", sym.name);
	/* A probe at a function whose entry is ftrace's two NOPs jumps right after them: ftrace
	 * rewrites them (and checks what it finds), and the registers and stack there are the
	 * entry's (x9 aside: ftrace's `mov x9, x30`). */
	j = addr;
	mc = arm64_text_mcount_at(&t->tables, addr);
	if (mc) {
		if (addr != mc)
			return ekp_err(EOPNOTSUPP, "in ftrace's patchable entry of %s (its two NOPs, "
				       "which ftrace rewrites)", sym.name);
		j = addr + 8;
	}
	code = malloc(sym.size);
	s = calloc(1, sizeof(*s));
	if (!code || !s) {
		err = ekp_err(ENOMEM, "out of memory");
		goto out;
	}
	if (ekp_symtab_read(t->st, sym.addr, code, sym.size)) {
		err = ekp_err(ENODATA, "the vmlinux holds no bytes for the function");
		goto out;
	}
	if (mc && (j - sym.addr + 4 > sym.size ||
		   memcmp(code + (mc - sym.addr), "\x1f\x20\x03\xd5\x1f\x20\x03\xd5", 8))) {
		err = ekp_err(EOPNOTSUPP, "%s's ftrace entry is not two NOPs in the vmlinux",
			      sym.name);
		goto out;
	}
	in_site.func_addr = sym.addr;
	in_site.func_name = sym.name;
	in_site.func = code;
	in_site.func_size = sym.size;
	in_site.jump_addr = j;
	in_site.probe_addr = addr;
	in_site.slot_addr = slot;
	err = arm64_jump_plan(&in_site, &s->plan);
	if (err)
		goto out;
	busy = arm64_text_busy(&t->tables, j, ARM64_JUMP_LEN);
	if (busy) {
		err = ekp_err(EBUSY, "jump site at %s (%s): in %s", s->plan.where, s->plan.text,
			      busy->what);
		goto out;
	}
	s->pub.probe_addr = addr;
	s->pub.jump_addr = j;
	s->pub.displaced_len = ARM64_JUMP_LEN;
	s->pub.orig = s->plan.orig;
	s->pub.where = s->plan.where;
	*out = &s->pub;
	s = NULL;
out:
	free(code);
	free(s);
	return err;
}

static void arm64_site_free(struct ekp_jump_site *s)
{
	if (s)
		free((void *)priv(s));
}

static size_t arm64_tramp_size(const struct ekp_jump_site *s, unsigned int nr)
{
	return arm64_trampoline_size(&priv(s)->plan, nr);
}

static int arm64_tramp_build(const struct ekp_jump_site *s, uint64_t slot, uint64_t hit_entry,
			     const uint32_t *indices, unsigned int nr, uint8_t *buf, size_t buflen,
			     size_t *len)
{
	return arm64_build_trampoline(&priv(s)->plan, slot, hit_entry, indices, nr, buf, buflen,
				      len);
}

/* The B at the site. The host writes it only while no CPU can run the site (before the
 * kernel's first instruction, or with every vCPU stopped): see docs/abi.md. */
static int arm64_jump_build(const struct ekp_jump_site *s, uint64_t slot, uint8_t *buf,
			    size_t buflen, size_t *len)
{
	uint32_t w;
	int err;

	if (buflen < ARM64_JUMP_LEN)
		return ekp_err(ENOSPC, "no room for a jump");
	err = arm64_encode_b(s->jump_addr, slot, false, &w);
	if (err)
		return err;
	buf[0] = w & 0xff;
	buf[1] = (w >> 8) & 0xff;
	buf[2] = (w >> 16) & 0xff;
	buf[3] = w >> 24;
	*len = ARM64_JUMP_LEN;
	return 0;
}

/* Register id -> byte offset in the trampoline's frame (struct ekp_abi_regs_arm64). */
static int arm64_frame_offset(int reg)
{
	if (reg >= ARM64_X0 && reg <= ARM64_X30)
		return (int)offsetof(struct ekp_abi_regs_arm64, regs) + 8 * reg;
	switch (reg) {
	case ARM64_SP:
		return (int)offsetof(struct ekp_abi_regs_arm64, sp);
	case ARM64_PC:
		return (int)offsetof(struct ekp_abi_regs_arm64, pc);
	case ARM64_PSTATE:
		return (int)offsetof(struct ekp_abi_regs_arm64, pstate);
	default:
		return -1; /* sp_el0 is not in the frame */
	}
}

const struct ekp_jump_arch arm64_jump_arch = {
	.max_site_probes = ARM64_JUMP_MAX_SITE_PROBES,
	.max_tramp_bytes = ARM64_JUMP_SLOT_SIZE,
	.max_jump_bytes = ARM64_JUMP_LEN,
	.frame_offset = arm64_frame_offset,
	.text_open = arm64_text_open,
	.text_close = arm64_text_close,
	.site_plan = arm64_site_plan,
	.site_free = arm64_site_free,
	.tramp_size = arm64_tramp_size,
	.tramp_build = arm64_tramp_build,
	.jump_build = arm64_jump_build,
};
