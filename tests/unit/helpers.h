/* SPDX-License-Identifier: GPL-2.0 */
/* What several unit-test programs need: scratch files, and symbols of the test kernel. */
#ifndef EKPROBE_TESTS_UNIT_HELPERS_H
#define EKPROBE_TESTS_UNIT_HELPERS_H

#include <stddef.h>
#include <stdint.h>

/* This program's scratch directory, made on first use; removed (with what is in it) by
 * t_tmp_remove(), if it was made. */
const char *t_tmp_dir(void);
void t_tmp_remove(void);
/* A path in that directory (made on first use; 4 results live at once). */
const char *t_tmp_path(const char *name);
/* Write len bytes to path; fails the test on any error. */
void t_write_file(const char *path, const void *data, size_t len);
/* A symbol's address in the test kernel's System.map (EKPROBE_SYSTEM_MAP, or System.map
 * beside EKPROBE_BZIMAGE); 0 when not found. */
uint64_t t_system_map_addr(const char *name);

#endif
