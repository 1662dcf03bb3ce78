// SPDX-License-Identifier: GPL-2.0
/*
 * JSON lines: one object per event, and a final {"summary": ...} object with --summary.
 * Integers of type u/s are JSON numbers when they fit in 53 bits, hex types and addresses are
 * strings ("0x..."), so no consumer loses precision. Strings from the guest or a file are
 * escaped first (ekp_format_escaped), so jansson always takes them and no key goes missing;
 * any failure to build an object fails the record instead of dropping a key.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "host/sinks/sink.h"

json_t *ekp_json_hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

static json_t *buf_string(struct ekp_buf *b, int err)
{
	json_t *j = err ? NULL : json_stringn(b->data ? b->data : "", b->len);

	ekp_buf_free(b);
	return j;
}

json_t *ekp_json_escaped(const char *s)
{
	struct ekp_buf b = { 0 };

	return buf_string(&b, ekp_format_escaped(&b, s));
}

json_t *ekp_json_sym(const struct ekp_symtab *st, uint64_t addr)
{
	struct ekp_buf b = { 0 };

	return buf_string(&b, ekp_format_sym(&b, st, addr));
}

/* json_object_set_new(), remembering a failure (no value, no memory) in *err. */
static void set(json_t *o, const char *key, json_t *v, int *err)
{
	if (json_object_set_new(o, key, v))
		*err = -ENOMEM;
}

static json_t *scalar(const struct ekp_type *t, uint64_t v, const struct ekp_symtab *st)
{
	int64_t s;

	switch (t->base) {
	case EKP_T_U:
	case EKP_T_BITFIELD:
		return v < (1ull << 53) ? json_integer((json_int_t)v) : ekp_json_hex(v);
	case EKP_T_S:
		s = t->size >= 8 ? (int64_t)v : (int64_t)(v << (64 - 8 * t->size)) >> (64 - 8 * t->size);
		return json_integer((json_int_t)s);
	case EKP_T_SYMBOL:
		return ekp_json_sym(st, v);
	default:
		return ekp_json_hex(v);
	}
}

json_t *ekp_json_value(const struct ekp_arg *arg, const struct ekp_value *v,
		      const struct ekp_symtab *st)
{
	const struct ekp_type *t = &arg->type;
	json_t *arr;

	if (v->err)
		return json_null();
	if (ekp_value_is_string(arg))
		return ekp_json_escaped(v->str);
	if (!t->array_len)
		return scalar(t, v->u[0], st);
	arr = json_array();
	for (unsigned int i = 0; arr && i < v->count; i++) {
		if (json_array_append_new(arr, scalar(t, v->u[i], st))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static char *dump(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);

	json_decref(obj);
	return s;
}

static int dump_line(struct ekp_buf *out, json_t *obj, int err)
{
	char *s;

	if (err) {
		json_decref(obj);
		return err;
	}
	s = dump(obj);
	if (!s)
		return -ENOMEM;
	err = ekp_buf_printf(out, "%s\n", s);
	free(s);
	return err;
}

/*
 * head + "key":v + tail as one object line. jansson's integers are int64: an unsigned value
 * at or above 2^63 can only be written exactly by printing it ourselves, between two objects
 * jansson dumped (both non-empty, so the commas are right).
 */
static int dump_line_u64(struct ekp_buf *out, json_t *head, const char *key, uint64_t v,
			 json_t *tail, int err)
{
	char *h = NULL, *t = NULL;
	size_t hl, tl;

	if (err) {
		json_decref(head);
		json_decref(tail);
		return err;
	}
	h = dump(head);
	t = dump(tail);
	hl = h ? strlen(h) : 0;
	tl = t ? strlen(t) : 0;
	if (hl < 3 || h[hl - 1] != '}' || tl < 3 || t[0] != '{')
		err = -ENOMEM;
	else
		err = ekp_buf_printf(out, "%.*s,\"%s\":%" PRIu64 ",%s\n", (int)(hl - 1), h, key, v,
				     t + 1);
	free(h);
	free(t);
	return err;
}

int ekp_format_json(struct ekp_buf *out, const struct ekp_event *ev, const struct ekp_symtab *st)
{
	const struct ekp_probe *p = ev->probe;
	char name[2 * EKP_MAX_NAME + 2];
	json_t *o = json_object(), *rest = json_object(), *args = json_object();
	int err = 0;

	if (!o || !rest || !args) {
		json_decref(o);
		json_decref(rest);
		json_decref(args);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "%s/%s", p->group, p->event);
	set(o, "probe", json_string(name), &err);
	set(o, "kind", json_string(ev->kind == EKP_PROBE_RETURN ? "return" : "entry"), &err);
	set(o, "addr", ekp_json_hex(ev->addr), &err);
	set(o, "sym", ekp_json_sym(st, ev->addr), &err);
	if (ev->kind == EKP_PROBE_RETURN) {
		set(o, "ret_addr", ekp_json_hex(ev->ret_addr), &err);
		set(o, "ret_sym", ekp_json_sym(st, ev->ret_addr), &err);
	}
	if (ev->hit_pc != ev->addr && ev->kind == EKP_PROBE_ENTRY)
		set(o, "pc", ekp_json_hex(ev->hit_pc), &err);
	set(o, "cpu", json_integer((json_int_t)ev->cpu), &err);
	/* "ts_ns" goes here, between o and rest. */
	set(rest, "engine", json_string(ev->engine), &err);
	if (ev->task.known) {
		set(rest, "comm", ev->task.idle ? json_string("<idle>") : ekp_json_escaped(ev->task.comm),
		    &err);
		set(rest, "pid", json_integer(ev->task.idle ? 0 : ev->task.pid), &err);
	} else {
		set(rest, "comm", json_null(), &err);
		set(rest, "pid", json_null(), &err);
	}
	for (unsigned int i = 0; i < ev->nr_values; i++)
		set(args, p->args[i].name, ekp_json_value(&p->args[i], &ev->values[i], st), &err);
	set(rest, "args", args, &err);
	return dump_line_u64(out, o, "ts_ns", ev->ts_ns, rest, err);
}

/* Host-side counts and times: far below 2^63, plain JSON numbers. */
static json_t *counter(uint64_t v)
{
	return json_integer((json_int_t)v);
}

/* {"handoff":{"ts_ns":N,"to":"...","probes":["GRP/EVENT",...]}}; after
 * --detach-after-handoff, {"detached":{...}} with the same members. */
int ekp_format_handoff_json(struct ekp_buf *out, const struct ekp_handoff_mark *m)
{
	json_t *o = json_object(), *w = json_object(), *probes = json_array();
	int err = 0;

	if (!o || !w || !probes) {
		json_decref(o);
		json_decref(w);
		json_decref(probes);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < m->nr_probes; i++) {
		char name[2 * EKP_MAX_NAME + 2];

		if (!m->handed[i])
			continue;
		snprintf(name, sizeof(name), "%s/%s", m->probes[i]->group, m->probes[i]->event);
		if (json_array_append_new(probes, json_string(name)))
			err = -ENOMEM;
	}
	set(w, "ts_ns", counter(m->ts_ns), &err);
	set(w, "to", json_string(m->to), &err);
	set(w, "probes", probes, &err);
	set(o, m->detached ? "detached" : "handoff", w, &err);
	return dump_line(out, o, err);
}

int ekp_format_summary_json(struct ekp_buf *out, const struct ekp_summary *s,
			    const struct ekp_symtab *st)
{
	json_t *o = json_object(), *probes = json_array(), *w = json_object();
	int err = 0;

	if (!o || !probes || !w) {
		json_decref(o);
		json_decref(probes);
		json_decref(w);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < s->nr_probes; i++) {
		const struct ekp_probe_stats *ps = &s->stats[i];
		char name[2 * EKP_MAX_NAME + 2];
		json_t *p = json_object();

		snprintf(name, sizeof(name), "%s/%s", ps->probe->group, ps->probe->event);
		if (!p) {
			err = -ENOMEM;
			break;
		}
		set(p, "probe", json_string(name), &err);
		set(p, "kind", json_string(ps->probe->kind == EKP_PROBE_RETURN ? "return" : "entry"),
		    &err);
		set(p, "addr", ekp_json_hex(ps->probe->addr), &err);
		set(p, "sym", ekp_json_sym(st, ps->probe->addr), &err);
		set(p, "engine", json_string(ps->engine ? ps->engine : "-"), &err);
		set(p, "hits", counter(ps->hits), &err);
		if (ps->probe->kind == EKP_PROBE_RETURN)
			set(p, "pending", counter(ps->unmatched), &err);
		set(p, "missed", counter(ps->missed), &err);
		if (ps->handed_off) {
			set(p, "handed_off", json_true(), &err);
			set(p, "hits_before_handoff", counter(ps->hits_before_handoff), &err);
		}
		if (json_array_append_new(probes, p))
			err = -ENOMEM;
	}
	set(w, "probes", probes, &err);
	set(w, "hits", counter(s->total_hits), &err);
	set(w, "guest_ns", counter(s->guest_ns), &err);
	set(w, "wall_ns", counter(s->wall_ns), &err);
	set(w, "stopped_ns", counter(s->stopped_ns), &err);
	set(w, "stops", counter(s->stops), &err);
	set(w, "round_trips", counter(s->round_trips), &err);
	set(w, "steps_repeated", counter(s->resteps), &err);
	set(w, "lost", counter(s->lost), &err);
	set(w, "invalid", counter(s->invalid), &err);
	set(w, "unknown_task", counter(s->unknown_task), &err);
	if (s->handoff)
		set(w, "handoff_ns", s->handed_over ? counter(s->handoff_ns) : json_null(), &err);
	set(w, "end", ekp_json_escaped(s->end ? s->end : ""), &err);
	if (s->kaslr) {
		json_t *k = json_object();

		if (!k)
			err = -ENOMEM;
		set(k, "virt_offset", ekp_json_hex(s->virt_slide), &err);
		set(k, "phys_offset", ekp_json_hex(s->phys_slide), &err);
		set(k, "entry_phys", ekp_json_hex(s->entry_phys), &err);
		set(w, "kaslr", k, &err);
	} else {
		set(w, "kaslr", json_null(), &err);
	}
	set(o, "summary", w, &err);
	return dump_line(out, o, err);
}
