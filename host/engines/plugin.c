// SPDX-License-Identifier: GPL-2.0
/*
 * The plugin engine: exit-less probes on any kernel, through a QEMU TCG plugin
 * (build/ekprobe-tcg.so, plugin/) that ekprobe-host loads into the QEMU it starts. No guest
 * patch, no VM exit, no breakpoint: the plugin instruments the probed instructions when QEMU
 * translates them, runs each probe's fetch program (the jump engine's compiled programs,
 * host/fetch/compile.c, evaluated by the shared include/ekprobe/abi_eval.h over QEMU's register
 * and guest-memory reads) and publishes records in per-vCPU rings in memory shared with
 * ekprobe-host (include/ekprobe/tcg.h), read here with host/engines/ring.c.
 *
 * Order of events: create (launch mode; a QEMU that exports the plugin API it needs; the
 * plugin next to ekprobe-host) -> plan (compile each probe's program) -> qemu_args (the shared
 * memory with the table and rings, `-plugin ...,shm_fd=N`) -> arm (the plugin said it runs) ->
 * drain (every ring, merged in clock order) -> disarm (the plugin records nothing more).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ekprobe/err.h"
#include "ekprobe/tcg.h"
#include "ekprobe/util.h"
#include "host/engines/engine.h"
#include "host/engines/ring.h"
#include "host/fetch/compile.h"
#include "host/fetch/task.h"
#include "host/log.h"

#define PLUGIN_NAME "ekprobe-tcg.so"
#define RING_RECORDS 16384u
#define MAX_FRAMES 65536u
#define PLUGIN_API_SYMBOL "qemu_plugin_read_memory_vaddr"

struct plugin_probe {
	bool planned;
	unsigned int table_index;
	struct ekp_tcg_probe entry;
	struct ekp_fetch_decoder dec;
	uint64_t hits;
};

struct plugin_engine {
	struct ekp_engine base;
	struct ekp_engine_env env;
	struct ekp_engine_run run;
	char so_path[PATH_MAX];
	struct plugin_probe *pp;
	unsigned int *table_to_probe;
	unsigned int nr_table;
	struct ekp_task_layout tasks;
	uint64_t early_end;
	int icount_shift;            /* >= 0: stamps are instruction counts, ns = n << shift */
	/* The shared memory. */
	int fd;
	uint8_t *mem;
	size_t size;
	struct ekp_tcg_hdr *hdr;
	unsigned int nr_rings;
	struct ekp_ring_reader **readers;
	bool armed;
	/* One drain's records, merged in clock order. */
	struct ekp_abi_record *batch;
	size_t nr_batch, cap_batch;
	unsigned int batch_ring;
	uint64_t rejected;           /* records that do not fit their probe */
	struct ekp_value values[EKP_MAX_ARGS];
};

static struct plugin_engine *P(struct ekp_engine *b)
{
	return (struct plugin_engine *)b;
}

static const struct plugin_engine *CP(const struct ekp_engine *b)
{
	return (const struct plugin_engine *)b;
}

/* ---- can it run here? --------------------------------------------------------------------- */

/* The plugin: $EKPROBE_TCG_PLUGIN, else next to the running ekprobe-host. */
static int find_plugin(char *out, size_t len)
{
	const char *env = getenv("EKPROBE_TCG_PLUGIN");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		if (snprintf(out, len, "%s", env) >= (int)len)
			return ekp_err(ENAMETOOLONG, "EKPROBE_TCG_PLUGIN is too long");
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return ekp_err(ENOENT, "cannot tell where ekprobe-host is (/proc/self/exe)");
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (!slash)
			return ekp_err(ENOENT, "cannot tell where ekprobe-host is");
		*slash = '\0';
		if (snprintf(out, len, "%s/%s", self, PLUGIN_NAME) >= (int)len)
			return ekp_err(ENAMETOOLONG, "the plugin's path is too long");
	}
	if (access(out, R_OK))
		return ekp_err(ENOENT, "its QEMU plugin %s is missing (`make` builds it next to "
			       "ekprobe-host; or set EKPROBE_TCG_PLUGIN)", out);
	return 0;
}

/* The QEMU binary argv[0] names, found in PATH like execvp does. */
static int find_qemu(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		if (snprintf(out, len, "%s", name) >= (int)len)
			return ekp_err(ENAMETOOLONG, "QEMU's path is too long");
		return 0;
	}
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n && snprintf(out, len, "%.*s/%s", (int)n, p, name) < (int)len &&
		    !access(out, X_OK))
			return 0;
		p += n + (end ? 1 : 0);
	}
	return ekp_err(ENOENT, "%s is not in PATH", name);
}

/* The version line QEMU prints, for messages (empty when it cannot be had). */
static void qemu_version(const char *qemu, char *out, size_t len)
{
	int fds[2];
	pid_t pid;
	ssize_t n;
	char *nl;

	out[0] = '\0';
	if (pipe2(fds, O_CLOEXEC))
		return;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execl(qemu, qemu, "-version", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	n = pid > 0 ? read(fds[0], out, len - 1) : -1;
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	out[n > 0 ? n : 0] = '\0';
	nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
}

/* Does the QEMU binary export the plugin API symbol the plugin needs? */
static int qemu_has_plugin_api(const char *qemu, bool *has)
{
	Elf *elf = NULL;
	Elf_Scn *scn = NULL;
	int fd, err = 0;

	*has = false;
	fd = open(qemu, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ekp_err(errno, "%s: %s", qemu, strerror(errno));
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = ekp_err(ENOEXEC, "%s is not an ELF executable (a wrapper script?): give the "
			      "QEMU binary itself", qemu);
		goto out;
	}
	while (!*has && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t k = 0; d && k < sh.sh_size / sh.sh_entsize; k++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)k, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && !strcmp(name, PLUGIN_API_SYMBOL)) {
				*has = true;
				break;
			}
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

/* -icount's shift, when it is a number (then records are stamped with instruction counts). */
static int icount_shift(char *const *argv)
{
	const char *v = NULL, *p;
	char *end;
	long s;

	for (unsigned int i = 0; argv && argv[i]; i++)
		if ((!strcmp(argv[i], "-icount") || !strcmp(argv[i], "--icount")) && argv[i + 1])
			v = argv[i + 1];
	if (!v)
		return -1;
	p = strstr(v, "shift=");
	p = p ? p + 6 : (*v >= '0' && *v <= '9' ? v : NULL);
	if (!p)
		return -1;
	s = strtol(p, &end, 10);
	if (end == p || (*end && *end != ',') || s < 0 || s > 10)
		return -1;
	return (int)s;
}

static void plugin_destroy(struct ekp_engine *base);

static int plugin_create(const struct ekp_engine_env *env, struct ekp_engine **out)
{
	char qemu[PATH_MAX], version[160];
	struct plugin_engine *e;
	struct ekp_sym sym;
	bool has = false;
	int err;

	if (!env->launch)
		return ekp_err(EOPNOTSUPP, "the plugin engine needs launch mode: ekprobe-host loads "
			       "its plugin into the QEMU it starts");
	if (strcmp(env->arch->name, "x86_64") || !env->arch->jump)
		return ekp_err(EOPNOTSUPP, "no plugin engine for %s", env->arch->name);
	if (!env->qemu_argv || !env->qemu_argv[0])
		return ekp_err(EINVAL, "no QEMU command line");
	e = calloc(1, sizeof(*e));
	if (!e)
		return ekp_err(ENOMEM, "out of memory");
	e->fd = -1;
	e->env = *env;
	err = find_plugin(e->so_path, sizeof(e->so_path));
	if (err)
		goto fail;
	err = find_qemu(env->qemu_argv[0], qemu, sizeof(qemu));
	if (!err)
		err = qemu_has_plugin_api(qemu, &has);
	if (err)
		goto fail;
	if (!has) {
		qemu_version(qemu, version, sizeof(version));
		err = ekp_err(EOPNOTSUPP, "%s%s%s%s cannot run its TCG plugin: it exports no %s "
			      "(the plugin needs QEMU >= 9.2 built with TCG plugins; `make -s "
			      "print-qemu` gives one)", qemu, *version ? " (" : "", version,
			      *version ? ")" : "", PLUGIN_API_SYMBOL);
		goto fail;
	}
	e->pp = calloc((size_t)env->nr_probes + 1, sizeof(*e->pp));
	e->table_to_probe = calloc((size_t)env->nr_probes + 1, sizeof(*e->table_to_probe));
	if (!e->pp || !e->table_to_probe) {
		err = ekp_err(ENOMEM, "out of memory");
		goto fail;
	}
	ekp_task_layout_init(&e->tasks, env->st, env->arch);
	if (env->arch->early_end_sym && !ekp_symtab_lookup(env->st, env->arch->early_end_sym, &sym))
		e->early_end = sym.addr;
	e->icount_shift = env->icount ? icount_shift(env->qemu_argv) : -1;
	*out = &e->base;
	return 0;
fail:
	plugin_destroy(&e->base);
	return err;
}

static void plugin_destroy(struct ekp_engine *base)
{
	struct plugin_engine *e = P(base);

	if (!e)
		return;
	for (unsigned int r = 0; e->readers && r < e->nr_rings; r++)
		ekp_ring_reader_free(e->readers[r]);
	free(e->readers);
	if (e->mem)
		munmap(e->mem, e->size);
	if (e->fd >= 0)
		close(e->fd);
	free(e->pp);
	free(e->table_to_probe);
	free(e->batch);
	free(e);
}

static int plugin_plan(struct ekp_engine *base, unsigned int i)
{
	struct plugin_engine *e = P(base);
	const struct ekp_probe *p;
	struct plugin_probe *pp;
	uint64_t alias;
	int err;

	if (i >= e->env.nr_probes)
		return ekp_err(EINVAL, "no probe %u", i);
	p = e->env.probes[i];
	pp = &e->pp[i];
	if (pp->planned)
		return 0;
	if (e->nr_table >= EKP_TCG_MAX_PROBES)
		return ekp_err(ENOSPC, "the plugin's probe table is full (%d probes)",
			       EKP_TCG_MAX_PROBES);
	memset(&pp->entry, 0, sizeof(pp->entry));
	err = ekp_fetch_compile(p, e->env.arch, &pp->entry.abi, &pp->dec);
	if (err)
		return err;
	if (e->env.arch->early_alias && e->env.arch->early_alias(p->addr, &alias)) {
		pp->entry.alias = alias;
		if (!ekp_symtab_read(e->env.st, p->addr, pp->entry.code, EKP_TCG_CODE))
			pp->entry.code_len = EKP_TCG_CODE;
	}
	pp->table_index = e->nr_table;
	e->table_to_probe[e->nr_table++] = i;
	pp->planned = true;
	return 0;
}

/* The vCPUs QEMU may run: the largest number in -smp (cpus, maxcpus, or the bare count). */
static unsigned int smp_cpus(const struct ekp_qemu_argv *argv)
{
	const char *v = ekp_qemu_argv_value(argv, "smp");
	unsigned long best = 1;

	for (const char *p = v; p && *p;) {
		char *end;
		unsigned long n;

		if (*p >= '0' && *p <= '9') {
			n = strtoul(p, &end, 10);
			if (n > best)
				best = n;
			p = end;
		} else {
			p++;
		}
	}
	return best > EKP_TCG_MAX_RINGS ? EKP_TCG_MAX_RINGS : (unsigned int)best;
}

/* The shared memory: header, table, rings; then `-plugin ekprobe-tcg.so,shm_fd=N`. */
static int plugin_qemu_args(struct ekp_engine *base, struct ekp_qemu_argv *argv)
{
	struct plugin_engine *e = P(base);
	uint64_t table_off = (sizeof(struct ekp_tcg_hdr) + 63) & ~63ull, rings_off, stride;
	struct ekp_tcg_probe *table;
	char arg[PATH_MAX * 2 + 32];
	size_t at = 0;
	int err;

	e->nr_rings = smp_cpus(argv);
	stride = (ekp_ring_bytes(RING_RECORDS) + 4095) & ~4095ull;
	rings_off = (table_off + (uint64_t)e->nr_table * sizeof(struct ekp_tcg_probe) + 4095) &
		    ~4095ull;
	e->size = rings_off + stride * e->nr_rings;
	e->fd = memfd_create("ekprobe-tcg", 0); /* inherited by QEMU: no close-on-exec */
	if (e->fd < 0)
		return ekp_err(errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(e->fd, (off_t)e->size))
		return ekp_err(errno, "sizing the plugin's shared memory: %s", strerror(errno));
	e->mem = mmap(NULL, e->size, PROT_READ | PROT_WRITE, MAP_SHARED, e->fd, 0);
	if (e->mem == MAP_FAILED) {
		e->mem = NULL;
		return ekp_err(errno, "mapping the plugin's shared memory: %s", strerror(errno));
	}
	e->hdr = (struct ekp_tcg_hdr *)e->mem;
	*e->hdr = (struct ekp_tcg_hdr){
		.magic = EKP_TCG_MAGIC, .version = EKP_TCG_VERSION,
		.hdr_size = sizeof(struct ekp_tcg_hdr), .probe_size = sizeof(struct ekp_tcg_probe),
		.record_size = sizeof(struct ekp_abi_record), .nr_probes = e->nr_table,
		.nr_rings = e->nr_rings, .ring_records = RING_RECORDS,
		.flags = e->icount_shift >= 0 ? EKP_TCG_F_ICOUNT : 0, .arch = EKP_TCG_ARCH_X86_64,
		.max_frames = MAX_FRAMES, .table_off = table_off, .rings_off = rings_off,
		.ring_stride = stride, .total_size = e->size, .early_end = e->early_end,
		.current_sym = e->tasks.have_current ? e->tasks.current_sym : 0,
		.init_task = e->tasks.init_task, .comm_off = e->tasks.comm_off,
		.pid_off = e->tasks.pid_off, .have_task_fields = e->tasks.have_fields,
	};
	e->readers = calloc(e->nr_rings, sizeof(*e->readers));
	if (!e->readers)
		return ekp_err(ENOMEM, "out of memory");
	for (unsigned int r = 0; r < e->nr_rings; r++) {
		err = ekp_ring_reader_new(&(struct ekp_ring_config){
			.nr_records = RING_RECORDS, .max_probes = e->nr_table ? e->nr_table : 1,
			.nr_cpus = e->nr_rings }, &e->readers[r]);
		if (err)
			return err;
	}
	table = (struct ekp_tcg_probe *)(e->mem + table_off);
	for (unsigned int t = 0; t < e->nr_table; t++) {
		struct plugin_probe *pp = &e->pp[e->table_to_probe[t]];

		/* One check word for the entry, expected by every ring's reader. */
		err = ekp_ring_expect(e->readers[0], t, &pp->entry.abi);
		for (unsigned int r = 1; !err && r < e->nr_rings; r++)
			err = ekp_ring_expect_word(e->readers[r], t, &pp->entry.abi);
		if (err)
			return err;
		table[t] = pp->entry;
	}
	/* QEMU's option syntax: a comma in a value is written twice. */
	at = (size_t)snprintf(arg, sizeof(arg), "file=");
	for (const char *c = e->so_path; *c && at + 3 < sizeof(arg); c++) {
		arg[at++] = *c;
		if (*c == ',')
			arg[at++] = ',';
	}
	snprintf(arg + at, sizeof(arg) - at, ",shm_fd=%d", e->fd);
	err = ekp_qemu_argv_append(argv, "-plugin");
	return err ? err : ekp_qemu_argv_append(argv, arg);
}

static int plugin_arm(struct ekp_engine *base, const struct ekp_engine_run *run)
{
	struct plugin_engine *e = P(base);
	uint64_t state;

	e->run = *run;
	if (!e->hdr)
		return ekp_err(EINVAL, "the plugin engine was not given to QEMU");
	state = __atomic_load_n(&e->hdr->state, __ATOMIC_ACQUIRE);
	if (state == EKP_TCG_STATE_FAILED) {
		char why[sizeof(e->hdr->error) + 1];

		memcpy(why, e->hdr->error, sizeof(e->hdr->error));
		why[sizeof(e->hdr->error)] = '\0';
		return ekp_err(EPROTO, "QEMU's ekprobe plugin: %s", why);
	}
	if (state != EKP_TCG_STATE_RUNNING)
		return ekp_err(EPROTO, "QEMU did not start the ekprobe plugin (%s)", e->so_path);
	e->armed = true;
	ekp_info("%u plugin probe%s instrumented as QEMU translates them (%u vCPU ring%s of %u "
		 "records)", e->nr_table, e->nr_table == 1 ? "" : "s", e->nr_rings,
		 e->nr_rings == 1 ? "" : "s", RING_RECORDS);
	return 0;
}

static int collect(void *opaque, const struct ekp_abi_record *r)
{
	struct plugin_engine *e = opaque;

	if (r->cpu != e->batch_ring) {
		e->rejected++;
		return 1;
	}
	if (e->nr_batch == e->cap_batch) {
		size_t cap = e->cap_batch ? 2 * e->cap_batch : 1024;
		struct ekp_abi_record *n = realloc(e->batch, cap * sizeof(*n));

		if (!n)
			return ekp_err(ENOMEM, "out of memory");
		e->batch = n;
		e->cap_batch = cap;
	}
	e->batch[e->nr_batch++] = *r;
	return 0;
}

static int cmp_record(const void *a, const void *b)
{
	const struct ekp_abi_record *x = a, *y = b;

	if (x->tsc != y->tsc)
		return x->tsc < y->tsc ? -1 : 1;
	if (x->cpu != y->cpu)
		return x->cpu < y->cpu ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool to_ns(const struct plugin_engine *e, uint64_t stamp, uint64_t *ns)
{
	if (e->icount_shift >= 0) {
		if (stamp > (UINT64_MAX >> 1) >> e->icount_shift)
			return false;
		*ns = stamp << e->icount_shift;
		return true;
	}
	*ns = e->run.guest_ns_at ? e->run.guest_ns_at(e->run.opaque, stamp) : 0;
	return true;
}

static int emit_record(struct plugin_engine *e, const struct ekp_abi_record *r)
{
	const struct ekp_probe *p;
	unsigned int idx;
	bool ret = r->flags & EKP_REC_F_RETURN;
	uint64_t ts;

	if (r->probe >= e->nr_table)
		return 0;
	idx = e->table_to_probe[r->probe];
	p = e->env.probes[idx];
	if (r->ip != p->addr || ret != (p->kind == EKP_PROBE_RETURN) || !to_ns(e, r->tsc, &ts) ||
	    ekp_fetch_from_record(&e->pp[idx].dec, r, e->values, EKP_ARRAY_SIZE(e->values))) {
		e->rejected++; /* counted with the invalid records */
		return 0;
	}
	struct ekp_event ev = {
		.probe = p, .probe_index = idx, .kind = ret ? EKP_PROBE_RETURN : EKP_PROBE_ENTRY,
		.addr = p->addr, .ret_addr = ret ? r->ret_ip : 0,
		.hit_pc = !ret && r->ret_ip ? r->ret_ip : r->ip, .cpu = r->cpu, .ts_ns = ts,
		.engine = e->base.ops->name,
		.task = { .known = r->pid != EKP_TCG_PID_UNKNOWN, .idle = r->pid == 0,
			  .pid = r->pid },
		.nr_values = p->nr_args, .values = e->values,
	};
	if (ev.task.known)
		memcpy(ev.task.comm, r->comm, sizeof(r->comm)); /* NUL-terminated by the reader */
	e->pp[idx].hits++;
	return e->run.emit(e->run.opaque, &ev);
}

static int plugin_drain(struct ekp_engine *base)
{
	struct plugin_engine *e = P(base);
	int err = 0;

	if (!e->armed && !e->mem)
		return 0;
	e->nr_batch = 0;
	for (unsigned int r = 0; r < e->nr_rings; r++) {
		volatile uint8_t *ring = e->mem + e->hdr->rings_off + (uint64_t)r * e->hdr->ring_stride;
		int n;

		e->batch_ring = r;
		n = ekp_ring_drain(e->readers[r], ring, e->hdr->ring_stride, collect, e);
		if (n > 0)
			ekp_ring_publish(e->readers[r], ring);
		ekp_ring_update_counters(e->readers[r], ring);
		if (n < 0)
			return n;
	}
	/* The vCPUs' records, in clock order (each ring is in order already). */
	if (e->nr_batch > 1)
		qsort(e->batch, e->nr_batch, sizeof(*e->batch), cmp_record);
	for (size_t k = 0; k < e->nr_batch && !err; k++)
		err = emit_record(e, &e->batch[k]);
	e->nr_batch = 0;
	return err < 0 ? err : 0;
}

static int plugin_disarm(struct ekp_engine *base)
{
	struct plugin_engine *e = P(base);

	if (e->hdr)
		__atomic_store_n(&e->hdr->disabled, 1, __ATOMIC_RELEASE);
	if (e->armed)
		ekp_info("plugin probes off (the plugin records nothing more)");
	e->armed = false;
	return 0;
}

static void plugin_probe_stats(const struct ekp_engine *base, unsigned int i,
			       struct ekp_probe_counts *out)
{
	const struct plugin_engine *e = CP(base);
	const struct ekp_tcg_probe *t;
	uint64_t frames;

	memset(out, 0, sizeof(*out));
	if (i >= e->env.nr_probes || !e->pp[i].planned)
		return;
	out->hits = e->pp[i].hits;
	if (!e->mem)
		return;
	t = &((const struct ekp_tcg_probe *)(e->mem + e->hdr->table_off))[e->pp[i].table_index];
	out->missed = __atomic_load_n(&t->abi.missed, __ATOMIC_ACQUIRE);
	frames = __atomic_load_n(&t->frames, __ATOMIC_ACQUIRE);
	if (e->env.probes[i]->kind == EKP_PROBE_RETURN && frames > out->hits)
		out->pending = frames - out->hits;
}

static void ring_totals(const struct plugin_engine *e, struct ekp_ring_stats *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned int r = 0; e->readers && r < e->nr_rings; r++) {
		const struct ekp_ring_stats *s = e->readers[r] ? ekp_ring_stats(e->readers[r]) : NULL;

		if (!s)
			continue;
		t->lost += s->lost;
		t->invalid += s->invalid;
		t->bad_lost += s->bad_lost;
		t->bad_check += s->bad_check;
		t->bad_tsc += s->bad_tsc;
	}
}

static void plugin_stats(const struct ekp_engine *base, struct ekp_run_counts *out)
{
	const struct plugin_engine *e = CP(base);
	struct ekp_ring_stats t;

	memset(out, 0, sizeof(*out));
	ring_totals(e, &t);
	out->lost = t.lost + (e->hdr ? __atomic_load_n(&e->hdr->dropped, __ATOMIC_ACQUIRE) : 0);
	out->invalid = t.invalid + e->rejected;
}

static void plugin_report(const struct ekp_engine *base)
{
	const struct plugin_engine *e = CP(base);
	struct ekp_ring_stats t;
	uint64_t dropped, flushes;

	if (!e->hdr)
		return;
	ring_totals(e, &t);
	dropped = __atomic_load_n(&e->hdr->dropped, __ATOMIC_ACQUIRE);
	flushes = __atomic_load_n(&e->hdr->flushes, __ATOMIC_ACQUIRE);
	if (t.lost)
		ekp_warn("the plugin dropped %" PRIu64 " records: a vCPU's ring (%u records) was "
			 "full; read it more often (--poll-ms)", t.lost, RING_RECORDS);
	if (dropped)
		ekp_warn("the plugin dropped %" PRIu64 " hits on vCPUs beyond the %u it was given "
			 "rings for (-smp)", dropped, e->nr_rings);
	if (t.invalid)
		ekp_warn("%" PRIu64 " plugin records were invalid and dropped (%" PRIu64 " wrong "
			 "check word, %" PRIu64 " wrong clock)", t.invalid, t.bad_check, t.bad_tsc);
	if (flushes)
		ekp_info("plugin: %" PRIu64 " translated-code flush%s to instrument new return "
			 "addresses", flushes, flushes == 1 ? "" : "es");
}

const struct ekp_engine_ops ekp_engine_plugin = {
	.name = "plugin",
	.create = plugin_create,
	.plan = plugin_plan,
	.qemu_args = plugin_qemu_args,
	.arm = plugin_arm,
	.drain = plugin_drain,
	.disarm = plugin_disarm,
	.report = plugin_report,
	.probe_stats = plugin_probe_stats,
	.stats = plugin_stats,
	.destroy = plugin_destroy,
};
