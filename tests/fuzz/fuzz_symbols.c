// SPDX-License-Identifier: GPL-2.0
/*
 * The symbol readers on untrusted input: every input is tried as an ELF image and as a
 * System.map / kallsyms; whatever loads is queried (lookup, addr2sym, read, iteration).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ekprobe/symbols.h"

static void exercise(const struct ekp_symtab *st, const uint8_t *data, size_t size)
{
	static const char *names[] = { "startup_64", "start_kernel", "main", "_start", "a", "",
				       "mod:a", ":", "x:" };
	size_t n = ekp_symtab_count(st), i;
	struct ekp_sym s, t;
	uint64_t off, prev = 0;
	uint8_t buf[64];

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!ekp_symtab_lookup(st, names[i], &s) && strcmp(s.name, names[i]) &&
		    !strchr(names[i], ':'))
			__builtin_trap();
	for (i = 0; ekp_symtab_at(st, i, &s); i++) {
		if (i && s.addr < prev)
			__builtin_trap(); /* address order */
		prev = s.addr;
		if (i >= 64 && i + 64 < n)
			continue; /* bound the work on big tables */
		if (!ekp_symtab_lookup(st, s.name, &t) && strcmp(t.name, s.name))
			__builtin_trap();
		if (!ekp_symtab_addr2sym(st, s.addr, &t, &off) && off > s.addr - t.addr)
			__builtin_trap();
		ekp_symtab_addr2sym(st, s.addr + s.size, &t, &off);
		ekp_symtab_addr2sym(st, s.addr - 1, &t, &off);
		ekp_symtab_read(st, s.addr, buf, sizeof(buf));
		ekp_symtab_read(st, s.addr, buf, s.size < sizeof(buf) ? (size_t)s.size : sizeof(buf));
		ekp_symtab_read(st, s.addr + s.size - 1, buf, 2);
	}
	if (ekp_symtab_at(st, n, &s))
		__builtin_trap();
	/* Addresses taken from the input itself. */
	for (i = 0; i + 8 <= size && i < 512; i += 8) {
		uint64_t a;

		memcpy(&a, data + i, 8);
		ekp_symtab_addr2sym(st, a, &t, &off);
		ekp_symtab_read(st, a, buf, 1 + (data[i] % sizeof(buf)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ekp_symtab *st;

	if (!ekp_symtab_load_mem(data, size, true, &st)) {
		if (!ekp_symtab_has_image(st))
			__builtin_trap();
		exercise(st, data, size);
		ekp_symtab_free(st);
	}
	if (!ekp_symtab_load_mem(data, size, false, &st)) {
		if (ekp_symtab_has_image(st))
			__builtin_trap();
		exercise(st, data, size);
		ekp_symtab_free(st);
	}
	return 0;
}
