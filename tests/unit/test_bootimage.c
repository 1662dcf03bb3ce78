// SPDX-License-Identifier: GPL-2.0
/*
 * Boot images (bzImage): the small images tests/fuzz/gen_bootimage_seeds.py made in every
 * compression a kernel can use, decompressed by the real libraries; cut, corrupted and
 * over-limit images; the running kernel's table (relocation); and the x86_64 KASLR finder
 * on the default kernel's vmlinux over a fake guest memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/symbols.h"
#include "host/symbols/internal.h"
#include "tests/unit/helpers.h"

#define SEEDS "tests/fuzz/corpus/fuzz_bootimage/"
#define TEXT 0xffffffff81000000ull

static const char *const comps[] = { "gzip", "bzip2", "lzma", "xz", "lzo", "lz4", "zstd" };

/* A seed without its first byte (the fuzzer's mode). */
static uint8_t *seed(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	uint8_t *d;
	long n;

	snprintf(path, sizeof(path), SEEDS "%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 1);
	rewind(f);
	d = malloc((size_t)n);
	assert_non_null(d);
	assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	memmove(d, d + 1, (size_t)n - 1);
	*len = (size_t)n - 1;
	return d;
}

static void check_table(const struct ekp_symtab *st)
{
	static const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5 };
	const struct ekp_boot_info *bi = ekp_symtab_boot_info(st);
	struct ekp_sym s;
	uint8_t buf[4];
	uint64_t off;

	assert_int_equal(ekp_symtab_count(st), 300);
	assert_string_equal(ekp_symtab_source(st), "kallsyms");
	assert_int_equal(ekp_symtab_lookup(st, "f001", &s), 0);
	assert_int_equal(s.addr, TEXT + 0x10);
	assert_int_equal(s.type, 'T');
	assert_int_equal(s.size, 0x10); /* from the next symbol */
	assert_int_equal(ekp_symtab_lookup(st, "f000", &s), 0);
	assert_int_equal(s.type, 't');
	assert_int_equal(ekp_symtab_lookup(st, "fixed_percpu_data", &s), 0);
	assert_int_equal(s.addr, 0); /* absolute: per-CPU */
	assert_int_equal(ekp_symtab_lookup(st, "initial_code", &s), 0);
	assert_int_equal(s.addr, 0xffffffff81210000ull);
	assert_int_equal(ekp_symtab_read(st, TEXT + 0x20, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, code, sizeof(code));
	assert_int_equal(ekp_symtab_addr2sym(st, TEXT + 0x25, &s, &off), 0);
	assert_string_equal(s.name, "f002");
	assert_int_equal(off, 5);
	assert_non_null(bi);
	assert_true(bi->relocatable);
	assert_int_equal(bi->align, 0x200000);
	assert_int_equal(bi->pref_addr, 0x1000000);
	assert_true(ekp_symtab_relocatable(st));
}

static void test_every_compression(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		char name[32];
		struct ekp_symtab *st;
		uint8_t *d;
		size_t len;
		int err;

		snprintf(name, sizeof(name), "image-%s", comps[i]);
		d = seed(name, &len);
		err = ekp_symtab_load_boot_mem(d, len, 0, &st);
		if (err)
			fail_msg("%s: %s", name, ekp_errstr(err));
		assert_string_equal(ekp_symtab_boot_info(st)->compression, comps[i]);
		check_table(st);
		ekp_symtab_free(st);
		free(d);
	}
}

/* Every cut of every image is refused, never read past. */
static void test_truncated(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		char name[32];
		struct ekp_symtab *st;
		uint8_t *d;
		size_t len;

		snprintf(name, sizeof(name), "image-%s", comps[i]);
		d = seed(name, &len);
		for (size_t cut = 0; cut < len; cut += cut < 0x300 ? 0x40 : 7) {
			uint8_t *c = malloc(cut ? cut : 1);

			assert_non_null(c);
			memcpy(c, d, cut);
			assert_true(ekp_symtab_load_boot_mem(c, cut, 0, &st) < 0);
			free(c);
		}
		free(d);
	}
}

/* A payload cut short inside its container: said to be truncated. */
static void test_truncated_message(void **state)
{
	struct ekp_symtab *st;
	size_t len;
	uint8_t *d = seed("image-gzip", &len);
	int err;

	(void)state;
	err = ekp_symtab_load_boot_mem(d, len - 200, 0, &st);
	assert_int_equal(err, -EILSEQ);
	assert_non_null(strstr(ekp_errstr(err), "truncated"));
	free(d);
}

/* Flipped bytes in the compressed stream: an error, never a crash or a wrong table. */
static void test_corrupt(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		char name[32];
		struct ekp_symtab *st;
		uint8_t *d;
		size_t len;

		snprintf(name, sizeof(name), "image-%s", comps[i]);
		d = seed(name, &len);
		for (size_t at = 0x440; at + 8 < len; at += 97) {
			d[at] ^= 0x5a;
			if (!ekp_symtab_load_boot_mem(d, len, 0, &st)) {
				/* lz4/lzo blocks carry no checksum of their own: a table may load,
				 * but only a consistent one. */
				assert_true(ekp_symtab_count(st) > 0);
				ekp_symtab_free(st);
			}
			d[at] ^= 0x5a;
		}
		free(d);
	}
}

/* The declared size is a limit: more output, or a size over the caller's limit, is refused. */
static void test_limits(void **state)
{
	struct ekp_symtab *st;
	size_t len;
	uint8_t *d = seed("image-zstd", &len);
	uint32_t plen, poff, decl;
	int err;

	(void)state;
	err = ekp_symtab_load_boot_mem(d, len, 1000, &st);
	assert_int_equal(err, -EFBIG);
	memcpy(&poff, d + 0x248, 4);
	memcpy(&plen, d + 0x24c, 4);
	memcpy(&decl, d + 1024 + poff + plen - 4, 4);
	decl -= 1;
	memcpy(d + 1024 + poff + plen - 4, &decl, 4);
	err = ekp_symtab_load_boot_mem(d, len, 0, &st);
	assert_int_equal(err, -EILSEQ);
	assert_non_null(strstr(ekp_errstr(err), "more than"));
	decl += 2;
	memcpy(d + 1024 + poff + plen - 4, &decl, 4);
	err = ekp_symtab_load_boot_mem(d, len, 0, &st);
	assert_int_equal(err, -EILSEQ);
	free(d);
}

static void test_not_boot_image(void **state)
{
	static const uint8_t junk[0x300];
	struct ekp_symtab *st;

	(void)state;
	assert_int_equal(ekp_symtab_load_boot_mem(junk, sizeof(junk), 0, &st), -ENOEXEC);
}

static void test_relocate(void **state)
{
	struct ekp_symtab *st, *run;
	struct ekp_sym s;
	uint8_t buf[4], want[4];
	uint64_t off, delta = 0x2e00000;
	size_t len;
	uint8_t *d = seed("image-xz", &len);

	(void)state;
	assert_int_equal(ekp_symtab_load_boot_mem(d, len, 0, &st), 0);
	assert_int_equal(ekp_symtab_relocate(st, 0xffffffff80000000ull, 0xffffffffc0000000ull,
					     delta, &run), 0);
	assert_int_equal(ekp_symtab_lookup(run, "f001", &s), 0);
	assert_int_equal(s.addr, TEXT + 0x10 + delta);
	assert_int_equal(s.size, 0x10);
	assert_int_equal(ekp_symtab_lookup(run, "fixed_percpu_data", &s), 0);
	assert_int_equal(s.addr, 0);
	assert_int_equal(ekp_symtab_addr2sym(run, TEXT + delta + 0x23, &s, &off), 0);
	assert_string_equal(s.name, "f002");
	assert_int_equal(off, 3);
	assert_int_not_equal(ekp_symtab_addr2sym(run, TEXT + 0x23, &s, &off), 0);
	assert_int_equal(ekp_symtab_read(run, TEXT + delta + 0x20, buf, 4), 0);
	assert_int_equal(ekp_symtab_read(st, TEXT + 0x20, want, 4), 0);
	assert_memory_equal(buf, want, 4);
	ekp_symtab_free(run); /* the image stays the original table's */
	assert_int_equal(ekp_symtab_read(st, TEXT + 0x20, want, 4), 0);
	ekp_symtab_free(st);
	free(d);
}

/* ---- x86_64 KASLR over a fake guest memory ---- */

static const struct ekp_kaslr_arch *K(void)
{
	return ekp_arch_x86_64.kaslr;
}

static void test_candidates(void **state)
{
	struct ekp_boot_info bi = { .relocatable = true, .align = 0x200000, .pref_addr = 0x1000000,
				    .init_size = 0x3000000, .stub_size = 0x800000 };
	struct ekp_ram_layout ram;
	uint64_t *c;
	size_t n, excluded = 0;

	(void)state;
	assert_int_equal(ekp_arch_x86_64.ram_layout(NULL, 512ull << 20, &ram), 0);
	assert_int_equal(K()->entry_candidates(NULL, &bi, &ram, &c, &n), 0);
	assert_int_equal(c[0], 0x1000000);
	assert_int_equal(c[n - 1], (512ull << 20) - 0x200000);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(c[i] % 0x200000, 0);
		assert_true(i == 0 || c[i] > c[i - 1]);
		/* the decompressor's copy, [0x4000000 - 0x800000 + 64 KiB, 0x4000000), is left out */
		assert_false(c[i] > 0x3810000 && c[i] < 0x4000000);
	}
	excluded = (512 - 16) / 2 - n;
	assert_int_equal(excluded, 3); /* 0x3a00000, 0x3c00000, 0x3e00000 */
	free(c);
	/* No header: the arch's defaults (16 MiB, 2 MiB). */
	assert_int_equal(K()->entry_candidates(NULL, NULL, &ram, &c, &n), 0);
	assert_int_equal(n, (512 - 16) / 2);
	free(c);
}

static void test_same_code(void **state)
{
	/* startup_64's mov $0xffffffff81000000, %rdx; a field straddling the end */
	uint8_t image[8 + EKP_CODE_SLACK] = { 0x90, 0x48, 0xc7, 0xc2, 0x00, 0x00, 0x00, 0x81 };
	uint8_t live[sizeof(image)];

	(void)state;
	memcpy(live, image, sizeof(live));
	live[6] = 0x80;
	live[7] = 0x84; /* + 0x3800000 */
	assert_true(K()->same_code(image, live, 8, 0x3800000));
	assert_true(K()->same_code(image, live, 7, 0x3800000)); /* compared to byte 7 */
	assert_false(K()->same_code(image, live, 8, 0x3a00000));
	live[0] = 0xcc;
	assert_false(K()->same_code(image, live, 8, 0x3800000));
}

/* A fake guest: physical memory holding the kernel image from the vmlinux at phys, with its
 * 32-bit kernel-address fields at startup_64 and initial_code relocated by virt. */
struct fake {
	const struct ekp_symtab *st;
	uint64_t phys, virt;
};

static int fake_read(void *opaque, uint64_t pa, void *buf, size_t len)
{
	struct fake *f = opaque;
	uint64_t va = pa - f->phys + 0xffffffff80000000ull; /* the image at link phys + phys */
	uint8_t *b = buf;
	struct ekp_sym ic;

	if (ekp_symtab_read(f->st, va, buf, len))
		return -EFAULT;
	for (size_t j = 0; j + 4 <= len; j++) { /* relocate what looks like kernel addresses */
		uint32_t v;
		uint64_t s;

		memcpy(&v, b + j, 4);
		s = (uint64_t)(int64_t)(int32_t)v;
		if (s >= 0xffffffff81000000ull && s < 0xffffffffa0000000ull && j + 4 <= len &&
		    v != 0xffffffffu) {
			v += (uint32_t)f->virt;
			memcpy(b + j, &v, 4);
			j += 3;
		}
	}
	if (!ekp_symtab_lookup(f->st, "initial_code", &ic) && va == ic.addr && len == 8) {
		uint64_t v;

		assert_int_equal(ekp_symtab_read(f->st, va, &v, 8), 0);
		v += f->virt;
		memcpy(buf, &v, 8);
	}
	return 0;
}

static void test_find_slides(void **state)
{
	const char *vmlinux = getenv("EKPROBE_VMLINUX");
	struct ekp_symtab *st;
	struct ekp_slide sl;
	struct fake f;
	struct ekp_sym entry;

	(void)state;
	if (!vmlinux)
		skip();
	assert_int_equal(ekp_symtab_load(vmlinux, &st), 0);
	assert_int_equal(ekp_symtab_lookup(st, "startup_64", &entry), 0);
	f = (struct fake){ st, 0x6e00000, 0x1c600000 };
	assert_int_equal(K()->find_slides(st, NULL, entry.addr - 0xffffffff80000000ull + 0x6e00000,
					  fake_read, &f, &sl), 0);
	assert_int_equal(sl.phys, 0x6e00000);
	assert_int_equal(sl.virt, 0x1c600000);
	/* Not the kernel there: other bytes (the image shifted by a page). */
	assert_int_equal(K()->find_slides(st, NULL, entry.addr - 0xffffffff80000000ull + 0x6e01000,
					  fake_read, &f, &sl), -ENOENT);
	/* An offset that is no multiple of the alignment: not it. */
	f.virt = 0x1c601000;
	assert_int_equal(K()->find_slides(st, NULL, entry.addr - 0xffffffff80000000ull + 0x6e00000,
					  fake_read, &f, &sl), -ENOENT);
	ekp_symtab_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_compression),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_truncated_message),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_not_boot_image),
		cmocka_unit_test(test_relocate),
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_same_code),
		cmocka_unit_test(test_find_slides),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
