// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ekprobe/err.h"
#include "host/vm/qemu_argv.h"

/* "-opt" or "--opt" */
static bool is_opt(const char *arg, const char *opt)
{
	if (arg[0] != '-')
		return false;
	arg += arg[1] == '-' ? 2 : 1;
	return !strcmp(arg, opt);
}

int ekp_qemu_argv_append(struct ekp_qemu_argv *a, const char *arg)
{
	char *copy;

	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return ekp_err(ENOMEM, "out of memory");
		a->v = v;
		a->cap = cap;
	}
	copy = strdup(arg);
	if (!copy)
		return ekp_err(ENOMEM, "out of memory");
	a->v[a->n++] = copy;
	a->v[a->n] = NULL;
	return 0;
}

int ekp_qemu_argv_init(struct ekp_qemu_argv *a, char *const *argv)
{
	int err = 0;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; !err && argv && argv[i]; i++)
		err = ekp_qemu_argv_append(a, argv[i]);
	if (err)
		ekp_qemu_argv_free(a);
	return err;
}

void ekp_qemu_argv_free(struct ekp_qemu_argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

const char *ekp_qemu_argv_value(const struct ekp_qemu_argv *a, const char *opt)
{
	const char *v = NULL;

	for (size_t i = 0; i + 1 < a->n; i++)
		if (is_opt(a->v[i], opt))
			v = a->v[++i];
	return v;
}

size_t ekp_qemu_argv_remove(struct ekp_qemu_argv *a, const char *opt)
{
	size_t k = 0, removed = 0;

	for (size_t i = 0; i < a->n; i++) {
		if (i + 1 < a->n && is_opt(a->v[i], opt)) {
			free(a->v[i]);
			free(a->v[i + 1]);
			i++;
			removed++;
			continue;
		}
		a->v[k++] = a->v[i];
	}
	a->n = k;
	if (a->v)
		a->v[k] = NULL;
	return removed;
}

bool ekp_qemu_argv_mentions(const struct ekp_qemu_argv *a, const char *s)
{
	for (size_t i = 0; i < a->n; i++)
		if (strstr(a->v[i], s))
			return true;
	return false;
}
