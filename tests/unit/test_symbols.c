// SPDX-License-Identifier: GPL-2.0
/*
 * Symbol tables: a synthetic System.map / kallsyms, a small ELF built here with gcc, and, when
 * EKPROBE_VMLINUX names one, the real guest vmlinux and the System.map beside it.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ekprobe/err.h"
#include "ekprobe/symbols.h"
#include "tests/unit/helpers.h"

/* ---- helpers ---- */

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	data[n] = '\0';
	*len = (size_t)n;
	return data;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static struct ekp_symtab *load_map_str(const char *s)
{
	struct ekp_symtab *st = NULL;
	int err = ekp_symtab_load_mem(s, strlen(s), false, &st);

	if (err)
		fail_msg("loading the map failed: %d %s", err, ekp_errmsg());
	return st;
}

static void expect_sym(const struct ekp_symtab *st, const char *name, uint64_t addr, char type)
{
	struct ekp_sym s;
	int err = ekp_symtab_lookup(st, name, &s);

	if (err)
		fail_msg("lookup %s: %d %s", name, err, ekp_errmsg());
	assert_string_equal(s.name, name);
	assert_int_equal(s.addr, addr);
	if (type)
		assert_int_equal(s.type, type);
}

static void expect_addr2sym(const struct ekp_symtab *st, uint64_t addr, const char *name,
			    uint64_t off)
{
	struct ekp_sym s;
	uint64_t o = ~0ull;
	int err = ekp_symtab_addr2sym(st, addr, &s, &o);

	if (err)
		fail_msg("addr2sym 0x%" PRIx64 ": %d %s", addr, err, ekp_errmsg());
	if (strcmp(s.name, name) || o != off)
		fail_msg("addr2sym 0x%" PRIx64 ": %s+0x%" PRIx64 ", expected %s+0x%" PRIx64, addr,
			 s.name, o, name, off);
}

/* ---- System.map / kallsyms ---- */

static const char test_map[] =
	"0000000000000000 D __per_cpu_start\n"
	"0000000000001000 D fixed_percpu_data\n"
	"0000000000002000 D __per_cpu_end\n"
	"0000000001000000 A phys_startup_64\n"
	"ffffffff81000000 T _stext\n"
	"ffffffff81000000 T _text\n"
	"ffffffff81000000 T startup_64\n"
	"ffffffff81000060 T secondary_startup_64\n"
	"ffffffff81000100 t helper\n"
	"ffffffff81000180 t helper\n"
	"ffffffff81000200 W weak_fn\n"
	"ffffffff81000280 T _etext\n"
	"ffffffff81200000 D some_data\n"
	"ffffffff81200010 d twice\n"
	"ffffffff81200010 d twice\n"
	"ffffffff81200040 r ro_data\n"
	"ffffffff81300000 B _end\n";

static void test_map_basic(void **state)
{
	struct ekp_symtab *st = load_map_str(test_map);
	struct ekp_sym s, prev = { 0 };
	uint64_t off;
	uint8_t b;

	(void)state;
	assert_int_equal(ekp_symtab_count(st), 17);
	assert_false(ekp_symtab_has_image(st));
	for (size_t i = 0; ekp_symtab_at(st, i, &s); i++) {
		assert_true(i == 0 || s.addr >= prev.addr);
		prev = s;
	}
	assert_false(ekp_symtab_at(st, 17, &s));

	assert_int_equal(ekp_symtab_lookup(st, "startup_64", &s), 0);
	assert_int_equal(s.addr, 0xffffffff81000000ull);
	assert_int_equal(s.size, 0x60); /* to the next higher address */
	assert_int_equal(s.type, 'T');
	expect_sym(st, "weak_fn", 0xffffffff81000200ull, 'W');
	expect_sym(st, "ro_data", 0xffffffff81200040ull, 'r');
	expect_sym(st, "twice", 0xffffffff81200010ull, 'd'); /* same address twice: one symbol */
	expect_sym(st, "phys_startup_64", 0x1000000, 'A');
	assert_int_equal(ekp_symtab_lookup(st, "_end", &s), 0);
	assert_int_equal(s.size, 0); /* the last one */

	assert_int_equal(ekp_symtab_lookup(st, "helper", &s), -ENOTUNIQ);
	assert_non_null(strstr(ekp_errmsg(), "0xffffffff81000100"));
	assert_non_null(strstr(ekp_errmsg(), "0xffffffff81000180"));
	assert_int_equal(ekp_symtab_lookup(st, "nosuch", &s), -ENOENT);
	assert_int_equal(ekp_symtab_lookup(st, "", &s), -ENOENT);

	/* startup_64 rather than its aliases _stext and _text. */
	expect_addr2sym(st, 0xffffffff81000000ull, "startup_64", 0);
	expect_addr2sym(st, 0xffffffff81000010ull, "startup_64", 0x10);
	expect_addr2sym(st, 0xffffffff81000190ull, "helper", 0x10);
	expect_addr2sym(st, 0xffffffff81200020ull, "twice", 0x10);
	expect_addr2sym(st, 0x1800, "fixed_percpu_data", 0x800);
	/* Absolute symbols are values, not places; the per-cpu block ends where it does. */
	assert_int_equal(ekp_symtab_addr2sym(st, 0x1000000, &s, &off), -ENOENT);
	assert_int_equal(ekp_symtab_addr2sym(st, 0x1000010, &s, &off), -ENOENT);
	assert_int_equal(ekp_symtab_addr2sym(st, 0xffffffff81300000ull, &s, &off), -ENOENT);
	assert_int_equal(ekp_symtab_addr2sym(st, 0xffffffffffffffffull, &s, &off), -ENOENT);

	assert_int_equal(ekp_symtab_read(st, 0xffffffff81000000ull, &b, 1), -ENODATA);
	ekp_symtab_free(st);
}

static void test_map_kallsyms(void **state)
{
	struct ekp_symtab *st = load_map_str(
		"ffffffff81000000 T foo\r\n"
		"ffffffff81000040 t bar\r\n"
		"ffffffffc0002000 t foo\t[mymod]\n"
		"ffffffffc0002100 T mod_only\t[mymod]\n"
		"ffffffffc0003000 T other\t[mod2]   \n"
		"\n"
		"ffffffffc0004000 U undefined_skipped\n"
		"ffffffffc0005000 t last");
	struct ekp_sym s;

	(void)state;
	assert_int_equal(ekp_symtab_count(st), 6);
	assert_int_equal(ekp_symtab_lookup(st, "foo", &s), -ENOTUNIQ);
	assert_int_equal(ekp_symtab_lookup(st, "mymod:foo", &s), 0);
	assert_string_equal(s.name, "foo");
	assert_int_equal(s.addr, 0xffffffffc0002000ull);
	expect_sym(st, "mod_only", 0xffffffffc0002100ull, 'T');
	expect_sym(st, "last", 0xffffffffc0005000ull, 't');
	assert_int_equal(ekp_symtab_lookup(st, "mod2:foo", &s), -ENOENT);
	assert_int_equal(ekp_symtab_lookup(st, "undefined_skipped", &s), -ENOENT);
	expect_addr2sym(st, 0xffffffffc0002004ull, "foo", 4);
	ekp_symtab_free(st);
}

static void expect_map_error(const char *text, int err, const char *msg)
{
	const char *path = t_tmp_path("System.map");
	struct ekp_symtab *st = (void *)1;
	int got;

	t_write_file(path, text, strlen(text));
	got = ekp_symtab_load(path, &st);
	if (got != err || !strstr(ekp_errmsg(), msg))
		fail_msg("map %s: got %d \"%s\", expected %d \"%s\"", text, got, ekp_errmsg(), err,
			 msg);
	assert_null(st);
	unlink(path);
}

static void test_map_malformed(void **state)
{
	static const char ok[] = "ffffffff81000000 T a\nffffffff81000010 T b\n";
	static const char *bad_lines[] = {
		"zzzz T foo\n",
		"ffffffff81000000 T\n",
		"ffffffff81000000\n",
		"ffffffff81000000 TT foo\n",
		"ffffffff81000000 T foo bar\n",
		"ffffffff81000000 T foo [mod\n",
		"ffffffff81000000 T foo []\n",
		"ffffffff81000000 T foo [mod] x\n",
		"11111111111111111 T foo\n",
		"0xffffffff81000000 T foo\n",
		"ffffffff81000000 1 foo\n",
		"ffffffff81000000T foo\n",
	};
	char text[256];
	struct ekp_symtab *st = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", ok, bad_lines[i]);
		expect_map_error(text, -EINVAL, "System.map:3: malformed line");
	}
	expect_map_error("", -ENODATA, "no symbols");
	expect_map_error("\n\n", -ENODATA, "no symbols");
	expect_map_error("0000000000000000 T a\n0000000000000000 T b\n", -EACCES, "every address");
	assert_int_equal(ekp_symtab_load_mem("ffffffff81000000 T a\0b\n", 24, false, &st), -EINVAL);
	assert_non_null(strstr(ekp_errmsg(), "symbol map:1: malformed line"));
	assert_int_equal(ekp_symtab_load(t_tmp_path("does-not-exist"), &st), -ENOENT);
	assert_null(st);
}

/* ---- a small ELF built with gcc ---- */

static const char prog_c[] =
	"int counter = 42;\n"
	"static int hidden_bss;\n"
	"const char banner[] = \"hello symbols\";\n"
	"__attribute__((noinline, used)) static int helper(int x) { return x * 3 + hidden_bss; }\n"
	"__attribute__((noinline)) int api_func(int x) { return helper(x) + counter; }\n"
	"__attribute__((weak, noinline)) void weak_func(void) { hidden_bss++; }\n"
	"void _start(void) { weak_func(); counter = api_func(1); for (;;) ; }\n";

/* Builds the test program once; false (and the test skips) without a working gcc. */
static bool build_prog(void)
{
	static int built = -1;

	if (built < 0) {
		t_write_file(t_tmp_path("prog.c"), prog_c, sizeof(prog_c) - 1);
		built = run("cd %s && gcc -O1 -fno-pie -no-pie -static -nostdlib -fno-asynchronous-"
			    "unwind-tables -Wl,--build-id=none -o prog prog.c 2>/dev/null && "
			    "gcc -O1 -c -o prog.o prog.c 2>/dev/null", t_tmp_dir()) == 0;
	}
	return built;
}

static void test_elf_small(void **state)
{
	struct ekp_symtab *st, *map;
	struct ekp_sym s, api, helper, counter, banner, bss;
	char line[512], name[256], type, buf[32];
	uint64_t addr, off;
	unsigned int checked = 0;
	FILE *nm;
	int v = 0;

	(void)state;
	if (!build_prog())
		skip();
	assert_int_equal(ekp_symtab_load(t_tmp_path("prog"), &st), 0);
	assert_true(ekp_symtab_has_image(st));

	assert_int_equal(ekp_symtab_lookup(st, "api_func", &api), 0);
	assert_int_equal(api.type, 'T');
	assert_true(api.size > 0);
	assert_int_equal(ekp_symtab_lookup(st, "helper", &helper), 0);
	assert_int_equal(helper.type, 't');
	assert_int_equal(ekp_symtab_lookup(st, "counter", &counter), 0);
	assert_int_equal(counter.type, 'D');
	assert_int_equal(counter.size, 4);
	assert_int_equal(ekp_symtab_lookup(st, "banner", &banner), 0);
	assert_int_equal(banner.type, 'R');
	assert_int_equal(ekp_symtab_lookup(st, "hidden_bss", &bss), 0);
	assert_int_equal(bss.type, 'b');
	assert_int_equal(ekp_symtab_lookup(st, "weak_func", &s), 0);
	assert_int_equal(s.type, 'W');

	/* Image bytes: initialised data and text yes, .bss and outside no. */
	assert_int_equal(ekp_symtab_read(st, counter.addr, &v, sizeof(v)), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ekp_symtab_read(st, banner.addr, buf, 14), 0);
	assert_string_equal(buf, "hello symbols");
	assert_int_equal(ekp_symtab_read(st, api.addr, buf, (size_t)api.size), 0);
	assert_int_equal(ekp_symtab_read(st, bss.addr, buf, 4), -ENODATA);
	assert_non_null(strstr(ekp_errmsg(), ".bss"));
	assert_int_equal(ekp_symtab_read(st, 0x10, buf, 4), -ENODATA);
	assert_int_equal(ekp_symtab_read(st, ~0ull - 1, buf, 4), -ENODATA);
	assert_int_equal(ekp_symtab_read(st, api.addr, buf, 0), 0);

	expect_addr2sym(st, api.addr + 1, "api_func", 1);
	expect_addr2sym(st, counter.addr + 3, "counter", 3);
	if (!ekp_symtab_addr2sym(st, counter.addr + 4, &s, &off))
		assert_string_not_equal(s.name, "counter"); /* past its st_size */

	/* Every symbol nm shows (but undefined ones) has nm's address and type letter. */
	if (run("command -v nm >/dev/null") == 0) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "cd %s && nm prog", t_tmp_dir());
		nm = popen(cmd, "r");
		assert_non_null(nm);
		while (fgets(line, sizeof(line), nm)) {
			if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, name) != 3)
				continue;
			assert_int_equal(ekp_symtab_lookup(st, name, &s), 0);
			assert_int_equal(s.addr, addr);
			assert_int_equal(s.type, type);
			checked++;
		}
		pclose(nm);
		assert_true(checked >= 6);

		/* nm -n output is a System.map: the two loaders agree. */
		assert_int_equal(run("cd %s && nm -n prog | grep -v ' [Uwv] ' > prog.map", t_tmp_dir()), 0);
		assert_int_equal(ekp_symtab_load(t_tmp_path("prog.map"), &map), 0);
		assert_int_equal(ekp_symtab_count(map), ekp_symtab_count(st));
		for (size_t i = 0; ekp_symtab_at(map, i, &s); i++) {
			struct ekp_sym e;

			assert_int_equal(ekp_symtab_lookup(st, s.name, &e), 0);
			assert_int_equal(e.addr, s.addr);
			assert_int_equal(e.type, s.type);
		}
		ekp_symtab_free(map);
	}
	ekp_symtab_free(st);
}

static void test_elf_relocatable(void **state)
{
	struct ekp_symtab *st;
	struct ekp_sym s;

	(void)state;
	if (!build_prog())
		skip();
	/* An object file: section-relative values, as nm shows them. */
	assert_int_equal(ekp_symtab_load(t_tmp_path("prog.o"), &st), 0);
	assert_int_equal(ekp_symtab_lookup(st, "api_func", &s), 0);
	assert_int_equal(s.type, 'T');
	assert_int_equal(ekp_symtab_lookup(st, "counter", &s), 0);
	assert_int_equal(s.type, 'D');
	ekp_symtab_free(st);
}

static void test_elf_bad(void **state)
{
	struct ekp_symtab *st = NULL;
	size_t len;
	uint8_t *data;

	(void)state;
	assert_int_equal(ekp_symtab_load_mem("\x7f" "ELX", 4, true, &st), -ENOEXEC);
	assert_int_equal(ekp_symtab_load_mem("", 0, true, &st), -ENOEXEC);
	if (!build_prog())
		skip();
	data = read_file(t_tmp_path("prog"), &len);
	/* Every truncation fails cleanly (or, short of the headers, still loads). */
	for (size_t n = 0; n < len; n += (n < 256 ? 1 : 61)) {
		if (!ekp_symtab_load_mem(data, n, true, &st))
			ekp_symtab_free(st);
	}
	assert_int_equal(ekp_symtab_load_mem(data, len / 2, true, &st), -ENOEXEC);
	/* Byte flips in the headers must not crash either. */
	for (size_t i = 0; i < 64 && i < len; i++) {
		uint8_t save = data[i];

		data[i] ^= 0xff;
		if (!ekp_symtab_load_mem(data, len, true, &st))
			ekp_symtab_free(st);
		data[i] = save;
	}
	free(data);

	/* Stripped: "no symbol table". */
	if (run("cd %s && strip -o prog.stripped prog 2>/dev/null", t_tmp_dir()) == 0) {
		assert_int_equal(ekp_symtab_load(t_tmp_path("prog.stripped"), &st), -ENODATA);
		assert_non_null(strstr(ekp_errmsg(), "prog.stripped: no symbol table"));
	}
}

static void test_elf_dynsym(void **state)
{
	struct ekp_symtab *st;
	struct ekp_sym s;

	(void)state;
	if (!build_prog())
		skip();
	/* A stripped shared object has only .dynsym: the reader falls back to it. */
	if (run("cd %s && gcc -O1 -shared -fPIC -nostdlib -o prog.so prog.c 2>/dev/null && "
		"strip prog.so 2>/dev/null", t_tmp_dir()))
		skip();
	assert_int_equal(ekp_symtab_load(t_tmp_path("prog.so"), &st), 0);
	assert_int_equal(ekp_symtab_lookup(st, "api_func", &s), 0);
	assert_int_equal(s.type, 'T');
	assert_true(s.size > 0);
	assert_int_equal(ekp_symtab_lookup(st, "counter", &s), 0);
	assert_int_equal(s.type, 'D');
	assert_int_equal(ekp_symtab_lookup(st, "helper", &s), -ENOENT); /* static: not exported */
	ekp_symtab_free(st);
}

/* ---- the real vmlinux ---- */

static const char *vmlinux_path(void)
{
	const char *v = getenv("EKPROBE_VMLINUX");

	return v && *v ? v : NULL;
}

static const char *system_map_path(void)
{
	static char path[4096];
	const char *v = vmlinux_path(), *slash = strrchr(v, '/');

	if (getenv("EKPROBE_SYSTEM_MAP"))
		return getenv("EKPROBE_SYSTEM_MAP");
	snprintf(path, sizeof(path), "%.*sSystem.map", slash ? (int)(slash - v + 1) : 0, v);
	return path;
}

struct real {
	struct ekp_symtab *elf, *map;
};

static int real_setup(void **state)
{
	static struct real r;

	if (!vmlinux_path()) {
		*state = NULL;
		return 0;
	}
	if (ekp_symtab_load(vmlinux_path(), &r.elf)) {
		fprintf(stderr, "%s\n", ekp_errmsg());
		return -1;
	}
	if (ekp_symtab_load(system_map_path(), &r.map)) {
		fprintf(stderr, "%s\n", ekp_errmsg());
		return -1;
	}
	*state = &r;
	return 0;
}

static int real_teardown(void **state)
{
	struct real *r = *state;

	if (r) {
		ekp_symtab_free(r->elf);
		ekp_symtab_free(r->map);
	}
	return 0;
}

static void test_real_symbols(void **state)
{
	static const char *funcs[] = {
		"startup_64", "secondary_startup_64", "__startup_64", "x86_64_start_kernel",
		"x86_64_start_reservations", "start_kernel", "rest_init", "kernel_init",
		"do_one_initcall", "_printk", "panic", "schedule", "init_task", "early_setup_idt",
	};
	struct real *r = *state;
	struct ekp_sym e, m;
	uint64_t off;

	if (!r)
		skip();
	assert_true(ekp_symtab_has_image(r->elf));
	assert_false(ekp_symtab_has_image(r->map));
	expect_sym(r->elf, "startup_64", 0xffffffff81000000ull, 'T');
	expect_sym(r->map, "startup_64", 0xffffffff81000000ull, 'T');
	assert_int_equal(ekp_symtab_lookup(r->elf, "start_kernel", &e), 0);
	assert_int_equal(e.type, 'T');
	assert_true(e.size > 0);
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		if (ekp_symtab_lookup(r->elf, funcs[i], &e) || ekp_symtab_lookup(r->map, funcs[i], &m))
			fail_msg("%s: %s", funcs[i], ekp_errmsg());
		assert_int_equal(e.addr, m.addr);
		assert_int_equal(e.type, m.type);
	}
	/* A static inline helper emitted out of line in dozens of files. */
	assert_int_equal(ekp_symtab_lookup(r->elf, "cpu_online", &e), -ENOTUNIQ);
	assert_non_null(strstr(ekp_errmsg(), "ambiguous"));
	assert_non_null(strstr(ekp_errmsg(), "0xffffffff8"));
	assert_int_equal(ekp_symtab_lookup(r->map, "cpu_online", &m), -ENOTUNIQ);

	assert_int_equal(ekp_symtab_lookup(r->elf, "start_kernel", &e), 0);
	expect_addr2sym(r->elf, e.addr + 5, "start_kernel", 5);
	expect_addr2sym(r->map, e.addr + 5, "start_kernel", 5);
	expect_addr2sym(r->elf, 0xffffffff81000000ull, "startup_64", 0);
	expect_addr2sym(r->map, 0xffffffff81000000ull, "startup_64", 0);
	/* The physical alias startup_64 first runs at has only the absolute phys_startup_64. */
	expect_sym(r->elf, "phys_startup_64", 0x1000000, 'A');
	assert_int_equal(ekp_symtab_addr2sym(r->elf, 0x1000000, &e, &off), -ENOENT);
	assert_int_equal(ekp_symtab_addr2sym(r->map, 0x1000000, &m, &off), -ENOENT);
}

static void test_real_image(void **state)
{
	struct real *r = *state;
	struct ekp_sym s;
	uint8_t *buf, code[32], want[32];
	char cmd[8192], line[512];
	size_t nwant = 0;
	FILE *f;

	if (!r)
		skip();
	assert_int_equal(ekp_symtab_lookup(r->elf, "init_task", &s), 0);
	assert_true(s.size > 0 && s.size < (1u << 20));
	buf = malloc(s.size);
	assert_non_null(buf);
	assert_int_equal(ekp_symtab_read(r->elf, s.addr, buf, s.size), 0);
	assert_non_null(memmem(buf, s.size, "swapper", 7));
	free(buf);

	assert_int_equal(ekp_symtab_lookup(r->elf, "__log_buf", &s), 0); /* .bss */
	assert_int_equal(s.type, 'b');
	assert_int_equal(ekp_symtab_read(r->elf, s.addr, code, 8), -ENODATA);

	assert_int_equal(ekp_symtab_lookup(r->elf, "start_kernel", &s), 0);
	assert_int_equal(ekp_symtab_read(r->elf, s.addr, code, sizeof(code)), 0);
	snprintf(cmd, sizeof(cmd), "objdump -d --start-address=0x%" PRIx64 " --stop-address=0x%"
		 PRIx64 " '%s' 2>/dev/null", s.addr, s.addr + sizeof(code), vmlinux_path());
	f = popen(cmd, "r");
	if (!f)
		skip();
	/* "ffffffff818ffbb6:\t41 57                \tpush   %r15" */
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':'), *tab;

		if (!p || strncmp(line, "ffffffff", 8) || !(p = strchr(p, '\t')))
			continue;
		tab = strchr(p + 1, '\t');
		if (tab)
			*tab = '\0';
		for (char *t = strtok(p + 1, " \t\n"); t && nwant < sizeof(want); t = strtok(NULL, " \t\n"))
			want[nwant++] = (uint8_t)strtoul(t, NULL, 16);
	}
	pclose(f);
	if (!nwant)
		skip(); /* no objdump */
	assert_int_equal(nwant, sizeof(code));
	assert_memory_equal(code, want, sizeof(code));
}

/* ---- what --symbols may name: a regular file only ---- */

static void expect_refused(const char *path, int err, const char *what)
{
	struct ekp_symtab *st = (void *)1;
	char want[512];
	int got;

	got = ekp_symtab_load(path, &st);
	snprintf(want, sizeof(want), "%s: not a regular file (%s)", path, what);
	if (got != err || strcmp(ekp_errmsg(), want))
		fail_msg("%s: got %d \"%s\", expected %d \"%s\"", path, got, ekp_errmsg(), err, want);
	assert_null(st);
}

static void test_not_regular(void **state)
{
	static const char map[] = "ffffffff81000000 T a\nffffffff81000010 T b\n";
	const char *fifo = t_tmp_path("fifo");
	char path[64];
	int p[2];

	(void)state;
	/* A FIFO with no writer used to block open() forever, /dev/zero to be read for 1 GiB. */
	alarm(30);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	expect_refused(fifo, -EINVAL, "a FIFO or pipe");
	unlink(fifo);
	expect_refused("/dev/zero", -EINVAL, "a character device");
	expect_refused(t_tmp_dir(), -EISDIR, "a directory");
	/* A pipe holding a whole System.map is refused too: symbols are mapped and re-read. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], map, sizeof(map) - 1), (ssize_t)(sizeof(map) - 1));
	close(p[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	expect_refused(path, -EINVAL, "a FIFO or pipe");
	close(p[0]);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_basic),
		cmocka_unit_test(test_map_kallsyms),
		cmocka_unit_test(test_map_malformed),
		cmocka_unit_test(test_not_regular),
		cmocka_unit_test(test_elf_small),
		cmocka_unit_test(test_elf_relocatable),
		cmocka_unit_test(test_elf_dynsym),
		cmocka_unit_test(test_elf_bad),
	};
	const struct CMUnitTest real[] = {
		cmocka_unit_test(test_real_symbols),
		cmocka_unit_test(test_real_image),
	};
	int fails = cmocka_run_group_tests_name("symbols", tests, NULL, NULL);

	fails += cmocka_run_group_tests_name("symbols-vmlinux", real, real_setup, real_teardown);
	t_tmp_remove();
	return fails ? 1 : 0;
}
