// SPDX-License-Identifier: GPL-2.0
/*
 * QMP reader and client. The byte streams in tests/unit/data/qmp/ were recorded from QEMU 7.2
 * (tests/unit/data/qmp/capture.py); the client tests replay them through a scripted server
 * thread on a Unix socket. Run from the repository root.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ekprobe/err.h"
#include "proto/qmp.h"

/* ---- helpers ---- */

static char *load(const char *name, size_t *len)
{
	char path[512];
	struct ekp_buf b = { 0 };
	char chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "tests/unit/data/qmp/%s", name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s (run from the repository root)\n", path);
		fail();
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(ekp_buf_append(&b, chunk, n), 0);
	fclose(f);
	assert_non_null(b.data);
	*len = b.len;
	return b.data;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *str_at(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void assert_id(const struct qmp_msg *m, json_int_t id)
{
	assert_non_null(m->id);
	assert_true(json_is_integer(m->id));
	assert_int_equal(json_integer_value(m->id), id);
}

/* ---- the recorded session through the reader ---- */

/* Check the 14 messages of session.txt, in order. */
static void check_session_msg(int i, const struct qmp_msg *m)
{
	json_t *ret = json_object_get(m->json, "return");
	json_t *ver;

	switch (i) {
	case 0:
		assert_int_equal(m->kind, QMP_MSG_GREETING);
		assert_null(m->id);
		ver = json_object_get(json_object_get(m->json, "QMP"), "version");
		assert_int_equal(json_integer_value(json_object_get(json_object_get(ver, "qemu"), "major")), 7);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(ver, "qemu"), "minor")), 2);
		assert_string_equal(json_string_value(json_array_get(
			json_object_get(json_object_get(m->json, "QMP"), "capabilities"), 0)), "oob");
		break;
	case 1: /* qmp_capabilities */
	case 5: /* cont */
	case 7: /* stop */
	case 12: /* cont */
		assert_int_equal(m->kind, QMP_MSG_RETURN);
		assert_true(json_is_object(ret));
		assert_int_equal(json_object_size(ret), 0);
		assert_id(m, i == 1 ? 1 : i == 5 ? 4 : i == 7 ? 5 : 9);
		break;
	case 2:
		assert_int_equal(m->kind, QMP_MSG_RETURN);
		assert_id(m, 2);
		assert_string_equal(str_at(ret, "status"), "prelaunch");
		assert_true(json_is_false(json_object_get(ret, "running")));
		break;
	case 3:
		assert_int_equal(m->kind, QMP_MSG_ERROR);
		assert_id(m, 3);
		assert_string_equal(m->err_class, "CommandNotFound");
		assert_string_equal(m->err_desc, "The command no-such-command has not been found");
		break;
	case 4:
	case 11:
		assert_int_equal(m->kind, QMP_MSG_EVENT);
		assert_string_equal(m->event, "RESUME");
		assert_null(m->id);
		assert_true(json_is_integer(json_object_get(json_object_get(m->json, "timestamp"),
							    "seconds")));
		assert_null(json_object_get(m->json, "data"));
		break;
	case 6:
		assert_int_equal(m->kind, QMP_MSG_EVENT);
		assert_string_equal(m->event, "STOP");
		break;
	case 8:
		assert_int_equal(m->kind, QMP_MSG_RETURN);
		assert_id(m, 6);
		assert_string_equal(json_string_value(ret), "VM status: paused\r\n");
		break;
	case 9:
		assert_int_equal(m->kind, QMP_MSG_ERROR);
		assert_id(m, 7);
		assert_string_equal(m->err_class, "GenericError");
		assert_string_equal(m->err_desc, "Parameter 'command-line' is missing");
		break;
	case 10:
		assert_int_equal(m->kind, QMP_MSG_RETURN);
		assert_id(m, 8);
		assert_string_equal(json_string_value(ret), "unknown command: 'no-such-hmp'\r\n");
		break;
	case 13:
		assert_int_equal(m->kind, QMP_MSG_EVENT);
		assert_string_equal(m->event, "SHUTDOWN");
		assert_true(json_is_true(json_object_get(json_object_get(m->json, "data"), "guest")));
		assert_string_equal(str_at(json_object_get(m->json, "data"), "reason"), "guest-reset");
		break;
	default:
		fail_msg("unexpected message %d", i);
	}
}

/* Feed data in chunks of `step` bytes (0: all at once), taking messages out as they come. */
static void replay_session(size_t step)
{
	struct qmp_reader r;
	struct qmp_msg m;
	size_t len, pos = 0;
	char *data = load("session.txt", &len);
	int count = 0, rc;

	qmp_reader_init(&r);
	while (pos < len) {
		size_t n = step && step < len - pos ? step : len - pos;

		assert_int_equal(qmp_reader_feed(&r, data + pos, n), 0);
		pos += n;
		while ((rc = qmp_reader_next(&r, &m)) == 1) {
			check_session_msg(count++, &m);
			qmp_msg_free(&m);
		}
		assert_int_equal(rc, 0);
		assert_null(m.json);
	}
	assert_int_equal(count, 14);
	qmp_reader_free(&r);
	free(data);
}

static void test_session_whole(void **state)
{
	replay_session(0);
}

static void test_session_chunked(void **state)
{
	static const size_t steps[] = { 1, 2, 3, 7, 16, 64, 141, 142, 143, 1000 };
	size_t i;

	for (i = 0; i < EKP_ARRAY_SIZE(steps); i++)
		replay_session(steps[i]);
}

/* Split exactly between CR and LF, and right after CRLF. */
static void test_crlf_split(void **state)
{
	struct qmp_reader r;
	struct qmp_msg m;
	size_t len;
	char *data = load("cont.txt", &len); /* RESUME event, then the return */
	char *cr = memchr(data, '\r', len);

	assert_non_null(cr);
	qmp_reader_init(&r);
	assert_int_equal(qmp_reader_feed(&r, data, (size_t)(cr - data) + 1), 0);
	assert_int_equal(qmp_reader_next(&r, &m), 0);
	assert_int_equal(qmp_reader_feed(&r, cr + 1, 1), 0);
	assert_int_equal(qmp_reader_next(&r, &m), 1);
	assert_int_equal(m.kind, QMP_MSG_EVENT);
	assert_string_equal(m.event, "RESUME");
	qmp_msg_free(&m);
	assert_int_equal(qmp_reader_next(&r, &m), 0);
	assert_int_equal(qmp_reader_feed(&r, cr + 2, len - (size_t)(cr + 2 - data)), 0);
	assert_int_equal(qmp_reader_next(&r, &m), 1);
	assert_int_equal(m.kind, QMP_MSG_RETURN);
	assert_id(&m, 4);
	qmp_msg_free(&m);
	assert_int_equal(qmp_reader_next(&r, &m), 0);
	qmp_reader_free(&r);
	free(data);
}

/* LF-only lines, blank lines and surrounding whitespace are accepted. */
static void test_lf_and_blank(void **state)
{
	static const char in[] = "\r\n\n  \t\r\n {\"return\": 1, \"id\": 9} \n{\"return\":[]}\n";
	struct qmp_reader r;
	struct qmp_msg m;

	qmp_reader_init(&r);
	assert_int_equal(qmp_reader_feed(&r, in, sizeof(in) - 1), 0);
	assert_int_equal(qmp_reader_next(&r, &m), 1);
	assert_int_equal(m.kind, QMP_MSG_RETURN);
	assert_id(&m, 9);
	qmp_msg_free(&m);
	assert_int_equal(qmp_reader_next(&r, &m), 1);
	assert_true(json_is_array(json_object_get(m.json, "return")));
	assert_null(m.id);
	qmp_msg_free(&m);
	assert_int_equal(qmp_reader_next(&r, &m), 0);
	qmp_reader_free(&r);
}

/* Each bad line gives -EPROTO once, is consumed, and the good line after it still comes out. */
static void expect_bad_line(const char *line, const char *reason)
{
	static const char good[] = "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, "
				   "\"microseconds\": 2}}\r\n";
	struct qmp_reader r;
	struct qmp_msg m;

	qmp_reader_init(&r);
	assert_int_equal(qmp_reader_feed(&r, line, strlen(line)), 0);
	assert_int_equal(qmp_reader_feed(&r, "\r\n", 2), 0);
	assert_int_equal(qmp_reader_feed(&r, good, sizeof(good) - 1), 0);
	ekp_err_clear();
	assert_int_equal(qmp_reader_next(&r, &m), -EPROTO);
	assert_null(m.json);
	if (!strstr(ekp_errmsg(), reason))
		fail_msg("line %s: reason \"%s\" lacks \"%s\"", line, ekp_errmsg(), reason);
	qmp_msg_free(&m); /* safe on a failed message */
	assert_int_equal(qmp_reader_next(&r, &m), 1);
	assert_int_equal(m.kind, QMP_MSG_EVENT);
	assert_string_equal(m.event, "STOP");
	qmp_msg_free(&m);
	assert_int_equal(qmp_reader_next(&r, &m), 0);
	qmp_reader_free(&r);
}

static void test_bad_json(void **state)
{
	expect_bad_line("{\"return\": {}", "bad JSON");
	expect_bad_line("{\"return\": {}} x", "bad JSON");          /* trailing garbage */
	expect_bad_line("{\"return\": {}}{\"return\": {}}", "bad JSON"); /* two on one line */
	expect_bad_line("{\"return\": 1, \"return\": 2}", "bad JSON"); /* duplicate key */
	expect_bad_line("{\"return\": \"\xff\xfe\"}", "bad JSON");     /* invalid UTF-8 */
	expect_bad_line("{\"return\": \"a\\u0000b\"}", "bad JSON");    /* NUL in a string */
	expect_bad_line("{\"return\": 99999999999999999999999}", "bad JSON");
	expect_bad_line("{\"return\": NaN}", "bad JSON");
	expect_bad_line("\x01", "bad JSON");
	/* a raw NUL byte inside the line */
	{
		static const char nul[] = "{\"return\": \0}";
		struct qmp_reader r;
		struct qmp_msg m;

		qmp_reader_init(&r);
		assert_int_equal(qmp_reader_feed(&r, nul, sizeof(nul) - 1), 0);
		assert_int_equal(qmp_reader_feed(&r, "\n", 1), 0);
		assert_int_equal(qmp_reader_next(&r, &m), -EPROTO);
		assert_int_equal(qmp_reader_next(&r, &m), 0);
		qmp_reader_free(&r);
	}
}

static void test_wrong_shapes(void **state)
{
	expect_bad_line("[1, 2]", "not a JSON object");
	expect_bad_line("42", "not a JSON object");
	expect_bad_line("\"QMP\"", "not a JSON object");
	expect_bad_line("null", "not a JSON object");
	expect_bad_line("{}", "no QMP, return, error or event");
	expect_bad_line("{\"id\": 1}", "no QMP, return, error or event");
	expect_bad_line("{\"Return\": {}}", "no QMP, return, error or event");
	expect_bad_line("{\"return\": {}, \"event\": \"STOP\"}", "more than one");
	expect_bad_line("{\"return\": {}, \"error\": {\"class\": \"a\", \"desc\": \"b\"}}",
			"more than one");
	expect_bad_line("{\"QMP\": [], \"return\": 1}", "more than one");
	expect_bad_line("{\"QMP\": []}", "\"QMP\" is not an object");
	expect_bad_line("{\"error\": \"bad\"}", "\"error\" is not an object");
	expect_bad_line("{\"error\": {\"class\": 1, \"desc\": \"d\"}}", "lacks string");
	expect_bad_line("{\"error\": {\"class\": \"c\"}}", "lacks string");
	expect_bad_line("{\"error\": {}}", "lacks string");
	expect_bad_line("{\"event\": 5}", "\"event\" is not a string");
	expect_bad_line("{\"event\": null}", "\"event\" is not a string");
	expect_bad_line("{\"event\": \"X\", \"data\": []}", "\"data\" is not an object");
	expect_bad_line("{\"event\": \"X\", \"data\": \"s\"}", "\"data\" is not an object");
	expect_bad_line("{\"event\": \"X\", \"timestamp\": 1}", "\"timestamp\" is not an object");
}

/* Shapes that are accepted although QEMU 7.2 never sends them. */
static void test_lenient_shapes(void **state)
{
	static const char *const ok[] = {
		"{\"return\": null}",
		"{\"return\": \"text\", \"id\": \"abc\"}",
		"{\"return\": {}, \"id\": {\"a\": [1]}}", /* QEMU echoes any id */
		"{\"event\": \"X\"}",                      /* no timestamp */
		"{\"QMP\": {}}",
		"{\"error\": {\"class\": \"C\", \"desc\": \"D\", \"extra\": 1}}",
	};
	size_t i;

	for (i = 0; i < EKP_ARRAY_SIZE(ok); i++) {
		struct qmp_reader r;
		struct qmp_msg m;

		qmp_reader_init(&r);
		assert_int_equal(qmp_reader_feed(&r, ok[i], strlen(ok[i])), 0);
		assert_int_equal(qmp_reader_feed(&r, "\n", 1), 0);
		assert_int_equal(qmp_reader_next(&r, &m), 1);
		qmp_msg_free(&m);
		qmp_reader_free(&r);
	}
}

/* A line over max_line: -EPROTO once, the rest of it is skipped, the next line is read. */
static void test_overlong_line(void **state)
{
	static const char good[] = "{\"return\": {}, \"id\": 3}\r\n";
	struct qmp_reader r;
	struct qmp_msg m;
	char junk[100];
	int i;

	memset(junk, 'x', sizeof(junk));
	assert_int_equal(QMP_MAX_LINE, 16u << 20);

	/* arriving in pieces, with no newline yet */
	qmp_reader_init(&r);
	r.max_line = 64;
	assert_int_equal(qmp_reader_feed(&r, junk, 60), 0);
	assert_int_equal(qmp_reader_next(&r, &m), 0);
	assert_int_equal(qmp_reader_feed(&r, junk, 10), 0);
	assert_int_equal(qmp_reader_next(&r, &m), -EPROTO);
	assert_non_null(strstr(ekp_errmsg(), "longer than 64"));
	for (i = 0; i < 5; i++) { /* the tail is dropped as it comes, reported once */
		assert_int_equal(qmp_reader_feed(&r, junk, sizeof(junk)), 0);
		assert_int_equal(qmp_reader_next(&r, &m), 0);
		assert_true(r.in.len <= sizeof(junk));
	}
	assert_int_equal(qmp_reader_feed(&r, "}\r\n", 3), 0);
	assert_int_equal(qmp_reader_feed(&r, good, sizeof(good) - 1), 0);
	assert_int_equal(qmp_reader_next(&r, &m), 1);
	assert_id(&m, 3);
	qmp_msg_free(&m);
	assert_int_equal(qmp_reader_next(&r, &m), 0);
	qmp_reader_free(&r);

	/* complete in one chunk */
	qmp_reader_init(&r);
	r.max_line = 64;
	assert_int_equal(qmp_reader_feed(&r, junk, 65), 0);
	assert_int_equal(qmp_reader_feed(&r, "\n", 1), 0);
	assert_int_equal(qmp_reader_feed(&r, good, sizeof(good) - 1), 0);
	assert_int_equal(qmp_reader_next(&r, &m), -EPROTO);
	assert_int_equal(qmp_reader_next(&r, &m), 1);
	assert_id(&m, 3);
	qmp_msg_free(&m);
	qmp_reader_free(&r);

	/* exactly max_line bytes before the newline is fine */
	qmp_reader_init(&r);
	r.max_line = sizeof(good) - 2;
	assert_int_equal(qmp_reader_feed(&r, good, sizeof(good) - 1), 0);
	assert_int_equal(qmp_reader_next(&r, &m), 1);
	qmp_msg_free(&m);
	qmp_reader_free(&r);
}

static void test_msg_from_json(void **state)
{
	struct qmp_msg m;
	json_t *j = json_pack("{s:s, s:{s:s}}", "event", "BLOCK_JOB_COMPLETED", "data", "device",
			      "d0");
	json_t *arr = json_array();

	assert_int_equal(qmp_msg_from_json(j, &m), 0);
	assert_int_equal(m.kind, QMP_MSG_EVENT);
	assert_ptr_equal(m.json, j);
	assert_int_equal(j->refcount, 2);
	qmp_msg_free(&m);
	assert_int_equal(j->refcount, 1);
	json_decref(j);
	assert_int_equal(qmp_msg_from_json(arr, &m), -EPROTO);
	assert_null(m.json);
	assert_int_equal(arr->refcount, 1);
	json_decref(arr);
	assert_int_equal(qmp_msg_from_json(NULL, &m), -EPROTO);
	qmp_msg_free(NULL);
}

/* ---- client against a scripted server replaying recorded bytes ---- */

enum step_op {
	S_END,
	S_FILE,   /* send a data file */
	S_TEXT,   /* send text */
	S_EXPECT, /* read one request line; check "execute" and "id" (id 0: must be absent) */
	S_SLEEP,  /* ms */
	S_CLOSE,  /* close the connection and finish */
	S_HOLD,   /* keep the connection open until the client closes it */
};

struct step {
	enum step_op op;
	const char *arg;
	long n;
};

struct server {
	char dir[48], path[96];
	int lfd;
	const struct step *steps;
	size_t chunk;     /* send in writes of this many bytes (0: whole) */
	int bind_delay_ms; /* create the socket only after this long */
	pthread_t thread;
	char failure[256];
	json_t *last_args; /* "arguments" of the last request (owned) */
};

static void __attribute__((format(printf, 2, 3))) srv_fail(struct server *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(s->failure, sizeof(s->failure), fmt, ap);
	va_end(ap);
}

static int srv_send(struct server *s, int fd, const char *p, size_t len)
{
	while (len) {
		size_t n = s->chunk && s->chunk < len ? s->chunk : len;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
		if (s->chunk)
			usleep(50);
	}
	return 0;
}

static int srv_read_line(int fd, struct ekp_buf *in, char **line)
{
	for (;;) {
		char *nl = in->len ? memchr(in->data, '\n', in->len) : NULL;
		char buf[4096];
		ssize_t n;

		if (nl) {
			*line = strndup(in->data, (size_t)(nl - in->data));
			ekp_buf_consume(in, (size_t)(nl - in->data) + 1);
			return 0;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return -1;
		ekp_buf_append(in, buf, (size_t)n);
	}
}

static void *srv_main(void *arg)
{
	struct server *s = arg;
	struct ekp_buf in = { 0 };
	const struct step *st;
	int fd;

	if (s->bind_delay_ms) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		usleep((useconds_t)s->bind_delay_ms * 1000);
		s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
		if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->lfd, 1)) {
			srv_fail(s, "bind: %s", strerror(errno));
			return NULL;
		}
	}
	fd = accept(s->lfd, NULL, NULL);
	if (fd < 0) {
		srv_fail(s, "accept: %s", strerror(errno));
		return NULL;
	}
	for (st = s->steps; st->op != S_END && !s->failure[0]; st++) {
		char *line = NULL, *data;
		json_t *req, *id;
		size_t len;

		switch (st->op) {
		case S_FILE: {
			char path[256];
			FILE *f;

			snprintf(path, sizeof(path), "tests/unit/data/qmp/%s", st->arg);
			f = fopen(path, "rb");
			if (!f) {
				srv_fail(s, "cannot open %s", path);
				break;
			}
			data = malloc(1 << 16);
			len = fread(data, 1, 1 << 16, f);
			fclose(f);
			if (srv_send(s, fd, data, len))
				srv_fail(s, "send %s failed", st->arg);
			free(data);
			break;
		}
		case S_TEXT:
			if (srv_send(s, fd, st->arg, strlen(st->arg)))
				srv_fail(s, "send failed");
			break;
		case S_EXPECT:
			if (srv_read_line(fd, &in, &line)) {
				srv_fail(s, "expected %s, got EOF", st->arg);
				break;
			}
			req = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
			id = json_object_get(req, "id");
			if (!req || strcmp(json_string_value(json_object_get(req, "execute")) ?: "",
					   st->arg))
				srv_fail(s, "expected %s, got %s", st->arg, line);
			else if (st->n ? !json_is_integer(id) || json_integer_value(id) != st->n : !!id)
				srv_fail(s, "%s: expected id %ld: %s", st->arg, st->n, line);
			json_decref(s->last_args);
			s->last_args = json_incref(json_object_get(req, "arguments"));
			json_decref(req);
			free(line);
			break;
		case S_SLEEP:
			usleep((useconds_t)st->n * 1000);
			break;
		case S_HOLD: {
			char buf[256];

			while (recv(fd, buf, sizeof(buf), 0) > 0)
				;
			break;
		}
		case S_CLOSE:
		case S_END:
			break;
		}
		if (st->op == S_CLOSE || st->op == S_HOLD)
			break;
	}
	close(fd);
	ekp_buf_free(&in);
	return NULL;
}

static void srv_start(struct server *s, const struct step *steps, size_t chunk, int bind_delay_ms)
{
	memset(s, 0, sizeof(*s));
	s->steps = steps;
	s->chunk = chunk;
	s->bind_delay_ms = bind_delay_ms;
	s->lfd = -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/ekp-qmp-test-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/qmp.sock", s->dir);
	if (!bind_delay_ms) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(s->lfd >= 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
		assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(s->lfd, 1), 0);
	}
	assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void srv_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	if (s->lfd >= 0)
		close(s->lfd);
	unlink(s->path);
	rmdir(s->dir);
	json_decref(s->last_args);
	s->last_args = NULL;
	if (s->failure[0])
		fail_msg("server: %s", s->failure);
}

#define SEND(f) { S_FILE, f, 0 }
#define TEXT(t) { S_TEXT, t, 0 }
#define EXPECT(c, id) { S_EXPECT, c, id }

static const struct step full_session[] = {
	SEND("greeting.txt"),
	EXPECT("qmp_capabilities", 1), SEND("capabilities.txt"),
	EXPECT("query-status", 2), SEND("query-status.txt"),
	EXPECT("no-such-command", 3), SEND("error.txt"),
	EXPECT("cont", 4), SEND("cont.txt"),
	EXPECT("stop", 5), SEND("stop.txt"),
	EXPECT("human-monitor-command", 6), SEND("hmp.txt"),
	EXPECT("human-monitor-command", 7), SEND("error-args.txt"),
	EXPECT("human-monitor-command", 8), SEND("hmp-unknown.txt"),
	EXPECT("cont", 9), SEND("cont2.txt"),
	SEND("shutdown.txt"),
	{ S_CLOSE, NULL, 0 },
	{ S_END, NULL, 0 },
};

static void expect_event(struct qmp_client *c, const char *name)
{
	struct qmp_msg ev;

	assert_int_equal(qmp_next_event(c, &ev, 2000), 0);
	assert_int_equal(ev.kind, QMP_MSG_EVENT);
	assert_string_equal(ev.event, name);
	qmp_msg_free(&ev);
}

static void run_full_session(size_t chunk)
{
	struct server s;
	struct qmp_client *c;
	struct qmp_msg ev;
	json_t *ret, *args;
	char *out;

	srv_start(&s, full_session, chunk, 0);
	assert_int_equal(qmp_connect_unix(s.path, 5000, &c), 0);
	assert_true(qmp_fd(c) >= 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(
				 qmp_greeting(c), "version"), "qemu"), "micro")), 22);

	assert_int_equal(qmp_execute(c, "query-status", NULL, &ret, 2000), 0);
	assert_string_equal(str_at(ret, "status"), "prelaunch");
	json_decref(ret);

	ret = (json_t *)1;
	assert_int_equal(qmp_execute(c, "no-such-command", NULL, &ret, 2000), -EIO);
	assert_null(ret);
	assert_string_equal(ekp_errmsg(), "CommandNotFound: The command no-such-command has not been found");

	/* QEMU sends RESUME before cont's return: it is queued, not lost */
	assert_int_equal(qmp_execute(c, "cont", NULL, NULL, 2000), 0);
	assert_int_equal(qmp_poll_events(c), 1);
	assert_int_equal(qmp_execute(c, "stop", NULL, NULL, 2000), 0);
	assert_int_equal(qmp_poll_events(c), 2);

	assert_int_equal(qmp_hmp(c, "info status", &out, 2000), 0);
	assert_string_equal(out, "VM status: paused\r\n");
	free(out);
	assert_string_equal(str_at(s.last_args, "command-line"), "info status");

	args = json_object();
	assert_int_equal(qmp_execute(c, "human-monitor-command", args, NULL, 2000), -EIO);
	json_decref(args);
	assert_string_equal(ekp_errmsg(), "GenericError: Parameter 'command-line' is missing");

	/* an unknown HMP command is not a QMP error: the text says so */
	assert_int_equal(qmp_hmp(c, "no-such-hmp", &out, 2000), 0);
	assert_string_equal(out, "unknown command: 'no-such-hmp'\r\n");
	free(out);

	assert_int_equal(qmp_execute(c, "cont", NULL, NULL, 2000), 0);

	expect_event(c, "RESUME");
	expect_event(c, "STOP");
	expect_event(c, "RESUME");
	assert_int_equal(qmp_next_event(c, &ev, 2000), 0);
	assert_string_equal(ev.event, "SHUTDOWN");
	assert_string_equal(str_at(json_object_get(ev.json, "data"), "reason"), "guest-reset");
	qmp_msg_free(&ev);
	assert_int_equal(qmp_next_event(c, &ev, 2000), -EPIPE);
	assert_null(ev.json);
	assert_int_equal(qmp_next_event(c, &ev, 2000), -EPIPE);
	assert_int_equal(qmp_poll_events(c), -EPIPE);
	assert_int_equal(qmp_execute(c, "cont", NULL, NULL, 2000), -EPIPE);
	qmp_close(c);
	srv_stop(&s);
}

static void test_client_session(void **state)
{
	run_full_session(0);
}

static void test_client_session_bytewise(void **state)
{
	run_full_session(1);
	run_full_session(5);
}

/* Events between the greeting and the capabilities reply are queued too. */
static void test_client_events_during_connect(void **state)
{
	static const struct step steps[] = {
		SEND("greeting.txt"),
		EXPECT("qmp_capabilities", 1),
		SEND("stop.txt"), /* STOP, then a return with id 5: an old answer, dropped */
		SEND("capabilities.txt"),
		{ S_HOLD, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	struct server s;
	struct qmp_client *c;

	srv_start(&s, steps, 0, 0);
	assert_int_equal(qmp_connect_unix(s.path, 5000, &c), 0);
	assert_int_equal(qmp_poll_events(c), 1);
	expect_event(c, "STOP");
	assert_int_equal(qmp_poll_events(c), 0);
	qmp_close(c);
	srv_stop(&s);
}

/* A reply that comes after its command timed out is dropped when the next command runs. */
static void test_client_stale_reply(void **state)
{
	static const struct step steps[] = {
		SEND("greeting.txt"),
		EXPECT("qmp_capabilities", 1), SEND("capabilities.txt"),
		EXPECT("query-status", 2),
		{ S_SLEEP, NULL, 300 },
		TEXT("{\"return\": {\"status\": \"late\"}, \"id\": 2}\r\n"),
		EXPECT("query-status", 3),
		TEXT("{\"event\": \"STOP\"}\r\n"),
		TEXT("{\"return\": {\"status\": \"paused\"}, \"id\": 3}\r\n"),
		{ S_HOLD, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	struct server s;
	struct qmp_client *c;
	json_t *ret;
	int64_t t0;

	srv_start(&s, steps, 0, 0);
	assert_int_equal(qmp_connect_unix(s.path, 5000, &c), 0);
	t0 = mono_ms();
	assert_int_equal(qmp_execute(c, "query-status", NULL, &ret, 100), -ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 100);
	assert_true(mono_ms() - t0 < 1000);
	assert_non_null(strstr(ekp_errmsg(), "query-status"));
	assert_int_equal(qmp_execute(c, "query-status", NULL, &ret, 2000), 0);
	assert_string_equal(str_at(ret, "status"), "paused");
	json_decref(ret);
	expect_event(c, "STOP");
	qmp_close(c);
	srv_stop(&s);
}

/* A reply without id (QEMU could not parse the request) answers the command in flight. */
static void test_client_reply_without_id(void **state)
{
	static const struct step steps[] = {
		SEND("greeting.txt"),
		EXPECT("qmp_capabilities", 1), SEND("capabilities.txt"),
		EXPECT("query-status", 2),
		TEXT("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray 'B'\"}}\r\n"),
		EXPECT("query-status", 3),
		TEXT("{\"return\": {}}\r\n"),
		{ S_HOLD, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	struct server s;
	struct qmp_client *c;

	srv_start(&s, steps, 0, 0);
	assert_int_equal(qmp_connect_unix(s.path, 5000, &c), 0);
	assert_int_equal(qmp_execute(c, "query-status", NULL, NULL, 2000), -EIO);
	assert_string_equal(ekp_errmsg(), "GenericError: JSON parse error, stray 'B'");
	assert_int_equal(qmp_execute(c, "query-status", NULL, NULL, 2000), 0);
	qmp_close(c);
	srv_stop(&s);
}

/* Untrusted replies: wrong types, bad lines, control characters in error text. */
static void test_client_untrusted(void **state)
{
	static const struct step steps[] = {
		SEND("greeting.txt"),
		EXPECT("qmp_capabilities", 1), SEND("capabilities.txt"),
		EXPECT("human-monitor-command", 2), TEXT("{\"return\": {}, \"id\": 2}\r\n"),
		EXPECT("human-monitor-command", 3), TEXT("{\"return\": 5, \"id\": 3}\r\n"),
		EXPECT("query-status", 4), TEXT("garbage\r\n{\"return\": {}, \"id\": 4}\r\n"),
		EXPECT("query-status", 5),
		TEXT("{\"error\": {\"class\": \"X\\u001b[31m\", \"desc\": \"a\\nb\"}, \"id\": 5}\r\n"),
		EXPECT("query-status", 6), TEXT("{\"QMP\": {}}\r\n"),
		{ S_HOLD, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	struct server s;
	struct qmp_client *c;
	char *out = (char *)1;

	srv_start(&s, steps, 0, 0);
	assert_int_equal(qmp_connect_unix(s.path, 5000, &c), 0);
	assert_int_equal(qmp_hmp(c, "info status", &out, 2000), -EPROTO);
	assert_null(out);
	assert_non_null(strstr(ekp_errmsg(), "an object, not a string"));
	assert_int_equal(qmp_hmp(c, "info status", NULL, 2000), -EPROTO);
	assert_non_null(strstr(ekp_errmsg(), "integer"));
	/* the bad line fails this command; its real answer is then dropped as stale */
	assert_int_equal(qmp_execute(c, "query-status", NULL, NULL, 2000), -EPROTO);
	assert_non_null(strstr(ekp_errmsg(), "bad JSON"));
	assert_int_equal(qmp_execute(c, "query-status", NULL, NULL, 2000), -EIO);
	assert_string_equal(ekp_errmsg(), "X?[31m: a?b");
	assert_int_equal(qmp_execute(c, "query-status", NULL, NULL, 2000), -EPROTO);
	assert_non_null(strstr(ekp_errmsg(), "greeting"));
	qmp_close(c);
	srv_stop(&s);
}

static void test_client_bad_args(void **state)
{
	static const struct step steps[] = {
		SEND("greeting.txt"),
		EXPECT("qmp_capabilities", 1), SEND("capabilities.txt"),
		EXPECT("device_del", 2), TEXT("{\"return\": {}, \"id\": 2}\r\n"),
		{ S_HOLD, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	struct server s;
	struct qmp_client *c;
	json_t *arr = json_array(), *args;

	srv_start(&s, steps, 0, 0);
	assert_int_equal(qmp_connect_unix(s.path, 5000, &c), 0);
	assert_int_equal(qmp_execute(c, "x", arr, NULL, 100), -EINVAL);
	assert_int_equal(qmp_execute(c, NULL, NULL, NULL, 100), -EINVAL);
	assert_int_equal(qmp_hmp(c, NULL, NULL, 100), -EINVAL);
	assert_int_equal(qmp_hmp(c, "\xff", NULL, 100), -EINVAL);
	json_decref(arr);
	/* the id counter is not used up by requests that were never sent */
	args = json_pack("{s:s}", "id", "dev0");
	assert_int_equal(qmp_execute(c, "device_del", args, NULL, 2000), 0);
	assert_string_equal(str_at(s.last_args, "id"), "dev0");
	json_decref(args);
	qmp_close(c);
	srv_stop(&s);
}

static void test_client_timeouts(void **state)
{
	static const struct step silent[] = {
		SEND("greeting.txt"),
		EXPECT("qmp_capabilities", 1),
		{ S_HOLD, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	static const struct step quiet[] = {
		SEND("greeting.txt"),
		EXPECT("qmp_capabilities", 1), SEND("capabilities.txt"),
		{ S_SLEEP, NULL, 200 },
		SEND("shutdown.txt"),
		{ S_HOLD, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	struct server s;
	struct qmp_client *c = (struct qmp_client *)1;
	struct qmp_msg ev;
	int64_t t0;

	srv_start(&s, silent, 0, 0);
	t0 = mono_ms();
	assert_int_equal(qmp_connect_unix(s.path, 200, &c), -ETIMEDOUT);
	assert_null(c);
	assert_true(mono_ms() - t0 >= 200);
	assert_non_null(strstr(ekp_errmsg(), "qmp_capabilities"));
	srv_stop(&s);

	srv_start(&s, quiet, 0, 0);
	assert_int_equal(qmp_connect_unix(s.path, 5000, &c), 0);
	t0 = mono_ms();
	assert_int_equal(qmp_next_event(c, &ev, 0), -ETIMEDOUT);
	assert_int_equal(qmp_poll_events(c), 0);
	assert_int_equal(qmp_next_event(c, &ev, 50), -ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 50);
	assert_int_equal(qmp_next_event(c, &ev, -1), 0); /* no deadline */
	assert_string_equal(ev.event, "SHUTDOWN");
	qmp_msg_free(&ev);
	qmp_close(c);
	srv_stop(&s);
}

static void test_client_connect_errors(void **state)
{
	static const struct step not_qmp[] = {
		SEND("shutdown.txt"),
		{ S_HOLD, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	static const struct step hangup[] = {
		SEND("greeting.txt"),
		EXPECT("qmp_capabilities", 1),
		{ S_CLOSE, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	static const struct step late[] = {
		SEND("greeting.txt"),
		EXPECT("qmp_capabilities", 1), SEND("capabilities.txt"),
		{ S_HOLD, NULL, 0 },
		{ S_END, NULL, 0 },
	};
	char longpath[200];
	struct server s;
	struct qmp_client *c;
	int64_t t0;

	t0 = mono_ms();
	assert_int_equal(qmp_connect_unix("/nonexistent/ekprobe-qmp.sock", 100, &c), -ENOENT);
	assert_true(mono_ms() - t0 >= 100);
	assert_int_equal(qmp_connect_unix("/nonexistent/ekprobe-qmp.sock", 0, &c), -ENOENT);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(qmp_connect_unix(longpath, 0, &c), -ENAMETOOLONG);

	srv_start(&s, not_qmp, 0, 0);
	assert_int_equal(qmp_connect_unix(s.path, 2000, &c), -EPROTO);
	assert_non_null(strstr(ekp_errmsg(), "greeting"));
	srv_stop(&s);

	srv_start(&s, hangup, 0, 0);
	assert_int_equal(qmp_connect_unix(s.path, 2000, &c), -EPIPE);
	srv_stop(&s);

	/* the socket appears only after 150 ms, as when QEMU is still starting */
	srv_start(&s, late, 0, 150);
	assert_int_equal(qmp_connect_unix(s.path, 5000, &c), 0);
	qmp_close(c);
	srv_stop(&s);
	qmp_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_whole),
		cmocka_unit_test(test_session_chunked),
		cmocka_unit_test(test_crlf_split),
		cmocka_unit_test(test_lf_and_blank),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_wrong_shapes),
		cmocka_unit_test(test_lenient_shapes),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_msg_from_json),
		cmocka_unit_test(test_client_session),
		cmocka_unit_test(test_client_session_bytewise),
		cmocka_unit_test(test_client_events_during_connect),
		cmocka_unit_test(test_client_stale_reply),
		cmocka_unit_test(test_client_reply_without_id),
		cmocka_unit_test(test_client_untrusted),
		cmocka_unit_test(test_client_bad_args),
		cmocka_unit_test(test_client_timeouts),
		cmocka_unit_test(test_client_connect_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
