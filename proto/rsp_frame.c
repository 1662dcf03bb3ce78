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
 *
 * The decoder is a state machine over the bytes fed: each byte is examined once, wherever the
 * chunks were cut (a stub streaming megabytes without '#' costs what it sends, not its square).
 * The raw bytes of the frame in progress stay buffered until it ends; consumed bytes are
 * dropped from the front only when they are at least as many as those kept, so moving the
 * rest down costs at most what was dropped.
 */
#include <errno.h>
#include <string.h>

#include "ekprobe/err.h"
#include "proto/rsp.h"

/* Bound on a frame as sent and on its decoded payload. QEMU never exceeds 4 KiB. */
#define RSP_MAX_FRAME (1u << 20)

enum rsp_dec_state {
	RSP_DEC_IDLE,   /* between frames: noise is skipped */
	RSP_DEC_BODY,   /* inside "$..." or "%...", before '#' */
	RSP_DEC_ESCAPE, /* the byte after '}': never ends or restarts the frame */
	RSP_DEC_CSUM1,  /* '#' seen: first checksum digit next */
	RSP_DEC_CSUM2,
};

void rsp_decoder_init(struct rsp_decoder *d)
{
	memset(d, 0, sizeof(*d));
	d->state = RSP_DEC_IDLE;
}

void rsp_decoder_free(struct rsp_decoder *d)
{
	ekp_buf_free(&d->in);
	rsp_decoder_init(d);
}

uint64_t rsp_decoder_work(const struct rsp_decoder *d)
{
	return d->work;
}

int rsp_decoder_feed(struct rsp_decoder *d, const void *data, size_t len)
{
	size_t keep = d->in.len - d->head;

	/* Reuse the consumed front once it is at least what must be kept (amortised linear). */
	if (d->head && d->head >= keep) {
		memmove(d->in.data, d->in.data + d->head, keep);
		d->work += keep;
		d->in.len = keep;
		d->in.data[keep] = '\0';
		d->pos -= d->head;
		d->head = 0;
	}
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
		/* Room for the rest of the raw bytes at once, not one append per byte. */
		if (out->len + 2 > out->cap && ekp_buf_reserve(out, len - i))
			return ekp_err(ENOMEM, "rsp: out of memory");
		out->data[out->len++] = (char)c;
	}
	out->data[out->len] = '\0';
	return 0;
}

/* The frame [head, pos) is complete: check its checksum, unpack its payload, consume it. */
static int rsp_frame_done(struct rsp_decoder *d, struct rsp_frame *out)
{
	const unsigned char *p = (const unsigned char *)d->in.data + d->head;
	size_t hash = d->hash;
	int hi = ekp_hexval(p[hash + 1]), lo = ekp_hexval(p[hash + 2]);
	int err;

	d->head = d->pos;
	if (hi < 0 || lo < 0 || (unsigned int)(hi << 4 | lo) != (d->sum & 0xff)) {
		out->kind = RSP_FRAME_BAD_CHECKSUM;
		return rsp_payload_init(&out->payload) ?: 1;
	}
	out->kind = p[0] == '$' ? RSP_FRAME_PACKET : RSP_FRAME_NOTIFICATION;
	d->work += hash - 1;
	err = rsp_payload_init(&out->payload);
	if (!err)
		err = rsp_unpack(p + 1, hash - 1, &out->payload);
	if (err) {
		ekp_buf_free(&out->payload);
		return err;
	}
	return 1;
}

/* The bytes that matter inside a frame; any other one only adds to the checksum. */
static const bool rsp_body_special[256] = { ['#'] = true, ['$'] = true, ['}'] = true };

int rsp_decoder_next(struct rsp_decoder *d, struct rsp_frame *out)
{
	const unsigned char *p = (const unsigned char *)d->in.data;

	memset(out, 0, sizeof(*out));
	while (d->pos < d->in.len) {
		unsigned char c;

		if (d->state == RSP_DEC_BODY) {
			/* The bulk of a frame, in a tight loop: up to the next byte that matters
			 * or to the size bound (the byte there is then examined below). */
			size_t from = d->pos, end = d->head + RSP_MAX_FRAME + 1;

			if (end > d->in.len)
				end = d->in.len;
			while (d->pos < end && !rsp_body_special[p[d->pos]])
				d->sum += p[d->pos++];
			d->work += d->pos - from;
			if (d->pos == d->in.len)
				break;
		}
		c = p[d->pos++];
		d->work++;
		switch (d->state) {
		case RSP_DEC_IDLE:
			if (c == '+' || c == '-') {
				d->head = d->pos;
				out->kind = c == '+' ? RSP_FRAME_ACK : RSP_FRAME_NACK;
				return rsp_payload_init(&out->payload) ?: 1;
			}
			if (c == '$' || c == '%') {
				d->head = d->pos - 1;
				d->sum = 0;
				d->state = RSP_DEC_BODY;
			} else {
				d->head = d->pos; /* noise: a stray 0x03, a line end, junk */
			}
			break;
		case RSP_DEC_BODY:
			if (c == '#') {
				d->hash = d->pos - 1 - d->head;
				d->state = RSP_DEC_CSUM1;
				break;
			}
			if (c == '$') {
				/* A new frame starts inside this one: drop the broken head, resync.
				 * ('%' is not escaped by stubs (QEMU's memtox): only '$' restarts.) */
				d->head = d->pos - 1;
				d->sum = 0;
				break;
			}
			/* fall through */
		case RSP_DEC_ESCAPE:
			if (d->pos - d->head > RSP_MAX_FRAME + 1) {
				/* The rest of it is noise to skip: '+' or '-' in there may look
				 * like acks, as they would after any junk. */
				d->head = d->pos;
				d->state = RSP_DEC_IDLE;
				return ekp_err(EPROTO, "rsp: frame longer than %u bytes without '#'",
					       RSP_MAX_FRAME);
			}
			d->sum += c;
			d->state = d->state == RSP_DEC_BODY && c == '}' ? RSP_DEC_ESCAPE : RSP_DEC_BODY;
			break;
		case RSP_DEC_CSUM1:
			d->state = RSP_DEC_CSUM2;
			break;
		case RSP_DEC_CSUM2:
			d->state = RSP_DEC_IDLE;
			return rsp_frame_done(d, out);
		}
	}
	return 0;
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
