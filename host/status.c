// SPDX-License-Identifier: GPL-2.0
/* The live status line (status.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "host/labs/phase.h"
#include "host/log.h"
#include "host/status.h"

#define REDRAW_NS 250000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void before_message(void *ctx)
{
	ekp_status_clear(ctx);
}

int ekp_status_init(struct ekp_status *s, int fd, const struct ekp_symtab *st,
		    struct ekp_probe *const *probes, unsigned int n)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->reached = -1;
	s->phase = calloc(n ? n : 1, 1);
	if (!s->phase)
		return -ENOMEM;
	s->nr_probes = n;
	for (unsigned int i = 0; i < n; i++) {
		struct ekp_sym sym;
		uint64_t off;

		s->phase[i] = -1;
		if (probes[i]->kind == EKP_PROBE_ENTRY && st &&
		    !ekp_symtab_addr2sym(st, probes[i]->addr, &sym, &off))
			s->phase[i] = (signed char)ekp_phase_of(sym.name, strlen(sym.name));
	}
	s->drawn_at = now_ns();
	ekp_log_set_hook(before_message, s);
	return 0;
}

void ekp_status_event(struct ekp_status *s, const struct ekp_event *ev)
{
	s->hits++;
	if (ev->kind == EKP_PROBE_ENTRY && ev->probe_index < s->nr_probes &&
	    s->phase[ev->probe_index] > s->reached)
		s->reached = s->phase[ev->probe_index];
}

int ekp_status_format(char *out, size_t size, unsigned int width, uint64_t guest_ns,
		      uint64_t hits, uint64_t rate, int phase, uint64_t lost)
{
	int n = snprintf(out, size, "ekprobe-host: guest %" PRIu64 ".%03" PRIu64 " s | %" PRIu64
			 " hits, %" PRIu64 "/s | phase: %s | lost %" PRIu64, guest_ns / 1000000000,
			 guest_ns / 1000000 % 1000, hits, rate,
			 phase >= 0 ? ekp_phase_name(phase) : "-", lost);

	if (n < 0)
		return -EINVAL;
	/* One line: never wider than the terminal (a wrapped line cannot be redrawn in place). */
	if (width > 1 && (size_t)n >= width && width - 1 < size)
		out[n = (int)width - 1] = '\0';
	return n;
}

static void draw(struct ekp_status *s, uint64_t guest_ns)
{
	struct winsize ws = { 0 };
	char line[256], buf[300];
	int n;

	if (ioctl(s->fd, TIOCGWINSZ, &ws) || !ws.ws_col)
		ws.ws_col = 80;
	n = ekp_status_format(line, sizeof(line), ws.ws_col, guest_ns, s->hits, s->rate,
			      s->reached, s->lost);
	if (n < 0)
		return;
	/* Back to the start of the line, the text, the rest of the old text erased. */
	n = snprintf(buf, sizeof(buf), "\r%s\033[K", line);
	if (n > 0 && write(s->fd, buf, (size_t)n) == n)
		s->shown = true;
}

void ekp_status_tick(struct ekp_status *s, uint64_t guest_ns, uint64_t lost)
{
	uint64_t now = now_ns();

	s->lost = lost;
	if (now - s->drawn_at < REDRAW_NS && s->shown)
		return;
	if (now > s->drawn_at)
		s->rate = (s->hits - s->hits_drawn) * 1000000000ull / (now - s->drawn_at);
	s->hits_drawn = s->hits;
	s->drawn_at = now;
	draw(s, guest_ns);
}

void ekp_status_clear(struct ekp_status *s)
{
	static const char erase[] = "\r\033[K";

	if (s->shown && write(s->fd, erase, sizeof(erase) - 1) == sizeof(erase) - 1)
		s->shown = false;
}

void ekp_status_fini(struct ekp_status *s)
{
	ekp_status_clear(s);
	ekp_log_set_hook(NULL, NULL);
	free(s->phase);
	s->phase = NULL;
}
