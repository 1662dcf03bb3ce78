// SPDX-License-Identifier: GPL-2.0
/* A sink writes formatted records to a stream; every record is complete on its own line. */
#include <errno.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/sinks/sink.h"

void ekp_sink_init(struct ekp_sink *s, enum ekp_format format, FILE *out,
		   const struct ekp_symtab *st)
{
	memset(s, 0, sizeof(*s));
	s->format = format;
	s->out = out;
	s->st = st;
}

static int write_line(struct ekp_sink *s)
{
	if (fwrite(s->line.data, 1, s->line.len, s->out) != s->line.len)
		return ekp_err(EIO, "writing the trace: %s", strerror(errno));
	return 0;
}

int ekp_sink_event(struct ekp_sink *s, const struct ekp_event *ev)
{
	int err;

	ekp_buf_reset(&s->line);
	err = s->format == EKP_FORMAT_JSON ? ekp_format_json(&s->line, ev, s->st)
					   : ekp_format_text(&s->line, ev, s->st);
	if (err)
		return ekp_err(-err, "formatting an event: %s", strerror(-err));
	s->written++;
	return write_line(s);
}

int ekp_sink_summary(struct ekp_sink *s, const struct ekp_summary *sum)
{
	int err;

	ekp_buf_reset(&s->line);
	err = s->format == EKP_FORMAT_JSON ? ekp_format_summary_json(&s->line, sum, s->st)
					   : ekp_format_summary_text(&s->line, sum, s->st);
	if (err)
		return ekp_err(-err, "formatting the summary: %s", strerror(-err));
	return write_line(s);
}

int ekp_sink_flush(struct ekp_sink *s)
{
	if (fflush(s->out))
		return ekp_err(EIO, "writing the trace: %s", strerror(errno));
	return 0;
}

void ekp_sink_fini(struct ekp_sink *s)
{
	ekp_buf_free(&s->line);
}
