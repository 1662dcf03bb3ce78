// SPDX-License-Identifier: GPL-2.0
/*
 * A sink writes formatted records to a file descriptor; every record is complete on its own
 * line(s), and a write error never leaves part of one in a regular file (see sink.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "host/sinks/ops.h"

/* Records are written in chunks of about this size (or at every flush). */
#define SINK_CHUNK 65536

int ekp_format_by_name(const char *name, enum ekp_format *out)
{
	static const char *const names[] = {
		[EKP_FORMAT_TEXT] = "text", [EKP_FORMAT_JSON] = "json",
		[EKP_FORMAT_TRACEDAT] = "tracedat", [EKP_FORMAT_PERFETTO] = "perfetto",
	};

	for (size_t i = 0; i < EKP_ARRAY_SIZE(names); i++) {
		if (!strcmp(name, names[i])) {
			*out = (enum ekp_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

void ekp_sink_init(struct ekp_sink *s, enum ekp_format format, int fd, const char *name,
		   const struct ekp_symtab *st)
{
	struct stat sb;
	int fl = fcntl(fd, F_GETFL);

	memset(s, 0, sizeof(*s));
	s->format = format;
	s->fd = fd;
	s->name = name ? name : "standard output";
	s->st = st;
	s->regular = !fstat(fd, &sb) && S_ISREG(sb.st_mode);
	s->seekable = s->regular && fl >= 0 && !(fl & O_APPEND);
	s->unbuffered = isatty(fd);
	if (format == EKP_FORMAT_PERFETTO)
		s->ops = &ekp_sink_perfetto_ops;
	else if (format == EKP_FORMAT_TRACEDAT)
		s->ops = &ekp_sink_tracedat_ops;
}

static int one_error(const struct ekp_sink *s)
{
	return s->err ? ekp_err(s->err, "%s", s->errmsg) : 0;
}

/* The first error of the sink or those it tees to. */
int ekp_sink_error(const struct ekp_sink *s)
{
	for (; s; s = s->also)
		if (s->err)
			return one_error(s);
	return 0;
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

/* All of len bytes at offset off, or an errno. */
static int pwrite_all(int fd, const char *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/*
 * A seekable file: the closing goes right after the records written so far, and the file
 * ends there; the file position stays before it, so the next records go over it. 0 or an
 * errno (the file then ends with the last whole record, without its closing).
 */
static int write_trailer(struct ekp_sink *s)
{
	off_t pos = lseek(s->fd, 0, SEEK_CUR);
	int err;

	if (pos < 0)
		return errno;
	err = pwrite_all(s->fd, s->trailer.data, s->trailer.len, pos);
	if (!err && ftruncate(s->fd, pos + (off_t)s->trailer.len))
		err = errno;
	if (err && ftruncate(s->fd, pos))
		return err;
	return err;
}

/* Writing failed with errnum after done bytes of pending: cut the partial record, fail. */
static int write_failed(struct ekp_sink *s, int errnum, size_t done)
{
	size_t cut = done - whole_records(s, done);
	char why[160] = "";

	if ((cut || s->trailer.len) && s->regular) {
		off_t pos = lseek(s->fd, 0, SEEK_CUR);
		int terr = 0;

		if (pos < 0)
			terr = errno;
		else if (pos < (off_t)cut)
			terr = EINVAL; /* the file is not what we wrote: leave it */
		else if (ftruncate(s->fd, pos - (off_t)cut) ||
			 lseek(s->fd, pos - (off_t)cut, SEEK_SET) < 0)
			terr = errno;
		if (terr)
			snprintf(why, sizeof(why), " (and its last record is cut: truncating: %s)",
				 strerror(terr));
		else if (s->seekable && s->trailer.len && (terr = write_trailer(s)))
			snprintf(why, sizeof(why), " (and the file ends without its closing: %s)",
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
	if (s->seekable && s->trailer.len && (done || s->finished)) {
		int err = write_trailer(s);

		if (err) {
			drop_pending(s);
			snprintf(s->errmsg, sizeof(s->errmsg), "writing the trace to %s: %s (the "
				 "file ends with its last whole record, without its closing)", s->name,
				 strerror(err));
			s->err = -err;
			return ekp_err(err, "%s", s->errmsg);
		}
	}
	drop_pending(s);
	return 0;
}

int ekp_sink_commit(struct ekp_sink *s, size_t start, int err)
{
	size_t end = s->pending.len;

	err = err ?: ekp_buf_append(&s->ends, &end, sizeof(end));
	if (err) {
		s->pending.len = start; /* nothing of this record stays */
		if (s->pending.data)
			s->pending.data[start] = '\0';
		return ekp_err_prefix(err, "formatting the trace: ");
	}
	if (s->unbuffered || s->pending.len >= SINK_CHUNK)
		return write_pending(s);
	return 0;
}

static int one_flush(struct ekp_sink *s);

/* Text and JSON: one record (a line) at the end of pending; written when the chunk is full. */
static int add_record(struct ekp_sink *s, const struct ekp_event *ev,
		      const struct ekp_summary *sum, const struct ekp_handoff_mark *mark)
{
	size_t start = s->pending.len;
	int err;

	if (s->err)
		return one_error(s);
	if (ev)
		err = s->format == EKP_FORMAT_JSON ? ekp_format_json(&s->pending, ev, s->st)
						   : ekp_format_text(&s->pending, ev, s->st);
	else if (mark)
		err = s->format == EKP_FORMAT_JSON ? ekp_format_handoff_json(&s->pending, mark)
						   : ekp_format_handoff_text(&s->pending, mark);
	else
		err = s->format == EKP_FORMAT_JSON ? ekp_format_summary_json(&s->pending, sum, s->st)
						   : ekp_format_summary_text(&s->pending, sum, s->st);
	if (err) {
		s->pending.len = start;
		return ekp_err(-err, "formatting %s: %s", ev ? "an event" :
			       mark ? "the handoff" : "the summary",
			       strerror(-err));
	}
	if (ev) {
		s->events++;
		s->unknown_task += !ev->task.known;
	}
	return ekp_sink_commit(s, start, 0);
}

void ekp_sink_set_symtab(struct ekp_sink *s, const struct ekp_symtab *st)
{
	for (; s; s = s->also)
		s->st = st;
}

static int one_probes(struct ekp_sink *s, struct ekp_probe *const *probes, unsigned int n)
{
	if (s->err)
		return one_error(s);
	return s->ops && s->ops->probes ? s->ops->probes(s, probes, n) : 0;
}

static int one_event(struct ekp_sink *s, const struct ekp_event *ev)
{
	int err;

	if (!s->ops)
		return add_record(s, ev, NULL, NULL);
	if (s->err)
		return one_error(s);
	err = s->ops->event(s, ev);
	if (!err) {
		s->events++;
		s->unknown_task += !ev->task.known;
	}
	return err;
}

static int one_lost(struct ekp_sink *s, uint64_t ts_ns, uint64_t lost)
{
	if (s->err)
		return one_error(s);
	return s->ops && s->ops->lost ? s->ops->lost(s, ts_ns, lost) : 0;
}

/* The handoff mark is a line of the text and JSON traces; tracedat and perfetto have their
 * events of the host's stream only (the summary gives the handoff's time). */
static int one_handoff(struct ekp_sink *s, const struct ekp_handoff_mark *m)
{
	if (!s->ops)
		return add_record(s, NULL, NULL, m);
	return s->err ? one_error(s) : 0;
}

static int one_summary(struct ekp_sink *s, const struct ekp_summary *sum)
{
	struct ekp_summary mine = *sum;
	int err;

	mine.unknown_task = s->unknown_task;
	if (!s->ops)
		err = add_record(s, NULL, &mine, NULL);
	else if (s->err)
		err = one_error(s);
	else
		err = s->ops->summary ? s->ops->summary(s, &mine) : 0;
	return err ?: one_flush(s);
}

static int one_finish(struct ekp_sink *s)
{
	int err;

	if (s->finished || s->err)
		return one_error(s);
	s->finished = true;
	err = s->ops && s->ops->finish ? s->ops->finish(s) : 0;
	if (!err && s->trailer.len && !s->seekable) {
		size_t start = s->pending.len;

		err = ekp_sink_commit(s, start, ekp_buf_append(&s->pending, s->trailer.data,
							      s->trailer.len));
	}
	return err ?: one_flush(s);
}

static int one_flush(struct ekp_sink *s)
{
	if (s->err)
		return one_error(s);
	return write_pending(s);
}

/*
 * Every sink of the chain, each whatever the others did; the first error is returned, its
 * reason recorded again when it was a sink's write error (a later sink may have recorded
 * another reason since).
 */
#define EACH(call)                                                              \
	do {                                                                    \
		const struct ekp_sink *bad = NULL;                              \
		int first_err = 0;                                              \
		for (; s; s = s->also) {                                        \
			int one_err = (call);                                   \
			if (one_err && !first_err) {                            \
				first_err = one_err;                            \
				bad = s;                                        \
			}                                                       \
		}                                                               \
		return bad && bad->err == first_err ? one_error(bad) : first_err; \
	} while (0)

int ekp_sink_probes(struct ekp_sink *s, struct ekp_probe *const *probes, unsigned int n)
{
	EACH(one_probes(s, probes, n));
}

int ekp_sink_event(struct ekp_sink *s, const struct ekp_event *ev)
{
	EACH(one_event(s, ev));
}

int ekp_sink_handoff(struct ekp_sink *s, const struct ekp_handoff_mark *m)
{
	EACH(one_handoff(s, m));
}

int ekp_sink_lost(struct ekp_sink *s, uint64_t ts_ns, uint64_t lost)
{
	EACH(one_lost(s, ts_ns, lost));
}

int ekp_sink_summary(struct ekp_sink *s, const struct ekp_summary *sum)
{
	EACH(one_summary(s, sum));
}

int ekp_sink_finish(struct ekp_sink *s)
{
	EACH(one_finish(s));
}

int ekp_sink_flush(struct ekp_sink *s)
{
	EACH(one_flush(s));
}

void ekp_sink_fini(struct ekp_sink *s)
{
	if (s->ops && s->ops->fini)
		s->ops->fini(s);
	ekp_buf_free(&s->pending);
	ekp_buf_free(&s->ends);
	ekp_buf_free(&s->trailer);
}
