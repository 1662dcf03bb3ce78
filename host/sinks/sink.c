// SPDX-License-Identifier: GPL-2.0
/*
 * A sink writes formatted records to a file descriptor; every record is complete on its own
 * line(s), and a write error never leaves part of one in a regular file (see sink.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "host/sinks/sink.h"

/* Records are written in chunks of about this size (or at every flush). */
#define SINK_CHUNK 65536

void ekp_sink_init(struct ekp_sink *s, enum ekp_format format, int fd, const char *name,
		   const struct ekp_symtab *st)
{
	struct stat sb;

	memset(s, 0, sizeof(*s));
	s->format = format;
	s->fd = fd;
	s->name = name ? name : "standard output";
	s->st = st;
	s->regular = !fstat(fd, &sb) && S_ISREG(sb.st_mode);
	s->unbuffered = isatty(fd);
}

int ekp_sink_error(const struct ekp_sink *s)
{
	return s->err ? ekp_err(s->err, "%s", s->errmsg) : 0;
}

static void drop_pending(struct ekp_sink *s)
{
	ekp_buf_reset(&s->pending);
	ekp_buf_reset(&s->ends);
}

/* The end of the last whole record among the first done bytes of pending. */
static size_t whole_records(const struct ekp_sink *s, size_t done)
{
	size_t keep = 0, end;

	for (size_t i = 0; i + sizeof(end) <= s->ends.len; i += sizeof(end)) {
		memcpy(&end, s->ends.data + i, sizeof(end));
		if (end > done)
			break;
		keep = end;
	}
	return keep;
}

/* Writing failed with errnum after done bytes of pending: cut the partial record, fail. */
/* Writing failed with errnum after done bytes of pending: cut the partial record, fail. */
static int write_failed(struct ekp_sink *s, int errnum, size_t done)
{
	size_t cut = done - whole_records(s, done);
	char why[128] = "";

	if (cut && s->regular) {
		off_t pos = lseek(s->fd, 0, SEEK_CUR);
		int terr = 0;

		if (pos < 0)
			terr = errno;
		else if (pos < (off_t)cut)
			terr = EINVAL; /* the file is not what we wrote: leave it */
		else if (ftruncate(s->fd, pos - (off_t)cut))
			terr = errno;
		if (terr)
			snprintf(why, sizeof(why), " (and its last record is cut: truncating: %s)",
				 strerror(terr));
	}
	snprintf(s->errmsg, sizeof(s->errmsg), "writing the trace to %s: %s%s", s->name,
		 strerror(errnum), why);
	s->err = -errnum;
	drop_pending(s);
	return ekp_err(errnum, "%s", s->errmsg);
}

static int write_pending(struct ekp_sink *s)
{
	size_t done = 0;

	while (done < s->pending.len) {
		ssize_t n = write(s->fd, s->pending.data + done, s->pending.len - done);

		if (n > 0) {
			done += (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			/* A non-blocking descriptor (inherited): wait as a blocking write would. */
			struct pollfd p = { .fd = s->fd, .events = POLLOUT };

			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return write_failed(s, errno, done);
		} else if (n < 0 && errno != EINTR) {
			return write_failed(s, errno, done);
		} else if (n == 0) {
			return write_failed(s, EIO, done);
		}
	}
	drop_pending(s);
	return 0;
}

/* Format one record at the end of pending; write when the chunk is full. */
static int add_record(struct ekp_sink *s, const struct ekp_event *ev,
		      const struct ekp_summary *sum, const struct ekp_handoff_mark *mark)
{
	size_t start = s->pending.len, end;
	int err;

	if (s->err)
		return ekp_sink_error(s);
	if (ev)
		err = s->format == EKP_FORMAT_JSON ? ekp_format_json(&s->pending, ev, s->st)
						   : ekp_format_text(&s->pending, ev, s->st);
	else if (mark)
		err = s->format == EKP_FORMAT_JSON ? ekp_format_handoff_json(&s->pending, mark)
						   : ekp_format_handoff_text(&s->pending, mark);
	else
		err = s->format == EKP_FORMAT_JSON ? ekp_format_summary_json(&s->pending, sum, s->st)
						   : ekp_format_summary_text(&s->pending, sum, s->st);
	end = s->pending.len;
	err = err ?: ekp_buf_append(&s->ends, &end, sizeof(end));
	if (err) {
		s->pending.len = start; /* nothing of this record stays */
		return ekp_err(-err, "formatting %s: %s", ev ? "an event" :
			       mark ? "the handoff" : "the summary",
			       strerror(-err));
	}
	if (ev) {
		s->events++;
		s->unknown_task += !ev->task.known;
	}
	if (s->unbuffered || s->pending.len >= SINK_CHUNK)
		return write_pending(s);
	return 0;
}

void ekp_sink_set_symtab(struct ekp_sink *s, const struct ekp_symtab *st)
{
	s->st = st;
}

int ekp_sink_event(struct ekp_sink *s, const struct ekp_event *ev)
{
	return add_record(s, ev, NULL, NULL);
}

int ekp_sink_handoff(struct ekp_sink *s, const struct ekp_handoff_mark *m)
{
	return add_record(s, NULL, NULL, m);
}

int ekp_sink_summary(struct ekp_sink *s, const struct ekp_summary *sum)
{
	struct ekp_summary mine = *sum;
	int err;

	mine.unknown_task = s->unknown_task;
	err = add_record(s, NULL, &mine, NULL);
	return err ?: ekp_sink_flush(s);
}

int ekp_sink_flush(struct ekp_sink *s)
{
	if (s->err)
		return ekp_sink_error(s);
	return write_pending(s);
}

void ekp_sink_fini(struct ekp_sink *s)
{
	ekp_buf_free(&s->pending);
	ekp_buf_free(&s->ends);
}
