// SPDX-License-Identifier: GPL-2.0
/*
 * JSON lines: one object per event, and a final {"summary": ...} object with --summary.
 * Integers of type u/s are JSON numbers when they fit in 53 bits, hex types and addresses are
 * strings ("0x..."), so no consumer loses precision.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <jansson.h>

#include "host/sinks/sink.h"

static json_t *hex_string(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

static json_t *sym_string(const struct ekp_symtab *st, uint64_t addr)
{
	struct ekp_buf b = { 0 };
	json_t *j;

	if (ekp_format_sym(&b, st, addr))
		return NULL;
	j = json_string(b.data);
	ekp_buf_free(&b);
	return j;
}

static json_t *scalar(const struct ekp_type *t, uint64_t v, const struct ekp_symtab *st)
{
	int64_t s;

	switch (t->base) {
	case EKP_T_U:
	case EKP_T_BITFIELD:
		return v < (1ull << 53) ? json_integer((json_int_t)v) : hex_string(v);
	case EKP_T_S:
		s = t->size >= 8 ? (int64_t)v : (int64_t)(v << (64 - 8 * t->size)) >> (64 - 8 * t->size);
		return json_integer((json_int_t)s);
	case EKP_T_SYMBOL:
		return sym_string(st, v);
	default:
		return hex_string(v);
	}
}

static json_t *value_json(const struct ekp_arg *arg, const struct ekp_value *v,
			  const struct ekp_symtab *st)
{
	const struct ekp_type *t = &arg->type;
	json_t *arr;

	if (v->err)
		return json_null();
	if (t->base == EKP_T_STRING || t->base == EKP_T_USTRING ||
	    arg->fetch->op == EKP_FETCH_COMM || (arg->fetch->op == EKP_FETCH_IMM && arg->fetch->imm_str))
		return json_string(v->str); /* jansson escapes and checks UTF-8 */
	if (!t->array_len)
		return scalar(t, v->u[0], st);
	arr = json_array();
	for (unsigned int i = 0; arr && i < v->count; i++)
		json_array_append_new(arr, scalar(t, v->u[i], st));
	return arr;
}

static int dump_line(struct ekp_buf *out, json_t *obj)
{
	char *s;
	int err;

	if (!obj)
		return -ENOMEM;
	s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(obj);
	if (!s)
		return -ENOMEM;
	err = ekp_buf_printf(out, "%s\n", s);
	free(s);
	return err;
}

int ekp_format_json(struct ekp_buf *out, const struct ekp_event *ev, const struct ekp_symtab *st)
{
	const struct ekp_probe *p = ev->probe;
	char name[2 * EKP_MAX_NAME + 2];
	json_t *o = json_object(), *args = json_object();

	if (!o || !args) {
		json_decref(o);
		json_decref(args);
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "%s/%s", p->group, p->event);
	json_object_set_new(o, "probe", json_string(name));
	json_object_set_new(o, "kind", json_string(ev->kind == EKP_PROBE_RETURN ? "return" : "entry"));
	json_object_set_new(o, "addr", hex_string(ev->addr));
	json_object_set_new(o, "sym", sym_string(st, ev->addr));
	if (ev->kind == EKP_PROBE_RETURN) {
		json_object_set_new(o, "ret_addr", hex_string(ev->ret_addr));
		json_object_set_new(o, "ret_sym", sym_string(st, ev->ret_addr));
	}
	if (ev->hit_pc != ev->addr && ev->kind == EKP_PROBE_ENTRY)
		json_object_set_new(o, "pc", hex_string(ev->hit_pc));
	json_object_set_new(o, "cpu", json_integer(ev->cpu));
	json_object_set_new(o, "ts_ns", json_integer((json_int_t)ev->ts_ns));
	json_object_set_new(o, "engine", json_string(ev->engine));
	if (ev->task.known) {
		json_object_set_new(o, "comm", json_string(ev->task.idle ? "<idle>" : ev->task.comm));
		json_object_set_new(o, "pid", json_integer(ev->task.idle ? 0 : ev->task.pid));
	} else {
		json_object_set_new(o, "comm", json_null());
		json_object_set_new(o, "pid", json_null());
	}
	for (unsigned int i = 0; i < ev->nr_values; i++)
		json_object_set_new(args, p->args[i].name, value_json(&p->args[i], &ev->values[i], st));
	json_object_set_new(o, "args", args);
	return dump_line(out, o);
}

int ekp_format_summary_json(struct ekp_buf *out, const struct ekp_summary *s,
			    const struct ekp_symtab *st)
{
	json_t *o = json_object(), *probes = json_array(), *w = json_object();

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
		json_object_set_new(p, "probe", json_string(name));
		json_object_set_new(p, "kind", json_string(ps->probe->kind == EKP_PROBE_RETURN ?
							   "return" : "entry"));
		json_object_set_new(p, "addr", hex_string(ps->probe->addr));
		json_object_set_new(p, "sym", sym_string(st, ps->probe->addr));
		json_object_set_new(p, "engine", json_string(ps->engine ? ps->engine : "-"));
		json_object_set_new(p, "hits", json_integer((json_int_t)ps->hits));
		if (ps->probe->kind == EKP_PROBE_RETURN)
			json_object_set_new(p, "pending", json_integer((json_int_t)ps->unmatched));
		json_object_set_new(p, "missed", json_integer((json_int_t)ps->missed));
		json_array_append_new(probes, p);
	}
	json_object_set_new(w, "probes", probes);
	json_object_set_new(w, "hits", json_integer((json_int_t)s->total_hits));
	json_object_set_new(w, "guest_ns", json_integer((json_int_t)s->guest_ns));
	json_object_set_new(w, "wall_ns", json_integer((json_int_t)s->wall_ns));
	json_object_set_new(w, "stopped_ns", json_integer((json_int_t)s->stopped_ns));
	json_object_set_new(w, "stops", json_integer((json_int_t)s->stops));
	json_object_set_new(w, "round_trips", json_integer((json_int_t)s->round_trips));
	json_object_set_new(w, "steps_repeated", json_integer((json_int_t)s->resteps));
	json_object_set_new(w, "lost", json_integer((json_int_t)s->lost));
	json_object_set_new(w, "invalid", json_integer((json_int_t)s->invalid));
	json_object_set_new(w, "end", json_string(s->end ? s->end : ""));
	json_object_set_new(o, "summary", w);
	return dump_line(out, o);
}
