// SPDX-License-Identifier: GPL-2.0
/*
 * ekprobe-tcg.so: the plugin engine's half inside QEMU (docs/architecture.md, "The plugin
 * engine"). Loaded with `-plugin ekprobe-tcg.so,shm_fd=N` by ekprobe-host, which created the
 * shared memory N (include/ekprobe/tcg.h) and wrote the probe table into it.
 *
 * At translation, every instruction at a probe's address (or, until the boot CPU reaches the
 * kernel's own mapping, at its early physical alias when the bytes there are the kernel's) gets
 * an execution callback; so does every instruction at the return address of a pending return
 * probe frame. Nothing else is instrumented (with -icount, one inline add per block counts
 * instructions for the clock). At a hit the callback builds the probe's register frame on
 * demand from QEMU's register reads, runs the probe's fetch program with the shared evaluator
 * (include/ekprobe/abi_eval.h) over QEMU's guest-memory reads, and publishes a record in its
 * vCPU's ring. The VM never stops and the guest is never written.
 *
 * Return probes: at the entry hit, the return address [sp] and the stack pointer after the
 * return make a frame; frames live in one table for all vCPUs (a task may return on another
 * vCPU), keyed by (return address, stack pointer), so recursion and concurrent calls each match
 * their own return. A return address seen for the first time is added to the set the
 * translator instruments, and translated code is flushed once (qemu_plugin_reset) so that code
 * already translated there gets its callback; the flush runs before the vCPU executes another
 * block, so the return that follows is seen.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "plugin/arch.h"
#include "plugin/qemu_api.h"
#include "plugin/table.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = EKP_QEMU_PLUGIN_VERSION;

#define RET_SET_SIZE (1u << 16)   /* distinct return addresses instrumented */
#define MAX_RETURNS_AT_ONCE 64    /* frames one return can complete */
#define UD_RETURN (1ull << 63)

struct vcpu {
	GByteArray *buf;
	struct qemu_plugin_register *frame[EKP_TCG_FRAME_WORDS];
	struct qemu_plugin_register *sp, *mode, *base;
	int ready;
};

struct frame {
	uint64_t ret, sp;      /* where and with which stack pointer the function returns */
	uint32_t probe;
	uint32_t next;         /* chain in the hash bucket / free list, index + 1 */
	uint32_t used;
};

static struct {
	qemu_plugin_id_t id;
	struct ekp_tcg_table t;
	uint8_t *mem;
	size_t size;
	struct ekp_tcg_hdr *hdr;          /* shared: plugin-written fields only */
	struct ekp_tcg_probe *shared_probes;
	const struct ekp_tcg_arch *arch;
	struct vcpu *vcpus;
	unsigned int max_vcpus;
	int icount;
	qemu_plugin_u64 insns;
	int aliases_off;
	/* Return addresses to instrument: insert-only, lock-free. */
	uint64_t *rets;
	unsigned int nr_rets;
	/* Pending return frames. */
	pthread_mutex_t lock;
	struct frame *frames;
	uint32_t *buckets;
	uint32_t nr_buckets, free_head;
	unsigned int pending;
} G = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- the clock ---------------------------------------------------------------------------- */

static uint64_t now_ts(uint64_t remain)
{
	struct timespec ts;

	if (G.icount) {
		uint64_t n = qemu_plugin_u64_sum(G.insns);

		return n >= remain ? n - remain : 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- registers and memory ------------------------------------------------------------------ */

static int read_reg(struct vcpu *v, struct qemu_plugin_register *r, uint64_t *out)
{
	int n;

	if (!r)
		return -1;
	g_byte_array_set_size(v->buf, 0);
	n = qemu_plugin_read_register(r, v->buf);
	if (n <= 0 || n > 8 || v->buf->len < (unsigned int)n)
		return -1;
	*out = 0;
	for (int i = 0; i < n; i++)
		*out |= (uint64_t)v->buf->data[i] << (8 * i);
	return 0;
}

static int read_mem(struct vcpu *v, uint64_t addr, void *dst, size_t len)
{
	if (!len || !qemu_plugin_read_memory_vaddr(addr, v->buf, len) || v->buf->len < len)
		return -1;
	memcpy(dst, v->buf->data, len);
	return 0;
}

static uint64_t le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- the evaluator's environment --------------------------------------------------------- */

struct ekp_eval_env {
	struct vcpu *v;
	uint64_t pc;          /* the frame's pc word */
	uint32_t index;       /* the probe's table index */
	uint64_t cache[EKP_TCG_FRAME_WORDS];
	uint32_t have;        /* cache bits */
	const char *comm;     /* the current task's, or NULL */
};

static bool ekp_eval_reg(struct ekp_eval_env *env, unsigned int off, ekp_u64 *out)
{
	unsigned int w = off / 8;

	if (w >= G.arch->frame_words)
		return false;
	switch (G.arch->frame[w].kind) {
	case EKP_TCG_FRAME_INDEX:
		*out = env->index;
		return true;
	case EKP_TCG_FRAME_PC:
		*out = env->pc;
		return true;
	case EKP_TCG_FRAME_REG:
		break;
	}
	if (!(env->have & (1u << w))) {
		if (read_reg(env->v, env->v->frame[w], &env->cache[w]))
			return false;
		env->have |= 1u << w;
	}
	*out = env->cache[w];
	return true;
}

static bool ekp_eval_load(struct ekp_eval_env *env, ekp_u64 addr, unsigned int size, ekp_u64 *out)
{
	uint8_t b[8];

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return false;
	if (read_mem(env->v, addr, b, size))
		return false;
	*out = le(b, size);
	return true;
}

static const char *ekp_eval_comm(struct ekp_eval_env *env)
{
	return env->comm;
}

#include "ekprobe/abi_eval.h"

/* ---- the current task ------------------------------------------------------------------- */

/* pid and comm of the running task; pid EKP_TCG_PID_UNKNOWN when it cannot be read. */
static void read_task(struct vcpu *v, ekp_s32 *pid, char comm[EKP_ABI_COMM])
{
	const struct ekp_tcg_hdr *h = &G.t.hdr;
	uint64_t mode, base, task;
	uint8_t raw[8];

	memset(comm, 0, EKP_ABI_COMM);
	*pid = EKP_TCG_PID_UNKNOWN;
	if (!h->current_sym || read_reg(v, v->mode, &mode) || !G.arch->kernel_mode(mode) ||
	    read_reg(v, v->base, &base))
		return;
	if (!base) {  /* no per-CPU area yet: the boot CPU's init_task, or an idle task */
		*pid = 0;
		memcpy(comm, "swapper", 8);
		return;
	}
	if (read_mem(v, base + h->current_sym, raw, 8))
		return;
	task = le(raw, 8);
	if (!G.arch->kernel_addr(task))
		return;
	if (!h->have_task_fields || read_mem(v, task + h->pid_off, raw, 4) ||
	    read_mem(v, task + h->comm_off, comm, EKP_ABI_COMM)) {
		memset(comm, 0, EKP_ABI_COMM);
		if (task == h->init_task) { /* its comm is known even unread */
			*pid = 0;
			memcpy(comm, "swapper", 8);
		}
		return;
	}
	if (task == h->init_task)
		memset(raw, 0, 4);
	comm[EKP_ABI_COMM - 1] = '\0';
	*pid = (ekp_s32)le(raw, 4);
	if (*pid < 0 || *pid >= EKP_TCG_PID_UNKNOWN) {
		*pid = EKP_TCG_PID_UNKNOWN;
		memset(comm, 0, EKP_ABI_COMM);
	}
}

/* ---- records --------------------------------------------------------------------------- */

static volatile struct ekp_abi_ring_hdr *ring_of(unsigned int vcpu)
{
	return (volatile struct ekp_abi_ring_hdr *)(G.mem + G.t.hdr.rings_off +
						    (uint64_t)vcpu * G.t.hdr.ring_stride);
}

/* Publish a record of probe i on vcpu's ring (the vCPU's thread is its only producer). */
static void record(unsigned int vcpu, uint32_t i, uint64_t pc, uint64_t ret_ip, uint64_t remain,
		   bool is_return)
{
	const struct ekp_tcg_probe *p = &G.t.probes[i];
	struct vcpu *v = &G.vcpus[vcpu];
	volatile struct ekp_abi_ring_hdr *r;
	struct ekp_abi_record *rec;
	uint64_t head, tail, ts = now_ts(remain);
	struct ekp_eval_env env;
	char comm[EKP_ABI_COMM];
	ekp_s32 pid;

	if (vcpu >= G.t.hdr.nr_rings) {
		__atomic_fetch_add(&G.hdr->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	r = ring_of(vcpu);
	head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	if (head - tail >= G.t.hdr.ring_records) {
		if (__atomic_load_n(&r->lost_tail, __ATOMIC_RELAXED) < tail)
			__atomic_store_n(&r->lost_tail, tail, __ATOMIC_RELEASE);
		__atomic_store_n(&r->lost, __atomic_load_n(&r->lost, __ATOMIC_RELAXED) + 1,
				 __ATOMIC_RELEASE);
		return;
	}
	rec = (struct ekp_abi_record *)((uint8_t *)r + sizeof(struct ekp_abi_ring_hdr) +
		(size_t)(head & (G.t.hdr.ring_records - 1)) * sizeof(struct ekp_abi_record));
	read_task(v, &pid, comm);
	memset(&env, 0, sizeof(env));
	env.v = v;
	env.pc = is_return ? ret_ip : p->abi.addr;
	env.index = i;
	env.comm = pid == EKP_TCG_PID_UNKNOWN ? NULL : comm;
	rec->check = p->abi.check;
	rec->probe = i;
	rec->cpu = vcpu;
	rec->tsc = ts;
	rec->ip = p->abi.addr;
	rec->ret_ip = is_return ? ret_ip : (pc != p->abi.addr ? pc : 0);
	rec->flags = is_return ? EKP_REC_F_RETURN : 0;
	rec->pid = pid;
	memcpy(rec->comm, comm, sizeof(rec->comm));
	ekp_abi_eval(&env, &p->abi, rec);
	__atomic_store_n(&rec->seq, head + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
}

static void count_missed(uint32_t i)
{
	__atomic_fetch_add(&G.shared_probes[i].abi.missed, 1, __ATOMIC_RELAXED);
}

/* ---- return frames --------------------------------------------------------------------- */

static uint32_t ret_hash(uint64_t a, uint32_t mask)
{
	return (uint32_t)((a * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* Is addr a return address the translator instruments? Lock-free. */
static bool ret_known(uint64_t addr)
{
	uint32_t h = ret_hash(addr, RET_SET_SIZE - 1);

	if (!__atomic_load_n(&G.nr_rets, __ATOMIC_ACQUIRE))
		return false;
	for (unsigned int n = 0; n < RET_SET_SIZE; n++, h = (h + 1) & (RET_SET_SIZE - 1)) {
		uint64_t v = __atomic_load_n(&G.rets[h], __ATOMIC_ACQUIRE);

		if (!v)
			return false;
		if (v == addr)
			return true;
	}
	return false;
}

/* Add addr: 1 added, 0 known already, -1 full. */
static int ret_add(uint64_t addr)
{
	uint32_t h = ret_hash(addr, RET_SET_SIZE - 1);

	for (unsigned int n = 0; n < RET_SET_SIZE - 1; n++, h = (h + 1) & (RET_SET_SIZE - 1)) {
		uint64_t zero = 0;

		if (__atomic_compare_exchange_n(&G.rets[h], &zero, addr, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			__atomic_fetch_add(&G.nr_rets, 1, __ATOMIC_RELEASE);
			return 1;
		}
		if (zero == addr)
			return 0;
	}
	return -1;
}

static uint32_t frame_bucket(uint64_t ret, uint64_t sp)
{
	return ret_hash(ret ^ (sp * 0xff51afd7ed558ccdull), G.nr_buckets - 1);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

static void reset_done(qemu_plugin_id_t id)
{
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
}

/* An 'r' probe's entry: remember the frame. */
static void track_return(unsigned int vcpu, uint32_t i)
{
	struct vcpu *v = &G.vcpus[vcpu];
	uint64_t sp, ret;
	uint8_t raw[8];
	uint32_t b, k, *pp;
	int added;

	if (!G.frames || read_reg(v, v->sp, &sp) ||
	    read_mem(v, sp, raw, G.arch->ret_addr_bytes)) {
		count_missed(i);
		return;
	}
	ret = le(raw, G.arch->ret_addr_bytes);
	sp += G.arch->ret_addr_bytes;
	pthread_mutex_lock(&G.lock);
	b = frame_bucket(ret, sp);
	/* The same frame pending already: that call never returned through here (its stack
	 * was abandoned); this call takes its place. */
	for (k = G.buckets[b]; k; k = G.frames[k - 1].next) {
		struct frame *f = &G.frames[k - 1];

		if (f->ret == ret && f->sp == sp && f->probe == i) {
			pthread_mutex_unlock(&G.lock);
			count_missed(i);
			return;
		}
	}
	if (!G.free_head) {
		pthread_mutex_unlock(&G.lock);
		count_missed(i);
		return;
	}
	k = G.free_head;
	G.free_head = G.frames[k - 1].next;
	G.frames[k - 1] = (struct frame){ .ret = ret, .sp = sp, .probe = i, .used = 1,
					  .next = G.buckets[b] };
	/* Oldest first in a bucket: append. */
	G.frames[k - 1].next = 0;
	for (pp = &G.buckets[b]; *pp; pp = &G.frames[*pp - 1].next)
		;
	*pp = k;
	__atomic_fetch_add(&G.pending, 1, __ATOMIC_RELEASE);
	added = ret_add(ret);
	pthread_mutex_unlock(&G.lock);
	__atomic_fetch_add(&G.shared_probes[i].frames, 1, __ATOMIC_RELAXED);
	if (added > 0) {
		__atomic_fetch_add(&G.hdr->flushes, 1, __ATOMIC_RELAXED);
		qemu_plugin_reset(G.id, reset_done);
	}
}

/* At a return address: the frames returning here now. */
static void on_return(unsigned int vcpu, void *udata)
{
	uint64_t ud = (uint64_t)(uintptr_t)udata, remain = (ud >> 32) & 0x7fffffff, sp, ret;
	uint32_t probes[MAX_RETURNS_AT_ONCE], n = 0, b;
	struct vcpu *v;

	if (vcpu >= G.max_vcpus || !__atomic_load_n(&G.pending, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&G.hdr->disabled, __ATOMIC_RELAXED))
		return;
	v = &G.vcpus[vcpu];
	ret = G.rets[ud & 0xffffffffu];
	if (!v->ready || read_reg(v, v->sp, &sp))
		return;
	pthread_mutex_lock(&G.lock);
	b = frame_bucket(ret, sp);
	for (uint32_t *pp = &G.buckets[b]; *pp && n < MAX_RETURNS_AT_ONCE;) {
		uint32_t k = *pp;
		struct frame *f = &G.frames[k - 1];

		if (f->ret != ret || f->sp != sp) {
			pp = &f->next;
			continue;
		}
		probes[n++] = f->probe;
		*pp = f->next;
		f->used = 0;
		f->next = G.free_head;
		G.free_head = k;
		__atomic_fetch_sub(&G.pending, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&G.lock);
	/* In table order, as the entries were. */
	for (uint32_t a = 1; a < n; a++)
		for (uint32_t c = a; c > 0 && probes[c - 1] > probes[c]; c--) {
			uint32_t t = probes[c];

			probes[c] = probes[c - 1];
			probes[c - 1] = t;
		}
	for (uint32_t k = 0; k < n; k++)
		record(vcpu, probes[k], ret, ret, remain, true);
}

/* ---- probe hits ------------------------------------------------------------------------ */

static void on_hit(unsigned int vcpu, void *udata)
{
	uint64_t ud = (uint64_t)(uintptr_t)udata, remain = (ud >> 32) & 0x7fffffff;
	const struct ekp_tcg_site *s;

	if (vcpu >= G.max_vcpus || (ud & 0xffffffffu) >= G.t.nr_sites)
		return;
	s = &G.t.sites[ud & 0xffffffffu];
	if ((s->alias && __atomic_load_n(&G.aliases_off, __ATOMIC_RELAXED)) ||
	    __atomic_load_n(&G.hdr->disabled, __ATOMIC_RELAXED))
		return;
	if (s->early_end)
		__atomic_store_n(&G.aliases_off, 1, __ATOMIC_RELAXED);
	if (!G.vcpus[vcpu].ready)
		return;
	for (uint32_t k = 0; k < s->count; k++) {
		uint32_t i = G.t.site_probes[s->first + k];

		if (!(G.t.probes[i].abi.flags & EKP_PROBE_F_ACTIVE))
			continue;
		if (G.t.probes[i].abi.flags & EKP_PROBE_F_RETURN)
			track_return(vcpu, i);
		else
			record(vcpu, i, s->addr, 0, remain, false);
	}
}

/* An alias is instrumented only where the kernel's bytes are what runs there. */
static bool alias_matches(const struct ekp_tcg_site *s, const struct qemu_plugin_insn *insn)
{
	uint8_t code[EKP_TCG_CODE];
	size_t got = qemu_plugin_insn_data(insn, code, sizeof(code));

	for (uint32_t k = 0; k < s->count; k++) {
		const struct ekp_tcg_probe *p = &G.t.probes[G.t.site_probes[s->first + k]];
		size_t n = p->code_len < got ? p->code_len : got;

		if (memcmp(code, p->code, n))
			return false;
	}
	return true;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);

	if (G.icount)
		qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(tb, QEMU_PLUGIN_INLINE_ADD_U64,
								  G.insns, n);
	for (size_t k = 0; k < n; k++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, k);
		uint64_t va = qemu_plugin_insn_vaddr(insn), remain = (uint64_t)(n - k);
		const struct ekp_tcg_site *s = ekp_tcg_table_find(&G.t, va);

		/* Returns first: a frame returns before its caller's next probe fires. */
		if (ret_known(va)) {
			uint32_t h = ret_hash(va, RET_SET_SIZE - 1);

			while (__atomic_load_n(&G.rets[h], __ATOMIC_ACQUIRE) != va)
				h = (h + 1) & (RET_SET_SIZE - 1);
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_return, QEMU_PLUGIN_CB_R_REGS,
				(void *)(uintptr_t)((uint64_t)h | remain << 32 | UD_RETURN));
		}
		if (s && !(s->alias && (__atomic_load_n(&G.aliases_off, __ATOMIC_RELAXED) ||
					!alias_matches(s, insn))))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_hit, QEMU_PLUGIN_CB_R_REGS,
				(void *)(uintptr_t)((uint64_t)(s - G.t.sites) | remain << 32));
	}
}

/* ---- set-up ---------------------------------------------------------------------------- */

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
	struct vcpu *v;
	GArray *regs;

	if (vcpu >= G.max_vcpus)
		return;
	v = &G.vcpus[vcpu];
	v->buf = g_byte_array_new();
	regs = qemu_plugin_get_registers();
	if (!v->buf || !regs)
		return;
	for (unsigned int r = 0; r < regs->len; r++) {
		const qemu_plugin_reg_descriptor *d = &((qemu_plugin_reg_descriptor *)regs->data)[r];

		if (!d->name)
			continue;
		for (unsigned int w = 0; w < G.arch->frame_words; w++)
			if (G.arch->frame[w].kind == EKP_TCG_FRAME_REG &&
			    !strcmp(d->name, G.arch->frame[w].reg))
				v->frame[w] = d->handle;
		if (!strcmp(d->name, G.arch->sp))
			v->sp = d->handle;
		if (!strcmp(d->name, G.arch->mode))
			v->mode = d->handle;
		if (!strcmp(d->name, G.arch->percpu_base))
			v->base = d->handle;
	}
	g_array_free(regs, 1);
	v->ready = v->sp != NULL;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	char msg[sizeof(G.hdr->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ekprobe-tcg: %s\n", msg);
	if (G.hdr && G.size >= sizeof(*G.hdr)) {
		memcpy(G.hdr->error, msg, sizeof(msg));
		__atomic_store_n(&G.hdr->state, EKP_TCG_STATE_FAILED, __ATOMIC_RELEASE);
	}
	return -1;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	char why[256];
	struct stat stb;
	int fd = -1;

	G.id = id;
	for (int k = 0; k < argc; k++) {
		if (!strncmp(argv[k], "shm_fd=", 7)) {
			char *end;
			long v = strtol(argv[k] + 7, &end, 10);

			if (*end || v < 0 || v > 1000000)
				return fail("bad argument %s", argv[k]);
			fd = (int)v;
		} else {
			return fail("unknown argument '%s' (this plugin is started by ekprobe-host: "
				    "see docs/usage.md)", argv[k]);
		}
	}
	if (fd < 0)
		return fail("no shm_fd= argument (this plugin is started by ekprobe-host)");
	if (fstat(fd, &stb) || stb.st_size < (off_t)sizeof(struct ekp_tcg_hdr))
		return fail("shm_fd=%d: not ekprobe-host's shared memory (%s)", fd,
			    strerror(errno ? errno : EINVAL));
	G.size = (size_t)stb.st_size;
	G.mem = mmap(NULL, G.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (G.mem == MAP_FAILED) {
		G.mem = NULL;
		return fail("mapping the shared memory: %s", strerror(errno));
	}
	G.hdr = (struct ekp_tcg_hdr *)G.mem;
	if (info->version.cur < EKP_QEMU_PLUGIN_VERSION)
		return fail("QEMU's plugin API is version %d; this plugin needs %d (QEMU >= 9.2)",
			    info->version.cur, EKP_QEMU_PLUGIN_VERSION);
	if (!info->system_emulation)
		return fail("this plugin is for system emulation (qemu-system-*)");
	if (!info->target_name || strcmp(info->target_name, "x86_64"))
		return fail("target %s: this plugin knows x86_64", info->target_name ?
			    info->target_name : "?");
	if (ekp_tcg_table_load(G.mem, G.size, &G.t, why, sizeof(why)))
		return fail("the probe table: %s", why);
	G.arch = &ekp_tcg_arch_x86_64;
	G.shared_probes = (struct ekp_tcg_probe *)(G.mem + G.t.hdr.table_off);
	G.icount = !!(G.t.hdr.flags & EKP_TCG_F_ICOUNT);
	G.max_vcpus = info->system.max_vcpus > 0 ? (unsigned int)info->system.max_vcpus : 1;
	G.vcpus = calloc(G.max_vcpus, sizeof(*G.vcpus));
	G.rets = calloc(RET_SET_SIZE, sizeof(*G.rets));
	if (!G.vcpus || !G.rets)
		return fail("out of memory");
	if (G.t.hdr.max_frames) {
		G.frames = calloc(G.t.hdr.max_frames, sizeof(*G.frames));
		for (G.nr_buckets = 16; G.nr_buckets < G.t.hdr.max_frames; G.nr_buckets *= 2)
			;
		G.buckets = calloc(G.nr_buckets, sizeof(*G.buckets));
		if (!G.frames || !G.buckets)
			return fail("out of memory for %u return frames", G.t.hdr.max_frames);
		for (uint32_t k = 0; k < G.t.hdr.max_frames; k++)
			G.frames[k].next = k + 2 <= G.t.hdr.max_frames ? k + 2 : 0;
		G.free_head = 1;
	}
	if (G.icount) {
		G.insns.score = qemu_plugin_scoreboard_new(sizeof(uint64_t));
		G.insns.offset = 0;
		if (!G.insns.score)
			return fail("out of memory for the instruction counters");
	}
	qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	__atomic_store_n(&G.hdr->state, EKP_TCG_STATE_RUNNING, __ATOMIC_RELEASE);
	return 0;
}
