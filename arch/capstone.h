/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One Capstone handle per architecture for the whole process, shared by that arch's decoders.
 * A Capstone handle must not be used by two threads at once: ekp_cs_get() opens it on first
 * use (details off) and returns it locked; ekp_cs_put() unlocks it.
 */
#ifndef EKP_ARCH_CAPSTONE_H
#define EKP_ARCH_CAPSTONE_H

#include <capstone/capstone.h>
#include <pthread.h>
#include <stdbool.h>

struct ekp_cs {
	pthread_mutex_t lock;
	cs_arch arch;
	cs_mode mode;
	bool tried, ok;
	csh handle;
	cs_insn *insn; /* one instruction buffer, for cs_disasm_iter */
};

#define EKP_CS_INIT(a, m) { .lock = PTHREAD_MUTEX_INITIALIZER, .arch = (a), .mode = (m) }

/* Locked and open, or NULL (not locked) when Capstone cannot open this architecture. */
struct ekp_cs *ekp_cs_get(struct ekp_cs *cs);
void ekp_cs_put(struct ekp_cs *cs);

#endif
