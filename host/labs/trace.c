// SPDX-License-Identifier: GPL-2.0
/* A JSON trace read back and analysed (trace.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ekprobe/err.h"
#include "host/labs/pair.h"
#include "host/labs/phase.h"
#include "host/labs/trace.h"

#define MAX_TRACE_FILE (4ull << 30) /* a JSON trace larger than this is not read */

/* ---- strings ------------------------------------------------------------------------------ */

static uint32_t str_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

const char *ekp_str(const struct ekp_strings *s, uint32_t id)
{
	if (!id || id >= s->n)
		return "";
	return s->text.data + s->off[id];
}

int ekp_str_intern(struct ekp_strings *s, const char *str, size_t len, uint32_t *id)
{
	uint32_t h, i;
	int err;

	if (!len) {
		*id = 0;
		return 0;
	}
	if (memchr(str, '\0', len))
		return -EINVAL;
	if (!s->n) { /* id 0: "" */
		err = ekp_buf_append(&s->text, "", 1);
		if (err)
			return err;
		s->off = malloc(16 * sizeof(*s->off));
		if (!s->off)
			return -ENOMEM;
		s->cap = 16;
		s->off[0] = 0;
		s->n = 1;
	}
	if ((s->n + 1) * 2 > s->hcap) {
		uint32_t cap = s->hcap ? s->hcap * 2 : 256, *tab;

		if (cap < s->hcap)
			return -ENOMEM;
		tab = calloc(cap, sizeof(*tab));
		if (!tab)
			return -ENOMEM;
		for (uint32_t k = 1; k < s->n; k++) {
			const char *t = s->text.data + s->off[k];

			for (i = str_hash(t, strlen(t)) & (cap - 1); tab[i]; i = (i + 1) & (cap - 1))
				;
			tab[i] = k + 1;
		}
		free(s->hash);
		s->hash = tab;
		s->hcap = cap;
	}
	h = str_hash(str, len);
	for (i = h & (s->hcap - 1); s->hash[i]; i = (i + 1) & (s->hcap - 1)) {
		const char *t = s->text.data + s->off[s->hash[i] - 1];

		if (!strncmp(t, str, len) && !t[len]) {
			*id = s->hash[i] - 1;
			return 0;
		}
	}
	if (s->n == s->cap) {
		uint32_t *off = realloc(s->off, (size_t)s->cap * 2 * sizeof(*off));

		if (!off)
			return -ENOMEM;
		s->off = off;
		s->cap *= 2;
	}
	if (s->text.len > UINT32_MAX - len - 1)
		return -E2BIG;
	s->off[s->n] = (uint32_t)s->text.len;
	err = ekp_buf_append(&s->text, str, len);
	err = err ?: ekp_buf_append(&s->text, "", 1);
	if (err)
		return err;
	s->hash[i] = s->n + 1;
	*id = s->n++;
	return 0;
}

static void strings_free(struct ekp_strings *s)
{
	ekp_buf_free(&s->text);
	free(s->off);
	free(s->hash);
	memset(s, 0, sizeof(*s));
}

/* ---- parsing ------------------------------------------------------------------------------ */

struct line_ctx {
	struct ekp_trace *t;
	size_t line;
};

static int bad(const struct line_ctx *c, const char *fmt, const char *what)
{
	return ekp_err(EINVAL, "%s:%zu: %s%s", c->t->name, c->line, fmt, what ? what : "");
}

/* "0x..." hex string -> value. */
static bool hex_value(json_t *j, uint64_t *out)
{
	const char *s = json_string_value(j);

	return s && s[0] == '0' && s[1] == 'x' && s[2] && !ekp_parse_u64(s + 2, 16, out);
}

static bool uint_value(json_t *j, uint64_t max, uint64_t *out)
{
	if (!json_is_integer(j) || json_integer_value(j) < 0 ||
	    (uint64_t)json_integer_value(j) > max)
		return false;
	*out = (uint64_t)json_integer_value(j);
	return true;
}

/* The function part of "sym+0xoff" (all of it when there is no '+'). */
static size_t func_len(const char *sym)
{
	const char *plus = strrchr(sym, '+');

	return plus ? (size_t)(plus - sym) : strlen(sym);
}

/* A value that reads "name+0xhex": a :symbol fetch-arg (or a string that looks like one). */
static bool symbol_like(const char *s, size_t *name_len)
{
	const char *plus = strrchr(s, '+');

	if (!plus || plus == s || plus[1] != '0' || plus[2] != 'x' || !plus[3])
		return false;
	for (const char *p = plus + 3; *p; p++)
		if (!strchr("0123456789abcdef", *p))
			return false;
	for (const char *p = s; p < plus; p++)
		if (!(*p == '_' || *p == '.' || *p == '$' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	*name_len = (size_t)(plus - s);
	return true;
}

static int probe_of(struct ekp_trace *t, const char *name, bool *created, uint32_t *out)
{
	uint32_t id;
	int err = ekp_str_intern(&t->str, name, strlen(name), &id);

	if (err)
		return err;
	*created = false;
	for (uint32_t i = 0; i < t->nr_probes; i++) {
		if (t->probes[i].name == id) {
			*out = i;
			return 0;
		}
	}
	if (t->nr_probes == t->cap_probes) {
		uint32_t cap = t->cap_probes ? t->cap_probes * 2 : 16;
		struct ekp_tprobe *p = realloc(t->probes, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->probes = p;
		t->cap_probes = cap;
	}
	memset(&t->probes[t->nr_probes], 0, sizeof(*t->probes));
	t->probes[t->nr_probes].name = id;
	t->probes[t->nr_probes].summary_hits = -1;
	*created = true;
	*out = t->nr_probes++;
	return 0;
}

static int parse_summary(struct line_ctx *c, json_t *sum)
{
	struct ekp_trace *t = c->t;
	json_t *probes = json_object_get(sum, "probes"), *p, *end;
	uint64_t v;
	size_t i;
	int err;

	if (!json_is_object(sum) || !json_is_array(probes))
		return bad(c, "a summary without its probes", NULL);
	t->have_summary = true;
	if (uint_value(json_object_get(sum, "guest_ns"), UINT64_MAX >> 1, &v))
		t->guest_ns = v;
	if (uint_value(json_object_get(sum, "lost"), UINT64_MAX >> 1, &v))
		t->lost = v;
	if (uint_value(json_object_get(sum, "invalid"), UINT64_MAX >> 1, &v))
		t->invalid = v;
	if (uint_value(json_object_get(sum, "unknown_task"), UINT64_MAX >> 1, &v))
		t->unknown_task = v;
	end = json_object_get(sum, "end");
	if (json_is_string(end)) {
		err = ekp_str_intern(&t->str, json_string_value(end), json_string_length(end), &t->end);
		if (err)
			return err == -EINVAL ? bad(c, "a NUL in the summary's end", NULL) : err;
	}
	json_array_foreach(probes, i, p) {
		const char *name = json_string_value(json_object_get(p, "probe"));
		const char *kind = json_string_value(json_object_get(p, "kind"));
		const char *sym = json_string_value(json_object_get(p, "sym"));
		uint64_t addr, hits, missed = 0;
		struct ekp_tprobe *tp;
		bool created;
		uint32_t k;

		if (!name || !kind || !sym || (strcmp(kind, "entry") && strcmp(kind, "return")) ||
		    !hex_value(json_object_get(p, "addr"), &addr) ||
		    !uint_value(json_object_get(p, "hits"), UINT64_MAX >> 1, &hits))
			return bad(c, "a summary probe without probe, kind, addr, sym or hits", NULL);
		uint_value(json_object_get(p, "missed"), UINT64_MAX >> 1, &missed);
		err = probe_of(t, name, &created, &k);
		if (err)
			return err == -EINVAL ? bad(c, "a NUL in a probe name", NULL) : err;
		tp = &t->probes[k];
		if (!created && (tp->ret != !strcmp(kind, "return") || tp->addr != addr))
			return bad(c, "the summary's probe differs from its events: ", name);
		tp->ret = !strcmp(kind, "return");
		tp->addr = addr;
		tp->summary_hits = (int64_t)hits;
		tp->missed = missed;
		err = ekp_str_intern(&t->str, sym, func_len(sym), &tp->func);
		if (err)
			return err == -EINVAL ? bad(c, "a NUL in a symbol", NULL) : err;
	}
	return 0;
}

static int parse_event(struct line_ctx *c, json_t *o)
{
	struct ekp_trace *t = c->t;
	const char *probe = json_string_value(json_object_get(o, "probe"));
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *sym = json_string_value(json_object_get(o, "sym"));
	json_t *comm = json_object_get(o, "comm"), *pid = json_object_get(o, "pid");
	json_t *args = json_object_get(o, "args"), *ts = json_object_get(o, "ts_ns"), *v;
	struct ekp_tev ev = { 0 };
	struct ekp_tprobe *tp;
	const char *key;
	uint64_t cpu;
	bool created;
	int err;

	if (!probe || !kind || !sym)
		return bad(c, "an event without probe, kind or sym", NULL);
	if (strcmp(kind, "entry") && strcmp(kind, "return"))
		return bad(c, "kind is neither entry nor return: ", kind);
	if (!hex_value(json_object_get(o, "addr"), &ev.addr))
		return bad(c, "addr is not a hex string", NULL);
	if (!uint_value(json_object_get(o, "cpu"), UINT32_MAX, &cpu))
		return bad(c, "cpu is not an unsigned 32-bit integer", NULL);
	if (json_is_real(ts) && json_real_value(ts) >= 9223372036854775808.0) {
		t->skipped_clock++; /* read as a real: past 2^63, a broken clock */
		return 0;
	}
	if (!uint_value(ts, INT64_MAX, &ev.ts_ns))
		return bad(c, "ts_ns is not an unsigned integer", NULL);
	if (!json_is_object(args))
		return bad(c, "args is not an object", NULL);
	if (!(json_is_null(comm) && json_is_null(pid)) &&
	    !(json_is_string(comm) && json_is_integer(pid) && json_integer_value(pid) >= 0 &&
	      json_integer_value(pid) <= INT32_MAX))
		return bad(c, "comm and pid are neither both null nor a string and a pid", NULL);
	ev.cpu = (uint32_t)cpu;
	ev.ret = !strcmp(kind, "return");
	ev.pid = json_is_null(pid) ? -1 : json_integer_value(pid);
	if (json_is_string(comm))
		err = ekp_str_intern(&t->str, json_string_value(comm), json_string_length(comm),
				     &ev.comm);
	else
		err = 0;
	err = err ?: probe_of(t, probe, &created, &ev.probe);
	if (err)
		return err == -EINVAL ? bad(c, "a NUL in a string", NULL) : err;
	tp = &t->probes[ev.probe];
	if (!tp->seen) {
		if (!created && tp->summary_hits >= 0 &&
		    (tp->ret != ev.ret || tp->addr != ev.addr))
			return bad(c, "an event of a probe unlike its earlier one: ", probe);
		tp->seen = true;
		tp->ret = ev.ret;
		tp->addr = ev.addr;
		tp->first_ts = ev.ts_ns;
		err = ekp_str_intern(&t->str, sym, func_len(sym), &tp->func);
		if (err)
			return err == -EINVAL ? bad(c, "a NUL in a symbol", NULL) : err;
	} else if (tp->ret != ev.ret || tp->addr != ev.addr) {
		return bad(c, "an event of a probe unlike its earlier ones: ", probe);
	}
	tp->hits++;
	if (ev.ts_ns < tp->first_ts)
		tp->first_ts = ev.ts_ns;
	if (ev.ts_ns > tp->last_ts)
		tp->last_ts = ev.ts_ns;
	json_object_foreach(args, key, v) {
		size_t nl;

		if (!ev.label && !ev.ret && json_is_string(v) &&
		    symbol_like(json_string_value(v), &nl)) {
			const char *s = json_string_value(v);
			bool zero = !strcmp(s + nl, "+0x0");

			err = ekp_str_intern(&t->str, s, zero ? nl : strlen(s), &ev.label);
			if (err)
				return err == -EINVAL ? bad(c, "a NUL in a string", NULL) : err;
		}
		if (ev.ret && !ev.has_retval && json_is_integer(v)) {
			ev.retval = json_integer_value(v);
			ev.has_retval = true;
		}
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct ekp_tev *n = realloc(t->ev, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->ev = n;
		t->cap = cap;
	}
	t->ev[t->n++] = ev;
	return 0;
}

static int parse_line(struct line_ctx *c, const char *s, size_t len, bool last_unterminated)
{
	json_error_t jerr;
	json_t *o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr), *sum;
	int err;

	if (!o && strstr(jerr.text, "too big integer"))
		o = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
	if (!o) {
		if (last_unterminated) {
			c->t->cut_short = true;
			return 0;
		}
		return ekp_err(EINVAL, "%s:%zu: not JSON: %s", c->t->name, c->line, jerr.text);
	}
	if (!json_is_object(o)) {
		json_decref(o);
		return bad(c, "not an object", NULL);
	}
	sum = json_object_get(o, "summary");
	if (!sum && (json_object_get(o, "handoff") || json_object_get(o, "detached"))) {
		json_decref(o); /* --handoff's marks (docs/handoff.md): not events */
		return 0;
	}
	err = sum ? parse_summary(c, sum) : parse_event(c, o);
	json_decref(o);
	if (err == -ENOMEM)
		return ekp_err(ENOMEM, "%s:%zu: out of memory", c->t->name, c->line);
	return err;
}

int ekp_trace_parse(struct ekp_trace *t, const char *name, const char *data, size_t len)
{
	struct line_ctx c = { .t = t };
	size_t at = 0;
	int err = 0;

	memset(t, 0, sizeof(*t));
	t->name = name;
	while (at < len && !err) {
		const char *nl = memchr(data + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - data) : len;
		bool blank = true;

		c.line++;
		for (size_t i = at; i < end && blank; i++)
			blank = data[i] == ' ' || data[i] == '\t' || data[i] == '\r';
		if (!blank)
			err = parse_line(&c, data + at, end - at, !nl);
		at = end + 1;
	}
	if (!err && !t->n && !t->have_summary)
		err = ekp_err(EINVAL, "%s: no events (a JSON trace is what --format json writes)",
			      name);
	return err;
}

int ekp_trace_load(struct ekp_trace *t, const char *path)
{
	struct ekp_buf b = { 0 };
	struct stat sb;
	int fd, err = 0;

	memset(t, 0, sizeof(*t));
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
	if (fd < 0)
		return ekp_err(errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb)) {
		err = ekp_err(errno, "%s: %s", path, strerror(errno));
	} else if (S_ISDIR(sb.st_mode) || !(S_ISREG(sb.st_mode) || S_ISFIFO(sb.st_mode) ||
					     S_ISSOCK(sb.st_mode) || S_ISCHR(sb.st_mode))) {
		err = ekp_err(EINVAL, "%s: not a file", path);
	} else if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > MAX_TRACE_FILE) {
		err = ekp_err(EFBIG, "%s: larger than 4 GiB", path);
	} else if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
		void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

		if (m == MAP_FAILED) {
			err = ekp_err(errno, "%s: %s", path, strerror(errno));
		} else {
			close(fd);
			err = ekp_trace_parse(t, path, m, (size_t)sb.st_size);
			munmap(m, (size_t)sb.st_size);
			return err;
		}
	} else {
		char chunk[65536];
		ssize_t n;

		while (!err && (n = read(fd, chunk, sizeof(chunk))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				err = ekp_err(errno, "%s: %s", path, strerror(errno));
			else if (b.len + (size_t)n > MAX_TRACE_FILE)
				err = ekp_err(EFBIG, "%s: larger than 4 GiB", path);
			else if (ekp_buf_append(&b, chunk, (size_t)n))
				err = ekp_err(ENOMEM, "%s: out of memory", path);
		}
	}
	close(fd);
	if (!err)
		err = ekp_trace_parse(t, path, b.data ? b.data : "", b.len);
	ekp_buf_free(&b);
	return err;
}

void ekp_trace_free(struct ekp_trace *t)
{
	strings_free(&t->str);
	free(t->ev);
	free(t->probes);
	memset(t, 0, sizeof(*t));
}

/* ---- analysis ----------------------------------------------------------------------------- */

struct an_ctx {
	const struct ekp_trace *t;
	struct ekp_analysis *a;
	struct ekp_pairer *pr;
	size_t cap;
	int err;
	uint64_t end_ts;
};

static int add_slice(struct an_ctx *c, const struct ekp_slice *s)
{
	struct ekp_analysis *a = c->a;

	if (a->nr_slices == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct ekp_slice *n = realloc(a->slices, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->slices = n;
		c->cap = cap;
	}
	a->slices[a->nr_slices++] = *s;
	return 0;
}

/* The slice of an open call closed without its return (with its parent, or at the end). */
static void close_open(void *ctx, uint64_t task, const struct ekp_pair_frame *f)
{
	struct an_ctx *c = ctx;
	const struct ekp_tev *en = &c->t->ev[f->payload];
	const struct ekp_tprobe *p = &c->t->probes[en->probe];
	struct ekp_slice s = {
		.start = en->ts_ns, .dur = c->end_ts > en->ts_ns ? c->end_ts - en->ts_ns : 0,
		.name = en->label ? en->label : p->func, .func = p->func, .opener = en->probe,
		.closer = UINT32_MAX, .cpu = en->cpu, .pid = en->pid, .comm = en->comm,
		.depth = (uint32_t)ekp_pair_depth(c->pr, task), /* the calls still around it */
		.initcall = !strcmp(ekp_str(&c->t->str, p->func), "do_one_initcall"),
	};

	if (!c->err)
		c->err = add_slice(c, &s);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static const struct ekp_analysis *sort_ctx;

static int by_dur_desc(const void *x, const void *y)
{
	const struct ekp_slice *a = &sort_ctx->slices[*(const size_t *)x];
	const struct ekp_slice *b = &sort_ctx->slices[*(const size_t *)y];

	if (a->dur != b->dur)
		return a->dur > b->dur ? -1 : 1;
	return a->start < b->start ? -1 : a->start > b->start;
}

uint64_t ekp_quantile(const uint64_t *sorted, size_t n, double q)
{
	size_t r;

	if (!n)
		return 0;
	r = (size_t)(q * (double)n + 0.999999999);
	return sorted[r ? (r > n ? n : r) - 1 : 0];
}

int ekp_analyze(const struct ekp_trace *t, struct ekp_analysis *a)
{
	uint32_t *opener = NULL, *closer = NULL;
	struct ekp_pairer pr;
	struct an_ctx c = { .t = t, .a = a, .pr = &pr };
	int err = 0;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < EKP_ARRAY_SIZE(a->phase_ts); i++)
		a->phase_ts[i] = UINT64_MAX;
	ekp_pair_init(&pr);
	/* Which entry probe opens a function's calls and which return probe closes them: the
	 * first of each at that function, in the order the probes first appear in the trace
	 * (probes only in the summary after those). */
	opener = malloc((t->nr_probes + 1) * sizeof(*opener));
	closer = malloc((t->nr_probes + 1) * sizeof(*closer));
	if (!opener || !closer) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < t->nr_probes; i++) {
		opener[i] = closer[i] = UINT32_MAX;
		if (!t->probes[i].ret)
			continue;
		for (uint32_t r = 0; r < i && closer[i] == UINT32_MAX; r++)
			if (t->probes[r].ret && t->probes[r].addr == t->probes[i].addr)
				closer[i] = UINT32_MAX - 1; /* another closes them */
		if (closer[i] != UINT32_MAX)
			continue;
		for (uint32_t e = 0; e < t->nr_probes; e++) {
			if (!t->probes[e].ret && t->probes[e].addr == t->probes[i].addr) {
				opener[e] = i; /* entry e opens, return i closes */
				closer[i] = e;
				break;
			}
		}
	}
	if (t->n) {
		a->first_ts = t->ev[0].ts_ns;
		a->last_ts = t->ev[0].ts_ns;
	}
	for (size_t i = 0; i < t->n && !err; i++) {
		const struct ekp_tev *e = &t->ev[i];
		const struct ekp_tprobe *p = &t->probes[e->probe];
		uint64_t task = ekp_pair_task(e->pid >= 0, e->pid == 0, (int)e->pid, e->cpu);
		struct ekp_pair_frame f;

		if (e->ts_ns < a->first_ts)
			a->first_ts = e->ts_ns;
		if (e->ts_ns > a->last_ts)
			a->last_ts = e->ts_ns;
		if (!e->ret) {
			const char *fn = ekp_str(&t->str, p->func);
			int ph = ekp_phase_of(fn, strlen(fn));

			if (ph >= 0 && a->phase_ts[ph] == UINT64_MAX)
				a->phase_ts[ph] = e->ts_ns;
			if (opener[e->probe] != UINT32_MAX && e->addr == p->addr)
				err = ekp_pair_push(&pr, task, e->addr, e->ts_ns, i);
			continue;
		}
		if (closer[e->probe] >= UINT32_MAX - 1)
			continue;
		c.end_ts = e->ts_ns;
		if (!ekp_pair_pop(&pr, task, e->addr, &f, close_open, &c)) {
			a->unmatched_returns++;
			continue;
		}
		const struct ekp_tev *en = &t->ev[f.payload];
		const struct ekp_tprobe *ep = &t->probes[en->probe];
		struct ekp_slice s = {
			.start = en->ts_ns, .dur = e->ts_ns > en->ts_ns ? e->ts_ns - en->ts_ns : 0,
			.name = en->label ? en->label : ep->func, .func = ep->func,
			.opener = en->probe, .closer = e->probe, .cpu = en->cpu, .pid = en->pid,
			.comm = en->comm, .depth = (uint32_t)ekp_pair_depth(&pr, task),
			.retval = e->retval, .has_retval = e->has_retval, .returned = true,
			.initcall = !strcmp(ekp_str(&t->str, ep->func), "do_one_initcall"),
		};

		err = c.err ?: add_slice(&c, &s);
	}
	c.end_ts = a->last_ts;
	ekp_pair_drain(&pr, close_open, &c);
	err = err ?: c.err;
	if (err)
		goto out;
	/* Initcalls, longest first. */
	a->by_dur = malloc((a->nr_slices + 1) * sizeof(*a->by_dur));
	if (!a->by_dur) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < a->nr_slices; i++)
		if (a->slices[i].initcall)
			a->by_dur[a->nr_initcalls++] = i;
	sort_ctx = a;
	qsort(a->by_dur, a->nr_initcalls, sizeof(*a->by_dur), by_dur_desc);
	/* Latencies of every closing return probe. */
	a->lat = calloc(t->nr_probes + 1, sizeof(*a->lat));
	if (!a->lat) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t r = 0; r < t->nr_probes; r++) {
		struct ekp_latency *l;
		size_t n = 0;

		if (!t->probes[r].ret || closer[r] >= UINT32_MAX - 1)
			continue;
		for (size_t i = 0; i < a->nr_slices; i++)
			n += a->slices[i].closer == r;
		if (!n)
			continue;
		l = &a->lat[a->nr_lat++];
		l->probe = r;
		l->ns = malloc(n * sizeof(*l->ns));
		if (!l->ns) {
			err = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < a->nr_slices; i++)
			if (a->slices[i].closer == r)
				l->ns[l->n++] = a->slices[i].dur;
		qsort(l->ns, l->n, sizeof(*l->ns), cmp_u64);
	}
out:
	ekp_pair_drain(&pr, NULL, NULL);
	ekp_pair_fini(&pr);
	free(opener);
	free(closer);
	return err ? ekp_err(-err, "%s: analysing the trace: %s", t->name, strerror(-err)) : 0;
}

void ekp_analysis_free(struct ekp_analysis *a)
{
	for (uint32_t i = 0; i < a->nr_lat; i++)
		free(a->lat[i].ns);
	free(a->lat);
	free(a->slices);
	free(a->by_dur);
	memset(a, 0, sizeof(*a));
}
