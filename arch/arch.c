// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "ekprobe/arch.h"

const struct ekp_arch *ekp_arch_by_name(const char *name)
{
	if (!strcmp(name, "x86_64") || !strcmp(name, "i386:x86-64"))
		return &ekp_arch_x86_64;
	return NULL;
}
