// SPDX-License-Identifier: GPL-2.0
/*
 * RSP framing, pure: the incremental decoder ('+', '-', "$payload#cs", "%payload#cs") and the
 * packet encoder. The payload is unescaped ('}' then byte ^ 0x20) and run-length expanded
 * ("c*N" = N - 29 more copies of c). The checksum is the sum mod 256 of the bytes as sent
 * (escaped, not expanded) between the start character and '#'.
 *
 * Bytes outside a frame (noise, a stray 0x03, half a packet cut by a new '$') are skipped.
 * Inside a frame only '$' restarts: '%' is legal in binary data (stubs escape only #$}*).
 * A frame longer than RSP_MAX_FRAME without its '#' cannot be resynchronised in a useful way:
 * it is dropped with -EPROTO and decoding resumes with the bytes that follow.
 */
#include <errno.h>
#include <string.h>

#include "ekprobe/err.h"
#include "proto/rsp.h"

/* Bound on a frame as sent and on its decoded payload. QEMU never exceeds 4 KiB. */
#define RSP_MAX_FRAME (1u << 20)

void rsp_decoder_init(struct rsp_decoder *d)
{
	memset(d, 0, sizeof(*d));
}

void rsp_decoder_free(struct rsp_decoder *d)
{
	ekp_buf_free(&d->in);
}

int rsp_decoder_feed(struct rsp_decoder *d, const void *data, size_t len)
{
	if (ekp_buf_append(&d->in, data, len))
		return ekp_err(ENOMEM, "rsp: out of memory buffering %zu bytes", len);
	return 0;
}

/* An empty payload that is still a valid "" string. */
static int rsp_payload_init(struct ekp_buf *b)
{
	if (ekp_buf_reserve(b, 0))
		return ekp_err(ENOMEM, "rsp: out of memory");
	b->data[0] = '\0';
	return 0;
}

/* Unescape and expand raw[0..len) into out. 0, or -EPROTO for a malformed payload. */
static int rsp_unpack(const unsigned char *raw, size_t len, struct ekp_buf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = raw[i];

		if (c == '*') {
			unsigned int n;
			unsigned char rep;

			if (!out->len)
				return ekp_err(EPROTO, "rsp: run-length '*' with nothing to repeat");
			if (i + 1 >= len)
				return ekp_err(EPROTO, "rsp: run-length '*' without a count");
			/* Counts are printable: ' ' (3 copies) .. '~' (97 copies). */
			if (raw[i + 1] < ' ' || raw[i + 1] > '~')
				return ekp_err(EPROTO, "rsp: bad run-length count 0x%02x", raw[i + 1]);
			n = raw[++i] - 29u;
			if (out->len + n > RSP_MAX_FRAME)
				return ekp_err(EPROTO, "rsp: packet expands beyond %u bytes",
					       RSP_MAX_FRAME);
			rep = (unsigned char)out->data[out->len - 1];
			if (ekp_buf_reserve(out, n))
				return ekp_err(ENOMEM, "rsp: out of memory");
			memset(out->data + out->len, rep, n);
			out->len += n;
			out->data[out->len] = '\0';
			continue;
		}
		if (c == '}') {
			if (i + 1 >= len)
				return ekp_err(EPROTO, "rsp: escape '}' at the end of a packet");
			c = raw[++i] ^ 0x20;
		}
		if (out->len + 1 > RSP_MAX_FRAME)
			return ekp_err(EPROTO, "rsp: packet longer than %u bytes", RSP_MAX_FRAME);
		if (ekp_buf_append(out, &c, 1))
			return ekp_err(ENOMEM, "rsp: out of memory");
	}
	return 0;
}

int rsp_decoder_next(struct rsp_decoder *d, struct rsp_frame *out)
{
	const unsigned char *p = (const unsigned char *)d->in.data;
	size_t n = d->in.len, start = 0, i, end;
	unsigned int sum = 0;
	int hi, lo, err;

	memset(out, 0, sizeof(*out));

	for (;;) {
		/* Skip noise up to the next frame start. */
		while (start < n && p[start] != '+' && p[start] != '-' && p[start] != '$' &&
		       p[start] != '%')
			start++;
		if (start == n) {
			ekp_buf_reset(&d->in);
			return 0;
		}
		if (p[start] == '+' || p[start] == '-') {
			out->kind = p[start] == '+' ? RSP_FRAME_ACK : RSP_FRAME_NACK;
			ekp_buf_consume(&d->in, start + 1);
			goto empty_payload;
		}

		/* Find the '#' that ends this frame; an escaped byte never ends it. */
		end = 0;
		for (i = start + 1; i < n; i++) {
			if (p[i] == '}') {
				i++;
				continue;
			}
			/* '%' is not escaped by stubs (QEMU's memtox): only '$' restarts. */
			if (p[i] == '#' || p[i] == '$') {
				end = i;
				break;
			}
		}
		if (end && p[end] != '#') {
			/* A new frame starts inside this one: drop the broken head, resync. */
			start = end;
			continue;
		}
		break;
	}
	if (start)
		ekp_buf_consume(&d->in, start);
	p = (const unsigned char *)d->in.data;
	n = d->in.len;

	if (!end) {
		if (n > RSP_MAX_FRAME + 4) {
			ekp_buf_reset(&d->in);
			return ekp_err(EPROTO, "rsp: frame longer than %u bytes without '#'",
				       RSP_MAX_FRAME);
		}
		return 0;
	}
	end -= start;
	if (end + 2 >= n)
		return 0; /* checksum digits not here yet */
	if (end - 1 > RSP_MAX_FRAME) {
		ekp_buf_consume(&d->in, end + 3);
		return ekp_err(EPROTO, "rsp: frame longer than %u bytes", RSP_MAX_FRAME);
	}

	for (i = 1; i < end; i++)
		sum += p[i];
	hi = ekp_hexval(p[end + 1]);
	lo = ekp_hexval(p[end + 2]);
	if (hi < 0 || lo < 0 || (unsigned int)(hi << 4 | lo) != (sum & 0xff)) {
		out->kind = RSP_FRAME_BAD_CHECKSUM;
		ekp_buf_consume(&d->in, end + 3);
		goto empty_payload;
	}

	out->kind = p[0] == '$' ? RSP_FRAME_PACKET : RSP_FRAME_NOTIFICATION;
	err = rsp_payload_init(&out->payload);
	if (!err)
		err = rsp_unpack(p + 1, end - 1, &out->payload);
	ekp_buf_consume(&d->in, end + 3);
	if (err) {
		ekp_buf_free(&out->payload);
		return err;
	}
	return 1;

empty_payload:
	return rsp_payload_init(&out->payload) ?: 1;
}

int rsp_encode_packet(struct ekp_buf *out, const void *payload, size_t len)
{
	const unsigned char *p = payload;
	unsigned int sum = 0;
	size_t i;
	char tail[4];

	if (len > RSP_MAX_FRAME)
		return ekp_err(EMSGSIZE, "rsp: packet of %zu bytes is too long", len);
	/* Worst case: every byte escaped. */
	if (ekp_buf_reserve(out, 2 * len + 4))
		return ekp_err(ENOMEM, "rsp: out of memory");
	out->data[out->len++] = '$';
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c == '$' || c == '#' || c == '}' || c == '*') {
			out->data[out->len++] = '}';
			sum += '}';
			c ^= 0x20;
		}
		out->data[out->len++] = (char)c;
		sum += c;
	}
	tail[0] = '#';
	tail[1] = "0123456789abcdef"[(sum >> 4) & 15];
	tail[2] = "0123456789abcdef"[sum & 15];
	memcpy(out->data + out->len, tail, 3);
	out->len += 3;
	out->data[out->len] = '\0';
	return 0;
}
