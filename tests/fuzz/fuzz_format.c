// SPDX-License-Identifier: GPL-2.0
/*
 * The text and JSON formats on hostile guest strings and numbers.
 *
 * Input: byte 0: comm length (mod 17); bytes 1-4: cpu; bytes 5-12: ts_ns (little-endian);
 *        then the comm bytes, then the string value (at most 255 bytes). Missing bytes are 0.
 * Checks besides memory safety: the text record is one line with no control characters; the
 * JSON record is one line jansson parses (integers as reals: ts_ns may pass 2^63) with every
 * key; the escaped comm and string undo to the raw bytes (up to the first NUL).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/probe.h"
#include "host/sinks/sink.h"

static struct ekp_probe *probe;

static void check(int ok)
{
	if (!ok)
		abort();
}

/* Undo the escapes of ekp_format_escaped(). */
static void unescape(const char *s, char *out)
{
	static const char hex[] = "0123456789abcdef";

	while (*s) {
		if (*s != '\\') {
			*out++ = *s++;
			continue;
		}
		switch (s[1]) {
		case 'n': *out++ = '\n'; s += 2; break;
		case 'r': *out++ = '\r'; s += 2; break;
		case 't': *out++ = '\t'; s += 2; break;
		case '\\': case '"': *out++ = s[1]; s += 2; break;
		case 'x':
			check(s[2] && s[3] && strchr(hex, s[2]) && strchr(hex, s[3]));
			*out++ = (char)((strchr(hex, s[2]) - hex) << 4 | (strchr(hex, s[3]) - hex));
			s += 4;
			break;
		default:
			check(0);
		}
	}
	*out = '\0';
}

static void check_one_line(const struct ekp_buf *b)
{
	check(b->len > 0 && b->data[b->len - 1] == '\n');
	for (size_t i = 0; i + 1 < b->len; i++)
		check((unsigned char)b->data[i] >= 0x20 && b->data[i] != 0x7f);
}

static void check_same(const char *escaped, const char *raw)
{
	char back[1024];

	check(escaped && strlen(escaped) < sizeof(back));
	unescape(escaped, back);
	check(!strcmp(back, raw));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "probe", "kind", "addr", "sym", "cpu", "ts_ns",
					    "engine", "comm", "pid", "args" };
	uint8_t head[13] = { 0 };
	struct ekp_value v[2];
	struct ekp_buf b = { 0 };
	size_t clen, slen;
	json_t *j, *args;

	if (!probe) {
		check(!ekp_probe_parse("p:g/e start_kernel c=$comm s=+0(%di):string",
				       &ekp_arch_x86_64, &probe, NULL));
		probe->addr = 0xffffffff81000000ull;
	}
	memcpy(head, data, size < sizeof(head) ? size : sizeof(head));
	data += size < sizeof(head) ? size : sizeof(head);
	size -= size < sizeof(head) ? size : sizeof(head);
	struct ekp_event ev = {
		.probe = probe, .kind = EKP_PROBE_ENTRY, .addr = probe->addr, .hit_pc = probe->addr,
		.engine = "trap", .task = { .known = true, .pid = 1 }, .nr_values = 2, .values = v,
	};
	memcpy(&ev.cpu, head + 1, 4);
	memcpy(&ev.ts_ns, head + 5, 8);
	clen = head[0] % 17 < size ? head[0] % 17 : size;
	memcpy(ev.task.comm, data, clen);
	slen = size - clen < 255 ? size - clen : 255;
	memset(v, 0, sizeof(v));
	memcpy(v[1].str, data + clen, slen);
	strcpy(v[0].str, ev.task.comm);

	check(!ekp_format_text(&b, &ev, NULL));
	check_one_line(&b);
	ekp_buf_reset(&b);
	check(!ekp_format_json(&b, &ev, NULL));
	check_one_line(&b);
	j = json_loads(b.data, JSON_DECODE_INT_AS_REAL, NULL);
	check(j != NULL);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		check(json_object_get(j, keys[i]) != NULL);
	args = json_object_get(j, "args");
	check_same(json_string_value(json_object_get(j, "comm")), ev.task.comm);
	check_same(json_string_value(json_object_get(args, "c")), v[0].str);
	check_same(json_string_value(json_object_get(args, "s")), v[1].str);
	json_decref(j);
	ekp_buf_free(&b);
	return 0;
}
