// SPDX-License-Identifier: GPL-2.0
/*
 * host/vm/guestmem.c: -m parsing, QEMU arguments, address translation, finding and mapping a
 * memfd (on this process's own memfds), and, when EKPROBE_BZIMAGE and EKPROBE_INITRD are set
 * and QEMU is installed, against a real QEMU 7.2: the mapping is the guest's RAM, proven both
 * ways through the gdbstub in physical-memory mode, below and above 4 GiB on pc and q35; and a
 * running guest's kernel image is visible through it at PA = VA - __START_KERNEL_map.
 *   eval $(scripts/kernel.sh print)
 *   EKPROBE_BZIMAGE=$BZIMAGE EKPROBE_INITRD=$INITRD build/tests/test_guestmem
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/helpers.h"
#include "arch/x86_64/x86_64.h"
#include "ekprobe/arch.h"
#include "ekprobe/err.h"
#include "host/vm/guestmem.h"
#include "proto/rsp.h"

#define T_MS 60000
#define MIB (1ull << 20)
#define GIB (1ull << 30)

/* ---- pure ----------------------------------------------------------------------------------- */

static void test_parse_size(void **state)
{
	static const struct { const char *in; uint64_t want; } ok[] = {
		{ "256", 256 * MIB }, { "256M", 256 * MIB }, { "256m", 256 * MIB },
		{ "1G", GIB }, { "1g", GIB }, { "1.5G", 3 * GIB / 2 }, { "size=512M", 512 * MIB },
		{ "512M,slots=2,maxmem=4G", 512 * MIB }, { "slots=2,size=1G", GIB },
		{ "0x100", 256 * MIB }, { "0x10G", 16 * GIB }, { "4096K", 4 * MIB },
		{ "1.5", 3 * MIB / 2 }, { "2T", 2048 * GIB }, { "0256", 256 * MIB },
		/* Rounded up to 8 KiB as QEMU 7.2 does (measured: "info memory_size_summary"). */
		{ "256b", 8192 }, { "100001K", 102408192 }, { "100004K", 102408192 },
		{ "100008K", 102408192 }, { "1.0000000000000000000001G", GIB },
	};
	static const struct { const char *in; int err; } bad[] = {
		{ "", -EINVAL }, { "abc", -EINVAL }, { "-1", -EINVAL }, { "1.5B", -EINVAL },
		{ "256X", -EINVAL }, { "256M,", -EINVAL }, { "size=", -EINVAL }, { "foo=1", -EINVAL },
		{ "1.G", -EINVAL }, { "0", -EINVAL }, { "0x", -EINVAL }, { ",256", -EINVAL },
		{ "256MB", -EINVAL }, { " 256", -EINVAL }, { "slots=2", -EINVAL },
		{ "99999999999999999999", -ERANGE }, { "16E", -ERANGE }, { "0x1000000000000000G", -ERANGE },
		{ "17179869184G", -ERANGE }, { "256M,maxmem=x", -EINVAL },
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 0;
		if (ekp_guestmem_parse_size(ok[i].in, &v))
			fail_msg("'%s': %s", ok[i].in, ekp_errmsg());
		if (v != ok[i].want)
			fail_msg("'%s': %llu, want %llu", ok[i].in, (unsigned long long)v,
				 (unsigned long long)ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = ekp_guestmem_parse_size(bad[i].in, &v);

		if (err != bad[i].err)
			fail_msg("'%s': %d, want %d", bad[i].in, err, bad[i].err);
		assert_true(ekp_errmsg()[0] != '\0');
	}
	assert_int_equal(ekp_guestmem_parse_size(NULL, &v), -EINVAL);
}

static void test_qemu_args(void **state)
{
	struct ekp_guestmem_args a;

	(void)state;
	assert_int_equal(ekp_guestmem_qemu_args(256 * MIB, &a), 0);
	assert_int_equal(a.argc, 6);
	assert_string_equal(a.argv[0], "-object");
	assert_string_equal(a.argv[1], "memory-backend-memfd,id=ekprobe-ram,size=268435456,share=on");
	assert_string_equal(a.argv[2], "-machine");
	assert_string_equal(a.argv[3], "memory-backend=ekprobe-ram");
	assert_string_equal(a.argv[4], "-m");
	assert_string_equal(a.argv[5], "256M");
	assert_null(a.argv[6]);
	assert_int_equal(ekp_guestmem_qemu_args(102408192, &a), 0);
	assert_string_equal(a.argv[5], "100008K");
	assert_int_equal(ekp_guestmem_qemu_args(4 * GIB, &a), 0);
	assert_string_equal(a.argv[5], "4096M");
	assert_int_equal(ekp_guestmem_qemu_args(102404096, &a), -EINVAL); /* 100004K: 4 KiB only */
	assert_int_equal(ekp_guestmem_qemu_args(0, &a), -EINVAL);
}

static uint64_t gpa_off(const struct ekp_ram_layout *l, uint64_t gpa, uint64_t len, int *err)
{
	uint64_t off = ~0ull;

	*err = ekp_ram_layout_offset(l, gpa, len, &off);
	return off;
}

static void test_translate(void **state)
{
	char *pc[] = { "qemu-system-x86_64", NULL };
	char *q35[] = { "qemu-system-x86_64", "-M", "q35", NULL };
	struct ekp_ram_layout l;
	uint64_t pa = 0;
	int err;

	(void)state;
	/* QEMU 7.2 (measured with "info mtree -f"): pc 4G -> 3 GiB low, q35 3G -> 2 GiB low. */
	assert_int_equal(x86_64_ram_below_4g(false, 4 * GIB), 3 * GIB);
	assert_int_equal(x86_64_ram_below_4g(false, 0xe0000000ull), 3 * GIB);
	assert_int_equal(x86_64_ram_below_4g(false, 0xdfffe000ull), 0xdfffe000ull);
	assert_int_equal(x86_64_ram_below_4g(true, 3 * GIB), 2 * GIB);
	assert_int_equal(x86_64_ram_below_4g(true, 0xb0000000ull), 2 * GIB);
	assert_int_equal(x86_64_ram_below_4g(true, 0xaffff000ull), 0xaffff000ull);
	assert_int_equal(x86_64_ram_below_4g(true, 256 * MIB), 256 * MIB);

	/* 256 MiB: GPA = offset, but for the legacy VGA/BIOS window. */
	assert_int_equal(ekp_arch_x86_64.ram_layout(pc, 256 * MIB, &l), 0);
	assert_int_equal(gpa_off(&l, 0x1000, 4, &err), 0x1000);
	assert_int_equal(err, 0);
	assert_int_equal(gpa_off(&l, 0, 0xa0000, &err), 0);
	assert_int_equal(err, 0);
	assert_int_equal(gpa_off(&l, 256 * MIB - 4, 4, &err), 256 * MIB - 4);
	assert_int_equal(err, 0);
	gpa_off(&l, 0x100000, 1, &err);
	assert_int_equal(err, 0);
	gpa_off(&l, 256 * MIB - 4, 5, &err);
	assert_int_equal(err, -EFAULT);
	gpa_off(&l, 0xa0000, 1, &err);
	assert_int_equal(err, -EFAULT);
	gpa_off(&l, 0x9ffff, 2, &err);
	assert_int_equal(err, -EFAULT);
	gpa_off(&l, 0xfffff, 1, &err);
	assert_int_equal(err, -EFAULT);
	gpa_off(&l, 4 * GIB, 1, &err);
	assert_int_equal(err, -EFAULT);
	gpa_off(&l, 0x1000, 0, &err);
	assert_int_equal(err, -EINVAL);
	gpa_off(&l, UINT64_MAX, 2, &err);
	assert_int_equal(err, -EFAULT);
	/* 4 GiB on pc: 3 GiB low, 1 GiB from 4 GiB on. */
	assert_int_equal(ekp_arch_x86_64.ram_layout(pc, 4 * GIB, &l), 0);
	assert_int_equal(gpa_off(&l, 4 * GIB, 8, &err), 3 * GIB);
	assert_int_equal(err, 0);
	assert_int_equal(gpa_off(&l, 5 * GIB - 1, 1, &err), 4 * GIB - 1);
	assert_int_equal(err, 0);
	gpa_off(&l, 5 * GIB - 1, 2, &err);
	assert_int_equal(err, -EFAULT);
	gpa_off(&l, 5 * GIB, 1, &err);
	assert_int_equal(err, -EFAULT);
	gpa_off(&l, 3 * GIB, 1, &err);
	assert_int_equal(err, -EFAULT);
	gpa_off(&l, 3 * GIB - 1, 2, &err);
	assert_int_equal(err, -EFAULT);
	gpa_off(&l, 3 * GIB - 1, 1, &err);
	assert_int_equal(err, 0);
	gpa_off(&l, 4 * GIB - 1, 2, &err);
	assert_int_equal(err, -EFAULT);
	/* q35 splits at 2 GiB. */
	assert_int_equal(ekp_arch_x86_64.ram_layout(q35, 3 * GIB, &l), 0);
	assert_int_equal(gpa_off(&l, 4 * GIB, 1, &err), 2 * GIB);
	assert_int_equal(err, 0);
	gpa_off(&l, 2 * GIB, 1, &err);
	assert_int_equal(err, -EFAULT);

	/* The kernel image's physical alias, nokaslr. */
	assert_true(ekp_arch_x86_64.early_alias(0xffffffff81000000ull, &pa));
	assert_int_equal(pa, 0x1000000);
	assert_true(ekp_arch_x86_64.early_alias(0xffffffff80000000ull, &pa));
	assert_int_equal(pa, 0);
	assert_true(ekp_arch_x86_64.early_alias(0xffffffffbfffffffull, &pa));
	assert_int_equal(pa, GIB - 1);
	assert_false(ekp_arch_x86_64.early_alias(0xffffffffc0000000ull, &pa));
	assert_false(ekp_arch_x86_64.early_alias(0xffff888000001000ull, &pa));
	assert_false(ekp_arch_x86_64.early_alias(0x1000000, &pa));
}

/* ---- memfds of this process ----------------------------------------------------------------- */

static int new_memfd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void test_find_and_map_self(void **state)
{
	const uint64_t size = 4 * MIB + 3 * 8192;
	struct ekp_guestmem g;
	struct ekp_ram_layout layout, big;
	char tmpl[] = "/tmp/ekp-guestmem-XXXXXX";
	int ram, other, file, twin, priv, fdnum = -1;
	uint8_t *qemu_view, *priv_view;
	uint32_t v;

	(void)state;
	ram = new_memfd("memory-backend-memfd", size);
	other = new_memfd("memory-backend-memfd", 2 * MIB);
	file = mkstemp(tmpl);
	assert_true(file >= 0);
	unlink(tmpl);
	assert_int_equal(ftruncate(file, (off_t)size), 0); /* same size, not a memfd */

	assert_int_equal(ekp_guestmem_find_memfd(getpid(), size, &fdnum), 0);
	assert_int_equal(fdnum, ram);
	assert_int_equal(ekp_guestmem_find_memfd(getpid(), 3 * MIB, &fdnum), -ENOENT);
	assert_non_null(strstr(ekp_errmsg(), "memory-backend-memfd"));
	/* A same-size memfd with another name: QEMU's name decides. */
	twin = new_memfd("something-else", size);
	assert_int_equal(ekp_guestmem_find_memfd(getpid(), size, &fdnum), 0);
	assert_int_equal(fdnum, ram);

	/* Not mapped by "QEMU" (us) yet: refused. Mapped shared: fine. */
	assert_int_equal(ekp_arch_x86_64.ram_layout(NULL, size, &layout), 0);
	assert_int_equal(ekp_guestmem_open(&g, getpid(), size, &layout), -ENOENT);
	assert_null(g.base);
	qemu_view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ram, 0);
	assert_true(qemu_view != MAP_FAILED);
	assert_int_equal(ekp_guestmem_open(&g, getpid(), size, &layout), 0);
	assert_int_equal(g.fdnum, ram);
	assert_int_equal(g.size, size);
	/* The two mappings are the same memory both ways. */
	memcpy(qemu_view + 0x100000, "guest", 6);
	assert_memory_equal(ekp_guestmem_ptr(&g, 0x100000, 6), "guest", 6);
	v = 0xfeedf00d;
	memcpy(ekp_guestmem_ptr(&g, size - 4, 4), &v, 4);
	assert_memory_equal(qemu_view + size - 4, &v, 4);
	assert_null(ekp_guestmem_ptr(&g, size - 3, 4));
	assert_null(ekp_guestmem_ptr(&g, 0xa0000, 4));
	ekp_guestmem_close(&g);
	assert_null(g.base);
	assert_null(ekp_guestmem_ptr(&g, 0x1000, 1));

	/* A second memfd with QEMU's name and the size: ambiguous. */
	priv = new_memfd("memory-backend-memfd", size);
	assert_int_equal(ekp_guestmem_find_memfd(getpid(), size, &fdnum), -EEXIST);
	close(ram);
	munmap(qemu_view, size);
	/* Now the only one, but mapped privately (share=off): refused. */
	priv_view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, priv, 0);
	assert_true(priv_view != MAP_FAILED);
	assert_int_equal(ekp_guestmem_open(&g, getpid(), size, &layout), -EINVAL);
	assert_non_null(strstr(ekp_errmsg(), "share=on"));
	munmap(priv_view, size);
	assert_int_equal(ekp_arch_x86_64.ram_layout(NULL, 2 * size, &big), 0);
	assert_int_equal(ekp_guestmem_open(&g, getpid(), size, &big), -EINVAL);
	assert_int_equal(ekp_guestmem_open(&g, 0x7ffffff0, size, &layout), -ENOENT);
	close(priv);
	close(twin);
	close(file);
	close(other);
}

/* ---- a real QEMU ---------------------------------------------------------------------------- */

static bool have_qemu(void)
{
	const char *path = getenv("PATH");
	char buf[4096], *save, *d;

	if (!path)
		return false;
	snprintf(buf, sizeof(buf), "%s", path);
	for (d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char p[4200];

		snprintf(p, sizeof(p), "%s/qemu-system-x86_64", d);
		if (!access(p, X_OK))
			return true;
	}
	return false;
}

static void need_env(void)
{
	const char *bz = getenv("EKPROBE_BZIMAGE"), *rd = getenv("EKPROBE_INITRD");

	if (!bz || !rd || access(bz, R_OK) || access(rd, R_OK) || !have_qemu()) {
		print_message("test_guestmem: needs qemu-system-x86_64, EKPROBE_BZIMAGE and "
			      "EKPROBE_INITRD\n");
		skip();
	}
}

struct vm {
	pid_t pid;
	char dir[64], sock[96], log[96];
	struct rsp_client *c;
};

static void vm_start(struct vm *vm, const char *machine, uint64_t ram, bool paused)
{
	struct ekp_guestmem_args ga;
	char gdb[160];

	memset(vm, 0, sizeof(*vm));
	assert_int_equal(ekp_guestmem_qemu_args(ram, &ga), 0);
	strcpy(vm->dir, "/tmp/ekp-guestmem-XXXXXX");
	assert_non_null(mkdtemp(vm->dir));
	snprintf(vm->sock, sizeof(vm->sock), "%s/gdb.sock", vm->dir);
	snprintf(vm->log, sizeof(vm->log), "%s/qemu.log", vm->dir);
	snprintf(gdb, sizeof(gdb), "unix:%s,server=on,wait=off", vm->sock);
	vm->pid = fork();
	assert_true(vm->pid >= 0);
	if (!vm->pid) {
		const char *argv[40];
		int n = 0, fd = open(vm->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		argv[n++] = "qemu-system-x86_64";
		if (paused)
			argv[n++] = "-S";
		argv[n++] = "-machine";
		argv[n++] = machine;
		for (unsigned int i = 0; i < ga.argc; i++)
			argv[n++] = ga.argv[i];
		argv[n++] = "-gdb";
		argv[n++] = gdb;
		argv[n++] = "-nographic";
		argv[n++] = "-monitor";
		argv[n++] = "none";
		argv[n++] = "-no-reboot";
		argv[n++] = "-kernel";
		argv[n++] = getenv("EKPROBE_BZIMAGE");
		argv[n++] = "-initrd";
		argv[n++] = getenv("EKPROBE_INITRD");
		argv[n++] = "-append";
		argv[n++] = "console=ttyS0 panic=-1 quiet nokaslr";
		argv[n++] = NULL;
		dup2(open("/dev/null", O_RDONLY), 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
}

static void vm_stop(struct vm *vm)
{
	if (vm->c)
		rsp_close(vm->c);
	vm->c = NULL;
	if (vm->pid > 0) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
		vm->pid = 0;
	}
	unlink(vm->log);
	unlink(vm->sock);
	rmdir(vm->dir);
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (uint8_t)(seed >> 56);
	}
}

/* Both directions at one guest physical address. */
static void prove_gpa(struct vm *vm, const struct ekp_guestmem *g, uint64_t gpa)
{
	static uint8_t a[4096], b[4096];
	uint8_t *p = ekp_guestmem_ptr(g, gpa, sizeof(a));

	if (!p)
		fail_msg("gpa 0x%llx: %s", (unsigned long long)gpa, ekp_errmsg());
	/* QEMU writes, the mapping sees it. */
	fill(a, sizeof(a), gpa);
	if (rsp_write_mem(vm->c, gpa, a, sizeof(a), T_MS))
		fail_msg("M 0x%llx: %s", (unsigned long long)gpa, ekp_errmsg());
	assert_memory_equal(p, a, sizeof(a));
	/* The mapping writes, QEMU sees it. */
	fill(a, sizeof(a), ~gpa);
	memcpy(p, a, sizeof(a));
	memset(b, 0, sizeof(b));
	if (rsp_read_mem(vm->c, gpa, b, sizeof(b), T_MS))
		fail_msg("m 0x%llx: %s", (unsigned long long)gpa, ekp_errmsg());
	assert_memory_equal(b, a, sizeof(a));
}

static void prove_machine(const char *machine, const char *m)
{
	struct ekp_guestmem g;
	struct vm vm;
	uint64_t ram, below;
	struct ekp_ram_layout layout;
	char *argv[] = { "qemu-system-x86_64", "-M", (char *)machine, NULL };
	bool was_running = true, q35 = !strcmp(machine, "q35");
	char link[256], path[64];
	ssize_t n;

	assert_int_equal(ekp_guestmem_parse_size(m, &ram), 0);
	below = x86_64_ram_below_4g(q35, ram);
	assert_int_equal(ekp_arch_x86_64.ram_layout(argv, ram, &layout), 0);
	vm_start(&vm, machine, ram, true);
	assert_int_equal(rsp_connect_unix(vm.sock, 10000, &vm.c), 0);
	if (rsp_handshake(vm.c, T_MS, &was_running))
		fail_msg("handshake: %s", ekp_errmsg());
	assert_false(was_running);
	if (ekp_guestmem_open(&g, vm.pid, ram, &layout))
		fail_msg("open: %s", ekp_errmsg());
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)vm.pid, g.fdnum);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	/* QEMU 7.2: the name does not carry the backend's id. */
	assert_string_equal(link, "/memfd:memory-backend-memfd (deleted)");
	print_message("%s -m %s: QEMU fd %d -> %s, %llu MiB below 4 GiB\n", machine, m, g.fdnum,
		      link, (unsigned long long)(below >> 20));
	if (rsp_command_ok(vm.c, "Qqemu.PhyMemMode:1", T_MS))
		fail_msg("PhyMemMode: %s", ekp_errmsg());

	prove_gpa(&vm, &g, 0x1000);
	prove_gpa(&vm, &g, 0x100000);
	prove_gpa(&vm, &g, 0x1000000);
	prove_gpa(&vm, &g, below - 0x1000);
	if (ram > below) {
		prove_gpa(&vm, &g, 4 * GIB);
		prove_gpa(&vm, &g, 4 * GIB + (ram - below) - 0x1000);
		assert_null(ekp_guestmem_ptr(&g, below, 1)); /* the PCI hole */
		assert_null(ekp_guestmem_ptr(&g, 4 * GIB + (ram - below), 1));
	}
	ekp_guestmem_close(&g);
	vm_stop(&vm);
}

static void test_qemu_mapping_is_guest_ram(void **state)
{
	(void)state;
	need_env();
	prove_machine("pc", "256M");
	prove_machine("pc", "4G");   /* 3 GiB low, 1 GiB above 4 GiB */
	prove_machine("q35", "3G");  /* 2 GiB low, 1 GiB above 4 GiB */
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A booting guest: its kernel image appears in the mapping at PA = VA - __START_KERNEL_map. */
static void test_running_guest_kernel_image(void **state)
{
	uint64_t banner = 0, pa = 0, ram = 0;
	struct ekp_ram_layout layout;
	struct ekp_guestmem g;
	struct vm vm;
	const char *p = NULL;
	int64_t t0, deadline;
	int err = -ENOENT;

	(void)state;
	need_env();
	banner = t_system_map_addr("linux_banner");
	if (!banner) {
		print_message("test_guestmem: no System.map with linux_banner\n");
		skip();
	}
	assert_true(ekp_arch_x86_64.early_alias(banner, &pa));
	assert_int_equal(ekp_guestmem_parse_size("256M", &ram), 0);
	assert_int_equal(ekp_arch_x86_64.ram_layout(NULL, ram, &layout), 0);
	vm_start(&vm, "pc", ram, false);
	/* QEMU creates the memfd while it starts: retry until it is there. */
	t0 = now_ms();
	deadline = t0 + 20000;
	while (now_ms() < deadline && (err = ekp_guestmem_open(&g, vm.pid, ram, &layout)) != 0)
		usleep(5000);
	if (err)
		fail_msg("open: %s", ekp_errmsg());
	/* The mapping outlives QEMU: the guest may boot, reboot and exit meanwhile. */
	deadline = now_ms() + 60000;
	while (now_ms() < deadline) {
		p = ekp_guestmem_ptr(&g, pa, 14);
		assert_non_null(p);
		if (!memcmp(p, "Linux version ", 14))
			break;
		usleep(2000);
	}
	assert_memory_equal(p, "Linux version ", 14);
	print_message("linux_banner at PA 0x%llx after %lld ms: %.60s\n", (unsigned long long)pa,
		      (long long)(now_ms() - t0), p);
	ekp_guestmem_close(&g);
	vm_stop(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_qemu_args),
		cmocka_unit_test(test_translate),
		cmocka_unit_test(test_find_and_map_self),
		cmocka_unit_test(test_qemu_mapping_is_guest_ram),
		cmocka_unit_test(test_running_guest_kernel_image),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
