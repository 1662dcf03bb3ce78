// SPDX-License-Identifier: GPL-2.0
/* Fetch-arg evaluation over fake registers and memory, and the text/JSON formats. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "arch/x86_64/x86_64.h"
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
	struct ekp_parse_error perr;
	struct ekp_probe *p = NULL;

	if (ekp_probe_parse(text, &ekp_arch_x86_64, &p, &perr) != 0)
		fail_msg("parse '%s': col %u: %s", text, perr.column, perr.reason);
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
	assert_string_equal(b.data, "       swapper/0-1       [001]     1.234567: kprobes/ret: "
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
