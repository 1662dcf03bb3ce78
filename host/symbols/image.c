// SPDX-License-Identifier: GPL-2.0
/*
 * A kernel boot image as a distribution ships it (x86 bzImage, "vmlinuz"): the setup header
 * (Documentation/x86/boot.rst, protocol 2.08 or later) says where the compressed payload is
 * and where the kernel may be placed; the payload, decompressed, is the kernel's ELF image
 * without symbols (objcopy -S), followed by its relocation table. Its sections give the bytes
 * at each link-time address (text for instruction checks, init_task, ...); the symbols come
 * from the kernel's own kallsyms tables in it (kallsyms.c). Every length and offset read from
 * the image is checked against what is there.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/symbols/internal.h"

#define HDR_END 0x268             /* through init_size: protocol 2.10 */
#define MAX_PAYLOAD_OUT (1ull << 30) /* a kernel image bigger than this is not one */
#define MAX_DECODER_MEM (256ull << 20)
#define MAX_BOOT_IMAGE (512u << 20)

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

bool ekp_boot_image_is(const void *data, size_t len)
{
	const uint8_t *d = data;

	return len >= 0x206 && le16(d + 0x1fe) == 0xaa55 && !memcmp(d + 0x202, "HdrS", 4);
}

int ekp_boot_image_parse(const void *data, size_t len, const char *what,
			 struct ekp_boot_image *out)
{
	const uint8_t *d = data;
	uint64_t pm, sys, poff, plen;
	unsigned int sects;
	uint16_t version;

	memset(out, 0, sizeof(*out));
	if (!ekp_boot_image_is(data, len))
		return ekp_err(ENOEXEC, "%s: not a kernel boot image (no bzImage setup header)", what);
	if (len < HDR_END)
		return ekp_err(EILSEQ, "%s: truncated: %zu bytes, shorter than its setup header", what,
			       len);
	version = le16(d + 0x206);
	if (version < 0x0208)
		return ekp_err(EPROTONOSUPPORT, "%s: boot protocol %u.%02u: too old to say where its "
			       "payload is (2.08 or later needed)", what, version >> 8, version & 0xff);
	sects = d[0x1f1] ? d[0x1f1] : 4;
	pm = ((uint64_t)sects + 1) * 512;
	sys = (uint64_t)le32(d + 0x1f4) * 16;
	if (pm > len || sys > len - pm)
		return ekp_err(EILSEQ, "%s: truncated: its header says %" PRIu64 " bytes, the file has "
			       "%zu", what, pm + sys, len);
	poff = le32(d + 0x248);
	plen = le32(d + 0x24c);
	if (plen < 8 || poff > sys || plen > sys - poff)
		return ekp_err(EILSEQ, "%s: bad setup header: payload at +0x%" PRIx64 ", %" PRIu64
			       " bytes, in a protected-mode part of %" PRIu64 " bytes", what, poff,
			       plen, sys);
	out->payload = d + pm + poff;
	out->payload_len = (size_t)plen;
	out->compression = ekp_compression_detect(out->payload, out->payload_len);
	out->info.relocatable = d[0x234] != 0;
	out->info.align = le32(d + 0x230);
	out->info.pref_addr = version >= 0x020a ? le64(d + 0x258) : 0x100000;
	out->info.init_size = version >= 0x020a ? le32(d + 0x260) : 0;
	out->info.stub_size = sys;
	out->info.compression = ekp_compression_name(out->compression);
	if (out->info.relocatable && (!out->info.align || (out->info.align & (out->info.align - 1))))
		return ekp_err(EILSEQ, "%s: bad setup header: kernel_alignment 0x%" PRIx64, what,
			       out->info.align);
	return 0;
}

int ekp_symtab_parse_boot_image(struct ekp_symtab *st, const void *data, size_t len,
				size_t max_out, const char *what)
{
	struct ekp_decompress_limits lim = { .max_out = max_out, .max_mem = MAX_DECODER_MEM };
	struct ekp_boot_image bi;
	struct ekp_range *where = NULL;
	size_t nwhere = 0;
	int err;

	if (!max_out)
		lim.max_out = MAX_PAYLOAD_OUT;
	err = ekp_boot_image_parse(data, len, what, &bi);
	if (err)
		return err;
	if (bi.compression == EKP_COMP_UNKNOWN)
		return ekp_err(EPROTONOSUPPORT, "%s: the payload's compression is not one a Linux "
			       "kernel uses (it starts %02x %02x %02x %02x): gzip, bzip2, lzma, xz, "
			       "lzo, lz4 or zstd expected", what, bi.payload[0], bi.payload[1],
			       bi.payload[2], bi.payload[3]);
	err = ekp_decompress(bi.compression, bi.payload, bi.payload_len, &lim, &st->image,
			     &st->image_len);
	if (err)
		return ekp_err_prefix(err, "%s: ", what);
	st->boot = bi.info;
	st->has_boot = true;
	/* The payload is the kernel's ELF image without symbols: its sections. */
	err = ekp_symtab_parse_elf_sections(st, what);
	if (err)
		return err;
	/* kallsyms is in .rodata; look there first, then in any other data. */
	where = calloc(st->nsecs + 1, sizeof(*where));
	if (!where)
		return -ENOMEM;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < st->nsecs; i++) {
			const struct ekp_isec *s = &st->secs[i];
			bool rodata = !strcmp(s->name, ".rodata");

			if (s->nobits || s->exec || rodata != (pass == 0))
				continue;
			where[nwhere++] = (struct ekp_range){ (size_t)s->off, (size_t)(s->off + s->size) };
		}
	err = nwhere ? ekp_symtab_parse_kallsyms(st, st->image, st->image_len, where, nwhere, what)
		     : ekp_err(ENODATA, "%s: the kernel image has no data sections", what);
	free(where);
	return err;
}

int ekp_boot_image_read_info(const char *path, struct ekp_boot_info *out)
{
	struct ekp_boot_image bi;
	void *data;
	size_t len;
	int err;

	memset(out, 0, sizeof(*out));
	err = ekp_read_file(path, MAX_BOOT_IMAGE, &data, &len);
	if (err)
		return err;
	err = ekp_boot_image_parse(data, len, path, &bi);
	if (!err)
		*out = bi.info;
	free(data);
	return err;
}
