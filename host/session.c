// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "host/engines/trap.h"
#include "host/vm/guestmem.h"
#include "host/vm/launch.h"
#include "host/log.h"
#include "host/session.h"
#include "host/fetch/task.h"
#include "proto/qmp.h"
#include "proto/rsp.h"

struct session {
	const struct ekp_session_config *cfg;
	struct ekp_qemu qemu;
	bool launched;
	struct rsp_client *rsp;
	struct qmp_client *qmp;
	struct ekp_target target;
	bool have_target;
	struct ekp_trap_engine *engine;
	struct ekp_probe **trap_probes;  /* the probes the trap engine holds */
	unsigned int *trap_index;        /* probe index -> trap engine index, or ~0u */
	unsigned int nr_trap;
	struct ekp_jump_engine *jump;
	uint64_t jump_arm_pa;            /* the jump engine's arming breakpoint, until armed */
	uint64_t tsc_hz;                 /* guest TSC ticks per second */
	struct ekp_guestmem ram;         /* guest RAM, shared with QEMU (jump engine) */
	char **argv_owned;               /* the QEMU command line with the RAM backend */
	size_t argv_ours;                /* argv_owned[argv_ours..] are strdup'ed by us */
	struct ekp_task_layout tasks;
	struct ekp_probe **probes;
	unsigned int nr_probes;
	int sigfd;
	bool interrupted;       /* a signal asked us to stop probing */
	bool armed;
	uint64_t rt_armed;      /* gdbstub round trips spent arming */
	/* Clocks (host CLOCK_MONOTONIC ns). */
	uint64_t t_start, t_end, stop_began, stopped_ns;
	int emit_err;
	char end[160];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Guest run time at the current stop: wall time since the first instruction, less the time
 * ekprobe held the guest stopped. */
static uint64_t guest_now_ns(void *opaque)
{
	struct session *s = opaque;

	return s->stop_began - s->t_start - s->stopped_ns;
}

static int emit_event(void *opaque, const struct ekp_event *ev)
{
	struct session *s = opaque;

	return ekp_sink_event(s->cfg->sink, ev);
}

static int setup_signals(struct session *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/*
	 * An ignored signal never reaches a signalfd, and shells start background jobs with
	 * SIGINT ignored: handle these signals whatever disposition was inherited (as perf does).
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return ekp_err(errno, "sigprocmask: %s", strerror(errno));
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0)
		return ekp_err(errno, "signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int connect_qmp(struct session *s, const char *path, bool *prelaunch)
{
	json_t *ret = NULL, *status;
	int err;

	err = qmp_connect_unix(path, s->cfg->timeout_ms, &s->qmp);
	if (err)
		return ekp_err_prefix(err, "QMP %s: ", path);
	err = qmp_execute(s->qmp, "query-status", NULL, &ret, s->cfg->timeout_ms);
	if (err)
		return ekp_err_prefix(err, "QMP query-status: ");
	status = json_object_get(ret, "status");
	*prelaunch = json_is_string(status) && !strcmp(json_string_value(status), "prelaunch");
	json_decref(ret);
	ret = NULL;
	if (!qmp_execute(s->qmp, "query-kvm", NULL, &ret, s->cfg->timeout_ms) &&
	    json_is_true(json_object_get(ret, "enabled")))
		ekp_warn("the guest runs under KVM: breakpoints are written into guest memory "
			 "there and need a valid mapping when inserted; this mode is untested "
			 "(see docs/usage.md)");
	json_decref(ret);
	return 0;
}

static int connect_vm(struct session *s, const char *vm)
{
	char host[256];
	const char *colon;
	bool was_running = false;
	int err;

	if (!strncmp(vm, "unix:", 5)) {
		err = rsp_connect_unix(vm + 5, s->cfg->timeout_ms, &s->rsp);
	} else if (!strncmp(vm, "gdb:", 4) && (colon = strrchr(vm + 4, ':')) &&
		   (size_t)(colon - (vm + 4)) < sizeof(host)) {
		memcpy(host, vm + 4, (size_t)(colon - (vm + 4)));
		host[colon - (vm + 4)] = '\0';
		err = rsp_connect_tcp(host, colon + 1, s->cfg->timeout_ms, &s->rsp);
	} else {
		return ekp_err(EINVAL, "--vm %s: expected gdb:HOST:PORT or unix:PATH", vm);
	}
	if (err)
		return ekp_err_prefix(err, "gdbstub %s: ", vm);
	err = rsp_handshake(s->rsp, s->cfg->timeout_ms, &was_running);
	if (err)
		return ekp_err_prefix(err, "gdbstub %s: ", vm);
	if (was_running)
		ekp_info("attached to a running guest: probes fire from now on");
	return 0;
}

/*
 * The jump engine reads its ring from guest RAM while the guest runs: QEMU keeps RAM in a
 * memfd shared with us. The user's -m (default 128 MiB) becomes that backend's size.
 */
/* -M/-machine q35 (any version): QEMU splits RAM at 2 GiB there, at 3 GiB on pc. */
static bool machine_is_q35(char *const *argv)
{
	for (size_t i = 0; argv[i] && argv[i + 1]; i++)
		if ((!strcmp(argv[i], "-M") || !strcmp(argv[i], "-machine")) &&
		    (!strncmp(argv[i + 1], "q35", 3) || strstr(argv[i + 1], "type=q35") ||
		     strstr(argv[i + 1], "pc-q35")))
			return true;
	return false;
}

static int qemu_argv_with_ram(struct session *s, char *const *argv, uint64_t *ram)
{
	struct ekp_guestmem_args ga;
	const char *m = NULL;
	size_t n = 0, k = 0;
	int err;

	for (n = 0; argv[n]; n++) {
		if (strstr(argv[n], "memory-backend"))
			return ekp_err(EINVAL, "the QEMU command line sets a memory backend already; "
				       "the jump engine needs its own (drop it, or use --engine trap)");
		if (!strcmp(argv[n], "-m") && argv[n + 1])
			m = argv[n + 1];
	}
	*ram = EKP_QEMU_DEFAULT_RAM;
	if (m && (err = ekp_guestmem_parse_size(m, ram)))
		return ekp_err_prefix(err, "-m %s: ", m);
	err = ekp_guestmem_qemu_args(*ram, &ga);
	if (err)
		return err;
	s->argv_owned = calloc(n + ga.argc + 1, sizeof(char *));
	if (!s->argv_owned)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(argv[i], "-m") && argv[i + 1]) {
			i++;
			continue;
		}
		s->argv_owned[k++] = argv[i];
	}
	s->argv_ours = k;
	for (unsigned int i = 0; i < ga.argc; i++)
		if (!(s->argv_owned[k++] = strdup(ga.argv[i])))
			return -ENOMEM;
	return 0;
}

static void *guest_ptr(void *opaque, uint64_t pa, size_t len)
{
	struct session *s = opaque;

	return ekp_guestmem_ptr(&s->ram, pa, len);
}

static int start(struct session *s)
{
	bool prelaunch = false;
	int err;

	if (s->cfg->qemu_argv) {
		char *const *argv = s->cfg->qemu_argv;
		uint64_t ram = 0;

		if (s->jump) {
			err = qemu_argv_with_ram(s, argv, &ram);
			if (err)
				return err;
			argv = s->argv_owned;
		}
		err = ekp_qemu_launch(argv, 10000, &s->qemu);
		if (err)
			return err;
		s->launched = true;
		err = connect_qmp(s, s->qemu.qmp_path, &prelaunch);
		if (err)
			return err;
		if (!prelaunch)
			return ekp_err(EPROTO, "QEMU is not holding the guest before its first "
				       "instruction (status is not prelaunch)");
		if (s->jump) {
			err = ekp_guestmem_open(&s->ram, s->qemu.pid, ram,
						ekp_guestmem_default_below_4g(machine_is_q35(s->cfg->qemu_argv), ram));
			if (err)
				return ekp_err_prefix(err, "mapping guest RAM: ");
			ekp_jump_set_ram(s->jump, guest_ptr, s);
		}
		char vm[160];

		snprintf(vm, sizeof(vm), "unix:%s", s->qemu.gdb_path);
		err = connect_vm(s, vm);
	} else {
		err = connect_vm(s, s->cfg->vm);
		if (!err && s->cfg->qmp_path)
			err = connect_qmp(s, s->cfg->qmp_path, &prelaunch);
		if (!err && prelaunch)
			ekp_info("the guest is held before its first instruction (-S)");
	}
	if (err)
		return err;
	err = ekp_target_init(&s->target, s->rsp, s->cfg->arch, s->cfg->timeout_ms);
	if (err)
		return err;
	s->have_target = true;
	if (ekp_arch_by_name(s->target.desc.arch) != s->cfg->arch)
		return ekp_err(EINVAL, "the guest's architecture is '%s', the probes are for %s",
			       s->target.desc.arch, s->cfg->arch->name);
	return 0;
}

static int arm(struct session *s)
{
	struct ekp_trap_config tc = {
		.arch = s->cfg->arch, .target = &s->target, .st = s->cfg->st, .tasks = &s->tasks,
		.probes = s->probes, .nr_probes = s->nr_probes, .emit = emit_event, .opaque = s,
		.now_ns = guest_now_ns,
	};
	int err;

	ekp_task_layout_init(&s->tasks, s->cfg->st);
	s->trap_probes = calloc(s->nr_probes + 1, sizeof(*s->trap_probes));
	s->trap_index = calloc(s->nr_probes + 1, sizeof(*s->trap_index));
	if (!s->trap_probes || !s->trap_index)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->nr_probes; i++) {
		s->trap_index[i] = ~0u;
		if (ekp_jump_planned(s->jump, i))
			continue;
		s->trap_index[i] = s->nr_trap;
		s->trap_probes[s->nr_trap++] = s->probes[i];
	}
	tc.probes = s->trap_probes;
	tc.nr_probes = s->nr_trap;
	if (s->jump) {
		s->jump_arm_pa = ekp_jump_arm_addr(s->jump);
		if (!s->jump_arm_pa)
			return ekp_err(ENOENT, "no kernel entry (_text) to arm the jump engine at");
		err = rsp_insert_break(s->rsp, 0, s->jump_arm_pa, 1, s->cfg->timeout_ms);
		s->target.round_trips++;
		if (err)
			return ekp_err_prefix(err, "arming breakpoint for the jump engine: ");
	}
	err = ekp_trap_engine_new(&tc, &s->engine);
	if (err)
		return ekp_err(-err, "creating the trap engine: %s", strerror(-err));
	err = ekp_trap_arm(s->engine);
	if (err)
		return err;
	s->armed = true;
	s->rt_armed = s->target.round_trips;
	if (s->jump)
		ekp_info("armed %u trap probe%s; %u jump probe%s go in when the kernel is in place, "
			 "before its first instruction", s->nr_trap, s->nr_trap == 1 ? "" : "s",
			 ekp_jump_nr_planned(s->jump), ekp_jump_nr_planned(s->jump) == 1 ? "" : "s");
	else
		ekp_info("armed %u probe%s (trap engine) before resuming the guest", s->nr_probes,
			 s->nr_probes == 1 ? "" : "s");
	return 0;
}

/* Remove every breakpoint and let the guest run on without us. The VM must be stopped. */
static int detach(struct session *s)
{
	int err = 0, err2;

	if (s->armed)
		err = ekp_trap_disarm(s->engine);
	s->armed = false;
	if (s->jump && ekp_jump_armed(s->jump)) {
		ekp_jump_drain(s->jump);
		err2 = ekp_jump_disarm(s->jump, &s->target);
		err = err ? err : err2;
		if (!err2)
			ekp_info("jump sites restored (original bytes read back)");
	}
	err2 = rsp_detach(s->rsp, s->cfg->timeout_ms);
	return err ? err : err2;
}

static int handle_signal(struct session *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (s->interrupted && s->launched) {
			ekp_info("second signal: terminating QEMU");
			ekp_qemu_terminate(&s->qemu, 3000);
			continue;
		}
		if (!s->interrupted) {
			ekp_info("signal %u: stopping the guest to remove the probes", si.ssi_signo);
			s->interrupted = true;
			if (rsp_interrupt(s->rsp, s->cfg->timeout_ms))
				return -EPIPE;
		}
	}
	return 0;
}

static uint64_t host_tsc(void)
{
#if defined(__x86_64__)
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
#else
	return 0;
#endif
}

/*
 * A record's guest TSC as guest run time. Under TCG the guest TSC is the host's TSC with the
 * time the VM was stopped taken out, counted from reset (the guest's start): it runs at the
 * host TSC rate, or at 1 GHz (virtual nanoseconds) under -icount.
 */
static uint64_t tsc_to_ns(void *opaque, uint64_t tsc)
{
	struct session *s = opaque;

	if (!s->tsc_hz)
		return 0;
	return (uint64_t)((unsigned __int128)tsc * 1000000000u / s->tsc_hz);
}

/* Host TSC rate, measured over the time it took to start QEMU and arm (hundreds of ms). */
static void measure_tsc(struct session *s, uint64_t t0_ns, uint64_t tsc0)
{
	uint64_t dt = mono_ns() - t0_ns, dtsc = host_tsc() - tsc0;

	if (s->cfg->icount)
		s->tsc_hz = 1000000000u;
	else if (dt > 1000000)
		s->tsc_hz = (uint64_t)((unsigned __int128)dtsc * 1000000000u / dt);
}

/* The stop at the kernel's entry, after the decompressor: put the jumps in. */
static int maybe_arm_jumps(struct session *s)
{
	uint64_t pc = 0;
	int err;

	if (!s->jump || ekp_jump_armed(s->jump) || !s->jump_arm_pa)
		return 0;
	err = ekp_target_read_pc(&s->target, &pc);
	if (err || pc != s->jump_arm_pa)
		return err;
	err = ekp_jump_arm(s->jump, &s->target);
	if (err)
		return err;
	err = rsp_remove_break(s->rsp, 0, s->jump_arm_pa, 1, s->cfg->timeout_ms);
	s->target.round_trips++;
	s->jump_arm_pa = 0;
	if (err)
		return ekp_err_prefix(err, "removing the jump engine's arming breakpoint: ");
	ekp_info("jump probes armed at the kernel's entry; their ring holds %u records, read "
		 "every %d ms", ekp_jump_ring_records(s->jump),
		 s->cfg->poll_ms > 0 ? s->cfg->poll_ms : 10);
	return 0;
}

static int drain_jumps(struct session *s)
{
	int n;

	if (!s->jump || !ekp_jump_armed(s->jump))
		return 0;
	n = ekp_jump_drain(s->jump);
	return n < 0 ? n : 0;
}

/* Run the guest until it exits or we are asked to stop. */
static int run(struct session *s)
{
	int poll_ms = s->cfg->poll_ms > 0 ? s->cfg->poll_ms : 10;
	struct rsp_stop stop;
	int err, ours;

	s->t_start = mono_ns();
	err = rsp_resume(s->rsp, "c", s->cfg->timeout_ms);
	if (err)
		return ekp_err_prefix(err, "starting the guest: ");
	for (;;) {
		struct pollfd p[2] = { { rsp_fd(s->rsp), POLLIN, 0 }, { s->sigfd, POLLIN, 0 } };

		/* With jump probes, read their ring every poll_ms while the guest runs. */
		int ready = poll(p, 2, s->jump && ekp_jump_armed(s->jump) ? poll_ms : -1);

		if (ready < 0) {
			if (errno == EINTR)
				continue;
			return ekp_err(errno, "poll: %s", strerror(errno));
		}
		err = drain_jumps(s);
		if (err)
			return err;
		if (ready == 0)
			continue;
		if (p[1].revents & POLLIN) {
			err = handle_signal(s);
			if (err)
				goto gone;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		err = rsp_wait_stop(s->rsp, &stop, s->cfg->timeout_ms);
		s->stop_began = mono_ns();
		if (err == -EPIPE)
			goto gone;
		if (err)
			return ekp_err_prefix(err, "waiting for the guest: ");
		if (stop.kind == 'W' || stop.kind == 'X') {
			err = drain_jumps(s);
			if (err)
				return err;
			snprintf(s->end, sizeof(s->end), "guest exited");
			s->t_end = s->stop_began;
			s->armed = false;
			return 0;
		}
		err = maybe_arm_jumps(s);
		if (err)
			return err;
		err = drain_jumps(s); /* records made before this stop come first */
		if (err)
			return err;
		ours = ekp_trap_handle_stop(s->engine, &stop);
		if (ours < 0)
			return ours;
		ekp_sink_flush(s->cfg->sink);
		if (s->interrupted) {
			s->t_end = s->stop_began;
			err = detach(s);
			snprintf(s->end, sizeof(s->end), "detached on signal, guest resumed");
			return err;
		}
		if (!ours)
			ekp_debug("stop that is not a probe (signal %d): resuming", stop.signal);
		err = ekp_trap_resume(s->engine, &stop);
		s->stopped_ns += mono_ns() - s->stop_began;
		if (err == -EPIPE)
			goto gone;
		if (err)
			return err;
	}
gone:
	/* QEMU closed the connection: it is exiting. Its RAM stays mapped: read the last records. */
	s->t_end = mono_ns();
	s->armed = false;
	err = drain_jumps(s);
	if (err)
		return err;
	snprintf(s->end, sizeof(s->end), "guest exited");
	return 0;
}

static int write_summary(struct session *s)
{
	struct ekp_probe_stats *stats = calloc(s->nr_probes + 1, sizeof(*stats));
	struct ekp_summary sum = { .nr_probes = s->nr_probes, .stats = stats, .end = s->end };
	int err;

	if (!stats)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->nr_probes; i++) {
		unsigned int t = s->trap_index ? s->trap_index[i] : i;

		stats[i].probe = s->probes[i];
		if (ekp_jump_planned(s->jump, i)) {
			stats[i].engine = "jump";
			stats[i].hits = ekp_jump_hits(s->jump, i);
		} else {
			stats[i].engine = "trap";
			stats[i].hits = s->engine ? ekp_trap_hits(s->engine, t) : 0;
			stats[i].unmatched = s->engine ? ekp_trap_pending(s->engine, t) : 0;
		}
		sum.total_hits += stats[i].hits;
	}
	sum.stops = s->engine ? ekp_trap_stops(s->engine) : 0;
	sum.resteps = s->engine ? ekp_trap_resteps(s->engine) : 0;
	sum.lost = ekp_jump_lost(s->jump);
	sum.invalid = ekp_jump_invalid(s->jump);
	sum.round_trips = s->have_target ? s->target.round_trips - s->rt_armed : 0;
	if (s->t_start && s->t_end >= s->t_start) {
		sum.wall_ns = s->t_end - s->t_start;
		sum.stopped_ns = s->stopped_ns;
		sum.guest_ns = sum.wall_ns > sum.stopped_ns ? sum.wall_ns - sum.stopped_ns : 0;
	}
	err = ekp_sink_summary(s->cfg->sink, &sum);
	free(stats);
	return err;
}

/* Wait for QEMU to exit; a signal now terminates it. */
static int wait_qemu(struct session *s)
{
	for (;;) {
		struct pollfd p[2] = { { s->qemu.pidfd, POLLIN, 0 }, { s->sigfd, POLLIN, 0 } };
		struct signalfd_siginfo si;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN)
			break;
		if ((p[1].revents & POLLIN) && read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
			ekp_info("signal %u: terminating QEMU", si.ssi_signo);
			ekp_qemu_terminate(&s->qemu, 3000);
		}
	}
	return ekp_qemu_wait(&s->qemu, -1);
}

static void teardown(struct session *s)
{
	if (s->engine)
		ekp_trap_engine_free(s->engine);
	if (s->have_target)
		ekp_target_fini(&s->target);
	if (s->rsp)
		rsp_close(s->rsp);
	if (s->qmp)
		qmp_close(s->qmp);
	if (s->sigfd >= 0)
		close(s->sigfd);
	free(s->probes);
	free(s->trap_probes);
	free(s->trap_index);
	if (s->ram.base)
		ekp_guestmem_close(&s->ram);
	for (size_t i = s->argv_ours; s->argv_owned && s->argv_owned[i]; i++)
		free(s->argv_owned[i]);
	free(s->argv_owned);
}

int ekp_session_run(const struct ekp_session_config *cfg)
{
	struct session s = { .cfg = cfg, .sigfd = -1, .jump = cfg->jump };
	uint64_t t0 = mono_ns(), tsc0 = host_tsc();
	int err, status = 0;

	s.nr_probes = ekp_probe_list_count(cfg->probes);
	s.probes = calloc(s.nr_probes + 1, sizeof(*s.probes));
	if (!s.probes)
		return -ENOMEM;
	for (unsigned int i = 0; i < s.nr_probes; i++)
		s.probes[i] = ekp_probe_list_get(cfg->probes, i);
	err = setup_signals(&s);
	err = err ? err : start(&s);
	err = err ? err : arm(&s);
	if (!err && s.jump) {
		measure_tsc(&s, t0, tsc0);
		ekp_jump_set_output(s.jump, emit_event, tsc_to_ns, &s);
	}
	err = err ? err : run(&s);
	if (err && s.rsp && s.armed) {
		/* Leave no breakpoint behind even when something failed. */
		char why[1024];

		snprintf(why, sizeof(why), "%s", ekp_errmsg());
		if (!rsp_interrupt(s.rsp, cfg->timeout_ms)) {
			struct rsp_stop stop;

			rsp_wait_stop(s.rsp, &stop, cfg->timeout_ms);
			detach(&s);
		}
		ekp_err(-err, "%s", why);
	}
	if (!s.end[0])
		snprintf(s.end, sizeof(s.end), "error: %s", err ? ekp_errmsg() : "");
	if (s.t_start && !s.t_end)
		s.t_end = mono_ns();
	if (s.jump && ekp_jump_lost(s.jump))
		ekp_warn("the guest dropped %" PRIu64 " jump-probe records: its ring (%u records) was "
			 "full; read it more often (--poll-ms) or give the guest a bigger ring "
			 "(CONFIG_EKPROBE_RING_RECORDS)", ekp_jump_lost(s.jump),
			 ekp_jump_ring_records(s.jump));
	if (s.jump && ekp_jump_invalid(s.jump))
		ekp_warn("%" PRIu64 " jump-probe records were invalid (fields out of range) and dropped",
			 ekp_jump_invalid(s.jump));
	if (cfg->summary && s.t_start) {
		int serr = write_summary(&s);

		err = err ? err : serr;
	}
	ekp_sink_flush(cfg->sink);
	if (s.launched) {
		if (err) {
			char why[1024];

			snprintf(why, sizeof(why), "%s", ekp_errmsg());
			ekp_qemu_terminate(&s.qemu, 3000);
			ekp_err(-err, "%s", why);
		} else {
			if (s.interrupted)
				ekp_info("probes removed; waiting for QEMU to exit (signal again to "
					 "terminate it)");
			status = wait_qemu(&s);
		}
		ekp_qemu_cleanup(&s.qemu);
	}
	teardown(&s);
	return err ? err : status;
}
