// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/vm/target.h"

int ekp_target_init(struct ekp_target *t, struct rsp_client *rsp, const struct ekp_arch *arch,
		    int timeout_ms)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->rsp = rsp;
	t->arch = arch;
	t->timeout_ms = timeout_ms;
	err = rsp_read_target_desc(rsp, &t->desc, timeout_ms);
	if (err)
		return ekp_err_prefix(err, "reading the target description: ");
	for (unsigned int id = 0; id < arch->nr_regs && id < EKP_MAX_REGS; id++) {
		const struct rsp_reg_desc *r = rsp_target_desc_find(&t->desc, arch->gdb_reg_name(id));

		t->map[id].regnum = r ? (int)r->regnum : -1;
		t->map[id].size = r ? r->bitsize / 8 : 0;
		t->map[id].g_off = r ? rsp_target_desc_g_offset(&t->desc, r->regnum) : -1;
	}
	if (t->map[arch->pc_reg].regnum < 0 || t->map[arch->sp_reg].regnum < 0)
		return ekp_err(EPROTO, "the target description (%s) has no %s or %s register",
			       t->desc.arch, arch->gdb_reg_name(arch->pc_reg),
			       arch->gdb_reg_name(arch->sp_reg));
	return 0;
}

void ekp_target_fini(struct ekp_target *t)
{
	rsp_target_desc_free(&t->desc);
	ekp_buf_free(&t->g);
}

static uint64_t le_value(const uint8_t *p, unsigned int size)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < size && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int ekp_target_read_regs(struct ekp_target *t, struct ekp_regs *regs)
{
	uint8_t raw[8];
	int err;

	memset(regs, 0, sizeof(*regs));
	err = rsp_read_all_regs(t->rsp, &t->g, t->timeout_ms);
	if (err)
		return ekp_err_prefix(err, "reading registers: ");
	for (unsigned int id = 0; id < t->arch->nr_regs; id++) {
		const struct ekp_target_reg *m = &t->map[id];

		if (m->regnum < 0 || m->size == 0)
			continue;
		if (m->g_off >= 0 && (size_t)m->g_off + m->size <= t->g.len) {
			regs->val[id] = le_value((const uint8_t *)t->g.data + m->g_off, m->size);
			regs->valid |= 1ull << id;
		} else if (id == (unsigned int)t->arch->pc_reg || id == (unsigned int)t->arch->sp_reg ||
			   (int)id == t->arch->task_reg) {
			/* Not carried by 'g': ask for it alone. Only the registers the core needs. */
			err = rsp_read_reg(t->rsp, (unsigned int)m->regnum, raw,
					   m->size < 8 ? m->size : 8, t->timeout_ms);
			if (err)
				return ekp_err_prefix(err, "reading register %s: ",
						      t->arch->gdb_reg_name((int)id));
			regs->val[id] = le_value(raw, m->size);
			regs->valid |= 1ull << id;
		}
	}
	t->pc = regs->val[t->arch->pc_reg];
	t->pc_known = true;
	return 0;
}

/*
 * m/M take virtual or physical addresses (Qqemu.PhyMemMode): switched only when an access
 * needs the other kind, so a run of physical accesses (the jump engine arming) costs one
 * switch, not two per access.
 */
static int memory_mode(struct ekp_target *t, bool phys)
{
	int err;

	if (t->phys == phys)
		return 0;
	err = rsp_set_phys_mem_mode(t->rsp, phys, t->timeout_ms);
	if (err)
		return ekp_err_prefix(err, "switching to %s addresses: ",
				      phys ? "physical" : "virtual");
	t->phys = phys;
	return 0;
}

void ekp_target_cache_reset(struct ekp_target *t)
{
	t->pc_known = false;
	for (unsigned int i = 0; i < EKP_TARGET_CACHE_LINES; i++)
		t->cache[i].state = 0;
}

static int cache_find(struct ekp_target *t, uint64_t base)
{
	for (unsigned int i = 0; i < EKP_TARGET_CACHE_LINES; i++)
		if (t->cache[i].state && t->cache[i].base == base)
			return (int)i;
	return -1;
}

/*
 * Make every line of [first, last] present with one request for the lines missing:
 * 0, or -EFAULT when that range cannot be read whole.
 */
static int cache_fill(struct ekp_target *t, uint64_t first, uint64_t last)
{
	const uint64_t L = EKP_TARGET_CACHE_LINE;
	uint8_t buf[EKP_TARGET_CACHE_LINES * EKP_TARGET_CACHE_LINE];
	uint64_t lo = last + L, hi = first, b;
	int err;

	for (b = first; b <= last; b += L) {
		int i = cache_find(t, b);

		if (i >= 0 && t->cache[i].state < 0)
			return -EFAULT;
		if (i < 0) {
			lo = b < lo ? b : lo;
			hi = b;
		}
	}
	if (lo > hi)
		return 0;
	err = memory_mode(t, false);
	if (!err)
		err = rsp_read_mem(t->rsp, lo, buf, (size_t)(hi - lo + L), t->timeout_ms);
	for (b = lo; b <= hi; b += L) {
		unsigned int i = t->cache_next++ % EKP_TARGET_CACHE_LINES;

		t->cache[i].base = b;
		t->cache[i].state = err ? -1 : 1;
		if (!err)
			memcpy(t->cache[i].data, buf + (b - lo), L);
		if (err)
			break; /* remember the failure once; a narrower direct read follows */
	}
	return err ? -EFAULT : 0;
}

int ekp_target_read_mem(void *target, uint64_t addr, void *buf, size_t len)
{
	const uint64_t L = EKP_TARGET_CACHE_LINE;
	struct ekp_target *t = target;
	uint64_t first, last, b;
	uint8_t *out = buf;
	int err;

	if (!len)
		return 0;
	if (addr + len < addr)
		return -EFAULT;
	first = addr & ~(L - 1);
	last = (addr + len - 1) & ~(L - 1);
	/* Too large to cache, or the span straddles something unreadable: exact read. */
	if ((last - first) / L + 1 > EKP_TARGET_CACHE_LINES / 2 || cache_fill(t, first, last))
		goto direct;
	for (b = first; b <= last; b += L) {
		if (cache_find(t, b) < 0)
			goto direct; /* filling evicted a line of this very span */
	}
	for (b = first; b <= last; b += L) {
		int i = cache_find(t, b);
		uint64_t from = b > addr ? b : addr, to = b + L < addr + len ? b + L : addr + len;

		memcpy(out + (from - addr), t->cache[i].data + (from - b), (size_t)(to - from));
	}
	return 0;
direct:
	err = memory_mode(t, false);
	if (!err)
		err = rsp_read_mem(t->rsp, addr, buf, len, t->timeout_ms);
	return err ? -EFAULT : 0;
}

int ekp_target_read_pc(struct ekp_target *t, uint64_t *pc)
{
	const struct ekp_target_reg *m = &t->map[t->arch->pc_reg];
	uint8_t raw[8] = { 0 };
	int err;

	err = rsp_read_reg(t->rsp, (unsigned int)m->regnum, raw, m->size < 8 ? m->size : 8,
			   t->timeout_ms);
	if (err)
		return ekp_err_prefix(err, "reading the PC: ");
	*pc = 0;
	for (int i = 0; i < 8; i++)
		*pc |= (uint64_t)raw[i] << (8 * i);
	t->pc = *pc;
	t->pc_known = true;
	return 0;
}

int ekp_target_insert_bp(struct ekp_target *t, uint64_t addr)
{
	int err = rsp_insert_break(t->rsp, 0, addr, 1, t->timeout_ms);

	return err ? ekp_err_prefix(err, "inserting a breakpoint at 0x%" PRIx64 ": ", addr) : 0;
}

int ekp_target_remove_bp(struct ekp_target *t, uint64_t addr)
{
	int err = rsp_remove_break(t->rsp, 0, addr, 1, t->timeout_ms);

	return err ? ekp_err_prefix(err, "removing the breakpoint at 0x%" PRIx64 ": ", addr) : 0;
}

static int phys_access(struct ekp_target *t, uint64_t pa, void *buf, size_t len, bool write)
{
	int err = memory_mode(t, true);

	if (!err)
		err = write ? rsp_write_mem(t->rsp, pa, buf, len, t->timeout_ms)
			    : rsp_read_mem(t->rsp, pa, buf, len, t->timeout_ms);
	if (err)
		return ekp_err_prefix(err, "%s guest physical memory at 0x%" PRIx64 ": ",
				      write ? "writing" : "reading", pa);
	return 0;
}

int ekp_target_read_phys(struct ekp_target *t, uint64_t pa, void *buf, size_t len)
{
	return phys_access(t, pa, buf, len, false);
}

int ekp_target_write_phys(struct ekp_target *t, uint64_t pa, const void *buf, size_t len)
{
	return phys_access(t, pa, (void *)buf, len, true);
}

#define MAX_RESTEPS 4096 /* steps off one breakpoint before giving up (a jump to itself) */

int ekp_target_step_off(struct ekp_target *t, const struct rsp_stop *stop)
{
	struct rsp_stop stepped;
	uint64_t pc, bp_pc;
	int err;

	if (!t->pc_known && (err = ekp_target_read_pc(t, &pc)))
		return err;
	bp_pc = t->pc;

	/*
	 * A rep-prefixed instruction steps one iteration at a time, with the same PC: stepping
	 * it to its end is also right. A jump to itself never leaves: give up after a while.
	 */
	for (unsigned int n = 0;; n++) {
		err = rsp_step(t->rsp, stop->has_thread ? &stop->thread : NULL, &stepped,
			       t->timeout_ms);
		if (err)
			return ekp_err_prefix(err, "stepping off a breakpoint: ");
		t->pc_known = false;
		if (n == MAX_RESTEPS)
			return 0;
		err = ekp_target_read_pc(t, &pc);
		if (err)
			return err;
		if (pc != bp_pc)
			return 0;
		t->resteps++;
	}
}

int ekp_target_resume(struct ekp_target *t)
{
	int err;

	ekp_target_cache_reset(t);
	err = rsp_resume(t->rsp, "c", t->timeout_ms);

	return err ? ekp_err_prefix(err, "resuming the guest: ") : 0;
}

uint64_t ekp_target_round_trips(const struct ekp_target *t)
{
	return rsp_round_trips(t->rsp);
}

int ekp_target_detach(struct ekp_target *t)
{
	/* QEMU keeps the address mode for the next client: leave it as found. */
	int err = memory_mode(t, false), err2 = rsp_detach(t->rsp, t->timeout_ms);

	return err ? err : err2;
}
