/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to host/symbols/: the common table (symbols.c) that the ELF reader (elf.c), the
 * System.map / /proc/kallsyms reader (map.c) and the boot image reader (image.c: decompress.c,
 * kallsyms.c) fill.
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

uint8_t ekp_isym_type_flags(char type);

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
	bool exec;   /* executable (text) */
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
	/* A boot image (bzImage): what its header says; image is its decompressed payload. */
	struct ekp_boot_info boot;
	bool has_boot;
	bool image_borrowed; /* a relocated copy: image belongs to the table it came from */
	bool relocatable;    /* the image says it can be placed elsewhere (KASLR) */
	const char *source;  /* "vmlinux", "System.map", "kallsyms", for messages */
};

/* A byte range [start, end) of a buffer. */
struct ekp_range {
	size_t start, end;
};

/* The compressions of a kernel payload (decompress.c). */
enum ekp_compression {
	EKP_COMP_UNKNOWN, EKP_COMP_GZIP, EKP_COMP_BZIP2, EKP_COMP_LZMA, EKP_COMP_XZ, EKP_COMP_LZO,
	EKP_COMP_LZ4, EKP_COMP_ZSTD, EKP_COMP_NR,
};

struct ekp_decompress_limits {
	size_t max_out;    /* never produce more than this (the declared size must fit) */
	uint64_t max_mem;  /* decoder memory (lzma/xz dictionaries, zstd windows) */
};

enum ekp_compression ekp_compression_detect(const uint8_t *p, size_t len);
const char *ekp_compression_name(enum ekp_compression c);
bool ekp_compression_available(enum ekp_compression c);
/*
 * Decompress a kernel payload of len bytes (the stream and the 4-byte declared size after
 * it; gzip's own ISIZE): 0 and a malloc'd *out of exactly the declared size, or -errno with
 * the reason: -EPROTONOSUPPORT for a library this build lacks (named), -EILSEQ corrupt or
 * truncated data, -EFBIG over the limits.
 */
int ekp_decompress(enum ekp_compression c, const uint8_t *in, size_t len,
		   const struct ekp_decompress_limits *lim, uint8_t **out, size_t *out_len);

/* A bzImage's header, parsed and checked against the data (image.c). */
struct ekp_boot_image {
	struct ekp_boot_info info;
	const uint8_t *payload;   /* inside the data given */
	size_t payload_len;
	enum ekp_compression compression;
};

bool ekp_boot_image_is(const void *data, size_t len);
int ekp_boot_image_parse(const void *data, size_t len, const char *what,
			 struct ekp_boot_image *out);
/* The whole of a regular file, at most max bytes: -errno + reason. */
int ekp_read_file(const char *path, size_t max, void **data, size_t *len);

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
/* The sections (else the loadable segments) of the ELF image in st->image, for
 * ekp_symtab_read(), without needing a symbol table. */
int ekp_symtab_parse_elf_sections(struct ekp_symtab *st, const char *what);
/* kallsyms found by its structure in data[where...] (all of data when nwhere is 0); the
 * image's sections must be set up already (the relative base is checked against them). */
int ekp_symtab_parse_kallsyms(struct ekp_symtab *st, const uint8_t *data, size_t len,
			      const struct ekp_range *where, size_t nwhere, const char *what);
/* A boot image: decompress its payload into st->image (at most max_out bytes; 0: the
 * default limit), its sections, its kallsyms. */
int ekp_symtab_parse_boot_image(struct ekp_symtab *st, const void *data, size_t len,
				size_t max_out, const char *what);

#endif
