/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to host/symbols*.c: the common table (symbols.c) that the ELF reader
 * (symbols_elf.c) and the System.map / kallsyms reader (symbols_map.c) fill.
 */
#ifndef EKPROBE_HOST_SYMBOLS_INTERNAL_H
#define EKPROBE_HOST_SYMBOLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekprobe/symbols.h"
#include "ekprobe/util.h"

/* ekp_isym.flags */
#define EKP_ISYM_TEXT   0x01 /* in an executable section (ELF) / type t T w W i (map) */
#define EKP_ISYM_SIZED  0x02 /* has a real size (ELF st_size > 0), not one derived */
#define EKP_ISYM_ABS    0x04 /* absolute: a constant rather than a place in the image */
#define EKP_ISYM_WEAK   0x08
#define EKP_ISYM_GLOBAL 0x10

#define EKP_ISYM_NO_MODULE SIZE_MAX

struct ekp_isym {
	uint64_t addr;
	uint64_t size;  /* reported size: st_size, or (map) the distance to the next symbol */
	uint64_t end;   /* exclusive end of the range addr2sym attributes to it; == addr: none */
	uint64_t limit; /* (ELF) end of the symbol's section: a size-0 label extends no further */
	size_t name;    /* offset into names */
	size_t module;  /* offset into names, or EKP_ISYM_NO_MODULE */
	size_t seq;     /* order of insertion: a stable tie-break */
	char type;
	uint8_t flags;
};

/* A stretch of the image holding bytes for [addr, addr + size) at file offset off. */
struct ekp_isec {
	uint64_t addr;
	uint64_t size;
	uint64_t off;
	bool nobits; /* allocated but holds no bytes (.bss): reads fail */
	char name[24]; /* for messages */
};

struct ekp_symtab {
	struct ekp_isym *syms;
	size_t nsyms, cap;
	struct ekp_buf names;
	size_t *by_name;  /* indices into syms, sorted by (name, addr) */
	uint64_t *max_end; /* max_end[i] = max(syms[0..i].end) */

	/* ELF only: the whole file, kept to serve ekp_symtab_read(). */
	uint8_t *image;
	size_t image_len;
	bool image_mapped; /* munmap() rather than free() */
	struct ekp_isec *secs;
	size_t nsecs;
	const char *arch;  /* the architecture the image says (ELF e_machine), or NULL */
};

struct ekp_symtab *ekp_symtab_new(void);
/* Append a symbol (names copied). module may be NULL. limit: UINT64_MAX if not known. */
int ekp_symtab_add(struct ekp_symtab *st, const char *name, size_t name_len, const char *module,
		   size_t module_len, uint64_t addr, uint64_t size, uint64_t limit, char type,
		   uint8_t flags);
/* Sort, index and compute ranges. derive_sizes: System.map style, from the next address. */
int ekp_symtab_finish(struct ekp_symtab *st, bool derive_sizes);

/* Readers: fill st (which they do not free on error). what names the source in messages. */
int ekp_symtab_parse_elf(struct ekp_symtab *st, const char *what);     /* st->image is set */
int ekp_symtab_parse_map(struct ekp_symtab *st, const char *data, size_t len, const char *what);

#endif
