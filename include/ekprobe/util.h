/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by every part of the tree. */
#ifndef EKPROBE_UTIL_H
#define EKPROBE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define EKP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Growable byte buffer; data is always NUL-terminated for convenience. */
struct ekp_buf {
	char *data;
	size_t len;
	size_t cap;
};

int ekp_buf_reserve(struct ekp_buf *b, size_t extra);
int ekp_buf_append(struct ekp_buf *b, const void *p, size_t n);
int ekp_buf_printf(struct ekp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ekp_buf_consume(struct ekp_buf *b, size_t n); /* drop n bytes from the front */
void ekp_buf_reset(struct ekp_buf *b);
void ekp_buf_free(struct ekp_buf *b);

/* Hex helpers for wire formats. */
int ekp_hexval(int c);                                    /* -1 if not a hex digit */
int ekp_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen); /* bytes or -EINVAL */
void ekp_hex_encode(const uint8_t *in, size_t len, char *out); /* writes 2*len chars + NUL */

/* Strict number parsing: whole string must be consumed. 0 or -EINVAL/-ERANGE. */
int ekp_parse_u64(const char *s, int base, uint64_t *out);
int ekp_parse_s64(const char *s, int base, int64_t *out);

#endif
