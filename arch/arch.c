// SPDX-License-Identifier: GPL-2.0
/* The architectures ekprobe knows, by name and by the QEMU binary that emulates them. */
#include <string.h>

#include "ekprobe/arch.h"
#include "ekprobe/symbols.h"
#include "ekprobe/util.h"

static const struct ekp_arch *const arches[] = { &ekp_arch_x86_64, &ekp_arch_arm64 };

const struct ekp_arch *ekp_arch_by_name(const char *name)
{
	if (!name)
		return NULL;
	if (!strcmp(name, "i386:x86-64")) /* GDB's target description name */
		name = "x86_64";
	else if (!strcmp(name, "aarch64")) /* GDB's and QEMU's name for arm64 */
		name = "arm64";
	for (size_t i = 0; i < EKP_ARRAY_SIZE(arches); i++)
		if (!strcmp(name, arches[i]->name))
			return arches[i];
	return NULL;
}

const struct ekp_arch *ekp_arch_by_qemu(const char *qemu_path)
{
	const char *base = qemu_path ? strrchr(qemu_path, '/') : NULL;
	static const char prefix[] = "qemu-system-";

	base = base ? base + 1 : qemu_path;
	if (!base || strncmp(base, prefix, sizeof(prefix) - 1))
		return NULL;
	for (size_t i = 0; i < EKP_ARRAY_SIZE(arches); i++)
		if (!strcmp(base + sizeof(prefix) - 1, arches[i]->qemu_name))
			return arches[i];
	return NULL;
}

const struct ekp_arch *ekp_arch_by_symbols(const struct ekp_symtab *st)
{
	const struct ekp_arch *found = NULL;
	struct ekp_sym sym;

	for (size_t i = 0; i < EKP_ARRAY_SIZE(arches); i++) {
		if (ekp_symtab_lookup(st, arches[i]->entry_sym, &sym))
			continue;
		if (found)
			return NULL;
		found = arches[i];
	}
	return found;
}
