// SPDX-License-Identifier: GPL-2.0
/*
 * The run loop and how a run ends (docs/usage.md, "Exit status"):
 *
 *   the guest exits           launch: QEMU's exit status; attach: 0
 *   QEMU killed by signal N   128+N, with a message naming the signal
 *   gdbstub connection lost   launch: QEMU terminated, 1; attach: 1 (0 when QMP says QEMU
 *                             exited; without QMP "the gdbstub closed the connection", 0)
 *   a signal                  the guest is stopped, every probe removed, the guest resumed;
 *                             launch: QEMU's status once it exits, a second signal terminates
 *                             it; attach: 0, and a second signal gives up at once (1)
 *   an error                  probes removed while the gdbstub answers; launch: QEMU
 *                             terminated; 1
 *
 * libvirt mode is attach mode with the domain's QEMU known (its process, from libvirt): the
 * gdbstub is closed at the end ("gdbserver none") and the domain runs on under libvirt, also
 * one ekprobe-host started; only a domain it started that never ran is stopped again after an
 * error.
 *
 * Every wait has a deadline (--timeout) or is interruptible by a signal, and the whole
 * shutdown shares one deadline.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "host/log.h"
#include "host/probes/resolve.h"
#include "host/session.h"
#include "host/vm/guestmem.h"
#include "host/vm/launch.h"
#include "host/vm/qemu_argv.h"
#include "host/vm/target.h"
#include "proto/qmp.h"
#include "proto/rsp.h"

struct session {
	const struct ekp_session_config *cfg;
	struct ekp_engine_set *set;
	struct ekp_qemu qemu;
	bool launched;
	struct ekp_libvirt *lv;  /* libvirt mode */
	bool lv_started;         /* ekprobe-host started the domain (paused) */
	pid_t vm_pid;            /* QEMU's process when known here and not our child */
	char *const *vm_argv;    /* its command line */
	int vm_pidfd;            /* readable when that QEMU exits; -1 */
	struct ekp_qemu_argv argv;
	struct rsp_client *rsp;
	struct qmp_client *qmp;
	struct ekp_target target;
	bool have_target;
	int sigfd;
	unsigned int signals;   /* signals received */
	uint64_t signal_at;     /* when the first came (mono ns) */
	bool armed;             /* the engines' probes are in the guest */
	bool prelaunch;         /* QEMU held the guest before its first instruction */
	bool running;           /* the VM runs: resumed, no stop reply yet */
	bool detached;          /* probes removed and the guest resumed (a signal, or
				 * --detach-after-handoff) */
	bool detached_after_handoff;
	bool qemu_gone;         /* QEMU exited (launch mode: its status in qemu_status) */
	bool give_up;           /* a second signal: leave at once, touch nothing */
	bool gdb_gone;          /* the gdbstub connection closed */
	int qemu_status;
	uint64_t rt_armed;      /* gdbstub round trips when arming was done */
	/* Clocks (host CLOCK_MONOTONIC ns). */
	uint64_t t_start, t_end, stop_began, stopped_ns;
	uint64_t deadline;      /* of the shutdown, once it began; 0 before */
	char end[192];
	/* Finding a kernel that KASLR moved (cfg->locate_kernel). */
	uint64_t *cand;         /* breakpoints on the places its first instruction may be */
	size_t nr_cand;
	bool locating;          /* they are in */
	bool located;           /* found: slide holds how far it moved */
	struct ekp_slide slide;
	uint64_t entry_pa;      /* where its first instruction ran */
	struct ekp_symtab *run_st; /* the running kernel's symbols, for the trace */
	/* --handoff */
	bool handed_over;
	uint64_t handoff_ns;    /* guest run time of the handoff */
	uint64_t *hits_at_handoff; /* per probe */
	bool *handed;           /* per probe: handed over */
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

/*
 * Guest run time at a host instant the guest ran: stops end in order, and an exit-less
 * engine's records are drained at every stop before it ends, so the stops that count are the
 * ones completed (stopped_ns); an instant inside the current stop (a single-step off a
 * breakpoint) counts as the stop's beginning.
 */
static uint64_t guest_ns_at(void *opaque, uint64_t mono)
{
	struct session *s = opaque;
	uint64_t t;

	if (!s->t_start || mono < s->t_start)
		return 0;
	if (!s->running && s->stop_began >= s->t_start && mono > s->stop_began)
		mono = s->stop_began;
	t = mono - s->t_start;
	return t > s->stopped_ns ? t - s->stopped_ns : 0;
}

static int emit_event(void *opaque, const struct ekp_event *ev)
{
	struct session *s = opaque;

	if (s->cfg->status)
		ekp_status_event(s->cfg->status, ev);
	return ekp_sink_event(s->cfg->sink, ev);
}

/* --handoff: the guest's own kprobes took handed[] over now. */
static int note_handoff(void *opaque, const bool *handed)
{
	struct session *s = opaque;
	unsigned int n = s->cfg->nr_probes, nr = 0;
	struct ekp_handoff_mark m = {
		.ts_ns = guest_now_ns(s), .to = "the guest's own kprobe events (its trace)",
		.probes = s->cfg->probes, .handed = handed, .nr_probes = n,
	};

	if (s->handed_over)
		return ekp_err(EINVAL, "--handoff: a second handoff");
	s->hits_at_handoff = calloc((size_t)n + 1, sizeof(*s->hits_at_handoff));
	s->handed = calloc((size_t)n + 1, sizeof(*s->handed));
	if (!s->hits_at_handoff || !s->handed)
		return ekp_err(ENOMEM, "out of memory");
	for (unsigned int i = 0; i < n; i++) {
		const struct ekp_engine *e = s->set->engines[s->set->owner[i]];
		struct ekp_probe_counts c;

		e->ops->probe_stats(e, i, &c);
		s->hits_at_handoff[i] = c.hits;
		s->handed[i] = handed[i];
		nr += handed[i];
	}
	s->handed_over = true;
	s->handoff_ns = m.ts_ns;
	ekp_info("handoff at %.6f s guest run time: the guest's own kprobe events hold %u "
		 "probe%s from here on", (double)m.ts_ns / 1e9, nr, nr == 1 ? "" : "s");
	return ekp_sink_handoff(s->cfg->sink, &m);
}

/*
 * --detach-after-handoff: the handoff is complete when it happened and no frame of a handed
 * return probe entered before it still waits for its return here.
 */
static bool handoff_complete(struct session *s)
{
	if (!s->cfg->detach_after_handoff || !s->handed_over)
		return false;
	for (unsigned int i = 0; i < s->cfg->nr_probes; i++) {
		const struct ekp_engine *e = s->set->engines[s->set->owner[i]];
		struct ekp_probe_counts c;

		if (!s->handed[i])
			continue;
		e->ops->probe_stats(e, i, &c);
		if (c.pending)
			return false;
	}
	return true;
}

/* The trace's last word after --detach-after-handoff. */
static int note_detach(struct session *s)
{
	struct ekp_handoff_mark m = {
		.ts_ns = guest_now_ns(s), .to = "its own kprobe events (its trace)",
		.probes = s->cfg->probes, .handed = s->handed, .nr_probes = s->cfg->nr_probes,
		.detached = true,
	};

	ekp_info("--detach-after-handoff: detached at %.6f s guest run time; the guest runs on "
		 "without ekprobe", (double)m.ts_ns / 1e9);
	return ekp_sink_handoff(s->cfg->sink, &m);
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
	/* A closed pipe or a file size limit must be a write error we report, not a death. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	return 0;
}

/* ---- getting a stopped guest ------------------------------------------------------------ */

/* query-kvm's return: warn when the guest runs under KVM. */
static void warn_kvm(json_t *ret)
{
	if (json_is_true(json_object_get(ret, "enabled")))
		ekp_warn("the guest runs under KVM: breakpoints are written into guest memory "
			 "there and need a valid mapping when inserted; this mode is untested "
			 "(see docs/usage.md)");
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
	if (!qmp_execute(s->qmp, "query-kvm", NULL, &ret, s->cfg->timeout_ms))
		warn_kvm(ret);
	json_decref(ret);
	return 0;
}

static int connect_vm(struct session *s, const struct ekp_vm_spec *vm)
{
	char name[sizeof(vm->host) + sizeof(vm->port) + 8];
	bool was_running = false;
	int err;

	if (vm->kind == EKP_VM_UNIX) {
		snprintf(name, sizeof(name), "unix:%s", vm->path);
		err = rsp_connect_unix(vm->path, s->cfg->timeout_ms, &s->rsp);
	} else {
		snprintf(name, sizeof(name), strchr(vm->host, ':') ? "gdb:[%s]:%s" : "gdb:%s:%s",
			 vm->host, vm->port);
		err = rsp_connect_tcp(vm->host, vm->port, s->cfg->timeout_ms, &s->rsp);
	}
	if (err)
		return ekp_err_prefix(err, "gdbstub %s: ", name);
	err = rsp_handshake(s->rsp, s->cfg->timeout_ms, &was_running);
	if (err)
		return ekp_err_prefix(err, "gdbstub %s: ", name);
	if (was_running)
		ekp_info("attached to a running guest: probes fire from now on");
	return 0;
}

/* Launch mode: the user's command line, plus what the engines need. */
static int launch(struct session *s)
{
	struct ekp_vm_spec vm = { .kind = EKP_VM_UNIX };
	bool prelaunch = false;
	int err;

	err = ekp_qemu_argv_init(&s->argv, s->cfg->qemu_argv);
	for (unsigned int k = 0; !err && k < s->set->nr; k++) {
		struct ekp_engine *e = s->set->engines[k];

		if (e->ops->qemu_args)
			err = e->ops->qemu_args(e, &s->argv);
	}
	if (err)
		return err;
	err = ekp_qemu_launch(s->argv.v, s->cfg->timeout_ms, &s->qemu);
	if (err)
		return err;
	s->launched = true;
	err = connect_qmp(s, s->qemu.qmp_path, &prelaunch);
	if (err)
		return err;
	if (!prelaunch)
		return ekp_err(EPROTO, "QEMU is not holding the guest before its first instruction "
			       "(status is not prelaunch)");
	if (strlen(s->qemu.gdb_path) >= sizeof(vm.path))
		return ekp_err(ENAMETOOLONG, "the gdbstub socket path %s is too long",
			       s->qemu.gdb_path);
	memcpy(vm.path, s->qemu.gdb_path, strlen(s->qemu.gdb_path) + 1);
	err = connect_vm(s, &vm);
	/* Both connections are up: the sockets and their directory can go now, so that nothing
	 * is left behind whatever happens to ekprobe-host later. */
	ekp_qemu_remove_sockets(&s->qemu);
	return err;
}

/*
 * libvirt mode: a shut-off domain is started paused and probed from its first instruction; a
 * running one (or one held at its first instruction already) is attached to. QMP goes through
 * libvirt's monitor pass-through, the gdbstub is a socketpair handed to QEMU.
 */
static int start_libvirt(struct session *s)
{
	const struct ekp_libvirt_info *info = ekp_libvirt_info(s->lv);
	const char *name = info->xml.name;
	bool was_running = false;
	json_t *ret = NULL;
	int fd, err;

	if (!info->active) {
		err = ekp_libvirt_start_paused(s->lv);
		if (err)
			return err;
		s->lv_started = true;
	}
	err = ekp_libvirt_refresh_status(s->lv);
	if (err)
		return err;
	if (s->lv_started && strcmp(info->status, "prelaunch"))
		return ekp_err(EPROTO, "domain '%s' started, but QEMU is not holding it before its "
			       "first instruction (status %s, not prelaunch)", name, info->status);
	/* "debug": stopped at a breakpoint of QEMU's gdbstub that nobody serves any more (an
	 * ekprobe-host killed with SIGKILL); attaching clears it (below) and lets it run. */
	if (strcmp(info->status, "prelaunch") && strcmp(info->status, "running") &&
	    strcmp(info->status, "debug"))
		return ekp_err(EBUSY, "domain '%s' is not running (QEMU's status: %s): resume it "
			       "first (virsh resume), or shut it off and ekprobe-host starts it from "
			       "its first instruction", name, info->status);
	if (!ekp_libvirt_qmp(s->lv, "query-kvm", &ret))
		warn_kvm(ret);
	json_decref(ret);
	ekp_err_clear();
	err = ekp_libvirt_gdbstub_open(s->lv, &fd);
	if (!err)
		err = rsp_client_from_fd(fd, &s->rsp);
	if (!err)
		err = rsp_handshake(s->rsp, s->cfg->timeout_ms, &was_running);
	/*
	 * The gdbstub is ekprobe-host's alone now: '?' makes QEMU drop every breakpoint its
	 * gdbstub still holds (QEMU keeps them across gdbserver commands and lost connections).
	 */
	if (!err) {
		struct ekp_buf reply = { 0 };

		err = rsp_command(s->rsp, "?", &reply, s->cfg->timeout_ms);
		ekp_buf_free(&reply);
	}
	if (err)
		return ekp_err_prefix(err, "domain '%s', gdbstub: ", name);
	if (s->lv_started)
		ekp_info("started domain '%s' paused, before its first instruction", name);
	else if (!strcmp(info->status, "prelaunch"))
		ekp_info("domain '%s' is held before its first instruction", name);
	else if (!strcmp(info->status, "debug"))
		ekp_info("domain '%s' was stopped at a breakpoint of QEMU's gdbstub left by an "
			 "earlier debugger (cleared): probes fire from now on", name);
	else
		ekp_info("attached to running domain '%s': probes fire from now on", name);
	/* QEMU's process, for engines that map guest RAM and to see it exit. */
	if (ekp_libvirt_qemu_process(s->lv, &s->vm_pid, &s->vm_argv)) {
		ekp_debug("domain '%s': %s", name, ekp_errmsg());
		s->vm_pid = 0;
		s->vm_argv = NULL;
	} else {
		s->vm_pidfd = (int)syscall(SYS_pidfd_open, s->vm_pid, 0);
	}
	ekp_err_clear();
	return 0;
}

static int start(struct session *s)
{
	bool prelaunch = false;
	int err;

	if (s->cfg->qemu_argv) {
		err = launch(s);
		s->prelaunch = true; /* checked there */
	} else if (s->lv) {
		err = start_libvirt(s);
		s->prelaunch = !err && (s->lv_started ||
					!strcmp(ekp_libvirt_info(s->lv)->status, "prelaunch"));
	} else {
		err = connect_vm(s, s->cfg->vm);
		if (!err && s->cfg->qmp_path)
			err = connect_qmp(s, s->cfg->qmp_path, &prelaunch);
		if (!err && prelaunch)
			ekp_info("the guest is held before its first instruction (-S)");
		s->prelaunch = prelaunch;
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

/* ---- a kernel that KASLR moves ------------------------------------------------------------ */

/* The guest's RAM as QEMU lays it out: launch mode from -m; attach mode from QMP. */
static int guest_ram(struct session *s, struct ekp_ram_layout *layout)
{
	const struct ekp_arch *arch = s->cfg->arch;
	uint64_t ram = arch->default_ram;
	int err;

	if (s->cfg->qemu_argv) {
		struct ekp_qemu_argv user;
		const char *m;

		err = ekp_qemu_argv_init(&user, s->cfg->qemu_argv);
		if (err)
			return err;
		m = ekp_qemu_argv_value(&user, "m");
		err = m ? ekp_guestmem_parse_size(m, &ram) : 0;
		if (err)
			err = ekp_err_prefix(err, "-m %s: ", m);
		if (!err)
			err = arch->ram_layout(user.v, ram, layout);
		ekp_qemu_argv_free(&user);
		return err;
	}
	if (!s->qmp)
		return ekp_err(EINVAL, "the kernel may be moved at boot (KASLR): to find where, "
			       "ekprobe-host needs the guest's RAM size: give --qmp (or boot it "
			       "with nokaslr)");
	{
		json_t *ret = NULL, *base;

		err = qmp_execute(s->qmp, "query-memory-size-summary", NULL, &ret, s->cfg->timeout_ms);
		if (err)
			return ekp_err_prefix(err, "QMP query-memory-size-summary: ");
		base = json_object_get(ret, "base-memory");
		if (!json_is_integer(base) || json_integer_value(base) <= 0) {
			json_decref(ret);
			return ekp_err(EPROTO, "QMP query-memory-size-summary: no base-memory");
		}
		ram = (uint64_t)json_integer_value(base);
		json_decref(ret);
	}
	return arch->ram_layout(NULL, ram, layout);
}

static int apply_slide(struct session *s);

/* Breakpoints on every place the kernel's first instruction may be (or, for a kernel that
 * runs already, its place found at once). */
static int arm_locator(struct session *s)
{
	const struct ekp_kaslr_arch *k = s->cfg->arch->kaslr;
	struct ekp_ram_layout layout;
	int err;

	if (!k)
		return ekp_err(EOPNOTSUPP, "ekprobe-host cannot follow a %s kernel that KASLR moves: "
			       "boot it with nokaslr", s->cfg->arch->name);
	if (!s->prelaunch) {
		/* It runs already: find it in its own mapping, and move the probes now. */
		err = k->find_virt_slide(s->cfg->st, s->cfg->boot, ekp_target_read_mem, &s->target,
					 &s->slide.virt);
		if (err)
			return ekp_err_prefix(err, "finding where KASLR put the running kernel: ");
		return apply_slide(s);
	}
	err = guest_ram(s, &layout);
	if (!err)
		err = k->entry_candidates(s->cfg->st, s->cfg->boot, &layout, &s->cand, &s->nr_cand);
	if (err)
		return ekp_err_prefix(err, "finding where KASLR puts the kernel: ");
	for (size_t i = 0; i < s->nr_cand; i++) {
		err = ekp_target_insert_bp(&s->target, s->cand[i]);
		if (err) {
			s->nr_cand = i; /* those in so far are taken out */
			s->locating = true;
			return ekp_err_prefix(err, "finding where KASLR puts the kernel: ");
		}
	}
	s->locating = true;
	ekp_info("the kernel may be moved at boot (KASLR): watching %zu places for its first "
		 "instruction", s->nr_cand);
	ekp_debug("KASLR: places 0x%" PRIx64 " to 0x%" PRIx64, s->cand[0], s->cand[s->nr_cand - 1]);
	return 0;
}

static int remove_locator(struct session *s)
{
	int err = 0, e;

	for (size_t i = 0; s->locating && i < s->nr_cand; i++) {
		e = ekp_target_remove_bp(&s->target, s->cand[i]);
		err = err ? err : e;
	}
	s->locating = false;
	return err;
}

static bool is_candidate(const struct session *s, uint64_t pc)
{
	size_t lo = 0, hi = s->nr_cand;

	while (lo < hi) { /* ascending: the arch lists them so */
		size_t mid = lo + (hi - lo) / 2;

		if (s->cand[mid] == pc)
			return true;
		if (s->cand[mid] < pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int read_phys(void *opaque, uint64_t pa, void *buf, size_t len)
{
	return ekp_target_read_phys(opaque, pa, buf, len);
}

/*
 * A stop while locating: on one of the places, with the kernel's bytes there, the kernel is
 * about to run its first instruction. Returns EKP_STOP_ON_BREAKPOINT for a stop on a place
 * that is not the kernel (the breakpoint stays), 0 otherwise.
 */
static int locate(struct session *s)
{
	const struct ekp_kaslr_arch *k = s->cfg->arch->kaslr;
	uint64_t pc;
	int err;

	err = ekp_target_read_pc(&s->target, &pc);
	ekp_debug("KASLR: a stop at 0x%" PRIx64 " while looking for the kernel", pc);
	if (err || !is_candidate(s, pc))
		return err;
	err = k->find_slides(s->cfg->st, s->cfg->boot, pc, read_phys, &s->target, &s->slide);
	if (err == -ENOENT) {
		ekp_debug("KASLR: %s", ekp_errstr(err));
		return EKP_STOP_ON_BREAKPOINT;
	}
	if (err)
		return ekp_err_prefix(err, "finding where KASLR put the kernel: ");
	err = remove_locator(s);
	if (err)
		return err;
	s->entry_pa = pc;
	ekp_info("KASLR: the kernel runs at physical 0x%" PRIx64 " (moved by 0x%" PRIx64 "), "
		 "virtual offset 0x%" PRIx64, pc, s->slide.phys, s->slide.virt);
	return apply_slide(s);
}

/* The slides are known: the probes, the trace's symbols and every engine move. */
static int apply_slide(struct session *s)
{
	const struct ekp_kaslr_arch *k = s->cfg->arch->kaslr;
	int err;

	s->located = true;
	ekp_probes_relocate(s->cfg->probes, s->cfg->nr_probes, k->image_start, k->image_end,
			    s->slide.virt);
	err = ekp_symtab_relocate(s->cfg->st, k->image_start, k->image_end, s->slide.virt,
				  &s->run_st);
	if (err)
		return err;
	ekp_sink_set_symtab(s->cfg->sink, s->run_st);
	for (unsigned int i = 0; i < s->set->nr; i++) {
		struct ekp_engine *e = s->set->engines[i];

		if (!e->ops->relocate)
			return ekp_err(EOPNOTSUPP, "the %s engine cannot follow the moved kernel",
				       e->ops->name);
		err = e->ops->relocate(e, &s->slide);
		if (err)
			return ekp_err_prefix(err, "%s engine, moving its probes: ", e->ops->name);
	}
	return 0;
}

static int arm(struct session *s)
{
	struct ekp_engine_run run = {
		.target = &s->target, .qemu_pid = s->launched ? s->qemu.pid : s->vm_pid,
		.qemu_argv = s->launched ? s->argv.v : s->vm_argv, .emit = emit_event,
		.guest_now_ns = guest_now_ns, .handoff = note_handoff,
		.guest_ns_at = guest_ns_at, .opaque = s,
	};
	char what[256] = "";
	size_t used = 0;
	int err;

	s->armed = true; /* from the first insertion on, disarm must run */
	for (unsigned int k = 0; k < s->set->nr; k++) {
		struct ekp_engine *e = s->set->engines[k];
		unsigned int n = 0;

		err = e->ops->arm(e, &run);
		if (err)
			return err;
		for (unsigned int i = 0; i < s->cfg->nr_probes; i++)
			n += s->set->owner[i] == k;
		used += (size_t)snprintf(what + used, sizeof(what) - used, "%s%u %s", used ? ", " : "",
					 n, e->ops->name);
		if (used >= sizeof(what))
			used = sizeof(what) - 1;
	}
	if (s->cfg->locate_kernel) {
		err = arm_locator(s);
		if (err)
			return err;
	}
	s->rt_armed = ekp_target_round_trips(&s->target);
	ekp_info("armed %u probe%s (%s) before resuming the guest", s->cfg->nr_probes,
		 s->cfg->nr_probes == 1 ? "" : "s", what);
	return 0;
}

/* ---- running ---------------------------------------------------------------------------- */

static int drain(struct session *s)
{
	for (unsigned int k = 0; k < s->set->nr; k++) {
		struct ekp_engine *e = s->set->engines[k];
		int err = e->ops->drain ? e->ops->drain(e) : 0;

		if (err)
			return err;
	}
	return 0;
}

static bool any_drain(const struct session *s)
{
	for (unsigned int k = 0; k < s->set->nr; k++)
		if (s->set->engines[k]->ops->drain)
			return true;
	return false;
}

/* Milliseconds left until the shutdown deadline (at least 1), or 0 when it passed. */
static int budget_left(struct session *s)
{
	uint64_t now = mono_ns();

	if (now >= s->deadline)
		return 0;
	return (int)((s->deadline - now) / 1000000) + 1;
}

/* From now on every exchange shares what is left of one --timeout. */
static void begin_shutdown(struct session *s)
{
	if (!s->deadline)
		s->deadline = mono_ns() + (uint64_t)s->cfg->timeout_ms * 1000000u;
}

static bool in_budget(struct session *s)
{
	int left = budget_left(s);

	s->target.timeout_ms = left ? left : 1;
	return left > 0;
}

/* Take every probe out of the guest and let it run on. The VM must be stopped. */
static int detach(struct session *s)
{
	int err = 0, err2;

	for (unsigned int k = 0; s->armed && k < s->set->nr; k++) {
		struct ekp_engine *e = s->set->engines[k];

		if (!in_budget(s))
			return ekp_err(ETIMEDOUT, "removing the probes took longer than --timeout "
				       "(%d ms)", s->cfg->timeout_ms);
		err2 = e->ops->disarm(e);
		err = err ? err : err2;
	}
	if (s->locating) {
		err2 = remove_locator(s);
		err = err ? err : err2;
	}
	s->armed = false;
	if (!in_budget(s))
		return err ? err : ekp_err(ETIMEDOUT, "detaching took longer than --timeout");
	err2 = ekp_target_detach(&s->target);
	return err ? err : err2;
}

static const char *signal_name(int sig)
{
	const char *n = strsignal(sig);

	return n ? n : "?";
}

/* QEMU exited: how, for the summary and the exit status. */
static void note_qemu_exit(struct session *s, int status, bool terminated_by_us)
{
	s->qemu_gone = true;
	s->qemu_status = status;
	if (terminated_by_us) {
		snprintf(s->end, sizeof(s->end), "QEMU terminated on a second signal (status %d)",
			 status);
	} else if (status > 128) {
		ekp_error("QEMU was killed by signal %d (%s)", status - 128, signal_name(status - 128));
		snprintf(s->end, sizeof(s->end), "QEMU killed by signal %d", status - 128);
	} else {
		snprintf(s->end, sizeof(s->end), "guest exited (status %d)", status);
	}
}

/* Attach mode: QEMU exiting closes its QMP socket too, within --timeout. */
static bool qmp_closes(struct session *s)
{
	uint64_t due = mono_ns() + (uint64_t)s->cfg->timeout_ms * 1000000u;

	for (;;) {
		struct pollfd p = { qmp_fd(s->qmp), POLLIN, 0 };
		uint64_t now = mono_ns();

		if (qmp_poll_events(s->qmp) == -EPIPE)
			return true;
		if (now >= due)
			return false;
		if (poll(&p, 1, (int)((due - now) / 1000000) + 1) < 0 && errno != EINTR)
			return false;
	}
}

/* libvirt mode: the gdbstub closed. QEMU exiting closes it; QEMU's process tells (within
 * --timeout), else libvirt's state. */
static int libvirt_closed(struct session *s)
{
	const char *name = ekp_libvirt_info(s->lv)->xml.name;
	bool active = true;
	int state, reason, err = 0;

	if (s->vm_pidfd >= 0) {
		struct pollfd p = { s->vm_pidfd, POLLIN, 0 };

		if (poll(&p, 1, s->cfg->timeout_ms) > 0)
			active = false;
	}
	if (active && !(err = ekp_libvirt_active(s->lv, &active, &state, &reason)) && active)
		return ekp_err(ECONNRESET, "lost the connection to the gdbstub while domain '%s' "
			       "is still %s", name, ekp_libvirt_state_name(state));
	if (err)
		return err;
	s->qemu_gone = true;
	snprintf(s->end, sizeof(s->end), "guest exited (domain '%.64s' ended)", name);
	return 0;
}

/*
 * The gdbstub connection closed. Launch mode: QEMU is exiting, or the connection alone was
 * lost (then QEMU is terminated by the caller). Attach mode: QMP, if given, tells which.
 */
static int connection_closed(struct session *s)
{
	int status;

	s->running = false;
	s->gdb_gone = true;
	if (s->launched) {
		status = ekp_qemu_wait(&s->qemu, s->cfg->timeout_ms);
		if (status == -ETIMEDOUT)
			return ekp_err(ECONNRESET, "lost the connection to QEMU's gdbstub, and QEMU "
				       "did not exit within %d ms", s->cfg->timeout_ms);
		if (status < 0)
			return ekp_err(-status, "waiting for QEMU: %s", strerror(-status));
		note_qemu_exit(s, status, false);
		return 0;
	}
	if (s->lv)
		return libvirt_closed(s);
	if (s->qmp && !qmp_closes(s))
		return ekp_err(ECONNRESET, "lost the connection to the gdbstub while QEMU still runs "
			       "(its QMP socket stayed open %d ms)", s->cfg->timeout_ms);
	snprintf(s->end, sizeof(s->end), s->qmp ? "guest exited" :
		 "the gdbstub closed the connection (QEMU exited?)");
	return 0;
}

/* An exchange failed: because the gdbstub connection (or QEMU with it) went away? */
static bool connection_lost(struct session *s, int err)
{
	if (err == -EPIPE || err == -ECONNRESET)
		return true;
	return s->launched && ekp_qemu_wait(&s->qemu, 0) >= 0;
}

static int handle_signals(struct session *s)
{
	struct signalfd_siginfo si;
	int err;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (++s->signals == 1) {
			ekp_info("signal %u: stopping the guest to remove the probes", si.ssi_signo);
			s->signal_at = mono_ns();
			if (s->running && (err = rsp_interrupt(s->rsp, s->cfg->timeout_ms)))
				return ekp_err_prefix(err, "stopping the guest: ");
			continue;
		}
		if (s->launched && !s->qemu_gone) {
			ekp_info("second signal: terminating QEMU");
			note_qemu_exit(s, ekp_qemu_terminate(&s->qemu, s->cfg->timeout_ms), true);
			return 0;
		}
		s->give_up = true;
		if (!s->launched)
			return ekp_err(EINTR, "second signal: leaving without removing the probes (the "
				       "gdbstub did not stop the guest); the guest may stay stopped");
	}
	return 0;
}

/* The first signal's stop must come within --timeout. */
static int signal_wait_ms(const struct session *s)
{
	uint64_t due = s->signal_at + (uint64_t)s->cfg->timeout_ms * 1000000u, now = mono_ns();

	return now >= due ? 0 : (int)((due - now) / 1000000) + 1;
}

static int take_stop(struct session *s, const struct rsp_stop *stop)
{
	int flags = 0, err;

	s->running = false;
	ekp_target_cache_reset(&s->target);
	err = drain(s); /* records made before this stop come first */
	if (err)
		return err;
	if (s->locating) {
		flags = locate(s);
		if (flags < 0)
			return flags;
		if (flags)
			flags |= EKP_STOP_TAKEN;
	}
	for (unsigned int k = 0; k < s->set->nr; k++) {
		struct ekp_engine *e = s->set->engines[k];
		int r = e->ops->on_stop ? e->ops->on_stop(e, stop) : 0;

		if (r < 0)
			return r;
		flags |= r;
	}
	err = ekp_sink_flush(s->cfg->sink);
	if (err)
		return err;
	if (s->signals || handoff_complete(s)) {
		bool after_handoff = !s->signals;

		s->t_end = s->stop_began;
		begin_shutdown(s);
		if (after_handoff && (err = note_detach(s)))
			return err;
		err = detach(s);
		if (err)
			return err;
		s->detached = true;
		s->detached_after_handoff = after_handoff;
		snprintf(s->end, sizeof(s->end), after_handoff ? "detached after the handoff, "
			 "guest resumed" : "detached on signal, guest resumed");
		return 1;
	}
	if (!(flags & EKP_STOP_TAKEN))
		ekp_debug("stop that is not a probe (signal %d): resuming", stop->signal);
	if (flags & EKP_STOP_ON_BREAKPOINT) {
		err = ekp_target_step_off(&s->target, stop);
		if (err)
			return err;
	}
	err = ekp_target_resume(&s->target);
	s->stopped_ns += mono_ns() - s->stop_began;
	s->running = !err;
	return err;
}

/*
 * Between stops and polls: records the guest dropped go to the sink (the perfetto counter, the
 * trace.dat page marks), and the live status line is redrawn.
 */
static int progress(struct session *s)
{
	uint64_t lost = 0, now = mono_ns(), guest;

	for (unsigned int k = 0; k < s->set->nr; k++) {
		const struct ekp_engine *e = s->set->engines[k];
		struct ekp_run_counts c = { 0 };

		if (e->ops->stats)
			e->ops->stats(e, &c);
		lost += c.lost;
	}
	guest = now - s->t_start > s->stopped_ns ? now - s->t_start - s->stopped_ns : 0;
	if (s->cfg->status)
		ekp_status_tick(s->cfg->status, guest, lost);
	return lost ? ekp_sink_lost(s->cfg->sink, guest, lost) : 0;
}

/* How often the status line is redrawn while nothing else wakes the loop. */
#define STATUS_POLL_MS 250

/* Run the guest until it exits, a signal detached us, or an error. */
static int run(struct session *s)
{
	int poll_ms = any_drain(s) ? s->cfg->poll_ms : -1;
	struct rsp_stop stop;
	int err;

	if (s->cfg->status && (poll_ms < 0 || poll_ms > STATUS_POLL_MS))
		poll_ms = STATUS_POLL_MS;
	s->t_start = mono_ns();
	err = ekp_target_resume(&s->target);
	if (err)
		return ekp_err_prefix(err, "starting the guest: ");
	s->running = true;
	for (;;) {
		struct pollfd p[3] = {
			{ rsp_fd(s->rsp), POLLIN, 0 }, { s->sigfd, POLLIN, 0 },
			{ s->launched ? s->qemu.pidfd : s->vm_pidfd, POLLIN, 0 },
		};
		int wait = poll_ms, ready;

		if (s->signals && s->running) {
			int left = signal_wait_ms(s);

			if (!left)
				return ekp_err(ETIMEDOUT, "the gdbstub did not stop the guest within "
					       "%d ms of the signal", s->cfg->timeout_ms);
			wait = wait < 0 || left < wait ? left : wait;
		}
		ready = poll(p, 3, wait);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			return ekp_err(errno, "poll: %s", strerror(errno));
		}
		err = drain(s);
		err = err ?: progress(s);
		if (err)
			return err;
		if (p[1].revents & POLLIN) {
			err = handle_signals(s);
			if (err)
				return err;
			if (s->qemu_gone)
				break;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (p[2].revents & POLLIN) /* QEMU exited; its socket closes next */
				p[0].revents = POLLIN;
			else
				continue;
		}
		err = rsp_wait_stop(s->rsp, &stop, s->cfg->timeout_ms);
		s->stop_began = mono_ns();
		if (err == -EPIPE) {
			err = drain(s); /* QEMU's RAM stays mapped: read the last records */
			return err ? err : connection_closed(s);
		}
		if (err)
			return ekp_err_prefix(err, "waiting for the guest: ");
		if (stop.kind == 'W' || stop.kind == 'X') {
			s->running = false;
			s->armed = false;
			err = drain(s);
			if (err)
				return err;
			if (s->launched)
				return connection_closed(s);
			s->qemu_gone = s->lv != NULL; /* libvirt may not know yet */
			snprintf(s->end, sizeof(s->end), "guest exited");
			return 0;
		}
		err = take_stop(s, &stop);
		if (err < 0 && connection_lost(s, err))
			return connection_closed(s); /* QEMU died in the middle of a stop */
		if (err)
			return err < 0 ? err : 0;
	}
	s->running = false;
	return 0;
}

/* After an error: leave no probe behind when the gdbstub still answers, within one
 * deadline. */
static void remove_probes_after_error(struct session *s)
{
	struct rsp_stop stop;

	begin_shutdown(s);
	if (!s->rsp || !s->armed || s->qemu_gone || s->give_up || s->gdb_gone)
		return;
	if (s->running) {
		if (rsp_interrupt(s->rsp, budget_left(s) ? budget_left(s) : 1) ||
		    !in_budget(s) || rsp_wait_stop(s->rsp, &stop, s->target.timeout_ms))
			return;
		s->running = false;
	}
	if (detach(s))
		ekp_warn("removing the probes after the error: %s", ekp_errmsg());
}

/* ---- the end ------------------------------------------------------------------------------ */

static int write_summary(struct session *s)
{
	struct ekp_probe_stats *stats = calloc((size_t)s->cfg->nr_probes + 1, sizeof(*stats));
	struct ekp_summary sum = { .nr_probes = s->cfg->nr_probes, .stats = stats, .end = s->end,
				   .kaslr = s->located, .virt_slide = s->slide.virt,
				   .phys_slide = s->slide.phys, .entry_phys = s->entry_pa };
	int err;

	if (!stats)
		return ekp_err(ENOMEM, "out of memory");
	for (unsigned int i = 0; i < s->cfg->nr_probes; i++) {
		const struct ekp_engine *e = s->set->engines[s->set->owner[i]];
		struct ekp_probe_counts c;

		e->ops->probe_stats(e, i, &c);
		stats[i].probe = s->cfg->probes[i];
		stats[i].engine = e->ops->name;
		stats[i].hits = c.hits;
		stats[i].unmatched = c.pending;
		stats[i].missed = c.missed;
		sum.total_hits += c.hits;
		if (s->handed_over && s->handed[i]) {
			stats[i].handed_off = true;
			stats[i].hits_before_handoff = s->hits_at_handoff[i];
		}
	}
	sum.handoff = s->cfg->handoff && s->cfg->handoff->nr_handed;
	sum.handed_over = s->handed_over;
	sum.handoff_ns = s->handoff_ns;
	for (unsigned int k = 0; k < s->set->nr; k++) {
		const struct ekp_engine *e = s->set->engines[k];
		struct ekp_run_counts c = { 0 };

		if (e->ops->stats)
			e->ops->stats(e, &c);
		sum.stops += c.stops;
		sum.lost += c.lost;
		sum.invalid += c.invalid;
	}
	if (s->have_target) {
		sum.resteps = s->target.resteps;
		sum.round_trips = ekp_target_round_trips(&s->target) - s->rt_armed;
	}
	if (s->t_start && s->t_end >= s->t_start) {
		sum.wall_ns = s->t_end - s->t_start;
		sum.stopped_ns = s->stopped_ns;
		sum.guest_ns = sum.wall_ns > sum.stopped_ns ? sum.wall_ns - sum.stopped_ns : 0;
	}
	err = ekp_sink_summary(s->cfg->sink, &sum);
	free(stats);
	return err;
}

/* Launch mode, probes removed on a signal: the guest runs to its end; a signal ends it. */
static int wait_qemu(struct session *s)
{
	while (!s->qemu_gone) {
		struct pollfd p[2] = { { s->qemu.pidfd, POLLIN, 0 }, { s->sigfd, POLLIN, 0 } };
		struct signalfd_siginfo si;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return ekp_err(errno, "poll: %s", strerror(errno));
		if (p[0].revents & POLLIN) {
			s->qemu_status = ekp_qemu_wait(&s->qemu, -1);
			s->qemu_gone = true;
		} else if ((p[1].revents & POLLIN) && read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
			ekp_info("signal %u: terminating QEMU", si.ssi_signo);
			s->qemu_status = ekp_qemu_terminate(&s->qemu, s->cfg->timeout_ms);
			s->qemu_gone = true;
		}
	}
	return s->qemu_status;
}

/*
 * libvirt mode, at the end: close the gdbstub of a domain that still runs (the probes are out
 * by now, or could not be taken out); a domain ekprobe-host started that never ran (an error
 * before its first instruction) is stopped again, back to shut off.
 */
static int finish_libvirt(struct session *s, int err)
{
	const char *name = ekp_libvirt_info(s->lv)->xml.name;
	bool active = false;
	int state, reason, err2;
	char why[1024];

	snprintf(why, sizeof(why), "%s", err ? ekp_errstr(err) : "");
	if (!s->qemu_gone && !ekp_libvirt_active(s->lv, &active, &state, &reason) && active) {
		err2 = ekp_libvirt_gdbstub_close(s->lv);
		if (err2)
			ekp_warn("domain '%s': closing the gdbstub: %s", name, ekp_errstr(err2));
		if (s->lv_started && !s->t_start) {
			ekp_info("domain '%s' had not run yet: stopping it again", name);
			err2 = ekp_libvirt_destroy(s->lv);
			if (err2)
				ekp_warn("%s", ekp_errstr(err2));
		} else if (s->rsp && (s->detached || err)) {
			ekp_info("domain '%s' runs on under libvirt", name);
		}
	}
	if (err)
		ekp_err(err, "%s", why);
	return err;
}

static void teardown(struct session *s)
{
	if (s->run_st) {
		ekp_sink_set_symtab(s->cfg->sink, s->cfg->st);
		ekp_symtab_free(s->run_st);
	}
	free(s->cand);
	if (s->have_target)
		ekp_target_fini(&s->target);
	if (s->rsp)
		rsp_close(s->rsp);
	if (s->qmp)
		qmp_close(s->qmp);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->vm_pidfd >= 0)
		close(s->vm_pidfd);
	if (s->launched)
		ekp_qemu_cleanup(&s->qemu);
	ekp_qemu_argv_free(&s->argv);
	free(s->hits_at_handoff);
	free(s->handed);
}

int ekp_session_run(const struct ekp_session_config *cfg)
{
	struct session s = { .cfg = cfg, .set = cfg->engines, .sigfd = -1, .lv = cfg->libvirt,
			     .vm_pidfd = -1 };
	int err, status = 0;

	err = setup_signals(&s);
	err = err ? err : start(&s);
	err = err ? err : arm(&s);
	err = err ? err : run(&s);
	if (err) {
		/* Keep the reason: cleaning up may record others. */
		char why[1024];

		snprintf(why, sizeof(why), "%s", ekp_errstr(err));
		remove_probes_after_error(&s);
		snprintf(s.end, sizeof(s.end), "error: %.*s", (int)sizeof(s.end) - 8, why);
		ekp_err(err, "%s", why);
	}
	if (s.t_start && !s.t_end)
		s.t_end = mono_ns();
	if (s.t_start) {
		/* The last records the guest dropped; the status line goes before the summary. */
		int perr = progress(&s);

		err = err ? err : perr;
		if (cfg->status)
			ekp_status_clear(cfg->status);
	}
	for (unsigned int k = 0; k < s.set->nr; k++)
		if (s.set->engines[k]->ops->report)
			s.set->engines[k]->ops->report(s.set->engines[k]);
	if (cfg->summary && s.t_start) {
		int serr = write_summary(&s);

		err = err ? err : serr;
	}
	if (!err)
		err = ekp_sink_flush(cfg->sink);
	if (s.launched && !s.qemu_gone) {
		if (err) {
			char why[1024];

			snprintf(why, sizeof(why), "%s", ekp_errstr(err));
			ekp_qemu_terminate(&s.qemu, cfg->timeout_ms);
			ekp_err(err, "%s", why);
		} else {
			if (s.detached)
				ekp_info("probes removed; waiting for QEMU to exit (signal %sto "
					 "terminate it)", s.detached_after_handoff ? "" : "again ");
			status = wait_qemu(&s);
		}
	} else if (s.launched) {
		status = s.qemu_status;
	}
	if (s.lv)
		err = finish_libvirt(&s, err);
	teardown(&s);
	return err ? err : status;
}
