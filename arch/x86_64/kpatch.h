/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Text a probe jump must not cover, from the guest's vmlinux (x86_64, Linux 6.1 layouts):
 * the places the kernel rewrites itself at boot (ftrace's call __fentry__ sites, alternatives,
 * paravirt sites, jump labels, static calls, SMP lock prefixes, retpoline / return-thunk /
 * ENDBR sites), the instructions the exception table names, and the text no probe may touch
 * (the kprobe blacklist's functions; noinstr, entry, kprobes, irqentry, softirqentry text;
 * the static call trampolines).
 *
 * Every table is read from the image and treated as untrusted: an entry whose address falls
 * outside kernel text is skipped and counted as invalid; a table whose bounds are inconsistent
 * (end before start, not a whole number of entries, bytes missing from the image) fails the
 * load, since a probe engine that cannot read a table cannot know what it must avoid.
 *
 * Opaque object; once loaded it is never modified, so any number of threads may query it.
 */
#ifndef EKPROBE_HOST_KPATCH_H
#define EKPROBE_HOST_KPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ekp_symtab;
struct ekp_kpatch;

enum ekp_kpatch_table {
	EKP_KPATCH_MCOUNT,            /* __start_mcount_loc: ftrace sites, 5 bytes */
	EKP_KPATCH_ALTERNATIVES,      /* __alt_instructions: sites and their replacements */
	EKP_KPATCH_PARAVIRT,          /* __parainstructions */
	EKP_KPATCH_JUMP_LABEL,        /* __start___jump_table: 2 or 5 bytes */
	EKP_KPATCH_STATIC_CALL,       /* __start_static_call_sites: 5 bytes (6: Jcc tail call) */
	EKP_KPATCH_EXTABLE,           /* __start___ex_table: the faulting instruction */
	EKP_KPATCH_SMP_LOCKS,         /* __smp_locks: lock prefixes, 1 byte */
	EKP_KPATCH_RETPOLINE,         /* __retpoline_sites */
	EKP_KPATCH_RETURN,            /* __return_sites */
	EKP_KPATCH_IBT_ENDBR,         /* __ibt_endbr_seal: endbr64, 4 bytes */
	EKP_KPATCH_KPROBE_BLACKLIST,  /* __start_kprobe_blacklist: whole functions */
	EKP_KPATCH_NOINSTR_TEXT,      /* [__noinstr_text_start, __noinstr_text_end) */
	EKP_KPATCH_ENTRY_TEXT,        /* [__entry_text_start, __entry_text_end) */
	EKP_KPATCH_KPROBES_TEXT,      /* [__kprobes_text_start, __kprobes_text_end) */
	EKP_KPATCH_IRQENTRY_TEXT,     /* [__irqentry_text_start, __irqentry_text_end) */
	EKP_KPATCH_SOFTIRQENTRY_TEXT, /* [__softirqentry_text_start, __softirqentry_text_end) */
	EKP_KPATCH_STATIC_CALL_TEXT,  /* [__static_call_text_start, __static_call_text_end) */
	EKP_KPATCH_NR_TABLES
};

struct ekp_kpatch_stats {
	bool present;   /* the image defines the table's bounding symbols */
	size_t entries; /* entries read (a text section: 1) */
	size_t ranges;  /* ranges recorded: an alternative gives two (site, replacement) */
	size_t skipped; /* entries the kernel itself ignores: NULL padding, empty alternatives,
			 * smp_locks outside [_text, _etext) */
	size_t invalid; /* entries pointing outside kernel text (or the image): not recorded */
	size_t guessed; /* sites whose instruction did not decode: a conservative length used */
};

/*
 * Read the tables of a vmlinux symtab (one loaded from an ELF: a System.map has no image,
 * -ENODATA). st must outlive the result (check() names places through it). -errno and an
 * ekp_err() reason on failure; *out is NULL then.
 */
int ekp_kpatch_load(const struct ekp_symtab *st, struct ekp_kpatch **out);
void ekp_kpatch_free(struct ekp_kpatch *k);

/*
 * 0 if nothing recorded overlaps [start, start + len) (len 0: nothing does); -EBUSY if
 * something does, with the reason recorded through ekp_err(), e.g. "overlaps an ftrace site
 * at do_one_initcall+0x0 (mcount_loc)"; -EINVAL if the range wraps. Patch sites are reported
 * before whole functions and text sections, the lowest-addressed first.
 */
int ekp_kpatch_check(const struct ekp_kpatch *k, uint64_t start, uint64_t len);

/* addr is the first byte of an ftrace (call __fentry__) site. */
bool ekp_kpatch_is_mcount(const struct ekp_kpatch *k, uint64_t addr);
/* The i-th ftrace site in address order; false past the end. */
bool ekp_kpatch_mcount_at(const struct ekp_kpatch *k, size_t i, uint64_t *addr);
/*
 * The exception table's fixup targets (where a faulting instruction resumes) in
 * [start, end), sorted: their count, and *first pointing at the first of them.
 */
size_t ekp_kpatch_fixups(const struct ekp_kpatch *k, uint64_t start, uint64_t end,
			 const uint64_t **first);

/* Counts for one table; -EINVAL for an unknown table. */
int ekp_kpatch_stats(const struct ekp_kpatch *k, enum ekp_kpatch_table t,
		     struct ekp_kpatch_stats *out);
/* The table's name as messages show it ("mcount_loc", "alt_instructions", ...); NULL if
 * unknown. */
const char *ekp_kpatch_table_name(enum ekp_kpatch_table t);

#endif
