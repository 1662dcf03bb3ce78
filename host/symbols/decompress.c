// SPDX-License-Identifier: GPL-2.0
/*
 * The compressed payload of a kernel boot image, decompressed with the real libraries: every
 * compression a Linux 6.1 x86_64 kernel can be built with (CONFIG_KERNEL_GZIP ... _ZSTD, as
 * scripts/Makefile.lib writes them): gzip (zlib), bzip2 (libbz2), lzma and xz (liblzma), lzo
 * (the lzop container; liblzo2), lz4 (the legacy frame, `lz4 -l`; liblz4) and zstd (libzstd).
 *
 * The input is untrusted: the output never grows past the size the image declares (the 4-byte
 * little-endian size after the stream, gzip's own ISIZE) nor past the caller's limit, the
 * decoders' memory is bounded, and the output must come out at exactly the declared size.
 * A build may leave libraries out (EKPROBE_WITHOUT in the Makefile): such a payload is refused
 * naming the library that is missing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/symbols/internal.h"

#ifdef EKP_HAVE_GZIP
#include <zlib.h>
#endif
#ifdef EKP_HAVE_BZIP2
#include <bzlib.h>
#endif
#if defined(EKP_HAVE_LZMA) || defined(EKP_HAVE_XZ)
#include <lzma.h>
#endif
#ifdef EKP_HAVE_LZO
#include <lzo/lzo1x.h>
#endif
#ifdef EKP_HAVE_LZ4
#include <lz4.h>
#endif
#ifdef EKP_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

static const struct comp_info {
	const char *name;
	const char *library;   /* the Debian package that brings it */
	const uint8_t magic[6];
	unsigned int magic_len;
	bool available;
} comps[] = {
	[EKP_COMP_GZIP] = { "gzip", "zlib (zlib1g-dev)", { 0x1f, 0x8b }, 2,
#ifdef EKP_HAVE_GZIP
			    true
#endif
	},
	[EKP_COMP_BZIP2] = { "bzip2", "libbz2 (libbz2-dev)", { 'B', 'Z', 'h' }, 3,
#ifdef EKP_HAVE_BZIP2
			     true
#endif
	},
	[EKP_COMP_LZMA] = { "lzma", "liblzma (liblzma-dev)", { 0x5d, 0x00, 0x00 }, 3,
#ifdef EKP_HAVE_LZMA
			    true
#endif
	},
	[EKP_COMP_XZ] = { "xz", "liblzma (liblzma-dev)", { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6,
#ifdef EKP_HAVE_XZ
			  true
#endif
	},
	[EKP_COMP_LZO] = { "lzo", "liblzo2 (liblzo2-dev)", { 0x89, 'L', 'Z', 'O', 0x00, 0x0d }, 6,
#ifdef EKP_HAVE_LZO
			   true
#endif
	},
	[EKP_COMP_LZ4] = { "lz4", "liblz4 (liblz4-dev)", { 0x02, 0x21, 0x4c, 0x18 }, 4,
#ifdef EKP_HAVE_LZ4
			   true
#endif
	},
	[EKP_COMP_ZSTD] = { "zstd", "libzstd (libzstd-dev)", { 0x28, 0xb5, 0x2f, 0xfd }, 4,
#ifdef EKP_HAVE_ZSTD
			    true
#endif
	},
};

const char *ekp_compression_name(enum ekp_compression c)
{
	return c > EKP_COMP_UNKNOWN && c < EKP_COMP_NR ? comps[c].name : "unknown";
}

bool ekp_compression_available(enum ekp_compression c)
{
	return c > EKP_COMP_UNKNOWN && c < EKP_COMP_NR && comps[c].available;
}

enum ekp_compression ekp_compression_detect(const uint8_t *p, size_t len)
{
	for (int c = EKP_COMP_UNKNOWN + 1; c < EKP_COMP_NR; c++)
		if (len >= comps[c].magic_len && !memcmp(p, comps[c].magic, comps[c].magic_len))
			return (enum ekp_compression)c;
	return EKP_COMP_UNKNOWN;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The output: exactly cap bytes expected; *len grows as the decoder writes. */
struct out {
	uint8_t *buf;
	size_t len, cap;
};

static int corrupt(enum ekp_compression c, const char *why)
{
	return ekp_err(EILSEQ, "the %s-compressed payload is corrupt (%s)", comps[c].name, why);
}

static int too_long(enum ekp_compression c, size_t cap)
{
	return ekp_err(EILSEQ, "the %s-compressed payload decompresses to more than the %zu bytes "
		       "the image declares", comps[c].name, cap);
}

#ifdef EKP_HAVE_GZIP
static int un_gzip(const uint8_t *in, size_t len, struct out *o, const struct ekp_decompress_limits *lim)
{
	z_stream z;
	int ret;

	(void)lim;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return ekp_err(ENOMEM, "zlib: cannot start inflating");
	z.next_in = (Bytef *)in;
	z.next_out = o->buf;
	/* zlib counts in uInt: feed and drain in pieces that fit. */
	for (;;) {
		size_t in_left = len - (size_t)(z.next_in - in);
		size_t out_left = o->cap - (size_t)(z.next_out - o->buf);
		uint8_t probe;

		z.avail_in = in_left > 0x40000000 ? 0x40000000 : (uInt)in_left;
		z.avail_out = out_left > 0x40000000 ? 0x40000000 : (uInt)out_left;
		if (!out_left) { /* full: one more byte tells whether the stream goes on */
			z.next_out = &probe;
			z.avail_out = 1;
		}
		ret = inflate(&z, Z_NO_FLUSH);
		if (!out_left) {
			bool more = z.avail_out == 0;

			z.next_out = o->buf + o->cap;
			if (more) {
				inflateEnd(&z);
				return too_long(EKP_COMP_GZIP, o->cap);
			}
		}
		if (ret != Z_OK || (!in_left && z.avail_out))
			break;
	}
	o->len = (size_t)(z.next_out - o->buf);
	inflateEnd(&z);
	if (ret == Z_STREAM_END)
		return 0;
	if (ret == Z_OK || ret == Z_BUF_ERROR)
		return corrupt(EKP_COMP_GZIP, "truncated");
	return corrupt(EKP_COMP_GZIP, ret == Z_MEM_ERROR ? "out of memory" : "bad data");
}
#endif

#ifdef EKP_HAVE_BZIP2
static int un_bzip2(const uint8_t *in, size_t len, struct out *o, const struct ekp_decompress_limits *lim)
{
	bz_stream s;
	int ret;

	(void)lim;
	memset(&s, 0, sizeof(s));
	if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK)
		return ekp_err(ENOMEM, "libbz2: cannot start decompressing");
	s.next_in = (char *)in;
	s.next_out = (char *)o->buf;
	for (;;) {
		size_t in_left = len - (size_t)((const uint8_t *)s.next_in - in);
		size_t out_left = o->cap - (size_t)((uint8_t *)s.next_out - o->buf);
		uint8_t probe;

		s.avail_in = in_left > 0x40000000 ? 0x40000000 : (unsigned int)in_left;
		s.avail_out = out_left > 0x40000000 ? 0x40000000 : (unsigned int)out_left;
		if (!out_left) {
			s.next_out = (char *)&probe;
			s.avail_out = 1;
		}
		ret = BZ2_bzDecompress(&s);
		if (!out_left) {
			bool more = s.avail_out == 0;

			s.next_out = (char *)o->buf + o->cap;
			if (more) {
				BZ2_bzDecompressEnd(&s);
				return too_long(EKP_COMP_BZIP2, o->cap);
			}
		}
		if (ret != BZ_OK || (!in_left && s.avail_out))
			break;
	}
	o->len = (size_t)((uint8_t *)s.next_out - o->buf);
	BZ2_bzDecompressEnd(&s);
	if (ret == BZ_STREAM_END)
		return 0;
	return corrupt(EKP_COMP_BZIP2, ret == BZ_OK ? "truncated" : ret == BZ_MEM_ERROR ?
		       "out of memory" : "bad data");
}
#endif

#if defined(EKP_HAVE_LZMA) || defined(EKP_HAVE_XZ)
static int un_liblzma(enum ekp_compression c, const uint8_t *in, size_t len, struct out *o,
		      const struct ekp_decompress_limits *lim)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret ret;

	ret = c == EKP_COMP_XZ ? lzma_stream_decoder(&s, lim->max_mem, 0)
			       : lzma_alone_decoder(&s, lim->max_mem);
	if (ret != LZMA_OK)
		return ekp_err(ENOMEM, "liblzma: cannot start decompressing");
	s.next_in = in;
	s.avail_in = len;
	s.next_out = o->buf;
	s.avail_out = o->cap;
	for (;;) {
		ret = lzma_code(&s, LZMA_FINISH);
		if (ret != LZMA_OK)
			break;
		if (!s.avail_out) {
			uint8_t probe;

			s.next_out = &probe;
			s.avail_out = 1;
			ret = lzma_code(&s, LZMA_FINISH);
			if (s.avail_out == 0) {
				lzma_end(&s);
				return too_long(c, o->cap);
			}
			s.next_out = o->buf + o->cap;
			break;
		}
	}
	o->len = (size_t)(s.next_out - o->buf);
	lzma_end(&s);
	switch (ret) {
	case LZMA_STREAM_END:
		return 0;
	case LZMA_MEMLIMIT_ERROR:
		return ekp_err(EFBIG, "the %s-compressed payload needs more than %" PRIu64 " bytes of "
			       "decoder memory", comps[c].name, lim->max_mem);
	case LZMA_MEM_ERROR:
		return corrupt(c, "out of memory");
	case LZMA_BUF_ERROR:
		return corrupt(c, "truncated");
	case LZMA_OPTIONS_ERROR:
		return corrupt(c, "unsupported options");
	default:
		return corrupt(c, "bad data");
	}
}
#endif

#ifdef EKP_HAVE_LZO
/* lzop's header flags (lzop.c) */
#define LZOP_ADLER32_D 0x00000001u
#define LZOP_ADLER32_C 0x00000002u
#define LZOP_FILTER 0x00000800u
#define LZOP_CRC32_D 0x00000100u
#define LZOP_CRC32_C 0x00000200u
#define LZOP_BLOCK_MAX (256u * 1024u) /* what lzop writes; the kernel refuses bigger blocks */

static int un_lzo(const uint8_t *in, size_t len, struct out *o, const struct ekp_decompress_limits *lim)
{
	size_t p = 9, need;
	uint16_t version;
	uint32_t flags;
	unsigned int dsums, csums;

	(void)lim;
	if (lzo_init() != LZO_E_OK)
		return ekp_err(ENOSYS, "liblzo2: lzo_init failed");
	/* The lzop header, as lib/decompress_unlzo.c reads it. */
	if (len < p + 7)
		return corrupt(EKP_COMP_LZO, "header truncated");
	version = be16(in + p);
	p += 7; /* version, library version, version needed, method */
	if (version >= 0x0940)
		p++; /* level */
	if (len < p + 4)
		return corrupt(EKP_COMP_LZO, "header truncated");
	flags = be32(in + p);
	p += (flags & LZOP_FILTER) ? 8 : 4;
	need = 8 + (version >= 0x0940 ? 4 : 0) + 1;
	if (len < p || len - p < need)
		return corrupt(EKP_COMP_LZO, "header truncated");
	p += need - 1;
	need = (size_t)in[p++] + 4; /* the file name, the header checksum */
	if (len - p < need)
		return corrupt(EKP_COMP_LZO, "header truncated");
	p += need;
	dsums = !!(flags & LZOP_ADLER32_D) + !!(flags & LZOP_CRC32_D);
	csums = !!(flags & LZOP_ADLER32_C) + !!(flags & LZOP_CRC32_C);
	for (;;) {
		uint32_t dst_len, src_len;
		lzo_uint got;

		if (len - p < 4)
			return corrupt(EKP_COMP_LZO, "truncated");
		dst_len = be32(in + p);
		p += 4;
		if (!dst_len)
			break; /* the end marker */
		if (dst_len > LZOP_BLOCK_MAX)
			return corrupt(EKP_COMP_LZO, "block longer than 256 KiB");
		if (len - p < 4)
			return corrupt(EKP_COMP_LZO, "truncated");
		src_len = be32(in + p);
		p += 4;
		if (!src_len || src_len > dst_len)
			return corrupt(EKP_COMP_LZO, "bad block size");
		need = 4u * dsums + (src_len < dst_len ? 4u * csums : 0);
		if (len - p < need || len - p - need < src_len)
			return corrupt(EKP_COMP_LZO, "truncated");
		p += need;
		if (dst_len > o->cap - o->len)
			return too_long(EKP_COMP_LZO, o->cap);
		if (src_len == dst_len) {
			memcpy(o->buf + o->len, in + p, dst_len);
		} else {
			got = dst_len;
			if (lzo1x_decompress_safe(in + p, src_len, o->buf + o->len, &got, NULL) !=
			    LZO_E_OK || got != dst_len)
				return corrupt(EKP_COMP_LZO, "bad block");
		}
		o->len += dst_len;
		p += src_len;
	}
	return 0;
}
#endif

#ifdef EKP_HAVE_LZ4
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_CHUNK (8u << 20) /* lz4 -l: every block decompresses to at most 8 MiB */

static int un_lz4(const uint8_t *in, size_t len, struct out *o, const struct ekp_decompress_limits *lim)
{
	size_t p = 4;

	(void)lim;
	/* The legacy frame (lib/decompress_unlz4.c): blocks of a 32-bit size and LZ4 data, up
	 * to the end of the input; the magic may repeat (concatenated frames). */
	while (len - p >= 4) {
		uint32_t n = le32(in + p);
		size_t room = o->cap - o->len;
		int got;

		p += 4;
		if (n == LZ4_LEGACY_MAGIC)
			continue;
		if (!n)
			break;
		if (n > len - p)
			return corrupt(EKP_COMP_LZ4, "truncated block");
		if (n > (uint32_t)LZ4_compressBound(LZ4_LEGACY_CHUNK))
			return corrupt(EKP_COMP_LZ4, "block too long");
		if (!room)
			return too_long(EKP_COMP_LZ4, o->cap);
		if (room > LZ4_LEGACY_CHUNK)
			room = LZ4_LEGACY_CHUNK;
		got = LZ4_decompress_safe((const char *)in + p, (char *)o->buf + o->len, (int)n,
					  (int)room);
		if (got < 0) {
			/* A block that needs more room than is left is too long, not corrupt. */
			return room < LZ4_LEGACY_CHUNK && o->cap - o->len == room ?
			       too_long(EKP_COMP_LZ4, o->cap) : corrupt(EKP_COMP_LZ4, "bad block");
		}
		o->len += (size_t)got;
		p += n;
	}
	if (p != len)
		return corrupt(EKP_COMP_LZ4, "trailing bytes");
	return 0;
}
#endif

#ifdef EKP_HAVE_ZSTD
static int un_zstd(const uint8_t *in, size_t len, struct out *o, const struct ekp_decompress_limits *lim)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, len, 0 };
	ZSTD_outBuffer ob = { o->buf, o->cap, 0 };
	unsigned int wlog = 10;
	size_t r = 1;

	if (!d)
		return ekp_err(ENOMEM, "libzstd: cannot start decompressing");
	while (wlog < 31 && (2ull << wlog) <= lim->max_mem)
		wlog++;
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, (int)wlog);
	while (ib.pos < ib.size) {
		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r)) {
			ZSTD_freeDCtx(d);
			if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge)
				return ekp_err(EFBIG, "the zstd-compressed payload needs a window larger "
					       "than %" PRIu64 " bytes", lim->max_mem);
			return corrupt(EKP_COMP_ZSTD, ZSTD_getErrorName(r));
		}
		if (ob.pos == ob.size && (r != 0 || ib.pos < ib.size)) {
			/* Full: one more byte would tell whether anything follows. */
			uint8_t probe;
			ZSTD_outBuffer pb = { &probe, 1, 0 };

			r = ZSTD_decompressStream(d, &pb, &ib);
			ZSTD_freeDCtx(d);
			if (!ZSTD_isError(r) && pb.pos)
				return too_long(EKP_COMP_ZSTD, o->cap);
			o->len = ob.pos;
			return ZSTD_isError(r) ? corrupt(EKP_COMP_ZSTD, ZSTD_getErrorName(r)) :
			       r ? corrupt(EKP_COMP_ZSTD, "truncated") : 0;
		}
		if (r != 0 && ib.pos == ib.size)
			break;
	}
	ZSTD_freeDCtx(d);
	o->len = ob.pos;
	return r ? corrupt(EKP_COMP_ZSTD, "truncated") : 0;
}
#endif

int ekp_decompress(enum ekp_compression c, const uint8_t *in, size_t len,
		   const struct ekp_decompress_limits *lim, uint8_t **out, size_t *out_len)
{
	struct out o = { 0 };
	size_t body = len;
	uint32_t declared;
	int err = 0;

	*out = NULL;
	*out_len = 0;
	if (c <= EKP_COMP_UNKNOWN || c >= EKP_COMP_NR)
		return ekp_err(EINVAL, "unknown compression");
	if (!comps[c].available)
		return ekp_err(EPROTONOSUPPORT, "the payload is %s-compressed, and this ekprobe-host "
			       "was built without %s", comps[c].name, comps[c].library);
	if (len < comps[c].magic_len + 4)
		return corrupt(c, "shorter than its header");
	/* The declared size: gzip's ISIZE, else the 4 bytes the kernel's build appends. */
	declared = le32(in + len - 4);
	if (c != EKP_COMP_GZIP)
		body = len - 4;
	if (!declared)
		return corrupt(c, "declared size 0");
	if (declared > lim->max_out)
		return ekp_err(EFBIG, "the %s-compressed payload declares %" PRIu32 " bytes, more "
			       "than the %zu this reader takes", comps[c].name, declared, lim->max_out);
	o.cap = declared;
	o.buf = malloc(o.cap);
	if (!o.buf)
		return ekp_err(ENOMEM, "out of memory for the %zu-byte kernel payload", o.cap);
	switch (c) {
#ifdef EKP_HAVE_GZIP
	case EKP_COMP_GZIP: err = un_gzip(in, body, &o, lim); break;
#endif
#ifdef EKP_HAVE_BZIP2
	case EKP_COMP_BZIP2: err = un_bzip2(in, body, &o, lim); break;
#endif
#ifdef EKP_HAVE_LZMA
	case EKP_COMP_LZMA: err = un_liblzma(c, in, body, &o, lim); break;
#endif
#ifdef EKP_HAVE_XZ
	case EKP_COMP_XZ: err = un_liblzma(c, in, body, &o, lim); break;
#endif
#ifdef EKP_HAVE_LZO
	case EKP_COMP_LZO: err = un_lzo(in, body, &o, lim); break;
#endif
#ifdef EKP_HAVE_LZ4
	case EKP_COMP_LZ4: err = un_lz4(in, body, &o, lim); break;
#endif
#ifdef EKP_HAVE_ZSTD
	case EKP_COMP_ZSTD: err = un_zstd(in, body, &o, lim); break;
#endif
	default:
		err = ekp_err(EPROTONOSUPPORT, "%s: not built in", comps[c].name);
		break;
	}
	if (!err && o.len != o.cap)
		err = ekp_err(EILSEQ, "the %s-compressed payload decompresses to %zu bytes, the image "
			      "declares %zu (truncated?)", comps[c].name, o.len, o.cap);
	if (err) {
		free(o.buf);
		return err;
	}
	*out = o.buf;
	*out_len = o.len;
	return 0;
}
