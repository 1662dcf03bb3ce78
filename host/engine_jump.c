// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/jump.h"
#include "ekprobe/abi.h"
#include "ekprobe/err.h"
#include "host/engine_jump.h"
#include "host/fetch_compile.h"
#include "host/kpatch.h"
#include "host/ring.h"

#define SLOT_ALIGN 16

struct jump_probe {
	bool planned;
	unsigned int table_index;   /* index in the guest's probe table */
	uint64_t slot;              /* VA of its trampoline */
	struct x86_64_jump_plan plan;
	struct ekp_abi_probe prog;
	uint64_t hits;
};

struct ekp_jump_engine {
	struct ekp_jump_config cfg;
	struct ekp_kpatch *kpatch;
	uint64_t desc_addr;
	struct ekp_abi_desc desc;
	uint64_t slot_next;
	struct jump_probe *jp;
	unsigned int nr_table;
	unsigned int *table_to_probe;
	uint64_t head_start, head_end; /* text that runs before the kernel mapping exists */
	bool armed;
	void *(*guest_ptr)(void *opaque, uint64_t pa, size_t len);
	void *ram_opaque;
	uint64_t tail;
	struct ekp_ring_stats stats;
	struct ekp_value values[EKP_ABI_MAX_VALUES];
};

static int va_to_pa(const struct ekp_jump_engine *e, uint64_t va, uint64_t *pa)
{
	if (!e->cfg.arch->early_alias || !e->cfg.arch->early_alias(va, pa))
		return ekp_err(ERANGE, "0x%" PRIx64 " is not in the kernel image mapping", va);
	return 0;
}

int ekp_jump_engine_new(const struct ekp_jump_config *cfg, struct ekp_jump_engine **out)
{
	struct ekp_jump_engine *e;
	struct ekp_sym sym, last;
	char why[256];
	int err;

	if (!ekp_symtab_has_image(cfg->st))
		return ekp_err(ENODATA, "the jump engine needs the guest's vmlinux (not a System.map)");
	if (ekp_symtab_lookup(cfg->st, "ekprobe_desc", &sym))
		return ekp_err(ENOENT, "the guest kernel has no ekprobe guest patch (no ekprobe_desc; "
			       "see docs/guest.md)");
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	e->desc_addr = sym.addr;
	err = ekp_symtab_read(cfg->st, sym.addr, &e->desc, sizeof(e->desc));
	if (err) {
		err = ekp_err(ENODATA, "ekprobe_desc: the vmlinux holds no bytes for it");
		goto fail;
	}
	if (ekp_ring_desc_check(&e->desc, why, sizeof(why))) {
		err = ekp_err(EPROTO, "ekprobe_desc: %s", why);
		goto fail;
	}
	err = ekp_kpatch_load(cfg->st, &e->kpatch);
	if (err)
		goto fail;
	e->jp = calloc(cfg->nr_probes + 1, sizeof(*e->jp));
	e->table_to_probe = calloc(e->desc.max_probes + 1, sizeof(*e->table_to_probe));
	if (!e->jp || !e->table_to_probe) {
		err = -ENOMEM;
		goto fail;
	}
	e->slot_next = e->desc.slots;
	/* Head text: from the entry to the end of the arch's last identity-mapped function. */
	if (cfg->arch->head_text_last_sym && !ekp_symtab_lookup(cfg->st, "_text", &sym) &&
	    !ekp_symtab_lookup(cfg->st, cfg->arch->head_text_last_sym, &last) &&
	    last.addr >= sym.addr && last.addr - sym.addr < (1u << 20)) {
		e->head_start = sym.addr;
		e->head_end = last.addr + last.size;
	}
	*out = e;
	return 0;
fail:
	ekp_jump_engine_free(e);
	return err;
}

void ekp_jump_engine_free(struct ekp_jump_engine *e)
{
	if (!e)
		return;
	ekp_kpatch_free(e->kpatch);
	free(e->jp);
	free(e->table_to_probe);
	free(e);
}

static int refuse(char *why, size_t n, int err, const char *msg)
{
	snprintf(why, n, "%s", msg);
	return err < 0 ? err : -err;
}

int ekp_jump_plan(struct ekp_jump_engine *e, unsigned int i, char *why, size_t whylen)
{
	const struct ekp_probe *p = e->cfg.probes[i];
	struct jump_probe *jp = &e->jp[i];
	struct x86_64_jump_site site = { 0 };
	struct ekp_sym sym;
	uint8_t *code;
	uint64_t off, j;
	size_t size;
	int err;

	if (e->nr_table >= e->desc.max_probes)
		return refuse(why, whylen, ENOSPC, "the guest's probe table is full (max_probes)");
	if (p->addr >= e->head_start && p->addr < e->head_end)
		return refuse(why, whylen, EOPNOTSUPP, "head text runs at its physical address "
			      "before the kernel mapping exists; trampolines need that mapping");
	if (ekp_symtab_addr2sym(e->cfg.st, p->addr, &sym, &off) || !sym.size)
		return refuse(why, whylen, ENOENT, "no sized function contains the probe");
	/* A probe at an ftrace site (call __fentry__ / nop5) jumps right after it: ftrace keeps
	 * its site untouched, and the registers and stack there are the function's entry ones. */
	j = p->addr;
	if (ekp_kpatch_is_mcount(e->kpatch, p->addr))
		j = p->addr + X86_64_JUMP_LEN;
	code = malloc(sym.size);
	if (!code)
		return -ENOMEM;
	if (ekp_symtab_read(e->cfg.st, sym.addr, code, sym.size)) {
		free(code);
		return refuse(why, whylen, ENODATA, "the vmlinux holds no bytes for the function");
	}
	site.func_addr = sym.addr;
	site.func_name = sym.name;
	site.func = code;
	site.func_size = sym.size;
	site.jump_addr = j;
	site.probe_addr = p->addr;
	site.slot_addr = e->slot_next;
	err = x86_64_jump_plan(&site, &jp->plan);
	free(code);
	if (err)
		return refuse(why, whylen, err, ekp_errmsg());
	if (ekp_kpatch_check(e->kpatch, j, jp->plan.displaced_len, why, whylen))
		return -EBUSY;
	/* One trampoline per site: it calls the guest for one probe only (yet). */
	for (unsigned int k = 0; k < e->cfg.nr_probes; k++) {
		const struct jump_probe *o = &e->jp[k];

		if (!o->planned || j >= o->plan.jump_addr + o->plan.displaced_len ||
		    o->plan.jump_addr >= j + jp->plan.displaced_len)
			continue;
		snprintf(why, whylen, "its jump site overlaps the one of %s/%s (one probe per jump "
			 "site for now)", e->cfg.probes[k]->group, e->cfg.probes[k]->event);
		return -EBUSY;
	}
	if (ekp_fetch_compile(p, e->cfg.arch, &jp->prog, why, whylen))
		return -EOPNOTSUPP;
	size = (x86_64_trampoline_size(&jp->plan) + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1);
	if (e->slot_next + size > e->desc.slots + e->desc.slots_size)
		return refuse(why, whylen, ENOSPC, "the guest's slot area is full");
	jp->slot = e->slot_next;
	e->slot_next += size;
	jp->table_index = e->nr_table;
	e->table_to_probe[e->nr_table++] = i;
	jp->planned = true;
	return 0;
}

bool ekp_jump_planned(const struct ekp_jump_engine *e, unsigned int i)
{
	return e && i < e->cfg.nr_probes && e->jp[i].planned;
}

unsigned int ekp_jump_nr_planned(const struct ekp_jump_engine *e)
{
	return e ? e->nr_table : 0;
}

void ekp_jump_set_output(struct ekp_jump_engine *e,
			 int (*emit)(void *opaque, const struct ekp_event *ev),
			 uint64_t (*tsc_to_ns)(void *opaque, uint64_t tsc), void *opaque)
{
	e->cfg.emit = emit;
	e->cfg.tsc_to_ns = tsc_to_ns;
	e->cfg.opaque = opaque;
}

uint64_t ekp_jump_arm_addr(const struct ekp_jump_engine *e)
{
	struct ekp_sym entry;
	uint64_t pa = 0;

	if (!ekp_symtab_lookup(e->cfg.st, "_text", &entry))
		va_to_pa(e, entry.addr, &pa);
	return pa;
}

/* Guest memory at a kernel-image VA, through QEMU at its physical address. */
static int access_pa(struct ekp_target *t, const struct ekp_jump_engine *e, uint64_t va,
		     void *buf, size_t len, bool write)
{
	uint64_t pa;
	int err = va_to_pa(e, va, &pa);

	if (err)
		return err;
	err = write ? rsp_write_mem(t->rsp, pa, buf, len, t->timeout_ms)
		    : rsp_read_mem(t->rsp, pa, buf, len, t->timeout_ms);
	t->round_trips++;
	if (err)
		return ekp_err_prefix(err, "%s guest memory at 0x%" PRIx64 ": ",
				      write ? "writing" : "reading", va);
	return 0;
}

static int write_pa(struct ekp_target *t, const struct ekp_jump_engine *e, uint64_t va,
		    const void *buf, size_t len)
{
	return access_pa(t, e, va, (void *)buf, len, true);
}

static int read_pa(struct ekp_target *t, const struct ekp_jump_engine *e, uint64_t va, void *buf,
		   size_t len)
{
	return access_pa(t, e, va, buf, len, false);
}

static int phys_mode(struct ekp_target *t, bool on)
{
	int err = rsp_command_ok(t->rsp, on ? "Qqemu.PhyMemMode:1" : "Qqemu.PhyMemMode:0",
				 t->timeout_ms);

	t->round_trips++;
	return err ? ekp_err_prefix(err, "Qqemu.PhyMemMode: ") : 0;
}

static int arm_all(struct ekp_jump_engine *e, struct ekp_target *t)
{
	uint8_t tramp[512], live[X86_64_JUMP_MAX_DISPLACED], jmp[X86_64_JUMP_LEN];
	const uint64_t one = 1;
	size_t len;
	int err;

	/* Tables and trampolines first, then enable, then the jumps: no jump ever leads to an
	 * unwritten trampoline or a disabled guest side. */
	for (unsigned int i = 0; i < e->cfg.nr_probes; i++) {
		struct jump_probe *jp = &e->jp[i];

		if (!jp->planned)
			continue;
		err = write_pa(t, e, e->desc.probes + (uint64_t)jp->table_index * e->desc.probe_size,
			       &jp->prog, sizeof(jp->prog));
		if (err)
			return err;
		err = x86_64_build_trampoline(&jp->plan, jp->slot, e->desc.hit_entry, jp->table_index,
					      tramp, sizeof(tramp), &len);
		if (err)
			return ekp_err_prefix(err, "trampoline for %s: ", jp->plan.where);
		err = write_pa(t, e, jp->slot, tramp, len);
		if (err)
			return err;
	}
	err = write_pa(t, e, e->desc_addr + offsetof(struct ekp_abi_desc, enabled), &one, sizeof(one));
	if (err)
		return err;
	for (unsigned int i = 0; i < e->cfg.nr_probes; i++) {
		struct jump_probe *jp = &e->jp[i];

		if (!jp->planned)
			continue;
		err = read_pa(t, e, jp->plan.jump_addr, live, jp->plan.displaced_len);
		if (err)
			return err;
		if (memcmp(live, jp->plan.orig, jp->plan.displaced_len))
			return ekp_err(EIO, "%s: the guest's bytes differ from the vmlinux's: is "
				       "--symbols the kernel QEMU boots?", jp->plan.where);
		err = x86_64_encode_jmp5(jp->plan.jump_addr, jp->slot, jmp);
		if (err)
			return err;
		err = write_pa(t, e, jp->plan.jump_addr, jmp, sizeof(jmp));
		if (err)
			return err;
	}
	return 0;
}

int ekp_jump_arm(struct ekp_jump_engine *e, struct ekp_target *t)
{
	int err = phys_mode(t, true), err2;

	if (err)
		return err;
	err = arm_all(e, t);
	err2 = phys_mode(t, false);
	if (!err && !err2)
		e->armed = true;
	return err ? err : err2;
}

bool ekp_jump_armed(const struct ekp_jump_engine *e)
{
	return e && e->armed;
}

int ekp_jump_disarm(struct ekp_jump_engine *e, struct ekp_target *t)
{
	uint8_t back[X86_64_JUMP_MAX_DISPLACED];
	const uint64_t zero = 0;
	int err, first = 0;

	if (!e->armed)
		return 0;
	err = phys_mode(t, true);
	if (err)
		return err;
	for (unsigned int i = 0; i < e->cfg.nr_probes; i++) {
		struct jump_probe *jp = &e->jp[i];

		if (!jp->planned)
			continue;
		err = write_pa(t, e, jp->plan.jump_addr, jp->plan.orig, jp->plan.displaced_len);
		if (!err)
			err = read_pa(t, e, jp->plan.jump_addr, back, jp->plan.displaced_len);
		if (!err && memcmp(back, jp->plan.orig, jp->plan.displaced_len))
			err = ekp_err(EIO, "%s: original bytes did not read back after restoring",
				      jp->plan.where);
		if (err && !first)
			first = err;
	}
	/* Frames still in a trampoline or a return stub finish through them: they stay. */
	err = write_pa(t, e, e->desc_addr + offsetof(struct ekp_abi_desc, enabled), &zero,
		       sizeof(zero));
	if (err && !first)
		first = err;
	err = phys_mode(t, false);
	e->armed = false;
	return first ? first : err;
}

void ekp_jump_set_ram(struct ekp_jump_engine *e,
		      void *(*guest_ptr)(void *opaque, uint64_t pa, size_t len), void *opaque)
{
	e->guest_ptr = guest_ptr;
	e->ram_opaque = opaque;
}

static int on_record(void *opaque, const struct ekp_abi_record *r)
{
	struct ekp_jump_engine *e = opaque;
	const struct ekp_probe *p;
	unsigned int idx;
	int err;

	if (r->probe >= e->nr_table)
		return 1;
	idx = e->table_to_probe[r->probe];
	p = e->cfg.probes[idx];
	if (r->ip != p->addr)
		return 1;
	if (ekp_fetch_from_record(p, r, e->values))
		return 1;
	struct ekp_event ev = {
		.probe = p, .probe_index = idx,
		.kind = (r->flags & EKP_REC_F_RETURN) ? EKP_PROBE_RETURN : EKP_PROBE_ENTRY,
		.addr = p->addr, .ret_addr = r->ret_ip, .hit_pc = r->ip, .cpu = (int)r->cpu,
		.ts_ns = e->cfg.tsc_to_ns(e->cfg.opaque, r->tsc), .engine = "jump",
		.task = { .known = true, .idle = r->pid == 0, .pid = r->pid },
		.nr_values = p->nr_args, .values = e->values,
	};
	if ((ev.kind == EKP_PROBE_RETURN) != (p->kind == EKP_PROBE_RETURN))
		return 1;
	memcpy(ev.task.comm, r->comm, sizeof(r->comm)); /* NUL-terminated by the ring reader */
	e->jp[idx].hits++;
	err = e->cfg.emit(e->cfg.opaque, &ev);
	return err < 0 ? err : 0;
}

int ekp_jump_drain(struct ekp_jump_engine *e)
{
	size_t bytes = sizeof(struct ekp_abi_ring_hdr) +
		       (size_t)e->desc.ring_records * e->desc.record_size;
	volatile void *ring;
	uint64_t pa;
	int n;

	if (!e->armed && !e->tail)
		return 0;
	if (!e->guest_ptr || va_to_pa(e, e->desc.ring, &pa))
		return ekp_err(ENODEV, "the guest's ring is not mapped");
	ring = e->guest_ptr(e->ram_opaque, pa, bytes);
	if (!ring)
		return ekp_err(ERANGE, "the guest's ring lies outside the mapped guest RAM");
	n = ekp_ring_drain(ring, bytes, e->desc.ring_records, e->desc.max_probes, &e->tail,
			   on_record, e, &e->stats);
	if (n > 0)
		ekp_ring_publish_tail(ring, e->tail);
	return n;
}

uint64_t ekp_jump_hits(const struct ekp_jump_engine *e, unsigned int i)
{
	return e && i < e->cfg.nr_probes ? e->jp[i].hits : 0;
}

uint64_t ekp_jump_lost(const struct ekp_jump_engine *e)
{
	uint64_t head = 0, lost = 0, pa;
	volatile void *ring;

	if (!e || !e->guest_ptr || va_to_pa(e, e->desc.ring, &pa))
		return 0;
	ring = e->guest_ptr(e->ram_opaque, pa, sizeof(struct ekp_abi_ring_hdr));
	if (ring)
		ekp_ring_read_counters(ring, &head, &lost);
	return lost;
}

uint64_t ekp_jump_invalid(const struct ekp_jump_engine *e)
{
	return e ? e->stats.invalid : 0;
}
