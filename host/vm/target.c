// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
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
	t->round_trips++;
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
	t->round_trips++;
	if (err)
		return ekp_err_prefix(err, "reading registers: ");
	for (unsigned int id = 0; id < t->arch->nr_regs; id++) {
		const struct ekp_target_reg *m = &t->map[id];

		if (m->regnum < 0 || m->size == 0)
			continue;
		if (m->g_off >= 0 && (size_t)m->g_off + m->size <= t->g.len) {
			regs->val[id] = le_value((const uint8_t *)t->g.data + m->g_off, m->size);
			regs->valid |= 1ull << id;
		} else if (id == (unsigned int)t->arch->pc_reg || id == (unsigned int)t->arch->sp_reg) {
			/* Not carried by 'g': ask for it alone. Only the registers the core needs. */
			err = rsp_read_reg(t->rsp, (unsigned int)m->regnum, raw,
					   m->size < 8 ? m->size : 8, t->timeout_ms);
			t->round_trips++;
			if (err)
				return ekp_err_prefix(err, "reading register %s: ",
						      t->arch->gdb_reg_name((int)id));
			regs->val[id] = le_value(raw, m->size);
			regs->valid |= 1ull << id;
		}
	}
	return 0;
}

void ekp_target_cache_reset(struct ekp_target *t)
{
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
	err = rsp_read_mem(t->rsp, lo, buf, (size_t)(hi - lo + L), t->timeout_ms);
	t->round_trips++;
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
	err = rsp_read_mem(t->rsp, addr, buf, len, t->timeout_ms);
	t->round_trips++;
	return err ? -EFAULT : 0;
}

int ekp_target_read_pc(struct ekp_target *t, uint64_t *pc)
{
	const struct ekp_target_reg *m = &t->map[t->arch->pc_reg];
	uint8_t raw[8] = { 0 };
	int err;

	err = rsp_read_reg(t->rsp, (unsigned int)m->regnum, raw, m->size < 8 ? m->size : 8,
			   t->timeout_ms);
	t->round_trips++;
	if (err)
		return ekp_err_prefix(err, "reading the PC: ");
	*pc = 0;
	for (int i = 0; i < 8; i++)
		*pc |= (uint64_t)raw[i] << (8 * i);
	return 0;
}

uint64_t ekp_target_round_trips(const struct ekp_target *t)
{
	return rsp_round_trips(t->rsp);
}
