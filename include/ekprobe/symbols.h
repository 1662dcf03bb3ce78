/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel symbols from a vmlinux ELF (libelf) or a System.map. Opaque object; the ELF variant
 * can also return the bytes the image holds at an address (text for instruction decoding,
 * initialised data such as init_task).
 */
#ifndef EKPROBE_SYMBOLS_H
#define EKPROBE_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ekp_symtab;

struct ekp_sym {
	const char *name;  /* owned by the symtab */
	uint64_t addr;
	uint64_t size;     /* ELF st_size; System.map: distance to the next symbol */
	char type;         /* nm-style: 'T' 't' 'D' 'd' 'B' 'b' 'R' 'r' 'A' ... */
};

/* Load a vmlinux ELF or a System.map (detected by content). -errno + ekp_err() reason. */
int ekp_symtab_load(const char *path, struct ekp_symtab **out);
/* Same, from memory (for tests and fuzzing); is_elf picks the reader. */
int ekp_symtab_load_mem(const void *data, size_t len, bool is_elf, struct ekp_symtab **out);
void ekp_symtab_free(struct ekp_symtab *st);
bool ekp_symtab_has_image(const struct ekp_symtab *st);
/* The architecture the image is built for ("x86_64", "arm64"), or NULL when it does not say
 * (a System.map) or is of another. */
const char *ekp_symtab_arch(const struct ekp_symtab *st);

/* Exactly one symbol of that name: 0; none: -ENOENT; several at different addresses: -ENOTUNIQ. */
int ekp_symtab_lookup(const struct ekp_symtab *st, const char *name, struct ekp_sym *out);
/* The symbol containing addr (prefers functions/text), and addr's offset into it; -ENOENT. */
int ekp_symtab_addr2sym(const struct ekp_symtab *st, uint64_t addr, struct ekp_sym *out,
			uint64_t *off);
/* Copy len bytes of the image at a virtual address; -ENODATA without an image or outside it. */
int ekp_symtab_read(const struct ekp_symtab *st, uint64_t addr, void *buf, size_t len);
/* Iterate all symbols in address order; returns false past the end. */
bool ekp_symtab_at(const struct ekp_symtab *st, size_t i, struct ekp_sym *out);
size_t ekp_symtab_count(const struct ekp_symtab *st);

#endif
