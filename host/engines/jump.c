// SPDX-License-Identifier: GPL-2.0
/*
 * The jump engine: exit-less probes. Before the kernel's first instruction (at a stop on the
 * physical address of its entry, after the decompressor has written the kernel in place) the
 * host writes, through QEMU, a trampoline per jump site into the guest's reserved slots, the
 * probes' fetch programs into the guest's probe table, and a jump at each site. Probes at the
 * same address share a site (one trampoline calling the guest once per probe, entry probes
 * first: a return probe rewrites the return address, which an entry probe's $stack fetches
 * should see as it was). Hits are recorded by the guest into a ring in its memory, which the
 * host reads through a shared mapping of guest RAM while the guest runs: no VM exit per hit.
 *
 * Planning happens before QEMU starts, so a refused site is known (and reported) up front. The
 * per-arch half (site checks, trampolines, the jump, the register frame) is the arch's
 * ekp_jump_arch; the guest's half is the ekprobe guest patch (docs/abi.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/abi.h"
#include "ekprobe/err.h"
#include "host/engines/engine.h"
#include "host/engines/ring.h"
#include "host/fetch/compile.h"
#include "host/log.h"
#include "host/vm/guestmem.h"

#define SLOT_ALIGN 16
#define MAX_SITE_PROBES 64   /* any arch's max_site_probes fits */
#define MAX_DISPLACED 64     /* any arch's displaced bytes fit */

/* A jump site: one jump, one slot, one trampoline, for every planned probe at one address. */
struct jump_site {
	struct ekp_jump_site *site;  /* the arch's plan */
	uint64_t slot;               /* VA of its trampoline */
	unsigned int nr;             /* probes sharing it */
	unsigned int *probes;        /* env indices, in call order (max_site_probes of them) */
};

struct jump_probe {
	bool planned;
	unsigned int table_index;    /* index in the guest's probe table */
	struct ekp_abi_probe prog;
	struct ekp_fetch_decoder dec; /* its records back to values */
	uint64_t hits;
};

struct jump_engine {
	struct ekp_engine base;
	struct ekp_engine_env env;
	struct ekp_engine_run run;
	const struct ekp_jump_arch *ja;
	struct ekp_jump_text *text;
	uint64_t desc_addr;
	struct ekp_abi_desc desc;
	struct jump_site *sites;
	unsigned int nr_sites;
	struct jump_probe *jp;
	unsigned int nr_table;
	unsigned int *table_to_probe;
	uint8_t *tramp;              /* ja->max_tramp_bytes */
	uint64_t arm_pa;             /* the arming breakpoint, until armed */
	bool armed;
	uint64_t ram_size;           /* the RAM backend's size (qemu_args) */
	struct ekp_guestmem ram;
	struct ekp_clock_mark clock_since;
	uint64_t tsc_hz;
	struct ekp_ring_reader *ring;
	struct ekp_value values[EKP_MAX_ARGS];
};

static struct jump_engine *J(struct ekp_engine *base)
{
	return (struct jump_engine *)base;
}

static const struct jump_engine *CJ(const struct ekp_engine *base)
{
	return (const struct jump_engine *)base;
}

static int va_to_pa(const struct jump_engine *e, uint64_t va, uint64_t *pa)
{
	if (!e->env.arch->early_alias || !e->env.arch->early_alias(va, pa))
		return ekp_err(ERANGE, "0x%" PRIx64 " is not in the kernel image mapping", va);
	return 0;
}

static void jump_destroy(struct ekp_engine *base);

static int jump_create(const struct ekp_engine_env *env, struct ekp_engine **out)
{
	const struct ekp_arch *arch = env->arch;
	struct jump_engine *e;
	struct ekp_sym sym;
	uint64_t hz;
	int err;

	if (env->no_shared_ram)
		return ekp_err(EOPNOTSUPP, "the jump engine reads its ring from guest RAM shared "
			       "with the host: %s", env->no_shared_ram);
	if (!env->first_insn)
		return ekp_err(EOPNOTSUPP, "the jump engine puts its probes in before the kernel's "
			       "first instruction, and this guest runs already");
	if (!arch->jump || arch->jump->max_site_probes > MAX_SITE_PROBES)
		return ekp_err(EOPNOTSUPP, "no jump engine for %s yet (its arch half and guest patch "
			       "are not written): use the trap engine", arch->name);
	if (!ekp_symtab_has_image(env->st))
		return ekp_err(ENODATA, "the jump engine needs the guest's vmlinux (not a System.map)");
	if (ekp_symtab_lookup(env->st, "ekprobe_desc", &sym))
		return ekp_err(ENOENT, "the guest kernel has no ekprobe guest patch (no ekprobe_desc; "
			       "see docs/guest.md)");
	e = calloc(1, sizeof(*e));
	if (!e)
		return ekp_err(ENOMEM, "out of memory");
	e->env = *env;
	e->ja = arch->jump;
	e->desc_addr = sym.addr;
	/* The guest's clock: known now, or measured from here to arm time (QEMU's start). */
	arch->clock_mark(&e->clock_since);
	if (!e->clock_since.have_ticks && (err = arch->clock_rate(&e->clock_since, env->icount, &hz)))
		goto fail;
	err = ekp_symtab_read(env->st, sym.addr, &e->desc, sizeof(e->desc));
	if (err) {
		err = ekp_err(ENODATA, "ekprobe_desc: the vmlinux holds no bytes for it");
		goto fail;
	}
	err = ekp_ring_desc_check(&e->desc);
	if (err) {
		err = ekp_err_prefix(err, "ekprobe_desc: ");
		goto fail;
	}
	err = ekp_ring_reader_new(&(struct ekp_ring_config){
		.nr_records = e->desc.ring_records, .max_probes = e->desc.max_probes,
		.nr_cpus = e->desc.nr_cpus }, &e->ring);
	if (err)
		goto fail;
	err = e->ja->text_open(env->st, &e->text);
	if (err)
		goto fail;
	e->jp = calloc((size_t)env->nr_probes + 1, sizeof(*e->jp));
	e->sites = calloc((size_t)env->nr_probes + 1, sizeof(*e->sites));
	e->table_to_probe = calloc((size_t)e->desc.max_probes + 1, sizeof(*e->table_to_probe));
	e->tramp = malloc(e->ja->max_tramp_bytes);
	if (!e->jp || !e->sites || !e->table_to_probe || !e->tramp) {
		err = ekp_err(ENOMEM, "out of memory");
		goto fail;
	}
	*out = &e->base;
	return 0;
fail:
	jump_destroy(&e->base);
	return err;
}

static void jump_destroy(struct ekp_engine *base)
{
	struct jump_engine *e = J(base);

	if (!e)
		return;
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		e->ja->site_free(e->sites[s].site);
		free(e->sites[s].probes);
	}
	if (e->ram.base)
		ekp_guestmem_close(&e->ram);
	if (e->text)
		e->ja->text_close(e->text);
	ekp_ring_reader_free(e->ring);
	free(e->jp);
	free(e->sites);
	free(e->table_to_probe);
	free(e->tramp);
	free(e);
}

/* The probe indices a site's trampoline calls the guest for, in call order. */
static unsigned int site_indices(const struct jump_engine *e, const struct jump_site *js,
				 uint32_t *idx)
{
	for (unsigned int k = 0; k < js->nr; k++)
		idx[k] = e->jp[js->probes[k]].table_index;
	return js->nr;
}

static uint64_t slot_bytes(const struct jump_engine *e, const struct jump_site *js)
{
	return (e->ja->tramp_size(js->site, js->nr) + SLOT_ALIGN - 1) & ~(uint64_t)(SLOT_ALIGN - 1);
}

/* Where the next new site's slot would go. */
static uint64_t slots_end(const struct jump_engine *e)
{
	const struct jump_site *last = e->nr_sites ? &e->sites[e->nr_sites - 1] : NULL;

	return last ? last->slot + slot_bytes(e, last) : e->desc.slots;
}

/*
 * Lay the slots of all sites out from the start of the slot area, in site order, with the
 * sites' present membership; check that they fit, that each trampoline builds at its slot
 * (reach of hit_entry, the relocated copy, the jump back) and that each jump reaches it.
 * Only then are the slot addresses stored: on an error nothing changed.
 */
static int layout_slots(struct jump_engine *e)
{
	const uint64_t end = e->desc.slots + e->desc.slots_size;
	uint32_t idx[MAX_SITE_PROBES];
	uint8_t jmp[16];
	uint64_t at = e->desc.slots;
	size_t len;
	int err;

	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct jump_site *js = &e->sites[s];
		uint64_t size = slot_bytes(e, js);

		if (size > end - at)
			return ekp_err(ENOSPC, "the guest's slot area is full");
		err = e->ja->tramp_build(js->site, at, e->desc.hit_entry, idx,
					 site_indices(e, js, idx), e->tramp, e->ja->max_tramp_bytes,
					 &len);
		if (!err)
			err = e->ja->jump_build(js->site, at, jmp, sizeof(jmp), &len);
		if (err)
			return err;
		at += size;
	}
	at = e->desc.slots;
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		e->sites[s].slot = at;
		at += slot_bytes(e, &e->sites[s]);
	}
	return 0;
}

static struct jump_site *site_at(struct jump_engine *e, uint64_t addr)
{
	for (unsigned int s = 0; s < e->nr_sites; s++)
		if (e->sites[s].site->probe_addr == addr)
			return &e->sites[s];
	return NULL;
}

static void probe_place(const struct ekp_probe *p, char *buf, size_t n)
{
	if (!p->sym)
		snprintf(buf, n, "0x%" PRIx64, p->addr);
	else if (p->offset)
		snprintf(buf, n, "%s+0x%" PRIx64, p->sym, p->offset);
	else
		snprintf(buf, n, "%s", p->sym);
}

/* Plan a new jump site for probe p into *js (not yet added to e->sites). */
static int plan_site(struct jump_engine *e, const struct ekp_probe *p, struct jump_site *js)
{
	const struct ekp_jump_site *n;
	int err;

	err = e->ja->site_plan(e->text, p->addr, slots_end(e), &js->site);
	if (err)
		return err;
	n = js->site;
	if (n->displaced_len > MAX_DISPLACED) {
		err = ekp_err(EINVAL, "%s: %u displaced bytes", n->where, n->displaced_len);
		e->ja->site_free(js->site);
		js->site = NULL;
		return err;
	}
	/* Probes at other addresses whose displaced bytes overlap: two jumps cannot both hold
	 * (and one trampoline has one frame pc, the probe address). */
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct ekp_jump_site *o = e->sites[s].site;
		const struct ekp_probe *op = e->env.probes[e->sites[s].probes[0]];
		char at[128];

		if (n->jump_addr >= o->jump_addr + o->displaced_len ||
		    o->jump_addr >= n->jump_addr + n->displaced_len)
			continue;
		probe_place(op, at, sizeof(at));
		err = ekp_err(EBUSY, "its jump site (%s, %u bytes) overlaps the one of %s/%s (a probe "
			      "at %s: %s, %u bytes); only probes at the same address share a jump "
			      "site", n->where, n->displaced_len, op->group, op->event, at, o->where,
			      o->displaced_len);
		e->ja->site_free(js->site);
		js->site = NULL;
		return err;
	}
	js->probes = calloc(e->ja->max_site_probes, sizeof(*js->probes));
	if (!js->probes) {
		e->ja->site_free(js->site);
		js->site = NULL;
		return ekp_err(ENOMEM, "out of memory");
	}
	return 0;
}

static void drop_site(struct jump_engine *e, struct jump_site *js)
{
	e->ja->site_free(js->site);
	free(js->probes);
	memset(js, 0, sizeof(*js));
}

static int jump_plan(struct ekp_engine *base, unsigned int i)
{
	struct jump_engine *e = J(base);
	const struct ekp_probe *p;
	struct jump_probe *jp;
	struct jump_site *js;
	bool new_site;
	unsigned int pos;
	int err;

	if (i >= e->env.nr_probes)
		return ekp_err(EINVAL, "no probe %u", i);
	p = e->env.probes[i];
	jp = &e->jp[i];
	if (jp->planned)
		return 0;
	if (e->nr_table >= e->desc.max_probes)
		return ekp_err(ENOSPC, "the guest's probe table is full (%u probes, "
			       "CONFIG_EKPROBE_MAX_PROBES)", e->desc.max_probes);
	err = ekp_fetch_compile(p, e->env.arch, &jp->prog, &jp->dec);
	if (err)
		return err;
	js = site_at(e, p->addr);
	new_site = !js;
	if (new_site) {
		js = &e->sites[e->nr_sites]; /* nr_sites < nr_probes: at most one per probe */
		memset(js, 0, sizeof(*js));
		err = plan_site(e, p, js);
		if (err)
			return err;
	} else if (js->nr >= e->ja->max_site_probes) {
		return ekp_err(ENOSPC, "%u probes already share its jump site (%s), the most one "
			       "trampoline calls the guest for", js->nr, js->site->where);
	}

	/* Join the site (entry probes before return probes), lay the slots out again. */
	jp->table_index = e->nr_table;
	pos = js->nr;
	if (p->kind != EKP_PROBE_RETURN)
		while (pos && e->env.probes[js->probes[pos - 1]]->kind == EKP_PROBE_RETURN)
			pos--;
	memmove(&js->probes[pos + 1], &js->probes[pos], (js->nr - pos) * sizeof(js->probes[0]));
	js->probes[pos] = i;
	js->nr++;
	if (new_site)
		e->nr_sites++;
	err = layout_slots(e);
	if (err) {
		memmove(&js->probes[pos], &js->probes[pos + 1],
			(js->nr - pos - 1) * sizeof(js->probes[0]));
		js->nr--;
		if (new_site) {
			e->nr_sites--;
			drop_site(e, js);
		}
		return err;
	}
	e->table_to_probe[e->nr_table++] = i;
	jp->planned = true;
	return 0;
}

/*
 * The ring is read from guest RAM while the guest runs: QEMU keeps RAM in a memfd shared with
 * us. The user's -m (default: the machine's) becomes that backend's size.
 */
static int jump_qemu_args(struct ekp_engine *base, struct ekp_qemu_argv *argv)
{
	struct jump_engine *e = J(base);
	struct ekp_guestmem_args ga;
	const char *m;
	int err;

	if (ekp_qemu_argv_mentions(argv, "memory-backend"))
		return ekp_err(EINVAL, "the QEMU command line sets a memory backend already; the "
			       "jump engine needs its own (drop it, or use --engine trap)");
	m = ekp_qemu_argv_value(argv, "m");
	e->ram_size = e->env.arch->default_ram;
	if (m && (err = ekp_guestmem_parse_size(m, &e->ram_size)))
		return ekp_err_prefix(err, "-m %s: ", m);
	err = ekp_guestmem_qemu_args(e->ram_size, &ga);
	if (err)
		return err;
	ekp_qemu_argv_remove(argv, "m");
	for (unsigned int i = 0; !err && i < ga.argc; i++)
		err = ekp_qemu_argv_append(argv, ga.argv[i]);
	return err;
}

/* The guest's RAM by a QEMU command line: its -m, else the machine's default. */
static int ram_size_of(const struct jump_engine *e, char *const *argv, uint64_t *size)
{
	struct ekp_qemu_argv a;
	const char *m;
	int err = ekp_qemu_argv_init(&a, argv);

	if (err)
		return err;
	m = ekp_qemu_argv_value(&a, "m");
	*size = e->env.arch->default_ram;
	if (m && (err = ekp_guestmem_parse_size(m, size)))
		err = ekp_err_prefix(err, "QEMU's -m %s: ", m);
	ekp_qemu_argv_free(&a);
	return err;
}

static int jump_arm(struct ekp_engine *base, const struct ekp_engine_run *run)
{
	struct jump_engine *e = J(base);
	struct ekp_ram_layout layout;
	struct ekp_sym entry;
	int err;

	e->run = *run;
	if (!run->qemu_pid || !run->qemu_argv)
		return ekp_err(ENOENT, "mapping guest RAM: QEMU's process is not known here");
	/* No qemu_args (QEMU started by someone else): its RAM is what its -m says. */
	if (!e->ram_size && (err = ram_size_of(e, run->qemu_argv, &e->ram_size)))
		return ekp_err_prefix(err, "mapping guest RAM: ");
	err = e->env.arch->ram_layout(run->qemu_argv, e->ram_size, &layout);
	if (!err)
		err = ekp_guestmem_open(&e->ram, run->qemu_pid, e->ram_size, &layout);
	if (err)
		return ekp_err_prefix(err, "mapping guest RAM: ");
	err = e->env.arch->clock_rate(&e->clock_since, e->env.icount, &e->tsc_hz);
	if (err)
		return ekp_err_prefix(err, "the guest's clock: ");
	if (ekp_symtab_lookup(e->env.st, "_text", &entry) || va_to_pa(e, entry.addr, &e->arm_pa))
		return ekp_err(ENOENT, "no kernel entry (_text) to arm the jump engine at");
	err = ekp_target_insert_bp(run->target, e->arm_pa);
	if (err)
		return ekp_err_prefix(err, "arming breakpoint for the jump engine: ");
	ekp_info("%u jump probe%s go in when the kernel is in place, before its first instruction",
		 e->nr_table, e->nr_table == 1 ? "" : "s");
	return 0;
}

/* Guest memory at a kernel-image VA, through QEMU at its physical address. */
static int access_va(struct jump_engine *e, uint64_t va, void *buf, size_t len, bool write)
{
	uint64_t pa;
	int err = va_to_pa(e, va, &pa);

	if (err)
		return err;
	err = write ? ekp_target_write_phys(e->run.target, pa, buf, len)
		    : ekp_target_read_phys(e->run.target, pa, buf, len);
	return err ? ekp_err_prefix(err, "at 0x%" PRIx64 ": ", va) : 0;
}

static int write_va(struct jump_engine *e, uint64_t va, const void *buf, size_t len)
{
	return access_va(e, va, (void *)buf, len, true);
}

static int read_va(struct jump_engine *e, uint64_t va, void *buf, size_t len)
{
	return access_va(e, va, buf, len, false);
}

static int set_enabled(struct jump_engine *e, uint64_t v)
{
	return write_va(e, e->desc_addr + offsetof(struct ekp_abi_desc, enabled), &v, sizeof(v));
}

/* Tables and trampolines first, then enable, then the jumps: no jump ever leads to an
 * unwritten trampoline or a disabled guest side. */
static int arm_all(struct jump_engine *e)
{
	uint32_t idx[MAX_SITE_PROBES];
	uint8_t live[MAX_DISPLACED], jmp[16];
	size_t len;
	int err;

	for (unsigned int i = 0; i < e->env.nr_probes; i++) {
		struct jump_probe *jp = &e->jp[i];

		if (!jp->planned)
			continue;
		/* Records of this entry must carry its (new) check word from now on. */
		err = ekp_ring_expect(e->ring, jp->table_index, &jp->prog);
		if (!err)
			err = write_va(e, e->desc.probes +
					  (uint64_t)jp->table_index * e->desc.probe_size,
				       &jp->prog, sizeof(jp->prog));
		if (err)
			return err;
	}
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct jump_site *js = &e->sites[s];

		err = e->ja->tramp_build(js->site, js->slot, e->desc.hit_entry, idx,
					 site_indices(e, js, idx), e->tramp, e->ja->max_tramp_bytes,
					 &len);
		if (err)
			return ekp_err_prefix(err, "trampoline for %s: ", js->site->where);
		err = write_va(e, js->slot, e->tramp, len);
		if (err)
			return err;
	}
	err = set_enabled(e, 1);
	if (err)
		return err;
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct ekp_jump_site *site = e->sites[s].site;

		err = read_va(e, site->jump_addr, live, site->displaced_len);
		if (err)
			return err;
		if (memcmp(live, site->orig, site->displaced_len))
			return ekp_err(EIO, "%s: the guest's bytes differ from the vmlinux's: is "
				       "--symbols the kernel QEMU boots?", site->where);
		err = e->ja->jump_build(site, e->sites[s].slot, jmp, sizeof(jmp), &len);
		if (!err)
			err = write_va(e, site->jump_addr, jmp, len);
		if (err)
			return err;
	}
	return 0;
}

/* The stop at the kernel's entry, after the decompressor: put the jumps in. */
static int jump_on_stop(struct ekp_engine *base, const struct rsp_stop *stop)
{
	struct jump_engine *e = J(base);
	uint64_t pc;
	int err;

	if (e->armed || !e->arm_pa || (stop->kind != 'T' && stop->kind != 'S'))
		return 0;
	err = ekp_target_read_pc(e->run.target, &pc);
	if (err || pc != e->arm_pa)
		return err;
	err = arm_all(e);
	if (err)
		return err;
	e->armed = true;
	err = ekp_target_remove_bp(e->run.target, e->arm_pa);
	e->arm_pa = 0;
	if (err)
		return ekp_err_prefix(err, "removing the jump engine's arming breakpoint: ");
	ekp_info("jump probes armed at the kernel's entry; their ring holds %u records",
		 e->desc.ring_records);
	return EKP_STOP_TAKEN;
}

static int jump_disarm(struct ekp_engine *base)
{
	struct jump_engine *e = J(base);
	uint8_t back[MAX_DISPLACED];
	int err, first = 0;

	if (e->arm_pa) { /* the guest never reached the kernel's entry */
		first = ekp_target_remove_bp(e->run.target, e->arm_pa);
		e->arm_pa = 0;
	}
	if (!e->armed)
		return first;
	for (unsigned int s = 0; s < e->nr_sites; s++) {
		const struct ekp_jump_site *site = e->sites[s].site;

		err = write_va(e, site->jump_addr, site->orig, site->displaced_len);
		if (!err)
			err = read_va(e, site->jump_addr, back, site->displaced_len);
		if (!err && memcmp(back, site->orig, site->displaced_len))
			err = ekp_err(EIO, "%s: original bytes did not read back after restoring",
				      site->where);
		if (err && !first)
			first = err;
	}
	/* Frames still in a trampoline or a return stub finish through them: they stay. */
	err = set_enabled(e, 0);
	if (err && !first)
		first = err;
	e->armed = false;
	if (!first)
		ekp_info("jump sites restored (original bytes read back)");
	return first;
}

/* Guest time of a record's timestamp; false when it does not fit (a hostile guest). */
static bool tsc_to_ns(const struct jump_engine *e, uint64_t tsc, uint64_t *ns)
{
	unsigned __int128 v;

	if (!e->tsc_hz)
		return false;
	v = (unsigned __int128)tsc * 1000000000u / e->tsc_hz;
	if (v > INT64_MAX)
		return false;
	*ns = (uint64_t)v;
	return true;
}

static int on_record(void *opaque, const struct ekp_abi_record *r)
{
	struct jump_engine *e = opaque;
	const struct ekp_probe *p;
	unsigned int idx;
	uint64_t ts;
	int err;

	if (r->probe >= e->nr_table)
		return 1;
	idx = e->table_to_probe[r->probe];
	p = e->env.probes[idx];
	if (r->ip != p->addr || !tsc_to_ns(e, r->tsc, &ts))
		return 1;
	if (ekp_fetch_from_record(&e->jp[idx].dec, r, e->values, EKP_ARRAY_SIZE(e->values)))
		return 1;
	struct ekp_event ev = {
		.probe = p, .probe_index = idx,
		.kind = (r->flags & EKP_REC_F_RETURN) ? EKP_PROBE_RETURN : EKP_PROBE_ENTRY,
		.addr = p->addr, .ret_addr = r->ret_ip, .hit_pc = r->ip, .cpu = r->cpu,
		.ts_ns = ts, .engine = e->base.ops->name,
		.task = { .known = true, .idle = r->pid == 0, .pid = r->pid },
		.nr_values = p->nr_args, .values = e->values,
	};
	if ((ev.kind == EKP_PROBE_RETURN) != (p->kind == EKP_PROBE_RETURN))
		return 1;
	memcpy(ev.task.comm, r->comm, sizeof(r->comm)); /* NUL-terminated by the ring reader */
	e->jp[idx].hits++;
	err = e->run.emit(e->run.opaque, &ev);
	return err < 0 ? err : 0;
}

/* A pointer to guest memory at a kernel-image VA, through the shared RAM mapping. */
static volatile void *guest_ptr(const struct jump_engine *e, uint64_t va, size_t len)
{
	uint64_t pa;

	if (!e->ram.base || va_to_pa(e, va, &pa))
		return NULL;
	return ekp_guestmem_ptr(&e->ram, pa, len);
}

static int jump_drain(struct ekp_engine *base)
{
	struct jump_engine *e = J(base);
	size_t bytes = sizeof(struct ekp_abi_ring_hdr) +
		       (size_t)e->desc.ring_records * e->desc.record_size;
	volatile void *ring;
	int n;

	if (!e->armed && !ekp_ring_tail(e->ring))
		return 0;
	ring = guest_ptr(e, e->desc.ring, bytes);
	if (!ring)
		return ekp_err(ERANGE, "the guest's ring lies outside the mapped guest RAM");
	n = ekp_ring_drain(e->ring, ring, bytes, on_record, e);
	if (n > 0)
		ekp_ring_publish(e->ring, ring);
	ekp_ring_update_counters(e->ring, ring);
	return n < 0 ? n : 0;
}

/* The guest's count of return frames it could not track for probe table entry t. */
static uint64_t guest_missed(const struct jump_engine *e, unsigned int t)
{
	uint64_t va = e->desc.probes + (uint64_t)t * e->desc.probe_size +
		      offsetof(struct ekp_abi_probe, missed);
	volatile uint64_t *p = guest_ptr(e, va, sizeof(uint64_t));

	return p ? __atomic_load_n(p, __ATOMIC_ACQUIRE) : 0;
}

static void jump_probe_stats(const struct ekp_engine *base, unsigned int i,
			     struct ekp_probe_counts *out)
{
	const struct jump_engine *e = CJ(base);

	memset(out, 0, sizeof(*out));
	if (i >= e->env.nr_probes || !e->jp[i].planned)
		return;
	out->hits = e->jp[i].hits;
	out->missed = guest_missed(e, e->jp[i].table_index);
}

static void jump_stats(const struct ekp_engine *base, struct ekp_run_counts *out)
{
	const struct jump_engine *e = CJ(base);

	const struct ekp_ring_stats *rs = ekp_ring_stats(e->ring);

	memset(out, 0, sizeof(*out));
	out->lost = rs->lost + rs->dropped;
	out->invalid = rs->invalid;
}

static void jump_report(const struct ekp_engine *base)
{
	const struct jump_engine *e = CJ(base);
	const struct ekp_ring_stats *rs = ekp_ring_stats(e->ring);

	if (rs->lost)
		ekp_warn("the guest dropped %" PRIu64 " jump-probe records: its ring (%u records) was "
			 "full; read it more often (--poll-ms) or give the guest a bigger ring "
			 "(CONFIG_EKPROBE_RING_RECORDS)", rs->lost, e->desc.ring_records);
	if (rs->dropped)
		ekp_warn("the guest dropped %" PRIu64 " jump-probe hits unrecorded (a hit nested in "
			 "another on one CPU: an interrupt or a probed function called by the hit path)",
			 rs->dropped);
	if (rs->invalid)
		ekp_warn("%" PRIu64 " jump-probe records were invalid and dropped (%" PRIu64 " wrong "
			 "probe, %" PRIu64 " wrong check word, %" PRIu64 " wrong cpu, %" PRIu64 " wrong "
			 "clock, %" PRIu64 " other)", rs->invalid, rs->bad_probe, rs->bad_check,
			 rs->bad_cpu, rs->bad_tsc, rs->invalid - rs->bad_probe - rs->bad_check -
			 rs->bad_cpu - rs->bad_tsc);
	if (rs->bad_lost || rs->bad_dropped)
		ekp_warn("the guest's lost/dropped counters went back or grew without cause %" PRIu64
			 " times: ignored", rs->bad_lost + rs->bad_dropped);
}

const struct ekp_engine_ops ekp_engine_jump = {
	.name = "jump",
	.create = jump_create,
	.plan = jump_plan,
	.qemu_args = jump_qemu_args,
	.arm = jump_arm,
	.drain = jump_drain,
	.on_stop = jump_on_stop,
	.disarm = jump_disarm,
	.report = jump_report,
	.probe_stats = jump_probe_stats,
	.stats = jump_stats,
	.destroy = jump_destroy,
};
