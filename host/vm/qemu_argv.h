/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A QEMU command line that engines may add to before launch (the jump engine's shared RAM
 * backend, a plugin): an owned, NULL-terminated argv. QEMU takes "-opt" and "--opt" alike.
 */
#ifndef EKPROBE_HOST_VM_QEMU_ARGV_H
#define EKPROBE_HOST_VM_QEMU_ARGV_H

#include <stdbool.h>
#include <stddef.h>

struct ekp_qemu_argv {
	char **v;   /* NULL-terminated; every string owned */
	size_t n, cap;
};

int ekp_qemu_argv_init(struct ekp_qemu_argv *a, char *const *argv);
void ekp_qemu_argv_free(struct ekp_qemu_argv *a);
int ekp_qemu_argv_append(struct ekp_qemu_argv *a, const char *arg);
/* The value of the last "-opt VALUE", or NULL. opt is given without dashes ("m"). */
const char *ekp_qemu_argv_value(const struct ekp_qemu_argv *a, const char *opt);
/* Remove every "-opt VALUE"; returns how many were removed. */
size_t ekp_qemu_argv_remove(struct ekp_qemu_argv *a, const char *opt);
/* True if any argument contains s (e.g. a memory-backend object the user set up). */
bool ekp_qemu_argv_mentions(const struct ekp_qemu_argv *a, const char *s);

#endif
