// SPDX-License-Identifier: GPL-2.0
/*
 * --format perfetto: Chrome trace-event JSON (the JSON Object Format), which ui.perfetto.dev,
 * chrome://tracing and speedscope open:
 *
 *   {"traceEvents":[
 *   {"ph":"M","name":"process_name",...},
 *   {"ph":"B","name":"init_kprobes","cat":"initcall/start","pid":1,"tid":1,"args":{...},"ts":..},
 *   {"ph":"E",...},
 *   ...
 *   ],"displayTimeUnit":"ns","otherData":{...},"summary":{...}}
 *
 * - An entry probe at a function's start whose return is probed too opens a slice ("B") in its
 *   task's track; the return closes it ("E", with the return's values), paired per task as
 *   host/labs/pair.h says, so the slices of one task nest. A slice is named after its first
 *   :symbol fetch-arg (do_one_initcall's fn=%di:symbol gives the initcall's name), else after
 *   the function; its category is the entry probe's GRP/EVENT.
 * - Every other event is an instant event ("i") with its values.
 * - The boot phases (host/labs/phase.h) are slices of a track of their own, "boot phases", each
 *   from its first hit to the next phase's.
 * - Ring losses are a counter, "lost records".
 * - Tracks: one process (pid 1, "guest kernel"); a thread per task: its pid for known tasks,
 *   one per CPU for the idle tasks and for unknown tasks.
 *
 * Times are microseconds with three decimals (nanoseconds exact), guest run time as ts_ns.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ekprobe/err.h"
#include "host/labs/pair.h"
#include "host/labs/phase.h"
#include "host/sinks/ops.h"

#define PF_PID 1
#define PF_TID_IDLE 1000000u    /* + cpu */
#define PF_TID_UNKNOWN 2000000u /* + cpu */
#define PF_TID_PHASES 3000000u
#define PF_CPU_MAX 999999u      /* CPUs above share one idle / unknown track */

struct pf_probe {
	bool opens;      /* entry at a function's start whose return is probed: opens slices */
	bool closes;     /* the return probe that closes them */
	int sym_arg;     /* the first :symbol fetch-arg (names the slice), or -1 */
	int phase;       /* entry probes: the boot phase its function marks, or -1 */
};

/* A task whose track has a name already: its key and the name it was given. */
struct pf_track {
	uint64_t task;   /* 0: a free slot */
	char *name;
};

struct perfetto {
	struct pf_probe *p;
	unsigned int nr;
	struct ekp_pairer pair;
	struct pf_track *tracks;
	size_t tracks_cap, tracks_used;
	bool first;                /* no element written yet after the header */
	bool counter_started;
	uint64_t lost;
	uint64_t last_ts;
	bool any_event;
	bool phase_seen[EKP_NR_PHASES];
	int phase;                 /* the phase open on the phases track, or -1 */
	char *summary;             /* "\"summary\":{...}" for the closing, or NULL */
};

static void set(json_t *o, const char *key, json_t *v, int *err)
{
	if (json_object_set_new(o, key, v))
		*err = -ENOMEM;
}

/* One element of traceEvents: obj with "ts" (microseconds, exact to the ns) added. */
static int emit(struct ekp_sink *s, json_t *obj, uint64_t ts_ns, int err)
{
	struct perfetto *pf = s->priv;
	size_t start = s->pending.len, n;
	char *d = NULL;

	if (!obj)
		err = -ENOMEM;
	if (!err) {
		d = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
		n = d ? strlen(d) : 0;
		if (n < 2)
			err = -ENOMEM;
		else
			err = ekp_buf_printf(&s->pending, "%s%.*s,\"ts\":%" PRIu64 ".%03u}",
					     pf->first ? "\n" : ",\n", (int)(n - 1), d,
					     ts_ns / 1000, (unsigned int)(ts_ns % 1000));
	}
	free(d);
	json_decref(obj);
	err = ekp_sink_commit(s, start, err);
	if (!err)
		pf->first = false;
	return err;
}

/* {"ph":ph,"name":name,"pid":1,"tid":tid}, the common part. */
static json_t *element(const char *ph, const char *name, const char *cat, unsigned int tid,
		       int *err)
{
	json_t *o = json_object();

	if (!o) {
		*err = -ENOMEM;
		return NULL;
	}
	set(o, "ph", json_string(ph), err);
	if (name)
		set(o, "name", json_string(name), err);
	if (cat)
		set(o, "cat", json_string(cat), err);
	set(o, "pid", json_integer(PF_PID), err);
	if (tid)
		set(o, "tid", json_integer(tid), err);
	return o;
}

/* A metadata element: {"ph":"M","name":what,"pid":1[,"tid":tid],"args":{key:value}}. */
static int meta(struct ekp_sink *s, const char *what, unsigned int tid, const char *key,
		json_t *value)
{
	int err = 0;
	json_t *o = element("M", what, NULL, tid, &err), *args = json_object();

	if (!args)
		err = -ENOMEM;
	else
		set(args, key, value, &err);
	if (o)
		set(o, "args", args, &err);
	else
		json_decref(args);
	return emit(s, o, 0, err);
}

static unsigned int tid_of(uint64_t task)
{
	unsigned int low = (unsigned int)(task & 0xffffffffu);

	switch (task >> 32) {
	case EKP_TASK_PID:
		return low ? low : PF_TID_IDLE; /* pid 0 is never a plain task */
	case EKP_TASK_IDLE:
		return PF_TID_IDLE + (low > PF_CPU_MAX ? PF_CPU_MAX : low);
	default:
		return PF_TID_UNKNOWN + (low > PF_CPU_MAX ? PF_CPU_MAX : low);
	}
}

static size_t track_slot(uint64_t task, size_t cap)
{
	return (size_t)((task * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

/* The track of task: named once, and named again when its comm changes. */
static int track(struct ekp_sink *s, uint64_t task, const struct ekp_event *ev)
{
	struct perfetto *pf = s->priv;
	struct ekp_buf name = { 0 };
	struct pf_track *t;
	size_t i;
	int err;

	if ((pf->tracks_used + 1) * 2 > pf->tracks_cap) {
		size_t cap = pf->tracks_cap ? pf->tracks_cap * 2 : 64;
		struct pf_track *tab = calloc(cap, sizeof(*tab));

		if (!tab)
			return ekp_err(ENOMEM, "out of memory");
		for (size_t k = 0; k < pf->tracks_cap; k++) {
			if (!pf->tracks[k].task)
				continue;
			for (i = track_slot(pf->tracks[k].task, cap); tab[i].task; i = (i + 1) & (cap - 1))
				;
			tab[i] = pf->tracks[k];
		}
		free(pf->tracks);
		pf->tracks = tab;
		pf->tracks_cap = cap;
	}
	for (i = track_slot(task, pf->tracks_cap); pf->tracks[i].task && pf->tracks[i].task != task;
	     i = (i + 1) & (pf->tracks_cap - 1))
		;
	t = &pf->tracks[i];
	if (!ev->task.known)
		err = ekp_buf_printf(&name, "<...>-? (cpu %u)", ev->cpu);
	else if (ev->task.idle)
		err = ekp_buf_printf(&name, "<idle>-0 (cpu %u)", ev->cpu);
	else
		err = ekp_format_escaped(&name, ev->task.comm) ?:
		      ekp_buf_printf(&name, "-%d", ev->task.pid);
	if (err) {
		ekp_buf_free(&name);
		return ekp_err(-err, "out of memory");
	}
	if (t->task && !strcmp(t->name, name.data)) {
		ekp_buf_free(&name);
		return 0;
	}
	if (!t->task) {
		t->task = task;
		pf->tracks_used++;
		err = meta(s, "thread_sort_index", tid_of(task), "sort_index",
			   json_integer(tid_of(task)));
		if (err) {
			ekp_buf_free(&name);
			return err;
		}
	}
	free(t->name);
	t->name = name.data; /* the buffer's string, kept */
	return meta(s, "thread_name", tid_of(task), "name", json_string(t->name));
}

/* The event's values as "args", plus where it fired and on which CPU. */
static json_t *args_of(const struct ekp_sink *s, const struct ekp_event *ev, bool where,
		       int *err)
{
	const struct ekp_probe *p = ev->probe;
	json_t *a = json_object();

	if (!a) {
		*err = -ENOMEM;
		return NULL;
	}
	for (unsigned int i = 0; i < ev->nr_values && i < p->nr_args; i++)
		set(a, p->args[i].name, ekp_json_value(&p->args[i], &ev->values[i], s->st), err);
	if (where)
		set(a, "at", ekp_json_sym(s->st, ev->addr), err);
	if (ev->kind == EKP_PROBE_RETURN)
		set(a, "returned_to", ekp_json_sym(s->st, ev->ret_addr), err);
	set(a, "cpu", json_integer((json_int_t)ev->cpu), err);
	return a;
}

/* "sym+0x0" without its "+0x0"; other offsets stay. */
static void drop_zero_offset(struct ekp_buf *b)
{
	if (b->len > 4 && !strcmp(b->data + b->len - 4, "+0x0"))
		b->data[b->len -= 4] = '\0';
}

/* A slice's name: its first :symbol fetch-arg's value, else the function. */
static int slice_name(const struct ekp_sink *s, const struct pf_probe *pp,
		      const struct ekp_event *ev, struct ekp_buf *out)
{
	int err;

	if (pp->sym_arg >= 0 && (unsigned int)pp->sym_arg < ev->nr_values &&
	    !ev->values[pp->sym_arg].err)
		err = ekp_format_sym(out, s->st, ev->values[pp->sym_arg].u[0]);
	else
		err = ekp_format_sym(out, s->st, ev->addr);
	if (!err)
		drop_zero_offset(out);
	return err;
}

static char *probe_name(const struct ekp_probe *p)
{
	char *n = NULL;

	return asprintf(&n, "%s/%s", p->group, p->event) < 0 ? NULL : n;
}

static int slice_end(struct ekp_sink *s, unsigned int tid, const char *name, json_t *args,
		     uint64_t ts_ns)
{
	int err = 0;
	json_t *o = element("E", name, NULL, tid, &err);

	if (o)
		set(o, "args", args, &err);
	else
		json_decref(args);
	return emit(s, o, ts_ns, err);
}

struct pf_unfinished {
	struct ekp_sink *s;
	uint64_t ts_ns;
	int err;
};

/* A call whose return was never seen: its slice ends with the call that encloses it, or with
 * the trace. */
static void unfinished(void *ctx, uint64_t task, const struct ekp_pair_frame *f)
{
	struct pf_unfinished *u = ctx;
	char *name = (char *)(uintptr_t)f->payload;
	json_t *args = json_object();
	int err = args ? 0 : -ENOMEM;

	if (args)
		set(args, "returned", json_false(), &err);
	if (err) {
		json_decref(args);
		if (!u->err)
			u->err = ekp_err(-err, "out of memory");
	} else if (!u->err) {
		u->err = slice_end(u->s, tid_of(task), name, args, u->ts_ns);
	} else {
		json_decref(args);
	}
	free(name);
}

static int phase_reached(struct ekp_sink *s, int phase, uint64_t ts_ns)
{
	struct perfetto *pf = s->priv;
	int err = 0;
	json_t *o;

	pf->phase_seen[phase] = true;
	if (pf->phase >= 0) {
		json_t *none = json_object();

		err = none ? 0 : -ENOMEM;
		err = err ?: slice_end(s, PF_TID_PHASES, ekp_phase_name(pf->phase), none, ts_ns);
		if (err)
			return err;
	}
	pf->phase = phase;
	o = element("B", ekp_phase_name(phase), "boot phase", PF_TID_PHASES, &err);
	return emit(s, o, ts_ns, err);
}

static int counter(struct ekp_sink *s, uint64_t ts_ns, uint64_t lost)
{
	int err = 0;
	json_t *o = element("C", "lost records", NULL, 0, &err), *args = json_object();

	if (!args)
		err = -ENOMEM;
	else
		set(args, "lost", json_integer((json_int_t)lost), &err);
	if (o)
		set(o, "args", args, &err);
	else
		json_decref(args);
	return emit(s, o, ts_ns, err);
}

/* The header, the process and the phases track: once, before anything else. */
static int start(struct ekp_sink *s)
{
	struct perfetto *pf = s->priv;
	size_t at = s->pending.len;
	int err;

	if (pf)
		return 0;
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return ekp_err(ENOMEM, "out of memory");
	pf->first = true;
	pf->phase = -1;
	ekp_pair_init(&pf->pair);
	s->priv = pf;
	err = ekp_buf_printf(&s->trailer, "\n]}\n");
	if (err)
		return ekp_err(-err, "out of memory");
	err = ekp_sink_commit(s, at, ekp_buf_printf(&s->pending, "{\"traceEvents\":["));
	err = err ?: meta(s, "process_name", 0, "name", json_string("guest kernel"));
	err = err ?: meta(s, "thread_name", PF_TID_PHASES, "name", json_string("boot phases"));
	err = err ?: meta(s, "thread_sort_index", PF_TID_PHASES, "sort_index", json_integer(0));
	return err;
}

static int pf_probes(struct ekp_sink *s, struct ekp_probe *const *probes, unsigned int n)
{
	struct perfetto *pf;
	int err = start(s);

	if (err)
		return err;
	pf = s->priv;
	free(pf->p);
	pf->p = calloc(n ? n : 1, sizeof(*pf->p));
	if (!pf->p)
		return ekp_err(ENOMEM, "out of memory");
	pf->nr = n;
	for (unsigned int i = 0; i < n; i++) {
		const struct ekp_probe *p = probes[i];
		struct ekp_sym sym;
		uint64_t off;

		pf->p[i].sym_arg = -1;
		pf->p[i].phase = -1;
		for (unsigned int a = 0; a < p->nr_args && pf->p[i].sym_arg < 0; a++)
			if (p->args[a].type.base == EKP_T_SYMBOL && !p->args[a].type.array_len)
				pf->p[i].sym_arg = (int)a;
		if (p->kind == EKP_PROBE_ENTRY && s->st &&
		    !ekp_symtab_addr2sym(s->st, p->addr, &sym, &off))
			pf->p[i].phase = ekp_phase_of(sym.name, strlen(sym.name));
		if (p->kind != EKP_PROBE_RETURN)
			continue;
		/* The first entry probe at this function's start opens its slices; only the first
		 * return probe of a function closes them. */
		for (unsigned int e = 0; e < n; e++) {
			if (probes[e]->kind != EKP_PROBE_ENTRY || probes[e]->addr != p->addr)
				continue;
			if (!pf->p[e].opens) {
				bool taken = false;

				for (unsigned int r = 0; r < i; r++)
					taken |= pf->p[r].closes && probes[r]->addr == p->addr;
				if (taken)
					break;
				pf->p[e].opens = true;
				pf->p[i].closes = true;
			}
			break;
		}
	}
	return 0;
}

static int instant(struct ekp_sink *s, const struct ekp_event *ev, unsigned int tid)
{
	char *name = probe_name(ev->probe);
	int err = name ? 0 : -ENOMEM;
	json_t *o = element("i", name, ev->probe->group, tid, &err);

	free(name);
	if (o) {
		set(o, "s", json_string("t"), &err);
		set(o, "args", args_of(s, ev, true, &err), &err);
	}
	return emit(s, o, ev->ts_ns, err);
}

static int pf_event(struct ekp_sink *s, const struct ekp_event *ev)
{
	struct perfetto *pf;
	const struct pf_probe *pp = NULL;
	uint64_t task = ekp_pair_task(ev->task.known, ev->task.idle, ev->task.pid, ev->cpu);
	unsigned int tid = tid_of(task);
	int err = start(s);

	if (err)
		return err;
	pf = s->priv;
	if (ev->probe_index < pf->nr)
		pp = &pf->p[ev->probe_index];
	if (ev->ts_ns > pf->last_ts || !pf->any_event)
		pf->last_ts = ev->ts_ns;
	if (!pf->counter_started) {
		pf->counter_started = true;
		err = counter(s, ev->ts_ns, pf->lost);
	}
	pf->any_event = true;
	err = err ?: track(s, task, ev);
	if (!err && pp && ev->kind == EKP_PROBE_ENTRY && pp->phase >= 0 &&
	    !pf->phase_seen[pp->phase])
		err = phase_reached(s, pp->phase, ev->ts_ns);
	if (err)
		return err;
	if (pp && pp->opens && ev->kind == EKP_PROBE_ENTRY) {
		struct ekp_buf name = { 0 };
		char *cat = probe_name(ev->probe);
		json_t *o;

		err = cat ? slice_name(s, pp, ev, &name) : -ENOMEM;
		o = element("B", name.data, cat, tid, &err);
		free(cat);
		if (o)
			set(o, "args", args_of(s, ev, false, &err), &err);
		err = emit(s, o, ev->ts_ns, err);
		if (!err && ekp_pair_push(&pf->pair, task, ev->addr, ev->ts_ns,
					  (size_t)(uintptr_t)name.data))
			err = ekp_err(ENOMEM, "out of memory");
		if (err)
			ekp_buf_free(&name);
		return err;
	}
	if (pp && pp->closes && ev->kind == EKP_PROBE_RETURN) {
		struct pf_unfinished u = { .s = s, .ts_ns = ev->ts_ns };
		struct ekp_pair_frame f;

		if (ekp_pair_pop(&pf->pair, task, ev->addr, &f, unfinished, &u)) {
			char *name = (char *)(uintptr_t)f.payload;

			err = u.err ?: slice_end(s, tid, name, args_of(s, ev, false, &err), ev->ts_ns);
			free(name);
			return err;
		}
	}
	return instant(s, ev, tid);
}

static int pf_lost(struct ekp_sink *s, uint64_t ts_ns, uint64_t lost)
{
	struct perfetto *pf;
	int err = start(s);

	if (err)
		return err;
	pf = s->priv;
	if (lost == pf->lost)
		return 0;
	pf->lost = lost;
	pf->counter_started = true;
	return counter(s, pf->any_event ? pf->last_ts : ts_ns, lost);
}

static int pf_summary(struct ekp_sink *s, const struct ekp_summary *sum)
{
	struct ekp_buf b = { 0 };
	struct perfetto *pf;
	int err = start(s);

	if (err)
		return err;
	pf = s->priv;
	err = ekp_format_summary_json(&b, sum, s->st);
	/* {"summary":{...}}\n -> "summary":{...} */
	if (!err && (b.len < 4 || b.data[0] != '{' || b.data[b.len - 2] != '}'))
		err = -EINVAL;
	if (err) {
		ekp_buf_free(&b);
		return ekp_err(-err, "formatting the summary: %s", strerror(-err));
	}
	b.data[b.len - 2] = '\0';
	free(pf->summary);
	pf->summary = strdup(b.data + 1);
	ekp_buf_free(&b);
	return pf->summary ? 0 : ekp_err(ENOMEM, "out of memory");
}

static int pf_finish(struct ekp_sink *s)
{
	struct perfetto *pf;
	struct pf_unfinished u = { .s = s };
	int err = start(s);

	if (err)
		return err;
	pf = s->priv;
	u.ts_ns = pf->last_ts;
	ekp_pair_drain(&pf->pair, unfinished, &u);
	err = u.err;
	if (!err && pf->phase >= 0) {
		json_t *none = json_object();

		err = none ? slice_end(s, PF_TID_PHASES, ekp_phase_name(pf->phase), none,
				       pf->last_ts)
			   : ekp_err(ENOMEM, "out of memory");
		pf->phase = -1;
	}
	if (err)
		return err;
	ekp_buf_reset(&s->trailer);
	err = ekp_buf_printf(&s->trailer, "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{"
			     "\"source\":\"ekprobe-host\",\"clock\":\"guest run time\"}%s%s}\n",
			     pf->summary ? "," : "", pf->summary ? pf->summary : "");
	return err ? ekp_err(-err, "out of memory") : 0;
}

static void free_payload(void *ctx, uint64_t task, const struct ekp_pair_frame *f)
{
	free((char *)(uintptr_t)f->payload);
}

static void pf_fini(struct ekp_sink *s)
{
	struct perfetto *pf = s->priv;

	if (!pf)
		return;
	ekp_pair_drain(&pf->pair, free_payload, NULL);
	ekp_pair_fini(&pf->pair);
	for (size_t i = 0; i < pf->tracks_cap; i++)
		free(pf->tracks[i].name);
	free(pf->tracks);
	free(pf->p);
	free(pf->summary);
	free(pf);
	s->priv = NULL;
}

const struct ekp_sink_ops ekp_sink_perfetto_ops = {
	.probes = pf_probes,
	.event = pf_event,
	.summary = pf_summary,
	.lost = pf_lost,
	.finish = pf_finish,
	.fini = pf_fini,
};
