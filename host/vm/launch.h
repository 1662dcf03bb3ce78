/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Starting QEMU for a probed boot: the user's command line plus -S (hold the guest before
 * its first instruction), a gdbstub and QMP on Unix sockets in a private 0700 directory.
 */
#ifndef EKPROBE_HOST_LAUNCH_H
#define EKPROBE_HOST_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

struct ekp_qemu {
	pid_t pid;          /* -1 once reaped */
	int status;         /* once reaped: its exit status, 128+N if killed by signal N */
	int pidfd;          /* readable when QEMU exits */
	bool own_pgrp;      /* QEMU runs in a process group of its own */
	char dir[64];
	char gdb_path[128];
	char qmp_path[128];
};

/*
 * Start argv[0] with argv and the added options; waits until both sockets exist. QEMU does
 * not outlive ekprobe-host: it gets SIGKILL when ekprobe-host dies (PR_SET_PDEATHSIG). On
 * failure nothing is left running and -errno is returned with the reason recorded.
 */
int ekp_qemu_launch(char *const *argv, int timeout_ms, struct ekp_qemu *q);
/* Wait for QEMU to exit: returns its exit status (128+signal if killed), also when it was
 * reaped before; -ETIMEDOUT (timeout_ms >= 0) while it runs. */
int ekp_qemu_wait(struct ekp_qemu *q, int timeout_ms);
/* SIGTERM, then SIGKILL if it does not go within timeout_ms; returns its exit status. */
int ekp_qemu_terminate(struct ekp_qemu *q, int timeout_ms);
/* Remove the sockets and the private directory (connections made stay up). */
void ekp_qemu_remove_sockets(struct ekp_qemu *q);
/* That, and close the pidfd. */
void ekp_qemu_cleanup(struct ekp_qemu *q);

#endif
