/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel symbols from a vmlinux ELF (libelf), a System.map, or a kernel boot image (bzImage,
 * vmlinuz: the kernel's own kallsyms tables in its decompressed payload). Opaque object; the
 * ELF and boot image variants can also return the bytes the image holds at an address (text
 * for instruction decoding, initialised data such as init_task).
 *
 * Addresses are link-time addresses: where the image says the kernel runs. A kernel that KASLR
 * moved runs elsewhere; ekp_symtab_relocate() gives the table of the running kernel.
 */
#ifndef EKPROBE_SYMBOLS_H
#define EKPROBE_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ekp_symtab;

/* What a kernel boot image (x86 bzImage) says about where the kernel may be placed. */
struct ekp_boot_info {
	bool relocatable;       /* a boot loader, or KASLR, may place it elsewhere */
	uint64_t align;         /* the alignment of its physical load address */
	uint64_t pref_addr;     /* where it runs when not moved: its link-time physical address */
	uint64_t init_size;     /* memory it needs from its load address on */
	uint64_t stub_size;     /* bytes of its protected-mode part (decompressor and payload) */
	const char *compression; /* of the payload: "gzip", ... "zstd", "unknown" */
};

struct ekp_sym {
	const char *name;  /* owned by the symtab */
	uint64_t addr;
	uint64_t size;     /* ELF st_size; System.map: distance to the next symbol */
	char type;         /* nm-style: 'T' 't' 'D' 'd' 'B' 'b' 'R' 'r' 'A' ... */
};

/* Load a vmlinux ELF, a boot image or a System.map (detected by content). -errno + ekp_err()
 * reason. */
int ekp_symtab_load(const char *path, struct ekp_symtab **out);
/* Same, from memory (for tests and fuzzing); is_elf picks the reader. */
int ekp_symtab_load_mem(const void *data, size_t len, bool is_elf, struct ekp_symtab **out);
/* A boot image from memory; its payload decompresses to at most max_out bytes (0: the default,
 * 1 GiB). */
int ekp_symtab_load_boot_mem(const void *data, size_t len, size_t max_out,
			     struct ekp_symtab **out);
/* Whether path is a kernel boot image (by its header); false when it cannot be read. */
bool ekp_boot_image_file(const char *path);
/* What the boot image at path says about the kernel's placement (its header and payload are
 * checked): 0, or -errno + reason (-ENOEXEC: not a boot image). */
int ekp_boot_image_read_info(const char *path, struct ekp_boot_info *out);
/* The boot image's header, when the table came from one; NULL otherwise. */
const struct ekp_boot_info *ekp_symtab_boot_info(const struct ekp_symtab *st);
/* Whether the image says the kernel can run elsewhere than at its link-time address (a boot
 * image's header; a vmlinux with relocation sections, as KASLR kernels are linked). */
bool ekp_symtab_relocatable(const struct ekp_symtab *st);
/* Where the table came from, for messages: "vmlinux", "System.map", "kallsyms". */
const char *ekp_symtab_source(const struct ekp_symtab *st);
/*
 * The table of the kernel as it runs: every symbol and image byte at an address in
 * [lo, hi) (the kernel image's mapping) moved by delta (mod 2^64); others (absolute, per-CPU)
 * stay. The new table shares the image bytes with st, which must outlive it.
 */
int ekp_symtab_relocate(const struct ekp_symtab *st, uint64_t lo, uint64_t hi, uint64_t delta,
			struct ekp_symtab **out);
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
