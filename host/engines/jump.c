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
#include "host/engines/jump.h"
#include "host/fetch/compile.h"
#include "arch/x86_64/kpatch.h"
#include "host/engines/ring.h"

#define SLOT_ALIGN 16

/*
 * A jump site: one jump, one slot, one trampoline, for every planned probe at one address (they
 * have the same jump address and displaced bytes). Its trampoline calls the guest once per
 * probe, entry probes first (a return probe rewrites the return address on the stack, which an
 * entry probe's $stack fetches should see as it was), each kind in planning order. Slots are
 * laid out one after the other in site order; a slot's size depends on how many probes share
 * it, so the layout is redone (and checked) whenever a probe is planned.
 */
struct jump_site {
	uint64_t addr;              /* the probes' address (the frame's ip) */
	struct x86_64_jump_plan plan;
	uint64_t slot;              /* VA of its trampoline */
	unsigned int nr;            /* probes sharing it */
	unsigned int probes[X86_64_JUMP_MAX_SITE_PROBES]; /* cfg indices, in call order */
};

struct jump_probe {
	bool planned;
	unsigned int table_index;   /* index in the guest's probe table */
	struct ekp_abi_probe prog;
	struct ekp_fetch_decoder dec;
	uint64_t hits;
};

struct ekp_jump_engine {
	struct ekp_jump_config cfg;
	struct ekp_kpatch *kpatch;
	uint64_t desc_addr;
	struct ekp_abi_desc desc;
	struct jump_site *sites;
	unsigned int nr_sites;
	struct jump_probe *jp;
	unsigned int nr_table;
	unsigned int *table_to_probe;
	uint64_t head_start, head_end; /* text that runs before the kernel mapping exists */
	bool armed;
	void *(*guest_ptr)(void *opaque, uint64_t pa, size_t len);
	void *ram_opaque;
	struct ekp_ring_reader *ring;
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
	err = ekp_ring_reader_new(&(struct ekp_ring_config){
					.nr_records = e->desc.ring_records,
					.max_probes = e->desc.max_probes,
					.nr_cpus = e->desc.nr_cpus }, &e->ring);
	if (err)
		goto fail;
	err = ekp_kpatch_load(cfg->st, &e->kpatch);
	if (err)
		goto fail;
	e->jp = calloc(cfg->nr_probes + 1, sizeof(*e->jp));
	e->sites = calloc(cfg->nr_probes + 1, sizeof(*e->sites));
	e->table_to_probe = calloc(e->desc.max_probes + 1, sizeof(*e->table_to_probe));
	if (!e->jp || !e->sites || !e->table_to_probe) {
		err = -ENOMEM;
		goto fail;
	}
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
	ekp_ring_reader_free(e->ring);
	free(e->jp);
	free(e->sites);
	free(e->table_to_probe);
	free(e);
}

static int refuse(char *why, size_t n, int err, const char *msg)
{
	snprintf(why, n, "%s", msg);
	return err < 0 ? err : -err;
}

/* The probe indices a site's trampoline calls the guest for, in call order. */
static size_t site_indices(const struct ekp_jump_engine *e, const struct jump_site *js,
			   uint32_t idx[X86_64_JUMP_MAX_SITE_PROBES])
{
	for (unsigned int k = 0; k < js->nr; k++)
		idx[k] = e->jp[js->probes[k]].table_index;
	return js->nr;
}

static uint64_t slot_bytes(const struct jump_site *js)
{
	return (x86_64_trampoline_size(&js->plan, js->nr) + SLOT_ALIGN - 1) &
	       ~(uint64_t)(SLOT_ALIGN - 1);
}

/* Where the next new site's slot would go. */
static uint64_t slots_end(const struct ekp_jump_engine *e)
{
	const struct jump_site *last = e->nr_sites ? &e->sites[e->nr_sites - 1] : NULL;

	return last ? last->slot + slot_bytes(last) : e->desc.slots;
}

/*
 * Lay the slots of all sites out from the start of the slot area, in site order, with the
 * sites' present membership; check that they fit, that each trampoline builds at its slot
 * (reach of hit_entry, the relocated copy, the jump back) and that each jump reaches it.
 * Only then are the slot addresses stored: on an error nothing changed.
 */
static int layout_slots(struct ekp_jump_engine *e, char *why, size_t whylen)
{
	const uint64_t end = e->desc.slots + e->desc.slots_size;
	uint8_t tramp[X86_64_JUMP_SLOT_SIZE], jmp[X86_64_JUMP_LEN];
	uint32_t idx[X86_64_JUMP_MAX_SITE_PROBES];
	uint64_t at = e->desc.slots;
	size_t len;
	int err;

	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct jump_site *js = &e->sites[s];
		uint64_t size = slot_bytes(js);

		if (size > end - at)
			return refuse(why, whylen, ENOSPC, "the guest's slot area is full");
		err = x86_64_build_trampoline(&js->plan, at, e->desc.hit_entry, idx,
					      site_indices(e, js, idx), tramp, sizeof(tramp), &len);
		if (!err)
			err = x86_64_encode_jmp5(js->plan.jump_addr, at, jmp);
		if (err)
			return refuse(why, whylen, err, ekp_errmsg());
		at += size;
	}
	at = e->desc.slots;
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		e->sites[s].slot = at;
		at += slot_bytes(&e->sites[s]);
	}
	return 0;
}

static struct jump_site *site_at(struct ekp_jump_engine *e, uint64_t addr)
{
	for (unsigned int s = 0; s < e->nr_sites; s++)
		if (e->sites[s].addr == addr)
			return &e->sites[s];
	return NULL;
}

/* Plan a new jump site for probe p (not yet added to e->sites) into *js. */
static int plan_site(struct ekp_jump_engine *e, const struct ekp_probe *p, struct jump_site *js,
		     char *why, size_t whylen)
{
	struct x86_64_jump_site site = { 0 };
	struct ekp_sym sym;
	uint8_t *code;
	uint64_t off, j;
	int err;

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
	site.slot_addr = slots_end(e); /* where its slot goes (layout_slots() re-checks) */
	err = x86_64_jump_plan(&site, &js->plan);
	free(code);
	if (err)
		return refuse(why, whylen, err, ekp_errmsg());
	if (ekp_kpatch_check(e->kpatch, j, js->plan.displaced_len, why, whylen))
		return -EBUSY;
	/* Probes at other addresses whose displaced bytes overlap: two jumps cannot both hold
	 * (and one trampoline has one frame ip, the probe address). */
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct jump_site *o = &e->sites[s];
		const struct ekp_probe *op = e->cfg.probes[o->probes[0]];
		char at[128];

		if (j >= o->plan.jump_addr + o->plan.displaced_len ||
		    o->plan.jump_addr >= j + js->plan.displaced_len)
			continue;
		if (!op->sym)
			snprintf(at, sizeof(at), "0x%" PRIx64, op->addr);
		else if (op->offset)
			snprintf(at, sizeof(at), "%s+0x%" PRIx64, op->sym, op->offset);
		else
			snprintf(at, sizeof(at), "%s", op->sym);
		snprintf(why, whylen, "its jump site (%s, %u bytes) overlaps the one of %s/%s (a probe "
			 "at %s: %s, %u bytes); only probes at the same address share a jump site",
			 js->plan.where, js->plan.displaced_len, op->group, op->event, at,
			 o->plan.where, o->plan.displaced_len);
		return -EBUSY;
	}
	js->addr = p->addr;
	return 0;
}

int ekp_jump_plan(struct ekp_jump_engine *e, unsigned int i, char *why, size_t whylen)
{
	const struct ekp_probe *p;
	struct jump_probe *jp;
	struct jump_site *js;
	bool new_site;
	unsigned int pos;
	int err;

	if (i >= e->cfg.nr_probes)
		return refuse(why, whylen, EINVAL, "no such probe");
	p = e->cfg.probes[i];
	jp = &e->jp[i];
	if (jp->planned)
		return 0;
	if (e->nr_table >= e->desc.max_probes)
		return refuse(why, whylen, ENOSPC, "the guest's probe table is full (max_probes)");
	js = site_at(e, p->addr);
	new_site = !js;
	if (new_site) {
		js = &e->sites[e->nr_sites]; /* nr_sites < nr_probes: at most one per probe */
		memset(js, 0, sizeof(*js));
		err = plan_site(e, p, js, why, whylen);
		if (err)
			return err;
	} else if (js->nr >= X86_64_JUMP_MAX_SITE_PROBES) {
		snprintf(why, whylen, "%u probes already share its jump site (%s), the most one "
			 "trampoline calls the guest for", js->nr, js->plan.where);
		return -ENOSPC;
	}
	if (ekp_fetch_compile(p, e->cfg.arch, &jp->prog, &jp->dec, why, whylen))
		return -EOPNOTSUPP;

	/* Join the site (entry probes before return probes), lay the slots out again. */
	jp->table_index = e->nr_table;
	pos = js->nr;
	if (p->kind != EKP_PROBE_RETURN)
		while (pos && e->cfg.probes[js->probes[pos - 1]]->kind == EKP_PROBE_RETURN)
			pos--;
	memmove(&js->probes[pos + 1], &js->probes[pos], (js->nr - pos) * sizeof(js->probes[0]));
	js->probes[pos] = i;
	js->nr++;
	if (new_site)
		e->nr_sites++;
	err = layout_slots(e, why, whylen);
	if (err) {
		memmove(&js->probes[pos], &js->probes[pos + 1],
			(js->nr - pos - 1) * sizeof(js->probes[0]));
		js->nr--;
		if (new_site)
			e->nr_sites--;
		return err;
	}
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
	uint8_t tramp[X86_64_JUMP_SLOT_SIZE], live[X86_64_JUMP_MAX_DISPLACED], jmp[X86_64_JUMP_LEN];
	uint32_t idx[X86_64_JUMP_MAX_SITE_PROBES];
	const uint64_t one = 1;
	size_t len;
	int err;

	/* Tables and trampolines first, then enable, then the jumps: no jump ever leads to an
	 * unwritten trampoline or a disabled guest side. */
	for (unsigned int i = 0; i < e->cfg.nr_probes; i++) {
		struct jump_probe *jp = &e->jp[i];

		if (!jp->planned)
			continue;
		err = ekp_ring_expect(e->ring, jp->table_index, &jp->prog);
		if (err)
			return err;
		err = write_pa(t, e, e->desc.probes + (uint64_t)jp->table_index * e->desc.probe_size,
			       &jp->prog, sizeof(jp->prog));
		if (err)
			return err;
	}
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct jump_site *js = &e->sites[s];

		err = x86_64_build_trampoline(&js->plan, js->slot, e->desc.hit_entry, idx,
					      site_indices(e, js, idx), tramp, sizeof(tramp), &len);
		if (err)
			return ekp_err_prefix(err, "trampoline for %s: ", js->plan.where);
		err = write_pa(t, e, js->slot, tramp, len);
		if (err)
			return err;
	}
	err = write_pa(t, e, e->desc_addr + offsetof(struct ekp_abi_desc, enabled), &one, sizeof(one));
	if (err)
		return err;
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct jump_site *js = &e->sites[s];

		err = read_pa(t, e, js->plan.jump_addr, live, js->plan.displaced_len);
		if (err)
			return err;
		if (memcmp(live, js->plan.orig, js->plan.displaced_len))
			return ekp_err(EIO, "%s: the guest's bytes differ from the vmlinux's: is "
				       "--symbols the kernel QEMU boots?", js->plan.where);
		err = x86_64_encode_jmp5(js->plan.jump_addr, js->slot, jmp);
		if (err)
			return err;
		err = write_pa(t, e, js->plan.jump_addr, jmp, sizeof(jmp));
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
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct jump_site *js = &e->sites[s];

		err = write_pa(t, e, js->plan.jump_addr, js->plan.orig, js->plan.displaced_len);
		if (!err)
			err = read_pa(t, e, js->plan.jump_addr, back, js->plan.displaced_len);
		if (!err && memcmp(back, js->plan.orig, js->plan.displaced_len))
			err = ekp_err(EIO, "%s: original bytes did not read back after restoring",
				      js->plan.where);
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
	if (ekp_fetch_from_record(&e->jp[idx].dec, r, e->values, EKP_ARRAY_SIZE(e->values)))
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

	if (!e->armed && !ekp_ring_tail(e->ring))
		return 0;
	if (!e->guest_ptr || va_to_pa(e, e->desc.ring, &pa))
		return ekp_err(ENODEV, "the guest's ring is not mapped");
	ring = e->guest_ptr(e->ram_opaque, pa, bytes);
	if (!ring)
		return ekp_err(ERANGE, "the guest's ring lies outside the mapped guest RAM");
	n = ekp_ring_drain(e->ring, ring, bytes, on_record, e);
	if (n > 0)
		ekp_ring_publish(e->ring, ring);
	ekp_ring_update_counters(e->ring, ring);
	return n;
}

uint64_t ekp_jump_hits(const struct ekp_jump_engine *e, unsigned int i)
{
	return e && i < e->cfg.nr_probes ? e->jp[i].hits : 0;
}

uint64_t ekp_jump_lost(const struct ekp_jump_engine *e)
{
	const struct ekp_ring_stats *st = e ? ekp_ring_stats(e->ring) : NULL;

	return st ? st->lost + st->dropped : 0;
}

uint64_t ekp_jump_invalid(const struct ekp_jump_engine *e)
{
	return e ? ekp_ring_stats(e->ring)->invalid : 0;
}

unsigned int ekp_jump_ring_records(const struct ekp_jump_engine *e)
{
	return e ? e->desc.ring_records : 0;
}
