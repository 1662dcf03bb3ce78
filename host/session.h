/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One probed run, start to end: get a stopped guest (launch QEMU with -S, or attach to one),
 * arm the engines, run the guest, hand stops and the time between them to the engines, and
 * end cleanly on guest exit, signal or error (probes removed, guest resumed, trace complete).
 * The session is transport and run loop: it knows no engine by name (host/engines/engine.h).
 */
#ifndef EKPROBE_HOST_SESSION_H
#define EKPROBE_HOST_SESSION_H

#include <stdbool.h>

#include <stdint.h>

#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"
#include "host/engines/plan.h"
#include "host/sinks/sink.h"
#include "host/vm/libvirt.h"
#include "host/status.h"
#include "host/vm/spec.h"

struct ekp_session_config {
	const struct ekp_arch *arch;
	const struct ekp_symtab *st;
	struct ekp_probe *const *probes;
	unsigned int nr_probes;
	struct ekp_engine_set *engines; /* the planned engines; the session arms and runs them */
	struct ekp_sink *sink;
	bool summary;
	char *const *qemu_argv;         /* launch mode: the QEMU command line */
	const struct ekp_vm_spec *vm;   /* attach mode: the gdbstub to attach to */
	const char *qmp_path;           /* attach mode, optional */
	struct ekp_libvirt *libvirt;    /* libvirt mode: the domain (vm is EKP_VM_LIBVIRT) */
	int timeout_ms;                 /* QEMU's start, each exchange, the whole shutdown */
	int poll_ms;                    /* how often exit-less engines' records are read */
	/*
	 * The kernel may run elsewhere than its link-time place (KASLR): find where at its first
	 * instruction, among the places the arch says it may be put (given the boot image's
	 * header, NULL for the arch's defaults), then relocate the probes and the engines.
	 */
	bool locate_kernel;
	const struct ekp_boot_info *boot;
	const struct ekp_handoff *handoff; /* --handoff: what the guest takes over, or NULL */
	/* --detach-after-handoff: once the handoff is complete (every handed probe live in the
	 * guest, no return of a handed probe pending here), remove everything and detach. */
	bool detach_after_handoff;
	struct ekp_status *status;      /* the live status line, or NULL */
};

/*
 * Returns the process exit status to use: QEMU's in launch mode (128+N if it was killed by
 * signal N), 0 in attach and libvirt mode; or a negative errno with the reason recorded (then
 * exit 1).
 */
int ekp_session_run(const struct ekp_session_config *cfg);

#endif
