// SPDX-License-Identifier: GPL-2.0
/* The kprobe_events parser (host/probes/parse.c) and the probe list (host/probes/list.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86_64/x86_64.h"
#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "tests/unit/helpers.h"

static const struct ekp_arch *X = &ekp_arch_x86_64;

/* Parse text that must be a good definition. */
static struct ekp_probe *ok(const char *text)
{
	struct ekp_probe *p = NULL;
	unsigned int col = ~0u;
	int ret = ekp_probe_parse(text, X, &p, &col);

	if (ret != 0)
		fail_msg("'%s': %d at %u: %s", text, ret, col, ekp_errstr(ret));
	assert_int_equal(col, 0);
	assert_non_null(p);
	return p;
}

/* Parse text that must fail at column col with a reason containing why. */
static void bad(const char *text, unsigned int col, const char *why)
{
	struct ekp_probe *p = (struct ekp_probe *)1;
	unsigned int got = ~0u;
	int ret;

	ekp_err_clear();
	ret = ekp_probe_parse(text, X, &p, &got);
	if (ret != -EINVAL)
		fail_msg("'%s': expected -EINVAL, got %d", text, ret);
	assert_null(p);
	/* The reason is ekp_err()'s, recorded for this very errno. */
	if (!strstr(ekp_errstr(ret), why))
		fail_msg("'%s': reason '%s' lacks '%s'", text, ekp_errstr(ret), why);
	if (got != col)
		fail_msg("'%s': column %u, expected %u (%s)", text, got, col, ekp_errstr(ret));
}

/* The single argument of "p foo <arg>" (entry) or "r foo <arg>". */
static struct ekp_probe *one_arg(const char *kind, const char *arg)
{
	char buf[256];
	struct ekp_probe *p;

	snprintf(buf, sizeof(buf), "%s foo %s", kind, arg);
	p = ok(buf);
	assert_int_equal(p->nr_args, 1);
	return p;
}

/* "p foo <arg>" must fail at column 7 + off (7 is where <arg> starts). */
static void bad_arg(const char *arg, unsigned int off, const char *why)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "p foo %s", arg);
	bad(buf, 7 + off, why);
}

/* ---- probe points, kinds, names ------------------------------------------------------------ */

static void test_entry_default(void **state __attribute__((unused)))
{
	struct ekp_probe *p = ok("p do_sys_open");

	assert_int_equal(p->kind, EKP_PROBE_ENTRY);
	assert_string_equal(p->group, "kprobes");
	assert_string_equal(p->event, "p_do_sys_open_0");
	assert_string_equal(p->sym, "do_sys_open");
	assert_null(p->module);
	assert_int_equal(p->offset, 0);
	assert_int_equal(p->maxactive, 0);
	assert_int_equal(p->nr_args, 0);
	assert_false(p->resolved);
	assert_string_equal(p->text, "p do_sys_open");
	assert_null(p->file);
	ekp_probe_free(p);
}

static void test_doc_examples(void **state __attribute__((unused)))
{
	struct ekp_probe *p;

	p = ok("p:myprobe do_sys_open dfd=%ax filename=%dx flags=%cx mode=+4($stack)");
	assert_string_equal(p->group, "kprobes");
	assert_string_equal(p->event, "myprobe");
	assert_int_equal(p->nr_args, 4);
	assert_string_equal(p->args[0].name, "dfd");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_REG);
	assert_int_equal(p->args[0].fetch->reg, X86_64_AX);
	assert_string_equal(p->args[1].name, "filename");
	assert_int_equal(p->args[1].fetch->reg, X86_64_DX);
	assert_int_equal(p->args[2].fetch->reg, X86_64_CX);
	assert_string_equal(p->args[3].name, "mode");
	assert_string_equal(p->args[3].text, "mode=+4($stack)");
	assert_int_equal(p->args[3].fetch->op, EKP_FETCH_DEREF);
	assert_int_equal(p->args[3].fetch->offset, 4);
	assert_int_equal(p->args[3].fetch->inner->op, EKP_FETCH_STACK);
	ekp_probe_free(p);

	p = ok("r:myretprobe do_sys_open $retval");
	assert_int_equal(p->kind, EKP_PROBE_RETURN);
	assert_string_equal(p->event, "myretprobe");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_RETVAL);
	assert_string_equal(p->args[0].name, "arg1");
	ekp_probe_free(p);
}

static void check_event(const char *text, const char *group, const char *event)
{
	struct ekp_probe *p = ok(text);

	assert_string_equal(p->group, group);
	assert_string_equal(p->event, event);
	ekp_probe_free(p);
}

static void test_default_names(void **state __attribute__((unused)))
{
	struct ekp_probe *p;
	char buf[200];

	check_event("r do_sys_open", "kprobes", "r_do_sys_open_0");
	check_event("p vfs_read+0x10", "kprobes", "p_vfs_read_16");
	check_event("p vfs_read+16", "kprobes", "p_vfs_read_16");
	check_event("p vfs_read+010", "kprobes", "p_vfs_read_8"); /* base 0: octal */
	check_event("p vfs_read+0", "kprobes", "p_vfs_read_0");
	check_event("p foo.isra.0+4", "kprobes", "p_foo_isra_0_4");
	check_event("p ext4:ext4_sync_fs", "kprobes", "p_ext4_ext4_sync_fs_0");
	check_event("p 0xffffffff81000000", "kprobes", "p_0xffffffff81000000");
	check_event("r 0x1000", "kprobes", "r_0x0000000000001000");
	check_event("p 4096", "kprobes", "p_0x0000000000001000");
	check_event("p:grp/ vfs_read", "grp", "p_vfs_read_0");
	check_event("p vfs_read%return", "kprobes", "r_vfs_read_0");

	/* Cut to 63 characters like the kernel's snprintf into MAX_EVENT_NAME_LEN. */
	snprintf(buf, sizeof(buf), "p %s+1",
		 "a_very_long_function_name.that_goes_on_and_on_and_on_and_on_and_on_and_on");
	p = ok(buf);
	assert_string_equal(p->event,
			    "p_a_very_long_function_name_that_goes_on_and_on_and_on_and_on_a");
	assert_int_equal(strlen(p->event), EKP_MAX_NAME - 1);
	ekp_probe_free(p);

	/* Pointer-size digits on a 32-bit arch. */
	{
		struct ekp_arch a32 = ekp_arch_x86_64;
		a32.ptr_size = 4;
		assert_int_equal(ekp_probe_parse("p 0x1000 %ax", &a32, &p, NULL), 0);
		assert_string_equal(p->event, "p_0x00001000");
		assert_int_equal(p->args[0].type.base, EKP_T_X);
		assert_int_equal(p->args[0].type.size, 4);
		ekp_probe_free(p);
	}
}

static void test_group_event(void **state __attribute__((unused)))
{
	check_event("p:grp/ev vfs_read", "grp", "ev");
	check_event("p:grp.ev vfs_read", "grp", "ev");
	check_event("p:my-grp/ev vfs_read", "my-grp", "ev");
	check_event("p:_e9 vfs_read", "kprobes", "_e9");
	check_event("r:g/e vfs_read", "g", "e");
	check_event("r5:g/e vfs_read", "g", "e");
	/* 63 characters is the longest name. */
	check_event("p:e23456789012345678901234567890123456789012345678901234567890123 x", "kprobes",
		    "e23456789012345678901234567890123456789012345678901234567890123");

	bad("p: vfs_read", 3, "missing event name");
	bad("p:/ev vfs_read", 3, "missing group name");
	bad("p:1ev vfs_read", 3, "bad event name '1ev'");
	bad("p:grp/e-v vfs_read", 7, "bad event name 'e-v'");
	bad("p:g+p/ev vfs_read", 3, "bad group name 'g+p'");
	bad("p:e234567890123456789012345678901234567890123456789012345678901234 x", 3,
	    "event name is too long");
	bad("p:g234567890123456789012345678901234567890123456789012345678901234/e x", 3,
	    "group name is too long");
}

static void test_maxactive(void **state __attribute__((unused)))
{
	struct ekp_probe *p;

	p = ok("r10 vfs_read");
	assert_int_equal(p->maxactive, 10);
	assert_int_equal(p->kind, EKP_PROBE_RETURN);
	assert_string_equal(p->event, "r_vfs_read_0");
	ekp_probe_free(p);
	p = ok("r0x10:ev vfs_read");
	assert_int_equal(p->maxactive, 16);
	ekp_probe_free(p);
	p = ok("r4096 vfs_read");
	assert_int_equal(p->maxactive, 4096);
	ekp_probe_free(p);

	bad("r0 vfs_read", 2, "bad MAXACTIVE '0'");
	bad("r12x:e vfs_read", 2, "bad MAXACTIVE '12x'");
	bad("r4097 vfs_read", 2, "MAXACTIVE 4097 is too big");
	bad("p5 vfs_read", 2, "MAXACTIVE is only for return probes");
}

static void test_probe_point(void **state __attribute__((unused)))
{
	struct ekp_probe *p;

	p = ok("p vfs_read+0x10");
	assert_string_equal(p->sym, "vfs_read");
	assert_int_equal(p->offset, 16);
	ekp_probe_free(p);

	p = ok("p ext4:ext4_sync_fs+4");
	assert_string_equal(p->module, "ext4");
	assert_string_equal(p->sym, "ext4_sync_fs");
	assert_int_equal(p->offset, 4);
	ekp_probe_free(p);

	p = ok("p 0xffffffff81000000");
	assert_null(p->sym);
	assert_int_equal(p->addr, 0xffffffff81000000ull);
	ekp_probe_free(p);

	p = ok("p:ev vfs_read%return $retval");
	assert_int_equal(p->kind, EKP_PROBE_RETURN);
	assert_string_equal(p->sym, "vfs_read");
	ekp_probe_free(p);

	p = ok("r vfs_read+0");
	assert_int_equal(p->offset, 0);
	ekp_probe_free(p);

	p = ok("p vfs_read+4294967295");
	assert_int_equal(p->offset, 4294967295ull);
	ekp_probe_free(p);

	bad("r vfs_read+4", 11, "return probe offset must be 0");
	bad("p vfs_read+4%return", 11, "return probe offset must be 0");
	bad("p vfs_read%ret", 11, "bad probe point suffix '%ret'");
	bad("p vfs_read-4", 11, "must not be negative");
	bad("p vfs_read+0x100000000", 11, "probe offset is too big");
	bad("p vfs_read+x", 11, "bad probe offset '+x'");
	bad("p vfs_read+", 11, "bad probe offset '+'");
	bad("p 1abc", 3, "bad probe address '1abc'");
	bad("p 0x1ffffffffffffffff", 3, "bad probe address");
	bad("p foo$bar", 3, "bad symbol name 'foo$bar'");
	bad("p mod-x:foo", 3, "bad module name 'mod-x'");
	bad("p :foo", 3, "bad module name ''");
	bad("p ext4:", 8, "bad symbol name ''");
	bad("p +4", 3, "bad symbol name ''");
	bad("p /bin/sh:0x10", 3, "uprobe syntax");
}

static void test_head_errors(void **state __attribute__((unused)))
{
	bad("x vfs_read", 1, "unknown probe type 'x'");
	bad("pxyz vfs_read", 1, "unknown probe type 'pxyz'");
	bad("pxyz:ev vfs_read", 1, "unknown probe type 'pxyz'");
	bad("p", 2, "missing probe point");
	bad("p:ev  ", 7, "missing probe point");
	bad("", 1, "empty probe definition");
	bad(" \t ", 1, "empty probe definition");
}

static void test_whitespace_columns(void **state __attribute__((unused)))
{
	struct ekp_probe *p = ok("\tp\tvfs_read \t %ax\t\t%bx  ");

	assert_int_equal(p->nr_args, 2);
	assert_string_equal(p->text, "p\tvfs_read \t %ax\t\t%bx");
	ekp_probe_free(p);

	bad("p\tfoo\t%bogus", 7, "unknown register '%bogus'");
	bad("   p foo %zz", 10, "unknown register '%zz'");
	bad("p foo %ax  \t %zz", 14, "unknown register '%zz'");
}

/* ---- fetch args ------------------------------------------------------------------------------- */

static void test_fetch_regs_vars(void **state __attribute__((unused)))
{
	struct ekp_probe *p;

	p = one_arg("p", "%ip");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_REG);
	assert_int_equal(p->args[0].fetch->reg, X86_64_IP);
	ekp_probe_free(p);
	p = one_arg("p", "%r15");
	assert_int_equal(p->args[0].fetch->reg, X86_64_R15);
	ekp_probe_free(p);
	bad_arg("%rax", 0, "unknown register '%rax'");
	bad_arg("%", 0, "unknown register '%'");
	bad_arg("%fs_base", 0, "unknown register");

	p = one_arg("p", "$arg1");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_ARG);
	assert_int_equal(p->args[0].fetch->n, 1);
	ekp_probe_free(p);
	p = one_arg("p", "$arg7");
	assert_int_equal(p->args[0].fetch->n, 7);
	ekp_probe_free(p);
	p = one_arg("p", "$arg2048");
	assert_int_equal(p->args[0].fetch->n, 2048);
	ekp_probe_free(p);
	p = ok("p foo+0 $arg1");
	ekp_probe_free(p);
	bad_arg("$arg0", 0, "bad argument number");
	bad_arg("$arg2049", 0, "bad argument number");
	bad_arg("$argx", 0, "unknown variable '$argx'");
	bad_arg("$arg", 0, "unknown variable '$arg'");
	bad("r foo $arg1", 7, "not available in return probes");
	bad("p foo%return $arg1", 14, "not available in return probes");
	bad("p foo+4 $arg1", 9, "only available at a function entry");
	bad("p 0x1000 $arg1", 10, "only available at a function entry");

	p = one_arg("p", "$stack");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_STACK);
	ekp_probe_free(p);
	p = one_arg("p", "$stack0");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_STACK_N);
	assert_int_equal(p->args[0].fetch->n, 0);
	ekp_probe_free(p);
	p = ok("p foo+8 $stack3"); /* $stackN is fine anywhere */
	assert_int_equal(p->args[0].fetch->n, 3);
	ekp_probe_free(p);
	bad_arg("$stack2049", 0, "bad stack index 2049");
	bad_arg("$stackx", 0, "unknown variable '$stackx'");
	bad_arg("$foo", 0, "unknown variable '$foo'");
	bad_arg("$", 0, "unknown variable '$'");

	p = one_arg("r", "$retval");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_RETVAL);
	ekp_probe_free(p);
	bad_arg("$retval", 0, "$retval is only valid for return probes");
	bad("p foo %ax x=$retval", 13, "$retval is only valid for return probes");

	p = one_arg("p", "$comm");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_COMM);
	assert_int_equal(p->args[0].type.base, EKP_T_STRING);
	assert_true(p->args[0].type.is_default);
	ekp_probe_free(p);
	p = one_arg("p", "$COMM:string");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_COMM);
	assert_int_equal(p->args[0].type.base, EKP_T_STRING);
	assert_false(p->args[0].type.is_default);
	ekp_probe_free(p);
	bad_arg("$comm:u32", 6, "$comm takes only type 'string'");
	bad_arg("$comm:string[2]", 6, "$comm takes only type 'string'");
}

static void test_fetch_mem_imm(void **state __attribute__((unused)))
{
	struct ekp_probe *p;
	struct ekp_fetch *f;

	p = one_arg("p", "@0xffffffff82000000");
	f = p->args[0].fetch;
	assert_int_equal(f->op, EKP_FETCH_MEM_ADDR);
	assert_int_equal(f->addr, 0xffffffff82000000ull);
	ekp_probe_free(p);

	p = one_arg("p", "@jiffies");
	f = p->args[0].fetch;
	assert_int_equal(f->op, EKP_FETCH_MEM_SYM);
	assert_string_equal(f->sym, "jiffies");
	assert_int_equal(f->sym_off, 0);
	assert_false(f->resolved);
	ekp_probe_free(p);

	p = one_arg("p", "@init_task+0x10");
	assert_string_equal(p->args[0].fetch->sym, "init_task");
	assert_int_equal(p->args[0].fetch->sym_off, 16);
	ekp_probe_free(p);
	p = one_arg("p", "@foo.bar-8");
	assert_string_equal(p->args[0].fetch->sym, "foo.bar");
	assert_int_equal(p->args[0].fetch->sym_off, -8);
	ekp_probe_free(p);

	bad_arg("@0xzz", 0, "bad memory address '@0xzz'");
	bad_arg("@+8", 0, "file offsets");
	bad_arg("@", 0, "missing address or symbol");
	bad_arg("@foo+bar", 4, "bad symbol offset '+bar'");
	bad_arg("@fo$o", 1, "bad symbol name 'fo$o'");

	p = one_arg("p", "\\1234");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_IMM);
	assert_int_equal(p->args[0].fetch->imm, 1234);
	assert_null(p->args[0].fetch->imm_str);
	ekp_probe_free(p);
	p = one_arg("p", "\\0x10");
	assert_int_equal(p->args[0].fetch->imm, 16);
	ekp_probe_free(p);
	p = one_arg("p", "\\-1");
	assert_int_equal(p->args[0].fetch->imm, UINT64_MAX);
	ekp_probe_free(p);
	p = one_arg("p", "\\+5");
	assert_int_equal(p->args[0].fetch->imm, 5);
	ekp_probe_free(p);
	bad_arg("\\abc", 1, "bad immediate value 'abc'");
	bad_arg("\\", 1, "bad immediate value ''");

	p = one_arg("p", "\\\"hello\"");
	assert_int_equal(p->args[0].fetch->op, EKP_FETCH_IMM);
	assert_string_equal(p->args[0].fetch->imm_str, "hello");
	assert_int_equal(p->args[0].type.base, EKP_T_STRING);
	assert_true(p->args[0].type.is_default);
	ekp_probe_free(p);
	p = one_arg("p", "s=\\\"\":string");
	assert_string_equal(p->args[0].fetch->imm_str, "");
	assert_false(p->args[0].type.is_default);
	ekp_probe_free(p);
	bad_arg("\\\"hello", 0, "unterminated string");
	bad_arg("\\\"", 0, "unterminated string");
	/* No quoting: whitespace ends the argument as in the kernel's argv_split(). */
	bad("p foo \\\"hello world\"", 7, "unterminated string");
	bad_arg("\\\"hi\":u8", 6, "an immediate string takes only type 'string'");
	bad_arg("\\\"a:b\"", 3, "':' can not appear in an immediate string");

	bad_arg("foo", 0, "invalid fetch argument 'foo'");
	bad_arg("1234", 0, "invalid fetch argument '1234'");
}

static void test_fetch_deref(void **state __attribute__((unused)))
{
	struct ekp_probe *p;
	struct ekp_fetch *f;

	p = one_arg("p", "+8(%di)");
	f = p->args[0].fetch;
	assert_int_equal(f->op, EKP_FETCH_DEREF);
	assert_int_equal(f->offset, 8);
	assert_false(f->user);
	assert_int_equal(f->inner->op, EKP_FETCH_REG);
	assert_int_equal(f->inner->reg, X86_64_DI);
	assert_null(f->inner->inner);
	ekp_probe_free(p);

	p = one_arg("p", "-0x10(%bp)");
	assert_int_equal(p->args[0].fetch->offset, -16);
	ekp_probe_free(p);
	p = one_arg("p", "+u4(%si)");
	assert_true(p->args[0].fetch->user);
	assert_int_equal(p->args[0].fetch->offset, 4);
	ekp_probe_free(p);
	p = one_arg("p", "-u4(%si)");
	assert_true(p->args[0].fetch->user);
	assert_int_equal(p->args[0].fetch->offset, -4);
	ekp_probe_free(p);

	p = one_arg("p", "+0(+8(@jiffies))");
	f = p->args[0].fetch;
	assert_int_equal(f->offset, 0);
	assert_int_equal(f->inner->op, EKP_FETCH_DEREF);
	assert_int_equal(f->inner->offset, 8);
	assert_int_equal(f->inner->inner->op, EKP_FETCH_MEM_SYM);
	ekp_probe_free(p);

	p = one_arg("p", "+0(\\0x1000)");
	assert_int_equal(p->args[0].fetch->inner->op, EKP_FETCH_IMM);
	ekp_probe_free(p);
	p = one_arg("r", "+0($retval):string");
	ekp_probe_free(p);

	/* EKP_MAX_DEREF_DEPTH (8) levels fit, 9 do not. */
	p = one_arg("p", "+0(+0(+0(+0(+0(+0(+0(+0(%ax))))))))");
	f = p->args[0].fetch;
	for (int i = 0; i < EKP_MAX_DEREF_DEPTH; i++) {
		assert_int_equal(f->op, EKP_FETCH_DEREF);
		f = f->inner;
	}
	assert_int_equal(f->op, EKP_FETCH_REG);
	ekp_probe_free(p);
	bad_arg("+0(+0(+0(+0(+0(+0(+0(+0(+0(%ax)))))))))", 24, "nested too deeply");

	bad_arg("+8%di", 0, "dereference needs '('");
	bad_arg("+8(%di", 2, "unclosed '('");
	bad_arg("+8(%di)x", 7, "unexpected 'x' after ')'");
	bad_arg("+x(%di)", 0, "bad dereference offset '+x'");
	bad_arg("+(%di)", 0, "bad dereference offset");
	bad_arg("+8(%bogus)", 3, "unknown register '%bogus'");
	bad_arg("+8(+4(%bogus))", 6, "unknown register '%bogus'");
	bad_arg("+0($comm)", 3, "$comm can not be dereferenced");
	bad_arg("+0(\\\"s\")", 3, "an immediate string can not be dereferenced");
	bad_arg("+8()", 3, "invalid fetch argument ''");
}

/* ---- types ---------------------------------------------------------------------------------------- */

static void check_type(const char *arg, enum ekp_type_base base, unsigned int size,
		       unsigned int array_len)
{
	struct ekp_probe *p = one_arg("p", arg);

	assert_int_equal(p->args[0].type.base, base);
	assert_int_equal(p->args[0].type.size, size);
	assert_int_equal(p->args[0].type.array_len, array_len);
	assert_false(p->args[0].type.is_default);
	ekp_probe_free(p);
}

static void test_types(void **state __attribute__((unused)))
{
	struct ekp_probe *p;

	p = one_arg("p", "%ax");
	assert_int_equal(p->args[0].type.base, EKP_T_X);
	assert_int_equal(p->args[0].type.size, 8);
	assert_true(p->args[0].type.is_default);
	assert_int_equal(p->args[0].type.array_len, 0);
	ekp_probe_free(p);

	check_type("%ax:u8", EKP_T_U, 1, 0);
	check_type("%ax:u16", EKP_T_U, 2, 0);
	check_type("%ax:u32", EKP_T_U, 4, 0);
	check_type("%ax:u64", EKP_T_U, 8, 0);
	check_type("%ax:s8", EKP_T_S, 1, 0);
	check_type("%ax:s16", EKP_T_S, 2, 0);
	check_type("%ax:s32", EKP_T_S, 4, 0);
	check_type("%ax:s64", EKP_T_S, 8, 0);
	check_type("%ax:x8", EKP_T_X, 1, 0);
	check_type("%ax:x16", EKP_T_X, 2, 0);
	check_type("%ax:x32", EKP_T_X, 4, 0);
	check_type("%ax:x64", EKP_T_X, 8, 0);
	check_type("%ax:symbol", EKP_T_SYMBOL, 8, 0);
	check_type("+0(%di):string", EKP_T_STRING, 0, 0);
	check_type("+u0(%di):string", EKP_T_STRING, 0, 0);
	check_type("+0(%di):ustring", EKP_T_USTRING, 0, 0);
	check_type("@jiffies:string", EKP_T_STRING, 0, 0);
	check_type("@0x1000:string", EKP_T_STRING, 0, 0);
	check_type("\\0x1000:string", EKP_T_STRING, 0, 0);
	check_type("+0(%di):x8[8]", EKP_T_X, 1, 8);
	check_type("+0(%di):u64[64]", EKP_T_U, 8, 64);
	check_type("@jiffies:s32[0x2]", EKP_T_S, 4, 2);
	check_type("+0(%di):string[2]", EKP_T_STRING, 0, 2);
	check_type("\\0x1000:string[2]", EKP_T_STRING, 0, 2);
	check_type("+0(%di):symbol[3]", EKP_T_SYMBOL, 8, 3);

	p = one_arg("p", "%ax:b4@2/32");
	assert_int_equal(p->args[0].type.base, EKP_T_BITFIELD);
	assert_int_equal(p->args[0].type.size, 4);
	assert_int_equal(p->args[0].type.bf_width, 4);
	assert_int_equal(p->args[0].type.bf_offset, 2);
	ekp_probe_free(p);
	p = one_arg("p", "+0(%di):b1@63/64[4]");
	assert_int_equal(p->args[0].type.size, 8);
	assert_int_equal(p->args[0].type.bf_offset, 63);
	assert_int_equal(p->args[0].type.array_len, 4);
	ekp_probe_free(p);
	check_type("%ax:b8@0/8", EKP_T_BITFIELD, 1, 0);
	check_type("%ax:b0x10@0x0/16", EKP_T_BITFIELD, 2, 0);

	bad_arg("%ax:u7", 4, "bad type 'u7'");
	bad_arg("%ax:", 4, "bad type ''");
	bad_arg("%ax:symstr", 4, "'symstr' is not supported");
	bad_arg("%ax:string", 4, "string type needs a memory fetch");
	bad_arg("$arg1:ustring", 6, "string type needs a memory fetch");
	bad_arg("x=$stack:string", 9, "string type needs a memory fetch");
	bad_arg("%ax:x8[8]", 4, "an array type needs a memory fetch");
	bad_arg("$stack1:x8[8]", 8, "an array type needs a memory fetch");
	bad_arg("\\1:x8[2]", 3, "an array type needs a memory fetch");
	bad_arg("+0(%di):x8[0]", 11, "bad array size '0'");
	bad_arg("+0(%di):x8[]", 11, "bad array size ''");
	bad_arg("+0(%di):x8[65]", 11, "array size 65 is too big");
	bad_arg("+0(%di):x8[4", 12, "array is not closed");
	bad_arg("+0(%di):x8[4]z", 13, "unexpected 'z' after ']'");
	bad_arg("+0(%di):u7[4]", 8, "bad type 'u7'");
	bad_arg("%ax:b0@0/32", 4, "bad bitfield");
	bad_arg("%ax:b4@/32", 4, "bad bitfield");
	bad_arg("%ax:b4/32", 4, "bad bitfield");
	bad_arg("%ax:b4@0/12", 4, "bad bitfield");
	bad_arg("%ax:b4@0/32x", 4, "bad bitfield");
	bad_arg("%ax:b4@30/32", 4, "does not fit in its 32-bit container");
	bad_arg("%ax:b65@0/64", 4, "does not fit");
	bad_arg("%ax:b4@0", 4, "bad type 'b4@0'");
	bad_arg("%ax:bogus", 4, "bad type 'bogus'");
}

/* ---- argument names and limits ------------------------------------------------------------------ */

static void test_arg_names(void **state __attribute__((unused)))
{
	struct ekp_probe *p;
	char buf[128];

	p = ok("p foo %ax x=%bx %cx");
	assert_string_equal(p->args[0].name, "arg1");
	assert_string_equal(p->args[1].name, "x");
	assert_string_equal(p->args[2].name, "arg3");
	assert_string_equal(p->args[2].text, "%cx");
	ekp_probe_free(p);

	p = ok("p foo a2345678901234567890123456789012=%ax");
	assert_int_equal(strlen(p->args[0].name), 32);
	ekp_probe_free(p);

	bad("p foo arg2=%ax %bx", 16, "argument name 'arg2' is already used");
	bad("p foo x=%ax x=%bx", 13, "argument name 'x' is already used");
	bad("p foo 1x=%ax", 7, "bad argument name '1x'");
	bad("p foo a.b=%ax", 7, "bad argument name 'a.b'");
	bad("p foo =%ax", 7, "missing argument name");
	bad("p foo x=", 9, "missing fetch argument");
	bad("p foo common_pid=%ax", 7, "argument name 'common_pid' is reserved");
	bad("p foo __probe_ip=%ax", 7, "is reserved");
	bad("p foo a23456789012345678901234567890123=%ax", 7, "argument name is too long");

	/* A fetch argument is at most 63 characters (MAX_ARGSTR_LEN): +<57 zeros>(%ax). */
	snprintf(buf, sizeof(buf), "p foo n=+%057d(%%ax)", 0);
	p = ok(buf);
	assert_int_equal(strlen(p->args[0].text) - 2, 63);
	ekp_probe_free(p);
	snprintf(buf, sizeof(buf), "p foo n=+%058d(%%ax)", 0);
	bad(buf, 9, "fetch argument is too long");
}

static void test_arg_limits(void **state __attribute__((unused)))
{
	char buf[4096];
	struct ekp_probe *p;
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "p foo");
	for (int i = 0; i < EKP_MAX_ARGS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %%ax");
	p = ok(buf);
	assert_int_equal(p->nr_args, EKP_MAX_ARGS);
	assert_string_equal(p->args[EKP_MAX_ARGS - 1].name, "arg128");
	ekp_probe_free(p);
	snprintf(buf + n, sizeof(buf) - n, " %%bx");
	bad(buf, (unsigned int)n + 2, "too many arguments");

	/* The kernel's MAX_PROBE_EVENT_SIZE: 6 x 512 bytes fit, a 7th does not. */
	n = (size_t)snprintf(buf, sizeof(buf), "p foo");
	for (int i = 0; i < 6; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " +0(%%di):u64[64]");
	p = ok(buf);
	ekp_probe_free(p);
	snprintf(buf + n, sizeof(buf) - n, " +0(%%di):u8");
	bad(buf, (unsigned int)n + 2, "probe event too big");
}

/* ---- deletion -------------------------------------------------------------------------------------- */

static void test_delete_parse(void **state __attribute__((unused)))
{
	unsigned int col = ~0u;
	struct ekp_probe *p;

	assert_int_equal(ekp_probe_parse("-:ev", X, &p, &col), 1);
	assert_int_equal(col, 0);
	assert_string_equal(p->group, "");
	assert_string_equal(p->event, "ev");
	assert_int_equal(p->nr_args, 0);
	ekp_probe_free(p);
	assert_int_equal(ekp_probe_parse("  -:grp/ev  ", X, &p, NULL), 1);
	assert_string_equal(p->group, "grp");
	assert_string_equal(p->event, "ev");
	ekp_probe_free(p);
	assert_int_equal(ekp_probe_parse("-:grp/", X, &p, NULL), 1);
	assert_string_equal(p->group, "grp");
	assert_string_equal(p->event, "");
	ekp_probe_free(p);

	bad("-:", 3, "missing event name");
	bad("-:/ev", 3, "missing group name");
	bad("-ev", 1, "expected '-:[GRP/]EVENT'");
	bad("-:ev vfs_read", 6, "unexpected 'vfs_read'");
	bad("-:grp/1", 7, "bad event name '1'");
}

/* ---- the list ---------------------------------------------------------------------------------------- */

static void test_list_basic(void **state __attribute__((unused)))
{
	struct ekp_probe_list *l = ekp_probe_list_new(X);
	struct ekp_probe *p;

	assert_non_null(l);
	assert_int_equal(ekp_probe_list_add(l, "p:a vfs_read %ax", "f", 1), 0);
	assert_int_equal(ekp_probe_list_add(l, "", "f", 2), 0);
	assert_int_equal(ekp_probe_list_add(l, "   \t\n", "f", 3), 0);
	assert_int_equal(ekp_probe_list_add(l, "# p:c foo", "f", 4), 0);
	assert_int_equal(ekp_probe_list_add(l, "  r:b vfs_write $retval # trailing comment\n", "f",
					     5), 0);
	assert_int_equal(ekp_probe_list_count(l), 2);
	p = ekp_probe_list_get(l, 0);
	assert_string_equal(p->event, "a");
	assert_string_equal(p->file, "f");
	assert_int_equal(p->line, 1);
	p = ekp_probe_list_get(l, 1);
	assert_string_equal(p->event, "b");
	assert_int_equal(p->line, 5);
	assert_string_equal(p->text, "r:b vfs_write $retval");
	assert_null(ekp_probe_list_get(l, 2));

	/* Same name in another group is a different event. */
	assert_int_equal(ekp_probe_list_add(l, "p:other/a vfs_read", "-p", 1), 0);
	assert_int_equal(ekp_probe_list_count(l), 3);
	ekp_probe_list_free(l);
	ekp_probe_list_free(NULL);
}

static void test_list_errors(void **state __attribute__((unused)))
{
	struct ekp_probe_list *l = ekp_probe_list_new(X);

	assert_int_equal(ekp_probe_list_add(l, "p vfs_read", "probes.txt", 1), 0);
	assert_int_equal(ekp_probe_list_add(l, "p vfs_read %ax", "probes.txt", 2), -EEXIST);
	assert_string_equal(ekp_errmsg(),
			    "probes.txt:2:1: event 'kprobes/p_vfs_read_0' already exists "
			    "(probes.txt:1)");
	assert_int_equal(ekp_probe_list_add(l, "  r:kprobes/p_vfs_read_0 vfs_read", "-p", 3),
			 -EEXIST);
	assert_string_equal(ekp_errmsg(),
			    "-p:3:3: event 'kprobes/p_vfs_read_0' already exists (probes.txt:1)");

	assert_int_equal(ekp_probe_list_add(l, "p foo %foo", "probes.txt", 7), -EINVAL);
	assert_string_equal(ekp_errmsg(), "probes.txt:7:7: unknown register '%foo'");
	assert_int_equal(ekp_probe_list_add(l, "r foo+4 # x", "-p", 2), -EINVAL);
	assert_string_equal(ekp_errmsg(), "-p:2:6: return probe offset must be 0");
	assert_int_equal(ekp_probe_list_add(l, "p foo $retval", NULL, 1), -EINVAL);
	assert_string_equal(ekp_errmsg(), "-p:1:7: $retval is only valid for return probes");

	assert_int_equal(ekp_probe_list_add(l, "-:nope", "probes.txt", 9), -ENOENT);
	assert_string_equal(ekp_errmsg(), "probes.txt:9:1: no event 'nope' to remove");
	assert_int_equal(ekp_probe_list_add(l, "-:grp/", "probes.txt", 10), -ENOENT);
	assert_string_equal(ekp_errmsg(), "probes.txt:10:1: no event 'grp/*' to remove");
	assert_int_equal(ekp_probe_list_add(l, "-:kprobes/nope", "probes.txt", 11), -ENOENT);
	assert_string_equal(ekp_errmsg(), "probes.txt:11:1: no event 'kprobes/nope' to remove");
	assert_int_equal(ekp_probe_list_count(l), 1);
	ekp_probe_list_free(l);
}

/* 20,000 names (the plugin engine's scale): every duplicate is still found, across the index's
 * growth and after removals, and a removed name can be defined again. */
static void test_list_many(void **state __attribute__((unused)))
{
	struct ekp_probe_list *l = ekp_probe_list_new(X);
	char text[64];

	for (unsigned int i = 0; i < 20000; i++) {
		snprintf(text, sizeof(text), "p:g%u/e%u vfs_read", i % 7, i);
		assert_int_equal(ekp_probe_list_add(l, text, "f", i + 1), 0);
	}
	for (unsigned int i = 0; i < 20000; i += 997) {
		snprintf(text, sizeof(text), "r:g%u/e%u vfs_read", i % 7, i);
		assert_int_equal(ekp_probe_list_add(l, text, "f", 1), -EEXIST);
	}
	assert_int_equal(ekp_probe_list_add(l, "-:g3/", "f", 1), 0);
	assert_int_equal(ekp_probe_list_count(l), 20000 - 2857);
	assert_int_equal(ekp_probe_list_add(l, "p:g3/e3 vfs_write", "f", 2), 0);
	assert_int_equal(ekp_probe_list_add(l, "p:g3/e3 vfs_write", "f", 3), -EEXIST);
	assert_int_equal(ekp_probe_list_add(l, "p:g4/e4 vfs_write", "f", 4), -EEXIST);
	assert_string_equal(ekp_probe_list_get(l, 20000 - 2857)->event, "e3");
	ekp_probe_list_free(l);
}

static void test_list_delete(void **state __attribute__((unused)))
{
	struct ekp_probe_list *l = ekp_probe_list_new(X);

	assert_int_equal(ekp_probe_list_add(l, "p:g1/a vfs_read", "f", 1), 0);
	assert_int_equal(ekp_probe_list_add(l, "p:g2/a vfs_read", "f", 2), 0);
	assert_int_equal(ekp_probe_list_add(l, "p:g1/b vfs_read", "f", 3), 0);
	assert_int_equal(ekp_probe_list_add(l, "p vfs_write", "f", 4), 0);
	assert_int_equal(ekp_probe_list_add(l, "p:g2/c vfs_read", "f", 5), 0);

	/* -:GRP/EVENT removes exactly one, and the name can then be defined again. */
	assert_int_equal(ekp_probe_list_add(l, "-:g1/b", "f", 6), 0);
	assert_int_equal(ekp_probe_list_count(l), 4);
	assert_int_equal(ekp_probe_list_add(l, "p:g1/b vfs_read+4", "f", 7), 0);
	assert_int_equal(ekp_probe_list_get(l, 4)->offset, 4);

	/* -:EVENT: that name in every group. */
	assert_int_equal(ekp_probe_list_add(l, "-:a", "f", 8), 0);
	assert_int_equal(ekp_probe_list_count(l), 3);
	assert_string_equal(ekp_probe_list_get(l, 0)->event, "p_vfs_write_0");
	assert_string_equal(ekp_probe_list_get(l, 1)->event, "c");
	assert_string_equal(ekp_probe_list_get(l, 2)->event, "b");

	/* -:GRP/: the whole group; order of the rest kept. */
	assert_int_equal(ekp_probe_list_add(l, "-:g2/ # all of g2", "f", 9), 0);
	assert_int_equal(ekp_probe_list_count(l), 2);
	assert_string_equal(ekp_probe_list_get(l, 0)->event, "p_vfs_write_0");
	assert_string_equal(ekp_probe_list_get(l, 1)->event, "b");
	assert_int_equal(ekp_probe_list_add(l, "-:p_vfs_write_0", "f", 10), 0);
	assert_int_equal(ekp_probe_list_add(l, "-:p_vfs_write_0", "f", 11), -ENOENT);
	assert_int_equal(ekp_probe_list_count(l), 1);
	ekp_probe_list_free(l);
}

static char *write_temp(const char *content)
{
	char *path = strdup("/tmp/ekp-probes-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void test_list_load(void **state __attribute__((unused)))
{
	struct ekp_probe_list *l = ekp_probe_list_new(X);
	char msg[512];
	char *path;

	path = write_temp("# probes for the boot\n"
			  "p:myprobe do_sys_open dfd=%ax filename=+0(%si):string\n"
			  "\n"
			  "r:myret do_sys_open $retval\r\n"
			  "p start_kernel\n"
			  "-:myret\n"
			  "p:grp/x 0xffffffff81000000 %ip  # no trailing newline");
	assert_int_equal(ekp_probe_list_load(l, path), 0);
	assert_int_equal(ekp_probe_list_count(l), 3);
	assert_string_equal(ekp_probe_list_get(l, 0)->event, "myprobe");
	assert_int_equal(ekp_probe_list_get(l, 0)->line, 2);
	assert_string_equal(ekp_probe_list_get(l, 0)->file, path);
	assert_string_equal(ekp_probe_list_get(l, 1)->event, "p_start_kernel_0");
	assert_int_equal(ekp_probe_list_get(l, 1)->line, 5);
	assert_string_equal(ekp_probe_list_get(l, 2)->group, "grp");
	assert_int_equal(ekp_probe_list_get(l, 2)->line, 7);
	assert_int_equal(ekp_probe_list_get(l, 2)->addr, 0xffffffff81000000ull);
	ekp_probe_list_free(l);
	unlink(path);
	free(path);

	/* Stops at the first bad line, reported with its line and column. */
	l = ekp_probe_list_new(X);
	path = write_temp("p vfs_read\n"
			  "# comment\n"
			  "p vfs_write\n"
			  "\n"
			  "p:e vfs_read  +8(%di):u7\n"
			  "p never_reached\n");
	assert_int_equal(ekp_probe_list_load(l, path), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:5:23: bad type 'u7'", path);
	assert_string_equal(ekp_errmsg(), msg);
	assert_int_equal(ekp_probe_list_count(l), 2);
	ekp_probe_list_free(l);
	unlink(path);
	free(path);

	/* A duplicate in a file names both places. */
	l = ekp_probe_list_new(X);
	path = write_temp("p vfs_read\np vfs_read\n");
	assert_int_equal(ekp_probe_list_load(l, path), -EEXIST);
	snprintf(msg, sizeof(msg), "%s:2:1: event 'kprobes/p_vfs_read_0' already exists (%s:1)",
		 path, path);
	assert_string_equal(ekp_errmsg(), msg);
	ekp_probe_list_free(l);
	unlink(path);
	free(path);

	l = ekp_probe_list_new(X);
	assert_int_equal(ekp_probe_list_load(l, "/nonexistent/ekp-probes"), -ENOENT);
	assert_non_null(strstr(ekp_errmsg(), "/nonexistent/ekp-probes"));
	ekp_probe_list_free(l);
}

/* ---- reading a probe file: what the path is, and what it holds ------------------------------ */

/* Load path into a new list: the result, with the list's count in *count. */
static int load(const char *path, int wait_ms, unsigned int *count)
{
	struct ekp_probe_list *l = ekp_probe_list_new(X);
	int ret;

	assert_non_null(l);
	ekp_err_clear();
	ret = ekp_probe_list_load_wait(l, path, wait_ms);
	*count = ekp_probe_list_count(l);
	ekp_probe_list_free(l);
	return ret;
}

static void expect_msg(const char *want)
{
	if (!strstr(ekp_errmsg(), want))
		fail_msg("message '%s' lacks '%s'", ekp_errmsg(), want);
}

/* A NUL byte used to end the line early, silently: "p vfs_read\0junk" was accepted. */
static void test_load_nul(void **state __attribute__((unused)))
{
	static const char text[] = "p vfs_write\np vfs_read\0 %foo\n";
	const char *path = t_tmp_path("nul.txt");
	char want[512];
	unsigned int n;

	t_write_file(path, text, sizeof(text) - 1);
	assert_int_equal(load(path, 0, &n), -EINVAL);
	snprintf(want, sizeof(want), "%s:2:11: NUL byte", path);
	expect_msg(want);
	assert_int_equal(n, 1); /* the lines before it went in */

	/* The same from memory, a NUL in a comment too. */
	{
		struct ekp_probe_list *l = ekp_probe_list_new(X);

		assert_int_equal(ekp_probe_list_load_buf(l, "# a\0b\n", 6, "mem"), -EINVAL);
		assert_string_equal(ekp_errmsg(), "mem:1:4: NUL byte: a probe file is text");
		assert_int_equal(ekp_probe_list_load_buf(l, "p vfs_read", 10, "mem"), 0);
		assert_int_equal(ekp_probe_list_count(l), 1);
		assert_int_equal(ekp_probe_list_load_buf(l, NULL, 0, "mem"), 0);
		ekp_probe_list_free(l);
	}
}

static void test_load_limits(void **state __attribute__((unused)))
{
	const char *path = t_tmp_path("long.txt");
	size_t len = EKP_PROBE_LINE_MAX + 64;
	char *text = malloc(len), want[512];
	struct ekp_probe_list *l;
	unsigned int n;
	int fd;

	/* A comment line of exactly the limit is fine, one byte more is not. */
	assert_non_null(text);
	memset(text, '#', len);
	memcpy(text + EKP_PROBE_LINE_MAX, "\np vfs_read\n", 12);
	t_write_file(path, text, EKP_PROBE_LINE_MAX + 12);
	assert_int_equal(load(path, 0, &n), 0);
	assert_int_equal(n, 1);
	text[EKP_PROBE_LINE_MAX] = '#';
	t_write_file(path, text, EKP_PROBE_LINE_MAX + 12);
	assert_int_equal(load(path, 0, &n), -EINVAL);
	snprintf(want, sizeof(want), "%s:1:%u: line longer than 64 KiB, the limit", path,
		 EKP_PROBE_LINE_MAX + 1);
	expect_msg(want);
	free(text);

	/* A (sparse) file over the size limit is refused without being read. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)EKP_PROBE_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(load(path, 0, &n), -EFBIG);
	snprintf(want, sizeof(want), "%s: larger than 16 MiB, the limit for a probe file", path);
	assert_string_equal(ekp_errmsg(), want);
	unlink(path);

	l = ekp_probe_list_new(X);
	assert_int_equal(ekp_probe_list_load_buf(l, "", (size_t)EKP_PROBE_FILE_MAX + 1, "mem"),
			 -EFBIG);
	ekp_probe_list_free(l);
}

/* Devices, directories and sockets are refused for what they are, at once. */
static void test_load_not_regular(void **state __attribute__((unused)))
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *sock = t_tmp_path("sock");
	unsigned int n;
	int fd;

	alarm(30); /* /dev/zero used to be read for gigabytes: a hang fails the test */
	assert_int_equal(load("/dev/zero", 0, &n), -EINVAL);
	assert_string_equal(ekp_errmsg(),
			    "/dev/zero: not a regular file or a pipe (a character device)");
	assert_int_equal(load(t_tmp_dir(), 0, &n), -EISDIR);
	expect_msg("not a regular file or a pipe (a directory)");

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(load(sock, 0, &n), -EINVAL);
	expect_msg("not a regular file or a pipe (a socket)");
	close(fd);
	unlink(sock);
	alarm(0);
}

/* A FIFO nobody writes to used to block open() forever. */
static void test_load_fifo_no_writer(void **state __attribute__((unused)))
{
	const char *fifo = t_tmp_path("fifo");
	char want[512];
	unsigned int n;

	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(30);
	assert_int_equal(load(fifo, EKP_PROBE_PIPE_WAIT_MS, &n), -ENXIO);
	alarm(0);
	snprintf(want, sizeof(want), "%s: a FIFO with no writer", fifo);
	expect_msg(want);
	unlink(fifo);
}

struct writer {
	int fd;
	size_t len;
	char *data;
};

/* Write it all (blocking: more than a pipe holds, so the reader must drain it), then close. */
static void *write_all(void *arg)
{
	struct writer *w = arg;

	for (size_t off = 0; off < w->len;) {
		ssize_t k = write(w->fd, w->data + off, w->len - off);

		if (k <= 0)
			break;
		off += (size_t)k;
	}
	close(w->fd);
	return NULL;
}

/* Comment lines, more than a pipe's 64 KiB, then two probes. */
static struct writer big_list(int fd)
{
	static const char tail[] = "p vfs_read\np vfs_write\n";
	size_t lines = 4096; /* of 64 bytes: 256 KiB */
	struct writer w = { .fd = fd, .len = lines * 64 + sizeof(tail) - 1 };

	w.data = malloc(w.len + 1);
	assert_non_null(w.data);
	for (size_t i = 0; i < lines; i++)
		snprintf(w.data + i * 64, 65, "# %061zu\n", i);
	memcpy(w.data + lines * 64, tail, sizeof(tail));
	return w;
}

/* `--probes <(cmd)` and a piped /dev/stdin: read until the writer closes the pipe. */
static void test_load_pipe(void **state __attribute__((unused)))
{
	char path[64];
	struct writer w;
	pthread_t t;
	unsigned int n;
	int p[2];

	alarm(30);
	assert_int_equal(pipe(p), 0);
	w = big_list(p[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	assert_int_equal(pthread_create(&t, NULL, write_all, &w), 0);
	assert_int_equal(load(path, EKP_PROBE_PIPE_WAIT_MS, &n), 0);
	assert_int_equal(n, 2);
	pthread_join(t, NULL);
	free(w.data);
	close(p[0]);

	/* Writer gone before anything was written: an empty list, not an error. */
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	assert_int_equal(load(path, EKP_PROBE_PIPE_WAIT_MS, &n), 0);
	assert_int_equal(n, 0);
	close(p[0]);

	/* A writer that never finishes is waited for that long only. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "p vfs_read\n", 11), 11);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	assert_int_equal(load(path, 100, &n), -ETIMEDOUT);
	expect_msg("the pipe did not reach its end within 100 ms");
	close(p[0]);
	close(p[1]);

	/* More than the limit from a pipe: stops at the limit. */
	assert_int_equal(pipe(p), 0);
	w.fd = p[1];
	w.len = (size_t)EKP_PROBE_FILE_MAX + 4096;
	w.data = calloc(1, w.len);
	assert_non_null(w.data);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	assert_int_equal(pthread_create(&t, NULL, write_all, &w), 0);
	assert_int_equal(load(path, EKP_PROBE_PIPE_WAIT_MS, &n), -EFBIG);
	expect_msg("larger than 16 MiB, the limit for a probe file");
	close(p[0]); /* the writer gets EPIPE and ends */
	pthread_join(t, NULL);
	free(w.data);
	alarm(0);
}

/* A named FIFO whose writer is there first (here: a writer that another reader let in). */
static void test_load_fifo_writer(void **state __attribute__((unused)))
{
	const char *fifo = t_tmp_path("fifo2");
	struct writer w;
	pthread_t t;
	unsigned int n;
	int r0, fd;

	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(30);
	r0 = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(r0 >= 0);
	fd = open(fifo, O_WRONLY | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, 0), 0);
	w = big_list(fd);
	assert_int_equal(pthread_create(&t, NULL, write_all, &w), 0);
	assert_int_equal(load(fifo, EKP_PROBE_PIPE_WAIT_MS, &n), 0);
	assert_int_equal(n, 2);
	pthread_join(t, NULL);
	alarm(0);
	free(w.data);
	close(r0);
	unlink(fifo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_default),
		cmocka_unit_test(test_doc_examples),
		cmocka_unit_test(test_default_names),
		cmocka_unit_test(test_group_event),
		cmocka_unit_test(test_maxactive),
		cmocka_unit_test(test_probe_point),
		cmocka_unit_test(test_head_errors),
		cmocka_unit_test(test_whitespace_columns),
		cmocka_unit_test(test_fetch_regs_vars),
		cmocka_unit_test(test_fetch_mem_imm),
		cmocka_unit_test(test_fetch_deref),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_arg_names),
		cmocka_unit_test(test_arg_limits),
		cmocka_unit_test(test_delete_parse),
		cmocka_unit_test(test_list_basic),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_list_delete),
		cmocka_unit_test(test_list_many),
		cmocka_unit_test(test_list_load),
		cmocka_unit_test(test_load_nul),
		cmocka_unit_test(test_load_limits),
		cmocka_unit_test(test_load_not_regular),
		cmocka_unit_test(test_load_fifo_no_writer),
		cmocka_unit_test(test_load_pipe),
		cmocka_unit_test(test_load_fifo_writer),
	};
	int fails = cmocka_run_group_tests(tests, NULL, NULL);

	t_tmp_remove();
	return fails ? 1 : 0;
}
