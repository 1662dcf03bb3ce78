// SPDX-License-Identifier: GPL-2.0
/*
 * The trap engine: execute breakpoints held by QEMU's gdbstub. Under TCG they are matched
 * against the virtual PC at translation and never written into guest memory, so they can be
 * armed before the guest's first instruction, in any number, on any kernel.
 *
 * Per hit: the stop reply, one 'g', the memory the fetch-args need (cached per hit), then the
 * session steps the stopped vCPU off the breakpoint (one step and one 'p' to see the PC left
 * it) and continues. Finding the probes at a PC is a binary search, so the cost of a hit does
 * not grow with the number of probes armed.
 *
 * Return probes: at the entry the return address and the stack pointer after the return are
 * remembered, and a breakpoint goes on the return address (reference-counted); at that
 * breakpoint the frames whose stack pointer matches return their event.
 *
 * --handoff (host/handoff/handoff.h, docs/handoff.md): more breakpoints, on the function the
 * kernel's boot-time kprobe-event code calls once per probe to enable it, and on that call's
 * return. From the first call to the last return (the enabling), a hit of a probe the guest
 * takes over is counted here only while the guest's own kprobe is not live yet: while the
 * byte where the kernel puts its kprobe still holds what it held when the enabling began
 * (gdbstub breakpoints under TCG never change guest memory, so any change there is the
 * kernel arming its kprobe: its int3, text_poke_bp's int3, the ftrace call, an optprobe's
 * jump). After the last return the handed probes lose their entry breakpoints; the frames of
 * return probes entered before still return through this engine.
 *
 * A breakpoint address can have several roles (a live entry site, a return site, the early
 * sentinel, the handoff breakpoint): it is inserted with its first role and removed with its
 * last (bp_needed()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/engines/engine.h"
#include "host/fetch/eval.h"
#include "host/fetch/task.h"
#include "host/log.h"

#define SIGTRAP_NO 5
#define MAX_PENDING 65536
#define ALIAS_CHECK_BYTES 16
struct trap_site {
	uint64_t addr;          /* where the breakpoint is */
	uint64_t vaddr;         /* the kernel virtual address of its probes */
	bool alias;             /* an early (physical) alias of vaddr */
	bool inserted;
	unsigned int first, count; /* its probes: site_probes[first .. first+count) */
};

struct ret_site {
	uint64_t addr;
	unsigned int refs;      /* pending returns that will come back here */
};

struct pending_ret {
	unsigned int probe;
	uint64_t ret_addr;
	uint64_t expect_sp;     /* the stack pointer right after this frame returns */
};

struct probe_state {
	uint64_t hits, missed;
	unsigned int pending;
};

/* --handoff: a handed probe while the kernel enables its kprobe events. */
struct handoff_probe {
	uint64_t kaddr;         /* where the kernel's kprobe for it writes */
	uint8_t orig;           /* the byte there when the enabling began */
	bool by_bytes;          /* the first handed probe at kaddr: that byte says who counts */
	bool live;              /* (another before it at kaddr) its enabling call has begun */
	uint64_t kp;            /* (another before it) its struct kprobe, once enable_kprobe()
				 * was called for it; 0 before */
	int ksite;              /* after the handoff: what its site holds against the vmlinux
				 * (enum ekp_ksite), -1 not checked */
};

/* Bytes of a struct kprobe read at enable_kprobe()'s entry and return, to find its flags. */
#define KP_SNAP 256
#define KPROBE_FLAG_DISABLED 2u /* Linux 6.1 include/linux/kprobes.h */
#define KPROBE_FLAGS_KNOWN 0x1fu /* GONE DISABLED OPTIMIZED FTRACE ON_FUNC_ENTRY */
/* --handoff: a handed site still holding an int3 is read again at a later stop, at most this
 * often (guest run time): the cost of a stop stays bounded when a probe is never optimized. */
#define KSITE_RECHECK_NS 1000000ull

struct trap_engine {
	struct ekp_engine base;
	struct ekp_engine_env env;
	struct ekp_engine_run run;
	struct ekp_task_layout tasks;
	bool *planned;          /* per probe: this engine holds it */
	struct trap_site *sites;
	unsigned int nr_sites;
	unsigned int *site_probes;
	struct ret_site *rets;
	unsigned int nr_rets, cap_rets;
	struct pending_ret *pend;
	unsigned int nr_pend, cap_pend;
	struct probe_state *ps;
	struct ekp_value *values;
	struct ekp_regs regs;
	uint64_t sentinel;      /* arch early_end_sym while alias breakpoints are armed, or 0 */
	struct ekp_slide slide; /* how far the kernel moved (KASLR); zero until relocated */
	uint64_t stops;
	bool switch_armed;      /* --handoff: the breakpoint on the enabling calls is in */
	bool enabling;          /* --handoff: from the first enabling call to the last return */
	bool handed_over;       /* --handoff: the guest holds handed[] now */
	struct handoff_probe *hp; /* --handoff: per probe */
	unsigned int *accepted; /* --handoff: the handed probes the kernel created, in order */
	unsigned int nr_accepted, nr_calls; /* ... and how many enabling calls began */
	bool in_call;           /* an enabling call runs: enable_ret is where it returns */
	bool enable_ret_armed;
	uint64_t enable_ret;
	uint64_t enable_sp;     /* the stack pointer once the running call has returned */
	/* enable_kprobe() inside an enabling call: its kprobe, and where its flags word is */
	bool kp_armed, kp_in, kp_ret_armed;
	uint64_t kp_ret, kp_sp, kp_at;
	uint8_t kp_before[KP_SNAP];
	int flags_off;          /* offset of flags in struct kprobe, learned; -1 unknown */
	bool shared;            /* some handed probe shares its address with an earlier one */
	bool *handed;           /* --handoff: per probe, to the guest (less what it refused) */
	unsigned int *order;    /* --handoff: the handed probes in kprobe_event= order */
	unsigned int nr_order, nr_created; /* ... and how many the kernel has created */
	bool create_armed;      /* --handoff: a breakpoint on the kernel's definition creation */
	bool create_ret_armed;  /* ... and on the return of the current one, create_ret */
	uint64_t create_ret;
	bool ksite_recheck;     /* --handoff: some handed site holds an int3 the kernel's
				 * optimizer may still turn into a jump (or a rewrite is under
				 * way): look again at later stops, ... */
	uint64_t ksite_at;      /* ... at most once per KSITE_RECHECK_NS of guest run time */
};

struct site_ref {
	uint64_t addr, vaddr;
	bool alias;
	unsigned int probe;
};

static int cmp_site_ref(const void *a, const void *b)
{
	const struct site_ref *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->probe < y->probe ? -1 : x->probe > y->probe;
}

static void trap_destroy(struct ekp_engine *base);

static int trap_create(const struct ekp_engine_env *env, struct ekp_engine **out)
{
	struct trap_engine *e = calloc(1, sizeof(*e));
	unsigned int max_args = 1;

	if (!e)
		return ekp_err(ENOMEM, "out of memory");
	e->env = *env;
	for (unsigned int i = 0; i < env->nr_probes; i++)
		if (env->probes[i]->nr_args > max_args)
			max_args = env->probes[i]->nr_args;
	e->planned = calloc((size_t)env->nr_probes + 1, sizeof(*e->planned));
	e->ps = calloc((size_t)env->nr_probes + 1, sizeof(*e->ps));
	e->values = calloc(max_args, sizeof(*e->values));
	if (!e->planned || !e->ps || !e->values) {
		trap_destroy(&e->base);
		return ekp_err(ENOMEM, "out of memory");
	}
	ekp_task_layout_init(&e->tasks, env->st, env->arch);
	*out = &e->base;
	return 0;
}

/* Any probe can be a breakpoint. */
static int trap_plan(struct ekp_engine *base, unsigned int i)
{
	struct trap_engine *e = (struct trap_engine *)base;

	if (i >= e->env.nr_probes)
		return ekp_err(EINVAL, "no probe %u", i);
	e->planned[i] = true;
	return 0;
}

/* The breakpoint sites, sorted by address: every planned probe's address and early alias. */
static int build_sites(struct trap_engine *e)
{
	const struct ekp_arch *arch = e->env.arch;
	unsigned int n = e->env.nr_probes, nr_refs = 0;
	struct site_ref *refs = calloc(2 * (size_t)n + 1, sizeof(*refs));

	e->site_probes = calloc(2 * (size_t)n + 1, sizeof(*e->site_probes));
	e->sites = calloc(2 * (size_t)n + 1, sizeof(*e->sites));
	if (!refs || !e->site_probes || !e->sites) {
		free(refs);
		return ekp_err(ENOMEM, "out of memory");
	}
	for (unsigned int i = 0; i < n; i++) {
		uint64_t va = e->env.probes[i]->addr, alias;

		if (!e->planned[i])
			continue;
		refs[nr_refs++] = (struct site_ref){ va, va, false, i };
		if (ekp_arch_alias(arch, &e->slide, va, &alias))
			refs[nr_refs++] = (struct site_ref){ alias, va, true, i };
	}
	qsort(refs, nr_refs, sizeof(*refs), cmp_site_ref);
	for (unsigned int i = 0; i < nr_refs; i++) {
		struct trap_site *s = e->nr_sites ? &e->sites[e->nr_sites - 1] : NULL;

		if (!s || s->addr != refs[i].addr) {
			s = &e->sites[e->nr_sites++];
			*s = (struct trap_site){ .addr = refs[i].addr, .vaddr = refs[i].vaddr,
						 .alias = refs[i].alias, .first = i };
		}
		e->site_probes[i] = refs[i].probe;
		s->count++;
	}
	free(refs);
	return 0;
}

static void trap_destroy(struct ekp_engine *base)
{
	struct trap_engine *e = (struct trap_engine *)base;

	if (!e)
		return;
	free(e->planned);
	free(e->sites);
	free(e->site_probes);
	free(e->rets);
	free(e->pend);
	free(e->ps);
	free(e->values);
	free(e->handed);
	free(e->order);
	free(e->hp);
	free(e->accepted);
	free(e);
}

/* --handoff: the kernel command line carries the probes the guest takes over. */
static int trap_qemu_args(struct ekp_engine *base, struct ekp_qemu_argv *argv)
{
	struct trap_engine *e = (struct trap_engine *)base;

	return ekp_handoff_qemu_args(e->env.handoff, argv);
}

static int insert_bp(struct trap_engine *e, uint64_t addr)
{
	return ekp_target_insert_bp(e->run.target, addr);
}

static int remove_bp(struct trap_engine *e, uint64_t addr)
{
	return ekp_target_remove_bp(e->run.target, addr);
}

static struct trap_site *find_site(struct trap_engine *e, uint64_t pc);
static struct ret_site *find_ret(struct trap_engine *e, uint64_t pc);

static bool handing_off(const struct trap_engine *e)
{
	return e->env.handoff && e->env.handoff->nr_handed;
}

/* Whether some role still needs a breakpoint at addr. */
static bool bp_needed(struct trap_engine *e, uint64_t addr)
{
	struct trap_site *s = find_site(e, addr);

	return (s && s->inserted) || find_ret(e, addr) || (e->sentinel && e->sentinel == addr) ||
	       (e->switch_armed && e->env.handoff->switch_addr == addr) ||
	       (e->create_armed && e->env.handoff->create_addr == addr) ||
	       (e->create_ret_armed && e->create_ret == addr) ||
	       (e->enable_ret_armed && e->enable_ret == addr) ||
	       (e->kp_armed && e->env.handoff->enable_kprobe_addr == addr) ||
	       (e->kp_ret_armed && e->kp_ret == addr);
}

/* Build the sites from the probes' addresses (and the slide) and insert them. */
static int insert_all(struct trap_engine *e)
{
	const struct ekp_arch *arch = e->env.arch;
	bool aliases = false;
	struct ekp_sym sym;
	int err;

	err = build_sites(e);
	if (err)
		return err;
	for (unsigned int i = 0; i < e->nr_sites; i++) {
		err = insert_bp(e, e->sites[i].addr);
		if (err)
			return err;
		e->sites[i].inserted = true;
		aliases |= e->sites[i].alias;
	}
	if (aliases && arch->early_end_sym &&
	    !ekp_symtab_lookup(e->env.st, arch->early_end_sym, &sym)) {
		uint64_t at = sym.addr;

		if (arch->kaslr && at >= arch->kaslr->image_start && at < arch->kaslr->image_end)
			at += e->slide.virt;
		if (!bp_needed(e, at)) {
			err = insert_bp(e, at);
			if (err)
				return err;
		}
		e->sentinel = at;
	}
	return 0;
}

/* --handoff: the breakpoints that see the guest create its kprobe events and take over. */
static int arm_handoff(struct trap_engine *e)
{
	const struct ekp_handoff *h = e->env.handoff;
	int err;

	e->handed = calloc((size_t)e->env.nr_probes + 1, sizeof(*e->handed));
	e->order = calloc((size_t)e->env.nr_probes + 1, sizeof(*e->order));
	e->accepted = calloc((size_t)e->env.nr_probes + 1, sizeof(*e->accepted));
	e->hp = calloc((size_t)e->env.nr_probes + 1, sizeof(*e->hp));
	if (!e->handed || !e->order || !e->accepted || !e->hp)
		return ekp_err(ENOMEM, "out of memory");
	for (unsigned int i = 0; i < e->env.nr_probes; i++)
		e->hp[i].ksite = -1;
	for (unsigned int i = 0; i < e->env.nr_probes && i < h->nr_probes; i++) {
		e->handed[i] = h->handed[i];
		if (h->handed[i])
			e->order[e->nr_order++] = i;
	}
	if (!bp_needed(e, h->switch_addr)) {
		err = insert_bp(e, h->switch_addr);
		if (err)
			return err;
	}
	e->switch_armed = true;
	if (h->create_addr) {
		if (!bp_needed(e, h->create_addr)) {
			err = insert_bp(e, h->create_addr);
			if (err)
				return err;
		}
		e->create_armed = true;
	}
	return 0;
}

static int trap_arm(struct ekp_engine *base, const struct ekp_engine_run *run)
{
	struct trap_engine *e = (struct trap_engine *)base;
	int err;

	e->run = *run;
	err = insert_all(e);
	if (!err && handing_off(e))
		err = arm_handoff(e);
	return err;
}

static int remove_sites(struct trap_engine *e);

/*
 * The kernel was moved (KASLR), seen at its first instruction: the probes hold its running
 * addresses now. Take out what went in at link-time addresses and put the sites in anew.
 */
static int trap_relocate(struct ekp_engine *base, const struct ekp_slide *slide)
{
	struct trap_engine *e = (struct trap_engine *)base;
	int err;

	if (e->nr_pend)
		return ekp_err(EBUSY, "the kernel moved while return probes were pending");
	if (handing_off(e))
		return ekp_err(EOPNOTSUPP, "--handoff follows a kernel at its link-time address only "
			       "(boot it with nokaslr)");
	err = remove_sites(e);
	if (err)
		return err;
	free(e->sites);
	free(e->site_probes);
	e->sites = NULL;
	e->site_probes = NULL;
	e->nr_sites = 0;
	e->slide = *slide;
	return insert_all(e);
}

/* The boot CPU runs in the kernel mapping now: remove the early alias breakpoints. */
static int drop_aliases(struct trap_engine *e, uint64_t pc)
{
	int err;

	for (unsigned int i = 0; i < e->nr_sites; i++) {
		if (!e->sites[i].alias || !e->sites[i].inserted)
			continue;
		e->sites[i].inserted = false;
		err = bp_needed(e, e->sites[i].addr) ? 0 : remove_bp(e, e->sites[i].addr);
		if (err)
			return err;
	}
	e->sentinel = 0;
	return bp_needed(e, pc) ? 0 : remove_bp(e, pc);
}

/* Drop one role of the breakpoint at addr (its flag already cleared): the address goes with
 * its last role. */
static int drop_role(struct trap_engine *e, uint64_t addr)
{
	return bp_needed(e, addr) ? 0 : remove_bp(e, addr);
}

/* Take out the entry sites and the sentinel. */
static int remove_sites(struct trap_engine *e)
{
	int first_err = 0, err;
	uint64_t a;

	for (unsigned int i = 0; i < e->nr_sites; i++) {
		if (!e->sites[i].inserted)
			continue;
		e->sites[i].inserted = false;
		err = drop_role(e, e->sites[i].addr);
		if (err && !first_err)
			first_err = err;
	}
	if (e->sentinel) {
		a = e->sentinel;
		e->sentinel = 0;
		err = drop_role(e, a);
		if (err && !first_err)
			first_err = err;
	}
	return first_err;
}

static int trap_disarm(struct ekp_engine *base)
{
	struct trap_engine *e = (struct trap_engine *)base;
	int first_err = remove_sites(e), err;
	uint64_t a;

	if (e->switch_armed) {
		e->switch_armed = false;
		err = drop_role(e, e->env.handoff->switch_addr);
		if (err && !first_err)
			first_err = err;
	}
	if (e->create_armed) {
		e->create_armed = false;
		err = drop_role(e, e->env.handoff->create_addr);
		if (err && !first_err)
			first_err = err;
	}
	if (e->create_ret_armed) {
		e->create_ret_armed = false;
		err = drop_role(e, e->create_ret);
		if (err && !first_err)
			first_err = err;
	}
	if (e->enable_ret_armed) {
		e->enable_ret_armed = false;
		err = drop_role(e, e->enable_ret);
		if (err && !first_err)
			first_err = err;
	}
	if (e->kp_armed) {
		e->kp_armed = false;
		err = drop_role(e, e->env.handoff->enable_kprobe_addr);
		if (err && !first_err)
			first_err = err;
	}
	if (e->kp_ret_armed) {
		e->kp_ret_armed = false;
		err = drop_role(e, e->kp_ret);
		if (err && !first_err)
			first_err = err;
	}
	while (e->nr_rets) {
		a = e->rets[--e->nr_rets].addr;
		err = drop_role(e, a);
		if (err && !first_err)
			first_err = err;
	}
	return first_err;
}

static struct trap_site *find_site(struct trap_engine *e, uint64_t pc)
{
	unsigned int lo = 0, hi = e->nr_sites;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (e->sites[mid].addr == pc)
			return &e->sites[mid];
		if (e->sites[mid].addr < pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct ret_site *find_ret(struct trap_engine *e, uint64_t pc)
{
	for (unsigned int i = 0; i < e->nr_rets; i++)
		if (e->rets[i].addr == pc)
			return &e->rets[i];
	return NULL;
}

/*
 * A stop at an early alias is ours only if the kernel's own code is what runs there: before
 * the kernel is decompressed into place, other code (the decompressor) may execute at the
 * same physical address.
 */
static bool alias_hit_is_kernel(struct trap_engine *e, const struct trap_site *s)
{
	uint8_t live[ALIAS_CHECK_BYTES + EKP_CODE_SLACK], image[ALIAS_CHECK_BYTES + EKP_CODE_SLACK];

	if (!e->env.arch->in_kernel_mode(&e->regs))
		return false;
	if (ekp_symtab_read(e->env.st, s->vaddr - e->slide.virt, image, sizeof(image)))
		return true; /* no image to compare with (System.map): kernel mode is all we know */
	if (ekp_target_read_mem(e->run.target, s->addr, live, sizeof(live)))
		return false;
	if (!memcmp(live, image, ALIAS_CHECK_BYTES))
		return true;
	/* A moved kernel: the boot's relocations changed fields of its code. */
	return e->slide.virt && e->env.arch->kaslr && e->env.arch->kaslr->same_code &&
	       e->env.arch->kaslr->same_code(image, live, ALIAS_CHECK_BYTES, e->slide.virt);
}

static int emit(struct trap_engine *e, unsigned int idx, enum ekp_probe_kind kind,
		uint64_t addr, uint64_t ret_addr, int cpu, const struct ekp_task *task)
{
	const struct ekp_probe *p = e->env.probes[idx];
	struct ekp_fetch_ctx ctx = {
		.arch = e->env.arch, .regs = &e->regs, .read_mem = ekp_target_read_mem,
		.opaque = e->run.target, .task = task,
	};
	struct ekp_event ev = {
		.probe = p, .probe_index = idx, .kind = kind, .addr = addr, .ret_addr = ret_addr,
		.hit_pc = e->regs.val[e->env.arch->pc_reg], .cpu = cpu,
		.ts_ns = e->run.guest_now_ns(e->run.opaque), .engine = e->base.ops->name,
		.task = *task, .nr_values = p->nr_args, .values = e->values,
	};
	int err;

	for (unsigned int i = 0; i < p->nr_args; i++) {
		err = ekp_fetch_arg(&ctx, &p->args[i], &e->values[i]);
		if (err)
			return ekp_err_prefix(err, "%s/%s: fetching %s: ", p->group, p->event,
					      p->args[i].name);
	}
	e->ps[idx].hits++;
	return e->run.emit(e->run.opaque, &ev);
}

/* An 'r' probe's entry: remember where and with which stack the frame will return. */
static int track_return(struct trap_engine *e, unsigned int idx)
{
	const struct ekp_arch *arch = e->env.arch;
	const struct ekp_probe *p = e->env.probes[idx];
	uint64_t sp = e->regs.val[arch->sp_reg], ret = 0;
	uint8_t raw[8] = { 0 };
	struct ret_site *rs;
	bool in_reg;
	int reg, err;

	if (e->nr_pend >= MAX_PENDING || (p->maxactive && e->ps[idx].pending >= p->maxactive)) {
		e->ps[idx].missed++;
		return 0;
	}
	reg = arch->return_addr_location(&in_reg);
	if (in_reg) {
		ret = e->regs.val[reg];
	} else {
		if (ekp_target_read_mem(e->run.target, sp, raw, arch->ptr_size)) {
			e->ps[idx].missed++;
			return 0;
		}
		for (unsigned int i = 0; i < arch->ptr_size; i++)
			ret |= (uint64_t)raw[i] << (8 * i);
	}
	rs = find_ret(e, ret);
	if (!rs) {
		if (e->nr_rets == e->cap_rets) {
			unsigned int cap = e->cap_rets ? 2 * e->cap_rets : 16;
			struct ret_site *n = realloc(e->rets, cap * sizeof(*n));

			if (!n)
				return ekp_err(ENOMEM, "out of memory");
			e->rets = n;
			e->cap_rets = cap;
		}
		/* An address with another role already has a breakpoint. */
		if (!bp_needed(e, ret)) {
			err = insert_bp(e, ret);
			if (err)
				return err;
		}
		rs = &e->rets[e->nr_rets++];
		*rs = (struct ret_site){ .addr = ret };
	}
	if (e->nr_pend == e->cap_pend) {
		unsigned int cap = e->cap_pend ? 2 * e->cap_pend : 16;
		struct pending_ret *n = realloc(e->pend, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		e->pend = n;
		e->cap_pend = cap;
	}
	e->pend[e->nr_pend++] = (struct pending_ret){
		.probe = idx, .ret_addr = ret, .expect_sp = sp + (in_reg ? 0 : arch->ptr_size),
	};
	rs->refs++;
	e->ps[idx].pending++;
	return 0;
}

/* At a return site: emit the returns whose frame this is (matched by stack pointer). */
static int handle_returns(struct trap_engine *e, struct ret_site *rs, int cpu,
			  const struct ekp_task *task)
{
	uint64_t pc = rs->addr, sp = e->regs.val[e->env.arch->sp_reg];
	int err;

	for (unsigned int i = 0; i < e->nr_pend;) {
		struct pending_ret pr = e->pend[i];

		if (pr.ret_addr != pc || pr.expect_sp != sp) {
			i++;
			continue;
		}
		e->pend[i] = e->pend[--e->nr_pend]; /* order among pending does not matter */
		e->ps[pr.probe].pending--;
		rs->refs--;
		err = emit(e, pr.probe, EKP_PROBE_RETURN, e->env.probes[pr.probe]->addr, pc, cpu,
			   task);
		if (err)
			return err;
	}
	if (rs->refs == 0) {
		*rs = e->rets[--e->nr_rets];
		if (!bp_needed(e, pc))
			return remove_bp(e, pc);
	}
	return 0;
}

/* At a function's first instruction: where it returns to. */
static int return_address(struct trap_engine *e, uint64_t *ret)
{
	const struct ekp_arch *arch = e->env.arch;
	uint64_t sp = e->regs.val[arch->sp_reg];
	uint8_t raw[8] = { 0 };
	bool in_reg;
	int reg, err;

	*ret = 0;
	reg = arch->return_addr_location(&in_reg);
	if (in_reg) {
		*ret = e->regs.val[reg];
		return 0;
	}
	err = ekp_target_read_mem(e->run.target, sp, raw, arch->ptr_size);
	if (err)
		return ekp_err_prefix(err, "--handoff: reading the return address: ");
	for (unsigned int i = 0; i < arch->ptr_size; i++)
		*ret |= (uint64_t)raw[i] << (8 * i);
	return 0;
}

/*
 * --handoff: the kernel creates the kprobe_event= definitions one by one, in their order, from
 * init_kprobe_trace(); each creation's result says whether the kernel took that probe. A
 * probe it refused stays on this engine (its hits would otherwise be lost).
 */
static int on_create(struct trap_engine *e, uint64_t pc)
{
	const struct ekp_handoff *h = e->env.handoff;
	uint64_t ret;
	int err;

	if (e->create_armed && pc == h->create_addr) {
		err = return_address(e, &ret);
		if (err)
			return err;
		if (ret < h->caller_lo || ret >= h->caller_hi || e->create_ret_armed)
			return 0;
		if (!bp_needed(e, ret)) {
			err = insert_bp(e, ret);
			if (err)
				return err;
		}
		e->create_ret = ret;
		e->create_ret_armed = true;
	}
	if (e->create_ret_armed && pc == e->create_ret) {
		int32_t result = (int32_t)(uint32_t)e->regs.val[e->env.arch->retval_reg];
		unsigned int k = e->nr_created++;

		e->create_ret_armed = false;
		err = drop_role(e, pc);
		if (err)
			return err;
		if (result && k < e->nr_order) {
			const struct ekp_probe *p = e->env.probes[e->order[k]];

			e->handed[e->order[k]] = false;
			ekp_warn("--handoff: the guest's kernel refused the kprobe_event= definition of "
				 "%s/%s (error %d): it stays on the trap engine", p->group, p->event,
				 result);
		}
	}
	return 0;
}

/* --handoff: the byte at addr in guest memory now (the VM is stopped). */
static int read_byte(struct trap_engine *e, uint64_t addr, uint8_t *b)
{
	int err = ekp_target_read_mem(e->run.target, addr, b, 1);

	return err ? ekp_err_prefix(err, "--handoff: reading the kernel text at 0x%" PRIx64 ": ",
				    addr) : 0;
}

/*
 * --handoff: the first enabling call, the VM stopped. The kernel created its kprobes disabled
 * (nothing written into its text yet): note, per handed probe the kernel took, the byte where
 * its kprobe will write, and which probe is the first at each such address.
 */
static int begin_enabling(struct trap_engine *e)
{
	const struct ekp_handoff *h = e->env.handoff;
	const struct ekp_arch *arch = e->env.arch;
	bool shared = false;
	int err;

	e->enabling = true;
	if (e->create_armed) {
		e->create_armed = false;
		err = drop_role(e, h->create_addr);
		if (err)
			return err;
	}
	if (e->nr_created != e->nr_order)
		ekp_warn("--handoff: the guest created %u kprobe_event= definitions, ekprobe gave it "
			 "%u", e->nr_created, e->nr_order);
	for (unsigned int k = 0; k < e->nr_order; k++) {
		unsigned int idx = e->order[k];
		const struct ekp_probe *p = e->env.probes[idx];
		struct handoff_probe *hp = &e->hp[idx];
		uint8_t code[16];

		if (!e->handed[idx])
			continue;
		hp->kaddr = p->addr;
		if (arch->kprobe_addr) {
			err = ekp_target_read_mem(e->run.target, p->addr, code, sizeof(code));
			if (err)
				return ekp_err_prefix(err, "--handoff: reading %s/%s's site: ", p->group,
						      p->event);
			hp->kaddr = arch->kprobe_addr(code, sizeof(code), p->addr,
						      p->sym && !p->offset);
		}
		err = read_byte(e, hp->kaddr, &hp->orig);
		if (err)
			return err;
		hp->by_bytes = true;
		for (unsigned int j = 0; j < e->nr_accepted; j++)
			if (e->hp[e->accepted[j]].kaddr == hp->kaddr)
				hp->by_bytes = false;
		e->accepted[e->nr_accepted++] = idx;
		shared |= !hp->by_bytes;
	}
	e->flags_off = -1;
	e->shared = shared;
	if (shared && h->enable_kprobe_addr) {
		if (!bp_needed(e, h->enable_kprobe_addr)) {
			err = insert_bp(e, h->enable_kprobe_addr);
			if (err)
				return err;
		}
		e->kp_armed = true;
	}
	return 0;
}

/*
 * --handoff: whether the guest's own kprobe records this hit of probe idx (the VM stopped on
 * it): after the handoff, a handed probe's; during the enabling, the first handed probe at an
 * address once the kernel has written there (its arming: before it nothing records the hit in
 * the guest, from it the kernel's kprobe does, on every CPU), a later one at the same address
 * (its kprobe joins the one already armed there) once its own enabling call has begun.
 */
static int guest_records(struct trap_engine *e, unsigned int idx, bool *guest)
{
	const struct handoff_probe *hp;
	uint8_t now;
	int err;

	*guest = false;
	if (!e->handed || !e->handed[idx])
		return 0;
	if (e->handed_over) {
		*guest = true;
		return 0;
	}
	if (!e->enabling)
		return 0;
	hp = &e->hp[idx];
	if (!hp->by_bytes && e->flags_off >= 0) {
		uint8_t f[4];

		if (!hp->kp)
			return 0; /* enable_kprobe() not called for it yet: still disabled */
		err = ekp_target_read_mem(e->run.target, hp->kp + (uint64_t)e->flags_off, f,
					  sizeof(f));
		if (err)
			return ekp_err_prefix(err, "--handoff: reading a kprobe's flags: ");
		*guest = !(f[0] & KPROBE_FLAG_DISABLED); /* little-endian: bit 1 is in f[0] */
		return 0;
	}
	if (!hp->by_bytes) {
		*guest = hp->live;
		return 0;
	}
	err = read_byte(e, hp->kaddr, &now);
	*guest = !err && now != hp->orig;
	return err;
}

/*
 * --handoff, after it: what the kernel's kprobe wrote at handed probe idx's site, its bytes in
 * guest memory against the vmlinux's (docs/handoff.md, "Each site's bytes"). Said when it
 * changes (an int3 the optimizer later turns into a jump); anything but what kprobes write is a
 * warning naming the probe, the address and the bytes.
 */
static int check_site(struct trap_engine *e, unsigned int idx)
{
	const struct ekp_arch *arch = e->env.arch;
	const struct ekp_probe *p = e->env.probes[idx];
	struct handoff_probe *hp = &e->hp[idx];
	uint8_t image[EKP_KSITE_BYTES], live[EKP_KSITE_BYTES];
	struct ekp_sym fentry = { 0 };
	enum ekp_ksite k;
	size_t n;
	int err;

	if (!arch->kprobe_site)
		return 0;
	if (ekp_symtab_read(e->env.st, hp->kaddr, image, sizeof(image))) {
		if (hp->ksite == -1)
			ekp_info("--handoff: %s/%s's site at 0x%" PRIx64 " not checked against the "
				 "kernel image (the symbols hold no image bytes there: give a vmlinux)",
				 p->group, p->event, hp->kaddr);
		hp->ksite = EKP_KSITE_NR; /* not checkable */
		return 0;
	}
	err = ekp_target_read_mem(e->run.target, hp->kaddr, live, sizeof(live));
	if (err)
		return ekp_err_prefix(err, "--handoff: reading %s/%s's site: ", p->group, p->event);
	if (ekp_symtab_lookup(e->env.st, "__fentry__", &fentry))
		fentry.addr = 0;
	k = arch->kprobe_site(image, live, hp->kaddr, fentry.addr, &n);
	if ((int)k == hp->ksite)
		return 0;
	if (k == EKP_KSITE_OTHER) {
		char a[3 * EKP_KSITE_BYTES + 1] = "", b[3 * EKP_KSITE_BYTES + 1] = "";

		for (size_t i = 0; i < n && i < EKP_KSITE_BYTES; i++) {
			snprintf(a + 3 * i, 4, " %02x", image[i]);
			snprintf(b + 3 * i, 4, " %02x", live[i]);
		}
		ekp_warn("--handoff: site check: %s/%s at 0x%" PRIx64 " differs from the vmlinux "
			 "beyond what kprobes write: vmlinux%s, guest%s", p->group, p->event,
			 hp->kaddr, a, b);
	} else {
		ekp_info("--handoff: site check: %s/%s at 0x%" PRIx64 ": %s%s", p->group, p->event,
			 hp->kaddr, hp->ksite == -1 ? "" : "now ", ekp_ksite_name(k));
	}
	hp->ksite = (int)k;
	return 0;
}

/* --handoff, after it: check every handed site; note whether an int3 may still change. */
static int check_sites(struct trap_engine *e)
{
	e->ksite_recheck = false;
	e->ksite_at = e->run.guest_now_ns ? e->run.guest_now_ns(e->run.opaque) : 0;
	for (unsigned int i = 0; i < e->env.nr_probes; i++) {
		int err;

		if (!e->handed[i])
			continue;
		err = check_site(e, i);
		if (err)
			return err;
		e->ksite_recheck |= e->hp[i].ksite == EKP_KSITE_INT3 ||
				    e->hp[i].ksite == EKP_KSITE_POKING;
	}
	return 0;
}

/*
 * --handoff: every enabling call returned. The handed probes whose kprobe the kernel armed
 * (the byte changed) lose their breakpoints; one it did not arm stays here.
 */
static int finish_handoff(struct trap_engine *e)
{
	const struct ekp_handoff *h = e->env.handoff;
	unsigned int nr = 0;
	uint8_t now;
	int err;

	for (unsigned int k = 0; k < e->nr_accepted; k++) {
		unsigned int idx = e->accepted[k];
		const struct ekp_probe *p = e->env.probes[idx];

		if (!e->handed[idx] || !e->hp[idx].by_bytes)
			continue;
		err = read_byte(e, e->hp[idx].kaddr, &now);
		if (err)
			return err;
		if (now != e->hp[idx].orig)
			continue;
		e->handed[idx] = false;
		ekp_warn("--handoff: the guest's kernel enabled %s/%s but did not arm it (its text at "
			 "0x%" PRIx64 " is unchanged): it stays on the trap engine", p->group, p->event,
			 e->hp[idx].kaddr);
	}
	if (e->shared && e->flags_off < 0)
		ekp_warn("--handoff: struct kprobe's flags word was not found: a second probe on one "
			 "address switched to the guest when its enabling call began (a hit on another "
			 "CPU before the kernel enabled it is lost; docs/handoff.md)");
	e->enabling = false;
	e->handed_over = true;
	for (unsigned int i = 0; i < e->nr_sites; i++) {
		struct trap_site *s = &e->sites[i];
		bool all = true;

		for (unsigned int k = 0; k < s->count; k++)
			all = all && e->handed[e->site_probes[s->first + k]];
		if (!all || !s->inserted)
			continue;
		s->inserted = false;
		err = drop_role(e, s->addr);
		if (err)
			return err;
	}
	e->switch_armed = false;
	err = drop_role(e, h->switch_addr);
	if (!err && e->enable_ret_armed) {
		e->enable_ret_armed = false;
		err = drop_role(e, e->enable_ret);
	}
	if (!err && e->kp_armed) {
		e->kp_armed = false;
		err = drop_role(e, h->enable_kprobe_addr);
	}
	if (!err && e->kp_ret_armed) {
		e->kp_ret_armed = false;
		err = drop_role(e, e->kp_ret);
	}
	if (err)
		return err;
	for (unsigned int i = 0; i < e->env.nr_probes; i++)
		nr += e->handed[i];
	if (!nr)
		return 0; /* the kernel armed none: everything stays here, no handoff */
	err = e->run.handoff ? e->run.handoff(e->run.opaque, e->handed) : 0;
	return err ?: check_sites(e);
}

/*
 * --handoff: enable_kprobe(kp) inside an enabling call (the kernel's kprobe for the probe that
 * call enables). A second probe on an address already armed goes live when this clears its own
 * KPROBE_FLAG_DISABLED: from here on ekprobe reads that flag at each hit. The struct's layout
 * is not in the default kernel's image (no BTF, no debug information): the flags word is
 * found by what enable_kprobe() changes, read before and after the first such call.
 */
static int on_enable_kprobe(struct trap_engine *e)
{
	const struct ekp_arch *arch = e->env.arch;
	uint64_t ret;
	bool in_reg;
	int err;

	if (!e->in_call || e->kp_in || !arch->nr_arg_regs)
		return 0;
	err = return_address(e, &ret);
	if (err)
		return err;
	e->kp_at = e->regs.val[arch->arg_regs[0]];
	if (e->nr_calls && e->nr_calls <= e->nr_accepted) {
		struct handoff_probe *hp = &e->hp[e->accepted[e->nr_calls - 1]];

		if (!hp->by_bytes)
			hp->kp = e->kp_at;
	}
	if (e->flags_off >= 0)
		return 0; /* the layout is known: no need to see the return */
	if (ekp_target_read_mem(e->run.target, e->kp_at, e->kp_before, KP_SNAP))
		return 0; /* cannot learn from this one */
	if (!bp_needed(e, ret)) {
		err = insert_bp(e, ret);
		if (err)
			return err;
	}
	arch->return_addr_location(&in_reg);
	e->kp_ret = ret;
	e->kp_ret_armed = true;
	e->kp_sp = e->regs.val[arch->sp_reg] + (in_reg ? 0 : arch->ptr_size);
	e->kp_in = true;
	return 0;
}

/* enable_kprobe() returned: the one 32-bit word that lost KPROBE_FLAG_DISABLED (and changed
 * nothing but kprobe flags) is flags. */
static int on_enable_kprobe_return(struct trap_engine *e)
{
	uint8_t after[KP_SNAP];
	int found = -1, err;

	e->kp_in = false;
	e->kp_ret_armed = false;
	err = drop_role(e, e->kp_ret);
	if (err)
		return err;
	if ((int32_t)(uint32_t)e->regs.val[e->env.arch->retval_reg] ||
	    ekp_target_read_mem(e->run.target, e->kp_at, after, KP_SNAP))
		return 0;
	for (int o = 0; o + 4 <= KP_SNAP; o += 4) {
		uint32_t b = 0, a = 0;

		for (int i = 3; i >= 0; i--) {
			b = b << 8 | e->kp_before[o + i];
			a = a << 8 | after[o + i];
		}
		if (a == b)
			continue;
		if (!(b & KPROBE_FLAG_DISABLED) || (a & KPROBE_FLAG_DISABLED) ||
		    ((a ^ b) & ~KPROBE_FLAGS_KNOWN) || found >= 0)
			return 0; /* some other change, or two candidates: not learned here */
		found = o;
	}
	e->flags_off = found;
	if (found >= 0)
		ekp_info("--handoff: struct kprobe's flags at +%d (seen in enable_kprobe()): a second "
			 "probe on one address switches when its own kprobe is enabled", found);
	return 0;
}

/*
 * --handoff: a stop on the enabling function. Called from the kernel's boot-time kprobe-event
 * code (enable_boot_kprobe_events(): one call per created definition, in their order), it
 * enables the next probe; its return comes back to enable_ret. Called from elsewhere: nothing
 * to do.
 */
static int on_enable_call(struct trap_engine *e)
{
	const struct ekp_handoff *h = e->env.handoff;
	bool in_reg;
	uint64_t ret;
	int err;

	err = return_address(e, &ret);
	if (err)
		return err;
	if (ret < h->caller_lo || ret >= h->caller_hi || e->in_call)
		return 0;
	if (!e->enabling && (err = begin_enabling(e)))
		return err;
	if (e->nr_calls < e->nr_accepted)
		e->hp[e->accepted[e->nr_calls]].live = true;
	e->nr_calls++;
	if (!e->enable_ret_armed) {
		if (!bp_needed(e, ret)) {
			err = insert_bp(e, ret);
			if (err)
				return err;
		}
		e->enable_ret = ret;
		e->enable_ret_armed = true;
	}
	if (ret != e->enable_ret)
		return ekp_err(EPROTO, "--handoff: the kernel's enabling calls return to 0x%" PRIx64
			       " and 0x%" PRIx64 ": not the one loop of Linux 6.1's "
			       "enable_boot_kprobe_events()", e->enable_ret, ret);
	e->env.arch->return_addr_location(&in_reg);
	e->enable_sp = e->regs.val[e->env.arch->sp_reg] + (in_reg ? 0 : e->env.arch->ptr_size);
	e->in_call = true;
	return 0;
}

/* --handoff: an enabling call returned; its result says whether the kernel enabled it. */
static int on_enable_return(struct trap_engine *e)
{
	int32_t result = (int32_t)(uint32_t)e->regs.val[e->env.arch->retval_reg];
	unsigned int k = e->nr_calls - 1;

	e->in_call = false;
	if (k < e->nr_accepted && result) {
		unsigned int idx = e->accepted[k];
		const struct ekp_probe *p = e->env.probes[idx];

		e->handed[idx] = false;
		e->hp[idx].live = false;
		ekp_warn("--handoff: the guest's kernel failed to enable %s/%s (error %d): it stays "
			 "on the trap engine", p->group, p->event, result);
	}
	return e->nr_calls >= e->nr_accepted ? finish_handoff(e) : 0;
}

static int stop_cpu(const struct rsp_stop *stop)
{
	/* QEMU numbers vCPU threads from 1 (cpu_index + 1). */
	return stop->has_thread && stop->thread.tid > 0 ? (int)stop->thread.tid - 1 : 0;
}

static int trap_on_stop(struct ekp_engine *base, const struct rsp_stop *stop)
{
	struct trap_engine *e = (struct trap_engine *)base;
	const struct ekp_arch *arch = e->env.arch;
	struct ekp_task task;
	struct trap_site *site;
	struct ret_site *rs;
	bool took = false;
	uint64_t pc;
	int cpu = stop_cpu(stop), err;

	if ((stop->kind != 'T' && stop->kind != 'S') || stop->signal != SIGTRAP_NO)
		return 0;
	err = ekp_target_read_regs(e->run.target, &e->regs);
	if (err)
		return err;
	pc = e->regs.val[arch->pc_reg];
	if (e->ksite_recheck && e->run.guest_now_ns &&
	    e->run.guest_now_ns(e->run.opaque) - e->ksite_at >= KSITE_RECHECK_NS) {
		err = check_sites(e);
		if (err)
			return err;
	}
	if ((e->create_armed && pc == e->env.handoff->create_addr) ||
	    (e->create_ret_armed && pc == e->create_ret)) {
		took = true;
		err = on_create(e, pc);
		if (err)
			return err;
	}
	if (e->switch_armed && pc == e->env.handoff->switch_addr) {
		took = true;
		err = on_enable_call(e);
		if (err)
			return err;
	}
	if (e->kp_armed && pc == e->env.handoff->enable_kprobe_addr) {
		took = true;
		err = on_enable_kprobe(e);
		if (err)
			return err;
	}
	if (e->kp_ret_armed && pc == e->kp_ret) {
		took = true;
		if (e->kp_in && e->regs.val[arch->sp_reg] == e->kp_sp) {
			err = on_enable_kprobe_return(e);
			if (err)
				return err;
		}
	}
	if (e->enable_ret_armed && pc == e->enable_ret) {
		/* Also a join point of the kernel's loop: the call's return only with its stack. */
		took = true;
		if (e->in_call && e->regs.val[arch->sp_reg] == e->enable_sp) {
			err = on_enable_return(e);
			if (err)
				return err;
		}
	}
	if (e->sentinel && pc == e->sentinel) {
		took = true;
		err = drop_aliases(e, pc);
		if (err)
			return err;
	}
	site = find_site(e, pc);
	if (site && !site->inserted)
		site = NULL; /* an alias dropped, or a site handed over */
	rs = find_ret(e, pc);
	if (!site && !rs) {
		e->stops += took;
		return took ? EKP_STOP_TAKEN | (bp_needed(e, pc) ? EKP_STOP_ON_BREAKPOINT : 0) : 0;
	}
	e->stops++;
	if (site && site->alias && !alias_hit_is_kernel(e, site))
		return EKP_STOP_TAKEN | EKP_STOP_ON_BREAKPOINT; /* not the kernel running there */
	err = ekp_task_read(&e->tasks, arch, &e->regs, ekp_target_read_mem, e->run.target, &task);
	if (err)
		return err;
	/* Returns first: a frame returns before the next call from its caller's code begins. */
	if (rs) {
		err = handle_returns(e, rs, cpu, &task);
		if (err)
			return err;
	}
	for (unsigned int i = 0; site && i < site->count; i++) {
		unsigned int idx = e->site_probes[site->first + i];
		bool guest;

		err = guest_records(e, idx, &guest);
		if (err)
			return err;
		if (guest)
			continue; /* the guest's own kprobe has it */
		if (e->env.probes[idx]->kind == EKP_PROBE_RETURN)
			err = track_return(e, idx);
		else
			err = emit(e, idx, EKP_PROBE_ENTRY, site->vaddr, 0, cpu, &task);
		if (err)
			return err;
	}
	return EKP_STOP_TAKEN | (bp_needed(e, pc) ? EKP_STOP_ON_BREAKPOINT : 0);
}

static void trap_probe_stats(const struct ekp_engine *base, unsigned int i,
			     struct ekp_probe_counts *out)
{
	const struct trap_engine *e = (const struct trap_engine *)base;

	memset(out, 0, sizeof(*out));
	if (i >= e->env.nr_probes)
		return;
	out->hits = e->ps[i].hits;
	out->pending = e->ps[i].pending;
	out->missed = e->ps[i].missed;
}

static void trap_stats(const struct ekp_engine *base, struct ekp_run_counts *out)
{
	const struct trap_engine *e = (const struct trap_engine *)base;

	memset(out, 0, sizeof(*out));
	out->stops = e->stops;
}

const struct ekp_engine_ops ekp_engine_trap = {
	.name = "trap",
	.create = trap_create,
	.plan = trap_plan,
	.qemu_args = trap_qemu_args,
	.arm = trap_arm,
	.relocate = trap_relocate,
	.on_stop = trap_on_stop,
	.disarm = trap_disarm,
	.probe_stats = trap_probe_stats,
	.stats = trap_stats,
	.destroy = trap_destroy,
};
