/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A libvirt domain as ekprobe-host's guest (--vm libvirt:NAME, --connect URI), through libvirt's
 * C API and its QEMU monitor pass-through (libvirt-qemu): no socket of QEMU's is opened
 * besides the gdbstub, and that one is not a file either. The gdbstub is one end of a
 * socketpair handed to QEMU through the monitor (getfd, chardev-add, "gdbserver chardev:..."),
 * so only ekprobe-host holds the other end, whoever QEMU runs as; "gdbserver none" closes it
 * and removes the chardev.
 *
 * Policy (when to start the domain, what to do with it at the end) is the session's; this is
 * transport. Every function returns 0 or a negative errno with the reason (ekp_err); libvirt's
 * own error printing is turned off and its message goes into the reason.
 */
#ifndef EKPROBE_HOST_VM_LIBVIRT_H
#define EKPROBE_HOST_VM_LIBVIRT_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "host/vm/libvirt_parse.h"

#define EKP_LIBVIRT_DEFAULT_URI "qemu:///system"
#define EKP_LIBVIRT_GDB_CHARDEV "ekprobe-gdb"

struct ekp_libvirt;

/* The domain as ekprobe-host found it when it opened it. */
struct ekp_libvirt_info {
	const char *uri;         /* as libvirt names the connection */
	bool active;             /* running or paused: QEMU exists (else shut off) */
	char status[32];         /* active: QEMU's run state (query-status): "prelaunch" when
				  * held before the first instruction, "running", "paused"... */
	struct ekp_domxml xml;   /* its XML: the live one when active */
};

/*
 * Connect to uri and find the domain name. The errors a user can act on, each with its reason:
 *   -ECONNREFUSED  uri cannot be reached (no daemon, no permission, a bad URI)
 *   -ENOENT        no domain of that name there
 *   -EPROTOTYPE    the connection's driver is not libvirt's QEMU driver
 * and -EPROTO for XML ekprobe-host cannot read.
 */
int ekp_libvirt_open(const char *uri, const char *name, struct ekp_libvirt **out);
void ekp_libvirt_close(struct ekp_libvirt *lv);
const struct ekp_libvirt_info *ekp_libvirt_info(const struct ekp_libvirt *lv);

/* Start the (shut off) domain with its vCPUs paused: QEMU holds the guest before its first
 * instruction (QMP status "prelaunch"). */
int ekp_libvirt_start_paused(struct ekp_libvirt *lv);
/* Read QEMU's run state again into info.status (the domain must be active). */
int ekp_libvirt_refresh_status(struct ekp_libvirt *lv);
/* Stop the domain at once (virDomainDestroy): for a domain ekprobe-host started and could not
 * let run. */
int ekp_libvirt_destroy(struct ekp_libvirt *lv);
/* Whether QEMU still exists for the domain (running or paused), and libvirt's state. */
int ekp_libvirt_active(struct ekp_libvirt *lv, bool *active, int *state, int *reason);
/* libvirt's name of a virDomainState / its shut-off reason, for messages. */
const char *ekp_libvirt_state_name(int state);
const char *ekp_libvirt_shutoff_reason(int reason);

/* A QMP command (no arguments) through the monitor pass-through: its return value (a new
 * reference), or -EPROTO with QEMU's reason. */
int ekp_libvirt_qmp(struct ekp_libvirt *lv, const char *command, json_t **ret);

/*
 * Open a gdbstub on a private socketpair: *fd is ekprobe-host's end (non-blocking, close-on-
 * exec). Fails if the domain already has ekprobe's chardev (another ekprobe-host attached).
 */
int ekp_libvirt_gdbstub_open(struct ekp_libvirt *lv, int *fd);
/* Close it ("gdbserver none"; the chardev goes with it). A no-op when none was opened. */
int ekp_libvirt_gdbstub_close(struct ekp_libvirt *lv);

/*
 * The QEMU process of the (active) domain on this host: the process of its first vCPU thread
 * (query-cpus-fast), checked to be the QEMU started for this domain (its command line has the
 * domain's -uuid). *pid and *argv (its command line, NULL-terminated, owned by lv) or -ENOENT
 * when QEMU does not run on this host or cannot be seen from here.
 */
int ekp_libvirt_qemu_process(struct ekp_libvirt *lv, pid_t *pid, char *const **argv);

#endif
