// SPDX-License-Identifier: GPL-2.0
/*
 * Text format, modelled on the ftrace trace file:
 *   <comm>-<pid> [<cpu>] <seconds.micros>: <GRP>/<EVENT>: (<sym>+0x<off>) name=value ...
 * Return events show "(<where it returned to> <- <function>)" as kretprobe events do.
 */
#include <inttypes.h>
#include <stdio.h>

#include "host/sinks/sink.h"

static int format_task(struct ekp_buf *out, const struct ekp_task *t)
{
	struct ekp_buf comm = { 0 };
	int err;

	if (t->known && t->idle)
		return ekp_buf_printf(out, "%16s-%-7d", "<idle>", 0);
	if (!t->known)
		return ekp_buf_printf(out, "%16s-%-7s", "<...>", "?");
	err = ekp_format_escaped(&comm, t->comm);
	err = err ?: ekp_buf_printf(out, "%16s-%-7d", comm.data ? comm.data : "", t->pid);
	ekp_buf_free(&comm);
	return err;
}

int ekp_format_text(struct ekp_buf *out, const struct ekp_event *ev, const struct ekp_symtab *st)
{
	const struct ekp_probe *p = ev->probe;
	int err;

	err = format_task(out, &ev->task);
	err = err ?: ekp_buf_printf(out, " [%03u] %5" PRIu64 ".%06" PRIu64 ": %s/%s: (", ev->cpu,
				    ev->ts_ns / UINT64_C(1000000000), ev->ts_ns / 1000 % 1000000,
				    p->group, p->event);
	if (ev->kind == EKP_PROBE_RETURN) {
		err = err ?: ekp_format_sym(out, st, ev->ret_addr);
		err = err ?: ekp_buf_printf(out, " <- ");
		err = err ?: ekp_format_sym(out, st, ev->addr);
	} else {
		err = err ?: ekp_format_sym(out, st, ev->addr);
	}
	err = err ?: ekp_buf_printf(out, ")");
	for (unsigned int i = 0; !err && i < ev->nr_values; i++) {
		err = ekp_buf_printf(out, " %s=", p->args[i].name);
		err = err ?: ekp_format_value(out, &p->args[i], &ev->values[i], st);
	}
	return err ?: ekp_buf_printf(out, "\n");
}

int ekp_format_summary_text(struct ekp_buf *out, const struct ekp_summary *s,
			    const struct ekp_symtab *st)
{
	int err;

	err = ekp_buf_printf(out, "#\n# ekprobe summary: %u probes, %" PRIu64 " hits; ",
			     s->nr_probes, s->total_hits);
	err = err ?: ekp_format_escaped(out, s->end ? s->end : "");
	err = err ?: ekp_buf_printf(out,
			     "\n# guest run time %.3f s, wall %.3f s, guest held stopped %.3f s\n"
			     "# %" PRIu64 " stops, %" PRIu64 " gdbstub round trips after arming, %" PRIu64
			     " single-step%s repeated\n",
			     (double)s->guest_ns / 1e9, (double)s->wall_ns / 1e9,
			     (double)s->stopped_ns / 1e9, s->stops, s->round_trips, s->resteps,
			     s->resteps == 1 ? "" : "s");
	if (!err && (s->lost || s->invalid))
		err = ekp_buf_printf(out, "# exit-less engines (jump, plugin): %" PRIu64 " records LOST (ring full), %" PRIu64
				     " invalid records\n", s->lost, s->invalid);
	if (!err && s->unknown_task)
		err = ekp_buf_printf(out, "# %" PRIu64 " event%s with an unknown task (<...>-?)\n",
				     s->unknown_task, s->unknown_task == 1 ? "" : "s");
	if (!err)
		err = ekp_buf_printf(out, "#\n#     HITS  ENGINE  PROBE                                 WHERE\n");
	for (unsigned int i = 0; !err && i < s->nr_probes; i++) {
		const struct ekp_probe_stats *ps = &s->stats[i];
		char name[2 * EKP_MAX_NAME + 2];

		snprintf(name, sizeof(name), "%s/%s", ps->probe->group, ps->probe->event);
		err = ekp_buf_printf(out, "# %8" PRIu64 "  %-6s  %-36s  %s", ps->hits,
				     ps->engine ? ps->engine : "-", name,
				     ps->probe->kind == EKP_PROBE_RETURN ? "return of " : "");
		err = err ?: ekp_format_sym(out, st, ps->probe->addr);
		if (!err && ps->unmatched)
			err = ekp_buf_printf(out, " (%" PRIu64 " entries still pending)", ps->unmatched);
		if (!err && ps->missed)
			err = ekp_buf_printf(out, " (%" PRIu64 " MISSED)", ps->missed);
		err = err ?: ekp_buf_printf(out, "\n");
	}
	return err;
}
