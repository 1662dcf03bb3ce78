// SPDX-License-Identifier: GPL-2.0
/*
 * The x86_64 half of the jump engine behind the arch ops table: what a site must avoid is
 * read from the vmlinux (the kernel's self-patching tables, kpatch.c; the head text; the
 * retpoline thunks; the exception table's fixup targets), the site itself is checked and
 * decoded by jump_plan.c, the trampoline built by jump_tramp.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/jump.h"
#include "arch/x86_64/kpatch.h"
#include "arch/x86_64/x86_64.h"
#include "ekprobe/abi.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/symbols.h"

/* The last function of the head text (.head.text in 6.1: head_64.S, head64.c): from _text to
 * its end the code runs at its physical address before the kernel mapping exists. */
#define HEAD_TEXT_LAST_SYM "early_setup_idt"

struct ekp_jump_text {
	const struct ekp_symtab *st;
	struct ekp_kpatch *kpatch;
	uint64_t head_start, head_end;   /* [_text, end of the head text) */
	uint64_t thunk_start, thunk_end; /* retpoline thunks, when the kernel has them */
};

struct x86_64_site {
	struct ekp_jump_site pub;
	struct x86_64_jump_plan plan;
};

static const struct x86_64_site *priv(const struct ekp_jump_site *s)
{
	return (const struct x86_64_site *)((const char *)s - offsetof(struct x86_64_site, pub));
}

static int x86_64_text_open(const struct ekp_symtab *st, struct ekp_jump_text **out)
{
	struct ekp_jump_text *t = calloc(1, sizeof(*t));
	struct ekp_sym text, last, a, b;
	int err;

	if (!t)
		return ekp_err(ENOMEM, "out of memory");
	t->st = st;
	err = ekp_kpatch_load(st, &t->kpatch);
	if (err) {
		free(t);
		return err;
	}
	if (!ekp_symtab_lookup(st, "_text", &text) &&
	    !ekp_symtab_lookup(st, HEAD_TEXT_LAST_SYM, &last) && last.addr >= text.addr &&
	    last.addr - text.addr < (1u << 20)) {
		t->head_start = text.addr;
		t->head_end = last.addr + last.size;
	}
	if (!ekp_symtab_lookup(st, "__indirect_thunk_start", &a) &&
	    !ekp_symtab_lookup(st, "__indirect_thunk_end", &b) && a.addr <= b.addr) {
		t->thunk_start = a.addr;
		t->thunk_end = b.addr;
	}
	*out = t;
	return 0;
}

static void x86_64_text_close(struct ekp_jump_text *t)
{
	if (!t)
		return;
	ekp_kpatch_free(t->kpatch);
	free(t);
}

static int x86_64_site_plan(const struct ekp_jump_text *t, uint64_t addr, uint64_t slot,
			    struct ekp_jump_site **out)
{
	struct x86_64_jump_site in = { 0 };
	struct x86_64_site *s;
	struct ekp_sym sym;
	uint8_t *code;
	uint64_t off, j;
	int err;

	if (addr >= t->head_start && addr < t->head_end)
		return ekp_err(EOPNOTSUPP, "head text runs at its physical address before the "
			       "kernel mapping exists; trampolines need that mapping");
	if (ekp_symtab_addr2sym(t->st, addr, &sym, &off) || !sym.size)
		return ekp_err(ENOENT, "no sized function contains the probe");
	/* A probe at an ftrace site (call __fentry__ / nop5) jumps right after it: ftrace keeps
	 * its site untouched, and the registers and stack there are the function's entry ones. */
	j = addr;
	if (ekp_kpatch_is_mcount(t->kpatch, addr))
		j = addr + X86_64_JUMP_LEN;
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
	in.func_addr = sym.addr;
	in.func_name = sym.name;
	in.func = code;
	in.func_size = sym.size;
	in.jump_addr = j;
	in.probe_addr = addr;
	in.slot_addr = slot;
	/* Where the exception table resumes after a fault is an entry into the function that
	 * no branch of its own shows: it must not land inside the jump. */
	in.nr_entries = ekp_kpatch_fixups(t->kpatch, sym.addr, sym.addr + sym.size, &in.entries);
	in.thunk_start = t->thunk_start;
	in.thunk_end = t->thunk_end;
	err = x86_64_jump_plan(&in, &s->plan);
	if (!err)
		err = ekp_kpatch_check(t->kpatch, j, s->plan.displaced_len);
	if (err)
		goto out;
	s->pub.probe_addr = addr;
	s->pub.jump_addr = s->plan.jump_addr;
	s->pub.displaced_len = s->plan.displaced_len;
	s->pub.orig = s->plan.orig;
	s->pub.where = s->plan.where;
	*out = &s->pub;
	s = NULL;
out:
	free(code);
	free(s);
	return err;
}

static void x86_64_site_free(struct ekp_jump_site *s)
{
	if (s)
		free((void *)priv(s));
}

static size_t x86_64_tramp_size(const struct ekp_jump_site *s, unsigned int nr)
{
	return x86_64_trampoline_size(&priv(s)->plan, nr);
}

static int x86_64_tramp_build(const struct ekp_jump_site *s, uint64_t slot, uint64_t hit_entry,
			      const uint32_t *indices, unsigned int nr, uint8_t *buf,
			      size_t buflen, size_t *len)
{
	return x86_64_build_trampoline(&priv(s)->plan, slot, hit_entry, indices, nr, buf, buflen,
				       len);
}

static int x86_64_jump_build(const struct ekp_jump_site *s, uint64_t slot, uint8_t *buf,
			     size_t buflen, size_t *len)
{
	if (buflen < X86_64_JUMP_LEN)
		return ekp_err(ENOSPC, "no room for a jump");
	*len = X86_64_JUMP_LEN;
	return x86_64_encode_jmp5(s->jump_addr, slot, buf);
}

/* Register id -> byte offset in the trampoline's frame (struct ekp_abi_regs: pt_regs). */
#define FRAME(f) ((int)offsetof(struct ekp_abi_regs, f))
static const int frame_off[X86_64_NR_REGS] = {
	[X86_64_AX] = FRAME(ax),   [X86_64_BX] = FRAME(bx),   [X86_64_CX] = FRAME(cx),
	[X86_64_DX] = FRAME(dx),   [X86_64_SI] = FRAME(si),   [X86_64_DI] = FRAME(di),
	[X86_64_BP] = FRAME(bp),   [X86_64_SP] = FRAME(sp),   [X86_64_R8] = FRAME(r8),
	[X86_64_R9] = FRAME(r9),   [X86_64_R10] = FRAME(r10), [X86_64_R11] = FRAME(r11),
	[X86_64_R12] = FRAME(r12), [X86_64_R13] = FRAME(r13), [X86_64_R14] = FRAME(r14),
	[X86_64_R15] = FRAME(r15), [X86_64_IP] = FRAME(ip),   [X86_64_FLAGS] = FRAME(flags),
	[X86_64_CS] = FRAME(cs),   [X86_64_SS] = FRAME(ss),
	/* The trampoline stores the probe index in orig_ax, not the CPU's value. */
	[X86_64_ORIG_AX] = -1,
	[X86_64_FS_BASE] = -1,     [X86_64_GS_BASE] = -1,     [X86_64_CR3] = -1,
};

static int x86_64_frame_offset(int reg)
{
	return reg >= 0 && reg < X86_64_NR_REGS ? frame_off[reg] : -1;
}

const struct ekp_jump_arch x86_64_jump_arch = {
	.max_site_probes = X86_64_JUMP_MAX_SITE_PROBES,
	.max_tramp_bytes = X86_64_JUMP_SLOT_SIZE,
	.max_jump_bytes = X86_64_JUMP_LEN,
	.frame_offset = x86_64_frame_offset,
	.text_open = x86_64_text_open,
	.text_close = x86_64_text_close,
	.site_plan = x86_64_site_plan,
	.site_free = x86_64_site_free,
	.tramp_size = x86_64_tramp_size,
	.tramp_build = x86_64_tramp_build,
	.jump_build = x86_64_jump_build,
};
