/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The probe table ekprobe-host hands the plugin (include/ekprobe/tcg.h), checked and turned
 * into the plugin's lookup: address -> the probes there, in O(1) per translated instruction
 * whatever the number of probes. Pure (no QEMU, no I/O): the plugin uses it at install, and
 * tests/fuzz/fuzz_tcg_table.c feeds it arbitrary bytes.
 */
#ifndef EKPROBE_PLUGIN_TABLE_H
#define EKPROBE_PLUGIN_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "ekprobe/tcg.h"

/* A place the plugin instruments: every probe at one address (or its alias). */
struct ekp_tcg_site {
	uint64_t addr;
	uint32_t first, count;   /* its probes: site_probes[first .. first + count), entry
				  * probes first, in table order */
	uint8_t alias;           /* the early alias of kernel text */
	uint8_t early_end;       /* the header's early_end is here */
};

struct ekp_tcg_table {
	struct ekp_tcg_hdr hdr;            /* a copy of the checked header */
	struct ekp_tcg_probe *probes;      /* a private copy of the checked entries */
	uint32_t nr_probes;
	struct ekp_tcg_site *sites;
	uint32_t nr_sites;
	uint32_t *site_probes;
	uint32_t *hash;                    /* site index + 1; 0 empty */
	uint32_t hash_mask;
};

/*
 * Check the region mem[0..size) (the header, every entry, the rings' placement) and build the
 * lookup. 0, or -1 with the reason in why. The probes and rings stay in mem; the table keeps
 * private copies of what it checked.
 */
int ekp_tcg_table_load(const void *mem, size_t size, struct ekp_tcg_table *t, char *why,
		       size_t whylen);
void ekp_tcg_table_free(struct ekp_tcg_table *t);
/* The site at addr, or NULL. */
const struct ekp_tcg_site *ekp_tcg_table_find(const struct ekp_tcg_table *t, uint64_t addr);

#endif
