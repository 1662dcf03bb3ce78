// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the pure RSP code: frame decoder (fed in input-dependent pieces; its
 * work must stay linear in the bytes fed), encoder round trip, stop replies, thread ids,
 * target description XML. Every decoded packet also goes through the reply parsers, as the
 * client would do with it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/rsp.h"

static void parse_reply(const char *p, size_t len)
{
	struct rsp_stop st;
	struct rsp_thread t;
	char buf[48];

	if (!rsp_parse_stop(p, len, &st) && st.has_thread)
		rsp_format_thread(&st.thread, buf, sizeof(buf));
	if (!rsp_parse_thread(p, len, &t)) {
		struct rsp_thread back;

		/* What we print, we must read back the same. */
		rsp_format_thread(&t, buf, sizeof(buf));
		if (rsp_parse_thread(buf, strlen(buf), &back) || back.pid != t.pid ||
		    back.tid != t.tid)
			__builtin_trap();
	}
}

static void parse_tdesc(const char *p, size_t len)
{
	struct rsp_target_desc desc = { 0 };
	char **inc = NULL;
	unsigned int n = 0, i;

	/* Twice into the same desc: the second parse continues numbering or clashes. */
	for (int round = 0; round < 2; round++) {
		if (!rsp_target_desc_parse(&desc, p, len, &inc, &n)) {
			for (i = 0; i < n; i++)
				free(inc[i]);
			free(inc);
		}
	}
	for (i = 0; i < desc.nr_regs; i++) {
		if (i && desc.regs[i - 1].regnum >= desc.regs[i].regnum)
			__builtin_trap();
		if (rsp_target_desc_g_offset(&desc, desc.regs[i].regnum) < 0)
			__builtin_trap();
		if (desc.regs[i].name[0] && !rsp_target_desc_find(&desc, desc.regs[i].name))
			__builtin_trap();
	}
	rsp_target_desc_free(&desc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rsp_decoder d;
	struct rsp_frame f;
	struct ekp_buf enc = { 0 };
	size_t off = 0;
	int r, guard;

	/* 1: decoder, in pieces whose sizes come from the input itself. */
	rsp_decoder_init(&d);
	while (off < size) {
		size_t piece = 1 + data[off] % 64;

		if (piece > size - off)
			piece = size - off;
		rsp_decoder_feed(&d, data + off, piece);
		off += piece;
		for (guard = 0; guard < 100000; guard++) {
			r = rsp_decoder_next(&d, &f);
			if (r == 0)
				break;
			if (r < 0)
				continue; /* a dropped frame: decoding goes on */
			if (f.kind == RSP_FRAME_PACKET || f.kind == RSP_FRAME_NOTIFICATION) {
				if (f.payload.data[f.payload.len] != '\0')
					__builtin_trap();
				parse_reply(f.payload.data, f.payload.len);
			}
			ekp_buf_free(&f.payload);
		}
		if (rsp_decoder_work(&d) > 3 * (uint64_t)off)
			__builtin_trap(); /* not linear: see rsp_decoder_work() */
	}
	rsp_decoder_free(&d);

	/* 2: encode the input as a payload; decoding gives it back, byte for byte. */
	if (!rsp_encode_packet(&enc, data, size)) {
		rsp_decoder_init(&d);
		rsp_decoder_feed(&d, enc.data, enc.len);
		r = rsp_decoder_next(&d, &f);
		if (r != 1 || f.kind != RSP_FRAME_PACKET || f.payload.len != size ||
		    (size && memcmp(f.payload.data, data, size)))
			__builtin_trap();
		ekp_buf_free(&f.payload);
		if (rsp_decoder_next(&d, &f) != 0)
			__builtin_trap();
		rsp_decoder_free(&d);
	}
	ekp_buf_free(&enc);

	/* 3: the raw input as a reply payload and as a target description. */
	parse_reply((const char *)data, size);
	parse_tdesc((const char *)data, size);
	return 0;
}
