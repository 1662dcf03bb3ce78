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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
