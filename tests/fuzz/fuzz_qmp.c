// SPDX-License-Identifier: GPL-2.0
/*
 * QMP reader and classifier on arbitrary bytes. Input: byte 0 picks the chunking, byte 1 the
 * line limit; the rest is the stream from "QEMU". Checks, besides memory safety:
 *  - the sequence of results (return codes and kinds) does not depend on how the stream is cut;
 *  - the reader never holds more than max_line unread bytes without a newline;
 *  - every message satisfies the shape its kind promises.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "proto/qmp.h"

#define MAX_RESULTS 4096

static void check_msg(const struct qmp_msg *m)
{
	if (!json_is_object(m->json))
		abort();
	switch (m->kind) {
	case QMP_MSG_GREETING:
		if (!json_is_object(json_object_get(m->json, "QMP")))
			abort();
		break;
	case QMP_MSG_RETURN:
		if (!json_object_get(m->json, "return"))
			abort();
		break;
	case QMP_MSG_ERROR:
		if (strlen(m->err_class) + strlen(m->err_desc) > SIZE_MAX / 2)
			abort();
		break;
	case QMP_MSG_EVENT:
		if (!m->event || m->event != json_string_value(json_object_get(m->json, "event")))
			abort();
		break;
	default:
		abort();
	}
	if (m->id != json_object_get(m->json, "id"))
		abort();
}

/* Run the stream through a reader in chunks from `cut`; record results, return their count. */
static size_t run(const uint8_t *data, size_t size, size_t max_line, uint8_t cut, int *results)
{
	struct qmp_reader r;
	size_t pos = 0, n = 0;
	uint32_t rng = cut * 2654435761u + 1;

	qmp_reader_init(&r);
	r.max_line = max_line;
	while (pos < size) {
		size_t chunk = size - pos;
		struct qmp_msg m;
		int rc;

		if (cut) {
			rng = rng * 1103515245u + 12345u;
			chunk = 1 + (rng >> 16) % (cut < 16 ? cut : 64);
			if (chunk > size - pos)
				chunk = size - pos;
		}
		if (qmp_reader_feed(&r, data + pos, chunk))
			abort();
		pos += chunk;
		while ((rc = qmp_reader_next(&r, &m)) != 0) {
			if (rc == 1) {
				check_msg(&m);
				if (n < MAX_RESULTS)
					results[n++] = 10 + (int)m.kind;
			} else {
				if (rc != -EPROTO || m.json)
					abort();
				if (n < MAX_RESULTS)
					results[n++] = rc;
			}
			qmp_msg_free(&m);
		}
		if (!r.discarding && r.in.len - r.off > r.max_line)
			abort();
	}
	qmp_reader_free(&r);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int whole[MAX_RESULTS], cut[MAX_RESULTS];
	size_t max_line, nw, nc;
	json_t *j;
	struct qmp_msg m;

	if (size < 2)
		return 0;
	max_line = data[1] < 255 ? 16 + (size_t)data[1] * 16 : QMP_MAX_LINE;
	nw = run(data + 2, size - 2, max_line, 0, whole);
	nc = run(data + 2, size - 2, max_line, data[0] ? data[0] : 1, cut);
	if (nw != nc || memcmp(whole, cut, nw * sizeof(int)))
		abort();

	/* the classifier on its own, on the whole input as one JSON value */
	j = json_loadb((const char *)data + 2, size - 2, JSON_DECODE_ANY, NULL);
	if (qmp_msg_from_json(j, &m) == 0)
		check_msg(&m);
	qmp_msg_free(&m);
	json_decref(j);
	ekp_err_clear();
	return 0;
}
