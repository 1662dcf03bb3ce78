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
	/* Microseconds rounded to the nearest, as ftrace (ns2usecs) and trace-cmd report show. */
	uint64_t us = ev->ts_ns / 1000 + (ev->ts_ns % 1000 >= 500);
	int err;

	err = format_task(out, &ev->task);
	err = err ?: ekp_buf_printf(out, " [%03u] %5" PRIu64 ".%06" PRIu64 ": %s/%s: (", ev->cpu,
				    us / 1000000, us % 1000000, p->group, p->event);
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

/* "# handoff at 1.234567: ekprobe's stream of t/in t/out ends here ...". */
int ekp_format_handoff_text(struct ekp_buf *out, const struct ekp_handoff_mark *m)
{
	int err;

	if (m->detached) {
		err = ekp_buf_printf(out, "# detached at %" PRIu64 ".%06" PRIu64 ": ekprobe's "
				     "stream ends here (every probe); the guest runs on without "
				     "ekprobe, %s record", m->ts_ns / UINT64_C(1000000000),
				     m->ts_ns / 1000 % 1000000, m->to);
		for (unsigned int i = 0; !err && i < m->nr_probes; i++)
			if (m->handed[i])
				err = ekp_buf_printf(out, " %s/%s", m->probes[i]->group,
						     m->probes[i]->event);
		return err ?: ekp_buf_printf(out, "\n");
	}
	err = ekp_buf_printf(out, "# handoff at %" PRIu64 ".%06" PRIu64 ": ekprobe's stream of",
			     m->ts_ns / UINT64_C(1000000000), m->ts_ns / 1000 % 1000000);
	for (unsigned int i = 0; !err && i < m->nr_probes; i++)
		if (m->handed[i])
			err = ekp_buf_printf(out, " %s/%s", m->probes[i]->group, m->probes[i]->event);
	return err ?: ekp_buf_printf(out, " ends here (but for returns of frames entered "
				     "before); from here on they are recorded by %s\n", m->to);
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
	if (!err && s->kaslr)
		err = ekp_buf_printf(out, "# KASLR: virtual offset 0x%" PRIx64 ", physical offset 0x%"
				     PRIx64 " (the kernel's first instruction at physical 0x%" PRIx64
				     ")\n", s->virt_slide, s->phys_slide, s->entry_phys);
	if (!err && s->handoff && s->handed_over)
		err = ekp_buf_printf(out, "# handoff to the guest's own kprobes at %.6f s guest "
				     "run time: later hits of the probes marked \"handed off\" are "
				     "in the guest's trace\n", (double)s->handoff_ns / 1e9);
	else if (!err && s->handoff)
		err = ekp_buf_printf(out, "# handoff asked for but never happened (the guest did not "
				     "enable its boot-time kprobe events): every hit is here\n");
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
		if (!err && ps->handed_off)
			err = ekp_buf_printf(out, " (handed off: %" PRIu64 " before the handoff)",
					     ps->hits_before_handoff);
		err = err ?: ekp_buf_printf(out, "\n");
	}
	return err;
}
