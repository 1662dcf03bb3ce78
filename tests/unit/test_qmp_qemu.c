// SPDX-License-Identifier: GPL-2.0
/*
 * The QMP client against a real QEMU booting the default guest. Skipped unless
 * EKPROBE_BZIMAGE and EKPROBE_INITRD are set and qemu-system-x86_64 is on PATH:
 *   eval $(scripts/kernel.sh print)
 *   EKPROBE_BZIMAGE=$BZIMAGE EKPROBE_INITRD=$INITRD build/tests/test_qmp_qemu
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ekprobe/err.h"
#include "proto/qmp.h"

struct vm {
	char dir[64], sock[128];
	pid_t pid;
	int status; /* wait status once reaped */
	bool reaped;
};

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (access(buf, X_OK) == 0)
			return true;
		path = end ? end + 1 : NULL;
	}
	return false;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reap the child within timeout_ms; true if it is gone. Waits on a pidfd, not a timer. */
static bool reap(struct vm *vm, int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	int pidfd;

	if (vm->reaped)
		return true;
	pidfd = (int)syscall(SYS_pidfd_open, vm->pid, 0);
	while (pidfd >= 0 && !vm->reaped) {
		struct pollfd pfd = { pidfd, POLLIN, 0 };
		int64_t left = end - mono_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		if (waitpid(vm->pid, &vm->status, WNOHANG) == vm->pid)
			vm->reaped = true;
	}
	if (pidfd >= 0)
		close(pidfd);
	if (!vm->reaped) {
		pid_t r = waitpid(vm->pid, &vm->status, WNOHANG);

		vm->reaped = r == vm->pid || (r < 0 && errno == ECHILD);
	}
	return vm->reaped;
}

static int setup(void **state)
{
	const char *bz = getenv("EKPROBE_BZIMAGE"), *initrd = getenv("EKPROBE_INITRD");
	struct vm *vm;

	if (!bz || !*bz || !initrd || !*initrd || !in_path("qemu-system-x86_64"))
		return 0; /* the test itself skips */
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -1;
	snprintf(vm->dir, sizeof(vm->dir), "/tmp/ekp-qmp-qemu-XXXXXX");
	if (!mkdtemp(vm->dir)) {
		free(vm);
		return -1;
	}
	snprintf(vm->sock, sizeof(vm->sock), "%s/qmp.sock", vm->dir);
	vm->pid = fork();
	if (vm->pid < 0) {
		rmdir(vm->dir);
		free(vm);
		return -1;
	}
	if (vm->pid == 0) {
		char qmp[200];
		int null = open("/dev/null", O_RDWR);

		snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", vm->sock);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1); /* the guest console; set EKPROBE_QEMU_LOG to keep it */
			if (!getenv("EKPROBE_QEMU_LOG"))
				dup2(null, 2);
		}
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-S", "-qmp", qmp, "-nographic",
		       "-m", "128", "-kernel", bz, "-initrd", initrd, "-append",
		       "console=ttyS0 panic=-1 quiet nokaslr", "-no-reboot", (char *)NULL);
		_exit(127);
	}
	*state = vm;
	return 0;
}

static int teardown(void **state)
{
	struct vm *vm = *state;

	if (!vm)
		return 0;
	if (!reap(vm, 0)) {
		kill(vm->pid, SIGKILL);
		reap(vm, 5000);
	}
	unlink(vm->sock);
	rmdir(vm->dir);
	free(vm);
	return 0;
}

/* Wait for the named event, skipping others; fail after timeout_ms. */
static void wait_event(struct qmp_client *c, const char *name, int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	struct qmp_msg ev;

	for (;;) {
		int left = (int)(end - mono_ms());
		int rc = qmp_next_event(c, &ev, left > 0 ? left : 0);

		if (rc)
			fail_msg("waiting for %s: %d %s", name, rc, ekp_errmsg());
		if (!strcmp(ev.event, name)) {
			qmp_msg_free(&ev);
			return;
		}
		qmp_msg_free(&ev);
	}
}

static void test_boot(void **state)
{
	struct vm *vm = *state;
	struct qmp_client *c = NULL;
	struct qmp_msg ev;
	json_t *ret, *ver;
	char *out;
	bool shutdown_seen = false;
	int64_t t0, end;
	int rc;

	if (!vm)
		skip();
	/* QEMU creates the socket a little after the fork: connect retries until then */
	rc = qmp_connect_unix(vm->sock, 10000, &c);
	if (rc)
		fail_msg("connect: %s", ekp_errmsg());
	ver = json_object_get(json_object_get(qmp_greeting(c), "version"), "qemu");
	assert_true(json_is_integer(json_object_get(ver, "major")));

	assert_int_equal(qmp_execute(c, "query-status", NULL, &ret, 5000), 0);
	assert_string_equal(json_string_value(json_object_get(ret, "status")), "prelaunch");
	assert_true(json_is_false(json_object_get(ret, "running")));
	json_decref(ret);

	assert_int_equal(qmp_execute(c, "no-such-command", NULL, NULL, 5000), -EIO);
	assert_string_equal(ekp_errmsg(), "CommandNotFound: The command no-such-command has not been found");

	assert_int_equal(qmp_hmp(c, "info status", &out, 5000), 0);
	assert_string_equal(out, "VM status: paused (prelaunch)\r\n");
	free(out);

	t0 = mono_ms();
	assert_int_equal(qmp_execute(c, "cont", NULL, NULL, 5000), 0);
	/* QEMU 7.2 sends RESUME before cont's return, so it is already queued */
	assert_int_equal(qmp_poll_events(c), 1);
	assert_int_equal(qmp_next_event(c, &ev, 0), 0);
	assert_string_equal(ev.event, "RESUME");
	qmp_msg_free(&ev);

	assert_int_equal(qmp_execute(c, "stop", NULL, NULL, 5000), 0);
	wait_event(c, "STOP", 5000);
	assert_int_equal(qmp_execute(c, "query-status", NULL, &ret, 5000), 0);
	assert_string_equal(json_string_value(json_object_get(ret, "status")), "paused");
	json_decref(ret);
	assert_int_equal(qmp_execute(c, "cont", NULL, NULL, 5000), 0);
	wait_event(c, "RESUME", 5000);

	/* The guest's /init runs "reboot -f"; with -no-reboot QEMU reports SHUTDOWN and exits. */
	end = mono_ms() + 120000;
	for (;;) {
		int left = (int)(end - mono_ms());

		rc = qmp_next_event(c, &ev, left > 0 ? left : 0);
		if (rc == -EPIPE)
			break;
		if (rc)
			fail_msg("waiting for SHUTDOWN: %d %s", rc, ekp_errmsg());
		if (!strcmp(ev.event, "SHUTDOWN")) {
			json_t *data = json_object_get(ev.json, "data");

			assert_true(json_is_true(json_object_get(data, "guest")));
			assert_string_equal(json_string_value(json_object_get(data, "reason")),
					    "guest-reset");
			shutdown_seen = true;
		}
		qmp_msg_free(&ev);
	}
	print_message("guest ran to %s in %lld ms\n", shutdown_seen ? "SHUTDOWN and EOF" : "EOF",
		      (long long)(mono_ms() - t0));
	assert_int_equal(qmp_execute(c, "query-status", NULL, NULL, 1000), -EPIPE);
	qmp_close(c);
	assert_true(reap(vm, 10000));
	assert_true(WIFEXITED(vm->status));
	assert_int_equal(WEXITSTATUS(vm->status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_boot, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
