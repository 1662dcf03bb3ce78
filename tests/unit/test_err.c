// SPDX-License-Identifier: GPL-2.0
/* lib/err.c: a reason is shown only for the errno it was recorded with, never a stale one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ekprobe/err.h"

static void test_reason_for_its_errno(void **state)
{
	(void)state;
	ekp_err_clear();
	assert_int_equal(ekp_err(ENOENT, "unknown symbol '%s'", "foo"), -ENOENT);
	assert_string_equal(ekp_errstr(-ENOENT), "unknown symbol 'foo'");
	assert_string_equal(ekp_errstr(ENOENT), "unknown symbol 'foo'");
}

/* A bare -ENOMEM (or -ECHILD) after an older failure must not print the older reason. */
static void test_no_stale_reason(void **state)
{
	(void)state;
	ekp_err(EPIPE, "gdbstub closed the connection");
	assert_string_equal(ekp_errstr(-ECHILD), strerror(ECHILD));
	assert_string_equal(ekp_errstr(-ENOMEM), strerror(ENOMEM));
	ekp_err_clear();
	assert_string_equal(ekp_errstr(-EPIPE), strerror(EPIPE));
}

static void test_prefix(void **state)
{
	(void)state;
	ekp_err(ENOENT, "unknown symbol 'foo'");
	/* With no reason recorded for this errno, the prefix goes before strerror. */
	assert_int_equal(ekp_err_prefix(-ENOMEM, "probe 3: "), -ENOMEM);
	assert_string_equal(ekp_errstr(-ENOMEM), "probe 3: Cannot allocate memory");
	ekp_err(EIO, "short read");
	ekp_err_prefix(-EIO, "%s: ", "vmlinux");
	assert_string_equal(ekp_errstr(-EIO), "vmlinux: short read");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_for_its_errno),
		cmocka_unit_test(test_no_stale_reason),
		cmocka_unit_test(test_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
