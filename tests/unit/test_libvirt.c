// SPDX-License-Identifier: GPL-2.0
/*
 * The libvirt transport's pure half (host/vm/libvirt_parse.c) on what libvirt 9.0 and QEMU 7.2
 * gave for a real domain (tests/unit/data/libvirt/, recorded by its capture.sh), on what they
 * must refuse; and the transport's errors from the real libvirt client library (its in-process
 * test driver, a socket with no daemon).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ekprobe/err.h"
#include "host/vm/libvirt.h"
#include "host/vm/libvirt_parse.h"

static char *slurp(const char *name, size_t *len)
{
	char path[256], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "tests/unit/data/libvirt/%s", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: cannot open", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void xml_bad(const char *xml, int err, const char *why)
{
	struct ekp_domxml d;
	int ret = ekp_domxml_parse(xml, strlen(xml), &d);

	if (ret != err || !strstr(ekp_errstr(ret), why))
		fail_msg("'%.60s': got %d \"%s\", expected %d \"...%s...\"", xml, ret,
			 ekp_errstr(ret), err, why);
	assert_string_equal(d.name, ""); /* nothing half-parsed */
	assert_string_equal(d.kernel, "");
}

static void test_domxml_real(void **state)
{
	static const char *files[] = { "domain-inactive.xml", "domain-live.xml" };
	struct ekp_domxml d;
	size_t len;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char *xml = slurp(files[i], &len);

		assert_int_equal(ekp_domxml_parse(xml, len, &d), 0);
		assert_string_equal(d.type, "qemu");
		assert_string_equal(d.name, "ekp-capture");
		assert_int_equal(strlen(d.uuid), 36);
		assert_string_equal(d.arch, "x86_64");
		assert_string_equal(d.machine, "pc-i440fx-7.2");
		assert_non_null(strstr(d.kernel, "/bzImage"));
		assert_int_equal(d.kernel[0], '/');
		assert_string_equal(d.mem_source, "memfd");
		assert_string_equal(d.mem_access, "shared");
		assert_true(ekp_domxml_shared_memfd(&d));
		free(xml);
	}
}

static void test_domxml_shapes(void **state)
{
	struct ekp_domxml d;
	const char *xml;

	(void)state;
	/* Blanks around values are layout; a domain without <kernel> or memoryBacking. */
	xml = "<domain type='kvm'>\n  <name>\n  web 01\n  </name>\n  <os><type>hvm</type></os>\n"
	      "  <devices><kernel>not this one</kernel></devices></domain>";
	assert_int_equal(ekp_domxml_parse(xml, strlen(xml), &d), 0);
	assert_string_equal(d.type, "kvm");
	assert_string_equal(d.name, "web 01");
	assert_string_equal(d.kernel, "");
	assert_string_equal(d.arch, "");
	assert_false(ekp_domxml_shared_memfd(&d));
	/* Private memfd, shared file: neither is a shared memfd. */
	xml = "<domain><name>a</name><memoryBacking><source type='memfd'/><access mode='private'/>"
	      "</memoryBacking></domain>";
	assert_int_equal(ekp_domxml_parse(xml, strlen(xml), &d), 0);
	assert_false(ekp_domxml_shared_memfd(&d));
	xml = "<domain><name>a</name><memoryBacking><source type='file'/><access mode='shared'/>"
	      "</memoryBacking></domain>";
	assert_int_equal(ekp_domxml_parse(xml, strlen(xml), &d), 0);
	assert_false(ekp_domxml_shared_memfd(&d));
	/* Entities that expat defines itself are fine in a path. */
	xml = "<domain><name>a&amp;b</name><os><kernel>/k/&lt;x&gt;</kernel></os></domain>";
	assert_int_equal(ekp_domxml_parse(xml, strlen(xml), &d), 0);
	assert_string_equal(d.name, "a&b");
	assert_string_equal(d.kernel, "/k/<x>");
}

static void test_domxml_refused(void **state)
{
	char *big;
	size_t n;

	(void)state;
	xml_bad("<network><name>a</name></network>", -EPROTO, "the root is <network>, not <domain>");
	xml_bad("<domain><uuid>x</uuid></domain>", -EPROTO, "no <name>");
	xml_bad("<domain><name>\n </name></domain>", -EPROTO, "no <name>"); /* fuzzer */
	xml_bad("<domain><name>a</name><name>b</name></domain>", -EPROTO, "two <name>");
	xml_bad("<domain><name>a</name><os><kernel>/a</kernel><kernel>/b</kernel></os></domain>",
		-EPROTO, "two <os><kernel>");
	xml_bad("<domain><name>a</name><os><kernel>/a<b/></kernel></os></domain>", -EPROTO,
		"an element inside <kernel>");
	xml_bad("<!DOCTYPE d [<!ENTITY e 'x'>]><domain><name>&e;</name></domain>", -EPROTO,
		"entity declarations are not accepted");
	xml_bad("<domain><name>a</name>", -EPROTO, "domain XML: error at line 1");
	xml_bad("", -EPROTO, "domain XML: error");
	xml_bad("<domain type='0123456789abcdefXYZ'><name>a</name></domain>", -ENAMETOOLONG,
		"<domain type> is 19 bytes long");

	/* <kernel> of 4095 bytes fits, 4096 does not. */
	big = malloc(2 * EKP_DOMXML_PATH_MAX);
	assert_non_null(big);
	n = (size_t)snprintf(big, 2 * EKP_DOMXML_PATH_MAX, "<domain><name>a</name><os><kernel>/");
	memset(big + n, 'k', EKP_DOMXML_PATH_MAX - 2);
	strcpy(big + n + EKP_DOMXML_PATH_MAX - 2, "</kernel></os></domain>");
	{
		struct ekp_domxml d;

		assert_int_equal(ekp_domxml_parse(big, strlen(big), &d), 0);
		assert_int_equal(strlen(d.kernel), EKP_DOMXML_PATH_MAX - 1);
	}
	memset(big + n, 'k', EKP_DOMXML_PATH_MAX - 1);
	strcpy(big + n + EKP_DOMXML_PATH_MAX - 1, "</kernel></os></domain>");
	xml_bad(big, -ENAMETOOLONG, "<kernel> is longer than 4095 bytes");
	free(big);
}

static void reply_bad(const char *text, const char *why)
{
	json_t *ret = (void *)1;
	int err = ekp_monitor_reply(text, strlen(text), &ret);

	if (err != -EPROTO || !strstr(ekp_errstr(err), why))
		fail_msg("'%s': got %d \"%s\", expected \"...%s...\"", text, err, ekp_errstr(err), why);
	assert_null(ret);
}

static void test_monitor(void **state)
{
	const char *status;
	json_t *ret;
	pid_t tid;
	size_t len;
	char *text;

	(void)state;
	text = slurp("query-status.json", &len);
	assert_int_equal(ekp_monitor_reply(text, len, &ret), 0);
	assert_int_equal(ekp_monitor_status(ret, &status), 0);
	assert_string_equal(status, "prelaunch");
	json_decref(ret);
	free(text);

	text = slurp("query-cpus-fast.json", &len);
	assert_int_equal(ekp_monitor_reply(text, len, &ret), 0);
	assert_int_equal(ekp_monitor_vcpu_thread(ret, &tid), 0);
	assert_true(tid > 0);
	json_decref(ret);
	free(text);

	text = slurp("error.json", &len);
	assert_int_equal(ekp_monitor_reply(text, len, &ret), -EPROTO);
	assert_null(ret);
	assert_string_equal(ekp_errstr(-EPROTO), "Chardev 'ekprobe-gdb' not found (GenericError)");
	free(text);
	/* An error with empty fields still says what happened (found by fuzz_libvirt). */
	reply_bad("{\"error\":{\"class\":\"\",\"desc\":\"\"}}", "an error with no description (no class)");
	reply_bad("{\"error\":{\"class\":\"X\",\"desc\":\"a\\u001bb\"}}", "a?b (X)");

	reply_bad("{\"return\":", "not JSON");
	reply_bad("[1]", "not a QMP reply");
	reply_bad("{\"event\":\"STOP\",\"timestamp\":{}}", "neither a return nor an error");
	reply_bad("{\"return\":{},\"return\":1}", "duplicate");
	assert_int_equal(ekp_monitor_reply(NULL, 0, &ret), -EPROTO);

	/* query-cpus-fast and query-status shapes that are not theirs. */
	static const char *bad_cpus[] = {
		"[]", "{}", "[{}]", "[{\"thread-id\":0}]", "[{\"thread-id\":-5}]",
		"[{\"thread-id\":\"12\"}]", "[{\"thread-id\":4294967297}]",
	};
	for (size_t i = 0; i < sizeof(bad_cpus) / sizeof(bad_cpus[0]); i++) {
		json_t *j = json_loads(bad_cpus[i], 0, NULL);

		assert_non_null(j);
		assert_int_equal(ekp_monitor_vcpu_thread(j, &tid), -EPROTO);
		json_decref(j);
	}
	ret = json_loads("{\"status\":7}", 0, NULL);
	assert_int_equal(ekp_monitor_status(ret, &status), -EPROTO);
	json_decref(ret);
	assert_int_equal(ekp_monitor_status(NULL, &status), -EPROTO);
}

static void test_proc(void **state)
{
	char *text, *xml, **argv;
	struct ekp_domxml d;
	pid_t tgid;
	size_t len, xlen, n;

	(void)state;
	text = slurp("proc-status.txt", &len);
	assert_int_equal(ekp_proc_status_tgid(text, len, &tgid), 0);
	assert_true(tgid > 0);
	free(text);
#define TGID(s, out) ekp_proc_status_tgid(s, strlen(s), out)
	assert_int_equal(TGID("Name:\tx\nTgid:\t42\nPid:\t43\n", &tgid), 0);
	assert_int_equal(tgid, 42);
	assert_int_equal(TGID("Tgid:\t42", &tgid), 0); /* no final newline */
	assert_int_equal(tgid, 42);
	assert_int_equal(TGID("Name:\tx\n", &tgid), -EPROTO);
	assert_int_equal(TGID("Tgid:\t\n", &tgid), -EPROTO);
	assert_int_equal(TGID("Tgid:\t0\n", &tgid), -EPROTO);
	assert_int_equal(TGID("Tgid:\t12x\n", &tgid), -EPROTO);
	assert_int_equal(TGID("Tgid:\t99999999999\n", &tgid), -EPROTO);
	assert_int_equal(TGID("NoTgid:\t5\n", &tgid), -EPROTO);

	/* The QEMU libvirt started: its command line carries the domain's uuid. */
	text = slurp("qemu-cmdline.bin", &len);
	xml = slurp("domain-live.xml", &xlen);
	assert_int_equal(ekp_domxml_parse(xml, xlen, &d), 0);
	assert_int_equal(ekp_cmdline_split(text, len, &argv), 0);
	assert_string_equal(argv[0], "/usr/bin/qemu-system-x86_64");
	for (n = 0; argv[n]; n++)
		;
	assert_true(n > 10);
	assert_true(ekp_cmdline_has_uuid(argv, d.uuid));
	assert_false(ekp_cmdline_has_uuid(argv, "00000000-0000-0000-0000-000000000000"));
	assert_false(ekp_cmdline_has_uuid(argv, ""));
	free(argv);
	free(xml);
	free(text);

	assert_int_equal(ekp_cmdline_split("a\0-uuid\0U", 9, &argv), 0); /* last without NUL */
	assert_string_equal(argv[2], "U");
	assert_null(argv[3]);
	assert_true(ekp_cmdline_has_uuid(argv, "u"));
	free(argv);
	assert_int_equal(ekp_cmdline_split("\0\0", 2, &argv), 0); /* empty arguments are kept */
	assert_string_equal(argv[0], "");
	assert_string_equal(argv[1], "");
	assert_null(argv[2]);
	free(argv);
	assert_int_equal(ekp_cmdline_split("", 0, &argv), -ENOENT);
	assert_null(argv);
}

/* The transport's errors, from the real client library: no daemon needed for these. */
static void test_open_errors(void **state)
{
	struct ekp_libvirt *lv = (void *)1;
	int err;

	(void)state;
	err = ekp_libvirt_open("test:///default", "test", &lv);
	assert_int_equal(err, -EPROTOTYPE);
	assert_null(lv);
	assert_non_null(strstr(ekp_errstr(err), "test:///default is libvirt's TEST driver"));
	err = ekp_libvirt_open("qemu:///system?socket=/nonexistent/ekprobe/libvirt-sock", "x", &lv);
	assert_int_equal(err, -ECONNREFUSED);
	assert_non_null(strstr(ekp_errstr(err), "cannot connect to qemu:///system"));
	assert_non_null(strstr(ekp_errstr(err), "/nonexistent/ekprobe/libvirt-sock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domxml_real),
		cmocka_unit_test(test_domxml_shapes),
		cmocka_unit_test(test_domxml_refused),
		cmocka_unit_test(test_monitor),
		cmocka_unit_test(test_proc),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
