/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One probed run, start to end: get a stopped guest (launch QEMU with -S, or attach to one),
 * arm the engine, run the guest, turn stops into events for the sink, and end cleanly on
 * guest exit, signal or error (breakpoints removed, guest resumed, trace flushed).
 */
#ifndef EKPROBE_HOST_SESSION_H
#define EKPROBE_HOST_SESSION_H

#include <stdbool.h>

#include "ekprobe/arch.h"
#include "ekprobe/probe.h"
#include "ekprobe/symbols.h"
#include "host/engines/jump.h"
#include "host/sinks/sink.h"

struct ekp_session_config {
	const struct ekp_arch *arch;
	const struct ekp_symtab *st;
	struct ekp_probe_list *probes;
	struct ekp_sink *sink;
	bool summary;
	char *const *qemu_argv; /* launch mode: the QEMU command line */
	const char *vm;         /* attach mode: "gdb:HOST:PORT" or "unix:PATH" */
	const char *qmp_path;   /* attach mode, optional */
	int timeout_ms;         /* for each protocol exchange */
	/* Probes planned on the jump engine (the others go to the trap engine), or NULL. */
	struct ekp_jump_engine *jump;
	bool icount;            /* QEMU runs with -icount: guest TSC counts virtual ns */
	int poll_ms;            /* how often the jump engine's ring is read (0: 10 ms) */
};

/* Returns the process exit status to use (QEMU's in launch mode), or negative errno with a
 * reason recorded. */
int ekp_session_run(const struct ekp_session_config *cfg);

#endif
