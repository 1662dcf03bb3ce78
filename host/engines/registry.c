// SPDX-License-Identifier: GPL-2.0
/* The table of engines, built from host/engines/list.h. */
#include <string.h>

#include "ekprobe/util.h"
#include "host/engines/engine.h"

#define EKP_ENGINE(name) extern const struct ekp_engine_ops ekp_engine_##name;
#include "host/engines/list.h"
#undef EKP_ENGINE

static const struct ekp_engine_ops *const engines[] = {
#define EKP_ENGINE(name) &ekp_engine_##name,
#include "host/engines/list.h"
#undef EKP_ENGINE
};

unsigned int ekp_engine_count(void)
{
	return EKP_ARRAY_SIZE(engines);
}

const struct ekp_engine_ops *ekp_engine_at(unsigned int i)
{
	return i < EKP_ARRAY_SIZE(engines) ? engines[i] : NULL;
}

const struct ekp_engine_ops *ekp_engine_by_name(const char *name)
{
	for (unsigned int i = 0; i < EKP_ARRAY_SIZE(engines); i++)
		if (!strcmp(engines[i]->name, name))
			return engines[i];
	return NULL;
}
