// SPDX-License-Identifier: GPL-2.0
/*
 * proto/rsp*: framing, stop replies, thread ids, target descriptions, and the client against a
 * scripted fake gdbstub. The replay tests use byte streams recorded from a real QEMU 7.2
 * (tests/unit/data/rsp/, recorded by record.py there; README lists what each file is).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "host/vm/target.h"
#include "proto/rsp.h"

#define DATA_DIR "tests/unit/data/rsp/"

/* ---- helpers ---- */

static char *load(const char *name, size_t *len)
{
	char path[256];
	struct stat st;
	char *buf;
	int fd;

	snprintf(path, sizeof(path), DATA_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		fail_msg("cannot open %s (run from the repository root)", path);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* "$payload#cs" (payload taken as already escaped). */
static void frame(char *out, size_t size, const char *payload)
{
	unsigned int sum = 0;
	const char *p;

	for (p = payload; *p; p++)
		sum += (unsigned char)*p;
	snprintf(out, size, "$%s#%02x", payload, sum & 0xff);
}

static int next(struct rsp_decoder *d, struct rsp_frame *f)
{
	return rsp_decoder_next(d, f);
}

/* Feed all of data, then take exactly one frame of the given kind and payload. */
static void expect_frame(struct rsp_decoder *d, enum rsp_frame_kind kind, const char *payload,
			 size_t plen)
{
	struct rsp_frame f;

	assert_int_equal(next(d, &f), 1);
	assert_int_equal(f.kind, kind);
	if (payload) {
		assert_int_equal(f.payload.len, plen);
		assert_memory_equal(f.payload.data, payload, plen);
	}
	ekp_buf_free(&f.payload);
}

static void expect_empty(struct rsp_decoder *d)
{
	struct rsp_frame f;

	assert_int_equal(next(d, &f), 0);
}

/* ---- framing ---- */

static void test_frame_basic(void **state)
{
	struct rsp_decoder d;

	rsp_decoder_init(&d);
	assert_int_equal(rsp_decoder_feed(&d, "+-$OK#9a", 8), 0);
	expect_frame(&d, RSP_FRAME_ACK, "", 0);
	expect_frame(&d, RSP_FRAME_NACK, "", 0);
	expect_frame(&d, RSP_FRAME_PACKET, "OK", 2);
	expect_empty(&d);
	/* Empty packet: QEMU's "not supported". Payload is still a valid string. */
	assert_int_equal(rsp_decoder_feed(&d, "$#00", 4), 0);
	{
		struct rsp_frame f;

		assert_int_equal(next(&d, &f), 1);
		assert_int_equal(f.kind, RSP_FRAME_PACKET);
		assert_int_equal(f.payload.len, 0);
		assert_non_null(f.payload.data);
		assert_string_equal(f.payload.data, "");
		ekp_buf_free(&f.payload);
	}
	/* Notification. */
	{
		char b[64];

		frame(b, sizeof(b), "Stop:T05");
		b[0] = '%';
		assert_int_equal(rsp_decoder_feed(&d, b, strlen(b)), 0);
		expect_frame(&d, RSP_FRAME_NOTIFICATION, "Stop:T05", 8);
	}
	rsp_decoder_free(&d);
}

static void test_frame_escape_roundtrip(void **state)
{
	static const char payload[] = "a$b#c}d*e\x03" "f";
	struct ekp_buf out = { 0 };
	struct rsp_decoder d;

	assert_int_equal(rsp_encode_packet(&out, payload, sizeof(payload) - 1), 0);
	/* Every special byte is '}' + byte^0x20; nothing else changes. */
	assert_memory_equal(out.data, "$a}\x04" "b}\x03" "c}]d}\ne\x03" "f#", out.len - 2);
	rsp_decoder_init(&d);
	assert_int_equal(rsp_decoder_feed(&d, out.data, out.len), 0);
	expect_frame(&d, RSP_FRAME_PACKET, payload, sizeof(payload) - 1);
	expect_empty(&d);

	/* All 256 byte values survive. */
	{
		unsigned char all[256];
		int i;

		for (i = 0; i < 256; i++)
			all[i] = (unsigned char)i;
		ekp_buf_reset(&out);
		assert_int_equal(rsp_encode_packet(&out, all, sizeof(all)), 0);
		assert_int_equal(rsp_decoder_feed(&d, out.data, out.len), 0);
		expect_frame(&d, RSP_FRAME_PACKET, (const char *)all, sizeof(all));
	}
	/* Known checksum: "OK" -> 9a. */
	ekp_buf_reset(&out);
	assert_int_equal(rsp_encode_packet(&out, "OK", 2), 0);
	assert_string_equal(out.data, "$OK#9a");
	ekp_buf_free(&out);
	rsp_decoder_free(&d);
}

static void test_frame_rle(void **state)
{
	struct rsp_decoder d;
	char b[64];

	rsp_decoder_init(&d);
	/* "0* " = '0' + 3 more copies; "x*!" = 'x' + 4 more. */
	frame(b, sizeof(b), "0* 1x*!");
	assert_int_equal(rsp_decoder_feed(&d, b, strlen(b)), 0);
	expect_frame(&d, RSP_FRAME_PACKET, "00001xxxxx", 10);
	/* Repeating an escaped byte repeats the unescaped byte. */
	frame(b, sizeof(b), "}]* ");
	assert_int_equal(rsp_decoder_feed(&d, b, strlen(b)), 0);
	expect_frame(&d, RSP_FRAME_PACKET, "}}}}", 4);
	/* Largest count '~' = 97 more. */
	frame(b, sizeof(b), "a*~");
	assert_int_equal(rsp_decoder_feed(&d, b, strlen(b)), 0);
	{
		char want[98];

		memset(want, 'a', sizeof(want));
		expect_frame(&d, RSP_FRAME_PACKET, want, sizeof(want));
	}
	/* Malformed: nothing to repeat, no count, unprintable count. Dropped, then go on. */
	frame(b, sizeof(b), "* ");
	assert_int_equal(rsp_decoder_feed(&d, b, strlen(b)), 0);
	frame(b, sizeof(b), "a*");
	assert_int_equal(rsp_decoder_feed(&d, b, strlen(b)), 0);
	frame(b, sizeof(b), "a*\x01");
	assert_int_equal(rsp_decoder_feed(&d, b, strlen(b)), 0);
	assert_int_equal(rsp_decoder_feed(&d, "$OK#9a", 6), 0);
	{
		struct rsp_frame f;

		assert_int_equal(next(&d, &f), -EPROTO);
		assert_int_equal(next(&d, &f), -EPROTO);
		assert_int_equal(next(&d, &f), -EPROTO);
	}
	expect_frame(&d, RSP_FRAME_PACKET, "OK", 2);
	rsp_decoder_free(&d);
}

static void test_frame_rle_bomb(void **state)
{
	/* 12000 x "a*~" is 36 KB on the wire and 1.18 MB expanded: over the 1 MiB bound. */
	struct ekp_buf b = { 0 };
	struct rsp_decoder d;
	struct rsp_frame f;
	unsigned int sum = 0;
	size_t i;

	assert_int_equal(ekp_buf_append(&b, "$", 1), 0);
	for (i = 0; i < 12000; i++)
		assert_int_equal(ekp_buf_append(&b, "a*~", 3), 0);
	for (i = 1; i < b.len; i++)
		sum += (unsigned char)b.data[i];
	assert_int_equal(ekp_buf_printf(&b, "#%02x", sum & 0xff), 0);
	rsp_decoder_init(&d);
	assert_int_equal(rsp_decoder_feed(&d, b.data, b.len), 0);
	assert_int_equal(next(&d, &f), -EPROTO);
	expect_empty(&d);
	rsp_decoder_free(&d);
	ekp_buf_free(&b);
}

static void test_frame_bad_checksum(void **state)
{
	struct rsp_decoder d;

	rsp_decoder_init(&d);
	assert_int_equal(rsp_decoder_feed(&d, "$OK#00$OK#zz$OK#9A", 18), 0);
	expect_frame(&d, RSP_FRAME_BAD_CHECKSUM, NULL, 0);
	expect_frame(&d, RSP_FRAME_BAD_CHECKSUM, NULL, 0);
	/* Upper-case checksum digits are fine. */
	expect_frame(&d, RSP_FRAME_PACKET, "OK", 2);
	expect_empty(&d);
	rsp_decoder_free(&d);
}

static void test_frame_split(void **state)
{
	static const char in[] = "+$T05thread:p01.02;#07$a}\x03" "b#43-";
	struct rsp_decoder d;
	struct rsp_frame f;
	int got = 0;
	size_t i;

	/* Checksums above computed by hand; verify them through the encoder. */
	{
		struct ekp_buf e = { 0 };

		assert_int_equal(rsp_encode_packet(&e, "T05thread:p01.02;", 17), 0);
		assert_string_equal(e.data, "$T05thread:p01.02;#07");
		ekp_buf_reset(&e);
		assert_int_equal(rsp_encode_packet(&e, "a#b", 3), 0);
		assert_string_equal(e.data, "$a}\x03" "b#43");
		ekp_buf_free(&e);
	}
	rsp_decoder_init(&d);
	for (i = 0; i < sizeof(in) - 1; i++) {
		assert_int_equal(rsp_decoder_feed(&d, in + i, 1), 0);
		while (next(&d, &f) == 1) {
			switch (got++) {
			case 0:
				assert_int_equal(f.kind, RSP_FRAME_ACK);
				break;
			case 1:
				assert_int_equal(f.kind, RSP_FRAME_PACKET);
				assert_string_equal(f.payload.data, "T05thread:p01.02;");
				break;
			case 2:
				/* An escaped '#' does not end the frame, even split after '}'. */
				assert_int_equal(f.kind, RSP_FRAME_PACKET);
				assert_string_equal(f.payload.data, "a#b");
				break;
			case 3:
				assert_int_equal(f.kind, RSP_FRAME_NACK);
				break;
			}
			ekp_buf_free(&f.payload);
		}
	}
	assert_int_equal(got, 4);
	rsp_decoder_free(&d);
}

static void test_frame_garbage(void **state)
{
	static const char in[] = "xyz\x03\r\n$abc$OK#9a junk %trunc+";
	struct rsp_decoder d;

	rsp_decoder_init(&d);
	assert_int_equal(rsp_decoder_feed(&d, in, sizeof(in) - 1), 0);
	/* Noise is skipped; "$abc" cut by a new '$' is dropped. */
	expect_frame(&d, RSP_FRAME_PACKET, "OK", 2);
	/* "%trunc" is cut by... nothing yet: '+' is inside it, so wait for more. */
	expect_empty(&d);
	assert_int_equal(rsp_decoder_feed(&d, "$OK#9a", 6), 0);
	expect_frame(&d, RSP_FRAME_PACKET, "OK", 2);
	expect_empty(&d);
	rsp_decoder_free(&d);
}

static void test_frame_overlong(void **state)
{
	size_t n = (1u << 20) + 64;
	struct rsp_decoder d;
	struct rsp_frame f;
	char *big = malloc(n);

	assert_non_null(big);
	memset(big, 'a', n);
	big[0] = '$';
	rsp_decoder_init(&d);
	assert_int_equal(rsp_decoder_feed(&d, big, n), 0);
	assert_int_equal(next(&d, &f), -EPROTO);
	assert_true(strstr(ekp_errmsg(), "longer") != NULL);
	/* The decoder recovers. */
	assert_int_equal(rsp_decoder_feed(&d, "$OK#9a", 6), 0);
	expect_frame(&d, RSP_FRAME_PACKET, "OK", 2);
	rsp_decoder_free(&d);
	free(big);
}

/* Deterministic pseudo-random numbers (xorshift64). */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Take every frame out; count the dropped (over-long) ones. */
static void drain(struct rsp_decoder *d, int *dropped)
{
	struct rsp_frame f;
	int r;

	while ((r = next(d, &f)) != 0) {
		if (r < 0) {
			assert_int_equal(r, -EPROTO);
			(*dropped)++;
			continue;
		}
		ekp_buf_free(&f.payload);
	}
}

/*
 * A stub streaming megabytes without '#' costs the decoder what it sends, however the bytes
 * are cut: rsp_decoder_work() (bytes examined + unpacked + moved) stays within 3x the bytes
 * fed after every chunk. A decoder that rescans its buffer for '#' on every chunk does
 * O(frame^2) work: it fails here on its first few bytes.
 */
static void test_frame_linear(void **state)
{
	const size_t one_byte = 5u << 19, random_sizes = 8u << 20; /* 2.5 MiB, 8 MiB */
	struct rsp_decoder d;
	uint64_t x = 0x9e3779b97f4a7c15ull, fed = 0;
	unsigned char *junk = malloc(random_sizes);
	int dropped = 0;
	size_t i, n;

	assert_non_null(junk);
	/* No '#' (nothing ever ends) and no '$' (nothing restarts): every frame a '$' or '%'
	 * opens runs to the 1 MiB bound, the decoder's worst case. */
	for (i = 0; i < random_sizes; i++) {
		do
			junk[i] = (unsigned char)rnd(&x);
		while (junk[i] == '#' || junk[i] == '$');
	}
	rsp_decoder_init(&d);
	assert_int_equal(rsp_decoder_feed(&d, "$", 1), 0);
	fed = 1;
	for (i = 0; i < one_byte; i++) {
		assert_int_equal(rsp_decoder_feed(&d, junk + i, 1), 0);
		fed++;
		drain(&d, &dropped);
		if (rsp_decoder_work(&d) > 3 * fed)
			fail_msg("1-byte chunks: %llu bytes of work for %llu bytes fed",
				 (unsigned long long)rsp_decoder_work(&d), (unsigned long long)fed);
	}
	for (i = 0; i < random_sizes; i += n) {
		n = 1 + rnd(&x) % 65536;
		if (n > random_sizes - i)
			n = random_sizes - i;
		assert_int_equal(rsp_decoder_feed(&d, junk + i, n), 0);
		fed += n;
		drain(&d, &dropped);
		if (rsp_decoder_work(&d) > 3 * fed)
			fail_msg("random chunks: %llu bytes of work for %llu bytes fed",
				 (unsigned long long)rsp_decoder_work(&d), (unsigned long long)fed);
	}
	/* Several 1 MiB frames were dropped on the way (the bound holds in both phases). */
	assert_true(dropped >= 4);
	/* A plain byte (not a '}' that would escape the '$'), then a packet: it still decodes. */
	assert_int_equal(rsp_decoder_feed(&d, "x$OK#9a", 7), 0);
	fed += 7;
	expect_frame(&d, RSP_FRAME_PACKET, "OK", 2);
	expect_empty(&d);
	assert_true(rsp_decoder_work(&d) <= 3 * fed);
	rsp_decoder_free(&d);
	free(junk);
}

/* ---- thread ids and stop replies ---- */

static void test_thread_ids(void **state)
{
	static const struct {
		const char *s;
		long pid, tid;
	} ok[] = {
		{ "p01.02", 1, 2 }, { "p1.1", 1, 1 },    { "p1", 1, -1 },  { "p-1", -1, -1 },
		{ "p1.-1", 1, -1 }, { "p-1.-1", -1, -1 }, { "-1", 0, -1 },  { "0", 0, 0 },
		{ "01", 0, 1 },     { "ff", 0, 255 },     { "pA.bC", 10, 188 },
		{ "7fffffffffffffff" + 1, 0, 0xfffffffffffffffL },
	};
	static const char *bad[] = { "", "p", "p.1", "p1.", "xyz", "-2", "p1.2.3", "1 ",
				     "0123456789abcdef", "p1.0123456789abcdef", "-", "p-", "+1" };
	struct rsp_thread t;
	char buf[40];
	size_t i;

	for (i = 0; i < EKP_ARRAY_SIZE(ok); i++) {
		assert_int_equal(rsp_parse_thread(ok[i].s, strlen(ok[i].s), &t), 0);
		assert_int_equal(t.pid, ok[i].pid);
		assert_int_equal(t.tid, ok[i].tid);
	}
	for (i = 0; i < EKP_ARRAY_SIZE(bad); i++)
		assert_int_equal(rsp_parse_thread(bad[i], strlen(bad[i]), &t), -EPROTO);
	/* Length is honoured: no NUL needed. */
	assert_int_equal(rsp_parse_thread("p1.2;junk", 4, &t), 0);
	assert_int_equal(t.tid, 2);

	t = (struct rsp_thread){ 1, 2 };
	rsp_format_thread(&t, buf, sizeof(buf));
	assert_string_equal(buf, "p1.2");
	t = (struct rsp_thread){ 1, -1 };
	rsp_format_thread(&t, buf, sizeof(buf));
	assert_string_equal(buf, "p1.-1");
	t = (struct rsp_thread){ -1, -1 };
	rsp_format_thread(&t, buf, sizeof(buf));
	assert_string_equal(buf, "p-1.-1");
	t = (struct rsp_thread){ 0, 0x1f };
	rsp_format_thread(&t, buf, sizeof(buf));
	assert_string_equal(buf, "1f");
	t = (struct rsp_thread){ 0x7fffffffffffffffL, 0x7fffffffffffffffL };
	rsp_format_thread(&t, buf, sizeof(buf));
	assert_string_equal(buf, "p7fffffffffffffff.7fffffffffffffff");
}

static void test_stop_replies(void **state)
{
	struct rsp_stop st;

#define PARSE(s) rsp_parse_stop(s, strlen(s), &st)
	assert_int_equal(PARSE("T05thread:p01.02;"), 0);
	assert_int_equal(st.kind, 'T');
	assert_int_equal(st.signal, 5);
	assert_true(st.has_thread);
	assert_int_equal(st.thread.pid, 1);
	assert_int_equal(st.thread.tid, 2);
	assert_false(st.watch);

	/* QEMU's unsolicited stop before multiprocess is negotiated. */
	assert_int_equal(PARSE("T02thread:01;"), 0);
	assert_int_equal(st.signal, 2);
	assert_int_equal(st.thread.pid, 0);
	assert_int_equal(st.thread.tid, 1);

	/* Other pairs are accepted; final ';' optional. */
	assert_int_equal(PARSE("T05core:1;10:00f0ff0000000000;swbreak:;thread:p1.1"), 0);
	assert_true(st.has_thread);
	assert_int_equal(st.thread.tid, 1);

	assert_int_equal(PARSE("T05watch:ffffffff81000010;thread:p01.01;"), 0);
	assert_true(st.watch);
	assert_true(st.watch_addr == 0xffffffff81000010ull);
	assert_int_equal(PARSE("T05awatch:10;"), 0);
	assert_true(st.watch && st.watch_addr == 0x10);

	assert_int_equal(PARSE("T05"), 0);
	assert_false(st.has_thread);
	assert_int_equal(PARSE("S0b"), 0);
	assert_int_equal(st.kind, 'S');
	assert_int_equal(st.signal, 11);
	assert_int_equal(PARSE("W00"), 0);
	assert_int_equal(st.kind, 'W');
	assert_int_equal(st.exit_status, 0);
	assert_int_equal(PARSE("W1f;process:2a"), 0);
	assert_int_equal(st.exit_status, 31);
	assert_int_equal(st.thread.pid, 42);
	assert_int_equal(PARSE("X09"), 0);
	assert_int_equal(st.kind, 'X');
	assert_int_equal(st.signal, 9);
	assert_int_equal(PARSE("O48656c6c6f0a"), 0);
	assert_int_equal(st.kind, 'O');

	static const char *bad[] = {
		"", "T", "T5", "Tzz", "T05thread", "T05thread:;", "T05:1;", "T05thread:p1.x;",
		"T05watch:;", "T05watch:xyz;", "T05watch:12345678901234567;", "S", "S5", "S123",
		"W", "Wxx", "W1;", "W1;pid:1", "W1;process:", "W1;process:0", "X", "OK", "O1",
		"O4", "Ozz", "Q", "E01", "T05a:b\x01;", "T05\x7f:1;",
	};
	for (size_t i = 0; i < EKP_ARRAY_SIZE(bad); i++) {
		if (rsp_parse_stop(bad[i], strlen(bad[i]), &st) != -EPROTO)
			fail_msg("accepted bad stop reply '%s'", bad[i]);
	}
	assert_int_equal(rsp_parse_stop(NULL, 0, &st), -EPROTO);
#undef PARSE
}

/* ---- target descriptions ---- */

static const char tdesc_main[] =
	"<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
	"<target><architecture> test:arch </architecture>"
	"<xi:include href=\"core.xml\"/><xi:include href=\"extra.xml\"/></target>";
static const char tdesc_core[] =
	"<feature name=\"core\"><reg name=\"a\" bitsize=\"64\" regnum=\"0\"/>"
	"<reg name=\"b\" bitsize=\"32\"/><flags id=\"f\"><field name=\"x\" start=\"0\" end=\"0\"/>"
	"</flags><reg name=\"c\" bitsize=\"80\" type=\"i387_ext\"/></feature>";
static const char tdesc_extra[] =
	"<feature name=\"extra\"><reg name=\"d\" bitsize=\"128\"/>"
	"<reg name=\"far\" bitsize=\"16\" regnum=\"10\"/><reg name=\"next\" bitsize=\"8\"/>"
	"</feature>";

static void test_tdesc_parse(void **state)
{
	struct rsp_target_desc desc = { 0 };
	const struct rsp_reg_desc *r;
	char **inc;
	unsigned int n, i;

	assert_int_equal(rsp_target_desc_parse(&desc, tdesc_main, strlen(tdesc_main), &inc, &n), 0);
	assert_string_equal(desc.arch, "test:arch");
	assert_int_equal(n, 2);
	assert_string_equal(inc[0], "core.xml");
	assert_string_equal(inc[1], "extra.xml");
	for (i = 0; i < n; i++)
		free(inc[i]);
	free(inc);
	assert_int_equal(desc.nr_regs, 0);

	assert_int_equal(rsp_target_desc_parse(&desc, tdesc_core, strlen(tdesc_core), &inc, &n), 0);
	assert_int_equal(n, 0);
	assert_null(inc);
	/* regnum continues across documents. */
	assert_int_equal(rsp_target_desc_parse(&desc, tdesc_extra, strlen(tdesc_extra), NULL, NULL),
			 0);
	assert_int_equal(desc.nr_regs, 6);
	r = rsp_target_desc_find(&desc, "c");
	assert_non_null(r);
	assert_int_equal(r->regnum, 2);
	assert_int_equal(r->bitsize, 80);
	assert_int_equal(rsp_target_desc_find(&desc, "d")->regnum, 3);
	assert_int_equal(rsp_target_desc_find(&desc, "far")->regnum, 10);
	assert_int_equal(rsp_target_desc_find(&desc, "next")->regnum, 11);
	assert_null(rsp_target_desc_find(&desc, "x"));
	assert_null(rsp_target_desc_find(&desc, ""));
	/* Sorted by regnum. */
	for (i = 1; i < desc.nr_regs; i++)
		assert_true(desc.regs[i - 1].regnum < desc.regs[i].regnum);
	/* Offsets: a=0 (8) b=8 (4) c=12 (10) d=22 (16) far=38 (2) next=40. */
	assert_int_equal(rsp_target_desc_g_offset(&desc, 0), 0);
	assert_int_equal(rsp_target_desc_g_offset(&desc, 1), 8);
	assert_int_equal(rsp_target_desc_g_offset(&desc, 2), 12);
	assert_int_equal(rsp_target_desc_g_offset(&desc, 3), 22);
	assert_int_equal(rsp_target_desc_g_offset(&desc, 10), 38);
	assert_int_equal(rsp_target_desc_g_offset(&desc, 11), 40);
	assert_int_equal(rsp_target_desc_g_offset(&desc, 4), -ENOENT);
	assert_int_equal(rsp_target_desc_g_offset(&desc, 99), -ENOENT);

	/* A failing document leaves desc unchanged: duplicate regnum. */
	{
		static const char dup[] = "<feature><reg name=\"z\" bitsize=\"8\" regnum=\"1\"/></feature>";

		assert_int_equal(rsp_target_desc_parse(&desc, dup, strlen(dup), &inc, &n), -EPROTO);
		assert_null(inc);
		assert_int_equal(n, 0);
		assert_int_equal(desc.nr_regs, 6);
		assert_null(rsp_target_desc_find(&desc, "z"));
	}
	rsp_target_desc_free(&desc);
	assert_int_equal(desc.nr_regs, 0);
	assert_null(desc.regs);
}

static void test_tdesc_bad(void **state)
{
	static const char *bad[] = {
		"<target><reg name=\"a\"/></target>",                       /* no bitsize */
		"<target><reg bitsize=\"8\"/></target>",                    /* no name */
		"<target><reg name=\"a\" bitsize=\"0\"/></target>",
		"<target><reg name=\"a\" bitsize=\"7\"/></target>",
		"<target><reg name=\"a\" bitsize=\"-8\"/></target>",
		"<target><reg name=\"a\" bitsize=\"4096\"/></target>",
		"<target><reg name=\"a\" bitsize=\"8\" regnum=\"x\"/></target>",
		"<target><reg name=\"a\" bitsize=\"8\" regnum=\"70000\"/></target>",
		"<target><reg name=\"a\" bitsize=\"8\"/><reg name=\"b\" bitsize=\"8\" regnum=\"0\"/>"
		"</target>",
		"<target><xi:include/></target>",
		"<target><xi:include href=\"../etc/passwd\"/></target>",
		"<target><xi:include href=\"a:b\"/></target>",
		"<target><architecture>"
		"0123456789012345678901234567890123456789012345678901234567890123456789"
		"</architecture></target>",
		"<target>",
		"not xml",
		"<!DOCTYPE t [<!ENTITY a \"aaaa\">]><target>&a;</target>",
		"<!DOCTYPE t [<!ENTITY % p \"x\">]><target/>",
	};
	struct rsp_target_desc desc = { 0 };
	char **inc;
	unsigned int n;

	for (size_t i = 0; i < EKP_ARRAY_SIZE(bad); i++) {
		int r = rsp_target_desc_parse(&desc, bad[i], strlen(bad[i]), &inc, &n);

		if (r != -EPROTO)
			fail_msg("tdesc %zu: got %d for '%s'", i, r, bad[i]);
		assert_null(inc);
		assert_int_equal(desc.nr_regs, 0);
	}
	/* A name too long for the table is kept nameless: it still counts for 'g' offsets. */
	{
		static const char x[] = "<target><reg name=\"a_register_name_that_is_far_too_long\" "
					"bitsize=\"64\"/><reg name=\"b\" bitsize=\"8\"/></target>";

		assert_int_equal(rsp_target_desc_parse(&desc, x, strlen(x), NULL, NULL), 0);
		assert_int_equal(desc.nr_regs, 2);
		assert_string_equal(desc.regs[0].name, "");
		assert_int_equal(rsp_target_desc_g_offset(&desc, 1), 8);
		rsp_target_desc_free(&desc);
	}
}

/* ---- replays of real QEMU 7.2 byte streams ---- */

/* Decode a recorded server stream: '+' then exactly one packet. Returns its payload. */
static void replay_reply(const char *file, struct ekp_buf *payload)
{
	struct rsp_decoder d;
	struct rsp_frame f;
	size_t len, i;
	char *raw = load(file, &len);
	int got = 0;

	rsp_decoder_init(&d);
	/* Feed in odd-sized pieces to exercise resumption. */
	for (i = 0; i < len; i += 7) {
		assert_int_equal(rsp_decoder_feed(&d, raw + i, len - i < 7 ? len - i : 7), 0);
		while (next(&d, &f) == 1) {
			if (got++ == 0) {
				if (f.kind != RSP_FRAME_ACK)
					fail_msg("%s: first frame is not '+'", file);
			} else {
				if (f.kind != RSP_FRAME_PACKET)
					fail_msg("%s: frame %d is not a packet", file, got);
				ekp_buf_reset(payload);
				assert_int_equal(ekp_buf_append(payload, f.payload.data, f.payload.len), 0);
			}
			ekp_buf_free(&f.payload);
		}
	}
	assert_int_equal(got, 2);
	rsp_decoder_free(&d);
	free(raw);
}

static void test_replay_simple(void **state)
{
	struct ekp_buf p = { 0 };
	struct rsp_stop st;
	struct rsp_thread t;

	replay_reply("qsupported.rx", &p);
	assert_string_equal(p.data, "PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+");
	replay_reply("vcont-c-stop.rx", &p);
	assert_int_equal(rsp_parse_stop(p.data, p.len, &st), 0);
	assert_int_equal(st.kind, 'T');
	assert_int_equal(st.signal, 5);
	assert_int_equal(st.thread.pid, 1);
	assert_int_equal(st.thread.tid, 1);
	replay_reply("m-unmapped.rx", &p);
	assert_string_equal(p.data, "E14");
	replay_reply("m-startup64.rx", &p);
	/* startup_64: leaq ...(%rip), %rsp = 48 8d 25 */
	assert_memory_equal(p.data, "488d25", 6);
	replay_reply("p-before-xml.rx", &p);
	assert_int_equal(p.len, 0);
	replay_reply("p10-reset.rx", &p);
	assert_string_equal(p.data, "f0ff000000000000");
	replay_reply("z0-insert.rx", &p);
	assert_string_equal(p.data, "OK");
	replay_reply("qfthreadinfo.rx", &p);
	assert_string_equal(p.data, "mp01.01");
	assert_int_equal(rsp_parse_thread(p.data + 1, p.len - 1, &t), 0);
	assert_int_equal(t.pid, 1);
	assert_int_equal(t.tid, 1);
	replay_reply("qsthreadinfo.rx", &p);
	assert_string_equal(p.data, "mp01.02");
	ekp_buf_free(&p);

	/* On connect to a running VM: no ack, just the stop, old (non-multiprocess) thread form. */
	{
		size_t len;
		char *raw = load("connect-running.rx", &len);
		struct rsp_decoder d;
		struct rsp_frame f;

		rsp_decoder_init(&d);
		assert_int_equal(rsp_decoder_feed(&d, raw, len), 0);
		assert_int_equal(next(&d, &f), 1);
		assert_int_equal(f.kind, RSP_FRAME_PACKET);
		assert_string_equal(f.payload.data, "T02thread:01;");
		assert_int_equal(rsp_parse_stop(f.payload.data, f.payload.len, &st), 0);
		assert_int_equal(st.signal, 2);
		assert_int_equal(st.thread.pid, 0);
		assert_int_equal(st.thread.tid, 1);
		ekp_buf_free(&f.payload);
		rsp_decoder_free(&d);
		free(raw);
	}
}

/* target.xml + i386-64bit.xml as QEMU 7.2 x86_64 serves them. */
static void replay_tdesc(struct rsp_target_desc *desc)
{
	struct ekp_buf p = { 0 }, xml = { 0 };
	char **inc, name[64];
	unsigned int n;
	int i;

	memset(desc, 0, sizeof(*desc));
	replay_reply("qxfer-target.rx", &p);
	assert_int_equal(p.data[0], 'l');
	assert_int_equal(rsp_target_desc_parse(desc, p.data + 1, p.len - 1, &inc, &n), 0);
	assert_string_equal(desc->arch, "i386:x86-64");
	assert_int_equal(n, 1);
	assert_string_equal(inc[0], "i386-64bit.xml");
	free(inc[0]);
	free(inc);

	/* QEMU clamps each qXfer reply to (4096 - 5) / 2 = 2045 bytes: 4 chunks, last 'l'. */
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "qxfer-i386-64bit-%d.rx", i);
		replay_reply(name, &p);
		assert_int_equal(p.data[0], i < 3 ? 'm' : 'l');
		if (i < 3)
			assert_int_equal(p.len - 1, 2045);
		assert_int_equal(ekp_buf_append(&xml, p.data + 1, p.len - 1), 0);
	}
	assert_int_equal(rsp_target_desc_parse(desc, xml.data, xml.len, &inc, &n), 0);
	assert_int_equal(n, 0);
	ekp_buf_free(&p);
	ekp_buf_free(&xml);
}

/*
 * QEMU 7.2 x86_64 (gdb-xml/i386-64bit.xml): 66 registers, numbered 0..65:
 *   0-15 rax rbx rcx rdx rsi rdi rbp rsp r8-r15 (64)   16 rip (64)   17 eflags (32)
 *   18-23 cs ss ds es fs gs (32)   24 fs_base 25 gs_base 26 k_gs_base (64)
 *   27 cr0 28 cr2 29 cr3 30 cr4 31 cr8 32 efer (64)   33-40 st0-st7 (80)
 *   41-48 fctrl fstat ftag fiseg fioff foseg fooff fop (32)   49-64 xmm0-15 (128)   65 mxcsr (32)
 * (ss_base/ds_base/es_base are commented out in the XML.) 'g' covers all of them:
 * x86_cpu gdb_num_core_regs = 66 = everything in i386-64bit.xml, target.xml adds no other
 * feature, so a 'g' reply is 16*8 + 8 + 4 + 6*4 + 9*8 + 8*10 + 8*4 + 16*16 + 4 = 608 bytes.
 */
static void test_replay_tdesc_and_g(void **state)
{
	struct rsp_target_desc desc;
	struct ekp_buf p = { 0 }, raw = { 0 };
	static const struct {
		const char *name;
		unsigned int regnum, bitsize;
	} want[] = {
		{ "rax", 0, 64 },    { "rsp", 7, 64 },     { "r15", 15, 64 },     { "rip", 16, 64 },
		{ "eflags", 17, 32 }, { "cs", 18, 32 },    { "gs", 23, 32 },      { "fs_base", 24, 64 },
		{ "gs_base", 25, 64 }, { "k_gs_base", 26, 64 }, { "cr0", 27, 64 }, { "cr3", 29, 64 },
		{ "efer", 32, 64 },  { "st0", 33, 80 },    { "fop", 48, 32 },     { "xmm0", 49, 128 },
		{ "xmm15", 64, 128 }, { "mxcsr", 65, 32 },
	};
	unsigned long total = 0;
	uint64_t rip, cs, eflags;
	unsigned int i;

	replay_tdesc(&desc);
	assert_int_equal(desc.nr_regs, 66);
	for (i = 0; i < desc.nr_regs; i++) {
		assert_int_equal(desc.regs[i].regnum, i);
		total += desc.regs[i].bitsize / 8;
	}
	for (i = 0; i < EKP_ARRAY_SIZE(want); i++) {
		const struct rsp_reg_desc *r = rsp_target_desc_find(&desc, want[i].name);

		if (!r)
			fail_msg("register %s missing", want[i].name);
		assert_int_equal(r->regnum, want[i].regnum);
		assert_int_equal(r->bitsize, want[i].bitsize);
	}
	assert_null(rsp_target_desc_find(&desc, "ss_base"));
	assert_int_equal(total, 608);
	assert_int_equal(rsp_target_desc_g_offset(&desc, 16), 128);
	assert_int_equal(rsp_target_desc_g_offset(&desc, 29), 128 + 8 + 4 + 24 + 5 * 8);

	/* 'g' at reset (-S): rip = 0xfff0, cs selector 0xf000, eflags 0x2. */
	replay_reply("g-reset.rx", &p);
	assert_int_equal(p.len, 2 * total);
	assert_int_equal(ekp_buf_reserve(&raw, p.len / 2), 0);
	assert_int_equal(ekp_hex_decode(p.data, p.len, (uint8_t *)raw.data, p.len / 2),
			 (int)total);
	memcpy(&rip, raw.data + rsp_target_desc_g_offset(&desc, 16), 8);
	eflags = 0;
	memcpy(&eflags, raw.data + rsp_target_desc_g_offset(&desc, 17), 4);
	cs = 0;
	memcpy(&cs, raw.data + rsp_target_desc_g_offset(&desc, 18), 4);
	assert_true(rip == 0xfff0);
	assert_true(cs == 0xf000);
	assert_true(eflags == 2);

	/* 'g' at the breakpoint on startup_64's physical address. */
	replay_reply("g-startup64.rx", &p);
	assert_int_equal(p.len, 2 * total);
	assert_int_equal(ekp_hex_decode(p.data, p.len, (uint8_t *)raw.data, p.len / 2),
			 (int)total);
	memcpy(&rip, raw.data + rsp_target_desc_g_offset(&desc, 16), 8);
	assert_true(rip == 0x1000000);
	ekp_buf_free(&p);
	ekp_buf_free(&raw);
	rsp_target_desc_free(&desc);
}

/* ---- client against a scripted fake gdbstub ---- */

enum peer_op {
	P_END,
	P_EXPECT_PKT,  /* next item must be a packet whose payload starts with s */
	P_EXPECT_ACK,  /* next item must be '+' */
	P_EXPECT_NACK, /* next item must be '-' */
	P_EXPECT_BYTE, /* next item must be the raw byte s[0] (0x03) */
	P_SEND_RAW,    /* write s as is */
	P_SEND_PKT,    /* write "$s#cs" */
	P_SEND_FILE,   /* write the contents of DATA_DIR s */
	P_SLEEP,       /* ms */
	P_CLOSE,       /* close the connection now */
	P_STREAM,      /* until the client hangs up, as fast as it takes them: s over and over */
	P_STREAM_CUT,  /* same with units of STREAM_CUT bytes: s[0], then s[1..] over and over */
	P_TRICKLE,     /* write the bytes of s one at a time, ms apart, until the client hangs up */
};

#define STREAM_CUT (512u << 10)

struct peer_step {
	enum peer_op op;
	const char *s;
	int ms;
};

struct peer {
	char dir[64], path[96];
	int lfd, fd;
	const struct peer_step *steps;
	int done;
	char failed[256];
	char buf[65536];
	size_t len;
	pthread_t th;
};

/* Next item from the client: '+', '-', 0x03 or a whole "$...#cs" packet. */
static int peer_item(struct peer *p, char *item, size_t size)
{
	for (;;) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		ssize_t n;

		if (p->len) {
			if (p->buf[0] != '$') {
				item[0] = p->buf[0];
				item[1] = '\0';
				memmove(p->buf, p->buf + 1, --p->len);
				return 1;
			}
			char *hash = memchr(p->buf, '#', p->len);

			if (hash && (size_t)(hash - p->buf) + 3 <= p->len) {
				size_t n2 = (size_t)(hash - p->buf) + 3;

				if (n2 >= size)
					return -1;
				memcpy(item, p->buf, n2);
				item[n2] = '\0';
				memmove(p->buf, p->buf + n2, p->len - n2);
				p->len -= n2;
				return 1;
			}
		}
		if (poll(&pfd, 1, 5000) != 1)
			return -1;
		n = read(p->fd, p->buf + p->len, sizeof(p->buf) - p->len);
		if (n <= 0)
			return 0;
		p->len += (size_t)n;
	}
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	struct pollfd pfd = { .fd = p->lfd, .events = POLLIN };
	char item[8192];
	int i;

	if (poll(&pfd, 1, 5000) != 1) {
		snprintf(p->failed, sizeof(p->failed), "no client connected");
		return NULL;
	}
	p->fd = accept(p->lfd, NULL, NULL);
	for (i = 0; p->steps[i].op != P_END; i++) {
		const struct peer_step *s = &p->steps[i];
		char b[8192];
		int r;

		switch (s->op) {
		case P_EXPECT_PKT:
		case P_EXPECT_ACK:
		case P_EXPECT_NACK:
		case P_EXPECT_BYTE:
			r = peer_item(p, item, sizeof(item));
			if (r <= 0) {
				snprintf(p->failed, sizeof(p->failed), "step %d: %s", i,
					 r ? "timeout" : "EOF");
				return NULL;
			}
			if ((s->op == P_EXPECT_ACK && strcmp(item, "+")) ||
			    (s->op == P_EXPECT_NACK && strcmp(item, "-")) ||
			    (s->op == P_EXPECT_BYTE && (item[0] != s->s[0] || item[1])) ||
			    (s->op == P_EXPECT_PKT &&
			     (item[0] != '$' || strncmp(item + 1, s->s, strlen(s->s))))) {
				snprintf(p->failed, sizeof(p->failed), "step %d: got '%.100s'", i, item);
				return NULL;
			}
			break;
		case P_SEND_RAW:
			if (write(p->fd, s->s, strlen(s->s)) < 0)
				snprintf(p->failed, sizeof(p->failed), "step %d: write", i);
			break;
		case P_SEND_PKT:
			frame(b, sizeof(b), s->s);
			if (write(p->fd, b, strlen(b)) < 0)
				snprintf(p->failed, sizeof(p->failed), "step %d: write", i);
			break;
		case P_SEND_FILE: {
			size_t len;
			char path[128];
			struct stat st;
			int fd;
			char *data;

			snprintf(path, sizeof(path), DATA_DIR "%s", s->s);
			fd = open(path, O_RDONLY);
			if (fd < 0 || fstat(fd, &st)) {
				snprintf(p->failed, sizeof(p->failed), "step %d: open %s", i, path);
				return NULL;
			}
			len = (size_t)st.st_size;
			data = malloc(len + 1);
			if (!data || read(fd, data, len) != (ssize_t)len ||
			    write(p->fd, data, len) != (ssize_t)len)
				snprintf(p->failed, sizeof(p->failed), "step %d: send %s", i, path);
			free(data);
			close(fd);
			break;
		}
		case P_SLEEP:
			usleep((useconds_t)s->ms * 1000);
			break;
		case P_CLOSE:
			close(p->fd);
			p->fd = -1;
			break;
		case P_STREAM:
		case P_STREAM_CUT: {
			size_t len = strlen(s->s), k;
			size_t n = s->op == P_STREAM_CUT ? STREAM_CUT : 65536 / len * len;
			char *unit = malloc(n);

			if (!unit) {
				snprintf(p->failed, sizeof(p->failed), "step %d: malloc", i);
				return NULL;
			}
			for (k = 0; k < n; k++) {
				if (s->op == P_STREAM)
					unit[k] = s->s[k % len];
				else
					unit[k] = k ? s->s[1 + (k - 1) % (len - 1)] : s->s[0];
			}
			/* Big writes (the stub is faster than the client); what the client sends
			 * (acks, nacks) is read and dropped so that it never blocks on them. Until
			 * the client closes: EOF or EPIPE. */
			for (;;) {
				struct pollfd io = { .fd = p->fd, .events = POLLIN | POLLOUT };

				if (poll(&io, 1, 5000) != 1)
					break;
				if (io.revents & POLLIN && read(p->fd, item, sizeof(item)) <= 0)
					break;
				if (io.revents & POLLOUT &&
				    send(p->fd, unit, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
				    errno != EAGAIN)
					break;
			}
			free(unit);
			close(p->fd);
			p->fd = -1;
			break;
		}
		case P_TRICKLE: {
			size_t len = strlen(s->s), off = 0;

			while (send(p->fd, s->s + off, 1, MSG_NOSIGNAL) >= 0) {
				off = (off + 1) % len;
				usleep((useconds_t)s->ms * 1000);
			}
			close(p->fd);
			p->fd = -1;
			break;
		}
		case P_END:
			break;
		}
		p->done = i + 1;
	}
	/* Nothing but acks may follow; wait for the client to hang up. */
	while (p->fd >= 0) {
		int r = peer_item(p, item, sizeof(item));

		if (r <= 0)
			break;
		if (strcmp(item, "+")) {
			snprintf(p->failed, sizeof(p->failed), "after script: got '%.100s'", item);
			break;
		}
	}
	if (p->fd >= 0)
		close(p->fd);
	return NULL;
}

static struct peer *peer_start(const struct peer_step *steps)
{
	struct peer *p = calloc(1, sizeof(*p));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	assert_non_null(p);
	strcpy(p->dir, "/tmp/ekp-rsp-test-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->path, sizeof(p->path), "%s/gdb.sock", p->dir);
	strcpy(sa.sun_path, p->path);
	p->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(p->lfd, 1), 0);
	p->fd = -1;
	p->steps = steps;
	assert_int_equal(pthread_create(&p->th, NULL, peer_main, p), 0);
	return p;
}

static void peer_finish(struct peer *p, struct rsp_client *c)
{
	int n = 0;

	rsp_close(c);
	pthread_join(p->th, NULL);
	close(p->lfd);
	unlink(p->path);
	rmdir(p->dir);
	if (p->failed[0])
		fail_msg("fake gdbstub: %s", p->failed);
	while (p->steps[n].op != P_END)
		n++;
	assert_int_equal(p->done, n);
	free(p);
}

static struct rsp_client *peer_connect(struct peer *p)
{
	struct rsp_client *c;

	assert_int_equal(rsp_connect_unix(p->path, 2000, &c), 0);
	return c;
}

#define QSUP "qSupported:multiprocess+;vContSupported+"

/* The whole conversation of the recorded QEMU session, replayed through the client API. */
static void test_client_replay(void **state)
{
	static const struct peer_step s[] = {
		{ P_EXPECT_PKT, QSUP, 0 },
		{ P_SEND_FILE, "qsupported.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:target.xml:0,", 0 },
		{ P_SEND_FILE, "qxfer-target.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:i386-64bit.xml:0,", 0 },
		{ P_SEND_FILE, "qxfer-i386-64bit-0.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:i386-64bit.xml:7fd,", 0 },
		{ P_SEND_FILE, "qxfer-i386-64bit-1.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:i386-64bit.xml:ffa,", 0 },
		{ P_SEND_FILE, "qxfer-i386-64bit-2.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:i386-64bit.xml:17f7,", 0 },
		{ P_SEND_FILE, "qxfer-i386-64bit-3.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "p10", 0 },
		{ P_SEND_FILE, "p10-reset.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qfThreadInfo", 0 },
		{ P_SEND_FILE, "qfthreadinfo.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qsThreadInfo", 0 },
		{ P_SEND_FILE, "qsthreadinfo.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qsThreadInfo", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "l", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "mffffffff81000000,10", 0 },
		{ P_SEND_FILE, "m-unmapped.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "Z0,1000000,1", 0 },
		{ P_SEND_FILE, "z0-insert.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "vCont;c", 0 },
		{ P_SEND_FILE, "vcont-c-stop.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "g", 0 },
		{ P_SEND_FILE, "g-startup64.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "m1000000,10", 0 },
		{ P_SEND_FILE, "m-startup64.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "z0,1000000,1", 0 },
		{ P_SEND_FILE, "z0-remove.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_END, NULL, 0 },
	};
	struct peer *p = peer_start(s);
	struct rsp_client *c = peer_connect(p);
	struct rsp_target_desc desc;
	struct rsp_thread *th;
	struct ekp_buf g = { 0 };
	struct rsp_stop st;
	unsigned int nth;
	uint8_t reg[16], mem[16];
	uint64_t rip;
	bool was_running = true;

	/* rsp_round_trips() after each call: one per request packet the stub answered. */
	assert_int_equal(rsp_round_trips(c), 0);
	assert_int_equal(rsp_handshake(c, 2000, &was_running), 0);
	assert_int_equal(rsp_round_trips(c), 1);
	assert_false(was_running);
	assert_int_equal(rsp_packet_size(c), 0x1000);
	assert_int_equal(rsp_read_target_desc(c, &desc, 2000), 0);
	assert_int_equal(rsp_round_trips(c), 6); /* target.xml, i386-64bit.xml in 4 pieces */
	assert_int_equal(desc.nr_regs, 66);
	assert_string_equal(desc.arch, "i386:x86-64");
	memset(reg, 0xee, sizeof(reg));
	assert_int_equal(rsp_read_reg(c, 16, reg, sizeof(reg), 2000), 0);
	assert_int_equal(rsp_round_trips(c), 7);
	memcpy(&rip, reg, 8);
	assert_true(rip == 0xfff0);
	assert_memory_equal(reg + 8, "\0\0\0\0\0\0\0\0", 8); /* rest of buf zeroed */
	assert_int_equal(rsp_list_threads(c, &th, &nth, 2000), 0);
	assert_int_equal(rsp_round_trips(c), 10); /* qfThreadInfo, qsThreadInfo twice */
	assert_int_equal(nth, 2);
	assert_int_equal(th[0].pid, 1);
	assert_int_equal(th[0].tid, 1);
	assert_int_equal(th[1].tid, 2);
	free(th);
	assert_int_equal(rsp_read_mem(c, 0xffffffff81000000ull, mem, 16, 2000), -EFAULT);
	assert_int_equal(rsp_round_trips(c), 11); /* an error reply is still a reply */
	assert_int_equal(rsp_insert_break(c, 0, 0x1000000, 1, 2000), 0);
	assert_int_equal(rsp_round_trips(c), 12);
	assert_int_equal(rsp_resume(c, "c", 2000), 0);
	assert_int_equal(rsp_wait_stop(c, &st, 2000), 0);
	assert_int_equal(rsp_round_trips(c), 12); /* a resume has no reply */
	assert_int_equal(st.kind, 'T');
	assert_int_equal(st.signal, 5);
	assert_int_equal(st.thread.tid, 1);
	assert_int_equal(rsp_read_all_regs(c, &g, 2000), 0);
	assert_int_equal(rsp_round_trips(c), 13);
	assert_int_equal(g.len, 608);
	memcpy(&rip, g.data + rsp_target_desc_g_offset(&desc, 16), 8);
	assert_true(rip == 0x1000000);
	assert_int_equal(rsp_read_mem(c, 0x1000000, mem, 16, 2000), 0);
	assert_memory_equal(mem, "\x48\x8d\x25", 3);
	assert_int_equal(rsp_remove_break(c, 0, 0x1000000, 1, 2000), 0);
	assert_int_equal(rsp_round_trips(c), 15);
	ekp_buf_free(&g);
	rsp_target_desc_free(&desc);
	peer_finish(p, c);
}

/* QEMU's stop on connect, already there when we connect. */
static void test_client_was_running(void **state)
{
	static const struct peer_step s[] = {
		{ P_SEND_FILE, "connect-running.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, QSUP, 0 },
		{ P_SEND_FILE, "qsupported.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_END, NULL, 0 },
	};
	struct peer *p = peer_start(s);
	struct rsp_client *c = peer_connect(p);
	struct pollfd pfd = { rsp_fd(c), POLLIN, 0 };
	bool was_running = false;

	/* The stop is already waiting when the handshake starts: it is taken and acked first. */
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(rsp_handshake(c, 2000, &was_running), 0);
	assert_true(was_running);
	peer_finish(p, c);
}

/* QEMU accepted late: its stop comes after our qSupported, before the '+' (QEMU's order). */
static void test_client_was_running_late(void **state)
{
	static const struct peer_step s[] = {
		{ P_SLEEP, NULL, 200 },
		{ P_SEND_FILE, "connect-running.rx", 0 },
		{ P_EXPECT_PKT, QSUP, 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_SEND_FILE, "qsupported.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_END, NULL, 0 },
	};
	struct peer *p = peer_start(s);
	struct rsp_client *c = peer_connect(p);
	bool was_running = false;

	assert_int_equal(rsp_handshake(c, 2000, &was_running), 0);
	assert_true(was_running);
	peer_finish(p, c);
}

static void test_client_retransmit(void **state)
{
	static const struct peer_step s[] = {
		{ P_EXPECT_PKT, QSUP, 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "PacketSize=100;multiprocess+", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		/* Our packet garbled twice: we send it again. */
		{ P_EXPECT_PKT, "Hgp1.2", 0 },
		{ P_SEND_RAW, "-", 0 },
		{ P_EXPECT_PKT, "Hgp1.2", 0 },
		{ P_SEND_RAW, "-", 0 },
		{ P_EXPECT_PKT, "Hgp1.2", 0 },
		{ P_SEND_RAW, "+", 0 },
		/* Their reply garbled: we ask again with '-'. */
		{ P_SEND_RAW, "$OK#00", 0 },
		{ P_EXPECT_NACK, NULL, 0 },
		{ P_SEND_RAW, "garbage$OK#9a", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		/* Four '-' in a row: give up. */
		{ P_EXPECT_PKT, "qfoo", 0 },
		{ P_SEND_RAW, "-", 0 },
		{ P_EXPECT_PKT, "qfoo", 0 },
		{ P_SEND_RAW, "-", 0 },
		{ P_EXPECT_PKT, "qfoo", 0 },
		{ P_SEND_RAW, "-", 0 },
		{ P_EXPECT_PKT, "qfoo", 0 },
		{ P_SEND_RAW, "-", 0 },
		/* Error and unsupported replies. */
		{ P_EXPECT_PKT, "qbar", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "E22", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qbaz", 0 },
		{ P_SEND_RAW, "+$#00", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qqux", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "what", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_END, NULL, 0 },
	};
	struct peer *p = peer_start(s);
	struct rsp_client *c = peer_connect(p);
	struct rsp_thread t = { 1, 2 };

	assert_int_equal(rsp_handshake(c, 2000, NULL), 0);
	assert_int_equal(rsp_packet_size(c), 256);
	assert_int_equal(rsp_select_thread(c, &t, 2000), 0);
	/* Sent three times, answered once: one round trip. */
	assert_int_equal(rsp_round_trips(c), 2);
	assert_int_equal(rsp_command_ok(c, "qfoo", 2000), -EPROTO);
	assert_true(strstr(ekp_errmsg(), "rejected") != NULL);
	/* Never taken by the stub, so never answered: none. */
	assert_int_equal(rsp_round_trips(c), 2);
	assert_int_equal(rsp_command_ok(c, "qbar", 2000), -EIO);
	assert_true(strstr(ekp_errmsg(), "E22") != NULL);
	assert_int_equal(rsp_command_ok(c, "qbaz", 2000), -EOPNOTSUPP);
	assert_int_equal(rsp_command_ok(c, "qqux", 2000), -EPROTO);
	assert_int_equal(rsp_round_trips(c), 5);
	peer_finish(p, c);
}

static void test_client_memory_chunks(void **state)
{
	/* PacketSize=100 (256): m chunks of (256 - 16) / 2 = 120, M chunks of (256 - 64) / 2 = 96. */
	static char r120[241], r60[121], r20[41], w96[256], w54[256];
	static const struct peer_step s[] = {
		{ P_EXPECT_PKT, QSUP, 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "PacketSize=100;multiprocess+", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "m1000,78", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, r120, 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		/* The stub may answer short: the rest is asked again. */
		{ P_EXPECT_PKT, "m1078,78", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, r60, 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "m10b4,78", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, r120, 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "m112c,14", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, r20, 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, w96, 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "OK", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, w54, 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "E14", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		/* A reply longer than asked is refused. */
		{ P_EXPECT_PKT, "m0,1", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "aabb", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_END, NULL, 0 },
	};
	struct peer *p;
	struct rsp_client *c;
	uint8_t buf[320], wb[150];
	size_t i;

	memset(r120, 'a', 240);
	memset(r60, 'b', 120);
	memset(r20, 'c', 40);
	snprintf(w96, sizeof(w96), "M2000,60:");
	for (i = 0; i < 96; i++)
		strcat(w96, "5a");
	snprintf(w54, sizeof(w54), "M2060,36:");
	for (i = 0; i < 54; i++)
		strcat(w54, "5a");
	p = peer_start(s);
	c = peer_connect(p);
	assert_int_equal(rsp_handshake(c, 2000, NULL), 0);
	assert_int_equal(rsp_read_mem(c, 0x1000, buf, sizeof(buf), 2000), 0);
	assert_int_equal(rsp_round_trips(c), 1 + 4); /* one per m packet */
	for (i = 0; i < 120; i++)
		assert_int_equal(buf[i], 0xaa);
	for (; i < 180; i++)
		assert_int_equal(buf[i], 0xbb);
	for (; i < 300; i++)
		assert_int_equal(buf[i], 0xaa);
	for (; i < 320; i++)
		assert_int_equal(buf[i], 0xcc);
	memset(wb, 0x5a, sizeof(wb));
	assert_int_equal(rsp_write_mem(c, 0x2000, wb, sizeof(wb), 2000), -EFAULT);
	assert_true(strstr(ekp_errmsg(), "0x2060") != NULL);
	assert_int_equal(rsp_round_trips(c), 5 + 2); /* one per M packet */
	assert_int_equal(rsp_read_mem(c, 0, buf, 1, 2000), -EPROTO);
	/* Wrapping ranges never reach the wire. */
	assert_int_equal(rsp_read_mem(c, UINT64_MAX, buf, 2, 2000), -EINVAL);
	assert_int_equal(rsp_round_trips(c), 7 + 1);
	peer_finish(p, c);
}

static void test_client_run_states(void **state)
{
	static const struct peer_step s[] = {
		{ P_EXPECT_PKT, QSUP, 0 },
		{ P_SEND_FILE, "qsupported.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		/* Console output, then the stop. */
		{ P_EXPECT_PKT, "vCont;c", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "O48690a", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_SEND_PKT, "T05thread:p01.02;", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		/* Step one thread. */
		{ P_EXPECT_PKT, "vCont;s:p1.2", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "T05thread:p01.02;", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		/* Interrupt while running. */
		{ P_EXPECT_PKT, "vCont;c", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_EXPECT_BYTE, "\x03", 0 },
		{ P_SEND_PKT, "T02thread:p01.01;", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "D;1", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "OK", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_END, NULL, 0 },
	};
	struct peer *p = peer_start(s);
	struct rsp_client *c = peer_connect(p);
	struct ekp_buf r = { 0 };
	struct rsp_stop st;

	assert_int_equal(rsp_handshake(c, 2000, NULL), 0);
	assert_int_equal(rsp_resume(c, "c", 2000), 0);
	/* While running, nothing else may be sent (it would stop the VM). */
	assert_int_equal(rsp_command(c, "g", &r, 100), -EBUSY);
	assert_int_equal(rsp_resume(c, "c", 2000), -EBUSY);
	assert_int_equal(rsp_wait_stop(c, &st, 2000), 0);
	assert_int_equal(st.kind, 'T');
	assert_int_equal(st.thread.tid, 2);
	/* The handshake only: resumes, refused commands and console output are no exchange. */
	assert_int_equal(rsp_round_trips(c), 1);
	/* NULL: the thread of the last stop (p1.2). */
	assert_int_equal(rsp_step(c, NULL, &st, 2000), 0);
	assert_int_equal(st.signal, 5);
	assert_int_equal(rsp_round_trips(c), 2); /* a step is one */
	assert_int_equal(rsp_resume(c, "c", 2000), 0);
	assert_int_equal(rsp_wait_stop(c, &st, 50), -ETIMEDOUT);
	assert_int_equal(rsp_interrupt(c, 2000), 0);
	assert_int_equal(rsp_wait_stop(c, &st, 2000), 0);
	assert_int_equal(st.signal, 2);
	assert_int_equal(rsp_round_trips(c), 2); /* an interrupt is none */
	assert_int_equal(rsp_resume(c, "", 2000), -EINVAL);
	assert_int_equal(rsp_resume(c, "c#00", 2000), -EINVAL);
	assert_int_equal(rsp_detach(c, 2000), 0);
	assert_int_equal(rsp_round_trips(c), 3);
	ekp_buf_free(&r);
	peer_finish(p, c);
}

/* Qqemu.PhyMemMode: exactly these packets; OK, or what a stub that is not QEMU says. */
static void test_client_phys_mem_mode(void **state)
{
	static const struct peer_step s[] = {
		{ P_EXPECT_PKT, "Qqemu.PhyMemMode:1#", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "OK", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "Qqemu.PhyMemMode:0#", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "OK", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "Qqemu.PhyMemMode:1#", 0 },
		{ P_SEND_RAW, "+$#00", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "Qqemu.PhyMemMode:1#", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, "E01", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_END, NULL, 0 },
	};
	struct peer *p = peer_start(s);
	struct rsp_client *c = peer_connect(p);

	assert_int_equal(rsp_set_phys_mem_mode(c, true, 2000), 0);
	assert_int_equal(rsp_set_phys_mem_mode(c, false, 2000), 0);
	assert_int_equal(rsp_set_phys_mem_mode(c, true, 2000), -EOPNOTSUPP);
	assert_int_equal(rsp_set_phys_mem_mode(c, true, 2000), -EIO);
	assert_true(strstr(ekp_errmsg(), "E01") != NULL);
	assert_int_equal(rsp_round_trips(c), 4);
	peer_finish(p, c);
}

/* ekp_target_round_trips(): the exchanges on the wire, not the calls made. */
static void test_target_round_trips(void **state)
{
	static char m80[257];
	static const struct peer_step s[] = {
		{ P_EXPECT_PKT, QSUP, 0 },
		{ P_SEND_FILE, "qsupported.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:target.xml:0,", 0 },
		{ P_SEND_FILE, "qxfer-target.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:i386-64bit.xml:0,", 0 },
		{ P_SEND_FILE, "qxfer-i386-64bit-0.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:i386-64bit.xml:7fd,", 0 },
		{ P_SEND_FILE, "qxfer-i386-64bit-1.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:i386-64bit.xml:ffa,", 0 },
		{ P_SEND_FILE, "qxfer-i386-64bit-2.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "qXfer:features:read:i386-64bit.xml:17f7,", 0 },
		{ P_SEND_FILE, "qxfer-i386-64bit-3.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "g#", 0 },
		{ P_SEND_FILE, "g-startup64.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "p10#", 0 },
		{ P_SEND_FILE, "p10-reset.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		/* The target reads memory a cache line (128 bytes) at a time. */
		{ P_EXPECT_PKT, "m1000000,80#", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_SEND_PKT, m80, 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_END, NULL, 0 },
	};
	struct ekp_target t;
	struct ekp_regs regs;
	struct peer *p;
	struct rsp_client *c;
	uint64_t pc;
	uint8_t b[4];

	memset(m80, 0, sizeof(m80));
	memcpy(m80, "488d25", 6);
	memset(m80 + 6, '0', 250);
	p = peer_start(s);
	c = peer_connect(p);
	assert_int_equal(rsp_handshake(c, 2000, NULL), 0);
	assert_int_equal(ekp_target_init(&t, c, &ekp_arch_x86_64, 2000), 0);
	assert_int_equal(ekp_target_round_trips(&t), 1 + 5);
	assert_int_equal(ekp_target_read_regs(&t, &regs), 0);
	assert_true(regs.val[ekp_arch_x86_64.pc_reg] == 0x1000000);
	assert_int_equal(ekp_target_round_trips(&t), 7);
	assert_int_equal(ekp_target_read_pc(&t, &pc), 0);
	assert_int_equal(ekp_target_round_trips(&t), 8);
	/* Two reads in one line: one exchange. */
	assert_int_equal(ekp_target_read_mem(&t, 0x1000000, b, 3), 0);
	assert_memory_equal(b, "\x48\x8d\x25", 3);
	assert_int_equal(ekp_target_read_mem(&t, 0x1000001, b, 2), 0);
	assert_int_equal(ekp_target_round_trips(&t), 9);
	assert_int_equal(ekp_target_round_trips(&t), rsp_round_trips(c));
	ekp_target_fini(&t);
	peer_finish(p, c);
}

static void test_client_eof(void **state)
{
	static const struct peer_step s[] = {
		{ P_EXPECT_PKT, QSUP, 0 },
		{ P_SEND_FILE, "qsupported.rx", 0 },
		{ P_EXPECT_ACK, NULL, 0 },
		{ P_EXPECT_PKT, "vCont;c", 0 },
		{ P_SEND_RAW, "+", 0 },
		{ P_CLOSE, NULL, 0 },
		{ P_END, NULL, 0 },
	};
	struct peer *p = peer_start(s);
	struct rsp_client *c = peer_connect(p);
	struct rsp_stop st;

	assert_int_equal(rsp_handshake(c, 2000, NULL), 0);
	assert_int_equal(rsp_resume(c, "c", 2000), 0);
	assert_int_equal(rsp_wait_stop(c, &st, 2000), -EPIPE);
	peer_finish(p, c);
}

static const char *volatile watchdog_what;

static void watchdog_fired(int sig)
{
	static const char msg[] = "test_rsp: watchdog: a client call ignored its deadline: ";
	const char *what = watchdog_what;

	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, what, strlen(what)) < 0 ||
	    write(2, "\n", 1) < 0)
		_exit(2);
	_exit(1);
}

/* A call that never returns fails the program instead of hanging it. */
static void watchdog(unsigned int seconds, const char *what)
{
	watchdog_what = what;
	signal(SIGALRM, watchdog_fired);
	alarm(seconds);
}

enum stream_call { SC_HANDSHAKE, SC_COMMAND, SC_RESUME, SC_WAIT_STOP, SC_STEP };

static int stream_call(struct rsp_client *c, enum stream_call call, int timeout_ms)
{
	struct ekp_buf r = { 0 };
	struct rsp_stop st;
	int err = -EINVAL;

	switch (call) {
	case SC_HANDSHAKE:
		err = rsp_handshake(c, timeout_ms, NULL);
		break;
	case SC_COMMAND:
		err = rsp_command(c, "qfoo", &r, timeout_ms);
		break;
	case SC_RESUME:
		err = rsp_resume(c, "c", timeout_ms);
		break;
	case SC_WAIT_STOP:
		assert_int_equal(rsp_resume(c, "c", 2000), 0);
		err = rsp_wait_stop(c, &st, timeout_ms);
		break;
	case SC_STEP:
		err = rsp_step(c, NULL, &st, timeout_ms);
		break;
	}
	ekp_buf_free(&r);
	return err;
}

/* With P_STREAM_CUT: frames of 512 KiB cut by the next '$' before their '#'. */
#define JUNK "$T05thread:p01.01;xyz\r\n"

/*
 * A stub that keeps sending, without ever completing what the call waits for, cannot hold
 * the call past its deadline: every blocking call gives -ETIMEDOUT. (The client used to check
 * the deadline only when the socket had nothing to read.) The watchdog turns a hang into a
 * failure.
 */
static void test_client_deadline_stream(void **state)
{
	static const struct peer_step handshake[] = {
		{ P_STREAM_CUT, JUNK, 0 }, { P_END, NULL, 0 },
	};
	/* Acks, over and over: each is a whole frame, none is the reply. */
	static const struct peer_step handshake_acks[] = {
		{ P_STREAM, "+", 0 }, { P_END, NULL, 0 },
	};
	static const struct peer_step cmd_ack[] = {
		{ P_EXPECT_PKT, "qfoo#", 0 }, { P_STREAM_CUT, JUNK, 0 }, { P_END, NULL, 0 },
	};
	static const struct peer_step cmd_reply[] = {
		{ P_EXPECT_PKT, "qfoo#", 0 }, { P_SEND_RAW, "+", 0 }, { P_STREAM_CUT, JUNK, 0 },
		{ P_END, NULL, 0 },
	};
	/* Replies with a bad checksum, each answered with '-', forever. */
	static const struct peer_step cmd_badsum[] = {
		{ P_EXPECT_PKT, "qfoo#", 0 }, { P_SEND_RAW, "+", 0 }, { P_STREAM, "$OK#00", 0 },
		{ P_END, NULL, 0 },
	};
	/* One byte every 2 ms. */
	static const struct peer_step cmd_trickle[] = {
		{ P_EXPECT_PKT, "qfoo#", 0 }, { P_SEND_RAW, "+", 0 }, { P_TRICKLE, JUNK, 2 },
		{ P_END, NULL, 0 },
	};
	static const struct peer_step resume_ack[] = {
		{ P_EXPECT_PKT, "vCont;c#", 0 }, { P_STREAM_CUT, JUNK, 0 }, { P_END, NULL, 0 },
	};
	static const struct peer_step stop[] = {
		{ P_EXPECT_PKT, "vCont;c#", 0 }, { P_SEND_RAW, "+", 0 }, { P_STREAM_CUT, JUNK, 0 },
		{ P_END, NULL, 0 },
	};
	/* Console output packets ('O'), forever: each is skipped, no stop comes. */
	static const struct peer_step stop_console[] = {
		{ P_EXPECT_PKT, "vCont;c#", 0 }, { P_SEND_RAW, "+", 0 }, { P_STREAM, "$O41#b4", 0 },
		{ P_END, NULL, 0 },
	};
	static const struct peer_step step[] = {
		{ P_EXPECT_PKT, "vCont;s#", 0 }, { P_SEND_RAW, "+", 0 }, { P_STREAM_CUT, JUNK, 0 },
		{ P_END, NULL, 0 },
	};
	static const struct {
		const char *what;
		const struct peer_step *steps;
		enum stream_call call;
	} cases[] = {
		{ "handshake, junk", handshake, SC_HANDSHAKE },
		{ "handshake, acks", handshake_acks, SC_HANDSHAKE },
		{ "command, waiting for the ack", cmd_ack, SC_COMMAND },
		{ "command, waiting for the reply", cmd_reply, SC_COMMAND },
		{ "command, bad checksums", cmd_badsum, SC_COMMAND },
		{ "command, a byte every 2 ms", cmd_trickle, SC_COMMAND },
		{ "resume, waiting for the ack", resume_ack, SC_RESUME },
		{ "wait_stop, junk", stop, SC_WAIT_STOP },
		{ "wait_stop, console output", stop_console, SC_WAIT_STOP },
		{ "step", step, SC_STEP },
	};
	unsigned int i;

	for (i = 0; i < EKP_ARRAY_SIZE(cases); i++) {
		struct peer *p = peer_start(cases[i].steps);
		struct rsp_client *c = peer_connect(p);
		int err;

		watchdog(20, cases[i].what);
		err = stream_call(c, cases[i].call, 300);
		if (err != -ETIMEDOUT)
			fail_msg("%s: %d (%s), not -ETIMEDOUT", cases[i].what, err, ekp_errstr(err));
		peer_finish(p, c);
	}
	alarm(0);
}

static void test_client_connect_errors(void **state)
{
	struct rsp_client *c;
	char longp[200];
	int64_t t0;
	struct timespec ts;

	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(rsp_connect_unix(longp, 10, &c), -ENAMETOOLONG);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	/* Nobody listening: retried until the timeout. */
	assert_int_equal(rsp_connect_unix("/tmp/ekp-rsp-test-does-not-exist.sock", 100, &c),
			 -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	assert_true(ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0 >= 90);
	assert_null(c);
	assert_int_equal(rsp_connect_tcp("127.0.0.1", "1", 100, &c), -ETIMEDOUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_basic),
		cmocka_unit_test(test_frame_escape_roundtrip),
		cmocka_unit_test(test_frame_rle),
		cmocka_unit_test(test_frame_rle_bomb),
		cmocka_unit_test(test_frame_bad_checksum),
		cmocka_unit_test(test_frame_split),
		cmocka_unit_test(test_frame_garbage),
		cmocka_unit_test(test_frame_overlong),
		cmocka_unit_test(test_frame_linear),
		cmocka_unit_test(test_thread_ids),
		cmocka_unit_test(test_stop_replies),
		cmocka_unit_test(test_tdesc_parse),
		cmocka_unit_test(test_tdesc_bad),
		cmocka_unit_test(test_replay_simple),
		cmocka_unit_test(test_replay_tdesc_and_g),
		cmocka_unit_test(test_client_replay),
		cmocka_unit_test(test_client_was_running),
		cmocka_unit_test(test_client_was_running_late),
		cmocka_unit_test(test_client_retransmit),
		cmocka_unit_test(test_client_memory_chunks),
		cmocka_unit_test(test_client_run_states),
		cmocka_unit_test(test_client_phys_mem_mode),
		cmocka_unit_test(test_target_round_trips),
		cmocka_unit_test(test_client_eof),
		cmocka_unit_test(test_client_deadline_stream),
		cmocka_unit_test(test_client_connect_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
