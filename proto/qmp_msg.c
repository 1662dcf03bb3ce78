// SPDX-License-Identifier: GPL-2.0
/*
 * QMP message layer, no I/O: split the byte stream into lines, parse each line as one JSON
 * object and classify it. Everything here comes from QEMU and is untrusted.
 *
 * QEMU 7.2 ends every message with "\r\n" and never splits one over several lines (the
 * 207 KB query-qmp-schema reply is one line), so a line is a message.
 */
#include <errno.h>
#include <string.h>

#include "ekprobe/err.h"
#include "proto/qmp.h"

void qmp_reader_init(struct qmp_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->max_line = QMP_MAX_LINE;
}

void qmp_reader_free(struct qmp_reader *r)
{
	ekp_buf_free(&r->in);
	qmp_reader_init(r);
}

int qmp_reader_feed(struct qmp_reader *r, const void *data, size_t len)
{
	/* Drop what has been read already: one move per feed, not one per message. */
	if (r->off) {
		ekp_buf_consume(&r->in, r->off);
		r->off = 0;
	}
	if (!len)
		return 0;
	if (ekp_buf_append(&r->in, data, len))
		return ekp_err(ENOMEM, "QMP: out of memory buffering %zu bytes", len);
	return 0;
}

/* Forget every unread byte. */
static void reader_drop_all(struct qmp_reader *r)
{
	ekp_buf_reset(&r->in);
	r->off = 0;
	r->scanned = 0;
}

static bool is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int qmp_reader_next(struct qmp_reader *r, struct qmp_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	for (;;) {
		size_t avail = r->in.len - r->off, linelen;
		const char *start, *nl;
		json_error_t jerr;
		json_t *json;
		int err;

		if (!avail)
			return 0;
		start = r->in.data + r->off;
		nl = memchr(start + r->scanned, '\n', avail - r->scanned);
		if (!nl) {
			if (r->discarding) {
				reader_drop_all(r);
				return 0;
			}
			r->scanned = avail;
			if (avail > r->max_line) {
				/* Report once now, then skip the rest of this line as it comes. */
				reader_drop_all(r);
				r->discarding = true;
				return ekp_err(EPROTO, "QMP: line longer than %zu bytes", r->max_line);
			}
			return 0;
		}
		linelen = (size_t)(nl - start);
		r->off += linelen + 1;
		r->scanned = 0;
		if (r->discarding) {
			r->discarding = false; /* that was the tail of an over-long line */
			continue;
		}
		if (linelen > r->max_line)
			return ekp_err(EPROTO, "QMP: line of %zu bytes is longer than %zu", linelen,
				       r->max_line);
		if (is_blank(start, linelen))
			continue;
		/* Jansson rejects trailing garbage, so a line holds exactly one value. */
		json = json_loadb(start, linelen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
		if (!json)
			return ekp_err(EPROTO, "QMP: bad JSON at column %d: %s", jerr.column,
				       jerr.text);
		err = qmp_msg_from_json(json, msg);
		json_decref(json);
		return err ? err : 1;
	}
}

int qmp_msg_from_json(json_t *json, struct qmp_msg *msg)
{
	json_t *qmp, *ret, *error, *event, *v;
	int kinds;

	memset(msg, 0, sizeof(*msg));
	if (!json_is_object(json))
		return ekp_err(EPROTO, "QMP: message is not a JSON object");
	qmp = json_object_get(json, "QMP");
	ret = json_object_get(json, "return");
	error = json_object_get(json, "error");
	event = json_object_get(json, "event");
	kinds = !!qmp + !!ret + !!error + !!event;
	if (kinds == 0)
		return ekp_err(EPROTO, "QMP: object with no QMP, return, error or event member");
	if (kinds > 1)
		return ekp_err(EPROTO, "QMP: object with more than one of QMP, return, error, event");

	if (qmp) {
		if (!json_is_object(qmp))
			return ekp_err(EPROTO, "QMP: greeting's \"QMP\" is not an object");
		msg->kind = QMP_MSG_GREETING;
	} else if (ret) {
		msg->kind = QMP_MSG_RETURN; /* any JSON value */
	} else if (error) {
		json_t *cls = json_object_get(error, "class");
		json_t *desc = json_object_get(error, "desc");

		if (!json_is_object(error))
			return ekp_err(EPROTO, "QMP: \"error\" is not an object");
		if (!json_is_string(cls) || !json_is_string(desc))
			return ekp_err(EPROTO, "QMP: \"error\" lacks string \"class\" and \"desc\"");
		msg->kind = QMP_MSG_ERROR;
		msg->err_class = json_string_value(cls);
		msg->err_desc = json_string_value(desc);
	} else {
		if (!json_is_string(event))
			return ekp_err(EPROTO, "QMP: \"event\" is not a string");
		v = json_object_get(json, "timestamp");
		if (v && !json_is_object(v))
			return ekp_err(EPROTO, "QMP: event \"timestamp\" is not an object");
		v = json_object_get(json, "data");
		if (v && !json_is_object(v))
			return ekp_err(EPROTO, "QMP: event \"data\" is not an object");
		msg->kind = QMP_MSG_EVENT;
		msg->event = json_string_value(event);
	}
	msg->id = json_object_get(json, "id");
	msg->json = json_incref(json);
	return 0;
}

void qmp_msg_free(struct qmp_msg *msg)
{
	if (!msg)
		return;
	json_decref(msg->json);
	memset(msg, 0, sizeof(*msg));
}
