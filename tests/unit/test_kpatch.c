// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel patch tables: a miniature vmlinux assembled here with gcc (one site of each kind and
 * the tables naming it, with padding and bad entries), malformed tables, a System.map, and,
 * when EKPROBE_VMLINUX names one, the real guest vmlinux (checked against its own tables,
 * read here independently).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/symbols.h"
#include "tests/unit/helpers.h"
#include "arch/x86_64/kpatch.h"

/* ---- helpers ---- */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static uint64_t sym_addr(const struct ekp_symtab *st, const char *name)
{
	struct ekp_sym s;
	int err = ekp_symtab_lookup(st, name, &s);

	if (err)
		fail_msg("lookup %s: %d %s", name, err, ekp_errmsg());
	return s.addr;
}

static struct ekp_kpatch_stats stats(const struct ekp_kpatch *k, enum ekp_kpatch_table t)
{
	struct ekp_kpatch_stats s;

	assert_int_equal(ekp_kpatch_stats(k, t, &s), 0);
	return s;
}

/* [a, a + len) is refused, and why contains each of the NULL-terminated strings. */
static void expect_busy(const struct ekp_kpatch *k, uint64_t a, uint64_t len, ...)
{
	const char *want, *why;
	va_list ap;
	int err = ekp_kpatch_check(k, a, len);

	why = ekp_errstr(err);
	if (err != -EBUSY)
		fail_msg("0x%" PRIx64 "+%" PRIu64 ": %d (%s), expected -EBUSY", a, len, err, why);
	va_start(ap, len);
	while ((want = va_arg(ap, const char *)))
		if (!strstr(why, want))
			fail_msg("0x%" PRIx64 "+%" PRIu64 ": \"%s\" lacks \"%s\"", a, len, why, want);
	va_end(ap);
}

static void expect_clear(const struct ekp_kpatch *k, uint64_t a, uint64_t len)
{
	int err;

	ekp_err_clear();
	err = ekp_kpatch_check(k, a, len);
	if (err)
		fail_msg("0x%" PRIx64 "+%" PRIu64 ": %d (%s), expected clear", a, len, err,
			 ekp_errstr(err));
	assert_string_equal(ekp_errmsg(), "");
}

/* ---- a miniature vmlinux ---- */

static const char kp_s[] =
	"/* A miniature vmlinux: text with one site of each kind, and the tables that name them. */\n"
	"\t.section .note.GNU-stack,\"\",@progbits\n"
	"\n"
	"\t.text\n"
	"\t.globl _start, _text, _stext, _etext\n"
	"_text:\n"
	"_stext:\n"
	"_start:\n"
	"\t.globl func_a\n"
	"\t.type func_a, @function\n"
	"func_a:\n"
	"site_mc:\tcall __fentry__\t\t\t/* mcount_loc, 5 */\n"
	"\tnop\n"
	"site_jl2:\tjmp site_jl2t\t\t\t/* __jump_table, eb 00: 2 */\n"
	"site_jl2t:\tnop\n"
	"site_jl5:\t.byte 0x0f, 0x1f, 0x44, 0, 0\t/* __jump_table, nop5: 5 */\n"
	"\tnop\n"
	"site_lock:\tlock incl (%rax)\t\t/* smp_locks: the f0 byte */\n"
	"site_ex:\tmovq (%rdi), %rax\t\t/* __ex_table: 3 */\n"
	"\tnop\n"
	"site_sc:\tcall func_b\t\t\t/* static_call_sites: 5 */\n"
	"\tnop\n"
	"site_sct:\t.byte 0x0f, 0x85\t\t/* static_call_sites, tail Jcc: 6 */\n"
	"\t.long func_b - . - 4\n"
	"\tnop\n"
	"site_alt:\t.byte 0x90, 0x90, 0x90\t\t/* alt_instructions: 3 */\n"
	"\tnop\n"
	"site_pv:\t.byte 0xff, 0x15, 0, 0, 0, 0\t/* parainstructions: 6 */\n"
	"\tnop\n"
	"site_rp:\tcall __x86_indirect_thunk_rax\t/* retpoline_sites: 5 */\n"
	"\tnop\n"
	"site_rt:\t.byte 0xe9\t\t\t/* return_sites: 5 */\n"
	"\t.long __x86_return_thunk - . - 4\n"
	"\tnop\n"
	"site_endbr:\tendbr64\t\t\t\t/* ibt_endbr_seal: 4 */\n"
	"\tnop\n"
	"site_clear:\tnop; nop; nop; nop; nop; nop; nop; nop\n"
	"\tret\n"
	"\t.size func_a, . - func_a\n"
	"\n"
	"\t.globl func_x\n"
	"\t.type func_x, @function\n"
	"func_x:\tnop; nop; nop\t\t\t/* a jump at func_x would cover x_fixup */\n"
	"x_fixup:\tnop; nop; nop; nop; nop\t/* __ex_table: where x_insn's fault resumes */\n"
	"x_insn:\tmovq (%rdi), %rax\t\t/* __ex_table: 3 */\n"
	"\tnop; nop; nop; nop; nop\n"
	"\tret\n"
	"\t.size func_x, . - func_x\n"
	"\n"
	"\t.globl func_b\n"
	"\t.type func_b, @function\n"
	"func_b:\tcall __fentry__\t\t\t\t/* mcount_loc; kprobe_blacklist */\n"
	"\tnop; nop; nop; nop\n"
	"\tret\n"
	"\t.size func_b, . - func_b\n"
	"\n"
	"\t.globl __noinstr_text_start, __noinstr_text_end, func_n\n"
	"__noinstr_text_start:\n"
	"\t.type func_n, @function\n"
	"func_n:\tnop; nop; ret\n"
	"\t.size func_n, . - func_n\n"
	"__noinstr_text_end:\n"
	"\n"
	"\t.globl __entry_text_start, __entry_text_end, func_e\n"
	"__entry_text_start:\n"
	"\t.type func_e, @function\n"
	"func_e:\tnop; ret\n"
	"\t.size func_e, . - func_e\n"
	"__entry_text_end:\n"
	"\n"
	"\t.globl __kprobes_text_start, __kprobes_text_end\n"
	"__kprobes_text_start:\n"
	"__kprobes_text_end:\n"
	"\n"
	"\t.globl __static_call_text_start, __static_call_text_end, __SCT__foo\n"
	"__static_call_text_start:\n"
	"\t.type __SCT__foo, @function\n"
	"__SCT__foo:\t.byte 0xe9\n"
	"\t.long func_b - . - 4\n"
	"\t.byte 0x0f, 0xb9, 0xcc\n"
	"\t.size __SCT__foo, . - __SCT__foo\n"
	"__static_call_text_end:\n"
	"\n"
	"\t.globl __fentry__, __x86_indirect_thunk_rax, __x86_return_thunk\n"
	"\t.type __fentry__, @function\n"
	"__fentry__:\tret\n"
	"\t.size __fentry__, . - __fentry__\n"
	"\t.type __x86_indirect_thunk_rax, @function\n"
	"__x86_indirect_thunk_rax:\tjmp *%rax\n"
	"\t.size __x86_indirect_thunk_rax, . - __x86_indirect_thunk_rax\n"
	"\t.type __x86_return_thunk, @function\n"
	"__x86_return_thunk:\tret\n"
	"\t.size __x86_return_thunk, . - __x86_return_thunk\n"
	"_etext:\n"
	"\n"
	"\t.section .init.text, \"ax\"\n"
	"\t.globl _sinittext, _einittext, init_func\n"
	"_sinittext:\n"
	"\t.type init_func, @function\n"
	"init_func:\tcall __fentry__\t\t\t/* mcount_loc (init text is traced too) */\n"
	"init_lock:\tlock incl (%rax)\t\t/* smp_locks outside _text.._etext: ignored */\n"
	"\tret\n"
	"\t.size init_func, . - init_func\n"
	"_einittext:\n"
	"\n"
	"\t.section .altinstr_replacement, \"ax\"\n"
	"repl:\t.byte 0x0f, 0xae, 0xe8\t\t\t/* lfence */\n"
	"\n"
	"\t.data\n"
	"\t.balign 8\n"
	"\t.globl __SCK__foo, __SCK__bar, key_a, key_b, not_text\n"
	"__SCK__foo:\t.quad 0\n"
	"__SCK__bar:\t.quad 0\n"
	"key_a:\t.quad 0\n"
	"key_b:\t.quad 0\n"
	"not_text:\t.quad 0\n"
	"\n"
	"\t.balign 8\n"
	"\t.globl __start_mcount_loc, __stop_mcount_loc\n"
	"__start_mcount_loc:\n"
	"\t.quad site_mc\n"
	"\t.quad func_b\n"
	"\t.quad init_func\n"
	"\t.quad 0\t\t\t\t\t/* padding: skipped */\n"
	"\t.quad not_text\t\t\t\t/* invalid */\n"
	"#ifdef BAD_SIZE\n"
	"\t.long 0\t\t\t\t\t/* not a whole entry */\n"
	"#endif\n"
	"__stop_mcount_loc:\n"
	"\n"
	"\t.globl __alt_instructions, __alt_instructions_end\n"
	"__alt_instructions:\n"
	"\t.long site_alt - .\n"
	"\t.long repl - .\n"
	"\t.word 0x123\n"
	"\t.byte 3, 3\n"
	"\t.long not_text - .\t\t\t/* invalid */\n"
	"\t.long repl - .\n"
	"\t.word 0x123\n"
	"\t.byte 2, 2\n"
	"\t.long site_alt - .\t\t\t/* nothing to patch: skipped */\n"
	"\t.long repl - .\n"
	"\t.word 0x123\n"
	"\t.byte 0, 0\n"
	"__alt_instructions_end:\n"
	"\n"
	"\t.balign 8\n"
	"\t.globl __parainstructions, __parainstructions_end\n"
	"__parainstructions:\n"
	"\t.quad site_pv\n"
	"\t.byte 1, 6\n"
	"\t.short 0\n"
	"\t.balign 8\n"
	"__parainstructions_end:\n"
	"\n"
	"\t.balign 8\n"
	"\t.globl __start___jump_table, __stop___jump_table\n"
	"__start___jump_table:\n"
	"\t.long site_jl2 - .\n"
	"\t.long site_jl2t - .\n"
	"\t.quad key_a - . + 1\n"
	"\t.long site_jl5 - .\n"
	"\t.long site_jl5 + 5 - .\n"
	"\t.quad key_b - .\n"
	"__stop___jump_table:\n"
	"\n"
	"\t.globl __start_static_call_sites, __stop_static_call_sites\n"
	"__start_static_call_sites:\n"
	"\t.long site_sc - .\n"
	"\t.long __SCK__foo - .\n"
	"\t.long site_sct - .\n"
	"\t.long __SCK__bar - . + 1\t\t/* STATIC_CALL_SITE_TAIL */\n"
	"__stop_static_call_sites:\n"
	"\n"
	"\t.globl __start___ex_table, __stop___ex_table\n"
	"__start___ex_table:\n"
	"\t.long site_ex - .\n"
	"\t.long site_ex + 3 - .\n"
	"\t.long 0\n"
	"\t.long x_insn - .\n"
	"\t.long x_fixup - .\n"
	"\t.long 0\n"
	"__stop___ex_table:\n"
	"\n"
	"\t.globl __smp_locks, __smp_locks_end\n"
	"__smp_locks:\n"
	"\t.long site_lock - .\n"
	"\t.long init_lock - .\t\t\t/* outside _text.._etext: skipped */\n"
	"\t.long 0\t\t\t\t\t/* padding: skipped */\n"
	"__smp_locks_end:\n"
	"\n"
	"\t.globl __retpoline_sites, __retpoline_sites_end, __return_sites, __return_sites_end\n"
	"__retpoline_sites:\n"
	"\t.long site_rp - .\n"
	"__retpoline_sites_end:\n"
	"__return_sites:\n"
	"\t.long site_rt - .\n"
	"__return_sites_end:\n"
	"\t.globl __ibt_endbr_seal, __ibt_endbr_seal_end\n"
	"__ibt_endbr_seal:\n"
	"\t.long site_endbr - .\n"
	"__ibt_endbr_seal_end:\n"
	"\n"
	"#ifdef BAD_BSS\n"
	"\t.bss\n"
	"#endif\n"
	"\t.balign 8\n"
	"\t.globl __start_kprobe_blacklist, __stop_kprobe_blacklist\n"
	"__start_kprobe_blacklist:\n"
	"#ifdef BAD_BSS\n"
	"\t.skip 8\n"
	"#else\n"
	"\t.quad func_b\n"
	"#endif\n"
	"__stop_kprobe_blacklist:\n";

/* Assembles the miniature vmlinux (and its broken variants) once; false without gcc. */
static bool build_kp(void)
{
	static int built = -1;

	if (built < 0) {
		t_write_file(t_tmp_path("kp.S"), kp_s, sizeof(kp_s) - 1);
		built = run("cd %s && for v in OK BAD_SIZE BAD_BSS; do gcc -D$v -nostdlib -static "
			    "-no-pie -Wl,--build-id=none -o kp-$v kp.S 2>/dev/null || exit 1; done; "
			    "printf '\\t.section .note.GNU-stack,\"\",@progbits\\n\\t.text\\n"
			    "\\t.globl _start\\n_start:\\tret\\n' > bare.S && gcc -nostdlib -static "
			    "-no-pie -o bare bare.S 2>/dev/null", t_tmp_dir()) == 0;
	}
	return built;
}

struct site {
	const char *label;
	uint64_t len;
	const char *table, *what;
};

/* Every site of kp.S, its length, and what a refusal names. */
static const struct site kp_sites[] = {
	{ "site_mc", 5, "(mcount_loc)", "an ftrace site at func_a+0x0" },
	{ "site_jl2", 2, "(__jump_table, key key_a)", "a jump label at func_a+0x6" },
	{ "site_jl5", 5, "(__jump_table, key key_b)", "a jump label" },
	{ "site_lock", 1, "(smp_locks)", "lock prefix" },
	{ "site_ex", 3, "(__ex_table)", "exception-table" },
	{ "site_sc", 5, "(static_call_sites, key __SCK__foo)", "a static call site" },
	{ "site_sct", 6, "(static_call_sites, key __SCK__bar)", "a static call site" },
	{ "site_alt", 3, "(alt_instructions)", "an alternative at" },
	{ "site_pv", 6, "(parainstructions)", "paravirt" },
	{ "site_rp", 5, "(retpoline_sites)", "retpoline" },
	{ "site_rt", 5, "(return_sites)", "return-thunk" },
	{ "site_endbr", 4, "(ibt_endbr_seal)", "ENDBR" },
	{ "repl", 3, "(alt_instructions)", "an alternative's replacement at repl+0x0" },
};

static struct ekp_symtab *load_elf(const char *name)
{
	struct ekp_symtab *st = NULL;

	if (ekp_symtab_load(t_tmp_path(name), &st))
		fail_msg("%s: %s", name, ekp_errmsg());
	return st;
}

static void test_synthetic(void **state)
{
	static const struct {
		enum ekp_kpatch_table t;
		bool present;
		size_t entries, ranges, skipped, invalid;
	} want[] = {
		{ EKP_KPATCH_MCOUNT, true, 5, 3, 1, 1 },     /* NULL padding; one in .data */
		{ EKP_KPATCH_ALTERNATIVES, true, 3, 2, 1, 1 }, /* site + replacement */
		{ EKP_KPATCH_PARAVIRT, true, 1, 1, 0, 0 },
		{ EKP_KPATCH_JUMP_LABEL, true, 2, 2, 0, 0 },
		{ EKP_KPATCH_STATIC_CALL, true, 2, 2, 0, 0 },
		{ EKP_KPATCH_EXTABLE, true, 2, 2, 0, 0 },
		{ EKP_KPATCH_SMP_LOCKS, true, 3, 1, 2, 0 },   /* padding; init text */
		{ EKP_KPATCH_RETPOLINE, true, 1, 1, 0, 0 },
		{ EKP_KPATCH_RETURN, true, 1, 1, 0, 0 },
		{ EKP_KPATCH_IBT_ENDBR, true, 1, 1, 0, 0 },
		{ EKP_KPATCH_KPROBE_BLACKLIST, true, 1, 1, 0, 0 },
		{ EKP_KPATCH_NOINSTR_TEXT, true, 1, 1, 0, 0 },
		{ EKP_KPATCH_ENTRY_TEXT, true, 1, 1, 0, 0 },
		{ EKP_KPATCH_KPROBES_TEXT, true, 1, 0, 0, 0 }, /* empty */
		{ EKP_KPATCH_IRQENTRY_TEXT, false, 0, 0, 0, 0 },
		{ EKP_KPATCH_SOFTIRQENTRY_TEXT, false, 0, 0, 0, 0 },
		{ EKP_KPATCH_STATIC_CALL_TEXT, true, 1, 1, 0, 0 },
	};
	struct ekp_symtab *st;
	struct ekp_kpatch *k = NULL;
	struct ekp_kpatch_stats s;
	struct ekp_sym fa;
	uint64_t a, mc[3];
	size_t i;

	(void)state;
	if (!build_kp())
		skip();
	st = load_elf("kp-OK");
	if (ekp_kpatch_load(st, &k))
		fail_msg("load: %s", ekp_errmsg());
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		s = stats(k, want[i].t);
		if (s.present != want[i].present || s.entries != want[i].entries ||
		    s.ranges != want[i].ranges || s.skipped != want[i].skipped ||
		    s.invalid != want[i].invalid || s.guessed)
			fail_msg("%s: present %d entries %zu ranges %zu skipped %zu invalid %zu "
				 "guessed %zu", ekp_kpatch_table_name(want[i].t), s.present,
				 s.entries, s.ranges, s.skipped, s.invalid, s.guessed);
	}
	assert_int_equal(ekp_kpatch_stats(k, EKP_KPATCH_NR_TABLES, &s), -EINVAL);
	assert_null(ekp_kpatch_table_name(EKP_KPATCH_NR_TABLES));
	assert_string_equal(ekp_kpatch_table_name(EKP_KPATCH_MCOUNT), "mcount_loc");

	/* Each site: refused whole, at its first and last byte, and by a range running into
	 * it; the bytes either side are free (kp.S leaves a gap or a non-site there). */
	for (i = 0; i < sizeof(kp_sites) / sizeof(kp_sites[0]); i++) {
		const struct site *x = &kp_sites[i];

		a = sym_addr(st, x->label);
		expect_busy(k, a, x->len, x->table, x->what, NULL);
		expect_busy(k, a, 1, x->table, NULL);
		expect_busy(k, a + x->len - 1, 1, x->table, NULL);
		expect_busy(k, a - 1, 2, x->table, NULL);
		expect_clear(k, a + x->len, 1);
		if (strcmp(x->label, "site_mc") && strcmp(x->label, "repl"))
			expect_clear(k, a - 1, 1);
	}
	/* Only the lock prefix of "lock incl (%rax)"; a decoded 2-byte jump label. */
	expect_clear(k, sym_addr(st, "site_lock") + 1, 2);
	expect_clear(k, sym_addr(st, "site_jl2t"), 1);
	/* A 5-byte jump at a clear stretch; the whole function is not. */
	expect_clear(k, sym_addr(st, "site_clear"), 8);
	assert_int_equal(ekp_symtab_lookup(st, "func_a", &fa), 0);
	expect_busy(k, fa.addr + 5, fa.size - 5, "a jump label at func_a+0x6", NULL);

	/* Whole functions and text sections, named where the range meets them. */
	a = sym_addr(st, "func_b");
	expect_busy(k, a, 1, "ftrace site at func_b+0x0 (mcount_loc)", NULL); /* sites first */
	expect_busy(k, a + 5, 5, "kprobe blacklist at func_b+0x5 (kprobe_blacklist)", NULL);
	expect_busy(k, sym_addr(st, "func_n") + 1, 1, "noinstr text at func_n+0x1 (.noinstr.text)",
		    NULL);
	expect_busy(k, sym_addr(st, "func_e"), 1, "entry text at func_e+0x0 (.entry.text)", NULL);
	expect_busy(k, sym_addr(st, "__SCT__foo") + 5, 3, "(.static_call.text)", NULL);
	expect_clear(k, sym_addr(st, "__fentry__"), 1);

	/* Init text: traced, but its lock prefixes are not patched (outside _text.._etext). */
	a = sym_addr(st, "init_func");
	expect_busy(k, a, 5, "ftrace site at init_func+0x0", NULL);
	expect_clear(k, a + 5, 4);

	/* ftrace sites: exact starts, in order. */
	mc[0] = sym_addr(st, "site_mc");
	mc[1] = sym_addr(st, "func_b");
	mc[2] = sym_addr(st, "init_func");
	for (i = 0; i < 3; i++) {
		assert_true(ekp_kpatch_mcount_at(k, i, &a));
		assert_int_equal(a, mc[i]);
		assert_true(ekp_kpatch_is_mcount(k, mc[i]));
		assert_false(ekp_kpatch_is_mcount(k, mc[i] + 1));
		assert_false(ekp_kpatch_is_mcount(k, mc[i] - 1));
	}
	assert_false(ekp_kpatch_mcount_at(k, 3, &a));
	assert_false(ekp_kpatch_is_mcount(k, sym_addr(st, "not_text")));
	assert_false(ekp_kpatch_is_mcount(k, 0));

	/* Odd ranges and buffers. */
	a = sym_addr(st, "site_mc");
	assert_int_equal(ekp_kpatch_check(k, a, 0), 0);
	assert_int_equal(ekp_kpatch_check(k, UINT64_MAX - 3, 8), -EINVAL);
	assert_non_null(strstr(ekp_errstr(-EINVAL), "wraps"));
	assert_int_equal(ekp_kpatch_check(k, UINT64_MAX - 3, 4), 0);
	assert_int_equal(ekp_kpatch_check(k, a, 1), -EBUSY);
	assert_non_null(strstr(ekp_errstr(-EBUSY), "mcount_loc"));
	assert_int_equal(ekp_kpatch_check(k, 0, UINT64_MAX), -EBUSY);
	/* the lowest site first */
	assert_non_null(strstr(ekp_errstr(-EBUSY), "func_a+0x0 (mcount_loc)"));

	ekp_kpatch_free(k);
	ekp_symtab_free(st);
}

/*
 * The exception table's fixup targets come out of the production reader, and the jump
 * engine's site planner (the arch's, as the engine calls it) refuses a jump whose displaced
 * bytes a fault would resume into, naming the place.
 */
static void test_fixup_entry_refused(void **state)
{
	const struct ekp_jump_arch *ja = ekp_arch_x86_64.jump;
	struct ekp_jump_text *text = NULL;
	struct ekp_jump_site *site = NULL;
	struct ekp_symtab *st;
	struct ekp_kpatch *k = NULL;
	const uint64_t *fx;
	uint64_t fa, slot;
	int err;

	(void)state;
	if (!build_kp())
		fail_msg("cannot assemble the miniature vmlinux (gcc)");
	st = load_elf("kp-OK");
	assert_int_equal(ekp_kpatch_load(st, &k), 0);
	fa = sym_addr(st, "func_x");
	assert_int_equal(ekp_kpatch_fixups(k, fa, fa + 32, &fx), 1);
	assert_int_equal(fx[0], sym_addr(st, "x_fixup"));
	assert_int_equal(ekp_kpatch_fixups(k, 0, fa, &fx), 1); /* site_ex + 3, in func_a */
	assert_int_equal(ekp_kpatch_fixups(k, fa, fa, &fx), 0);
	ekp_kpatch_free(k);

	slot = sym_addr(st, "_etext");
	assert_int_equal(ja->text_open(st, &text), 0);
	err = ja->site_plan(text, fa, slot, &site);
	assert_int_equal(err, -EBUSY);
	assert_non_null(strstr(ekp_errstr(err), "func_x+0x3"));
	assert_non_null(strstr(ekp_errstr(err), "exception fixup"));
	/* After the fixup the function takes a jump (5 nops: nothing the kernel patches). */
	err = ja->site_plan(text, fa + 3, slot, &site);
	if (err)
		fail_msg("func_x+0x3: %s", ekp_errstr(err));
	assert_int_equal(site->jump_addr, fa + 3);
	ja->site_free(site);
	ja->text_close(text);
	ekp_symtab_free(st);
}

static void test_synthetic_bad(void **state)
{
	struct ekp_symtab *st;
	struct ekp_kpatch *k = (struct ekp_kpatch *)&k;

	(void)state;
	if (!build_kp())
		skip();
	st = load_elf("kp-BAD_SIZE");
	assert_int_equal(ekp_kpatch_load(st, &k), -EINVAL);
	assert_null(k);
	assert_non_null(strstr(ekp_errmsg(), "mcount_loc"));
	assert_non_null(strstr(ekp_errmsg(), "whole number of 8-byte entries"));
	ekp_symtab_free(st);

	/* A table with no bytes in the image: fail rather than guess. */
	st = load_elf("kp-BAD_BSS");
	assert_int_equal(ekp_kpatch_load(st, &k), -ENODATA);
	assert_null(k);
	assert_non_null(strstr(ekp_errmsg(), "kprobe_blacklist"));
	ekp_symtab_free(st);
}

static void test_no_tables(void **state)
{
	struct ekp_symtab *st;
	struct ekp_kpatch *k;
	uint64_t a;

	(void)state;
	if (!build_kp())
		skip();
	st = load_elf("bare");
	assert_int_equal(ekp_kpatch_load(st, &k), 0);
	for (int t = 0; t < EKP_KPATCH_NR_TABLES; t++)
		assert_false(stats(k, (enum ekp_kpatch_table)t).present);
	a = sym_addr(st, "_start");
	expect_clear(k, a, 5);
	expect_clear(k, 0, UINT64_MAX);
	assert_false(ekp_kpatch_is_mcount(k, a));
	assert_false(ekp_kpatch_mcount_at(k, 0, &a));
	ekp_kpatch_free(k);
	ekp_symtab_free(st);
	ekp_kpatch_free(NULL);
}

static void test_map_only(void **state)
{
	static const char map[] =
		"ffffffff81000000 T _stext\n"
		"ffffffff81000100 T do_one_initcall\n"
		"ffffffff81200000 D __start_mcount_loc\n"
		"ffffffff81200008 D __stop_mcount_loc\n";
	struct ekp_symtab *st;
	struct ekp_kpatch *k = (struct ekp_kpatch *)&k;

	(void)state;
	assert_int_equal(ekp_symtab_load_mem(map, sizeof(map) - 1, false, &st), 0);
	assert_int_equal(ekp_kpatch_load(st, &k), -ENODATA);
	assert_null(k);
	assert_non_null(strstr(ekp_errmsg(), "vmlinux"));
	ekp_symtab_free(st);
}

/* ---- the real vmlinux ---- */

static const char *vmlinux_path(void)
{
	const char *v = getenv("EKPROBE_VMLINUX");

	return v && *v ? v : NULL;
}

struct real {
	struct ekp_symtab *st;
	struct ekp_kpatch *k;
};

static int real_setup(void **state)
{
	static struct real r;

	*state = NULL;
	if (!vmlinux_path())
		return 0;
	if (ekp_symtab_load(vmlinux_path(), &r.st) || ekp_kpatch_load(r.st, &r.k)) {
		fprintf(stderr, "%s\n", ekp_errmsg());
		return -1;
	}
	*state = &r;
	return 0;
}

static int real_teardown(void **state)
{
	struct real *r = *state;

	if (r) {
		ekp_kpatch_free(r->k);
		ekp_symtab_free(r->st);
	}
	return 0;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A table of the image, read here independently of kpatch.c; *n entries. */
static uint8_t *read_table(const struct ekp_symtab *st, const char *first, const char *last,
			   size_t entsize, uint64_t *base, size_t *n)
{
	uint64_t a = sym_addr(st, first), b = sym_addr(st, last);
	uint8_t *buf;

	assert_true(b >= a);
	assert_int_equal((b - a) % entsize, 0);
	buf = malloc(b - a + 1);
	assert_non_null(buf);
	if (b > a)
		assert_int_equal(ekp_symtab_read(st, a, buf, b - a), 0);
	*base = a;
	*n = (b - a) / entsize;
	return buf;
}

/* Each site is refused; at least one refusal (most, unless sites share bytes) names table. */
struct real_site {
	uint64_t a, len;
};

static void expect_sites(const struct ekp_kpatch *k, const struct real_site *v, size_t n,
			 const char *table)
{
	size_t named = 0;

	for (size_t i = 0; i < n; i++) {
		if (ekp_kpatch_check(k, v[i].a, v[i].len) != -EBUSY)
			fail_msg("%s site 0x%" PRIx64 "+%" PRIu64 " is not refused", table, v[i].a,
				 v[i].len);
		named += strstr(ekp_errstr(-EBUSY), table) != NULL;
	}
	if (n && named * 2 < n)
		fail_msg("%s: only %zu of %zu refusals name the table", table, named, n);
}

static void test_real_counts(void **state)
{
	struct real *r = *state;
	struct ekp_kpatch_stats s;
	uint64_t a, fentry;
	uint8_t code[5];
	size_t i;

	if (!r)
		skip();
	for (int t = 0; t < EKP_KPATCH_NR_TABLES; t++) {
		s = stats(r->k, (enum ekp_kpatch_table)t);
		printf("  %-20s %s entries %zu ranges %zu skipped %zu invalid %zu guessed %zu\n",
		       ekp_kpatch_table_name((enum ekp_kpatch_table)t), s.present ? "+" : "-",
		       s.entries, s.ranges, s.skipped, s.invalid, s.guessed);
		if (s.invalid || s.guessed)
			fail_msg("%s: %zu invalid, %zu guessed entries in a real kernel",
				 ekp_kpatch_table_name((enum ekp_kpatch_table)t), s.invalid,
				 s.guessed);
	}
	/* The default guest: tinyconfig + ftrace, kprobes, SMP, paravirt; no jump labels. */
	s = stats(r->k, EKP_KPATCH_MCOUNT);
	assert_true(s.present && s.entries > 10000 && s.ranges == s.entries - s.skipped);
	assert_true(stats(r->k, EKP_KPATCH_ALTERNATIVES).entries > 100);
	assert_true(stats(r->k, EKP_KPATCH_STATIC_CALL).entries > 10);
	assert_true(stats(r->k, EKP_KPATCH_EXTABLE).entries > 10);
	assert_true(stats(r->k, EKP_KPATCH_SMP_LOCKS).ranges > 100);
	assert_true(stats(r->k, EKP_KPATCH_KPROBE_BLACKLIST).ranges > 10);
	assert_true(stats(r->k, EKP_KPATCH_JUMP_LABEL).present);
	assert_int_equal(stats(r->k, EKP_KPATCH_NOINSTR_TEXT).ranges, 1);
	assert_int_equal(stats(r->k, EKP_KPATCH_ENTRY_TEXT).ranges, 1);

	/* Every ftrace site is, in the image, a call to __fentry__. */
	fentry = sym_addr(r->st, "__fentry__");
	for (i = 0; ekp_kpatch_mcount_at(r->k, i, &a); i++) {
		assert_int_equal(ekp_symtab_read(r->st, a, code, sizeof(code)), 0);
		if (code[0] != 0xe8 || a + 5 + (uint64_t)(int64_t)(int32_t)rd32(code + 1) != fentry)
			fail_msg("ftrace site 0x%" PRIx64 " is not call __fentry__", a);
	}
	assert_int_equal(i, stats(r->k, EKP_KPATCH_MCOUNT).ranges);
}

static void test_real_sites(void **state)
{
	struct real *r = *state;
	struct real_site *v;
	struct ekp_sym f;
	uint64_t base, a;
	uint8_t *t;
	size_t n, i, m;
	bool found;

	if (!r)
		skip();
	a = sym_addr(r->st, "do_one_initcall");
	assert_true(ekp_kpatch_is_mcount(r->k, a));
	assert_false(ekp_kpatch_is_mcount(r->k, a + 5));
	assert_int_equal(ekp_kpatch_check(r->k, a, 5), -EBUSY);
	assert_string_equal(ekp_errstr(-EBUSY),
			    "overlaps an ftrace site at do_one_initcall+0x0 (mcount_loc)");
	expect_busy(r->k, a + 4, 1, "do_one_initcall+0x0 (mcount_loc)", NULL);
	expect_clear(r->k, a + 5, 5); /* push %r13; xor %eax,%eax; ... */
	a = sym_addr(r->st, "start_kernel");
	assert_true(ekp_kpatch_is_mcount(r->k, a));
	expect_clear(r->k, a + 5, 5); /* push %r14; xor %r10d,%r10d */

	/* alternatives: struct alt_instr, 12 bytes packed. */
	t = read_table(r->st, "__alt_instructions", "__alt_instructions_end", 12, &base, &n);
	v = calloc(n + 1, sizeof(*v));
	assert_non_null(v);
	for (i = m = 0; i < n; i++) {
		const uint8_t *e = t + 12 * i;
		unsigned int len = e[10] > e[11] ? e[10] : e[11];

		if (len) {
			v[m].a = base + 12 * i + (uint64_t)(int64_t)(int32_t)rd32(e);
			v[m++].len = len;
		}
	}
	assert_true(m > 100);
	expect_sites(r->k, v, m, "(alt_instructions)");
	free(v);
	free(t);

	/* static calls: s32 addr, s32 key (flags in the low bits), 5 bytes at addr. */
	t = read_table(r->st, "__start_static_call_sites", "__stop_static_call_sites", 8, &base,
		       &n);
	v = calloc(n + 1, sizeof(*v));
	assert_non_null(v);
	for (i = 0; i < n; i++) {
		v[i].a = base + 8 * i + (uint64_t)(int64_t)(int32_t)rd32(t + 8 * i);
		v[i].len = 5;
	}
	expect_sites(r->k, v, n, "(static_call_sites, key __SCK__");
	free(v);
	free(t);

	/* jump labels: none in the default guest; checked when a kernel has them. */
	t = read_table(r->st, "__start___jump_table", "__stop___jump_table", 16, &base, &n);
	v = calloc(n + 1, sizeof(*v));
	assert_non_null(v);
	for (i = 0; i < n; i++) {
		v[i].a = base + 16 * i + (uint64_t)(int64_t)(int32_t)rd32(t + 16 * i);
		v[i].len = 2;
	}
	expect_sites(r->k, v, n, "(__jump_table");
	free(v);
	free(t);

	/* exception table: int insn, fixup, data. */
	t = read_table(r->st, "__start___ex_table", "__stop___ex_table", 12, &base, &n);
	v = calloc(n + 1, sizeof(*v));
	assert_non_null(v);
	for (i = 0; i < n; i++) {
		v[i].a = base + 12 * i + (uint64_t)(int64_t)(int32_t)rd32(t + 12 * i);
		v[i].len = 1;
	}
	assert_true(n > 10);
	expect_sites(r->k, v, n, "(__ex_table)");
	free(v);
	free(t);

	/* Blacklisted functions: every first byte refused; those outside entry / noinstr text
	 * (which are reported first) refused as blacklisted at some byte no site holds. */
	t = read_table(r->st, "__start_kprobe_blacklist", "__stop_kprobe_blacklist", 8, &base, &n);
	assert_true(n > 0);
	for (i = m = 0; i < n; i++) {
		a = (uint64_t)rd32(t + 8 * i) | (uint64_t)rd32(t + 8 * i + 4) << 32;
		assert_int_equal(ekp_symtab_addr2sym(r->st, a, &f, NULL), 0);
		expect_busy(r->k, a, 1, NULL);
		found = false;
		for (uint64_t j = 0; j < f.size && !found; j++)
			found = ekp_kpatch_check(r->k, a + j, 1) == -EBUSY &&
				strstr(ekp_errstr(-EBUSY), "(kprobe_blacklist)");
		m += found;
	}
	free(t);
	assert_true(m > n / 4);

	/* noinstr and entry text. */
	a = sym_addr(r->st, "__noinstr_text_start");
	for (found = false, i = 0; i < 256 && !found; i++)
		found = ekp_kpatch_check(r->k, a + i, 1) == -EBUSY &&
			strstr(ekp_errstr(-EBUSY), "(.noinstr.text)");
	assert_true(found);
	expect_busy(r->k, sym_addr(r->st, "__noinstr_text_end") - 1, 1, NULL);
	a = sym_addr(r->st, "__entry_text_start");
	expect_busy(r->k, a, 1, NULL);
	expect_busy(r->k, sym_addr(r->st, "__entry_text_end") - 1, 1, NULL);
}

static void test_real_map(void **state)
{
	struct real *r = *state;
	struct ekp_symtab *map;
	struct ekp_kpatch *k;
	char path[4096];
	const char *slash;

	if (!r)
		skip();
	slash = strrchr(vmlinux_path(), '/');
	snprintf(path, sizeof(path), "%.*sSystem.map",
		 slash ? (int)(slash - vmlinux_path() + 1) : 0, vmlinux_path());
	if (ekp_symtab_load(path, &map))
		skip(); /* no System.map beside it */
	assert_int_equal(ekp_kpatch_load(map, &k), -ENODATA);
	assert_non_null(strstr(ekp_errmsg(), "give the vmlinux"));
	ekp_symtab_free(map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthetic),
		cmocka_unit_test(test_synthetic_bad),
		cmocka_unit_test(test_fixup_entry_refused),
		cmocka_unit_test(test_no_tables),
		cmocka_unit_test(test_map_only),
	};
	const struct CMUnitTest real[] = {
		cmocka_unit_test(test_real_counts),
		cmocka_unit_test(test_real_sites),
		cmocka_unit_test(test_real_map),
	};
	int fails = cmocka_run_group_tests_name("kpatch", tests, NULL, NULL);

	fails += cmocka_run_group_tests_name("kpatch-vmlinux", real, real_setup, real_teardown);
	t_tmp_remove();
	return fails ? 1 : 0;
}
