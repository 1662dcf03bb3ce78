// SPDX-License-Identifier: GPL-2.0
/* --vm SPEC (host/vm/spec.c): what is accepted, what it parses to, and every refusal's reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ekprobe/err.h"
#include "host/vm/spec.h"

#define BAD_HOST "': expected a host name, an IPv4 address or an IPv6 address in brackets"

static void tcp_ok(const char *spec, const char *host, unsigned int port)
{
	struct ekp_vm_spec v;
	char port_text[8];
	int ret = ekp_vm_spec_parse(spec, &v);

	if (ret)
		fail_msg("'%s': %d %s", spec, ret, ekp_errstr(ret));
	assert_int_equal(v.kind, EKP_VM_TCP);
	assert_string_equal(v.host, host);
	assert_int_equal(v.port_num, port);
	snprintf(port_text, sizeof(port_text), "%u", port);
	assert_string_equal(v.port, port_text);
	assert_string_equal(v.path, "");
}

static void bad(const char *spec, int err, const char *why)
{
	struct ekp_vm_spec v;
	int ret;

	ekp_err_clear();
	memset(&v, 0x55, sizeof(v));
	ret = ekp_vm_spec_parse(spec, &v);
	if (ret != err || strcmp(ekp_errstr(ret), why))
		fail_msg("'%s': got %d \"%s\", expected %d \"%s\"", spec ? spec : "(null)", ret,
			 ekp_errstr(ret), err, why);
	/* Nothing half-parsed is left behind. */
	assert_string_equal(v.host, "");
	assert_string_equal(v.path, "");
	assert_string_equal(v.name, "");
	assert_int_equal(v.port_num, 0);
}

static void test_tcp(void **state)
{
	(void)state;
	tcp_ok("gdb:localhost:1234", "localhost", 1234);
	tcp_ok("gdb:localhost.:1", "localhost.", 1);
	tcp_ok("gdb:127.0.0.1:65535", "127.0.0.1", 65535);
	tcp_ok("gdb:vm-7.lab_net.example.org:01234", "vm-7.lab_net.example.org", 1234);
	tcp_ok("gdb:[::1]:1234", "::1", 1234);
	tcp_ok("gdb:[fe80::1%eth0]:1234", "fe80::1%eth0", 1234);
	tcp_ok("gdb:[::ffff:10.0.0.1]:22", "::ffff:10.0.0.1", 22);
	tcp_ok("gdb:2130706433x:9", "2130706433x", 9); /* not all digits: a name */
}

static void test_unix(void **state)
{
	char spec[200], path[120];
	struct ekp_vm_spec v;

	(void)state;
	assert_int_equal(ekp_vm_spec_parse("unix:/tmp/qemu-gdb.sock", &v), 0);
	assert_int_equal(v.kind, EKP_VM_UNIX);
	assert_string_equal(v.path, "/tmp/qemu-gdb.sock");
	assert_string_equal(v.host, "");
	assert_int_equal(ekp_vm_spec_parse("unix:gdb:sock", &v), 0);
	assert_string_equal(v.path, "gdb:sock");

	/* sun_path holds 107 bytes and the NUL. */
	memset(path, 'a', sizeof(path));
	snprintf(spec, sizeof(spec), "unix:%.*s", (int)sizeof(v.path) - 1, path);
	assert_int_equal(ekp_vm_spec_parse(spec, &v), 0);
	assert_int_equal(strlen(v.path), sizeof(v.path) - 1);
	snprintf(spec, sizeof(spec), "unix:%.*s", (int)sizeof(v.path), path);
	bad(spec, -ENAMETOOLONG, "PATH is 108 bytes long; a Unix socket path holds at most 107");
}

static void test_libvirt(void **state)
{
	char spec[300], name[300];
	struct ekp_vm_spec v;

	(void)state;
	assert_int_equal(ekp_vm_spec_parse("libvirt:ekp-test", &v), 0);
	assert_int_equal(v.kind, EKP_VM_LIBVIRT);
	assert_string_equal(v.name, "ekp-test");
	assert_string_equal(v.path, "");
	assert_string_equal(v.host, "");
	/* libvirt takes spaces, colons and UTF-8 in names. */
	assert_int_equal(ekp_vm_spec_parse("libvirt:web 01:a\xc3\xa9", &v), 0);
	assert_string_equal(v.name, "web 01:a\xc3\xa9");

	memset(name, 'd', sizeof(name));
	snprintf(spec, sizeof(spec), "libvirt:%.255s", name);
	assert_int_equal(ekp_vm_spec_parse(spec, &v), 0);
	assert_int_equal(strlen(v.name), 255);
	snprintf(spec, sizeof(spec), "libvirt:%.256s", name);
	bad(spec, -ENAMETOOLONG, "NAME is 256 bytes long; ekprobe-host takes domain names of at "
	    "most 255");
	bad("libvirt:", -EINVAL, "missing NAME (expected libvirt:NAME, a domain's name)");
	bad("libvirt:a/b", -EINVAL, "NAME has a '/', which no libvirt domain name has");
	bad("libvirt:ab\ncd", -EINVAL, "NAME has a control character (byte 3)");
	bad("LIBVIRT:x", -EINVAL, "expected gdb:HOST:PORT, unix:PATH or libvirt:NAME");
}

static void test_refused(void **state)
{
	(void)state;
	/* Issue 8, defect 11: an empty port was accepted (and --vm was checked only later). */
	bad("gdb:localhost:", -EINVAL,
	    "missing PORT after ':' (expected gdb:HOST:PORT, PORT 1-65535)");
	bad("gdb:[::1]:", -EINVAL, "missing PORT after ':' (expected gdb:HOST:PORT, PORT 1-65535)");
	bad("bogus", -EINVAL, "expected gdb:HOST:PORT, unix:PATH or libvirt:NAME");
	bad("", -EINVAL, "expected gdb:HOST:PORT, unix:PATH or libvirt:NAME");
	bad("tcp:localhost:1234", -EINVAL, "expected gdb:HOST:PORT, unix:PATH or libvirt:NAME");
	bad("GDB:localhost:1234", -EINVAL, "expected gdb:HOST:PORT, unix:PATH or libvirt:NAME");
	bad(NULL, -EINVAL, "no --vm spec");
	bad("unix:", -EINVAL, "missing PATH (expected unix:PATH)");

	bad("gdb:", -EINVAL, "missing ':PORT' (expected gdb:HOST:PORT)");
	bad("gdb:localhost", -EINVAL, "missing ':PORT' (expected gdb:HOST:PORT)");
	bad("gdb::1234", -EINVAL, "missing HOST (expected gdb:HOST:PORT)");
	bad("gdb:::1:1234", -EINVAL, "an IPv6 address goes in brackets: gdb:[ADDR]:PORT");
	bad("gdb:host:12:34", -EINVAL, "an IPv6 address goes in brackets: gdb:[ADDR]:PORT");

	bad("gdb:localhost:0", -EINVAL, "PORT 0 is out of range: 1-65535");
	bad("gdb:localhost:65536", -EINVAL, "PORT 65536 is out of range: 1-65535");
	bad("gdb:localhost:99999999999999999999999", -EINVAL,
	    "PORT 99999999999999999999999 is out of range: 1-65535");
	bad("gdb:localhost:+1", -EINVAL, "bad PORT '+1': expected a decimal number, 1-65535");
	bad("gdb:localhost:0x10", -EINVAL, "bad PORT '0x10': expected a decimal number, 1-65535");
	bad("gdb:localhost: 1", -EINVAL, "bad PORT ' 1': expected a decimal number, 1-65535");
	bad("gdb:localhost:gdb", -EINVAL, "bad PORT 'gdb': expected a decimal number, 1-65535");

	bad("gdb:300.1.1.1:1234", -EINVAL, "bad IPv4 address '300.1.1.1'");
	bad("gdb:1.2.3:1234", -EINVAL, "bad IPv4 address '1.2.3'");
	bad("gdb:1234:1", -EINVAL, "bad IPv4 address '1234'");
	bad("gdb:-vm:1", -EINVAL, "bad HOST '-vm" BAD_HOST);
	bad("gdb:vm-.lab:1", -EINVAL, "bad HOST 'vm-.lab" BAD_HOST);
	bad("gdb:a..b:1", -EINVAL, "bad HOST 'a..b" BAD_HOST);
	bad("gdb:.:1", -EINVAL, "bad HOST '." BAD_HOST);
	bad("gdb:ho st:1", -EINVAL, "bad HOST 'ho st" BAD_HOST);
	bad("gdb:/tmp/sock:1", -EINVAL, "bad HOST '/tmp/sock" BAD_HOST);

	bad("gdb:[::1:1234", -EINVAL, "unclosed '[': expected gdb:[IPV6]:PORT");
	bad("gdb:[::1]1234", -EINVAL, "expected ':PORT' after ']'");
	bad("gdb:[::1]", -EINVAL, "expected ':PORT' after ']'");
	bad("gdb:[]:1234", -EINVAL, "missing IPv6 address in '[]'");
	bad("gdb:[localhost]:1234", -EINVAL, "bad IPv6 address 'localhost'");
	bad("gdb:[127.0.0.1]:1234", -EINVAL, "bad IPv6 address '127.0.0.1'");
	bad("gdb:[fe80::1%]:1234", -EINVAL,
	    "bad zone '' in the IPv6 address: expected an interface name or number");
	bad("gdb:[fe80::1%a/b]:1234", -EINVAL,
	    "bad zone 'a/b' in the IPv6 address: expected an interface name or number");
}

/* Host names: labels of up to 63 characters, up to 253 in all. */
static void test_name_limits(void **state)
{
	char host[300], spec[320], why[400];
	struct ekp_vm_spec v;

	(void)state;
	memset(host, 'a', sizeof(host));
	snprintf(spec, sizeof(spec), "gdb:%.63s:1", host);
	assert_int_equal(ekp_vm_spec_parse(spec, &v), 0);
	snprintf(spec, sizeof(spec), "gdb:%.64s:1", host);
	snprintf(why, sizeof(why), "bad HOST '%.64s" BAD_HOST, host);
	bad(spec, -EINVAL, why);

	/* Three labels of 63 and their dots, then one of 61: 253; then 254. */
	host[63] = host[127] = host[191] = '.';
	snprintf(spec, sizeof(spec), "gdb:%.253s:1", host);
	assert_int_equal(ekp_vm_spec_parse(spec, &v), 0);
	assert_int_equal(strlen(v.host), 253);
	snprintf(spec, sizeof(spec), "gdb:%.254s:1", host);
	bad(spec, -ENAMETOOLONG, "HOST is longer than 253 characters");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_libvirt),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_name_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
