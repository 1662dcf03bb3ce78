// SPDX-License-Identifier: GPL-2.0
/*
 * The arm64 machine as QEMU builds it (-M virt): where guest RAM is, where QEMU's boot loader
 * puts a kernel Image, and the guest's counter.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "arch/arm64/arm64.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"

/*
 * Linux 6.1, 4 KiB pages, no KASLR: the image is linked at KIMAGE_VADDR (MODULES_END, 128 MiB
 * above the start of the kernel's upper half) and _text is its first byte. That is
 * 0xffffffc008000000 with 39-bit VAs (tinyconfig's default, the default guest's) and
 * 0xffff800008000000 with 48-bit ones (distribution kernels). The image is far smaller than
 * the 2 GiB window allowed here; the two windows do not overlap.
 */
static const uint64_t kimage_vaddr[] = { 0xffffffc008000000ull, 0xffff800008000000ull };
#define KIMAGE_WINDOW 0x80000000ull
/*
 * QEMU's arm boot loader (hw/arm/boot.c, load_aarch64_image) puts an Image whose header asks
 * for text_offset 0 at RAM base + 2 MiB (the loader's own code sits at the bottom of RAM).
 */
#define IMAGE_LOAD_PA (ARM64_VIRT_RAM_BASE + 0x200000ull)

/*
 * primary_entry and everything it calls run with the MMU off (then in the identity map) at
 * the image's physical address, until __primary_switch branches to __primary_switched in
 * the kernel mapping.
 */
bool arm64_early_alias(uint64_t vaddr, uint64_t *alias)
{
	for (size_t i = 0; i < sizeof(kimage_vaddr) / sizeof(kimage_vaddr[0]); i++) {
		if (vaddr < kimage_vaddr[i] || vaddr - kimage_vaddr[i] >= KIMAGE_WINDOW)
			continue;
		*alias = IMAGE_LOAD_PA + (vaddr - kimage_vaddr[i]);
		return true;
	}
	return false;
}

/* -M virt in any spelling QEMU takes: "-M virt", "-machine virt-7.2", "-M type=virt,...". */
static bool machine_is_virt(char *const *argv)
{
	for (size_t i = 0; argv && argv[i] && argv[i + 1]; i++) {
		const char *m = argv[i + 1];

		if (strcmp(argv[i], "-M") && strcmp(argv[i], "-machine"))
			continue;
		if (!strncmp(m, "type=", 5))
			m += 5;
		if (!strncmp(m, "virt", 4) && (m[4] == '\0' || m[4] == '-' || m[4] == ','))
			return true;
	}
	return false;
}

/* -M virt: all RAM is one range at 1 GiB (hw/arm/virt.c VIRT_MEM), at offset 0 of its backend. */
int arm64_ram_layout(char *const *qemu_argv, uint64_t ram, struct ekp_ram_layout *out)
{
	memset(out, 0, sizeof(*out));
	if (!ram)
		return ekp_err(EINVAL, "guest RAM size 0");
	if (!machine_is_virt(qemu_argv))
		return ekp_err(EOPNOTSUPP, "ekprobe knows the RAM layout of qemu-system-aarch64 "
			       "-M virt only");
	out->range[out->nr++] = (struct ekp_ram_range){ ARM64_VIRT_RAM_BASE, ram, 0 };
	return 0;
}

void arm64_clock_mark(struct ekp_clock_mark *m)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	m->mono_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	m->ticks = 0;
	m->have_ticks = false;
}

/*
 * The arm64 guest patch stamps jump-engine records with its generic timer's virtual count
 * already converted to nanoseconds (CNTVCT_EL0 scaled by CNTFRQ_EL0, docs/abi.md): the rate
 * of that stamp is 1 GHz by construction, whatever QEMU's counter frequency and -icount say.
 */
int arm64_clock_rate(const struct ekp_clock_mark *since, bool icount, uint64_t *hz)
{
	(void)since;
	(void)icount;
	*hz = 1000000000ull;
	return 0;
}
