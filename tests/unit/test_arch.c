// SPDX-License-Identifier: GPL-2.0
/*
 * The arch ops table's machine and clock halves, and how the guest's arch is found: the
 * guest's TSC rate is known under -icount, measured from the host TSC on an x86_64 host, and
 * refused with a reason (never silently 0) where this host cannot tell it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ekprobe/arch.h"
#include "ekprobe/err.h"

static void test_clock(void **state)
{
	const struct ekp_arch *a = &ekp_arch_x86_64;
	struct ekp_clock_mark m, none = { .mono_ns = 1 };
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	uint64_t hz = 0;
	int err;

	(void)state;
	/* A host whose counter ekprobe-host cannot read: -icount works, anything else is refused
	 * with the reason (the jump engine then says so when it is planned). */
	assert_int_equal(a->clock_rate(&none, true, &hz), 0);
	assert_int_equal(hz, 1000000000u);
	hz = 0;
	err = a->clock_rate(&none, false, &hz);
	assert_int_equal(err, -EOPNOTSUPP);
	assert_int_equal(hz, 0);
	assert_non_null(strstr(ekp_errstr(err), "-icount"));
#if defined(__x86_64__)
	a->clock_mark(&m);
	assert_true(m.have_ticks);
	nanosleep(&pause, NULL); /* the rate needs some time between two marks */
	assert_int_equal(a->clock_rate(&m, false, &hz), 0);
	assert_true(hz > 100000000u && hz < 100000000000ull); /* a TSC: 0.1 to 100 GHz */
#else
	a->clock_mark(&m);
	assert_false(m.have_ticks);
	(void)pause;
#endif
}

/* Linux 6.1 arch_adjust_kprobe_addr(): a kprobe on a function's endbr64 goes past it. */
static void test_kprobe_addr(void **state)
{
	const struct ekp_arch *a = &ekp_arch_x86_64;
	static const uint8_t endbr[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55 };

	(void)state;
	assert_non_null(a->kprobe_addr);
	assert_int_equal(a->kprobe_addr(endbr, sizeof(endbr), 0xffffffff81000000, true),
			 0xffffffff81000004);
	assert_int_equal(a->kprobe_addr(endbr, sizeof(endbr), 0xffffffff81000000, false),
			 0xffffffff81000000);
	assert_int_equal(a->kprobe_addr(nop5, sizeof(nop5), 0xffffffff81000000, true),
			 0xffffffff81000000);
	assert_int_equal(a->kprobe_addr(endbr, 3, 0xffffffff81000000, true), 0xffffffff81000000);
}

/*
 * ekp_arch.kprobe_site: what a kernel kprobe wrote at its site, from image and live bytes.
 * The image bytes are the default kernel's (objdump): do_one_initcall's entry is `call
 * __fentry__` (an ftrace-able entry), run_init_process+0x14 a 7-byte mov (an optprobe fits).
 */
static enum ekp_ksite ksite(const uint8_t *image, const uint8_t *live, uint64_t kaddr,
			    uint64_t fentry, size_t *n)
{
	const struct ekp_arch *a = &ekp_arch_x86_64;

	assert_non_null(a->kprobe_site);
	return a->kprobe_site(image, live, kaddr, fentry, n);
}

static void test_kprobe_site(void **state)
{
	static const uint8_t doi[EKP_KSITE_BYTES] = { 0xe8, 0x5e, 0xaf, 0x02, 0x00, 0x41, 0x55,
		0x31, 0xc0, 0xb9, 0x10, 0x00, 0x00, 0x00, 0x41, 0x54 };
	static const uint8_t rip[EKP_KSITE_BYTES] = { 0x48, 0x89, 0x3d, 0xc7, 0x19, 0x7e, 0x00,
		0x48, 0xc7, 0xc7, 0xc4, 0xeb, 0x00, 0x00, 0x00, 0x00 };
	const uint64_t doi_at = 0xffffffff81000cad, fentry = 0xffffffff8102bc10;
	const uint64_t rip_at = 0xffffffff81231852;
	uint8_t live[EKP_KSITE_BYTES];
	size_t n = 0;

	(void)state;
	/* Nothing written: the same bytes; the window is the 5-byte call. */
	assert_int_equal(ksite(doi, doi, doi_at, fentry, &n), EKP_KSITE_SAME);
	assert_int_equal(n, 5);
	/* Code after the window may differ (another site the boot patched): not the kprobe's. */
	memcpy(live, doi, sizeof(live));
	live[9] = 0x90;
	assert_int_equal(ksite(doi, live, doi_at, fentry, &n), EKP_KSITE_SAME);
	/* ftrace: its boot NOP, then a call to a trampoline once a kprobe's ftrace ops is on. */
	memcpy(live, (const uint8_t[]){ 0x0f, 0x1f, 0x44, 0x00, 0x00 }, 5);
	live[9] = doi[9];
	assert_int_equal(ksite(doi, live, doi_at, fentry, &n), EKP_KSITE_FENTRY_NOP);
	memcpy(live, (const uint8_t[]){ 0xe8, 0x4e, 0xf3, 0x2f, 0x3e }, 5);
	assert_int_equal(ksite(doi, live, doi_at, fentry, &n), EKP_KSITE_FTRACE);
	/* ... only at a call of __fentry__: another call retargeted is not a kprobe's. */
	assert_int_equal(ksite(doi, live, doi_at, fentry + 1, &n), EKP_KSITE_OTHER);
	assert_int_equal(ksite(doi, live, doi_at, 0, &n), EKP_KSITE_OTHER);
	/* The next instruction lies past the window (the call alone): not compared. */
	memcpy(live, (const uint8_t[]){ 0xe8, 0x4e, 0xf3, 0x2f, 0x3e, 0x42 }, 6);
	assert_int_equal(ksite(doi, live, doi_at, fentry, &n), EKP_KSITE_FTRACE);

	/* An int3 kprobe: 0xcc over the first byte, the window the whole 7-byte mov. */
	memcpy(live, rip, sizeof(live));
	live[0] = 0xcc;
	assert_int_equal(ksite(rip, live, rip_at, fentry, &n), EKP_KSITE_INT3);
	assert_int_equal(n, 7);
	/* An int3 anywhere else, or a byte beside it changed: not a kprobe's. */
	memcpy(live, rip, sizeof(live));
	live[1] = 0xcc;
	assert_int_equal(ksite(rip, live, rip_at, fentry, &n), EKP_KSITE_OTHER);
	live[0] = 0xcc;
	live[1] = rip[1];
	live[6] = 0x01;
	assert_int_equal(ksite(rip, live, rip_at, fentry, &n), EKP_KSITE_OTHER);
	/* An optprobe: jmp rel32 over the first five bytes, bytes 5 and 6 of the mov stay. */
	memcpy(live, rip, sizeof(live));
	memcpy(live, (const uint8_t[]){ 0xe9, 0x10, 0x20, 0x30, 0x40 }, 5);
	assert_int_equal(ksite(rip, live, rip_at, fentry, &n), EKP_KSITE_OPTPROBE);
	live[5] = 0x00;
	assert_int_equal(ksite(rip, live, rip_at, fentry, &n), EKP_KSITE_OTHER);
	/* text_poke_bp() half way: the int3, and the jump's tail already in. */
	memcpy(live, rip, sizeof(live));
	memcpy(live, (const uint8_t[]){ 0xcc, 0x10, 0x20, 0x30, 0x40 }, 5);
	assert_int_equal(ksite(rip, live, rip_at, fentry, &n), EKP_KSITE_POKING);
	/* A jmp rel32 at an ftrace-able entry is no ftrace call (but an optprobe's jump). */
	memcpy(live, doi, sizeof(live));
	live[0] = 0xe9;
	assert_int_equal(ksite(doi, live, doi_at, fentry, &n), EKP_KSITE_OPTPROBE);
	/* Anything else in the first bytes. */
	live[0] = 0x90;
	assert_int_equal(ksite(doi, live, doi_at, fentry, &n), EKP_KSITE_OTHER);
}

static void test_arch_by(void **state)
{
	(void)state;
	assert_ptr_equal(ekp_arch_by_name("x86_64"), &ekp_arch_x86_64);
	assert_ptr_equal(ekp_arch_by_name("i386:x86-64"), &ekp_arch_x86_64);
	assert_null(ekp_arch_by_name("vax"));
	assert_null(ekp_arch_by_name(NULL));
	assert_ptr_equal(ekp_arch_by_qemu("qemu-system-x86_64"), &ekp_arch_x86_64);
	assert_ptr_equal(ekp_arch_by_qemu("/opt/q/bin/qemu-system-x86_64"), &ekp_arch_x86_64);
	assert_null(ekp_arch_by_qemu("/usr/bin/qemu-system-x86_64x"));
	assert_null(ekp_arch_by_qemu("qemu-x86_64"));
	assert_null(ekp_arch_by_qemu(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_arch_by),
		cmocka_unit_test(test_kprobe_addr),
		cmocka_unit_test(test_kprobe_site),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
