// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "host/vm/launch.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int pidfd_open_compat(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static char **build_argv(char *const *argv, const struct ekp_qemu *q)
{
	char gdb_dev[256], qmp_dev[256];
	const char *extra[] = {
		"-S",
		"-chardev", gdb_dev, "-gdb", "chardev:ekprobe-gdb",
		"-chardev", qmp_dev, "-mon", "chardev=ekprobe-qmp,mode=control",
	};
	size_t n = 0, i, k = 0;
	char **out;

	snprintf(gdb_dev, sizeof(gdb_dev), "socket,id=ekprobe-gdb,path=%s,server=on,wait=off",
		 q->gdb_path);
	snprintf(qmp_dev, sizeof(qmp_dev), "socket,id=ekprobe-qmp,path=%s,server=on,wait=off",
		 q->qmp_path);
	while (argv[n])
		n++;
	out = calloc(n + sizeof(extra) / sizeof(extra[0]) + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; i < n; i++)
		out[k++] = strdup(argv[i]);
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		out[k++] = strdup(extra[i]);
	for (i = 0; i < k; i++)
		if (!out[i])
			return NULL; /* leaks on OOM only, and we exit then */
	return out;
}

static void free_argv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Both sockets exist: wait on inotify for their creation, and on the pidfd for an early exit. */
static int wait_for_sockets(struct ekp_qemu *q, int ino, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char buf[4096];

	for (;;) {
		struct stat a, b;
		struct pollfd p[2] = { { ino, POLLIN, 0 }, { q->pidfd, POLLIN, 0 } };
		long long left = deadline - now_ms();
		int n;

		if (!stat(q->gdb_path, &a) && !stat(q->qmp_path, &b))
			return 0;
		if (left <= 0)
			return ekp_err(ETIMEDOUT, "QEMU did not open its gdbstub and QMP sockets "
				       "within %d ms", timeout_ms);
		n = poll(p, 2, (int)left);
		if (n < 0 && errno != EINTR)
			return ekp_err(errno, "poll: %s", strerror(errno));
		if (n > 0 && (p[1].revents & POLLIN)) {
			int status = ekp_qemu_wait(q, 0);

			return ekp_err(ECHILD, "QEMU exited before it started (status %d); its "
				       "messages are above", status);
		}
		if (n > 0 && (p[0].revents & POLLIN) && read(ino, buf, sizeof(buf)) < 0 &&
		    errno != EAGAIN)
			return ekp_err(errno, "inotify: %s", strerror(errno));
	}
}

int ekp_qemu_launch(char *const *argv, int timeout_ms, struct ekp_qemu *q)
{
	char **args;
	int ino, err;
	pid_t pid, parent;

	memset(q, 0, sizeof(*q));
	q->pid = -1;
	q->status = -1;
	q->pidfd = -1;
	snprintf(q->dir, sizeof(q->dir), "%s/ekprobe.XXXXXX",
		 getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 40 ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(q->dir)) /* mode 0700 */
		return ekp_err(errno, "creating a private socket directory: %s", strerror(errno));
	snprintf(q->gdb_path, sizeof(q->gdb_path), "%s/gdb.sock", q->dir);
	snprintf(q->qmp_path, sizeof(q->qmp_path), "%s/qmp.sock", q->dir);
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino < 0 || inotify_add_watch(ino, q->dir, IN_CREATE) < 0) {
		err = ekp_err(errno, "inotify: %s", strerror(errno));
		goto fail;
	}
	args = build_argv(argv, q);
	if (!args) {
		err = ekp_err(ENOMEM, "out of memory");
		goto fail;
	}
	/*
	 * A terminal's Ctrl-C must reach QEMU as well when it shares the terminal (it may need
	 * it for its console); otherwise QEMU gets a process group of its own, so that a signal
	 * to ekprobe-host lets it detach cleanly while the guest runs on.
	 */
	q->own_pgrp = !isatty(STDIN_FILENO);
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		err = ekp_err(errno, "fork: %s", strerror(errno));
		free_argv(args);
		goto fail;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL); /* ignored by ekprobe-host for its own writes */
		signal(SIGXFSZ, SIG_DFL);
		/* QEMU must not outlive us (held at -S it would wait forever): SIGKILL when the
		 * parent dies; and if it died already, go now. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(127);
		if (q->own_pgrp)
			setpgid(0, 0);
		umask(077); /* the sockets QEMU creates: 0600 */
		execvp(args[0], args);
		fprintf(stderr, "ekprobe-host: cannot run %s: %s\n", args[0], strerror(errno));
		_exit(127);
	}
	free_argv(args);
	q->pid = pid;
	q->pidfd = pidfd_open_compat(pid);
	if (q->pidfd < 0) {
		err = ekp_err(errno, "pidfd_open: %s", strerror(errno));
		goto fail;
	}
	err = wait_for_sockets(q, ino, timeout_ms);
	if (err)
		goto fail;
	close(ino);
	return 0;
fail:
	if (ino >= 0)
		close(ino);
	if (q->pid > 0)
		ekp_qemu_terminate(q, 2000);
	ekp_qemu_cleanup(q);
	return err;
}

int ekp_qemu_wait(struct ekp_qemu *q, int timeout_ms)
{
	int status;
	pid_t r;

	if (q->pid == -1 && q->status >= 0)
		return q->status;
	if (q->pid <= 0)
		return -ECHILD;
	if (timeout_ms >= 0) {
		struct pollfd p = { q->pidfd, POLLIN, 0 };

		if (q->pidfd >= 0 && poll(&p, 1, timeout_ms) == 0)
			return -ETIMEDOUT;
	}
	do
		r = waitpid(q->pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	q->pid = -1;
	q->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return q->status;
}

int ekp_qemu_terminate(struct ekp_qemu *q, int timeout_ms)
{
	int status;

	if (q->pid <= 0)
		return ekp_qemu_wait(q, 0);
	kill(q->pid, SIGTERM);
	status = ekp_qemu_wait(q, timeout_ms);
	if (status == -ETIMEDOUT) {
		kill(q->pid, SIGKILL);
		status = ekp_qemu_wait(q, -1);
	}
	return status;
}

void ekp_qemu_cleanup(struct ekp_qemu *q)
{
	if (q->pidfd >= 0)
		close(q->pidfd);
	q->pidfd = -1;
	ekp_qemu_remove_sockets(q);
}

void ekp_qemu_remove_sockets(struct ekp_qemu *q)
{
	if (q->gdb_path[0])
		unlink(q->gdb_path);
	if (q->qmp_path[0])
		unlink(q->qmp_path);
	if (q->dir[0])
		rmdir(q->dir);
	q->dir[0] = q->gdb_path[0] = q->qmp_path[0] = '\0';
}
