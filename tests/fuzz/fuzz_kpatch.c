// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel patch table reader on untrusted input: every input is loaded as an ELF image
 * (and as a System.map, which must be refused); whatever loads is queried, and the answers
 * must agree with each other.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ekprobe/err.h"
#include "ekprobe/symbols.h"
#include "arch/x86_64/kpatch.h"

static void query(const struct ekp_kpatch *k, uint64_t a, uint64_t len)
{
	const uint64_t *fx;
	size_t n;
	int err;

	ekp_err_clear();
	err = ekp_kpatch_check(k, a, len);
	if (err && err != -EBUSY && err != -EINVAL)
		__builtin_trap();
	if (!len && err)
		__builtin_trap();
	if (err == -EBUSY && !ekp_errmsg()[0])
		__builtin_trap();
	ekp_kpatch_is_mcount(k, a);
	/* Fixup targets in a range: sorted, and inside it. */
	n = ekp_kpatch_fixups(k, a, a + len, &fx);
	for (size_t i = 0; i < n; i++)
		if (fx[i] < a || fx[i] >= a + len || (i && fx[i] <= fx[i - 1]))
			__builtin_trap();
}

static void exercise(const struct ekp_symtab *st, const struct ekp_kpatch *k,
		     const uint8_t *data, size_t size)
{
	struct ekp_kpatch_stats s;
	struct ekp_sym sym;
	uint64_t a, prev = 0;
	size_t i;

	for (int t = 0; t <= EKP_KPATCH_NR_TABLES; t++) {
		if (ekp_kpatch_stats(k, (enum ekp_kpatch_table)t, &s)) {
			if (t != EKP_KPATCH_NR_TABLES)
				__builtin_trap();
			continue;
		}
		if (!ekp_kpatch_table_name((enum ekp_kpatch_table)t) ||
		    s.invalid + s.skipped > s.entries || s.ranges > 2 * s.entries ||
		    (!s.present && (s.entries || s.ranges)))
			__builtin_trap();
	}
	/* ftrace sites: ascending, found by is_mcount, and refused. */
	for (i = 0; ekp_kpatch_mcount_at(k, i, &a); i++) {
		if ((i && a <= prev) || !ekp_kpatch_is_mcount(k, a))
			__builtin_trap();
		if (i < 256 && ekp_kpatch_check(k, a, 1) != -EBUSY)
			__builtin_trap();
		prev = a;
	}
	if (ekp_kpatch_stats(k, EKP_KPATCH_MCOUNT, &s) || i > s.ranges)
		__builtin_trap();
	query(k, 0, UINT64_MAX);
	query(k, 1, UINT64_MAX);
	query(k, UINT64_MAX, 1);
	/* Around symbols, and at addresses taken from the input itself. */
	for (i = 0; i < 64 && ekp_symtab_at(st, i, &sym); i++) {
		query(k, sym.addr, 1);
		query(k, sym.addr, 5);
		query(k, sym.addr - 1, 2);
		query(k, sym.addr, sym.size);
	}
	for (i = 0; i + 9 <= size && i < 512; i += 9) {
		memcpy(&a, data + i, 8);
		query(k, a, data[i + 8] % 32);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ekp_symtab *st;
	struct ekp_kpatch *k;

	if (!ekp_symtab_load_mem(data, size, true, &st)) {
		if (!ekp_kpatch_load(st, &k)) {
			exercise(st, k, data, size);
			ekp_kpatch_free(k);
		} else if (k) {
			__builtin_trap();
		}
		ekp_symtab_free(st);
	}
	if (!ekp_symtab_load_mem(data, size, false, &st)) {
		if (ekp_kpatch_load(st, &k) != -ENODATA || k)
			__builtin_trap();
		ekp_symtab_free(st);
	}
	return 0;
}
