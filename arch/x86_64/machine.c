// SPDX-License-Identifier: GPL-2.0
/*
 * The x86_64 machine as QEMU builds it (pc and q35): how guest RAM lies in the RAM backend
 * file, and the guest's timestamp counter under TCG.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"

#define FOUR_GIB (4ull << 30)
#define LEGACY_HOLE_START 0xa0000ull /* VGA window, option ROMs, BIOS: not RAM */
#define LEGACY_HOLE_END 0x100000ull

/* -M/-machine q35 (any version): QEMU splits RAM at 2 GiB there, at 3 GiB on pc. */
static bool machine_is_q35(char *const *argv)
{
	for (size_t i = 0; argv && argv[i] && argv[i + 1]; i++)
		if ((!strcmp(argv[i], "-M") || !strcmp(argv[i], "-machine")) &&
		    (!strncmp(argv[i + 1], "q35", 3) || strstr(argv[i + 1], "type=q35") ||
		     strstr(argv[i + 1], "pc-q35")))
			return true;
	return false;
}

uint64_t x86_64_ram_below_4g(bool q35, uint64_t ram)
{
	/* hw/i386/pc_q35.c, pc_piix.c (gigabyte_align), without max-ram-below-4g */
	if (q35)
		return ram >= 0xb0000000ull ? 0x80000000ull : ram;
	return ram >= 0xe0000000ull ? 0xc0000000ull : ram;
}

/*
 * The RAM file holds the RAM below the 4 GiB split at offset = GPA (the legacy VGA/BIOS window
 * 0xa0000-0xfffff is not RAM as the guest sees it), and the rest from 4 GiB on right after it.
 */
int x86_64_ram_layout(char *const *qemu_argv, uint64_t ram, struct ekp_ram_layout *out)
{
	uint64_t below = x86_64_ram_below_4g(machine_is_q35(qemu_argv), ram);

	memset(out, 0, sizeof(*out));
	if (!ram)
		return ekp_err(EINVAL, "guest RAM size 0");
	out->range[out->nr++] = (struct ekp_ram_range){ 0, below < LEGACY_HOLE_START ?
							below : LEGACY_HOLE_START, 0 };
	if (below > LEGACY_HOLE_END)
		out->range[out->nr++] = (struct ekp_ram_range){ LEGACY_HOLE_END,
								below - LEGACY_HOLE_END,
								LEGACY_HOLE_END };
	if (ram > below)
		out->range[out->nr++] = (struct ekp_ram_range){ FOUR_GIB, ram - below, below };
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Under TCG the guest's TSC is QEMU's cpu_get_host_ticks() (with the time the VM was stopped
 * taken out): on an x86_64 host that is the host's own TSC, so its rate is the host TSC's.
 * Other hosts give QEMU other counters, which ekprobe-host does not read.
 */
void x86_64_clock_mark(struct ekp_clock_mark *m)
{
	m->mono_ns = mono_ns();
#if defined(__x86_64__)
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	m->ticks = (uint64_t)hi << 32 | lo;
	m->have_ticks = true;
#else
	m->ticks = 0;
	m->have_ticks = false;
#endif
}

int x86_64_clock_rate(const struct ekp_clock_mark *since, bool icount, uint64_t *hz)
{
	struct ekp_clock_mark now;
	uint64_t dt;

	if (icount) { /* -icount: the TSC counts virtual nanoseconds */
		*hz = 1000000000u;
		return 0;
	}
	if (!since->have_ticks)
		return ekp_err(EOPNOTSUPP, "the guest's TSC follows the host's cycle counter under "
			       "TCG, which ekprobe-host can only read on an x86_64 host: run QEMU "
			       "with -icount (then the TSC counts guest nanoseconds)");
	x86_64_clock_mark(&now);
	dt = now.mono_ns - since->mono_ns;
	if (dt < 1000000 || now.ticks <= since->ticks)
		return ekp_err(EAGAIN, "too little time (%" PRIu64 " ns) to measure the host TSC "
			       "rate", dt);
	*hz = (uint64_t)((unsigned __int128)(now.ticks - since->ticks) * 1000000000u / dt);
	return 0;
}
