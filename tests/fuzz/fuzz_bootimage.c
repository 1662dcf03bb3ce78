// SPDX-License-Identifier: GPL-2.0
/*
 * The boot image reader on untrusted input. The first byte picks what the rest is:
 *   0  a whole boot image (bzImage): header, compressed payload, ELF sections, kallsyms;
 *   1  a compressed payload, the next byte picking the compression (every decompressor);
 *   2  a decompressed payload: ELF sections (or segments) and kallsyms found by structure.
 * Whatever loads is queried (lookup, addr2sym, read, relocation). Seeds:
 * tests/fuzz/gen_bootimage_seeds.py.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/symbols.h"
#include "host/symbols/internal.h"

#define MAX_OUT (4u << 20)
#define MAX_MEM (64ull << 20)

static void exercise(const struct ekp_symtab *st)
{
	static const char *names[] = { "startup_64", "initial_code", "f001", "fixed_percpu_data" };
	struct ekp_symtab *moved;
	struct ekp_sym s, t;
	uint8_t buf[64];
	uint64_t off, prev = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!ekp_symtab_lookup(st, names[i], &s) && strcmp(s.name, names[i]))
			__builtin_trap();
	for (size_t i = 0; ekp_symtab_at(st, i, &s) && i < 512; i++) {
		if (i && s.addr < prev)
			__builtin_trap();
		prev = s.addr;
		if (!ekp_symtab_addr2sym(st, s.addr, &t, &off) && off > s.addr - t.addr)
			__builtin_trap();
		ekp_symtab_read(st, s.addr, buf, sizeof(buf));
	}
	if (!ekp_symtab_relocate(st, 0xffffffff80000000ull, 0xffffffffc0000000ull, 0x200000,
				 &moved)) {
		for (size_t i = 0; ekp_symtab_at(moved, i, &s) && i < 64; i++) {
			ekp_symtab_addr2sym(moved, s.addr, &t, &off);
			ekp_symtab_read(moved, s.addr, buf, sizeof(buf));
		}
		ekp_symtab_free(moved);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ekp_symtab *st;

	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (!ekp_symtab_load_boot_mem(data + 1, size - 1, MAX_OUT, &st)) {
			if (!ekp_symtab_has_image(st) || !ekp_symtab_boot_info(st))
				__builtin_trap();
			exercise(st);
			ekp_symtab_free(st);
		}
		break;
	case 1: {
		struct ekp_decompress_limits lim = { MAX_OUT, MAX_MEM };
		uint8_t *out;
		size_t len;

		if (size < 2)
			break;
		if (!ekp_decompress((enum ekp_compression)(1 + data[1] % (EKP_COMP_NR - 1)), data + 2,
				    size - 2, &lim, &out, &len)) {
			if (!len || len > MAX_OUT)
				__builtin_trap();
			free(out);
		}
		break;
	}
	case 2:
		st = ekp_symtab_new();
		if (!st)
			break;
		st->image = malloc(size - 1 ? size - 1 : 1);
		if (!st->image) {
			ekp_symtab_free(st);
			break;
		}
		memcpy(st->image, data + 1, size - 1);
		st->image_len = size - 1;
		if (!ekp_symtab_parse_elf_sections(st, "payload") &&
		    !ekp_symtab_parse_kallsyms(st, st->image, st->image_len, NULL, 0, "payload") &&
		    !ekp_symtab_finish(st, true))
			exercise(st);
		ekp_symtab_free(st);
		break;
	}
	return 0;
}
