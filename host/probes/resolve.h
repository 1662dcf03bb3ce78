/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Symbol resolution: SYM+offs and MEMADDR to addresses, checked the way the kernel checks a
 * kprobe (known, unique, a function, offset inside it and on an instruction boundary), and
 * @SYM fetch-args to addresses.
 */
#ifndef EKPROBE_HOST_RESOLVE_H
#define EKPROBE_HOST_RESOLVE_H

#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"

/* Resolve every probe of the list. On the first failure returns -errno with
 * "FILE:LINE:COL: reason" recorded through ekp_err(); nothing is changed after it. */
int ekp_resolve_probes(struct ekp_probe_list *l, const struct ekp_symtab *st,
		       const struct ekp_arch *arch);
int ekp_resolve_probe(struct ekp_probe *p, const struct ekp_symtab *st, const struct ekp_arch *arch);

#endif
