// SPDX-License-Identifier: GPL-2.0
/* The boot phases (phase.h). */
#include <string.h>

#include "host/labs/phase.h"

static const char *const phases[EKP_NR_PHASES] = {
	"startup_64",           /* the first instruction, at its physical address */
	"x86_64_start_kernel",  /* C code, the kernel mapping */
	"start_kernel",         /* the generic kernel starts */
	"setup_arch",           /* memory map, memblock, early page tables */
	"mm_init",              /* the buddy allocator takes over from memblock */
	"rest_init",            /* scheduling starts */
	"kernel_init",          /* pid 1 */
	"kernel_init_freeable", /* SMP, then the initcalls */
	"free_initmem",         /* the initcalls are done */
	"run_init_process",     /* exec of /init */
};

int ekp_phase_of(const char *name, size_t len)
{
	for (int i = 0; i < EKP_NR_PHASES; i++)
		if (strlen(phases[i]) == len && !memcmp(phases[i], name, len))
			return i;
	return -1;
}

const char *ekp_phase_name(int phase)
{
	return phase >= 0 && phase < EKP_NR_PHASES ? phases[phase] : "?";
}
