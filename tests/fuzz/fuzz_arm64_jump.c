// SPDX-License-Identifier: GPL-2.0
/*
 * The arm64 jump half on untrusted input (what a vmlinux holds): its kernel text tables
 * (ftrace entries, alternatives, jump labels, kprobe blacklist) parsed and queried, and a
 * function's bytes planned as a jump site at each instruction, relocated and built into a
 * trampoline whose size must be the one announced.
 *
 * Input: bytes 0-3: the lengths of the mcount, alternatives, jump-label and blacklist tables
 * (times 4), then those tables, then a function's bytes (up to 256).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arch/arm64/jump.h"
#include "ekprobe/err.h"

#define FN 0xffffffc008200000ull
#define SLOT 0xffffffc008010000ull
#define HIT 0xffffffc008020000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arm64_text_raw raw = { 0 };
	struct arm64_text_tables t;
	const uint8_t *p = data + 4, *end = data + size;
	const uint8_t **tab[4] = { &raw.mcount, &raw.alt, &raw.jump, &raw.blacklist };
	size_t *lens[4] = { &raw.mcount_len, &raw.alt_len, &raw.jump_len, &raw.blacklist_len };
	static uint8_t tramp[ARM64_JUMP_SLOT_SIZE];

	if (size < 4)
		return 0;
	for (int i = 0; i < 4; i++) {
		size_t n = (size_t)data[i] * 4;

		if (n > (size_t)(end - p))
			n = (size_t)(end - p);
		*tab[i] = p;
		*lens[i] = n;
		p += n;
	}
	raw.mcount_addr = FN - 0x100000;
	raw.alt_addr = FN - 0x1000;
	raw.jump_addr = FN + 0x1000;
	if (arm64_text_tables_parse(&raw, &t) == 0) {
		for (uint64_t a = FN - 16; a < FN + 256; a += 4) {
			uint64_t m = arm64_text_mcount_at(&t, a);
			const struct arm64_range *r = arm64_text_busy(&t, a, 4);

			if (m && (a < m || a - m >= 8))
				__builtin_trap();
			if (r && (r->start >= a + 4 || r->end <= a))
				__builtin_trap();
			arm64_text_blacklisted(&t, a);
		}
		arm64_text_tables_free(&t);
	}

	/* The rest: a function, planned at every instruction. */
	size_t fsize = (size_t)(end - p) & ~(size_t)3;

	if (fsize > 256)
		fsize = 256;
	for (size_t off = 0; fsize && off < fsize; off += 4) {
		struct arm64_jump_site s = { .func_addr = FN, .func_name = "f", .func = p,
					     .func_size = fsize, .jump_addr = FN + off,
					     .slot_addr = SLOT };
		struct arm64_jump_plan plan;
		const uint32_t idx[3] = { 1, 2, 3 };
		size_t len = 0;
		int err;

		ekp_err_clear();
		err = arm64_jump_plan(&s, &plan);
		if (err) {
			if (!ekp_errmsg()[0])
				__builtin_trap();
			continue;
		}
		for (size_t nr = 1; nr <= 3; nr++) {
			err = arm64_build_trampoline(&plan, SLOT, HIT, idx, nr, tramp, sizeof(tramp),
						     &len);
			if (err && err != -ERANGE)
				__builtin_trap();
			if (!err && len != arm64_trampoline_size(&plan, nr))
				__builtin_trap();
		}
	}
	return 0;
}
