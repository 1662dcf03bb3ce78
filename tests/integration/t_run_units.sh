#!/usr/bin/env bash
# The unit-test runner tells a skip from a pass: a program whose test skips makes the run fail
# (make test must not turn green when a test this machine should run did not run).
. "$(dirname "$0")/lib.sh"
cat > "$TMP/skips.c" <<'C'
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
static void t_skips(void **s) { (void)s; skip(); }
static void t_passes(void **s) { (void)s; }
int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(t_skips), cmocka_unit_test(t_passes) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
C
cc -o "$TMP/skips" "$TMP/skips.c" -lcmocka || fail "cannot build the skipping test program"
cd "$top" || exit 1
tests/run-units.sh "$TMP/skips" > "$TMP/out" 2>&1; rc=$?
check "a skipped test fails the run" [ "$rc" -ne 0 ]
check "and is reported as skipped" grep -q 'unit: 0 passed, 0 failed, 1 skipped' "$TMP/out"
EKPROBE_ALLOW_SKIPS=1 tests/run-units.sh "$TMP/skips" > "$TMP/out" 2>&1; rc=$?
check "EKPROBE_ALLOW_SKIPS=1 accepts it, still reported" \
	bash -c "[ $rc -eq 0 ] && grep -q '1 skipped' '$TMP/out'"
exit $((failures > 0))
