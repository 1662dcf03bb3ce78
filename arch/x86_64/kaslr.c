// SPDX-License-Identifier: GPL-2.0
/*
 * Where an x86_64 kernel that KASLR moved runs (arch/x86/boot/compressed/kaslr.c, misc.c).
 *
 * The decompressor picks a physical address aligned to the image's kernel_alignment
 * (CONFIG_PHYSICAL_ALIGN), at or above its preferred address (LOAD_PHYSICAL_ADDR), outside
 * its own copy, writes the kernel there, picks a virtual offset (a multiple of the same
 * alignment inside the 1 GiB kernel mapping), applies the image's relocations with it and
 * jumps to startup_64 at its physical address. So:
 *
 *  - the candidates are every aligned physical address of RAM from the preferred address on,
 *    but those of the decompressor's own copy (it ends at preferred + init_size and is
 *    stub_size long): its code never runs on a page that holds a breakpoint there;
 *  - at a stop on a candidate, the kernel is there if its bytes are startup_64's, and nothing
 *    of the kernel has run yet;
 *  - head_64.S's initial_code holds x86_64_start_kernel's address: relocated, it tells the
 *    virtual offset (read at its physical address; the kernel mapping does not exist yet).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/symbols.h"

#define KERNEL_MAP_BASE 0xffffffff80000000ull /* __START_KERNEL_map */
#define KERNEL_MAP_SIZE 0x40000000ull         /* KERNEL_IMAGE_SIZE: 1 GiB */
#define DEFAULT_ALIGN 0x200000ull             /* CONFIG_PHYSICAL_ALIGN's default */
#define DEFAULT_MIN 0x1000000ull              /* CONFIG_PHYSICAL_START's default */
#define MAX_CANDIDATES 16384                  /* 32 GiB of RAM at 2 MiB */
#define ENTRY_CHECK 32                        /* bytes of startup_64 compared */

static int x86_64_entry_candidates(const struct ekp_symtab *st, const struct ekp_boot_info *boot,
				   const struct ekp_ram_layout *ram, uint64_t **out, size_t *nr)
{
	uint64_t align = boot && boot->align ? boot->align : DEFAULT_ALIGN;
	uint64_t min = boot && boot->pref_addr ? boot->pref_addr : DEFAULT_MIN;
	uint64_t stub_lo = 0, stub_hi = 0;
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;

	(void)st;
	*out = NULL;
	*nr = 0;
	if (align & (align - 1))
		return ekp_err(EINVAL, "kernel alignment 0x%" PRIx64 " is not a power of two", align);
	if (align < 0x1000)
		align = 0x1000;
	if (boot && boot->init_size > boot->stub_size &&
	    boot->pref_addr <= UINT64_MAX - boot->init_size) {
		/* The copy's code starts within its first 64 KiB, before its payload: the range
		 * excluded stays inside what KASLR avoids ([payload, preferred + init_size)). */
		stub_hi = boot->pref_addr + boot->init_size;
		stub_lo = stub_hi - boot->stub_size + 0x10000;
	}
	for (unsigned int r = 0; r < ram->nr; r++) {
		uint64_t lo = ram->range[r].gpa, hi = lo + ram->range[r].len;

		if (lo < min)
			lo = min;
		lo = (lo + align - 1) & ~(align - 1);
		for (uint64_t pa = lo; pa < hi && pa >= lo; pa += align) {
			if (pa > min && pa >= stub_lo && pa < stub_hi)
				continue;
			if (n == MAX_CANDIDATES) {
				free(v);
				return ekp_err(E2BIG, "more than %d places the kernel may be put at (too "
					       "much guest RAM to watch at 0x%" PRIx64 " alignment)",
					       MAX_CANDIDATES, align);
			}
			if (n == cap) {
				uint64_t *g = realloc(v, (cap ? 2 * cap : 64) * sizeof(*v));

				if (!g) {
					free(v);
					return ekp_err(ENOMEM, "out of memory");
				}
				v = g;
				cap = cap ? 2 * cap : 64;
			}
			v[n++] = pa;
		}
	}
	if (!n)
		return ekp_err(ERANGE, "no guest RAM at or above 0x%" PRIx64 " for the kernel", min);
	*out = v;
	*nr = n;
	return 0;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static bool in_map(uint64_t va)
{
	return va >= KERNEL_MAP_BASE && va - KERNEL_MAP_BASE < KERNEL_MAP_SIZE;
}

/*
 * The image's code and the live code are the same once relocated by virt: they may differ
 * only in 32-bit fields that hold a kernel address (sign-extended) in the image and that
 * address plus virt live (the decompressor's relocations, e.g. startup_64's
 * `mov $_text, %rdx`).
 */
static bool x86_64_same_code(const uint8_t *image, const uint8_t *live, size_t n, uint64_t virt)
{
	/* Fields may reach EKP_CODE_SLACK bytes past n: both buffers hold them. */
	size_t done = 0; /* bytes before this are checked: equal, or in a relocated field */

	for (size_t i = 0; i < n;) {
		bool ok = false;

		if (image[i] == live[i]) {
			i++;
			continue;
		}
		/* A field covering byte i starts at most 3 bytes before it, after the last one. */
		for (size_t j = i >= done + 3 ? i - 3 : done; j <= i && !ok; j++) {
			uint32_t a, b;
			uint64_t va;

			if (j + 4 > n + EKP_CODE_SLACK)
				break;
			memcpy(&a, image + j, 4);
			memcpy(&b, live + j, 4);
			va = (uint64_t)(int64_t)(int32_t)a;
			if (in_map(va) && in_map(va + virt) && (uint32_t)(va + virt) == b) {
				i = done = j + 4;
				ok = true;
			}
		}
		if (!ok)
			return false;
	}
	return true;
}

static int x86_64_find_slides(const struct ekp_symtab *st, const struct ekp_boot_info *boot,
			      uint64_t pa, ekp_read_phys_fn read_phys, void *opaque,
			      struct ekp_slide *out)
{
	uint8_t image[ENTRY_CHECK + EKP_CODE_SLACK], live[ENTRY_CHECK + EKP_CODE_SLACK], raw[8];
	uint64_t align = boot && boot->align ? boot->align : DEFAULT_ALIGN;
	struct ekp_sym entry, ic, target;
	uint64_t want, got, virt, phys;
	int err;

	if (ekp_symtab_lookup(st, "startup_64", &entry) || !in_map(entry.addr))
		return ekp_err(ENOENT, "no startup_64 in the kernel image mapping");
	if (ekp_symtab_read(st, entry.addr, image, sizeof(image)))
		return ekp_err(ENODATA, "the symbols hold no bytes of startup_64 to recognise the "
			       "kernel by (a System.map?)");
	err = read_phys(opaque, pa, live, sizeof(live));
	if (err)
		return err;
	phys = pa - (entry.addr - KERNEL_MAP_BASE);

	if (ekp_symtab_lookup(st, "initial_code", &ic) || !in_map(ic.addr))
		return ekp_err(ENOENT, "cannot tell the kernel's virtual offset: the symbols have no "
			       "initial_code (a kallsyms built without CONFIG_KALLSYMS_ALL?)");
	if (ekp_symtab_read(st, ic.addr, raw, sizeof(raw)))
		return ekp_err(ENODATA, "cannot tell the kernel's virtual offset: the image holds no "
			       "bytes for initial_code");
	want = get64(raw);
	if (ekp_symtab_lookup(st, "x86_64_start_kernel", &target) || target.addr != want)
		return ekp_err(EINVAL, "initial_code does not hold x86_64_start_kernel's address in "
			       "the image: a kernel of another layout");
	err = read_phys(opaque, ic.addr - KERNEL_MAP_BASE + phys, raw, sizeof(raw));
	if (err)
		return err;
	got = get64(raw);
	virt = got - want;
	/* Not the kernel (other code runs there), or not yet relocated: not it. */
	if (!in_map(got) || (virt & (align - 1)) || !in_map(entry.addr + virt))
		return ekp_err(ENOENT, "not the kernel at 0x%" PRIx64 ": initial_code there holds "
			       "0x%" PRIx64, pa, got);
	if (!x86_64_same_code(image, live, ENTRY_CHECK, virt))
		return ekp_err(ENOENT, "not the kernel at 0x%" PRIx64 ": other code than startup_64 "
			       "(virtual offset 0x%" PRIx64 ")", pa, virt);
	out->virt = virt;
	out->phys = phys;
	return 0;
}

/*
 * A kernel that runs already: its virtual offset is where startup_64's bytes are, among the
 * aligned offsets inside the kernel mapping (read through the kernel's own page tables).
 */
static int x86_64_find_virt_slide(const struct ekp_symtab *st, const struct ekp_boot_info *boot,
				  ekp_read_mem_fn read_mem, void *opaque, uint64_t *virt)
{
	uint64_t align = boot && boot->align ? boot->align : DEFAULT_ALIGN;
	uint8_t image[ENTRY_CHECK + EKP_CODE_SLACK], live[ENTRY_CHECK + EKP_CODE_SLACK];
	struct ekp_sym entry;

	if (align & (align - 1) || align < 0x1000)
		return ekp_err(EINVAL, "kernel alignment 0x%" PRIx64 " is not usable", align);
	if (ekp_symtab_lookup(st, "startup_64", &entry) || !in_map(entry.addr))
		return ekp_err(ENOENT, "no startup_64 in the kernel image mapping");
	if (ekp_symtab_read(st, entry.addr, image, sizeof(image)))
		return ekp_err(ENODATA, "the symbols hold no bytes of startup_64 to recognise the "
			       "kernel by (a System.map?)");
	for (uint64_t off = 0; in_map(entry.addr + off); off += align)
		if (!read_mem(opaque, entry.addr + off, live, sizeof(live)) &&
		    x86_64_same_code(image, live, ENTRY_CHECK, off)) {
			*virt = off;
			return 0;
		}
	return ekp_err(ENOENT, "startup_64's bytes are nowhere in the kernel mapping: is "
		       "--symbols the kernel that runs?");
}

const struct ekp_kaslr_arch x86_64_kaslr_arch = {
	.same_code = x86_64_same_code,
	.image_start = KERNEL_MAP_BASE,
	.image_end = KERNEL_MAP_BASE + KERNEL_MAP_SIZE,
	.entry_candidates = x86_64_entry_candidates,
	.find_slides = x86_64_find_slides,
	.find_virt_slide = x86_64_find_virt_slide,
};
