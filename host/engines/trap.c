// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/engines/trap.h"
#include "host/fetch/eval.h"

#define MAX_RESTEPS 4096        /* steps off one breakpoint before giving up (a jump to itself) */
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

struct ekp_trap_engine {
	struct ekp_trap_config cfg;
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
	bool at_breakpoint;     /* the last stop left the PC on a breakpoint of ours */
	uint64_t resteps;       /* steps that left the PC on the breakpoint (see resume) */
	uint64_t sentinel;      /* arch early_end_sym while alias breakpoints are armed, or 0 */
	uint64_t stops;
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

int ekp_trap_engine_new(const struct ekp_trap_config *cfg, struct ekp_trap_engine **out)
{
	struct ekp_trap_engine *e = calloc(1, sizeof(*e));
	unsigned int max_args = 1, nr_refs = 0;
	struct site_ref *refs;

	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	refs = calloc(2 * (size_t)cfg->nr_probes + 1, sizeof(*refs));
	e->site_probes = calloc(2 * (size_t)cfg->nr_probes + 1, sizeof(*e->site_probes));
	e->sites = calloc(2 * (size_t)cfg->nr_probes + 1, sizeof(*e->sites));
	e->ps = calloc((size_t)cfg->nr_probes + 1, sizeof(*e->ps));
	for (unsigned int i = 0; i < cfg->nr_probes; i++)
		if (cfg->probes[i]->nr_args > max_args)
			max_args = cfg->probes[i]->nr_args;
	e->values = calloc(max_args, sizeof(*e->values));
	if (!refs || !e->site_probes || !e->sites || !e->ps || !e->values) {
		free(refs);
		ekp_trap_engine_free(e);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < cfg->nr_probes; i++) {
		uint64_t va = cfg->probes[i]->addr, alias;

		refs[nr_refs++] = (struct site_ref){ va, va, false, i };
		if (cfg->arch->early_alias && cfg->arch->early_alias(va, &alias))
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
	*out = e;
	return 0;
}

void ekp_trap_engine_free(struct ekp_trap_engine *e)
{
	if (!e)
		return;
	free(e->sites);
	free(e->site_probes);
	free(e->rets);
	free(e->pend);
	free(e->ps);
	free(e->values);
	free(e);
}

static struct rsp_client *rsp(struct ekp_trap_engine *e)
{
	return e->cfg.target->rsp;
}

static int insert_bp(struct ekp_trap_engine *e, uint64_t addr)
{
	int err = rsp_insert_break(rsp(e), 0, addr, 1, e->cfg.target->timeout_ms);

	e->cfg.target->round_trips++;
	if (err)
		return ekp_err_prefix(err, "inserting a breakpoint at 0x%llx: ",
				      (unsigned long long)addr);
	return 0;
}

static int remove_bp(struct ekp_trap_engine *e, uint64_t addr)
{
	int err = rsp_remove_break(rsp(e), 0, addr, 1, e->cfg.target->timeout_ms);

	e->cfg.target->round_trips++;
	if (err)
		return ekp_err_prefix(err, "removing the breakpoint at 0x%llx: ",
				      (unsigned long long)addr);
	return 0;
}

static struct trap_site *find_site(struct ekp_trap_engine *e, uint64_t pc);
static struct ret_site *find_ret(struct ekp_trap_engine *e, uint64_t pc);

int ekp_trap_arm(struct ekp_trap_engine *e)
{
	bool aliases = false;
	struct ekp_sym sym;
	int err;

	for (unsigned int i = 0; i < e->nr_sites; i++) {
		err = insert_bp(e, e->sites[i].addr);
		if (err)
			return err;
		e->sites[i].inserted = true;
		aliases |= e->sites[i].alias;
	}
	if (aliases && e->cfg.arch->early_end_sym &&
	    !ekp_symtab_lookup(e->cfg.st, e->cfg.arch->early_end_sym, &sym)) {
		if (!find_site(e, sym.addr)) {
			err = insert_bp(e, sym.addr);
			if (err)
				return err;
		}
		e->sentinel = sym.addr;
	}
	return 0;
}

/* The boot CPU runs in the kernel mapping now: remove the early alias breakpoints. */
static int drop_aliases(struct ekp_trap_engine *e, uint64_t pc)
{
	int err;

	for (unsigned int i = 0; i < e->nr_sites; i++) {
		if (!e->sites[i].alias || !e->sites[i].inserted)
			continue;
		err = remove_bp(e, e->sites[i].addr);
		if (err)
			return err;
		e->sites[i].inserted = false;
	}
	e->sentinel = 0;
	if (!find_site(e, pc) && !find_ret(e, pc)) {
		err = remove_bp(e, pc);
		if (err)
			return err;
		e->at_breakpoint = false;
	}
	return 0;
}

int ekp_trap_disarm(struct ekp_trap_engine *e)
{
	int first_err = 0, err;

	for (unsigned int i = 0; i < e->nr_sites; i++) {
		if (!e->sites[i].inserted)
			continue;
		err = remove_bp(e, e->sites[i].addr);
		if (err && !first_err)
			first_err = err;
		e->sites[i].inserted = false;
	}
	if (e->sentinel && !find_site(e, e->sentinel)) {
		err = remove_bp(e, e->sentinel);
		if (err && !first_err)
			first_err = err;
	}
	e->sentinel = 0;
	for (unsigned int i = 0; i < e->nr_rets; i++) {
		err = remove_bp(e, e->rets[i].addr);
		if (err && !first_err)
			first_err = err;
	}
	e->nr_rets = 0;
	return first_err;
}

static struct trap_site *find_site(struct ekp_trap_engine *e, uint64_t pc)
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

static struct ret_site *find_ret(struct ekp_trap_engine *e, uint64_t pc)
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
static bool alias_hit_is_kernel(struct ekp_trap_engine *e, const struct trap_site *s)
{
	uint8_t live[ALIAS_CHECK_BYTES], image[ALIAS_CHECK_BYTES];

	if (!e->cfg.arch->in_kernel_mode(&e->regs))
		return false;
	if (ekp_symtab_read(e->cfg.st, s->vaddr, image, sizeof(image)))
		return true; /* no image to compare with (System.map): kernel mode is all we know */
	if (ekp_target_read_mem(e->cfg.target, s->addr, live, sizeof(live)))
		return false;
	return !memcmp(live, image, sizeof(image));
}

static int emit(struct ekp_trap_engine *e, unsigned int idx, enum ekp_probe_kind kind,
		uint64_t addr, uint64_t ret_addr, int cpu, const struct ekp_task *task)
{
	const struct ekp_probe *p = e->cfg.probes[idx];
	struct ekp_fetch_ctx ctx = {
		.arch = e->cfg.arch, .regs = &e->regs, .read_mem = ekp_target_read_mem,
		.opaque = e->cfg.target, .task = task,
	};
	struct ekp_event ev = {
		.probe = p, .probe_index = idx, .kind = kind, .addr = addr, .ret_addr = ret_addr,
		.hit_pc = e->regs.val[e->cfg.arch->pc_reg], .cpu = cpu,
		.ts_ns = e->cfg.now_ns(e->cfg.opaque), .engine = "trap", .task = *task,
		.nr_values = p->nr_args, .values = e->values,
	};
	int err;

	for (unsigned int i = 0; i < p->nr_args; i++) {
		err = ekp_fetch_arg(&ctx, &p->args[i], &e->values[i]);
		if (err)
			return ekp_err_prefix(err, "%s/%s: fetching %s: ", p->group, p->event,
					      p->args[i].name);
	}
	e->ps[idx].hits++;
	return e->cfg.emit(e->cfg.opaque, &ev);
}

/* An 'r' probe's entry: remember where and with which stack the frame will return. */
static int track_return(struct ekp_trap_engine *e, unsigned int idx)
{
	const struct ekp_arch *arch = e->cfg.arch;
	const struct ekp_probe *p = e->cfg.probes[idx];
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
		if (ekp_target_read_mem(e->cfg.target, sp, raw, arch->ptr_size)) {
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
				return -ENOMEM;
			e->rets = n;
			e->cap_rets = cap;
		}
		/* A site that is also an entry site (or the sentinel) already has a breakpoint. */
		if (!find_site(e, ret) && ret != e->sentinel) {
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
static int handle_returns(struct ekp_trap_engine *e, struct ret_site *rs, int cpu,
			  const struct ekp_task *task, bool *still_bp)
{
	uint64_t pc = rs->addr, sp = e->regs.val[e->cfg.arch->sp_reg];
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
		err = emit(e, pr.probe, EKP_PROBE_RETURN, e->cfg.probes[pr.probe]->addr, pc, cpu,
			   task);
		if (err)
			return err;
	}
	*still_bp = true;
	if (rs->refs == 0) {
		if (!find_site(e, pc) && pc != e->sentinel) {
			err = remove_bp(e, pc);
			if (err)
				return err;
			*still_bp = false;
		}
		*rs = e->rets[--e->nr_rets];
	}
	return 0;
}

static int stop_cpu(const struct rsp_stop *stop)
{
	/* QEMU numbers vCPU threads from 1 (cpu_index + 1). */
	return stop->has_thread && stop->thread.tid > 0 ? (int)stop->thread.tid - 1 : 0;
}

int ekp_trap_handle_stop(struct ekp_trap_engine *e, const struct rsp_stop *stop)
{
	const struct ekp_arch *arch = e->cfg.arch;
	struct ekp_task task;
	struct trap_site *site;
	struct ret_site *rs;
	bool ret_bp = false;
	uint64_t pc;
	int cpu = stop_cpu(stop), err;

	e->at_breakpoint = false;
	ekp_target_cache_reset(e->cfg.target);
	if ((stop->kind != 'T' && stop->kind != 'S') || stop->signal != SIGTRAP_NO)
		return 0;
	err = ekp_target_read_regs(e->cfg.target, &e->regs);
	if (err)
		return err;
	pc = e->regs.val[arch->pc_reg];
	site = find_site(e, pc);
	rs = find_ret(e, pc);
	if (e->sentinel && pc == e->sentinel) {
		e->stops++;
		e->at_breakpoint = true;
		err = drop_aliases(e, pc);
		if (err)
			return err;
		if (!site && !rs)
			return 1;
	}
	if (!site && !rs)
		return 0;
	e->stops++;
	e->at_breakpoint = true;
	if (site && site->alias && !alias_hit_is_kernel(e, site))
		return 1; /* our breakpoint, but not the kernel running there: no event */
	err = ekp_task_read(e->cfg.tasks, arch, &e->regs, ekp_target_read_mem, e->cfg.target, &task);
	if (err)
		return err;
	/* Returns first: a frame returns before the next call from its caller's code begins. */
	if (rs) {
		err = handle_returns(e, rs, cpu, &task, &ret_bp);
		if (err)
			return err;
		e->at_breakpoint = ret_bp || site || find_ret(e, pc);
	}
	for (unsigned int i = 0; site && i < site->count; i++) {
		unsigned int idx = e->site_probes[site->first + i];

		if (e->cfg.probes[idx]->kind == EKP_PROBE_RETURN)
			err = track_return(e, idx);
		else
			err = emit(e, idx, EKP_PROBE_ENTRY, site->vaddr, 0, cpu, &task);
		if (err)
			return err;
	}
	return 1;
}

int ekp_trap_resume(struct ekp_trap_engine *e, const struct rsp_stop *stop)
{
	uint64_t bp_pc = e->regs.val[e->cfg.arch->pc_reg], pc;
	struct rsp_stop stepped;
	int err;

	/*
	 * QEMU reports a breakpoint at the PC again on a plain continue; only a single-step
	 * passes over it. The step moves this vCPU alone; the others stay stopped.
	 *
	 * QEMU 7.2 (TCG) now and then ends a step without executing the instruction; a
	 * continue would then report the same breakpoint again and count one hit twice (gdb's
	 * dprintf does: measured on __alloc_pages). So step until the PC leaves the breakpoint.
	 * A rep-prefixed instruction steps one iteration at a time, with the same PC: stepping
	 * it to its end is also right. A jump to itself never leaves: give up after a while.
	 */
	for (unsigned int n = 0; e->at_breakpoint; n++) {
		err = rsp_step(rsp(e), stop->has_thread ? &stop->thread : NULL, &stepped,
			       e->cfg.target->timeout_ms);
		e->cfg.target->round_trips++;
		if (err)
			return ekp_err_prefix(err, "stepping off a breakpoint: ");
		if (n == MAX_RESTEPS)
			break;
		err = ekp_target_read_pc(e->cfg.target, &pc);
		if (err)
			return err;
		if (pc != bp_pc)
			break;
		e->resteps++;
	}
	e->at_breakpoint = false;
	err = rsp_resume(rsp(e), "c", e->cfg.target->timeout_ms);
	if (err)
		return ekp_err_prefix(err, "resuming the guest: ");
	return 0;
}

uint64_t ekp_trap_resteps(const struct ekp_trap_engine *e)
{
	return e->resteps;
}

uint64_t ekp_trap_hits(const struct ekp_trap_engine *e, unsigned int probe)
{
	return probe < e->cfg.nr_probes ? e->ps[probe].hits : 0;
}

uint64_t ekp_trap_pending(const struct ekp_trap_engine *e, unsigned int probe)
{
	return probe < e->cfg.nr_probes ? e->ps[probe].pending : 0;
}

uint64_t ekp_trap_missed(const struct ekp_trap_engine *e, unsigned int probe)
{
	return probe < e->cfg.nr_probes ? e->ps[probe].missed : 0;
}

uint64_t ekp_trap_stops(const struct ekp_trap_engine *e)
{
	return e->stops;
}
