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

/*
 * The kernel runs moved (KASLR): every resolved address in [lo, hi) (probe addresses, raw ones
 * included since they were checked against the link-time symbols, and @SYM fetch-args) moves
 * by delta. @ADDR fetch-args stay: they are addresses of the running kernel.
 */
void ekp_probes_relocate(struct ekp_probe *const *probes, unsigned int n, uint64_t lo,
			 uint64_t hi, uint64_t delta);

#endif
