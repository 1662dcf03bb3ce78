// SPDX-License-Identifier: GPL-2.0
/*
 * symdump FILE: the symbol table ekprobe-host reads from FILE (a vmlinux, a System.map or a
 * kernel boot image), one symbol a line, in address order: "ADDR TYPE NAME SIZE". The
 * integration tests compare the table read from a bzImage with its vmlinux's.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ekprobe/err.h"
#include "ekprobe/symbols.h"

int main(int argc, char **argv)
{
	struct ekp_symtab *st;
	struct ekp_sym s;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: symdump FILE\n");
		return 2;
	}
	err = ekp_symtab_load(argv[1], &st);
	if (err) {
		fprintf(stderr, "symdump: %s\n", ekp_errstr(err));
		return 1;
	}
	for (size_t i = 0; ekp_symtab_at(st, i, &s); i++)
		printf("%016" PRIx64 " %c %s %" PRIx64 "\n", s.addr, s.type, s.name, s.size);
	ekp_symtab_free(st);
	return 0;
}
