// SPDX-License-Identifier: GPL-2.0
/*
 * Reading a probe file (--probes FILE) into the probe list, without ever blocking or growing
 * without bound on what the path turns out to be:
 *
 *  - The path is opened with O_NONBLOCK (so that a FIFO with no writer does not block in
 *    open()) and decided by its type: a regular file is read; a pipe or FIFO (`--probes
 *    <(cmd)`, a piped /dev/stdin, a mkfifo whose writer is already waiting) is read until its
 *    writers close it, for at most wait_ms in all; anything else (a terminal or other device,
 *    a directory, a socket) is refused.
 *  - A FIFO that has had no writer since we opened it is refused at once rather than waited
 *    for: read() gives 0 there just as at the end of input, and poll() tells the two apart
 *    (POLLHUP only once a writer has come and gone; an unnamed pipe always had one).
 *  - At most EKP_PROBE_FILE_MAX bytes, lines of at most EKP_PROBE_LINE_MAX bytes, no NUL
 *    byte (a probe file is text; a NUL used to cut the line silently).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "ekprobe/probe.h"
#include "ekprobe/util.h"

#define CHUNK 65536

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "of an unknown type";
}

static int refuse(const char *path, mode_t m)
{
	return ekp_err(S_ISDIR(m) ? EISDIR : EINVAL, "%s: not a regular file or a pipe (%s)", path,
		       type_name(m));
}

static int too_big(const char *name)
{
	return ekp_err(EFBIG, "%s: larger than %u MiB, the limit for a probe file", name,
		       EKP_PROBE_FILE_MAX >> 20);
}

/* read() gave 0 on a FIFO: the end of input only if a writer has come and gone. */
static bool writer_gone(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

/* Wait for a pipe to become readable until deadline; 0, or -ETIMEDOUT with the reason. */
static int wait_pipe(int fd, const char *path, int64_t deadline, int wait_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t left = deadline - now_ms();
	int r = left > 0 ? poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left) : 0;

	if (r > 0 || (r < 0 && errno == EINTR))
		return 0; /* readable or hung up (read() says which), or a signal */
	if (r < 0)
		return ekp_err(errno, "%s: poll: %s", path, strerror(errno));
	return ekp_err(ETIMEDOUT, "%s: the pipe did not reach its end within %d ms, the limit for "
		       "reading probes from a pipe", path, wait_ms);
}

/* All of fd (a regular file or a pipe), at most EKP_PROBE_FILE_MAX bytes. */
static int read_all(int fd, const char *path, bool fifo, int wait_ms, struct ekp_buf *b)
{
	int64_t deadline = now_ms() + (wait_ms > 0 ? wait_ms : 0);

	for (;;) {
		/* Read one byte past the limit, never more, to tell "at the limit" from "over". */
		size_t want = EKP_PROBE_FILE_MAX + 1 - b->len;
		ssize_t n;
		int err;

		if (want > CHUNK)
			want = CHUNK;
		err = ekp_buf_reserve(b, want);
		if (err)
			return ekp_err(ENOMEM, "%s: out of memory", path);
		n = read(fd, b->data + b->len, want);
		if (n > 0) {
			b->len += (size_t)n;
			b->data[b->len] = '\0';
			if (b->len > EKP_PROBE_FILE_MAX)
				return too_big(path);
			continue;
		}
		if (n == 0) {
			if (!fifo || b->len || writer_gone(fd))
				return 0;
			return ekp_err(ENXIO, "%s: a FIFO with no writer (start the writer first, or "
				       "give a regular file)", path);
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && fifo) {
			err = wait_pipe(fd, path, deadline, wait_ms);
			if (err)
				return err;
			continue;
		}
		return ekp_err(errno, "%s: %s", path, strerror(errno));
	}
}

int ekp_probe_list_load_wait(struct ekp_probe_list *l, const char *path, int wait_ms)
{
	struct ekp_buf b = { 0 };
	struct stat sb;
	int fd, err;

	if (!l || !path)
		return ekp_err(EINVAL, "no probe list or path");
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		/* A socket can not be opened (ENXIO): say what it is. */
		if (!stat(path, &sb) && !S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode))
			return refuse(path, sb.st_mode);
		return ekp_err(err, "%s: %s", path, strerror(err));
	}
	if (fstat(fd, &sb)) {
		err = ekp_err(errno, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode)) {
		err = refuse(path, sb.st_mode);
	} else if (S_ISREG(sb.st_mode) && sb.st_size > (off_t)EKP_PROBE_FILE_MAX) {
		err = too_big(path);
	} else {
		err = read_all(fd, path, S_ISFIFO(sb.st_mode), wait_ms, &b);
		if (!err)
			err = ekp_probe_list_load_buf(l, b.data ? b.data : "", b.len, path);
	}
	ekp_buf_free(&b);
	close(fd);
	return err;
}

int ekp_probe_list_load(struct ekp_probe_list *l, const char *path)
{
	return ekp_probe_list_load_wait(l, path, EKP_PROBE_PIPE_WAIT_MS);
}

int ekp_probe_list_load_buf(struct ekp_probe_list *l, const char *data, size_t len,
			    const char *name)
{
	unsigned int lineno = 0;
	size_t pos = 0;
	char *line;
	int err = 0;

	if (!l || (!data && len) || !name)
		return ekp_err(EINVAL, "no probe list, data or name");
	if (len > EKP_PROBE_FILE_MAX)
		return too_big(name);
	line = malloc(EKP_PROBE_LINE_MAX + 1);
	if (!line)
		return ekp_err(ENOMEM, "%s: out of memory", name);
	while (pos < len && !err) {
		const char *s = data + pos, *nl = memchr(s, '\n', len - pos), *nul;
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		lineno++;
		pos += n + (nl != NULL);
		if (n > EKP_PROBE_LINE_MAX) {
			err = ekp_err(EINVAL, "%s:%u:%u: line longer than %u KiB, the limit for a "
				      "probe line", name, lineno, EKP_PROBE_LINE_MAX + 1,
				      EKP_PROBE_LINE_MAX >> 10);
			break;
		}
		nul = memchr(s, '\0', n);
		if (nul) {
			err = ekp_err(EINVAL, "%s:%u:%zu: NUL byte: a probe file is text", name,
				      lineno, (size_t)(nul - s) + 1);
			break;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		err = ekp_probe_list_add(l, line, name, lineno);
	}
	free(line);
	return err;
}
