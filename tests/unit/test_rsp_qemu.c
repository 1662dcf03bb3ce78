// SPDX-License-Identifier: GPL-2.0
/*
 * proto/rsp_client.c against a real QEMU (qemu-system-x86_64, TCG) and the default guest
 * kernel. Skipped unless EKPROBE_BZIMAGE and EKPROBE_INITRD are set and QEMU is installed:
 *   eval $(scripts/kernel.sh print)
 *   EKPROBE_BZIMAGE=$BZIMAGE EKPROBE_INITRD=$INITRD build/tests/test_rsp_qemu
 * System.map is taken from EKPROBE_SYSTEM_MAP, else next to the bzImage (kernel.sh's cache).
 *
 * Besides checking the client, these tests pin down QEMU 7.2 gdbstub behaviour the engine
 * relies on (each assertion below that is about QEMU says so).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/helpers.h"
#include "ekprobe/err.h"
#include "proto/rsp.h"

#define T_MS 60000 /* generous: TCG on a loaded 2-core machine */
#define STARTUP_64_PHYS 0x1000000ull /* ffffffff81000000 T startup_64, nokaslr */

struct vm {
	pid_t pid;
	char dir[64], sock[96];
	struct rsp_client *c;
	struct rsp_target_desc desc;
};

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
		print_message("test_rsp_qemu: needs qemu-system-x86_64, EKPROBE_BZIMAGE and "
			      "EKPROBE_INITRD\n");
		skip();
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start QEMU (held by -S when paused) and connect to its gdbstub, without handshake. */
static void vm_start(struct vm *vm, bool paused, int smp)
{
	char gdb[160], smps[8], log[128];

	memset(vm, 0, sizeof(*vm));
	strcpy(vm->dir, "/tmp/ekp-rsp-qemu-XXXXXX");
	assert_non_null(mkdtemp(vm->dir));
	snprintf(vm->sock, sizeof(vm->sock), "%s/gdb.sock", vm->dir);
	snprintf(gdb, sizeof(gdb), "unix:%s,server=on,wait=off", vm->sock);
	snprintf(smps, sizeof(smps), "%d", smp);
	snprintf(log, sizeof(log), "%s/qemu.log", vm->dir);
	vm->pid = fork();
	assert_true(vm->pid >= 0);
	if (!vm->pid) {
		const char *argv[32];
		int n = 0, fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		argv[n++] = "qemu-system-x86_64";
		if (paused)
			argv[n++] = "-S";
		argv[n++] = "-gdb";
		argv[n++] = gdb;
		argv[n++] = "-nographic";
		argv[n++] = "-m";
		argv[n++] = "128";
		argv[n++] = "-smp";
		argv[n++] = smps;
		argv[n++] = "-no-reboot";
		argv[n++] = "-kernel";
		argv[n++] = getenv("EKPROBE_BZIMAGE");
		argv[n++] = "-initrd";
		argv[n++] = getenv("EKPROBE_INITRD");
		argv[n++] = "-append";
		argv[n++] = "console=ttyS0 panic=-1 quiet nokaslr";
		argv[n++] = "-monitor";
		argv[n++] = "none";
		argv[n++] = NULL;
		dup2(open("/dev/null", O_RDONLY), 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	assert_int_equal(rsp_connect_unix(vm->sock, 10000, &vm->c), 0);
}

static void vm_stop(struct vm *vm)
{
	char p[128];

	rsp_close(vm->c);
	vm->c = NULL;
	rsp_target_desc_free(&vm->desc);
	if (vm->pid > 0) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
		vm->pid = 0;
	}
	snprintf(p, sizeof(p), "%s/qemu.log", vm->dir);
	unlink(p);
	unlink(vm->sock);
	rmdir(vm->dir);
}

static void vm_handshake(struct vm *vm, bool expect_running)
{
	bool was_running = !expect_running;

	if (rsp_handshake(vm->c, T_MS, &was_running))
		fail_msg("handshake: %s", ekp_errmsg());
	assert_int_equal(was_running, expect_running);
	assert_int_equal(rsp_packet_size(vm->c), 0x1000);
	if (rsp_read_target_desc(vm->c, &vm->desc, T_MS))
		fail_msg("target desc: %s", ekp_errmsg());
	assert_int_equal(vm->desc.nr_regs, 66);
}

static uint64_t reg_g(struct vm *vm, const char *name)
{
	const struct rsp_reg_desc *r = rsp_target_desc_find(&vm->desc, name);
	struct ekp_buf raw = { 0 };
	uint64_t v = 0;
	long off;

	assert_non_null(r);
	if (rsp_read_all_regs(vm->c, &raw, T_MS))
		fail_msg("g: %s", ekp_errmsg());
	/* QEMU 7.2: 'g' covers all 66 registers of i386-64bit.xml, 608 bytes. */
	assert_int_equal(raw.len, 608);
	off = rsp_target_desc_g_offset(&vm->desc, r->regnum);
	assert_true(off >= 0 && (size_t)off + r->bitsize / 8 <= raw.len);
	memcpy(&v, raw.data + off, r->bitsize / 8 > 8 ? 8 : r->bitsize / 8);
	ekp_buf_free(&raw);
	return v;
}

static uint64_t reg_p(struct vm *vm, const char *name)
{
	const struct rsp_reg_desc *r = rsp_target_desc_find(&vm->desc, name);
	uint8_t buf[16];
	uint64_t v = 0;
	int n;

	assert_non_null(r);
	n = rsp_read_reg(vm->c, r->regnum, buf, sizeof(buf), T_MS);
	if (n)
		fail_msg("p: %s", ekp_errmsg());
	memcpy(&v, buf, 8);
	return v;
}

static void wait_stop(struct vm *vm, struct rsp_stop *st, int timeout_ms)
{
	int err = rsp_wait_stop(vm->c, st, timeout_ms);

	if (err)
		fail_msg("wait_stop: %d %s", err, ekp_errmsg());
}

/* Breakpoint on startup_64 (physical, it runs identity-mapped), continue, step, re-hit. */
static void test_qemu_startup64(void **state)
{
	struct vm vm;
	struct rsp_thread *th;
	struct rsp_stop st;
	unsigned int nth;
	uint8_t code[16];
	int64_t t0;

	need_env();
	vm_start(&vm, true, 2);
	/* -S: the VM is in prelaunch, QEMU sends nothing on connect. */
	vm_handshake(&vm, false);

	/* At reset: rip 0xfff0 (cs base 0xffff0000), through g and through p. */
	assert_true(reg_g(&vm, "rip") == 0xfff0);
	assert_true(reg_p(&vm, "rip") == 0xfff0);
	assert_true(reg_g(&vm, "cs") == 0xf000);

	/* vCPUs are threads p1.1 and p1.2. */
	assert_int_equal(rsp_list_threads(vm.c, &th, &nth, T_MS), 0);
	assert_int_equal(nth, 2);
	assert_true(th[0].pid == 1 && th[0].tid == 1 && th[1].pid == 1 && th[1].tid == 2);
	free(th);

	/* A breakpoint on memory that holds no code yet (the kernel is decompressed later). */
	assert_int_equal(rsp_insert_break(vm.c, 0, STARTUP_64_PHYS, 1, T_MS), 0);
	t0 = now_ms();
	assert_int_equal(rsp_resume(vm.c, "c", T_MS), 0);
	wait_stop(&vm, &st, T_MS);
	print_message("  reset -> startup_64 breakpoint: %lld ms\n", (long long)(now_ms() - t0));
	assert_int_equal(st.kind, 'T');
	assert_int_equal(st.signal, 5);
	assert_true(st.has_thread && st.thread.pid == 1 && st.thread.tid == 1);
	assert_true(reg_g(&vm, "rip") == STARTUP_64_PHYS);
	/* startup_64: leaq ...(%rip), %rsp (48 8d 25 + rel32), 7 bytes. */
	assert_int_equal(rsp_read_mem(vm.c, STARTUP_64_PHYS, code, sizeof(code), T_MS), 0);
	assert_memory_equal(code, "\x48\x8d\x25", 3);

	/*
	 * QEMU fact: continuing from a PC that has a breakpoint re-hits it at once, without
	 * executing anything (TCG checks breakpoints before translating the block).
	 */
	assert_int_equal(rsp_resume(vm.c, "c", T_MS), 0);
	wait_stop(&vm, &st, T_MS);
	assert_int_equal(st.signal, 5);
	assert_true(reg_g(&vm, "rip") == STARTUP_64_PHYS);
	/* Cost of one continue -> breakpoint stop -> 'g' cycle (QEMU flushes all TBs per stop). */
	{
		int i, n = 20;
		int64_t t1;

		t0 = now_ms();
		for (i = 0; i < n; i++) {
			struct pollfd pfd = { .fd = rsp_fd(vm.c), .events = POLLIN };

			assert_int_equal(rsp_resume(vm.c, "c", T_MS), 0);
			/* rsp_resume leaves the stop reply on the socket: poll() sees it. */
			assert_int_equal(poll(&pfd, 1, T_MS), 1);
			wait_stop(&vm, &st, T_MS);
			assert_true(reg_g(&vm, "rip") == STARTUP_64_PHYS);
		}
		t1 = now_ms();
		for (i = 0; i < n; i++)
			reg_p(&vm, "rip");
		print_message("  re-hit cycle (vCont;c, stop, g): %.2f ms; one p: %.3f ms\n",
			      (double)(t1 - t0) / n, (double)(now_ms() - t1) / n);
	}

	/* QEMU fact: a single step from there is not held by the breakpoint: one insn done. */
	{
		struct rsp_thread t = { 1, 1 };

		assert_int_equal(rsp_step(vm.c, &t, &st, T_MS), 0);
		assert_int_equal(st.signal, 5);
		assert_true(st.thread.tid == 1);
		assert_true(reg_g(&vm, "rip") == STARTUP_64_PHYS + 7);
	}
	assert_int_equal(rsp_remove_break(vm.c, 0, STARTUP_64_PHYS, 1, T_MS), 0);

	/* Nothing is allowed on the wire while running; QEMU dies: -EPIPE. */
	assert_int_equal(rsp_resume(vm.c, "c", T_MS), 0);
	assert_int_equal(rsp_read_mem(vm.c, STARTUP_64_PHYS, code, 1, T_MS), -EBUSY);
	kill(vm.pid, SIGKILL);
	waitpid(vm.pid, NULL, 0);
	vm.pid = 0;
	assert_int_equal(rsp_wait_stop(vm.c, &st, T_MS), -EPIPE);
	vm_stop(&vm);
}

/*
 * Which vCPU do g/p/m act on after a stop, when Hg had selected another one before it?
 * Does the VM keep running when the client goes away without 'D', and after 'D'? What does
 * the client see when the guest ends (reboot -f with -no-reboot makes QEMU exit)?
 *
 * (The default guest brings up one CPU only, even with -smp 2 -- its log says "MPTABLE:
 * Processor #0" only and "smpboot: Allowing 1 CPUs". So vCPU 2 stays parked in SeaBIOS and
 * a stop is always on p1.1; vCPU 2 is still a thread whose registers can be read.)
 */
static void test_qemu_cpu_select_and_detach(void **state)
{
	uint64_t start_kernel, rip2;
	struct vm vm;
	struct rsp_stop st;
	struct rsp_thread t2 = { 1, 2 };
	bool was_running;
	int err;

	need_env();
	start_kernel = t_system_map_addr("start_kernel");
	if (!start_kernel) {
		print_message("test_rsp_qemu: no System.map with start_kernel\n");
		skip();
	}
	vm_start(&vm, true, 2);
	vm_handshake(&vm, false);
	assert_int_equal(rsp_insert_break(vm.c, 0, STARTUP_64_PHYS, 1, T_MS), 0);
	assert_int_equal(rsp_resume(vm.c, "c", T_MS), 0);
	wait_stop(&vm, &st, T_MS);
	assert_true(st.thread.tid == 1);
	assert_int_equal(rsp_remove_break(vm.c, 0, STARTUP_64_PHYS, 1, T_MS), 0);

	/* Hg p1.2: g now reads vCPU 2 (parked in SeaBIOS, not at startup_64). */
	assert_int_equal(rsp_select_thread(vm.c, &t2, T_MS), 0);
	rip2 = reg_g(&vm, "rip");
	assert_true(rip2 != STARTUP_64_PHYS);
	print_message("  vCPU 2 (parked by SeaBIOS) rip %#llx\n", (unsigned long long)rip2);

	/*
	 * QEMU fact: a stop selects the CPU that stopped for g/p/m (gdb_set_stop_cpu), whatever
	 * Hg said before. Virtual breakpoint address: TCG matches the PC at translation.
	 */
	assert_int_equal(rsp_insert_break(vm.c, 0, start_kernel, 1, T_MS), 0);
	assert_int_equal(rsp_resume(vm.c, "c", T_MS), 0);
	wait_stop(&vm, &st, T_MS);
	assert_int_equal(st.signal, 5);
	assert_true(st.thread.pid == 1 && st.thread.tid == 1);
	assert_true(reg_g(&vm, "rip") == start_kernel);
	assert_true(reg_p(&vm, "rip") == start_kernel);

	/*
	 * Qqemu.PhyMemMode: m then reads guest physical memory. start_kernel's code is at its
	 * virtual address minus __START_KERNEL_map (nokaslr: phys_base 0). That address is not
	 * mapped by then (x86_64_start_kernel dropped the early identity map), and start_kernel's
	 * virtual address taken as physical (far above RAM) holds something else.
	 */
	{
		uint64_t phys = start_kernel - 0xffffffff80000000ull;
		uint8_t virt_code[16], phys_code[16], other[16];

		assert_int_equal(rsp_read_mem(vm.c, start_kernel, virt_code, 16, T_MS), 0);
		assert_int_equal(rsp_read_mem(vm.c, phys, other, 16, T_MS), -EFAULT);
		assert_int_equal(rsp_set_phys_mem_mode(vm.c, true, T_MS), 0);
		assert_int_equal(rsp_read_mem(vm.c, phys, phys_code, 16, T_MS), 0);
		assert_memory_equal(phys_code, virt_code, 16);
		/* QEMU fact: physical reads never fail (unbacked memory reads as some filler). */
		assert_int_equal(rsp_read_mem(vm.c, start_kernel, other, 16, T_MS), 0);
		assert_memory_not_equal(other, virt_code, 16);
		assert_int_equal(rsp_set_phys_mem_mode(vm.c, false, T_MS), 0);
		assert_int_equal(rsp_read_mem(vm.c, start_kernel, other, 16, T_MS), 0);
		assert_memory_equal(other, virt_code, 16);
	}
	assert_int_equal(rsp_remove_break(vm.c, 0, start_kernel, 1, T_MS), 0);

	/* QEMU fact: closing the connection without 'D' leaves the VM stopped. */
	rsp_close(vm.c);
	rsp_target_desc_free(&vm.desc);
	/* No wait needed: QEMU accepts the next connection only after it handled the close. */
	assert_int_equal(rsp_connect_unix(vm.sock, 10000, &vm.c), 0);
	assert_int_equal(rsp_handshake(vm.c, T_MS, &was_running), 0);
	assert_false(was_running);
	/* And p answers nothing again until target.xml is read on this connection. */
	{
		uint8_t buf[8];

		assert_int_equal(rsp_read_reg(vm.c, 16, buf, sizeof(buf), T_MS), -EOPNOTSUPP);
	}
	assert_int_equal(rsp_read_target_desc(vm.c, &vm.desc, T_MS), 0);
	assert_true(reg_p(&vm, "rip") == start_kernel);

	/* QEMU fact: after 'D' it runs: the next client stops it and receives QEMU's T02. */
	assert_int_equal(rsp_detach(vm.c, T_MS), 0);
	rsp_close(vm.c);
	rsp_target_desc_free(&vm.desc);
	/* QEMU handles the 'D' (the VM runs), then the close, then accepts this connection. */
	assert_int_equal(rsp_connect_unix(vm.sock, 10000, &vm.c), 0);
	assert_int_equal(rsp_handshake(vm.c, T_MS, &was_running), 0);
	assert_true(was_running);

	/* The guest ends (reboot -f, -no-reboot): "W00" if QEMU got to say it, then EOF. */
	assert_int_equal(rsp_resume(vm.c, "c", T_MS), 0);
	err = rsp_wait_stop(vm.c, &st, T_MS);
	if (!err) {
		print_message("  guest end: stop reply '%c' status %d\n", st.kind, st.exit_status);
		assert_int_equal(st.kind, 'W');
		err = rsp_wait_stop(vm.c, &st, T_MS);
	} else {
		print_message("  guest end: EOF without a W packet\n");
	}
	assert_int_equal(err, -EPIPE);
	vm_stop(&vm);
}

/* Connecting to a running VM stops it (T02); 0x03 stops it again after a continue. */
static void test_qemu_running(void **state)
{
	struct vm vm;
	struct rsp_stop st;
	int64_t t0;

	need_env();
	vm_start(&vm, false, 1);
	usleep(300 * 1000);
	t0 = now_ms();
	vm_handshake(&vm, true);
	print_message("  handshake + target description on a running VM: %lld ms\n",
		      (long long)(now_ms() - t0));
	assert_int_equal(rsp_resume(vm.c, "c", T_MS), 0);
	usleep(200 * 1000);
	assert_int_equal(rsp_interrupt(vm.c, T_MS), 0);
	wait_stop(&vm, &st, T_MS);
	/* QEMU fact: an interrupt stop is SIGINT (2) and names the thread in multiprocess form. */
	assert_int_equal(st.kind, 'T');
	assert_int_equal(st.signal, 2);
	assert_true(st.thread.pid == 1 && st.thread.tid == 1);
	vm_stop(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_startup64),
		cmocka_unit_test(test_qemu_cpu_select_and_detach),
		cmocka_unit_test(test_qemu_running),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
