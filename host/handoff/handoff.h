/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --handoff on a stock kernel (docs/handoff.md): the guest's own kprobe events take the trap
 * probes over. Before anything starts, ekprobe-host writes every probe the kernel can take as
 * a `kprobe_event=` definition on the command line it gives QEMU (-append), and finds in the
 * kernel's symbols the moment those boot-time events go live: the first call of
 * trace_event_enable_disable() from init_kprobe_trace() (6.1: enable_boot_kprobe_events(),
 * inlined there). The trap engine stops the guest there and removes the probes' breakpoints;
 * from then on the guest's trace records them.
 */
#ifndef EKPROBE_HOST_HANDOFF_HANDOFF_H
#define EKPROBE_HOST_HANDOFF_HANDOFF_H

#include <stdbool.h>
#include <stdint.h>

#include "ekprobe/probe.h"
#include "ekprobe/arch.h"
#include "ekprobe/symbols.h"
#include "ekprobe/util.h"
#include "host/vm/qemu_argv.h"

/* The command line a kernel takes (x86_64 and arm64 COMMAND_LINE_SIZE, with its NUL). */
#define EKP_HANDOFF_CMDLINE_MAX 2048

struct ekp_handoff {
	unsigned int nr_probes;
	bool *handed;           /* per probe: the guest takes it over */
	unsigned int nr_handed;
	uint64_t switch_addr;   /* the function whose call marks the moment of the handoff */
	uint64_t caller_lo, caller_hi; /* ... when called from [lo, hi) */
	uint64_t create_addr;   /* the kernel function that creates one definition (its result
				 * says whether the kernel took it), or 0 when not in the symbols */
	uint64_t enable_kprobe_addr; /* enable_kprobe(): where a kprobe's own DISABLED flag is
				 * cleared (a second probe on one address goes live there), or 0 */
	char *append;           /* the -append QEMU gets: the user's, plus kprobe_event=... */
};

/*
 * One probe as a `kprobe_event=` definition: the probe's own text with its name made
 * explicit ("p:GRP/EVENT" or "r[N]:GRP/EVENT") and the spaces between its words turned into
 * commas, as the kernel's command line needs. Fails (-EINVAL, reason recorded) for what that
 * form cannot carry: a comma, a semicolon, a double quote, a character outside printable
 * ASCII, a MOD: prefix. Pure.
 */
int ekp_handoff_boot_def(struct ekp_buf *out, const struct ekp_probe *p);

/*
 * Whether the kernel itself would refuse a kprobe at addr (its blacklist, read from the
 * symbols: _kbl_addr_SYM entries and the sections kprobes never probe). Returns 0, or -EPERM
 * with the reason recorded.
 */
int ekp_handoff_kprobe_allowed(const struct ekp_symtab *st, const struct ekp_probe *p);

struct ekp_handoff_config {
	const struct ekp_symtab *st;
	struct ekp_probe *const *probes;
	unsigned int nr_probes;
	const bool *eligible;      /* per probe: on an engine that hands over (trap), not kept by
				    * --no-handoff */
	char *const *qemu_argv;    /* launch mode: the user's QEMU command line */
	/* Told, once per probe that stays on its host engine, why (before anything starts). */
	void (*kept)(void *opaque, const struct ekp_probe *p, const char *why);
	void *opaque;
};

/*
 * Before anything starts: check the kernel has kprobes and kprobe events (symbols), that
 * QEMU boots it with -kernel, that nothing else sets kprobe_event=, and build the
 * definitions. Probes the kernel or kprobe_event= cannot take stay on their engine (told to
 * kept()). Returns 0 and fills h, or a negative errno with the reason (start nothing then).
 */
int ekp_handoff_prepare(const struct ekp_handoff_config *cfg, struct ekp_handoff *h);
void ekp_handoff_free(struct ekp_handoff *h);

/* Launch: put h->append in place of the user's -append. */
int ekp_handoff_qemu_args(const struct ekp_handoff *h, struct ekp_qemu_argv *argv);

#endif
