// SPDX-License-Identifier: GPL-2.0
/*
 * The libvirt transport (host/vm/libvirt.h): libvirt's C API for the domain, its QEMU monitor
 * pass-through for QMP, and a gdbstub on a socketpair handed to QEMU through that monitor.
 *
 * Measured with libvirt 9.0 and QEMU 7.2 (Debian 12): getfd over
 * virDomainQemuMonitorCommandWithFiles, then chardev-add of a client socket chardev on that fd,
 * then HMP "gdbserver chardev:ekprobe-gdb" gives a working gdbstub whatever user QEMU runs as;
 * "gdbserver none" deletes the chardev again (only QEMU's own "gdb" monitor chardev, which
 * any gdbserver command creates once, stays listed by "info chardev").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "ekprobe/err.h"
#include "host/vm/libvirt.h"

#define PROC_FILE_MAX (1u << 20) /* a QEMU command line is a few KiB */

struct ekp_libvirt {
	virConnectPtr conn;
	virDomainPtr dom;
	char *uri;
	struct ekp_libvirt_info info;
	bool gdb_open;
	char **qemu_argv;
};

/* libvirt prints every error on stderr by default: ekprobe-host reports them itself. */
static void quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

/* libvirt's message for its last error on this thread. */
static const char *lv_msg(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

static int lv_code(void)
{
	virErrorPtr e = virGetLastError();

	return e ? e->code : VIR_ERR_OK;
}

static int query_status(struct ekp_libvirt *lv);

int ekp_libvirt_open(const char *uri, const char *name, struct ekp_libvirt **out)
{
	struct ekp_libvirt *lv;
	const char *type;
	char *xml, *real_uri;
	int err;

	*out = NULL;
	if (virInitialize() < 0)
		return ekp_err(EIO, "libvirt: %s", lv_msg());
	virSetErrorFunc(NULL, quiet);
	lv = calloc(1, sizeof(*lv));
	if (!lv)
		return ekp_err(ENOMEM, "out of memory");
	lv->conn = virConnectOpen(uri);
	if (!lv->conn) {
		err = ekp_err(ECONNREFUSED, "cannot connect to %s: %s", uri, lv_msg());
		goto fail;
	}
	virConnSetErrorFunc(lv->conn, NULL, quiet);
	real_uri = virConnectGetURI(lv->conn);
	lv->uri = real_uri ? real_uri : strdup(uri);
	lv->info.uri = lv->uri;
	type = virConnectGetType(lv->conn);
	if (!type || strcmp(type, "QEMU")) {
		err = ekp_err(EPROTOTYPE, "%s is libvirt's %s driver: ekprobe-host needs its QEMU "
			      "driver (qemu:///system or qemu:///session)", uri,
			      type ? type : "unknown");
		goto fail;
	}
	lv->dom = virDomainLookupByName(lv->conn, name);
	if (!lv->dom) {
		if (lv_code() == VIR_ERR_NO_DOMAIN)
			err = ekp_err(ENOENT, "no domain '%s' at %s ('virsh list --all' lists the "
				      "domains)", name, lv->uri);
		else
			err = ekp_err(EIO, "looking up domain '%s' at %s: %s", name, lv->uri,
				      lv_msg());
		goto fail;
	}
	lv->info.active = virDomainIsActive(lv->dom) == 1;
	xml = virDomainGetXMLDesc(lv->dom, 0);
	if (!xml) {
		err = ekp_err(EIO, "domain '%s': its XML: %s", name, lv_msg());
		goto fail;
	}
	err = ekp_domxml_parse(xml, strlen(xml), &lv->info.xml);
	free(xml);
	if (err) {
		err = ekp_err_prefix(err, "domain '%s': ", name);
		goto fail;
	}
	if (lv->info.active && (err = query_status(lv)))
		goto fail;
	*out = lv;
	return 0;
fail:
	ekp_libvirt_close(lv);
	return err;
}

/* QEMU's run state into info.status. */
static int query_status(struct ekp_libvirt *lv)
{
	const char *status = NULL;
	json_t *ret = NULL;
	int err = ekp_libvirt_qmp(lv, "query-status", &ret);

	if (!err)
		err = ekp_monitor_status(ret, &status);
	if (!err)
		snprintf(lv->info.status, sizeof(lv->info.status), "%s", status);
	json_decref(ret);
	return err ? ekp_err_prefix(err, "domain '%s': ", lv->info.xml.name) : 0;
}

int ekp_libvirt_refresh_status(struct ekp_libvirt *lv)
{
	return query_status(lv);
}

void ekp_libvirt_close(struct ekp_libvirt *lv)
{
	if (!lv)
		return;
	if (lv->dom)
		virDomainFree(lv->dom);
	if (lv->conn)
		virConnectClose(lv->conn);
	free(lv->uri);
	free(lv->qemu_argv);
	free(lv);
}

const struct ekp_libvirt_info *ekp_libvirt_info(const struct ekp_libvirt *lv)
{
	return &lv->info;
}

int ekp_libvirt_start_paused(struct ekp_libvirt *lv)
{
	if (virDomainCreateWithFlags(lv->dom, VIR_DOMAIN_START_PAUSED) < 0)
		return ekp_err(EIO, "starting domain '%s' paused: %s", lv->info.xml.name, lv_msg());
	lv->info.active = true;
	return 0;
}

int ekp_libvirt_destroy(struct ekp_libvirt *lv)
{
	if (virDomainDestroy(lv->dom) < 0)
		return ekp_err(EIO, "stopping domain '%s': %s", lv->info.xml.name, lv_msg());
	lv->info.active = false;
	return 0;
}

int ekp_libvirt_active(struct ekp_libvirt *lv, bool *active, int *state, int *reason)
{
	*state = VIR_DOMAIN_SHUTOFF;
	*reason = VIR_DOMAIN_SHUTOFF_UNKNOWN;
	if (virDomainGetState(lv->dom, state, reason, 0) < 0) {
		/* A transient domain is gone once it shut off. */
		if (lv_code() == VIR_ERR_NO_DOMAIN) {
			*active = false;
			return 0;
		}
		return ekp_err(EIO, "domain '%s': its state: %s", lv->info.xml.name, lv_msg());
	}
	*active = *state != VIR_DOMAIN_SHUTOFF && *state != VIR_DOMAIN_NOSTATE;
	return 0;
}

const char *ekp_libvirt_state_name(int state)
{
	switch (state) {
	case VIR_DOMAIN_RUNNING: return "running";
	case VIR_DOMAIN_BLOCKED: return "blocked";
	case VIR_DOMAIN_PAUSED: return "paused";
	case VIR_DOMAIN_SHUTDOWN: return "shutting down";
	case VIR_DOMAIN_SHUTOFF: return "shut off";
	case VIR_DOMAIN_CRASHED: return "crashed";
	case VIR_DOMAIN_PMSUSPENDED: return "suspended";
	}
	return "in no state";
}

const char *ekp_libvirt_shutoff_reason(int reason)
{
	switch (reason) {
	case VIR_DOMAIN_SHUTOFF_SHUTDOWN: return "shutdown";
	case VIR_DOMAIN_SHUTOFF_DESTROYED: return "destroyed";
	case VIR_DOMAIN_SHUTOFF_CRASHED: return "crashed";
	case VIR_DOMAIN_SHUTOFF_MIGRATED: return "migrated";
	case VIR_DOMAIN_SHUTOFF_SAVED: return "saved";
	case VIR_DOMAIN_SHUTOFF_FAILED: return "failed";
	case VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT: return "from snapshot";
	case VIR_DOMAIN_SHUTOFF_DAEMON: return "daemon";
	}
	return "unknown";
}

/* One QMP message through the pass-through, with fds for QEMU; its return value. */
static int monitor(struct ekp_libvirt *lv, json_t *cmd, int *fds, unsigned int nr_fds,
		   json_t **ret)
{
	char *text = json_dumps(cmd, JSON_COMPACT), *reply = NULL;
	int r, err;

	*ret = NULL;
	if (!text)
		return ekp_err(ENOMEM, "out of memory");
	if (nr_fds)
		r = virDomainQemuMonitorCommandWithFiles(lv->dom, text, nr_fds, fds, NULL, NULL,
							 &reply, 0);
	else
		r = virDomainQemuMonitorCommand(lv->dom, text, &reply, 0);
	if (r < 0) {
		err = ekp_err(EIO, "%s: %s", json_string_value(json_object_get(cmd, "execute")),
			      lv_msg());
	} else {
		err = ekp_monitor_reply(reply, reply ? strlen(reply) : 0, ret);
		if (err)
			err = ekp_err_prefix(err, "%s: ",
					     json_string_value(json_object_get(cmd, "execute")));
	}
	free(text);
	free(reply);
	return err;
}

static int monitor_cmd(struct ekp_libvirt *lv, const char *command, json_t *args, json_t **ret)
{
	json_t *cmd = json_pack("{s:s}", "execute", command);
	int err;

	if (!cmd) {
		json_decref(args);
		return ekp_err(ENOMEM, "out of memory");
	}
	if (args && json_object_set_new(cmd, "arguments", args)) {
		json_decref(cmd);
		return ekp_err(ENOMEM, "out of memory");
	}
	err = monitor(lv, cmd, NULL, 0, ret);
	json_decref(cmd);
	return err;
}

int ekp_libvirt_qmp(struct ekp_libvirt *lv, const char *command, json_t **ret)
{
	return monitor_cmd(lv, command, NULL, ret);
}

/* An HMP command through QMP's human-monitor-command: its output text (owned by *ret). */
static int hmp(struct ekp_libvirt *lv, const char *line, json_t **ret)
{
	int err = monitor_cmd(lv, "human-monitor-command",
			      json_pack("{s:s}", "command-line", line), ret);

	if (!err && !json_is_string(*ret)) {
		json_decref(*ret);
		*ret = NULL;
		return ekp_err(EPROTO, "%s: the monitor's reply is not text", line);
	}
	return err;
}

static void remove_chardev(struct ekp_libvirt *lv)
{
	json_t *ret = NULL;

	if (!monitor_cmd(lv, "chardev-remove", json_pack("{s:s}", "id", EKP_LIBVIRT_GDB_CHARDEV),
			 &ret))
		json_decref(ret);
	ekp_err_clear();
}

int ekp_libvirt_gdbstub_open(struct ekp_libvirt *lv, int *fd)
{
	json_t *cmd, *ret = NULL;
	const char *said;
	int sv[2], err;

	*fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return ekp_err(errno, "socketpair: %s", strerror(errno));
	cmd = json_pack("{s:s, s:{s:s}}", "execute", "getfd", "arguments", "fdname",
			EKP_LIBVIRT_GDB_CHARDEV);
	err = cmd ? monitor(lv, cmd, &sv[1], 1, &ret) : ekp_err(ENOMEM, "out of memory");
	json_decref(cmd);
	json_decref(ret);
	close(sv[1]); /* QEMU has its own copy now */
	if (err)
		goto fail;
	/* A client socket chardev on the fd just passed: already connected, no file anywhere. */
	err = monitor_cmd(lv, "chardev-add", json_pack(
		"{s:s, s:{s:s, s:{s:{s:s, s:{s:s}}, s:b}}}", "id", EKP_LIBVIRT_GDB_CHARDEV,
		"backend", "type", "socket", "data", "addr", "type", "fd", "data", "str",
		EKP_LIBVIRT_GDB_CHARDEV, "server", 0), &ret);
	json_decref(ret);
	if (err) {
		char why[256];

		snprintf(why, sizeof(why), "%s", ekp_errstr(err));
		ret = NULL;
		if (!monitor_cmd(lv, "closefd", json_pack("{s:s}", "fdname", EKP_LIBVIRT_GDB_CHARDEV),
				 &ret))
			json_decref(ret);
		err = ekp_err(EBUSY, "%s. Another ekprobe-host is attached to the domain, or one was "
			      "killed: then \"virsh qemu-monitor-command %s --hmp 'gdbserver none'\" "
			      "removes that chardev", why, lv->info.xml.name);
		goto fail;
	}
	err = hmp(lv, "gdbserver chardev:" EKP_LIBVIRT_GDB_CHARDEV, &ret);
	said = err ? NULL : json_string_value(ret);
	/* QEMU answers in text either way: "Waiting for gdb connection on device '...'" */
	if (!err && strncmp(said, "Waiting for gdb connection", 26))
		err = ekp_err(EIO, "gdbserver: %.*s", (int)strcspn(said, "\r\n"), said);
	json_decref(ret);
	if (err) {
		remove_chardev(lv);
		goto fail;
	}
	if (fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) < 0) {
		err = ekp_err(errno, "fcntl: %s", strerror(errno));
		lv->gdb_open = true;
		ekp_libvirt_gdbstub_close(lv);
		goto fail;
	}
	lv->gdb_open = true;
	*fd = sv[0];
	return 0;
fail:
	close(sv[0]);
	return err;
}

int ekp_libvirt_gdbstub_close(struct ekp_libvirt *lv)
{
	json_t *ret = NULL;
	int err;

	if (!lv->gdb_open)
		return 0;
	lv->gdb_open = false;
	err = hmp(lv, "gdbserver none", &ret);
	json_decref(ret);
	/* "gdbserver none" deletes the chardev; should a QEMU keep it, remove it here. */
	if (!err)
		remove_chardev(lv);
	return err;
}

/* A small /proc file, whole: 0 and a malloc'ed buffer (NUL-terminated after len bytes). */
static int read_proc(const char *path, char **buf, size_t *len)
{
	size_t cap = 4096, used = 0;
	char *b = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t n;

	if (!b || fd < 0) {
		err = !b ? ekp_err(ENOMEM, "out of memory") :
			   ekp_err(errno, "%s: %s", path, strerror(errno));
		free(b);
		if (fd >= 0)
			close(fd);
		return err;
	}
	while ((n = read(fd, b + used, cap - used)) > 0) {
		used += (size_t)n;
		if (used == cap) {
			char *nb;

			if (cap >= PROC_FILE_MAX) {
				close(fd);
				free(b);
				return ekp_err(EFBIG, "%s: larger than %u bytes", path, PROC_FILE_MAX);
			}
			cap *= 2;
			nb = realloc(b, cap + 1);
			if (!nb) {
				close(fd);
				free(b);
				return ekp_err(ENOMEM, "out of memory");
			}
			b = nb;
		}
	}
	err = n < 0 ? ekp_err(errno, "%s: %s", path, strerror(errno)) : 0;
	close(fd);
	if (err) {
		free(b);
		return err;
	}
	b[used] = '\0';
	*buf = b;
	*len = used;
	return 0;
}

int ekp_libvirt_qemu_process(struct ekp_libvirt *lv, pid_t *pid, char *const **argv)
{
	char path[64], *buf = NULL;
	json_t *ret = NULL;
	pid_t tid = 0, tgid = 0;
	size_t len;
	int err;

	err = ekp_libvirt_qmp(lv, "query-cpus-fast", &ret);
	if (!err)
		err = ekp_monitor_vcpu_thread(ret, &tid);
	json_decref(ret);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	err = read_proc(path, &buf, &len);
	if (err == -ENOENT)
		return ekp_err(ENOENT, "QEMU's vCPU thread %d is not on this host: the domain's QEMU "
			       "runs elsewhere, or in another PID namespace", (int)tid);
	if (!err)
		err = ekp_proc_status_tgid(buf, len, &tgid);
	free(buf);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)tgid);
	err = read_proc(path, &buf, &len);
	if (!err) {
		free(lv->qemu_argv);
		lv->qemu_argv = NULL;
		err = ekp_cmdline_split(buf, len, &lv->qemu_argv);
	}
	free(buf);
	if (err)
		return ekp_err_prefix(err, "the command line of QEMU (process %d): ", (int)tgid);
	if (!ekp_cmdline_has_uuid(lv->qemu_argv, lv->info.xml.uuid))
		return ekp_err(ENOENT, "process %d, which has QEMU's vCPU thread %d, is not the QEMU "
			       "of domain '%s' (no -uuid %s): the domain runs elsewhere", (int)tgid,
			       (int)tid, lv->info.xml.name, lv->info.xml.uuid);
	*pid = tgid;
	*argv = lv->qemu_argv;
	return 0;
}
