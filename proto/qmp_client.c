// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking QMP client on a Unix socket. One command in flight at a time; its reply is matched
 * by the "id" we put in the request (1 for qmp_capabilities, then +1 per command). Events that
 * arrive meanwhile are queued FIFO for qmp_next_event(). Replies that carry another id are
 * answers to commands that timed out earlier and are dropped.
 *
 * Measured on QEMU 7.2: the RESUME event of "cont" and the STOP event of "stop" arrive BEFORE
 * the command's return; a reply to a request QEMU could not parse carries no id; a second
 * client on the same socket gets no greeting until the first one disconnects.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "proto/qmp.h"

#define QMP_EVENT_QUEUE_MAX 65536   /* oldest events are dropped beyond this */
#define QMP_POLL_MAX_BYTES (4u << 20) /* qmp_poll_events reads at most this per call */
#define QMP_CONNECT_RETRY_MS 10

struct qmp_client {
	int fd;
	bool eof;
	struct qmp_reader rd;
	json_t *greeting;  /* whole greeting message (owned) */
	json_int_t next_id;
	struct qmp_msg *evq; /* ring of queued events */
	size_t evq_head, evq_len, evq_cap;
	size_t evq_dropped;
};

/* ---- time ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* timeout_ms < 0: no deadline (-1). */
static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Milliseconds left for poll(): -1 forever, 0 when expired. */
static int remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* ---- event queue ---- */

static int evq_push(struct qmp_client *c, struct qmp_msg *m)
{
	if (c->evq_len == QMP_EVENT_QUEUE_MAX) {
		qmp_msg_free(&c->evq[c->evq_head]);
		c->evq_head = (c->evq_head + 1) % c->evq_cap;
		c->evq_len--;
		c->evq_dropped++;
	}
	if (c->evq_len == c->evq_cap) {
		size_t cap = c->evq_cap ? c->evq_cap * 2 : 16, i;
		struct qmp_msg *q = calloc(cap, sizeof(*q));

		if (!q)
			return ekp_err(ENOMEM, "QMP: out of memory queueing an event");
		for (i = 0; i < c->evq_len; i++)
			q[i] = c->evq[(c->evq_head + i) % c->evq_cap];
		free(c->evq);
		c->evq = q;
		c->evq_cap = cap;
		c->evq_head = 0;
	}
	c->evq[(c->evq_head + c->evq_len) % c->evq_cap] = *m;
	c->evq_len++;
	memset(m, 0, sizeof(*m)); /* ownership moved */
	return 0;
}

static bool evq_pop(struct qmp_client *c, struct qmp_msg *out)
{
	if (!c->evq_len)
		return false;
	*out = c->evq[c->evq_head];
	memset(&c->evq[c->evq_head], 0, sizeof(*out));
	c->evq_head = (c->evq_head + 1) % c->evq_cap;
	c->evq_len--;
	return true;
}

/* ---- socket I/O ---- */

/*
 * Read one chunk into the reader. Waits until the deadline for data.
 * Bytes read (> 0), -ETIMEDOUT, -EPIPE on EOF (c->eof set), other -errno.
 * what names the awaited thing in reasons; NULL: a timeout is expected and records none.
 */
static int read_some(struct qmp_client *c, int64_t deadline, const char *what)
{
	char buf[16384];

	if (c->eof)
		return ekp_err(EPIPE, "QMP: connection closed by QEMU");
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		int rc;

		if (n > 0) {
			int err = qmp_reader_feed(&c->rd, buf, (size_t)n);

			return err ? err : (int)n;
		}
		if (n == 0 || errno == ECONNRESET) {
			c->eof = true;
			return ekp_err(EPIPE, "QMP: connection closed by QEMU while waiting for %s",
				       what ? what : "events");
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return ekp_err(errno, "QMP: read: %s", strerror(errno));
		rc = poll(&pfd, 1, remaining(deadline));
		if (rc < 0 && errno != EINTR)
			return ekp_err(errno, "QMP: poll: %s", strerror(errno));
		if (rc == 0)
			return what ? ekp_err(ETIMEDOUT, "QMP: timed out waiting for %s", what)
				    : -ETIMEDOUT;
	}
}

static int write_all(struct qmp_client *c, const char *p, size_t len, int64_t deadline,
		     const char *what)
{
	while (len) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		int rc;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			c->eof = true;
			return ekp_err(EPIPE, "QMP: connection closed by QEMU while sending %s", what);
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return ekp_err(errno, "QMP: write %s: %s", what, strerror(errno));
		rc = poll(&pfd, 1, remaining(deadline));
		if (rc < 0 && errno != EINTR)
			return ekp_err(errno, "QMP: poll: %s", strerror(errno));
		if (rc == 0)
			return ekp_err(ETIMEDOUT, "QMP: timed out sending %s", what);
	}
	return 0;
}

/*
 * Next message of any kind from the stream, reading until the deadline. 0 with *msg, or
 * -ETIMEDOUT, -EPIPE, -EPROTO (a bad line was consumed), other -errno.
 */
static int next_msg(struct qmp_client *c, struct qmp_msg *msg, int64_t deadline, const char *what)
{
	for (;;) {
		int rc = qmp_reader_next(&c->rd, msg);

		if (rc > 0)
			return 0;
		if (rc < 0)
			return rc;
		rc = read_some(c, deadline, what);
		if (rc < 0)
			return rc;
	}
}

/* Copy s into out for an error reason, replacing control characters (untrusted text). */
static void sanitize(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	out[i] = '\0';
}

static const char *kind_name(enum qmp_msg_kind k)
{
	switch (k) {
	case QMP_MSG_GREETING: return "greeting";
	case QMP_MSG_RETURN: return "return";
	case QMP_MSG_ERROR: return "error";
	case QMP_MSG_EVENT: return "event";
	}
	return "?";
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "real";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* ---- commands ---- */

/* A reply is ours if it carries our id, or no id at all (QEMU could not parse the request). */
static bool reply_is_ours(const struct qmp_msg *m, json_int_t id)
{
	return !m->id || (json_is_integer(m->id) && json_integer_value(m->id) == id);
}

static int execute(struct qmp_client *c, const char *command, json_t *args, json_t **ret,
		   int64_t deadline)
{
	json_int_t id;
	json_t *req;
	char *text;
	size_t len;
	int err;

	if (ret)
		*ret = NULL;
	if (!command || (args && !json_is_object(args)))
		return ekp_err(EINVAL, "QMP: bad command or arguments (arguments must be an object)");
	if (c->eof)
		return ekp_err(EPIPE, "QMP: connection closed by QEMU");
	id = ++c->next_id;
	req = json_pack("{s:s, s:I}", "execute", command, "id", (json_int_t)id);
	if (!req || (args && json_object_set(req, "arguments", args))) {
		json_decref(req);
		return ekp_err(EINVAL, "QMP: cannot build the request for %s (invalid UTF-8?)",
			       command);
	}
	text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(req);
	if (!text)
		return ekp_err(EINVAL, "QMP: cannot encode %s (invalid UTF-8?)", command);
	len = strlen(text);
	text[len] = '\n'; /* QEMU's streaming parser needs no line end; send one like QEMU does */
	err = write_all(c, text, len + 1, deadline, command);
	free(text);
	if (err)
		return err;

	for (;;) {
		struct qmp_msg m;

		err = next_msg(c, &m, deadline, command);
		if (err)
			return err;
		switch (m.kind) {
		case QMP_MSG_EVENT:
			err = evq_push(c, &m);
			qmp_msg_free(&m);
			if (err)
				return err;
			continue;
		case QMP_MSG_GREETING:
			qmp_msg_free(&m);
			return ekp_err(EPROTO, "QMP: %s: unexpected greeting in the stream", command);
		case QMP_MSG_RETURN:
		case QMP_MSG_ERROR:
			break;
		}
		if (!reply_is_ours(&m, id)) {
			qmp_msg_free(&m); /* answer to an earlier command that timed out */
			continue;
		}
		if (m.kind == QMP_MSG_ERROR) {
			char cls[128], desc[768];

			sanitize(m.err_class, cls, sizeof(cls));
			sanitize(m.err_desc, desc, sizeof(desc));
			qmp_msg_free(&m);
			return ekp_err(EIO, "%s: %s", cls, desc);
		}
		if (ret)
			*ret = json_incref(json_object_get(m.json, "return"));
		qmp_msg_free(&m);
		return 0;
	}
}

int qmp_execute(struct qmp_client *c, const char *command, json_t *args, json_t **ret,
		int timeout_ms)
{
	return execute(c, command, args, ret, deadline_of(timeout_ms));
}

int qmp_hmp(struct qmp_client *c, const char *cmdline, char **output, int timeout_ms)
{
	json_t *args, *ret = NULL;
	int err;

	if (output)
		*output = NULL;
	if (!cmdline)
		return ekp_err(EINVAL, "QMP: no HMP command line");
	args = json_pack("{s:s}", "command-line", cmdline);
	if (!args)
		return ekp_err(EINVAL, "QMP: cannot encode HMP command line (invalid UTF-8?)");
	err = qmp_execute(c, "human-monitor-command", args, &ret, timeout_ms);
	json_decref(args);
	if (err)
		return err;
	if (!json_is_string(ret)) {
		err = ekp_err(EPROTO, "QMP: human-monitor-command returned a%s %s, not a string",
			      ret && json_is_object(ret) ? "n" : "", ret ? type_name(ret) : "nothing");
		json_decref(ret);
		return err;
	}
	if (output) {
		*output = strdup(json_string_value(ret));
		if (!*output) {
			json_decref(ret);
			return ekp_err(ENOMEM, "QMP: out of memory");
		}
	}
	json_decref(ret);
	return 0;
}

/* ---- events ---- */

int qmp_next_event(struct qmp_client *c, struct qmp_msg *event, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);

	memset(event, 0, sizeof(*event));
	for (;;) {
		struct qmp_msg m;
		int err;

		if (evq_pop(c, event))
			return 0;
		err = next_msg(c, &m, deadline, "an event");
		if (err)
			return err;
		switch (m.kind) {
		case QMP_MSG_EVENT:
			*event = m;
			return 0;
		case QMP_MSG_GREETING:
			qmp_msg_free(&m);
			return ekp_err(EPROTO, "QMP: unexpected greeting in the stream");
		case QMP_MSG_RETURN:
		case QMP_MSG_ERROR:
			qmp_msg_free(&m); /* late answer to a command that timed out */
			continue;
		}
	}
}

int qmp_poll_events(struct qmp_client *c)
{
	size_t budget = QMP_POLL_MAX_BYTES;
	int err = 0;

	for (;;) {
		struct qmp_msg m;
		int rc = qmp_reader_next(&c->rd, &m);

		if (rc < 0)
			return rc;
		if (rc > 0) {
			if (m.kind == QMP_MSG_EVENT)
				err = evq_push(c, &m);
			else if (m.kind == QMP_MSG_GREETING)
				err = ekp_err(EPROTO, "QMP: unexpected greeting in the stream");
			/* returns and errors here answer commands that timed out: dropped */
			qmp_msg_free(&m);
			if (err)
				return err;
			continue;
		}
		if (c->eof || !budget)
			break;
		rc = read_some(c, now_ms(), NULL);
		if (rc == -ETIMEDOUT)
			break; /* nothing more is readable now */
		if (rc == -EPIPE)
			continue; /* parse what is buffered, then report EOF */
		if (rc < 0)
			return rc;
		budget -= (size_t)rc < budget ? (size_t)rc : budget;
	}
	if (c->eof)
		return ekp_err(EPIPE, "QMP: connection closed by QEMU");
	return c->evq_len > INT32_MAX ? INT32_MAX : (int)c->evq_len;
}

/* ---- connection ---- */

static int connect_retry(const char *path, int64_t deadline, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return ekp_err(ENAMETOOLONG, "QMP: socket path too long or missing");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		int err, left;

		if (fd < 0)
			return ekp_err(errno, "QMP: socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			*fdp = fd;
			return 0;
		}
		err = errno;
		close(fd);
		/* Not there yet (QEMU still starting) or backlog full: try again. */
		if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN && err != EINTR)
			return ekp_err(err, "QMP: connect %s: %s", path, strerror(err));
		left = remaining(deadline);
		if (left == 0)
			return ekp_err(err, "QMP: connect %s: %s", path, strerror(err));
		if (left < 0 || left > QMP_CONNECT_RETRY_MS)
			left = QMP_CONNECT_RETRY_MS;
		poll(NULL, 0, left);
	}
}

int qmp_connect_unix(const char *path, int timeout_ms, struct qmp_client **out)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct qmp_client *c;
	struct qmp_msg m;
	int err;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ekp_err(ENOMEM, "QMP: out of memory");
	c->fd = -1;
	qmp_reader_init(&c->rd);
	err = connect_retry(path, deadline, &c->fd);
	if (err)
		goto fail;
	err = next_msg(c, &m, deadline, "the greeting");
	if (err)
		goto fail;
	if (m.kind != QMP_MSG_GREETING) {
		err = ekp_err(EPROTO, "QMP: expected the greeting, got a message of kind %s",
			      kind_name(m.kind));
		qmp_msg_free(&m);
		goto fail;
	}
	c->greeting = json_incref(m.json);
	qmp_msg_free(&m);
	err = execute(c, "qmp_capabilities", NULL, NULL, deadline);
	if (err)
		goto fail;
	*out = c;
	return 0;
fail:
	qmp_close(c);
	return err;
}

void qmp_close(struct qmp_client *c)
{
	struct qmp_msg m;

	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	while (evq_pop(c, &m))
		qmp_msg_free(&m);
	free(c->evq);
	json_decref(c->greeting);
	qmp_reader_free(&c->rd);
	free(c);
}

int qmp_fd(const struct qmp_client *c)
{
	return c->fd;
}

json_t *qmp_greeting(const struct qmp_client *c)
{
	return json_object_get(c->greeting, "QMP");
}
