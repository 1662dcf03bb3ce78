// SPDX-License-Identifier: GPL-2.0
/*
 * The probe list: definitions in order, unique by GRP/EVENT, as kprobe_events builds it.
 *
 *  - Like the kernel's kprobe_events writer, everything from the first '#' on a line is a
 *    comment; lines left blank are skipped.
 *  - "-:[GRP/]EVENT" removes earlier definitions, as dyn_event_release() does: "-:EVENT"
 *    those named EVENT in any group, "-:GRP/" every event of GRP. Removing nothing is an
 *    error (the kernel's -ENOENT).
 *  - A second definition of an existing GRP/EVENT is an error. (The 6.1 kernel appends a
 *    probe with the same name, type and argument types to the event as one more probe
 *    point; we keep one probe point per event and reject it like an incompatible one.)
 *
 * Errors are recorded with ekp_err() as "FILE:LINE:COL: reason", COL 1-based in the line
 * as given. For the command line the caller passes FILE "-p" and LINE = the ordinal of the
 * -p option (1 for the first), giving e.g. "-p:2:5: unknown register '%foo'".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "ekprobe/probe.h"

struct ekp_probe_list {
	const struct ekp_arch *arch;
	struct ekp_probe **v;
	unsigned int n, cap;
	/* GRP/EVENT -> index + 1 (0: empty), open addressing, rebuilt as it grows and after a
	 * removal: finding a name costs the same with 10 probes or 10,000. */
	unsigned int *names, names_cap;
};

static unsigned int name_hash(const char *group, const char *event)
{
	unsigned int h = 2166136261u;

	for (const char *c = group; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *c = event; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return h;
}

static void names_put(struct ekp_probe_list *l, unsigned int i)
{
	unsigned int m = l->names_cap - 1, h = name_hash(l->v[i]->group, l->v[i]->event) & m;

	while (l->names[h])
		h = (h + 1) & m;
	l->names[h] = i + 1;
}

/* The index table for the probes in v, with room for one more: 0, or -ENOMEM. */
static int names_rebuild(struct ekp_probe_list *l, unsigned int need)
{
	unsigned int cap = 64;

	while (cap < 2 * need)
		cap *= 2;
	if (cap != l->names_cap) {
		unsigned int *n = calloc(cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		free(l->names);
		l->names = n;
		l->names_cap = cap;
	} else {
		memset(l->names, 0, cap * sizeof(*l->names));
	}
	for (unsigned int i = 0; i < l->n; i++)
		names_put(l, i);
	return 0;
}

/* The probe named GRP/EVENT, or NULL. */
static const struct ekp_probe *names_find(const struct ekp_probe_list *l, const char *group,
					  const char *event)
{
	unsigned int m, h;

	if (!l->names_cap)
		return NULL;
	m = l->names_cap - 1;
	for (h = name_hash(group, event) & m; l->names[h]; h = (h + 1) & m) {
		const struct ekp_probe *o = l->v[l->names[h] - 1];

		if (!strcmp(o->group, group) && !strcmp(o->event, event))
			return o;
	}
	return NULL;
}

struct ekp_probe_list *ekp_probe_list_new(const struct ekp_arch *arch)
{
	struct ekp_probe_list *l = calloc(1, sizeof(*l));

	if (l)
		l->arch = arch;
	return l;
}

void ekp_probe_list_free(struct ekp_probe_list *l)
{
	if (!l)
		return;
	for (unsigned int i = 0; i < l->n; i++)
		ekp_probe_free(l->v[i]);
	free(l->v);
	free(l->names);
	free(l);
}

unsigned int ekp_probe_list_count(const struct ekp_probe_list *l)
{
	return l ? l->n : 0;
}

struct ekp_probe *ekp_probe_list_get(const struct ekp_probe_list *l, unsigned int i)
{
	return l && i < l->n ? l->v[i] : NULL;
}

static unsigned int first_column(const char *s)
{
	unsigned int col = 1;

	while (*s == ' ' || *s == '\t' || *s == '\v' || *s == '\f' || *s == '\r' || *s == '\n') {
		s++;
		col++;
	}
	return col;
}

static int do_delete(struct ekp_probe_list *l, const struct ekp_probe *d, const char *file,
		     unsigned int line, unsigned int col)
{
	unsigned int i, j, removed = 0;

	for (i = j = 0; i < l->n; i++) {
		struct ekp_probe *p = l->v[i];

		if ((!d->group[0] || !strcmp(d->group, p->group)) &&
		    (!d->event[0] || !strcmp(d->event, p->event))) {
			ekp_probe_free(p);
			removed++;
			continue;
		}
		l->v[j++] = p;
	}
	l->n = j;
	if (removed && names_rebuild(l, l->n + 1))
		return ekp_err(ENOMEM, "%s:%u: out of memory", file, line);
	if (!removed)
		return ekp_err(ENOENT, "%s:%u:%u: no event '%s%s%s' to remove", file, line, col,
			       d->group, d->group[0] ? "/" : "", d->event[0] ? d->event : "*");
	return 0;
}

int ekp_probe_list_add(struct ekp_probe_list *l, const char *text, const char *file,
		       unsigned int line)
{
	char reason[512];
	struct ekp_probe *p = NULL;
	unsigned int col;
	char *buf, *hash;
	int ret;

	if (!file)
		file = "-p";
	if (!l || !text)
		return ekp_err(EINVAL, "%s:%u: no probe list or text", file, line);
	buf = strdup(text);
	if (!buf)
		return ekp_err(ENOMEM, "%s:%u: out of memory", file, line);
	hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	if (!buf[strspn(buf, " \t\n\v\f\r")]) {
		free(buf);
		return 0;
	}

	ret = ekp_probe_parse(buf, l->arch, &p, &col);
	if (ret < 0) {
		free(buf);
		/* A copy: the reason is rewritten in place with its place in front. */
		snprintf(reason, sizeof(reason), "%s", ekp_errstr(ret));
		return ekp_err(-ret, "%s:%u:%u: %s", file, line, col, reason);
	}
	if (ret == 1) {
		ret = do_delete(l, p, file, line, first_column(buf));
		ekp_probe_free(p);
		free(buf);
		return ret;
	}

	{
		const struct ekp_probe *o = names_find(l, p->group, p->event);

		if (!o)
			goto unique;
		ret = ekp_err(EEXIST, "%s:%u:%u: event '%s/%s' already exists (%s:%u)", file, line,
			      first_column(buf), p->group, p->event, o->file ? o->file : "?",
			      o->line);
		ekp_probe_free(p);
		free(buf);
		return ret;
	}
unique:
	free(buf);

	p->file = strdup(file);
	p->line = line;
	if (!p->file)
		goto nomem;
	if (l->n == l->cap) {
		unsigned int cap = l->cap ? l->cap * 2 : 16;
		struct ekp_probe **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			goto nomem;
		l->v = v;
		l->cap = cap;
	}
	if (2 * (l->n + 1) > l->names_cap && names_rebuild(l, l->n + 1))
		goto nomem;
	l->v[l->n++] = p;
	names_put(l, l->n - 1);
	return 0;
nomem:
	ekp_probe_free(p);
	return ekp_err(ENOMEM, "%s:%u: out of memory", file, line);
}
