// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking RSP client on a stream socket, shaped after QEMU 7.2's gdbstub (system mode):
 *
 * - Ack mode only (QEMU has no QStartNoAckMode). Every packet we send waits for '+', and is
 *   sent again on '-' (RSP_RETRIES times). Every packet we receive is acked with '+'; a bad
 *   checksum is answered with '-' (the stub sends the packet again).
 * - A packet that arrives while we wait for an ack is acked and queued; the next receive takes
 *   it first. (QEMU acks before it answers, so this only catches stale stop replies.)
 * - While the VM runs (after rsp_resume, until rsp_wait_stop returns a stop), every byte we
 *   send stops it, so commands are refused with -EBUSY; only rsp_interrupt may write.
 * - Never sends '?': in QEMU it deletes every breakpoint.
 * - Reads take what the socket has, except while waiting for an ack: then the client peeks
 *   and takes bytes off the socket only up to the end of the ack, so after rsp_resume nothing
 *   of a later stop reply sits in our buffers: poll() on rsp_fd() is a reliable "a stop is
 *   coming" signal.
 *
 * Timeouts are per call and cover the whole call (several round trips for qXfer, m, M). The
 * deadline is checked before every read and every wait, so a stub that keeps sending bytes
 * without completing what we wait for cannot hold a call past it. The socket is non-blocking;
 * reads and writes wait in poll().
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ekprobe/err.h"
#include "proto/rsp.h"

#define RSP_RETRIES          3     /* resends of a packet the stub answered with '-' */
#define RSP_QUEUE            8     /* packets received while waiting for an ack */
#define RSP_DEFAULT_PKTSIZE  1024u /* until qSupported says otherwise */
#define RSP_MIN_PKTSIZE      64u
#define RSP_MAX_PKTSIZE      (1u << 20)
#define RSP_MAX_DOC          (1u << 20) /* one target description document */
#define RSP_MAX_DOCS         32u
#define RSP_MAX_THREADS      4096u
#define RSP_RX_CHUNK         16384 /* bytes taken off the socket per read */

struct rsp_client {
	int fd;
	struct rsp_decoder dec;
	struct ekp_buf tx;                /* last packet sent, for retransmission */
	struct ekp_buf queue[RSP_QUEUE];  /* received before anyone asked */
	unsigned int q_head, q_len;
	unsigned int packet_size;
	bool multiprocess;
	bool running;
	long pid;                         /* process for "D;pid" (QEMU: 1) */
	struct rsp_thread last;           /* thread of the last stop, for rsp_step(NULL) */
	bool has_last;
	uint64_t round_trips;             /* see rsp_round_trips() */
};

/* ---- time ---- */

static int64_t rsp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deadline in CLOCK_MONOTONIC ms, or -1 for none. */
static int64_t rsp_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : rsp_now_ms() + timeout_ms;
}

/* poll() timeout until the deadline: -1 forever, 0 when past. */
static int rsp_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - rsp_now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static void rsp_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- raw I/O ---- */

static bool rsp_expired(int64_t deadline)
{
	return deadline >= 0 && rsp_now_ms() >= deadline;
}

/* Wait for events until the deadline: 0, or -ETIMEDOUT (the deadline may already be past). */
static int rsp_wait_fd(struct rsp_client *c, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int r;

	for (;;) {
		if (rsp_expired(deadline))
			return -ETIMEDOUT;
		r = poll(&pfd, 1, rsp_left(deadline));
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return ekp_err(errno, "rsp: poll: %s", strerror(errno));
	}
}

static int rsp_write_all(struct rsp_client *c, const void *data, size_t len, int64_t deadline)
{
	const char *p = data;
	int err;

	while (len) {
		ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			err = rsp_wait_fd(c, POLLOUT, deadline);
			if (err == -ETIMEDOUT)
				return ekp_err(ETIMEDOUT, "rsp: timed out writing to the gdbstub");
			if (err)
				return err;
			continue;
		}
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return ekp_err(EPIPE, "rsp: gdbstub closed the connection");
		return ekp_err(w < 0 ? errno : EIO, "rsp: write: %s", strerror(w < 0 ? errno : EIO));
	}
	return 0;
}

/*
 * recv() what the socket has (flags: 0 or MSG_PEEK), up to size bytes: the count, or an
 * error. The deadline is checked before every attempt, so a stub that keeps sending never
 * extends it. wait = false: -EAGAIN (no reason recorded) when nothing is there now.
 */
static ssize_t rsp_recv(struct rsp_client *c, void *buf, size_t size, int flags,
			int64_t deadline, bool wait)
{
	ssize_t n;
	int err;

	for (;;) {
		if (rsp_expired(deadline))
			return ekp_err(ETIMEDOUT, "rsp: timed out waiting for the gdbstub");
		n = recv(c->fd, buf, size, flags);
		if (n > 0)
			return n;
		if (n == 0)
			return ekp_err(EPIPE, "rsp: gdbstub closed the connection");
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return ekp_err(EPIPE, "rsp: gdbstub reset the connection");
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return ekp_err(errno, "rsp: read: %s", strerror(errno));
		if (!wait)
			return -EAGAIN;
		err = rsp_wait_fd(c, POLLIN, deadline);
		if (err == -ETIMEDOUT)
			return ekp_err(ETIMEDOUT, "rsp: timed out waiting for the gdbstub");
		if (err)
			return err;
	}
}

static int rsp_send_byte(struct rsp_client *c, char ch, int64_t deadline)
{
	return rsp_write_all(c, &ch, 1, deadline);
}

/*
 * Next frame off the wire, taking what the socket has. out->payload must be freed by the
 * caller. wait = false: -EAGAIN once nothing more is there.
 */
static int rsp_rx_frame_x(struct rsp_client *c, struct rsp_frame *out, int64_t deadline,
			  bool wait)
{
	char buf[RSP_RX_CHUNK];
	ssize_t n;
	int r;

	for (;;) {
		r = rsp_decoder_next(&c->dec, out);
		if (r)
			return r < 0 ? r : 0;
		n = rsp_recv(c, buf, sizeof(buf), 0, deadline, wait);
		if (n < 0)
			return (int)n;
		r = rsp_decoder_feed(&c->dec, buf, (size_t)n);
		if (r)
			return r;
	}
}

static int rsp_rx_frame(struct rsp_client *c, struct rsp_frame *out, int64_t deadline)
{
	return rsp_rx_frame_x(c, out, deadline, true);
}

/*
 * Next frame off the wire, taking no byte after it off the socket (for acks: after
 * rsp_resume, poll() on the socket then tells whether a stop reply is coming). Peeks at what
 * the socket has, decodes up to the end of the first frame, and takes exactly that much.
 */
static int rsp_rx_frame_exact(struct rsp_client *c, struct rsp_frame *out, int64_t deadline)
{
	char buf[RSP_RX_CHUNK];
	ssize_t n, used;
	int r;

	for (;;) {
		r = rsp_decoder_next(&c->dec, out);
		if (r)
			return r < 0 ? r : 0;
		n = rsp_recv(c, buf, sizeof(buf), MSG_PEEK, deadline, true);
		if (n < 0)
			return (int)n;
		/* One byte at a time into the decoder (from memory: it is linear) until a frame
		 * ends or an error; then consume exactly those bytes from the socket. */
		for (used = 0, r = 0; used < n && !r;) {
			r = rsp_decoder_feed(&c->dec, buf + used++, 1);
			if (!r)
				r = rsp_decoder_next(&c->dec, out);
		}
		if (recv(c->fd, buf, (size_t)used, 0) != used) {
			if (r == 1)
				ekp_buf_free(&out->payload);
			return ekp_err(EIO, "rsp: lost bytes taking %zd peeked bytes off the socket",
				       used);
		}
		if (r)
			return r < 0 ? r : 0;
	}
}

static int rsp_enqueue(struct rsp_client *c, struct ekp_buf *payload)
{
	struct ekp_buf *slot;

	if (c->q_len == RSP_QUEUE) {
		ekp_buf_free(payload);
		return ekp_err(EPROTO, "rsp: too many unsolicited packets from the gdbstub");
	}
	slot = &c->queue[(c->q_head + c->q_len++) % RSP_QUEUE];
	ekp_buf_free(slot);
	*slot = *payload; /* takes ownership */
	memset(payload, 0, sizeof(*payload));
	return 0;
}

static int rsp_copy_reply(struct ekp_buf *reply, const struct ekp_buf *payload)
{
	ekp_buf_reset(reply);
	if (ekp_buf_append(reply, payload->data ? payload->data : "", payload->len))
		return ekp_err(ENOMEM, "rsp: out of memory");
	return 0;
}

/* Next packet from the stub (queued first), acked. */
static int rsp_rx_packet(struct rsp_client *c, struct ekp_buf *reply, int64_t deadline)
{
	struct rsp_frame f;
	int err;

	if (c->q_len) {
		struct ekp_buf *slot = &c->queue[c->q_head];

		c->q_head = (c->q_head + 1) % RSP_QUEUE;
		c->q_len--;
		err = rsp_copy_reply(reply, slot);
		ekp_buf_free(slot);
		return err;
	}
	for (;;) {
		err = rsp_rx_frame(c, &f, deadline);
		if (err)
			return err;
		switch (f.kind) {
		case RSP_FRAME_PACKET:
			err = rsp_send_byte(c, '+', deadline);
			if (!err)
				err = rsp_copy_reply(reply, &f.payload);
			ekp_buf_free(&f.payload);
			return err;
		case RSP_FRAME_BAD_CHECKSUM:
			ekp_buf_free(&f.payload);
			err = rsp_send_byte(c, '-', deadline);
			if (err)
				return err;
			break;
		default: /* stray ack/nack, notification: nothing to do */
			ekp_buf_free(&f.payload);
			break;
		}
	}
}

/* Send one packet and wait for its '+'. */
static int rsp_tx_packet(struct rsp_client *c, const char *payload, size_t len, int64_t deadline)
{
	struct rsp_frame f;
	int tries, err;

	ekp_buf_reset(&c->tx);
	err = rsp_encode_packet(&c->tx, payload, len);
	if (err)
		return err;
	for (tries = 0;; tries++) {
		err = rsp_write_all(c, c->tx.data, c->tx.len, deadline);
		if (err)
			return err;
		for (;;) {
			err = rsp_rx_frame_exact(c, &f, deadline);
			if (err)
				return err;
			if (f.kind == RSP_FRAME_ACK) {
				ekp_buf_free(&f.payload);
				return 0;
			}
			if (f.kind == RSP_FRAME_NACK) {
				ekp_buf_free(&f.payload);
				break;
			}
			if (f.kind == RSP_FRAME_PACKET) {
				err = rsp_send_byte(c, '+', deadline);
				if (!err)
					err = rsp_enqueue(c, &f.payload);
			} else if (f.kind == RSP_FRAME_BAD_CHECKSUM) {
				err = rsp_send_byte(c, '-', deadline);
			}
			ekp_buf_free(&f.payload);
			if (err)
				return err;
		}
		if (tries == RSP_RETRIES)
			return ekp_err(EPROTO, "rsp: gdbstub rejected a packet %d times", tries + 1);
	}
}

/* ---- reply helpers ---- */

/* "Exx" or "E.text": an error reply (never a valid hex reply: those have even length). */
static bool rsp_is_error(const struct ekp_buf *r)
{
	return r->len >= 2 && r->data[0] == 'E' &&
	       ((r->len == 3 && ekp_hexval((unsigned char)r->data[1]) >= 0 &&
		 ekp_hexval((unsigned char)r->data[2]) >= 0) ||
		r->data[1] == '.');
}

/* Printable excerpt of a reply for an error reason. */
static const char *rsp_excerpt(const struct ekp_buf *r, char *buf, size_t size)
{
	size_t i, n = r->len < size - 1 ? r->len : size - 1;

	for (i = 0; i < n; i++)
		buf[i] = r->data[i] >= ' ' && r->data[i] <= '~' ? r->data[i] : '?';
	buf[n] = '\0';
	return buf;
}

static int rsp_command_dl(struct rsp_client *c, const char *cmd, size_t len,
			  struct ekp_buf *reply, int64_t deadline)
{
	int err;

	if (c->running)
		return ekp_err(EBUSY, "rsp: target is running (any byte sent would stop it)");
	err = rsp_tx_packet(c, cmd, len, deadline);
	if (err)
		return err;
	c->round_trips++; /* the stub took the request: we wait for its reply */
	return rsp_rx_packet(c, reply, deadline);
}

/* "OK" -> 0, "" -> -EOPNOTSUPP, "Exx" -> err_code, else -EPROTO. */
static int rsp_expect_ok(const char *what, const struct ekp_buf *r, int err_code)
{
	char ex[24];

	if (r->len == 2 && !memcmp(r->data, "OK", 2))
		return 0;
	if (!r->len)
		return ekp_err(EOPNOTSUPP, "rsp: %s: not supported by the gdbstub", what);
	if (rsp_is_error(r))
		return ekp_err(err_code, "rsp: %s: gdbstub error %s", what,
			       rsp_excerpt(r, ex, sizeof(ex)));
	return ekp_err(EPROTO, "rsp: %s: unexpected reply '%s'", what,
		       rsp_excerpt(r, ex, sizeof(ex)));
}

static int rsp_command_ok_dl(struct rsp_client *c, const char *cmd, size_t len, int err_code,
			     int64_t deadline)
{
	struct ekp_buf r = { 0 };
	char what[24];
	int err;

	err = rsp_command_dl(c, cmd, len, &r, deadline);
	if (!err) {
		/* The command's name (up to its first argument) for the reason. */
		size_t n = strcspn(cmd, ",:;=");

		snprintf(what, sizeof(what), "%.*s", (int)(n < 16 ? n : 16), cmd);
		err = rsp_expect_ok(what, &r, err_code);
	}
	ekp_buf_free(&r);
	return err;
}

/* Decode a hex reply into raw bytes (appended to out). */
static int rsp_unhex(const struct ekp_buf *r, struct ekp_buf *out, const char *what)
{
	size_t i;

	if (r->len % 2)
		return ekp_err(EPROTO, "rsp: %s: odd-length hex reply", what);
	if (ekp_buf_reserve(out, r->len / 2))
		return ekp_err(ENOMEM, "rsp: out of memory");
	for (i = 0; i < r->len; i += 2) {
		int hi = ekp_hexval((unsigned char)r->data[i]);
		int lo = ekp_hexval((unsigned char)r->data[i + 1]);

		if (hi < 0 || lo < 0)
			return ekp_err(EPROTO, "rsp: %s: bad hex in reply", what);
		out->data[out->len++] = (char)(hi << 4 | lo);
	}
	out->data[out->len] = '\0';
	return 0;
}

/* ---- connection ---- */

static int rsp_client_new(int fd, struct rsp_client **out)
{
	struct rsp_client *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return ekp_err(ENOMEM, "rsp: out of memory");
	}
	c->fd = fd;
	rsp_decoder_init(&c->dec);
	c->packet_size = RSP_DEFAULT_PKTSIZE;
	c->pid = 1;
	*out = c;
	return 0;
}

int rsp_client_from_fd(int fd, struct rsp_client **out)
{
	*out = NULL;
	if (fd < 0)
		return ekp_err(EBADF, "rsp: no socket");
	return rsp_client_new(fd, out);
}

static bool rsp_retryable(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == EAGAIN || e == ETIMEDOUT;
}

int rsp_connect_unix(const char *path, int timeout_ms, struct rsp_client **out)
{
	int64_t deadline = rsp_deadline(timeout_ms);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	*out = NULL;
	if (!path || !path[0] || strlen(path) >= sizeof(sa.sun_path))
		return ekp_err(ENAMETOOLONG, "rsp: bad unix socket path");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* QEMU may not have created or started listening on the socket yet: retry. */
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return ekp_err(errno, "rsp: socket: %s", strerror(errno));
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return rsp_client_new(fd, out);
		e = errno;
		close(fd);
		if (!rsp_retryable(e) || rsp_left(deadline) == 0)
			return ekp_err(rsp_retryable(e) ? ETIMEDOUT : e, "rsp: connect %s: %s",
				       path, strerror(e));
		rsp_sleep_ms(10);
	}
}

/* One non-blocking TCP connect to ai, finished within the deadline. */
static int rsp_tcp_try(const struct addrinfo *ai, int64_t deadline, int *fd_out)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, e = 0, one = 1, r;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		if (errno != EINPROGRESS) {
			e = errno;
			close(fd);
			return -e;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			r = poll(&pfd, 1, rsp_left(deadline));
		while (r < 0 && errno == EINTR);
		if (r <= 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) || e) {
			close(fd);
			return -(e ? e : EIO);
		}
	}
	/* Small request/reply packets: do not let Nagle hold them back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fd_out = fd;
	return 0;
}

int rsp_connect_tcp(const char *host, const char *port, int timeout_ms, struct rsp_client **out)
{
	int64_t deadline = rsp_deadline(timeout_ms);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int r, fd = -1, e = ECONNREFUSED;

	*out = NULL;
	if (!host || !port)
		return ekp_err(EINVAL, "rsp: no host or port");
	r = getaddrinfo(host, port, &hints, &res);
	if (r)
		return ekp_err(EHOSTUNREACH, "rsp: %s:%s: %s", host, port, gai_strerror(r));
	for (;;) {
		for (ai = res; ai; ai = ai->ai_next) {
			r = rsp_tcp_try(ai, deadline, &fd);
			if (!r)
				break;
			e = -r;
		}
		if (ai || !rsp_retryable(e) || rsp_left(deadline) == 0)
			break;
		rsp_sleep_ms(10);
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ekp_err(rsp_retryable(e) ? ETIMEDOUT : e, "rsp: connect %s:%s: %s", host,
			       port, strerror(e));
	return rsp_client_new(fd, out);
}

void rsp_close(struct rsp_client *c)
{
	unsigned int i;

	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	rsp_decoder_free(&c->dec);
	ekp_buf_free(&c->tx);
	for (i = 0; i < RSP_QUEUE; i++)
		ekp_buf_free(&c->queue[i]);
	free(c);
}

int rsp_fd(const struct rsp_client *c)
{
	return c->fd;
}

unsigned int rsp_packet_size(const struct rsp_client *c)
{
	return c->packet_size;
}

uint64_t rsp_round_trips(const struct rsp_client *c)
{
	return c->round_trips;
}

/* Is this payload a stop reply (S/T)? W/X would mean the VM is gone. */
static bool rsp_is_stop(const struct ekp_buf *r)
{
	struct rsp_stop st;

	return r->len && (r->data[0] == 'T' || r->data[0] == 'S') &&
	       !rsp_parse_stop(r->data, r->len, &st);
}

static int rsp_parse_supported(struct rsp_client *c, const struct ekp_buf *r)
{
	const char *p = r->data, *end = r->data + r->len;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		size_t n = semi ? (size_t)(semi - p) : (size_t)(end - p);

		if (n > 11 && !memcmp(p, "PacketSize=", 11)) {
			char num[17];
			uint64_t v;

			if (n - 11 >= sizeof(num))
				return ekp_err(EPROTO, "rsp: bad PacketSize in qSupported reply");
			memcpy(num, p + 11, n - 11);
			num[n - 11] = '\0';
			if (ekp_parse_u64(num, 16, &v) || v < RSP_MIN_PKTSIZE)
				return ekp_err(EPROTO, "rsp: bad PacketSize in qSupported reply");
			c->packet_size = v > RSP_MAX_PKTSIZE ? RSP_MAX_PKTSIZE : (unsigned int)v;
		} else if (n == 13 && !memcmp(p, "multiprocess+", 13)) {
			c->multiprocess = true;
		}
		p += n + 1;
	}
	return 0;
}

int rsp_handshake(struct rsp_client *c, int timeout_ms, bool *was_running)
{
	int64_t deadline = rsp_deadline(timeout_ms);
	static const char qsupported[] = "qSupported:multiprocess+;vContSupported+";
	struct ekp_buf r = { 0 };
	struct rsp_frame f;
	bool stopped = false;
	int err;

	/*
	 * QEMU stops a running VM when a client connects and sends "T02thread:01;" unasked,
	 * before it reads anything from the client: it always comes ahead of the reply to
	 * qSupported. Take what is already here now, without waiting (a VM held at -S sends
	 * nothing), and any stop that still comes before the reply below.
	 */
	for (;;) {
		err = rsp_rx_frame_x(c, &f, deadline, false);
		if (err == -EAGAIN)
			break;
		if (err)
			goto out;
		if (f.kind == RSP_FRAME_PACKET) {
			err = rsp_send_byte(c, '+', deadline);
			if (!err && rsp_is_stop(&f.payload))
				stopped = true;
		} else if (f.kind == RSP_FRAME_BAD_CHECKSUM) {
			err = rsp_send_byte(c, '-', deadline);
		}
		ekp_buf_free(&f.payload);
		if (err)
			goto out;
	}
	ekp_err_clear();

	c->running = false;
	err = rsp_tx_packet(c, qsupported, sizeof(qsupported) - 1, deadline);
	if (!err)
		c->round_trips++;
	/* A slow accept on QEMU's side makes its stop reply come only now, before the reply. */
	while (!err) {
		err = rsp_rx_packet(c, &r, deadline);
		if (err || !rsp_is_stop(&r))
			break;
		stopped = true;
	}
	if (!err)
		err = rsp_parse_supported(c, &r);
out:
	ekp_buf_free(&r);
	if (was_running)
		*was_running = stopped;
	return err ? ekp_err_prefix(err, "rsp handshake: ") : 0;
}

/* ---- commands ---- */

int rsp_command(struct rsp_client *c, const char *cmd, struct ekp_buf *reply, int timeout_ms)
{
	return rsp_command_dl(c, cmd, strlen(cmd), reply, rsp_deadline(timeout_ms));
}

int rsp_command_ok(struct rsp_client *c, const char *cmd, int timeout_ms)
{
	return rsp_command_ok_dl(c, cmd, strlen(cmd), EIO, rsp_deadline(timeout_ms));
}

/* qXfer:<object>:read:<annex> until 'l'. doc receives the whole (unescaped) document. */
static int rsp_xfer_read(struct rsp_client *c, const char *object, const char *annex,
			 struct ekp_buf *doc, int64_t deadline)
{
	struct ekp_buf r = { 0 };
	unsigned int chunk = c->packet_size - 8; /* QEMU 7.2 clamps to 2045 anyway */
	char cmd[256], ex[24];
	int err = 0;

	ekp_buf_reset(doc);
	for (;;) {
		snprintf(cmd, sizeof(cmd), "qXfer:%s:read:%s:%zx,%x", object, annex, doc->len,
			 chunk);
		err = rsp_command_dl(c, cmd, strlen(cmd), &r, deadline);
		if (err)
			break;
		if (!r.len) {
			err = ekp_err(EOPNOTSUPP, "rsp: qXfer:%s:read not supported", object);
			break;
		}
		if (rsp_is_error(&r)) {
			err = ekp_err(ENOENT, "rsp: qXfer:%s:read:%s: gdbstub error %s", object,
				      annex, rsp_excerpt(&r, ex, sizeof(ex)));
			break;
		}
		if (r.data[0] != 'm' && r.data[0] != 'l') {
			err = ekp_err(EPROTO, "rsp: qXfer:%s:read:%s: unexpected reply '%s'",
				      object, annex, rsp_excerpt(&r, ex, sizeof(ex)));
			break;
		}
		if (r.len - 1 > chunk || doc->len + r.len - 1 > RSP_MAX_DOC) {
			err = ekp_err(EPROTO, "rsp: qXfer:%s:read:%s: document too long", object,
				      annex);
			break;
		}
		if (ekp_buf_append(doc, r.data + 1, r.len - 1)) {
			err = ekp_err(ENOMEM, "rsp: out of memory");
			break;
		}
		if (r.data[0] == 'l')
			break;
		if (r.len == 1) {
			err = ekp_err(EPROTO, "rsp: qXfer:%s:read:%s: empty 'm' reply", object,
				      annex);
			break;
		}
	}
	ekp_buf_free(&r);
	return err;
}

int rsp_read_target_desc(struct rsp_client *c, struct rsp_target_desc *desc, int timeout_ms)
{
	int64_t deadline = rsp_deadline(timeout_ms);
	char *names[RSP_MAX_DOCS];
	unsigned int nr = 1, i, j, k, nr_inc = 0;
	struct ekp_buf doc = { 0 };
	char **inc = NULL;
	int err = 0;

	memset(desc, 0, sizeof(*desc));
	names[0] = strdup("target.xml");
	if (!names[0])
		return ekp_err(ENOMEM, "rsp: out of memory");
	/* Depth first, in document order: included features follow their includer. */
	for (i = 0; i < nr && !err; i++) {
		err = rsp_xfer_read(c, "features", names[i], &doc, deadline);
		if (!err)
			err = rsp_target_desc_parse(desc, doc.data, doc.len, &inc, &nr_inc);
		if (err) {
			ekp_err_prefix(err, "%s: ", names[i]);
			break;
		}
		for (j = 0, k = i + 1; j < nr_inc; j++) {
			bool seen = false;
			unsigned int m;

			for (m = 0; m < nr && !seen; m++)
				seen = !strcmp(names[m], inc[j]);
			if (seen) {
				free(inc[j]);
				continue;
			}
			if (nr == RSP_MAX_DOCS) {
				err = ekp_err(EPROTO, "rsp: more than %u target description documents",
					      RSP_MAX_DOCS);
				for (; j < nr_inc; j++)
					free(inc[j]);
				break;
			}
			memmove(&names[k + 1], &names[k], (nr - k) * sizeof(names[0]));
			names[k++] = inc[j];
			nr++;
		}
		free(inc);
		inc = NULL;
	}
	for (i = 0; i < nr; i++)
		free(names[i]);
	ekp_buf_free(&doc);
	if (err) {
		rsp_target_desc_free(desc);
		return err;
	}
	if (!desc->nr_regs)
		return ekp_err(EPROTO, "rsp: target description has no registers");
	return 0;
}

int rsp_read_all_regs(struct rsp_client *c, struct ekp_buf *raw, int timeout_ms)
{
	struct ekp_buf r = { 0 };
	char ex[24];
	int err;

	ekp_buf_reset(raw);
	err = rsp_command_dl(c, "g", 1, &r, rsp_deadline(timeout_ms));
	if (!err && rsp_is_error(&r))
		err = ekp_err(EIO, "rsp: g: gdbstub error %s", rsp_excerpt(&r, ex, sizeof(ex)));
	else if (!err && !r.len)
		err = ekp_err(EPROTO, "rsp: g: empty reply");
	else if (!err)
		err = rsp_unhex(&r, raw, "g");
	ekp_buf_free(&r);
	return err;
}

int rsp_read_reg(struct rsp_client *c, unsigned int regnum, uint8_t *buf, size_t size,
		 int timeout_ms)
{
	struct ekp_buf r = { 0 }, raw = { 0 };
	char cmd[16], ex[24];
	int err;

	snprintf(cmd, sizeof(cmd), "p%x", regnum);
	err = rsp_command_dl(c, cmd, strlen(cmd), &r, rsp_deadline(timeout_ms));
	if (err)
		goto out;
	if (!r.len) {
		/* QEMU 7.2 answers p/P only after target.xml was read through qXfer. */
		err = ekp_err(EOPNOTSUPP, "rsp: p%x: empty reply (target description not read?)",
			      regnum);
	} else if (rsp_is_error(&r)) {
		err = ekp_err(EIO, "rsp: p%x: gdbstub error %s", regnum,
			      rsp_excerpt(&r, ex, sizeof(ex)));
	} else if (!(err = rsp_unhex(&r, &raw, "p"))) {
		/* Little-endian: the first bytes are the low ones. */
		memset(buf, 0, size);
		memcpy(buf, raw.data, raw.len < size ? raw.len : size);
	}
out:
	ekp_buf_free(&r);
	ekp_buf_free(&raw);
	return err;
}

int rsp_write_reg(struct rsp_client *c, unsigned int regnum, const uint8_t *buf, size_t size,
		  int timeout_ms)
{
	struct ekp_buf cmd = { 0 };
	int err;

	if (!size || size > 1024)
		return ekp_err(EINVAL, "rsp: P%x: bad register size %zu", regnum, size);
	err = ekp_buf_printf(&cmd, "P%x=", regnum);
	if (!err)
		err = ekp_buf_reserve(&cmd, 2 * size);
	if (err) {
		ekp_buf_free(&cmd);
		return ekp_err(ENOMEM, "rsp: out of memory");
	}
	ekp_hex_encode(buf, size, cmd.data + cmd.len);
	cmd.len += 2 * size;
	err = rsp_command_ok_dl(c, cmd.data, cmd.len, EIO, rsp_deadline(timeout_ms));
	ekp_buf_free(&cmd);
	return err;
}

int rsp_select_thread(struct rsp_client *c, const struct rsp_thread *t, int timeout_ms)
{
	char cmd[48];

	cmd[0] = 'H';
	cmd[1] = 'g';
	rsp_format_thread(t, cmd + 2, sizeof(cmd) - 2);
	return rsp_command_ok_dl(c, cmd, strlen(cmd), EIO, rsp_deadline(timeout_ms));
}

static int rsp_check_range(uint64_t addr, size_t len)
{
	if (len && addr + (len - 1) < addr)
		return ekp_err(EINVAL, "rsp: memory range at 0x%llx wraps around",
			       (unsigned long long)addr);
	return 0;
}

int rsp_read_mem(struct rsp_client *c, uint64_t addr, void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = rsp_deadline(timeout_ms);
	size_t chunk = (c->packet_size - 16) / 2, done = 0;
	struct ekp_buf r = { 0 }, raw = { 0 };
	char cmd[48], ex[24];
	int err = rsp_check_range(addr, len);

	while (!err && done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		uint64_t a = addr + done;

		snprintf(cmd, sizeof(cmd), "m%llx,%zx", (unsigned long long)a, n);
		err = rsp_command_dl(c, cmd, strlen(cmd), &r, deadline);
		if (err)
			break;
		if (!r.len) {
			err = ekp_err(EOPNOTSUPP, "rsp: m: empty reply");
		} else if (rsp_is_error(&r)) {
			err = ekp_err(EFAULT, "rsp: cannot read %zu bytes at 0x%llx (%s)", n,
				      (unsigned long long)a, rsp_excerpt(&r, ex, sizeof(ex)));
		} else {
			ekp_buf_reset(&raw);
			err = rsp_unhex(&r, &raw, "m");
			if (!err && raw.len > n)
				err = ekp_err(EPROTO, "rsp: m: %zu bytes for %zu asked", raw.len, n);
			if (!err) {
				/* A stub may return fewer bytes: ask again for the rest. */
				memcpy((char *)buf + done, raw.data, raw.len);
				done += raw.len;
			}
		}
	}
	ekp_buf_free(&r);
	ekp_buf_free(&raw);
	return err;
}

int rsp_write_mem(struct rsp_client *c, uint64_t addr, const void *buf, size_t len,
		  int timeout_ms)
{
	int64_t deadline = rsp_deadline(timeout_ms);
	size_t chunk = (c->packet_size - 64) / 2, done = 0;
	struct ekp_buf cmd = { 0 };
	int err = rsp_check_range(addr, len);

	while (!err && done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		uint64_t a = addr + done;

		ekp_buf_reset(&cmd);
		if (ekp_buf_printf(&cmd, "M%llx,%zx:", (unsigned long long)a, n) ||
		    ekp_buf_reserve(&cmd, 2 * n)) {
			err = ekp_err(ENOMEM, "rsp: out of memory");
			break;
		}
		ekp_hex_encode((const uint8_t *)buf + done, n, cmd.data + cmd.len);
		cmd.len += 2 * n;
		err = rsp_command_ok_dl(c, cmd.data, cmd.len, EFAULT, deadline);
		if (err)
			ekp_err_prefix(err, "at 0x%llx: ", (unsigned long long)a);
		done += n;
	}
	ekp_buf_free(&cmd);
	return err;
}

static int rsp_break(struct rsp_client *c, char op, int type, uint64_t addr, unsigned int kind,
		     int timeout_ms)
{
	char cmd[64];

	if (type < 0 || type > 4)
		return ekp_err(EINVAL, "rsp: bad breakpoint type %d", type);
	snprintf(cmd, sizeof(cmd), "%c%d,%llx,%x", op, type, (unsigned long long)addr, kind);
	return rsp_command_ok_dl(c, cmd, strlen(cmd), EIO, rsp_deadline(timeout_ms));
}

int rsp_insert_break(struct rsp_client *c, int type, uint64_t addr, unsigned int kind,
		     int timeout_ms)
{
	return rsp_break(c, 'Z', type, addr, kind, timeout_ms);
}

int rsp_remove_break(struct rsp_client *c, int type, uint64_t addr, unsigned int kind,
		     int timeout_ms)
{
	return rsp_break(c, 'z', type, addr, kind, timeout_ms);
}

int rsp_set_phys_mem_mode(struct rsp_client *c, bool physical, int timeout_ms)
{
	const char *cmd = physical ? "Qqemu.PhyMemMode:1" : "Qqemu.PhyMemMode:0";

	return rsp_command_ok_dl(c, cmd, strlen(cmd), EIO, rsp_deadline(timeout_ms));
}

int rsp_list_threads(struct rsp_client *c, struct rsp_thread **threads, unsigned int *nr,
		     int timeout_ms)
{
	int64_t deadline = rsp_deadline(timeout_ms);
	struct rsp_thread *list = NULL;
	struct ekp_buf r = { 0 };
	unsigned int n = 0, cap = 0;
	const char *cmd = "qfThreadInfo";
	char ex[24];
	int err;

	*threads = NULL;
	*nr = 0;
	for (;;) {
		const char *p, *end;

		err = rsp_command_dl(c, cmd, strlen(cmd), &r, deadline);
		if (err)
			break;
		cmd = "qsThreadInfo";
		if (!r.len) {
			err = ekp_err(EOPNOTSUPP, "rsp: qfThreadInfo not supported");
			break;
		}
		if (r.data[0] == 'l')
			break;
		if (r.data[0] != 'm' || r.len < 2) {
			err = ekp_err(EPROTO, "rsp: thread list: unexpected reply '%s'",
				      rsp_excerpt(&r, ex, sizeof(ex)));
			break;
		}
		for (p = r.data + 1, end = r.data + r.len; p < end && !err;) {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);

			if (n == RSP_MAX_THREADS) {
				err = ekp_err(EPROTO, "rsp: more than %u threads", RSP_MAX_THREADS);
				break;
			}
			if (n == cap) {
				void *q = realloc(list, (cap ? cap * 2 : 16) * sizeof(*list));

				if (!q) {
					err = ekp_err(ENOMEM, "rsp: out of memory");
					break;
				}
				list = q;
				cap = cap ? cap * 2 : 16;
			}
			err = rsp_parse_thread(p, len, &list[n]);
			if (!err)
				n++;
			p += len + 1;
		}
		if (err)
			break;
	}
	ekp_buf_free(&r);
	if (err) {
		free(list);
		return err;
	}
	*threads = list;
	*nr = n;
	return 0;
}

/* ---- execution ---- */

static int rsp_resume_dl(struct rsp_client *c, const char *actions, int64_t deadline)
{
	struct ekp_buf cmd = { 0 };
	size_t i, n = actions ? strlen(actions) : 0;
	int err;

	if (c->running)
		return ekp_err(EBUSY, "rsp: target is already running");
	if (!n || n + 6 >= c->packet_size)
		return ekp_err(EINVAL, "rsp: bad vCont actions");
	for (i = 0; i < n; i++)
		if (actions[i] <= ' ' || actions[i] > '~' || actions[i] == '#' || actions[i] == '$')
			return ekp_err(EINVAL, "rsp: bad vCont actions");
	if (ekp_buf_printf(&cmd, "vCont;%s", actions))
		return ekp_err(ENOMEM, "rsp: out of memory");
	err = rsp_tx_packet(c, cmd.data, cmd.len, deadline);
	ekp_buf_free(&cmd);
	if (!err)
		c->running = true;
	return err;
}

int rsp_resume(struct rsp_client *c, const char *actions, int timeout_ms)
{
	return rsp_resume_dl(c, actions, rsp_deadline(timeout_ms));
}

static int rsp_wait_stop_dl(struct rsp_client *c, struct rsp_stop *stop, int64_t deadline)
{
	struct ekp_buf r = { 0 };
	int err;

	for (;;) {
		err = rsp_rx_packet(c, &r, deadline);
		if (err)
			break;
		err = rsp_parse_stop(r.data, r.len, stop);
		if (err)
			break;
		if (stop->kind == 'O')
			continue; /* console output from the stub */
		c->running = false;
		if (stop->has_thread && (stop->kind == 'T' || stop->kind == 'S')) {
			c->last = stop->thread;
			c->has_last = true;
		}
		if (stop->has_thread && stop->thread.pid > 0)
			c->pid = stop->thread.pid;
		break;
	}
	ekp_buf_free(&r);
	return err;
}

int rsp_wait_stop(struct rsp_client *c, struct rsp_stop *stop, int timeout_ms)
{
	return rsp_wait_stop_dl(c, stop, rsp_deadline(timeout_ms));
}

int rsp_step(struct rsp_client *c, const struct rsp_thread *t, struct rsp_stop *stop,
	     int timeout_ms)
{
	int64_t deadline = rsp_deadline(timeout_ms);
	char actions[48];
	int err;

	if (!t && c->has_last)
		t = &c->last;
	if (t) {
		actions[0] = 's';
		actions[1] = ':';
		rsp_format_thread(t, actions + 2, sizeof(actions) - 2);
	} else {
		snprintf(actions, sizeof(actions), "s");
	}
	err = rsp_resume_dl(c, actions, deadline);
	if (err)
		return err;
	c->round_trips++; /* the step's stop reply is its reply */
	return rsp_wait_stop_dl(c, stop, deadline);
}

int rsp_interrupt(struct rsp_client *c, int timeout_ms)
{
	return rsp_send_byte(c, 0x03, rsp_deadline(timeout_ms));
}

int rsp_detach(struct rsp_client *c, int timeout_ms)
{
	char cmd[32];
	int err;

	/* With multiprocess QEMU wants the process: plain "D" is answered E22. */
	if (c->multiprocess)
		snprintf(cmd, sizeof(cmd), "D;%lx", (unsigned long)c->pid);
	else
		snprintf(cmd, sizeof(cmd), "D");
	err = rsp_command_ok_dl(c, cmd, strlen(cmd), EIO, rsp_deadline(timeout_ms));
	if (!err)
		c->running = true; /* QEMU resumes the VM; nothing more may be sent */
	return err;
}
