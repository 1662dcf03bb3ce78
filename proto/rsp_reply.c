// SPDX-License-Identifier: GPL-2.0
/*
 * RSP reply parsing, pure: thread ids and stop replies. Every input is untrusted wire data:
 * lengths are explicit (payloads need not be NUL-terminated) and every number is checked.
 *
 * Thread ids: "p<pid>.<tid>", "p<pid>" (= all threads of pid), or "<tid>"; each number is hex
 * or the literal "-1" (all). Stop replies: "S<sig>", "T<sig>[key:value;]...", "W<status>[;...]",
 * "X<sig>[;...]", "O<hex text>".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ekprobe/err.h"
#include "proto/rsp.h"

/* Hex thread-id component or "-1". Up to 15 digits so it fits a long. */
static int rsp_parse_id(const char *s, size_t len, long *out)
{
	long v = 0;
	size_t i;

	if (len == 2 && s[0] == '-' && s[1] == '1') {
		*out = -1;
		return 0;
	}
	if (!len || len > 15)
		return -EPROTO;
	for (i = 0; i < len; i++) {
		int h = ekp_hexval((unsigned char)s[i]);

		if (h < 0)
			return -EPROTO;
		v = v << 4 | h;
	}
	*out = v;
	return 0;
}

int rsp_parse_thread(const char *s, size_t len, struct rsp_thread *out)
{
	const char *dot;

	if (!s || !len)
		return ekp_err(EPROTO, "rsp: empty thread id");
	if (s[0] != 'p') {
		out->pid = 0;
		if (rsp_parse_id(s, len, &out->tid))
			goto bad;
		return 0;
	}
	dot = memchr(s, '.', len);
	if (!dot) {
		/* "p<pid>": every thread of that process. */
		out->tid = -1;
		if (rsp_parse_id(s + 1, len - 1, &out->pid))
			goto bad;
		return 0;
	}
	if (rsp_parse_id(s + 1, (size_t)(dot - s - 1), &out->pid) ||
	    rsp_parse_id(dot + 1, len - (size_t)(dot - s) - 1, &out->tid))
		goto bad;
	return 0;
bad:
	return ekp_err(EPROTO, "rsp: bad thread id (%zu bytes)", len);
}

static int rsp_fmt_id(char *buf, size_t size, long v)
{
	return v < 0 ? snprintf(buf, size, "-1") : snprintf(buf, size, "%lx", (unsigned long)v);
}

void rsp_format_thread(const struct rsp_thread *t, char *buf, size_t size)
{
	char pid[24], tid[24];

	if (!size)
		return;
	rsp_fmt_id(tid, sizeof(tid), t->tid);
	if (!t->pid) {
		/* Plain form: the stub applies it to its current (first) process. */
		snprintf(buf, size, "%s", tid);
		return;
	}
	rsp_fmt_id(pid, sizeof(pid), t->pid);
	snprintf(buf, size, "p%s.%s", pid, tid);
}

/* Two hex digits (S/T/X signal numbers) or 1..8 hex digits (W exit status). */
static int rsp_hex_field(const char *s, size_t len, size_t min, size_t max, int *out)
{
	unsigned int v = 0;
	size_t i;

	if (len < min || len > max)
		return -EPROTO;
	for (i = 0; i < len; i++) {
		int h = ekp_hexval((unsigned char)s[i]);

		if (h < 0)
			return -EPROTO;
		v = v << 4 | (unsigned int)h;
	}
	*out = (int)v;
	return 0;
}

static bool rsp_key_is(const char *k, size_t klen, const char *name)
{
	return strlen(name) == klen && !memcmp(k, name, klen);
}

/* One "key:value" of a T reply (without its ';'). */
static int rsp_stop_pair(const char *k, size_t klen, const char *v, size_t vlen,
			 struct rsp_stop *out)
{
	size_t i;

	if (!klen)
		return ekp_err(EPROTO, "rsp: stop reply with an empty key");
	if (rsp_key_is(k, klen, "thread")) {
		if (rsp_parse_thread(v, vlen, &out->thread))
			return -EPROTO;
		out->has_thread = true;
		return 0;
	}
	if (rsp_key_is(k, klen, "watch") || rsp_key_is(k, klen, "rwatch") ||
	    rsp_key_is(k, klen, "awatch")) {
		uint64_t a = 0;

		if (!vlen || vlen > 16)
			return ekp_err(EPROTO, "rsp: bad watchpoint address");
		for (i = 0; i < vlen; i++) {
			int h = ekp_hexval((unsigned char)v[i]);

			if (h < 0)
				return ekp_err(EPROTO, "rsp: bad watchpoint address");
			a = a << 4 | (unsigned int)h;
		}
		out->watch = true;
		out->watch_addr = a;
		return 0;
	}
	/*
	 * Anything else is accepted and ignored: a register ("10:<hex>"), core, swbreak,
	 * hwbreak, library, fork, ... Only its shape is checked: printable, no separators.
	 */
	for (i = 0; i < klen; i++)
		if (k[i] <= ' ' || k[i] > '~')
			return ekp_err(EPROTO, "rsp: bad key in stop reply");
	for (i = 0; i < vlen; i++)
		if (v[i] < ' ' || v[i] > '~')
			return ekp_err(EPROTO, "rsp: bad value in stop reply");
	return 0;
}

/* "key:value;key:value;..." after T<sig>; a missing final ';' is tolerated. */
static int rsp_stop_pairs(const char *s, size_t len, struct rsp_stop *out)
{
	while (len) {
		const char *semi = memchr(s, ';', len);
		size_t plen = semi ? (size_t)(semi - s) : len;
		const char *colon = memchr(s, ':', plen);
		int err;

		if (!colon)
			return ekp_err(EPROTO, "rsp: stop reply pair without ':'");
		err = rsp_stop_pair(s, (size_t)(colon - s), colon + 1,
				    plen - (size_t)(colon - s) - 1, out);
		if (err)
			return err;
		if (!semi)
			break;
		len -= plen + 1;
		s = semi + 1;
	}
	return 0;
}

int rsp_parse_stop(const char *payload, size_t len, struct rsp_stop *out)
{
	const char *semi;
	size_t head;
	int v;

	memset(out, 0, sizeof(*out));
	if (!payload || !len)
		return ekp_err(EPROTO, "rsp: empty stop reply");
	out->kind = payload[0];
	switch (payload[0]) {
	case 'S':
		if (rsp_hex_field(payload + 1, len - 1, 2, 2, &v))
			return ekp_err(EPROTO, "rsp: bad 'S' stop reply");
		out->signal = v;
		return 0;
	case 'T':
		if (len < 3 || rsp_hex_field(payload + 1, 2, 2, 2, &v))
			return ekp_err(EPROTO, "rsp: bad 'T' stop reply");
		out->signal = v;
		return rsp_stop_pairs(payload + 3, len - 3, out);
	case 'W':
	case 'X':
		/* "W<status>" or "W<status>;process:<pid>" */
		semi = memchr(payload, ';', len);
		head = semi ? (size_t)(semi - payload) : len;
		if (rsp_hex_field(payload + 1, head - 1, 1, 8, &v))
			return ekp_err(EPROTO, "rsp: bad '%c' stop reply", payload[0]);
		if (payload[0] == 'W')
			out->exit_status = v;
		else
			out->signal = v;
		if (semi) {
			const char *rest = semi + 1;
			size_t rlen = len - head - 1;

			if (rlen < 8 || memcmp(rest, "process:", 8))
				return ekp_err(EPROTO, "rsp: bad '%c' stop reply", payload[0]);
			if (rsp_parse_id(rest + 8, rlen - 8, &out->thread.pid) ||
			    out->thread.pid <= 0)
				return ekp_err(EPROTO, "rsp: bad process in '%c' reply",
					       payload[0]);
			out->thread.tid = -1;
			out->has_thread = true;
		}
		return 0;
	case 'O':
		/* Console output, hex encoded; "OK" is not one (a stub's OK is never a stop). */
		if (len < 3 || (len - 1) % 2)
			return ekp_err(EPROTO, "rsp: bad 'O' output packet");
		for (head = 1; head < len; head++)
			if (ekp_hexval((unsigned char)payload[head]) < 0)
				return ekp_err(EPROTO, "rsp: bad 'O' output packet");
		return 0;
	default:
		return ekp_err(EPROTO, "rsp: not a stop reply: '%c'",
			       payload[0] > ' ' && payload[0] <= '~' ? payload[0] : '?');
	}
}
