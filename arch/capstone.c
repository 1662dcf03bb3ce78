// SPDX-License-Identifier: GPL-2.0
#include "arch/capstone.h"

struct ekp_cs *ekp_cs_get(struct ekp_cs *cs)
{
	pthread_mutex_lock(&cs->lock);
	if (!cs->tried) {
		cs->tried = true; /* kept for the life of the process */
		if (cs_open(cs->arch, cs->mode, &cs->handle) == CS_ERR_OK) {
			cs_option(cs->handle, CS_OPT_DETAIL, CS_OPT_OFF);
			cs->insn = cs_malloc(cs->handle);
			if (cs->insn)
				cs->ok = true;
			else
				cs_close(&cs->handle);
		}
	}
	if (!cs->ok) {
		pthread_mutex_unlock(&cs->lock);
		return NULL;
	}
	return cs;
}

void ekp_cs_put(struct ekp_cs *cs)
{
	pthread_mutex_unlock(&cs->lock);
}
