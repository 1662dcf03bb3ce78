// SPDX-License-Identifier: GPL-2.0
/* Fetch-arg evaluation over fake registers and memory, and the text/JSON formats. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "host/fetch/eval.h"
#include "host/sinks/sink.h"
#include "host/fetch/task.h"

/* Guest memory: 4 KiB at 0xffff888000001000; everything else faults. */
#define MEM_BASE 0xffff888000001000ull
static uint8_t mem[4096];

static unsigned int reads, page_crossings;

static int fake_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	(void)opaque;
	reads++;
	if (len && (addr & ~4095ull) != ((addr + len - 1) & ~4095ull))
		page_crossings++;
	if (addr < MEM_BASE || addr + len > MEM_BASE + sizeof(mem) || addr + len < addr)
		return -EFAULT;
	memcpy(buf, mem + (addr - MEM_BASE), len);
	return 0;
}

static void put64(uint64_t addr, uint64_t v)
{
	memcpy(mem + (addr - MEM_BASE), &v, 8);
}

static struct ekp_probe *parse(const char *text)
{
	struct ekp_probe *p = NULL;
	unsigned int col;
	int ret = ekp_probe_parse(text, &ekp_arch_x86_64, &p, &col);

	if (ret != 0)
		fail_msg("parse '%s': col %u: %s", text, col, ekp_errstr(ret));
	return p;
}

static void eval_all(struct ekp_probe *p, struct ekp_regs *regs, struct ekp_value *vals)
{
	struct ekp_task task = { .known = true, .pid = 7 };
	struct ekp_fetch_ctx ctx = { .arch = &ekp_arch_x86_64, .regs = regs,
				     .read_mem = fake_read, .task = &task };

	strcpy(task.comm, "modprobe");
	for (unsigned int i = 0; i < p->nr_args; i++)
		assert_int_equal(ekp_fetch_arg(&ctx, &p->args[i], &vals[i]), 0);
}

static struct ekp_regs regs_with(uint64_t di, uint64_t sp)
{
	struct ekp_regs r = { .valid = (1ull << X86_64_NR_REGS) - 1 };

	r.val[X86_64_DI] = di;
	r.val[X86_64_SP] = sp;
	r.val[X86_64_SI] = 0xfffffffffffffffeull;
	r.val[X86_64_AX] = 0x1234;
	r.val[X86_64_IP] = 0xffffffff81000000ull;
	return r;
}

static void test_registers_and_types(void **state)
{
	struct ekp_probe *p = parse("p:g/e start_kernel a=%di b=%si:s8 c=%si:u16 d=%ax:x32 e=$stack");
	struct ekp_regs r = regs_with(42, MEM_BASE + 0x100);
	struct ekp_value v[5];
	struct ekp_buf b = { 0 };

	(void)state;
	eval_all(p, &r, v);
	assert_int_equal(v[0].u[0], 42);
	assert_int_equal(v[2].u[0], 0xfffe);
	for (unsigned int i = 0; i < 5; i++) {
		ekp_format_value(&b, &p->args[i], &v[i], NULL);
		ekp_buf_append(&b, " ", 1);
	}
	/* Default type is x64 (the kernel's default on 64-bit); s8 of 0xfe is -2. */
	assert_string_equal(b.data, "0x2a -2 65534 0x1234 0xffff888000001100 ");
	ekp_buf_free(&b);
	ekp_probe_free(p);
}

static void test_memory_deref_string_and_faults(void **state)
{
	struct ekp_probe *p = parse("p:g/e start_kernel s=+0(+8(%di)):string n=+16(%di):u32 "
				    "bad=+0(%si):u64 arr=+16(%di):u8[4] st=$stack1 a7=$arg7");
	uint64_t obj = MEM_BASE + 0x200, str = MEM_BASE + 0x300, sp = MEM_BASE + 0x400;
	struct ekp_regs r = regs_with(obj, sp);
	struct ekp_value v[6];
	struct ekp_buf b = { 0 };

	(void)state;
	memset(mem, 0, sizeof(mem));
	put64(obj + 8, str);
	put64(obj + 16, 0x04030201);
	strcpy((char *)mem + (str - MEM_BASE), "console=ttyS0");
	put64(sp + 8, 0xdead);  /* $stack1, and $arg7: the first stack-passed argument */
	eval_all(p, &r, v);
	assert_string_equal(v[0].str, "console=ttyS0");
	assert_int_equal(v[1].u[0], 0x04030201);
	assert_int_equal(v[2].err, -EFAULT);
	assert_int_equal(v[3].count, 4);
	assert_int_equal(v[3].u[3], 4);
	assert_int_equal(v[4].u[0], 0xdead);
	assert_int_equal(v[5].u[0], 0xdead);
	for (unsigned int i = 0; i < 4; i++) {
		ekp_format_value(&b, &p->args[i], &v[i], NULL);
		ekp_buf_append(&b, " ", 1);
	}
	assert_string_equal(b.data, "\"console=ttyS0\" 67305985 (fault) {1,2,3,4} ");
	ekp_buf_free(&b);
	ekp_probe_free(p);
}

/* One string argument at addr, as the trap engine reads it. */
static struct ekp_value string_at(uint64_t addr)
{
	char spec[96];
	struct ekp_probe *p;
	struct ekp_regs r = regs_with(addr, MEM_BASE);
	struct ekp_value v;

	snprintf(spec, sizeof(spec), "p:g/e start_kernel s=+0(%%di):string");
	p = parse(spec);
	eval_all(p, &r, &v);
	ekp_probe_free(p);
	return v;
}

/*
 * Strings as the kernel's kprobe events read them (strncpy_from_kernel_nofault over
 * MAX_STRING_SIZE bytes): a byte that cannot be read before the NUL faults the whole string,
 * wherever it is; 255 characters are kept, a longer string is truncated ("...").
 */
static void test_strings(void **state)
{
	struct ekp_value v;
	char want[256];

	(void)state;
	memset(mem, 'a', sizeof(mem));
	mem[100] = '\0';
	/* Complete, and the empty string. */
	v = string_at(MEM_BASE + 90);
	assert_int_equal(v.err, 0);
	assert_string_equal(v.str, "aaaaaaaaaa");
	assert_false(v.str_truncated);
	v = string_at(MEM_BASE + 100);
	assert_int_equal(v.err, 0);
	assert_string_equal(v.str, "");
	/* Running into unreadable memory after a few readable bytes: a fault, nothing kept. */
	v = string_at(MEM_BASE + sizeof(mem) - 3);
	assert_int_equal(v.err, -EFAULT);
	assert_string_equal(v.str, "");
	/* Exactly 255 characters: complete. 256: truncated to 255. */
	mem[100] = 'a';
	mem[1000 + 255] = '\0';
	memset(want, 'a', 255);
	want[255] = '\0';
	v = string_at(MEM_BASE + 1000);
	assert_int_equal(v.err, 0);
	assert_string_equal(v.str, want);
	assert_false(v.str_truncated);
	v = string_at(MEM_BASE + 999);
	assert_int_equal(v.err, 0);
	assert_string_equal(v.str, want);
	assert_true(v.str_truncated);
	/* Longer than what is kept, and faulting before its NUL: the kernel reads on, and says
	 * (fault); so do we. */
	mem[1000 + 255] = 'a';
	v = string_at(MEM_BASE + 1000);
	assert_int_equal(v.err, -EFAULT);
	/* No NUL within the 4096 bytes the kernel reads, all readable: cut, not a fault. */
	reads = page_crossings = 0;
	v = string_at(MEM_BASE);
	assert_int_equal(v.err, 0);
	assert_string_equal(v.str, want);
	assert_true(v.str_truncated);
	/* One byte further, the 4096th byte is unreadable: a fault. */
	v = string_at(MEM_BASE + 1);
	assert_int_equal(v.err, -EFAULT);
	/* No read crossed into the next page (an unreadable page fails only the reads of it). */
	assert_int_equal(page_crossings, 0);
	assert_true(reads < 64);
}

static void test_text_and_json_lines(void **state)
{
	struct ekp_probe *p = parse("r:kprobes/ret do_one_initcall rv=$retval:s32 c=$comm");
	struct ekp_regs r = regs_with(0, MEM_BASE);
	struct ekp_value v[2];
	struct ekp_buf b = { 0 };
	json_t *j;
	json_error_t jerr;

	(void)state;
	r.val[X86_64_AX] = (uint64_t)-19;
	eval_all(p, &r, v);
	p->addr = 0xffffffff81000cadull;
	struct ekp_event ev = {
		.probe = p, .kind = EKP_PROBE_RETURN, .addr = p->addr, .ret_addr = 0xffffffff81001234ull,
		.cpu = 1, .ts_ns = 1234567890ull, .engine = "trap",
		.task = { .known = true, .pid = 1, .comm = "swapper/0" }, .nr_values = 2, .values = v,
	};
	assert_int_equal(ekp_format_text(&b, &ev, NULL), 0);
	assert_string_equal(b.data, "       swapper/0-1       [001]     1.234568: kprobes/ret: "
			    "(0xffffffff81001234 <- 0xffffffff81000cad) rv=-19 c=\"modprobe\"\n");
	ekp_buf_reset(&b);
	assert_int_equal(ekp_format_json(&b, &ev, NULL), 0);
	j = json_loads(b.data, 0, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "probe")), "kprobes/ret");
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "return");
	assert_string_equal(json_string_value(json_object_get(j, "addr")), "0xffffffff81000cad");
	assert_int_equal(json_integer_value(json_object_get(j, "ts_ns")), 1234567890);
	assert_int_equal(json_integer_value(json_object_get(j, "cpu")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "args"), "rv")), -19);
	json_decref(j);
	ekp_buf_free(&b);
	ekp_probe_free(p);
}

/*
 * Guest strings: comm, string values, immediate strings. Each raw value with the text both
 * formats must show for it (C-style escapes; valid UTF-8 other than C1 controls kept as is).
 */
static const struct {
	const char *raw, *shown;
} guest_strings[] = {
	{ "new\nline", "new\\nline" },
	{ "cr\rhere", "cr\\rhere" },
	{ "tab\there", "tab\\there" },
	{ "quo\"te", "quo\\\"te" },
	{ "back\\slash", "back\\\\slash" },
	{ "del\x7f", "del\\x7f" },
	{ "ff\xff", "ff\\xff" },
	{ "esc\x1b[2J", "esc\\x1b[2J" },
	{ "over\xc0\xaf", "over\\xc0\\xaf" },         /* overlong '/' */
	{ "over3\xe0\x80\xaf", "over3\\xe0\\x80\\xaf" },
	{ "surr\xed\xa0\x80", "surr\\xed\\xa0\\x80" }, /* a UTF-16 surrogate */
	{ "cut\xe6\x97", "cut\\xe6\\x97" },           /* a sequence cut short */
	{ "big\xf4\x90\x80\x80", "big\\xf4\\x90\\x80\\x80" }, /* above U+10FFFF */
	{ "c1\xc2\x9b", "c1\\xc2\\x9b" },             /* CSI, a C1 control */
	{ "caf\xc3\xa9", "caf\xc3\xa9" },             /* valid UTF-8 stays */
	{ "\xe6\x97\xa5\xf0\x9f\x98\x80", "\xe6\x97\xa5\xf0\x9f\x98\x80" },
};

/* Undo the escapes, to check that nothing is lost. */
static size_t unescape(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (*s != '\\') {
			out[n++] = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': out[n++] = '\n'; s++; break;
		case 'r': out[n++] = '\r'; s++; break;
		case 't': out[n++] = '\t'; s++; break;
		case 'x': {
			char hex[3] = { s[1], s[2], 0 };

			out[n++] = (char)strtoul(hex, NULL, 16);
			s += 3;
			break;
		}
		default: out[n++] = *s++; break;
		}
	}
	out[n] = '\0';
	return n;
}

static const char *const event_keys[] = {
	"probe", "kind", "addr", "sym", "cpu", "ts_ns", "engine", "comm", "pid", "args",
};

static json_t *parse_event_line(const struct ekp_buf *b)
{
	json_error_t jerr;
	json_t *j;

	assert_true(b->len > 0 && b->data[b->len - 1] == '\n');
	assert_null(memchr(b->data, '\n', b->len - 1));
	j = json_loads(b->data, 0, &jerr);
	if (!j)
		fail_msg("not JSON (%s): %s", jerr.text, b->data);
	for (size_t i = 0; i < sizeof(event_keys) / sizeof(event_keys[0]); i++)
		if (!json_object_get(j, event_keys[i]))
			fail_msg("key %s missing: %s", event_keys[i], b->data);
	return j;
}

/* One line, and nothing a terminal would act on. */
static void assert_one_clean_line(const struct ekp_buf *b)
{
	assert_true(b->len > 0 && b->data[b->len - 1] == '\n');
	for (size_t i = 0; i + 1 < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (c < 0x20 || c == 0x7f)
			fail_msg("byte 0x%02x at %zu in: %s", c, i, b->data);
	}
}

static void test_guest_strings_escaped(void **state)
{
	struct ekp_probe *p = parse("p:g/e start_kernel c=$comm s=+0(%di):string i=\\\"imm\"");
	struct ekp_value v[3];
	struct ekp_buf b = { 0 }, want = { 0 };
	char back[256];

	(void)state;
	for (size_t k = 0; k < sizeof(guest_strings) / sizeof(guest_strings[0]); k++) {
		const char *raw = guest_strings[k].raw, *shown = guest_strings[k].shown;
		struct ekp_event ev = {
			.probe = p, .kind = EKP_PROBE_ENTRY, .addr = 0xffffffff81000000ull, .cpu = 0,
			.ts_ns = 1, .engine = "trap", .task = { .known = true, .pid = 5 },
			.nr_values = 3, .values = v,
		};
		json_t *j, *args;

		assert_true(strlen(raw) < sizeof(ev.task.comm));
		strcpy(ev.task.comm, raw);
		memset(v, 0, sizeof(v));
		for (unsigned int i = 0; i < 3; i++)
			strcpy(v[i].str, raw);

		ekp_buf_reset(&b);
		assert_int_equal(ekp_format_text(&b, &ev, NULL), 0);
		assert_one_clean_line(&b);
		ekp_buf_reset(&want);
		ekp_buf_printf(&want, "%16s-5       [000]", shown);
		if (strncmp(b.data, want.data, want.len))
			fail_msg("case %zu: task not shown as '%s': %s", k, want.data, b.data);
		ekp_buf_reset(&want);
		ekp_buf_printf(&want, " c=\"%s\" s=\"%s\" i=\"%s\"\n", shown, shown, shown);
		assert_true(b.len > want.len);
		assert_string_equal(b.data + b.len - want.len, want.data);

		ekp_buf_reset(&b);
		assert_int_equal(ekp_format_json(&b, &ev, NULL), 0);
		j = parse_event_line(&b);
		args = json_object_get(j, "args");
		assert_string_equal(json_string_value(json_object_get(j, "comm")), shown);
		assert_int_equal(json_integer_value(json_object_get(j, "pid")), 5);
		for (unsigned int i = 0; i < 3; i++)
			assert_string_equal(json_string_value(json_object_get(args, p->args[i].name)),
					    shown);
		unescape(json_string_value(json_object_get(j, "comm")), back);
		assert_string_equal(back, raw);
		json_decref(j);
	}
	ekp_buf_free(&want);
	ekp_buf_free(&b);
	ekp_probe_free(p);
}

/* Symbol names come from a file (vmlinux or System.map): the same escapes apply. */
static void test_symbol_names_escaped(void **state)
{
	static const char map[] = "ffffffff81000000 T we\"ird\xff\\name\n"
				  "ffffffff81000100 T next\n";
	struct ekp_probe *p = parse("p:g/e start_kernel");
	struct ekp_symtab *st = NULL;
	struct ekp_buf b = { 0 };
	struct ekp_event ev = {
		.probe = p, .kind = EKP_PROBE_ENTRY, .addr = 0xffffffff81000010ull, .cpu = 0,
		.ts_ns = 1, .engine = "trap", .task = { .known = true, .idle = true },
	};
	json_t *j;

	(void)state;
	assert_int_equal(ekp_symtab_load_mem(map, sizeof(map) - 1, false, &st), 0);
	assert_int_equal(ekp_format_text(&b, &ev, st), 0);
	assert_one_clean_line(&b);
	assert_non_null(strstr(b.data, ": g/e: (we\\\"ird\\xff\\\\name+0x10)\n"));
	ekp_buf_reset(&b);
	assert_int_equal(ekp_format_json(&b, &ev, st), 0);
	j = parse_event_line(&b);
	assert_string_equal(json_string_value(json_object_get(j, "sym")),
			    "we\\\"ird\\xff\\\\name+0x10");
	json_decref(j);
	ekp_buf_free(&b);
	ekp_symtab_free(st);
	ekp_probe_free(p);
}

/* cpu and ts_ns are unsigned: the largest values print as such, exactly, in both formats. */
static void test_unsigned_cpu_and_time(void **state)
{
	struct ekp_probe *p = parse("p:g/e start_kernel");
	struct ekp_buf b = { 0 };
	struct ekp_event ev = {
		.probe = p, .kind = EKP_PROBE_ENTRY, .addr = 0xffffffff81000000ull,
		.cpu = 0x80000000u, .ts_ns = UINT64_MAX, .engine = "jump",
		.task = { .known = true, .idle = true },
	};
	json_error_t jerr;
	json_t *j;

	(void)state;
	assert_int_equal(ekp_format_text(&b, &ev, NULL), 0);
	assert_non_null(strstr(b.data, " [2147483648] 18446744073.709552: g/e: "));
	ekp_buf_reset(&b);
	assert_int_equal(ekp_format_json(&b, &ev, NULL), 0);
	assert_non_null(strstr(b.data, ",\"cpu\":2147483648,\"ts_ns\":18446744073709551615,"));
	/* jansson reads integers as int64: past 2^63 it needs numbers as reals. */
	j = json_loads(b.data, JSON_DECODE_INT_AS_REAL, &jerr);
	if (!j)
		fail_msg("not JSON (%s): %s", jerr.text, b.data);
	assert_true(json_real_value(json_object_get(j, "ts_ns")) > 1.8e19);
	json_decref(j);

	ev.cpu = UINT32_MAX;
	ev.ts_ns = (1ull << 63) + 1;
	ekp_buf_reset(&b);
	assert_int_equal(ekp_format_json(&b, &ev, NULL), 0);
	assert_non_null(strstr(b.data, ",\"cpu\":4294967295,\"ts_ns\":9223372036854775809,"));
	ekp_buf_reset(&b);
	assert_int_equal(ekp_format_text(&b, &ev, NULL), 0);
	assert_non_null(strstr(b.data, " [4294967295] 9223372036.854776: g/e: "));
	ekp_buf_free(&b);
	ekp_probe_free(p);
}

/*
 * Which task: a fake per-CPU area and task_struct in the fake memory. Layout: current_task at
 * per-CPU offset 0x10, pid at 0x80 and comm at 0x100 in task_struct.
 */
#define INIT_TASK 0xffffffff82a0c940ull
static const struct ekp_task_layout task_layout = {
	.have_current = true, .current_sym = 0x10, .init_task = INIT_TASK,
	.have_fields = true, .comm_off = 0x100, .pid_off = 0x80,
};

static struct ekp_task read_task(uint64_t gs_base, uint64_t cs)
{
	struct ekp_regs r = regs_with(0, MEM_BASE);
	struct ekp_task t;

	r.val[X86_64_GS_BASE] = gs_base;
	r.val[X86_64_CS] = cs;
	assert_int_equal(ekp_task_read(&task_layout, &ekp_arch_x86_64, &r, fake_read, NULL, &t), 0);
	return t;
}

static void put_task(uint64_t task, int pid, const char *comm)
{
	memcpy(mem + (task - MEM_BASE) + 0x80, &pid, 4);
	memset(mem + (task - MEM_BASE) + 0x100, 0, 16);
	memcpy(mem + (task - MEM_BASE) + 0x100, comm, strlen(comm));
}

static void assert_task_unknown(const struct ekp_task *t, const char *what)
{
	struct ekp_probe *p = parse("p:g/e start_kernel");
	struct ekp_event ev = {
		.probe = p, .kind = EKP_PROBE_ENTRY, .addr = 0xffffffff81000000ull, .ts_ns = 1,
		.engine = "trap", .task = *t,
	};
	struct ekp_buf b = { 0 };
	json_t *j;

	if (t->known)
		fail_msg("%s: shown as known (pid %d, idle %d)", what, t->pid, t->idle);
	assert_int_equal(ekp_format_text(&b, &ev, NULL), 0);
	assert_non_null(strstr(b.data, "           <...>-?       [000]"));
	ekp_buf_reset(&b);
	assert_int_equal(ekp_format_json(&b, &ev, NULL), 0);
	j = parse_event_line(&b);
	assert_true(json_is_null(json_object_get(j, "comm")));
	assert_true(json_is_null(json_object_get(j, "pid")));
	json_decref(j);
	ekp_buf_free(&b);
	ekp_probe_free(p);
}

static void test_task_read(void **state)
{
	uint64_t pcpu = MEM_BASE, task = MEM_BASE + 0x400, idle2 = MEM_BASE + 0x800;
	struct ekp_task t;

	(void)state;
	memset(mem, 0, sizeof(mem));
	put_task(task, 42, "sh");
	put_task(idle2, 0, "swapper/1");

	put64(pcpu + 0x10, task);
	t = read_task(pcpu, 0x10);
	assert_true(t.known && !t.idle);
	assert_int_equal(t.pid, 42);
	assert_string_equal(t.comm, "sh");
	/* Really pid 0: no per-CPU base yet, init_task, another CPU's idle task. */
	t = read_task(0, 0x10);
	assert_true(t.known && t.idle);
	put64(pcpu + 0x10, INIT_TASK);
	t = read_task(pcpu, 0x10);
	assert_true(t.known && t.idle);
	put64(pcpu + 0x10, idle2);
	t = read_task(pcpu, 0x10);
	assert_true(t.known && t.idle);
	/* Everything else that fails is unknown, never idle. */
	t = read_task(0xffff888010000000ull, 0x10);
	assert_task_unknown(&t, "current_task unreadable");
	t = read_task(MEM_BASE + sizeof(mem) - 4 - 0x10, 0x10);
	assert_task_unknown(&t, "current_task read short");
	put64(pcpu + 0x10, 0x1234);
	t = read_task(pcpu, 0x10);
	assert_task_unknown(&t, "current_task not a kernel pointer");
	put64(pcpu + 0x10, MEM_BASE + sizeof(mem) - 0x90);
	t = read_task(pcpu, 0x10);
	assert_task_unknown(&t, "task_struct read short");
	put64(pcpu + 0x10, task);
	put_task(task, -3, "sh");
	t = read_task(pcpu, 0x10);
	assert_task_unknown(&t, "negative pid");
	put_task(task, 42, "sh");
	t = read_task(pcpu, 0x33);
	assert_task_unknown(&t, "user mode");
}

static void test_task_layout_from_image(void **state)
{
	uint8_t img[2048] = { 0 };
	uint64_t self = 0xffffffff81813a40ull;
	struct ekp_task_layout l = { 0 };

	(void)state;
	memcpy(img + 0x488, &self, 8); /* real_parent */
	memcpy(img + 0x490, &self, 8); /* parent */
	memcpy(img + 0x5f0, "swapper\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(ekp_task_layout_from_image(&l, img, sizeof(img), self, false), 0);
	assert_int_equal(l.comm_off, 0x5f0);
	assert_int_equal(l.pid_off, 0x480);
	assert_int_equal(ekp_task_layout_from_image(&l, img, sizeof(img), self, true), 0);
	assert_int_equal(l.pid_off, 0x478);
	memset(img + 0x5f0, 0, 16);
	assert_int_equal(ekp_task_layout_from_image(&l, img, sizeof(img), self, false), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registers_and_types),
		cmocka_unit_test(test_memory_deref_string_and_faults),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_text_and_json_lines),
		cmocka_unit_test(test_task_layout_from_image),
		cmocka_unit_test(test_guest_strings_escaped),
		cmocka_unit_test(test_symbol_names_escaped),
		cmocka_unit_test(test_unsigned_cpu_and_time),
		cmocka_unit_test(test_task_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
