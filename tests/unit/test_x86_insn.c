// SPDX-License-Identifier: GPL-2.0
/*
 * x86_64 instruction lengths and boundaries: known encodings, and, when EKPROBE_VMLINUX names
 * the guest vmlinux, linear decoding of its functions.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "ekprobe/symbols.h"

#define ADDR 0xffffffff81000000ull

struct enc {
	const char *what;
	uint8_t bytes[16];
	size_t n;   /* bytes given */
	int len;    /* expected */
};

static const struct enc encs[] = {
	{ "call rel32", { 0xe8, 0x11, 0x22, 0x33, 0x44, 0x90 }, 6, 5 },
	{ "nopl 0x0(%rax,%rax,1)", { 0x0f, 0x1f, 0x44, 0x00, 0x00 }, 5, 5 },
	{ "push %rbp", { 0x55, 0x48, 0x89, 0xe5 }, 4, 1 },
	{ "mov %rsp,%rbp (REX.W)", { 0x48, 0x89, 0xe5, 0xc3 }, 4, 3 },
	{ "mov %r15,0x8(%r12) (REX.WRB, SIB)", { 0x4d, 0x89, 0x7c, 0x24, 0x08 }, 5, 5 },
	{ "movabs $imm64,%rax", { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 0xc3 }, 11, 10 },
	{ "mov %gs:0x1234,%rax", { 0x65, 0x48, 0x8b, 0x04, 0x25, 0x34, 0x12, 0, 0 }, 9, 9 },
	{ "lea rip-relative", { 0x48, 0x8d, 0x05, 0x00, 0x10, 0x00, 0x00 }, 7, 7 },
	{ "ret", { 0xc3 }, 1, 1 },
	{ "int3", { 0xcc }, 1, 1 },
	{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, 4 },
	{ "ud2", { 0x0f, 0x0b }, 2, 2 },
	/* Capstone 4 corrections */
	{ "ud1 %esp,%ecx", { 0x0f, 0xb9, 0xcc, 0xc3 }, 4, 3 },
	{ "ud1 0x10(%rax),%eax", { 0x0f, 0xb9, 0x40, 0x10, 0xc3 }, 5, 4 },
	{ "wrpkru", { 0x0f, 0x01, 0xef, 0xc3 }, 4, 3 },
	{ "rdpkru", { 0x0f, 0x01, 0xee }, 3, 3 },
	{ "serialize", { 0x0f, 0x01, 0xe8 }, 3, 3 },
	{ "tpause %ecx", { 0x66, 0x0f, 0xae, 0xf1, 0xc3 }, 5, 4 },
	/* undecodable */
	{ "push %es (invalid in 64-bit mode)", { 0x06 }, 1, -EINVAL },
	{ "truncated call", { 0xe8, 0x00, 0x00 }, 3, -EINVAL },
	{ "truncated movabs", { 0x48, 0xb8, 1, 2, 3 }, 5, -EINVAL },
	{ "truncated ud1", { 0x0f, 0xb9, 0x80, 0x00 }, 4, -EINVAL },
	{ "empty", { 0 }, 0, -EINVAL },
};

static void test_lengths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
		int got = x86_64_insn_len(encs[i].bytes, encs[i].n, ADDR);

		if (got != encs[i].len)
			fail_msg("%s: length %d, expected %d", encs[i].what, got, encs[i].len);
		/* The same through the arch ops table. */
		assert_int_equal(ekp_arch_x86_64.insn_len(encs[i].bytes, encs[i].n, ADDR), got);
	}
}

static void test_boundaries(void **state)
{
	/* push %rbp; mov %rsp,%rbp; call rel32; pop %rbp; ret */
	static const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0xe8, 1, 2, 3, 4, 0x5d, 0xc3 };
	static const uint8_t bad[] = { 0x55, 0x06, 0x90, 0x90 };
	static const int want[] = { 0, 0, -EILSEQ, -EILSEQ, 0, -EILSEQ, -EILSEQ, -EILSEQ, -EILSEQ,
				    0, 0, 0 };

	(void)state;
	for (size_t off = 0; off <= sizeof(code); off++) {
		int got = x86_64_insn_boundaries(code, sizeof(code), ADDR, ADDR + off);

		if (got != want[off])
			fail_msg("offset %zu: %d, expected %d", off, got, want[off]);
	}
	assert_int_equal(x86_64_insn_boundaries(code, sizeof(code), ADDR, ADDR + 12), -ERANGE);
	assert_int_equal(x86_64_insn_boundaries(code, sizeof(code), ADDR, ADDR - 1), -ERANGE);
	assert_int_equal(x86_64_insn_boundaries(bad, sizeof(bad), ADDR, ADDR + 1), 0);
	assert_int_equal(x86_64_insn_boundaries(bad, sizeof(bad), ADDR, ADDR + 3), -EINVAL);
	/* Truncated before the target: the call needs bytes beyond len. */
	assert_int_equal(x86_64_insn_boundaries(code, 6, ADDR, ADDR + 6), -EINVAL);
	assert_int_equal(x86_64_insn_boundaries(code, 0, ADDR, ADDR), 0);
	/* Addresses near the top of the address space. */
	assert_int_equal(x86_64_insn_boundaries(code, sizeof(code), ~0ull - sizeof(code),
						~0ull - 2), 0);
}

static void *thread_fn(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		const struct enc *e = &encs[i % (sizeof(encs) / sizeof(encs[0]))];

		if (x86_64_insn_len(e->bytes, e->n, ADDR) != e->len)
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	void *ret;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_fn, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
}

static void test_vmlinux(void **state)
{
	/* Known not to decode: 32-bit code, and the VEX-encoded AMX tilerelease. */
	static const char *known_bad[] = { "pvh_start_xen", "fpu_idle_fpregs" };
	const char *path = getenv("EKPROBE_VMLINUX");
	struct ekp_symtab *st;
	struct ekp_sym s;
	uint8_t *buf;
	size_t nfunc = 0, pos = 0;
	int len;

	(void)state;
	if (!path || !*path)
		skip();
	if (ekp_symtab_load(path, &st))
		fail_msg("%s", ekp_errmsg());

	/* start_kernel: instruction by instruction to exactly its end. */
	assert_int_equal(ekp_symtab_lookup(st, "start_kernel", &s), 0);
	assert_true(s.size > 0 && s.size < 65536);
	buf = malloc(s.size);
	assert_non_null(buf);
	assert_int_equal(ekp_symtab_read(st, s.addr, buf, s.size), 0);
	while (pos < s.size) {
		len = x86_64_insn_len(buf + pos, s.size - pos, s.addr + pos);
		if (len <= 0)
			fail_msg("start_kernel+0x%zx: undecodable", pos);
		pos += (size_t)len;
	}
	assert_int_equal(pos, s.size);
	assert_int_equal(x86_64_insn_boundaries(buf, s.size, s.addr, s.addr + s.size), 0);
	free(buf);

	/* Every sized text symbol decodes to exactly its end, but the known ones. */
	for (size_t i = 0; ekp_symtab_at(st, i, &s); i++) {
		bool known = false;
		int r;

		if ((s.type != 'T' && s.type != 't' && s.type != 'W') || !s.size || s.size > (1u << 20))
			continue;
		buf = malloc(s.size);
		assert_non_null(buf);
		assert_int_equal(ekp_symtab_read(st, s.addr, buf, s.size), 0);
		r = x86_64_insn_boundaries(buf, s.size, s.addr, s.addr + s.size);
		free(buf);
		nfunc++;
		for (size_t k = 0; k < sizeof(known_bad) / sizeof(known_bad[0]); k++)
			known |= !strcmp(s.name, known_bad[k]);
		if (r && !known)
			fail_msg("%s (0x%" PRIx64 ", %" PRIu64 " bytes): linear decode gives %d",
				 s.name, s.addr, s.size, r);
	}
	assert_true(nfunc > 10000);
	ekp_symtab_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_vmlinux),
	};

	return cmocka_run_group_tests_name("x86_insn", tests, NULL, NULL) ? 1 : 0;
}
