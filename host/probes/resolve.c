// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/probes/resolve.h"

#define MAX_DECODE (64 * 1024) /* longest stretch decoded to check an offset */

/* 1-based column of needle in the probe text, for messages. */
static unsigned int column_of(const struct ekp_probe *p, const char *needle)
{
	const char *at = needle && p->text ? strstr(p->text, needle) : NULL;

	return at ? (unsigned int)(at - p->text) + 1 : 1;
}

static int fail(const struct ekp_probe *p, const char *needle, int err, const char *why)
{
	return ekp_err(-err, "%s:%u:%u: %s", p->file ? p->file : "-p", p->line,
		       column_of(p, needle), why);
}

static bool is_text(char type)
{
	return type == 'T' || type == 't' || type == 'W' || type == 'w';
}

/* Offsets must fall on an instruction boundary, decoded from the symbol's start. */
static int check_boundary(struct ekp_probe *p, const struct ekp_symtab *st,
			  const struct ekp_arch *arch, const struct ekp_sym *sym, uint64_t off)
{
	uint8_t *code;
	uint64_t pos = 0;
	char why[256];
	int err = 0;

	if (off == 0)
		return 0;
	if (!ekp_symtab_has_image(st))
		return fail(p, p->sym, EINVAL,
			    "an offset into a function needs a vmlinux (not a System.map) to check "
			    "that it is on an instruction boundary");
	if (off > MAX_DECODE)
		return fail(p, p->sym, E2BIG, "offset too far into the function to check");
	code = malloc(off + 16);
	if (!code)
		return -ENOMEM;
	if (ekp_symtab_read(st, sym->addr, code, off + 16) &&
	    ekp_symtab_read(st, sym->addr, code, off)) {
		free(code);
		return fail(p, p->sym, ENODATA, "the vmlinux image has no bytes for this function");
	}
	while (pos < off) {
		int len = arch->insn_len(code + pos, (size_t)(off + 16 - pos), sym->addr + pos);

		if (len <= 0) {
			snprintf(why, sizeof(why), "cannot decode the instruction at %s+0x%" PRIx64,
				 sym->name, pos);
			err = fail(p, p->sym, EILSEQ, why);
			break;
		}
		if (pos + (uint64_t)len > off) {
			snprintf(why, sizeof(why),
				 "offset 0x%" PRIx64 " is inside the instruction at %s+0x%" PRIx64
				 " (%d bytes)", off, sym->name, pos, len);
			err = fail(p, p->sym, EILSEQ, why);
			break;
		}
		pos += (uint64_t)len;
	}
	free(code);
	return err;
}

static int resolve_fetch(struct ekp_probe *p, struct ekp_fetch *f, const struct ekp_symtab *st)
{
	struct ekp_sym sym;
	char why[512];
	int err;

	for (; f; f = f->inner) {
		if (f->op != EKP_FETCH_MEM_SYM)
			continue;
		err = ekp_symtab_lookup(st, f->sym, &sym);
		if (err) {
			snprintf(why, sizeof(why), "fetch-arg @%s: %s", f->sym,
				 err == -ENOENT ? "unknown symbol" : ekp_errmsg());
			return fail(p, f->sym, -err, why);
		}
		f->addr = sym.addr;
		f->resolved = true;
	}
	return 0;
}

int ekp_resolve_probe(struct ekp_probe *p, const struct ekp_symtab *st, const struct ekp_arch *arch)
{
	struct ekp_sym sym;
	uint64_t off;
	char why[512];
	int err;

	if (p->module && strcmp(p->module, "vmlinux")) {
		snprintf(why, sizeof(why), "module '%s': only vmlinux symbols exist before the "
			 "guest loads modules", p->module);
		return fail(p, p->module, EINVAL, why);
	}
	if (p->sym) {
		err = ekp_symtab_lookup(st, p->sym, &sym);
		if (err == -ENOENT) {
			snprintf(why, sizeof(why), "unknown symbol '%s'", p->sym);
			return fail(p, p->sym, ENOENT, why);
		}
		if (err) {
			snprintf(why, sizeof(why), "%s", ekp_errmsg());
			return fail(p, p->sym, -err, why);
		}
		if (!is_text(sym.type)) {
			snprintf(why, sizeof(why), "'%s' is not a function (symbol type '%c')",
				 p->sym, sym.type);
			return fail(p, p->sym, EINVAL, why);
		}
		if (sym.size && p->offset >= sym.size) {
			snprintf(why, sizeof(why), "offset 0x%" PRIx64 " is past the end of %s "
				 "(size 0x%" PRIx64 ")", p->offset, p->sym, sym.size);
			return fail(p, p->sym, ERANGE, why);
		}
		err = check_boundary(p, st, arch, &sym, p->offset);
		if (err)
			return err;
		p->addr = sym.addr + p->offset;
	} else {
		if (ekp_symtab_addr2sym(st, p->addr, &sym, &off) || !is_text(sym.type)) {
			snprintf(why, sizeof(why), "address 0x%" PRIx64 " is not in kernel text",
				 p->addr);
			return fail(p, NULL, EINVAL, why);
		}
		err = check_boundary(p, st, arch, &sym, off);
		if (err)
			return err;
	}
	for (unsigned int i = 0; i < p->nr_args; i++) {
		err = resolve_fetch(p, p->args[i].fetch, st);
		if (err)
			return err;
	}
	p->resolved = true;
	return 0;
}

int ekp_resolve_probes(struct ekp_probe_list *l, const struct ekp_symtab *st,
		       const struct ekp_arch *arch)
{
	for (unsigned int i = 0; i < ekp_probe_list_count(l); i++) {
		int err = ekp_resolve_probe(ekp_probe_list_get(l, i), st, arch);

		if (err)
			return err;
	}
	return 0;
}

static void relocate_fetch(struct ekp_fetch *f, uint64_t lo, uint64_t hi, uint64_t delta)
{
	for (; f; f = f->inner)
		if (f->op == EKP_FETCH_MEM_SYM && f->resolved && f->addr >= lo && f->addr < hi)
			f->addr += delta;
}

void ekp_probes_relocate(struct ekp_probe *const *probes, unsigned int n, uint64_t lo,
			 uint64_t hi, uint64_t delta)
{
	for (unsigned int i = 0; i < n; i++) {
		struct ekp_probe *p = probes[i];

		if (p->resolved && p->addr >= lo && p->addr < hi)
			p->addr += delta;
		for (unsigned int k = 0; k < p->nr_args; k++)
			relocate_fetch(p->args[k].fetch, lo, hi, delta);
	}
}
