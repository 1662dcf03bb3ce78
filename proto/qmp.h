/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU Machine Protocol client on jansson. Pure message reader (fuzzable) plus a blocking
 * client on a Unix socket. Events that arrive while a command waits for its answer are queued
 * in order. No printing, no policy.
 */
#ifndef EKPROBE_PROTO_QMP_H
#define EKPROBE_PROTO_QMP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ekprobe/util.h"

enum qmp_msg_kind {
	QMP_MSG_GREETING, /* {"QMP": {...}} */
	QMP_MSG_RETURN,   /* {"return": ...} */
	QMP_MSG_ERROR,    /* {"error": {"class":..., "desc":...}} */
	QMP_MSG_EVENT,    /* {"event": "...", "timestamp": {...}, "data": {...}} */
};

struct qmp_msg {
	enum qmp_msg_kind kind;
	json_t *json;        /* the whole message (owned) */
	const char *event;   /* EVENT: its name (points into json) */
	const char *err_class, *err_desc; /* ERROR */
	json_t *id;          /* "id" member if any (points into json) */
};

/* Line reader: QMP messages are JSON objects separated by CRLF. */
#define QMP_MAX_LINE (16u << 20) /* longest accepted line; real query-qmp-schema: 207 KB */

struct qmp_reader {
	struct ekp_buf in;
	/* private to qmp_msg.c */
	size_t off;      /* start of the unread bytes in in */
	size_t scanned;  /* unread bytes known to hold no newline */
	size_t max_line; /* QMP_MAX_LINE after init; tests may lower it */
	bool discarding; /* skipping the rest of an over-long line */
};

void qmp_reader_init(struct qmp_reader *r);
void qmp_reader_free(struct qmp_reader *r);
int qmp_reader_feed(struct qmp_reader *r, const void *data, size_t len);
/* 1 and *msg when one message is complete, 0 when more input is needed, -EPROTO on a line
 * that is not a QMP message (the line is consumed, so the caller may go on). */
int qmp_reader_next(struct qmp_reader *r, struct qmp_msg *msg);
/* Classify one already-parsed JSON value (takes a reference of its own). */
int qmp_msg_from_json(json_t *json, struct qmp_msg *msg);
void qmp_msg_free(struct qmp_msg *msg);

struct qmp_client;

/* Timeouts: milliseconds for the whole call; negative waits forever, 0 only takes what is
 * already there. Every call may return -EPROTO after a bad line (consumed; the client stays
 * usable), -EPIPE once QEMU closed the connection, -ETIMEDOUT. */

/* Connect, read the greeting, negotiate capabilities. Retries while the socket does not exist
 * or refuses (QEMU still starting) until the timeout, then returns that -ENOENT/-ECONNREFUSED. */
int qmp_connect_unix(const char *path, int timeout_ms, struct qmp_client **out);
void qmp_close(struct qmp_client *c);
int qmp_fd(const struct qmp_client *c);
/* The greeting's "QMP" object (borrowed). */
json_t *qmp_greeting(const struct qmp_client *c);

/* Run a command; *ret gets the "return" value (new reference; may be NULL if ret is NULL).
 * args is borrowed and may be NULL. A QMP error gives -EIO with "class: desc" as reason. */
int qmp_execute(struct qmp_client *c, const char *command, json_t *args, json_t **ret,
		int timeout_ms);
/* human-monitor-command; *output is malloc'ed. */
int qmp_hmp(struct qmp_client *c, const char *cmdline, char **output, int timeout_ms);
/* Next asynchronous event (queued ones first); 0 and *event (caller frees), -ETIMEDOUT,
 * -EPIPE on EOF once the queue is empty. */
int qmp_next_event(struct qmp_client *c, struct qmp_msg *event, int timeout_ms);
/* Read whatever is readable now without blocking and queue the events: the number of queued
 * events (>= 0), or -EPIPE after EOF (queued events are still delivered by qmp_next_event). */
int qmp_poll_events(struct qmp_client *c);

#endif
